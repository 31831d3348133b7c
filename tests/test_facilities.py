"""A country's own network from its facility list: CSV and DHIS2 exports (twinsim network import)."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

import twinsim
from twinsim.errors import ScenarioError
from twinsim.scenario.facilities import facility_counts, read_dhis2, read_facility_csv

ROOT = Path(__file__).resolve().parent.parent
DHIS2 = ROOT / "examples" / "dhis2" / "organisation_units.json"
KINDS = ["--kind", "District Hospital=hospital", "--kind", "District=district"]


def _twinsim(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "twinsim", *args], check=False, capture_output=True, text=True, cwd=cwd
    )


def test_the_dhis2_example_becomes_a_scenario_that_runs(tmp_path):
    done = _twinsim("network", "import", str(DHIS2), "--out", "country.toml", *KINDS, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    scenario = twinsim.load_scenario(tmp_path / "country.toml")
    assert scenario.population.kinds["hospital"].counts == {"North": 2, "South": 2}
    assert scenario.population.kinds["district"].counts == {"North": 2, "South": 2}
    assert scenario.programme.delivery_model == "tpn_network" and len(scenario.topics) == 9
    with (tmp_path / "country_facilities.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    hospitals = [r for r in rows if r["type"] == "District Hospital"]
    assert len(rows) == 16 and len(hospitals) == 4 and all(r["latitude"] and r["district"] for r in hospitals)
    assert twinsim.simulate(scenario, seed=1).summary()["ties"] >= 0


def test_health_centres_join_when_a_kind_takes_them():
    facilities = read_dhis2(DHIS2, kinds={"Health Centre": "hospital"})
    assert facility_counts(facilities, {"Health Centre": "hospital"}) == {"hospital": {"North": 4, "South": 4}}
    assert {f.district for f in facilities if f.type == "Health Centre"} == {"Lakeside", "Hills", "Valley", "Plains"}


def test_every_bad_csv_row_is_one_line_naming_row_and_column(tmp_path):
    path = tmp_path / "list.csv"
    path.write_text(
        "id,name,type,province,latitude,longitude\n"
        "a,Kibagabaga,Hospital,Kigali,-1.93,30.11\n"
        "b,Muhima,,Kigali,-1.94,30.05\n"
        "c,Ruhengeri,Hospital,North,200,29.6\n"
        "a,Butaro,Hospital,North,-1.4,29.8\n"
    )
    with pytest.raises(ScenarioError) as error:
        read_facility_csv(path)
    lines = str(error.value).splitlines()
    assert len(lines) == 3
    assert "row 3, type" in lines[0] and "row 4, latitude" in lines[1] and "row 5, id" in lines[2]


def test_a_list_without_a_required_column_names_it(tmp_path):
    path = tmp_path / "list.csv"
    path.write_text("name,province\nA,B\n")
    with pytest.raises(ScenarioError, match="no column 'type'"):
        read_facility_csv(path)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ({"units": []}, "no organisationUnits list"),
        ({"organisationUnits": [{"id": "x", "name": "X", "level": 2, "path": "/x"}]}, "row x, path"),
        ({"organisationUnits": [{"id": "x", "name": "X", "level": "two", "path": "/c/x"}]}, "row x, level"),
        ({"organisationUnits": [3]}, "row 0, organisationUnits"),
    ],
)
def test_a_bad_dhis2_export_is_one_line(tmp_path, content, words):
    path = tmp_path / "units.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ScenarioError, match=words):
        read_dhis2(path)


def test_a_kind_the_base_scenario_lacks_is_one_line_and_exit_2(tmp_path):
    done = _twinsim("network", "import", str(DHIS2), "--out", "c.toml", "--kind", "Health Centre=clinic", cwd=tmp_path)
    assert done.returncode == 2 and "has no kind 'clinic'" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "c.toml").exists()
