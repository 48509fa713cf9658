"""Zones: red patrol areas and no-fly zones as validated GeoJSON Polygons, and the geography
(WGS84 checks, bounding boxes, distances) shared with incidents."""
