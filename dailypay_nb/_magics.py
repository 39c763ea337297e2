"""IPython magics: `%dailypay` and `%%dailypay`, quick calls from a notebook cell.

Strictly private; imported only by `dailypay_nb.load_ipython_extension` (`%load_ext dailypay_nb`),
so `import dailypay_nb` never imports IPython.

```
%dailypay GET /rest/organizations                 the frame (the cell's result when last)
%dailypay GET /rest/jobs filter[person.id]={pid}  query parameters as NAME=VALUE
%dailypay token | timings | summary                session.token(), .timings, .timing_summary()
%dailypay har [PATH] [--bodies] | curl [SEQ]        session.to_har(...), print(session.to_curl(...))
%dailypay use NAME                                 use the Session in variable NAME
%%dailypay POST /rest/transfers [--allow-writes] [-H 'Name: value']
{"data": {...}}                                    the JSON body
```

They use the session `dp.connect()` made last, or the one chosen with `use`. Every rail of the
session applies: writes against production are refused unless `--allow-writes` (or
DAILYPAY_ALLOW_WRITES), scopes are checked before sending, `createTransfer` gets an
`Idempotency-Key`, and `POST /cards/generic` goes through `create_card_token` (its answer, the
card token, is returned as a `Secret`). `{name}` is replaced by the notebook variable `name`
(`{a.b}` by its attribute): in the line by its text, in a cell body by its JSON (inside quotes,
by its text). A `Secret` may only fill a whole JSON value of the body: it is revealed into the
bytes sent, nowhere else; in the line it is refused, since URLs are recorded in the timings.
"""

from __future__ import annotations

import json
import re
import shlex
import uuid
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand

from ._base import last_session
from ._exceptions import DocumentError, WriteRefusedError
from ._operations import check_access, operation_for
from ._response import ApiResponse
from ._secret import Secret
from ._session import Session

__all__ = ["DailyPayMagics", "load_ipython_extension"]

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_SAFE = ("GET", "HEAD", "OPTIONS")
#: `{name}` or `{name.attribute}`; JSON's own braces never match (a name cannot start with `"`).
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}")
_USAGE = __doc__.split("```")[1].strip() if __doc__ else ""


def _lookup(namespace: dict[str, Any], dotted: str) -> Any:
    head, *rest = dotted.split(".")
    if head not in namespace:
        raise UsageError(f"{{{dotted}}}: no variable {head!r} in the notebook")
    value = namespace[head]
    for name in rest:
        try:
            value = getattr(value, name)
        except AttributeError:
            raise UsageError(f"{{{dotted}}}: {head!r} has no attribute {name!r}") from None
    return value


def expand_line(text: str, namespace: dict[str, Any]) -> str:
    """`{name}` replaced by the variable's text; a Secret is refused."""

    def one(match: re.Match[str]) -> str:
        value = _lookup(namespace, match.group(1))
        if isinstance(value, Secret):
            raise UsageError(
                f"{{{match.group(1)}}} is a Secret: it cannot go in the request line, which is "
                "recorded in the timings; put it in the cell body"
            )
        return str(value)

    return _PLACEHOLDER.sub(one, text)


def expand_body(text: str, namespace: dict[str, Any]) -> Any:
    """The cell body as JSON, `{name}` replaced by the variable (see the module docstring)."""
    secrets: dict[str, Secret] = {}

    def one(match: re.Match[str]) -> str:
        start, end = match.span()
        quoted = text[start - 1 : start] == '"' and text[end : end + 1] == '"'
        value = _lookup(namespace, match.group(1))
        if isinstance(value, Secret):
            if not quoted:
                name = "{" + match.group(1) + "}"
                raise UsageError(f'{name} is a Secret: write it as a whole JSON string, "{name}"')
            marker = f"\x00secret-{len(secrets)}-{uuid.uuid4().hex}\x00"
            secrets[marker] = value
            return json.dumps(marker)[1:-1]
        if quoted:
            return json.dumps(str(value))[1:-1]
        try:
            return json.dumps(value)
        except TypeError:
            return json.dumps(str(value))

    try:
        expanded = _PLACEHOLDER.sub(one, text)
        body = json.loads(expanded) if expanded.strip() else None
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"the cell body is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    if secrets:
        body = _put_back(body, secrets)
    return body


def _put_back(value: Any, secrets: dict[str, Secret]) -> Any:
    if isinstance(value, str):
        if value in secrets:
            return secrets[value]
        if any(marker in value for marker in secrets):
            raise UsageError("a Secret may only be a whole JSON string of the body, not part of one")
        return value
    if isinstance(value, dict):
        return {k: _put_back(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_put_back(v, secrets) for v in value]
    return value


@magics_class
class DailyPayMagics(Magics):
    """`%dailypay` / `%%dailypay` (see the module docstring)."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self._chosen: Session | None = None
        self._chosen_name = ""

    def _namespace(self) -> dict[str, Any]:
        return self.shell.user_ns if self.shell is not None else {}

    # -- the session -------------------------------------------------------------------------

    def session(self) -> Session:
        if self._chosen is not None:
            return self._chosen
        found = last_session()
        if isinstance(found, Session):
            return found
        raise UsageError(
            "no session yet: run `session = dp.connect()` first, or `%dailypay use NAME` "
            "for a Session you made another way"
        )

    def _use(self, args: list[str]) -> Session:
        if len(args) != 1:
            raise UsageError("usage: %dailypay use NAME (a variable holding a dp.Session)")
        value = _lookup(self._namespace(), args[0])
        if not isinstance(value, Session):
            kind = type(value).__name__
            hint = " (the magics are synchronous: use dp.connect())" if kind == "AsyncSession" else ""
            raise UsageError(f"{args[0]} is a {kind}, not a dp.Session{hint}")
        self._chosen, self._chosen_name = value, args[0]
        return value

    # -- the magic ---------------------------------------------------------------------------

    @no_var_expand
    @line_cell_magic
    def dailypay(self, line: str, cell: str | None = None) -> Any:
        """Call the DailyPay API: `%dailypay GET /rest/jobs`; `%dailypay help` for more."""
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"cannot read the line: {exc}") from None
        if not words or words[0].lower() in ("help", "-h", "--help"):
            print(_USAGE)
            return None
        command, args = words[0], words[1:]
        if command.upper() in _METHODS:
            return self._call(command.upper(), args, cell)
        if cell is not None:
            raise UsageError(f"%%dailypay takes a method and a path (GET, POST, ...), not {command!r}")
        namespace = self._namespace()
        args = [expand_line(a, namespace) for a in args]
        name = command.lower()
        if name == "use":
            session = self._use(args)
            print(f"%dailypay uses {args[0]}: {session!r}")
            return None
        session = self.session()
        if name == "token":
            return session.token(force="--force" in args)
        if name == "timings":
            return session.timings
        if name == "summary":
            return session.timing_summary()
        if name == "har":
            bodies = "--bodies" in args
            paths = [a for a in args if a != "--bodies"]
            har = session.to_har(paths[0] if paths else None, bodies=bodies)
            if paths:
                print(f"{len(har['log']['entries'])} entries written to {paths[0]}")
                return None
            return har
        if name == "curl":
            seq = int(args[0]) if args else None
            print(session.to_curl(seq))
            return None
        raise UsageError(f"unknown %dailypay command {command!r}; try %dailypay help")

    def _call(self, method: str, args: list[str], cell: str | None) -> Any:
        namespace = self._namespace()
        session = self.session()
        allow = False
        headers: dict[str, str] = {}
        params: dict[str, list[str]] = {}
        path = None
        words = iter(args)
        for word in words:
            if word == "--allow-writes":
                allow = True
            elif word in ("-H", "--header"):
                header = expand_line(next(words, ""), namespace)
                name, colon, value = header.partition(":")
                if not colon or not name.strip():
                    raise UsageError(f"-H takes 'Name: value', got {header!r}")
                headers[name.strip()] = value.strip()
            elif path is None:
                path = expand_line(word, namespace)
            else:
                pair = expand_line(word, namespace)
                name, equals, value = pair.partition("=")
                if not equals:
                    raise UsageError(f"query parameters are NAME=VALUE, got {pair!r}")
                params.setdefault(name, []).append(value)
        if path is None:
            raise UsageError(f"usage: %dailypay {method} /rest/... [NAME=VALUE ...]")
        body = expand_body(cell, namespace) if cell is not None else None
        op = operation_for(method, path)
        s = session.settings
        if method not in _SAFE and s.environment == "production" and not (s.allow_writes or allow):
            raise WriteRefusedError(
                f"{method} {path} is a write and this session talks to production; nothing was sent",
                hint="add --allow-writes to the magic's line, or set DAILYPAY_ALLOW_WRITES=true",
            )
        if op is not None and not op.authenticated:
            if method != "POST" or not isinstance(body, dict):
                raise UsageError(
                    f"{op.operation_id} takes POST with a JSON object of card fields in the cell"
                )
            try:  # the write rail ran above
                return session.create_card_token(**body, allow_writes=True)
            except TypeError as exc:
                raise UsageError(f"{op.operation_id}: {exc}".replace("create_card_token() ", "")) from None
        if op is not None:
            check_access(op, session.token_kind, session.granted_scopes)
            if "Idempotency-Key" in op.headers and not any(h.lower() == "idempotency-key" for h in headers):
                headers["Idempotency-Key"] = str(uuid.uuid4())
        response = session.request(
            method,
            path,
            params={k: v[0] if len(v) == 1 else v for k, v in params.items()} or None,
            json=body,
            headers=headers or None,
        )
        return _result(response)


def _result(response: ApiResponse) -> Any:
    """The frame of an answer with a body; the response itself otherwise."""
    if not response.body.strip():
        return response
    try:
        return response.frame
    except DocumentError:
        return response


def load_ipython_extension(ipython: Any) -> None:
    """Register `%dailypay` and `%%dailypay` (`%load_ext dailypay_nb`)."""
    ipython.register_magics(DailyPayMagics)
