"""probe and sslyze must agree on the elliptic-curve groups each lab server accepts.

sslyze's ``elliptic_curves`` scan command completes one handshake per curve it knows (29
curves, each alone in supported_groups) at the server's highest TLS version, with nassl's
OpenSSL 1.1.1. probe finds groups by elimination: TLS 1.3 HelloRetryRequests to hellos without
key shares, and ServerKeyExchange curves for TLS 1.2 and older. So the comparison is, per server:
probe's groups at sslyze's version against sslyze's accepted curves, restricted to the curves
both tools test at that version (sslyze's accepted + rejected, intersected with probe's
candidates). Groups only probe tests (FFDHE, the post-quantum hybrids, the brainpool *tls13 code
points) are printed, not compared.

One connection at a time, as in test_vs_sslyze (openssl s_server serves one at a time).
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
    TlsVersionEnum,
)

from probe.codecs.tls.constants import GROUP_NAMES
from probe.codecs.tls.groups import TLS12_GROUP_CANDIDATES, TLS13_GROUP_CANDIDATES
from probe.model import Status, TargetResult
from tests.differential.test_vs_sslyze import SERVER_NAME, run_probe
from tests.lab.certs import LabCerts
from tests.lab.servers import S_SERVER_CONFIGS, LabServer, LabServers, nginx_tls

pytestmark = pytest.mark.lab

_SSLYZE_LABELS = {
    TlsVersionEnum.SSL_3_0: "SSLv3",
    TlsVersionEnum.TLS_1_0: "TLSv1.0",
    TlsVersionEnum.TLS_1_1: "TLSv1.1",
    TlsVersionEnum.TLS_1_2: "TLSv1.2",
    TlsVersionEnum.TLS_1_3: "TLSv1.3",
}
# sslyze names curves by ANSI X9.62 or SECG name; the IANA names differ only in case here.
_SSLYZE_TO_IANA = {"X25519": "x25519", "X448": "x448"}

NGINX_CURVES = ("X25519:secp521r1", "secp384r1:prime256v1")
# Every s_server configuration, the gnutls-serv server and nginx with two ssl_ecdh_curve lists.
SERVERS = [*S_SERVER_CONFIGS, "gnutls", *(f"nginx {c}" for c in NGINX_CURVES)]


@dataclass(frozen=True)
class SslyzeCurves:
    label: str  # the version sslyze tested at: the server's highest
    accepted: frozenset[str]
    tested: frozenset[str]


def run_sslyze(host: str, port: int) -> SslyzeCurves:
    scanner = Scanner(per_server_concurrent_connections_limit=1, concurrent_server_scans_limit=1)
    request = ServerScanRequest(
        server_location=ServerNetworkLocation(hostname=SERVER_NAME, port=port, ip_address=host),
        network_configuration=ServerNetworkConfiguration(
            tls_server_name_indication=SERVER_NAME, network_timeout=10, network_max_retries=2
        ),
        scan_commands={ScanCommand.ELLIPTIC_CURVES},
    )
    scanner.queue_scans([request])
    (result,) = list(scanner.get_results())
    assert result.connectivity_status is ServerConnectivityStatusEnum.COMPLETED, result
    assert result.scan_status is ServerScanStatusEnum.COMPLETED and result.scan_result
    attempt = result.scan_result.elliptic_curves
    assert attempt.status is ScanCommandAttemptStatusEnum.COMPLETED, attempt.error_reason
    curves = attempt.result
    assert curves is not None and result.connectivity_result is not None
    highest = result.connectivity_result.highest_tls_version_supported
    accepted = {c.name for c in curves.supported_curves or ()}
    rejected = {c.name for c in curves.rejected_curves or ()}
    if not curves.supports_ecdh_key_exchange:
        # it tried none; say every curve it knows was "tested" and none accepted
        from nassl.ephemeral_key_info import _OPENSSL_NID_TO_SECG_ANSI_X9_62, OpenSslEcNidEnum

        rejected = {
            _OPENSSL_NID_TO_SECG_ANSI_X9_62[n]
            for n in OpenSslEcNidEnum.get_supported_by_ssl_client()
        }

    def iana(names: set[str]) -> frozenset[str]:
        return frozenset(_SSLYZE_TO_IANA.get(n, n) for n in names)

    return SslyzeCurves(_SSLYZE_LABELS[highest], iana(accepted), iana(accepted | rejected))


def probe_candidates(label: str) -> frozenset[str]:
    groups = TLS13_GROUP_CANDIDATES if label == "TLSv1.3" else TLS12_GROUP_CANDIDATES
    return frozenset(GROUP_NAMES[g] for g in groups)


@dataclass
class Observation:
    server: str
    probe: TargetResult
    sslyze: SslyzeCurves
    probe_seconds: float
    sslyze_seconds: float

    def describe(self) -> str:
        facts = self.probe.tls
        assert facts is not None
        label = self.sslyze.label
        both = probe_candidates(label) & self.sslyze.tested
        return (
            f"{self.server}: sslyze at {label} accepts {sorted(self.sslyze.accepted)} "
            f"({self.sslyze_seconds:.2f} s); probe {dict(facts.groups)} "
            f"({self.probe_seconds:.2f} s, {facts.connections} connections in all); "
            f"compared {len(both)}, probe only {sorted(probe_candidates(label) - both)}, "
            f"sslyze only {sorted(self.sslyze.tested - both)}"
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
        curves = run_sslyze(host, port)
        return Observation(name, probe_result, curves, probe_seconds, time.monotonic() - started)

    if name == "gnutls":
        gnutls: LabServer = request.getfixturevalue("gnutls_server")
        yield observe(gnutls.host, gnutls.port)
    elif name.startswith("nginx "):
        certs: LabCerts = request.getfixturevalue("lab_certs")
        workdir = tmp_path_factory.mktemp("nginx-groups")
        with nginx_tls(certs, Path(workdir), ecdh_curve=name.split()[1]) as nginx:
            yield observe(nginx.host, nginx.ports[0])
    else:
        servers: LabServers = request.getfixturevalue("lab_servers")
        server = servers[name]
        yield observe(server.host, server.port)


def test_elliptic_curve_groups_agree(observation: Observation) -> None:
    obs = observation
    print(obs.describe())
    assert obs.probe.status is Status.COMPLETED and obs.probe.tls is not None
    assert not obs.probe.tls.incomplete, obs.describe()
    label = obs.sslyze.label
    both = probe_candidates(label) & obs.sslyze.tested
    probe_says = frozenset(obs.probe.tls.groups.get(label, ())) & both
    sslyze_says = obs.sslyze.accepted & both
    assert probe_says == sslyze_says, (
        f"only probe accepts {sorted(probe_says - sslyze_says)}, "
        f"only sslyze accepts {sorted(sslyze_says - probe_says)}\n{obs.describe()}"
    )
