"""The CUDA path: the same numbers on a GPU as on the CPU. Skipped where no GPU is present (CI)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from model.build import build_model
from model.checkpoint import load_checkpoint
from model.generate import GenerationSettings, generate
from tests.test_model import make, tokens
from tests.test_training import MODEL, tiny_run
from tests.variants import TINY, VARIANTS
from training.train import train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

# float32 on both sides; the GPU's kernels sum in other orders (and SDPA picks its own backend)
ATOL = 1e-4


@pytest.fixture(autouse=True)
def _no_tf32():
    # TF32 would round matmul inputs to 10 mantissa bits: a different computation, not a port.
    # cuDNN's switch covers its LSTM kernels too, and defaults to on.
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


CONFIGS = {**VARIANTS, "lstm": TINY.replace(architecture="lstm")}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_forward_and_every_hook_match_the_cpu(name: str) -> None:
    cpu = make(CONFIGS[name])
    gpu = make(CONFIGS[name]).cuda()
    toks = tokens()
    # cuDNN's fused LSTM sums in its own order, and make()'s sharpened weights put the gates
    # near saturation, where rounding differences grow along the sequence (seen: 1.3e-4)
    atol = 1e-3 if name == "lstm" else ATOL
    logits_cpu, cache_cpu = cpu.run_with_cache(toks)
    logits_gpu, cache_gpu = gpu.run_with_cache(toks.cuda())
    torch.testing.assert_close(logits_gpu.cpu(), logits_cpu, atol=atol, rtol=1e-4)
    assert set(cache_gpu.keys()) == set(cache_cpu.keys())
    for key in cache_cpu.keys():
        assert cache_gpu[key].device.type == "cuda", key
        got, want = cache_gpu[key].cpu(), cache_cpu[key]
        finite = torch.isfinite(want)  # masked scores are -inf on both sides
        assert torch.equal(finite, torch.isfinite(got)), key
        torch.testing.assert_close(got[finite], want[finite], atol=atol, rtol=1e-4)
    # the fused path (no hooks: SDPA on the GPU) agrees with the instrumented one
    torch.testing.assert_close(gpu(toks.cuda()), logits_gpu, atol=atol, rtol=1e-4)


def test_kv_cache_generation_on_the_gpu_matches_recomputation_and_the_cpu() -> None:
    cpu = make(VARIANTS["baseline"])
    gpu = make(VARIANTS["baseline"]).cuda()
    prompt = tokens(batch=2, n=5)
    greedy = GenerationSettings(max_new_tokens=20, temperature=0.0)  # past n_ctx: window slides
    cached = generate(gpu, prompt.cuda(), greedy)
    recomputed = generate(gpu, prompt.cuda(), GenerationSettings(20, 0.0, use_cache=False))
    assert cached.device.type == "cuda"
    assert torch.equal(cached, recomputed)
    assert torch.equal(cached.cpu(), generate(cpu, prompt, greedy))
    sampled = GenerationSettings(max_new_tokens=8, temperature=1.0, top_k=5, top_p=0.9, seed=3)
    assert torch.equal(generate(gpu, prompt.cuda(), sampled), generate(gpu, prompt.cuda(), sampled))


def test_training_on_the_gpu_writes_a_checkpoint_the_cpu_reads(tmp_path) -> None:
    run = tiny_run(tmp_path, device="cuda", max_steps=30, eval_interval=10, checkpoint_interval=10)
    result = train(run)
    assert result.status == "completed" and result.step == 30
    assert result.val_loss is not None and result.val_loss < 3.0  # learned something
    ckpt = load_checkpoint(tmp_path / "run/checkpoint", device="cpu")
    gpu_model = load_checkpoint(tmp_path / "run/checkpoint", device="cuda").model
    x = torch.randint(0, ckpt.model.cfg.vocab_size, (4, MODEL.n_ctx))
    with torch.no_grad():
        cpu_loss = F.cross_entropy(ckpt.model(x)[:, :-1].flatten(0, 1), x[:, 1:].flatten())
        gpu_loss = F.cross_entropy(
            gpu_model(x.cuda())[:, :-1].flatten(0, 1), x[:, 1:].cuda().flatten()
        )
    assert abs(cpu_loss.item() - gpu_loss.item()) < 1e-4


def test_bfloat16_autocast_trains_on_the_gpu(tmp_path) -> None:
    run = tiny_run(tmp_path, device="cuda", precision="bfloat16", max_steps=30, eval_interval=30)
    result = train(run)
    assert result.status == "completed"
    assert result.val_loss is not None and result.val_loss < 3.0


def test_a_fresh_model_moves_whole_to_the_gpu() -> None:
    for cfg in (VARIANTS["baseline"], VARIANTS["additive"], VARIANTS["cosine"]):
        model = build_model(cfg).cuda()
        assert all(t.device.type == "cuda" for t in [*model.parameters(), *model.buffers()])
