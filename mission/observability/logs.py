"""Log output: `text` (one human line per record, as before) or `json` (one JSON object per
line, for log shippers), chosen by NAZORAT_LOG_FORMAT; `auto` (the default) is text when
standard error is a terminal and json otherwise.

A JSON line has `ts` (UTC, ISO 8601, milliseconds), `level`, `logger` and `message`, then any
extra fields the call passed (`log.info(..., extra={"drone_id": 3})`), the request's `actor`
when there is one, and `exc_info` for an exception. uvicorn's access lines also get `client`,
`method`, `path`, `http_version` and `status`. Secrets stay out: the message, every string
field and the traceback go through `mission.logsafe.redact`, and an extra field whose name
says token/password/secret/key/authorization is replaced by "***" (the RedactSecrets filter
that `logsafe.install()` puts on the handlers still applies first).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from mission.auth import context
from mission.logsafe import redact
from mission.settings import LOG_FORMATS as FORMATS

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName", "color_message"}
_SECRET_NAMES = ("token", "password", "secret", "authorization", "key", "cookie")


def resolve_format(fmt: str, stream: Any = None) -> str:
    """`auto` -> json unless `stream` (default stderr) is a terminal."""
    if fmt not in FORMATS:
        raise ValueError(f"NAZORAT_LOG_FORMAT: one of {', '.join(FORMATS)}, not {fmt!r}")
    if fmt != "auto":
        return fmt
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return "text" if callable(isatty) and isatty() else "json"


def _safe(name: str, value: Any) -> Any:
    if any(word in name.lower() for word in _SECRET_NAMES):
        return "***"
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return [_safe("", v) for v in value]
    if isinstance(value, dict):
        return {str(k): _safe(str(k), v) for k, v in value.items()}
    return redact(str(value))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) \
                and len(record.args) == 5:
            client, method, path, version, status = record.args
            out.update(client=str(client), method=str(method), path=redact(str(path)),
                       http_version=str(version), status=status)
        ctx = context.get()
        if ctx is not None:
            out["actor"] = ctx.actor
        for name, value in record.__dict__.items():
            if name not in _RESERVED and not name.startswith("_") and name not in out:
                out[name] = _safe(name, value)
        if record.exc_info:
            out["exc_info"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            out["stack_info"] = redact(self.formatStack(record.stack_info))
        return json.dumps(out, ensure_ascii=False, default=str)


def configure(fmt: str, level: str = "info") -> dict[str, Any] | None:
    """Set up the root logger for `fmt` (already resolved: json or text) and return the
    `log_config` to give uvicorn: None for json (its loggers then propagate to the root
    handler and its formatter), uvicorn's own default for text (unchanged behaviour)."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    if fmt == "json":
        for handler in list(root.handlers):
            root.removeHandler(handler)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            logger = logging.getLogger(name)
            logger.handlers.clear()
            logger.propagate = True
        return None
    logging.basicConfig(level=level.upper(), format=TEXT_FORMAT)
    from uvicorn.config import LOGGING_CONFIG  # uvicorn only when it is asked for

    return LOGGING_CONFIG
