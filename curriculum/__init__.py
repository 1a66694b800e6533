"""The Curriculum page's evidence: what the suite's records and the isolating experiments say about
each of the four questions, as numbers with their seed spread and sentences computed from them.

evidence    records in (schema 2 only), findings out: one verdict rule, variants per question
            read from the suite spec, plain-word headlines, recipe notes
recall      question 1's recall experiment: accuracy by distance, the retrieval head
saturation  question 2: does the unscaled model's softmax saturate (attention health)
mask        the reversal task and the language model trained without the mask
series      what the figures draw from records: loss by position, attention health over training

Nothing here imports Streamlit and nothing runs a model, so every answer can be tested against
records written by a test; the page adds live measurements (analysis.curriculum) on top.
"""
