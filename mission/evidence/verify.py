"""Offline verification of an evidence bundle (`nazorat evidence verify BUNDLE`): standard
library only, no database, no network, so it runs anywhere the bundle is copied.

A bundle (mission/evidence/bundle.py) is a zip of `manifest.json` and `segments/`: the MP4
segments and their telemetry sidecars. The check, in this order, stops at the first fault:
1. the manifest reads and has this format;
2. every file the manifest lists is in the zip with that SHA-256 and size, and the zip holds
   no other file;
3. the chain excerpt is whole: each link recomputes from (prev, entry_sha, meta)
   (mission/evidence/chain.py) and follows the one before;
4. every segment of the recording has its link, with the file's SHA-256 as `entry_sha` and the
   sidecar's SHA-256 in its metadata, and every segment link of the recording in the excerpt
   has its file in the bundle.
That proves the files are the ones the service hashed and linked, in that order, with that
metadata. To tie the bundle to the service's own chain, compare the last link printed with
`GET /api/recordings/chain/{drone_id}` (or any later bundle of the same drone, whose excerpt
runs through it).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mission.evidence.chain import Entry, first_broken

FORMAT = "nazorat-evidence-bundle/1"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Verdict:
    ok: bool
    message: str  # the summary, or the first fault (naming the file or the link)


def _bad(message: str) -> Verdict:
    return Verdict(False, message)


def verify_bundle(path: Path) -> Verdict:
    try:
        with zipfile.ZipFile(path) as z:
            return _verify(z)
    except (OSError, zipfile.BadZipFile) as e:
        return _bad(f"{path}: not a readable zip bundle ({e})")


def _member_sha(z: zipfile.ZipFile, name: str) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with z.open(name) as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _verify(z: zipfile.ZipFile) -> Verdict:
    try:
        manifest: dict[str, Any] = json.loads(z.read(MANIFEST))
    except KeyError:
        return _bad(f"{MANIFEST}: missing")
    except (ValueError, UnicodeDecodeError) as e:
        return _bad(f"{MANIFEST}: not JSON ({e})")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return _bad(f"{MANIFEST}: not a {FORMAT} manifest")
    try:
        files = {f["name"]: (str(f["sha256"]), int(f["bytes"])) for f in manifest["files"]}
        recording = manifest["recording"]
        segments = manifest["segments"]
        entries = [Entry(seq=int(c["seq"]), prev=str(c["prev"]), entry_sha=str(c["entry_sha"]),
                         meta=c["meta"], link=str(c["link"])) for c in manifest["chain"]]
        recording_id = int(recording["id"])
        if not all(isinstance(e.meta, dict) for e in entries) or not isinstance(segments, list):
            raise TypeError("chain metadata must be objects, segments a list")
    except (KeyError, TypeError, ValueError) as err:
        return _bad(f"{MANIFEST}: incomplete ({err!r})")

    present = set(z.namelist())
    actual: dict[str, str] = {}
    for name, (sha, size) in files.items():
        if name not in present:
            return _bad(f"{name}: missing from the bundle")
        got, got_size = _member_sha(z, name)
        if got != sha or got_size != size:
            return _bad(f"{name}: SHA-256 {got} ({got_size} bytes) does not match the "
                        f"manifest's {sha} ({size} bytes)")
        actual[name] = got
    extra = sorted(present - set(files) - {MANIFEST})
    if extra:
        return _bad(f"{extra[0]}: in the bundle but not in the manifest")

    broken = first_broken(entries)
    if broken is not None:
        return _bad(f"chain link seq {broken[0]}: {broken[1]}")
    by_seq = {e.seq: e for e in entries}
    listed: set[int] = set()
    for seg in segments:
        try:
            seq, name, side = int(seg["chain_seq"]), str(seg["file"]), str(seg["sidecar"])
        except (KeyError, TypeError, ValueError) as err:
            return _bad(f"{MANIFEST}: a segment entry is incomplete ({err!r})")
        entry = by_seq.get(seq)
        if entry is None:
            return _bad(f"{name}: its chain link seq {seq} is not in the bundle")
        meta = entry.meta
        if meta.get("kind") != "segment" or meta.get("recording_id") != recording_id:
            return _bad(f"chain link seq {seq}: not a segment of recording {recording_id}")
        if name not in actual or entry.entry_sha != actual[name]:
            return _bad(f"{name}: its SHA-256 is not the one in chain link seq {seq}")
        if side not in actual or meta.get("sidecar_sha256") != actual[side]:
            return _bad(f"{side}: its SHA-256 is not the one in chain link seq {seq}")
        if Path(name).name != meta.get("file"):
            return _bad(f"{name}: chain link seq {seq} names {meta.get('file')!r}")
        listed.add(seq)
    for entry in entries:
        if entry.meta.get("kind") == "segment" and entry.meta.get("recording_id") == \
                recording_id and entry.seq not in listed:
            return _bad(f"chain link seq {entry.seq}: segment {entry.meta.get('segment')} of "
                        "the recording is not in the bundle")
    if not entries:
        return _bad("the bundle holds no chain link")
    size = sum(s for _, s in files.values())
    return Verdict(True, (
        f"OK: recording {recording_id} of drone {recording.get('drone_id')}: "
        f"{len(listed)} segments, {len(files)} files ({size} bytes) match their SHA-256; "
        f"chain links {entries[0].seq}..{entries[-1].seq} verify; "
        f"last link {entries[-1].link}"))
