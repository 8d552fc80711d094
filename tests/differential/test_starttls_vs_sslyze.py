"""probe and sslyze grade the same STARTTLS servers and must agree on versions and suites.

sslyze speaks STARTTLS with its own code (``tls_opportunistic_encryption``) for every protocol
probe has but MySQL, then completes one real handshake per (version, suite), one connection at
a time; probe runs its own dialogs (probe.codecs.starttls) before raw hellos. The servers are
the lab's real ones (tests/lab/starttls.py); what is compared is the same as in
test_vs_sslyze.py, restricted to the suites both sides tested.
"""

from __future__ import annotations

import asyncio

import pytest
from sslyze import ServerNetworkConfiguration  # type: ignore[attr-defined]
from sslyze.connection_helpers.opportunistic_tls_helpers import ProtocolWithOpportunisticTlsEnum

from probe.checks.context import ScanOptions
from probe.engine import scan
from probe.model import Status, Target, TargetResult
from tests.differential.test_vs_sslyze import SERVER_NAME, VERSIONS, probe_offers, run_sslyze
from tests.lab.starttls import StartTlsServers

pytestmark = pytest.mark.lab

SSLYZE_PROTOCOLS = {
    "smtp": ProtocolWithOpportunisticTlsEnum.SMTP,
    "imap": ProtocolWithOpportunisticTlsEnum.IMAP,
    "pop3": ProtocolWithOpportunisticTlsEnum.POP3,
    "ftp": ProtocolWithOpportunisticTlsEnum.FTP,
    "ldap": ProtocolWithOpportunisticTlsEnum.LDAP,
    "xmpp": ProtocolWithOpportunisticTlsEnum.XMPP,
    "postgres": ProtocolWithOpportunisticTlsEnum.POSTGRES,
}


# Servers that pick DHE only with an RFC 7919 group in supported_groups (verified with
# gnutls-cli: DHE-RSA with +GROUP-FFDHE2048 connects, with only +GROUP-SECP256R1 it fails).
RFC7919_ONLY_DHE = {"ldap"}


def probe_scan(protocol: str, host: str, port: int) -> TargetResult:
    target = Target(f"{protocol}://localhost:{port}", host, port, "tls", SERVER_NAME, protocol)
    results: list[TargetResult] = []
    asyncio.run(scan([target], ScanOptions(tls_groups=False), results.append))
    (result,) = results
    return result


@pytest.mark.parametrize("protocol", sorted(SSLYZE_PROTOCOLS))
def test_versions_and_suites_agree(protocol: str, starttls_servers: StartTlsServers) -> None:
    server = starttls_servers[protocol]
    mine = probe_scan(protocol, server.host, server.port)
    assert mine.status is Status.COMPLETED, mine.error
    assert mine.tls is not None and not mine.tls.incomplete, mine.tls
    opportunistic = SSLYZE_PROTOCOLS[protocol]
    network = ServerNetworkConfiguration(
        tls_server_name_indication=SERVER_NAME,
        tls_opportunistic_encryption=opportunistic,
        xmpp_to_hostname=SERVER_NAME if protocol == "xmpp" else None,
        network_timeout=10,
        network_max_retries=2,
    )
    theirs = run_sslyze(server.host, server.port, network)
    assert dict(mine.tls.versions) == {label: v.supported for label, v in theirs.items()}
    differences = []
    for label in VERSIONS:
        both = probe_offers(label) & theirs[label].tested
        probe_says = frozenset(mine.tls.cipher_suites.get(label, ())) & both
        sslyze_says = theirs[label].accepted & both
        if protocol in RFC7919_ONLY_DHE:
            # Debian's slapd links GnuTLS without DH parameters: it negotiates DHE only with
            # a client that lists an RFC 7919 group (RFC 7919 4). probe's hellos list them,
            # sslyze's do not; the DHE suites probe sees must then use such a group.
            dhe = {suite for suite in probe_says - sslyze_says if "_DHE_" in suite}
            for suite in dhe:
                params = mine.tls.key_exchange.get(suite)
                assert params is not None and (params.group or "").startswith("ffdhe"), suite
            probe_says -= dhe
        if probe_says != sslyze_says:
            differences.append(
                f"{label}: only probe {sorted(probe_says - sslyze_says)}, "
                f"only sslyze {sorted(sslyze_says - probe_says)}"
            )
    assert not differences, differences
    # Not a vacuous comparison: both tools saw the server's TLS 1.2 and 1.3 suites.
    assert mine.tls.cipher_suites.get("TLSv1.2") and mine.tls.cipher_suites.get("TLSv1.3")
