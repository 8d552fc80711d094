"""Derived vulnerabilities (probe.checks.tls_vulns) on constructed facts: true, false, null;
and the vulnerabilities_forbidden rule that judges them."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from factories import NOW, facts

from probe.checks.tls_vulns import DERIVED_VULNERABILITIES, vulnerabilities
from probe.grading.profile import load_profile
from probe.grading.rules import RULES, ParamError, check_param
from probe.model import KeyExchangeParams, TlsExtensionFacts, TlsFacts

ECDHE_GCM = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
ECDHE_CBC = "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
DHE_CBC = "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"
RSA_3DES = "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
RSA_RC4 = "TLS_RSA_WITH_RC4_128_SHA"
EXP_RSA = "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA"
EXP_DHE = "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA"
TLS13 = "TLS_AES_128_GCM_SHA256"
SSL2_RC4 = "SSL_CK_RC4_128_WITH_MD5"
SSL2_3DES = "SSL_CK_DES_192_EDE3_CBC_WITH_MD5"


def ext(**changes: Any) -> TlsExtensionFacts:
    base = TlsExtensionFacts(
        version="TLSv1.2",
        secure_renegotiation=True,
        secure_renegotiation_scsv=True,
        extended_master_secret=True,
        encrypt_then_mac=None,
        session_tickets=True,
        session_id=True,
        ocsp_stapling=False,
        compression="null",
        alpn=None,
    )
    return dataclasses.replace(base, **changes)


def vulns(tls: TlsFacts, extensions: TlsExtensionFacts | None = None) -> dict[str, bool | None]:
    return vulnerabilities(dataclasses.replace(tls, extensions=extensions))


def test_a_good_server_is_exposed_to_nothing() -> None:
    found = vulns(facts(), ext())
    assert list(found) == list(DERIVED_VULNERABILITIES)
    assert found == dict.fromkeys(DERIVED_VULNERABILITIES, False)


# (name, suites by version, key exchange or None for the default) -> expected True
EXPOSED: list[tuple[str, dict[str, tuple[str, ...]], dict[str, KeyExchangeParams] | None]] = [
    ("sweet32", {"TLSv1.2": (ECDHE_GCM, RSA_3DES)}, None),
    ("sweet32", {"SSLv2": (SSL2_3DES,), "TLSv1.2": (ECDHE_GCM,)}, None),
    ("logjam", {"TLSv1.2": (DHE_CBC,)}, {DHE_CBC: KeyExchangeParams("DHE", None, 1024)}),
    ("logjam", {"TLSv1.0": (EXP_DHE,)}, {}),
    ("freak", {"TLSv1.0": (EXP_RSA,)}, None),
    ("rc4", {"TLSv1.2": (RSA_RC4,)}, None),
    ("rc4", {"SSLv2": (SSL2_RC4,), "TLSv1.2": (ECDHE_GCM,)}, None),
    ("poodle", {"SSLv3": (ECDHE_CBC,)}, None),
    ("beast", {"TLSv1.0": (ECDHE_CBC,)}, None),
    ("beast", {"SSLv3": (ECDHE_CBC,)}, None),
    ("drown", {"SSLv2": (SSL2_RC4,), "TLSv1.2": (ECDHE_GCM,)}, None),
]


@pytest.mark.parametrize(("name", "suites", "kx"), EXPOSED)
def test_exposed(
    name: str, suites: dict[str, tuple[str, ...]], kx: dict[str, KeyExchangeParams] | None
) -> None:
    assert vulns(facts(suites, key_exchange=kx), ext())[name] is True


def test_not_exposed_when_the_weak_part_is_elsewhere() -> None:
    # TLS 1.0 without CBC (RC4 only): RC4, but no BEAST; TLS 1.2 CBC: neither BEAST nor POODLE
    found = vulns(facts({"TLSv1.0": (RSA_RC4,), "TLSv1.2": (ECDHE_CBC,)}), ext())
    assert found["rc4"] is True
    assert found["beast"] is False and found["poodle"] is False
    # a 2048-bit DHE prime is no LOGJAM
    dhe = {DHE_CBC: KeyExchangeParams("DHE", "ffdhe2048", 2048)}
    assert vulns(facts({"TLSv1.2": (DHE_CBC,)}, key_exchange=dhe), ext())["logjam"] is False


def test_unmeasured_versions_make_verdicts_null() -> None:
    tls = facts({"TLSv1.2": (ECDHE_GCM,)}, incomplete={"SSLv3": "timeout", "SSLv2": "reset"})
    found = vulns(tls, ext())
    for name in ("poodle", "beast", "drown", "sweet32", "rc4"):
        assert found[name] is None, name
    # what is seen elsewhere still counts: an accepted 3DES suite is SWEET32 whatever SSLv3 does
    tls = facts({"TLSv1.2": (RSA_3DES,)}, incomplete={"SSLv3": "timeout"})
    assert vulns(tls, ext())["sweet32"] is True


def test_logjam_null_when_dhe_is_accepted_but_no_prime_was_read() -> None:
    assert vulns(facts({"TLSv1.2": (DHE_CBC,)}, key_exchange={}), ext())["logjam"] is None


def test_crime() -> None:
    assert vulns(facts(), ext(compression="DEFLATE"))["crime"] is True
    assert vulns(facts(), ext(compression="null"))["crime"] is False
    assert vulns(facts(), ext(compression=None))["crime"] is None  # that hello went unanswered
    assert vulns(facts(), None)["crime"] is None  # TLS 1.2 accepted, extensions not read
    # TLS 1.3 only: no compression exists there
    assert vulns(facts({"TLSv1.3": (TLS13,)}), None)["crime"] is False


def test_insecure_renegotiation() -> None:
    reneg = "insecure_renegotiation"
    assert vulns(facts(), ext(secure_renegotiation=False))[reneg] is True
    assert vulns(facts(), ext(secure_renegotiation=True))[reneg] is False
    # the opener's answer was lost: the SCSV hello tells
    assert vulns(facts(), ext(secure_renegotiation=None, secure_renegotiation_scsv=False))[reneg]
    none = ext(secure_renegotiation=None, secure_renegotiation_scsv=None)
    assert vulns(facts(), none)[reneg] is None
    assert vulns(facts(), None)[reneg] is None
    assert vulns(facts({"TLSv1.3": (TLS13,)}), None)[reneg] is False
    # TLS 1.3 answered, but the TLS 1.2 probe failed: cannot be told
    tls13 = facts({"TLSv1.3": (TLS13,)}, incomplete={"TLSv1.2": "timeout"})
    assert vulns(tls13, None)[reneg] is None


# --- the rule --------------------------------------------------------------------------------


def run(tls: TlsFacts, names: list[str]) -> list[tuple[str, str | None]]:
    rule = RULES["vulnerabilities_forbidden"]
    params = {"names": check_param(rule.params["names"], names)}
    return rule.check(params, tls, NOW)


def test_rule_one_finding_per_listed_exposure() -> None:
    tls = dataclasses.replace(
        facts({"TLSv1.0": (ECDHE_CBC, RSA_RC4)}), extensions=ext(compression="DEFLATE")
    )
    found = run(tls, ["crime", "beast", "insecure_renegotiation", "drown"])
    assert [evidence for _, evidence in found] == ["crime", "beast"]
    assert "CRIME" in found[0][0]
    # null gives no finding
    assert run(dataclasses.replace(tls, extensions=None), ["crime"]) == []


def test_rule_refuses_unknown_names() -> None:
    with pytest.raises(ParamError, match="unknown vulnerability"):
        check_param(RULES["vulnerabilities_forbidden"].params["names"], ["heartbleed2"])


def test_azure_transit_lists_only_causes_it_does_not_already_judge() -> None:
    profile = load_profile("azure-transit")
    (req,) = [r for r in profile.requirements if r.rule == "vulnerabilities_forbidden"]
    assert req.params["names"] == (
        "crime", "insecure_renegotiation", "heartbleed", "ccs_injection", "robot"
    )  # fmt: skip
    assert req.severity == "high"
