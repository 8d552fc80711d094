"""The SSL Labs-style letter grade (probe.grading.letter, docs/grading.md): the score tables and
thresholds, every cap rule on constructed facts, and real lab servers end to end."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from factories import GOOD_TLS12, GOOD_TLS13, NOW, cert, error_result, facts, result

from probe.grading.letter import (
    CAP_RULES,
    GRADES,
    LetterGrade,
    Scores,
    grade_target,
    grade_tls,
    letter_for_score,
)
from probe.grading.profile import load_profile
from probe.grading.rules import evaluate
from probe.model import HstsFacts, KeyExchangeParams, Status, Target, TargetResult, TlsFacts

DOCS = Path(__file__).resolve().parents[2] / "docs" / "grading.md"

ECDHE_GCM = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
ECDHE_GCM256 = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
ECDHE_CBC = "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
ECDHE_CBC256 = "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"
RSA_GCM = "TLS_RSA_WITH_AES_128_GCM_SHA256"
RSA_CBC = "TLS_RSA_WITH_AES_128_CBC_SHA"
RSA_3DES = "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
RSA_RC4 = "TLS_RSA_WITH_RC4_128_SHA"
TLS13_GCM = "TLS_AES_128_GCM_SHA256"
TLS13_GCM256 = "TLS_AES_256_GCM_SHA384"
GOOD = {"TLSv1.2": GOOD_TLS12, "TLSv1.3": GOOD_TLS13}


def grade(tls: TlsFacts) -> LetterGrade:
    graded = grade_tls(tls, now=NOW)
    assert graded is not None
    return graded


def rules(graded: LetterGrade) -> set[str]:
    return {cap.rule for cap in graded.caps}


def with_suites(extra: Mapping[str, tuple[str, ...]], **kwargs: Any) -> TlsFacts:
    """The good server plus `extra` suites (appended per version)."""
    suites = {label: GOOD.get(label, ()) + extra.get(label, ()) for label in {*GOOD, *extra}}
    return facts(suites, **kwargs)


def strongest(**kwargs: Any) -> TlsFacts:
    """Every category at 100: AES-256 only, a P-384 key, x25519."""
    base: dict[str, Any] = {
        "certificates": (cert(key_type="EC", key_bits=384, curve="secp384r1"),),
        "key_exchange": {ECDHE_GCM256: KeyExchangeParams("ECDHE", "x25519", 253)},
    }
    return facts({"TLSv1.2": (ECDHE_GCM256,), "TLSv1.3": (TLS13_GCM256,)}, **(base | kwargs))


# --- the letter of a score -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "letter"),
    [
        (100, "A"),
        (80, "A"),
        (79.9, "B"),
        (65, "B"),
        (64.9, "C"),
        (50, "C"),
        (49.9, "D"),
        (35, "D"),
        (34.9, "E"),
        (20, "E"),
        (19.9, "F"),
        (0, "F"),
    ],
)
def test_letter_thresholds(score: float, letter: str) -> None:
    assert letter_for_score(score) == letter


def test_weights_and_a_zero_category() -> None:
    assert Scores(100, 100, 100).total == 100
    assert Scores(100, 50, 87.5).total == 80  # 30 + 15 + 35
    assert Scores(90, 90, 90).total == pytest.approx(90)
    assert Scores(100, 0, 100).total == 0  # a zero anywhere makes the total zero
    assert Scores(0, 100, 100).total == 0


# --- the category scores ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("versions", "score"),
    [
        (("TLSv1.3",), 100),
        (("TLSv1.2", "TLSv1.3"), 100),
        (("TLSv1.1", "TLSv1.2"), 97.5),
        (("TLSv1.0", "TLSv1.3"), 95),
        (("TLSv1.0",), 90),
        (("SSLv3", "TLSv1.2"), 90),
        (("SSLv3",), 80),
        (("SSLv2", "TLSv1.2"), 50),
    ],
)
def test_protocol_score_is_best_plus_worst_over_two(
    versions: tuple[str, ...], score: float
) -> None:
    suite_of = {"SSLv2": ("SSL_CK_RC4_128_WITH_MD5",), "TLSv1.3": (TLS13_GCM,)}
    tls = facts(
        {v: suite_of.get(v, (ECDHE_GCM if v == "TLSv1.2" else ECDHE_CBC,)) for v in versions}
    )
    assert grade(tls).scores.protocol == score


@pytest.mark.parametrize(
    ("key_type", "bits", "score"),
    [
        ("RSA", 511, 20),
        ("RSA", 512, 40),
        ("RSA", 1023, 40),
        ("RSA", 1024, 80),
        ("RSA", 2047, 80),
        ("RSA", 2048, 90),
        ("RSA", 4095, 90),
        ("RSA", 4096, 100),
        ("DSA", 1024, 80),
        ("EC", 109, 20),
        ("EC", 110, 40),
        ("EC", 122, 40),
        ("EC", 123, 80),
        ("EC", 162, 80),
        ("EC", 163, 90),
        ("EC", 224, 90),
        ("EC", 225, 100),
        ("EC", 256, 100),
        ("Ed25519", 256, 100),
    ],
)
def test_key_exchange_score_of_the_certificate_key(key_type: str, bits: int, score: int) -> None:
    tls = strongest(certificates=(cert(key_type=key_type, key_bits=bits),))
    assert grade(tls).scores.key_exchange == score


@pytest.mark.parametrize(
    ("kind", "group", "bits", "score"),
    [
        ("DHE", None, 768, 40),
        ("DHE", None, 1024, 80),
        ("DHE", "ffdhe2048", 2048, 90),
        ("DHE", "ffdhe4096", 4096, 100),
        ("ECDHE", "secp160r1", 160, 80),
        ("ECDHE", "secp224r1", 224, 90),
        ("ECDHE", "secp256r1", 256, 100),
        ("ECDHE", "X25519MLKEM768", 253, 100),
        ("ECDHE", "0x9999", 0, 100),  # a group of unknown size does not count
    ],
)
def test_key_exchange_score_is_the_weakest_with_the_server_parameters(
    kind: str, group: str | None, bits: int, score: int
) -> None:
    tls = strongest(key_exchange={ECDHE_GCM256: KeyExchangeParams(kind, group, bits)})
    assert grade(tls).scores.key_exchange == score


def test_key_exchange_score_export_and_anonymous() -> None:
    export = with_suites({"TLSv1.0": ("TLS_RSA_EXPORT_WITH_RC4_40_MD5",)})
    assert grade(export).scores.key_exchange == 40
    anonymous = with_suites({"TLSv1.2": ("TLS_DH_anon_WITH_AES_128_GCM_SHA256",)})
    graded = grade(anonymous)
    assert graded.scores.key_exchange == 0
    assert graded.scores.total == 0 and graded.score_letter == "F"


@pytest.mark.parametrize(
    ("suites", "score"),
    [
        ((ECDHE_GCM256,), 100),
        ((ECDHE_GCM,), 80),
        ((ECDHE_GCM256, ECDHE_GCM), 90),
        ((ECDHE_GCM256, RSA_3DES), 90),  # the guide counts 3DES as 168 bits
        ((ECDHE_GCM256, "TLS_RSA_WITH_DES_CBC_SHA"), 60),
        ((ECDHE_GCM256, "TLS_RSA_WITH_NULL_SHA256"), 50),
    ],
)
def test_cipher_score_is_strongest_plus_weakest_over_two(
    suites: tuple[str, ...], score: float
) -> None:
    tls = dataclasses.replace(strongest(), cipher_suites={"TLSv1.2": suites})
    assert grade(tls).scores.cipher == score


def test_cipher_score_counts_sslv2_cipher_kinds() -> None:
    tls = with_suites({"SSLv2": ("SSL_CK_RC4_128_EXPORT40_WITH_MD5",)})
    assert grade(tls).scores.cipher == (100 + 20) / 2


def test_score_letter_is_kept_before_the_caps() -> None:
    # TLS 1.0 only with an export suite: 90, 40, (100 + 20) / 2 -> 27 + 12 + 24 = 63: C.
    tls = facts(
        {"TLSv1.0": ("TLS_RSA_EXPORT_WITH_RC4_40_MD5", "TLS_RSA_WITH_AES_256_CBC_SHA")},
        key_exchange={},
    )
    graded = grade(tls)
    assert graded.scores == Scores(90, 40, 60)
    assert graded.score_letter == "C"
    assert graded.grade == "F"


# --- a good server -----------------------------------------------------------------------------


def test_good_server_gets_a_and_never_a_plus_while_hsts_is_not_measured() -> None:
    for tls in (facts(), strongest()):
        graded = grade(tls)
        assert graded.score_letter == "A"
        assert graded.grade == "A"
        assert [cap.rule for cap in graded.caps] == ["hsts_not_measured"]
        assert graded.caps[0].cap == "A"


# --- every cap rule ---------------------------------------------------------------------------

PAST = NOW - timedelta(days=3)
DES = "TLS_RSA_WITH_DES_CBC_SHA"

CASES: list[tuple[str, TlsFacts, str]] = [
    ("name_mismatch", facts(certificates=(cert(name_matches=False),)), "M"),
    (
        "untrusted",
        facts(certificates=(cert(trusted=False, trust_error="unable to get local issuer"),)),
        "T",
    ),
    ("expired", facts(certificates=(cert(not_after=PAST, days_to_expiry=-3),)), "T"),
    ("not_yet_valid", facts(certificates=(cert(not_before=NOW + timedelta(days=1)),)), "T"),
    (
        "sha1_signature",
        facts(certificates=(cert(signature_hash="sha1", chain_weak_signatures=()),)),
        "T",
    ),
    ("md5_signature", facts(certificates=(cert(chain_weak_signatures=("CN=Old CA (md5)",)),)), "F"),
    ("sslv2", with_suites({"SSLv2": ("SSL_CK_RC4_128_WITH_MD5",)}), "F"),
    ("sslv3_only", facts({"SSLv3": (RSA_CBC,)}), "F"),
    ("export_suites", with_suites({"TLSv1.0": ("TLS_RSA_EXPORT_WITH_RC4_40_MD5",)}), "F"),
    (
        "anonymous_suites",
        with_suites({"TLSv1.2": ("TLS_DH_anon_WITH_AES_128_GCM_SHA256",)}),
        "F",
    ),
    ("weak_cipher", with_suites({"TLSv1.2": (DES,)}), "F"),
    ("key_insecure", facts(certificates=(cert(key_bits=768),)), "F"),
    (
        "kx_insecure",
        facts(key_exchange={GOOD_TLS12[1]: KeyExchangeParams("DHE", None, 768)}),
        "F",
    ),
    ("no_tls12", facts({"TLSv1.1": (ECDHE_CBC,)}), "C"),
    ("rc4_modern", with_suites({"TLSv1.2": ("TLS_ECDHE_RSA_WITH_RC4_128_SHA",)}), "C"),
    (
        "block64_modern",
        facts(
            {"TLSv1.2": (RSA_3DES, ECDHE_GCM), "TLSv1.3": GOOD_TLS13},
            preference={"TLSv1.2": True},
        ),
        "C",
    ),
    ("sslv3_poodle", with_suites({"SSLv3": (RSA_CBC,)}), "C"),
    ("tls10_tls11", with_suites({"TLSv1.0": (ECDHE_CBC,), "TLSv1.1": (ECDHE_CBC,)}), "B"),
    ("sslv3", with_suites({"SSLv3": (RSA_RC4,)}), "B"),
    ("rc4", with_suites({"TLSv1.0": (RSA_RC4,)}), "B"),
    ("key_weak", facts(certificates=(cert(key_bits=1024),)), "B"),
    ("kx_weak", facts(key_exchange={GOOD_TLS12[1]: KeyExchangeParams("DHE", None, 1024)}), "B"),
    ("no_forward_secrecy", facts({"TLSv1.2": (RSA_GCM,), "TLSv1.3": GOOD_TLS13}), "B"),
    ("no_aead", facts({"TLSv1.2": (ECDHE_CBC256,), "TLSv1.3": GOOD_TLS13}), "B"),
    ("no_tls13", facts({"TLSv1.2": GOOD_TLS12}), "A-"),
    ("hsts_not_measured", facts(), "A"),
    ("hsts_missing", dataclasses.replace(facts(), https_status=200), "A"),
    (
        "hsts_short",
        dataclasses.replace(facts(), https_status=200, hsts=HstsFacts(86400, True, False)),
        "A",
    ),
]


@pytest.mark.parametrize(("rule", "tls", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_cap_rule(rule: str, tls: TlsFacts, expected: str) -> None:
    graded = grade(tls)
    assert rule in rules(graded)
    cap = next(c for c in graded.caps if c.rule == rule)
    assert cap.cap == {r.rule: r.cap for r in CAP_RULES}[rule]
    assert cap.message
    assert graded.grade == expected


def test_a_plus_needs_hsts_of_six_months_measured_over_https() -> None:
    six_months = HstsFacts(max_age=15552000, include_subdomains=False, preload=False)
    for tls in (facts(), strongest()):
        graded = grade(dataclasses.replace(tls, https_status=200, hsts=six_months))
        assert (graded.grade, graded.caps) == ("A+", ())
    # a day short of 6 months, or an invalid header: A, with the rule that says why
    a_day_short = dataclasses.replace(six_months, max_age=15465600)
    short = grade(dataclasses.replace(facts(), https_status=301, hsts=a_day_short))
    assert (short.grade, rules(short)) == ("A", {"hsts_short"})
    invalid = grade(
        dataclasses.replace(
            facts(), https_status=200, hsts_header="max-age=1; max-age=2", hsts_problem="x"
        )
    )
    assert (invalid.grade, rules(invalid)) == ("A", {"hsts_missing"})
    assert invalid.caps[0].evidence == "max-age=1; max-age=2"
    # HSTS never lifts a capped grade
    capped = dataclasses.replace(facts({"TLSv1.2": GOOD_TLS12}), https_status=200, hsts=six_months)
    assert (grade(capped).grade, rules(grade(capped))) == ("A-", {"no_tls13"})


def test_every_rule_has_a_case_and_a_row_in_the_docs() -> None:
    assert {c[0] for c in CASES} == {r.rule for r in CAP_RULES}
    docs = DOCS.read_text(encoding="utf-8")
    for rule in CAP_RULES:
        assert re.search(rf"\| `{rule.rule}` \| {re.escape(rule.cap)} \|", docs), rule.rule


def test_caps_are_listed_most_severe_first_with_evidence() -> None:
    tls = with_suites(
        {"TLSv1.0": (RSA_RC4, ECDHE_CBC)},
        certificates=(cert(key_bits=1024, trusted=False, trust_error="self-signed"),),
    )
    graded = grade(tls)
    assert [c.rule for c in graded.caps] == [
        "untrusted",
        "tls10_tls11",
        "rc4",
        "key_weak",
        "hsts_not_measured",
    ]
    by_rule = {c.rule: c for c in graded.caps}
    assert by_rule["rc4"].evidence == f"TLSv1.0: {RSA_RC4}"
    assert by_rule["tls10_tls11"].message == "accepts TLSv1.0 (deprecated by RFC 8996)"
    assert "CN=example.com" in (by_rule["key_weak"].evidence or "")
    assert graded.grade == "T"


def test_the_lowest_cap_wins_and_m_and_t_replace_the_letter() -> None:
    both = with_suites({"TLSv1.0": (ECDHE_CBC,), "TLSv1.2": ("TLS_ECDHE_RSA_WITH_RC4_128_SHA",)})
    assert grade(both).grade == "C"  # B (TLS 1.0) and C (RC4 with TLS 1.2)
    untrusted_f = with_suites(
        {"SSLv2": ("SSL_CK_RC4_128_WITH_MD5",)},
        certificates=(cert(trusted=False, trust_error="x"),),
    )
    assert grade(untrusted_f).grade == "T"
    mismatch_untrusted = facts(certificates=(cert(trusted=False, name_matches=False),))
    assert grade(mismatch_untrusted).grade == "M"
    assert {"name_mismatch", "untrusted"} <= rules(grade(mismatch_untrusted))


def test_no_name_asked_for_is_no_mismatch() -> None:
    assert grade(facts(certificates=(cert(name_matches=None),))).grade == "A"


def test_a_trusted_self_signed_certificate_is_not_t() -> None:
    # The user's --ca-file trusts it; trust is the trust store's verdict, not ours.
    assert grade(facts(certificates=(cert(self_signed=True),))).grade == "A"


def test_expired_by_now_although_valid_when_scanned() -> None:
    tls = facts(certificates=(cert(not_after=PAST, days_to_expiry=5),))
    assert "expired" in rules(grade(tls))


def test_sha1_chain_entry_and_md5_leaf() -> None:
    chain = facts(certificates=(cert(chain_weak_signatures=("CN=Intermediate (sha1)",)),))
    assert "sha1_signature" in rules(grade(chain))
    leaf = facts(certificates=(cert(signature_hash="md5"),))
    graded = grade(leaf)
    assert "md5_signature" in rules(graded) and "sha1_signature" not in rules(graded)


def test_one_rule_per_family() -> None:
    rc4_modern = grade(with_suites({"TLSv1.0": (RSA_RC4,), "TLSv1.2": (RSA_RC4,)}))
    assert "rc4_modern" in rules(rc4_modern) and "rc4" not in rules(rc4_modern)
    poodle = grade(with_suites({"SSLv3": (RSA_CBC,)}))
    assert "sslv3_poodle" in rules(poodle) and "sslv3" not in rules(poodle)
    only = grade(facts({"SSLv3": (RSA_CBC,)}))
    assert "sslv3_only" in rules(only) and "sslv3_poodle" not in rules(only)
    insecure = grade(facts(certificates=(cert(key_bits=768),)))
    assert "key_insecure" in rules(insecure) and "key_weak" not in rules(insecure)


# --- what a current client negotiates ----------------------------------------------------------


def test_non_fs_suites_a_client_never_gets_are_not_penalised() -> None:
    # Client order: a current client takes ECDHE + AEAD over RSA key exchange.
    client_order = facts({"TLSv1.2": (RSA_CBC, RSA_3DES, ECDHE_GCM)}, preference={"TLSv1.2": False})
    graded = grade(client_order)
    assert not {"no_forward_secrecy", "no_aead", "block64_modern"} & rules(graded)
    # Server order with the weak suites last: the same.
    server_last = facts({"TLSv1.2": (ECDHE_GCM, RSA_CBC, RSA_3DES)}, preference={"TLSv1.2": True})
    assert not {"no_forward_secrecy", "no_aead", "block64_modern"} & rules(grade(server_last))


def test_a_server_order_that_puts_weak_suites_first_is_penalised() -> None:
    tls = facts({"TLSv1.2": (RSA_CBC, ECDHE_GCM)}, preference={"TLSv1.2": True})
    assert {"no_forward_secrecy", "no_aead"} <= rules(grade(tls))


def test_tls13_alone_settles_forward_secrecy_and_aead() -> None:
    tls = facts({"TLSv1.3": GOOD_TLS13})
    graded = grade(tls)
    assert graded.grade == "A"
    assert not {"no_forward_secrecy", "no_aead"} & rules(graded)


def test_old_server_is_judged_at_its_newest_version() -> None:
    graded = grade(facts({"TLSv1.0": (ECDHE_CBC,), "TLSv1.1": (ECDHE_CBC,)}))
    assert "no_aead" in rules(graded) and "no_forward_secrecy" not in rules(graded)
    assert graded.grade == "C"


def test_3des_with_tls10_only_is_not_the_modern_protocol_rule() -> None:
    tls = with_suites({"TLSv1.0": (RSA_3DES,)}, preference={"TLSv1.0": True})
    assert "block64_modern" not in rules(grade(tls))


# --- when there is no grade ---------------------------------------------------------------------


def test_no_grade_without_complete_tls_facts() -> None:
    assert grade_target(result(facts()), now=NOW) is not None
    assert grade_target(dataclasses.replace(result(), tls=None), now=NOW) is None
    for key in ("TLSv1.3", "certificate"):
        partial = result(facts(incomplete={key: "timeout"}))
        assert grade_target(partial, now=NOW) is None, key
    groups_only = result(facts(incomplete={"TLSv1.3 groups": "no HelloRetryRequest"}))
    assert grade_target(groups_only, now=NOW) is not None
    assert grade_target(error_result(tls=facts()), now=NOW) is None
    assert grade_tls(facts({}), now=NOW) is None  # no version accepted
    assert grade_tls(facts(certificates=()), now=NOW) is None  # no certificate seen


def test_an_sstp_target_is_graded_on_its_listeners_tls() -> None:
    target = Target("sstp://vpn.example", "vpn.example", 443, "sstp", "vpn.example")
    sstp = TargetResult(target, Status.COMPLETED, None, facts(), 1.0)
    assert grade_target(sstp, now=NOW) is not None


# --- evaluate() fills the result, and does not change passed ------------------------------------


def test_evaluate_sets_grade_and_caps_beside_passed() -> None:
    profile = load_profile("azure-transit")
    good = evaluate(profile, result(), now=NOW)
    assert good.passed is True and good.grade == "A"
    assert [c.rule for c in good.grade_caps] == ["hsts_not_measured"]
    weak = evaluate(profile, result(with_suites({"TLSv1.0": (ECDHE_CBC,)})), now=NOW)
    assert weak.passed is False and weak.grade == "B"
    assert "tls10_tls11" in {c.rule for c in weak.grade_caps}
    down = evaluate(profile, error_result(), now=NOW)
    assert down.grade is None and down.grade_caps == ()


def test_grades_are_from_the_known_set() -> None:
    for _rule, tls, _expected in CASES:
        assert grade(tls).grade in GRADES


# --- real lab servers ---------------------------------------------------------------------------


def _scan(host: str, port: int, ca_file: str) -> TargetResult:
    from probe.checks import tls
    from probe.checks.context import CheckContext, ScanOptions
    from probe.net.limits import Limits

    target = Target(f"{host}:{port}", host, port, "tls", "localhost")
    options = ScanOptions(timeout=5.0, ca_file=ca_file, retries=1)

    async def go() -> TargetResult:
        limits = Limits(concurrency=options.concurrency, per_host=options.per_host)
        return await tls.run(target, CheckContext(options=options, limits=limits))

    # The lab certificates are valid now, not at the factories' NOW.
    return evaluate(load_profile("azure-transit"), asyncio.run(go()), now=datetime.now(UTC))


@pytest.mark.parametrize(
    ("name", "expected", "must_have"),
    [
        ("modern", "A", {"hsts_not_measured"}),  # no HSTS measured: not A+
        ("tls13_ecdsa", "A", {"hsts_not_measured"}),
        ("serverpref", "A-", {"no_tls13"}),
        ("non_fs", "B", {"no_forward_secrecy", "no_tls13"}),
        ("dhe1024", "B", {"kx_weak"}),
        ("tls10_only", "F", {"anonymous_suites", "no_tls12", "tls10_tls11", "no_aead"}),
        ("rsa1024", "F", {"anonymous_suites", "key_weak", "tls10_tls11"}),
        ("expired", "T", {"expired"}),
        ("wrong_name", "M", {"name_mismatch"}),
    ],
)
def test_lab_servers(
    lab_servers: Any, lab_ca_file: str, name: str, expected: str, must_have: set[str]
) -> None:
    server = lab_servers[name]
    scanned = _scan(server.host, server.port, lab_ca_file)
    assert scanned.status is Status.COMPLETED, scanned.error
    caps = {c.rule for c in scanned.grade_caps}
    assert scanned.grade == expected, scanned.grade_caps
    assert must_have <= caps, caps
