"""The IKE check against a real strongSwan responder (tests/lab/strongswan.py), ike-scan as an
oracle, and hostile UDP peers."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from probe.checks import ike
from probe.checks.context import CheckContext, ScanOptions
from probe.checks.context import utc_now as now
from probe.codecs import ike as codec
from probe.grading.profile import load_profile
from probe.grading.rules import evaluate
from probe.model import ErrorReason, IkeFacts, Status, Target, TargetResult
from probe.net.limits import Limits
from tests.lab.strongswan import STRONGSWAN_CONFIGS

# Names of strongSwan suites as probe reports them (the lab's expected facts use them too).
KINDS = (("encryption", "encryption"), ("prf", "prf"), ("integrity", "integrity"))


def _scan(host: str, port: int = 500, **options: Any) -> TargetResult:
    async def go() -> TargetResult:
        settings = {"timeout": 4.0, **options}
        ctx = CheckContext(
            options=ScanOptions(**settings), limits=Limits(concurrency=8, per_host=5)
        )
        target = Target(given=f"ike://{host}:{port}", host=host, port=port, check="ike")
        return await ike.run(target, ctx)

    return asyncio.run(go())


@pytest.fixture(scope="module")
def ike_results(strongswan_lab: Any) -> dict[str, tuple[Any, TargetResult]]:
    strongswan_lab.restart()  # no half-open SAs left by other tests
    return {
        name: (strongswan_lab[name], _scan(strongswan_lab[name].host))
        for name in STRONGSWAN_CONFIGS
    }


def _facts(result: TargetResult) -> IkeFacts:
    assert result.status is Status.COMPLETED, result.error
    assert result.ike is not None
    return result.ike


@pytest.mark.parametrize("name", list(STRONGSWAN_CONFIGS))
def test_enumeration_matches_the_responder_configuration(
    name: str, ike_results: dict[str, tuple[Any, TargetResult]]
) -> None:
    server, result = ike_results[name]
    expected = server.expected
    facts = _facts(result)
    assert facts.incomplete == {}
    version = facts.ikev2_accepted if expected["ike_version"] == 2 else facts.ikev1_accepted
    assert set(version.encryption) == set(expected["encryption"])
    assert set(version.prf) == set(expected["prf"])
    assert set(version.integrity) == set(expected["integrity"])
    assert set(version.dh_groups) == set(expected["groups"])
    preferred = expected["preferred"]
    if expected["ike_version"] == 2:
        assert facts.ikev2 is True
        assert facts.ikev1 is False  # the address has no IKEv1 connection: NO_PROPOSAL
        suite = facts.ikev2_preferred
        assert suite is not None
        assert (suite.encryption, suite.prf, suite.integrity, suite.dh_group) == (
            preferred["encryption"],
            preferred["prf"],
            preferred["integrity"],
            preferred["group"],
        )
        # The budget for a full IKEv2 enumeration. COOKIE round trips are the
        # responder's demand, not offers: charon asks for them when an earlier scan (or an
        # alias sharing its calm-down bucket) left half-open SAs.
        assert facts.ikev2_offers <= 30, facts.ikev2_offers
        assert facts.certificate_requests is expected["certreq"]
        assert set(expected["notifies"]) <= set(facts.notifies)
    else:
        assert facts.ikev1 is True
        assert facts.ikev2 is True  # it answered IKEv2 with NO_PROPOSAL_CHOSEN
        assert facts.ikev2_accepted.encryption == ()
        v1 = facts.ikev1_preferred
        # charon 5.9.8 accepts RSA signatures in Main Mode's first message even on a PSK
        # connection (the method is checked later), so probe reports both.
        assert v1 is not None and v1.auth in {"PSK", "RSA-SIG"}
        assert (v1.encryption, v1.prf, v1.integrity, v1.dh_group) == (
            preferred["encryption"],
            preferred["prf"],
            preferred["integrity"],
            preferred["group"],
        )
        for vendor in expected["vendor_ids"]:  # "DPD" is named "DPD 1.0" by probe
            assert any(name.startswith(vendor) for name in facts.vendors), facts.vendors
    assert facts.aggressive_mode_psk is expected.get("aggressive_mode", False)
    assert facts.nat_t is True


def test_aggressive_mode_evidence_never_holds_the_hash(
    ike_results: dict[str, tuple[Any, TargetResult]],
) -> None:
    facts = _facts(ike_results["ikev1-aggressive-psk"][1])
    assert facts.aggressive_mode_evidence is not None
    assert "HASH_R" in facts.aggressive_mode_evidence
    # Prose only: no hex run long enough to be (part of) the hash.
    assert not re.search(r"[0-9a-fA-F]{12,}", facts.aggressive_mode_evidence)


def test_grading_of_the_lab_responders(
    ike_results: dict[str, tuple[Any, TargetResult]],
) -> None:
    profile = load_profile("azure-transit")

    def ids(name: str) -> set[str]:
        return {f.id for f in evaluate(profile, ike_results[name][1], now=now()).findings}

    assert {"IKE-WEAK-ALGORITHMS", "IKE-PREFERS-STRONG"} <= ids("weak-ikev2")
    assert "IKE-NO-IKEV1" not in ids("weak-ikev2")
    assert ids("strong-ikev2") == set()
    assert {"IKE-NO-IKEV1", "IKE-FORBIDDEN-ALGORITHMS"} <= ids("ikev1-main")  # MD5
    assert {"IKE-NO-AGGRESSIVE-PSK", "IKE-NO-IKEV1"} <= ids("ikev1-aggressive-psk")
    assert "IKE-PREFERS-STRONG" in ids("ikev2-prefers-weak")
    graded = evaluate(profile, ike_results["strong-ikev2"][1], now=now())
    assert graded.passed


def test_ike_scan_handshake_suites_are_among_what_probe_found(
    strongswan_lab: Any, ike_results: dict[str, tuple[Any, TargetResult]]
) -> None:
    """Differential: every suite ike-scan's default offer gets accepted, probe lists too."""
    for name, (server, result) in ike_results.items():
        default = server.expected["ike_scan_default"]
        if default.get("answer") != "handshake":
            continue
        suite = default["suite"]
        facts = _facts(result)
        assert suite["encryption"] in facts.accepted.encryption, name
        assert suite["group"] in facts.accepted.dh_groups, name
        assert suite["integrity"] in facts.accepted.integrity, name


def test_cookie_challenges_are_answered(strongswan_lab: Any) -> None:
    server = strongswan_lab["weak-ikev2"]
    with strongswan_lab.settings_changed(cookie_threshold_ip=1):
        first = _facts(_scan(server.host))
        second = _facts(_scan(server.host))  # the first scan left a half-open SA: cookies now
    assert second.cookie_challenge is True
    assert second.incomplete == {}
    assert second.ikev2_accepted == first.ikev2_accepted


def _scans(host: str, count: int, **options: Any) -> list[TargetResult]:
    """``count`` scans of one responder sharing one context (one probe run)."""

    async def go() -> list[TargetResult]:
        settings = {"timeout": 2.0, **options}
        ctx = CheckContext(
            options=ScanOptions(**settings), limits=Limits(concurrency=8, per_host=5)
        )
        target = Target(given=f"ike://{host}", host=host, port=500, check="ike")
        return [await ike.run(target, ctx) for _ in range(count)]

    return asyncio.run(go())


def test_pacing_keeps_under_the_responders_half_open_limit(strongswan_lab: Any) -> None:
    """charon ignores a peer holding 5 half-open IKE_SAs (block_threshold). Each scan of
    weak-ikev2 leaves one (its preference offer); probe counts them per responder across the
    run and waits when a 5th would be reached, so six scans in a row all complete. Without
    pacing a later one meets silence, and says so."""
    server = strongswan_lab["weak-ikev2"]
    with strongswan_lab.settings_changed(half_open_timeout=4):
        started = time.monotonic()
        paced = _scans(server.host, 6, ike_half_open=4, ike_half_open_seconds=4.5)
        waited = time.monotonic() - started
        strongswan_lab.restart(half_open_timeout=4)
        unpaced = _scans(server.host, 6, ike_half_open=100, ike_half_open_seconds=4.5)
    for result in paced:
        assert _facts(result).incomplete == {}
        assert set(_facts(result).ikev2_accepted.encryption) == {"3DES", "AES-CBC-128"}
    assert waited >= 4.0
    silenced = [r.ike for r in unpaced if r.ike and r.ike.incomplete]
    assert silenced, "without pacing charon should have ignored a scan"
    assert all(not r.ike.incomplete for r in unpaced[:4] if r.ike)  # 4 fit under the limit
    assert "no answer" in " ".join(silenced[0].incomplete.values())


# -- hostile and absent responders ------------------------------------------------------------


@contextlib.contextmanager
def _udp_peer(answer: Callable[[bytes], list[bytes]]) -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(65535)
            except TimeoutError:
                continue
            for reply in answer(data):
                with contextlib.suppress(OSError):
                    sock.sendto(reply, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        sock.close()


def _no_proposal_for(request: bytes, spi_r: bytes = b"\x00" * 8) -> bytes:
    """A well-formed IKEv2 NO_PROPOSAL_CHOSEN answer to ``request``."""
    spi_i = request[:8]
    notify = codec.ikev2_notify_body(14, b"")
    return codec.build_ikev2_message(
        spi_i=spi_i, spi_r=spi_r, exchange_type=34, flags=0x20, message_id=0,
        payloads=[(41, notify)],
    )  # fmt: skip


PEERS: dict[str, Callable[[bytes], list[bytes]]] = {
    "garbage": lambda data: [b"\x17\x03\x03 not IKE at all" * 3],
    "wrong_spi": lambda data: [_no_proposal_for(b"\x99" * 8 + data[8:])],
    "truncated": lambda data: [_no_proposal_for(data)[:-3]],
    "flood": lambda data: [b"\x00" * 40] * 300,
    "silent": lambda data: [],
}


@pytest.mark.parametrize("kind", list(PEERS))
def test_hostile_responders_give_clean_results(kind: str) -> None:
    with _udp_peer(PEERS[kind]) as port:
        started = time.monotonic()
        result = _scan("127.0.0.1", port, timeout=1.0)
    assert result.status is Status.ERROR
    assert result.error is not None
    expected = ErrorReason.NO_ANSWER if kind == "silent" else ErrorReason.PROTOCOL_ERROR
    assert result.error.reason is expected, result.error
    assert time.monotonic() - started < 10


def test_closed_port_is_refused_not_silent() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = _scan("127.0.0.1", port, timeout=1.0)
    assert result.status is Status.ERROR
    assert result.error is not None and result.error.reason is ErrorReason.REFUSED
    assert result.duration_seconds < 1.0  # told at once, not after a timeout


def test_answer_with_nothing_acceptable_is_completed() -> None:
    with _udp_peer(lambda data: [_no_proposal_for(data)] if data[17] == 0x20 else []) as port:
        result = _scan("127.0.0.1", port, timeout=1.0)
    facts = _facts(result)
    assert facts.ikev2 is True and facts.accepted.encryption == ()
    assert facts.ikev1 is False
