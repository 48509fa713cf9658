// Operator only (loaded with the other controls): the "look here" map tool. With a drone
// selected, a click on the map points its camera at that point (command `look_at`, the ground at
// home altitude: MAV_CMD_DO_SET_ROI_LOCATION); the drone does not move. Recorded and refused like
// every command; a drone without a gimbal refuses it and the autopilot's answer is shown.

import { toast } from "./dom.js";
import { t } from "./i18n.js";

export function installLookAt(ctx) {
  const tools = ctx.mapTools;
  if (!tools) return;
  tools.registerMode({
    name: "look-at",
    hint: "mode.lookAt",
    onClick: (ll) => lookAt(ctx, ll),
  });
  tools.addButton({
    id: "look-at",
    label: "tool.lookAt",
    title: "tool.lookAt.title",
    toggle: true,
    order: 30,
    onClick: () => {
      if (tools.mode !== "look-at" && !ctx.store.get(ctx.store.selectedId)) {
        toast(t("shortcut.selectFirst"), { kind: "info" });
        return;
      }
      tools.toggleMode("look-at");
    },
  });
  ctx.shortcuts?.register({ key: "o", help: "shortcut.lookAt", run: () => tools.toggleMode("look-at") });
}

async function lookAt(ctx, ll) {
  const v = ctx.store.get(ctx.store.selectedId);
  if (!v) {
    toast(t("shortcut.selectFirst"), { kind: "info" });
    return;
  }
  const lat = Number(ll.lat.toFixed(7));
  const lon = Number(wrapLon(ll.lng).toFixed(7));
  ctx.store.noteCommand?.(v.id, "look_at");
  try {
    await ctx.api.command(v.id, "look_at", { lat, lon });
    toast(t("lookAt.accepted", { name: v.name }), { kind: "success" });
  } catch (e) {
    toast(e.reason || e.message, { kind: "error", title: `${t("tool.lookAt")} — ${v.name}` });
  }
}

function wrapLon(lon) {
  return ((((lon + 180) % 360) + 360) % 360) - 180;
}
