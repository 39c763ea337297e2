"""The redactor: every secret this process holds, in every form the client puts it on the wire.

Strictly private. Sessions register their client secret (with the client id, for the
`client_secret_basic` pair) and every token as it is issued; `redact()` is then applied to
every string that comes from a server (error bodies and their members, header values, reason
phrases, transport error texts) before it is stored or shown, and to log records of httpx,
httpcore, stamina and dailypay_nb. What it masks:

- each known secret however it is escaped: the text is also read with every escape undone
  (percent-encoding in either hex case, repeatedly; JSON's `\\uXXXX`, `\\/` and `\\\\`; Python's
  `\\xXX`; HTML character references), so a secret percent-encoded twice, JSON-escaped by an
  encoder that escapes `+` or `/`, or shown in a repr is found, and the text it came from masked;
- its base64 (standard and URL-safe, at any alignment inside a longer base64 text), and the
  `client_secret_basic` pair `id:secret` raw, form-encoded and in base64;
- any fragment of 8 or more characters of any of those forms (a server may cut, wrap or
  prefix what it echoes);
- credential-looking text for secrets it does not know (`access_token=…`, `Bearer …`);

then it folds control characters and whitespace runs into one space and only then shortens
the text, so a cut never leaves part of a secret behind.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote_plus

from ._secret import MASK, Secret

__all__ = ["FRAGMENT", "REDACTOR", "Redacted", "Redactor", "redact", "redact_tree"]

#: The shortest fragment of a secret that is masked wherever it appears.
FRAGMENT = 8
#: A fast reject before the full scan: every FRAGMENT-window of a text holds a block of BLOCK
#: characters starting at a multiple of STEP (BLOCK + STEP <= FRAGMENT + 1), so a text none of
#: whose blocks at those offsets is in the index holds no fragment either.
BLOCK, STEP = 5, 4
#: Forms shorter than FRAGMENT are masked only as whole words; shorter than this, not at all
#: (masking "x" everywhere would destroy every text, and protects nothing).
_SHORTEST = 4
#: Values remembered (oldest forgotten first): client secrets and the latest tokens.
_MAX_VALUES = 512
#: Values checked in 2xx bodies (the latest ones: what a server could echo right now).
_LIVE = 16

_SECRETISH = re.compile(
    r"(?i)(access_token|refresh_token|id_token|client_secret|secret|password|authorization|api[_-]?key)"
    r"(\"?\s*[:=]\s*\"?)(bearer\s+|basic\s+)?[^\s\"&,;}]+"
)
_SCHEME_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}")
#: `scheme://user:password@`; the password may hold `/` or `:` (a parser would misread it, a reader not).
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s@'\"<>]*@")
_BLANKS = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]+")
#: Text with nothing the credential patterns could match (a request id, a status word).
_PLAIN = re.compile(r"[0-9A-Za-z._-]{0,80}")


def _b64(text: str) -> set[str]:
    """Base64 of `text` at each alignment inside a longer base64 text, both alphabets.

    At an offset of 1 or 2 bytes the first characters also encode what precedes the text and
    the last one what follows it; only the characters that encode `text` alone are kept.
    """
    raw = text.encode("utf-8", "surrogatepass")
    forms = set()
    for shift in range(3):
        data = b"\0" * shift + raw
        for encoded in (base64.b64encode(data), base64.urlsafe_b64encode(data)):
            full = encoded.decode("ascii")
            if shift == 0:
                forms.add(full)
            forms.add(full[-(-8 * shift // 6) : 8 * len(data) // 6])
    return forms


#: A wire form and where the secret's own characters start in it: only fragments from there on
#: are masked, so the client id of a plain `id:secret` pair (not secret) stays readable, even
#: where it touches the secret (its base64 form is masked whole: it is opaque anyway).
Form = tuple[str, int]


def wire_forms(value: str, client_id: str = "") -> frozenset[Form]:
    """The forms of `value` (and, with a client id, of the Basic pair) that are matched as text.

    Escaped forms (percent-encoded, JSON, HTML) need not be listed: the text is also read with
    its escapes undone (see `unescaped`). Base64 cannot be undone piecewise, so it is listed.
    """
    forms = {(value, 0), (value.replace(" ", "+"), 0)}  # quote_plus writes a space as "+"
    for text in {value, quote_plus(value)}:
        forms.update((encoded, 0) for encoded in _b64(text))
    if client_id:
        for prefix, secret in (
            (f"{client_id}:", value),
            (f"{client_id}:", value.replace(" ", "+")),
            (f"{quote_plus(client_id)}:", quote_plus(value)),
        ):
            forms.add((prefix + secret, len(prefix)))
            forms.update((encoded, 0) for encoded in _b64(prefix + secret))  # opaque: masked whole
    return frozenset(form for form in forms if form[0])


#: Escapes undone when a text is read a second time: percent-encoding (a run of bytes, UTF-8),
#: JSON and Python string escapes, HTML character references.
_ESCAPE = re.compile(
    r"(?P<pct>(?:%[0-9A-Fa-f]{2})+)"
    r"|\\u(?P<u>[0-9A-Fa-f]{4})"
    r"|\\x(?P<x>[0-9A-Fa-f]{2})"
    r"|\\(?P<lit>[\\/\"'])"
    r"|&#(?P<dec>[0-9]{1,7});"
    r"|&#[xX](?P<hex>[0-9A-Fa-f]{1,6});"
    r"|&(?P<ent>amp|lt|gt|quot|apos);"
)
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
#: Escapes are undone this many times at most (a doubly percent-encoded value in a repr: 3).
_ROUNDS = 4


def _unescape_match(m: re.Match[str]) -> list[tuple[str, int, int]]:
    """(character, start, end) of what one escape stands for, positions in the escaped text."""
    start, end = m.span()
    if m.group("pct") is not None:
        data = bytes.fromhex(m.group("pct").replace("%", ""))
        try:
            chars = data.decode("utf-8")
        except UnicodeDecodeError:
            return [(chr(b), start + 3 * i, start + 3 * i + 3) for i, b in enumerate(data)]
        out, at = [], start
        for c in chars:
            width = 3 * len(c.encode("utf-8"))
            out.append((c, at, at + width))
            at += width
        return out
    if m.group("lit") is not None:
        return [(m.group("lit"), start, end)]
    if m.group("ent") is not None:
        return [(_ENTITIES[m.group("ent")], start, end)]
    number = m.group("u") or m.group("x") or m.group("hex")
    code = int(number, 16) if number else int(m.group("dec"))
    return [(chr(code) if code <= 0x10FFFF else "\ufffd", start, end)]


def unescaped(text: str) -> Iterator[tuple[str, list[int], list[int]]]:
    """`text` with its escapes undone, once, twice, … (while that changes it), each with where
    every character came from: (text, start in `text`, end in `text`) per character."""
    starts, ends = list(range(len(text))), list(range(1, len(text) + 1))
    for _ in range(_ROUNDS):
        if not _ESCAPE.search(text):
            return
        chars: list[str] = []
        new_starts: list[int] = []
        new_ends: list[int] = []
        last = 0
        for m in _ESCAPE.finditer(text):
            for i in range(last, m.start()):
                chars.append(text[i])
                new_starts.append(starts[i])
                new_ends.append(ends[i])
            for char, a, b in _unescape_match(m):
                chars.append(char)
                new_starts.append(starts[a])
                new_ends.append(ends[b - 1])
            last = m.end()
        for i in range(last, len(text)):
            chars.append(text[i])
            new_starts.append(starts[i])
            new_ends.append(ends[i])
        text, starts, ends = "".join(chars), new_starts, new_ends
        yield text, starts, ends


class Redactor:
    """Masks known secrets (and credential-looking text) in untrusted strings; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: OrderedDict[tuple[str, str], frozenset[Form]] = OrderedDict()
        # fragment (FRAGMENT chars) or block (BLOCK chars) -> how many times registered forms hold it
        self._grams: dict[str, int] = {}
        self._short: re.Pattern[str] | None = None  # forms shorter than FRAGMENT, as whole words
        self._live: tuple[bytes, ...] = ()  # raw and JSON forms of the latest values, for bodies

    def add(self, value: Secret | str | None, *, client_id: str = "") -> None:
        """Remember `value` (a client secret with its client id, or a token) from now on."""
        raw = value.reveal() if isinstance(value, Secret) else value
        if not raw:
            return
        key = (raw, client_id)
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return
            forms = wire_forms(raw, client_id)
            self._values[key] = forms
            self._index(forms, +1)
            while len(self._values) > _MAX_VALUES:
                self._index(self._values.popitem(last=False)[1], -1)
            self._refresh()

    def _index(self, forms: Iterable[Form], delta: int) -> None:
        grams = self._grams
        for form, start in forms:
            if len(form) - start < FRAGMENT:
                continue
            for size in (FRAGMENT, BLOCK):  # a block of BLOCK chars of a masked part lies in a fragment
                for i in range(start, len(form) - size + 1):
                    gram = form[i : i + size]
                    count = grams.get(gram, 0) + delta
                    if count > 0:
                        grams[gram] = count
                    else:
                        grams.pop(gram, None)

    def _refresh(self) -> None:
        short = {f for forms in self._values.values() for f, _ in forms if _SHORTEST <= len(f) < FRAGMENT}
        alternatives = "|".join(re.escape(f) for f in sorted(short, key=len, reverse=True))
        self._short = re.compile(rf"(?<![0-9A-Za-z])(?:{alternatives})(?![0-9A-Za-z])") if short else None
        latest = list(self._values)[-_LIVE:]
        self._live = tuple(
            {
                form.encode("utf-8", "surrogatepass")
                for raw, _ in latest
                for form in (raw, json.dumps(raw)[1:-1])
                if len(form) >= FRAGMENT  # a shorter value would corrupt ordinary data
            }
        )

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and any(value == raw for raw, _ in list(self._values))

    # -- masking -----------------------------------------------------------------------------

    def redact(self, text: object, limit: int | None = 200) -> str:
        """`text` with every secret masked, blanks folded, then cut to `limit` characters."""
        if text is None:
            return ""
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        elif not isinstance(text, str):
            text = str(text)
        if _PLAIN.fullmatch(text):  # the common case on the per-request path: only known secrets
            if self._spans(text):  # (plain text has no escapes to undo)
                text = self._mask_known(text)
            return text if limit is None or len(text) <= limit else text[: max(limit - 1, 0)] + "…"
        if limit is not None and len(text) > 8 * limit + 64:
            text = text[: 8 * limit + 64]  # bounded work; a secret cut here is caught as a fragment
        text = _USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text)
        text = _SECRETISH.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
        text = _SCHEME_CREDENTIAL.sub(lambda m: f"{m.group(1)} {MASK}", text)
        text = self._mask_known(text)
        text = _BLANKS.sub(" ", text).strip()
        if limit is not None and len(text) > limit:
            text = text[: max(limit - 1, 0)] + "…"
        return text

    __call__ = redact

    def _mask_known(self, text: str) -> str:
        spans = self._spans(text)
        for shadow, starts, ends in unescaped(text):  # the same text with its escapes undone
            spans += [(starts[a], ends[b - 1]) for a, b in self._spans(shadow)]
        if not spans:
            return text
        out: list[str] = []
        last = 0
        for start, end in sorted(spans):
            if end <= last:
                continue
            if start > last or not out:
                out += [text[last:start], MASK]
            last = end
        out.append(text[last:])
        return "".join(out)

    def _spans(self, text: str) -> list[tuple[int, int]]:
        """Where known forms (and fragments of 8 or more characters of them) are in `text`."""
        spans = [m.span() for m in self._short.finditer(text)] if self._short is not None else []
        grams = self._grams
        if not grams or len(text) < FRAGMENT:
            return spans
        for j in range(0, len(text) - BLOCK + 1, STEP):
            if text[j : j + BLOCK] in grams:
                break
        else:  # no block of any fragment: no fragment
            return spans
        begin = end = -1
        for i in range(len(text) - FRAGMENT + 1):
            if text[i : i + FRAGMENT] in grams:
                if i > end:
                    if end >= 0:
                        spans.append((begin, end))
                    begin = i
                end = i + FRAGMENT
        if end >= 0:
            spans.append((begin, end))
        return spans

    def scrub_body(self, body: bytes) -> bytes:
        """A 2xx body with the latest secrets (raw or JSON-escaped) masked: cheap, per response."""
        for form in self._live:
            if form in body:
                body = body.replace(form, MASK.encode())
        return body


#: Deeper than this, a redacted JSON value is cut (a server can nest thousands of levels).
MAX_DEPTH = 64


def redact_tree(value: Any, limit: int | None = 2000, depth: int = 0) -> Any:
    """A parsed JSON value (dicts, lists, strings) with every string key and value redacted."""
    if isinstance(value, str):
        return REDACTOR.redact(value, limit=limit)
    if isinstance(value, (dict, list, tuple)) and depth >= MAX_DEPTH:
        return "…"
    if isinstance(value, dict):
        return {
            REDACTOR.redact(str(k), limit=200): redact_tree(v, limit, depth + 1) for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact_tree(v, limit, depth + 1) for v in value]
    return value


#: The one redactor of this process: every session registers its secrets here.
REDACTOR = Redactor()


class Redacted(dict[str, Any]):
    """A dict whose repr has every known secret (and URL password) masked.

    For values that sit in a local on an error path: a traceback that shows locals
    (`%xmode Verbose`, `capture_locals`, `%debug`) prints them with `repr`.
    """

    def __repr__(self) -> str:
        return REDACTOR.redact(dict.__repr__(self), limit=None)


def redact(text: object, *secrets: str | Secret | None, limit: int | None = 200) -> str:
    """Mask every secret of this process in `text` (plus `secrets`, remembered from now on)."""
    for value in secrets:
        REDACTOR.add(value)
    return REDACTOR.redact(text, limit=limit)


class _RedactRecords(logging.Filter):
    """Redacts a log record's message, arguments and extra string attributes in place."""

    _STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: show its template only
            message = str(record.msg)
        record.msg, record.args = REDACTOR.redact(message, limit=None), None
        for name, value in list(vars(record).items()):
            if name not in self._STANDARD and isinstance(value, str):
                setattr(record, name, REDACTOR.redact(value, limit=None))
            elif name not in self._STANDARD and isinstance(value, BaseException):
                setattr(record, name, REDACTOR.redact(repr(value), limit=None))
        return True


#: Loggers that may carry server text or request details (a filter applies to the records of
#: the logger it is attached to, so each one that logs is named).
LOGGERS = (
    "dailypay_nb",
    "stamina",
    "httpx",
    "httpcore.connection",
    "httpcore.connection_pool",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)
_FILTER = _RedactRecords()
for _name in LOGGERS:
    logging.getLogger(_name).addFilter(_FILTER)
