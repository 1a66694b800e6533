"""The LAMBADA figure builder: what it draws, its errors, and that plotly's validator keeps it."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import plotly.io as pio
import pytest

from viz.lambada import BaselineLine, ModelSeries, lambada_figure

BINS = ["1-16", "not in context"]


def _series(scale: float) -> ModelSeries:
    return ModelSeries(
        steps=[200, 400],
        loss=[[10.0 * scale, 8.0 * scale], [11.0 * scale, 9.0 * scale]],
        accuracy=[[0.0, 0.1 * scale], [0.02, 0.2 * scale]],
        by_distance={"1-16": [0.2, 0.3], "not in context": [0.0, 0.01]},
    )


def _figure() -> go.Figure:
    return lambada_figure(
        {"transformer": _series(1.0), "lstm": _series(0.5)},
        {"unigram": BaselineLine(0.0, 19.0), "context_fits": BaselineLine(0.1, None)},
        BINS,
        [91, 97],
        note="3 seeds each",
    )


def test_lines_bands_baselines_and_bars() -> None:
    fig = _figure()
    lines = [t for t in fig.data if t.name and "seeds" in t.name]
    assert [t.name for t in lines] == ["transformer (2 seeds)"] * 2 + ["lstm (2 seeds)"] * 2
    assert list(lines[1].y) == pytest.approx([0.01, 0.15])  # accuracy: mean over seeds
    bands = [t for t in fig.data if t.type == "scatter" and t.fill == "toself"]
    assert list(bands[0].y) == [11.0, 9.0, 8.0, 10.0]  # highest seed out, lowest seed back
    bars = [t for t in fig.data if t.type == "bar"]
    assert list(bars[0].x) == ["1-16<br>(n=91)", "not in context<br>(n=97)"]
    assert list(bars[0].y) == pytest.approx([0.25, 0.005])
    assert list(bars[0].error_y.array) == pytest.approx([0.05, 0.005])
    flat = [t for t in fig.data if t.name == "unigram"]
    assert [list(t.y) for t in flat] == [[19.0, 19.0], [0.0, 0.0]]  # loss panel and accuracy panel
    assert len([t for t in fig.data if t.name == "context_fits"]) == 1  # no loss: accuracy only


def test_the_validator_keeps_the_figure_as_built() -> None:
    spec = _figure().to_dict()
    validated = go.Figure(spec).to_dict()
    as_json = [json.loads(pio.to_json(d, validate=False)) for d in (spec, validated)]
    assert as_json[0] == as_json[1]


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="no models"):
        lambada_figure({}, {}, BINS, [1, 1])
    short = ModelSeries([200, 400], [[1.0]], [[0.0, 0.1]], {"1-16": [0.1], "not in context": [0]})
    with pytest.raises(ValueError, match="loss needs one row per seed"):
        lambada_figure({"m": short}, {}, BINS, [1, 1])
    with pytest.raises(ValueError, match="no accuracy for bins"):
        lambada_figure({"m": _series(1.0)}, {}, ["1-16", "49+"], [1, 1])


def test_one_seed_is_named_in_the_singular() -> None:
    one = ModelSeries([200], [[9.0]], [[0.01]], {"1-16": [0.1], "not in context": [0.0]})
    fig = lambada_figure({"LSTM": one}, {}, BINS, [91, 97])
    assert {t.name for t in fig.data if t.type == "scatter" and t.name} == {"LSTM (1 seed)"}
