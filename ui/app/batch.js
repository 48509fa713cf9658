// Coalesce bursts of store changes into one render (telemetry arrives per drone, several times
// a second). A timer, not requestAnimationFrame, so that a hidden tab still stays current.

export function batched(render, delayMs = 40) {
  let pending = null;
  let timer = null;
  return (ids) => {
    if (ids === undefined) pending = "all";
    else if (pending !== "all") {
      pending ||= new Set();
      for (const id of ids) pending.add(id);
    }
    if (timer === null) {
      timer = setTimeout(() => {
        const what = pending;
        pending = null;
        timer = null;
        render(what === "all" ? null : what);
      }, delayMs);
    }
  };
}
