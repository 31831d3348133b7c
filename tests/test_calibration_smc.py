"""ABC-SMC: the sampler's machinery on problems with a known answer, and its use on the engine."""

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate
from typer.testing import CliRunner

from twinsim.analysis.abc_smc import (
    SMCPopulation,
    _propose,
    abc_smc,
    effective_sample_size,
    from_logit,
    log_mixture_density,
    log_prior_logit,
    to_logit,
)
from twinsim.analysis.calibration import calibrate, load_targets, posterior_predictive, predictive_checks
from twinsim.cli import app
from twinsim.errors import ScenarioError
from twinsim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ROOT / "scenarios" / "targets" / "rwanda_tpn.toml"
runner = CliRunner()


def _normal_simulator(theta, generation):
    """One noisy observation per particle: ``y = theta + N(0, 1)`` (seeded by the generation)."""
    rng = np.random.default_rng(np.random.SeedSequence(7, spawn_key=(generation,)))
    return theta + rng.standard_normal(theta.shape)


def _weighted_moments(population):
    x, w = population.theta[:, 0], population.weights
    mean = float(w @ x)
    return mean, float(np.sqrt(w @ (x - mean) ** 2))


@pytest.mark.parametrize("eps", [0.25, 0.5])
def test_smc_recovers_the_analytic_posterior_of_a_normal_mean(eps):
    """y ~ N(theta, 1), flat prior on [-5, 5], y_obs = 1, Gaussian kernel of width eps (scale 1).

    The ABC posterior is exact for y_obs = theta + N(0, 1) + N(0, eps^2) (Wilkinson 2013): N(1, 1 + eps^2)
    (truncation at +-5 is negligible). The simulator's own noise is in the likelihood, and the kernel adds only
    eps^2: nothing is counted twice.
    """
    pop = abc_smc(
        _normal_simulator,
        np.array([[-5.0, 5.0]]),
        np.array([1.0]),
        np.array([1.0]),
        particles=2000,
        budget=40_000,
        seed=3,
        final_tolerance=eps,
        min_ess=100,
        defensive=0.1,
    )
    assert pop.reached and pop.tolerance == pytest.approx(eps)
    mean, sd = _weighted_moments(pop)
    assert mean == pytest.approx(1.0, abs=0.12)
    assert sd == pytest.approx(math.sqrt(1 + eps**2), rel=0.1)
    assert pop.weights.sum() == pytest.approx(1.0) and (pop.weights >= 0).all()
    assert [g["generation"] for g in pop.generations] == list(range(len(pop.generations)))
    assert all(g["ess"] >= 100 - 1e-6 for g in pop.generations)
    assert pop.runs == 2000 * len(pop.generations)
    tolerances = [g["tolerance"] for g in pop.generations]
    assert tolerances == sorted(tolerances, reverse=True)


def test_smc_stops_at_the_budget_and_is_reproducible():
    kwargs = {"particles": 500, "budget": 1200, "seed": 1, "final_tolerance": 0.01, "min_ess": 20}
    first = abc_smc(_normal_simulator, np.array([[-5.0, 5.0]]), np.array([1.0]), np.array([1.0]), **kwargs)
    again = abc_smc(_normal_simulator, np.array([[-5.0, 5.0]]), np.array([1.0]), np.array([1.0]), **kwargs)
    assert first.runs == 1000 and not first.reached
    assert np.array_equal(first.theta, again.theta) and np.array_equal(first.weights, again.weights)
    with pytest.raises(ValueError, match="below one generation"):
        abc_smc(_normal_simulator, np.array([[-5.0, 5.0]]), np.array([1.0]), np.array([1.0]), **kwargs | {"budget": 10})


def test_effective_sample_size_formula():
    assert effective_sample_size(np.ones(4)) == pytest.approx(4.0)
    assert effective_sample_size(np.array([1.0, 0.0, 0.0])) == pytest.approx(1.0)
    assert effective_sample_size(np.array([1.0, 2.0, 3.0])) == pytest.approx(36 / 14)
    assert effective_sample_size(np.array([2.0, 4.0, 6.0])) == pytest.approx(36 / 14)  # scale-free
    assert effective_sample_size(np.zeros(3)) == 0.0


def test_logit_prior_is_the_uniform_prior_with_its_jacobian():
    """The density of logit((theta - lo) / (hi - lo)) for uniform theta integrates to 1 and matches a histogram."""
    total, _ = integrate.quad(lambda u: math.exp(log_prior_logit(np.array([[u]]))[0]), -50, 50)
    assert total == pytest.approx(1.0, abs=1e-8)
    bounds = np.array([[0.2, 1.0], [0.0, 0.05]])
    theta = np.random.default_rng(0).uniform(bounds[:, 0], bounds[:, 1], (200_000, 2))
    u = to_logit(theta, bounds)
    assert np.allclose(from_logit(u, bounds), theta)
    hist, edges = np.histogram(u[:, 0], bins=40, range=(-4, 4), density=False)
    centres = 0.5 * (edges[1:] + edges[:-1])
    expected = np.exp(log_prior_logit(np.column_stack([centres, np.zeros(40)]))) * 4 * len(u) * 8 / 40
    assert np.allclose(hist, expected, rtol=0.05)


def test_mixture_density_integrates_to_one_on_the_parameter_scale():
    """The proposal density on the logit scale, carried to theta with |du/dtheta|, integrates to 1 over the box."""
    bounds = np.array([[0.0, 2.0]])
    centres, weights, cov = np.array([[-1.0], [0.5], [2.0]]), np.array([0.2, 0.5, 0.3]), np.array([[0.7]])

    def density(theta):
        u = to_logit(np.array([[theta]]), bounds)
        p = (theta - 0.0) / 2.0
        return math.exp(log_mixture_density(u, centres, weights, cov)[0]) / (2.0 * p * (1 - p))

    total, _ = integrate.quad(density, 0.0, 2.0, limit=200)
    assert total == pytest.approx(1.0, abs=1e-6)


def test_importance_weights_recover_the_prior_when_the_data_say_nothing():
    """A flat kernel (every distance 0): prior / proposal weights turn a narrow population's proposals into the prior.

    If the Jacobian or the prior were wrong on the logit scale, the weighted moments would not be those of U(0, 1).
    """
    bounds = np.array([[0.0, 1.0], [10.0, 20.0]])
    rng = np.random.default_rng(5)
    theta = np.column_stack([rng.uniform(0.3, 0.5, 300), rng.uniform(12, 14, 300)])
    population = SMCPopulation(theta, np.full(300, 1 / 300), np.zeros((300, 1)), np.zeros(300), 1.0)
    new, log_ratio = _propose(rng, population, bounds, 200_000, kernel_scale=4.0, defensive=0.2)
    w = np.exp(log_ratio - log_ratio.max())
    w /= w.sum()
    mean = w @ new
    var = w @ (new - mean) ** 2
    assert mean == pytest.approx([0.5, 15.0], rel=0.02)
    assert var == pytest.approx([1 / 12, 100 / 12], rel=0.05)


# --------------------------------------------------------------------------------------------------
# On the engine


def _tiny_spec(**smc):
    spec = load_targets(TARGETS)
    settings = {
        "particles": 20,
        "min_ess": 5,
        "final_tolerance": 0.5,
        "point_candidates": 3,
        "point_replicates": 2,
    } | smc
    return spec.model_copy(update={"smc": spec.smc.model_copy(update=settings), "predictive_draws": 6})


@pytest.fixture(scope="module")
def short_tpn():
    return load_scenario("rwanda_tpn", ["simulation.followup_months=0"])


def test_smc_calibration_is_the_same_for_1_and_2_workers(short_tpn):
    spec = _tiny_spec()
    serial = calibrate(short_tpn, spec, budget=40)
    parallel = calibrate(short_tpn, spec, budget=40, engine={"executor": 2})
    assert serial.runs == 40 + 3 * 2 and len(serial.generations) == 2  # two generations, three point candidates
    assert serial.posterior.samples.equals(parallel.posterior.samples)
    assert np.array_equal(serial.posterior.weights, parallel.posterior.weights)
    assert serial.refined.equals(parallel.refined) and serial.point_estimate == parallel.point_estimate
    assert serial.posterior.weights.sum() == pytest.approx(1.0)


def test_smc_calibration_resumes_after_an_interruption(short_tpn, tmp_path):
    spec = _tiny_spec()
    whole = calibrate(short_tpn, spec, budget=40)
    seen = [0]

    def killer(n):
        seen[0] += n
        if seen[0] >= 25:  # in generation 1
            raise KeyboardInterrupt

    store = tmp_path / "store"
    with pytest.raises(KeyboardInterrupt):
        calibrate(short_tpn, spec, budget=40, progress=killer, engine={"store": store})
    assert (store / "generation0").is_dir()
    resumed = calibrate(short_tpn, spec, budget=40, engine={"store": store, "resume": True})
    assert resumed.posterior.samples.equals(whole.posterior.samples)
    assert np.array_equal(resumed.posterior.weights, whole.posterior.weights)
    assert resumed.generations == whole.generations


def test_predictive_checks_report_targets_and_published_statements(short_tpn):
    spec = _tiny_spec()
    result = calibrate(short_tpn, spec, budget=20)
    predictive = posterior_predictive(short_tpn, result.posterior, spec)
    assert len(predictive) == 6 and {"unmatched_led_share", "sustained_gain"} <= set(predictive)
    report = predictive_checks(predictive, spec)
    assert set(report["targets"]) == {t.key for t in spec.targets}
    promise = report["checks"]["always_a_leading_peer"]  # the TPN's promise, as far as the cap allows (ODD 7.18)
    led = predictive["unmatched_led_share"]
    assert promise["holds"] == (led.max() == 0) and promise["max_unmatched_led_share"] == pytest.approx(led.max())
    assert 0 <= promise["mean_unmatched_led_share"] <= promise["max_unmatched_led_share"] < 0.5
    assert report["checks"]["gains_persist"]["holds"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ("[calibration.smc]\nparticles = 0\n", "smc.particles: Input should be greater than or equal to 10"),
        ("[calibration.smc]\nparticle = 100\n", "smc.particle: Extra inputs are not permitted"),
        ("[calibration.smc]\nparticles = 100\nmin_ess = 500\n", "smc.min_ess: 500 is more than the 100 particles"),
        ("[calibration.smc]\nfinal_tolerance = -1\n", "smc.final_tolerance"),
        ('[calibration]\nmethod = "mcmc"\n', "method: Input should be 'smc', 'rejection' or 'loclinear'"),
    ],
)
def test_bad_smc_settings_are_one_line_errors(tmp_path, settings, message):
    text = TARGETS.read_text()
    head, _, tail = text.partition("\n[calibration.smc]\n")
    tail = tail[tail.index("[[targets]]") :]
    if settings.startswith("[calibration]"):
        text = head.replace('method = "smc"', settings.split("\n")[1]) + tail
    else:
        text = head + settings + "\n" + tail
    path = tmp_path / "t.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=message.replace("(", r"\(")) as info:
        load_targets(path)
    assert "\n" not in str(info.value)
    res = runner.invoke(app, ["calibrate", "rwanda_tpn", "--targets", str(path), "--budget", "100"])
    assert res.exit_code == 2 and "--targets" in res.output


def test_smc_refuses_the_significance_correction(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text(TARGETS.read_text().replace("significant = false", "significant = true", 1))
    with pytest.raises(ScenarioError, match="significant = true, which method 'smc' does not support"):
        load_targets(path)


def _tiny_targets_file(tmp_path):
    """The bundled targets with a 20-particle ABC-SMC and few check runs, as a file."""
    targets = tmp_path / "t.toml"
    targets.write_text(
        TARGETS.read_text()
        .replace("particles = 2000", "particles = 20")
        .replace("min_ess = 200", "min_ess = 5")
        .replace("predictive_draws = 400", "predictive_draws = 4")
        .replace("check_replicates = 200", "check_replicates = 3")
        .replace("point_candidates = 10", "point_candidates = 2")
        .replace("point_replicates = 40", "point_replicates = 3")
    )
    return targets


def test_calibrate_command_smc_writes_generations_and_checks(tmp_path):
    scenario = tmp_path / "s.toml"
    shutil.copy(ROOT / "scenarios" / "rwanda_tpn.toml", scenario)
    targets = _tiny_targets_file(tmp_path)
    out = tmp_path / "post"
    args = ["calibrate", str(scenario), "--targets", str(targets), "--budget", "40", "--out", str(out)]
    res = runner.invoke(app, [*args, "--set", "simulation.followup_months=0", "--json", "--write-scenario"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["runs"] == 40 + 2 * 3 and len(report["generations"]) == 2 and report["particles"] == 20
    assert set(report["predictive_checks"]) == {"always_a_leading_peer", "gains_persist"}
    assert report["effective_sample_size"] > 1
    for name in ("posterior.csv", "generations.csv", "accepted.csv", "calibration.json", "posterior_predictive.png"):
        assert (out / name).stat().st_size > 0
    assert load_scenario(scenario).learning.gap_ceiling == pytest.approx(
        report["point_estimate"]["learning.gap_ceiling"]
    )
    res = runner.invoke(app, ["calibrate", "rwanda_tpn", "--targets", str(targets), "--budget", "10"])
    assert res.exit_code == 2 and "--budget 10: too small; ABC-SMC needs at least one generation of 20" in res.output


@pytest.mark.slow
def test_rwanda_effects_are_reproduced_over_the_smc_posterior():
    """A small ABC-SMC fit (about 40 s on 2 workers): over the posterior, each published effect lies inside the
    central 95% predictive interval of a simulated TPN, and the predictive mean within its published 95% interval."""
    sc = load_scenario("rwanda_tpn")
    spec = load_targets(TARGETS)
    spec = spec.model_copy(
        update={"smc": spec.smc.model_copy(update={"particles": 1000, "min_ess": 100}), "predictive_draws": 300}
    )
    engine = {"executor": 2}
    result = calibrate(sc, spec, budget=10_000, engine=engine)
    assert result.reached, result.generations
    report = predictive_checks(posterior_predictive(sc, result.posterior, spec, engine=engine), spec)
    for target in spec.targets:
        fit = report["targets"][target.key]
        assert fit["value_within_predictive"], (target.key, fit)
        assert fit["mean_within_published_ci95"], (target.key, fit)
    assert report["checks"]["always_a_leading_peer"]["mean_unmatched_led_share"] < 0.05  # the cap binds (ODD 7.18)
    assert report["checks"]["gains_persist"]["holds"]


# --------------------------------------------------------------------------------------------------
# How much the prior decides (issue 22)


def test_loguniform_prior_fits_on_the_log_scale_of_the_same_ranges(short_tpn):
    from twinsim.analysis.calibration import fitting_scale, second_prior

    spec = _tiny_spec()
    other = second_prior(spec)
    assert (spec.prior, other.prior, second_prior(other).prior) == ("uniform", "loguniform", "uniform")
    bounds, natural = fitting_scale(other)
    uniform_bounds, _ = fitting_scale(spec)
    assert np.allclose(natural(bounds[:, 1]), uniform_bounds[:, 1])  # the same upper ends
    assert np.all(natural(bounds[:, 0]) >= uniform_bounds[:, 0])  # a range from 0 starts at a thousandth
    result = calibrate(short_tpn, other, budget=40)
    values = result.posterior.values
    lows, highs = natural(bounds[:, 0]), natural(bounds[:, 1])
    assert np.all((values >= lows - 1e-12) & (values <= highs + 1e-12))
    design = result.design[spec.parameters].to_numpy()  # the prior draws: spread evenly on the log scale
    assert np.all(design >= lows - 1e-12)


def test_prior_sensitivity_reports_shift_p_values_and_prior_dependence():
    import pandas as pd

    from twinsim.analysis.prior_sensitivity import prior_sensitivity, sensitivity_sentences

    rng = np.random.default_rng(0)
    design = pd.DataFrame({"t": rng.normal(10, 2, 500)})

    def fit(prior, centre, gain):
        predictive = pd.DataFrame({"t": rng.normal(centre, 1, 400), "mean_gain": rng.normal(gain, 1, 400)})
        particles = rng.uniform(size=(50, 1))
        return {"prior": prior, "design": design, "predictive": predictive, "particles": particles,
                "weights": np.ones(50)}  # fmt: skip

    first, second = fit("uniform", 8, 5.0), fit("loguniform", 6, 5.1)
    report = prior_sensitivity(first, second, ["p"], [("t", 5.6)])
    row = report["outputs"]["t"]
    assert row["data_shift"] == pytest.approx(-1.0, abs=0.15)  # the data moved the mean by about one prior sd
    assert row["ppp"] == pytest.approx(2 * np.mean(first["predictive"]["t"] <= 5.6))
    assert row["prior_dependent"] and not report["outputs"]["mean_gain"]["prior_dependent"]
    lines = sensitivity_sentences(report)
    assert "depends on the prior" in lines[0] and "depends" not in lines[1]
    assert "published 5.6, predictive p-value" in lines[0]


def test_calibrate_command_reports_the_second_prior(tmp_path):
    targets = _tiny_targets_file(tmp_path)
    out = tmp_path / "post"
    args = ["calibrate", "rwanda_tpn", "--targets", str(targets), "--budget", "40", "--out", str(out)]
    res = runner.invoke(app, [*args, "--set", "simulation.followup_months=0", "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)["prior_sensitivity"]
    assert report["priors"] == ["uniform", "loguniform"]
    assert {"measured_selected_vs_not.accreditation", "mean_gain"} <= set(report["outputs"])
    for name in ("posterior.csv", "design.csv", "predictive.csv"):
        assert (out / "second_prior" / name).stat().st_size > 0
    res = runner.invoke(app, [*args, "--force", "--no-prior-check", "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["prior_sensitivity"] is None
