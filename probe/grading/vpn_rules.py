"""Pure rules over IkeFacts and SstpFacts (registered in probe.grading.rules.RULES).

The TLS grade of an SSTP listener is judged by the TLS rules themselves: an SSTP target
carries the listener's TlsFacts, and every requirement that applies to "tls" judges them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache

from probe.model import IkeAlgorithms, IkeFacts, IkeSuite, SstpFacts

ParamValue = int | str | tuple[str, ...]
Violation = tuple[str, str | None]

IKE_KINDS: tuple[str, ...] = ("encryption", "prf", "integrity", "dh_groups")
_KIND_WORDS = {
    "encryption": "encryption",
    "prf": "PRF",
    "integrity": "integrity",
    "dh_groups": "DH group",
}
SSTP_AUTH_PROTOCOLS: tuple[str, ...] = ("PAP", "CHAP-MD5", "MS-CHAP", "MS-CHAPv2", "EAP")
SSTP_HASHES: tuple[str, ...] = ("SHA1", "SHA256")


@cache
def ike_names() -> frozenset[str]:
    """Every transform name probe can report, so that profiles are checked for typos."""
    from probe.codecs.ike_constants import (
        DH_NAMES,
        ENCRYPTION_NAMES,
        INTEGRITY_NAMES,
        KEYED_ENCRYPTION,
        PRF_NAMES,
        encryption_name,
    )

    names: set[str] = set(PRF_NAMES.values()) | set(INTEGRITY_NAMES.values())
    names |= set(DH_NAMES.values())
    for enc_id in ENCRYPTION_NAMES:
        if enc_id in KEYED_ENCRYPTION:
            names |= {encryption_name(enc_id, bits) for bits in (128, 192, 256)}
        else:
            names.add(encryption_name(enc_id, None))
    return frozenset(names)


def _listed(params: Mapping[str, ParamValue], kind: str) -> tuple[str, ...]:
    value = params.get(kind, ())
    return value if isinstance(value, tuple) else ()


def _accepted(facts: IkeFacts, kind: str) -> tuple[str, ...]:
    algorithms: IkeAlgorithms = facts.accepted
    names: tuple[str, ...] = getattr(algorithms, kind)
    return names


def ike_v1_disabled(
    params: Mapping[str, ParamValue], facts: IkeFacts, now: datetime
) -> list[Violation]:
    if facts.ikev1:
        offered = ", ".join(_suite_text(s) for s in facts.ikev1_transforms[:4]) or None
        return [("accepts IKEv1, which is historic (RFC 9395): use IKEv2", offered)]
    return []


def ike_no_aggressive_psk(
    params: Mapping[str, ParamValue], facts: IkeFacts, now: datetime
) -> list[Violation]:
    if facts.aggressive_mode_psk:
        message = (
            "IKEv1 Aggressive Mode with a pre-shared key answers with a hash that can be"
            " cracked offline to recover the key"
        )
        return [(message, facts.aggressive_mode_evidence)]
    return []


def ike_algorithms_forbidden(
    params: Mapping[str, ParamValue], facts: IkeFacts, now: datetime
) -> list[Violation]:
    out: list[Violation] = []
    for kind in IKE_KINDS:
        bad = [name for name in _accepted(facts, kind) if name in _listed(params, kind)]
        if bad:
            word = _KIND_WORDS[kind]
            out.append((f"accepts weak {word}: {', '.join(bad)}", ", ".join(bad)))
    return out


def ike_prefers_strong(
    params: Mapping[str, ParamValue], facts: IkeFacts, now: datetime
) -> list[Violation]:
    """The suite picked from an offer of everything, strongest first, holds a listed (weak)
    item although the responder accepts something of that kind that is not listed."""
    out: list[Violation] = []
    for suite, version in ((facts.ikev2_preferred, "IKEv2"), (facts.ikev1_preferred, "IKEv1")):
        if suite is None:
            continue
        algorithms = facts.ikev2_accepted if version == "IKEv2" else facts.ikev1_accepted
        picked = {
            "encryption": suite.encryption,
            "prf": suite.prf,
            "integrity": suite.integrity,
            "dh_groups": suite.dh_group,
        }
        weak = []
        for kind in IKE_KINDS:
            name = picked[kind]
            listed = _listed(params, kind)
            stronger = [n for n in getattr(algorithms, kind) if n not in listed]
            if name is not None and name in listed and stronger:
                weak.append(name)
        if weak:
            message = (
                f"offered everything strongest first, the {version} responder picks"
                f" {', '.join(weak)} over stronger choices it also accepts"
            )
            out.append((message, _suite_text(suite)))
    return out


def sstp_requires_tls(
    params: Mapping[str, ParamValue], facts: SstpFacts, now: datetime
) -> list[Violation]:
    if facts.plain_http:
        return [("answers SSTP over plain TCP, without TLS", facts.server)]
    return []


def sstp_hash_required(
    params: Mapping[str, ParamValue], facts: SstpFacts, now: datetime
) -> list[Violation]:
    wanted = str(params["hash"])
    if facts.call_connect != "ack":
        return []  # no Call Connect Ack: nothing offered to judge (incomplete says why)
    if wanted not in facts.hash_protocols:
        have = ", ".join(facts.hash_protocols) or "none"
        return [(f"crypto binding does not offer {wanted} (offers: {have})", have)]
    return []


def sstp_hash_forbidden(
    params: Mapping[str, ParamValue], facts: SstpFacts, now: datetime
) -> list[Violation]:
    unwanted = str(params["hash"])
    if unwanted in facts.hash_protocols:
        have = ", ".join(facts.hash_protocols)
        return [(f"crypto binding still offers {unwanted}", have)]
    return []


def sstp_auth_forbidden(
    params: Mapping[str, ParamValue], facts: SstpFacts, now: datetime
) -> list[Violation]:
    if facts.auth_protocol is not None and facts.auth_protocol in _listed(params, "protocols"):
        return [(f"PPP asks for {facts.auth_protocol} authentication", facts.auth_protocol)]
    return []


def _suite_text(suite: IkeSuite) -> str:
    parts = [suite.encryption, suite.prf, suite.integrity, suite.dh_group, suite.auth]
    return "/".join(p for p in parts if p)
