"""The Curriculum page's evidence: what the suite's records and the isolating experiments say about
each of the four questions, as numbers with their seed spread and sentences computed from them.

`evidence` reads records (no model runs); the page adds live measurements on top. Nothing here
imports Streamlit, so every answer can be tested against records written by a test.
"""
