"""The deprecated free-form `filter` query parameter: parser and evaluator.

Grammar (from DailyPay's filtering guide): `field:"value"` exact match, `field~"value"` partial
match, several values as `field:"a","b"`, `\\"` escapes a quote, clauses joined with
`AND`/`and`/`&` or `OR`/`or`, parentheses group; otherwise evaluation is left to right.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ._errors import ApiError

R = TypeVar("R")

_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*(?:\[[A-Za-z0-9_.]+\])?")
_WORD_OPS = {"AND": "and", "and": "and", "OR": "or", "or": "or"}


@dataclass(frozen=True, slots=True)
class Clause:
    field: str
    op: str  # ":" exact or "~" partial
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # "and" | "or"
    left: Node
    right: Node


Node = Clause | Binary


def _bad(detail: str) -> ApiError:
    return ApiError(400, "INVALID_FILTER_QUERY", detail, parameter="filter")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def parse(self) -> Node:
        node = self.expr()
        if self.peek():
            raise _bad(f"Unexpected text at position {self.pos} of the filter.")
        return node

    def expr(self) -> Node:
        node = self.term()
        while True:
            op = self.operator()
            if op is None:
                return node
            node = Binary(op, node, self.term())

    def operator(self) -> str | None:
        char = self.peek()
        if char == "&":
            self.pos += 1
            return "and"
        for word, op in _WORD_OPS.items():
            end = self.pos + len(word)
            if self.text.startswith(word, self.pos) and (
                end == len(self.text) or self.text[end].isspace() or self.text[end] == "("
            ):
                self.pos = end
                return op
        return None

    def term(self) -> Node:
        char = self.peek()
        if char == "(":
            self.pos += 1
            node = self.expr()
            if self.peek() != ")":
                raise _bad("A parenthesis in the filter is not closed.")
            self.pos += 1
            return node
        return self.clause()

    def clause(self) -> Clause:
        self.skip()
        match = _FIELD.match(self.text, self.pos)
        if match is None:
            raise _bad(f"Expected a field name at position {self.pos} of the filter.")
        self.pos = match.end()
        op = self.peek()
        if op not in (":", "~"):
            raise _bad(f"Expected ':' or '~' after {match.group()!r} in the filter.")
        self.pos += 1
        values = [self.string()]
        while self.pos < len(self.text) and self.text[self.pos] == ",":
            self.pos += 1
            values.append(self.string())
        return Clause(match.group(), op, tuple(values))

    def string(self) -> str:
        if self.pos >= len(self.text) or self.text[self.pos] != '"':
            raise _bad(f"Expected a double-quoted value at position {self.pos} of the filter.")
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if char == '"':
                self.pos += 1
                return "".join(out)
            out.append(char)
            self.pos += 1
        raise _bad("A quoted value in the filter is not closed.")


def parse(text: str) -> Node | None:
    """Parse a filter expression; None for an empty one."""
    if not text.strip():
        return None
    return _Parser(text).parse()


def fields(node: Node) -> list[str]:
    """Every field named in the expression."""
    if isinstance(node, Clause):
        return [node.field]
    return fields(node.left) + fields(node.right)


@dataclass(frozen=True, slots=True)
class Field(Generic[R]):
    """How one filterable field reads a record, and what it accepts."""

    get: Callable[[R, str], str | None]
    partial: bool = False
    choices: frozenset[str] | None = None


def _spec(specs: dict[str, Field[R]], name: str) -> Field[R] | None:
    if name in specs:
        return specs[name]
    head, bracket, _ = name.partition("[")
    return specs.get(head + "[]") if bracket else None


def validate(node: Node, specs: dict[str, Field[R]]) -> None:
    """Reject unknown fields, unsupported operations and values outside an enum."""
    if isinstance(node, Binary):
        validate(node.left, specs)
        validate(node.right, specs)
        return
    spec = _spec(specs, node.field)
    if spec is None:
        known = ", ".join(sorted(specs))
        raise ApiError(
            400,
            "INVALID_FILTER_FIELD",
            f"The filter field {node.field!r} is not supported here (supported: {known}).",
            parameter="filter",
        )
    if node.op == "~" and not spec.partial:
        raise ApiError(
            400,
            "INVALID_FIELD_OPERATION",
            f"Partial match (~) is not supported for {node.field!r}.",
            parameter="filter",
        )
    if spec.choices is not None:
        for value in node.values:
            if value not in spec.choices:
                raise ApiError(
                    400,
                    "INVALID_FILTER_VALUE",
                    f"{value!r} is not a valid value for {node.field!r}.",
                    parameter="filter",
                )


def matches(node: Node, record: R, specs: dict[str, Field[R]]) -> bool:
    """Evaluate a validated expression against one record."""
    if isinstance(node, Binary):
        left = matches(node.left, record, specs)
        if node.op == "and":
            return left and matches(node.right, record, specs)
        return left or matches(node.right, record, specs)
    spec = _spec(specs, node.field)
    assert spec is not None
    actual = spec.get(record, node.field)
    if actual is None:
        return False
    if node.op == "~":
        lowered = actual.lower()
        return any(v.lower() in lowered for v in node.values)
    return actual in node.values


def apply(text: str | None, records: list[R], specs: dict[str, Field[R]]) -> list[R]:
    """Filter `records` with the expression in `text` (None or blank: keep all)."""
    node = parse(text) if text is not None else None
    if node is None:
        return records
    validate(node, specs)
    return [r for r in records if matches(node, r, specs)]
