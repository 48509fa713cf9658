"""Evidence recordings: list (commanders, operators and admins read), download a bundle,
the per-drone chain, and deletion (admins only; the deletion is itself a chain link and an
audit record). Every listing and download is audited (mission/evidence/service.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from mission.deps import COMMON, AdminDep, StateDep, ViewerDep, error_responses
from mission.evidence.models import RecordingPublic
from mission.evidence.store import RecordingFilter
from mission.incidents.domain import parse_time

router = APIRouter(prefix="/api/recordings", tags=["evidence"], responses=COMMON)

Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
OptId = Annotated[int | None, Query(ge=1, le=2**31 - 1)]


def _unix(value: str | None, field: str) -> float | None:
    t = parse_time(value, field)  # InvalidInput naming the field: 422
    return None if t is None else t.timestamp()


@router.get("", response_model=list[RecordingPublic])
async def recordings(
    app: StateDep, _p: ViewerDep,
    drone_id: OptId = None, mission_id: OptId = None, incident_id: OptId = None,
    t_from: Annotated[str | None, Query(alias="from", description="Unix s or ISO 8601: "
                                        "recordings that end at or after")] = None,
    t_to: Annotated[str | None, Query(alias="to", description="recordings that start at or "
                                      "before")] = None,
    status: Annotated[str | None, Query(pattern="^(recording|complete|deleted)$")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> list[RecordingPublic]:
    """Recordings matching every filter, newest first (deleted ones too, with who deleted
    them and when, unless `status` says otherwise)."""
    f = RecordingFilter(drone_id=drone_id, mission_id=mission_id, incident_id=incident_id,
                        t_from=_unix(t_from, "from"), t_to=_unix(t_to, "to"), status=status)
    return await app.evidence.find(f, limit)


@router.get("/chain/{drone_id}")
async def chain(
    drone_id: Id, app: StateDep, _p: ViewerDep,
    after_seq: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[dict[str, Any]]:
    """The drone's hash chain from `after_seq` on: compare a bundle's last link with it."""
    return [e.as_dict() for e in await app.evidence.chain(drone_id, after_seq, limit)]


@router.get("/{recording_id}/bundle", response_class=FileResponse,
            responses={**error_responses(404), 200: {"content": {"application/zip": {}}},
                       410: {"description": "the recording was deleted (its links remain)",
                             "content": {"application/json": {"schema": {"type": "object"}}}}})
async def bundle(recording_id: Id, app: StateDep, p: ViewerDep) -> FileResponse:
    """A zip of the recording's MP4 segments, telemetry sidecars and `manifest.json` (hashes,
    metadata, the chain's links), which `nazorat evidence verify BUNDLE` checks offline."""
    path = await app.evidence.bundle(recording_id, p.name)
    return FileResponse(path, media_type="application/zip",
                        filename=f"recording-{recording_id}.zip",
                        background=BackgroundTask(path.unlink, missing_ok=True))


@router.delete("/{recording_id}", responses=error_responses(404, 409))
async def delete(recording_id: Id, app: StateDep, p: AdminDep) -> dict[str, Any]:
    """Delete the recording's files (admins only). The deletion is appended to the drone's
    chain (who, when, which segments' hashes) and to the audit log; the recording stays
    listed as `deleted`."""
    link = await app.evidence.delete(recording_id, by=p.name, role=str(p.role))
    return {"id": recording_id, "status": "deleted", "chain": link.as_dict()}
