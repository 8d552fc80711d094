"""--deep: sslyze's verdicts merged into tls.vulnerabilities, and its session resumption and
0-RTT facts into tls.resumption (probe.checks.tls_deep), against real servers; openssl
s_client's -sess_out / -sess_in / -early_data is the independent oracle for the facts."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from probe.checks import tls, tls_deep
from probe.checks.context import CheckContext, ScanOptions
from probe.checks.tls_vulns import DEEP_VULNERABILITIES, vulnerabilities
from probe.grading.rules import RULES
from probe.model import ResumptionFacts, Status, Target, TargetResult, TlsFacts
from probe.net.limits import Limits
from probe.report.json_doc import _tls
from tests.lab.certs import LabCerts
from tests.lab.servers import NginxServer, nginx_tls, require_binary

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "json-output.schema.json"


def _ctx(**options: Any) -> CheckContext:
    opts = ScanOptions(**{"timeout": 5.0, "retries": 1, **options})
    return CheckContext(options=opts, limits=Limits(concurrency=8, per_host=opts.per_host))


def _target(host: str, port: int, scheme: str | None = None) -> Target:
    return Target(
        given=f"{host}:{port}",
        host=host,
        port=port,
        check="tls",
        server_name="localhost",
        scheme=scheme,
    )


def test_deep_verdicts_from_a_real_openssl_3_server(lab_servers: Any, lab_ca_file: str) -> None:
    server = lab_servers["modern"]

    async def go() -> TargetResult:
        target = _target(server.host, server.port)
        return await tls.run(target, _ctx(deep=True, ca_file=lab_ca_file, tls_groups=False))

    result = asyncio.run(go())
    assert result.status is Status.COMPLETED, result.error
    assert result.tls is not None
    assert not [k for k in result.tls.incomplete if k.startswith("deep")], result.tls.incomplete
    found = vulnerabilities(result.tls)
    assert list(found)[-len(DEEP_VULNERABILITIES) :] == list(DEEP_VULNERABILITIES)
    # OpenSSL 3 has neither bug; s_server takes no RSA-oracle bait and honours the SCSV
    assert found["heartbleed"] is False
    assert found["ccs_injection"] is False
    assert found["robot"] is False
    assert found["fallback_scsv"] is False


def test_without_deep_no_deep_keys(lab_servers: Any) -> None:
    server = lab_servers["modern"]
    result = asyncio.run(tls.run(_target(server.host, server.port), _ctx(tls_groups=False)))
    assert result.tls is not None and dict(result.tls.deep_vulnerabilities) == {}
    assert result.tls.resumption is None
    assert not set(vulnerabilities(result.tls)) & set(DEEP_VULNERABILITIES)


def test_nothing_listening_is_incomplete_not_a_crash() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: refused
    deep = asyncio.run(tls_deep.measure(_target("127.0.0.1", port), "127.0.0.1", _ctx(timeout=2.0)))
    assert deep.verdicts == dict.fromkeys(DEEP_VULNERABILITIES)
    assert deep.resumption is None
    assert "sslyze could not connect" in deep.incomplete["deep"]


def test_an_sslyze_failure_is_incomplete(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("nassl blew up")

    monkeypatch.setattr(tls_deep, "_scan", broken)
    deep = asyncio.run(tls_deep.measure(_target("127.0.0.1", 1), "127.0.0.1", _ctx()))
    assert deep.verdicts == dict.fromkeys(DEEP_VULNERABILITIES)
    assert deep.resumption is None
    assert deep.incomplete == {"deep": "sslyze: RuntimeError: nassl blew up"}


# --- session resumption and 0-RTT (facts) -----------------------------------------------------

ATTEMPTS = tls_deep.RESUMPTION_ATTEMPTS


def _deep_tls(host: str, port: int, ca_file: str, scheme: str | None = None) -> TlsFacts:
    """--deep on one server; 0-RTT is only tried on HTTPS targets (``scheme="https"``; the
    plain-HTTP side is skipped with http_port=0)."""
    ctx = _ctx(deep=True, ca_file=ca_file, tls_groups=False, http_port=0)
    result = asyncio.run(tls.run(_target(host, port, scheme), ctx))
    assert result.status is Status.COMPLETED, result.error
    assert result.tls is not None
    deep_gaps = {k: v for k, v in result.tls.incomplete.items() if k.startswith("deep")}
    assert not deep_gaps
    assert result.tls.resumption is not None
    return result.tls


def _deep_facts(host: str, port: int, ca_file: str, scheme: str | None = None) -> ResumptionFacts:
    resumption = _deep_tls(host, port, ca_file, scheme).resumption
    assert resumption is not None
    return resumption


def _s_client(host: str, port: int, *args: str, stdin: bytes = b"") -> str:
    openssl = require_binary("openssl")
    done = subprocess.run(
        [openssl, "s_client", "-connect", f"{host}:{port}", "-servername", "localhost", *args],
        input=stdin,
        capture_output=True,
        timeout=30,
        check=False,
    )
    return done.stdout.decode(errors="replace")


def _oracle_resumes(host: str, port: int, tmp: Path, *, tickets: bool) -> bool:
    """openssl s_client over TLS 1.2: a fresh session saved, then offered again (s_client
    ends each connection with a close_notify)."""
    session = tmp / f"session-{tickets}.pem"
    mode = [] if tickets else ["-no_ticket"]  # without a ticket only the session ID can resume
    first = _s_client(host, port, "-tls1_2", *mode, "-sess_out", str(session))
    if not session.exists() or (tickets and "TLS session ticket:" not in first):
        return False  # with no ticket issued a resumption would be by session ID
    return "\nReused, " in _s_client(host, port, "-tls1_2", *mode, "-sess_in", str(session))


def _oracle_early_data(host: str, port: int, tmp: Path) -> bool:
    """openssl s_client over TLS 1.3: a session from an HTTP exchange, then 0-RTT with it."""
    session, early = tmp / "session13.pem", tmp / "early.txt"
    request = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    early.write_bytes(request)
    _s_client(host, port, "-tls1_3", "-sess_out", str(session), "-ign_eof", stdin=request)
    if not session.exists():
        return False
    out = _s_client(host, port, "-tls1_3", "-sess_in", str(session), "-early_data", str(early))
    return "Early data was accepted" in out


def _python_resumes_after_unclean_close(host: str, port: int) -> bool:
    """Python's ssl over TLS 1.2, tickets off: a session whose connection was closed without a
    close_notify (as sslyze, and many browsers, close), then offered again."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_TICKET
    with socket.create_connection((host, port), timeout=10) as raw:
        session = context.wrap_socket(raw, server_hostname="localhost").session
    with (
        socket.create_connection((host, port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost", session=session) as again,
    ):
        return again.session_reused


# s_server (-www): which TLS 1.2 mechanism resumes: (session IDs as sslyze sees them, session
# IDs for s_client, tickets). sslyze closes without a close_notify; OpenSSL 3's s_server takes
# that as an unexpected EOF, a fatal error, and drops the session from its cache (RFC 5246
# 7.2.1), so session IDs resume for s_client's clean closes but not for sslyze's: by
# definition the fact is "resumes for a client that just closes" (nginx, which sets
# SSL_OP_IGNORE_UNEXPECTED_EOF, resumes either way: below). s_server cannot serve HTTP with
# -early_data (its man page) and sslyze's 0-RTT test needs an HTTP answer: nginx below too.
RESUMPTION_CASES = {
    "modern": (False, True, True),  # OpenSSL's defaults: session cache and tickets
    "no_ticket": (False, True, False),
    "no_cache": (False, False, True),
}


@pytest.mark.parametrize("name", list(RESUMPTION_CASES))
def test_resumption_facts_match_openssl_s_client(
    name: str, lab_servers: Any, lab_ca_file: str, tmp_path: Path
) -> None:
    server = lab_servers[name]
    session_id, clean_session_id, tickets = RESUMPTION_CASES[name]
    facts = _deep_facts(server.host, server.port, lab_ca_file)
    assert (facts.session_id_attempts, facts.ticket_attempts) == (ATTEMPTS, ATTEMPTS)
    assert facts.session_id is session_id
    assert facts.tickets is tickets
    # a loopback server resumes every time or never
    assert facts.session_id_resumed == (ATTEMPTS if session_id else 0)
    assert facts.ticket_resumed == (ATTEMPTS if tickets else 0)
    assert facts.early_data is None  # not an HTTPS target: 0-RTT is not tried
    host, port = server.host, server.port
    assert _python_resumes_after_unclean_close(host, port) is session_id
    assert _oracle_resumes(host, port, tmp_path, tickets=False) is clean_session_id
    assert _oracle_resumes(host, port, tmp_path, tickets=True) is tickets


def test_tls13_only_server_has_no_tls12_resumption(lab_servers: Any, lab_ca_file: str) -> None:
    server = lab_servers["tls13_ecdsa"]
    facts = _deep_facts(server.host, server.port, lab_ca_file)
    # sslyze resumes over TLS 1.2 only: nothing to measure, not "unsupported"
    assert facts.session_id is None and facts.tickets is None
    assert (facts.session_id_attempts, facts.ticket_attempts) == (0, 0)
    assert facts.early_data is None


@pytest.fixture(scope="module")
def early_data_nginx(lab_certs: LabCerts, lab_dir: Path) -> Iterator[NginxServer]:
    with nginx_tls(lab_certs, lab_dir / "nginx-early-data", early_data=True) as server:
        yield server


def test_early_data_accepted_by_nginx(
    early_data_nginx: NginxServer, lab_ca_file: str, tmp_path: Path
) -> None:
    host, port = early_data_nginx.addresses[0]
    tls_facts = _deep_tls(host, port, lab_ca_file, scheme="https")
    facts = tls_facts.resumption
    assert facts is not None and facts.early_data is True
    assert _oracle_early_data(host, port, tmp_path) is True
    # the lab's nginx with 0-RTT has the session cache and tickets on: both resume, however
    # the client closes
    assert facts.tickets is True and facts.session_id is True
    assert _python_resumes_after_unclean_close(host, port) is True
    assert _oracle_resumes(host, port, tmp_path, tickets=False) is True
    document = _tls(tls_facts)
    assert document["resumption"] == {
        "session_id": True,
        "session_id_resumed": ATTEMPTS,
        "session_id_attempts": ATTEMPTS,
        "tickets": True,
        "tickets_resumed": ATTEMPTS,
        "tickets_attempts": ATTEMPTS,
        "early_data": True,
    }
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(document, {"$defs": schema["$defs"], "$ref": "#/$defs/tls"})
    assert RULES["early_data_forbidden"].check({}, tls_facts, datetime.now(UTC)) == [
        ("TLS 1.3 0-RTT early data is accepted: it can be replayed", "early_data")
    ]


def test_early_data_refused_by_default_nginx(
    nginx_factory: Any, lab_ca_file: str, tmp_path: Path
) -> None:
    server = nginx_factory()  # the lab's nginx: tickets and session cache off, no 0-RTT
    host, port = server.addresses[0]
    facts = _deep_facts(host, port, lab_ca_file, scheme="https")
    assert facts.early_data is False
    assert _oracle_early_data(host, port, tmp_path) is False
    assert facts.session_id is False and facts.tickets is False
    assert _oracle_resumes(host, port, tmp_path, tickets=True) is False


def test_a_failed_scan_command_leaves_its_fact_unmeasured() -> None:
    class Attempt:
        status = None
        result = None
        error_reason = None
        error_trace = "boom"

    incomplete: dict[str, str] = {}
    facts = tls_deep._resumption(Attempt(), Attempt(), incomplete)
    assert facts == ResumptionFacts(0, 0, 0, 0, early_data=None)
    assert facts.session_id is None and facts.tickets is None
    assert incomplete == {
        "deep resumption": "sslyze failed: boom",
        "deep early_data": "sslyze failed: boom",
    }
