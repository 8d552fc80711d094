"""probe's STARTTLS targets against real servers on 127.0.0.1 (tests/lab/starttls.py): aiosmtpd,
Dovecot IMAP and POP3, pyftpdlib, OpenLDAP slapd, Prosody, PostgreSQL 15 and MariaDB 10.11.

Each STARTTLS variant must upgrade on every connection and be graded exactly like a TLS
server (versions, suites, the lab certificate trusted by the lab CA for "localhost", a
letter grade); each plain variant must be a completed, plaintext-only result that the
profile fails with STARTTLS-OFFERED. Through the engine, as the CLI runs it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from probe.checks.context import ScanOptions
from probe.engine import scan
from probe.grading.profile import load_profile
from probe.grading.rules import evaluate
from probe.model import Status, Target, TargetResult
from tests.lab.starttls import STARTTLS_CONFIGS, StartTlsServers

# The protocols with an announcement of the upgrade (LDAP and PostgreSQL have none).
ANNOUNCED = {"smtp", "imap", "pop3", "ftp", "xmpp", "mysql"}


def probe_scan(scheme: str, host: str, port: int, ca_file: str) -> TargetResult:
    target = Target(f"{scheme}://localhost:{port}", host, port, "tls", "localhost", scheme)
    results: list[TargetResult] = []
    asyncio.run(scan([target], ScanOptions(ca_file=ca_file, timeout=5.0), results.append))
    (result,) = results
    return result


@pytest.fixture(scope="module")
def scanned(starttls_servers: StartTlsServers, lab_ca_file: str) -> dict[str, TargetResult]:
    """Every lab STARTTLS server scanned once, shared by the tests below."""
    out = {}
    for name, config in STARTTLS_CONFIGS.items():
        server = starttls_servers[name]
        out[name] = probe_scan(config.protocol, server.host, server.port, lab_ca_file)
    return out


UPGRADING = [n for n, c in STARTTLS_CONFIGS.items() if c.starttls]
PLAIN = [n for n, c in STARTTLS_CONFIGS.items() if not c.starttls]


@pytest.mark.parametrize("name", UPGRADING)
def test_starttls_server_is_graded_like_a_tls_server(
    name: str, scanned: dict[str, TargetResult], starttls_servers: Any
) -> None:
    result = scanned[name]
    protocol = STARTTLS_CONFIGS[name].protocol
    assert result.status is Status.COMPLETED, result.error
    assert result.starttls is not None
    assert result.starttls.protocol == protocol
    assert result.starttls.offered is True
    assert result.starttls.advertised is (True if protocol in ANNOUNCED else None)
    facts = result.tls
    assert facts is not None
    assert not facts.incomplete, facts.incomplete
    # Debian 12's OpenSSL 3.0 defaults behind every one of these servers.
    assert facts.versions["TLSv1.3"] and facts.versions["TLSv1.2"]
    assert not any(facts.versions[v] for v in ("SSLv2", "SSLv3"))
    assert facts.cipher_suites["TLSv1.3"]
    [cert] = facts.certificates
    assert (cert.key_type, cert.key_bits) == ("RSA", 2048)
    assert cert.trusted, cert.trust_error
    assert cert.name_matches is True
    # Every connection (elimination, groups, extensions) went through the dialog: more than
    # the two openers, and the count is the TLS check's as for any target.
    assert facts.connections > 10
    judged = evaluate(load_profile("azure-transit"), result, now=datetime.now(UTC))
    assert judged.grade is not None
    assert not [f for f in judged.findings if f.id == "STARTTLS-OFFERED"]


@pytest.mark.parametrize("name", PLAIN)
def test_plaintext_only_server_fails_the_profile(
    name: str, scanned: dict[str, TargetResult]
) -> None:
    result = scanned[name]
    protocol = STARTTLS_CONFIGS[name].protocol
    assert result.status is Status.COMPLETED, result.error
    assert result.tls is None
    assert result.starttls is not None
    assert result.starttls.protocol == protocol
    assert result.starttls.offered is False
    assert result.starttls.advertised is (False if protocol in ANNOUNCED else None)
    assert result.starttls.reply
    judged = evaluate(load_profile("azure-transit"), result, now=datetime.now(UTC))
    assert not judged.passed
    assert [f.id for f in judged.findings] == ["STARTTLS-OFFERED"]
    assert judged.grade is None


def test_refusals_quote_the_server(scanned: dict[str, TargetResult]) -> None:
    replies = {n: r.starttls.reply for n, r in scanned.items() if r.starttls is not None}
    assert replies["ftp-plain"].startswith("500")
    assert replies["pop3-plain"].startswith("-ERR")
    assert replies["ldap-plain"].startswith("protocolError")
    assert replies["postgres-plain"].startswith("N")
    assert "CLIENT_SSL" in replies["mysql-plain"]
    assert replies["smtp"].startswith("220")


def test_wrong_protocol_on_the_port_is_a_clear_error(
    starttls_servers: StartTlsServers, lab_ca_file: str
) -> None:
    """IMAP spoken to the SMTP server: an error naming what came back, not a hang."""
    server = starttls_servers["smtp"]
    result = probe_scan("imap", server.host, server.port, lab_ca_file)
    assert result.status is Status.ERROR
    assert result.error is not None
    assert "not an IMAP greeting" in result.error.message
