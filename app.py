"""Attention Lab: `streamlit run app.py`.

The entry script only declares the pages; each page is a short script under pages/.
"""

from __future__ import annotations

import streamlit as st

# Material icons ship with Streamlit; emoji need a font the machine may lack (empty boxes).
st.set_page_config(page_title="Attention Lab", page_icon=":material/biotech:", layout="wide")

pages = [
    st.Page("pages/explore.py", title="Explore", icon=":material/search:", default=True),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("pages/curriculum.py", title="Curriculum", icon=":material/school:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
]

st.navigation(pages).run()
