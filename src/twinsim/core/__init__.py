"""Small pure helpers used by every layer.

Quantiles, 95% intervals, the evaluation estimators and the split of variance between parameters and replicates.
Nothing here imports another part of twinsim.
"""
