"""Checkpoint folders written by someone careless or hostile: refused quickly, cheaply, clearly.

The order in `load_checkpoint` is the defence: JSON types and ranges first, then the weights'
header against a model built on the meta device, and only then any allocation.
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
from safetensors.torch import load_file, save_file

from model.build import build_meta_model, build_model
from model.checkpoint import (
    CheckpointError,
    distinct_state_dict,
    load_checkpoint,
    remove_save_leftovers,
    save_checkpoint,
)
from model.config import ModelConfig
from model.tokenizers import CharTokenizer
from tests.variants import TINY

REPO = Path(__file__).resolve().parents[1]
TEXT = "To be, or not to be, that is the question.\n" * 3


def saved(tmp_path: Path, cfg: ModelConfig = TINY, name: str = "ckpt", **kwargs) -> Path:
    tok = CharTokenizer.train(TEXT)
    torch.manual_seed(0)
    model = build_model(cfg.replace(vocab_size=tok.n_vocab))
    return save_checkpoint(tmp_path / name, model, tok, {"step": 3}, **kwargs)


def edit_config(folder: Path, **changes) -> None:
    data = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(data | changes))


def timed_load(folder: Path) -> tuple[str, float]:
    start = time.perf_counter()
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(folder)
    return str(error.value), time.perf_counter() - start


# --- claims the file cannot back ---------------------------------------------------------------

# (changes to config.json, words of the refusal). The first three exceed ModelConfig's sanity
# limits; the last two are within them, so only the comparison with the file refuses them, and
# it must do so without building 1024 blocks or allocating 34 GB of MLPs.
HUGE_CLAIMS = {
    "100,000 layers": ({"n_layers": 100_000}, "n_layers must be at most 1024"),
    "vocab 2**23": ({"vocab_size": 2**23}, "vocab_size must be at most"),
    "n_ctx 1e9": ({"n_ctx": 10**9}, "n_ctx must be at most"),
    "1024 layers": ({"n_layers": 1024}, "implies"),
    "d_model 2**14, d_mlp 2**16": ({"d_model": 2**14, "d_mlp": 2**16}, "implies"),
}


@pytest.mark.parametrize("case", list(HUGE_CLAIMS))
def test_huge_claims_are_refused_in_well_under_a_second(case, tmp_path):
    changes, words = HUGE_CLAIMS[case]
    folder = saved(tmp_path)
    edit_config(folder, **changes)
    message, seconds = timed_load(folder)
    assert words in message
    assert seconds < 1.0, f"{case}: {seconds:.2f} s"


def test_derived_tables_are_bounded_by_the_file(tmp_path):
    """A consistent header for n_ctx 65536 x d_model 16384 weighs ~1 MB; its sinusoidal table
    (not stored: derived from the config) would be 4 GiB."""
    folder = saved(tmp_path)
    cfg = ModelConfig(
        vocab_size=json.loads((folder / "config.json").read_text())["vocab_size"],
        n_ctx=2**16,
        d_model=2**14,
        n_layers=1,
        n_heads=1,
        d_head=1,
        d_mlp=1,
    )
    shapes = {k: v.shape for k, v in distinct_state_dict(build_meta_model(cfg)).items()}
    save_file({k: torch.zeros(s) for k, s in shapes.items()}, folder / "model.safetensors")
    (folder / "config.json").write_text(json.dumps(cfg.to_dict()))
    message, seconds = timed_load(folder)
    assert "config.json: derives" in message and seconds < 1.0


MEASURE = """
import json, sys, time
import torch
torch.set_num_threads(1)
from model.checkpoint import CheckpointError, load_checkpoint

def peak_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

results = {}
for folder in sys.argv[1:]:
    before, start = peak_kib(), time.perf_counter()
    try:
        load_checkpoint(folder)
        outcome = "loaded"
    except CheckpointError as e:
        outcome = str(e)
    results[folder] = [outcome, time.perf_counter() - start, (peak_kib() - before) / 1024]
print(json.dumps(results))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's VmHWM")
def test_huge_claims_cost_under_100_mb(tmp_path):
    """Peak resident memory in a fresh process (VmHWM), which sees torch's allocations too."""
    folders = []
    for case in ("100,000 layers", "vocab 2**23", "1024 layers", "d_model 2**14, d_mlp 2**16"):
        changes, _ = HUGE_CLAIMS[case]
        folder = saved(tmp_path, name=f"c{len(folders)}")
        edit_config(folder, **changes)
        folders.append(str(folder))
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, *folders],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    for folder, (outcome, seconds, extra_mb) in json.loads(out.stdout).items():
        assert outcome != "loaded", folder
        assert seconds < 1.0 and extra_mb < 100, (folder, outcome, seconds, extra_mb)


# --- what the header declares ------------------------------------------------------------------


def test_integer_tensor_where_the_model_has_floats_is_refused(tmp_path):
    folder = saved(tmp_path)
    tensors = load_file(folder / "model.safetensors")
    tensors["embed.W_E"] = tensors["embed.W_E"].to(torch.int32)
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"embed\.W_E is stored as I32.*F16, BF16, F32"):
        load_checkpoint(folder)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_other_float_widths_load(dtype, tmp_path):
    folder = saved(tmp_path)
    tensors = {k: v.to(dtype) for k, v in load_file(folder / "model.safetensors").items()}
    save_file(tensors, folder / "model.safetensors")
    model = load_checkpoint(folder).model
    assert model.embed.W_E.dtype == torch.float32
    torch.testing.assert_close(model.embed.W_E, tensors["embed.W_E"].float())


# --- the JSON files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"causal_mask": "false"}, "causal_mask='false': expected true or false"),
        ({"ln_eps": -1e-5}, "ln_eps must be positive"),
        ({"ln_eps": None}, "ln_eps=None"),
        ({"d_model": 32.0}, "d_model=32.0: expected a whole number"),
    ],
)
def test_config_types_are_checked_before_anything_is_built(changes, words, tmp_path):
    folder = saved(tmp_path)
    edit_config(folder, **changes)
    with pytest.raises(CheckpointError, match="invalid model config") as error:
        load_checkpoint(folder)
    assert words in str(error.value)


@pytest.mark.parametrize("content", ["[1, 2]", "null", '"step 3"', "7"])
def test_meta_json_must_be_an_object(content, tmp_path):
    folder = saved(tmp_path)
    (folder / "meta.json").write_text(content)
    with pytest.raises(CheckpointError, match=r"meta\.json: must hold a JSON object"):
        load_checkpoint(folder)


def test_config_json_must_be_an_object(tmp_path):
    folder = saved(tmp_path)
    (folder / "config.json").write_text("[]")
    with pytest.raises(CheckpointError, match=r"config\.json: invalid model config.*table"):
        load_checkpoint(folder)


def test_tokenizer_smaller_than_the_vocabulary_is_refused(tmp_path):
    """A padded vocabulary (consistent weights, 8 ids with no text) would break every view that
    decodes a prediction; refused at load, naming both numbers."""
    folder = saved(tmp_path)
    tok = json.loads((folder / "tokenizer.json").read_text())
    n = len(tok["chars"])
    tokenizer = CharTokenizer.train(TEXT)
    torch.manual_seed(0)
    model = build_model(TINY.replace(vocab_size=tokenizer.n_vocab + 8))
    save_checkpoint(folder, model, tokenizer)
    with pytest.raises(CheckpointError, match=rf"tokenizer has {n} tokens.*vocab_size={n + 8}"):
        load_checkpoint(folder)


# --- files that are not files ------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
@pytest.mark.parametrize(
    "name", ["model.safetensors", "config.json", "meta.json", "opt.safetensors"]
)
def test_a_named_pipe_is_refused_at_once(name, tmp_path):
    """Opening a FIFO for reading blocks until a writer comes: in the app, forever."""
    folder = saved(tmp_path)
    (folder / name).unlink(missing_ok=True)
    os.mkfifo(folder / name)
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match=rf"{name}: not a regular file"):
        load_checkpoint(folder, extras=True)
    assert time.perf_counter() - start < 1.0


def test_a_folder_where_a_file_should_be_is_refused(tmp_path):
    folder = saved(tmp_path)
    (folder / "tokenizer.json").unlink()
    (folder / "tokenizer.json").mkdir()
    with pytest.raises(CheckpointError, match=r"tokenizer\.json: not a regular file"):
        load_checkpoint(folder)


# --- messages name the folder as given ---------------------------------------------------------


def test_messages_name_the_folder_as_the_user_gave_it(tmp_path, monkeypatch):
    saved(tmp_path, name="mine")
    edit_config(tmp_path / "mine", norm="sideways")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError) as error:
        load_checkpoint("mine")
    assert str(error.value).startswith("mine/config.json: invalid model config")
    assert str(tmp_path) not in str(error.value)
    # a caller that resolved the path (the app caches by absolute path) can reword it
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(tmp_path / "mine")
    assert error.value.naming("~/models/mine/").startswith("~/models/mine/config.json: invalid")
    assert str(tmp_path) not in error.value.naming("mine")


# --- leftovers of a killed save ----------------------------------------------------------------


def test_leftovers_of_a_killed_save_are_removed(tmp_path):
    folder = saved(tmp_path)
    leftovers = [tmp_path / ".ckpt.ab_c1234", tmp_path / ".ckpt.zz9q0000"]
    for left in leftovers:
        left.mkdir()
        (left / "model.safetensors").write_bytes(b"partial")
    keep = [tmp_path / ".ckpt.not-temp", tmp_path / ".other.ab_c1234", tmp_path / "ckpt.ab_c1234"]
    for k in keep:
        k.mkdir()
    assert sorted(remove_save_leftovers(folder)) == sorted(leftovers)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["ckpt"] + [k.name for k in keep])
    assert load_checkpoint(folder).meta == {"step": 3}


def test_leftover_cleanup_first_recovers_a_checkpoint_moved_aside(tmp_path):
    folder = saved(tmp_path)
    folder.rename(tmp_path / ".ckpt.old")
    remove_save_leftovers(folder)
    assert load_checkpoint(folder).meta == {"step": 3}


def test_app_messages_name_the_folder_as_typed(tmp_path, monkeypatch) -> None:
    from ui.state import try_load

    bad = tmp_path / "mine"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    monkeypatch.chdir(tmp_path)
    ckpt, message = try_load("mine")
    assert ckpt is None and message is not None
    assert "mine/" in message and str(tmp_path) not in message and "/work" not in message
