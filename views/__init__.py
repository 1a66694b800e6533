"""What the app shows, without Streamlit: the registry of Explore views, their figures and exports.

registry         one `View` per Explore tab: name, what it needs, its builder, controls and exports;
                 read by `pages/explore.py`, `bench/bench_app.py` and the tests
explore          the Explore page's figures from a `Capture` (what the benchmark times)
exports          PNG / SVG / HTML / NPZ / CSV bytes, file names and titles that name the switches
export_cli       `python -m views.export_cli`: the same exports from the command line
curriculum_text  the Curriculum page's sentences, every number quoted from a measurement
"""
