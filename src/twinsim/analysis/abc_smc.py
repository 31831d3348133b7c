"""ABC-SMC (population Monte Carlo ABC) with a Gaussian kernel and an adaptive tolerance, engine-independent.

The sampler of Beaumont, Cornuet, Marin & Robert (2009, Biometrika 96:983) with two changes that suit a
simulator whose runs are batched:

* **Soft acceptance.** Every proposed particle is kept with the weight ``prior / proposal x K_eps(d)``,
  ``K_eps(d) = exp(-d^2 / (2 eps^2))``, ``d`` the distance of its simulated statistics to the observed ones in
  units of the targets' standard errors. A generation is therefore a fixed number of simulations (one batch,
  one engine experiment), not "simulate until N are accepted". With this kernel the sampler targets
  ``p(theta) E[K_eps(S(theta) - s_obs)]``: the exact posterior of a model whose statistics carry, besides the
  simulator's own randomness, an extra Gaussian error of ``eps`` standard errors (Wilkinson 2013, Stat. Appl.
  Genet. Mol. Biol. 12:129).
* **Adaptive tolerance** (Del Moral, Doucet & Jasra 2012, Stat. Comput. 22:1009): after a generation is
  simulated, its tolerance is the smallest ``eps`` in ``[final_tolerance, previous eps]`` at which the effective
  sample size of the weights is ``ess_fraction`` times what it is at the previous tolerance, and at least
  ``min_ess``. The run stops after the first generation that reaches ``final_tolerance``, when the next
  generation would exceed the budget or ``max_generations``, or when the ``min_ess`` floor has held the tolerance
  for two generations (the simulator's own noise bounds the share of particles near the data: below about one
  standard error of that noise, a smaller tolerance needs more particles, not more generations).

Proposals: generation 0 is a Latin hypercube over the prior box (uniform priors on each parameter's range).
Generation ``t > 0`` draws an ancestor by weight from generation ``t - 1`` and perturbs it with a Gaussian of
``kernel_scale`` (2, Beaumont et al.) times the weighted covariance of the population, on the logit scale of each
parameter's range, so every proposal stays inside the prior box; a ``defensive`` share of the proposals come from
the prior itself (the proposal density is then the mixture of the two). The weights are computed on that scale:
the uniform prior on ``theta`` is a product of standard logistic densities on ``u = logit((theta - lo) / (hi -
lo))``, and the proposal density is the weighted mixture of the Gaussian perturbation kernels. (Equivalently, on
the ``theta`` scale both densities carry the same Jacobian, which cancels in the ratio.)

Everything is a function of ``seed``: proposals of generation ``t`` use ``SeedSequence(seed, spawn_key=(t,))``
and the simulator is called with the generation number, so the caller can seed the model runs of each generation
independently and store them for resume.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "SMCPopulation",
    "abc_smc",
    "effective_sample_size",
    "expected_fit_ranking",
    "from_logit",
    "log_mixture_density",
    "log_prior_logit",
    "to_logit",
]

Simulator = Callable[[np.ndarray, int], np.ndarray]


def to_logit(theta: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """``logit((theta - lo) / (hi - lo))`` per column (values at the bounds are clipped to 1e-9 inside)."""
    lo, hi = bounds[:, 0], bounds[:, 1]
    p = np.clip((np.asarray(theta, dtype=float) - lo) / (hi - lo), 1e-9, 1 - 1e-9)
    return np.log(p) - np.log1p(-p)


def from_logit(u: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """The inverse of :func:`to_logit`."""
    lo, hi = bounds[:, 0], bounds[:, 1]
    return lo + (hi - lo) / (1.0 + np.exp(-np.asarray(u, dtype=float)))


def log_prior_logit(u: np.ndarray) -> np.ndarray:
    """Log density on the logit scale of independent uniform priors: a sum of standard logistic log densities.

    If ``theta ~ U(lo, hi)`` then ``u = logit((theta - lo) / (hi - lo))`` has density ``s(u) (1 - s(u))``,
    ``s`` the logistic function (the uniform density times the Jacobian ``d theta / d u``).
    """
    u = np.atleast_2d(u)
    return -np.sum(np.logaddexp(0.0, u) + np.logaddexp(0.0, -u), axis=1)


def log_mixture_density(u: np.ndarray, centres: np.ndarray, weights: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """``log sum_j weights_j N(u_i; centres_j, cov)`` for every row ``u_i`` (in chunks, so memory stays small)."""
    u, centres = np.atleast_2d(u), np.atleast_2d(centres)
    d = u.shape[1]
    chol = np.linalg.cholesky(cov)
    inv = np.linalg.inv(chol)
    log_norm = -0.5 * d * math.log(2 * math.pi) - np.sum(np.log(np.diag(chol)))
    keep = weights > 0
    centres, log_w = centres[keep], np.log(weights[keep])
    out = np.empty(len(u))
    step = max(1, 2_000_000 // max(len(centres) * d, 1))
    for first in range(0, len(u), step):
        diff = u[first : first + step, None, :] - centres[None, :, :]
        z = diff @ inv.T
        out[first : first + step] = np.logaddexp.reduce(log_w - 0.5 * np.sum(z**2, axis=2), axis=1) + log_norm
    return out


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` (0 when every weight is 0)."""
    w = np.asarray(weights, dtype=float)
    total = w.sum()
    return float(total**2 / np.sum(w**2)) if total > 0 else 0.0


def _weighted_cov(u: np.ndarray, w: np.ndarray) -> np.ndarray:
    mean = w @ u
    diff = u - mean
    cov = (diff * w[:, None]).T @ diff / w.sum()
    return np.atleast_2d(cov)


@dataclass
class SMCPopulation:
    """The result of :func:`abc_smc`: the last generation's weighted particles and the run's diagnostics.

    Attributes:
        theta: particles x parameters (last generation).
        weights: normalised weights (sum 1; 0 for particles whose statistics are missing).
        summaries: particles x statistics, each particle's simulated statistics.
        distance: particles' distances to the observed statistics (in standard errors; inf when missing).
        tolerance: the last generation's tolerance ``eps``.
        generations: per generation: ``generation``, ``tolerance``, ``ess``, ``within_tolerance`` (share of
            particles with ``d <= eps``, the acceptance rate of the equivalent hard threshold), ``runs``.
        prior_theta, prior_summaries: generation 0 (prior draws and their statistics: the prior predictive).
        reached: whether the final tolerance was reached.

    """

    theta: np.ndarray
    weights: np.ndarray
    summaries: np.ndarray
    distance: np.ndarray
    tolerance: float
    generations: list[dict[str, float]] = field(default_factory=list)
    prior_theta: np.ndarray | None = None
    prior_summaries: np.ndarray | None = None
    reached: bool = False
    runs: int = 0

    @property
    def ess(self) -> float:
        """Effective sample size of the last generation."""
        return effective_sample_size(self.weights)


def _kernel_weights(log_ratio: np.ndarray, distance: np.ndarray, eps: float) -> np.ndarray:
    log_w = log_ratio - 0.5 * (distance / eps) ** 2
    log_w = np.where(np.isfinite(log_w), log_w, -np.inf)
    if not np.isfinite(log_w).any():
        return np.zeros(len(log_w))
    w = np.exp(log_w - np.max(log_w))
    return w / w.sum()


def _choose_tolerance(log_ratio: np.ndarray, distance: np.ndarray, low: float, high: float, target: float) -> float:
    """The smallest eps in [low, high] whose weights keep an ESS of ``target`` (bisection on log eps)."""
    if effective_sample_size(_kernel_weights(log_ratio, distance, low)) >= target:
        return low
    if effective_sample_size(_kernel_weights(log_ratio, distance, high)) < target:
        return high
    a, b = math.log(low), math.log(high)
    for _ in range(60):
        mid = 0.5 * (a + b)
        if effective_sample_size(_kernel_weights(log_ratio, distance, math.exp(mid))) >= target:
            b = mid
        else:
            a = mid
    return math.exp(b)


def _propose(
    rng: np.random.Generator,
    population: SMCPopulation,
    bounds: np.ndarray,
    particles: int,
    kernel_scale: float,
    defensive: float,
) -> tuple[np.ndarray, np.ndarray]:
    """New particles from the previous population (and the prior), and their log ``prior / proposal``."""
    d = len(bounds)
    prev_u = to_logit(population.theta, bounds)
    cov = kernel_scale * _weighted_cov(prev_u, population.weights) + 1e-10 * np.eye(d)
    ancestors = rng.choice(len(prev_u), size=particles, p=population.weights)
    u = prev_u[ancestors] + rng.standard_normal((particles, d)) @ np.linalg.cholesky(cov).T
    from_prior = rng.random(particles) < defensive
    u[from_prior] = to_logit(rng.uniform(bounds[:, 0], bounds[:, 1], (int(from_prior.sum()), d)), bounds)
    log_prior = log_prior_logit(u)
    log_q = log_mixture_density(u, prev_u, population.weights, cov)
    if defensive > 0:
        log_q = np.logaddexp(math.log1p(-defensive) + log_q, math.log(defensive) + log_prior)
    return from_logit(u, bounds), log_prior - log_q


def abc_smc(
    simulator: Simulator,
    bounds: np.ndarray,
    observed: np.ndarray,
    scale: np.ndarray,
    *,
    particles: int,
    budget: int,
    seed: int,
    final_tolerance: float,
    ess_fraction: float = 0.5,
    kernel_scale: float = 2.0,
    max_generations: int = 20,
    min_ess: float = 0.0,
    defensive: float = 0.0,
) -> SMCPopulation:
    """Run ABC-SMC (see the module docstring) and return the last generation.

    Args:
        simulator: ``simulator(theta, generation)``: particles x parameters in, particles x statistics out (one
            simulated replicate per particle; NaN for a statistic the run could not produce).
        bounds: parameters x 2, the uniform prior's ranges.
        observed: the observed statistics.
        scale: their standard errors (the distance's units).
        particles: proposals per generation.
        budget: simulator calls in all (generations stop before exceeding it).
        seed: seeds the proposals.
        final_tolerance: the smallest tolerance ``eps`` (in standard errors); the run stops once reached.
        ess_fraction: each generation lowers the tolerance until the effective sample size of its weights is
            this share of what it would be at the previous tolerance (Del Moral et al. 2012).
        defensive: share of each generation's proposals drawn from the prior instead (defensive importance
            sampling, Hesterberg 1995, Technometrics 37:185): the weight ``prior / proposal`` stays below
            ``1 / defensive``, so a population that has learnt little does not collapse onto a few lucky particles.
        min_ess: but never below this effective sample size; when this floor holds the tolerance for two
            generations the run stops (the final tolerance needs more particles per generation).
        kernel_scale: the perturbation covariance is this times the weighted covariance of the population.
        max_generations: at most this many generations.

    Raises:
        ValueError: a budget below one generation, or no simulated statistic came near the observed ones.

    """
    bounds = np.asarray(bounds, dtype=float)
    observed, scale = np.asarray(observed, dtype=float), np.asarray(scale, dtype=float)
    d = len(bounds)
    if budget < particles:
        raise ValueError(f"budget {budget} is below one generation of {particles} particles")
    from scipy.stats import qmc

    history: list[dict[str, float]] = []
    eps_prev = math.inf
    population: SMCPopulation | None = None
    runs = stalled = 0
    for t in range(max_generations):
        if runs + particles > budget:
            break
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(t,)))
        if population is None:
            unit = qmc.LatinHypercube(d=d, seed=rng).random(particles)
            theta = qmc.scale(unit, bounds[:, 0], bounds[:, 1])
            log_ratio = np.zeros(particles)  # proposal = prior
        else:
            theta, log_ratio = _propose(rng, population, bounds, particles, kernel_scale, defensive)
        summaries = np.asarray(simulator(theta, t), dtype=float).reshape(particles, len(observed))
        runs += particles
        distance = np.sqrt(np.sum(((summaries - observed) / scale) ** 2, axis=1))
        distance[np.isnan(distance)] = np.inf
        if not np.isfinite(distance).any():
            raise ValueError(f"generation {t}: no simulated run produced every statistic")
        high = eps_prev if math.isfinite(eps_prev) else 10.0 * float(np.max(distance[np.isfinite(distance)]) + 1.0)
        keep = ess_fraction * effective_sample_size(_kernel_weights(log_ratio, distance, high))
        eps = _choose_tolerance(log_ratio, distance, min(final_tolerance, high), high, max(keep, min_ess))
        weights = _kernel_weights(log_ratio, distance, eps)
        if weights.sum() == 0:
            raise ValueError(f"generation {t}: every particle has weight 0")
        history.append(
            {
                "generation": t,
                "tolerance": eps,
                "ess": effective_sample_size(weights),
                "within_tolerance": float(np.mean(distance <= eps)),
                "runs": particles,
            }
        )
        population = SMCPopulation(
            theta,
            weights,
            summaries,
            distance,
            eps,
            history,
            prior_theta=theta if population is None else population.prior_theta,
            prior_summaries=summaries if population is None else population.prior_summaries,
            runs=runs,
        )
        if eps <= final_tolerance:
            population.reached = True
            break
        stalled = 0 if eps < 0.99 * eps_prev else stalled + 1
        if stalled == 2:  # the ESS floor holds the tolerance: more generations of this size would not lower it
            break
        eps_prev = eps
    assert population is not None  # budget >= particles: generation 0 always runs
    return population


def expected_fit_ranking(
    theta: np.ndarray,
    summaries: np.ndarray,
    weights: np.ndarray,
    bounds: np.ndarray,
    observed: np.ndarray,
    scale: np.ndarray,
) -> np.ndarray:
    """The particles of positive weight, nearest first by their *expected* statistics: point estimate candidates.

    A particle's own statistics are one replicate's (its luck); their expectation is estimated by a kernel
    regression (Nadaraya-Watson, Gaussian kernels on the logit scale, Scott's bandwidth) over every particle's
    statistics, and particles are ranked by the distance of that estimate to ``observed`` (in units of ``scale``).
    """
    u = to_logit(theta, bounds)
    d = u.shape[1]
    ok = np.isfinite(summaries).all(axis=1)
    cov = np.atleast_2d(np.cov(u[ok].T)) * max(ok.sum(), 2) ** (-2.0 / (d + 4)) + 1e-10 * np.eye(d)
    inv = np.linalg.inv(np.linalg.cholesky(cov))
    candidates = np.flatnonzero(weights > 0)
    distances = np.empty(candidates.size)
    for j, i in enumerate(candidates):
        z = (u[ok] - u[i]) @ inv.T
        k = np.exp(-0.5 * np.sum(z**2, axis=1))
        expected = k @ summaries[ok] / k.sum()
        distances[j] = float(np.sqrt(np.sum(((expected - observed) / scale) ** 2)))
    return candidates[np.argsort(distances, kind="stable")]
