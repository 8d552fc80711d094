"""The JSON report follows its public contract and its JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from factories import NOW, cert, error_result, facts, result

from probe.grading.profile import load_profile
from probe.grading.rules import evaluate
from probe.model import TLS_VERSION_LABELS, KeyExchangeParams, TargetResult
from probe.report.json_doc import SCHEMA_VERSION, document, dumps, json_line, target_to_dict
from tests.json_contract import GRADE_CAP_KEYS, TARGET_KEYS, TLS_KEYS

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "json-output.schema.json"


def graded_results() -> list[TargetResult]:
    profile = load_profile("azure-transit")
    weak = facts(
        {
            "TLSv1.0": ("TLS_RSA_WITH_AES_128_CBC_SHA",),
            "TLSv1.2": ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
        },
        preference={"TLSv1.0": None, "TLSv1.2": True},
        certificates=(cert(key_bits=1024, san=("a.example", "b.example")),),
        key_exchange={
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": KeyExchangeParams("ECDHE", "x25519", 253)
        },
        incomplete={"TLSv1.3": "timeout"},
    )
    return [
        evaluate(profile, result(), now=NOW),
        evaluate(profile, result(weak, given="weak.example:8443"), now=NOW),
        evaluate(profile, error_result(), now=NOW),
    ]


def test_document_top_level() -> None:
    doc = document("azure-transit", graded_results())
    assert list(doc)[:2] == ["schema_version", "profile"]
    assert doc["schema_version"] == SCHEMA_VERSION == "1.0"
    assert doc["profile"] == "azure-transit"
    assert doc["summary"] == {"targets": 3, "passed": 1, "failed": 1, "errors": 1}
    assert len(doc["targets"]) == 3


def test_target_entry_shape_and_types() -> None:
    good, weak, down = (target_to_dict(r) for r in graded_results())
    for entry in (good, weak, down):
        assert list(entry) == TARGET_KEYS
        assert isinstance(entry["port"], int)
        assert isinstance(entry["passed"], bool)
        assert isinstance(entry["duration_seconds"], float)
    assert good["status"] == "completed" and good["error"] is None and good["passed"] is True
    assert good["target"] == "example.com:443" and good["host"] == "example.com"
    assert good["port"] == 443 and good["check"] == "tls"
    assert good["duration_seconds"] == 1.234
    assert down["status"] == "error"
    assert down["error"] == {"reason": "timeout", "message": "connect timed out after 5 s"}
    assert down["tls"] is None and down["passed"] is False and down["findings"] == []


def test_tls_facts_shape() -> None:
    weak = target_to_dict(graded_results()[1])
    tls = weak["tls"]
    assert list(tls) == TLS_KEYS
    assert list(tls["versions"]) == list(TLS_VERSION_LABELS)
    assert tls["versions"]["TLSv1.0"] is True and tls["versions"]["TLSv1.3"] is False
    assert tls["cipher_suites"] == {
        "TLSv1.0": ["TLS_RSA_WITH_AES_128_CBC_SHA"],
        "TLSv1.2": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"],
    }
    assert tls["server_preference"] == {"TLSv1.0": None, "TLSv1.2": True}
    assert tls["key_exchange"] == {
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": {"kind": "ECDHE", "group": "x25519", "bits": 253}
    }
    assert tls["incomplete"] == {"TLSv1.3": "timeout"}
    (certificate,) = tls["certificates"]
    assert certificate["key_type"] == "RSA" and certificate["key_bits"] == 1024
    assert certificate["not_after"] == "2025-08-30T12:00:00Z"
    assert certificate["san"] == ["a.example", "b.example"]
    assert certificate["name_matches"] is True and certificate["trusted"] is True
    assert certificate["subject"] == "CN=example.com"


def test_findings_shape() -> None:
    weak = target_to_dict(graded_results()[1])
    assert weak["passed"] is False
    ids = [f["id"] for f in weak["findings"]]
    assert "TLS-MIN-VERSION" in ids and "CERT-RSA-MIN-BITS" in ids
    for finding in weak["findings"]:
        assert list(finding)[:3] == ["id", "severity", "message"]
        assert {"evidence", "rationale", "reference"} <= set(finding)


def test_json_line_is_one_compact_target_entry() -> None:
    for r in graded_results():
        line = json_line(r)
        assert "\n" not in line
        assert json.loads(line) == json.loads(json.dumps(target_to_dict(r)))


def test_dumps_keeps_key_order_and_unicode() -> None:
    r = result(given="bücher.example:443")
    text = dumps(document("p", [r]))
    assert text.endswith("\n")
    assert "bücher.example" in text
    assert text.index('"schema_version"') < text.index('"profile"') < text.index('"targets"')


def _load_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def test_documents_validate_against_the_published_schema() -> None:
    import jsonschema

    schema = _load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    doc = json.loads(dumps(document("azure-transit", graded_results())))
    errors = sorted(validator.iter_errors(doc), key=str)
    assert not errors, errors[0]


def test_schema_rejects_a_broken_document() -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(_load_schema())
    doc = json.loads(dumps(document("azure-transit", graded_results())))
    del doc["targets"][0]["passed"]
    doc["targets"][1]["tls"]["versions"]["TLSv1.2"] = "yes"
    assert len(list(validator.iter_errors(doc))) == 2


def test_schema_file_is_valid_json_with_the_contract_keys() -> None:
    schema = _load_schema()
    assert set(schema["required"]) == {"schema_version", "profile", "targets"}
    target = schema["$defs"]["target"]
    assert {
        "target",
        "host",
        "port",
        "check",
        "status",
        "error",
        "passed",
        "findings",
        "duration_seconds",
        "tls",
    } <= set(target["required"])


def test_suite_facts_describe_every_accepted_suite() -> None:
    tls = facts(
        {
            "TLSv1.2": ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
            "TLSv1.3": ("TLS_AES_128_GCM_SHA256",),
        }
    )
    described = target_to_dict(result(tls))["tls"]["suite_facts"]
    assert set(described) == {
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_AES_128_GCM_SHA256",
    }
    gcm = described["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]
    assert (gcm["code"], gcm["aead"], gcm["forward_secret"]) == ("0xC02F", True, True)
    des3 = described["TLS_RSA_WITH_3DES_EDE_CBC_SHA"]
    assert (des3["block_bits"], des3["forward_secret"], des3["cipher_bits"]) == (64, False, 112)


def test_groups_are_reported_per_version_and_merged() -> None:
    """tls.groups: every accepted group once, TLS 1.3's first in the server's order; the
    per-version map oldest first, like cipher_suites; valid against the schema."""
    import dataclasses

    import jsonschema

    tls = dataclasses.replace(
        facts({"TLSv1.2": ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",)}),
        groups={
            "TLSv1.3": ("X25519MLKEM768", "x25519", "secp256r1"),
            "TLSv1.2": ("x25519", "secp384r1", "ffdhe3072"),
        },
        groups_server_preference={"TLSv1.3": True, "TLSv1.2": False},
        preferred_group="X25519MLKEM768",
        prefers_post_quantum=True,
        dh_common_prime="ffdhe3072",
    )
    entry = target_to_dict(result(tls))
    out = entry["tls"]
    assert list(out) == TLS_KEYS
    assert out["groups"] == ["X25519MLKEM768", "x25519", "secp256r1", "secp384r1", "ffdhe3072"]
    assert list(out["groups_by_version"]) == ["TLSv1.2", "TLSv1.3"]
    assert out["groups_by_version"]["TLSv1.3"] == ["X25519MLKEM768", "x25519", "secp256r1"]
    assert out["groups_server_preference"] == {"TLSv1.2": False, "TLSv1.3": True}
    assert (out["preferred_group"], out["prefers_post_quantum"]) == ("X25519MLKEM768", True)
    assert out["dh_common_prime"] == "ffdhe3072"
    empty = target_to_dict(result(facts({"TLSv1.2": ("TLS_RSA_WITH_AES_128_CBC_SHA",)})))["tls"]
    assert empty["groups"] == [] and empty["groups_by_version"] == {}
    assert empty["preferred_group"] is None and empty["prefers_post_quantum"] is None
    validator = jsonschema.Draft202012Validator(_load_schema())
    doc = json.loads(dumps(document("p", [result(tls)])))
    assert not list(validator.iter_errors(doc))
    doc["targets"][0]["tls"]["groups"] = "x25519"
    assert len(list(validator.iter_errors(doc))) == 1


def test_grade_and_caps_close_each_target() -> None:
    """grade and grade_caps: the last keys; null/[] without a grade; valid against the schema."""
    import jsonschema

    profile = load_profile("azure-transit")
    tls10 = facts(
        {
            "TLSv1.0": ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",),
            "TLSv1.2": ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",),
        }
    )
    graded = evaluate(profile, result(tls10), now=NOW)
    entry = target_to_dict(graded)
    assert list(entry)[-2:] == ["grade", "grade_caps"]
    assert entry["grade"] == "B"
    caps = entry["grade_caps"]
    assert [list(cap) for cap in caps] == [GRADE_CAP_KEYS] * len(caps)
    assert [(c["rule"], c["cap"]) for c in caps] == [
        ("tls10_tls11", "B"),
        ("no_tls13", "A-"),
        ("hsts_not_measured", "A"),
    ]
    assert caps[0]["evidence"] == "TLSv1.0" and caps[-1]["evidence"] is None
    down = target_to_dict(evaluate(profile, error_result(), now=NOW))
    assert (down["grade"], down["grade_caps"]) == (None, [])
    validator = jsonschema.Draft202012Validator(_load_schema())
    doc = json.loads(dumps(document("p", [graded])))
    assert not list(validator.iter_errors(doc))
    doc["targets"][0]["grade"] = "A++"
    doc["targets"][0]["grade_caps"][0]["cap"] = "Z"
    assert len(list(validator.iter_errors(doc))) == 2


def test_the_documented_example_keeps_the_contract() -> None:
    """docs/json-output.md's example is a real report: it validates against the schema and
    shows every key in the stable order, so the documentation cannot fall behind."""
    import re

    import jsonschema

    from tests.json_contract import (
        CERT_KEYS,
        FINDING_KEYS,
        TLS_EXTENSION_KEYS,
        TLS_HSTS_KEYS,
        TLS_VULNERABILITY_KEYS,
        TOP_KEYS,
    )

    text = (SCHEMA_PATH.parent / "json-output.md").read_text(encoding="utf-8")
    example = text.split("## Example", 1)[1]
    block = re.search(r"```json\n(.*?)\n```", example, re.S)
    assert block is not None
    doc = json.loads(block.group(1))
    jsonschema.validate(doc, _load_schema())
    assert list(doc) == TOP_KEYS
    tls_seen = 0
    for entry in doc["targets"]:
        assert list(entry) == TARGET_KEYS
        for finding in entry["findings"]:
            assert list(finding) == FINDING_KEYS
        for cap in entry["grade_caps"]:
            assert list(cap) == GRADE_CAP_KEYS
        tls = entry["tls"]
        if tls is None:
            continue
        tls_seen += 1
        assert list(tls) == TLS_KEYS
        for certificate in tls["certificates"]:
            assert list(certificate) == CERT_KEYS
        if tls["extensions"] is not None:
            assert list(tls["extensions"]) == TLS_EXTENSION_KEYS
        if tls["hsts"] is not None:
            assert list(tls["hsts"]) == TLS_HSTS_KEYS
        assert list(tls["vulnerabilities"]) == TLS_VULNERABILITY_KEYS
    assert tls_seen and any(e["tls"] is None for e in doc["targets"])
