"""Training: everything between a corpus on disk and an optimizer step; knows nothing of Streamlit.

corpora.py   text in: Tiny Shakespeare, LAMBADA or a local file, checksummed and split
batches.py   tokens out: the on-disk token cache and the windows cut into (x, y) batches
"""
