"""HTTPS enforcement (probe.checks.https) against nginx on loopback, and hostile HTTP peers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from probe.checks import https, tls
from probe.checks.context import CheckContext, ScanOptions
from probe.grading.profile import load_profile
from probe.grading.rules import evaluate
from probe.model import HstsFacts, Status, Target, TargetResult
from probe.net.limits import Limits
from probe.report.json_doc import document, dumps
from probe.targets import parse_target
from tests.json_contract import TLS_HSTS_KEYS, TLS_KEYS
from tests.lab.certs import LabCerts
from tests.lab.servers import NginxServer, nginx_tls

HSTS = "max-age=63072000; includeSubDomains; preload"
GOOD_HSTS = HstsFacts(max_age=63072000, include_subdomains=True, preload=True)


def _ctx(http_port: int, *, timeout: float = 3.0, ca_file: str | None = None) -> CheckContext:
    options = ScanOptions(
        timeout=timeout, http_port=http_port, retries=0, tls_groups=False, ca_file=ca_file
    )
    return CheckContext(options=options, limits=Limits(concurrency=16, per_host=5))


def _target(port: int, *, scheme: str | None = "https") -> Target:
    given = f"{scheme}://localhost:{port}" if scheme else f"localhost:{port}"
    return Target(given, "127.0.0.1", port, "tls", server_name="localhost", scheme=scheme)


def _measure(target: Target, http_port: int, timeout: float = 3.0) -> https.HttpsOutcome | None:
    return asyncio.run(https.measure(target, "127.0.0.1", _ctx(http_port, timeout=timeout)))


@pytest.fixture(scope="module")
def nginx(lab_certs: LabCerts, lab_dir: Path) -> Iterator[Callable[..., NginxServer]]:
    """nginx_tls(hsts=..., plain_http=...), each started once per module."""
    stack = contextlib.ExitStack()
    started: dict[tuple[str | None, str | None], NginxServer] = {}

    def start(hsts: str | None = HSTS, plain_http: str | None = "redirect") -> NginxServer:
        key = (hsts, plain_http)
        if key not in started:
            started[key] = stack.enter_context(
                nginx_tls(lab_certs, lab_dir / "nginx-https", hsts=hsts, plain_http=plain_http)
            )
        return started[key]

    with stack:
        yield start


def test_which_targets_are_https() -> None:
    def first(text: str) -> Target:
        return parse_target(text)[0]

    assert https.applies(first("https://example.com"))
    assert https.applies(first("https://example.com:8443"))
    assert https.applies(first("example.com"))  # a bare host is TLS on 443: a web host
    assert https.applies(first("192.0.2.1:443"))
    assert not https.applies(first("example.com:8443"))
    assert not https.applies(first("tls://example.com"))
    assert not https.applies(first("sstp://example.com"))
    assert _measure(_target(1, scheme="tls"), 80) is None


def test_hsts_and_redirect_to_https_pass(nginx: Callable[..., NginxServer]) -> None:
    server = nginx()
    out = _measure(_target(server.ports[0]), server.http_port or 0)
    assert out is not None and out.incomplete == {}
    assert (out.https_status, out.hsts, out.hsts_header) == (200, GOOD_HSTS, HSTS)
    assert (out.http_plain, out.http_redirects_to_https) == ("redirect_https", True)
    assert out.http_location == f"https://localhost:{server.ports[0]}/"
    assert out.connections == 2


@pytest.mark.parametrize(
    ("mode", "plain", "redirects", "connections"),
    [
        ("content", "content", False, 2),
        ("rejected", "rejected", False, 2),
        ("redirect_relative_then_https", "redirect_https", True, 3),  # one http hop, then https
        ("redirect_other_host", "redirect_other_host", None, 2),  # never followed
    ],
)
def test_plain_http_side(
    nginx: Callable[..., NginxServer], mode: str, plain: str, redirects: bool | None,
    connections: int,
) -> None:  # fmt: skip
    server = nginx(hsts=None, plain_http=mode)
    out = _measure(_target(server.ports[0]), server.http_port or 0)
    assert out is not None and out.incomplete == {}
    assert (out.https_status, out.hsts, out.hsts_header) == (200, None, None)
    assert (out.http_plain, out.http_redirects_to_https) == (plain, redirects)
    assert out.connections == connections
    if mode == "redirect_other_host":
        assert out.http_location == "https://elsewhere.invalid/"


def test_redirect_loop_is_capped(nginx: Callable[..., NginxServer]) -> None:
    server = nginx(hsts=None, plain_http="loop")
    out = _measure(_target(server.ports[0]), server.http_port or 0)
    assert out is not None
    assert (out.http_plain, out.http_redirects_to_https) == ("error", None)
    assert "more than 3 redirects" in out.incomplete["http"]
    assert out.connections == 1 + 4  # HTTPS + the first request and 3 redirects


def test_refused_plain_port_passes_and_zero_skips_it(nginx: Callable[..., NginxServer]) -> None:
    server = nginx(hsts=None, plain_http=None)
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))  # kernel-picked and bound, but not listening: refused
        closed_port = sock.getsockname()[1]
        out = _measure(_target(server.ports[0]), closed_port)
    assert out is not None and out.incomplete == {}
    assert (out.http_plain, out.http_redirects_to_https) == ("refused", None)
    skipped = _measure(_target(server.ports[0]), 0)
    assert skipped is not None and (skipped.http_plain, skipped.connections) == (None, 1)


@pytest.mark.parametrize("fixture", ["garbage_server", "silent_server", "huge_length_server"])
def test_hostile_plain_http_peer_is_an_error_not_a_crash(
    nginx: Callable[..., NginxServer], fixture: str, request: pytest.FixtureRequest
) -> None:
    hostile: Any = request.getfixturevalue(fixture)
    server = nginx()
    out = _measure(_target(server.ports[0]), hostile.port, timeout=1.5)
    assert out is not None
    assert (out.http_plain, out.http_redirects_to_https) == ("error", None)
    assert "http" in out.incomplete and "https" not in out.incomplete
    assert out.hsts == GOOD_HSTS  # the HTTPS side is unaffected


@pytest.mark.parametrize("fixture", ["garbage_server", "silent_server", "huge_length_server"])
def test_hostile_https_peer_leaves_hsts_unmeasured(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    hostile: Any = request.getfixturevalue(fixture)
    out = _measure(_target(hostile.port), 0, timeout=1.5)
    assert out is not None
    assert (out.https_status, out.hsts, out.http_plain) == (None, None, None)
    why = out.incomplete["https"]
    assert why.startswith(f"GET https://localhost:{hostile.port}/: "), why
    assert why.split(": ")[1] in ("not_tls", "timeout", "protocol_error"), why


def _scan(target: Target, http_port: int, ca_file: str) -> TargetResult:
    async def go() -> TargetResult:
        return await tls.run(target, _ctx(http_port, ca_file=ca_file))

    result = asyncio.run(go())
    profile = load_profile("azure-transit")
    return evaluate(profile, result, now=datetime.now(UTC))


def test_tls_check_carries_the_facts_to_rules_grade_and_json(
    nginx: Callable[..., NginxServer], lab_ca_file: str
) -> None:
    good = nginx()
    result = _scan(_target(good.ports[0]), good.http_port or 0, lab_ca_file)
    assert result.status is Status.COMPLETED and result.tls is not None
    assert (result.tls.hsts, result.tls.http_plain) == (GOOD_HSTS, "redirect_https")
    assert not [f for f in result.findings if f.id.startswith("HTTPS-")]
    assert not [c for c in result.grade_caps if c.rule.startswith("hsts")]
    assert result.grade != "A" or not result.grade_caps  # an uncapped A is an A+
    doc = json.loads(dumps(document("azure-transit", [result])))
    out = doc["targets"][0]["tls"]
    assert list(out) == TLS_KEYS
    assert list(out["hsts"]) == TLS_HSTS_KEYS
    assert out["hsts"] == {"max_age": 63072000, "include_subdomains": True, "preload": True}
    assert (out["http_redirects_to_https"], out["http_plain"]) == (True, "redirect_https")

    bad = nginx(hsts=None, plain_http="content")
    result = _scan(_target(bad.ports[0], scheme=None), bad.http_port or 0, lab_ca_file)
    # a bare host on a port other than 443 is not an HTTPS target: nothing asked over HTTP
    assert result.tls is not None and result.tls.http_plain is None
    assert "hsts_not_measured" in {c.rule for c in result.grade_caps}
    result = _scan(_target(bad.ports[0]), bad.http_port or 0, lab_ca_file)
    assert result.tls is not None
    found = {f.id: f for f in result.findings}
    assert found["HTTPS-NO-PLAIN-HTTP"].severity == "high"
    assert found["HTTPS-HSTS"].message == "no Strict-Transport-Security (HSTS) header over HTTPS"
    assert "hsts_missing" in {c.rule for c in result.grade_caps}
    assert result.passed is False
