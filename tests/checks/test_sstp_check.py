"""The SSTP check against real sstpd configurations, replayed Windows answers and hostile peers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from probe.checks import sstp
from probe.checks.context import CheckContext, ScanOptions
from probe.checks.context import utc_now as now
from probe.grading.profile import load_profile
from probe.grading.rules import evaluate
from probe.model import ErrorReason, Status, Target, TargetResult
from probe.net.limits import Limits
from tests.lab.sstp import SSTP_CONFIGS

ROOT = Path(__file__).resolve().parents[2]


def _scan(
    host: str, port: int, *, timeout: float = 3.0, ca_file: str | None = None
) -> TargetResult:
    async def go() -> TargetResult:
        options = ScanOptions(timeout=timeout, ca_file=ca_file)
        ctx = CheckContext(options=options, limits=Limits(concurrency=16, per_host=5))
        target = Target(
            given=f"sstp://localhost:{port}",
            host=host,
            port=port,
            check="sstp",
            server_name="localhost",
        )
        return await sstp.run(target, ctx)

    return asyncio.run(go())


@pytest.fixture(scope="module")
def sstp_results(sstp_servers: Any) -> dict[str, tuple[Any, TargetResult]]:
    out = {}
    for name in SSTP_CONFIGS:
        server = sstp_servers[name]
        out[name] = (server, _scan(server.host, server.port, ca_file=str(server.ca_file)))
    return out


@pytest.mark.parametrize("name", list(SSTP_CONFIGS))
def test_sstpd_configuration_facts(
    name: str, sstp_results: dict[str, tuple[Any, TargetResult]]
) -> None:
    server, result = sstp_results[name]
    expected = server.expected
    assert result.status is Status.COMPLETED, result.error
    facts = result.sstp
    assert facts is not None
    assert facts.incomplete == {}
    assert facts.sstp is True
    assert facts.over_tls is expected["over_tls"]
    assert facts.plain_http is expected["plain_http"]
    assert list(facts.hash_protocols) == expected["hash_protocols"]
    assert facts.server == expected["server"]
    assert facts.call_connect == "ack"
    assert facts.auth_protocol == expected["auth_protocol"]
    if expected["over_tls"]:
        assert facts.http_status == 200
        assert result.tls is not None
        accepted = [v for v, on in result.tls.versions.items() if on]
        assert accepted == [v for v, on in expected["versions"].items() if on]
        assert result.tls.certificates and result.tls.certificates[0].trusted
    else:
        assert result.tls is None


def _ids(result: TargetResult) -> set[str]:
    graded = evaluate(load_profile("azure-transit"), result, now=now())
    return {f.id for f in graded.findings}


def test_grading_of_the_lab_servers(sstp_results: dict[str, tuple[Any, TargetResult]]) -> None:
    pap = _ids(sstp_results["tls-pap"][1])
    assert "SSTP-NO-PAP" in pap and "SSTP-REQUIRES-TLS" not in pap
    mschap = _ids(sstp_results["tls-mschapv2"][1])
    assert {"SSTP-NO-MSCHAPV2", "SSTP-NO-SHA1-BINDING"} <= mschap
    assert "SSTP-SHA256-BINDING" not in mschap  # sstpd offers SHA256 beside SHA1
    assert not any(i.startswith(("TLS-", "CERT-")) for i in mschap)  # the TLS grade passes
    plain = _ids(sstp_results["plain"][1])
    assert "SSTP-REQUIRES-TLS" in plain and "PROBE-INCOMPLETE" not in plain


# -- replayed answers: Windows behaviour sstpd lacks ([MS-SSTP] bytes, captures/sstp) ----------


def _samples() -> dict[str, bytes]:
    out = {}
    for line in (ROOT / "captures" / "sstp" / "windows_spec.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, text = line.split()
            out[name] = bytes.fromhex(text)
    return out


@contextlib.contextmanager
def _replay(answer: bytes, *, after_request: bytes = b"") -> Iterator[tuple[str, int]]:
    """A plain TCP peer that answers the first bytes it reads with ``answer``, then, after the
    next read, ``after_request``; then holds the connection until the client closes it."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                with contextlib.suppress(OSError):
                    if conn.recv(4096):
                        conn.sendall(answer)
                        if after_request and conn.recv(4096):
                            conn.sendall(after_request)
                        while conn.recv(4096):
                            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[:2]
    finally:
        stop.set()
        thread.join()
        listener.close()


def test_windows_sha256_only_ack_over_plain_http() -> None:
    samples = _samples()
    with _replay(
        samples["windows_http_200"], after_request=samples["windows_call_connect_ack_sha256"]
    ) as (host, port):
        result = _scan(host, port, timeout=2.0)
    facts = result.sstp
    assert facts is not None and result.status is Status.COMPLETED, result.error
    assert facts.hash_protocols == ("SHA256",)
    assert facts.server == "Microsoft-HTTPAPI/2.0"
    assert facts.plain_http is True and facts.over_tls is False
    ids = _ids(result)
    assert "SSTP-REQUIRES-TLS" in ids
    assert "SSTP-SHA256-BINDING" not in ids and "SSTP-NO-SHA1-BINDING" not in ids


def test_call_connect_nak_is_reported() -> None:
    samples = _samples()
    with _replay(
        samples["windows_http_200"], after_request=samples["windows_call_connect_nak"]
    ) as (
        host,
        port,
    ):
        result = _scan(host, port, timeout=2.0)
    assert result.sstp is not None
    assert result.sstp.call_connect == "nak"
    assert result.sstp.hash_protocols == ()


def test_http_server_that_is_not_sstp() -> None:
    answer = b"HTTP/1.1 404 Not Found\r\nServer: nginx\r\nContent-Length: 0\r\n\r\n"
    with _replay(answer) as (host, port):
        result = _scan(host, port, timeout=2.0)
    assert result.status is Status.ERROR
    assert result.error is not None and result.error.reason is ErrorReason.NOT_SSTP
    assert "404" in result.error.message
    assert result.sstp is not None and result.sstp.sstp is False


def test_refused_port() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = _scan("127.0.0.1", port, timeout=2.0)
    assert result.status is Status.ERROR
    assert result.error is not None and result.error.reason is ErrorReason.REFUSED


@pytest.mark.parametrize(
    "peer", ["garbage_server", "silent_server", "huge_length_server", "reset_server", "eof_server"]
)
def test_hostile_peers_give_clean_results(peer: str, request: pytest.FixtureRequest) -> None:
    server = request.getfixturevalue(peer)
    result = _scan(server.host, server.port, timeout=1.5)
    assert result.status is Status.ERROR
    assert result.error is not None
    assert result.error.reason in {
        ErrorReason.NOT_SSTP,
        ErrorReason.TIMEOUT,
        ErrorReason.RESET,
        ErrorReason.REFUSED,
    }
    assert result.duration_seconds < 10
