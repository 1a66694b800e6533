"""What the app shows, without Streamlit: the registry of Explore views, their figures and exports.

registry         one `View` per Explore tab: name, what it needs, its builder, controls and exports;
                 read by `pages/explore.py`, `bench/bench_app.py` and the tests
explore          the Explore page's figures from a `Capture` (what the benchmark times)
exports          PNG / SVG / HTML / NPZ / CSV bytes, file names and titles that name the switches
export_cli       `python -m views.export_cli`: the same exports from the command line
items            the items a view returns (charts, notes, tables), shared by the registry and views
interp_*         the interpretability tabs (head types, logit lens, attribution, patching, circuits,
                 stream health) over `interp/`, with their exports
curriculum_q1..q4, curriculum_mask
                 each Curriculum tab's record-based part: findings from `curriculum/`, figures
curriculum_section(s), curriculum_text, curriculum_live_text
                 the tabs' shared layout pieces and sentences, every number quoted from a
                 record or a live measurement
"""
