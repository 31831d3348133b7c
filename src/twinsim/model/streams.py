"""Random streams keyed by (experiment seed, replicate, quantity).

Replicate ``r`` of an experiment seeded ``S`` owns ``SeedSequence(S, spawn_key=(r,))``; every quantity it draws
comes from a stream derived from that sequence by name (:data:`STREAMS`), and population quantities from a child
stream per quantity and topic. A model that holds several replicates draws each replicate's numbers from that
replicate's own streams and stacks them block by block, so replicate ``r`` gives the same numbers whatever the
batch size, chunking, executor or worker count.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["EXTRA_STREAMS", "STREAMS", "ReplicateStreams", "Streams", "run_seed_sequence"]

#: The named streams of one replicate.
STREAMS = ("population", "choice", "matching", "dynamics", "measurement", "leadership")

#: Streams of a delivery model's own draws, keyed apart from :data:`STREAMS` (1000 + index) so that drawing from
#: them leaves every other draw unchanged.
EXTRA_STREAMS = ("partners", "experts")


def run_seed_sequence(seed: int, replicate: int = 0) -> np.random.SeedSequence:
    """The seed sequence of replicate ``replicate`` of an experiment seeded with ``seed``."""
    return np.random.SeedSequence(seed, spawn_key=(replicate,))


class Streams(dict):
    """One replicate's named random streams, each created on first use from the replicate's seed sequence."""

    def __init__(self, seq: np.random.SeedSequence) -> None:
        super().__init__()
        self.seq = seq

    def _key(self, *parts: int) -> np.random.Generator:
        seq = self.seq
        return np.random.default_rng(np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, *parts)))

    def __missing__(self, name: str) -> np.random.Generator:
        if name in STREAMS:
            rng = self[name] = self._key(STREAMS.index(name))
        elif name in EXTRA_STREAMS:
            rng = self[name] = self._key(1000 + EXTRA_STREAMS.index(name))
        else:
            raise KeyError(name)
        return rng

    def child(self, name: str, what: str) -> np.random.Generator:
        """A child stream of stream ``name`` for one quantity ``what``, keyed by its name (not by draw order)."""
        return self._key(STREAMS.index(name), zlib.crc32(what.encode()))


class ReplicateStreams:
    """The streams of every replicate of a model, and draws stacked block by block.

    Args:
        seeds: each replicate's seed sequence, in block order.

    """

    def __init__(self, seeds: Sequence[np.random.SeedSequence]) -> None:
        self.replicates = [Streams(seq) for seq in seeds]

    def __getitem__(self, block: int) -> Streams:
        return self.replicates[block]

    def __len__(self) -> int:
        return len(self.replicates)

    def stack(self, name: str, draw: Callable[[np.random.Generator], np.ndarray]) -> np.ndarray:
        """``draw`` on each replicate's stream ``name``, joined along the first axis (block after block)."""
        return np.concatenate([draw(s[name]) for s in self.replicates])

    def stack_child(self, name: str, what: str, draw: Callable[[np.random.Generator], np.ndarray]) -> np.ndarray:
        """``draw`` on each replicate's child stream ``(name, what)``, joined along the first axis."""
        return np.concatenate([draw(s.child(name, what)) for s in self.replicates])
