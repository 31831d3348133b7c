"""The browser explorer: its model-facing functions, the command, and the page in a real (headless) browser."""

import contextlib
import itertools
import json
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
    # the CE plane's legend names the models as the table does, "this design (...)" included
    from twinsim.figures.comparison import plot_ce_plane

    fig = plot_ce_plane(comparison)
    legend = [t.get_text().replace("\n", " ") for t in fig.axes[0].get_legend().get_texts()]
    models = [name for name in legend if not name.startswith("willingness")]
    assert models == [label for label in list(table["model"]) if label != "none"], legend
    assert "this design (tpn_network)" in legend


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
# Every control acts, or says why not; every delivery model's ties are drawn


def _result(settings):
    """The run to the horizon: capacity of every institution and topic, cost and ties (what the page shows)."""
    model = ex.build_model(ex.scenario_for("rwanda_tpn", settings), settings.seed)
    while not ex.at_horizon(model):
        model.step()
    return np.asarray(model.capacity).copy(), ex.total_cost(model), ex.ties_formed(model)


def _other_value(control, value):
    """A different admissible value of ``control``."""
    if control.kind == "select":
        return next(v for v in control.values if v != value)
    if control.kind == "int":
        return value + 1 if value + 1 <= control.high else value - 1
    target = control.low + 0.8 * (control.high - control.low)
    return target if abs(target - value) > control.step else control.low + 0.2 * (control.high - control.low)


def test_every_control_changes_the_run_or_is_disabled_with_the_reason(base):
    """For every delivery model x control: an enabled control changes the result, a disabled one states why
    (and indeed changes nothing)."""
    sc, controls, settings = base
    designs = {m: load_scenario(ref) for m, ref in ex.delivery_options(sc, "rwanda_tpn").items()}
    assert set(designs) == {"tpn_network", "pair_twinning", "north_south", "external_experts", "hybrid", "none"}
    wrong, disabled = [], {}
    for model, design in designs.items():
        here = settings.with_value("delivery_model", model)
        before = _result(here)
        for control in controls[1:]:  # the delivery model itself changes the run by definition
            why = ex.why_inert(control, design)
            after = _result(here.with_value(control.key, _other_value(control, here.value(control.key))))
            changed = not np.array_equal(after[0], before[0]) or after[1:] != before[1:]
            if changed == (why is not None):
                wrong.append(f"{model} / {control.label}: changed={changed}, reason={why!r}")
            if why is not None:
                assert why.startswith(f"not used by {model}: ") and len(why) > len(model) + 20
                disabled.setdefault(model, []).append(control.label)
    assert not wrong, "\n".join(wrong)
    assert "Twins per topic" in disabled["pair_twinning"] and "Mentor load cap" in disabled["north_south"]
    assert "tpn_network" not in disabled and "hybrid" not in disabled
    print({model: len(labels) for model, labels in disabled.items()})


def test_north_souths_partners_are_drawn_and_their_ties_counted(base):
    _, _, settings = base
    session = ex.Session("rwanda_tpn", settings.with_value("delivery_model", "north_south").with_value("seed", 0))
    for _ in range(3):
        session.step()
    model, ties = session.model, ex.partner_ties(session.model)
    assert ties is not None and len(ties) > 0 and session.history[-1]["ties"] == len(ties)
    fig = ex.plot_network(model, "accreditation")
    ax = fig.axes[0]
    assert ax.get_title().startswith(f"Month 3: {len(ties)} ties")
    stars = [c for c in ax.collections if c.get_label() == "outside partner (north)"]
    assert len(stars) == 1 and len(stars[0].get_offsets()) == len(np.unique(ties.mentor))
    assert any("outside partners" in t.get_text() for t in ax.texts)
    while session.step():
        pass
    # the same count and cost as the library's run of the bundled north-south scenario (the command line's numbers)
    import twinsim

    run = twinsim.simulate("rwanda_north_south", seed=0)
    assert session.history[-1]["ties"] == run.summary()["ties_formed"] > 0
    assert session.history[-1]["cost"] == pytest.approx(run.total_cost)
    assert ex.partner_ties(ex.build_model(load_scenario("rwanda_tpn"), 0)) is None


def test_four_topics_per_institution_warns_that_no_comparison_group_is_left(base):
    _, _, settings = base
    assert ex.Session("rwanda_tpn", settings).warnings() == []
    session = ex.Session("rwanda_tpn", settings.with_value("programme.topics_per_institution", 4))
    (warning,) = session.warnings()
    assert "no not-selected group" in warning and "district" in warning


def test_play_shows_each_month_before_computing_the_next_and_stops_within_an_interval():
    """play_months waits for each month to be drawn (on another thread, as the page does) and obeys a pause."""
    import threading

    months, drawn, shown, stop = [0], [], threading.Event(), threading.Event()

    def step():
        if months[0] >= 31:
            return False
        months[0] += 1
        return True

    def show():  # the page draws the month a little later, on another thread
        def draw(month=months[0]):
            time.sleep(0.05)
            drawn.append(month)
            if month == 5:
                stop.set()  # the user pauses at month 5
            shown.set()

        threading.Thread(target=draw).start()

    played = ex.play_months(step, show, shown, stop, interval=0.01)
    assert played == 5 and drawn == [1, 2, 3, 4, 5] and months[0] == 5
    stop.clear()
    assert ex.play_months(step, shown.set, shown, stop, interval=0.0) == 26 and months[0] == 31


# --------------------------------------------------------------------------------------------------
# The server protects itself


@pytest.mark.slow
def test_the_server_keeps_its_limits_whatever_the_websocket_sends(monkeypatch):
    """Out-of-range values sent to the page's widgets (what a websocket message does) are clamped on the server,
    and the server's memory stays bounded."""
    solara = pytest.importorskip("solara")
    import ipyvuetify as v
    import psutil

    import twinsim.analysis.compare as compare_module

    seen = []
    monkeypatch.setattr(compare_module, "compare", lambda scenarios, replicates, **kw: seen.append(replicates))
    _, rc = solara.render(solara.AppLayout(children=[ex.Explorer("rwanda_tpn")]), handle_error=False)
    rss = psutil.Process().memory_info().rss  # the page is up: what follows is the hostile client's doing

    def send(widget, value):  # the comm message a browser (or anyone with the websocket) sends
        widget._handle_msg(
            {"content": {"data": {"method": "update", "state": {"v_model": value}, "buffer_paths": []}}, "buffers": []}
        )

    for hostile in (1e308, -(10**9)):
        for slider in rc.find(v.Slider).widgets:
            if not slider.disabled:
                send(slider, hostile)
    labels = [s.label for s in rc.find(v.Slider).widgets]
    assert "Programme length (months): 6" in labels and "Twins per topic: 1" in labels, labels
    for slider in rc.find(v.Slider).widgets:
        send(slider, 10**9)
    assert "Programme length (months): 36" in [s.label for s in rc.find(v.Slider).widgets]
    assert f"Replicates: {ex.MAX_DONOR_REPLICATES}" in [s.label for s in rc.find(v.Slider).widgets]
    rc.find(v.Btn, children=["Compare"]).widget.click()
    deadline = time.monotonic() + 60
    while not seen and time.monotonic() < deadline:
        time.sleep(0.1)
    assert seen == [ex.MAX_DONOR_REPLICATES]
    grown = (psutil.Process().memory_info().rss - rss) / 2**20
    print(f"server memory after hostile values: +{grown:.0f} MB")
    assert grown < 400
    rc.close()


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


@contextlib.contextmanager
def _explorer_server(**env_extra):
    """``twinsim explore rwanda_tpn`` on a free port, as a subprocess; yields (url, listening sockets, port)."""
    pytest.importorskip("solara")
    port = _free_port()
    env = {**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False", **env_extra}
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
        _server_output.append(proc.stdout.read().decode())


_server_output: list[str] = []


@pytest.fixture
def server():
    with _explorer_server(SOLARA_KERNEL_CULL_TIMEOUT="3s") as found:
        yield found


def _resources(url: str) -> dict:
    """Solara's own count of kernels (sessions), threads and websockets."""
    with urllib.request.urlopen(url + "resourcez", timeout=10) as resp:
        return json.load(resp)


def _kernels(url: str) -> int:
    return _resources(url)["kernels"]["total"]


def test_the_server_refuses_other_origins_and_frees_closed_sessions():
    """Websockets only from the page's own origin; a closed page's session is freed after the grace period."""
    websockets = pytest.importorskip("websockets")
    import asyncio
    import uuid

    from websockets.exceptions import InvalidStatus

    with _explorer_server(SOLARA_KERNEL_CULL_TIMEOUT="2s") as (url, _, port):
        channel = f"ws://127.0.0.1:{port}/jupyter/api/kernels/{{}}/channels?session_id={{}}"

        async def open_sessions(n, origin):
            return [
                await websockets.connect(channel.format(uuid.uuid4(), uuid.uuid4()), origin=origin) for _ in range(n)
            ]

        async def scenario():
            with pytest.raises(InvalidStatus, match="403"):
                await open_sessions(1, "http://evil.example")
            baseline = _kernels(url)
            pages = await open_sessions(5, f"http://127.0.0.1:{port}")
            await asyncio.sleep(1)
            opened = _kernels(url)
            for page in pages:
                await page.close()
            deadline = time.monotonic() + 30
            while _kernels(url) > baseline and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
            return baseline, opened, _kernels(url)

        baseline, opened, after = asyncio.run(scenario())
    print(f"kernels: {baseline} before, {opened} with 5 pages open, {after} after they closed")
    assert opened == baseline + 5 and after == baseline
    assert "samesite" not in _server_output[-1].lower(), _server_output[-1]  # no cookie warning per page load


def test_the_served_page_frees_sessions_and_caps_them_by_default():
    pytest.importorskip("solara")
    probe = (
        "from twinsim.viz.explorer import configure_server; from solara.server import settings; configure_server();"
        "print(settings.kernel.cull_timeout, settings.kernel.max_count, settings.main.mode)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLARA_KERNEL_")}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True, env=env
    )
    assert out.stdout.split() == [ex.SESSION_GRACE, str(ex.MAX_SESSIONS), "production"]
    assert ex.same_origin([(b"host", b"127.0.0.1:8765"), (b"origin", b"http://127.0.0.1:8765")])
    assert not ex.same_origin([(b"host", b"127.0.0.1:8765"), (b"origin", b"http://evil.example")])
    assert not ex.same_origin([(b"host", b"127.0.0.1:8765"), (b"origin", b"http://127.0.0.1:9999")])
    assert ex.same_origin([(b"host", b"127.0.0.1:8765")])  # not from a browser page


def _src(page, selector):
    return page.locator(f"{selector} img").first.get_attribute("src")


def _changed(page, selector, before, timeout=30000):
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


def _month(page) -> int:
    return int(page.locator(".twinsim-month").inner_text().split()[1])


def _shots_dir(tmp_path: Path) -> Path:
    shots = tmp_path / "explorer-shots"
    shots.mkdir(parents=True, exist_ok=True)
    return shots


def _publish(shots: Path) -> None:
    """Copy the screenshots to /tmp/explorer-shots when TWINSIM_SHOTS is set, and to TWINSIM_SCREENSHOTS if named."""
    targets = [Path("/tmp/explorer-shots")] if os.environ.get("TWINSIM_SHOTS") else []
    targets += [Path(os.environ["TWINSIM_SCREENSHOTS"])] if os.environ.get("TWINSIM_SCREENSHOTS") else []
    for target in targets:
        target.mkdir(parents=True, exist_ok=True)
        for png in shots.glob("*.png"):
            shutil.copy(png, target / png.name)
        print(f"screenshots copied to {target}")


def _play_and_pause(page, shots: Path) -> tuple[list[int], int]:
    """Play, sampling the month label; a screenshot at month 3; pause at month 5 or later; returns the months seen."""
    _press(page, ".twinsim-play")
    seen: list[int] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        month = _month(page)
        if not seen or month != seen[-1]:
            seen.append(month)
            if month == 3:
                page.screenshot(path=str(shots / "explorer_play_month3.png"))
        if month >= 5:
            break
        page.wait_for_timeout(100)
    _press(page, ".twinsim-play")  # pause
    page.locator(".twinsim-play", has_text="Play").wait_for(timeout=30000)
    page.wait_for_timeout(500)
    return seen, _month(page)


def _choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the selector labelled ``label`` (a Vuetify menu; opened again if a click went astray)."""
    from playwright.sync_api import TimeoutError as Late

    select = page.locator(".v-select", has_text=label).first
    for _ in range(3):
        select.click(timeout=30000)
        item = page.locator(".menuable__content__active .v-list-item", has_text=option).first
        try:
            item.wait_for(state="visible", timeout=10000)
            item.click(timeout=10000)
            page.locator(".v-select", has_text=option).first.wait_for(timeout=10000)
            return
        except Late:  # the menu closed before the click: open it again
            page.keyboard.press("Escape")
    pytest.fail(f"could not choose {option!r} in {label!r}")


@pytest.mark.browser
def test_page_in_a_real_browser(server, tmp_path):
    """Step, a control of each group, play (month by month) and pause, north-south's partners, the donor panel."""
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = _chromium()
    if executable is None:
        pytest.skip("no chromium on this machine (apt-get install chromium; .ci/run installs it)")
    url, listening, port = server
    if listening:  # the server listens on the loopback address only
        assert f"127.0.0.1:{port}" in listening and f"0.0.0.0:{port}" not in listening
    shots = _shots_dir(tmp_path)
    print(f"screenshots: {shots}")
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
                month.filter(has_text=f"Month {k} of 31").wait_for(timeout=30000)
            _changed(page, ".twinsim-network", net)
            _changed(page, ".twinsim-trajectories", traj)

            # a design control: twins per topic 1 -> 2 rebuilds the model at month 3 and redraws the network
            slider = page.locator(".v-input", has_text="Twins per topic:").locator("[role=slider]")
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
            # a learning control: a faster exchange visit moves the trajectories of month 3
            traj = _src(page, ".twinsim-trajectories")
            rate = page.locator(".v-input", has_text="Rate: exchange visit:").locator("[role=slider]")
            rate.focus()
            for _ in range(5):
                rate.press("ArrowRight")
                page.wait_for_timeout(150)
            _changed(page, ".twinsim-trajectories", traj)

            # reset rebuilds at month 0 with the slider's value kept
            _press(page, ".twinsim-reset")
            month.filter(has_text="Month 0 of 31").wait_for(timeout=30000)
            assert slider.get_attribute("aria-valuenow") == "2"

            # play: the month advances one step at a time, and pause stops it where it is
            seen, paused = _play_and_pause(page, shots)
            assert len([m for m in seen if 0 < m < 5]) >= 3, seen
            assert all(b - a <= 2 for a, b in itertools.pairwise(seen)), seen  # steps, not a jump
            page.wait_for_timeout(3000)
            assert _month(page) == paused, (seen, paused)
            page.screenshot(path=str(shots / "explorer_paused.png"))

            # north-south: the outside partners are drawn and counted; the controls it ignores say why
            net = _src(page, ".twinsim-network")
            _choose(page, "Delivery model", "north_south")
            _changed(page, ".twinsim-network", net)
            page.locator(".twinsim-why", has_text="not used by north_south").first.wait_for(timeout=30000)
            status = page.locator(".twinsim-status").inner_text()
            assert " 0 ties" not in status and "ties" in status, status
            assert page.locator(".v-input--is-disabled", has_text="Twins per topic:").count() == 1
            page.wait_for_timeout(500)
            page.screenshot(path=str(shots / "explorer_north_south.png"))

            # the donor panel: a quick comparison (2 replicates) and its CE plane, legend named as the table
            replicates = page.locator(".twinsim-replicates [role=slider]")
            replicates.focus()
            replicates.press("Home")
            page.locator(".twinsim-replicates", has_text="Replicates: 2").wait_for(timeout=15000)
            _press(page, ".twinsim-compare")
            page.locator(".twinsim-ce-plane img").wait_for(timeout=300000)
            page.locator(".twinsim-ce-plane").scroll_into_view_if_needed()
            page.wait_for_timeout(500)
            page.screenshot(path=str(shots / "explorer_donor.png"), full_page=True)
            assert page.get_by_text("this design (north_south)").count() >= 1

            # two more pages, one of them playing, then every page closes: their sessions and threads are freed
            for _ in range(2):
                other = browser.new_page(viewport={"width": 1200, "height": 900})
                other.goto(url, timeout=60000)
                other.locator(".twinsim-month").filter(has_text="Month 0 of 31").wait_for(timeout=60000)
            _press(other, ".twinsim-play")
            other.locator(".twinsim-month").filter(has_text="Month 1 of 31").wait_for(timeout=60000)
            opened, threads_open = _kernels(url), _resources(url)["threads"]["running"]
        finally:
            browser.close()
            _publish(shots)
    deadline = time.monotonic() + 90
    while _kernels(url) > 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(2)  # the play thread sees its cancel at its next wait
    freed = _resources(url)
    print(
        f"kernels: {opened} with 3 pages open (one playing), {freed['kernels']['total']} after they closed; "
        f"threads running: {threads_open} with the pages open, {freed['threads']['running']} after"
    )
    assert opened == 3 and freed["kernels"]["total"] == 0
    assert freed["threads"]["running"] < threads_open, freed["threads"]  # the play thread ended with its page
    assert not errors, "\n".join(errors)
    print(f"slider change to redrawn network: {' '.join(f'{t:.2f}' for t in latencies)} s; play saw months {seen}")


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
