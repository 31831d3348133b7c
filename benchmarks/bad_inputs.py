"""Generated bad inputs for every ``twinsim`` command, each outcome classified (issue 16).

Every case is a command line (plus the files it needs, written into a fresh folder) that a user could type by
mistake: output locations that are files, read-only or uncreatable; bad scheduler addresses; huge sizes; numbers and
text the parser meets first; broken side files; non-finite numbers; markup in names. Each case runs in a forked child
(twinsim imported once; the child's memory is capped) with a time limit, and ends in one of:

- ``clean``: exit code 2 and one error line on stderr that names the option, key or file (a usage error from the
  option parser counts when it names the option);
- ``traceback``: a Python traceback (or an "internal error" line) on stderr;
- ``hang``: still running at the time limit (killed);
- ``wrong code``: any other exit code, or exit 2 without a line naming what is wrong;
- ``accepted``: exit 0, the mistake accepted silently.

Each case has a seed (``COMMAND:N``); its random choices come from ``random.Random(N)``, so it reproduces::

    python benchmarks/bad_inputs.py                      # every command, the table per command
    python benchmarks/bad_inputs.py --command run -v     # one command, every case's outcome
    python benchmarks/bad_inputs.py --case run:17 -v     # one case: its command line, stdout and stderr
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import signal
import stat
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HUGE_INT = "9" * 5000
TIMEOUT = 60.0
MEMORY_CAP = 3 * 1024**3  # bytes of address space a child may add (the 10^7-institution cases must not eat the machine)


@dataclass
class Case:
    """One bad command line: ``args`` after ``twinsim``, files to write first, a word the error must name."""

    name: str
    args: list[str]
    expect: str
    files: dict[str, bytes | str] = field(default_factory=dict)
    setup: Callable[[Path], None] | None = None
    seed: int = 0
    #: text that, when the command exits 0, must appear literally on stdout (then the case counts as clean)
    literal: str | None = None
    #: run as an ordinary user (``nobody``) when this script runs as root, who may write into read-only folders
    unprivileged: bool = False


# ---------------------------------------------------------------- fixtures

BASE = 'extends = "rwanda_tpn"\nname = "base"\n'
TARGETS = """[calibration]
parameters = ["learning.gap_ceiling"]
replicates_per_point = 2
accept = 0.5
seed = 1
refine_replicates = 2
predictive_draws = 2
check_replicates = 2

[[targets]]
key = "selected_vs_not.accreditation"
value = 5.6
sd = {sd}
"""
POSTERIOR = "learning.gap_ceiling,weight\n0.5,1\n0.6,1\n"


def _readonly(path: str) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        folder = root / path
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)

    return make


def _chain(n: int) -> dict[str, str]:
    files = {f"c{i}.toml": f'extends = "c{i + 1}.toml"\n' for i in range(n)}
    files[f"c{n}.toml"] = BASE
    return files


def _nested(depth: int) -> str:
    return BASE + "x = " + "{a = " * depth + "1" + "}" * depth + "\n"


# ---------------------------------------------------------------- cases shared by every command with a scenario


def scenario_files(rng: random.Random) -> list[tuple[str, dict[str, bytes | str], str, str]]:
    """(case name, files, the scenario argument, the word the error must name)."""
    big = rng.choice([10**7, 10**8, 10**12, 10**18])
    return [
        (
            "counts 10^7",
            {"s.toml": BASE + "[population.kinds.district]\ncounts = {North = 10000000}\n"},
            "s.toml",
            "counts",
        ),
        (
            f"counts {big}",
            {"s.toml": BASE + f"[population.kinds.hospital]\ncounts = {{North = {big}}}\n"},
            "s.toml",
            "counts",
        ),
        (
            "counts 10^12",
            {"s.toml": BASE + "[population.kinds.hospital]\ncounts = {North = 1000000000000}\n"},
            "s.toml",
            "counts",
        ),
        ("5000-digit integer", {"s.toml": BASE + f"[simulation]\nseed = {HUGE_INT}\n"}, "s.toml", "s.toml"),
        ("5000-deep tables", {"s.toml": _nested(5000)}, "s.toml", "s.toml"),
        ("1500-file extends chain", _chain(1500), "c0.toml", "extends"),
        ("year-0 start", {"s.toml": BASE + '[simulation]\nstart = "0000-01"\n'}, "s.toml", "start"),
        ("year 99999 start", {"s.toml": BASE + '[simulation]\nstart = "99999-01"\n'}, "s.toml", "start"),
        ("month 13 start", {"s.toml": BASE + '[simulation]\nstart = "2021-13"\n'}, "s.toml", "start"),
        ("binary scenario", {"s.toml": bytes(rng.randrange(256) for _ in range(300))}, "s.toml", "s.toml"),
        (
            "latin-1 scenario",
            {"s.toml": (BASE + 'description = "Kigali café"\n').encode("latin-1")},
            "s.toml",
            "s.toml",
        ),
        ("posterior as scenario", {"p.csv": POSTERIOR}, "p.csv", "p.csv"),
        ("folder as scenario", {"d/x.txt": ""}, "d", "d"),
        ("empty scenario", {"s.toml": ""}, "s.toml", "s.toml"),
        ("unknown key", {"s.toml": BASE + "[simulation]\nmonhts = 3\n"}, "s.toml", "monhts"),
        (
            "indicator scale 1e308",
            {"s.toml": BASE + "[topics.accreditation]\nindicator_min = -1e308\nindicator_max = 1e308\n"},
            "s.toml",
            "indicator",
        ),
        (
            "indicator inf",
            {"s.toml": BASE + "[topics.accreditation]\nindicator_max = inf\n"},
            "s.toml",
            "indicator_max",
        ),
        ("staff_day 1e308", {"s.toml": BASE + "[costs]\nstaff_day = 1e308\n"}, "s.toml", "staff_day"),
        (
            "budget median nan",
            {"s.toml": BASE + "[population.kinds.hospital]\nbudget_median = nan\n"},
            "s.toml",
            "budget_median",
        ),
        ("escape sequence in name", {"s.toml": BASE.replace('"base"', '"bad\\u001b[31mred"')}, "s.toml", "name"),
        (
            "circular extends",
            {"a.toml": 'extends = "b.toml"\n', "b.toml": 'extends = "a.toml"\n'},
            "a.toml",
            "circular",
        ),
        ("extends a folder", {"s.toml": 'extends = "d"\n', "d/x": ""}, "s.toml", "extends"),
        ("extends a number", {"s.toml": "extends = 3\n"}, "s.toml", "extends"),
    ]


def overrides(rng: random.Random) -> list[tuple[str, str, str]]:
    """(case name, --set text, word)."""
    big = rng.choice(["10000000", "1000000000000", "100000000000000000000"])
    return [
        ("staff_day 1e308", "costs.staff_day=1e308", "staff_day"),
        ("staff_day inf", "costs.staff_day=inf", "staff_day"),
        ("staff_day nan", "costs.staff_day=nan", "staff_day"),
        ("counts 10^7", "population.kinds.district.counts.North=10000000", "counts"),
        (f"counts {big}", f"population.kinds.hospital.counts.North={big}", "counts"),
        ("seed -1", "simulation.seed=-1", "seed"),
        ("seed 5000 digits", f"simulation.seed={HUGE_INT}", "seed"),
        ("year 0", 'simulation.start="0000-01"', "start"),
        ("year 99999", "simulation.start=99999-01", "start"),
        ("scale 1e308", "topics.accreditation.indicator_max=1e308", "indicator"),
        ("gap_ceiling nan", "learning.gap_ceiling=nan", "gap_ceiling"),
        ("unknown key", "simulation.monhts=3", "monhts"),
        ("no equals", "simulation.months", "simulation.months"),
        ("escape in name", 'name="x\\u001b[2J"', "name"),
        ("activity cost 1e308", "costs.activities.exchange_visit.per_event=1e308", "per_event"),
    ]


def option_cases(command: str, rng: random.Random, has: set[str]) -> list[tuple[str, list[str], str, dict, object]]:
    """(case name, extra args, word, files, setup) for the shared options a command has."""
    cases: list[tuple[str, list[str], str, dict, object]] = []
    if "seed" in has:
        cases += [
            ("--seed -1", ["--seed", "-1"], "--seed", {}, None),
            ("--seed 5000 digits", ["--seed", HUGE_INT], "--seed", {}, None),
            ("--seed 2^64", ["--seed", str(2**64)], "--seed", {}, None),
        ]
    if "replicates" in has:
        cases += [
            ("--replicates 10^22", ["--replicates", "99999999999999999999999"], "--replicates", {}, None),
            ("--replicates 10^9", ["--replicates", "1000000000"], "--replicates", {}, None),
            ("--replicates 0", ["--replicates", "0"], "--replicates", {}, None),
        ]
    outs = [o for o in ("--out", "--store") if o in has]
    for opt in outs:
        cases += [
            (f"{opt} a file", [opt, "f.txt"], opt, {"f.txt": "x"}, None),
            (f"{opt} read-only", [opt, "ro/sub"], opt, {}, _readonly("ro")),
            (f"{opt} read-only itself", [opt, "ro"], opt, {}, _readonly("ro")),
            (f"{opt} uncreatable", [opt, "f.txt/sub"], opt, {"f.txt": "x"}, None),
            (f"{opt} empty", [opt, ""], opt, {}, None),
            (f"{opt} under /proc", [opt, "/proc/twinsim-out"], opt, {}, None),
        ]
    if "scheduler" in has:
        bad = ["tcp://", "nonsense", "tcp://127.0.0.1:99999", "tcp://256.1.1.1:1", "", "[::1", "tcp://h:p", "udp://x:1"]
        bad.append("".join(rng.choice("tcp:/[]%.0123") for _ in range(rng.randrange(3, 15))))
        cases += [(f"--scheduler {s!r}", ["--scheduler", s], "--scheduler", {}, None) for s in bad]
        cases += [("--workers 0", ["--workers", "0"], "--workers", {}, None)]
        cases += [("--resume without store", ["--resume"], "--resume", {}, None)] if command != "sweep" else []
    if "posterior" in has:
        cases += [
            (
                "posterior ragged",
                ["--posterior", "p.csv"],
                "p.csv",
                {"p.csv": "learning.gap_ceiling,weight\n0.5,1,3,4\n0.6\n"},
                None,
            ),
            (
                "posterior huge key",
                ["--posterior", "p.csv"],
                "p.csv",
                {"p.csv": f"learning.gap_ceiling,weight\n{HUGE_INT},1\n"},
                None,
            ),
            ("posterior binary", ["--posterior", "p.csv"], "p.csv", {"p.csv": bytes(range(256)) * 4}, None),
            (
                "posterior latin-1",
                ["--posterior", "p.csv"],
                "p.csv",
                {"p.csv": "learning.gap_ceiling,café\n0.5,1\n".encode("latin-1")},
                None,
            ),
            ("posterior is a scenario", ["--posterior", "s2.toml"], "s2.toml", {"s2.toml": BASE}, None),
            (
                "posterior unknown key",
                ["--posterior", "p.csv"],
                "p.csv",
                {"p.csv": "learning.nope,weight\n0.5,1\n"},
                None,
            ),
            (
                "posterior inf",
                ["--posterior", "p.csv"],
                "p.csv",
                {"p.csv": "learning.gap_ceiling,weight\ninf,1\n"},
                None,
            ),
            ("posterior folder", ["--posterior", "d"], "d", {"d/x": ""}, None),
        ]
    if "table" in has:
        cases += [("--table-format bogus", ["--table-format", "[red]x"], "--table-format", {}, None)]
    return cases


# ---------------------------------------------------------------- per command

SC = "base.toml"
RANDOM_PAIRS = 8
COMMON = {"base.toml": BASE}

BASE_ARGS: dict[str, list[str]] = {
    "run": ["run", "{sc}", "-q"],
    "validate": ["validate", "{sc}"],
    "compare": ["compare", "rwanda_no_program", "{sc}", "-r", "2", "-q"],
    "sweep": ["sweep", "{sc}", "--param", "learning.gap_ceiling=0.3,0.6", "--out", "store", "-q"],
    "sensitivity": [
        "sensitivity",
        "{sc}",
        "--method",
        "morris",
        "--samples",
        "2",
        "--param",
        "learning.forgetting=0:0.05",
        "--output",
        "mean_gain",
        "-q",
    ],
    "decompose": ["decompose", "{sc}", "-r", "2", "-q"],
    "power": ["power", "{sc}", "--institutions", "10", "-r", "2", "-q"],
    "calibrate": ["calibrate", "{sc}", "--targets", "t.toml", "--budget", "8", "--out", "cal", "-q"],
}
HAS = {
    "run": {"seed", "replicates", "--out", "--store", "scheduler", "posterior", "table"},
    "validate": set(),
    "compare": {"seed", "replicates", "--out", "--store", "scheduler", "posterior", "table"},
    "sweep": {"seed", "replicates", "--out", "scheduler"},
    "sensitivity": {"seed", "replicates", "--out", "--store", "scheduler", "table"},
    "decompose": {"seed", "replicates", "--store", "scheduler", "posterior", "table"},
    "power": {"seed", "replicates", "--store", "scheduler", "posterior", "table"},
    "calibrate": {"--out", "--store", "scheduler", "table"},
}


def _with(base: list[str], sc: str, extra: list[str]) -> list[str]:
    args = [a.replace("{sc}", sc) for a in base]
    opts = {extra[0]} if extra and extra[0].startswith("-") else set()
    # an option given again replaces the base's (click takes the last one, but keep the line readable)
    out: list[str] = []
    skip = False
    for i, a in enumerate(args):
        if skip:
            skip = False
            continue
        if a in opts and i + 1 < len(args) and not args[i + 1].startswith("-"):
            skip = True
            continue
        out.append(a)
    return out + extra


def specific(command: str, rng: random.Random) -> list[tuple[str, list[str], str, dict]]:
    """Cases of one command's own options: (name, extra args, word, files)."""
    targets = lambda sd: {"t.toml": TARGETS.format(sd=sd)}  # noqa: E731
    c: dict[str, list[tuple[str, list[str], str, dict]]] = {
        "run": [
            ("--format bogus", ["--format", "xlsx"], "--format", {}),
            ("--out and --json", ["--out", "o", "--json", "--format", "[/]"], "--format", {}),
        ],
        "compare": [
            ("--budget inf", ["--budget", "inf"], "--budget", {}),
            ("--budget nan", ["--budget", "nan"], "--budget", {}),
            ("--budget -1", ["--budget", "-1"], "--budget", {}),
            ("--budget 0", ["--budget", "0"], "--budget", {}),
            ("--budget 1e308", ["--budget", "1e308"], "--budget", {}),
            ("--wtp 0:inf:5", ["--wtp", "0:inf:5"], "--wtp", {}),
            ("--wtp 0:1000:3e8", ["--wtp", "0:1000:300000000"], "--wtp", {}),
            ("--wtp nan:1:3", ["--wtp", "nan:1:3"], "--wtp", {}),
            ("--wtp 0:1e308:3", ["--wtp", "0:1e308:3"], "--wtp", {}),
            ("--wtp a:b:c", ["--wtp", "a:b:c"], "--wtp", {}),
            ("--wtp 5:1:3", ["--wtp", "5:1:3"], "--wtp", {}),
            ("--wtp huge steps", ["--wtp", f"0:1:{HUGE_INT}"], "--wtp", {}),
            ("one scenario", ["--budget", "inf"], "--budget", {}),
        ],
        "sweep": [
            ("20-million-point grid", ["--param", "learning.forgetting=0:0.05:20000000"], "--param", {}),
            (
                "two huge axes",
                ["--param", "learning.forgetting=0:0.05:5000", "--param", "learning.gap_ceiling=0.1:0.9:5000"],
                "--param",
                {},
            ),
            ("grid of 5000-digit N", ["--param", f"learning.forgetting=0:0.05:{HUGE_INT}"], "--param", {}),
            (
                "lhs 10^12 samples",
                ["--design", "lhs", "--samples", "1000000000000", "--param", "learning.forgetting=0:0.05"],
                "--samples",
                {},
            ),
            ("unknown design", ["--design", "[/]"], "--design", {}),
            ("unknown streams", ["--streams", "mixed"], "--streams", {}),
            ("param unknown key", ["--param", "learning.nope=1,2"], "learning.nope", {}),
            ("param nan", ["--param", "learning.gap_ceiling=nan,0.5"], "gap_ceiling", {}),
            ("param inf range", ["--param", "learning.gap_ceiling=0:inf:3"], "gap_ceiling", {}),
            ("every run fails", ["--param", "costs.staff_day=1e308,1e308"], "staff_day", {}),
            ("param no values", ["--param", "learning.gap_ceiling="], "gap_ceiling", {}),
            ("chunk 10^20", ["--chunk-size", "100000000000000000000"], "--chunk-size", {}),
            (
                "replicates x points huge",
                ["--param", "learning.forgetting=0:0.05:100000", "--replicates", "100000"],
                "--param",
                {},
            ),
        ],
        "sensitivity": [
            ("samples 10^12", ["--samples", "1000000000000"], "--samples", {}),
            ("samples 5000 digits", ["--samples", HUGE_INT], "--samples", {}),
            ("method bogus", ["--method", "[/]"], "--method", {}),
            ("param unknown", ["--param", "learning.nope"], "learning.nope", {}),
            ("param inf", ["--param", "learning.forgetting=0:inf"], "forgetting", {}),
            ("param nan", ["--param", "learning.forgetting=nan:1"], "forgetting", {}),
            ("output unknown", ["--output", "[/]nope"], "--output", {}),
            ("replicates 10^22", ["--replicates", "99999999999999999999999"], "--replicates", {}),
        ],
        "decompose": [
            ("replicates 10^7", ["--replicates", "10000000"], "--replicates", {}),
        ],
        "power": [
            ("institutions 10^7", ["--institutions", "10000000"], "--institutions", {}),
            ("institutions 10^12", ["--institutions", "1000000000000"], "--institutions", {}),
            ("institutions 5000 digits", ["--institutions", HUGE_INT], "--institutions", {}),
            ("institutions -5", ["--institutions", "-5"], "--institutions", {}),
            ("institutions 1e3", ["--institutions", "1e3"], "--institutions", {}),
            ("institutions empty", ["--institutions", ","], "--institutions", {}),
            ("topic unknown", ["--topic", "[/]nope"], "--topic", {}),
            ("alpha nan", ["--alpha", "nan"], "--alpha", {}),
        ],
        "calibrate": [
            (
                "targets binary",
                ["--targets", "b.toml"],
                "b.toml",
                {"b.toml": bytes(rng.randrange(256) for _ in range(400))},
            ),
            (
                "targets latin-1",
                ["--targets", "l.toml"],
                "l.toml",
                {"l.toml": (TARGETS.format(sd=1) + 'source = "café"\n').encode("latin-1")},
            ),
            (
                "targets unknown key",
                ["--targets", "u.toml"],
                "u.toml",
                {"u.toml": TARGETS.format(sd=1) + "colour = 3\n"},
            ),
            ("targets sd nan", [], "sd", targets("nan")),
            ("targets sd inf", [], "sd", targets("inf")),
            ("targets sd 0", [], "sd", targets("0")),
            ("targets sd -1", [], "sd", targets("-1")),
            ("targets folder", ["--targets", "d"], "d", {"d/x": ""}),
            ("targets missing", ["--targets", "nope.toml"], "nope.toml", {}),
            ("targets is a posterior", ["--targets", "p.csv"], "p.csv", {"p.csv": POSTERIOR}),
            (
                "targets 5000-digit",
                ["--targets", "h.toml"],
                "h.toml",
                {"h.toml": TARGETS.format(sd=1).replace("seed = 1", f"seed = {HUGE_INT}")},
            ),
            (
                "targets value inf",
                ["--targets", "v.toml"],
                "v.toml",
                {"v.toml": TARGETS.format(sd=1).replace("5.6", "inf")},
            ),
            (
                "targets unknown parameter",
                ["--targets", "k.toml"],
                "k.toml",
                {"k.toml": TARGETS.format(sd=1).replace("learning.gap_ceiling", "learning.nope")},
            ),
            ("budget 10^22", ["--budget", "99999999999999999999999"], "--budget", {}),
            ("budget 10^12", ["--budget", "1000000000000"], "--budget", {}),
        ],
    }
    return c.get(command, [])


def cases_for(command: str) -> list[Case]:
    """Every bad input of ``command``, each with its seed (its index in this list)."""
    if command == "scenarios":
        out = [
            Case("extra argument", ["scenarios", "x"], "x"),
            Case("unknown option", ["scenarios", "--bogus"], "--bogus"),
            Case("out option", ["scenarios", "--out", "f"], "--out"),
            Case("debug then bogus", ["scenarios", "--json", "[/]"], "--json"),
        ]
        for i, case in enumerate(out):
            case.seed = i
        return out
    if command in ("plugin", "priors"):
        return _numbered(PLUGIN_CASES if command == "plugin" else PRIORS_CASES)
    base = BASE_ARGS[command]
    cases: list[Case] = []
    seed = 0

    def add(name: str, args: list[str], expect: str, files: dict | None = None, setup: object = None) -> None:
        nonlocal seed
        extra = {"t.toml": TARGETS.format(sd=1)} if command == "calibrate" else {}
        case = Case(name, args, expect, {**COMMON, **extra, **(files or {})}, setup, seed)  # type: ignore[arg-type]
        case.unprivileged = "read-only" in name
        cases.append(case)
        seed += 1

    for name, files, sc, word in scenario_files(random.Random(len(cases))):
        add(f"file: {name}", _with(base, sc, []), word, files)
    markup = BASE.replace('"base"', '"[/]b[red]x"') + '[costs]\ncurrency = "[/]"\n'
    add("file: markup in name and currency", _with(base, "x[/]s.toml", []), "\x00", {"x[/]s.toml": markup})
    cases[-1].literal = "" if command == "sweep" else "[/]"  # a sweep prints no names
    for name, text, word in overrides(random.Random(100)):
        add(f"--set {name}", _with(base, SC, ["--set", text]), word)
    for name, extra, word, files, setup in option_cases(command, random.Random(200), HAS[command]):
        add(name, _with(base, SC, extra), word, files, setup)
    # random pairs of a bad override and a bad option: either may be reported first
    sets = overrides(random.Random(100))
    options = [c for c in option_cases(command, random.Random(200), HAS[command]) if not c[3] and c[4] is None]
    for k in range(RANDOM_PAIRS if options else 0):
        rng = random.Random(1000 + k)
        name, text, word = rng.choice(sets)
        oname, extra, oword, _, _ = rng.choice(options)
        add(f"random pair {k}: --set {name} + {oname}", _with(base, SC, [*extra, "--set", text]), f"{word}|{oword}")
    for name, extra, word, files in specific(command, random.Random(300)):
        args = _with(base, SC, extra)
        if name == "one scenario":
            args = ["compare", SC, "-q", *extra]
        add(name, args, word, files)
    return cases


def _numbered(cases: list[Case]) -> list[Case]:
    out = [Case(c.name, list(c.args), c.expect, dict(c.files)) for c in cases]
    for i, case in enumerate(out):
        case.seed = i
    return out


_OK_CLASS = "from twinsim.programme.delivery import DeliveryModel\nclass M(DeliveryModel):\n"
#: ``twinsim --plugin FILE`` (a user's plug-in file, docs/extending.md) before any command.
PLUGIN_CASES = [
    Case("missing file", ["--plugin", "nowhere.py", "validate", "rwanda_tpn"], "nowhere.py"),
    Case("a folder", ["--plugin", "d", "validate", "rwanda_tpn"], "--plugin", {"d/x.txt": "x"}),
    Case("syntax error", ["--plugin", "p.py", "validate", "rwanda_tpn"], "failed to import", {"p.py": "def (:\n"}),
    Case("raises on import", ["--plugin", "p.py", "validate", "rwanda_tpn"], "ZeroDivisionError", {"p.py": "1/0\n"}),
    Case("no PLUGINS list", ["--plugin", "p.py", "validate", "rwanda_tpn"], "PLUGINS", {"p.py": "X = 1\n"}),
    Case("PLUGINS not a list", ["--plugin", "p.py", "validate", "rwanda_tpn"], "PLUGINS", {"p.py": "PLUGINS = 3\n"}),
    Case("not a plug-in", ["--plugin", "p.py", "validate", "rwanda_tpn"], "neither", {"p.py": "PLUGINS = [int]\n"}),
    Case(
        "bundled name",
        ["--plugin", "p.py", "validate", "rwanda_tpn"],
        "bundled name",
        {"p.py": _OK_CLASS + "    name = 'none'\n    def form_ties(self, m): pass\nPLUGINS = [M]\n"},
    ),
    Case(
        "name with markup",
        ["--plugin", "p.py", "validate", "rwanda_tpn"],
        "identifier",
        {"p.py": _OK_CLASS + "    name = '[/]X'\n    def form_ties(self, m): pass\nPLUGINS = [M]\n"},
    ),
    Case(
        "no form_ties",
        ["--plugin", "p.py", "validate", "rwanda_tpn"],
        "form_ties",
        {"p.py": _OK_CLASS + "    name = 'mine'\nPLUGINS = [M]\n"},
    ),
    Case("binary file", ["--plugin", "p.py", "validate", "rwanda_tpn"], "failed to import", {"p.py": b"\xff\xfe\x00"}),
    Case("no file given", ["--plugin"], "--plugin"),
]
#: ``twinsim priors``: the table of every uncertain input's prior.
PRIORS_CASES = [
    Case("unknown scenario", ["priors", "nowhere_at_all"], "nowhere_at_all"),
    Case("unknown option", ["priors", "rwanda_tpn", "--bogus"], "--bogus"),
    Case("an option it has not", ["priors", "rwanda_tpn", "--set", "learning.gap_ceiling=7"], "--set"),
]

COMMANDS = [
    "run",
    "validate",
    "compare",
    "sweep",
    "sensitivity",
    "decompose",
    "power",
    "calibrate",
    "scenarios",
    "plugin",
    "priors",
]


# ---------------------------------------------------------------- running one case


@dataclass
class Outcome:
    kind: str
    code: int | None
    stdout: str
    stderr: str
    seconds: float


NOBODY = 65534


def _inherited_address_space() -> int:
    """Bytes of address space this process holds (Linux; 0 elsewhere): what a forked child inherits.

    Forked from a test process that has run the whole suite, a child starts with 3 GiB and more of mappings; the cap
    must bound what the case allocates, not what it inherited.
    """
    try:
        return int(Path("/proc/self/statm").read_text().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0


def _child(case: Case, root: Path) -> None:
    os.chdir(root)
    out = os.open(root / ".stdout", os.O_WRONLY | os.O_CREAT)
    err = os.open(root / ".stderr", os.O_WRONLY | os.O_CREAT)
    os.dup2(out, 1)
    os.dup2(err, 2)
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
    sys.stderr = open(2, "w", encoding="utf-8", closefd=False)
    os.setsid()
    cap = _inherited_address_space() + MEMORY_CAP  # a forked child starts with its parent's mappings
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    if case.unprivileged and os.geteuid() == 0:
        os.environ["HOME"] = str(root)
        os.environ["MPLCONFIGDIR"] = str(root / ".mpl")
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    code = 1
    try:
        from twinsim.cli import main

        sys.argv = ["twinsim", *case.args]
        main(case.args)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("twinsim: warning:")]


def classify(case: Case, code: int | None, stdout: str, stderr: str) -> str:
    if code is None:
        return "hang"
    if "Traceback (most recent call last)" in stderr or "internal error" in stderr:
        return "traceback"
    if code == 0:
        return "clean" if case.literal is not None and case.literal in stdout and "\x1b" not in stdout else "accepted"
    if code != 2:
        return "wrong code"
    lines = _error_lines(stderr)
    text = "\n".join(lines)
    usage = "Usage:" in text  # click's usage error (a box naming the option)
    names = case.expect == "\x00" or any(word.lower() in text.lower() for word in case.expect.split("|"))
    if (len(lines) == 1 or usage) and names:
        return "clean"
    return "wrong code"


def run_case(case: Case, timeout: float = TIMEOUT) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="twinsim-bad-") as tmp:
        root = Path(tmp)
        for name, content in case.files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        if case.unprivileged and os.geteuid() == 0:
            for path in [root, *root.rglob("*")]:
                os.chown(path, NOBODY, NOBODY)
        if case.setup is not None:
            case.setup(root)
            if case.unprivileged and os.geteuid() == 0:
                for path in root.rglob("*"):
                    os.chown(path, NOBODY, NOBODY)
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            _child(case, root)
        code: int | None = None
        while time.perf_counter() - start < timeout:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                code = os.waitstatus_to_exitcode(status)
                break
            time.sleep(0.02)
        if code is None:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
        seconds = time.perf_counter() - start
        stdout = (root / ".stdout").read_text(errors="replace") if (root / ".stdout").exists() else ""
        stderr = (root / ".stderr").read_text(errors="replace") if (root / ".stderr").exists() else ""
        for path in root.rglob("*"):  # read-only folders: let the temporary folder go
            if path.is_dir():
                path.chmod(stat.S_IRWXU)
    return Outcome(classify(case, code, stdout, stderr), code, stdout, stderr, seconds)


def warm() -> None:
    """Import (and exercise) twinsim once in this process, so that every forked case starts at once."""
    import importlib

    from twinsim.scenario import load_scenario

    for module in (
        "twinsim.cli",
        "twinsim.experiments.engine",
        "twinsim.experiments.sweep",
        "twinsim.experiments.resources",
        "twinsim.experiments.posterior",
        "twinsim.analysis.compare",
        "twinsim.analysis.calibration",
        "twinsim.analysis.decomposition",
        "twinsim.analysis.power",
        "twinsim.analysis.sensitivity",
        "psutil",
        "pyarrow.parquet",
    ):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError:  # an older twinsim (measuring before a change)
            pass
    load_scenario("rwanda_tpn").with_overrides({"learning.gap_ceiling": 0.5})


KINDS = ["clean", "traceback", "hang", "wrong code", "accepted"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--command", action="append", choices=COMMANDS, help="only this command (repeatable)")
    parser.add_argument("--case", help="one case, COMMAND:SEED")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds before a case counts as a hang")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every case that is not clean")
    ns = parser.parse_args()
    os.environ.setdefault("COLUMNS", "250")
    warm()  # twinsim imported once, before the children fork

    if ns.case:
        command, _, seed = ns.case.partition(":")
        case = cases_for(command)[int(seed)]
        result = run_case(case, ns.timeout)
        print(f"{command}:{case.seed} {case.name}: {result.kind} (exit {result.code}, {result.seconds:.1f} s)")
        print("twinsim " + " ".join(repr(a) if not a or " " in a or len(a) > 60 else a for a in case.args)[:400])
        print("--- stdout\n" + result.stdout[-3000:] + "--- stderr\n" + result.stderr[-3000:])
        return 0
    rows = []
    for command in ns.command or COMMANDS:
        counts = dict.fromkeys(KINDS, 0)
        longest = 0.0
        for case in cases_for(command):
            result = run_case(case, ns.timeout)
            counts[result.kind] += 1
            longest = max(longest, result.seconds)
            if ns.verbose and result.kind != "clean":
                last = (_error_lines(result.stderr) or [""])[-1][:160]
                print(f"  {command}:{case.seed:<3} {result.kind:<10} {case.name} | {last}", flush=True)
        tried = sum(counts.values())
        rows.append((command, tried, counts, longest))
        print(f"{command}: {tried} tried, {counts['clean']} clean", file=sys.stderr, flush=True)
    print("\n| command | tried | clean | traceback | hang | wrong code | accepted silently | share clean | longest |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    total = dict.fromkeys(KINDS, 0)
    for command, tried, counts, longest in rows:
        for k in KINDS:
            total[k] += counts[k]
        cells = " | ".join(str(counts[k]) for k in KINDS)
        print(f"| {command} | {tried} | {cells} | {counts['clean'] / tried:.0%} | {longest:.1f} s |")
    tried = sum(total.values())
    cells = " | ".join(str(total[k]) for k in KINDS)
    slowest = max((row[3] for row in rows), default=0.0)
    print(f"| all | {tried} | {cells} | {total['clean'] / tried:.0%} | {slowest:.1f} s |")
    print(f"(hang: still running after {ns.timeout:.0f} s; longest: the slowest case's seconds)")
    return 0 if total["clean"] == tried else 1


if __name__ == "__main__":
    sys.exit(main())
