"""The hash chain's arithmetic, shared by the service and the offline verifier (pure, stdlib).

Each drone has one chain. An entry is `(prev, entry_sha, meta)`; its link is

    link = sha256(bytes.fromhex(prev) || bytes.fromhex(entry_sha) || canonical_json(meta))

with `prev` the previous entry's link (GENESIS, 64 zeros, for the first). A segment's entry
has the segment file's SHA-256 as `entry_sha` and its metadata (drone, mission, incidents,
operator, times, the sidecar's SHA-256) as `meta`; a deletion's entry has the SHA-256 of the
canonical JSON of what it deleted. Entries are never changed or removed, so a deleted
recording's files are gone but its links (hashes and metadata only) still are: the chain
verifies past every deletion, and the deletion itself is a link.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64
FORMULA = "sha256(bytes.fromhex(prev) + bytes.fromhex(entry_sha) + canonical_json(meta))"


def canonical_json(value: Any) -> bytes:
    """UTF-8 JSON, keys sorted, no whitespace: the same bytes for the same value everywhere."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def link_of(prev: str, entry_sha: str, meta: Mapping[str, Any]) -> str:
    """The link of an entry (ValueError when `prev` or `entry_sha` is not hex)."""
    return sha256_hex(bytes.fromhex(prev) + bytes.fromhex(entry_sha) + canonical_json(meta))


@dataclass(frozen=True)
class Entry:
    seq: int
    prev: str
    entry_sha: str
    meta: Mapping[str, Any]
    link: str

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "prev": self.prev, "entry_sha": self.entry_sha,
                "meta": dict(self.meta), "link": self.link}


def first_broken(entries: Iterable[Entry]) -> tuple[int, str] | None:
    """(seq, why) of the first entry whose link does not compute or does not follow its
    predecessor in `entries` (consecutive seqs, each prev = the previous link); None if whole."""
    before: Entry | None = None
    for e in entries:
        try:
            computed = link_of(e.prev, e.entry_sha, e.meta)
        except (ValueError, TypeError) as err:
            return e.seq, f"unreadable entry ({err})"
        if computed != e.link:
            return e.seq, f"link {e.link[:16]}… does not match its content ({computed[:16]}…)"
        if before is not None:
            if e.seq != before.seq + 1:
                return e.seq, f"follows seq {before.seq}: entries missing in between"
            if e.prev != before.link:
                return e.seq, f"prev is not the link of seq {before.seq}"
        before = e
    return None
