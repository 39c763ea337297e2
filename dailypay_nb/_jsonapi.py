"""JSON:API documents → tidy rows and DataFrames. Pure functions, no I/O.

Strictly private. The frame of a document has one row per resource, and its columns depend
on the resource type only, never on the data: every column the contract declares is there
(filled with missing values where a row lacks it, as in an empty list or a row whose nested
objects are empty), followed by any member the contract does not declare. The order is stable:

1. `id`, `type`;
2. attributes, nested objects flattened to dotted names (`wage_rate.amount`,
   `products.dailypay_card.eligible`), in the contract's order, then unknown ones as met;
3. relationship ids: `<name>_id` for to-one, `<name>_ids` (a list) for to-many, plus
   `<name>_type` where the contract allows several types (a transfer's `origin`);
4. `links.self` (and any other link), only with `links=True`.

A free-form map attribute (a job's `external_identifiers`) gets one column per key the
contract names elsewhere (its listJobs filters), plus any other key as met, after the other
attributes.

Money stays integer minor units (cents) in a nullable `Int64` column, next to a string
`<field>_display` column such as `$72.50` (`72.50 EUR` for other currencies). The contract's
date-time fields become timezone-aware UTC datetimes; unparsable ones become `NaT`.
Lists (`products`, `capabilities.transfer_destination`) stay Python lists in one cell.

A document that is not JSON:API-shaped raises `DocumentError`; missing or null `data` gives an
empty frame; a plain JSON object (the health body) gives a one-row frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from ._exceptions import DocumentError

__all__ = [
    "ERROR_COLUMNS",
    "SHAPES",
    "DocumentError",
    "Shape",
    "errors",
    "errors_frame",
    "format_money",
    "included_frame",
    "records",
    "to_frame",
]

#: Nested objects deeper than this stay one cell (a dict) instead of more columns.
MAX_DEPTH = 16
_JSONAPI_MEMBERS = frozenset({"data", "errors", "included", "meta", "links", "jsonapi"})
_SYMBOLS = {"USD": "$"}


@dataclass(frozen=True, slots=True)
class Shape:
    """What the contract says about one resource type's columns.

    `attributes`: flattened attribute names in order; `money`: (amount, currency) column
    pairs; `datetimes`: date-time columns; `relationships`: names in order; `to_many`: the
    ones whose linkage is a list; `polymorphic`: the ones that get a `<name>_type` column;
    `map_keys`: for attributes that are free-form string maps, the keys the contract names
    elsewhere (a job's `external_identifiers` keys are listJobs filters), which get columns.
    """

    attributes: tuple[str, ...]
    money: tuple[tuple[str, str], ...] = ()
    datetimes: tuple[str, ...] = ()
    relationships: tuple[str, ...] = ()
    to_many: tuple[str, ...] = ()
    polymorphic: tuple[str, ...] = ()
    map_keys: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def columns(self, links: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The declared (attribute, relationship) columns: a frame of this type always has them."""
        maps = dict(self.map_keys)
        # A map's keys are data rather than schema, so their columns follow the declared ones.
        attributes = [name for name in self.attributes if name not in maps]
        attributes += [f"{name}.{key}" for name, keys in self.map_keys for key in keys]
        rels: list[str] = []
        for name in self.relationships:
            rels.append(name + ("_ids" if name in self.to_many else "_id"))
            if name in self.polymorphic:
                rels.append(name + "_type")
        if links:
            attributes.append("links.self")
        return tuple(attributes), tuple(rels)


_PAYCHECK_MONEY = ("total_debited", "gross_earnings", "employer_withholdings", "net_earnings")

#: Resource types of the contract (3.0.0-beta.117), checked against it by the tests.
SHAPES: dict[str, Shape] = {
    "jobs": Shape(
        attributes=(
            "external_identifiers",
            "first_name",
            "last_name",
            "activation_status",
            "wage_rate.amount",
            "wage_rate.currency",
            "wage_rate.frequency",
            "title",
            "department",
            "location",
            "direct_deposit_status",
        ),
        money=(("wage_rate.amount", "wage_rate.currency"),),
        map_keys=(("external_identifiers", ("primary_identifier", "employee_id", "group")),),
        relationships=(
            "person",
            "organization",
            "direct_deposit_default_depository",
            "direct_deposit_default_card",
        ),
    ),
    "accounts": Shape(
        attributes=(
            "name",
            "account_type",
            "subtype",
            "verification_status",
            "balances.available",
            "balances.current",
            "balances.currency",
            "capabilities.transfer_destination",
            "details.first_name",
            "details.last_name",
            "details.routing_number",
            "details.account_number",
            "details.last_four",
            "details.issuer",
            "details.expiration_month",
            "details.expiration_year",
        ),
        money=(
            ("balances.available", "balances.currency"),
            ("balances.current", "balances.currency"),
        ),
        relationships=("person",),
    ),
    "transfers": Shape(
        attributes=(
            "preview",
            "amount",
            "currency",
            "schedule",
            "status",
            "submitted_at",
            "resolved_at",
            "fee",
        ),
        money=(("amount", "currency"), ("fee", "currency")),
        datetimes=("submitted_at", "resolved_at"),
        relationships=(
            "origin",
            "destination",
            "person",
            "estimated_funding_sources",
            "final_funding_sources",
        ),
        to_many=("estimated_funding_sources", "final_funding_sources"),
        polymorphic=("origin",),
    ),
    "funding_sources": Shape(
        attributes=("amount", "currency"),
        money=(("amount", "currency"),),
        relationships=("source", "transfer"),
    ),
    "paychecks": Shape(
        attributes=(
            "status",
            "pay_period_ends_at",
            "pay_period_starts_at",
            "deposit_expected_at",
            *_PAYCHECK_MONEY,
            "currency",
        ),
        money=tuple((name, "currency") for name in _PAYCHECK_MONEY),
        datetimes=("pay_period_ends_at", "pay_period_starts_at", "deposit_expected_at"),
        relationships=("person", "job"),
    ),
    "organizations": Shape(attributes=("name", "products")),
    "people": Shape(
        attributes=(
            "disallow_reason",
            "state_of_residence",
            "products.dailypay_card.eligible",
            "products.dailypay_card.enrolled",
        ),
    ),
}


# --- rows -----------------------------------------------------------------------------------

_POLYMORPHIC = frozenset(name for shape in SHAPES.values() for name in shape.polymorphic)
_SHAPE_COLUMNS = {
    (shape, links): shape.columns(links) for shape in SHAPES.values() for links in (False, True)
}


def _flatten(obj: dict[str, Any], prefix: str, row: dict[str, Any], depth: int) -> None:
    """Copy `obj` into `row`, nested objects as dotted keys; empty objects add nothing."""
    for key, value in obj.items():
        name = prefix + key if type(key) is str else prefix + str(key)
        if type(value) is dict and depth < MAX_DEPTH:
            if value:
                _flatten(value, name + ".", row, depth + 1)
        else:
            row[name] = value


def _linkage(row: dict[str, Any], name: str, rel: Any, rel_cols: dict[str, None]) -> None:
    """Add `<name>_id` (or `<name>_ids`, and `<name>_type` when polymorphic) to `row`."""
    data = rel.get("data") if type(rel) is dict else None
    if type(data) is list:
        col = name + "_ids"
        row[col] = [item.get("id") for item in data if type(item) is dict]
    else:
        col = name + "_id"
        linkage = data if type(data) is dict else {}
        row[col] = linkage.get("id")
        if name in _POLYMORPHIC:
            row[name + "_type"] = linkage.get("type")
            rel_cols.setdefault(name + "_type", None)
    rel_cols.setdefault(col, None)


def _resource_row(resource: Any, where: str, links: bool, rel_cols: dict[str, None]) -> dict[str, Any]:
    """One flat row for a resource object; `rel_cols` collects relationship column names."""
    if type(resource) is not dict:
        raise DocumentError(f"{where} is a {type(resource).__name__}, not a resource object")
    row: dict[str, Any] = {}
    attributes = resource.get("attributes")
    if type(attributes) is dict:
        _flatten(attributes, "", row, 1)
        for reserved in ("id", "type"):
            if reserved in row:
                row["attributes." + reserved] = row.pop(reserved)
    elif attributes is not None:
        raise DocumentError(f"{where}.attributes is a {type(attributes).__name__}, not an object")
    row["id"] = resource.get("id")
    row["type"] = resource.get("type")
    relationships = resource.get("relationships")
    if type(relationships) is dict:
        for name, rel in relationships.items():
            _linkage(row, str(name), rel, rel_cols)
    elif relationships is not None:
        kind = type(relationships).__name__
        raise DocumentError(f"{where}.relationships is a {kind}, not an object")
    if links and type(resource.get("links")) is dict:
        _flatten(resource["links"], "links.", row, 1)
    return row


def _rows(data: Any, where: str, links: bool, rel_cols: dict[str, None]) -> list[dict[str, Any]]:
    if data is None:
        return []
    if type(data) is dict:
        return [_resource_row(data, where, links, rel_cols)]
    if type(data) is not list:
        raise DocumentError(f"{where} is a {type(data).__name__}, not a resource or a list")
    return [_resource_row(item, f"{where}[{i}]", links, rel_cols) for i, item in enumerate(data)]


def records(data: Any, *, links: bool = False) -> list[dict[str, Any]]:
    """Flat rows (plain dicts, no pandas) for a resource object or a list of them."""
    return _rows(data, "data", links, {})


# --- columns --------------------------------------------------------------------------------

_LAST = 1 << 30
_NO_VALUES = np.array([], dtype=object)


def _shapes(rows: list[dict[str, Any]], resource_type: str | None) -> list[Shape]:
    types = dict.fromkeys([resource_type] if resource_type else [])
    types.update(dict.fromkeys(row["type"] for row in rows if type(row["type"]) is str))
    return [SHAPES[t] for t in types if t in SHAPES]


def _column_order(keys: Iterable[str], shapes: list[Shape], rel_cols: Mapping[str, None]) -> list[str]:
    """id, type, attributes (contract order, then as met), relationships, links."""
    top_rank: dict[str, int] = {}
    full_rank: dict[str, int] = {}
    rel_rank: dict[str, int] = {}
    for shape in shapes:
        for name in _SHAPE_COLUMNS[shape, False][0]:
            top_rank.setdefault(name.split(".", 1)[0], len(top_rank))
            full_rank.setdefault(name, len(full_rank))
        for name in shape.relationships:
            rel_rank.setdefault(name, len(rel_rank))
    attrs: list[tuple[int, int, int, str]] = []
    rels: list[tuple[int, int, str]] = []
    links: list[str] = []
    for seen, key in enumerate(keys):
        if key in ("id", "type"):
            continue
        if key in rel_cols:
            base = key.rpartition("_")[0]
            rels.append((rel_rank.get(base, _LAST), seen, key))
        elif key.startswith("links."):
            links.append(key)
        else:
            top = key.split(".", 1)[0]
            attrs.append((top_rank.get(top, _LAST), full_rank.get(key, _LAST), seen, key))
    attrs.sort()
    rels.sort()
    return ["id", "type", *(a[-1] for a in attrs), *(r[-1] for r in rels), *links]


def _declared_columns(shapes: list[Shape], links: bool, rel_cols: dict[str, None]) -> list[str]:
    """The columns the types' contract declares (relationship ones also go into `rel_cols`)."""
    out = ["id", "type"]
    for shape in shapes:
        attributes, rels = _SHAPE_COLUMNS[shape, links]
        out.extend(attributes)
        out.extend(rels)
        rel_cols.update(dict.fromkeys(rels))
    return out


def format_money(amount: Any, currency: Any = "USD") -> str | None:
    """`7250, "USD"` → `"$72.50"`; `"72.50 EUR"` for other currencies; None for non-integers."""
    if type(amount) is not int:
        return None
    sign = "-" if amount < 0 else ""
    units, cents = divmod(abs(amount), 100)
    if type(currency) is not str:
        currency = ""
    symbol = _SYMBOLS.get(currency)
    if symbol is not None:
        return f"{sign}{symbol}{units:,}.{cents:02d}"
    return f"{sign}{units:,}.{cents:02d} {currency}".rstrip()


def _money_array(values: list[Any]) -> Any:
    """A nullable Int64 array when every value is an integer or null; else the values."""
    if all(v is None or type(v) is int for v in values):
        try:
            return pd.array(values, dtype="Int64")
        except (TypeError, ValueError, OverflowError):
            return values
    return values


def _datetime_array(values: list[Any]) -> Any:
    """Timezone-aware UTC datetimes; anything unparsable becomes NaT."""
    text = pd.Series([v if type(v) is str else None for v in values], dtype=object)
    try:
        parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
        return parsed.dt.as_unit("us").array
    except (TypeError, ValueError, OverflowError):
        return values


def _frame_from_rows(
    rows: list[dict[str, Any]], resource_type: str | None, rel_cols: dict[str, None], links: bool
) -> pd.DataFrame:
    shapes = _shapes(rows, resource_type)
    # The contract's columns first, whatever the rows hold (an empty list, or rows whose nested
    # objects are empty, still has them); members the contract does not declare follow as met.
    keys = dict.fromkeys(_declared_columns(shapes, links, rel_cols))
    keys.update(dict.fromkeys(chain.from_iterable(rows)))
    order = _column_order(keys, shapes, rel_cols)
    columns = {key: [row.get(key) for row in rows] for key in order}
    money = {amount: cur for shape in shapes for amount, cur in shape.money if amount in columns}
    datetimes = {name for shape in shapes for name in shape.datetimes if name in columns}
    out: dict[str, Any] = {}
    for key, values in columns.items():
        if key in money:
            out[key] = _money_array(values)
            currencies = columns.get(money[key]) or [None] * len(values)
            display = [format_money(a, c) for a, c in zip(values, currencies, strict=True)]
            out[key + "_display"] = display if rows else _NO_VALUES
        elif key in datetimes:
            out[key] = _datetime_array(values)
        else:
            out[key] = values if rows else _NO_VALUES
    frame: pd.DataFrame = pd.DataFrame(out, index=pd.RangeIndex(len(rows)))
    return frame


# --- documents ------------------------------------------------------------------------------


def _document(doc: Any) -> dict[str, Any] | None:
    if doc is None:
        return None
    if type(doc) is not dict:
        raise DocumentError(f"expected a JSON object, got a {type(doc).__name__}")
    return doc


def _frame(data: Any, where: str, links: bool, resource_type: str | None) -> pd.DataFrame:
    rel_cols: dict[str, None] = {}
    try:
        rows = _rows(data, where, links, rel_cols)
        return _frame_from_rows(rows, resource_type, rel_cols, links)
    except DocumentError:
        raise
    except (TypeError, ValueError, RecursionError, OverflowError) as exc:
        raise DocumentError(f"{where} could not be turned into a frame: {exc}") from exc


def to_frame(doc: Any, *, links: bool = False, resource_type: str | None = None) -> pd.DataFrame:
    """The primary data of a JSON:API document as a DataFrame (see the module docstring).

    `resource_type` names the expected type, so an empty list still gets the contract's
    columns. `None` (an empty body) gives an empty frame.
    """
    document = _document(doc)
    if document is None:
        return _frame(None, "data", links, resource_type)
    if document and not _JSONAPI_MEMBERS.intersection(document):
        return _plain_frame(document)
    return _frame(document.get("data"), "data", links, resource_type)


def included_frame(doc: Any, *, links: bool = False) -> pd.DataFrame:
    """The `included` resources of a document as one frame (empty when there are none)."""
    document = _document(doc)
    return _frame(None if document is None else document.get("included"), "included", links, None)


def _plain_frame(document: dict[str, Any]) -> pd.DataFrame:
    """A JSON object that is not JSON:API (the health body) as a one-row frame."""
    row: dict[str, Any] = {}
    _flatten(document, "", row, 1)
    frame: pd.DataFrame = pd.DataFrame({k: [v] for k, v in row.items()}, index=pd.RangeIndex(1))
    return frame


# --- errors ---------------------------------------------------------------------------------

ERROR_COLUMNS = (
    "status",
    "code",
    "detail",
    "source.pointer",
    "source.parameter",
    "source.header",
    "request_id",
    "trace_id",
)


def errors(doc: Any) -> list[dict[str, Any]]:
    """The error objects of a document (`[]` when there are none or the body is not JSON:API)."""
    if type(doc) is not dict:
        return []
    items = doc.get("errors")
    if type(items) is not list:
        return []
    return [item for item in items if type(item) is dict]


def _get(obj: Mapping[str, Any], key: str, sub: str) -> Any:
    inner = obj.get(key)
    return inner.get(sub) if type(inner) is dict else None


def errors_frame(items: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per error object, columns `ERROR_COLUMNS`."""
    rows = [
        (
            item.get("status"),
            item.get("code"),
            item.get("detail"),
            _get(item, "source", "pointer"),
            _get(item, "source", "parameter"),
            _get(item, "source", "header"),
            _get(item, "meta", "request_id"),
            _get(item, "meta", "trace_id"),
        )
        for item in items
    ]
    frame: pd.DataFrame = pd.DataFrame(rows, columns=list(ERROR_COLUMNS), dtype=object)
    return frame
