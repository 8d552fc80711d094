"""The lab's certificates and DH groups are what their names say."""

from __future__ import annotations

import datetime as dt
import subprocess

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dh, ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_parameters

from tests.lab.certs import FFDHE2048_PRIME, OAKLEY_GROUP2_PRIME, LabCerts
from tests.lab.servers import require_binary


def _pi_bits(n: int) -> int:
    """floor(pi * 2**n), Machin's formula in integers."""
    one = 1 << (n + 64)

    def arctan_inv(x: int) -> int:
        total, term, k, sign = 0, one // x, 1, 1
        while term:
            total += sign * (term // k)
            term //= x * x
            k += 2
            sign = -sign
        return total

    return (4 * (4 * arctan_inv(5) - arctan_inv(239))) >> 64


def _e_bits(n: int) -> int:
    """floor(e * 2**n)."""
    total, term, k = 0, 1 << (n + 64), 0
    while term:
        total += term
        k += 1
        term //= k
    return total >> 64


def test_dh_primes_match_their_rfc_definitions() -> None:
    assert 2**1024 - 2**960 - 1 + 2**64 * (_pi_bits(894) + 129093) == OAKLEY_GROUP2_PRIME
    assert 2**2048 - 2**1984 + (_e_bits(1918) + 560316) * 2**64 - 1 == FFDHE2048_PRIME


def test_dh_files(lab_certs: LabCerts) -> None:
    for path, prime, bits in (
        (lab_certs.dh1024, OAKLEY_GROUP2_PRIME, 1024),
        (lab_certs.dh2048, FFDHE2048_PRIME, 2048),
    ):
        params = load_pem_parameters(path.read_bytes())
        assert isinstance(params, dh.DHParameters)
        numbers = params.parameter_numbers()
        assert (numbers.p, numbers.g, numbers.p.bit_length()) == (prime, 2, bits)
        check = subprocess.run(
            [require_binary("openssl"), "dhparam", "-in", str(path), "-check", "-noout"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0, check.stderr


def _load(path: object) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())  # type: ignore[attr-defined]


def _verify(lab_certs: LabCerts, cert: object, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            require_binary("openssl"),
            "verify",
            "-CAfile",
            str(lab_certs.ca_cert),
            *extra,
            str(cert),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def test_leaf_keys(lab_certs: LabCerts) -> None:
    for kc, kind, bits in (
        (lab_certs.rsa2048, rsa.RSAPublicKey, 2048),
        (lab_certs.rsa1024, rsa.RSAPublicKey, 1024),
        (lab_certs.expired, rsa.RSAPublicKey, 2048),
        (lab_certs.wrong_name, rsa.RSAPublicKey, 2048),
        (lab_certs.self_signed, rsa.RSAPublicKey, 2048),
        (lab_certs.ecdsa_p256, ec.EllipticCurvePublicKey, 256),
    ):
        key = _load(kc.cert).public_key()
        assert isinstance(key, kind), kc.name
        assert key.key_size == bits == kc.key_bits, kc.name
    ec_key = _load(lab_certs.ecdsa_p256.cert).public_key()
    assert isinstance(ec_key, ec.EllipticCurvePublicKey)
    assert ec_key.curve.name == "secp256r1"


def test_good_leaves_verify_against_the_lab_ca_for_localhost(lab_certs: LabCerts) -> None:
    for kc in (lab_certs.rsa2048, lab_certs.rsa1024, lab_certs.ecdsa_p256):
        for name in ("-verify_hostname", "localhost"), ("-verify_ip", "127.0.0.1"):
            result = _verify(lab_certs, kc.cert, *name)
            assert result.returncode == 0, (kc.name, result.stderr)


def test_each_bad_leaf_has_exactly_its_defect(lab_certs: LabCerts) -> None:
    expired = _verify(lab_certs, lab_certs.expired.cert, "-verify_hostname", "localhost")
    assert expired.returncode != 0
    assert "certificate has expired" in expired.stderr
    assert _load(lab_certs.expired.cert).not_valid_after_utc < dt.datetime.now(dt.UTC)
    assert _verify(lab_certs, lab_certs.expired.cert, "-no_check_time").returncode == 0

    wrong = _verify(lab_certs, lab_certs.wrong_name.cert, "-verify_hostname", "localhost")
    assert wrong.returncode != 0
    assert "hostname mismatch" in wrong.stderr
    right = _verify(lab_certs, lab_certs.wrong_name.cert, "-verify_hostname", "wrong.example")
    assert right.returncode == 0, right.stderr
    san = _load(lab_certs.wrong_name.cert).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert san.value.get_values_for_type(x509.DNSName) == ["wrong.example"]

    own = _verify(lab_certs, lab_certs.self_signed.cert)
    assert own.returncode != 0
    self_signed = _load(lab_certs.self_signed.cert)
    assert self_signed.issuer == self_signed.subject


def test_good_leaf_san(lab_certs: LabCerts) -> None:
    san = _load(lab_certs.rsa2048.cert).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert san.value.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.value.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
