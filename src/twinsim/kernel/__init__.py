"""The kernel: declared state, random streams, the learning kernel, recording and the Mesa agents' view.

Below the plug-ins (:mod:`twinsim.programme`) and the model that assembles them; nothing here imports either.
"""
