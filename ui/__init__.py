"""The operator console: static HTML/JS/CSS served by the mission service (no Python logic)."""
