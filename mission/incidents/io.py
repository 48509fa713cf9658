"""Bulk import and export of incidents as GeoJSON FeatureCollection and CSV.

Export writes every stored field: GeoJSON Point features (`[lon, lat]`) with the rest as
properties, or CSV with the columns `EXPORT_COLUMNS`. Import reads the same shapes back:

- every row/feature is validated before anything is stored, and any error fails the whole
  import (`InvalidRows`, one entry per problem with the 1-based `row`, the `field` and the
  `message`; CSV errors also give the file `line`);
- `id`, `created_at`, `updated_at` and `closed_at` are bookkeeping of the exporting database and
  are ignored; `reported_at` is required and must carry a timezone offset; `status` is kept
  (default new);
- unknown columns/properties are refused rather than silently dropped.

CSV cells of free text that a spreadsheet would run as a formula (starting with = + - @ tab or
CR) are exported with a leading apostrophe, as is text already starting with one; import strips
exactly that apostrophe again, so text survives the round trip unchanged.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from mission.incidents.domain import check_reported_at
from mission.incidents.models import IncidentImport, IncidentWithContact
from mission.zones.geo import InvalidInput, InvalidRows, check_lon_lat, feature_list, field_errors

MAX_IMPORT_ROWS = 10_000

IMPORT_FIELDS = ("lat", "lon", "category", "severity", "source", "status", "reported_at",
                 "description", "reporter_contact")
EXPORT_ONLY = ("id", "created_at", "updated_at", "closed_at")
EXPORT_COLUMNS = ("id", *IMPORT_FIELDS, "created_at", "updated_at", "closed_at")
REQUIRED = ("lat", "lon", "category", "severity", "source", "reported_at")
TEXT_FIELDS = ("description", "reporter_contact")

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat()


def to_geojson(incidents: Iterable[IncidentWithContact], *,
               include_contact: bool = True) -> dict[str, Any]:
    features = []
    for inc in incidents:
        props: dict[str, Any] = {
            "id": inc.id, "category": inc.category.value, "severity": inc.severity,
            "source": inc.source.value, "status": inc.status.value,
            "reported_at": _iso(inc.reported_at), "description": inc.description,
            "reporter_contact": inc.reporter_contact, "created_at": _iso(inc.created_at),
            "updated_at": _iso(inc.updated_at), "closed_at": _iso(inc.closed_at),
        }
        if not include_contact:
            del props["reporter_contact"]
        features.append({
            "type": "Feature", "id": inc.id,
            "geometry": {"type": "Point", "coordinates": [inc.lon, inc.lat]},
            "properties": props,
        })
    return {"type": "FeatureCollection", "features": features}


def _csv_escape(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_unescape(text: str) -> str:
    if len(text) >= 2 and text[0] == "'" and text[1] in "=+-@\t\r'":
        return text[1:]
    return text


def to_csv(incidents: Iterable[IncidentWithContact], *, include_contact: bool = True) -> str:
    """CSV with EXPORT_COLUMNS (without `reporter_contact` unless `include_contact`)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    drop = EXPORT_COLUMNS.index("reporter_contact")
    w.writerow([c for i, c in enumerate(EXPORT_COLUMNS) if include_contact or i != drop])
    for inc in incidents:
        row = [
            inc.id, repr(inc.lat), repr(inc.lon), inc.category.value, inc.severity,
            inc.source.value, inc.status.value, _iso(inc.reported_at),
            _csv_escape(inc.description), _csv_escape(inc.reporter_contact or ""),
            _iso(inc.created_at), _iso(inc.updated_at), _iso(inc.closed_at) or "",
        ]
        if not include_contact:
            del row[drop]
        w.writerow(row)
    return buf.getvalue()


def _validate(
    raw: dict[str, Any], row: int, now: datetime, errors: list[dict[str, Any]],
    extra: dict[str, Any],
) -> IncidentImport | None:
    try:
        item = IncidentImport.model_validate(raw)
    except ValidationError as e:
        errors.extend({"row": row, **extra, **fe} for fe in field_errors(e))
        return None
    try:
        item.reported_at = check_reported_at(item.reported_at, now)
    except InvalidInput as e:
        errors.append({"row": row, **extra, "field": e.field, "message": e.message})
        return None
    return item


def parse_csv(data: bytes, now: datetime) -> list[IncidentImport]:
    """Validate a CSV import; InvalidInput for a file-level problem (encoding, header),
    InvalidRows for row problems."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InvalidInput("(body)", f"CSV is not UTF-8 (byte {e.start})",
                           error="invalid_csv") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput("(body)", "CSV is empty; the first line must name the columns",
                           error="invalid_csv") from None
    except csv.Error as e:
        raise InvalidInput("(body)", f"CSV header: {e}", error="invalid_csv") from None
    header = [h.strip() for h in header]
    _check_columns(header)
    errors: list[dict[str, Any]] = []
    items: list[IncidentImport] = []
    row = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            errors.append({"row": row + 1, "line": reader.line_num, "field": "(row)",
                           "message": f"unreadable CSV: {e}"})
            break
        if not cells or all(not c.strip() for c in cells):
            continue
        row += 1
        if row > MAX_IMPORT_ROWS:
            raise InvalidInput("(body)", f"more than {MAX_IMPORT_ROWS} rows; split the file",
                               error="too_large")
        extra = {"line": reader.line_num}
        if len(cells) != len(header):
            errors.append({"row": row, **extra, "field": "(row)",
                           "message": f"{len(cells)} cells, but the header has {len(header)} "
                                      "columns"})
            continue
        raw: dict[str, Any] = {}
        for name, cell in zip(header, cells, strict=True):
            if name in EXPORT_ONLY or cell == "":
                continue
            raw[name] = _csv_unescape(cell) if name in TEXT_FIELDS else cell.strip()
        item = _validate(raw, row, now, errors, extra)
        if item is not None:
            items.append(item)
    if errors:
        raise InvalidRows(errors, row)
    return items


def _check_columns(header: Sequence[str]) -> None:
    known = set(IMPORT_FIELDS) | set(EXPORT_ONLY)
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise InvalidInput(name, f"column {name!r} appears twice", error="invalid_csv")
        seen.add(name)
        if name not in known:
            raise InvalidInput(name, f"unknown column {name!r}; columns are "
                                     f"{', '.join(EXPORT_COLUMNS)}", error="invalid_csv")
    for name in REQUIRED:
        if name not in seen:
            raise InvalidInput(name, f"required column {name!r} is missing",
                               error="invalid_csv")


def parse_geojson(data: bytes | Any, now: datetime) -> list[IncidentImport]:
    """Validate a GeoJSON FeatureCollection of Point features (bytes or parsed JSON)."""
    features = feature_list(data, MAX_IMPORT_ROWS, "; split the file")
    errors: list[dict[str, Any]] = []
    items: list[IncidentImport] = []
    for row, feat in enumerate(features, 1):
        raw = _feature_fields(feat, row, errors)
        if raw is None:
            continue
        item = _validate(raw, row, now, errors, {})
        if item is not None:
            items.append(item)
    if errors:
        raise InvalidRows(errors, len(features))
    return items


def _feature_fields(
    feat: Any, row: int, errors: list[dict[str, Any]]
) -> dict[str, Any] | None:
    def fail(field: str, message: str) -> None:
        errors.append({"row": row, "field": field, "message": message})

    if not isinstance(feat, dict) or feat.get("type") != "Feature":
        fail("type", "expected a GeoJSON Feature")
        return None
    geom = feat.get("geometry")
    if not isinstance(geom, dict) or geom.get("type") != "Point":
        got = geom.get("type") if isinstance(geom, dict) else geom
        fail("geometry", f"expected a Point geometry, got {got!r}")
        return None
    coords = geom.get("coordinates")
    if not isinstance(coords, list) or len(coords) not in (2, 3):
        fail("geometry.coordinates", "a Point's coordinates are [lon, lat] (optionally an "
                                     f"altitude, which is ignored), got {coords!r}")
        return None
    try:
        lon, lat = check_lon_lat(coords[0], coords[1], "geometry.coordinates")
    except InvalidInput as e:
        fail(e.field, e.message)
        return None
    props = feat.get("properties") or {}
    if not isinstance(props, dict):
        fail("properties", "properties must be an object")
        return None
    raw: dict[str, Any] = {}
    for name, value in props.items():
        if name in EXPORT_ONLY:
            continue
        if name in ("lat", "lon"):
            fail(name, "the position comes from the geometry; remove the property")
            return None
        if name not in IMPORT_FIELDS:
            fail(name, f"unknown property {name!r}; properties are "
                       f"{', '.join(f for f in EXPORT_COLUMNS if f not in ('lat', 'lon'))}")
            return None
        if value is not None:
            raw[name] = value
    raw["lat"], raw["lon"] = lat, lon
    return raw
