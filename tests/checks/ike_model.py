"""A model IKE responder for testing the enumeration plans (probe.checks.ike_plan) in isolation.

This is a stand-in, named as such: it answers plan offers the way strongSwan's responder
selects proposals (its configured proposals in order, the first that shares an item of every
kind with one of ours; within a kind, its own order), so that the plans' logic can be checked
over thousands of random configurations. The real responder is tested in tests/checks/
test_ike_lab.py against strongSwan's charon.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from probe.checks.ike_plan import (
    AEAD_IDS,
    Answer,
    Chosen,
    Encryption,
    Outcome,
    V1Offer,
    V1Plan,
    V1Result,
    V2Offer,
    V2Plan,
    V2Result,
)


@dataclass(frozen=True)
class ModelProposal:
    encryption: tuple[Encryption, ...]
    prf: tuple[int, ...]
    integrity: tuple[int, ...]  # empty for AEAD proposals
    groups: tuple[int, ...]


@dataclass
class ModelResponder:
    proposals: Sequence[ModelProposal]
    # strongSwan-like: pick its own first group; the variant prefers the KE payload's group
    # when it is acceptable (RFC 7296 allows either).
    prefer_ke_group: bool = False
    offers: int = 0
    sa_replies: int = 0  # replies that leave a half-open SA

    def answer_v2(self, offer: V2Offer) -> Outcome:
        self.offers += 1
        aead = tuple(e for e in offer.encryption if e[0] in AEAD_IDS)
        cbc = tuple(e for e in offer.encryption if e[0] not in AEAD_IDS)
        ours = []
        if aead:
            ours.append((aead, ()))
        if cbc and offer.integrity:
            ours.append((cbc, offer.integrity))
        for mine in self.proposals:
            is_aead = all(e[0] in AEAD_IDS for e in mine.encryption)
            for encs, integs in ours:
                enc = [e for e in mine.encryption if e in encs]
                prf = [p for p in mine.prf if p in offer.prf]
                groups = [g for g in mine.groups if g in offer.dh_groups]
                integ = [] if is_aead else [i for i in mine.integrity if i in integs]
                if not enc or not prf or not groups or (not is_aead and not integ):
                    continue
                if is_aead and integs:
                    continue
                group = groups[0]
                if self.prefer_ke_group and offer.ke_group in groups:
                    group = offer.ke_group
                if group != offer.ke_group:
                    return Outcome(Answer.INVALID_KE, group=group)
                self.sa_replies += 1
                chosen = Chosen(enc[0], prf[0], None if is_aead else integ[0], group)
                return Outcome(Answer.CHOSEN, chosen=chosen)
        return Outcome(Answer.NO_PROPOSAL)

    def expected_v2(self, offerable: V2Offer) -> dict[str, set[object]]:
        """What a perfect enumeration finds: every item of every proposal that can match."""
        found: dict[str, set[object]] = {"encryption": set(), "prf": set(), "integrity": set()}
        found["dh_groups"] = set()
        for mine in self.proposals:
            is_aead = all(e[0] in AEAD_IDS for e in mine.encryption)
            enc = {e for e in mine.encryption if e in offerable.encryption}
            prf = {p for p in mine.prf if p in offerable.prf}
            groups = {g for g in mine.groups if g in offerable.dh_groups}
            integ = set() if is_aead else {i for i in mine.integrity if i in offerable.integrity}
            if not enc or not prf or not groups or (not is_aead and not integ):
                continue
            found["encryption"] |= enc
            found["prf"] |= prf
            found["integrity"] |= integ
            found["dh_groups"] |= groups
        return found


@dataclass
class ModelV1Responder:
    """IKEv1 Main Mode: accepts the first offered transform (in our order) it allows."""

    allowed: set[tuple[Encryption, int, int, int]]  # (encryption, hash, auth, group)
    offers: int = 0

    def answer_v1(self, offer: V1Offer) -> Outcome:
        self.offers += 1
        for t in offer.transforms:
            if (t.encryption, t.hash, t.auth, t.group) in self.allowed:
                chosen = Chosen(t.encryption, None, None, t.group, hash=t.hash, auth=t.auth)
                return Outcome(Answer.CHOSEN, chosen=chosen)
        return Outcome(Answer.NO_PROPOSAL)


def run_v2(plan: V2Plan, responder: ModelResponder) -> V2Result:
    try:
        offer = next(plan)
        while True:
            offer = plan.send(responder.answer_v2(offer))
    except StopIteration as stop:
        result: V2Result = stop.value
        return result


def run_v1(plan: V1Plan, responder: ModelV1Responder) -> V1Result:
    try:
        offer = next(plan)
        while True:
            offer = plan.send(responder.answer_v1(offer))
    except StopIteration as stop:
        result: V1Result = stop.value
        return result
