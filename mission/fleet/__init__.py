"""Drones: registration, persistence, connection to the fleet link, and commands."""
