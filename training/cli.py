"""Command-line flags generated from the config dataclasses: `--n_layers 6 --lr 3e-4`.

Every field of ModelConfig and TrainConfig gets a flag of its own name (the two share none, which
`config_parser` checks). Values are parsed by the field's type; Literal fields list their choices.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
from typing import Any, Literal, NoReturn, Union, get_args, get_origin, get_type_hints

from model.config import ModelConfig
from training.config import RunConfig, TrainConfig, read_config_file


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _flag_kwargs(tp: Any) -> dict[str, Any]:
    optional = False
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        optional = len(args) < len(get_args(tp))
        tp = args[0]
    if get_origin(tp) is Literal:
        return {"choices": list(get_args(tp)), "type": type(get_args(tp)[0])}
    base = {bool: _parse_bool, int: int, float: float, str: str}[tp]
    if optional:
        return {"type": lambda s: None if s.lower() == "none" else base(s)}
    return {"type": base}


class OneLineParser(argparse.ArgumentParser):
    """Errors as one line, `prog: error: message`, exit status 2. argparse's default prints the
    usage first, which with a flag per config field is a screenful hiding the one line that
    matters; --help still shows it."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (--help lists the flags)\n")


def config_parser(description: str) -> argparse.ArgumentParser:
    parser = OneLineParser(description=description)
    parser.add_argument("--config", help="TOML or JSON file with [model] and [train] tables")
    seen: set[str] = set()
    for section, cls in (("model", ModelConfig), ("train", TrainConfig)):
        group = parser.add_argument_group(f"{section} config (override the file)")
        hints = get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.name in seen:
                raise RuntimeError(f"ModelConfig and TrainConfig both define {f.name!r}")
            seen.add(f.name)
            group.add_argument(
                f"--{f.name}",
                dest=f"{section}.{f.name}",
                default=None,
                **_flag_kwargs(hints[f.name]),
            )
    return parser


def run_config_from_args(args: argparse.Namespace) -> RunConfig:
    """The config file (if any), then every flag given on the command line on top of it."""
    data: dict[str, dict[str, Any]] = {"model": {}, "train": {}}
    if args.config:
        for section, values in read_config_file(args.config).items():
            data.setdefault(section, {}).update(values)
    for key, value in vars(args).items():
        if "." in key and value is not None:
            section, name = key.split(".", 1)
            data[section][name] = value
    return RunConfig.from_dict(data)
