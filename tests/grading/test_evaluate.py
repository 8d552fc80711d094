"""evaluate(): findings, pass/fail, error results, and a property test over arbitrary facts."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from factories import NOW, cert, error_result, facts, result
from hypothesis import given, settings
from hypothesis import strategies as st

from probe.grading.profile import Profile, load_profile, parse_profile
from probe.grading.rules import SEVERITIES, evaluate
from probe.model import (
    TLS_VERSION_LABELS,
    CertificateFacts,
    ErrorReason,
    KeyExchangeParams,
    Status,
    TlsFacts,
)

WEAK = {
    "TLSv1.0": ("TLS_RSA_WITH_AES_128_CBC_SHA",),
    "TLSv1.2": ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",),
}


def profile_text(severity: str, fail_on: str = "medium") -> str:
    return f"""
name = "t"
description = "t"
version = "1"
fail_on = "{fail_on}"

[[requirement]]
id = "MIN"
severity = "{severity}"
rule = "tls_min_version"
params = {{ min = "TLSv1.2" }}
rationale = "why"
reference = "where"

[[requirement]]
id = "FS"
severity = "low"
rule = "forward_secrecy_only"
rationale = "fs"
reference = "ref"
"""


def test_good_server_passes_builtin_profiles() -> None:
    for name in ("azure-transit", "mozilla-intermediate"):
        graded = evaluate(load_profile(name), result(), now=NOW)
        assert graded.findings == ()
        assert graded.passed


def test_findings_carry_requirement_metadata_and_are_sorted_by_severity() -> None:
    profile = parse_profile(profile_text("high"), source="t.toml")
    graded = evaluate(profile, result(facts(WEAK)), now=NOW)
    assert [(f.id, f.severity) for f in graded.findings] == [("MIN", "high"), ("FS", "low")]
    first = graded.findings[0]
    assert first.message == "accepts TLSv1.0 (minimum is TLSv1.2)"
    assert first.evidence == "TLSv1.0"
    assert first.rationale == "why"
    assert first.reference == "where"
    assert not graded.passed


def test_findings_below_fail_on_still_pass() -> None:
    profile = parse_profile(profile_text("low", fail_on="medium"), source="t.toml")
    graded = evaluate(profile, result(facts(WEAK)), now=NOW)
    assert len(graded.findings) == 2
    assert graded.passed


def test_fail_on_info_fails_on_any_finding() -> None:
    profile = parse_profile(profile_text("info", fail_on="info"), source="t.toml")
    assert not evaluate(profile, result(facts(WEAK)), now=NOW).passed


def test_evaluate_returns_a_copy() -> None:
    original = result(facts(WEAK))
    graded = evaluate(load_profile("azure-transit"), original, now=NOW)
    assert original.findings == ()
    assert graded.target == original.target
    assert graded.tls is original.tls


def test_error_without_facts_never_passes_and_has_no_findings() -> None:
    graded = evaluate(load_profile("azure-transit"), error_result(ErrorReason.REFUSED), now=NOW)
    assert graded.status is Status.ERROR
    assert graded.findings == ()
    assert not graded.passed


def test_error_with_partial_facts_is_judged_but_never_passes() -> None:
    partial = facts({"SSLv3": ("TLS_RSA_WITH_AES_128_CBC_SHA",)}, certificates=())
    graded = evaluate(load_profile("azure-transit"), error_result(tls=partial), now=NOW)
    assert {f.id for f in graded.findings} >= {"TLS-NO-SSL", "TLS-MIN-VERSION"}
    assert not graded.passed


def test_incomplete_facts_are_judged_and_never_pass() -> None:
    partial = facts(incomplete={"TLSv1.0": "timeout"})
    graded = evaluate(load_profile("azure-transit"), result(partial), now=NOW)
    assert [f.id for f in graded.findings] == ["PROBE-INCOMPLETE"]
    assert "TLSv1.0 (timeout)" in graded.findings[0].message
    assert not graded.passed
    # even a profile that fails only on critical findings does not pass an unmeasured target
    lax = dataclasses.replace(load_profile("azure-transit"), fail_on="critical")
    assert not evaluate(lax, result(partial), now=NOW).passed


def test_certificate_findings_use_the_injected_now() -> None:
    tls = facts(certificates=(cert(not_after=NOW + timedelta(days=10), days_to_expiry=10),))
    profile = load_profile("azure-transit")
    assert [f.id for f in evaluate(profile, result(tls), now=NOW).findings] == ["CERT-EXPIRY-SOON"]
    later = evaluate(profile, result(tls), now=NOW + timedelta(days=11))
    assert [f.id for f in later.findings] == ["CERT-VALIDITY"]


# --- property: evaluate never raises --------------------------------------------------------


def _suite_names() -> list[str]:
    from probe.codecs.tls.suites import SUITES

    return sorted({s.name for s in SUITES.values()})


SUITE_NAMES = _suite_names()
labels = st.sampled_from(TLS_VERSION_LABELS)
suite_names = st.one_of(st.sampled_from(SUITE_NAMES), st.text(max_size=20))
moments = st.datetimes(
    min_value=NOW.replace(tzinfo=None) - timedelta(days=20000),
    max_value=NOW.replace(tzinfo=None) + timedelta(days=20000),
    timezones=st.sampled_from([None, NOW.tzinfo]),
)
short_text = st.text(max_size=30)

certificates = st.builds(
    CertificateFacts,
    key_type=st.sampled_from(["RSA", "EC", "Ed25519", "Ed448", "DSA", "?"]),
    key_bits=st.integers(min_value=0, max_value=16384),
    curve=st.none() | short_text,
    signature_algorithm=short_text,
    signature_hash=st.none() | st.sampled_from(["sha1", "md5", "sha256", "SHA-1", ""]),
    not_before=moments,
    not_after=moments,
    days_to_expiry=st.integers(min_value=-100000, max_value=100000),
    subject=short_text,
    issuer=short_text,
    san=st.lists(short_text, max_size=3).map(tuple),
    name_matches=st.none() | st.booleans(),
    self_signed=st.booleans(),
    trusted=st.booleans(),
    trust_error=st.none() | short_text,
    chain_length=st.integers(min_value=0, max_value=10),
    chain_weak_signatures=st.lists(short_text, max_size=3).map(tuple),
    sha256_fingerprint=st.text(alphabet="0123456789abcdef", max_size=64),
    served_with=st.lists(short_text, max_size=2).map(tuple),
)

tls_facts = st.builds(
    TlsFacts,
    versions=st.dictionaries(labels, st.booleans()),
    cipher_suites=st.dictionaries(labels, st.lists(suite_names, max_size=8).map(tuple)),
    server_preference=st.dictionaries(labels, st.none() | st.booleans()),
    certificates=st.lists(certificates, max_size=3).map(tuple),
    key_exchange=st.dictionaries(
        suite_names,
        st.builds(
            KeyExchangeParams,
            kind=st.sampled_from(["ECDHE", "DHE", "RSA", ""]),
            group=st.none() | st.sampled_from(["x25519", "secp256r1", "ffdhe2048"]),
            bits=st.integers(min_value=0, max_value=8192),
        ),
        max_size=4,
    ),
    connections=st.integers(min_value=0, max_value=1000),
    incomplete=st.dictionaries(labels, short_text),
)

PROFILES: list[Profile] = [load_profile("azure-transit"), load_profile("mozilla-intermediate")]


@settings(max_examples=300, deadline=None)
@given(tls=tls_facts, status=st.sampled_from(list(Status)), now=moments)
def test_evaluate_never_raises(tls: TlsFacts, status: Status, now: object) -> None:
    base = result(tls) if status is Status.COMPLETED else error_result(tls=tls)
    for profile in PROFILES:
        graded = evaluate(profile, base, now=now)  # type: ignore[arg-type]
        assert all(f.severity in SEVERITIES for f in graded.findings)
        assert all(f.message for f in graded.findings)
        if status is Status.ERROR:
            assert not graded.passed
