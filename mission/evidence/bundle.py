"""Build a recording's evidence bundle: a zip (stored, not compressed: MP4 is already) of
`manifest.json` and `segments/` (each MP4 segment and its telemetry sidecar), which
`nazorat evidence verify` checks offline (mission/evidence/verify.py says how).

Blocking (file reads and writes): called in a worker thread. A segment file missing from the
storage is still listed in the manifest and left out of the zip, so the bundle fails
verification naming it instead of looking whole.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mission.evidence.chain import FORMULA, GENESIS, Entry
from mission.evidence.models import EvidenceSegment, RecordingPublic
from mission.evidence.segment_writer import file_sha256
from mission.evidence.verify import FORMAT, MANIFEST


def manifest(recording: RecordingPublic, segments: Sequence[EvidenceSegment],
             entries: Sequence[Entry], *, created_at: float, created_by: str) -> dict[str, Any]:
    files: list[dict[str, Any]] = []
    listed: list[dict[str, Any]] = []
    for seg in segments:
        video, side = f"segments/{seg.file}", f"segments/{seg.sidecar}"
        files.append({"name": video, "sha256": seg.sha256, "bytes": seg.bytes})
        files.append({"name": side, "sha256": seg.sidecar_sha256, "bytes": None})
        listed.append({"segment": seg.index, "file": video, "sidecar": side,
                       "sha256": seg.sha256, "sidecar_sha256": seg.sidecar_sha256,
                       "chain_seq": seg.chain_seq, "start": seg.started_at,
                       "end": seg.ended_at, "frames": seg.frames})
    return {
        "format": FORMAT, "created_at": created_at, "created_by": created_by,
        "recording": recording.model_dump(), "hash": "sha256", "link_formula": FORMULA,
        "canonical_json": "UTF-8, keys sorted, separators (',', ':'), no ASCII escaping",
        "genesis": GENESIS, "files": files, "segments": listed,
        "chain": [e.as_dict() for e in entries],
    }


def write_bundle(out: Path, directory: Path, recording: RecordingPublic,
                 segments: Sequence[EvidenceSegment], entries: Sequence[Entry], *,
                 created_at: float, created_by: str) -> None:
    doc = manifest(recording, segments, entries, created_at=created_at, created_by=created_by)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as z:
        for f in doc["files"]:
            source = directory / Path(f["name"]).name
            if not source.is_file():
                continue
            if f["bytes"] is None:  # sidecars: the size as stored (the hash is the check)
                f["bytes"] = file_sha256(source)[1]
            z.write(source, f["name"])
        for f in doc["files"]:
            if f["bytes"] is None:
                f["bytes"] = 0
        z.writestr(MANIFEST, json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
