"""early_data_forbidden: TLS 1.3 0-RTT accepted (tls.resumption.early_data, --deep only)."""

from __future__ import annotations

import dataclasses

import pytest
from factories import NOW, facts

from probe.grading.profile import load_profile
from probe.grading.rules import RULES
from probe.model import ResumptionFacts

FOUND = [("TLS 1.3 0-RTT early data is accepted: it can be replayed", "early_data")]


@pytest.mark.parametrize(
    ("early_data", "expected"), [(True, FOUND), (False, []), (None, [])]
)  # None: the measurement failed (incomplete says why): nothing to judge
def test_only_accepted_early_data_is_a_finding(
    early_data: bool | None, expected: list[tuple[str, str]]
) -> None:
    resumption = ResumptionFacts(2, 2, 2, 2, early_data=early_data)
    tls = dataclasses.replace(facts(), resumption=resumption)
    assert RULES["early_data_forbidden"].check({}, tls, NOW) == expected


def test_without_deep_nothing_to_judge() -> None:
    assert facts().resumption is None
    assert RULES["early_data_forbidden"].check({}, facts(), NOW) == []


def test_resumption_booleans_follow_the_counts() -> None:
    measured = ResumptionFacts(0, 2, 1, 2, early_data=False)
    assert measured.session_id is False and measured.tickets is True  # 1 of 2: partial, yes
    tls13_only = ResumptionFacts(0, 0, 0, 0, early_data=True)
    assert tls13_only.session_id is None and tls13_only.tickets is None


def test_azure_transit_flags_early_data_low() -> None:
    profile = load_profile("azure-transit")
    (req,) = [r for r in profile.requirements if r.rule == "early_data_forbidden"]
    assert req.id == "TLS-NO-EARLY-DATA" and req.severity == "low"
    assert "rfc8446#section-8" in req.reference
