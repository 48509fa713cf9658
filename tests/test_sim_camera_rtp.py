"""The simulated camera's RTP packetiser (RFC 6184 mode 1) and capture-time strip, in-process."""

from __future__ import annotations

import time

import numpy as np
import pytest

from rtp_h264 import Depacketiser, header
from sitl.camera import rtp, strip
from sitl.camera.render import Pose, Renderer

pytestmark = pytest.mark.nopg


def test_annexb_split_takes_three_and_four_byte_start_codes() -> None:
    data = b"\x00\x00\x00\x01\x67abc\x00\x00\x01\x68de\x00\x00\x00\x01\x65" + b"x" * 10
    assert rtp.split_annexb(data) == [b"\x67abc", b"\x68de", b"\x65" + b"x" * 10]


def test_small_nals_go_alone_large_ones_as_fu_a_and_the_marker_ends_the_access_unit() -> None:
    sps, pps = b"\x67" + bytes(range(20)), b"\x68\x01\x02"
    idr = b"\x65" + bytes(i % 251 for i in range(5000))
    au = b"".join(b"\x00\x00\x00\x01" + n for n in (sps, pps, idr))
    p = rtp.RtpPacketiser(ssrc=0x1234, seq=65534, max_payload=1200)
    packets = p.packetise(au, 90_000 * 5)
    heads = [header(x) for x in packets]
    assert [h.seq for h in heads] == [(65534 + i) & 0xFFFF for i in range(len(packets))]
    assert {h.timestamp for h in heads} == {450_000} and {h.ssrc for h in heads} == {0x1234}
    assert [h.marker for h in heads] == [False] * (len(packets) - 1) + [True]
    assert all(h.payload_type == 96 and h.version == 2 for h in heads)
    assert packets[0][12:] == sps and packets[1][12:] == pps  # single NAL unit packets
    fus = packets[2:]
    assert len(fus) == -(-(len(idr) - 1) // 1198) and all(len(x) <= 12 + 1200 for x in fus)
    assert all(x[12] == 0x7C for x in fus)  # FU indicator: NRI of the IDR (3), type 28
    assert fus[0][13] == 0x85 and fus[-1][13] == 0x45 and all(x[13] == 0x05 for x in fus[1:-1])
    d = Depacketiser()
    out = [d.push(x) for x in packets]
    assert out[:-1] == [None] * (len(packets) - 1) and out[-1] == (450_000, au)


def test_a_lost_fragment_drops_the_access_unit() -> None:
    au = b"\x00\x00\x00\x01\x65" + b"y" * 4000
    packets = rtp.RtpPacketiser().packetise(au, 0)
    d = Depacketiser()
    assert [d.push(x) for x in packets[:1] + packets[2:]][-1] is None


@pytest.mark.parametrize("width", [640, 1280, 112])
def test_the_strip_round_trips_the_capture_time(width: int) -> None:
    millis = int(time.time() * 1000)
    luma = np.full((64, width), 77, dtype=np.uint8)
    strip.draw(luma, millis)
    assert strip.read(luma) == millis
    bw = (width - 16) // 48
    # the contract's layout: bit 47 (LSB) is the last block, black margins either side
    assert luma[8, 8 + 47 * bw + bw // 2] == 255 * (millis & 1)
    assert not luma[:16, :8].any() and not luma[:16, 8 + 48 * bw:].any()


def test_a_rendered_frame_carries_the_strip_and_differs_as_the_drone_moves() -> None:
    r = Renderer(640, 360)
    a = r.frame(Pose(0.0, 0.0, 50.0, 0.0, -60.0), 1_700_000_000_123)
    b = r.frame(Pose(7.0, 3.0, 50.0, 0.0, -60.0), 1_700_000_000_190)
    assert a.shape == (540, 640) and a.dtype == np.uint8
    assert strip.read(a[:360]) == 1_700_000_000_123 and strip.read(b[:360]) == 1_700_000_000_190
    assert (a[40:360] != b[40:360]).mean() > 0.05
    assert (a[360:364] == 128).all() and (a[450:454] == 128).all()  # grey chroma under the strip
    sky = r.frame(Pose(0.0, 0.0, 50.0, 0.0, 10.0), 0)  # looking above the horizon: sky on top
    assert sky[40, 320] == 190


@pytest.mark.parametrize("argv", [["--video-size", "641x360"], ["--video-size", "640"],
                                  ["--video-fps", "0"], ["--video-base-port", "70000"]])
def test_bad_video_options_are_refused_by_name(argv: list[str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from sitl.__main__ import parse_args
    with pytest.raises(SystemExit):
        parse_args(["--camera", *argv])
    assert "--video-" in capsys.readouterr().err


def test_video_options_reach_the_fleet_config() -> None:
    from sitl.__main__ import _video, parse_args
    assert _video(parse_args([])) is None
    cfg = _video(parse_args(["--camera", "--video-size", "320x180", "--video-fps", "10",
                             "--video-base-port", "6000", "--video-host", "10.0.0.2"]))
    assert cfg is not None
    assert (cfg.width, cfg.height, cfg.fps, cfg.base_port, cfg.host) == (320, 180, 10, 6000,
                                                                          "10.0.0.2")


def test_a_mission_station_under_the_camera_is_drawn_yellow() -> None:
    """Looking straight down from 50 m, a loiter item 0 m away fills the image centre with the
    station's colour (V high, U low: yellow), one 30 m off leaves it the ground's."""
    r = Renderer(640, 360)
    under = r.frame(Pose(0.0, 0.0, 50.0, 0.0, -90.0, stations=((0.0, 0.0),)), 0)
    away = r.frame(Pose(0.0, 0.0, 50.0, 0.0, -90.0, stations=((30.0, 30.0),)), 0)
    # U and V planes follow the 360 luma rows as 90 rows of 640 each: chroma pixel (90, 160), the
    # image centre, is at row 45, column 160 of each
    centre_u, centre_v = under[360 + 45, 160], under[360 + 90 + 45, 160]
    assert centre_u < 40 and centre_v > 130, (centre_u, centre_v)
    assert away[360 + 45, 160] > 100 and away[360 + 90 + 45, 160] < 130
