"""Numbers inside the prose of README.md and docs/*.md, written by the commands and files they come from.

A number in a sentence is marked by the name of the fact it states::

    the network is the best buy in <!-- fact: compare.tpn.p_ce -->36%<!-- /fact --> of the posterior draws

Every fact is registered in ``FACTS`` below: a function of a command's JSON output (``twinsim ... --json``, run from
this checkout like the blocks of docs/gen_outputs.py, each command once per process) or of a shipped file
(``calibration.json``, the sensitivity analyses in docs/data/, the generated mechanism table), returning the number
formatted as the text shows it. ``python docs/facts.py --write`` rewrites every marker's content;
``--check`` (the default) exits 1 naming each stale marker and each marker of an unknown fact.
tests/test_generated_docs.py runs the check, so a number in the prose cannot go stale.
``python docs/facts.py --list`` prints every fact with its value and source (and marks those no document uses).
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_outputs

ROOT = gen_outputs.ROOT
FILES = gen_outputs.FILES
MARKER = re.compile(r"<!-- fact: (?P<name>[\w.\-]+) -->(?P<body>[^<\n]*)<!-- /fact -->")

# The commands whose JSON the facts read: the same analyses as the README's generated blocks.
RUN = "twinsim run rwanda_tpn --replicates 100 --json"
RUN_NONE = (
    "twinsim run rwanda_tpn --replicates 100 --no-posterior --set programme.delivery_model=none "
    "--set programme.schedule=[] --json"
)
RUN_POINT = "twinsim run rwanda_tpn --replicates 100 --no-posterior --json"
DECOMPOSE = "twinsim decompose rwanda_tpn --replicates 200 --json"
DECOMPOSE_POINT = "twinsim decompose rwanda_tpn --replicates 200 --no-posterior --json"
POWER = (
    "twinsim power rwanda_tpn --institutions 10,20,40,80 --replicates 100 --topic accreditation "
    "--topic cbhi_coverage --json"
)
CALIBRATION = "src/twinsim/scenarios/posteriors/rwanda_tpn/calibration.json"
SOBOL = "docs/data/sensitivity_rwanda"
MORRIS = "docs/data/sensitivity_rwanda_morris.json"
MECHANISMS = "docs/delivery_models.md"
TARGET = "measured_selected_vs_not"  # the calibration targets' statistic (the paper's comparison, measured)


@functools.cache
def command(cmd: str) -> dict:
    """The JSON a twinsim command prints (run once per process)."""
    return json.loads(gen_outputs.output(cmd))


@functools.cache
def shipped(path: str) -> dict:
    """A shipped JSON file."""
    return json.loads((ROOT / path).read_text(encoding="utf-8"))


@functools.cache
def sobol() -> tuple[pd.DataFrame, pd.Series]:
    """ST of every factor and output (factor x output) and the replicate-noise share per output."""
    indices = pd.read_csv(ROOT / SOBOL / "indices.csv")
    st = indices.pivot_table(index="factor", columns="output", values="ST").clip(lower=0)
    noise = pd.read_csv(ROOT / SOBOL / "noise.csv", index_col=0)["noise_share"]
    return st, noise


@functools.cache
def mechanisms() -> dict[tuple[str, str], dict[str, str]]:
    """The rows of the generated mechanism table of docs/delivery_models.md, by (configuration, model)."""
    text = (ROOT / MECHANISMS).read_text(encoding="utf-8")
    block = text.split("<!-- mechanisms:start -->")[1].split("<!-- mechanisms:end -->")[0]
    rows = {}
    for line in block.strip().splitlines()[2:]:
        config, model, effect, sustained, cost, icer, dominance = (c.strip() for c in line.strip("|").split("|"))
        config = "all" if config == "all on" else config.strip("`").removesuffix("` off")
        rows[config, model] = {
            "effect": float(effect.split()[0]),
            "sustained": float(sustained),
            "cost": float(cost.replace(",", "")),
            "icer": icer,
            "dominance": dominance,
        }
    return rows


# ---------------------------------------------------------------------------------------------------------------
# formats


def f2(x: float) -> str:
    """Two decimals."""
    return f"{x:.2f}"


def f1(x: float) -> str:
    """One decimal."""
    return f"{x:.1f}"


def pct(x: float) -> str:
    """A whole percentage."""
    return f"{x:.0%}"


def money(x: float) -> str:
    """A whole amount with thousands separators."""
    return f"{x:,.0f}"


def ci(interval: list[float]) -> str:
    """An interval, two decimals."""
    return f"[{interval[0]:.2f}, {interval[1]:.2f}]"


def sig(x: float) -> str:
    """Four significant digits, as calibration_table.py prints parameters."""
    return f"{x:.4g}"


@dataclass(frozen=True)
class Fact:
    """A named number: where it comes from and how it is computed and formatted."""

    name: str
    source: str
    value: Callable[[], str]


FACTS: dict[str, Fact] = {}


def fact(name: str, source: str, value: Callable[[], str]) -> None:
    """Register a fact: its name, where it comes from (a command or a file) and its formatted value."""
    assert name not in FACTS, name
    FACTS[name] = Fact(name, source, value)


# ---------------------------------------------------------------------------------------------------------------
# twinsim run rwanda_tpn (posterior, the README's table) and at the point estimate


def _svn(cmd: str, topic: str) -> dict:
    return command(cmd)["evaluation"]["selected_vs_not"][topic]


for _topic, _short in (("accreditation", "acc"), ("cbhi_coverage", "cbhi")):
    fact(f"run.{_short}", RUN, lambda t=_topic: f2(_svn(RUN, t)["estimate"]))
    fact(f"run.{_short}.ci", RUN, lambda t=_topic: ci(_svn(RUN, t)["ci95"]))
    fact(f"point.{_short}", RUN_POINT, lambda t=_topic: f2(_svn(RUN_POINT, t)["estimate"]))
    fact(f"point.{_short}.ci", RUN_POINT, lambda t=_topic: ci(_svn(RUN_POINT, t)["ci95"]))
    fact(f"none.{_short}", RUN_NONE, lambda t=_topic: f2(_svn(RUN_NONE, t)["estimate"]))
    fact(f"none.{_short}.ci", RUN_NONE, lambda t=_topic: ci(_svn(RUN_NONE, t)["ci95"]))

# ---------------------------------------------------------------------------------------------------------------
# calibration.json (the shipped ABC-SMC posterior)


def _cal() -> dict:
    return shipped(CALIBRATION)


def _post(key: str) -> dict:
    return _cal()["posterior"][f"learning.{key}"]


def _pp(topic: str) -> dict:
    return _cal()["posterior_predictive"][f"{TARGET}.{topic}"]


def _prior(key: str) -> dict:
    return _cal()["prior_sensitivity"]["outputs"][key]


for _topic, _short in (("accreditation", "acc"), ("cbhi_coverage", "cbhi")):
    fact(
        f"cal.prior.{_short}.prior", CALIBRATION, lambda t=_topic: f1(_prior(f"{TARGET}.{t}")["prior_predictive_mean"])
    )
    fact(
        f"cal.prior.{_short}.uniform",
        CALIBRATION,
        lambda t=_topic: f1(_prior(f"{TARGET}.{t}")["posterior_predictive_mean"]),
    )
    fact(f"cal.prior.{_short}.log", CALIBRATION,
         lambda t=_topic: f1(_prior(f"{TARGET}.{t}")["second_posterior_predictive_mean"]))  # fmt: skip
fact(
    "cal.prior.dependent",
    CALIBRATION,
    lambda: ["none", "one", "two", "three", "four"][
        sum(r["prior_dependent"] for r in _cal()["prior_sensitivity"]["outputs"].values())
    ],
)
fact("cal.particles", CALIBRATION, lambda: money(_cal()["particles"]))
fact("cal.generations", CALIBRATION, lambda: str(len(_cal()["generations"])))
fact("cal.runs", CALIBRATION, lambda: money(_cal()["runs"]))
fact("cal.seconds", CALIBRATION, lambda: f"{_cal()['seconds']:.0f}")
fact("cal.ess", CALIBRATION, lambda: f"{_cal()['effective_sample_size']:.0f}")
fact("cal.tolerance", CALIBRATION, lambda: f"{_cal()['final_tolerance']:g}")
fact("cal.budget", CALIBRATION, lambda: re.search(r"--budget (\d+)", _cal()["command"])[1])
fact(
    "cal.informed",
    CALIBRATION,
    lambda: ["none", "one", "two", "three", "four", "five"][sum(p["informed"] for p in _cal()["posterior"].values())],
)
fact(
    "cal.uninformed_sd_ratio",
    CALIBRATION,
    lambda: "{:.2f}-{:.2f}".format(
        min(p["sd_ratio"] for p in _cal()["posterior"].values() if not p["informed"]),
        max(p["sd_ratio"] for p in _cal()["posterior"].values() if not p["informed"]),
    ),
)
fact("cal.coaching.sd_ratio", CALIBRATION, lambda: pct(_post("rates.coaching_in_person")["sd_ratio"]))
fact("cal.motivation.q05", CALIBRATION, lambda: sig(_post("motivation_rate")["q05"]))
fact("cal.motivation.q95", CALIBRATION, lambda: sig(_post("motivation_rate")["q95"]))
for _key, _short in (("motivation_rate", "motivation"), ("gap_ceiling", "ceiling")):
    fact(f"cal.{_short}.point", CALIBRATION, lambda k=_key: sig(_cal()["point_estimate"][f"learning.{k}"]))
for _topic, _short in (("accreditation", "acc"), ("cbhi_coverage", "cbhi")):
    fact(f"cal.pp.{_short}", CALIBRATION, lambda t=_topic: f2(_pp(t)["mean"]))
    fact(f"cal.pp.{_short}.low", CALIBRATION, lambda t=_topic: f1(_pp(t)["predictive_low"]))
    fact(f"cal.pp.{_short}.high", CALIBRATION, lambda t=_topic: f1(_pp(t)["predictive_high"]))
    fact(
        f"cal.pe.{_short}",
        CALIBRATION,
        lambda t=_topic: f2(_cal()["point_estimate_check"][f"{TARGET}.{t}"]["mean"]),
    )
    fact(
        f"cal.pe.{_short}.ci",
        CALIBRATION,
        lambda t=_topic: ci(_cal()["point_estimate_check"][f"{TARGET}.{t}"]["ci95"]),
    )
    fact(
        f"cal.published_ci.{_short}",
        CALIBRATION,
        lambda t=_topic: "[{:.1f}, {:.1f}]".format(
            *(
                target["value"] + s * 1.96 * target["sd"]
                for target in _cal()["settings"]["targets"]
                if target["key"] == f"{TARGET}.{t}"
                for s in (-1, 1)
            )
        ),
    )
fact(
    "cal.unmatched",
    CALIBRATION,
    lambda: pct(_cal()["predictive_checks"]["always_a_leading_peer"]["mean_unmatched_share"]),
)
fact(
    "cal.unmatched_led",
    CALIBRATION,
    lambda: pct(_cal()["predictive_checks"]["always_a_leading_peer"]["mean_unmatched_led_share"]),
)
fact(
    "cal.persist",
    CALIBRATION,
    lambda: pct(_cal()["predictive_checks"]["gains_persist"]["share_remaining"]),
)

# ---------------------------------------------------------------------------------------------------------------
# twinsim decompose (posterior and point estimate)


def _dec(cmd: str, topic: str) -> dict:
    return command(cmd)["decomposition"][topic]


def _shares(cmd: str) -> list[float]:
    return [d["twinning_share"] for d in command(cmd)["decomposition"].values()]


fact("dec.share.low", DECOMPOSE, lambda: pct(min(_shares(DECOMPOSE))))
fact("dec.share.high", DECOMPOSE, lambda: pct(max(_shares(DECOMPOSE))))
fact(
    "dec.range.low",
    DECOMPOSE,
    lambda: pct(min(d["twinning_share_range"][0] for d in command(DECOMPOSE)["decomposition"].values())),
)
fact("dec.point.share.low", DECOMPOSE_POINT, lambda: pct(min(_shares(DECOMPOSE_POINT))))
fact("dec.point.share.high", DECOMPOSE_POINT, lambda: pct(max(_shares(DECOMPOSE_POINT))))
for _cmd, _prefix in ((DECOMPOSE, "dec"), (DECOMPOSE_POINT, "dec.point")):
    for _topic, _short in (("accreditation", "acc"), ("cbhi_coverage", "cbhi")):
        fact(
            f"{_prefix}.{_short}.self",
            _cmd,
            lambda c=_cmd, t=_topic: f2(_dec(c, t)["self_selection"]["estimate"]),
        )
        fact(f"{_prefix}.{_short}.share", _cmd, lambda c=_cmd, t=_topic: pct(_dec(c, t)["twinning_share"]))

# ---------------------------------------------------------------------------------------------------------------
# twinsim power


def _power(n: int, topic: str) -> dict:
    return next(r for r in command(POWER)["power"] if r["institutions"] == n and r["topic"] == topic)


#: The power figures the prose states: (institutions, topic, its short name, the statistics).
_POWER_STATED = (
    (40, "accreditation", "acc", ("power", "sd", "mde")),
    (40, "cbhi_coverage", "cbhi", ("power", "sd")),
    (80, "accreditation", "acc", ("power", "mde")),
    (80, "cbhi_coverage", "cbhi", ("power",)),
)
_POWER_STAT = {"power": ("power", pct), "sd": ("sd_estimate", f2), "mde": ("mde", f1)}
for _n, _topic, _short, _stats in _POWER_STATED:
    for _stat in _stats:
        _name = f"power.{_n}.{_short}" + ("" if _stat == "power" else f".{_stat}")
        _key, _format = _POWER_STAT[_stat]
        fact(_name, POWER, lambda n=_n, t=_topic, k=_key, f=_format: f(_power(n, t)[k]))

# ---------------------------------------------------------------------------------------------------------------
# the bundled Sobol analysis (docs/data/sensitivity_rwanda/) and the Morris screening


def _st(factor: str, output: str) -> str:
    return f"{sobol()[0].loc[factor, output]:.2f}"


def _top(output: str, rank: int) -> str:
    return f"`{sobol()[0][output].sort_values(ascending=False).index[rank]}`"


for _output, _short, _tops in (("mean_gain", "gain", 4), ("total_cost", "cost", 3)):
    for _rank in range(_tops):
        fact(f"sobol.{_short}.top{_rank + 1}", SOBOL, lambda o=_output, r=_rank: _top(o, r))
for _output, _short in (
    ("mean_gain", "gain"),
    ("selected_vs_not.cbhi_coverage", "cbhi"),
    ("selected_vs_not.accreditation", "acc"),
):
    fact(f"sobol.{_short}.noise", SOBOL, lambda o=_output: pct(sobol()[1][o]))
fact("sobol.runs", SOBOL, lambda: money(int(shipped(f"{SOBOL}/result.json")["runs"])))
fact("sobol.points", SOBOL, lambda: money(int(shipped(f"{SOBOL}/result.json")["runs"]) // 2))
fact("sobol.similarity.acc", SOBOL, lambda: _st("learning.similarity_weight", "selected_vs_not.accreditation"))
fact("sobol.similarity.cbhi", SOBOL, lambda: _st("learning.similarity_weight", "selected_vs_not.cbhi_coverage"))
fact("sobol.topics.acc", SOBOL, lambda: _st("programme.topics_per_institution", "selected_vs_not.accreditation"))
fact("sobol.exchange.cbhi", SOBOL, lambda: _st("learning.rates.exchange_visit", "selected_vs_not.cbhi_coverage"))
fact("sobol.resources.cbhi", SOBOL, lambda: _st("mechanisms.resources", "selected_vs_not.cbhi_coverage"))
fact(
    "sobol.learning_on_cost",
    SOBOL,
    lambda: f2(max(v for k, v in sobol()[0]["total_cost"].items() if k.startswith("learning."))),
)
fact("sobol.keep_promise.cost", SOBOL, lambda: _st("mechanisms.keep_promise", "total_cost"))
fact("sobol.coaching.cost", SOBOL, lambda: _st("coaching", "total_cost"))
fact("sobol.provincial.gain", SOBOL, lambda: _st("provincial_events", "mean_gain"))
fact("sobol.provincial.cost", SOBOL, lambda: _st("provincial_events", "total_cost"))
fact("sobol.turnover.gain", SOBOL, lambda: _st("learning.leadership_turnover", "mean_gain"))
fact("sobol.months.gain", SOBOL, lambda: _st("simulation.months", "mean_gain"))


def _morris(output: str) -> list[tuple[str, float]]:
    indices = shipped(MORRIS)["outputs"][output]
    return sorted(((k, v["mu_star"]) for k, v in indices.items()), key=lambda kv: -kv[1])


fact("morris.runs", MORRIS, lambda: money(shipped(MORRIS)["runs"]))
fact(
    "morris.gain.top5",
    MORRIS,
    lambda: ", ".join(f"`{k}` {v:.2f}" for k, v in _morris("mean_gain")[:5]),
)
fact(
    "morris.cost.top5",
    MORRIS,
    lambda: ", ".join(f"`{k}`" for k, _ in _morris("total_cost")[:5]),
)

# ---------------------------------------------------------------------------------------------------------------
# the generated mechanism table of docs/delivery_models.md (section 6.1)


def _mech(config: str, model: str, column: str = "effect") -> float:
    return mechanisms()[config, model][column]


#: What the prose states of each delivery model in the mechanism table (the effect with a mechanism switched off:
#: ``no_<switch>``).
_MECH_STATED = {
    "tpn": (
        "effect",
        "icer",
        "sustained_share",
        "sustained_share.no_ownership",
        "no_resources",
        "no_empowerment",
        "no_two_way",
        "no_keep_promise",
        "no_delivery_modes",
    ),
    "pairs": ("effect", "icer", "no_two_way"),
    "north_south": (
        "effect",
        "cost",
        "sustained_share",
        "sustained_share.no_ownership",
        "no_two_way",
        "no_delivery_modes",
    ),
    "external_experts": ("effect", "cost", "sustained_share", "no_empowerment", "no_expert_programme"),
    "hybrid": ("effect", "icer", "no_resources"),
}


def _mech_fact(model: str, stat: str) -> str:
    if stat == "effect":
        return f2(_mech("all", model))
    if stat == "icer":
        return mechanisms()["all", model]["icer"]
    if stat == "cost":
        return money(_mech("all", model, "cost"))
    if stat.startswith("sustained_share"):
        config = "ownership" if stat.endswith("no_ownership") else "all"
        return pct(_mech(config, model, "sustained") / _mech(config, model))
    return f2(_mech(stat.removeprefix("no_"), model))


for _m, _stats in _MECH_STATED.items():
    for _stat in _stats:
        fact(f"mech.{_m}.{_stat}", MECHANISMS, lambda m=_m, st=_stat: _mech_fact(m, st))
fact(
    "mech.keep_promise.extra_cost",
    MECHANISMS,
    lambda: money(_mech("all", "tpn", "cost") - _mech("keep_promise", "tpn", "cost")),
)


# ---------------------------------------------------------------------------------------------------------------
# statements of docs/ODD.md about the Rwanda scenario at its point estimate: the Python API, 100 replicates


API = "twinsim.run_replicates(load_scenario('rwanda_tpn', OVERRIDES), 100, seed=20210801, posterior=None)"


@functools.cache
def batch(*overrides: str, keep_tables: bool = False):
    """100 replicates of the Rwanda scenario at its point estimate (no posterior), with ``overrides``."""
    sys.path.insert(0, str(ROOT / "src"))
    import twinsim

    scenario = twinsim.load_scenario("rwanda_tpn", list(overrides))
    return twinsim.run_replicates(scenario, 100, seed=20210801, keep_tables=keep_tables, posterior=None)


def _summary(key: str, *overrides: str) -> float:
    return float(batch(*overrides).summaries[key].mean())


def _activity_cost(activity: str) -> str:
    ledgers = batch(keep_tables=True).ledgers
    return money(ledgers.loc[ledgers["activity"] == activity, "total_cost"].sum() / 100)


fact("odd.ties", API, lambda: f"{_summary('ties'):.0f}")
fact("odd.unmatched", API, lambda: pct(_summary("unmatched_share")))
fact("odd.unmatched.no_keep_promise", API, lambda: pct(_summary("unmatched_share", "mechanisms.keep_promise=false")))
fact("odd.unmatched_led", API, lambda: pct(_summary("unmatched_led_share")))
fact(
    "odd.unmatched_led.no_keep_promise",
    API,
    lambda: pct(_summary("unmatched_led_share", "mechanisms.keep_promise=false")),
)
fact("odd.cost", API, lambda: money(_summary("total_cost")))
for _activity in (
    "exchange_visit",
    "coaching_in_person",
    "kickoff_workshop",
    "provincial_learning_event",
    "learning_workshop_virtual",
    "coaching_virtual",
):
    fact(f"odd.cost.{_activity}", API, lambda a=_activity: _activity_cost(a))
fact("bad_inputs.cases", "benchmarks/bad_inputs.py", lambda: money(_bad_inputs()))


@functools.cache
def _kickoff_gap() -> tuple[float, float, float]:
    """The mean learner-mentor gap at the kickoff, the gap ceiling, and how much the ceiling cuts that gap.

    Over the ties of 100 kicked-off Rwanda replicates at the point estimate.
    """
    sys.path.insert(0, str(ROOT / "src"))
    import numpy as np

    import twinsim
    from twinsim.model import TwinningModel

    scenario = twinsim.load_scenario("rwanda_tpn")
    model = TwinningModel(scenario, 20210801, replicates=100)
    model.step()  # the kickoff workshop forms the ties
    ties = model.ties
    gap = float(np.mean(model.baseline[ties.mentor, ties.topic] - model.baseline[ties.learner, ties.topic]))
    ceiling = scenario.learning.gap_ceiling
    return gap, ceiling, 1.0 - float(np.exp(-0.5 * (gap / ceiling) ** 2))


fact("odd.kickoff_gap", API, lambda: f2(_kickoff_gap()[0]))
fact("odd.gap_ceiling", "scenarios/rwanda_tpn.toml", lambda: f2(_kickoff_gap()[1]))
fact("odd.gap_cut", API, lambda: pct(_kickoff_gap()[2]))


@functools.cache
def _traction() -> pd.Series:
    """Priorities with traction at the end of each of 200 replicates of the external-expert scenario (a check)."""
    sys.path.insert(0, str(ROOT / "src"))
    import twinsim

    return twinsim.run_replicates("rwanda_external_experts", 200).summaries["priorities_with_traction"]


EXPERTS = "twinsim.run_replicates('rwanda_external_experts', 200)"
fact("experts.traction.mean", EXPERTS, lambda: f1(_traction().mean()))
fact("experts.traction.two", EXPERTS, lambda: pct((_traction() == 2).mean()))
fact("experts.traction.one_to_three", EXPERTS, lambda: pct(_traction().between(1, 3).mean()))


def _bad_inputs() -> int:
    """How many bad inputs benchmarks/bad_inputs.py generates (built, not run)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bad_inputs

    return sum(len(bad_inputs.cases_for(command)) for command in bad_inputs.COMMANDS)


# ---------------------------------------------------------------------------------------------------------------


def refresh(path: Path, write: bool) -> list[str]:
    """The stale markers of a file (``name: shown -> value``); rewrite them when ``write``."""
    text = path.read_text(encoding="utf-8")
    stale = []

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in FACTS:
            stale.append(f"{name}: unknown fact (register it in docs/facts.py)")
            return match[0]
        value = FACTS[name].value()
        if value != match["body"]:
            stale.append(f"{name}: {match['body']!r} -> {value!r}")
        return f"<!-- fact: {name} -->{value}<!-- /fact -->"

    new = MARKER.sub(replace, text)
    if write and new != text:
        path.write_text(new, encoding="utf-8")
    return stale


def used() -> set[str]:
    """The names of every fact some document marks."""
    return {m["name"] for path in FILES for m in MARKER.finditer(path.read_text(encoding="utf-8"))}


def main() -> None:
    """Check (or with --write, refresh) every fact in README.md and docs/*.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite stale facts (default: only check)")
    parser.add_argument("--list", action="store_true", help="print every fact, its value and its source")
    args = parser.parse_args()
    if args.list:
        marked = used()
        for name, item in FACTS.items():
            print(f"{name}\t{item.value()}\t{item.source}{'' if name in marked else '  (unused)'}")
        return
    stale = {path: refresh(path, args.write) for path in FILES}
    for path, names in stale.items():
        for line in names:
            print(f"{'updated' if args.write else 'stale'}: {path.relative_to(ROOT)}: {line}")
    if not args.write and any(stale.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
