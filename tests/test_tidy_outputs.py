"""Outputs other tools read: the CSV printed by ``compare --table-format csv`` and every table ``--out`` writes are
tidy (one table per file, one header) and numeric (numbers as numbers, intervals as ``_low``/``_high`` columns)."""

import io

import pandas as pd
import pytest
from typer.testing import CliRunner

from twinsim.cli import app

#: Columns that hold labels, not quantities.
LABELS = {"name", "model", "scenario", "delivery_model", "dominance", "kind", "region", "topic", "activity", "date"}
MODELS = ["rwanda_no_program", "rwanda_tpn"]


def invoke(*args: str) -> str:
    res = CliRunner().invoke(app, list(args))
    assert res.exit_code == 0, res.output
    return res.stdout


def assert_tidy_numeric(frame: pd.DataFrame, where: str) -> None:
    assert len(frame.columns) == len(set(frame.columns)), where
    for column in frame.columns:
        if column in LABELS:
            continue
        assert pd.api.types.is_numeric_dtype(frame[column]), f"{where}: column {column!r} is not numeric"


def test_compare_csv_is_one_numeric_table_with_interval_columns():
    text = invoke("compare", *MODELS, "-r", "4", "-q", "--table-format", "csv")
    table = pd.read_csv(io.StringIO(text))
    assert list(table["name"]) == MODELS  # one row per model, and nothing else: one table
    assert_tidy_numeric(table, "compare --table-format csv")
    for quantity in ("effect", "sustained_effect", "cost"):
        assert {f"{quantity}_low", f"{quantity}_high"} <= set(table.columns)
        assert (table[f"{quantity}_low"] <= table[quantity]).all() and (
            table[quantity] <= table[f"{quantity}_high"]
        ).all()
    assert table.loc[1, "cost"] > 100_000  # a number, not "213,264"
    assert "P(" not in text and "[" not in text  # the probability-best table and formatted intervals are not here


def test_compare_out_writes_one_tidy_numeric_table_per_file(tmp_path):
    invoke("compare", *MODELS, "-r", "4", "-q", "--table-format", "csv", "--out", str(tmp_path / "cmp"))
    files = sorted((tmp_path / "cmp").glob("*.csv"))
    assert {"comparison.csv", "probability_best.csv", "replicates.csv", "ceac.csv"} <= {f.name for f in files}
    for path in files:
        assert_tidy_numeric(pd.read_csv(path), path.name)
    best = pd.read_csv(tmp_path / "cmp" / "probability_best.csv")
    assert best["p_most_effective"].between(0, 1).all()


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_run_out_tables_are_tidy_and_numeric(tmp_path, fmt):
    out = tmp_path / fmt
    invoke("run", "rwanda_tpn", "-r", "2", "-q", "--out", str(out), "--format", fmt)
    files = sorted(out.glob(f"*.{fmt}"))
    assert {f.stem for f in files} == {"panel", "aggregates", "ledger", "summaries"}
    for path in files:
        frame = pd.read_parquet(path) if fmt == "parquet" else pd.read_csv(path)
        assert len(frame) > 0, path.name
        assert_tidy_numeric(frame, path.name)
