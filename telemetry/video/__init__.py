"""Drone video on the vehicle-link side: encoded frames as they arrive (frame.py)."""
