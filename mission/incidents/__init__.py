"""Incidents: reports with a status flow and history, bulk GeoJSON/CSV import and export, and
hotspots (clusters of nearby open reports ranked by priority)."""
