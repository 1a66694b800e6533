"""Attention Lab: `streamlit run app.py`.

The entry script only declares the pages; each page is a short script under pages/.
"""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Attention Lab", page_icon="🔬", layout="wide")

pages = [
    st.Page("pages/explore.py", title="Explore", icon="🔍", default=True),
    st.Page("pages/compare.py", title="Compare", icon="⚖️"),
    st.Page("pages/curriculum.py", title="Curriculum", icon="🎓"),
]

st.navigation(pages).run()
