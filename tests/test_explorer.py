"""The browser explorer: its model-facing functions, the command, and the page in a real (headless) browser."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from twinsim.cli import app
from twinsim.errors import TwinsimError
from twinsim.scenario import load_scenario
from twinsim.viz import explorer as ex

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def base():
    sc = load_scenario("rwanda_tpn")
    controls = ex.controls_for(sc, "rwanda_tpn")
    return sc, controls, ex.default_settings(sc, controls)


def test_controls_cover_the_design_choices_and_learning(base):
    _, controls, settings = base
    keys = {c.key for c in controls}
    assert {
        "delivery_model",
        "programme.twins_per_topic",
        "programme.topics_per_institution",
        "programme.matching",
        "programme.mentor_load_cap",
        "coaching",
        "simulation.months",
        "programme.volume",
        "learning.rates.exchange_visit",
    } <= keys
    delivery = next(c for c in controls if c.key == "delivery_model")
    assert delivery.values[0] == "tpn_network"
    assert {"none", "pair_twinning", "north_south", "external_experts", "hybrid"} <= set(delivery.values)
    assert settings.value("programme.twins_per_topic") == 1 and settings.value("coaching") == "as scheduled"


def test_scenario_for_applies_dotted_keys_coaching_and_length(base):
    _, _, settings = base
    s = settings.with_value("programme.twins_per_topic", 2).with_value("learning.rates.exchange_visit", 0.5)
    s = s.with_value("coaching", "all virtual").with_value("simulation.months", 24)
    sc = ex.scenario_for("rwanda_tpn", s)
    assert sc.programme.twins_per_topic == 2 and sc.learning.rates["exchange_visit"] == 0.5
    assert sc.learning.rates["kickoff_workshop"] == 0.02  # the other rates kept
    schedule = {line.activity: line.months for line in sc.programme.schedule}
    assert "coaching_in_person" not in schedule and len(schedule["coaching_virtual"]) == 3
    assert sc.simulation.months == 24 and max(m for ms in schedule.values() for m in ms) <= 24
    none = ex.scenario_for("rwanda_tpn", s.with_value("coaching", "none"))
    assert not {"coaching_in_person", "coaching_virtual"} & {line.activity for line in none.programme.schedule}
    pairs = ex.scenario_for("rwanda_tpn", settings.with_value("delivery_model", "pair_twinning"))
    assert pairs.programme.delivery_model == "pair_twinning"
    with pytest.raises(TwinsimError, match="delivery model"):
        ex.scenario_for("rwanda_tpn", settings.with_value("delivery_model", "magic"))
    with pytest.raises(TwinsimError):
        ex.scenario_for("rwanda_tpn", settings.with_value("programme.twins_per_topic", 0))


def test_session_steps_to_the_horizon_never_past_it_and_resets(base):
    _, _, settings = base
    session = ex.Session("rwanda_tpn", settings)
    assert session.month == 0 and len(session.history) == 1
    horizon = session.model.months_total
    steps = 0
    while session.step():
        steps += 1
    assert steps == horizon and session.done and session.month == horizon
    assert not session.step() and session.month == horizon  # no IndexError, no month past the horizon
    frame = session.frame()
    assert list(frame["month"]) == list(range(horizon + 1))
    assert frame["cost"].is_monotonic_increasing and frame["cost"].iloc[-1] > 0
    assert frame["selected:accreditation"].iloc[-1] > frame["selected:accreditation"].iloc[0]
    session.reset()
    assert session.month == 0 and len(session.history) == 1 and not session.done


def test_a_changed_setting_replays_to_the_month_shown(base):
    _, _, settings = base
    session = ex.Session("rwanda_tpn", settings)
    for _ in range(5):
        session.step()
    ties_before = session.history[-1]["ties"]
    session.rebuild(settings.with_value("programme.twins_per_topic", 2))
    assert session.month == 5 and len(session.history) == 6
    assert session.history[-1]["ties"] > ties_before
    # the same settings give the same model (one seed in)
    again = ex.Session("rwanda_tpn", settings.with_value("programme.twins_per_topic", 2))
    for _ in range(5):
        again.step()
    np.testing.assert_array_equal(again.model.capacity, session.model.capacity)


def test_snapshot_compares_selected_and_not_selected(base):
    _, _, settings = base
    model = ex.build_model(ex.scenario_for("rwanda_tpn", settings), 3)
    row = ex.snapshot(model)
    assert row["month"] == 0 and row["cost"] == 0 and row["ties"] == 0
    app_ = ex.applicable(model)
    ind = model.indicator()
    t = model.topic_names.index("cbhi_coverage")
    sel = model.selected[:, t] & app_[:, t]
    assert row["selected:cbhi_coverage"] == pytest.approx(ind[sel, t].mean())
    assert row["not_selected:cbhi_coverage"] == pytest.approx(ind[~model.selected[:, t] & app_[:, t], t].mean())


def test_layout_groups_provinces_and_figures_draw(base):
    _, _, settings = base
    session = ex.Session("rwanda_tpn", settings)
    for _ in range(3):
        session.step()
    model = session.model
    pos = ex.network_layout(model.region, model.kind)
    assert pos.shape == (len(model.region), 2)
    centres = np.array([pos[model.region == r].mean(axis=0) for r in np.unique(model.region)])
    spread = max(
        np.linalg.norm(pos[model.region == r] - centres[i], axis=1).max() for i, r in enumerate(np.unique(model.region))
    )
    gaps = [np.linalg.norm(a - b) for i, a in enumerate(centres) for b in centres[i + 1 :]]
    assert 2 * spread < min(gaps)  # provinces do not overlap
    fig = ex.plot_network(model, "accreditation", pos)
    assert "ties" in fig.axes[0].get_title()
    traj = ex.plot_trajectories(session.frame(), "accreditation", 19, model.months_total)
    assert len(traj.axes) == 3


def test_donor_panel_compares_against_none_and_the_other_models(base):
    _, _, settings = base
    scenarios, labels = ex.donor_scenarios("rwanda_tpn", settings.with_value("programme.twins_per_topic", 2))
    assert labels[0] == "none" and labels[1] == "this design (tpn_network)"
    assert scenarios[1].programme.twins_per_topic == 2
    assert all(sc.programme.twins_per_topic == 1 for sc in scenarios[2:])  # others keep their own design
    assert "tpn_network" not in labels and "pair_twinning" in labels
    comparison = ex.donor_comparison("rwanda_tpn", settings, replicates=2)
    table = ex.donor_table(comparison)
    assert list(table["model"]) == labels
    assert len(table) == len(labels) and table["effect (points)"].iloc[0] == "0.00"


def test_explore_without_the_viz_extra_says_which_extra():
    hide = "import sys; sys.modules['solara'] = None; from twinsim.cli import app; app(['explore'])"
    res = subprocess.run([sys.executable, "-c", hide], capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "twinsim[viz]" in res.stderr, res.stderr
    probe = "import sys; sys.modules['solara'] = None; import twinsim.viz.explorer as ex; print(ex.solara)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "None"


def test_explore_refuses_a_missing_scenario():
    pytest.importorskip("solara")
    res = CliRunner().invoke(app, ["explore", "no_such_scenario"])
    assert res.exit_code == 2 and "no such scenario" in res.stderr


# --------------------------------------------------------------------------------------------------
# The page in a real browser


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server():
    pytest.importorskip("solara")
    port = _free_port()
    env = {**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "twinsim", "explore", "rwanda_tpn", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.poll() is not None else ""
                pytest.fail(f"the explorer server did not start: {out}")
            time.sleep(0.3)
        listening = subprocess.run(["ss", "-ltn"], capture_output=True, text=True, check=False).stdout
        yield url, listening, port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _src(page, selector):
    return page.locator(f"{selector} img").first.get_attribute("src")


def _changed(page, selector, before, timeout=15000):
    page.wait_for_function(
        "([sel, before]) => { const i = document.querySelector(sel + ' img'); return i && i.src !== before; }",
        arg=[selector, before],
        timeout=timeout,
    )


def _press(page, selector: str) -> None:
    """Click a control without waiting for it to stop moving (the page redraws while it plays)."""
    button = page.locator(selector)
    button.wait_for(state="visible", timeout=60000)
    button.click(force=True, timeout=60000)


@pytest.mark.browser
def test_page_in_a_real_browser(server, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = _chromium()
    if executable is None:
        pytest.skip("no chromium on this machine (apt-get install chromium; .ci/run installs it)")
    url, listening, port = server
    if listening:  # the server listens on the loopback address only
        assert f"127.0.0.1:{port}" in listening and f"0.0.0.0:{port}" not in listening
    shots = Path(os.environ.get("TWINSIM_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"], timeout=60000)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1050})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url, timeout=60000)
            month = page.locator(".twinsim-month")
            month.filter(has_text="Month 0 of 31").wait_for(timeout=60000)
            page.locator(".twinsim-network img").wait_for(timeout=60000)
            page.locator(".twinsim-trajectories img").wait_for(timeout=60000)
            page.screenshot(path=str(shots / "explorer_start.png"))

            # step: the kickoff forms the ties, month 3's exchange visits move the trajectories
            net, traj = _src(page, ".twinsim-network"), _src(page, ".twinsim-trajectories")
            for k in range(1, 4):
                _press(page, ".twinsim-step")
                month.filter(has_text=f"Month {k} of 31").wait_for(timeout=15000)
            _changed(page, ".twinsim-network", net)
            _changed(page, ".twinsim-trajectories", traj)

            # a slider: twins per topic 1 -> 2 rebuilds the model at month 3 and redraws the network
            slider = page.locator(".v-input", has_text="Twins per topic:").locator("[role=slider]")
            net = _src(page, ".twinsim-network")
            ties = page.locator(".twinsim-status").inner_text()
            slider.focus()
            latencies = []
            for key in ("ArrowRight", "ArrowRight", "ArrowLeft", "ArrowLeft", "ArrowRight"):  # 2, 3, 2, 1, 2
                net = _src(page, ".twinsim-network")
                t0 = time.perf_counter()
                slider.press(key)
                _changed(page, ".twinsim-network", net)
                latencies.append(time.perf_counter() - t0)
                page.wait_for_timeout(200)
            month.filter(has_text="Month 3 of 31").wait_for(timeout=5000)
            assert slider.get_attribute("aria-valuenow") == "2"
            page.wait_for_timeout(300)
            assert page.locator(".twinsim-status").inner_text() != ties
            (shots / "explorer_latency.txt").write_text(" ".join(f"{t:.3f}" for t in latencies) + "\n")
            for _ in range(9):
                _press(page, ".twinsim-step")
            month.filter(has_text="Month 12 of 31").wait_for(timeout=15000)
            page.wait_for_timeout(500)
            page.screenshot(path=str(shots / "explorer_month12.png"))

            # reset rebuilds at month 0 with the slider's value kept
            _press(page, ".twinsim-reset")
            month.filter(has_text="Month 0 of 31").wait_for(timeout=15000)
            assert slider.get_attribute("aria-valuenow") == "2"

            # play runs month after month until paused
            _press(page, ".twinsim-play")
            page.wait_for_function(
                "() => parseInt(document.querySelector('.twinsim-month').innerText.split(' ')[1]) >= 2",
                timeout=60000,
            )
            _press(page, ".twinsim-play")  # pause (renders already queued may still land: wait for calm)
            paused, seen = month.inner_text(), []
            for _ in range(20):
                page.wait_for_timeout(800)
                seen.append(month.inner_text())
                if seen[-1] == paused:
                    break
                paused = seen[-1]
            page.wait_for_timeout(1500)
            assert month.inner_text() == paused, seen

            # the donor panel: a quick comparison and its CE plane
            _press(page, ".twinsim-compare")
            page.locator(".twinsim-ce-plane img").wait_for(timeout=120000)
            page.locator(".twinsim-ce-plane").scroll_into_view_if_needed()
            page.wait_for_timeout(500)
            page.screenshot(path=str(shots / "explorer_donor.png"), full_page=True)
            assert page.get_by_text("this design (tpn_network)").count() >= 1
        finally:
            browser.close()
    assert not errors, "\n".join(errors)
    median = sorted(latencies)[len(latencies) // 2]
    assert median < 1.0, f"slider change to redrawn network took {latencies} s"


def test_the_server_enforces_every_controls_limits():
    """A websocket message is not bound by the slider: the server clamps numbers and refuses unknown choices."""
    import twinsim.analysis.compare as compare_module
    from twinsim import load_scenario
    from twinsim.errors import TwinsimError
    from twinsim.viz import explorer

    scenario = load_scenario("rwanda_tpn")
    controls = explorer.controls_for(scenario, "rwanda_tpn")
    by_key = {c.key: c for c in controls}
    cap = by_key["programme.mentor_load_cap"]
    assert cap.admit(10**9) == cap.high and cap.admit(-5) == cap.low and cap.admit("3") == 3
    assert by_key["programme.volume"].admit(1e12) == by_key["programme.volume"].high
    with pytest.raises(TwinsimError, match="not a number"):
        by_key["programme.volume"].admit("lots")
    with pytest.raises(TwinsimError, match="is not one of"):
        explorer.admit(controls, "programme.matching", "__import__('os')")
    assert explorer.admit(controls, "seed", 10**30) == explorer.MAX_SEED
    with pytest.raises(TwinsimError, match="no such control"):
        explorer.admit(controls, "simulation.months_total", 5)
    seen = {}
    real = compare_module.compare
    compare_module.compare = lambda scenarios, replicates, **kw: seen.setdefault("replicates", replicates)
    try:
        explorer.donor_comparison("rwanda_tpn", explorer.default_settings(scenario, controls), 10**9)
    finally:
        compare_module.compare = real
    assert seen["replicates"] == explorer.MAX_DONOR_REPLICATES


def test_serving_beyond_this_machine_is_said_out_loud(monkeypatch):
    pytest.importorskip("solara")
    from typer.testing import CliRunner

    import twinsim.viz.explorer as explorer_module
    from twinsim.cli import app
    from twinsim.cli.explore import loopback

    assert loopback("127.0.0.1") and loopback("::1") and loopback("localhost")
    assert not loopback("0.0.0.0") and not loopback("192.168.1.5") and not loopback("example.org")
    monkeypatch.setattr(explorer_module, "serve", lambda scenario, host, port: None)
    wide = CliRunner().invoke(app, ["explore", "--host", "0.0.0.0"])
    assert wide.exit_code == 0 and "warning: --host 0.0.0.0 serves the explorer beyond this machine" in wide.stderr
    local = CliRunner().invoke(app, ["explore"])
    assert local.exit_code == 0 and "warning" not in local.stderr
