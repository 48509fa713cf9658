"""Recording of tracks (1 Hz) and vehicle events, and their query API."""
