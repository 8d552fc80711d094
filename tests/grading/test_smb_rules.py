"""SMB rules on constructed SmbFacts, and the SMB requirements of the default profile."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from probe.grading.profile import ProfileError, parse_profile
from probe.grading.rules import RULES, evaluate
from probe.model import SmbFacts, Status, Target, TargetResult

NOW = datetime(2026, 1, 1, tzinfo=UTC)

GOOD = SmbFacts(
    smb1=False,
    dialects=("2.1", "3.0", "3.0.2", "3.1.1"),
    preferred_dialect="3.1.1",
    ciphers=("AES-256-GCM", "AES-128-GCM"),
    preferred_cipher="AES-256-GCM",
    encryption_context="cipher",
    encryption_capability=None,
    signing_enabled=True,
    signing_required=True,
    signing_algorithms=("HMAC-SHA256", "AES-CMAC", "AES-GMAC"),
    signing_algorithm="AES-GMAC",
    encryption_required=True,
    encryption_required_evidence="SESSION_SETUP without encryption: ACCESS_DENIED",
    server_guid="00" * 16,
    system_time=None,
    max_read=8388608,
    max_write=8388608,
    max_transact=8388608,
    connections=12,
    guest_access=False,
)


def _result(facts: SmbFacts) -> TargetResult:
    target = Target(given="smb://files", host="files", port=445, check="smb")
    return TargetResult(
        target=target, status=Status.COMPLETED, error=None, tls=None, smb=facts, duration_seconds=0
    )


def _ids(facts: SmbFacts) -> set[str]:
    from probe.grading.profile import load_profile

    return {f.id for f in evaluate(load_profile("azure-transit"), _result(facts), now=NOW).findings}


def test_a_hardened_server_passes() -> None:
    from probe.grading.profile import load_profile

    graded = evaluate(load_profile("azure-transit"), _result(GOOD), now=NOW)
    assert graded.findings == () and graded.passed


@pytest.mark.parametrize(
    ("change", "finding"),
    [
        ({"smb1": True}, "SMB-NO-SMB1"),
        (
            {"preferred_dialect": "2.1", "dialects": ("2.0.2", "2.1"), "ciphers": ()},
            "SMB-MIN-DIALECT",
        ),
        ({"ciphers": ("AES-128-CCM",)}, "SMB-GCM-CIPHER"),
        ({"encryption_required": False}, "SMB-ENCRYPTION-REQUIRED"),
        ({"encryption_required": None}, "SMB-ENCRYPTION-REQUIRED"),
        ({"signing_required": False}, "SMB-SIGNING-REQUIRED"),
        ({"guest_access": True}, "SMB-NO-GUEST"),
    ],
)
def test_each_weakness_gives_its_finding(change: dict[str, object], finding: str) -> None:
    assert finding in _ids(dataclasses.replace(GOOD, **change))  # type: ignore[arg-type]


def test_smb30_only_server_has_ccm_encryption_but_no_gcm() -> None:
    facts = dataclasses.replace(
        GOOD, preferred_dialect="3.0.2", dialects=("2.0.2", "2.1", "3.0", "3.0.2"), ciphers=(),
        encryption_capability=True, encryption_context=None,
    )  # fmt: skip
    [violation] = RULES["smb_ciphers_required"].check({"ciphers": ("AES-128-GCM",)}, facts, NOW)
    assert "AES-128-CCM" in violation[0]


def test_smb_rules_do_not_apply_to_tls_targets_and_params_are_checked() -> None:
    base = 'name = "x"\ndescription = "x"\nversion = "1"\n'
    with pytest.raises(ProfileError, match="does not apply"):
        parse_profile(
            base + '[[requirement]]\nid = "A"\nseverity = "high"\nrule = "smb1_disabled"\n'
            'rationale = "r"\nreference = "r"\n',
            source="x.toml",
        )
    with pytest.raises(ProfileError, match="SMB dialect"):
        parse_profile(
            base + '[[requirement]]\nid = "A"\nseverity = "high"\nrule = "smb_min_dialect"\n'
            'params = { min = "4.0" }\napplies_to = "smb"\nrationale = "r"\nreference = "r"\n',
            source="x.toml",
        )


def test_an_encrypted_named_share_satisfies_encryption_required() -> None:
    from probe.model import ShareFacts, SmbAuthFacts

    def with_share(encrypted: bool, guest: bool = False) -> SmbFacts:
        auth = SmbAuthFacts(
            authenticated=not guest, auth_error=None, session_encrypt_data=False,
            session_is_guest=guest,
            shares={"secret": ShareFacts(encrypt_data=encrypted, accessible=True, error=None)},
        )  # fmt: skip
        return dataclasses.replace(GOOD, encryption_required=False, auth=auth)

    assert "SMB-ENCRYPTION-REQUIRED" not in _ids(with_share(True))
    assert "SMB-ENCRYPTION-REQUIRED" in _ids(with_share(False))
    assert "SMB-ENCRYPTION-REQUIRED" in _ids(with_share(True, guest=True))  # a guest proves nothing
