"""--deep: sslyze's verdicts merged into tls.vulnerabilities (probe.checks.tls_deep)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from probe.checks import tls, tls_deep
from probe.checks.context import CheckContext, ScanOptions
from probe.checks.tls_vulns import DEEP_VULNERABILITIES, vulnerabilities
from probe.model import Status, Target, TargetResult
from probe.net.limits import Limits

pytest.importorskip("sslyze")


def _ctx(**options: Any) -> CheckContext:
    opts = ScanOptions(**{"timeout": 5.0, "retries": 1, **options})
    return CheckContext(options=opts, limits=Limits(concurrency=8, per_host=opts.per_host))


def _target(host: str, port: int) -> Target:
    return Target(
        given=f"{host}:{port}", host=host, port=port, check="tls", server_name="localhost"
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
    assert not set(vulnerabilities(result.tls)) & set(DEEP_VULNERABILITIES)


def test_nothing_listening_is_incomplete_not_a_crash() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: refused
    verdicts, incomplete = asyncio.run(
        tls_deep.measure(_target("127.0.0.1", port), "127.0.0.1", _ctx(timeout=2.0))
    )
    assert verdicts == dict.fromkeys(DEEP_VULNERABILITIES)
    assert "sslyze could not connect" in incomplete["deep"]


def test_an_sslyze_failure_is_incomplete(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("nassl blew up")

    monkeypatch.setattr(tls_deep, "_scan", broken)
    verdicts, incomplete = asyncio.run(
        tls_deep.measure(_target("127.0.0.1", 1), "127.0.0.1", _ctx())
    )
    assert verdicts == dict.fromkeys(DEEP_VULNERABILITIES)
    assert incomplete == {"deep": "sslyze: RuntimeError: nassl blew up"}
