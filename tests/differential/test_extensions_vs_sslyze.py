"""probe and sslyze must agree on secure renegotiation, TLS compression, extended master
secret and session tickets on the same lab servers.

sslyze completes real handshakes (nassl): ``session_renegotiation`` looks at the
renegotiation_info it gets back, ``tls_compression`` offers DEFLATE, ``tls_extended_master_secret``
offers EMS and ``session_resumption`` resumes with an ID and with a ticket. probe reads the
same facts from the ServerHellos of its TLS 1.2 opener and one more hello
(``probe.checks.tls._measure_extensions``) and never resumes, so for resumption only one
direction is compared: a ticket sslyze resumed with is one probe saw offered, and so is a
session ID. One connection at a time, as in test_vs_sslyze.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sslyze import (  # type: ignore[attr-defined]
    ScanCommand,
    ScanCommandAttemptStatusEnum,
    Scanner,
    ServerConnectivityStatusEnum,
    ServerNetworkConfiguration,
    ServerNetworkLocation,
    ServerScanRequest,
    ServerScanStatusEnum,
)
from sslyze.plugins.session_resumption.implementation import TlsResumptionSupportEnum

from probe.model import Status, TargetResult
from tests.checks.test_tls_extensions import GNUTLS_ALL_OFF
from tests.differential.test_vs_sslyze import SERVER_NAME, run_probe
from tests.lab.certs import LabCerts
from tests.lab.servers import LabServer, LabServers, gnutls_serv

pytestmark = pytest.mark.lab

# s_server with OpenSSL's defaults, TLS 1.0 only, the feature mix; gnutls-serv two ways.
SERVERS = ["modern", "tls10_only", "features", "gnutls", "gnutls_all_off"]
_RESUMED = (TlsResumptionSupportEnum.FULLY_SUPPORTED, TlsResumptionSupportEnum.PARTIALLY_SUPPORTED)


@dataclass(frozen=True)
class SslyzeFacts:
    secure_renegotiation: bool
    compression: bool
    extended_master_secret: bool
    ticket_resumed: bool
    session_id_resumed: bool


def run_sslyze(host: str, port: int) -> SslyzeFacts:
    scanner = Scanner(per_server_concurrent_connections_limit=1, concurrent_server_scans_limit=1)
    request = ServerScanRequest(
        server_location=ServerNetworkLocation(hostname=SERVER_NAME, port=port, ip_address=host),
        network_configuration=ServerNetworkConfiguration(
            tls_server_name_indication=SERVER_NAME, network_timeout=10, network_max_retries=2
        ),
        scan_commands={
            ScanCommand.SESSION_RENEGOTIATION,
            ScanCommand.TLS_COMPRESSION,
            ScanCommand.TLS_EXTENDED_MASTER_SECRET,
            ScanCommand.SESSION_RESUMPTION,
        },
    )
    scanner.queue_scans([request])
    (result,) = list(scanner.get_results())
    assert result.connectivity_status is ServerConnectivityStatusEnum.COMPLETED, result
    assert result.scan_status is ServerScanStatusEnum.COMPLETED and result.scan_result
    scans = result.scan_result
    for attempt in (
        scans.session_renegotiation,
        scans.tls_compression,
        scans.tls_extended_master_secret,
        scans.session_resumption,
    ):
        assert attempt.status is ScanCommandAttemptStatusEnum.COMPLETED, attempt.error_reason
        assert attempt.result is not None
    resumption = scans.session_resumption.result
    return SslyzeFacts(
        secure_renegotiation=scans.session_renegotiation.result.supports_secure_renegotiation,
        compression=scans.tls_compression.result.supports_compression,
        extended_master_secret=scans.tls_extended_master_secret.result.supports_ems_extension,
        ticket_resumed=resumption.tls_ticket_resumption_result in _RESUMED,
        session_id_resumed=resumption.session_id_resumption_result in _RESUMED,
    )


@dataclass
class Observation:
    server: str
    probe: TargetResult
    sslyze: SslyzeFacts
    probe_seconds: float
    sslyze_seconds: float

    def describe(self) -> str:
        assert self.probe.tls is not None
        return (
            f"{self.server}: probe {self.probe.tls.extensions} ({self.probe_seconds:.2f} s); "
            f"sslyze {self.sslyze} ({self.sslyze_seconds:.2f} s)"
        )


@pytest.fixture(scope="module", params=SERVERS)
def observation(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Observation]:
    name: str = request.param

    def observe(host: str, port: int) -> Observation:
        started = time.monotonic()
        probe_result = run_probe(host, port)
        probe_seconds = time.monotonic() - started
        started = time.monotonic()
        facts = run_sslyze(host, port)
        return Observation(name, probe_result, facts, probe_seconds, time.monotonic() - started)

    if name == "gnutls":
        gnutls: LabServer = request.getfixturevalue("gnutls_server")
        yield observe(gnutls.host, gnutls.port)
    elif name == "gnutls_all_off":
        certs: LabCerts = request.getfixturevalue("lab_certs")
        workdir = Path(tmp_path_factory.mktemp("gnutls-off"))
        with gnutls_serv(certs, workdir, priority=GNUTLS_ALL_OFF) as server:
            yield observe(server.host, server.port)
    else:
        servers: LabServers = request.getfixturevalue("lab_servers")
        server = servers[name]
        yield observe(server.host, server.port)


def test_extension_facts_agree(observation: Observation) -> None:
    obs = observation
    print(obs.describe())
    assert obs.probe.status is Status.COMPLETED and obs.probe.tls is not None
    ext = obs.probe.tls.extensions
    assert ext is not None, obs.describe()
    assert ext.secure_renegotiation is obs.sslyze.secure_renegotiation, obs.describe()
    assert (ext.compression != "null") is obs.sslyze.compression, obs.describe()
    assert ext.extended_master_secret is obs.sslyze.extended_master_secret, obs.describe()
    if obs.sslyze.ticket_resumed:
        assert ext.session_tickets is True, obs.describe()
    if obs.sslyze.session_id_resumed:
        assert ext.session_id is True, obs.describe()
    assert ext.session_tickets is False or obs.sslyze.ticket_resumed, obs.describe()
