// Deployment settings of the console, read once at start-up. Edit this file (or have the web
// server serve another one at /config.js) to change them for every user. The tile server is
// only ever this one: a page's address can turn tiles off (`?tiles=none`), never name another
// server (that would send the map's position, on /report a citizen's, to it).
// The console loads nothing from the internet except the base-map tiles named here, and not
// even those when the service has its own archives (NAZORAT_TILES, `nazorat tiles import`).
export default {
  tiles: {
    // Any XYZ template works, e.g. a tile server on the unit's own network.
    url: "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    attribution: "&copy; OpenStreetMap contributors",
    maxZoom: 19,
    // Vector base maps from the service (/tiles) are drawn "dark" (an operations room), "light"
    // (daylight) or "auto" (the system's colour scheme); the other is offered in the switcher.
    theme: "auto",
  },
  // Where the map looks before any drone reports a position (the simulator's default home).
  center: [41.311081, 69.240562],
  zoom: 16,
  // Points kept per drone trail (one is added when the drone moved at least trailMinMetres).
  trailPoints: 400,
  trailMinMetres: 1.0,
  // Battery below this percentage colours a drone as "low" (the service's default threshold).
  lowBatteryPct: 25,
  // Telemetry updates per second per drone requested from /ws/telemetry.
  wsRateHz: 5,
  // Alerts recorded by the service this far back are shown when the console opens.
  alertHistorySeconds: 900,
};
