// Live drone video (operator and commander views): a Video tab listing the drones whose camera
// the service reads (GET /api/video), a tile per watched drone side by side, each a WHEP client
// (RTCPeerConnection, receive-only H.264) with its connection state and a snapshot button that
// downloads the current frame as PNG.
//
// WHEP: POST /api/drones/{id}/video/whep with the SDP offer (ICE gathered first: the service
// does not trickle), 201 with the SDP answer and a Location that DELETE ends. The session cookie
// authenticates it like every other call.

import { fill, h, toast } from "./dom.js";
import { t } from "./i18n.js";
import { toLogin } from "./role.js";

const SOURCES_POLL_MS = 5000;
const RETRY_MS = 3000;
const ICE_GATHER_MS = 2000;

/** One drone's video in a <video>: connect, report state, retry after a failure, stop. */
export class WhepPlayer {
  constructor(droneId, video, onState) {
    this.droneId = droneId;
    this.video = video;
    this.onState = onState;
    this.pc = null;
    this.location = null;
    this.stopped = false;
    this.retryTimer = null;
  }

  async start() {
    this.stopped = false;
    this.setState("connecting");
    const pc = new RTCPeerConnection();
    this.pc = pc;
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.ontrack = (e) => {
      this.video.srcObject = e.streams[0] || new MediaStream([e.track]);
    };
    pc.onconnectionstatechange = () => {
      if (this.pc !== pc) return;
      const s = pc.connectionState;
      this.setState(s === "new" ? "connecting" : s);
      if (s === "failed" || s === "disconnected") this.retryLater();
    };
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      const res = await fetch(`/api/drones/${this.droneId}/video/whep`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/sdp" },
        body: pc.localDescription.sdp,
      });
      if (res.status === 401) {
        toLogin(true);
        return;
      }
      if (res.status !== 201) {
        let message = `HTTP ${res.status}`;
        try {
          message = (await res.json()).detail?.message || message;
        } catch {
          // not JSON
        }
        throw new Error(message);
      }
      this.location = res.headers.get("Location");
      const answer = await res.text();
      if (this.stopped || this.pc !== pc) {
        this.end(pc, this.location);
        return;
      }
      await pc.setRemoteDescription({ type: "answer", sdp: answer });
    } catch (e) {
      if (this.pc !== pc) return;
      this.setState("failed", e.message);
      this.retryLater();
    }
  }

  setState(state, message = "") {
    this.state = state;
    this.onState(state, message);
  }

  retryLater() {
    if (this.stopped || this.retryTimer) return;
    const pc = this.pc;
    const location = this.location;
    this.pc = null;
    this.location = null;
    this.end(pc, location);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped) this.start();
    }, RETRY_MS);
  }

  // The DELETE first, the peer connection closed once it is answered: closed first, the
  // service saw the connection end and dropped the session before the DELETE arrived, which
  // then got a 404 (seen on a loaded machine).
  end(pc, location) {
    const close = () => pc && pc.close();
    if (!location) {
      close();
      return;
    }
    fetch(location, { method: "DELETE", credentials: "same-origin", keepalive: true })
      .catch(() => {})
      .finally(close);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.end(this.pc, this.location);
    this.pc = null;
    this.location = null;
    this.video.srcObject = null;
    this.setState("closed");
  }
}

/** Resolve once ICE gathering is complete (loopback and LAN: milliseconds), or after a bound. */
function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, ICE_GATHER_MS);
  });
}

/** The current frame of `video` as a PNG download. */
export function snapshot(video, name) {
  if (!video.videoWidth) {
    toast(t("video.noFrame"), { kind: "info" });
    return;
  }
  const canvas = h("canvas", { width: video.videoWidth, height: video.videoHeight });
  canvas.getContext("2d").drawImage(video, 0, 0);
  canvas.toBlob((blob) => {
    if (!blob) return;
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const a = h("a", { href: URL.createObjectURL(blob), download: `nazorat-${name}-${stamp}.png` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  }, "image/png");
}

export class VideoPanel {
  constructor(el, ctx) {
    this.ctx = ctx;
    this.players = new Map(); // drone id -> {player, tile}
    this.sources = [];
    this.list = h("div", { class: "video-sources", "data-testid": "video-sources" });
    this.grid = h("div", { class: "video-grid", "data-testid": "video-grid" });
    fill(el, this.list, this.grid);
    ctx.store.on("drones", () => this.renderList());
    this.poll();
    setInterval(() => this.poll(), SOURCES_POLL_MS);
  }

  async poll() {
    try {
      const body = await this.ctx.api.get("/api/video");
      this.sources = body.drones.map((d) => d.drone_id);
    } catch (e) {
      console.warn(`video sources: ${e.message}`);
    }
    this.renderList();
  }

  name(id) {
    return this.ctx.store.get(id)?.name || `#${id}`;
  }

  renderList() {
    if (!this.sources.length) {
      fill(this.list, h("p", { class: "muted", "data-testid": "video-none" }, t("video.none")));
      return;
    }
    fill(
      this.list,
      this.sources.map((id) =>
        h(
          "button",
          {
            type: "button",
            class: `btn video-toggle${this.players.has(id) ? " active" : ""}`,
            "aria-pressed": String(this.players.has(id)),
            "data-testid": `video-watch-${id}`,
            onclick: () => (this.players.has(id) ? this.unwatch(id) : this.watch(id)),
          },
          this.name(id),
        ),
      ),
    );
  }

  watch(id) {
    if (this.players.has(id)) return;
    const video = h("video", { autoplay: true, muted: true, playsInline: true, "data-testid": `video-${id}` });
    video.muted = true;
    const state = h("span", { class: "video-state", "data-testid": `video-state-${id}` });
    const tile = h(
      "figure",
      { class: "video-tile", dataset: { drone: String(id) }, "data-testid": `video-tile-${id}` },
      video,
      h(
        "figcaption",
        {},
        h("span", { class: "video-name" }, this.name(id)),
        state,
        h("button", {
          type: "button",
          class: "btn video-snap",
          "data-testid": `video-snapshot-${id}`,
          title: t("video.snapshot"),
          onclick: () => snapshot(video, `drone-${id}`),
        }, t("video.snapshot")),
        h("button", {
          type: "button",
          class: "btn video-close",
          title: t("video.stop"),
          "aria-label": t("video.stop"),
          onclick: () => this.unwatch(id),
        }, "×"),
      ),
    );
    const player = new WhepPlayer(id, video, (s, message) => {
      tile.dataset.state = s;
      state.textContent = t(`video.state.${s}`);
      state.title = message || "";
    });
    this.players.set(id, { player, tile });
    this.grid.append(tile);
    player.start();
    this.renderList();
  }

  unwatch(id) {
    const entry = this.players.get(id);
    if (!entry) return;
    entry.player.stop();
    entry.tile.remove();
    this.players.delete(id);
    this.renderList();
  }
}

export function installVideo(ctx) {
  ctx.panels.register({
    id: "video",
    title: "panel.video",
    order: 25,
    mount: (el) => {
      ctx.video = new VideoPanel(el, ctx);
    },
  });
  window.addEventListener("pagehide", () => {
    for (const id of [...(ctx.video?.players.keys() || [])]) ctx.video.unwatch(id);
  });
}
