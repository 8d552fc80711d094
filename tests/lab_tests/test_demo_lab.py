"""probe.demo_lab: the hardened server refuses what the legacy one accepts."""

from __future__ import annotations

import os
import socket
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor

from probe.demo_lab import DemoEndpoint, DemoLab
from tests.lab.clients import client_hello, hello_then_close, openssl_handshake, python_handshake

V = ssl.TLSVersion


def _endpoint(lab: DemoLab, name: str) -> DemoEndpoint:
    return next(e for e in lab.endpoints if e.name == name)


def test_endpoints(demo_lab: DemoLab) -> None:
    names = [e.name for e in demo_lab.endpoints]
    assert names == ["hardened", "legacy"]
    for endpoint in demo_lab.endpoints:
        assert endpoint.host == "127.0.0.1" and endpoint.port > 0 and endpoint.description
    assert os.path.exists(demo_lab.ca_file)


def test_hardened(demo_lab: DemoLab) -> None:
    ep = _endpoint(demo_lab, "hardened")
    for version in (V.TLSv1, V.TLSv1_1):
        assert not python_handshake(ep.host, ep.port, minimum=version, maximum=version).ok
        assert not openssl_handshake(ep.host, ep.port, version="TLSv1.0").ok
    hs = python_handshake(
        ep.host, ep.port, minimum=V.TLSv1_2, maximum=V.TLSv1_2, ca_file=demo_lab.ca_file
    )
    assert hs.ok and hs.version == "TLSv1.2" and hs.cipher and hs.cipher.startswith("ECDHE-")
    hs = python_handshake(ep.host, ep.port, ca_file=demo_lab.ca_file)
    assert hs.ok and hs.version == "TLSv1.3"
    # No RSA key exchange, no CBC.
    for weak in ("AES128-SHA", "AES256-GCM-SHA384", "ECDHE-RSA-AES128-SHA"):
        assert not openssl_handshake(ep.host, ep.port, version="TLSv1.2", cipher=weak).ok
    s_client = openssl_handshake(
        ep.host, ep.port, "-verify_ip", "127.0.0.1", ca_file=demo_lab.ca_file
    )
    assert s_client.ok and "PKEY: rsaEncryption, 2048 (bit)" in s_client.output


def test_legacy(demo_lab: DemoLab) -> None:
    ep = _endpoint(demo_lab, "legacy")
    hs = python_handshake(ep.host, ep.port, minimum=V.TLSv1, maximum=V.TLSv1)
    assert hs.ok and hs.version == "TLSv1.0"
    tls10 = openssl_handshake(ep.host, ep.port, version="TLSv1.0", cipher="AES128-SHA")
    assert tls10.ok and tls10.version == "TLSv1.0" and tls10.cipher == "AES128-SHA"
    assert openssl_handshake(ep.host, ep.port, version="TLSv1.1").ok
    rsa_kx = openssl_handshake(ep.host, ep.port, version="TLSv1.2", cipher="AES128-SHA")
    assert rsa_kx.ok and rsa_kx.cipher == "AES128-SHA"
    assert not openssl_handshake(ep.host, ep.port, version="TLSv1.3").ok
    trusted = openssl_handshake(
        ep.host, ep.port, "-verify_hostname", "localhost", ca_file=demo_lab.ca_file
    )
    assert trusted.ok and "PKEY: rsaEncryption, 1024 (bit)" in trusted.output


def test_many_concurrent_and_abandoned_connections(demo_lab: DemoLab) -> None:
    hello = client_hello()
    for ep in demo_lab.endpoints:
        # Connections that stay open do not block others.
        idle = [socket.create_connection((ep.host, ep.port), timeout=5) for _ in range(20)]

        def scan(_: int, ep: DemoEndpoint = ep) -> bool:
            return hello_then_close(ep.host, ep.port, hello)[:1] == b"\x16"

        with ThreadPoolExecutor(32) as pool:
            assert all(pool.map(scan, range(200)))
        for sock in idle:
            sock.close()
        assert python_handshake(ep.host, ep.port).ok


def test_stop_releases_ports_threads_and_files() -> None:
    before = threading.active_count()
    with DemoLab() as lab:
        ports = [e.port for e in lab.endpoints]
        ca_dir = os.path.dirname(lab.ca_file)
        idle = socket.create_connection(("127.0.0.1", ports[0]), timeout=5)  # left open
    idle.close()
    assert not os.path.exists(ca_dir)
    for port in ports:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            continue
        raise AssertionError(f"port {port} still accepts")
    assert threading.active_count() <= before + 1


def test_legacy_offers_no_anonymous_suites(demo_lab: DemoLab) -> None:
    ep = _endpoint(demo_lab, "legacy")
    for version in ("TLSv1.0", "TLSv1.2"):
        assert not openssl_handshake(ep.host, ep.port, version=version, cipher="aNULL").ok
