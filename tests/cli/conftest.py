"""Fixtures for the end-to-end CLI tests (the lab fixtures come from tests/conftest.py)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.lab import hostile
from tests.lab.certs import LabCerts
from tests.lab.servers import LabServers, ServerProcess, require_binary, wait_until_accepting


@pytest.fixture(scope="session")
def strict_target(lab_servers: LabServers) -> str:
    """The ``strict`` s_server as ``localhost:PORT``, so the certificate's name matches."""
    server = lab_servers["strict"]
    return f"localhost:{server.port}"


@pytest.fixture(scope="session")
def non_fs_target(lab_servers: LabServers) -> str:
    """TLS 1.2 with RSA key exchange only: fails azure-transit on TLS-FORWARD-SECRECY."""
    return f"localhost:{lab_servers['non_fs'].port}"


@pytest.fixture
def silent_servers() -> Iterator[Callable[[int], list[hostile.HostileServer]]]:
    """``make(n)`` starts n extra silent servers (the shared fixture gives only one)."""
    started: list[hostile.HostileServer] = []

    def make(count: int) -> list[hostile.HostileServer]:
        servers = [hostile.silent_server() for _ in range(count)]
        for server in servers:
            server.start()
            started.append(server)
        return servers

    try:
        yield make
    finally:
        for server in started:
            server.stop()


def _ipv6_loopback_port() -> int | None:
    """A free port on ::1, or None when this host cannot bind ::1."""
    if not socket.has_ipv6:
        return None
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
            return int(sock.getsockname()[1])
    except OSError:
        return None


@pytest.fixture(scope="session")
def ipv6_strict_port(lab_certs: LabCerts, lab_dir: Path) -> Iterator[int | None]:
    """openssl s_server with the strict settings on [::1]; None when ::1 is unavailable."""
    port = _ipv6_loopback_port()
    if port is None:
        yield None
        return
    openssl = require_binary("openssl")
    argv = [
        openssl,
        "s_server",
        "-accept",
        f"[::1]:{port}",
        "-cert",
        str(lab_certs.rsa2048.cert),
        "-key",
        str(lab_certs.rsa2048.key),
        "-www",
        "-quiet",
        "-min_protocol",
        "TLSv1.2",
        "-cipher",
        "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256",
    ]
    workdir = lab_dir / "cli-ipv6"
    workdir.mkdir(parents=True, exist_ok=True)
    server = ServerProcess(argv, workdir / "s_server-ipv6.log")
    try:
        wait_until_accepting("::1", port, alive=server.alive, describe=server.output)
        yield port
    finally:
        with contextlib.suppress(Exception):
            server.stop()
