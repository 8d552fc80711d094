"""The IKE enumeration plans against model responders (tests/checks/ike_model.py).

Properties: the plans find exactly what a responder accepts (among the candidates), its
preference, in few offers, and leave few half-open SAs behind. Real strongSwan runs are in
test_ike_lab.py.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from probe.checks.ike_plan import (
    AEAD_IDS,
    V1_AUTH,
    V1_ENCRYPTION,
    V1_GROUPS,
    V1_HASH,
    V2_DH,
    V2_ENCRYPTION,
    V2_INTEGRITY,
    V2_PRF,
    Answer,
    Outcome,
    V2Offer,
    ikev1_plan,
    ikev2_plan,
)
from tests.checks.ike_model import (
    ModelProposal,
    ModelResponder,
    ModelV1Responder,
    run_v1,
    run_v2,
)

ALL = V2Offer(V2_ENCRYPTION, V2_PRF, V2_INTEGRITY, V2_DH, V2_DH[0], "all")
AEAD = tuple(e for e in V2_ENCRYPTION if e[0] in AEAD_IDS)
CBC = tuple(e for e in V2_ENCRYPTION if e[0] not in AEAD_IDS)

# strongSwan names: 3des-sha1-modp1024, aes128-sha256-modp2048
WEAK = [
    ModelProposal(((3, None),), (2,), (2,), (2,)),
    ModelProposal(((12, 128),), (5,), (12,), (14,)),
]
STRONG = [ModelProposal(((20, 256),), (6,), (), (20,))]


def _proposal(aead: bool) -> st.SearchStrategy[ModelProposal]:
    def subset(items: tuple[object, ...]) -> st.SearchStrategy[tuple[object, ...]]:
        return st.lists(st.sampled_from(items), min_size=1, max_size=4, unique=True).map(tuple)

    return st.builds(
        ModelProposal,
        subset(AEAD if aead else CBC),
        subset(V2_PRF),
        st.just(()) if aead else subset(V2_INTEGRITY),
        subset(V2_DH),
    )


configs = st.lists(st.booleans().flatmap(_proposal), min_size=1, max_size=3)


def _as_sets(result: object) -> dict[str, set[object]]:
    return {k: set(getattr(result, k)) for k in ("encryption", "prf", "integrity", "dh_groups")}


def test_weak_config_found_exactly_with_one_half_open_sa() -> None:
    responder = ModelResponder(WEAK)
    result = run_v2(ikev2_plan(), responder)
    assert result.answered and not result.incomplete
    assert _as_sets(result) == {
        "encryption": {(3, None), (12, 128)},
        "prf": {2, 5},
        "integrity": {2, 12},
        "dh_groups": {2, 14},
    }
    assert result.preferred is not None and result.preferred.encryption == (3, None)
    assert responder.sa_replies == 1  # only the preference offer leaves a half-open SA
    assert result.offers == responder.offers <= 30


def test_strong_aead_only_config_needs_no_integrity_offers() -> None:
    responder = ModelResponder(STRONG)
    result = run_v2(ikev2_plan(), responder)
    assert _as_sets(result) == {
        "encryption": {(20, 256)},
        "prf": {6},
        "integrity": set(),
        "dh_groups": {20},
    }
    assert result.preferred is not None and result.preferred.integrity is None
    assert result.offers <= 20


def test_nothing_acceptable_is_an_answer_with_empty_lists() -> None:
    responder = ModelResponder([ModelProposal(((999, None),), (2,), (2,), (2,))])
    result = run_v2(ikev2_plan(), responder)
    assert result.answered and result.offers == 1 and not result.incomplete
    assert _as_sets(result) == {k: set() for k in ("encryption", "prf", "integrity", "dh_groups")}


def test_silence_is_incomplete_not_refusal() -> None:
    plan = ikev2_plan()
    next(plan)
    try:
        plan.send(Outcome(Answer.NO_ANSWER))
    except StopIteration as stop:
        result = stop.value
    assert not result.answered
    assert "no answer" in result.incomplete["ikev2"]


def test_silence_midway_marks_only_that_kind_incomplete() -> None:
    responder = ModelResponder(WEAK)
    plan = ikev2_plan()
    offer = next(plan)
    try:
        while True:
            if offer.purpose == "prf":
                offer = plan.send(Outcome(Answer.NO_ANSWER))
            else:
                offer = plan.send(responder.answer_v2(offer))
    except StopIteration as stop:
        result = stop.value
    assert set(result.incomplete) == {"prf"}
    assert {(3, None), (12, 128)} == set(result.encryption)


@settings(max_examples=400, deadline=None)
@given(configs, st.booleans())
def test_plan_finds_exactly_what_any_responder_accepts(
    proposals: list[ModelProposal], prefer_ke_group: bool
) -> None:
    responder = ModelResponder(proposals, prefer_ke_group=prefer_ke_group)
    result = run_v2(ikev2_plan(), responder)
    assert not result.incomplete
    assert _as_sets(result) == responder.expected_v2(ALL)
    if any(responder.expected_v2(ALL).values()):
        assert result.preferred is not None
    # Offers stay near the "about 30" for up to three proposals of four items each.
    assert result.offers <= 60


@settings(max_examples=100, deadline=None)
@given(configs)
def test_every_offer_is_well_formed(proposals: list[ModelProposal]) -> None:
    responder = ModelResponder(proposals)
    plan = ikev2_plan()
    offer = next(plan)
    try:
        while True:
            assert offer.ke_group in offer.dh_groups  # RFC 7296 3.4
            assert offer.encryption and offer.prf and offer.dh_groups
            offer = plan.send(responder.answer_v2(offer))
    except StopIteration:
        pass


V1_ALL = [(e, h, a, g) for e in V1_ENCRYPTION for h in V1_HASH for a in V1_AUTH for g in V1_GROUPS]


@settings(max_examples=200, deadline=None)
@given(st.sets(st.sampled_from(V1_ALL), max_size=6))
def test_v1_plan_finds_every_kind(allowed: set[tuple[object, int, int, int]]) -> None:
    responder = ModelV1Responder(allowed)  # type: ignore[arg-type]
    result = run_v1(ikev1_plan(), responder)
    assert not result.incomplete
    assert set(result.encryption) == {a[0] for a in allowed}
    assert set(result.hash) == {a[1] for a in allowed}
    assert set(result.auth) == {a[2] for a in allowed}
    assert set(result.groups) == {a[3] for a in allowed}
    assert result.offers <= 1 + 4 * 2 + len(allowed) * 4
