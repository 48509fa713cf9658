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
  // the strip's row as luma: from the decoded frame's Y plane (WebCodecs VideoFrame, no colour
  // conversion), else through a canvas
  const canvas = document.createElement("canvas");
  const g = canvas.getContext("2d", { willReadFrequently: true });
  const lumaRow = async (w) => {
    if (typeof VideoFrame !== "undefined") {
      let f = null;
      try {
        f = new VideoFrame(video);
        const rect = { x: 0, y: 8, width: f.codedWidth & ~1, height: 2 };
        const buf = new Uint8Array(f.allocationSize({ rect }));
        const layout = await f.copyTo(buf, { rect });
        const fmt = f.format || "";
        if (fmt.startsWith("I4") || fmt.startsWith("NV12")) {
          return (x) => buf[layout[0].offset + x];
        }
        if (fmt.startsWith("RGB") || fmt.startsWith("BGR")) {
          const o = layout[0].offset;
          return (x) => { const i = o + 4 * x; return (buf[i] + buf[i + 1] + buf[i + 2]) / 3; };
        }
      } catch (e) {
        // no frame yet, or not readable: the canvas below
      } finally {
        if (f) f.close();
      }
    }
    if (canvas.width !== w) { canvas.width = w; canvas.height = 16; }
    g.drawImage(video, 0, 0, w, 16, 0, 0, w, 16);
    const row = g.getImageData(0, 8, w, 1).data;
    return (x) => 0.299 * row[4 * x] + 0.587 * row[4 * x + 1] + 0.114 * row[4 * x + 2];
  };
  const tick = async () => {
    video.requestVideoFrameCallback(tick);
    const presented = Date.now();
    const w = video.videoWidth;
    if (w < 64) return;
    const luma = await lumaRow(w);
    const bw = Math.floor((w - 16) / 48);
    let v = 0;
    for (let k = 0; k < 48; k++) v = v * 2 + (luma(8 + k * bw + Math.floor(bw / 2)) > 127 ? 1 : 0);
    if (Math.abs(presented - v) < 60000) samples.push([v, presented]);
    else video.__bad += 1;
  };
  video.requestVideoFrameCallback(tick);
}"""


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]
