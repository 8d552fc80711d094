"""What to offer an IKE responder, and what its answers mean: the enumeration as pure logic.

The plans are generators: each ``yield`` is one offer, the value sent back is what the
responder answered (an Outcome), and the return value is the result. No I/O, no clock, no
randomness: the asyncio edge (probe.checks.ike) builds the messages, pumps the datagrams,
handles COOKIE and retransmission, and paces the probes. Tests drive the plans against a
model responder as well as against a real strongSwan.

IKEv2 (RFC 7296) in three steps, about 15 to 30 offers in all:

1. Preference: every candidate, strongest first. An INVALID_KE_PAYLOAD names the group the
   responder wants (RFC 7296 1.2); the offer is repeated with that group, and the suite it
   picks is its preference.
2. DH groups by elimination. The KE payload is computed for the weakest group still offered,
   so a responder that picks another group names it in INVALID_KE_PAYLOAD: one group learnt
   per offer, and no half-open SA left behind (an SA reply leaves one for ~30 s, and
   strongSwan ignores a peer with 5 of them: ``block_threshold``).
3. Encryption, PRF and integrity by splitting: offer a subset of one kind with every
   candidate of the others, and the KE payload for a group the responder refused (a decoy).
   Any acceptable proposal then draws INVALID_KE_PAYLOAD (or an SA, naming the transform);
   NO_PROPOSAL_CHOSEN clears the whole subset. Subsets that contain something are halved.

IKEv1 (RFC 2409) Main Mode has no such trick (the KE payload comes later), so every accepted
offer leaves a half-open SA: the plan eliminates one kind at a time, and the edge paces it.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import product
from typing import Any

# ---------------------------------------------------------------------------------------------
# Candidates, strongest first (IANA "IKEv2 Parameters" ids; key lengths in bits).

Encryption = tuple[int, int | None]  # (ENCR transform id, key length)

ENCR_DES, ENCR_3DES, ENCR_AES_CBC, ENCR_AES_CTR = 2, 3, 12, 13
ENCR_AES_GCM_8, ENCR_AES_GCM_12, ENCR_AES_GCM_16 = 18, 19, 20
ENCR_CAMELLIA_CBC, ENCR_CHACHA20_POLY1305 = 23, 28
AEAD_IDS = frozenset({14, 15, 16, 18, 19, 20, 28})

V2_ENCRYPTION: tuple[Encryption, ...] = (
    (ENCR_AES_GCM_16, 256),
    (ENCR_CHACHA20_POLY1305, None),
    (ENCR_AES_GCM_16, 192),
    (ENCR_AES_GCM_16, 128),
    (ENCR_AES_GCM_12, 256),
    (ENCR_AES_GCM_12, 128),
    (ENCR_AES_GCM_8, 256),
    (ENCR_AES_GCM_8, 128),
    (ENCR_AES_CBC, 256),
    (ENCR_AES_CTR, 256),
    (ENCR_CAMELLIA_CBC, 256),
    (ENCR_AES_CBC, 192),
    (ENCR_AES_CBC, 128),
    (ENCR_AES_CTR, 128),
    (ENCR_CAMELLIA_CBC, 128),
    (ENCR_3DES, None),
    (ENCR_DES, None),
)
# PRF: SHA2-512, SHA2-384, SHA2-256, AES128-CMAC, AES128-XCBC, SHA1, MD5.
V2_PRF: tuple[int, ...] = (7, 6, 5, 8, 4, 2, 1)
# INTEG: SHA2-512-256, SHA2-384-192, SHA2-256-128, AES-XCBC-96, SHA1-96, MD5-96, DES-MAC.
V2_INTEGRITY: tuple[int, ...] = (14, 13, 12, 5, 2, 1, 3)
# DH, by rough security strength: ECP-521, Curve448, MODP-8192, ECP-384, MODP-6144,
# MODP-4096, Curve25519, ECP-256, MODP-3072, MODP-2048, MODP-2048-256, MODP-2048-224,
# ECP-224, MODP-1536, ECP-192, MODP-1024-160, MODP-1024, MODP-768.
V2_DH: tuple[int, ...] = (21, 32, 18, 20, 17, 16, 31, 19, 15, 14, 24, 23, 26, 5, 25, 22, 2, 1)
# The group whose KE value goes with the first offer: small, and accepted almost everywhere.
FIRST_KE_GROUP = 19

# IKEv1 (RFC 2409 Appendix A): encryption (1 DES, 5 3DES, 7 AES + key length), hash (1 MD5,
# 2 SHA1, 4/5/6 SHA2-256/384/512), authentication (1 PSK, 3 RSA signatures), groups. One
# Main Mode proposal holds at most 255 transforms (the transform number is one byte), so the
# candidates are fewer than IKEv2's.
V1_ENCRYPTION: tuple[Encryption, ...] = ((7, 256), (7, 128), (5, None), (1, None))
V1_HASH: tuple[int, ...] = (5, 4, 2, 1)
V1_AUTH: tuple[int, ...] = (3, 1)
V1_GROUPS: tuple[int, ...] = (20, 19, 15, 14, 5, 2, 1)
MAX_V1_TRANSFORMS = 255  # 4 x 4 x 2 x 7 = 224 fit in one offer
V1_AUTH_PSK = 1
V1_AUTH_XAUTH_PSK = 65001  # XAUTHInitPreShared (draft-beaulieu-ike-xauth)


# ---------------------------------------------------------------------------------------------
# Offers and outcomes


@dataclass(frozen=True)
class V2Offer:
    """One IKE_SA_INIT: AEAD ciphers go in one proposal (without INTEG, RFC 5282 8), the others
    with the integrity candidates in a second one; PRFs and groups in both."""

    encryption: tuple[Encryption, ...]
    prf: tuple[int, ...]
    integrity: tuple[int, ...]
    dh_groups: tuple[int, ...]
    ke_group: int  # the group the KE payload is computed in (always one of dh_groups)
    purpose: str


@dataclass(frozen=True)
class V1Transform:
    encryption: Encryption
    hash: int
    auth: int
    group: int


@dataclass(frozen=True)
class V1Offer:
    transforms: tuple[V1Transform, ...]
    purpose: str


class Answer(StrEnum):
    CHOSEN = "chosen"  # an SA payload naming the suite it accepted
    INVALID_KE = "invalid_ke"  # it accepted a proposal but wants another group (IKEv2)
    NO_PROPOSAL = "no_proposal"  # NO_PROPOSAL_CHOSEN: nothing offered is acceptable
    OTHER = "other"  # another error notify, or an answer we cannot use
    NO_ANSWER = "no_answer"  # silence after every retransmission


@dataclass(frozen=True)
class Chosen:
    encryption: Encryption
    prf: int | None  # IKEv1: None
    integrity: int | None  # None for AEAD
    group: int
    hash: int | None = None  # IKEv1
    auth: int | None = None  # IKEv1


@dataclass(frozen=True)
class Outcome:
    answer: Answer
    chosen: Chosen | None = None
    group: int | None = None  # INVALID_KE: the group it wants
    detail: str = ""  # e.g. the error notify's name


@dataclass
class V2Result:
    answered: bool = False  # any IKEv2 answer at all
    preferred: Chosen | None = None
    encryption: list[Encryption] = field(default_factory=list)
    prf: list[int] = field(default_factory=list)
    integrity: list[int] = field(default_factory=list)
    dh_groups: list[int] = field(default_factory=list)
    incomplete: dict[str, str] = field(default_factory=dict)
    offers: int = 0


@dataclass
class V1Result:
    answered: bool = False
    preferred: Chosen | None = None
    transforms: list[Chosen] = field(default_factory=list)
    encryption: list[Encryption] = field(default_factory=list)
    hash: list[int] = field(default_factory=list)
    auth: list[int] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    incomplete: dict[str, str] = field(default_factory=dict)
    offers: int = 0


V2Plan = Generator[V2Offer, Outcome, V2Result]
V1Plan = Generator[V1Offer, Outcome, V1Result]


def _add(found: list[Any], item: object) -> None:
    if item not in found:
        found.append(item)


def _without(items: Sequence[Any], drop: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(i for i in items if i not in drop)


# ---------------------------------------------------------------------------------------------
# IKEv2


def ikev2_plan(
    encryption: Sequence[Encryption] = V2_ENCRYPTION,
    prf: Sequence[int] = V2_PRF,
    integrity: Sequence[int] = V2_INTEGRITY,
    dh_groups: Sequence[int] = V2_DH,
    first_ke_group: int = FIRST_KE_GROUP,
) -> V2Plan:
    result = V2Result()
    encryption, prf, integrity, dh_groups = (
        tuple(encryption),
        tuple(prf),
        tuple(integrity),
        tuple(dh_groups),
    )
    cbc = tuple(e for e in encryption if e[0] not in AEAD_IDS)

    def offer(
        purpose: str,
        *,
        enc: tuple[Encryption, ...] = encryption,
        prfs: tuple[int, ...] = prf,
        integ: tuple[int, ...] = integrity,
        groups: tuple[int, ...] = dh_groups,
        ke: int,
    ) -> Generator[V2Offer, Outcome, Outcome]:
        # Without a non-AEAD cipher the integrity candidates have no proposal to sit in.
        if not any(e[0] not in AEAD_IDS for e in enc):
            integ = ()
        outcome = yield V2Offer(enc, prfs, integ, groups, ke, purpose)
        result.offers += 1
        if outcome.answer is not Answer.NO_ANSWER:
            result.answered = True
        if outcome.chosen is not None:
            _record(result, outcome.chosen)
        return outcome

    # 1. Preference.
    ke = first_ke_group if first_ke_group in dh_groups else dh_groups[0]
    outcome = yield from offer("preference", ke=ke)
    if outcome.answer is Answer.INVALID_KE and outcome.group in dh_groups:
        assert outcome.group is not None
        _add(result.dh_groups, outcome.group)
        outcome = yield from offer("preference, in the group it asked for", ke=outcome.group)
    if outcome.answer is Answer.CHOSEN:
        result.preferred = outcome.chosen
    elif outcome.answer is Answer.NO_PROPOSAL:
        return result  # answered: nothing we can offer is acceptable
    else:
        result.incomplete["ikev2"] = _why(outcome, "the offer of every candidate")
        return result

    # 2. DH groups by elimination, the KE value always in the weakest group still offered.
    remaining = _without(dh_groups, result.dh_groups)
    while remaining:
        outcome = yield from offer("dh groups", groups=remaining, ke=remaining[-1])
        if outcome.answer is Answer.INVALID_KE and outcome.group in remaining:
            assert outcome.group is not None
            _add(result.dh_groups, outcome.group)
        elif outcome.answer is Answer.CHOSEN and outcome.chosen is not None:
            pass  # recorded by offer()
        elif outcome.answer is Answer.NO_PROPOSAL:
            break
        else:
            result.incomplete["dh_groups"] = _why(outcome, "a DH group offer")
            break
        before = len(remaining)
        remaining = _without(remaining, result.dh_groups)
        if len(remaining) == before:  # it named a group we did not offer: stop, do not loop
            result.incomplete["dh_groups"] = "the responder named a group that was not offered"
            break

    # 3. Encryption, PRF and integrity by splitting. The decoy KE group is one it refused,
    # so an acceptable subset draws INVALID_KE_PAYLOAD rather than a half-open SA.
    refused = [g for g in dh_groups if g not in result.dh_groups]
    decoy = refused[-1] if refused else (result.dh_groups[0] if result.dh_groups else ke)

    def test_encryption(subset: tuple[Encryption, ...]) -> Generator[V2Offer, Outcome, Outcome]:
        return (yield from offer("encryption", enc=subset, ke=decoy))

    def test_prf(subset: tuple[int, ...]) -> Generator[V2Offer, Outcome, Outcome]:
        return (yield from offer("prf", prfs=subset, ke=decoy))

    def test_integrity(subset: tuple[int, ...]) -> Generator[V2Offer, Outcome, Outcome]:
        return (yield from offer("integrity", enc=cbc, integ=subset, ke=decoy))

    yield from _split_search(
        "encryption", _without(encryption, result.encryption), test_encryption,
        lambda c: c.encryption, result.encryption, result.incomplete,
    )  # fmt: skip
    yield from _split_search(
        "prf", _without(prf, result.prf), test_prf,
        lambda c: c.prf, result.prf, result.incomplete,
    )  # fmt: skip
    if any(e[0] not in AEAD_IDS for e in result.encryption):
        yield from _split_search(
            "integrity", _without(integrity, result.integrity), test_integrity,
            lambda c: c.integrity, result.integrity, result.incomplete,
        )  # fmt: skip
    return result


def _record(result: V2Result, chosen: Chosen) -> None:
    _add(result.encryption, chosen.encryption)
    if chosen.prf is not None:
        _add(result.prf, chosen.prf)
    if chosen.integrity is not None:
        _add(result.integrity, chosen.integrity)
    _add(result.dh_groups, chosen.group)


def _why(outcome: Outcome, what: str) -> str:
    if outcome.answer is Answer.NO_ANSWER:
        return f"no answer to {what}"
    detail = f": {outcome.detail}" if outcome.detail else ""
    return f"unexpected answer to {what} ({outcome.answer.value}{detail})"


class _Stop(Exception):
    """An answer that ends a search early: the kind is then incomplete, with this reason."""


Test = Callable[[tuple[Any, ...]], Generator[Any, Outcome, Outcome]]


def _split_search(
    kind: str,
    candidates: tuple[Any, ...],
    test: Test,
    reveal: Callable[[Chosen], Any],
    found: list[Any],
    incomplete: dict[str, str],
) -> Generator[Any, Outcome, None]:
    """Find every accepted item of ``candidates`` that is not in ``found`` yet.

    A test says whether a subset holds something acceptable; an SA answer also names one item,
    which is then dropped and the rest tested again. A positive subset with no name is halved;
    when the first half holds nothing, the second is known to hold something, untested."""

    def search(subset: tuple[Any, ...], known_positive: bool) -> Generator[Any, Outcome, bool]:
        subset = _without(subset, found)
        if not subset:
            return False
        if not known_positive:
            outcome = yield from test(subset)
            if outcome.answer is Answer.NO_PROPOSAL:
                return False
            if outcome.answer is Answer.CHOSEN and outcome.chosen is not None:
                if reveal(outcome.chosen) in subset:  # offer() recorded it: test the rest
                    yield from search(subset, False)
                    return True
            elif outcome.answer is not Answer.INVALID_KE:
                raise _Stop(_why(outcome, f"a {kind} offer"))
        if len(subset) == 1:
            _add(found, subset[0])
            return True
        half = len(subset) // 2
        found_first = yield from search(subset[:half], False)
        yield from search(subset[half:], not found_first)
        return True

    try:
        yield from search(candidates, False)
    except _Stop as stop:
        incomplete[kind] = str(stop)


# ---------------------------------------------------------------------------------------------
# IKEv1 Main Mode


def v1_transforms(
    encryption: Sequence[Encryption],
    hashes: Sequence[int],
    auths: Sequence[int],
    groups: Sequence[int],
) -> tuple[V1Transform, ...]:
    """Every combination, strongest first (encryption varies slowest)."""
    return tuple(
        V1Transform(e, h, a, g) for e, h, a, g in product(encryption, hashes, auths, groups)
    )


def record_v1(result: V1Result, chosen: Chosen) -> None:
    """Add an accepted IKEv1 transform set (Main or Aggressive Mode) to ``result``."""
    _add(result.transforms, chosen)
    _add(result.encryption, chosen.encryption)
    if chosen.hash is not None:
        _add(result.hash, chosen.hash)
    if chosen.auth is not None:
        _add(result.auth, chosen.auth)
    _add(result.groups, chosen.group)


def ikev1_plan(
    encryption: Sequence[Encryption] = V1_ENCRYPTION,
    hashes: Sequence[int] = V1_HASH,
    auths: Sequence[int] = V1_AUTH,
    groups: Sequence[int] = V1_GROUPS,
) -> V1Plan:
    result = V1Result()
    encryption, hashes, auths, groups = (
        tuple(encryption),
        tuple(hashes),
        tuple(auths),
        tuple(groups),
    )
    if len(encryption) * len(hashes) * len(auths) * len(groups) > MAX_V1_TRANSFORMS:
        raise ValueError("too many IKEv1 candidates for one proposal (255 transforms at most)")

    def offer(
        purpose: str,
        *,
        enc: tuple[Encryption, ...] = encryption,
        hs: tuple[int, ...] = hashes,
        au: tuple[int, ...] = auths,
        gr: tuple[int, ...] = groups,
    ) -> Generator[V1Offer, Outcome, Outcome]:
        outcome = yield V1Offer(v1_transforms(enc, hs, au, gr), purpose)
        result.offers += 1
        if outcome.answer is not Answer.NO_ANSWER:
            result.answered = True
        if outcome.chosen is not None:
            record_v1(result, outcome.chosen)
        return outcome

    outcome = yield from offer("preference")
    if outcome.answer is Answer.CHOSEN:
        result.preferred = outcome.chosen
    elif outcome.answer is Answer.NO_PROPOSAL:
        return result
    else:
        result.incomplete["ikev1"] = _why(outcome, "the offer of every candidate")
        return result

    # One kind at a time, every candidate of the others: each accepted offer names one more.
    def tester(kind: str) -> Test:
        def test(subset: tuple[Any, ...]) -> Generator[V1Offer, Outcome, Outcome]:
            return (yield from offer(f"ikev1 {kind}", **{kind: subset}))

        return test

    searches = (
        ("encryption", "enc", encryption, lambda c: c.encryption, result.encryption),
        ("hash", "hs", hashes, lambda c: c.hash, result.hash),
        ("auth", "au", auths, lambda c: c.auth, result.auth),
        ("groups", "gr", groups, lambda c: c.group, result.groups),
    )
    for label, kind, candidates, reveal, found in searches:
        yield from _split_search(
            f"ikev1 {label}", _without(candidates, found), tester(kind), reveal, found,
            result.incomplete,
        )  # fmt: skip
    return result
