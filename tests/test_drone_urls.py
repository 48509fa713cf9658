"""Issue 10, deliverable 5: the drone-URL probe told an operator whether an arbitrary host:port
is open. Regression tests named after that finding:

- a drone URL outside NAZORAT_DRONE_NETWORKS (default loopback, private ranges, /dev/) is
  refused with 422 naming `url`, before anything connects to it;
- a closed port, a port that never answers, an open port that does not speak MAVLink and a
  connection closed at once all fail the probe with the same message after the same time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

pytest.register_assert_rewrite("service_fixture")

from mission.fleet.networks import (  # noqa: E402
    DEFAULT_DRONE_NETWORKS,
    DroneNetworks,
    UrlNotAllowed,
)
from mission.settings import load_settings  # noqa: E402
from service_fixture import ServiceFactory, free_port  # noqa: E402
from telemetry.probe import ProbeError, probe_sysid  # noqa: E402
from telemetry.urls import parse_url  # noqa: E402

pytest_plugins = ["service_fixture"]
pytestmark = pytest.mark.timeout(90)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _not_mavlink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"SSH-2.0-OpenSSH_9.6\r\n")  # an open port with something else behind it
    await writer.drain()
    while await reader.read(4096):
        pass


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while await reader.read(65536):  # accepts and never says anything, until the prober hangs up
        pass


async def _hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


@pytest.fixture
async def ports() -> AsyncIterator[dict[str, int]]:
    """Local ports that behave like the things a scan tells apart."""
    servers = {name: await asyncio.start_server(h, "127.0.0.1", 0)
               for name, h in (("not MAVLink", _not_mavlink), ("silent", _silent),
                               ("closed at once", _hang_up))}
    out = {name: s.sockets[0].getsockname()[1] for name, s in servers.items()}
    out["closed port"] = free_port()
    try:
        yield out
    finally:
        for s in servers.values():
            s.close()


def test_drone_url_outside_networks_policy() -> None:
    nets = DroneNetworks.parse(DEFAULT_DRONE_NETWORKS)
    for ok in ("127.0.0.1", "10.1.2.3", "172.31.0.9", "192.168.4.1", "::1", "fd00::5",
               "::ffff:10.0.0.7"):
        assert nets.allows_address(ipaddress.ip_address(ok)), ok
    for bad in ("8.8.8.8", "169.254.169.254", "100.64.0.1", "172.32.0.1", "2001:db8::1",
                "::ffff:8.8.8.8", "0.0.0.0"):
        assert not nets.allows_address(ipaddress.ip_address(bad)), bad
    assert nets.allows_device("/dev/ttyUSB0") and nets.allows_device("/dev/serial/by-id/x")
    for bad in ("/dev/../etc/passwd", "/etc/passwd", "/device", "COM3"):
        assert not nets.allows_device(bad), bad
    carrier = DroneNetworks.parse(("100.64.0.0/10", "/dev/ttyACM"))
    assert carrier.allows_address(ipaddress.ip_address("100.70.1.1"))
    assert carrier.allows_device("/dev/ttyACM0") and not carrier.allows_device("/dev/ttyUSB0")
    assert not carrier.allows_address(ipaddress.ip_address("127.0.0.1"))
    with pytest.raises(ValueError, match="NAZORAT_DRONE_NETWORKS.*'10.0.0.0/33'"):
        load_settings({"NAZORAT_DRONE_NETWORKS": "10.0.0.0/33"})
    s = load_settings({"NAZORAT_DRONE_NETWORKS": "100.64.0.0/10, /dev/ttyACM"})
    assert s.drone_networks == ("100.64.0.0/10", "/dev/ttyACM")
    assert load_settings({}).drone_networks == DEFAULT_DRONE_NETWORKS


async def test_drone_url_outside_networks_urls() -> None:
    nets = DroneNetworks.parse(DEFAULT_DRONE_NETWORKS)
    for ok in ("tcpout://127.0.0.1:5760", "tcpout://localhost:5760", "udpin://0.0.0.0:14550",
               "udpin://[::]:14550", "udpout://192.168.1.20:14550", "serial:///dev/ttyUSB0:57600",
               "udpin://10.0.0.1:14550"):
        await nets.check(parse_url(ok))
    for bad in ("tcpout://8.8.8.8:53", "udpout://169.254.169.254:80", "udpin://8.8.8.8:14550",
                "serial:///etc/passwd:57600", "serial:///dev/../etc/shadow:9600",
                "tcpout://[2001:db8::1]:5760"):
        with pytest.raises(UrlNotAllowed) as e:
            await nets.check(parse_url(bad))
        assert e.value.field == "url" and "NAZORAT_DRONE_NETWORKS" in e.value.message


async def test_drone_url_probe_reveals_open_port(ports: dict[str, int]) -> None:
    """Closed, silent, not-MAVLink and hung-up ports: one message, each after the timeout."""
    timeout = 0.6

    async def probe(port: int) -> tuple[str, float]:
        url = parse_url(f"tcpout://127.0.0.1:{port}")
        t0 = time.monotonic()
        with pytest.raises(ProbeError) as e:
            await probe_sysid(url, timeout)
        return str(e.value).replace(url.url, "URL"), time.monotonic() - t0

    results = dict(zip(ports, await asyncio.gather(*(probe(p) for p in ports.values())),
                       strict=True))
    print({k: (m, round(t, 3)) for k, (m, t) in results.items()})
    assert {m for m, _ in results.values()} == {
        "URL: no MAVLink autopilot answered within 0.6 s"}, results
    for name, (_, took) in results.items():
        assert timeout - 0.01 <= took < timeout + 0.5, (name, took)


async def test_drone_url_api_refuses_and_does_not_reveal(
    service_factory: ServiceFactory, ports: dict[str, int],
) -> None:
    svc = service_factory(env={"NAZORAT_PROBE_TIMEOUT_S": "1"})
    async with svc.aclient(role="operator") as c:
        for url in ("tcpout://8.8.8.8:53", "tcpout://169.254.169.254:80",
                    "serial:///etc/passwd:57600"):
            t0 = time.monotonic()
            r = await c.post("/api/drones", json={"url": url})
            assert r.status_code == 422, r.text
            assert r.json()["detail"]["field"] == "url", r.text
            assert "NAZORAT_DRONE_NETWORKS" in r.json()["detail"]["message"]
            assert time.monotonic() - t0 < 0.9  # refused before any probe (1 s) was tried

        async def add(port: int) -> tuple[int, str, float]:
            url = f"tcpout://127.0.0.1:{port}"
            t0 = time.monotonic()
            r = await c.post("/api/drones", json={"url": url})
            return (r.status_code, r.json()["detail"]["message"].replace(url, "URL"),
                    time.monotonic() - t0)

        # one after the other: the service adds one drone at a time
        answers = [await add(p) for p in ports.values()]
        print(dict(zip(ports, answers, strict=True)))
        assert {(s, m) for s, m, _ in answers} == {(504, (
            "URL: no MAVLink autopilot answered within 1.0 s; give 'sysid' to register a "
            "vehicle that is offline"))}, answers
        assert all(1.0 <= t < 1.8 for _, _, t in answers), answers
        assert (await c.get("/api/drones")).json() == []
