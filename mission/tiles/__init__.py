"""Local base-map tiles: archives on disk (PMTiles v3, MBTiles) served at /tiles/ so that a
coordination centre with no internet still has streets under its drones, and no tile request
tells an outside server where the operators are looking.

- archive.py: what every archive answers (ArchiveInfo, Tile), formats and content types;
- mbtiles.py, pmtiles_archive.py: one reader per file format (blocking; called in threads);
- service.py: the named archives of a deployment (NAZORAT_TILES plus the data directory's
  tiles/ folder) and the async face the routes use;
- routes.py: the HTTP routes (the only module here that imports FastAPI);
- manage.py, seed.py: `nazorat tiles info|import|seed`.
"""
