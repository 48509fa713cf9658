"""The drone's camera seen from the ground: where it looks (footprint.py, pure geometry) and
what the live stream says of it (stream.py)."""
