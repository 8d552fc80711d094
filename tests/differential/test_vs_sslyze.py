"""probe and sslyze scan the same lab servers and must agree on versions and accepted suites.

sslyze (https://github.com/nabla-c0d3/sslyze) is an independent implementation: it completes a
real handshake with OpenSSL (nassl) for every (version, cipher suite) pair, one connection per
suite, where probe sends raw hellos and finds suites by elimination. Whatever both tools test
must come out the same.

What is compared, per server and per version (SSLv2 .. TLSv1.3):

* the version support booleans (probe's ``TlsFacts.versions`` against sslyze's
  ``CipherSuitesScanResult.is_tls_version_supported``);
* the accepted suites by IANA name, restricted to the suites both sides tested at that
  version: sslyze's accepted + rejected (the suites it really tried) intersected with probe's
  ``candidate_suites(version)`` (the suites probe really offers; all of them are in ``SUITES``).
  For SSLv2 probe's side is ``SSL2_CIPHERS``: SSLv2 cipher kinds are not TLS suites.

Suites only one side tests are not compared; they are printed (run with ``-s`` or ``-rP``) and
listed in every assertion message, so a reader sees the coverage.

sslyze runs with one connection at a time per server: ``openssl s_server`` serves a single
connection at a time, and sslyze turns a handshake timeout into "rejected" (it cannot tell a
silent server from a network glitch), so a queue of parallel handshakes would show up as false
disagreements. One connection at a time costs about a second per server here anyway.

SSLv2 needs no special casing on sslyze's side: nassl ships a legacy OpenSSL 1.0.2 with SSLv2
enabled (``LegacySslClient``), so the SSL 2.0 scan command really sends SSLv2 hellos. None of
the lab servers speaks SSLv2, so that version is compared as "both say no".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass

import pytest

# sslyze documents these top-level names but its __init__ has no __all__, hence the ignore.
from sslyze import (  # type: ignore[attr-defined]
    CipherSuitesScanResult,
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
from sslyze.plugins.openssl_cipher_suites.cipher_suites import CipherSuitesRepository

from probe.checks.context import ScanOptions
from probe.codecs.tls.constants import Version
from probe.codecs.tls.suites import SSL2_CIPHERS, SUITES, candidate_suites
from probe.engine import scan
from probe.model import TLS_VERSION_LABELS, Status, Target, TargetResult
from tests.lab.servers import S_SERVER_CONFIGS, LabServer, LabServers, NginxFactory

# Explicit: the lab fixtures are fetched with getfixturevalue, which the conftest's automatic
# ``lab`` marking cannot see.
pytestmark = pytest.mark.lab

SERVER_NAME = "localhost"  # SNI for both tools; every good lab certificate names it

# label -> (sslyze scan command, sslyze version, probe version)
VERSIONS: dict[str, tuple[ScanCommand, TlsVersionEnum, Version]] = {
    "SSLv2": (ScanCommand.SSL_2_0_CIPHER_SUITES, TlsVersionEnum.SSL_2_0, Version.SSL2),
    "SSLv3": (ScanCommand.SSL_3_0_CIPHER_SUITES, TlsVersionEnum.SSL_3_0, Version.SSL3),
    "TLSv1.0": (ScanCommand.TLS_1_0_CIPHER_SUITES, TlsVersionEnum.TLS_1_0, Version.TLS1_0),
    "TLSv1.1": (ScanCommand.TLS_1_1_CIPHER_SUITES, TlsVersionEnum.TLS_1_1, Version.TLS1_1),
    "TLSv1.2": (ScanCommand.TLS_1_2_CIPHER_SUITES, TlsVersionEnum.TLS_1_2, Version.TLS1_2),
    "TLSv1.3": (ScanCommand.TLS_1_3_CIPHER_SUITES, TlsVersionEnum.TLS_1_3, Version.TLS1_3),
}
assert tuple(VERSIONS) == TLS_VERSION_LABELS

# Every s_server configuration, gnutls-serv, and nginx with the factory's default settings.
SERVERS = [*S_SERVER_CONFIGS, "gnutls", "nginx"]


def probe_offers(label: str) -> frozenset[str]:
    """IANA names of what probe puts in its hellos at this version."""
    version = VERSIONS[label][2]
    if version is Version.SSL2:
        return frozenset(SSL2_CIPHERS.values())
    return frozenset(SUITES[code].name for code in candidate_suites(version))


@dataclass(frozen=True)
class SslyzeVersion:
    accepted: frozenset[str]
    tested: frozenset[str]  # accepted + rejected: the suites sslyze really tried
    supported: bool


@dataclass
class Observation:
    server: str
    address: str
    probe: TargetResult
    probe_seconds: float
    sslyze: dict[str, SslyzeVersion]
    sslyze_seconds: float

    def probe_accepted(self, label: str) -> frozenset[str]:
        assert self.probe.tls is not None
        return frozenset(self.probe.tls.cipher_suites.get(label, ()))


def run_probe(host: str, port: int) -> TargetResult:
    """probe's TLS check with its default options, through the engine like the CLI."""
    target = Target(
        given=f"{host}:{port}", host=host, port=port, check="tls", server_name=SERVER_NAME
    )
    results: list[TargetResult] = []
    asyncio.run(scan([target], ScanOptions(), results.append))
    assert len(results) == 1
    return results[0]


def run_sslyze(
    host: str, port: int, network: ServerNetworkConfiguration | None = None
) -> dict[str, SslyzeVersion]:
    """sslyze's six cipher suite scan commands, one connection at a time (see module doc).
    ``network`` replaces the default settings (e.g. to speak STARTTLS first)."""
    scanner = Scanner(per_server_concurrent_connections_limit=1, concurrent_server_scans_limit=1)
    request = ServerScanRequest(
        server_location=ServerNetworkLocation(hostname=SERVER_NAME, port=port, ip_address=host),
        network_configuration=network
        or ServerNetworkConfiguration(
            tls_server_name_indication=SERVER_NAME, network_timeout=10, network_max_retries=2
        ),
        scan_commands={command for command, _, _ in VERSIONS.values()},
    )
    scanner.queue_scans([request])
    (result,) = list(scanner.get_results())
    if result.connectivity_status is not ServerConnectivityStatusEnum.COMPLETED:
        trace = (
            "".join(result.connectivity_error_trace.format())
            if result.connectivity_error_trace
            else ""
        )
        raise AssertionError(f"sslyze could not connect to {host}:{port}:\n{trace}")
    assert result.scan_status is ServerScanStatusEnum.COMPLETED and result.scan_result
    out: dict[str, SslyzeVersion] = {}
    for label, (command, _, _) in VERSIONS.items():
        attempt = getattr(result.scan_result, command.value)
        if attempt.status is not ScanCommandAttemptStatusEnum.COMPLETED:
            trace = "".join(attempt.error_trace.format()) if attempt.error_trace else ""
            raise AssertionError(
                f"sslyze {command.value} failed ({attempt.error_reason}):\n{trace}"
            )
        scanned: CipherSuitesScanResult = attempt.result
        accepted = frozenset(c.cipher_suite.name for c in scanned.accepted_cipher_suites)
        rejected = frozenset(c.cipher_suite.name for c in scanned.rejected_cipher_suites)
        out[label] = SslyzeVersion(accepted, accepted | rejected, scanned.is_tls_version_supported)
    return out


def observe(server: str, host: str, port: int) -> Observation:
    started = time.monotonic()
    probe_result = run_probe(host, port)
    probe_seconds = time.monotonic() - started
    started = time.monotonic()
    sslyze_result = run_sslyze(host, port)
    sslyze_seconds = time.monotonic() - started
    return Observation(
        server, f"{host}:{port}", probe_result, probe_seconds, sslyze_result, sslyze_seconds
    )


@pytest.fixture(scope="module", params=SERVERS)
def observation(request: pytest.FixtureRequest) -> Observation:
    """One probe scan and one sslyze scan per server, shared by the tests of this module."""
    name: str = request.param
    if name == "gnutls":
        gnutls: LabServer = request.getfixturevalue("gnutls_server")
        return observe(name, gnutls.host, gnutls.port)
    if name == "nginx":
        factory: NginxFactory = request.getfixturevalue("nginx_factory")
        nginx = factory()
        return observe(name, nginx.host, nginx.ports[0])
    servers: LabServers = request.getfixturevalue("lab_servers")
    server = servers[name]
    return observe(name, server.host, server.port)


def coverage(obs: Observation, label: str) -> str:
    """The suites only one side tested at this version, with what each side made of them."""
    mine = probe_offers(label)
    theirs = obs.sslyze[label].tested
    sslyze_only = sorted(theirs - mine)
    probe_only = mine - theirs
    probe_only_accepted = sorted(obs.probe_accepted(label) & probe_only)
    sslyze_only_accepted = sorted(obs.sslyze[label].accepted - mine)
    return (
        f"  {label}: compared {len(mine & theirs)}; "
        f"sslyze only {len(sslyze_only)} (accepted {sslyze_only_accepted}) {sslyze_only}; "
        f"probe only {len(probe_only)} (accepted {probe_only_accepted})"
    )


def describe(obs: Observation) -> str:
    assert obs.probe.tls is not None
    lines = [
        f"{obs.server} at {obs.address}: probe {obs.probe_seconds:.2f} s "
        f"({obs.probe.tls.connections} connections), sslyze {obs.sslyze_seconds:.2f} s",
        *(coverage(obs, label) for label in VERSIONS),
    ]
    if obs.probe.tls.incomplete:
        lines.append(f"  probe incomplete: {dict(obs.probe.tls.incomplete)}")
    return "\n".join(lines)


def _probe_completed(obs: Observation) -> None:
    assert obs.probe.status is Status.COMPLETED, (obs.server, obs.probe.error)
    assert obs.probe.tls is not None
    # A version probe could not measure would make any comparison meaningless.
    assert not obs.probe.tls.incomplete, describe(obs)


def test_versions_agree(observation: Observation) -> None:
    obs = observation
    _probe_completed(obs)
    assert obs.probe.tls is not None
    probe_versions: Mapping[str, bool] = obs.probe.tls.versions
    sslyze_versions = {label: v.supported for label, v in obs.sslyze.items()}
    print(describe(obs))
    assert dict(probe_versions) == sslyze_versions, describe(obs)


def test_accepted_suites_agree(observation: Observation) -> None:
    obs = observation
    _probe_completed(obs)
    differences = []
    for label in VERSIONS:
        both = probe_offers(label) & obs.sslyze[label].tested
        probe_says = obs.probe_accepted(label) & both
        sslyze_says = obs.sslyze[label].accepted & both
        if probe_says != sslyze_says:
            differences.append(
                f"  {label}: only probe accepts {sorted(probe_says - sslyze_says)}, "
                f"only sslyze accepts {sorted(sslyze_says - probe_says)}"
            )
    assert not differences, "\n".join(["disagreement:", *differences, describe(obs)])


def test_sslyze_suites_are_known_to_probe() -> None:
    """Every suite sslyze can test is in probe's table under the same IANA name (no server)."""
    lines = []
    for label, (_, tls_version, probe_version) in VERSIONS.items():
        theirs = {c.name for c in CipherSuitesRepository.get_all_cipher_suites(tls_version)}
        known = (
            set(SSL2_CIPHERS.values())
            if probe_version is Version.SSL2
            else {s.name for s in SUITES.values()}
        )
        unknown = sorted(theirs - known)
        assert not unknown, (label, unknown)
        lines.append(
            f"{label}: sslyze knows {len(theirs)}, probe offers {len(probe_offers(label))}, "
            f"only probe offers {sorted(probe_offers(label) - theirs)}"
        )
    print("\n".join(lines))
