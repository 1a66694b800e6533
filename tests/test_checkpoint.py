"""Checkpoint folders: bit-exact round trips, no pickle ever, clear errors, atomic saves."""

from __future__ import annotations

import builtins
import json
import pickle
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import model.checkpoint as checkpoint
from model.build import build_model
from model.checkpoint import (
    CheckpointError,
    load_checkpoint,
    remove_save_leftovers,
    save_checkpoint,
)
from model.config import ModelConfig
from model.tokenizers import BPETokenizer, CharTokenizer, Tokenizer
from tests.variants import TINY, VARIANTS

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\nAll:\nSpeak, speak.\n" * 4
ALL_VARIANTS = VARIANTS | {"lstm": TINY.replace(architecture="lstm")}


@pytest.fixture(scope="module")
def tokenizers() -> dict[str, Tokenizer]:
    return {"char": CharTokenizer.train(TEXT), "bpe": BPETokenizer.train(TEXT, 300)}


def random_model(cfg: ModelConfig, seed: int = 0):
    """A model whose every parameter is random (biases and gains too), so a round trip that
    dropped or mixed up any tensor shows."""
    torch.manual_seed(seed)
    model = build_model(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
    return model.eval()


def saved(tmp_path: Path, cfg: ModelConfig = TINY, **kwargs) -> Path:
    tok = CharTokenizer.train(TEXT)
    model = random_model(cfg.replace(vocab_size=tok.n_vocab))
    return save_checkpoint(tmp_path / "ckpt", model, tok, {"step": 7}, **kwargs)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(folder.iterdir())}


# --- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("tok_kind", ["char", "bpe"])
@pytest.mark.parametrize("name", list(ALL_VARIANTS))
def test_round_trip_is_bit_exact(name, tok_kind, tokenizers, tmp_path):
    tok = tokenizers[tok_kind]
    cfg = ALL_VARIANTS[name].replace(vocab_size=tok.n_vocab)
    model = random_model(cfg)
    meta = {"step": 12, "losses": [3.5, 2.25], "name": "x"}
    save_checkpoint(tmp_path / "ckpt", model, tok, meta)

    ckpt = load_checkpoint(tmp_path / "ckpt")
    assert ckpt.config == cfg
    assert ckpt.meta == meta
    loaded = ckpt.model.state_dict()
    for key, tensor in model.state_dict().items():
        assert torch.equal(loaded[key], tensor), key
        assert loaded[key].dtype == tensor.dtype, key
    assert ckpt.tokenizer.to_json() == tok.to_json()
    assert ckpt.tokenizer.encode(TEXT) == tok.encode(TEXT)
    ids = torch.tensor([tok.encode(TEXT)[: cfg.n_ctx]])
    with torch.no_grad():
        assert torch.equal(ckpt.model(ids), model(ids))


def test_folder_holds_safetensors_and_json_only(tokenizers, tmp_path):
    tok = tokenizers["bpe"]
    model = random_model(TINY.replace(vocab_size=tok.n_vocab))
    folder = save_checkpoint(tmp_path / "ckpt", model, tok, {"step": 1})
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json",
        "meta.json",
        "model.safetensors",
        "tokenizer.json",
    ]
    for name in ("config.json", "tokenizer.json", "meta.json"):
        json.loads((folder / name).read_text())
    # BPE ranks in tiktoken's "base64 rank" lines
    assert "IA== 32" in (folder / "tokenizer.json").read_text()


def test_shared_layers_are_stored_once_and_stay_shared(tmp_path):
    folder = saved(tmp_path, TINY.replace(share_layers=True))
    stored = load_file(folder / "model.safetensors")
    assert not [k for k in stored if k.startswith("blocks.1.")]
    model = load_checkpoint(folder).model
    for (name, p0), p1 in zip(
        model.blocks[0].named_parameters(), model.blocks[1].parameters(), strict=True
    ):
        assert p0 is p1, name


def test_extras_round_trip(tmp_path):
    extras = {
        "optimizer": {"0.exp_avg": torch.randn(3, 4)},
        "rng": {"torch": torch.get_rng_state()},
    }
    folder = saved(tmp_path, extras=extras)
    ckpt = load_checkpoint(folder, extras=True)
    assert ckpt.extras.keys() == extras.keys()
    for group, tensors in extras.items():
        for key, tensor in tensors.items():
            assert torch.equal(ckpt.extras[group][key], tensor)
    assert load_checkpoint(folder).extras == {}


def test_float16_save_loads_to_close_float32(tmp_path):
    tok = CharTokenizer.train(TEXT)
    model = random_model(TINY.replace(vocab_size=tok.n_vocab))
    folder = save_checkpoint(tmp_path / "ckpt", model, tok, dtype=torch.float16)
    with safe_open(folder / "model.safetensors", "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
    loaded = load_checkpoint(folder).model.state_dict()
    for key, tensor in model.state_dict().items():
        assert loaded[key].dtype == torch.float32
        torch.testing.assert_close(loaded[key], tensor, rtol=1e-3, atol=1e-3)


def test_header_starting_with_0x80_is_not_mistaken_for_pickle(tmp_path):
    """The 8-byte header length of a valid file can begin with byte 0x80 (header of 128 bytes)."""
    folder = saved(tmp_path)
    group = folder / "odd.safetensors"
    for n in range(1, 200):
        save_file({"k" * n: torch.zeros(1)}, group)
        if group.read_bytes()[:1] == b"\x80":
            break
    else:
        pytest.skip("no key length gave a header length starting with 0x80")
    assert load_checkpoint(folder, extras=True).extras["odd"]["k" * n].shape == (1,)


# --- no pickle ---------------------------------------------------------------------------------


class Payload:
    """Unpickling this creates `marker`: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return builtins.open, (str(self.marker), "w")


def write_payload(file: Path, marker: Path, fmt: str) -> None:
    if fmt == "pickle":
        file.write_bytes(pickle.dumps(Payload(marker), protocol=4))
    else:
        torch.save(Payload(marker), file)  # the zip format torch.load reads


@pytest.fixture(params=["pickle", "torch.save"])
def payload_format(request, tmp_path) -> str:
    """Checks that the payload is live: unpickled here (on purpose), it does create its marker."""
    probe, marker = tmp_path / "probe.bin", tmp_path / "probe-ran"
    write_payload(probe, marker, request.param)
    if request.param == "pickle":
        pickle.loads(probe.read_bytes())
    else:
        torch.load(probe, weights_only=False)
    assert marker.exists()
    return request.param


def test_pickle_as_model_safetensors_is_refused(payload_format, tmp_path):
    folder, marker = saved(tmp_path), tmp_path / "ran"
    write_payload(folder / "model.safetensors", marker, payload_format)
    with pytest.raises(CheckpointError, match=r"model\.safetensors.*pickle"):
        load_checkpoint(folder)
    assert not marker.exists()


def test_pickle_as_extra_group_is_refused(payload_format, tmp_path):
    folder, marker = saved(tmp_path), tmp_path / "ran"
    write_payload(folder / "optimizer.safetensors", marker, payload_format)
    with pytest.raises(CheckpointError, match=r"optimizer\.safetensors.*pickle"):
        load_checkpoint(folder, extras=True)
    assert not marker.exists()


def test_folder_with_only_pytorch_model_bin_is_refused(payload_format, tmp_path):
    folder, marker = tmp_path / "hf_style", tmp_path / "ran"
    folder.mkdir()
    write_payload(folder / "pytorch_model.bin", marker, payload_format)
    with pytest.raises(CheckpointError, match=r"pytorch_model\.bin.*refused"):
        load_checkpoint(folder)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["model.pt", "pytorch_model.bin", "weights.ckpt"])
def test_pickle_file_path_is_refused(name, payload_format, tmp_path):
    file, marker = tmp_path / name, tmp_path / "ran"
    write_payload(file, marker, payload_format)
    with pytest.raises(CheckpointError, match=rf"{name}.*pickle.*refused"):
        load_checkpoint(file)
    assert not marker.exists()


def test_a_file_is_not_a_checkpoint(tmp_path):
    folder = saved(tmp_path)
    with pytest.raises(CheckpointError, match="is a folder"):
        load_checkpoint(folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="no such checkpoint folder"):
        load_checkpoint(tmp_path / "nowhere")


# --- damaged checkpoints -----------------------------------------------------------------------


def _truncate(folder: Path) -> None:
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])


def _edit_json(name: str, **changes):
    def edit(folder: Path) -> None:
        data = json.loads((folder / name).read_text())
        (folder / name).write_text(json.dumps(data | changes))

    return edit


def _edit_tensors(drop: str | None = None, add: str | None = None, nan: str | None = None):
    def edit(folder: Path) -> None:
        tensors = load_file(folder / "model.safetensors")
        if drop:
            del tensors[drop]
        if add:
            tensors[add] = torch.zeros(2)
        if nan:
            tensors[nan][0] = float("nan")
        save_file(tensors, folder / "model.safetensors")

    return edit


DAMAGE = {
    "truncated weights": (_truncate, "model.safetensors", "truncated or corrupt"),
    "empty weights": (
        lambda f: (f / "model.safetensors").write_bytes(b""),
        "model.safetensors",
        "truncated or corrupt",
    ),
    "garbage weights": (
        lambda f: (f / "model.safetensors").write_bytes(bytes(range(256)) * 8),
        "model.safetensors",
        "truncated or corrupt",
    ),
    "bad config JSON": (
        lambda f: (f / "config.json").write_text('{"d_model": 32,'),
        "config.json",
        "not valid JSON",
    ),
    "bad tokenizer JSON": (
        lambda f: (f / "tokenizer.json").write_text("{]"),
        "tokenizer.json",
        "not valid JSON",
    ),
    "bad meta JSON": (
        lambda f: (f / "meta.json").write_bytes(b"\xff\xfe"),
        "meta.json",
        "not valid JSON",
    ),
    "config unknown field": (_edit_json("config.json", d_fancy=3), "config.json", "d_fancy"),
    "config bad value": (_edit_json("config.json", n_layers="two"), "config.json", "invalid"),
    "config bad choice": (_edit_json("config.json", norm="sideways"), "config.json", "sideways"),
    "config d_mlp mismatch": (
        _edit_json("config.json", d_mlp=48),
        "model.safetensors",
        r"W_in has shape \(32, 64\), config.json implies \(32, 48\)",
    ),
    "config n_layers mismatch": (
        _edit_json("config.json", n_layers=3),
        "model.safetensors",
        r"does not match config.json; missing tensors \['blocks.2",
    ),
    "tokenizer kind unknown": (
        _edit_json("tokenizer.json", kind="morse"),
        "tokenizer.json",
        "invalid tokenizer",
    ),
    "tokenizer bigger than vocab": (
        _edit_json("config.json", vocab_size=3),
        "tokenizer.json",
        "vocab_size=3",
    ),
    "missing tensor": (
        _edit_tensors(drop="blocks.0.mlp.b_in"),
        "model.safetensors",
        r"missing tensors \['blocks.0.mlp.b_in'\]",
    ),
    "extra tensor": (
        _edit_tensors(add="blocks.0.attn.W_extra"),
        "model.safetensors",
        r"unexpected tensors \['blocks.0.attn.W_extra'\]",
    ),
    "NaN weight": (_edit_tensors(nan="embed.W_E"), "model.safetensors", "NaN"),
    "missing config": (lambda f: (f / "config.json").unlink(), "config.json", "missing"),
    "missing tokenizer": (lambda f: (f / "tokenizer.json").unlink(), "tokenizer.json", "missing"),
    "missing weights": (
        lambda f: (f / "model.safetensors").unlink(),
        "model.safetensors",
        "missing",
    ),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damaged_checkpoint_raises_a_clear_error(case, tmp_path):
    damage, file, problem = DAMAGE[case]
    folder = saved(tmp_path)
    damage(folder)
    with pytest.raises(CheckpointError, match=problem) as error:
        load_checkpoint(folder)
    assert str(error.value).startswith(str(folder / file))


def test_damaged_extra_group_raises_a_clear_error(tmp_path):
    folder = saved(tmp_path, extras={"optimizer": {"a": torch.ones(3)}})
    _truncate_group = folder / "optimizer.safetensors"
    _truncate_group.write_bytes(_truncate_group.read_bytes()[:-5])
    with pytest.raises(CheckpointError, match=r"optimizer\.safetensors.*truncated or corrupt"):
        load_checkpoint(folder, extras=True)


# --- atomic saves ------------------------------------------------------------------------------


def _fail_on_call(real, n: int):
    """`real`, except that call number `n` (1-based) raises as a crash would."""
    calls = 0

    def wrapper(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == n:
            raise OSError("simulated crash mid-save")
        return real(*args, **kwargs)

    return wrapper


CRASHES = {
    "writing the weights": ("save_file", 1),
    "writing an extra group": ("save_file", 2),
    "after the first JSON file": ("_write_json", 2),
    "after the last JSON file": ("_write_json", 3),
    "moving the old folder aside": ("replace", 1),
    "between the two renames": ("replace", 2),
}


@pytest.mark.parametrize("crash", list(CRASHES))
def test_crash_mid_save_keeps_the_previous_checkpoint(crash, tmp_path, monkeypatch):
    folder = saved(tmp_path, extras={"optimizer": {"a": torch.ones(3)}})
    before = snapshot(folder)
    name, n = CRASHES[crash]
    if name == "replace":
        monkeypatch.setattr(checkpoint.os, "replace", _fail_on_call(checkpoint.os.replace, n))
    else:
        monkeypatch.setattr(checkpoint, name, _fail_on_call(getattr(checkpoint, name), n))

    tok = CharTokenizer.train(TEXT)
    newer = random_model(TINY.replace(vocab_size=tok.n_vocab), seed=1)
    with pytest.raises(OSError, match="simulated crash"):
        save_checkpoint(folder, newer, tok, {"step": 8}, extras={"optimizer": {"a": torch.ones(3)}})
    monkeypatch.undo()

    assert snapshot(folder) == before
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]  # no temporary folders left
    assert load_checkpoint(folder).meta == {"step": 7}


def test_save_killed_between_renames_is_recovered_by_the_writer(tmp_path):
    """A kill (no `except` runs) after the old folder moved aside: loading says so and moves
    nothing (a reader never renames); the next save, or a run's start, puts it back."""
    folder = saved(tmp_path)
    before = snapshot(folder)
    aside = folder.with_name(".ckpt.old")
    folder.rename(aside)
    with pytest.raises(CheckpointError, match=r"no such checkpoint folder \(\.ckpt\.old holds"):
        load_checkpoint(folder)
    assert aside.exists() and not folder.exists()
    remove_save_leftovers(folder)  # what training does at a run's start
    assert snapshot(folder) == before and not aside.exists()
    assert load_checkpoint(folder).meta == {"step": 7}

    folder.rename(aside)
    tok = CharTokenizer.train(TEXT)
    save_checkpoint(folder, random_model(TINY.replace(vocab_size=tok.n_vocab)), tok, {"step": 9})
    assert load_checkpoint(folder).meta == {"step": 9}
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_overwriting_replaces_the_whole_folder(tmp_path):
    folder = saved(tmp_path, extras={"optimizer": {"a": torch.ones(3)}})
    tok = CharTokenizer.train(TEXT)
    newer = random_model(TINY.replace(vocab_size=tok.n_vocab), seed=1)
    save_checkpoint(folder, newer, tok, {"step": 8})
    assert not (folder / "optimizer.safetensors").exists()  # nothing stale from the old save
    loaded = load_checkpoint(folder)
    assert loaded.meta == {"step": 8}
    assert torch.equal(loaded.model.embed.W_E, newer.embed.W_E)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]
