"""Numbers from models and records, for the app and for training: no Streamlit, no plotly.

capture     one instrumented forward pass -> a typed `Capture` of numpy arrays; generation steps
metrics     numpy summaries of activations (attention entropy, future attention...); also used by
            `training.probes`
prompts     prompt text -> token ids the model can take, plus messages for the page
catalog     the checkpoints the app offers and their typed records (`training.suite_record`)
curriculum  the measurements behind the Curriculum page
"""
