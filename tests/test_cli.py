"""Command-line flags generated from ModelConfig and TrainConfig, over TOML or JSON files."""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import pytest

import training.train
from model.config import ModelConfig
from training.cli import config_parser, run_config_from_args
from training.config import RunConfig, TrainConfig


def parse(*argv: str) -> RunConfig:
    return run_config_from_args(config_parser("test").parse_args(list(argv)))


def other_value(tp: Any, default: Any) -> tuple[str, Any]:
    """A value unlike `default` for a field of type `tp`: (command-line text, parsed value)."""
    if get_origin(tp) in (Union, types.UnionType):
        tp = next(a for a in get_args(tp) if a is not type(None))
    if get_origin(tp) is Literal:
        choice = next(c for c in get_args(tp) if c != default)
        return choice, choice
    if tp is bool:
        return str(not default).lower(), not default
    if tp is int:
        value = (default or 0) + 3
        return str(value), value
    if tp is float:
        value = (default or 0.0) / 2 + 0.25  # dropout stays in [0, 1)
        return repr(value), value
    return "elsewhere", "elsewhere"


def test_every_config_field_has_a_working_flag():
    argv: list[str] = []
    expected: dict[str, dict[str, Any]] = {"model": {}, "train": {}}
    for section, cls in (("model", ModelConfig), ("train", TrainConfig)):
        hints = get_type_hints(cls)
        for f in dataclasses.fields(cls):
            text, value = other_value(hints[f.name], f.default)
            argv += [f"--{f.name}", text]
            expected[section][f.name] = value
    run = parse(*argv)
    assert run == RunConfig(ModelConfig(**expected["model"]), TrainConfig(**expected["train"]))
    assert run.model != ModelConfig() and run.train != TrainConfig()


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_flags_override_the_config_file(suffix, tmp_path):
    config = tmp_path / f"run{suffix}"
    if suffix == ".toml":
        config.write_text(
            '[model]\nd_model = 48\nn_layers = 3\nnorm = "post"\n'
            '[train]\nlr = 0.002\nmax_steps = 40\ntokenizer = "bpe"\nprogress = false\n'
        )
    else:
        config.write_text(
            json.dumps(
                {
                    "model": {"d_model": 48, "n_layers": 3, "norm": "post"},
                    "train": {"lr": 0.002, "max_steps": 40, "tokenizer": "bpe", "progress": False},
                }
            )
        )
    run = parse("--config", str(config), "--n_layers", "5", "--lr", "3e-4", "--progress", "true")
    assert (run.model.d_model, run.model.n_layers, run.model.norm) == (48, 5, "post")
    assert (run.train.lr, run.train.max_steps, run.train.tokenizer) == (3e-4, 40, "bpe")
    assert run.train.progress is True
    assert run.model.d_mlp == ModelConfig().d_mlp  # neither file nor flag: the default


@pytest.mark.parametrize(
    "text, value",
    [("true", True), ("false", False), ("True", True), ("FALSE", False), ("1", True), ("0", False)],
)
def test_booleans_parse_true_and_false(text, value):
    run = parse("--tied_embeddings", text, "--compile", text)
    assert run.model.tied_embeddings is value and run.train.compile is value


def test_optional_fields_take_none():
    run = parse("--eval_max_tokens", "none", "--threads", "2", "--data_dir", "None")
    assert (run.train.eval_max_tokens, run.train.threads, run.train.data_dir) == (None, 2, None)
    assert parse("--eval_max_tokens", "500").train.eval_max_tokens == 500


@pytest.mark.parametrize(
    "argv, complaint",
    [
        (["--norm", "sideways"], "argument --norm: invalid choice: 'sideways'"),
        (["--tokenizer", "words"], "argument --tokenizer: invalid choice: 'words'"),
        (["--task", "reversl"], "argument --task: invalid choice: 'reversl'"),
        (["--n_layers", "two"], "argument --n_layers: invalid int value: 'two'"),
        (["--lr", "fast"], "argument --lr: invalid float value: 'fast'"),
        (["--bias", "maybe"], "argument --bias: expected true/false, got 'maybe'"),
        (["--n_layers", "0"], "ModelConfig.n_layers must be positive"),
        (["--checkpoint_interval", "0"], "TrainConfig.checkpoint_interval must be positive"),
        (["--d_fancy", "3"], "unrecognized arguments: --d_fancy 3"),
    ],
)
def test_bad_flags_exit_with_an_argparse_error(argv, complaint, capsys):
    with pytest.raises(SystemExit) as exit_:
        training.train.main(argv)
    assert exit_.value.code == 2
    assert complaint in capsys.readouterr().err


@pytest.mark.parametrize(
    "content, complaint",
    [
        ("[train]\nlr_max = 0.1\n", "unknown train fields ['lr_max']"),
        ("[model]\nd_fancy = 3\n", "unknown ModelConfig fields ['d_fancy']"),
        ("[suite]\nname = 'x'\n", "unknown config sections ['suite']"),
        ('[train]\ntask = "reversl"\n', "TrainConfig.task='reversl'"),
        # the tests' runtime type checker words this one itself; both name the value
        ('[model]\nnorm = "sideways"\n', "'sideways'"),
        ("[model]\nd_model = \n", "run.toml"),  # a TOML syntax error names nothing but the line
    ],
)
def test_bad_config_files_give_a_clear_error(content, complaint, tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text(content)
    with pytest.raises(SystemExit) as exit_:
        training.train.main(["--config", str(config)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err
    if complaint != "run.toml":
        assert complaint in err


@pytest.mark.parametrize("name, content", [("run.yaml", "model: {}"), ("missing.toml", None)])
def test_config_file_must_be_toml_or_json_and_exist(name, content, tmp_path, capsys):
    config = tmp_path / name
    if content is not None:
        config.write_text(content)
    with pytest.raises(SystemExit):
        training.train.main(["--config", str(config)])
    assert str(config) in capsys.readouterr().err


def test_config_file_is_data_not_code(tmp_path):
    marker = tmp_path / "ran"
    config = tmp_path / "run.toml"
    config.write_text(f"[train]\nout_dir = \"__import__('pathlib').Path('{marker}').touch()\"\n")
    assert parse("--config", str(config)).train.out_dir.startswith("__import__")
    assert not marker.exists()


def test_the_shipped_configs_parse():
    for config in sorted(Path(__file__).resolve().parents[1].glob("configs/*.toml")):
        if "suite" in tomllib.loads(config.read_text()):  # the experiments runner's format
            continue
        run = parse("--config", str(config))
        assert run.train.max_steps > 0
