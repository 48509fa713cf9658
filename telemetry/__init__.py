"""Everything that talks to vehicles: the fleet link, vehicle state, the telemetry hub and stream.

Imports nothing from `mission`; the service layer builds on this package, never the reverse.
"""
