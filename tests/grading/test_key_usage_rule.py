"""certificate_key_usage: the leaf's key usage must allow what the accepted suites do with the
key (RFC 5280 4.2.1.3): sign for ECDHE, DHE and TLS 1.3, decrypt for RSA key transport."""

from __future__ import annotations

from datetime import UTC, datetime

from probe.grading.rules import RULES
from tests.grading.factories import cert, facts

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CHECK = RULES["certificate_key_usage"].check
ECDHE = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
RSA_KX = "TLS_RSA_WITH_AES_128_GCM_SHA256"
ECDSA = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
TLS13 = "TLS_AES_128_GCM_SHA256"


def judge(
    suites: dict[str, tuple[str, ...]], **certificate: object
) -> list[tuple[str, str | None]]:
    return CHECK({}, facts(suites, certificates=(cert(**certificate),)), NOW)


def test_signing_suites_need_digital_signature() -> None:
    [(message, evidence)] = judge({"TLSv1.2": (ECDHE, RSA_KX)}, key_usage=("keyEncipherment",))
    assert "without digitalSignature" in message and "1 accepted suites" in message
    assert evidence is not None and evidence.startswith(ECDHE)
    assert judge({"TLSv1.3": (TLS13,)}, key_usage=("keyEncipherment",))


def test_rsa_key_transport_needs_key_encipherment() -> None:
    [(message, evidence)] = judge({"TLSv1.2": (ECDHE, RSA_KX)}, key_usage=("digitalSignature",))
    assert "without keyEncipherment" in message
    assert evidence is not None and evidence.startswith(RSA_KX)


def test_both_bits_or_no_extension_pass() -> None:
    both = ("digitalSignature", "keyEncipherment")
    assert judge({"TLSv1.2": (ECDHE, RSA_KX), "TLSv1.3": (TLS13,)}, key_usage=both) == []
    assert judge({"TLSv1.2": (ECDHE, RSA_KX)}, key_usage=()) == []


def test_suites_are_matched_to_the_certificate_key_type() -> None:
    # An EC certificate is not used by RSA-authenticated suites, and the reverse.
    ec = {"key_type": "EC", "key_bits": 256, "curve": "secp256r1"}
    assert judge({"TLSv1.2": (ECDHE, RSA_KX)}, key_usage=("keyAgreement",), **ec) == []
    assert judge({"TLSv1.2": (ECDSA,)}, key_usage=("keyAgreement",), **ec)
    assert judge({"TLSv1.2": (ECDSA,)}, key_usage=("keyEncipherment",)) == []
