"""Figures of a transformer's internals: numpy arrays (and token strings) in, figures out.

Builders return `plotly.graph_objects.Figure` (interactive) or bytes (static PNG/SVG). They know
nothing of Streamlit and nothing of the model: no torch import anywhere in this package (the
export command line is `views.export_cli`; the numpy summaries they draw live in `analysis.metrics`).

Dimension names, as in `model/` (batch, pos, q_pos, k_pos, layer, head, d_head, d_model, vocab);
every builder states its expected shape and raises ValueError naming it:

    attention  pattern_grid [layer head q_pos k_pos], head_heatmap [q_pos k_pos],
               score_pipeline 4 x [q_pos k_pos], pattern_difference 2 x [q_pos k_pos]
    qkv        qkv_inspector q, k, z [d_head], v [k_pos d_head]
    stats      layer_pos_heatmap [layer pos], entropy_heatmap / entropy_bars [layer head]
    tokens     token_loss_html (HTML str), topk_table (rows for a dataframe)
    curves     training_curves, position_loss_curves, metric_bars
    static     head_image, grid_image (PNG/SVG bytes, matplotlib)   -- import viz.static
    export     to_png, to_svg, to_html, to_npz, head_to_csv         -- import viz.export

`viz.static` and `viz.export` are not imported here, so `import viz` does not load matplotlib.
"""

from viz.attention import head_heatmap, pattern_difference, pattern_grid, score_pipeline
from viz.curves import metric_bars, position_loss_curves, training_curves
from viz.qkv import qkv_inspector
from viz.stats import entropy_bars, entropy_heatmap, layer_pos_heatmap, residual_row_labels
from viz.tokens import token_loss_html, topk_table

__all__ = [
    "entropy_bars",
    "entropy_heatmap",
    "head_heatmap",
    "layer_pos_heatmap",
    "metric_bars",
    "pattern_difference",
    "pattern_grid",
    "position_loss_curves",
    "qkv_inspector",
    "residual_row_labels",
    "score_pipeline",
    "token_loss_html",
    "topk_table",
    "training_curves",
]
