"""Features to scores: the detection layers.

``heuristics``   the original detector's tunable rules (spectral and CLAP-embedding statistics)
``clap/``        the LAION-CLAP audio encoder that the embedding rules and the classifier read
``classifier/``  a trained scikit-learn model, loaded safely, that gives P(AI)
"""
