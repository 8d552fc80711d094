"""STARTTLS targets in the profiles and the JSON report: a plaintext-only service is a high
finding in every profile that judges transit encryption; an upgraded one is judged as TLS."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from probe.grading.profile import load_profile
from probe.grading.rules import evaluate
from probe.model import StartTlsFacts, Status, Target, TargetResult
from probe.report.json_doc import document, dumps, target_to_dict
from tests.grading.factories import facts
from tests.json_contract import STARTTLS_KEYS, TARGET_KEYS

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "json-output.schema.json"
TARGET = Target("smtp://mx.example.org", "mx.example.org", 25, "tls", "mx.example.org", "smtp")
GOOD_TLS = facts({"TLSv1.3": ("TLS_AES_128_GCM_SHA256",)})


def result(starttls: StartTlsFacts, *, tls: bool = False) -> TargetResult:
    return TargetResult(
        target=TARGET,
        status=Status.COMPLETED,
        error=None,
        tls=GOOD_TLS if tls else None,
        duration_seconds=0.1,
        starttls=starttls,
    )


PLAINTEXT = StartTlsFacts("smtp", False, False, "502 5.5.1 Command not implemented")
REFUSED = StartTlsFacts("smtp", False, True, "454 4.7.0 TLS not available")
UPGRADED = StartTlsFacts("smtp", True, True, "220 Ready to start TLS")


@pytest.mark.parametrize(
    ("profile", "finding"),
    [
        ("azure-transit", "STARTTLS-OFFERED"),
        ("nist-sp800-52r2", "NIST-STARTTLS-OFFERED"),
        ("pci-dss-4", "PCI-STARTTLS-OFFERED"),
    ],
)
def test_plaintext_only_fails(profile: str, finding: str) -> None:
    judged = evaluate(load_profile(profile), result(PLAINTEXT), now=NOW)
    assert not judged.passed
    [hit] = [f for f in judged.findings if f.id == finding]
    assert hit.severity == "high"
    assert "offers no upgrade" in hit.message
    assert hit.evidence == PLAINTEXT.reply
    assert judged.grade is None  # no TLS facts, no letter


def test_advertised_but_refused_says_so() -> None:
    judged = evaluate(load_profile("azure-transit"), result(REFUSED), now=NOW)
    [hit] = [f for f in judged.findings if f.id == "STARTTLS-OFFERED"]
    assert "advertises STARTTLS but refuses it" in hit.message


def test_upgraded_target_is_judged_on_its_tls() -> None:
    judged = evaluate(load_profile("azure-transit"), result(UPGRADED, tls=True), now=NOW)
    assert not [f for f in judged.findings if f.id == "STARTTLS-OFFERED"]
    assert judged.grade is not None


def test_json_key_order_and_schema() -> None:
    import jsonschema

    results = [
        evaluate(load_profile("azure-transit"), result(PLAINTEXT), now=NOW),
        evaluate(load_profile("azure-transit"), result(UPGRADED, tls=True), now=NOW),
    ]
    for r in results:
        entry = target_to_dict(r)
        assert list(entry) == TARGET_KEYS
        assert list(entry["starttls"]) == STARTTLS_KEYS
    assert target_to_dict(results[0])["tls"] is None
    doc = json.loads(dumps(document("azure-transit", results)))
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    errors = sorted(validator.iter_errors(doc), key=str)
    assert not errors, errors[0]
