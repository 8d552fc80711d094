"""Shared fixtures: the test lab (real servers on 127.0.0.1, see tests/lab/).

Session-scoped servers start on first use and stay up for the session:

- ``lab_certs`` -> ``tests.lab.certs.LabCerts``; ``lab_ca_file`` -> str (the lab CA, PEM).
- ``lab_servers`` -> ``LabServers``: ``lab_servers["modern"]`` starts that openssl s_server
  configuration and returns a ``LabServer(host, port, name, description, expected, log)``.
- ``gnutls_server`` -> ``LabServer`` (gnutls-serv, TLS 1.2 + 1.3).
- ``nginx_factory(ports_count=1, protocols="TLSv1.2 TLSv1.3", ciphers=None, cert="rsa2048",
  dhparam=None, worker_processes=1)`` -> ``NginxServer`` (same arguments -> same server).
- ``demo_lab`` -> a running ``probe.demo_lab.DemoLab``.
- ``samba_servers`` -> ``tests.lab.samba.SambaServers``: ``samba_servers["default"]`` starts
  that Samba smbd configuration (a key of ``tests.lab.samba.SAMBA_CONFIGS``) and returns a
  ``SambaLabServer(host, port, name, description, expected, shares, user, password, log,
  conf)``; ``user``/``password`` log in with NTLM on every configuration.
- ``sstp_servers`` -> ``tests.lab.sstp.SstpServers``: ``sstp_servers["tls-pap"]`` starts that
  sstpd (sstp-server 0.6.0) configuration (a key of ``tests.lab.sstp.SSTP_CONFIGS``) and
  returns an ``SstpLabServer(host, port, name, description, expected, ca_file, server_name,
  log, pppd_options)``.
- ``strongswan_lab`` -> a started ``tests.lab.strongswan.StrongSwanLab``: one charon (IKE
  responder, UDP 500/4500) serving every configuration of ``STRONGSWAN_CONFIGS`` on its own
  loopback alias; ``strongswan_lab["weak-ikev2"]`` -> ``LabIke(host, port, nat_t_port, name,
  description, expected, log)``; ``restart()`` / ``settings_changed(half_open_timeout=5)``
  give a fresh charon (no half-open IKE_SAs) with other settings.
- ``starttls_servers`` -> ``tests.lab.starttls.StartTlsServers``: ``starttls_servers["imap"]``
  starts that STARTTLS server (a key of ``tests.lab.starttls.STARTTLS_CONFIGS``: smtp, imap,
  pop3, ftp, ldap, xmpp, postgres, mysql, each also as ``NAME-plain`` without TLS) and returns
  a ``LabServer`` whose ``expected`` holds ``protocol``, ``starttls`` and ``cert``.

Function-scoped hostile peers, each a started ``tests.lab.hostile.HostileServer`` (``.host``,
``.port``, ``.connections``, ``.received``): ``garbage_server``, ``silent_server``,
``huge_length_server``, ``reset_server``, ``trickle_server``, ``eof_server``.

Tests using any of these, and all of tests/lab_tests, get the ``lab`` marker automatically
(``-m "not lab"`` deselects them).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:  # `pytest` (not `python -m pytest`) must import tests.lab too
    sys.path.insert(0, str(_ROOT))

from probe.demo_lab import DemoLab  # noqa: E402
from tests.lab import hostile  # noqa: E402
from tests.lab.certs import LabCerts, make_lab_certs  # noqa: E402
from tests.lab.samba import SambaServers  # noqa: E402
from tests.lab.servers import (  # noqa: E402
    LabServer,
    LabServers,
    NginxFactory,
    NginxServer,
    gnutls_serv,
    nginx_tls,
)
from tests.lab.sstp import SstpServers  # noqa: E402
from tests.lab.starttls import StartTlsServers  # noqa: E402
from tests.lab.strongswan import StrongSwanLab  # noqa: E402

HOSTILE_FIXTURES = {
    "garbage_server",
    "silent_server",
    "huge_length_server",
    "reset_server",
    "trickle_server",
    "eof_server",
}
LAB_FIXTURES = {
    "lab_certs",
    "lab_ca_file",
    "lab_servers",
    "gnutls_server",
    "nginx_factory",
    "demo_lab",
    "samba_servers",
    "sstp_servers",
    "strongswan_lab",
    "starttls_servers",
    *HOSTILE_FIXTURES,
}


_LAB_TESTS = Path(__file__).resolve().parent / "lab_tests"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        uses_lab = LAB_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if uses_lab or _LAB_TESTS in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.lab)


@pytest.fixture(scope="session")
def lab_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lab")


@pytest.fixture(scope="session")
def lab_certs(lab_dir: Path) -> LabCerts:
    return make_lab_certs(lab_dir / "certs")


@pytest.fixture(scope="session")
def lab_ca_file(lab_certs: LabCerts) -> str:
    return str(lab_certs.ca_cert)


@pytest.fixture(scope="session")
def lab_servers(lab_certs: LabCerts, lab_dir: Path) -> Iterator[LabServers]:
    servers = LabServers(lab_certs, lab_dir / "s_server")
    try:
        yield servers
    finally:
        servers.close()


@pytest.fixture(scope="session")
def gnutls_server(lab_certs: LabCerts, lab_dir: Path) -> Iterator[LabServer]:
    with gnutls_serv(lab_certs, lab_dir / "gnutls") as server:
        yield server


@pytest.fixture(scope="session")
def nginx_factory(lab_certs: LabCerts, lab_dir: Path) -> Iterator[NginxFactory]:
    stack = contextlib.ExitStack()
    started: dict[tuple[Any, ...], NginxServer] = {}

    def start(
        ports_count: int = 1,
        protocols: str = "TLSv1.2 TLSv1.3",
        ciphers: str | None = None,
        cert: str = "rsa2048",
        dhparam: Path | None = None,
        worker_processes: int = 1,
    ) -> NginxServer:
        key = (ports_count, protocols, ciphers, cert, dhparam, worker_processes)
        if key not in started:
            started[key] = stack.enter_context(
                nginx_tls(
                    lab_certs,
                    lab_dir / "nginx",
                    ports_count=ports_count,
                    protocols=protocols,
                    ciphers=ciphers,
                    cert=cert,
                    dhparam=dhparam,
                    worker_processes=worker_processes,
                )
            )
        return started[key]

    with stack:
        yield start


@pytest.fixture(scope="session")
def samba_servers(lab_dir: Path) -> Iterator[SambaServers]:
    servers = SambaServers(lab_dir / "samba")
    try:
        yield servers
    finally:
        servers.close()


@pytest.fixture(scope="session")
def sstp_servers(lab_certs: LabCerts, lab_dir: Path) -> Iterator[SstpServers]:
    servers = SstpServers(lab_certs, lab_dir / "sstp")
    try:
        yield servers
    finally:
        servers.close()


@pytest.fixture(scope="session")
def starttls_servers(lab_certs: LabCerts, lab_dir: Path) -> Iterator[StartTlsServers]:
    servers = StartTlsServers(lab_certs, lab_dir / "starttls")
    try:
        yield servers
    finally:
        servers.close()


@pytest.fixture(scope="session")
def strongswan_lab(lab_certs: LabCerts, lab_dir: Path) -> Iterator[StrongSwanLab]:
    with StrongSwanLab(lab_dir / "strongswan", certs=lab_certs) as lab:
        yield lab


@pytest.fixture(scope="session")
def demo_lab() -> Iterator[DemoLab]:
    with DemoLab() as lab:
        yield lab


def _hostile(make: Any) -> Iterator[hostile.HostileServer]:
    server: hostile.HostileServer = make()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def garbage_server() -> Iterator[hostile.HostileServer]:
    yield from _hostile(hostile.garbage_server)


@pytest.fixture
def silent_server() -> Iterator[hostile.HostileServer]:
    yield from _hostile(hostile.silent_server)


@pytest.fixture
def huge_length_server() -> Iterator[hostile.HostileServer]:
    yield from _hostile(hostile.huge_length_server)


@pytest.fixture
def reset_server() -> Iterator[hostile.HostileServer]:
    yield from _hostile(hostile.reset_server)


@pytest.fixture
def trickle_server() -> Iterator[hostile.HostileServer]:
    yield from _hostile(hostile.trickle_server)


@pytest.fixture
def eof_server() -> Iterator[hostile.HostileServer]:
    yield from _hostile(hostile.eof_server)
