"""Every command output shown in README.md and docs/ is what the command prints today (docs/gen_outputs.py)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs"))

import gen_outputs  # noqa: E402


def test_documented_outputs_are_current():
    stale = {str(path.name): gen_outputs.refresh(path, write=False) for path in gen_outputs.FILES}
    stale = {name: commands for name, commands in stale.items() if commands}
    assert not stale, f"stale command outputs {stale}; refresh with: python docs/gen_outputs.py --write"


def test_every_generated_block_names_a_twinsim_command_or_a_docs_script():
    found = [m["command"] for path in gen_outputs.FILES for m in gen_outputs.blocks(path.read_text())]
    assert len(found) >= 5 and all(command.startswith(("twinsim ", "python docs/")) for command in found)


def test_documented_facts_are_current():
    import facts

    stale = {path.name: facts.refresh(path, write=False) for path in facts.FILES}
    stale = {name: lines for name, lines in stale.items() if lines}
    assert not stale, f"stale numbers in the prose {stale}; refresh with: python docs/facts.py --write"


def test_every_registered_fact_is_stated_somewhere():
    """docs/facts.py registers only the numbers a document states (no dead registrations to keep up)."""
    import facts

    assert set(facts.FACTS) == facts.used()


def test_fact_markers_are_well_formed():
    import facts

    for path in facts.FILES:
        text = path.read_text(encoding="utf-8")
        assert text.count("<!-- fact:") == text.count("<!-- /fact -->") == len(facts.MARKER.findall(text)), path.name
        # a line that starts with an HTML comment starts an HTML block in CommonMark (GitHub): the marker must not
        starts = [line for line in text.splitlines() if line.lstrip().startswith("<!-- fact:")]
        assert not starts, f"{path.name}: a fact marker starts a line: {starts[0][:60]!r}"
