"""Live video from the drones: where each stream comes from (configured or announced over
MAVLink), the ingest that reads it without re-encoding, and the hub that fans it out."""
