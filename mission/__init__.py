"""The Nazorat mission-control service: HTTP/WebSocket API, persistence and fleet management."""
