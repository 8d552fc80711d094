"""The well-known DH primes probe names (probe.codecs.tls.groups) are OpenSSL's named groups."""

from __future__ import annotations

import subprocess

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_parameters

from probe.codecs.tls.constants import GROUP_BITS, GROUP_NAMES
from probe.codecs.tls.groups import (
    FFDHE_GROUPS,
    POST_QUANTUM_GROUPS,
    common_prime_name,
    ffdhe_group_for_prime,
    ffdhe_prime,
    is_post_quantum,
)
from tests.lab.servers import require_binary

# OpenSSL 3.0 knows these groups by name (crypto/ffc/ffc_dh.c); RFC 2409's 768- and 1024-bit
# primes it does not name, so tests/lab_tests/test_certs.py derives modp_1024 from the RFC.
OPENSSL_NAMED = [
    "ffdhe2048", "ffdhe3072", "ffdhe4096", "ffdhe6144", "ffdhe8192",
    "modp_1536", "modp_2048", "modp_3072", "modp_4096", "modp_6144", "modp_8192",
    "dh_1024_160", "dh_2048_224", "dh_2048_256",
]  # fmt: skip


def openssl_prime(name: str) -> int:
    algorithm = "DHX" if name.startswith("dh_") else "DH"  # RFC 5114 groups are X9.42 ones
    pem = subprocess.run(
        [require_binary("openssl"), "genpkey", "-genparam", "-algorithm", algorithm,
         "-pkeyopt", f"group:{name}"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    params = load_pem_parameters(pem)
    prime: int = params.parameter_numbers().p  # type: ignore[union-attr]
    return prime


@pytest.mark.parametrize("name", OPENSSL_NAMED)
def test_every_named_prime_is_recognised(name: str) -> None:
    prime = openssl_prime(name)
    assert common_prime_name(prime) == name
    assert common_prime_name(prime.to_bytes((prime.bit_length() + 7) // 8, "big")) == name
    expected_group = next((g for g in FFDHE_GROUPS if GROUP_NAMES[g] == name), None)
    assert ffdhe_group_for_prime(prime) == expected_group


@pytest.mark.parametrize("group", FFDHE_GROUPS)
def test_ffdhe_primes_follow_rfc7919(group: int) -> None:
    """Computed from the RFC 7919 formula: the right size, top and bottom 64 bits all ones."""
    prime = ffdhe_prime(group)
    bits = GROUP_BITS[group]
    assert prime.bit_length() == bits
    assert prime >> (bits - 64) == 2**64 - 1 and prime & (2**64 - 1) == 2**64 - 1
    assert pow(2, prime - 1, prime) == 1  # Fermat, base 2: the formula's constant is right


def test_modp_1024_is_the_lab_prime() -> None:
    from tests.lab.certs import OAKLEY_GROUP2_PRIME

    assert common_prime_name(OAKLEY_GROUP2_PRIME) == "modp_1024"


@pytest.mark.parametrize("value", [0, 1, 2**1024 - 1 - 2, 2**2048 + 1, 7919, b"", b"\x00" * 300])
def test_other_values_are_the_servers_own(value: int | bytes) -> None:
    assert common_prime_name(value) is None
    assert ffdhe_group_for_prime(value) is None


def test_post_quantum_groups() -> None:
    for group in (0x11EB, 0x11EC, 0x11ED, 0x6399, 0x639A, 0x0200, 0x0201, 0x0202):
        assert is_post_quantum(group) and group in GROUP_NAMES
    assert not any(is_post_quantum(g) for g in (23, 24, 25, 29, 30, *FFDHE_GROUPS))
    assert {GROUP_NAMES[g] for g in POST_QUANTUM_GROUPS} >= {
        "X25519MLKEM768",
        "SecP256r1MLKEM768",
        "SecP384r1MLKEM1024",
        "X25519Kyber768Draft00",
    }
