"""WHEP (WebRTC-HTTP egress) for live drone video: POST an SDP offer, get 201 with the SDP
answer and a Location to DELETE when done. Any signed-in user role may watch (admin, operator,
commander); no session → 401. Errors: 404 unknown drone or no video source, 400 a body that is
not an SDP offer (field `sdp`), 415 another media type, 503 too many viewers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response

from mission.deps import COMMON, StateDep, ViewerDep, error_responses, viewer
from mission.video.webrtc import InvalidOffer, TooManyViewers

router = APIRouter(prefix="/api/drones", tags=["video"], responses=COMMON,
                   dependencies=[Depends(viewer)])
sources = APIRouter(prefix="/api/video", tags=["video"], responses=COMMON,
                    dependencies=[Depends(viewer)])

DroneId = Annotated[int, Path(ge=1, le=2**31 - 1)]
MAX_OFFER_BYTES = 64 * 1024
SDP_BODY = {"requestBody": {"required": True, "content": {
    "application/sdp": {"schema": {"type": "string"}}}}}


@router.post("/{drone_id}/video/whep", status_code=201, response_class=Response,
             responses={201: {"content": {"application/sdp": {}}},
                        415: {"description": "not application/sdp"},
                        **error_responses(400, 404, 503)},
             openapi_extra=SDP_BODY)
async def whep_offer(drone_id: DroneId, request: Request, app: StateDep,
                     who: ViewerDep) -> Response:
    """Start watching a drone's live video (WHEP)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/sdp":
        raise HTTPException(415, detail={"error": "unsupported_media_type", "field": "sdp",
                                         "message": "send the offer as application/sdp"})
    body = await request.body()
    if len(body) > MAX_OFFER_BYTES:
        raise HTTPException(413, detail={"error": "too_large", "field": "sdp",
                                         "message": f"an offer is at most {MAX_OFFER_BYTES} "
                                                    "bytes"})
    try:
        offer = body.decode("utf-8")
    except UnicodeDecodeError:
        offer = ""
    if not offer.startswith("v=0"):
        raise HTTPException(400, detail={"error": "invalid_offer", "field": "sdp",
                                         "message": "the body is not an SDP offer (v=0 ...)"})
    if app.video.source(drone_id) is None:
        await app.fleet.get_drone(drone_id)  # 404 not_found for an unknown drone, else no_video
    try:
        sid, answer = await app.whep.create(drone_id, offer, who.name)
    except InvalidOffer as e:
        raise HTTPException(400, detail={"error": "invalid_offer", "field": "sdp",
                                         "message": str(e)}) from None
    except TooManyViewers as e:
        raise HTTPException(503, detail={"error": "too_many_viewers",
                                         "message": str(e)}) from None
    return Response(answer, status_code=201, media_type="application/sdp",
                    headers={"Location": f"/api/drones/{drone_id}/video/whep/{sid}"})


@router.delete("/{drone_id}/video/whep/{session_id}", status_code=204,
               response_class=Response, responses=error_responses(404))
async def whep_end(drone_id: DroneId, session_id: str, app: StateDep) -> Response:
    """Stop watching (the Location of the POST's answer)."""
    session = app.whep.get(session_id)
    if session.drone_id != drone_id:
        raise HTTPException(404, detail={"error": "not_found",
                                         "message": f"no video session {session_id}"})
    await app.whep.delete(session_id)
    return Response(status_code=204)


@sources.get("")
async def video_sources(app: StateDep) -> dict[str, list[dict[str, object]]]:
    """The drones whose video the service can show, and their viewer counts."""
    viewers = app.whep.stats()
    return {"drones": [{"drone_id": d, "kind": s.kind, "viewers": viewers.get(d, 0)}
                       for d, s in sorted(app.video.sources().items())]}
