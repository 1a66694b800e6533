"""GPT-2 family models from local Hugging Face files, checked against `transformers`' own forward.

Models are built at random init (a tiny config, and GPT-2 small's full shape, marked slow), saved
with `save_pretrained`, loaded through `load_checkpoint` and compared: logits <= 1e-4, every layer's
attention pattern <= 1e-5, every hidden state. A perturbed weight must fail the same comparison.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

pytest.importorskip("transformers")

from fixtures.hf_gpt2_folders import SMALL, build_gpt2_folder  # noqa: E402
from model.checkpoint import CheckpointError, load_checkpoint  # noqa: E402
from model.generate import GenerationSettings, generate  # noqa: E402
from model.hf import HFSourceError, cached_gpt2_models  # noqa: E402
from model.hook_names import hook_name  # noqa: E402
from model.switches import SWITCHES, HeadAblation, Switches  # noqa: E402
from model.tokenizers.gpt2 import gpt2_tokenizer_from_folder  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
N_VOCAB = 1000
LOGITS_TOL, PATTERN_TOL, HIDDEN_TOL = 1e-4, 1e-5, 1e-4
BATTERY = [
    "Hello world",
    "  leading spaces and trailing   ",
    "tabs\tand\nnewlines\n\n\nand\r\nCRLF",
    "many      spaces between",
    "don't can't won't they'll we've I'm you're she'd",
    "DON'T SHOUT'S",
    "naïve café, Ünïcödé — “quotes” … and 東京 and Привет",
    "emoji 🙂🙃 and 👩‍👩‍👧 family, flags 🇫🇷",
    "numbers 1234567 3.14159 -42",
    "<|endoftext|>",
    "before<|endoftext|>after",
    "text <|endoftext|> with spaces <|endoftext|>",
    "ROMEO:\nBut, soft! what light through yonder window breaks?",
    " ",
    "\n",
    "",
    "a" * 300,
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    folder = tmp_path_factory.mktemp("tiny_gpt2")
    return folder, build_gpt2_folder(folder, N_VOCAB)


def _ids(n_vocab: int, n_pos: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, n_vocab, (2, n_pos), generator=torch.Generator().manual_seed(seed))


def max_errors(ours: torch.nn.Module, hf: torch.nn.Module, ids: torch.Tensor) -> dict[str, float]:
    """Largest absolute difference of logits, patterns and hidden states (ours vs transformers)."""
    n = ours.cfg.n_layers
    names = [hook_name("pattern", i) for i in range(n)] + ours.stream_hooks()
    with torch.no_grad():
        ref = hf(ids, output_attentions=True, output_hidden_states=True)
        logits, cache = ours.run_with_cache(ids, names=names)
        final = ours.ln_final(cache[hook_name("resid_post", n - 1)])
    ours_hidden = [cache[name] for name in ours.stream_hooks()[:-1]] + [final]
    return {
        "logits": (ref.logits - logits).abs().max().item(),
        "pattern": max(
            (ref.attentions[i] - cache[hook_name("pattern", i)]).abs().max().item()
            for i in range(n)
        ),
        # transformers' last hidden state is after ln_f; the others are the stream after block i-1
        "hidden": max(
            (a - b).abs().max().item() for a, b in zip(ref.hidden_states, ours_hidden, strict=True)
        ),
    }


def assert_matches(errors: dict[str, float]) -> None:
    assert errors["logits"] <= LOGITS_TOL, errors
    assert errors["pattern"] <= PATTERN_TOL, errors
    assert errors["hidden"] <= HIDDEN_TOL, errors


def test_tiny_matches_transformers(tiny: tuple[Path, object]) -> None:
    folder, hf = tiny
    ckpt = load_checkpoint(folder)
    cfg = ckpt.config
    assert (cfg.n_layers, cfg.n_heads, cfg.d_model, cfg.n_ctx) == (2, 4, 32, 64)
    assert cfg.tied_embeddings and cfg.pos_encoding == "learned" and cfg.gelu == "tanh"
    assert ckpt.name == folder.name
    assert_matches(max_errors(ckpt.model, hf, _ids(N_VOCAB, 64)))


@pytest.mark.parametrize(
    "variant",
    [{"tie_word_embeddings": False}, {"scale_attn_weights": False}, {"n_inner": 48}],
    ids=["untied", "unscaled", "n_inner"],
)
def test_config_variants_match(tmp_path: Path, variant: dict) -> None:
    hf = build_gpt2_folder(tmp_path, N_VOCAB, seed=3, **{**_tiny_sizes(), **variant})
    ckpt = load_checkpoint(tmp_path)
    assert_matches(max_errors(ckpt.model, hf, _ids(N_VOCAB, 30)))


def _tiny_sizes() -> dict:
    from fixtures.hf_gpt2_folders import TINY

    return dict(TINY)


def test_original_upload_names_and_mask_buffers(tmp_path: Path, tiny: tuple[Path, object]) -> None:
    """The original gpt2 upload stores tensors without "transformer." and with attn.bias buffers."""
    from safetensors.torch import load_file, save_file

    folder, hf = tiny
    for f in folder.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    tensors = load_file(folder / "model.safetensors")
    renamed = {k.removeprefix("transformer."): v for k, v in tensors.items()}
    renamed["h.0.attn.bias"] = torch.tril(torch.ones(1, 1, 64, 64))
    save_file(renamed, tmp_path / "model.safetensors")
    assert_matches(max_errors(load_checkpoint(tmp_path).model, hf, _ids(N_VOCAB, 20)))


@pytest.mark.parametrize("tensor", ["transformer.h.1.attn.c_attn.weight", "transformer.wpe.weight"])
def test_negative_control_perturbed_weight_fails(
    tmp_path: Path, tiny: tuple[Path, object], tensor: str
) -> None:
    """One weight changed in the file: the same comparison must fail (it can tell)."""
    from safetensors.torch import load_file, save_file

    folder, hf = tiny
    for f in folder.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    tensors = load_file(folder / "model.safetensors")
    tensors[tensor] = tensors[tensor].clone()
    tensors[tensor][3, 5] += 0.05
    save_file(tensors, tmp_path / "model.safetensors")
    with pytest.raises(AssertionError):
        assert_matches(max_errors(load_checkpoint(tmp_path).model, hf, _ids(N_VOCAB, 20)))


def test_generation_with_cache_equals_recomputation(tiny: tuple[Path, object]) -> None:
    ckpt = load_checkpoint(tiny[0])
    prompt = _ids(N_VOCAB, 12)[:1]
    cached = generate(ckpt.model, prompt, GenerationSettings(max_new_tokens=60, temperature=0.0))
    again = generate(
        ckpt.model, prompt, GenerationSettings(max_new_tokens=60, temperature=0.0, use_cache=False)
    )
    assert torch.equal(cached, again)  # 12 + 60 tokens: past n_ctx=64, the window slides too
    sampled = GenerationSettings(max_new_tokens=20, temperature=1.0, seed=5)
    assert torch.equal(
        generate(ckpt.model, prompt, sampled),
        generate(ckpt.model, prompt, GenerationSettings(**{**vars(sampled), "use_cache": False})),
    )


SWITCH_SETS = {f"no-{name}": Switches(**{name: False}) for name in SWITCHES} | {
    "knockout": Switches(head_ablations=(HeadAblation(0, 1), HeadAblation(1, 3, "mean"))),
}


@pytest.mark.parametrize("name", list(SWITCH_SETS))
def test_every_switch_runs_and_changes_the_output(tiny: tuple[Path, object], name: str) -> None:
    ckpt = load_checkpoint(tiny[0])
    ids = _ids(N_VOCAB, 16)
    with torch.no_grad():
        base = ckpt.model(ids)
        switched = ckpt.model(ids, switches=SWITCH_SETS[name])
    assert switched.shape == base.shape and torch.isfinite(switched).all()
    assert (switched - base).abs().max() > 1e-4


def test_tokenizer_matches_gpt2_tokenizer_fast(tiny: tuple[Path, object]) -> None:
    from transformers import GPT2TokenizerFast

    folder = tiny[0]
    hf = GPT2TokenizerFast(str(folder / "vocab.json"), str(folder / "merges.txt"))
    ours = gpt2_tokenizer_from_folder(folder)
    assert ours.n_vocab == len(hf) == N_VOCAB
    for text in BATTERY:
        ids = ours.encode(text)
        assert ids == hf.encode(text), text
        assert ours.decode(ids) == hf.decode(ids) == text


def test_tokenizer_from_tokenizer_json(tmp_path: Path, tiny: tuple[Path, object]) -> None:
    from transformers import GPT2TokenizerFast

    folder = tiny[0]
    hf = GPT2TokenizerFast(str(folder / "vocab.json"), str(folder / "merges.txt"))
    hf.save_pretrained(tmp_path)
    for name in ("vocab.json", "merges.txt"):
        (tmp_path / name).unlink(missing_ok=True)
    ours = gpt2_tokenizer_from_folder(tmp_path)
    for text in BATTERY:
        assert ours.encode(text) == hf.encode(text), text


def test_pickle_only_folder_is_refused_with_how_to_convert(
    tmp_path: Path, tiny: tuple[Path, object]
) -> None:
    folder = tiny[0]
    for name in ("config.json", "vocab.json", "merges.txt"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x02not really")
    with pytest.raises(CheckpointError, match="pytorch_model.bin.*save_pretrained"):
        load_checkpoint(tmp_path)


def test_other_architecture_is_refused(tmp_path: Path) -> None:
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64}
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="LlamaForCausalLM.*GPT-2 family"):
        load_checkpoint(tmp_path)


def test_bad_shapes_are_refused_before_loading(tmp_path: Path, tiny: tuple[Path, object]) -> None:
    folder = tiny[0]
    for f in folder.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    cfg = json.loads((folder / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps(cfg | {"n_embd": 64}))
    with pytest.raises(CheckpointError, match="shape"):
        load_checkpoint(tmp_path)


def _fake_hub_cache(root: Path, folder: Path, repo: str = "gpt2") -> Path:
    """The hub cache's layout: models--<repo>/refs/main names the snapshot that holds the files."""
    base = root / f"models--{repo.replace('/', '--')}"
    snap = base / "snapshots" / ("0" * 40)
    snap.mkdir(parents=True)
    for f in folder.iterdir():
        (snap / f.name).write_bytes(f.read_bytes())
    (base / "refs").mkdir()
    (base / "refs" / "main").write_text("0" * 40)
    return snap


def test_hf_name_from_local_cache(
    tmp_path: Path, tiny: tuple[Path, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    snap = _fake_hub_cache(tmp_path, tiny[0])
    assert [(m.name, m.path) for m in cached_gpt2_models()] == [("gpt2", snap)]
    ckpt = load_checkpoint("hf:gpt2")
    assert ckpt.name == "gpt2" and ckpt.path == snap
    assert_matches(max_errors(ckpt.model, tiny[1], _ids(N_VOCAB, 20)))


def test_hf_name_not_cached_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HFSourceError) as info:
        load_checkpoint("hf:gpt2")
    message = str(info.value)
    assert "\n" not in message and message.startswith("hf:gpt2: not in the local")
    assert 'hf download gpt2 --include "*.safetensors" "*.json" "*.txt"' in message
    assert info.value.naming("hf:gpt2") == message
    assert cached_gpt2_models() == []


@pytest.mark.parametrize(
    "cli",
    [
        ["training.evaluate", "--checkpoint", "hf:gpt2"],
        ["training.lambada", "--checkpoint", "hf:gpt2", "--limit", "5"],
        ["views.export_cli", "--checkpoint", "hf:gpt2", "--prompt", "Hi", "--out", "x"],
    ],
    ids=["evaluate", "lambada", "export_cli"],
)
def test_cli_offline_nothing_cached_exits_2_in_one_line(tmp_path: Path, cli: list[str]) -> None:
    env = os.environ | {"HF_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    env.pop("HF_HUB_CACHE", None)
    start = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", *cli],
        cwd=tmp_path,
        env=env | {"PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.perf_counter() - start
    assert run.returncode == 2, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "hf download gpt2" in lines[0], run.stderr
    # no network wait of its own: a probe or a download would add its own timeout (5 s or more)
    # to the command's imports. Only that is checked here, against a bare `import torch` timed
    # beside it; how fast the refusal is on a quiet machine is bench/bench_gpt2.py's to measure.
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True, timeout=60)
    torch_import = time.perf_counter() - start
    assert elapsed < 2.0 * torch_import + 5.0, f"{elapsed:.2f} s, torch {torch_import:.2f} s"


@pytest.mark.slow
def test_gpt2_small_shape_matches_transformers(tmp_path: Path) -> None:
    hf = build_gpt2_folder(tmp_path, 50257, seed=7, **SMALL)
    ckpt = load_checkpoint(tmp_path)
    cfg = ckpt.config
    assert (cfg.n_layers, cfg.n_heads, cfg.d_model, cfg.n_ctx, cfg.vocab_size) == (
        12,
        12,
        768,
        1024,
        50257,
    )
    assert ckpt.model.n_params() > 124e6
    assert_matches(max_errors(ckpt.model, hf, _ids(50257, 128)))


DATA = Path(os.environ.get("ATTENTION_LAB_DATA", REPO.parent / "shared" / "data"))
needs_data = pytest.mark.skipif(
    not (DATA / "lambada_test.jsonl").is_file() or not (DATA / "tinyshakespeare.txt").is_file(),
    reason="needs the shared corpora (set ATTENTION_LAB_DATA)",
)


@needs_data
def test_evaluate_and_lambada_run_on_a_gpt2_folder(
    tiny: tuple[Path, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from training import evaluate, lambada

    folder = str(tiny[0])
    report = tmp_path / "evaluate.json"
    args = ["--checkpoint", folder, "--data_dir", str(DATA), "--max_tokens", "300"]
    args += ["--cache_dir", str(tmp_path), "--json", str(report)]
    assert evaluate.main(args) == 0
    assert json.loads(report.read_text())["checkpoint"] == folder
    capsys.readouterr()
    assert lambada.main(["--checkpoint", folder, "--data_dir", str(DATA), "--limit", "8"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert scored["checkpoint"] == folder and scored["n_scored"] + scored["n_skipped"] == 8, scored


def test_export_cli_on_a_gpt2_folder(tiny: tuple[Path, object], tmp_path: Path) -> None:
    from views import export_cli

    out = tmp_path / "out"
    args = ["--checkpoint", str(tiny[0]), "--prompt", "The cat sat on the mat.", "--out", str(out)]
    assert export_cli.main([*args, "--format", "html", "npz"]) == 0
    assert sorted(p.suffix for p in out.iterdir()) == [".html", ".npz"]


def test_download_only_when_asked(
    tmp_path: Path, tiny: tuple[Path, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ATTENTION_LAB_HF_DOWNLOAD=1 lets huggingface_hub fetch (here a stand-in); without it the
    hub is never asked to go online."""
    import huggingface_hub

    calls: list[dict] = []

    def fake_snapshot_download(repo_id: str, **kwargs: object) -> str:
        calls.append({"repo_id": repo_id, **kwargs})
        return str(tiny[0])

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(HFSourceError):
        load_checkpoint("hf:openai-community/gpt2")
    assert calls == []  # nothing cached, no download asked: refused before the hub is imported
    monkeypatch.setenv("ATTENTION_LAB_HF_DOWNLOAD", "1")
    ckpt = load_checkpoint("hf:openai-community/gpt2")
    assert ckpt.name == "openai-community/gpt2"
    assert calls[0]["repo_id"] == "openai-community/gpt2"
    assert calls[0]["local_files_only"] is False
    assert set(calls[0]["allow_patterns"]) == {"*.safetensors", "*.json", "*.txt"}
