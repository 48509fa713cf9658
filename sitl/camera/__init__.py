"""The simulated camera of `python -m sitl --camera`: frames, H.264 over RTP, gimbal, MAVLink."""
