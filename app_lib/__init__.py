"""Helpers of the Streamlit app that know nothing of Streamlit (except `app_lib.state`).

models    shipped checkpoints and user folders; record.json of each variant
prompts   prompt text -> token ids the model can take, plus messages for the page
capture   one instrumented forward pass -> a typed dataclass of numpy arrays
figures   the Explore page's figures from a capture (what the benchmark times)
exports   PNG / SVG / HTML / NPZ / CSV bytes of the focused head and the grid
state     Streamlit-aware: cached loaders, session defaults, the page guard
"""
