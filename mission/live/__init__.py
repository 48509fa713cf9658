"""The live telemetry WebSocket."""
