"""Simulated ArduCopter fleet that speaks MAVLink like ArduPilot SITL.

A separate program (`python -m sitl`): production code never imports it. Tests and the demo start it
as a process and talk to it over real sockets, exactly as they would talk to `arducopter`.
"""
