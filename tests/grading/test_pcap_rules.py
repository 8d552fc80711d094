"""Capture rules (probe.grading.pcap_rules) on constructed analyses: what each finds, how it
groups, profile validation of their params, and evaluate_capture's verdict."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from probe.codecs.pcap import Damage
from probe.grading import pcap_rules
from probe.grading.profile import ProfileError, load_profile, parse_profile
from probe.grading.rules import INCOMPLETE_ID, RULES, evaluate, evaluate_capture
from probe.model import Status, Target, TargetResult
from probe.pcap.analyze import (
    Analysis,
    CaptureInfo,
    FlowFacts,
    FlowRef,
    Ignored,
    SecretFound,
    Summary,
)
from probe.pcap.classify import CLEARTEXT
from probe.pcap.redact import KINDS, Secret, redact

PROFILE = load_profile("azure-transit")


def flow(
    protocol: str = "http",
    *,
    sport: int = 40000,
    dst: str = "10.0.0.2",
    dport: int = 80,
    nbytes: int = 100,
    **changes: Any,
) -> FlowFacts:
    encrypted = True if protocol == "tls" else False if protocol in CLEARTEXT else None
    base = FlowFacts(
        src="10.0.0.1",
        sport=sport,
        dst=dst,
        dport=dport,
        transport="tcp",
        protocol=protocol,
        encrypted=encrypted,
        packets=10,
        packets_to_server=5,
        packets_to_client=5,
        bytes_to_server=nbytes // 2,
        bytes_to_client=nbytes - nbytes // 2,
        first_ns=sport,
        last_ns=sport + 1,
        handshake_seen=True,
        closed=True,
        gaps=0,
        tls_version=None,
        tls_cipher_suite=None,
        sni=None,
        starttls=None,
        http_hosts=(),
    )
    return dataclasses.replace(base, **changes)


def secret(kind: str, user: str | None = None, count: int = 1, **detail: Any) -> SecretFound:
    value = f"fake-{kind}-value"
    found = Secret(kind, "http", "client", 0, user, redact(value, kind=kind), detail)
    return SecretFound(found, FlowRef("10.0.0.1", 40000, "10.0.0.2", 80), count)


def analysis(
    flows: tuple[FlowFacts, ...] = (),
    secrets: tuple[SecretFound, ...] = (),
    damage: tuple[Damage, ...] = (),
    interrupted: bool = False,
) -> Analysis:
    capture = CaptureInfo("c.pcap", "pcap", None, 100, 10, (1,), damage, not interrupted)
    summary = Summary(
        1,
        10,
        len(flows),
        0,
        0,
        0,
        0,
        (),
        Ignored(),
        None,
        None,
        len(secrets),
        0,
        1 if damage else 0,
    )
    return Analysis((capture,), flows, secrets, summary, interrupted)


def ids(a: Analysis) -> list[str]:
    return [f.id for f in evaluate_capture(PROFILE, a).findings]


def test_lists_match_what_the_analysis_can_report() -> None:
    assert set(pcap_rules.CLEARTEXT_PROTOCOLS) == set(CLEARTEXT)
    assert set(pcap_rules.CREDENTIAL_KINDS) | set(pcap_rules.SECRET_KINDS) == set(KINDS)
    assert not set(pcap_rules.CREDENTIAL_KINDS) & set(pcap_rules.SECRET_KINDS)


def test_a_clean_capture_passes() -> None:
    verdict = evaluate_capture(
        PROFILE,
        analysis(
            (
                flow(
                    "tls",
                    dport=443,
                    tls_version="TLSv1.3",
                    tls_cipher_suite="TLS_AES_128_GCM_SHA256",
                ),
            )
        ),
    )
    assert verdict.findings == () and verdict.passed


def test_one_finding_per_credential_with_redacted_evidence() -> None:
    a = analysis(secrets=(secret("http-basic", "alice"), secret("ftp-password", "bob", count=4)))
    creds = [
        f for f in evaluate_capture(PROFILE, a).findings if f.id == "PCAP-CLEARTEXT-CREDENTIALS"
    ]
    assert len(creds) == 2
    first, second = creds
    assert first.severity == "high" and first.protocol == "http"
    assert first.flow == FlowRef("10.0.0.1", 40000, "10.0.0.2", 80)
    assert 'user "alice"' in first.message
    assert first.evidence is not None and first.evidence.startswith("user alice; http-basic:len=")
    assert "fake-http-basic-value" not in first.evidence + first.message
    assert "seen 4 times" in (second.evidence or "")


def test_secrets_by_kind_and_sas_over_http() -> None:
    a = analysis(
        secrets=(
            secret("azure-sas", allows_http=True),
            secret("card-number"),
            secret("jwt", alg="HS256", signed=True),
        )
    )
    found = [f for f in evaluate_capture(PROFILE, a).findings if f.id == "PCAP-CLEARTEXT-SECRETS"]
    assert len(found) == 3
    assert "the SAS allows http" in found[0].message
    assert "allows_http=yes" in (found[0].evidence or "")
    assert "signed=yes" in (found[2].evidence or "")


def test_kinds_param_selects() -> None:
    profile = parse_profile(
        _profile('rule = "capture_cleartext_secrets"\nparams = { kinds = ["card-number"] }'),
        source="x.toml",
    )
    a = analysis(secrets=(secret("azure-sas"), secret("card-number")))
    (finding,) = evaluate_capture(profile, a).findings
    assert "payment card" in finding.message


def test_cleartext_protocols_grouped_by_server() -> None:
    flows = (
        flow(sport=1),
        flow(sport=2),
        flow(sport=3, dst="10.0.0.9"),
        flow("dns", dport=53),
        flow("ftp", dport=21, nbytes=0),
        flow("tls", dport=443),
    )
    found = [
        f
        for f in evaluate_capture(PROFILE, analysis(flows)).findings
        if f.id == "PCAP-CLEARTEXT-PROTOCOL"
    ]
    assert [(f.protocol, f.flow.dst if f.flow else None) for f in found] == [
        ("http", "10.0.0.2"),
        ("http", "10.0.0.9"),
    ]  # dns is not listed; an FTP flow without data carried none
    assert found[0].message == "cleartext http to 10.0.0.2:80: 2 flows, 200 bytes"
    assert found[0].severity == "medium"


def test_weak_tls_versions_and_suites() -> None:
    flows = (
        flow(
            "tls",
            sport=1,
            dport=443,
            tls_version="TLSv1.0",
            sni="a.test",
            tls_cipher_suite="TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        ),
        flow(
            "tls",
            sport=2,
            dport=443,
            tls_version="TLSv1.0",
            sni="b.test",
            tls_cipher_suite="TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        ),
        flow(
            "tls",
            sport=3,
            dport=8443,
            tls_version="TLSv1.2",
            tls_cipher_suite="TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        ),
        flow("tls", sport=4, dport=9443, tls_version=None),  # no ServerHello seen
    )
    findings = evaluate_capture(PROFILE, analysis(flows)).findings
    by_id: dict[str, list[Any]] = {}
    for f in findings:
        by_id.setdefault(f.id, []).append(f)
    (old,) = by_id["PCAP-TLS-MIN-VERSION"]
    assert old.message.startswith("TLSv1.0 negotiated with 10.0.0.2:443 (minimum is TLSv1.2)")
    assert "SNI a.test, b.test" in (old.evidence or "")
    (weak,) = by_id["PCAP-TLS-WEAK-SUITE"]
    assert "64bit_block" in weak.message and weak.flow is not None and weak.flow.dport == 8443
    (no_fs,) = by_id["PCAP-TLS-NO-FORWARD-SECRECY"]
    assert no_fs.flow is not None and no_fs.flow.dport == 8443


@pytest.mark.parametrize(
    ("host", "hit"),
    [
        ("acct.blob.core.windows.net", True),
        ("core.windows.net", True),
        ("vault.azure.net", True),
        ("s3.eu-west-1.amazonaws.com", True),
        ("evilcore.windows.net", False),
        ("core.windows.net.evil.test", False),
        ("example.test", False),
    ],
)
def test_http_where_https_expected(host: str, hit: bool) -> None:
    a = analysis((flow(http_hosts=(host,)),))
    assert ("PCAP-HTTP-EXPECTED-HTTPS" in ids(a)) is hit


def test_damage_and_interruption_are_incomplete() -> None:
    a = analysis(damage=(Damage(24, "truncated: 10 bytes of an incomplete pcap record"),))
    verdict = evaluate_capture(PROFILE, a)
    (finding,) = verdict.findings
    assert finding.id == INCOMPLETE_ID and finding.severity == "high" and not verdict.passed
    assert finding.flow is None and finding.protocol is None
    assert "truncated" in finding.message and finding.evidence == "offset 24"
    assert ids(analysis(interrupted=True)) == [INCOMPLETE_ID]


def test_findings_ordered_by_severity_and_fail_on() -> None:
    a = analysis((flow(),), (secret("http-basic", "x"),))
    verdict = evaluate_capture(PROFILE, a)
    assert [f.severity for f in verdict.findings] == ["high", "medium"]
    lenient = dataclasses.replace(PROFILE, fail_on="critical")
    assert evaluate_capture(lenient, a).passed


def test_target_evaluation_ignores_capture_requirements() -> None:
    target = Target(given="h:443", host="h", port=443, check="tls", server_name="h")
    result = TargetResult(
        target=target, status=Status.COMPLETED, error=None, tls=None, duration_seconds=0.1
    )
    graded = evaluate(PROFILE, result, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert not any(f.id.startswith("PCAP-") for f in graded.findings)
    assert RULES["capture_tls_min_version"].check({}, None, datetime.now(UTC)) == []


def _profile(body: str, applies_to: str = "pcap") -> str:
    return f"""
name = "x"
description = "x"
version = "1"
[[requirement]]
id = "A"
severity = "high"
{body}
applies_to = "{applies_to}"
rationale = "r"
reference = "r"
"""


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            'rule = "capture_cleartext_protocols"\nparams = { protocols = ["gopher"] }',
            r'requirement\[0\]\.params\.protocols\[0\]: unknown cleartext protocol "gopher"',
        ),
        ('rule = "capture_cleartext_protocols"', r"params\.protocols: missing"),
        (
            'rule = "capture_cleartext_secrets"\nparams = { kinds = ["http-basic"] }',
            r'unknown secret kind "http-basic"',
        ),
        (
            'rule = "capture_cleartext_credentials"\nparams = { kinds = ["jwt"] }',
            r'unknown credential kind "jwt"',
        ),
        (
            'rule = "capture_http_expected_https"\nparams = { hosts = ["*.Evil"] }',
            r"not a lower-case DNS name suffix",
        ),
        ('rule = "capture_tls_min_version"\nparams = { min = "TLS1.2" }', r"unknown version"),
    ],
)
def test_bad_params_are_load_errors(body: str, error: str) -> None:
    with pytest.raises(ProfileError, match=error):
        parse_profile(_profile(body), source="x.toml")


def test_capture_rule_cannot_apply_to_tls() -> None:
    with pytest.raises(ProfileError, match=r'does not apply to "tls" \(it applies to: pcap\)'):
        parse_profile(_profile('rule = "capture_cleartext_credentials"', "tls"), source="x.toml")


def test_builtin_profile_has_the_capture_requirements() -> None:
    pcap = {r.id: r for r in PROFILE.requirements if r.applies_to == "pcap"}
    assert set(pcap) == {
        "PCAP-CLEARTEXT-CREDENTIALS",
        "PCAP-CLEARTEXT-SECRETS",
        "PCAP-CLEARTEXT-PROTOCOL",
        "PCAP-TLS-MIN-VERSION",
        "PCAP-TLS-WEAK-SUITE",
        "PCAP-TLS-NO-FORWARD-SECRECY",
        "PCAP-TLS-WEAK-CERTIFICATE",
        "PCAP-HTTP-EXPECTED-HTTPS",
        "PCAP-STARTTLS-NOT-USED",
        "PCAP-STARTTLS-STRIPPED",
    }
    assert pcap["PCAP-CLEARTEXT-CREDENTIALS"].params["kinds"] == pcap_rules.CREDENTIAL_KINDS
    assert all(r.rationale and r.reference for r in pcap.values())
