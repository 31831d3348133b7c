"""Regression pin: the `tpn_network` model's results for one seed (re-recorded when the Rwanda calibration landed).

Refresh only on a deliberate change of the TPN model, with::

    .venv/bin/python tests/test_tpn_regression.py --refresh
"""

import json
import sys
from pathlib import Path

import pytest

import twinsim

BASELINE = Path(__file__).with_name("data") / "tpn_network_seed7.json"


def _record() -> dict:
    result = twinsim.simulate(twinsim.load_scenario("rwanda_tpn"), seed=7, replicate=0)
    return {
        "scenario": "rwanda_tpn",
        "seed": 7,
        "replicate": 0,
        "summary": result.summary(),
        "history_sum": float(result.history.sum()),
        "history_end_mean": float(result.history[-1].mean()),
        "ledger_total": float(result.ledger.total_cost.sum()),
        "ledger_rows": len(result.ledger),
    }


def test_tpn_network_results_for_seed_7_are_unchanged():
    expected = json.loads(BASELINE.read_text())
    got = _record()
    for key in ("history_sum", "history_end_mean", "ledger_total", "ledger_rows"):
        assert got[key] == pytest.approx(expected[key], rel=1e-9), key
    for key, value in expected["summary"].items():  # new summary keys may be added; pinned ones must not move
        assert got["summary"][key] == pytest.approx(value, rel=1e-9, nan_ok=True), key


if __name__ == "__main__" and "--refresh" in sys.argv:
    BASELINE.write_text(json.dumps(_record(), indent=1) + "\n")
