"""Attention Lab: `streamlit run app.py`.

The entry script only declares the pages; each page is a short script under pages/.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent

st.set_page_config(page_title="Attention Lab", page_icon="🔬", layout="wide")

pages = [
    st.Page("pages/explore.py", title="Explore", icon="🔍", default=True),
    st.Page("pages/compare.py", title="Compare", icon="⚖️"),
]
# The curriculum page (issue 6) joins the list as soon as its file exists.
if (HERE / "pages" / "curriculum.py").is_file():
    pages.append(st.Page("pages/curriculum.py", title="Curriculum", icon="🎓"))

st.navigation(pages).run()
