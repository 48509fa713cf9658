// REST client for the service (README "The service"). The browser sends the HttpOnly session
// cookie with every call; the service records the signed-in user as each command's actor.
//
// Every REST call of the console goes through Api.request, so a 401 (session expired or revoked)
// is handled here, in one place: back to the sign-in page, which returns here afterwards.

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0: the request never got an answer)
   * @param {object|null} body parsed JSON body, if any
   */
  constructor(status, body, fallback) {
    super(errorReason(body) || fallback || `HTTP ${status}`);
    this.status = status;
    this.body = body;
    /** The autopilot's own words when it refused (COMMAND_ACK / MISSION_ACK / PreArm text). */
    this.reason = this.message;
    /** rejected | timeout | link_lost | not_connected | failed | invalid_parameters | ... */
    this.outcome = (body && (body.outcome || body.error || body.detail?.error)) || null;
    this.step = body?.step ?? null;
    /** The request field the service blames (`detail.field`, or a schema error's location). */
    this.field = errorField(body);
  }
}

/**
 * The most specific explanation in an error body. Command failures (409/502/503/504) carry the
 * link's error dict at top level: `reason` is the autopilot's text first (statustext, then
 * MISSION_ACK, then COMMAND_ACK, then the local message); FastAPI errors (404/422) nest theirs
 * under `detail`.
 */
export function errorReason(body) {
  if (!body || typeof body !== "object") return null;
  if (body.reason) return body.reason;
  if (body.statustext) return body.statustext;
  if (body.message) return body.message;
  const d = body.detail;
  if (typeof d === "string") return d;
  if (Array.isArray(d)) {
    return d.map((e) => `${(e.loc || []).slice(1).join(".")}: ${e.msg}`).join("; ");
  }
  if (d && typeof d === "object") {
    if (Array.isArray(d.errors) && d.errors.length) {
      return d.errors.map((e) => (e.field ? `${e.field}: ${e.message || e.msg}` : e.message || e.msg)).join("; ");
    }
    return d.message || d.error || null;
  }
  return null;
}

export function errorField(body) {
  const d = body && typeof body === "object" ? body.detail : null;
  if (d && typeof d === "object" && !Array.isArray(d) && d.field) return String(d.field);
  if (Array.isArray(d) && d.length && Array.isArray(d[0].loc)) {
    return d[0].loc.slice(1).join(".") || null;
  }
  return null;
}

export class Api {
  constructor({ base = "", onUnauthenticated = null } = {}) {
    this.base = base;
    this.onUnauthenticated = onUnauthenticated;
  }

  /**
   * @param {object} opts
   *   body: sent as JSON; raw + contentType: sent as they are (file imports);
   *   query: {name: value | value[]} (arrays repeat the parameter; null/undefined are left out)
   */
  async request(method, path, { body, query, raw, contentType } = {}) {
    let url = this.base + path;
    if (query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) {
        for (const one of Array.isArray(v) ? v : [v]) {
          if (one !== undefined && one !== null) q.append(k, String(one));
        }
      }
      if ([...q].length) url += `?${q}`;
    }
    const headers = { Accept: "application/json" };
    const init = { method, headers, credentials: "same-origin" };
    if (raw !== undefined) {
      headers["Content-Type"] = contentType || "application/octet-stream";
      init.body = raw;
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(url, init);
    } catch (e) {
      throw new ApiError(0, null, `network: ${e.message}`);
    }
    const text = await res.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = { message: text.slice(0, 300) };
      }
    }
    if (res.status === 401 && this.onUnauthenticated) this.onUnauthenticated();
    if (!res.ok) throw new ApiError(res.status, data, res.statusText);
    return data;
  }

  get(path, query) {
    return this.request("GET", path, { query });
  }

  post(path, body) {
    return this.request("POST", path, { body });
  }

  patch(path, body) {
    return this.request("PATCH", path, { body });
  }

  /** POST a file's text as the raw body (imports). */
  postRaw(path, raw, contentType, query) {
    return this.request("POST", path, { raw, contentType, query });
  }

  /** POST /api/drones/{id}/commands/{name}; resolves to the result, throws ApiError. */
  command(droneId, name, params) {
    return this.post(`/api/drones/${encodeURIComponent(droneId)}/commands/${encodeURIComponent(name)}`, params);
  }

  drones() {
    return this.get("/api/drones");
  }

  drone(id) {
    return this.get(`/api/drones/${encodeURIComponent(id)}`);
  }

  events(query) {
    return this.get("/api/events", query);
  }

  track(id, query) {
    return this.get(`/api/drones/${encodeURIComponent(id)}/track`, query);
  }

  commandHistory(id, limit = 20) {
    return this.get(`/api/drones/${encodeURIComponent(id)}/commands`, { limit });
  }
}
