"""Key-exchange groups for probing: the candidates offered per protocol version, which groups
are post-quantum, and the well-known finite-field primes a ServerKeyExchange may carry.

Candidate order. Each list is ordered strongest first: post-quantum hybrids, then pure ML-KEM,
then classical curves by security level, then finite-field groups largest first, then the
deprecated curves. Servers that pick by the client's order therefore report the strongest group
they accept first. Among groups of equal strength the P-curve comes before the X25519 one, the
reverse of common server lists (X25519MLKEM768, x25519, secp256r1, ...): a server using its own
order then shows it within its first picks, which saves the connection that would otherwise be
needed to tell the two orders apart (probe.checks.tls._eliminate_groups).

Well-known primes. RFC 2409 6.1/6.2 and RFC 3526 define their MODP primes as
``2^n - 2^(n-64) - 1 + 2^64 * (floor(2^(n-130) * pi) + k)``, RFC 7919 its FFDHE primes as
``2^b - 2^(b-64) + (floor(2^(b-130) * e) + X) * 2^64 - 1``. The FFDHE primes are computed here
from that formula (integer series for e, done once); the MODP and RFC 5114 primes come from the
IKE codec, which has the same published values. Names follow OpenSSL's DH group names
(``ffdhe2048``, ``modp_2048``, ``dh_2048_256``) so they can be checked with ``openssl genpkey``.
"""

from __future__ import annotations

import functools

from probe.codecs.tls.constants import GROUP_NAMES

__all__ = [
    "FFDHE_GROUPS",
    "POST_QUANTUM_GROUPS",
    "TLS12_GROUP_CANDIDATES",
    "TLS13_GROUP_CANDIDATES",
    "common_prime_name",
    "ffdhe_group_for_prime",
    "ffdhe_prime",
    "is_post_quantum",
]

# RFC 7919 named groups, smallest first (their code points' order).
FFDHE_GROUPS: tuple[int, ...] = (0x0100, 0x0101, 0x0102, 0x0103, 0x0104)

# Groups with a post-quantum component: the ML-KEM hybrids (draft-ietf-tls-ecdhe-mlkem), pure
# ML-KEM (draft-ietf-tls-mlkem) and the pre-standard Kyber hybrids.
POST_QUANTUM_GROUPS: frozenset[int] = frozenset(
    {0x11EB, 0x11EC, 0x11ED, 0x0200, 0x0201, 0x0202, 0x6399, 0x639A}
)

# TLS 1.3 (RFC 8446 4.2.7): no binary or small curves, brainpool only as the *tls13 code points
# (RFC 8734). 19 groups: 38 bytes of supported_groups, no bigger than the suite probes' list.
TLS13_GROUP_CANDIDATES: tuple[int, ...] = (
    0x11ED,  # SecP384r1MLKEM1024
    0x11EB,  # SecP256r1MLKEM768
    0x11EC,  # X25519MLKEM768
    0x639A,  # SecP256r1Kyber768Draft00
    0x6399,  # X25519Kyber768Draft00
    0x0202,  # MLKEM1024
    0x0201,  # MLKEM768
    0x0200,  # MLKEM512
    25,  # secp521r1
    33,  # brainpoolP512r1tls13
    30,  # x448
    24,  # secp384r1
    32,  # brainpoolP384r1tls13
    23,  # secp256r1
    29,  # x25519
    31,  # brainpoolP256r1tls13
    41,  # curveSM2
    *reversed(FFDHE_GROUPS),  # ffdhe8192 .. ffdhe2048
)

# TLS 1.0-1.2 ECDHE (RFC 8422 5.1.1, RFC 7027): every named curve, the deprecated ones last.
# FFDHE groups are probed separately, with DHE suites (RFC 7919).
TLS12_GROUP_CANDIDATES: tuple[int, ...] = (
    25,  # secp521r1
    28,  # brainpoolP512r1
    30,  # x448
    24,  # secp384r1
    27,  # brainpoolP384r1
    23,  # secp256r1
    29,  # x25519
    26,  # brainpoolP256r1
    22,  # secp256k1
    14,  # sect571r1
    13,  # sect571k1
    12,  # sect409r1
    11,  # sect409k1
    10,  # sect283r1
    9,  # sect283k1
    8,  # sect239k1
    7,  # sect233r1
    6,  # sect233k1
    21,  # secp224r1
    20,  # secp224k1
    5,  # sect193r2
    4,  # sect193r1
    19,  # secp192r1
    18,  # secp192k1
    3,  # sect163r2
    2,  # sect163r1
    1,  # sect163k1
    17,  # secp160r2
    16,  # secp160r1
    15,  # secp160k1
)

# RFC 7919 appendix A: (bits, X) for ffdhe2048 .. ffdhe8192.
_FFDHE_CONSTANTS: dict[int, tuple[int, int]] = {
    0x0100: (2048, 560316),
    0x0101: (3072, 2625351),
    0x0102: (4096, 5736041),
    0x0103: (6144, 15705020),
    0x0104: (8192, 10965728),
}

# IKE transform ids (probe.codecs.ike_groups.MODP_PARAMETERS) -> OpenSSL's names.
_IKE_MODP_NAMES: dict[int, str] = {
    1: "modp_768",  # RFC 2409 6.1
    2: "modp_1024",  # RFC 2409 6.2
    5: "modp_1536",  # RFC 3526 2
    14: "modp_2048",  # RFC 3526 3
    15: "modp_3072",
    16: "modp_4096",
    17: "modp_6144",
    18: "modp_8192",
    22: "dh_1024_160",  # RFC 5114 2.1
    23: "dh_2048_224",  # RFC 5114 2.2
    24: "dh_2048_256",  # RFC 5114 2.3
}


def is_post_quantum(group: int) -> bool:
    return group in POST_QUANTUM_GROUPS


@functools.cache
def _e_times_power_of_two(bits: int) -> int:
    """floor(e * 2**bits): the series sum of 1/k!, in integers with 64 guard bits."""
    total, term, k = 0, 1 << (bits + 64), 0
    while term:
        total += term
        k += 1
        term //= k
    return total >> 64


def ffdhe_prime(group: int) -> int:
    """The RFC 7919 prime of an ffdhe group code point (generator 2)."""
    bits, x = _FFDHE_CONSTANTS[group]
    fraction = _e_times_power_of_two(bits - 130)
    return (1 << bits) - (1 << (bits - 64)) + ((fraction + x) << 64) - 1


@functools.cache
def _known_primes() -> dict[int, tuple[str, int | None]]:
    """prime -> (name, TLS group code point when it is an RFC 7919 group)."""
    from probe.codecs.ike_groups import MODP_PARAMETERS

    known: dict[int, tuple[str, int | None]] = {}
    for group in FFDHE_GROUPS:
        known[ffdhe_prime(group)] = (GROUP_NAMES[group], group)
    for ike_id, name in _IKE_MODP_NAMES.items():
        known[MODP_PARAMETERS[ike_id].prime] = (name, None)
    return known


def _as_int(prime: bytes | int) -> int:
    return int.from_bytes(prime, "big") if isinstance(prime, bytes) else prime


def _plausible(value: int) -> bool:
    """Every known prime is at least 768 bits and odd; skip the table for anything else."""
    return value.bit_length() >= 768 and value & 1 == 1


def common_prime_name(prime: bytes | int) -> str | None:
    """The published name of a well-known DH prime (``"ffdhe2048"``, ``"modp_1024"``,
    ``"dh_2048_256"``), or None when the prime is the server's own."""
    value = _as_int(prime)
    if not _plausible(value):
        return None
    found = _known_primes().get(value)
    return found[0] if found else None


def ffdhe_group_for_prime(prime: bytes | int) -> int | None:
    """The RFC 7919 group code point whose prime this is, or None."""
    value = _as_int(prime)
    if not _plausible(value):
        return None
    found = _known_primes().get(value)
    return found[1] if found else None
