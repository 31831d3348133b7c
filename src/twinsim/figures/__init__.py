"""Static figures of results (matplotlib and seaborn, drawn on request, never at import).

The figures read results through their public attributes, so the results' ``plot()`` methods can draw them while
this layer imports only the scenario layer and below; the interactive explorer is :mod:`twinsim.viz`.
"""
