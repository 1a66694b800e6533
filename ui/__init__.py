"""The Streamlit glue: everything here imports streamlit; pages/ are short scripts over it.

state     cached loaders, session defaults, the page guard
sidebar   the model picker and the switch panel (generated from the `Switches` fields)
controls  the widgets an Explore view declares (layer/head, gamma, positions, generation)
"""
