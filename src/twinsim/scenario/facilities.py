"""A country's own network from its facility list: a CSV file or a DHIS2 organisation-unit export.

Every country that runs DHIS2 can export its organisation units from the API (``GET /api/organisationUnits.json``
with ``paging=false`` and ``fields=id,name,level,path,parent[id],geometry,organisationUnitGroups[name]``): a JSON
object ``{"organisationUnits": [...]}`` whose units carry their ``level`` (1 the country, then provinces, districts,
facilities, as the country set its levels), their ``path`` of ancestor ids (``/country/province/district/unit``),
their ``geometry`` (a GeoJSON Point ``[longitude, latitude]`` for a facility) and the groups they belong to
(``District Hospital``, ``Health Centre``...). A CSV list has one facility per row: ``name``, ``type``,
``province`` and optionally ``id``, ``district``, ``latitude``, ``longitude``.

Facility types are mapped to the base scenario's kinds (``--kind "District Hospital=hospital"``; a DHIS2 unit is
matched by a group name, or by its level as ``level:3``); the scenario written keeps the base scenario's topics,
programme, learning and costs, with the kinds' counts per province taken from the list. A bad row is one line
naming the row, the column and what is allowed; every bad row is reported, up to 20.
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twinsim.errors import ScenarioError
from twinsim.scenario.schema import MAX_FILE_BYTES, Scenario

__all__ = [
    "Facility",
    "facility_counts",
    "read_dhis2",
    "read_facilities",
    "read_facility_csv",
    "scenario_from_facilities",
]

#: Most bad rows listed before the error stops.
MAX_REPORTED = 20
CSV_REQUIRED = ("name", "type", "province")
CSV_OPTIONAL = ("id", "district", "latitude", "longitude")


@dataclass(frozen=True)
class Facility:
    """One facility (or district team) of the list, with its place in the hierarchy and on the map."""

    id: str
    name: str
    type: str
    province: str
    district: str = ""
    latitude: float | None = None
    longitude: float | None = None


class _Rows:
    """Collects one line per bad row; raises them together."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: list[str] = []

    def bad(self, row: Any, column: str, allowed: str, got: Any) -> None:
        self.lines.append(f"{self.source}: row {row}, {column}: {allowed} (got {str(got)[:60]!r})")

    def check(self) -> None:
        if self.lines:
            more = len(self.lines) - MAX_REPORTED
            shown = self.lines[:MAX_REPORTED] + ([f"... and {more} more bad rows"] if more > 0 else [])
            raise ScenarioError("\n".join(shown))


def _coordinate(rows: _Rows, row: Any, column: str, text: Any, bound: float) -> float | None:
    if text in (None, ""):
        return None
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or abs(value) > bound:
        rows.bad(row, column, f"a number from -{bound:g} to {bound:g} (decimal degrees)", text)
        return None
    return value


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise ScenarioError(f"{path}: no such file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ScenarioError(f"{path}: larger than {MAX_FILE_BYTES:,} bytes; is it a facility list?")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not UTF-8 text") from None


def read_facility_csv(path: str | Path) -> list[Facility]:
    """Facilities of a CSV list (columns ``name``, ``type``, ``province``; ``id``, ``district``, coordinates)."""
    path = Path(path)
    reader = csv.DictReader(_read_text(path).splitlines())
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in CSV_REQUIRED if c not in header]
    if missing:
        raise ScenarioError(
            f"{path}: header: no column {missing[0]!r}; needed: {', '.join(CSV_REQUIRED)} "
            f"(optional: {', '.join(CSV_OPTIONAL)})"
        )
    rows, out, seen = _Rows(str(path)), [], set()
    for number, raw in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        for column in CSV_REQUIRED:
            if not row.get(column):
                rows.bad(number, column, "a name (the column may not be empty)", row.get(column, ""))
        ident = row.get("id") or f"row{number}"
        if ident in seen:
            rows.bad(number, "id", "an id of its own (ids are unique)", ident)
        seen.add(ident)
        lat = _coordinate(rows, number, "latitude", row.get("latitude"), 90)
        lon = _coordinate(rows, number, "longitude", row.get("longitude"), 180)
        if (lat is None) != (lon is None) and not rows.lines:
            rows.bad(number, "latitude/longitude", "both coordinates or neither", f"{lat}, {lon}")
        out.append(Facility(ident, row["name"], row["type"], row["province"], row.get("district", ""), lat, lon))
    rows.check()
    if not out:
        raise ScenarioError(f"{path}: no facilities (a header and no rows)")
    return out


def _valid_unit(rows: _Rows, index: int, unit: Any) -> bool:
    """Whether one organisation unit has an id, a name, a level and a path of one id per level (else: its line)."""
    if not isinstance(unit, dict):
        rows.bad(index, "organisationUnits", "an object", type(unit).__name__)
        return False
    uid, name, level, trail = unit.get("id"), unit.get("name"), unit.get("level"), unit.get("path")
    if not isinstance(uid, str) or not uid:
        rows.bad(index, "id", "the unit's DHIS2 id", uid)
    elif not isinstance(name, str) or not name.strip():
        rows.bad(uid, "name", "a name", name)
    elif not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 12:
        rows.bad(uid, "level", "a whole number from 1 (the country) down", level)
    elif not isinstance(trail, str) or len(trail.strip("/").split("/")) != level or not trail.endswith(uid):
        rows.bad(uid, "path", f"/ancestor/.../{uid} with one id per level ({level})", trail)
    else:
        return True
    return False


def read_dhis2(
    path: str | Path, *, province_level: int = 2, district_level: int = 3, kinds: dict[str, str] | None = None
) -> list[Facility]:
    """Facilities of a DHIS2 organisation-unit export (``{"organisationUnits": [...]}``, JSON from the API).

    Every unit below ``province_level`` whose type is known becomes a facility: its type is the first of its group
    names that ``kinds`` maps, else ``level:N``. Its province and district are its ancestors at those levels.
    """
    path = Path(path)
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    units = data.get("organisationUnits") if isinstance(data, dict) else None
    if not isinstance(units, list):
        raise ScenarioError(
            f"{path}: no organisationUnits list (a DHIS2 export: /api/organisationUnits.json?paging=false)"
        )
    rows, names, parsed = _Rows(str(path)), {}, []
    for index, unit in enumerate(units):
        if _valid_unit(rows, index, unit):
            names[unit["id"]] = unit["name"].strip()
            parsed.append(unit)
    rows.check()
    known, out = kinds or {}, []
    for unit in parsed:
        if unit["level"] <= province_level:
            continue
        groups = [g.get("name") for g in unit.get("organisationUnitGroups") or [] if isinstance(g, dict)]
        kind = next((g for g in groups if g in known), f"level:{unit['level']}")
        ancestors = unit["path"].strip("/").split("/")
        province = names.get(ancestors[province_level - 1], "")
        district = names.get(ancestors[district_level - 1], "") if unit["level"] >= district_level else ""
        lon = lat = None
        geometry = unit.get("geometry")
        if isinstance(geometry, dict) and geometry.get("type") == "Point":
            point = geometry.get("coordinates")
            if isinstance(point, list) and len(point) == 2:
                lon = _coordinate(rows, unit["id"], "geometry.coordinates[0]", point[0], 180)
                lat = _coordinate(rows, unit["id"], "geometry.coordinates[1]", point[1], 90)
        out.append(Facility(unit["id"], names[unit["id"]], kind, province, district, lat, lon))
    rows.check()
    return out


def read_facilities(
    path: str | Path, *, format: str = "auto", province_level: int = 2, district_level: int = 3, kinds: dict[str, str]
) -> list[Facility]:
    """A facility list in either format (``auto``: ``.json`` is a DHIS2 export, anything else CSV)."""
    path = Path(path)
    if format not in ("auto", "csv", "dhis2"):
        raise ScenarioError(f"--format {format!r}: auto, csv or dhis2")
    if format == "dhis2" or (format == "auto" and path.suffix.lower() == ".json"):
        return read_dhis2(path, province_level=province_level, district_level=district_level, kinds=kinds)
    return read_facility_csv(path)


def facility_counts(facilities: list[Facility], kinds: dict[str, str]) -> dict[str, dict[str, int]]:
    """Institutions per kind and province: every facility whose type ``kinds`` maps (others are left out)."""
    counts: dict[str, Counter[str]] = {}
    for f in facilities:
        if f.type in kinds:
            counts.setdefault(kinds[f.type], Counter())[f.province] += 1
    return {kind: dict(sorted(c.items())) for kind, c in counts.items()}


def scenario_from_facilities(
    base: Scenario, facilities: list[Facility], kinds: dict[str, str], name: str
) -> dict[str, Any]:
    """The base scenario's data with its population taken from the facility list (kinds mapped by ``kinds``).

    Kinds of the base that the list does not hold are left out, and so are topics left without a kind.
    """
    unknown = sorted(set(kinds.values()) - set(base.population.kinds))
    if unknown:
        allowed = ", ".join(base.population.kinds)
        raise ScenarioError(
            f"--kind ...={unknown[0]}: the base scenario {base.name!r} has no kind {unknown[0]!r}; kinds: {allowed}"
        )
    counts = facility_counts(facilities, kinds)
    if not counts:
        types = ", ".join(sorted({f.type for f in facilities})[:8])
        raise ScenarioError(f"--kind: no facility type of the list is mapped to a kind; types in the list: {types}")
    data = base.model_dump(mode="json", by_alias=True, exclude_defaults=False)
    total = sum(sum(c.values()) for c in counts.values())
    data["name"] = name
    data["description"] = (
        f"{total} institutions from a facility list ({', '.join(sorted(counts))}); topics, programme, learning and"
        f" costs of {base.name}."
    )
    data["population"]["kinds"] = {
        kind: {**data["population"]["kinds"][kind], "counts": counts[kind]} for kind in counts
    }
    topics = {}
    for topic, spec in data["topics"].items():
        spec["kinds"] = [k for k in spec["kinds"] if k in counts]
        if spec["kinds"]:
            topics[topic] = spec
    data["topics"] = topics
    data["programme"]["settings"] = data["programme"].get("settings") or {}
    return data


def write_facilities(facilities: list[Facility], path: Path) -> None:
    """The facility list as read (one CSV row each), beside the scenario written from it."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name", "type", "province", "district", "latitude", "longitude"])
        for f in facilities:
            writer.writerow([f.id, f.name, f.type, f.province, f.district, f.latitude, f.longitude])
