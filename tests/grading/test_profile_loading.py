"""Loading profiles: the built-ins, and every way a hostile profile is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from probe.grading.profile import (
    Profile,
    ProfileError,
    builtin_profiles,
    load_profile,
    parse_profile,
)
from probe.grading.rules import RULES

VALID = """\
name = "test"
description = "a test profile"
version = "1"

[[requirement]]
id = "A"
severity = "high"
rule = "tls_min_version"
params = { min = "TLSv1.2" }
rationale = "old versions are weak"
reference = "RFC 8996"

[[requirement]]
id = "B"
severity = "low"
rule = "certificate_expiry_warning"
rationale = "renew early"
reference = "https://example.org/renew"
"""


def test_builtin_profiles_are_listed() -> None:
    assert {
        "azure-transit",
        "mozilla-intermediate",
        "mozilla-modern",
        "nist-sp800-52r2",
        "pci-dss-4",
    } <= set(builtin_profiles())


@pytest.mark.parametrize("name", builtin_profiles())
def test_every_builtin_profile_loads(name: str) -> None:
    profile = load_profile(name)
    assert profile.name == name
    assert profile.source == f"{name}.toml"
    assert profile.requirements
    for req in profile.requirements:
        assert req.rule in RULES
        assert req.rationale and req.reference
        assert set(req.params) == set(RULES[req.rule].params)


def test_azure_transit_covers_the_guidance() -> None:
    profile = load_profile("azure-transit")
    rules = {req.rule: req for req in profile.requirements}
    assert profile.fail_on == "medium"
    assert rules["tls_min_version"].params["min"] == "TLSv1.2"
    assert rules["rsa_min_bits"].params["min"] == 2048
    assert rules["ec_min_bits"].params["min"] == 256
    assert rules["dh_min_bits"].params["min"] == 2048
    assert rules["certificate_expiry_warning"].params["days"] == 30
    assert rules["aead_preferred"].severity in ("low", "medium")
    for name in (
        "forward_secrecy_only",
        "signature_hash_forbidden",
        "certificate_valid_now",
        "certificate_trusted",
        "certificate_name_matches",
    ):
        assert name in rules
    assert any("learn.microsoft.com" in req.reference for req in profile.requirements)


def test_mozilla_intermediate_allows_the_57_suites() -> None:
    profile = load_profile("mozilla-intermediate")
    allowed = next(r for r in profile.requirements if r.rule == "suites_allowed")
    suites = allowed.params["suites"]
    assert isinstance(suites, tuple)
    assert len(suites) == 12  # 9 for TLS 1.2, 3 for TLS 1.3
    assert "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256" in suites
    assert all("CBC" not in s for s in suites)


def test_defaults_are_filled_and_params_are_immutable() -> None:
    profile = parse_profile(VALID, source="t.toml")
    assert isinstance(profile, Profile)
    assert profile.fail_on == "medium"
    expiry = profile.requirements[1]
    assert expiry.params == {"days": 30}
    assert expiry.applies_to == "tls"
    with pytest.raises(TypeError):
        expiry.params["days"] = 1  # type: ignore[index]


def test_load_from_a_file_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(VALID, encoding="utf-8")
    assert load_profile(str(path)).name == "test"


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.toml")
    with pytest.raises(ProfileError, match=rf"^profile {missing}: cannot read"):
        load_profile(missing)


@pytest.mark.parametrize("name", ["no-such-profile", "azure", "../azure-transit", "AZURE-TRANSIT"])
def test_unknown_builtin_lists_the_known_ones(name: str) -> None:
    with pytest.raises(ProfileError, match="azure-transit"):
        load_profile(name)


def _replace(old: str, new: str) -> str:
    assert old in VALID
    return VALID.replace(old, new, 1)


HOSTILE: list[tuple[str, str, str]] = [
    # (case, profile text, expected start of the message after "profile bad.toml: ")
    ("invalid toml", VALID + "\n[[requirement]\n", "invalid TOML: "),
    ("unknown top key", "colour = 1\n" + VALID, "colour: unknown key"),
    ("missing name", _replace('name = "test"\n', ""), "name: missing"),
    ("name not a string", _replace('name = "test"', "name = 3"), "name: expected a string"),
    ("empty description", _replace('"a test profile"', '"  "'), "description: must not be empty"),
    ("bad fail_on", 'fail_on = "urgent"\n' + VALID, 'fail_on: unknown severity "urgent"'),
    ("no requirements", VALID.split("[[requirement]]")[0], "requirement: missing"),
    (
        "requirement not a table array",
        VALID.split("[[requirement]]")[0] + "requirement = 1\n",
        "requirement: expected an array of tables",
    ),
    (
        "empty requirement list",
        VALID.split("[[requirement]]")[0] + "requirement = []\n",
        "requirement: at least one",
    ),
    (
        "unknown requirement key",
        _replace('id = "A"', 'id = "A"\nweight = 2'),
        "requirement[0].weight: unknown key",
    ),
    ("missing id", _replace('id = "B"\n', ""), "requirement[1].id: missing"),
    ("bad id", _replace('id = "B"', 'id = "has space"'), "requirement[1].id: "),
    ("duplicate id", _replace('id = "B"', 'id = "A"'), 'requirement[1].id: duplicate id "A"'),
    (
        "bad severity",
        _replace('severity = "low"', 'severity = "severe"'),
        'requirement[1].severity: unknown severity "severe"',
    ),
    (
        "severity not a string",
        _replace('severity = "low"', "severity = 1"),
        "requirement[1].severity: expected a string",
    ),
    ("missing severity", _replace('severity = "low"\n', ""), "requirement[1].severity: missing"),
    (
        "unknown rule",
        _replace('rule = "tls_min_version"', 'rule = "tls_minimum"'),
        'requirement[0].rule: unknown rule "tls_minimum"',
    ),
    (
        "missing rationale",
        _replace('rationale = "renew early"\n', ""),
        "requirement[1].rationale: missing",
    ),
    (
        "missing reference",
        _replace('reference = "RFC 8996"\n', ""),
        "requirement[0].reference: missing",
    ),
    (
        "applies_to unknown check",
        _replace('id = "A"', 'id = "A"\napplies_to = "smb"'),
        'requirement[0].applies_to: rule "tls_min_version" does not apply to "smb"',
    ),
    (
        "params not a table",
        _replace('params = { min = "TLSv1.2" }', "params = 3"),
        "requirement[0].params: expected a table",
    ),
    (
        "unknown param",
        _replace('min = "TLSv1.2"', 'min = "TLSv1.2", max = "TLSv1.3"'),
        'requirement[0].params.max: unknown param for rule "tls_min_version"',
    ),
    (
        "missing required param",
        _replace('params = { min = "TLSv1.2" }\n', ""),
        'requirement[0].params.min: missing (rule "tls_min_version" requires it)',
    ),
    (
        "unknown version",
        _replace('"TLSv1.2"', '"TLSv9"'),
        'requirement[0].params.min: unknown version "TLSv9"',
    ),
    (
        "version of wrong type",
        _replace('"TLSv1.2"', "1.2"),
        "requirement[0].params.min: expected a version label string, got the number 1.2",
    ),
    (
        "int param as string",
        _replace('rationale = "renew early"', 'rationale = "r"\nparams = { days = "30" }'),
        'requirement[1].params.days: expected an integer, got the string "30"',
    ),
    (
        "int param as bool",
        _replace('rationale = "renew early"', 'rationale = "r"\nparams = { days = true }'),
        "requirement[1].params.days: expected an integer, got a boolean",
    ),
    (
        "negative int",
        _replace('rationale = "renew early"', 'rationale = "r"\nparams = { days = -1 }'),
        "requirement[1].params.days: must not be negative",
    ),
    (
        "unknown suite property",
        _replace(
            'rule = "tls_min_version"\nparams = { min = "TLSv1.2" }',
            'rule = "suites_forbidden"\nparams = { properties = ["rc4", "weak"] }',
        ),
        'requirement[0].params.properties[1]: unknown suite property "weak"',
    ),
    (
        "empty list",
        _replace(
            'rule = "tls_min_version"\nparams = { min = "TLSv1.2" }',
            'rule = "tls_versions_forbidden"\nparams = { versions = [] }',
        ),
        "requirement[0].params.versions: must not be empty",
    ),
    (
        "list item wrong type",
        _replace(
            'rule = "tls_min_version"\nparams = { min = "TLSv1.2" }',
            'rule = "tls_versions_forbidden"\nparams = { versions = ["SSLv3", 2] }',
        ),
        "requirement[0].params.versions[1]: expected a string",
    ),
    (
        "unknown hash",
        _replace(
            'rule = "tls_min_version"\nparams = { min = "TLSv1.2" }',
            'rule = "signature_hash_forbidden"\nparams = { hashes = ["sha-1"] }',
        ),
        'requirement[0].params.hashes[0]: unknown hash "sha-1"',
    ),
    (
        "openssl suite name",
        _replace(
            'rule = "tls_min_version"\nparams = { min = "TLSv1.2" }',
            'rule = "suites_allowed"\nparams = { suites = ["ECDHE-RSA-AES128-GCM-SHA256"] }',
        ),
        'requirement[0].params.suites[0]: unknown cipher suite "ECDHE-RSA-AES128-GCM-SHA256" '
        "(the IANA name is TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)",
    ),
    (
        "unknown suite name",
        _replace(
            'rule = "tls_min_version"\nparams = { min = "TLSv1.2" }',
            'rule = "suites_allowed"\nparams = { suites = ["TLS_MADE_UP"] }',
        ),
        'requirement[0].params.suites[0]: unknown cipher suite "TLS_MADE_UP"',
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [(t, e) for _, t, e in HOSTILE], ids=[c for c, _, _ in HOSTILE]
)
def test_hostile_profile_is_refused_naming_the_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        load_profile(str(path))
    assert str(info.value).startswith(f"profile {path}: {expected}"), str(info.value)


def test_invalid_toml_reports_the_line() -> None:
    with pytest.raises(ProfileError, match=r"line 3"):
        parse_profile('name = "x"\nversion = "1"\ndescription = \n', source="x.toml")


def test_error_carries_its_parts() -> None:
    with pytest.raises(ProfileError) as info:
        parse_profile(_replace('"TLSv1.2"', '"TLSv9"'), source="foo.toml")
    assert str(info.value) == (
        'profile foo.toml: requirement[0].params.min: unknown version "TLSv9" '
        "(known: SSLv2, SSLv3, TLSv1.0, TLSv1.1, TLSv1.2, TLSv1.3)"
    )
    assert info.value.source == "foo.toml"
    assert info.value.key == "requirement[0].params.min"


def test_requirement_array_with_non_tables_is_refused() -> None:
    text = VALID.split("[[requirement]]")[0] + "requirement = [1, 2]\n"
    with pytest.raises(ProfileError, match="requirement: expected an array of tables"):
        parse_profile(text, source="x.toml")
