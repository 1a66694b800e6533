"""Write the README's results table from the recorded JSON; never typed by hand.

    python -m training.results_table [--root checkpoints] [--readme README.md]

Replaces the text between the RESULTS markers in the README with one row per variant.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from training.reversal import half_accuracies

START, END = "<!-- RESULTS:START -->", "<!-- RESULTS:END -->"


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}f}" if isinstance(value, float) else f"{value:,}"


def table(records: list[dict[str, Any]]) -> str:
    lm = [r for r in records if "reversal" not in r]
    rev = [r for r in records if "reversal" in r]
    base = next((r for r in lm if r["name"] == "baseline"), None)
    lines = [
        "| variant | status | val loss (nats/token) | Δ vs baseline | bits/char | LAMBADA acc | LAMBADA loss | params | train s | tokens/s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in lm:
        f = r.get("final", {})
        status = (
            r["status"] if r["status"] == "completed" else f"**{r['status']}** at step {r['steps']}"
        )
        delta = None
        if base is not None and r.get("tokenizer") == base.get("tokenizer") and "val_loss" in f:
            delta = f["val_loss"] - base.get("final", {}).get("val_loss", float("nan"))
        lines.append(
            f"| {r['name']} | {status} | {_fmt(f.get('val_loss'))} | {_fmt(delta) if delta is not None else '–'} "
            f"| {_fmt(f.get('val_bpc'))} | {_fmt(f.get('lambada_accuracy'))} | {_fmt(f.get('lambada_loss'), 2)} "
            f"| {_fmt(r.get('n_params'))} | {_fmt(r.get('train_seconds'), 0)} | {_fmt(r.get('tokens_per_s'), 0)} |"
        )
    depth = [
        r
        for r in lm
        if "curve" in r and r["curve"] and "grad_norm_by_layer" in r["curve"][-1] and "probe" in r
    ]
    if depth:
        lines += [
            "",
            "| variant | grad norm, first block / last block (last step) | token cosine after embedding → after last block |",
            "|---|---|---|",
        ]
        for r in depth:
            g = r["curve"][-1]["grad_norm_by_layer"]
            layers = [k for k in g if k.startswith(("blocks.", "layers."))]
            ratio = g[layers[0]] / g[layers[-1]] if len(layers) > 1 and g[layers[-1]] else None
            cos = r["probe"].get("token_cosine", [])
            cos_text = f"{cos[0]:.3f} → {cos[-1]:.3f}" if cos else "–"
            lines.append(
                f"| {r['name']} | {ratio:.2e} | {cos_text} |"
                if ratio is not None
                else f"| {r['name']} | – | {cos_text} |"
            )
    if rev:
        lines += [
            "",
            "| reversal task | first-half accuracy | second-half accuracy | chance |",
            "|---|---|---|---|",
        ]
        for r in rev:
            first, second = half_accuracies(
                r["reversal"]["accuracy_per_position"], r["reversal"]["length"]
            )
            lines.append(
                f"| {r['name']} | {first:.3f} | {second:.3f} | {r['reversal']['chance']:.3f} |"
            )
    return "\n".join(lines)


def load_records(root: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(root.glob("*/record.json"))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default="checkpoints")
    parser.add_argument("--readme", default="README.md")
    args = parser.parse_args(argv)
    readme = Path(args.readme)
    text = readme.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{readme} has no {START} ... {END} markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    body = table(load_records(Path(args.root)))
    readme.write_text(f"{head}{START}\n{body}\n{END}{tail}")
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
