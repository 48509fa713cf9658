"""Keep credentials out of logs: a logging filter that masks tokens wherever they appear.

Uvicorn logs each request line with its query string; a WebSocket client may authenticate
with `?token=...` (browsers use the cookie instead). The filter masks `token=` values and any
`nzs_`/`nzk_` token in the message and its arguments. Installed on the uvicorn loggers and the
root logger's handlers at startup (idempotent).
"""

from __future__ import annotations

import logging
import re
from typing import Any

_PATTERNS = (
    re.compile(r"((?:^|[?&;\s])(?:token|access_token|key|secret)=)[^&\s\"']+", re.I),
    re.compile(r"\bnz[sk]_[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(Bearer\s+)[A-Za-z0-9_\-.~+/=]{8,}", re.I),
)


def redact(text: str) -> str:
    text = _PATTERNS[0].sub(r"\1***", text)
    text = _PATTERNS[1].sub("nz*_***", text)
    return _PATTERNS[2].sub(r"\1***", text)


def _clean(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_clean(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _clean(v) for k, v in record.args.items()}
        return True


_FILTER = RedactSecrets()


def install() -> None:
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "mission", "telemetry"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
