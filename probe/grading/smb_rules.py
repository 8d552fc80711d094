"""Pure rules over SmbFacts: SMB1, dialect floor, ciphers, encryption and signing enforcement.

Each takes the requirement's params and the facts and returns (message, evidence) violations.
Registered in probe.grading.rules.RULES with applies_to ("smb",).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from probe.model import SmbFacts

ParamValue = int | str | tuple[str, ...]
Violation = tuple[str, str | None]

# [MS-SMB2] 1.7: dialects in protocol order; names as in the JSON contract.
SMB_DIALECTS: tuple[str, ...] = ("2.0.2", "2.1", "3.0", "3.0.2", "3.1.1")
SMB_CIPHERS: tuple[str, ...] = ("AES-128-CCM", "AES-128-GCM", "AES-256-CCM", "AES-256-GCM")


def _rank(dialect: str) -> int:
    return SMB_DIALECTS.index(dialect)


def smb1_disabled(
    params: Mapping[str, ParamValue], facts: SmbFacts, now: datetime
) -> list[Violation]:
    if facts.smb1:
        return [
            ("accepts SMB1 (NT LM 0.12): no encryption, and the protocol WannaCry used", "SMB1")
        ]
    return []


def smb_min_dialect(
    params: Mapping[str, ParamValue], facts: SmbFacts, now: datetime
) -> list[Violation]:
    floor = str(params["min"])
    best = facts.preferred_dialect
    if best is None:
        return [("could not tell the highest SMB dialect", None)]
    if _rank(best) < _rank(floor):
        return [
            (f"highest SMB dialect is {best} (minimum is {floor}); SMB 2.x has no encryption", best)
        ]
    return []


def smb_ciphers_required(
    params: Mapping[str, ParamValue], facts: SmbFacts, now: datetime
) -> list[Violation]:
    wanted = params["ciphers"]
    assert isinstance(wanted, tuple)  # the profile loader normalises lists to tuples
    if any(c in wanted for c in facts.ciphers):
        return []
    if facts.ciphers:
        have = ", ".join(facts.ciphers)
        return [(f"SMB encryption only with {have} (wanted one of {', '.join(wanted)})", have)]
    if facts.encryption_capability:
        return [
            (
                f"SMB 3.0 encryption (AES-128-CCM) only (wanted one of {', '.join(wanted)})",
                "AES-128-CCM",
            )
        ]
    return [("SMB encryption is not supported at all", None)]


def _encrypted_by_demand(facts: SmbFacts) -> bool:
    """With credentials: the server encrypted the session, or the share the user named."""
    auth = facts.auth
    if auth is None or not auth.authenticated or auth.session_is_guest:
        return False
    return bool(auth.session_encrypt_data) or any(s.encrypt_data for s in auth.shares.values())


def smb_encryption_required(
    params: Mapping[str, ParamValue], facts: SmbFacts, now: datetime
) -> list[Violation]:
    if facts.encryption_required is True:
        return []
    if _encrypted_by_demand(facts):
        return []
    if facts.encryption_required is False:
        return [
            (
                "the server accepts sessions from clients that do not encrypt",
                facts.encryption_required_evidence,
            )
        ]
    return [
        (
            "could not tell whether the server requires encryption",
            facts.encryption_required_evidence,
        )
    ]


def smb_signing_required(
    params: Mapping[str, ParamValue], facts: SmbFacts, now: datetime
) -> list[Violation]:
    if facts.signing_required is True:
        return []
    if facts.signing_required is False:
        return [
            ("SMB signing is not required: unsigned sessions can be tampered with or relayed", None)
        ]
    return [("could not tell whether SMB signing is required", None)]


def smb_guest_refused(
    params: Mapping[str, ParamValue], facts: SmbFacts, now: datetime
) -> list[Violation]:
    if facts.guest_access:
        message = "grants a session to an unknown user (guest access): no key to sign or encrypt"
        return [(message, facts.guest_evidence)]
    return []  # not measured: the target's incomplete entry says so and it cannot pass
