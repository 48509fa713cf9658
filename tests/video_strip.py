"""The capture-time strip (docs: the video contract; sitl/camera/strip.py draws it), read in the
page: every presented frame of a <video> (requestVideoFrameCallback) is drawn to a canvas, the
48-bit capture time in ms read from the top rows, and kept with the wall time of presentation.
Shared by tests/test_console_video.py and benchmarks/bench_video.py."""

from __future__ import annotations

# Installs `el.__strip = [[capture_ms, presented_ms], ...]` on a <video> element `el`.
SAMPLER_JS = """(video) => {
  if (video.__strip) return;
  const samples = [];
  video.__strip = samples;
  video.__bad = 0;
  const canvas = document.createElement("canvas");
  const g = canvas.getContext("2d", { willReadFrequently: true });
  const tick = () => {
    const presented = Date.now();
    const w = video.videoWidth;
    if (w >= 64) {
      if (canvas.width !== w) { canvas.width = w; canvas.height = 16; }
      g.drawImage(video, 0, 0, w, 16, 0, 0, w, 16);
      const row = g.getImageData(0, 8, w, 1).data;
      const bw = Math.floor((w - 16) / 48);
      let v = 0;
      for (let k = 0; k < 48; k++) {
        const i = (8 + k * bw + Math.floor(bw / 2)) * 4;
        const luma = 0.299 * row[i] + 0.587 * row[i + 1] + 0.114 * row[i + 2];
        v = v * 2 + (luma > 127 ? 1 : 0);
      }
      if (Math.abs(presented - v) < 60000) samples.push([v, presented]);
      else video.__bad += 1;
    }
    video.requestVideoFrameCallback(tick);
  };
  video.requestVideoFrameCallback(tick);
}"""


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]
