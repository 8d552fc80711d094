"""IKE key-exchange groups: the primes are the published ones, the public values are real."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from probe.codecs.ike_constants import DH_NAMES
from probe.codecs.ike_groups import (
    GROUPS,
    MODP_PARAMETERS,
    private_bytes_needed,
    public_value,
)

# RFC 2409 §6.1-6.2 and RFC 3526 §2-7: p = 2^N - 2^(N-64) - 1 + 2^64 * (floor(2^(N-130) pi) + k)
FORMULA_GROUPS = {
    1: (768, 149686),
    2: (1024, 129093),
    5: (1536, 741804),
    14: (2048, 124476),
    15: (3072, 1690314),
    16: (4096, 240904),
    17: (6144, 929484),
    18: (8192, 4743158),
}
RFC5114_GROUPS = (22, 23, 24)
ECP_CURVES = {
    19: ec.SECP256R1(),
    20: ec.SECP384R1(),
    21: ec.SECP521R1(),
    25: ec.SECP192R1(),
    26: ec.SECP224R1(),
    28: ec.BrainpoolP256R1(),
    29: ec.BrainpoolP384R1(),
    30: ec.BrainpoolP512R1(),
}
EXPECTED_GROUPS = {1, 2, 5, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 28, 29, 30, 31, 32}


def _arctan_inverse(x: int, scale: int) -> int:
    """scale * arctan(1/x) by its Taylor series, in integers."""
    total = term = scale // x
    n = 1
    while term:
        term //= x * x
        total += (-1) ** n * (term // (2 * n + 1))
        n += 1
    return total


def pi_times_power_of_two(bits: int) -> int:
    """floor(2^bits * pi), from Machin's formula pi = 16 atan(1/5) - 4 atan(1/239).

    64 guard bits absorb the truncation error of the few thousand integer divisions.
    """
    guard = 64
    scale = 1 << (bits + guard)
    return (16 * _arctan_inverse(5, scale) - 4 * _arctan_inverse(239, scale)) >> guard


def test_pi_is_pi() -> None:
    assert pi_times_power_of_two(64) == 0x3243F6A8885A308D3  # pi = 3.243F6A8885A308D3... hex


@pytest.mark.parametrize("group_id", sorted(FORMULA_GROUPS))
def test_modp_prime_matches_the_rfc_formula(group_id: int) -> None:
    n, k = FORMULA_GROUPS[group_id]
    expected = 2**n - 2 ** (n - 64) - 1 + 2**64 * (pi_times_power_of_two(n - 130) + k)
    params = MODP_PARAMETERS[group_id]
    assert params.prime == expected
    assert params.generator == 2
    assert params.order == (params.prime - 1) // 2
    assert GROUPS[group_id].bits == n
    assert GROUPS[group_id].public_length == n // 8


def is_probable_prime(n: int) -> bool:
    """Miller-Rabin with the first 20 prime bases (ample for published, non-adversarial
    parameters)."""
    bases = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71)
    if n < 2:
        return False
    for p in bases:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in bases:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def test_miller_rabin_sanity() -> None:
    assert is_probable_prime(2**127 - 1)
    assert not is_probable_prime(2**128 + 1)
    assert not is_probable_prime(561)  # a Carmichael number


@pytest.mark.parametrize(
    ("group_id", "p_bits", "q_bits"), [(22, 1024, 160), (23, 2048, 224), (24, 2048, 256)]
)
def test_rfc5114_group_parameters(group_id: int, p_bits: int, q_bits: int) -> None:
    params = MODP_PARAMETERS[group_id]
    p, g, q = params.prime, params.generator, params.order
    assert p.bit_length() == p_bits
    assert q.bit_length() == q_bits
    assert is_probable_prime(p)
    assert is_probable_prime(q)
    assert (p - 1) % q == 0
    assert 1 < g < p - 1
    assert pow(g, q, p) == 1  # g generates the subgroup of prime order q


def test_group_table() -> None:
    assert set(GROUPS) == EXPECTED_GROUPS
    for group_id, group in GROUPS.items():
        assert group.id == group_id
        assert group.name == DH_NAMES[group_id]
        assert group.kind in ("modp", "ecp", "curve")
    assert {g for g, group in GROUPS.items() if group.kind == "modp"} == set(MODP_PARAMETERS)
    assert {g for g, group in GROUPS.items() if group.kind == "ecp"} == set(ECP_CURVES)
    assert (GROUPS[31].public_length, GROUPS[32].public_length) == (32, 56)
    assert GROUPS[21].public_length == 132  # RFC 5903 §7: 2 * 66 bytes for P-521


def private_for(group_id: int, seed: int = 1) -> bytes:
    size = private_bytes_needed(group_id)
    return bytes((seed * 37 + i * 11) % 256 for i in range(size))


@pytest.mark.parametrize("group_id", sorted(EXPECTED_GROUPS))
def test_public_value_length_and_determinism(group_id: int) -> None:
    first = public_value(group_id, private_for(group_id))
    assert len(first) == GROUPS[group_id].public_length
    assert public_value(group_id, private_for(group_id)) == first
    assert public_value(group_id, private_for(group_id, seed=2)) != first
    # Only the first private_bytes_needed bytes count.
    assert public_value(group_id, private_for(group_id) + b"extra") == first


@pytest.mark.parametrize("group_id", sorted(MODP_PARAMETERS))
def test_modp_value_is_in_range(group_id: int) -> None:
    params = MODP_PARAMETERS[group_id]
    y = int.from_bytes(public_value(group_id, private_for(group_id)), "big")
    assert 2 <= y <= params.prime - 2
    if group_id in RFC5114_GROUPS:
        assert pow(y, params.order, params.prime) == 1


@pytest.mark.parametrize("group_id", sorted(ECP_CURVES))
def test_ecp_value_is_on_the_curve(group_id: int) -> None:
    value = public_value(group_id, private_for(group_id))
    curve = ECP_CURVES[group_id]
    key = ec.EllipticCurvePublicKey.from_encoded_point(curve, b"\x04" + value)
    assert key.curve.name == curve.name
    broken = value[:-1] + bytes([value[-1] ^ 1])
    with pytest.raises(ValueError):
        ec.EllipticCurvePublicKey.from_encoded_point(curve, b"\x04" + broken)


def test_ecp_known_answer_generator() -> None:
    # All-zero private bytes map to the scalar 1, whose public point is the generator of
    # P-256 (FIPS 186-4 D.1.2.3), as x ‖ y without the 0x04 prefix (RFC 5903 §7).
    gx = "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
    gy = "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"
    assert public_value(19, bytes(32)).hex() == gx + gy


def test_x25519_known_answer() -> None:
    # RFC 7748 §6.1: Alice's private and public keys.
    private = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    public = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    assert public_value(31, private).hex() == public


def test_bad_arguments_raise_value_error() -> None:
    for unknown in (0, 3, 27, 33, 35, 1024):
        with pytest.raises(ValueError, match="group"):
            public_value(unknown, bytes(64))
        with pytest.raises(ValueError):
            private_bytes_needed(unknown)
    with pytest.raises(ValueError, match="private bytes"):
        public_value(14, bytes(private_bytes_needed(14) - 1))
    with pytest.raises(ValueError):
        public_value(31, bytes(31))
