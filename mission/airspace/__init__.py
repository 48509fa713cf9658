"""Airspace awareness: the traffic picture's API and conflict detection against our drones."""
