"""`SecretInput`: a password field whose typed value never becomes widget state, a log line or a
traceback local.

The browser sends a typed value as a comm message `{"method": "update", "state": {"value": …}}`.
`SecretInput` takes the value out of that message before ipywidgets sees it, in place (every
frame above holds the same dict, so a `%xmode Verbose` traceback shows no trace of it either),
wraps it in a `Secret` and hands it to `on_secret`. The `value` trait stays empty in the kernel,
is never sent to the browser non-empty, and the browser's field is emptied at once.

Loggers see the message before the field does: ipykernel logs each shell message's content at
DEBUG, the `comm` package logs each comm message. A log-record factory masks messages
addressed to a secret field in every record of every logger, whatever its level or handlers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as w
from traitlets import Unicode

from .._secret import Secret

__all__ = ["MASK", "SecretInput", "scrub", "scrub_args"]

log = logging.getLogger("dailypay_nb")

MASK = "<message to a secret field: not logged>"

#: Comm ids of open SecretInputs: messages to them carry typed secrets.
_SECRET_COMMS: set[str] = set()
_QUOTED_VALUE = re.compile(r"""(["']value["']\s*:\s*)(["'])(?:\\.|(?!\2).)*\2""")
_MAX_DEPTH = 6


def _addressed_to_secret(value: Mapping[Any, Any]) -> bool:
    return value.get("comm_id") in _SECRET_COMMS and "data" in value


def scrub(value: Any, depth: int = 0) -> Any:
    """`value` with every message to a secret field masked: the same object when nothing is
    masked, else a copy. Walks dicts, lists and tuples; strings that mention a secret field's
    comm id lose their quoted `value` entries."""
    if not _SECRET_COMMS or depth > _MAX_DEPTH:
        return value
    if isinstance(value, Mapping):
        if _addressed_to_secret(value):
            return {**value, "data": MASK}
        changed = {k: scrub(v, depth + 1) for k, v in value.items()}
        return changed if any(changed[k] is not value[k] for k in value) else value
    if isinstance(value, (list, tuple)):
        items = [scrub(v, depth + 1) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return type(value)(items) if isinstance(value, tuple) else items
    if isinstance(value, str) and any(cid in value for cid in _SECRET_COMMS):
        return _QUOTED_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}{m.group(2)}", value)
    return value


def _mask_updates(value: Any, depth: int = 0) -> Any:
    """`value` with the state of every widget update in it masked (a copy when any is)."""
    if depth > _MAX_DEPTH:
        return value
    if isinstance(value, Mapping):
        if "state" in value and value.get("method") in ("update", "echo_update"):
            return {**value, "state": MASK}
        changed = {k: _mask_updates(v, depth + 1) for k, v in value.items()}
        return changed if any(changed[k] is not value[k] for k in value) else value
    if isinstance(value, (list, tuple)):
        items = [_mask_updates(v, depth + 1) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return type(value)(items) if isinstance(value, tuple) else items
    if isinstance(value, str):
        return _QUOTED_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}{m.group(2)}", value)
    return value


def scrub_args(args: Any) -> Any:
    """A log record's arguments, scrubbed. When one argument is a secret field's comm id (the
    `comm` package logs `handle_msg[%s](%s)`), every widget update among the others is masked,
    whatever shape the message has; otherwise `scrub`."""
    if isinstance(args, tuple) and any(isinstance(a, str) and a in _SECRET_COMMS for a in args):
        return tuple(a if isinstance(a, str) and a in _SECRET_COMMS else _mask_updates(a) for a in args)
    return scrub(args)


class _ScrubbingRecordFactory:
    """Wraps the current log-record factory: each new record's message and arguments are scrubbed."""

    def __init__(self, inner: Callable[..., logging.LogRecord]) -> None:
        self.inner = inner

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        if _SECRET_COMMS:
            record.msg = scrub(record.msg)
            if record.args:
                record.args = scrub_args(record.args)
        return record


def _install_record_factory() -> None:
    current = logging.getLogRecordFactory()
    if not isinstance(current, _ScrubbingRecordFactory):
        logging.setLogRecordFactory(_ScrubbingRecordFactory(current))


_install_record_factory()


class SecretInput(w.Password):  # type: ignore[misc]
    """A Password field that hands each typed value to `on_secret` as a `Secret` and keeps none.

    A value assigned from Python (`field.value = "…"`) is handed over the same way; a non-empty
    value is never synced to the browser.
    """

    value = Unicode("", help="always empty: typed values go to on_secret").tag(sync=True, echo_update=False)

    def __init__(self, on_secret: Callable[[Secret], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_secret = on_secret
        self.observe(self._on_value, "value")

    def open(self) -> None:
        super().open()
        if self.comm is not None:
            _SECRET_COMMS.add(self.comm.comm_id)

    def close(self) -> None:
        comm = self.comm
        super().close()
        if comm is not None:
            _SECRET_COMMS.discard(comm.comm_id)

    def _handle_msg(self, msg: dict[str, Any]) -> None:
        secret = None
        try:
            data = msg["content"]["data"]
            state = data.get("state") if data.get("method") == "update" else None
            if isinstance(state, dict) and "value" in state:
                typed = state.pop("value")  # in place: no frame above keeps the typed text
                secret = Secret(typed if isinstance(typed, str) else "", label="client_secret")
                del typed
        except Exception as exc:  # a malformed message: say so without showing it
            log.warning("secret field: unreadable message (%s)", type(exc).__name__)
            return
        super()._handle_msg(msg)
        if secret is not None:
            self.send_state("value")  # "" to the browser: its field empties at once
            self._deliver(secret)

    def _on_value(self, change: dict[str, Any]) -> None:
        if change["new"]:
            secret = Secret(change["new"], label="client_secret")
            change["new"] = ""
            self.value = ""
            self._deliver(secret)

    def _deliver(self, secret: Secret) -> None:
        if not secret:
            return
        try:
            self._on_secret(secret)
        except Exception as exc:  # never let a traceback (and its locals) show
            log.error("secret field: the form could not take the typed secret (%s)", type(exc).__name__)

    def _should_send_property(self, key: str, value: Any) -> bool:
        if key == "value" and value:
            return False  # a secret assigned from Python never reaches the browser
        return bool(super()._should_send_property(key, value))
