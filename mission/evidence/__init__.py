"""Recordings fit for evidence: drone video as segmented MP4 (no re-encode), each segment's
SHA-256 in a per-drone hash chain with its drone, mission, incident and operator, a telemetry
sidecar beside it, bundles that `nazorat evidence verify` checks offline (README "Evidence")."""
