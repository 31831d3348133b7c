"""Random streams keyed by (experiment seed, replicate, stream, quantity): counter-based, all replicates at once.

Replicate ``r`` of an experiment seeded ``S`` owns ``SeedSequence(S, spawn_key=(r,))`` and, from it, a 64-bit key.
Every quantity the model draws (a topic's baseline capacity, the turnover of a month, the error of a survey) has a
key of its own, hashed from the replicate's key, the stream's name and the quantity's name, and its ``c``-th
number is ``mix(key + (c + 1) * GOLDEN)``: the ``c``-th output of a SplitMix64 generator started at that key
(Steele, Lea & Flood 2014, OOPSLA; the output function passes BigCrush). The numbers are addressed, not consumed:

- a model holding R replicates draws every replicate's numbers in one vectorised call (an R x ... array of
  keys against an array of counters), and replicate ``r`` gets the same numbers whatever the batch size,
  chunking, executor or worker count;
- a quantity's numbers do not depend on what else was drawn, or in which order: adding a topic or drawing the
  turnover twelve months at a time changes no other number.

Normal numbers come from two uniforms each (Box-Muller, the cosine in single precision), gamma numbers by Marsaglia &
Tsang's (2000) rejection method with each element's attempts on counters of their own, beta numbers as a ratio of
gammas. Rules that consume a variable number of draws per replicate (the greedy matching) use a NumPy
``Generator(Philox)`` keyed by the same hash (:meth:`Streams.__getitem__`).
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Sequence
from typing import TypeVar

import numpy as np

from twinsim.errors import TwinsimError

__all__ = ["EXTRA_STREAMS", "STREAMS", "ReplicateStreams", "Streams", "run_seed_sequence", "seed_entropy"]

#: The named streams of one replicate.
STREAMS = ("population", "choice", "matching", "dynamics", "measurement", "leadership")

#: Streams of a delivery model's own draws.
EXTRA_STREAMS = ("partners", "experts")

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_GOLDEN_STEPS = tuple(np.uint64(j * 0x9E3779B97F4A7C15 % 2**64) for j in range(3))  # j * golden, wrapped
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = (np.uint64(s) for s in (30, 27, 31, 11))
_MAX_GAMMA_ATTEMPTS = 64  # Marsaglia-Tsang accepts more than 95% of attempts for shape >= 1
_BLOCK = 1 << 15  # elements per block of a vectorised draw


def run_seed_sequence(seed: int, replicate: int = 0) -> np.random.SeedSequence:
    """The seed sequence of replicate ``replicate`` of an experiment seeded with ``seed``."""
    return np.random.SeedSequence(seed, spawn_key=(replicate,))


_U64 = TypeVar("_U64", np.ndarray, np.uint64)  # uint64 arrays or numbers: the same arithmetic


def _mix(z: _U64) -> _U64:
    """SplitMix64's output function (Stafford's Mix13), element-wise on uint64 (wrapping arithmetic)."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@functools.lru_cache(maxsize=4096)
def _code(name: str) -> np.uint64:
    """A 64-bit code for a stream or quantity name (stable across machines and Python versions)."""
    with np.errstate(over="ignore"):
        return _mix(np.uint64(zlib.crc32(name.encode())) + _GOLDEN)


def seed_entropy(seq: np.random.SeedSequence) -> int:
    """The experiment seed a run's seed sequence was made from (:func:`run_seed_sequence`: an int entropy)."""
    if not isinstance(seq.entropy, int):
        raise TwinsimError(f"seeds: a run's SeedSequence has one int as its entropy (got {seq.entropy!r})")
    return seq.entropy


def replicate_key(seq: np.random.SeedSequence) -> np.uint64:
    """The 64-bit key of a replicate's seed sequence."""
    return seq.generate_state(1, np.uint64)[0]


class ReplicateStreams:
    """The random numbers of every replicate of a model, drawn for all replicates at once.

    Every draw method takes a stream name, a quantity name (or a list of them, which adds an axis after the
    replicates) and a shape, and returns an array of shape ``(replicates, [quantities,] *shape)`` whose element
    ``[r, ..., c]`` is number ``offset + c`` (row-major over ``shape``) of that replicate's quantity.

    Args:
        seeds: each replicate's seed sequence, in block order.

    """

    def __init__(self, seeds: Sequence[np.random.SeedSequence]) -> None:
        self.keys = np.array([replicate_key(s) for s in seeds], dtype=np.uint64)
        self._quantity_keys: dict[tuple[str, str], np.ndarray] = {}
        self.replicates = [Streams(self, block) for block in range(len(seeds))]

    def __getitem__(self, block: int) -> Streams:
        return self.replicates[block]

    def __len__(self) -> int:
        return len(self.replicates)

    def quantity_keys(self, name: str, what: str | Sequence[str], keys: np.ndarray | None = None) -> np.ndarray:
        """Keys of quantity ``what`` of stream ``name``: shape (replicates,) or (replicates, quantities)."""
        if name not in STREAMS and name not in EXTRA_STREAMS:
            raise KeyError(name)
        cache = keys is None
        cached = self._quantity_keys.get((name, what)) if cache and isinstance(what, str) else None
        if cached is not None:
            return cached
        keys = self.keys if keys is None else keys
        codes = np.array([_code(w) for w in ([what] if isinstance(what, str) else what)], dtype=np.uint64)
        stream = _mix(keys ^ _code(name))  # uint64 arrays wrap silently
        out = _mix(stream[:, None] ^ codes[None, :])
        if isinstance(what, str):
            out = out[:, 0]
            if cache:
                self._quantity_keys[(name, what)] = out
        return out

    @staticmethod
    def _bits(keys: np.ndarray, shape: tuple[int, ...], offset: int = 0) -> np.ndarray:
        """Numbers ``offset .. offset + prod(shape) - 1`` of every key: shape ``keys.shape + shape``."""
        counters = np.arange(int(np.prod(shape)), dtype=np.uint64).reshape(shape) + np.uint64(offset)
        return _hash(keys.reshape(keys.shape + (1,) * len(shape)), counters)

    @staticmethod
    def _unit(bits: np.ndarray) -> np.ndarray:
        """Uniform numbers in the open interval (0, 1) from 64-bit integers (53 bits of precision)."""
        return ((bits >> _S11).astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)

    def uniform(self, name: str, what: str | Sequence[str], shape: tuple[int, ...], offset: int = 0) -> np.ndarray:
        """Uniform numbers on (0, 1)."""
        return self._unit(self._bits(self.quantity_keys(name, what), shape, offset))

    def gumbel(self, name: str, what: str | Sequence[str], shape: tuple[int, ...], offset: int = 0) -> np.ndarray:
        """Standard Gumbel numbers (``-log(-log(U))``)."""
        return -np.log(-np.log(self.uniform(name, what, shape, offset)))

    def normal(
        self,
        name: str,
        what: str | Sequence[str],
        shape: tuple[int, ...],
        offset: int = 0,
        where: np.ndarray | None = None,
    ) -> np.ndarray:
        """Standard normal numbers (Box-Muller: number ``c`` uses uniforms ``2c`` and ``2c + 1``).

        ``where`` (broadcast to the result's shape) draws only those elements, 0 elsewhere; each drawn number is the
        one drawn without it.
        """
        keys = self.quantity_keys(name, what)
        if where is None:
            return _box_muller(self._unit(self._bits(keys, (*shape, 2), 2 * offset)))
        out, key, counter, pick = _picked(keys, shape, offset, where)
        counter = counter * np.uint64(2)
        out.flat[pick] = _normal(self._unit(_hash(key, counter)), self._unit(_hash(key, counter + np.uint64(1))))
        return out

    def beta(
        self,
        name: str,
        what: str | Sequence[str],
        a: np.ndarray | float,
        b: np.ndarray | float,
        shape: tuple[int, ...],
        offset: int = 0,
        where: np.ndarray | None = None,
    ) -> np.ndarray:
        """Beta(a, b) numbers: ``X / (X + Y)`` of two gammas.

        ``a`` and ``b`` broadcast against the result's shape (``(replicates, [quantities,] *shape)``): give them
        the shape ``(quantities, 1, ...)`` for parameters per quantity. ``where`` (broadcast likewise) draws only
        those elements, 0 elsewhere; each drawn number is the one drawn without it.
        """
        keys = self.quantity_keys(name, what)
        out, _, counter, pick = _picked(keys, shape, offset, where)
        owner = pick // max(int(np.prod(shape)), 1)
        a_pick, b_pick = np.broadcast_to(a, out.shape).ravel()[pick], np.broadcast_to(b, out.shape).ravel()[pick]
        out.flat[pick] = _beta(keys.ravel(), owner, counter, a_pick, b_pick)
        return out

    def beta_at(
        self, name: str, what: str, a: np.ndarray, b: np.ndarray, blocks: np.ndarray, counters: np.ndarray
    ) -> np.ndarray:
        """Beta(a, b) numbers ``counters`` of quantity ``what`` of replicates ``blocks`` (element-wise arrays).

        Element ``i`` equals element ``[blocks[i], counters[i]]`` of :meth:`beta` (flattened shape, no offset):
        the numbers a rare event needs (a fresh leader after turnover), drawn only where it happens.
        """
        keys = self.quantity_keys(name, what)
        return _beta(keys, np.asarray(blocks), np.asarray(counters, dtype=np.uint64), a, b)


def _picked(
    keys: np.ndarray, shape: tuple[int, ...], offset: int, where: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A zero result array, and the key, counter and flat index of each element to draw.

    The elements are those of a draw of ``shape`` numbers per key where ``where`` holds (all of them without it).
    """
    out = np.zeros(keys.shape + shape)
    size = int(np.prod(shape))
    pick = np.arange(out.size) if where is None else np.flatnonzero(np.broadcast_to(where, out.shape))
    counter = (pick % max(size, 1)).astype(np.uint64) + np.uint64(offset)
    return out, keys.ravel()[pick // max(size, 1)], counter, pick


def _hash(keys: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """Number ``counter`` of the SplitMix64 sequence started at ``key``, element-wise (broadcasting arrays)."""
    return _mix(keys + (counters + np.uint64(1)) * _GOLDEN)


def _subkeys(keys: np.ndarray, label: str) -> np.ndarray:
    """Keys of a labelled sub-quantity (the two gammas of a beta, a gamma's attempts)."""
    return _mix(keys ^ _code(label))


def _box_muller(u: np.ndarray) -> np.ndarray:
    return _normal(u[..., 0], u[..., 1])


def _normal(u0: np.ndarray, u1: np.ndarray) -> np.ndarray:
    """Box-Muller: ``sqrt(-2 log u0) * cos(2 pi u1)``.

    The cosine is taken in single precision: NumPy's double-precision cosine is about twenty times slower, and
    the number it gives differs by less than 1e-6 (the radius is at most 8.6).
    """
    radius = np.log(u0)
    radius *= -2.0
    np.sqrt(radius, out=radius)
    angle = (u1 * (2.0 * np.pi)).astype(np.float32)
    np.cos(angle, out=angle)
    radius *= angle
    return radius


def _beta(keys: np.ndarray, owner: np.ndarray, counter: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Beta numbers element-wise, computed in blocks that fit a core's cache (the values do not depend on them)."""
    a_keys, b_keys = _subkeys(keys, "beta:a"), _subkeys(keys, "beta:b")
    out = np.empty(np.shape(a))
    for start in range(0, out.size, _BLOCK):
        part = slice(start, start + _BLOCK)
        x = _gamma(a_keys, owner[part], counter[part], a[part])
        y = _gamma(b_keys, owner[part], counter[part], b[part])
        out[part] = x / (x + y)
    return out


def _gamma(keys: np.ndarray, owner: np.ndarray, counter: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Gamma(alpha, 1) number ``counter[i]`` of key ``keys[owner[i]]``, element-wise: Marsaglia & Tsang (2000).

    Attempt ``k`` for counter ``c`` uses numbers ``3c .. 3c + 2`` of the key's attempt-``k`` sub-key, so an
    element's value depends only on its key, counter and shape. Shapes below one use
    ``Gamma(alpha + 1) * U ** (1 / alpha)``.
    """
    alpha = np.asarray(alpha, dtype=float)
    boost = alpha < 1.0
    d = np.where(boost, alpha + 1.0, alpha) - 1.0 / 3.0
    c = 1.0 / np.sqrt(9.0 * d)
    out = np.full(alpha.shape, np.nan)
    pending = None  # every element in the first attempt
    first = (counter * np.uint64(3) + np.uint64(1)) * _GOLDEN  # (3c + 1) * golden: number 3c's counter term
    for attempt in range(_MAX_GAMMA_ATTEMPTS):
        attempt_keys = _subkeys(keys, f"gamma:{attempt}")
        sel = slice(None) if pending is None else pending  # a view of every element in the first attempt
        base = attempt_keys[owner[sel]] + first[sel]  # number 3c + j of the key is mix(base + j * golden)
        unit = [ReplicateStreams._unit(_mix(base + step)) for step in _GOLDEN_STEPS]
        x = _normal(unit[0], unit[1])
        dd = d[sel]
        v = (1.0 + c[sel] * x) ** 3
        with np.errstate(invalid="ignore", divide="ignore"):
            ok = (v > 0) & (np.log(unit[2]) < 0.5 * x * x + dd - dd * v + dd * np.log(v))
        rows = np.arange(alpha.size) if pending is None else pending
        out[rows[ok]] = (dd * v)[ok]
        pending = rows[~ok]
        if not pending.size:
            break
    if boost.any():
        u = ReplicateStreams._unit(_hash(_subkeys(keys, "gamma:boost")[owner[boost]], counter[boost]))
        out[boost] *= u ** (1.0 / alpha[boost])
    return out


class Streams:
    """One replicate's streams as NumPy generators, for rules that draw a variable number of numbers per replicate.

    ``streams[name]`` is a ``Generator(Philox)`` keyed by the replicate's key for stream ``name`` (created on first
    use, then consumed in order like any NumPy generator).
    """

    def __init__(self, owner: ReplicateStreams, block: int) -> None:
        self.owner, self.block = owner, block
        self._generators: dict[str, np.random.Generator] = {}

    def __getitem__(self, name: str) -> np.random.Generator:
        rng = self._generators.get(name)
        if rng is None:
            key = int(self.owner.quantity_keys(name, "generator", self.owner.keys[self.block : self.block + 1])[0])
            rng = self._generators[name] = np.random.Generator(np.random.Philox(key=key))
        return rng
