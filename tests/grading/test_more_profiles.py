"""The mozilla-modern, nist-sp800-52r2 and pci-dss-4 profiles, and the two rules they brought
(groups_allowed, ecdh_min_bits): loading, listing, and judging constructed servers."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from factories import GOOD_TLS12, GOOD_TLS13, NOW, cert, facts, result
from hypothesis import given, settings
from hypothesis import strategies as st

from probe.codecs.tls.constants import GROUP_NAMES
from probe.grading.profile import ProfileError, builtin_profiles, load_profile, parse_profile
from probe.grading.rules import RULES, SEVERITIES, ParamError, Violation, check_param, evaluate
from probe.model import KeyExchangeParams, TargetResult, TlsFacts

ROOT = Path(__file__).resolve().parents[2]
PREFIXES = {"mozilla-modern": "MOZ-MODERN-", "nist-sp800-52r2": "NIST-", "pci-dss-4": "PCI-"}

TLS13_ONLY = {"TLSv1.3": ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384")}
ECDSA_P256 = cert(
    key_type="EC",
    key_bits=256,
    curve="secp256r1",
    signature_algorithm="ecdsa-with-SHA256",
    served_with=("TLSv1.3",),
)
RSA_3DES = "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
ECDHE_CBC = "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
CHACHA = "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
RSA_GCM = "TLS_RSA_WITH_AES_128_GCM_SHA256"


def tls(
    suites: Mapping[str, tuple[str, ...]] | None = None,
    *,
    groups: Mapping[str, tuple[str, ...]] | None = None,
    **changes: Any,
) -> TlsFacts:
    return dataclasses.replace(facts(suites, **changes), groups=dict(groups or {}))


def judge(profile: str, tls_facts: TlsFacts) -> TargetResult:
    return evaluate(load_profile(profile), result(tls_facts), now=NOW)


def ids(graded: TargetResult) -> set[str]:
    return {f.id for f in graded.findings}


def modern_server(**changes: Any) -> TlsFacts:
    base: dict[str, Any] = {
        "certificates": (ECDSA_P256,),
        "key_exchange": {},
        "groups": {"TLSv1.3": ("X25519MLKEM768", "x25519", "secp256r1")},
    }
    base.update(changes)
    suites = base.pop("suites", TLS13_ONLY)
    return tls(suites, **base)


# --- loading and listing ----------------------------------------------------------------------


def test_the_new_profiles_are_built_in() -> None:
    assert set(PREFIXES) <= set(builtin_profiles())


@pytest.mark.parametrize("name", sorted(PREFIXES))
def test_profile_loads_with_prefixed_ids_and_references(name: str) -> None:
    profile = load_profile(name)
    assert profile.name == name
    assert profile.fail_on == "medium"
    assert len(profile.requirements) >= 10
    for req in profile.requirements:
        assert req.id.startswith(PREFIXES[name]), req.id
        assert req.applies_to in ("tls", "starttls")
        assert set(req.params) == set(RULES[req.rule].params)
        assert "https://" in req.reference, req.id
        assert req.rationale.endswith("."), req.id


def test_profiles_list_and_show_name_every_new_profile() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}

    def run(*args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "probe", "profiles", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    listing = run("list")
    for name in PREFIXES:
        assert name in listing
        shown = run("show", name)
        for req in load_profile(name).requirements:
            assert req.id in shown


def test_nist_lists_the_sixty_suites_of_section_331() -> None:
    allowed = next(
        r for r in load_profile("nist-sp800-52r2").requirements if r.rule == "suites_allowed"
    )
    suites = allowed.params["suites"]
    assert isinstance(suites, tuple)
    assert len(suites) == len(set(suites)) == 60
    assert "TLS_AES_128_CCM_8_SHA256" in suites
    assert not any("CHACHA20" in s or "3DES" in s or s.startswith("TLS_RSA_") for s in suites)


# --- mozilla-modern ---------------------------------------------------------------------------


def test_a_tls13_only_ecdsa_server_passes_mozilla_modern() -> None:
    graded = judge("mozilla-modern", modern_server())
    assert graded.findings == ()
    assert graded.passed


def test_a_tls12_server_fails_mozilla_modern() -> None:
    graded = judge("mozilla-modern", modern_server(suites={"TLSv1.2": GOOD_TLS12}))
    assert not graded.passed
    assert {
        "MOZ-MODERN-TLS13-ONLY",
        "MOZ-MODERN-TLS13-OFFERED",
        "MOZ-MODERN-SUITES-ALLOWED",
    } <= ids(graded)


def test_tls12_beside_tls13_fails_mozilla_modern() -> None:
    graded = judge("mozilla-modern", modern_server(suites={"TLSv1.2": GOOD_TLS12, **TLS13_ONLY}))
    assert not graded.passed
    assert ids(graded) == {"MOZ-MODERN-TLS13-ONLY", "MOZ-MODERN-SUITES-ALLOWED"}


def test_a_tls13_suite_outside_the_three_fails_mozilla_modern() -> None:
    ccm = {"TLSv1.3": (*GOOD_TLS13, "TLS_AES_128_CCM_SHA256")}
    graded = judge("mozilla-modern", modern_server(suites=ccm))
    assert ids(graded) == {"MOZ-MODERN-SUITES-ALLOWED"}
    assert not graded.passed


def test_other_groups_are_reported_low_and_still_pass_mozilla_modern() -> None:
    groups = {"TLSv1.3": ("x25519", "secp521r1", "ffdhe2048")}
    graded = judge("mozilla-modern", modern_server(groups=groups))
    assert [(f.id, f.severity) for f in graded.findings] == [("MOZ-MODERN-GROUPS", "low")]
    assert graded.findings[0].evidence == "TLSv1.3: secp521r1, ffdhe2048"
    assert graded.passed


def test_weak_certificates_fail_mozilla_modern() -> None:
    weak = (
        cert(key_type="EC", key_bits=224, curve="secp224r1", served_with=("TLSv1.3",)),
        cert(key_bits=1024, signature_algorithm="sha1WithRSAEncryption", signature_hash="sha1"),
    )
    graded = judge("mozilla-modern", modern_server(certificates=weak))
    assert {
        "MOZ-MODERN-CERT-EC-MIN-BITS",
        "MOZ-MODERN-CERT-RSA-MIN-BITS",
        "MOZ-MODERN-CERT-SIGNATURE-HASH",
    } == ids(graded)
    assert not graded.passed


# --- nist-sp800-52r2 --------------------------------------------------------------------------


def test_a_tls12_and_tls13_server_with_approved_suites_passes_nist() -> None:
    graded = judge("nist-sp800-52r2", tls(groups={"TLSv1.3": ("secp256r1",)}))
    assert graded.findings == ()
    assert graded.passed


def test_a_tls12_only_server_fails_nist_for_missing_tls13() -> None:
    graded = judge("nist-sp800-52r2", tls({"TLSv1.2": GOOD_TLS12}))
    assert ids(graded) == {"NIST-TLS13-REQUIRED"}
    assert not graded.passed


def test_a_tls13_only_server_passes_nist_with_a_low_note() -> None:
    graded = judge("nist-sp800-52r2", tls({"TLSv1.3": GOOD_TLS13}))
    assert [(f.id, f.severity) for f in graded.findings] == [("NIST-TLS12-OFFERED", "low")]
    assert graded.passed


def test_tls10_fails_nist_and_tls11_is_low() -> None:
    old = tls(
        {"TLSv1.0": (ECDHE_CBC,), "TLSv1.1": (ECDHE_CBC,), "TLSv1.2": GOOD_TLS12, **TLS13_ONLY}
    )
    severities = {f.id: f.severity for f in judge("nist-sp800-52r2", old).findings}
    assert severities == {"NIST-NO-TLS10": "high", "NIST-NO-TLS11": "low"}
    only_11 = tls({"TLSv1.1": (ECDHE_CBC,), "TLSv1.2": GOOD_TLS12, **TLS13_ONLY})
    assert judge("nist-sp800-52r2", only_11).passed


@pytest.mark.parametrize("suite", [CHACHA, RSA_3DES, RSA_GCM])
def test_suites_outside_section_331_fail_nist(suite: str) -> None:
    graded = judge("nist-sp800-52r2", tls({"TLSv1.2": (*GOOD_TLS12, suite), **TLS13_ONLY}))
    assert ids(graded) == {"NIST-SUITES-ALLOWED"}
    assert suite in (graded.findings[0].evidence or "")
    assert not graded.passed


def test_a_cbc_preferring_server_gets_a_low_aead_note_from_nist() -> None:
    cbc_first = tls(
        {"TLSv1.2": (ECDHE_CBC, *GOOD_TLS12), **TLS13_ONLY}, preference={"TLSv1.2": True}
    )
    graded = judge("nist-sp800-52r2", cbc_first)
    assert [(f.id, f.severity) for f in graded.findings] == [("NIST-AEAD-PREFERRED", "low")]
    assert graded.passed


def test_small_key_exchange_fails_nist() -> None:
    weak = tls(
        groups={"TLSv1.3": ("x25519",), "TLSv1.2": ("secp256r1", "secp192r1")},
        key_exchange={"TLS_DHE_RSA_WITH_AES_256_GCM_SHA384": KeyExchangeParams("DHE", None, 1024)},
    )
    assert ids(judge("nist-sp800-52r2", weak)) == {"NIST-DH-MIN-BITS", "NIST-ECDH-MIN-BITS"}


# --- pci-dss-4 --------------------------------------------------------------------------------


def test_a_good_server_passes_pci() -> None:
    graded = judge("pci-dss-4", tls(groups={"TLSv1.3": ("x25519",), "TLSv1.2": ("x25519",)}))
    assert graded.findings == ()
    assert graded.passed


def test_a_3des_server_fails_pci() -> None:
    graded = judge("pci-dss-4", tls({"TLSv1.2": (*GOOD_TLS12, RSA_3DES), **TLS13_ONLY}))
    assert ids(graded) == {"PCI-WEAK-CIPHERS"}
    assert "64bit_block" in graded.findings[0].message
    assert not graded.passed


def test_early_tls_and_ssl_fail_pci_and_tls11_is_low() -> None:
    old = tls({"SSLv3": (ECDHE_CBC,), "TLSv1.0": (ECDHE_CBC,), "TLSv1.1": (ECDHE_CBC,)})
    severities = {f.id: f.severity for f in judge("pci-dss-4", old).findings}
    assert severities == {"PCI-NO-SSL": "critical", "PCI-NO-EARLY-TLS": "high", "PCI-TLS11": "low"}
    assert judge("pci-dss-4", tls({"TLSv1.1": (ECDHE_CBC,), "TLSv1.2": GOOD_TLS12})).passed


def test_pci_does_not_require_forward_secrecy() -> None:
    static_rsa = tls({"TLSv1.2": (RSA_GCM, *GOOD_TLS12)})
    assert judge("pci-dss-4", static_rsa).findings == ()


def test_pci_key_sizes_follow_the_strong_cryptography_glossary() -> None:
    weak = tls(
        certificates=(cert(key_bits=1024), cert(key_type="EC", key_bits=192, curve="secp192r1")),
        key_exchange={
            "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384": KeyExchangeParams("DHE", None, 1536),
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": KeyExchangeParams("ECDHE", "secp192r1", 192),
        },
    )
    assert ids(judge("pci-dss-4", weak)) == {
        "PCI-CERT-RSA-MIN-BITS",
        "PCI-CERT-EC-MIN-BITS",
        "PCI-DH-MIN-BITS",
        "PCI-ECDH-MIN-BITS",
    }
    p224 = tls(certificates=(cert(key_type="EC", key_bits=224, curve="secp224r1"),))
    assert judge("pci-dss-4", p224).passed


def test_untrusted_or_expired_certificates_fail_pci() -> None:
    expired = cert(not_after=NOW - timedelta(days=1), days_to_expiry=-1)
    untrusted = cert(trusted=False, trust_error="self-signed certificate", self_signed=True)
    graded = judge("pci-dss-4", tls(certificates=(expired, untrusted)))
    assert ids(graded) == {"PCI-CERT-VALIDITY", "PCI-CERT-TRUSTED"}
    assert graded.findings[0].severity == "critical"


# --- the rules: groups_allowed ----------------------------------------------------------------


def run(rule: str, tls_facts: TlsFacts, **raw: Any) -> list[Violation]:
    params = {name: check_param(param, raw[name]) for name, param in RULES[rule].params.items()}
    return RULES[rule].check(params, tls_facts, NOW)


def test_groups_allowed_lists_the_others_once_with_their_versions() -> None:
    groups = {"TLSv1.3": ("x25519", "x448", "ffdhe3072"), "TLSv1.2": ("x25519", "x448")}
    assert run("groups_allowed", tls(groups=groups), groups=["x25519"]) == [
        ("accepts 2 groups outside the allowed list", "TLSv1.2, TLSv1.3: x448; TLSv1.3: ffdhe3072")
    ]


def test_groups_allowed_judges_nothing_when_groups_were_not_measured() -> None:
    assert run("groups_allowed", tls(), groups=["x25519"]) == []
    assert run("groups_allowed", tls(groups={"TLSv1.2": ()}), groups=["x25519"]) == []


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("X25519", 'unknown group "X25519" (the IANA name is x25519)'),
        ("prime256v1", 'unknown group "prime256v1" (the IANA name is secp256r1)'),
        ("P-384", 'unknown group "P-384" (the IANA name is secp384r1)'),
        ("curve9", 'unknown group "curve9" (IANA names, e.g. "x25519", "secp256r1")'),
    ],
)
def test_groups_allowed_refuses_unknown_names_with_a_hint(name: str, message: str) -> None:
    with pytest.raises(ParamError) as caught:
        check_param(RULES["groups_allowed"].params["groups"], ["x25519", name])
    assert str(caught.value) == message
    assert caught.value.suffix == "[1]"


def test_a_profile_with_an_unknown_group_is_refused_at_load() -> None:
    text = """\
name = "t"
description = "d"
version = "1"

[[requirement]]
id = "G"
severity = "low"
rule = "groups_allowed"
params = { groups = ["x25519", "X448"] }
rationale = "r"
reference = "ref"
"""
    with pytest.raises(ProfileError, match=r"requirement\[0\]\.params\.groups\[1\]: unknown group"):
        parse_profile(text, source="t.toml")


# --- the rules: ecdh_min_bits -----------------------------------------------------------------


def test_ecdh_min_bits_flags_small_curves_smallest_first() -> None:
    groups = {
        "TLSv1.3": ("x25519", "secp256r1"),
        "TLSv1.2": ("secp224r1", "secp160r1", "sect163k1"),
    }
    assert run("ecdh_min_bits", tls(groups=groups), min=224) == [
        ("ECDHE group secp160r1 of 160 bits (minimum is 224)", "TLSv1.2"),
        ("ECDHE group sect163k1 of 163 bits (minimum is 224)", "TLSv1.2"),
    ]


def test_ecdh_min_bits_counts_x25519_and_its_hybrids_as_256_bits() -> None:
    groups = {"TLSv1.3": ("X25519MLKEM768", "x25519", "x448", "secp384r1")}
    kx = {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": KeyExchangeParams("ECDHE", "x25519", 253)}
    assert run("ecdh_min_bits", tls(groups=groups, key_exchange=kx), min=256) == []


def test_ecdh_min_bits_ignores_finite_field_and_pure_ml_kem_groups() -> None:
    groups = {"TLSv1.3": ("ffdhe2048", "MLKEM768"), "TLSv1.2": ("ffdhe3072",)}
    assert run("ecdh_min_bits", tls(groups=groups), min=4096) == []


def test_ecdh_min_bits_also_judges_the_chosen_key_exchange() -> None:
    kx = {
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": KeyExchangeParams("ECDHE", "secp192r1", 192),
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": KeyExchangeParams("ECDHE", "secp192r1", 192),
        "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384": KeyExchangeParams("DHE", "ffdhe2048", 2048),
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": KeyExchangeParams("ECDHE", None, 0),
    }
    groups = {"TLSv1.2": ("secp192r1",)}
    assert run("ecdh_min_bits", tls(groups=groups, key_exchange=kx), min=224) == [
        (
            "ECDHE group secp192r1 of 192 bits (minimum is 224)",
            "TLSv1.2, TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        )
    ]
    unnamed = {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": KeyExchangeParams("ECDHE", None, 163)}
    assert run("ecdh_min_bits", tls(key_exchange=unnamed), min=224) == [
        (
            "ECDHE group (unnamed) of 163 bits (minimum is 224)",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        )
    ]


group_names = st.sampled_from(sorted(GROUP_NAMES.values())) | st.text(max_size=12)
labels = st.sampled_from(["TLSv1.0", "TLSv1.2", "TLSv1.3", "?"])


@settings(max_examples=200, deadline=None)
@given(
    groups=st.dictionaries(labels, st.lists(group_names, max_size=6).map(tuple)),
    key_exchange=st.dictionaries(
        st.sampled_from([*GOOD_TLS12, ECDHE_CBC, "TLS_UNKNOWN"]),
        st.builds(
            KeyExchangeParams,
            kind=st.sampled_from(["ECDHE", "DHE", ""]),
            group=st.none() | group_names,
            bits=st.integers(min_value=0, max_value=8192),
        ),
        max_size=4,
    ),
)
def test_new_profiles_never_raise_on_odd_groups(
    groups: dict[str, tuple[str, ...]], key_exchange: dict[str, KeyExchangeParams]
) -> None:
    odd = tls(groups=groups, key_exchange=key_exchange)
    for name in PREFIXES:
        graded = judge(name, odd)
        assert all(f.severity in SEVERITIES and f.message for f in graded.findings)
