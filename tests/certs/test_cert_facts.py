"""certificate_facts: every field, from generated certificates."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Literal

import pytest
from cryptography.hazmat.primitives import hashes

from probe.codecs.errors import DecodeError
from probe.codecs.x509 import (
    MAX_CHAIN_BYTES,
    CertificateDecodeError,
    certificate_facts,
    leaf_key_id,
)
from probe.model import CertificateFacts

from .certgen import NOW, Issued, issue, key, pki, resign


def facts(
    *certs: Issued | bytes,
    server_name: str | None = None,
    now: datetime = NOW,
) -> CertificateFacts:
    chain = [c if isinstance(c, bytes) else c.der for c in certs]
    return certificate_facts(
        chain,
        server_name=server_name,
        now=now,
        trusted=False,
        trust_error="self-signed certificate",
        served_with=("TLSv1.3",),
    )


@pytest.mark.parametrize(
    ("kind", "key_type", "bits", "curve"),
    [
        ("rsa1024", "RSA", 1024, None),
        ("rsa2048", "RSA", 2048, None),
        ("p256", "EC", 256, "secp256r1"),
        ("p384", "EC", 384, "secp384r1"),
        ("p521", "EC", 521, "secp521r1"),
        ("ed25519", "Ed25519", 256, None),
        ("ed448", "Ed448", 456, None),
        ("dsa1024", "DSA", 1024, None),
    ],
)
def test_key_facts(kind: str, key_type: str, bits: int, curve: str | None) -> None:
    ca = issue("CA", subject_key=key("rsa2048", 7), ca=True)
    leaf = issue("leaf", subject_key=key(kind), issuer=ca)
    got = facts(leaf)
    assert (got.key_type, got.key_bits, got.curve) == (key_type, bits, curve)


@pytest.mark.parametrize(
    ("signer", "hash_algorithm", "name", "digest"),
    [
        ("rsa2048", hashes.SHA256(), "sha256WithRSAEncryption", "sha256"),
        ("rsa2048", hashes.SHA384(), "sha384WithRSAEncryption", "sha384"),
        ("rsa2048", hashes.SHA512(), "sha512WithRSAEncryption", "sha512"),
        ("p256", hashes.SHA256(), "ecdsa-with-SHA256", "sha256"),
        ("p384", hashes.SHA384(), "ecdsa-with-SHA384", "sha384"),
        ("ed25519", None, "ed25519", None),
        ("ed448", None, "ed448", None),
        ("dsa1024", hashes.SHA256(), "dsa-with-sha256", "sha256"),
    ],
)
def test_signature_facts(
    signer: str, hash_algorithm: hashes.HashAlgorithm | None, name: str, digest: str | None
) -> None:
    cert = issue("self", subject_key=key(signer), hash_algorithm=hash_algorithm)
    got = facts(cert)
    assert got.signature_algorithm == name
    assert got.signature_hash == digest


@pytest.mark.parametrize("digest", ["sha1", "md5"])
def test_legacy_signatures(digest: Literal["sha1", "md5"]) -> None:
    ca = issue("Legacy CA", subject_key=key("rsa2048", 3), ca=True)
    leaf = resign(issue("legacy", issuer=ca), ca, digest)
    got = facts(leaf, ca)
    assert got.signature_algorithm == f"{digest}WithRSAEncryption"
    assert got.signature_hash == digest
    assert got.self_signed is False
    assert got.chain_weak_signatures == (f"CN=legacy ({digest})",)


@pytest.mark.parametrize("digest", ["sha1", "md5"])
def test_self_signed_legacy_signature_still_detected(digest: Literal["sha1", "md5"]) -> None:
    cert = issue("legacy-self", subject_key=key("rsa1024"))
    legacy = resign(cert, cert, digest)
    got = facts(legacy)
    assert got.self_signed is True
    assert got.signature_hash == digest
    # A self-signed certificate is an anchor: its own signature is not counted as weak.
    assert got.chain_weak_signatures == ()


def test_validity_and_days_to_expiry() -> None:
    cert = issue(
        "v",
        not_before=NOW - timedelta(days=1),
        not_after=NOW + timedelta(days=10, hours=5),
    )
    got = facts(cert)
    assert got.not_before == NOW - timedelta(days=1)
    assert got.not_after == NOW + timedelta(days=10, hours=5)
    assert got.not_before.tzinfo is not None
    assert got.days_to_expiry == 10


@pytest.mark.parametrize(
    ("offset", "days"),
    [
        (timedelta(hours=23), 0),
        (timedelta(days=1), 1),
        (timedelta(seconds=-1), -1),
        (timedelta(hours=-1), -1),
        (timedelta(days=-1), -1),
        (timedelta(days=-1, seconds=-1), -2),
        (timedelta(days=-400), -400),
    ],
)
def test_days_to_expiry_floors(offset: timedelta, days: int) -> None:
    cert = issue("e", not_before=NOW - timedelta(days=500), not_after=NOW + offset)
    assert facts(cert).days_to_expiry == days


def test_not_yet_valid_certificate() -> None:
    cert = issue("future", not_before=NOW + timedelta(days=2), not_after=NOW + timedelta(days=30))
    got = facts(cert)
    assert got.not_before > NOW
    assert got.days_to_expiry == 30


def test_naive_now_is_utc() -> None:
    cert = issue("n", not_after=NOW + timedelta(days=3))
    assert facts(cert, now=NOW.replace(tzinfo=None)).days_to_expiry == 3


def test_subject_issuer_san() -> None:
    chain = pki(san_dns=("www.example.com", "example.com"), san_ips=("192.0.2.1", "2001:db8::1"))
    got = facts(chain.leaf, chain.intermediate)
    assert got.subject == "CN=localhost"
    assert got.issuer == "CN=Probe Test Intermediate"
    assert got.san == ("www.example.com", "example.com", "192.0.2.1", "2001:db8::1")
    assert got.chain_length == 2
    assert got.self_signed is False


def test_rfc4514_multi_attribute() -> None:
    from .certgen import name

    cert = issue("x", subject=name("host.example", org="Acme, Inc."))
    assert facts(cert).subject == "O=Acme\\, Inc.,CN=host.example"


def test_name_matches_fact() -> None:
    cert = issue("ignored-cn", san_dns=("*.example.com",), san_ips=("192.0.2.7",))
    assert facts(cert, server_name="www.example.com").name_matches is True
    assert facts(cert, server_name="example.com").name_matches is False
    assert facts(cert, server_name="ignored-cn").name_matches is False
    assert facts(cert, server_name="192.0.2.7").name_matches is True
    assert facts(cert).name_matches is None


def test_name_matches_falls_back_to_cn_without_san() -> None:
    cert = issue("legacy.example.com")
    assert facts(cert, server_name="LEGACY.example.com").name_matches is True
    assert facts(cert, server_name="other.example.com").name_matches is False


def test_self_signed() -> None:
    assert facts(issue("me")).self_signed is True
    assert facts(issue("ed", subject_key=key("ed25519"))).self_signed is True
    assert facts(issue("ec", subject_key=key("p256"))).self_signed is True


def test_same_names_but_signed_by_another_key_is_not_self_signed() -> None:
    impostor = issue("twin", subject_key=key("rsa2048", 5))
    cert = issue("twin", subject_key=key("rsa2048"), issuer=impostor)
    assert cert.cert.issuer == cert.cert.subject
    assert facts(cert).self_signed is False


def test_weak_intermediate_reported_root_skipped() -> None:
    root = issue("Root", subject_key=key("rsa2048", 1), ca=True)
    sha1_root = resign(root, root, "sha1")
    inter = resign(
        issue("Inter", subject_key=key("rsa2048", 2), issuer=sha1_root, ca=True),
        sha1_root,
        "sha1",
    )
    leaf = issue("leaf", issuer=inter)
    got = facts(leaf, inter, sha1_root)
    assert got.chain_weak_signatures == ("CN=Inter (sha1)",)
    assert got.signature_hash == "sha256"
    assert got.chain_length == 3


def test_fingerprint_and_key_id() -> None:
    cert = issue("fp")
    got = facts(cert)
    assert got.sha256_fingerprint == hashlib.sha256(cert.der).hexdigest()
    assert leaf_key_id(cert.der) == got.sha256_fingerprint
    assert len(got.sha256_fingerprint) == 64


def test_passthrough_fields() -> None:
    got = certificate_facts(
        [issue("p").der],
        server_name=None,
        now=NOW,
        trusted=True,
        trust_error=None,
        served_with=("TLSv1.2 RSA", "TLSv1.3"),
    )
    assert got.trusted is True
    assert got.trust_error is None
    assert got.served_with == ("TLSv1.2 RSA", "TLSv1.3")
    assert facts(issue("p")).trust_error == "self-signed certificate"


def test_empty_chain_is_an_error() -> None:
    with pytest.raises(CertificateDecodeError):
        facts()


@pytest.mark.parametrize("garbage", [b"", b"\x00", b"\x30\x03\x02\x01\x01", b"\x30\x82\xff\xff"])
def test_garbage_leaf_is_an_error(garbage: bytes) -> None:
    with pytest.raises(CertificateDecodeError):
        facts(garbage)


def test_truncated_leaf_is_an_error() -> None:
    der = issue("t").der
    with pytest.raises(CertificateDecodeError):
        facts(der[: len(der) // 2])


def test_oversized_leaf_is_refused_without_parsing() -> None:
    with pytest.raises(CertificateDecodeError, match="larger"):
        facts(b"\x30" + b"\x00" * MAX_CHAIN_BYTES)


def test_garbage_intermediate_is_tolerated() -> None:
    chain = pki()
    got = facts(chain.leaf, b"not a certificate", chain.intermediate)
    assert got.chain_length == 3
    assert got.subject == "CN=localhost"


def test_long_chain_is_capped_but_counted() -> None:
    ca = issue("CA", subject_key=key("rsa2048", 4), ca=True)
    sha1_ca = resign(ca, ca, "sha1")
    leaf = issue("leaf", issuer=ca)
    chain = [leaf.der] + [issue(f"junk{i}", subject_key=key("p256")).der for i in range(15)]
    chain.append(resign(issue("late", issuer=sha1_ca), sha1_ca, "sha1").der)
    got = facts(*chain)
    assert got.chain_length == 17
    assert got.chain_weak_signatures == ()  # the 17th certificate is past the cap


def test_decode_error_is_the_codecs_decode_error() -> None:
    assert issubclass(CertificateDecodeError, DecodeError)
    assert issubclass(CertificateDecodeError, ValueError)
