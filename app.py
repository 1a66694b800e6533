"""Attention Lab: `streamlit run app.py`.

The entry script only declares the pages; each page is a short script under pages/.
"""

from __future__ import annotations

import streamlit as st

from ui.icon import page_icon

# An image the app serves itself: a Material icon as the page icon is fetched from a font CDN,
# and emoji need a font the machine may lack (empty boxes).
st.set_page_config(page_title="Attention Lab", page_icon=page_icon(), layout="wide")

pages = [
    st.Page("pages/explore.py", title="Explore", icon=":material/search:", default=True),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("pages/curriculum.py", title="Curriculum", icon=":material/school:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
]

st.navigation(pages).run()
