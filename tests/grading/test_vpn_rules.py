"""IKE and SSTP rules on constructed facts, their profile validation, and the JSON contract of
ike/sstp targets (key order, schema)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from probe.grading.profile import ProfileError, load_profile, parse_profile
from probe.grading.rules import evaluate
from probe.model import (
    IkeAlgorithms,
    IkeFacts,
    IkeSuite,
    SstpFacts,
    Status,
    Target,
    TargetResult,
)
from probe.report.json_doc import document, dumps, target_to_dict
from tests.json_contract import IKE_ALGORITHM_KEYS, IKE_KEYS, SSTP_KEYS, TARGET_KEYS

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "json-output.schema.json"

STRONG = IkeAlgorithms(("AES-GCM-16-256",), ("PRF-HMAC-SHA2-384",), (), ("ECP-384",))
WEAK = IkeAlgorithms(
    ("3DES", "AES-CBC-128"),
    ("PRF-HMAC-SHA1", "PRF-HMAC-SHA2-256"),
    ("HMAC-SHA1", "HMAC-SHA2-256"),
    ("MODP-1024", "MODP-2048"),
)
NONE = IkeAlgorithms()


def ike_facts(**changes: Any) -> IkeFacts:
    base = IkeFacts(
        ikev2=True,
        ikev1=False,
        aggressive_mode_psk=False,
        aggressive_mode_evidence="Aggressive Mode PSK offer refused (NO-PROPOSAL-CHOSEN)",
        accepted=STRONG,
        ikev2_accepted=STRONG,
        ikev1_accepted=NONE,
        ikev1_transforms=(),
        ikev2_preferred=IkeSuite("AES-GCM-16-256", "PRF-HMAC-SHA2-384", None, "ECP-384"),
        ikev1_preferred=None,
        notifies=("IKEV2_FRAGMENTATION_SUPPORTED",),
        vendor_ids=("882fe56d6fd20dbc2251613b2ebe5beb",),
        vendors=("strongSwan",),
        certificate_requests=False,
        cookie_challenge=False,
        nat_t=True,
        probes=14,
        datagrams=14,
    )
    return dataclasses.replace(base, **changes)


def sstp_facts(**changes: Any) -> SstpFacts:
    base = SstpFacts(
        sstp=True,
        over_tls=True,
        plain_http=False,
        hash_protocols=("SHA256",),
        server="Microsoft-HTTPAPI/2.0",
        http_status=200,
        call_connect="ack",
        auth_protocol="EAP",
        connections=2,
    )
    return dataclasses.replace(base, **changes)


def result(*, ike: IkeFacts | None = None, sstp: SstpFacts | None = None) -> TargetResult:
    check = "ike" if ike is not None else "sstp"
    port = 500 if ike is not None else 443
    target = Target(given=f"{check}://vpn.example", host="vpn.example", port=port, check=check)
    return TargetResult(target, Status.COMPLETED, None, None, 1.0, ike=ike, sstp=sstp)


def ids(r: TargetResult) -> list[str]:
    return [f.id for f in evaluate(load_profile("azure-transit"), r, now=NOW).findings]


def test_strong_ikev2_only_responder_passes() -> None:
    graded = evaluate(load_profile("azure-transit"), result(ike=ike_facts()), now=NOW)
    assert graded.findings == () and graded.passed


def test_weak_ikev2_responder() -> None:
    facts = ike_facts(
        accepted=WEAK,
        ikev2_accepted=WEAK,
        ikev2_preferred=IkeSuite("3DES", "PRF-HMAC-SHA1", "HMAC-SHA1", "MODP-1024"),
    )
    found = ids(result(ike=facts))
    assert found.count("IKE-WEAK-ALGORITHMS") == 4  # encryption, PRF, integrity, DH group
    assert "IKE-PREFERS-STRONG" in found
    assert "IKE-FORBIDDEN-ALGORITHMS" not in found


def test_weak_only_responder_is_not_blamed_for_its_preference() -> None:
    only = IkeAlgorithms(("3DES",), ("PRF-HMAC-SHA1",), ("HMAC-SHA1",), ("MODP-1024",))
    facts = ike_facts(
        accepted=only,
        ikev2_accepted=only,
        ikev2_preferred=IkeSuite("3DES", "PRF-HMAC-SHA1", "HMAC-SHA1", "MODP-1024"),
    )
    assert "IKE-PREFERS-STRONG" not in ids(result(ike=facts))


def test_ikev1_and_aggressive_mode() -> None:
    facts = ike_facts(
        ikev1=True,
        aggressive_mode_psk=True,
        aggressive_mode_evidence="Aggressive Mode PSK reply with a 20-byte HASH_R",
        accepted=IkeAlgorithms(("DES",), ("PRF-HMAC-MD5",), ("HMAC-MD5",), ("MODP-768",)),
    )
    findings = evaluate(load_profile("azure-transit"), result(ike=facts), now=NOW).findings
    by_id = {f.id: f for f in findings}
    assert by_id["IKE-NO-AGGRESSIVE-PSK"].severity == "high"
    assert by_id["IKE-NO-AGGRESSIVE-PSK"].evidence == facts.aggressive_mode_evidence
    assert by_id["IKE-NO-IKEV1"].severity == "medium"
    assert [f.id for f in findings].count("IKE-FORBIDDEN-ALGORITHMS") == 4
    assert findings[0].severity == "high"  # most serious first


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, set()),
        ({"plain_http": True}, {"SSTP-REQUIRES-TLS"}),
        ({"hash_protocols": ("SHA1",)}, {"SSTP-SHA256-BINDING", "SSTP-NO-SHA1-BINDING"}),
        ({"hash_protocols": ("SHA1", "SHA256")}, {"SSTP-NO-SHA1-BINDING"}),
        ({"auth_protocol": "PAP"}, {"SSTP-NO-PAP"}),
        ({"auth_protocol": "MS-CHAPv2"}, {"SSTP-NO-MSCHAPV2"}),
        ({"call_connect": "nak", "hash_protocols": ()}, set()),
    ],
)
def test_sstp_rules(changes: dict[str, Any], expected: set[str]) -> None:
    assert set(ids(result(sstp=sstp_facts(**changes)))) == expected


def test_incomplete_ike_never_passes() -> None:
    facts = ike_facts(incomplete={"prf": "no answer to a prf offer"})
    graded = evaluate(load_profile("azure-transit"), result(ike=facts), now=NOW)
    assert not graded.passed
    assert [f.id for f in graded.findings] == ["PROBE-INCOMPLETE"]


def test_unknown_ike_name_in_a_profile_is_a_load_error() -> None:
    text = """
name = "x"
description = "x"
version = "1"
[[requirement]]
id = "A"
severity = "high"
rule = "ike_algorithms_forbidden"
params = { encryption = ["3-DES"] }
applies_to = "ike"
rationale = "r"
reference = "r"
"""
    with pytest.raises(ProfileError, match=r'requirement\[0\]\.params\.encryption\[0\].*"3-DES"'):
        parse_profile(text, source="x.toml")


def test_ike_rule_cannot_apply_to_tls() -> None:
    text = """
name = "x"
description = "x"
version = "1"
[[requirement]]
id = "A"
severity = "high"
rule = "ike_v1_disabled"
rationale = "r"
reference = "r"
"""
    with pytest.raises(ProfileError, match="applies_to"):
        parse_profile(text, source="x.toml")


def test_json_key_order_and_schema() -> None:
    import jsonschema

    results = [result(ike=ike_facts()), result(sstp=sstp_facts())]
    for r in results:
        entry = target_to_dict(r)
        assert list(entry) == TARGET_KEYS
    ike_entry = target_to_dict(results[0])["ike"]
    assert list(ike_entry) == IKE_KEYS
    assert list(ike_entry["accepted"]) == IKE_ALGORITHM_KEYS
    assert list(target_to_dict(results[1])["sstp"]) == SSTP_KEYS
    doc = json.loads(dumps(document("azure-transit", results)))
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    errors = sorted(validator.iter_errors(doc), key=str)
    assert not errors, errors[0]
