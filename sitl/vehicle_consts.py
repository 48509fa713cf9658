"""Constants shared by the vehicle model and its MAVLink front end."""

# MAV_RESULT
ACCEPTED, TEMP_REJECTED, DENIED, UNSUPPORTED, FAILED = 0, 1, 2, 3, 4
# MAV_SEVERITY
CRITICAL, WARNING, NOTICE, INFO, DEBUG = 2, 4, 5, 6, 7
FORCE_MAGIC = 21196  # param2 of COMPONENT_ARM_DISARM that skips checks

HOVER_CURRENT_A = 28.3   # what ArduPilot SITL's quad draws in the traces
IDLE_CURRENT_A = 0.4
TOUCHDOWN_TO_DISARM_S = 2.1  # "SIM Hit ground" -> "Disarming motors" in the traces
# AUTO/GUIDED take-off: from the command to the motors lifting the copter (spool-up, the
# take-off throttle ramp). Patrol, fence and mavsdk traces: the first 0.35 m of height 4.0-4.3 s
# after the command, of which ~1 s is the climb's own acceleration.
TAKEOFF_SPOOL_S = 3.4
