"""Scenario loading, extends, overrides and the errors users see."""

import textwrap

import pytest

from twinsim import ScenarioError, load_scenario
from twinsim.scenario import bundled_scenarios, plausible_range

RWANDA = bundled_scenarios()["rwanda_tpn"]


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_rwanda_matches_the_published_design():
    sc = load_scenario("rwanda_tpn")
    counts = {k: sum(v.counts.values()) for k, v in sc.population.kinds.items()}
    assert counts == {"hospital": 10, "district": 30}
    assert sc.simulation.months == 19 and sc.simulation.start == "2021-08"
    fired = {s.activity: len(s.months) for s in sc.programme.schedule}
    assert fired["kickoff_workshop"] == 1
    assert fired["coaching_virtual"] == 1 and fired["coaching_in_person"] == 2
    assert fired["learning_workshop_virtual"] == 4
    assert fired["provincial_learning_event"] == 1 and len(sc.regions) == 4  # one event per province
    assert "hospital" in sc.topics["accreditation"].kinds and "district" in sc.topics["cbhi_coverage"].kinds
    for kind in ("hospital", "district"):
        assert sum(kind in t.kinds for t in sc.topics.values()) >= 4


def test_extends_merges_tables_and_overrides_values(tmp_path):
    child = write(
        tmp_path,
        "child.toml",
        f"""
        extends = "{RWANDA}"
        name = "child"
        [programme]
        twins_per_topic = 2
        [learning.rates]
        exchange_visit = 0.5
    """,
    )
    sc = load_scenario(child)
    assert sc.name == "child" and sc.programme.twins_per_topic == 2
    assert sc.learning.rates["exchange_visit"] == 0.5
    assert sc.learning.rates["coaching_in_person"] == load_scenario("rwanda_tpn").learning.rates["coaching_in_person"]


def test_overrides_are_typed_and_validated():
    sc = load_scenario("rwanda_tpn", ["programme.twins_per_topic=2", "learning.forgetting=0.05"])
    assert sc.programme.twins_per_topic == 2 and sc.learning.forgetting == 0.05


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("programme.twins_per_topic=0", "programme.twins_per_topic"),
        ("programme.twin_per_topic=2", "unknown key 'programme.twin_per_topic'"),
        ("nosuch.key=1", "unknown key 'nosuch'"),
        ("learning.forgetting=abc", "learning.forgetting"),
        ("programme.matching=by_magic", "allowed: "),
        ("learning.rates.exchnge_visit=0.2", "unknown activity 'exchnge_visit'"),
        ("programme.twins_per_topic", "expected section.key=value"),
    ],
)
def test_bad_overrides_name_the_key_and_what_is_allowed(override, expected):
    with pytest.raises(ScenarioError, match=r"^--set") as err:
        load_scenario("rwanda_tpn", [override])
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("[simulation]\nmonths = -3\n", "simulation.months"),
        ("[simulation]\nmonhts = 3\n", "unknown key 'simulation.monhts'; valid keys: followup_months, months"),
        ("[simulation]\nstart = 'August'\n", "simulation.start: must be a calendar month"),
        ("[programme]\ntopics_per_institution = 'two'\n", "programme.topics_per_institution"),
        ("[[programme.schedule]]\nactivity = 'party'\nmonths = [2]\n", "unknown activity 'party'"),
        ("[[programme.schedule]]\nactivity = 'exchange_visit'\nmonths = [40]\n", "after the programme ends"),
        ("[topics.accreditation]\nkinds = ['clinic']\n", "unknown kind 'clinic'"),
        ("[learning]\ngap_ceiling = nan\n", "learning.gap_ceiling"),
    ],
)
def test_broken_files_name_the_file_and_key(tmp_path, body, expected):
    path = write(tmp_path, "broken.toml", f'extends = "{RWANDA}"\n{body}')
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    message = str(err.value)
    assert message.startswith(str(path)) and expected in message and "\n" not in message


def test_missing_file_lists_bundled_scenarios():
    with pytest.raises(ScenarioError, match=r"no such scenario file or bundled scenario.*bundled: .*rwanda_tpn"):
        load_scenario("does_not_exist.toml")


def test_invalid_toml_and_circular_extends(tmp_path):
    bad = write(tmp_path, "bad.toml", "name = \n")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(bad)
    write(tmp_path, "a.toml", 'extends = "b.toml"\n')
    write(tmp_path, "b.toml", 'extends = "a.toml"\n')
    with pytest.raises(ScenarioError, match="circular"):
        load_scenario(tmp_path / "a.toml")
    orphan = write(tmp_path, "orphan.toml", 'extends = "missing.toml"\n')
    with pytest.raises(ScenarioError, match=r"orphan\.toml: extends: no such file"):
        load_scenario(orphan)


def test_plausible_ranges_come_from_the_schema():
    assert plausible_range("learning.similarity_weight") == (0.0, 3.0)
    assert plausible_range("simulation.start") is None
    assert plausible_range("population.kinds.hospital.leadership_mean") == (0.3, 0.9)


def test_numbers_written_as_strings_are_rejected(tmp_path):
    path = tmp_path / "string_months.toml"
    path.write_text('extends = "rwanda_tpn.toml"\n[simulation]\nmonths = "24"\n')
    with pytest.raises(ScenarioError, match=r"simulation.months: Input should be a valid integer \(got '24'\)"):
        load_scenario(path)


def test_numpy_numbers_are_accepted_as_overrides():
    import numpy as np

    scenario = load_scenario("rwanda_tpn").with_overrides({"programme.twins_per_topic": np.int64(2)})
    assert scenario.programme.twins_per_topic == 2 and type(scenario.programme.twins_per_topic) is int


def test_assigned_adds_a_rate_the_scenario_derives_otherwise():
    """Parameter draws with mechanisms.delivery_modes off draw coaching_virtual's own rate (was a KeyError)."""
    sc = load_scenario("rwanda_tpn", ["mechanisms.delivery_modes=false"])
    assert "coaching_virtual" not in sc.learning.rates
    assert sc.assigned({"learning.rates.coaching_virtual": 0.25}).learning.rates["coaching_virtual"] == 0.25


def test_a_section_set_as_a_table_merges_its_keys_and_an_empty_one_is_refused():
    import twinsim
    from twinsim.errors import ScenarioError

    merged = twinsim.load_scenario("rwanda_tpn", ["simulation={seed=5}"])
    assert merged.simulation.seed == 5 and merged.simulation.posterior == "rwanda_tpn"  # the other keys stay
    with pytest.raises(ScenarioError, match=r"simulation=\{\} changes nothing"):
        twinsim.load_scenario("rwanda_tpn", ["simulation={}"])
