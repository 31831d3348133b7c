"""``twinsim network import``: a scenario of a country's own network from its facility list (CSV or DHIS2)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from twinsim.cli.common import TableFormatOption, add_row, new_table, say, show_table, user_errors
from twinsim.errors import TwinsimError
from twinsim.scenario import load_scenario
from twinsim.scenario.facilities import facility_counts, read_facilities, scenario_from_facilities, write_facilities

network_app = typer.Typer(help="Networks from a country's own facility list.", no_args_is_help=True)


def parse_kinds(pairs: list[str]) -> dict[str, str]:
    """``["District Hospital=hospital", "level:3=district"]`` -> {facility type: kind}."""
    kinds = {}
    for pair in pairs:
        label, sep, kind = pair.rpartition("=")
        if not sep or not label.strip() or not kind.strip():
            raise TwinsimError(
                f"--kind {pair!r}: expected TYPE=KIND, e.g. 'District Hospital=hospital' or level:3=district"
            )
        kinds[label.strip()] = kind.strip()
    return kinds


def _plain(value: Any) -> Any:
    """TOML holds no null: drop None values (the schema's defaults stand in for them)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value if v is not None]
    return value


EXAMPLE = (
    "\b\nExamples:\n  twinsim network import examples/dhis2/organisation_units.json --out my_country.toml"
    ' --kind "District Hospital=hospital" --kind "District=district"'
)


@network_app.command("import", epilog=EXAMPLE)
@user_errors
def import_network(
    facilities: Annotated[Path, typer.Argument(help="A facility list: CSV, or a DHIS2 organisationUnits JSON export.")],
    out: Annotated[Path, typer.Option("--out", help="The scenario file to write (TOML); the list is kept beside it.")],
    kind: Annotated[
        list[str],
        typer.Option(
            "--kind",
            help="A facility type and the base scenario's kind it becomes, TYPE=KIND (repeatable); a DHIS2 unit's type"
            " is a group name, or level:N.",
        ),
    ],
    base: Annotated[str, typer.Option(help="The scenario whose topics, programme and learning the network keeps.")] = (
        "rwanda_tpn"
    ),
    format: Annotated[str, typer.Option("--format", help="auto (.json: DHIS2), csv or dhis2.")] = "auto",
    province_level: Annotated[int, typer.Option(min=1, max=12, help="DHIS2 level of provinces.")] = 2,
    district_level: Annotated[int, typer.Option(min=1, max=12, help="DHIS2 level of districts.")] = 3,
    name: Annotated[str | None, typer.Option(help="The scenario's name (default: the file's stem).")] = None,
    table_format: TableFormatOption = "text",
) -> None:
    """Write a scenario whose institutions are a country's own facilities, counted by kind and province."""
    import tomlkit

    kinds = parse_kinds(kind)
    if out.suffix != ".toml":
        raise TwinsimError(f"--out {out}: a scenario file ends in .toml")
    listed = read_facilities(
        facilities, format=format, province_level=province_level, district_level=district_level, kinds=kinds
    )
    scenario = load_scenario(base)
    data = scenario_from_facilities(scenario, listed, kinds, name or out.stem)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = f"# Written by: twinsim network import {facilities} (base {base}); facilities: {out.stem}_facilities.csv\n"
    out.write_text(header + tomlkit.dumps(_plain(data)), encoding="utf-8")
    write_facilities(listed, out.with_name(f"{out.stem}_facilities.csv"))
    written = load_scenario(out)  # what was written loads and validates
    counts = facility_counts(listed, kinds)
    provinces = sorted({p for c in counts.values() for p in c})
    table = new_table(f"{written.name}: institutions by kind and province", ("kind", *provinces, "all"))
    for k, per in counts.items():
        add_row(table, k, *(per.get(p, 0) for p in provinces), sum(per.values()))
    show_table(table, table_format)
    left = sum(1 for f in listed if f.type not in kinds)
    say(
        f"Wrote {out} ({written.n_institutions} institutions, {len(written.topics)} topics) from {len(listed)} units"
        f" of {facilities}; {left} of a type no --kind maps were left out.",
        wrap=table_format == "text",
    )
