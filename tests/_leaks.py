"""The one leak scanner of the test suite: values that must not appear, in every form, anywhere.

`Needles` holds the secrets and tokens of a run. Each is looked for in every form it can travel
or be shown in (raw; percent-encoded once and twice, with and without `/` kept, `quote_plus`,
either hex case; base64 standard and URL-safe, with and without padding; JSON-escaped, including
`\\/` and `\\uXXXX` escapes; HTML-escaped; a client secret also as the `client_secret_basic`
pair `id:secret`, raw, form-encoded and base64) and in each of those with its backslashes
doubled (as a Python repr of it shows), and as any fragment of 8 or more characters of any of
them: a server may cut, wrap or prefix what it echoes. These forms are computed here, not taken
from `dailypay_nb._redact`, so the scan cannot agree with a redactor bug.

A fragment that carries nothing of the secret (the client id's part of a Basic pair) is not
looked for: it is found by computing every form again with a different value of the same
length and dropping what both share. A fragment of a pair must carry 3 or more characters
that depend on the secret.

`Artefacts` collects what a run produced as labelled text (exceptions with their chain and
their frames' locals, DataFrames as CSV and HTML, log records with their extra fields, widget
state, CLI output, notebooks) and `hits()` reports where a needle appears, masked.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import pickle
import re
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

TESTS = str(Path(__file__).resolve().parent)
#: The shortest fragment looked for (shorter ones match by chance in ordinary text).
FRAGMENT = 8
#: A fragment of a Basic pair must carry this many characters of the secret (fewer, beside the
#: client id, meet ordinary text by chance: `client:a` in a scope list, for a secret "a…").
PAIR_LEAST = 3
#: ANSI colour codes (a Verbose traceback colours its text; a code could split a secret).
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _quotes(value: str) -> dict[str, str]:
    forms = {}
    for name, encode in (
        ("quote", lambda s: quote(s, safe="")),
        ("quote/", quote),
        ("quote_plus", quote_plus),
    ):
        once = encode(value)
        twice = encode(once)
        forms |= {
            name: once,
            name + "x2": twice,
            name + "-lower": _lower(once),
            name + "x2-lower": _lower(twice),
        }
    return forms


def _lower(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), text)


def _b64(name: str, text: str) -> dict[str, str]:
    raw = text.encode("utf-8", "surrogatepass")
    std, url = base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()
    return {
        name: std,
        name + "-url": url,
        name + "-bare": std.rstrip("="),
        name + "-url-bare": url.rstrip("="),
    }


def _json_escapes(value: str) -> dict[str, str]:
    dumped = json.dumps(value)[1:-1]
    every = "".join(c if c.isalnum() else f"\\u{ord(c):04x}" for c in value)
    return {
        "json": dumped,
        "json-slash": dumped.replace("/", "\\/"),
        "json-u": every,
        "json-U": every.upper(),
    }


def forms_of(value: str, client_id: str = "") -> dict[str, str]:
    """Every form of `value` (and of the Basic pair, with a client id), by name."""
    forms = {"raw": value, "html": html.escape(value)}
    forms |= _quotes(value) | _b64("base64", value) | _json_escapes(value)
    if client_id:
        for name, pair in (
            ("pair", f"{client_id}:{value}"),
            ("pair-form", f"{quote_plus(client_id)}:{quote_plus(value)}"),
        ):
            forms[name] = pair
            forms |= _b64(name + "-base64", pair)
    forms |= {f"{name}-repr": form.replace("\\", "\\\\") for name, form in forms.items() if "\\" in form}
    return {name: form for name, form in forms.items() if form}


def _other(value: str) -> str:
    """`value` with every letter and digit changed (punctuation kept: alone it betrays nothing)."""
    out = []
    for c in value:
        if c.isdigit():
            out.append(str((int(c) + 5) % 10))
        elif c.isalpha() and c.isascii():
            base = ord("a") if c.islower() else ord("A")
            out.append(chr(base + (ord(c) - base + 13) % 26))
        else:
            out.append(c)
    return "".join(out)


class Needles:
    """The values to look for, with every fragment of every form mapped to what it betrays."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}  # value -> label
        self._fragments: dict[str, tuple[str, str]] = {}  # fragment -> (label, form name)
        self._sizes: set[int] = set()
        #: Fragments longer than the shortest size, by their first `FRAGMENT` characters: a text
        #: is cut into pieces of one size only, and a longer fragment checked where its start is.
        self._longer: dict[str, list[str]] = {}

    def add(self, value: str, label: str, *, client_id: str = "", fragment: int = FRAGMENT) -> None:
        """Look for `value` (with a client id: a client secret, and its Basic pair) from now on.

        `fragment` is the shortest piece looked for: 8 by default; a value of hex digits only
        needs more (16), or it would be met by chance in the hex ids of a notebook's widgets.
        """
        if not value or value in self.values:
            return
        if len(value) < fragment:
            raise ValueError(f"{label}: a value shorter than {fragment} characters cannot be scanned for")
        if fragment < FRAGMENT:
            raise ValueError(f"{label}: fragments shorter than {FRAGMENT} characters match by chance")
        self.values[value] = label
        self._sizes.add(fragment)
        others = forms_of(_other(value), client_id)
        benign = set()
        for form in others.values():
            benign |= _grams(form, fragment)
        for name, form in forms_of(value, client_id).items():
            other = others.get(name, "")
            least = PAIR_LEAST if name.startswith("pair") and len(other) == len(form) else 0
            for i in range(len(form) - fragment + 1):
                gram = form[i : i + fragment]
                if gram in benign:
                    continue
                if least and sum(a != b for a, b in zip(gram, other[i : i + fragment], strict=True)) < least:
                    continue  # mostly the client id: "client:a" betrays one character
                if gram not in self._fragments:
                    self._fragments[gram] = (label, name)
                    if fragment > FRAGMENT:
                        self._longer.setdefault(gram[:FRAGMENT], []).append(gram)

    def __len__(self) -> int:
        return len(self.values)

    def find(self, text: str) -> list[tuple[str, str, int]]:
        """(label, form, position) of each needle fragment in `text` (first per label and form)."""
        found: dict[tuple[str, str], int] = {}
        grams = _grams(text, FRAGMENT)  # one pass over the text, whatever the sizes
        hits = list(grams & self._fragments.keys())
        for start in grams & self._longer.keys():
            hits += [gram for gram in self._longer[start] if gram in text]
        for gram in hits:
            key = self._fragments[gram]
            at = text.find(gram)
            found[key] = min(at, found.get(key, at))
        return [(label, form, at) for (label, form), at in sorted(found.items(), key=lambda kv: kv[1])]

    def mask(self, text: str) -> str:
        """`text` with every needle fragment replaced (for a report that must not leak itself)."""
        grams = self._fragments
        out, i = [], 0
        while i < len(text):
            size = next((n for n in sorted(self._sizes) if text[i : i + n] in grams), 0)
            out.append(text[i] if not size else "<*>")
            i += size or 1
        return "".join(out)


def _grams(text: str, size: int = FRAGMENT) -> set[str]:
    return {text[i : i + size] for i in range(len(text) - size + 1)}


class Artefacts:
    """What a run produced, as labelled text, and the needles to look for in it."""

    def __init__(self, needles: Needles | None = None, patterns: Iterable[re.Pattern[str]] = ()) -> None:
        self.needles = needles or Needles()
        #: Shapes of values the run could not collect (a sandbox token: `dpo_…`).
        self.patterns = list(patterns)
        self.items: list[tuple[str, str]] = []
        self.missing: list[str] = []

    def add(self, label: str, value: Any) -> None:
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        elif not isinstance(value, str):
            value = repr(value)
        # Without its colour codes (which could split a secret); that text holds all the other does.
        self.items.append((label, ANSI.sub("", value)))

    def json(self, label: str, text: str, *, lines: bool = False) -> None:
        """A JSON document (a notebook; IOPub messages, one per line): every string in it, decoded
        (so an escaped colour code hides nothing; a string holds all its JSON text could)."""
        documents = (
            [json.loads(line) for line in text.splitlines() if line.strip()] if lines else [json.loads(text)]
        )
        self.add(label + " (decoded)", "\n".join(s for doc in documents for s in _strings(doc)))

    def frame(self, label: str, frame: Any) -> None:
        """A DataFrame as a user sees or saves it: CSV, HTML, text, repr, HTML repr, pickle, attrs."""
        self.add(label + ".to_csv", frame.to_csv())
        self.add(label + ".to_html", frame.to_html())
        self.add(label + ".to_string", frame.to_string())
        self.add(label + "._repr_html_", frame._repr_html_() or "")
        self.add(label + ".pickle", pickle.dumps(frame))
        self.add(label + ".attrs", repr(frame.attrs))

    def error(self, label: str, exc: BaseException, *, frames: bool = True) -> None:
        """An exception and every one in its chain: message, repr, attributes, its DataFrames, and
        (unless `frames=False`) its frames with their locals (`TracebackException(capture_locals=True)`)."""
        for depth, link in enumerate(chain(exc)):
            at = f"{label}.chain[{depth}]" if depth else label
            self.add(at + ".str", str(link))
            self.add(at + ".repr", repr(link))
            self.add(at + ".vars", {k: repr(v) for k, v in vars(link).items()})
            self.add(at + ".args", link.args)
            errors_frame = getattr(link, "errors_frame", None)
            if errors_frame is not None and not callable(errors_frame):
                self.frame(at + ".errors_frame", errors_frame)
        self.add(label + ".traceback", "".join(traceback.format_exception(exc)))
        if frames:
            self.add(label + ".locals", with_locals(exc))

    def expect(self, label: str, call: Callable[[], Any], *errors: type[BaseException]) -> Any:
        """Run call(); record the exception if it raises one of `errors` (others fail the test)."""
        try:
            return call()
        except errors as exc:
            self.error(label, exc)
            return None

    def hits(self) -> list[str]:
        """Where a needle or a pattern appears: label, what it is, and its context (masked)."""
        found = []
        for label, text in self.items:
            where = [(f"{what} ({form})", at, 16) for what, form, at in self.needles.find(text)]
            for pattern in self.patterns:
                where += [(f"/{pattern.pattern}/", m.start(), len(m.group())) for m in pattern.finditer(text)]
            for what, at, size in where[:3]:
                context = text[max(0, at - 100) : at + size + 60]
                for pattern in self.patterns:
                    context = pattern.sub("<pattern>", context)
                found.append(f"{label}: {what}: {self.needles.mask(context)!r}")
        return found

    def assert_clean(self) -> None:
        hits = self.hits()
        assert not hits, f"{len(hits)} leak(s):\n" + "\n".join(hits[:40])


def _strings(value: Any) -> Iterator[str]:
    """Every string in a parsed JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def with_locals(exc: BaseException) -> str:
    """`exc` formatted with the locals of every frame (`capture_locals=True`), but not of the
    tests' own frames: a test may hold a secret; the question is whether dailypay_nb does."""
    shown = traceback.TracebackException.from_exception(exc, capture_locals=True)
    todo, seen = [shown], set()
    while todo:
        link = todo.pop()
        if id(link) in seen:
            continue
        seen.add(id(link))
        for frame in link.stack:
            if frame.filename.startswith(TESTS):
                frame.locals = None
        todo += [e for e in (link.__cause__, link.__context__) if e is not None]
        todo += list(getattr(link, "exceptions", None) or ())
    return "".join(shown.format())


def chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and every exception it was raised from or during (each once)."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        link = todo.pop(0)
        if id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        todo += [e for e in (link.__cause__, link.__context__) if e is not None]
        todo += list(getattr(link, "exceptions", ()))


def record_text(record: logging.LogRecord) -> str:
    """A log record as any handler could show it: its message, its arguments, every attribute
    (`extra` fields included) and its traceback."""
    try:
        message = record.getMessage()
    except Exception:
        message = str(record.msg)
    parts = [f"{record.name} {record.levelname} {message}", repr(record.args), repr(vars(record))]
    if record.exc_info and record.exc_info[1] is not None:
        parts.append("".join(traceback.format_exception(*record.exc_info)))
    return "\n".join(parts)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(record_text(record))


@contextmanager
def every_log_record() -> Iterator[list[str]]:
    """The root logger (and every logger that does not propagate) at DEBUG into one list: the text
    of every record, its arguments and extra fields. Levels are restored afterwards."""
    handler = _Capture()
    root = logging.getLogger()
    loggers = [root, *(lg for lg in root.manager.loggerDict.values() if isinstance(lg, logging.Logger))]
    levels = {lg: lg.level for lg in loggers}
    alone = [lg for lg in loggers if not lg.propagate]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    root.addHandler(handler)
    for lg in alone:
        lg.addHandler(handler)
    try:
        yield handler.texts
    finally:
        root.removeHandler(handler)
        for lg in alone:
            lg.removeHandler(handler)
        for lg, level in levels.items():
            lg.setLevel(level)


def widget_states(widget: Any) -> list[str]:
    """The synced state of a widget and of every widget it references (children, layouts, styles),
    each distinct state once (most layouts and styles are alike: one scan of a text is enough)."""
    import ipywidgets

    seen: set[int] = set()
    out: list[str] = []
    todo = [widget]
    while todo:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        out.append(json.dumps(item.get_state(), default=str))
        for key in item.keys:
            value = getattr(item, key)
            for child in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(child, ipywidgets.Widget):
                    todo.append(child)
    return list(dict.fromkeys(out))
