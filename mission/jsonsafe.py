"""JSON from clients, bounded in depth.

Python's json module parses by recursion: a body of a few thousand `[` raises RecursionError
(not a ValueError), which every `except ValueError` let through as a 500; a structure just
under that limit parses, and then breaks whatever walks it next (validation, storage, export).
Nothing Nazorat accepts nests deeper than GeoJSON's ~8 levels, so anything deeper than
MAX_DEPTH is refused before it is parsed (`too_deep`), cheaply (C-speed byte operations).
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64

_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)  # brackets in them do not count
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")
_INNERMOST = re.compile(rb"\[\]|\{\}")  # one pass removes exactly one level


class TooDeep(ValueError):
    """JSON nested deeper than allowed (a ValueError: callers that refuse bad JSON refuse
    this too)."""


def too_deep(raw: bytes | bytearray | str, max_depth: int = MAX_DEPTH) -> bool:
    """True when `raw` opens more than `max_depth` arrays or objects inside each other.

    At C speed: drop the strings, keep only the brackets, then remove the innermost `[]`/`{}`
    pairs `max_depth` times; a pair left means a deeper nesting. (Unbalanced junk is left to
    the parser to refuse.)"""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return False  # most bodies: not even that many brackets
    brackets = _STRINGS.sub(b"", data).translate(None, _NOT_BRACKETS)
    for _ in range(max_depth):
        shorter = _INNERMOST.sub(b"", brackets)
        if len(shorter) == len(brackets):
            return False
        brackets = shorter
    return b"[]" in brackets or b"{}" in brackets


def loads(raw: bytes | bytearray | str, max_depth: int = MAX_DEPTH) -> Any:
    """json.loads, but TooDeep (a ValueError) for documents nested deeper than `max_depth`."""
    if too_deep(raw, max_depth):
        raise TooDeep(f"JSON nested more than {max_depth} levels deep")
    try:
        return json.loads(raw)
    except RecursionError:
        raise TooDeep(f"JSON nested more than {max_depth} levels deep") from None
