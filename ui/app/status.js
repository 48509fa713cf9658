// How a drone is classified for colours and the status column.

export const STATUS = {
  OK: "ok",
  LOW: "low", // battery below the configured threshold
  LOST: "lost", // no heartbeat for the link-loss timeout
  CONNECTING: "connecting", // never heard from yet
};

export function droneStatus(v, lowBatteryPct) {
  if (v.link === "lost") return STATUS.LOST;
  if (v.link !== "up") return STATUS.CONNECTING;
  if (v.bat !== null && v.bat !== undefined && v.bat < lowBatteryPct) return STATUS.LOW;
  return STATUS.OK;
}

/** Sort rank: the ones needing attention first. */
export const STATUS_RANK = { lost: 0, low: 1, connecting: 2, ok: 3 };

export function isAirborne(v) {
  return Boolean(v.armed) || v.landed === "in_air" || v.landed === "takeoff" || v.landed === "landing";
}

export function hasPosition(v) {
  return typeof v.lat === "number" && typeof v.lon === "number";
}
