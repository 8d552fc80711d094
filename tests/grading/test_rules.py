"""Each rule on constructed facts: a passing case and the failing ones."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from factories import GOOD_TLS12, GOOD_TLS13, NOW, cert, facts

from probe.grading.rules import RULES, SUITE_PROPERTIES, ParamValue, Violation, check_param
from probe.model import KeyExchangeParams, TlsFacts

ECDHE_GCM = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
DHE_GCM = "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"
RSA_CBC = "TLS_RSA_WITH_AES_128_CBC_SHA"
RSA_3DES = "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
RSA_RC4 = "TLS_RSA_WITH_RC4_128_SHA"
TLS13_GCM = "TLS_AES_128_GCM_SHA256"

TLS_RULES = sorted(name for name, rule in RULES.items() if "tls" in rule.applies_to)


def run(rule: str, tls: TlsFacts, **raw: Any) -> list[Violation]:
    """Validate params as a profile would (defaults filled), then apply the rule."""
    params: dict[str, ParamValue] = {}
    for name, param in RULES[rule].params.items():
        if name in raw:
            params[name] = check_param(param, raw[name])
        else:
            assert param.default is not None, f"test must give {name}"
            params[name] = param.default
    return RULES[rule].check(params, tls, NOW)


def messages(violations: list[Violation]) -> list[str]:
    return [m for m, _ in violations]


# --- the good server passes everything -------------------------------------------------------

GOOD_PARAMS: dict[str, dict[str, Any]] = {
    "tls_min_version": {"min": "TLSv1.2"},
    "tls_versions_forbidden": {"versions": ["SSLv2", "SSLv3"]},
    "tls_max_version_required": {"version": "TLSv1.3"},
    "suites_forbidden": {"properties": list(SUITE_PROPERTIES)[:-2]},  # all but no_fs/not_aead
    "suites_allowed": {"suites": [*GOOD_TLS12, *GOOD_TLS13]},
    "rsa_min_bits": {"min": 2048},
    "ec_min_bits": {"min": 256},
    "dh_min_bits": {"min": 2048},
    "ecdh_min_bits": {"min": 224},
    "groups_allowed": {"groups": ["x25519", "secp256r1"]},
    "vulnerabilities_forbidden": {
        "names": [
            "sweet32",
            "logjam",
            "freak",
            "rc4",
            "poodle",
            "beast",
            "drown",
            "crime",
            "insecure_renegotiation",
        ]
    },
}


@pytest.mark.parametrize("rule", TLS_RULES)
def test_a_good_server_passes_every_rule(rule: str) -> None:
    assert run(rule, facts(), **GOOD_PARAMS.get(rule, {})) == []


@pytest.mark.parametrize("rule", TLS_RULES)
def test_rules_yield_nothing_without_facts(rule: str) -> None:
    empty = facts({}, certificates=(), key_exchange={})
    violations = run(rule, empty, **GOOD_PARAMS.get(rule, {}))
    if rule == "tls_max_version_required":
        assert messages(violations) == ["does not offer TLSv1.3 (required)"]
    else:
        assert violations == []


def test_every_rule_declares_its_params() -> None:
    for name, rule in RULES.items():
        assert rule.name == name
        assert rule.summary
        for param in rule.params.values():
            assert param.description


# --- versions ---------------------------------------------------------------------------------


def test_min_version_flags_each_older_version_including_ssl() -> None:
    tls = facts({"SSLv3": (RSA_RC4,), "TLSv1.0": (RSA_CBC,), "TLSv1.2": GOOD_TLS12})
    assert run("tls_min_version", tls, min="TLSv1.2") == [
        ("accepts SSLv3 (minimum is TLSv1.2)", "SSLv3"),
        ("accepts TLSv1.0 (minimum is TLSv1.2)", "TLSv1.0"),
    ]


def test_min_version_counts_sslv2() -> None:
    tls = facts({"SSLv2": ("SSL_CK_RC4_128_WITH_MD5",), "TLSv1.2": GOOD_TLS12})
    assert messages(run("tls_min_version", tls, min="TLSv1.0")) == [
        "accepts SSLv2 (minimum is TLSv1.0)"
    ]


def test_versions_forbidden() -> None:
    tls = facts({"SSLv3": (RSA_CBC,), "TLSv1.1": (RSA_CBC,), "TLSv1.2": GOOD_TLS12})
    assert run("tls_versions_forbidden", tls, versions=["SSLv2", "SSLv3", "TLSv1.1"]) == [
        ("accepts SSLv3 (forbidden)", "SSLv3"),
        ("accepts TLSv1.1 (forbidden)", "TLSv1.1"),
    ]


def test_required_version_missing() -> None:
    tls = facts({"TLSv1.2": GOOD_TLS12})
    assert run("tls_max_version_required", tls, version="TLSv1.3") == [
        ("does not offer TLSv1.3 (required)", "offered: TLSv1.2")
    ]


def test_required_version_unmeasured_is_not_confirmed() -> None:
    tls = facts({"TLSv1.2": GOOD_TLS12}, incomplete={"TLSv1.3": "timeout"})
    assert messages(run("tls_max_version_required", tls, version="TLSv1.3")) == [
        "could not confirm that TLSv1.3 is offered (measurement failed: timeout)"
    ]


# --- suites -----------------------------------------------------------------------------------


def test_forward_secrecy_only() -> None:
    tls = facts({"TLSv1.0": (RSA_CBC,), "TLSv1.2": (ECDHE_GCM, RSA_CBC, RSA_3DES)})
    assert run("forward_secrecy_only", tls) == [
        (
            "accepts 2 suites without forward secrecy",
            f"TLSv1.0, TLSv1.2: {RSA_CBC}; TLSv1.2: {RSA_3DES}",  # each suite once
        )
    ]


def test_forward_secrecy_counts_sslv2_and_anonymous_suites_against() -> None:
    tls = facts(
        {"SSLv2": ("SSL_CK_RC4_128_WITH_MD5",), "TLSv1.2": ("TLS_ECDH_anon_WITH_AES_128_CBC_SHA",)}
    )
    assert run("forward_secrecy_only", tls) == [
        (
            "accepts 2 suites without forward secrecy",
            "SSLv2: SSL_CK_RC4_128_WITH_MD5; TLSv1.2: TLS_ECDH_anon_WITH_AES_128_CBC_SHA",
        )
    ]


def test_forward_secrecy_counts_tls13_and_dhe_as_forward_secret() -> None:
    assert (
        run("forward_secrecy_only", facts({"TLSv1.2": (DHE_GCM,), "TLSv1.3": (TLS13_GCM,)})) == []
    )


def test_aead_preferred_server_order_non_aead_first() -> None:
    tls = facts({"TLSv1.2": (RSA_CBC, ECDHE_GCM)}, preference={"TLSv1.2": True})
    assert run("aead_preferred", tls) == [
        (f"TLSv1.2: server prefers {RSA_CBC}, which is not AEAD", RSA_CBC)
    ]


def test_aead_preferred_client_order_is_fine_when_aead_is_accepted() -> None:
    tls = facts({"TLSv1.2": (RSA_CBC, ECDHE_GCM)}, preference={"TLSv1.2": False})
    assert run("aead_preferred", tls) == []


def test_aead_preferred_single_suite_is_the_preference() -> None:
    tls = facts({"TLSv1.2": (RSA_CBC,), "TLSv1.3": (TLS13_GCM,)}, preference={"TLSv1.2": None})
    assert messages(run("aead_preferred", tls)) == ["TLSv1.2: accepts no AEAD cipher suite"]


def test_aead_preferred_no_aead_at_all() -> None:
    tls = facts({"TLSv1.0": (RSA_CBC,), "TLSv1.2": (RSA_CBC, RSA_3DES)})
    assert run("aead_preferred", tls) == [("accepts no AEAD cipher suite", "TLSv1.0, TLSv1.2")]


def test_aead_preferred_ignores_versions_before_tls12() -> None:
    tls = facts({"TLSv1.0": (RSA_CBC,), "TLSv1.2": (ECDHE_GCM,)}, preference={"TLSv1.0": True})
    assert run("aead_preferred", tls) == []


@pytest.mark.parametrize(
    ("prop", "suite"),
    [
        ("rc4", RSA_RC4),
        ("3des", RSA_3DES),
        ("64bit_block", RSA_3DES),
        ("cbc", RSA_CBC),
        ("cbc", RSA_3DES),
        ("sha1_mac", RSA_CBC),
        ("no_fs", RSA_CBC),
        ("not_aead", RSA_RC4),
        ("null", "TLS_RSA_WITH_NULL_MD5"),
        ("md5_mac", "TLS_RSA_WITH_NULL_MD5"),
        ("export", "TLS_RSA_EXPORT_WITH_RC4_40_MD5"),
        ("rc4", "TLS_RSA_EXPORT_WITH_RC4_40_MD5"),
        ("anon", "TLS_DH_anon_WITH_AES_128_CBC_SHA"),
        ("des", "TLS_RSA_WITH_DES_CBC_SHA"),
        ("64bit_block", "TLS_RSA_WITH_DES_CBC_SHA"),
        ("cbc", "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5"),
    ],
)
def test_suites_forbidden_flags_the_property(prop: str, suite: str) -> None:
    tls = facts({"TLSv1.2": (ECDHE_GCM, suite)})
    violations = run("suites_forbidden", tls, properties=[prop])
    assert len(violations) == 1
    message, evidence = violations[0]
    assert message.startswith(f"accepts 1 suite with {prop}: ")
    assert evidence == f"TLSv1.2: {suite}"


@pytest.mark.parametrize("prop", ["rc4", "3des", "64bit_block", "cbc", "null", "export", "anon"])
def test_suites_forbidden_spares_modern_suites(prop: str) -> None:
    tls = facts({"TLSv1.2": (ECDHE_GCM, DHE_GCM), "TLSv1.3": (TLS13_GCM,)})
    assert run("suites_forbidden", tls, properties=[prop]) == []


def test_suites_forbidden_reports_each_property_once() -> None:
    tls = facts({"TLSv1.0": (RSA_RC4, RSA_3DES), "TLSv1.2": (RSA_RC4,)})
    violations = run("suites_forbidden", tls, properties=["rc4", "3des", "null"])
    assert [m.split(":")[0] for m in messages(violations)] == [
        "accepts 1 suite with rc4",
        "accepts 1 suite with 3des",
    ]
    assert violations[0][1] == f"TLSv1.0, TLSv1.2: {RSA_RC4}"


def test_suites_allowed() -> None:
    tls = facts({"TLSv1.2": (ECDHE_GCM, RSA_CBC), "TLSv1.3": (TLS13_GCM,)})
    assert run("suites_allowed", tls, suites=[ECDHE_GCM, TLS13_GCM]) == [
        ("accepts 1 suite outside the allowed list", f"TLSv1.2: {RSA_CBC}")
    ]


# --- keys -------------------------------------------------------------------------------------


def test_rsa_min_bits() -> None:
    tls = facts(certificates=(cert(key_bits=1024), cert(key_type="EC", key_bits=256)))
    violations = run("rsa_min_bits", tls, min=2048)
    assert messages(violations) == [
        "certificate (RSA 1024, served with TLSv1.2 RSA): RSA key of 1024 bits (minimum is 2048)"
    ]
    assert violations[0][1] == f"subject CN=example.com; sha256 {'ab' * 8}"


def test_ec_min_bits() -> None:
    tls = facts(certificates=(cert(key_type="EC", key_bits=224, curve="secp224r1"), cert()))
    assert len(run("ec_min_bits", tls, min=256)) == 1
    assert (
        run("ec_min_bits", facts(certificates=(cert(key_type="EC", key_bits=384),)), min=256) == []
    )


def test_dh_min_bits_groups_suites_by_size() -> None:
    kx = {
        DHE_GCM: KeyExchangeParams("DHE", None, 1024),
        "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256": KeyExchangeParams("DHE", None, 1024),
        ECDHE_GCM: KeyExchangeParams("ECDHE", "secp256r1", 256),
        "TLS_DHE_RSA_WITH_AES_128_CBC_SHA": KeyExchangeParams("DHE", "ffdhe2048", 2048),
    }
    assert run("dh_min_bits", facts(key_exchange=kx), min=2048) == [
        (
            "DHE group of 1024 bits (minimum is 2048)",
            f"TLS_DHE_RSA_WITH_AES_128_GCM_SHA256, {DHE_GCM}",
        )
    ]


# --- certificates -----------------------------------------------------------------------------


def test_signature_hash_forbidden_leaf() -> None:
    sha1 = cert(signature_algorithm="sha1WithRSAEncryption", signature_hash="sha1")
    assert messages(run("signature_hash_forbidden", facts(certificates=(sha1,)))) == [
        "certificate (RSA 2048, served with TLSv1.2 RSA) is signed with SHA1 "
        "(sha1WithRSAEncryption)"
    ]


def test_signature_hash_forbidden_chain() -> None:
    # probe.codecs.x509 lists weak chain members as "SUBJECT (hash)".
    chained = cert(chain_weak_signatures=("CN=Old Intermediate,O=Example (sha1)",))
    violations = run("signature_hash_forbidden", facts(certificates=(chained,)))
    assert len(violations) == 1
    assert "chain has 1 certificate signed with a forbidden hash" in violations[0][0]
    assert violations[0][1] == "CN=Old Intermediate,O=Example (sha1)"
    # Only MD5 forbidden: an entry signed with SHA-1 is not flagged.
    assert run("signature_hash_forbidden", facts(certificates=(chained,)), hashes=["md5"]) == []


def test_signature_hash_leaf_is_not_reported_twice() -> None:
    # The codec lists a weak leaf in chain_weak_signatures too.
    leaf = cert(
        signature_algorithm="sha1WithRSAEncryption",
        signature_hash="sha1",
        chain_weak_signatures=("CN=example.com (sha1)", "CN=Intermediate (md5)"),
    )
    assert messages(run("signature_hash_forbidden", facts(certificates=(leaf,)))) == [
        "certificate (RSA 2048, served with TLSv1.2 RSA) is signed with SHA1 "
        "(sha1WithRSAEncryption)",
        "certificate (RSA 2048, served with TLSv1.2 RSA): chain has 1 certificate signed with "
        "a forbidden hash",
    ]


def test_signature_hash_unreadable_chain_entry_counts_as_weak() -> None:
    odd = cert(chain_weak_signatures=("sha256:0123456789abcdef",))
    assert len(run("signature_hash_forbidden", facts(certificates=(odd,)))) == 1
    assert run("signature_hash_forbidden", facts(certificates=(odd,)), hashes=["sha224"]) == []


def test_signature_hash_none_for_eddsa_passes() -> None:
    ed = cert(key_type="Ed25519", key_bits=256, signature_algorithm="ed25519", signature_hash=None)
    assert run("signature_hash_forbidden", facts(certificates=(ed,))) == []


def test_certificate_expired() -> None:
    expired = cert(not_after=NOW - timedelta(days=3, hours=1), days_to_expiry=-4)
    violations = run("certificate_valid_now", facts(certificates=(expired,)))
    assert len(violations) == 1
    assert "expired on 2025-05-29" in violations[0][0]
    assert "(3 days ago)" in violations[0][0]


def test_certificate_not_yet_valid() -> None:
    future = cert(not_before=NOW + timedelta(days=1))
    assert "is not valid yet" in run("certificate_valid_now", facts(certificates=(future,)))[0][0]


def test_certificate_valid_now_accepts_naive_datetimes_as_utc() -> None:
    naive = cert(
        not_before=(NOW - timedelta(days=1)).replace(tzinfo=None),
        not_after=(NOW + timedelta(days=1)).replace(tzinfo=None),
    )
    assert run("certificate_valid_now", facts(certificates=(naive,))) == []


def test_certificate_trusted() -> None:
    bad = cert(trusted=False, trust_error="unable to get local issuer certificate")
    selfsigned = cert(trusted=False, self_signed=True)
    assert messages(run("certificate_trusted", facts(certificates=(bad, selfsigned)))) == [
        "certificate (RSA 2048, served with TLSv1.2 RSA) is not trusted: "
        "unable to get local issuer certificate",
        "certificate (RSA 2048, served with TLSv1.2 RSA) is not trusted: self-signed",
    ]


def test_certificate_name_matches() -> None:
    wrong = cert(name_matches=False, san=("other.example",))
    unasked = cert(name_matches=None)
    violations = run("certificate_name_matches", facts(certificates=(wrong, unasked)))
    assert violations == [
        (
            "certificate (RSA 2048, served with TLSv1.2 RSA) does not match the requested name",
            "subject CN=example.com; SAN other.example",
        )
    ]


@pytest.mark.parametrize(
    ("days_left", "flagged"), [(29, True), (0, True), (30, False), (90, False)]
)
def test_certificate_expiry_warning(days_left: int, flagged: bool) -> None:
    soon = cert(not_after=NOW + timedelta(days=days_left, hours=1), days_to_expiry=days_left)
    violations = run("certificate_expiry_warning", facts(certificates=(soon,)), days=30)
    assert bool(violations) is flagged
    if flagged:
        assert f"expires in {days_left} day" in violations[0][0]


def test_expiry_warning_leaves_expired_certificates_to_validity_rule() -> None:
    expired = cert(not_after=NOW - timedelta(days=1), days_to_expiry=-1)
    assert run("certificate_expiry_warning", facts(certificates=(expired,))) == []
