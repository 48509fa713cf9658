// The operator's position as the Remote ID operator location (operator view only).
//
// ArduPilot configured for Remote ID needs the operator's location from the ground station and
// refuses to arm without it. Without a fixed location configured on the server
// (NAZORAT_REMOTE_ID_OPERATOR_LOCATION), the operator may share this device's position: only
// after pressing the top-bar button (consent; the browser asks again for permission), and only
// while the console is open. Each position goes to PUT /api/remote-id/operator-location, and the
// last one is re-sent every RESEND_MS so that the server (which drops it after
// NAZORAT_REMOTE_ID_CONSOLE_STALE_S, 30 s by default) keeps it; pressing again stops sharing.

import { h, toast } from "./dom.js";
import { t } from "./i18n.js";

const URL = "/api/remote-id/operator-location";
const RESEND_MS = 10_000;

export async function installOperatorLocation(ctx) {
  let status;
  try {
    status = await ctx.api.get(URL);
  } catch {
    return; // not offered: the button stays away
  }
  if (status.source === "fixed" || !navigator.geolocation) return;
  let watch = null;
  let timer = null;
  let last = null;
  const btn = h("button", {
    type: "button",
    class: "btn btn-small rid-share-btn",
    "data-testid": "rid-share",
    "aria-pressed": "false",
    title: t("rid.share.title"),
  });
  const label = (key) => {
    btn.textContent = t(key);
    btn.dataset.state = key.split(".").pop();
  };
  label("rid.share.off");

  const send = async () => {
    if (!last) return;
    try {
      await ctx.api.request("PUT", URL, { body: last });
      label("rid.share.on");
    } catch (e) {
      label("rid.share.error");
      toast(e.reason || e.message, { kind: "error", title: t("rid.share.title") });
    }
  };
  const stop = () => {
    if (watch !== null) navigator.geolocation.clearWatch(watch);
    clearInterval(timer);
    watch = timer = last = null;
    btn.setAttribute("aria-pressed", "false");
    label("rid.share.off");
  };
  const start = () => {
    btn.setAttribute("aria-pressed", "true");
    label("rid.share.waiting");
    watch = navigator.geolocation.watchPosition(
      (pos) => {
        const c = pos.coords;
        const first = last === null;
        last = { lat: c.latitude, lon: c.longitude, alt_m: typeof c.altitude === "number" ? c.altitude : null };
        if (first) send();
      },
      (err) => {
        stop();
        label("rid.share.error");
        toast(err.message || t("rid.share.denied"), { kind: "error", title: t("rid.share.title") });
      },
      { enableHighAccuracy: true, maximumAge: 5000 },
    );
    timer = setInterval(send, RESEND_MS);
  };
  btn.addEventListener("click", () => (watch === null ? start() : stop()));
  document.getElementById("topbar-actions").append(btn);
  ctx.operatorLocation = { button: btn, stop };
}
