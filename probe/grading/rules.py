"""Grading rules: pure functions from (requirement params, measured facts) to violations.

A profile requirement names a rule from `RULES` and gives it params. Each rule declares its
params (kind, default, description) so that `probe.grading.profile` can validate a profile
before any scan starts, and a check function that returns `(message, evidence)` pairs, one per
problem it sees. Rules never do I/O and never look at the clock: "now" is passed in.

`evaluate()` runs every requirement of a profile over one `TargetResult` and returns a copy with
`findings` and `passed` filled in.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, partial
from typing import TYPE_CHECKING, Any, Literal

from probe.grading import pcap_rules, smb_rules, vpn_rules
from probe.grading.letter import grade_target
from probe.grading.pcap_rules import CaptureCheckFn
from probe.model import (
    TLS_VERSION_LABELS,
    TRUST_STORE_NAMES,
    CertificateFacts,
    Finding,
    StartTlsFacts,
    Status,
    TargetResult,
    TlsFacts,
)

if TYPE_CHECKING:
    from probe.codecs.tls.suites import CipherSuite
    from probe.grading.pcap_verdict import CaptureVerdict
    from probe.grading.profile import Profile
    from probe.pcap.analyze import Analysis

ParamValue = int | str | tuple[str, ...]
Params = Mapping[str, ParamValue]
# One problem a rule found: a message for humans and the offending items (or None).
Violation = tuple[str, str | None]
# A rule's check takes the facts of the check it applies to (TlsFacts, SmbFacts, ...).
CheckFn = Callable[[Params, Any, datetime], list[Violation]]
ParamKind = Literal[
    "int", "version", "versions", "suite_properties", "suite_names", "hashes",
    "smb_dialect", "smb_ciphers", "ike_names", "sstp_auth", "sstp_hash",
    "pcap_protocols", "credential_kinds", "secret_kinds", "host_suffixes",
    "group_names", "bool", "vulnerability_names", "trust_store_names",
]  # fmt: skip

# Severities from the most to the least serious.
SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "info")
_SEVERITY_RANK: dict[str, int] = {name: len(SEVERITIES) - i for i, name in enumerate(SEVERITIES)}

_VERSION_INDEX: dict[str, int] = {label: i for i, label in enumerate(TLS_VERSION_LABELS)}
# AEAD suites exist only from TLS 1.2 on; older versions are tls_min_version's concern.
_AEAD_CAPABLE = ("TLSv1.2", "TLSv1.3")
# Lower-case hash names as probe.codecs.x509 reports them in CertificateFacts.signature_hash.
HASH_NAMES: tuple[str, ...] = (
    "md2",
    "md4",
    "md5",
    "sha1",
    "sha224",
    "sha256",
    "sha384",
    "sha512",
    "sha3-224",
    "sha3-256",
    "sha3-384",
    "sha3-512",
)


def severity_rank(severity: str) -> int:
    """A number that grows with seriousness: info=1 ... critical=5 (0 for unknown names)."""
    return _SEVERITY_RANK.get(severity, 0)


# ---------------------------------------------------------------------------------------------
# Declarations


class ParamError(ValueError):
    """A param value does not fit its declaration. `suffix` locates it inside a list ("[2]")."""

    def __init__(self, message: str, suffix: str = "") -> None:
        super().__init__(message)
        self.suffix = suffix


@dataclass(frozen=True)
class Param:
    kind: ParamKind
    description: str
    default: ParamValue | None = None  # None: the param is required


@dataclass(frozen=True)
class Rule:
    name: str
    summary: str
    params: Mapping[str, Param]
    check: CheckFn
    applies_to: tuple[str, ...] = ("tls",)
    # Rules that apply to "pcap" judge a whole capture analysis (see evaluate_capture).
    capture: CaptureCheckFn | None = None


# The four lists every IKE transform rule takes (names as in the JSON report); empty by default.
IKE_PARAMS: dict[str, Param] = {
    "encryption": Param("ike_names", 'encryption names, e.g. ["DES", "3DES"]', default=()),
    "prf": Param("ike_names", 'PRF names, e.g. ["PRF-HMAC-MD5"]', default=()),
    "integrity": Param("ike_names", 'integrity names, e.g. ["HMAC-MD5"]', default=()),
    "dh_groups": Param("ike_names", 'DH group names, e.g. ["MODP-1024"]', default=()),
}


@dataclass(frozen=True)
class SuiteProperty:
    description: str
    test: Callable[[CipherSuite], bool]


# Cipher names are the IANA name's cipher part ("AES_128_CBC", "3DES_EDE_CBC", "RC4_128").
_SINGLE_DES = frozenset({"DES_CBC", "DES40_CBC", "DES_CBC_40"})

SUITE_PROPERTIES: dict[str, SuiteProperty] = {
    "rc4": SuiteProperty("RC4 stream cipher", lambda s: s.cipher.startswith("RC4")),
    "3des": SuiteProperty("triple DES (SWEET32)", lambda s: s.cipher == "3DES_EDE_CBC"),
    "des": SuiteProperty("single DES (56 or 40 bits)", lambda s: s.cipher in _SINGLE_DES),
    "64bit_block": SuiteProperty(
        "64-bit block cipher (3DES, DES, IDEA, RC2, GOST Magma: SWEET32)",
        lambda s: s.block_bits == 64,
    ),
    "null": SuiteProperty("no encryption (NULL cipher)", lambda s: s.cipher == "NULL"),
    "export": SuiteProperty("export-grade", lambda s: s.export),
    "anon": SuiteProperty("anonymous (no server authentication)", lambda s: s.anonymous),
    "cbc": SuiteProperty("block cipher in CBC mode", lambda s: "CBC" in s.cipher.split("_")),
    "md5_mac": SuiteProperty("MD5 record MAC", lambda s: s.mac == "MD5"),
    "sha1_mac": SuiteProperty("SHA-1 record MAC", lambda s: s.mac == "SHA1"),
    "no_fs": SuiteProperty("no forward secrecy", lambda s: not s.forward_secret),
    "not_aead": SuiteProperty("not AEAD", lambda s: not s.aead),
}


def check_param(param: Param, value: object) -> ParamValue:
    """Validate one param value against its declaration; return it normalised (lists → tuples)."""
    if param.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamError(f"expected an integer, got {_describe(value)}")
        if value < 0:
            raise ParamError(f"must not be negative, got {value}")
        return value
    if param.kind == "bool":
        if not isinstance(value, bool):
            raise ParamError(f"expected true or false, got {_describe(value)}")
        return value
    if param.kind == "version":
        return _check_version(value)
    if param.kind == "smb_dialect":
        if not isinstance(value, str) or value not in smb_rules.SMB_DIALECTS:
            known = ", ".join(smb_rules.SMB_DIALECTS)
            raise ParamError(f"expected an SMB dialect ({known}), got {_describe(value)}")
        return value
    if param.kind == "sstp_hash":
        if not isinstance(value, str) or value not in vpn_rules.SSTP_HASHES:
            known = ", ".join(vpn_rules.SSTP_HASHES)
            raise ParamError(f"expected an SSTP hash ({known}), got {_describe(value)}")
        return value
    items = _check_str_list(value)
    for i, item in enumerate(items):
        try:
            _check_list_item(param.kind, item)
        except ParamError as exc:
            raise ParamError(str(exc), f"[{i}]") from None
    return items


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f'the string "{value}"'
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _check_version(value: object) -> str:
    if not isinstance(value, str):
        raise ParamError(f"expected a version label string, got {_describe(value)}")
    if value not in _VERSION_INDEX:
        raise ParamError(f'unknown version "{value}" (known: {", ".join(TLS_VERSION_LABELS)})')
    return value


def _check_str_list(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ParamError(f"expected a list of strings, got {_describe(value)}")
    if not value:
        raise ParamError("must not be empty")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise ParamError(f"expected a string, got {_describe(item)}", f"[{i}]")
    return tuple(value)


def _check_list_item(kind: ParamKind, item: str) -> None:
    if kind == "versions":
        _check_version(item)
    elif kind == "suite_properties":
        if item not in SUITE_PROPERTIES:
            known = ", ".join(SUITE_PROPERTIES)
            raise ParamError(f'unknown suite property "{item}" (known: {known})')
    elif kind == "smb_ciphers":
        if item not in smb_rules.SMB_CIPHERS:
            raise ParamError(
                f'unknown SMB cipher "{item}" (known: {", ".join(smb_rules.SMB_CIPHERS)})'
            )
    elif kind == "ike_names":
        if item not in vpn_rules.ike_names():
            raise ParamError(
                f'unknown IKE transform name "{item}" (names as in the JSON report, e.g.'
                ' "3DES", "AES-CBC-128", "HMAC-SHA1", "PRF-HMAC-SHA1", "MODP-1024")'
            )
    elif kind == "sstp_auth":
        if item not in vpn_rules.SSTP_AUTH_PROTOCOLS:
            known = ", ".join(vpn_rules.SSTP_AUTH_PROTOCOLS)
            raise ParamError(f'unknown PPP authentication "{item}" (known: {known})')
    elif kind == "hashes":
        if item not in HASH_NAMES:
            raise ParamError(f'unknown hash "{item}" (known: {", ".join(HASH_NAMES)})')
    elif kind in ("pcap_protocols", "credential_kinds", "secret_kinds", "host_suffixes"):
        problem = pcap_rules.check_list_item(kind, item)
        if problem is not None:
            raise ParamError(problem)
    elif kind == "vulnerability_names":
        from probe.checks.tls_vulns import KNOWN_VULNERABILITIES

        if item not in KNOWN_VULNERABILITIES:
            known = ", ".join(KNOWN_VULNERABILITIES)
            raise ParamError(f'unknown vulnerability "{item}" (known: {known})')
    elif kind == "trust_store_names":
        if item not in TRUST_STORE_NAMES:
            known = ", ".join(TRUST_STORE_NAMES)
            raise ParamError(f'unknown trust store "{item}" (known: {known})')
    elif kind == "group_names" and item not in _group_index()[0]:
        raise ParamError(_unknown_group(item))
    elif kind == "suite_names" and _suite_by_name(item) is None:
        hint = _iana_name_for_openssl(item)
        extra = f" (the IANA name is {hint})" if hint else " (use IANA names)"
        raise ParamError(f'unknown cipher suite "{item}"{extra}')


# ---------------------------------------------------------------------------------------------
# The suite table (probe.codecs.tls.suites), imported lazily and indexed by name.


@cache
def _suite_index() -> tuple[dict[str, CipherSuite], dict[str, str]]:
    from probe.codecs.tls.suites import SUITES

    by_name: dict[str, CipherSuite] = {}
    openssl_to_iana: dict[str, str] = {}
    for suite in SUITES.values():
        by_name.setdefault(suite.name, suite)
        if suite.openssl_name:
            openssl_to_iana.setdefault(suite.openssl_name, suite.name)
    return by_name, openssl_to_iana


def _suite_by_name(name: str) -> CipherSuite | None:
    """The codec's description of a suite from its IANA name; None for names it does not know."""
    return _suite_index()[0].get(name)


def suite_has(name: str, prop: str) -> bool | None:
    """Whether the suite `name` has the SUITE_PROPERTIES property `prop`; None if unknown."""
    suite = _suite_by_name(name)
    return None if suite is None else SUITE_PROPERTIES[prop].test(suite)


def _iana_name_for_openssl(name: str) -> str | None:
    return _suite_index()[1].get(name)


# ---------------------------------------------------------------------------------------------
# Helpers over facts


def _labels(mapping: Mapping[str, object]) -> list[str]:
    """Keys of a per-version mapping: known labels oldest first, then anything else sorted."""
    known = [label for label in TLS_VERSION_LABELS if label in mapping]
    return known + sorted(k for k in mapping if k not in _VERSION_INDEX)


def _accepted_versions(facts: TlsFacts) -> list[str]:
    return [label for label in _labels(facts.versions) if facts.versions[label]]


def _suites_where(
    facts: TlsFacts, bad: Callable[[str, CipherSuite | None], bool]
) -> dict[str, list[str]]:
    """Accepted suites matching `bad(name, suite)`, grouped by version label (non-empty only)."""
    found: dict[str, list[str]] = {}
    for label in _labels(facts.cipher_suites):
        names = [n for n in facts.cipher_suites[label] if bad(n, _suite_by_name(n))]
        if names:
            found[label] = names
    return found


def _suites_evidence(by_version: Mapping[str, Sequence[str]]) -> str:
    """Each suite once, after the versions that accept it: "TLSv1.0, TLSv1.2: A, B; TLSv1.2: C"."""
    versions_of: dict[str, list[str]] = {}
    for label, names in by_version.items():
        for name in names:
            versions_of.setdefault(name, []).append(label)
    groups: dict[tuple[str, ...], list[str]] = {}
    for name, labels in versions_of.items():
        groups.setdefault(tuple(labels), []).append(name)
    return "; ".join(f"{', '.join(labels)}: {', '.join(names)}" for labels, names in groups.items())


def _count(by_version: Mapping[str, Sequence[str]]) -> int:
    return len({name for names in by_version.values() for name in names})


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _cert_label(cert: CertificateFacts) -> str:
    served = f", served with {', '.join(cert.served_with)}" if cert.served_with else ""
    return f"certificate ({cert.key_type} {cert.key_bits}{served})"


def _cert_evidence(cert: CertificateFacts) -> str:
    return f"subject {cert.subject}; sha256 {cert.sha256_fingerprint[:16]}"


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _days_until(moment: datetime, now: datetime) -> int:
    """Whole days from `now` to `moment`, rounded down (negative when `moment` is past)."""
    return int((_utc(moment) - _utc(now)).total_seconds() // 86400)


def _int(params: Params, key: str) -> int:
    value = params[key]
    assert isinstance(value, int)
    return value


def _str(params: Params, key: str) -> str:
    value = params[key]
    assert isinstance(value, str)
    return value


def _strs(params: Params, key: str) -> tuple[str, ...]:
    value = params[key]
    assert isinstance(value, tuple)
    return value


# ---------------------------------------------------------------------------------------------
# Version rules


def tls_min_version(params: Params, facts: TlsFacts, now: datetime) -> list[Violation]:
    minimum = _str(params, "min")
    floor = _VERSION_INDEX[minimum]
    return [
        (f"accepts {label} (minimum is {minimum})", label)
        for label in _accepted_versions(facts)
        if _VERSION_INDEX.get(label, floor) < floor
    ]


def tls_versions_forbidden(params: Params, facts: TlsFacts, now: datetime) -> list[Violation]:
    forbidden = set(_strs(params, "versions"))
    return [
        (f"accepts {label} (forbidden)", label)
        for label in _accepted_versions(facts)
        if label in forbidden
    ]


def tls_max_version_required(params: Params, facts: TlsFacts, now: datetime) -> list[Violation]:
    version = _str(params, "version")
    if facts.versions.get(version, False):
        return []
    if version in facts.incomplete:
        reason = facts.incomplete[version]
        return [
            (f"could not confirm that {version} is offered (measurement failed: {reason})", None)
        ]
    offered = _accepted_versions(facts)
    evidence = f"offered: {', '.join(offered)}" if offered else "no version offered"
    return [(f"does not offer {version} (required)", evidence)]


# ---------------------------------------------------------------------------------------------
# Cipher suite rules


def forward_secrecy_only(params: Params, facts: TlsFacts, now: datetime) -> list[Violation]:
    bad = _suites_where(facts, lambda _n, s: s is None or not s.forward_secret)
    if not bad:
        return []
    return [
        (f"accepts {_plural(_count(bad), 'suite')} without forward secrecy", _suites_evidence(bad))
    ]


def _is_aead(name: str) -> bool:
    suite = _suite_by_name(name)
    return suite is not None and suite.aead


def aead_preferred(params: Params, facts: TlsFacts, now: datetime) -> list[Violation]:
    accepted = {label: names for label, names in facts.cipher_suites.items() if names}
    if not accepted:
        return []
    if not any(_is_aead(n) for names in accepted.values() for n in names):
        return [("accepts no AEAD cipher suite", ", ".join(_labels(accepted)))]
    found: list[Violation] = []
    for label in _AEAD_CAPABLE:
        names = accepted.get(label, ())
        if not names:
            continue
        if not any(_is_aead(n) for n in names):
            found.append((f"{label}: accepts no AEAD cipher suite", f"{label}: {', '.join(names)}"))
        elif (facts.server_preference.get(label) or len(names) == 1) and not _is_aead(names[0]):
            found.append((f"{label}: server prefers {names[0]}, which is not AEAD", names[0]))
    return found


def suites_forbidden(params: Params, facts: TlsFacts, now: datetime) -> list[Violation]:
    found: list[Violation] = []
    for prop in _strs(params, "properties"):
        bad = _suites_where(facts, partial(_has_property, SUITE_PROPERTIES[prop].test))
        if bad:
            what = SUITE_PROPERTIES[prop].description
            message = f"accepts {_plural(_count(bad), 'suite')} with {prop}: {what}"
            found.append((message, _suites_evidence(bad)))
    return found


def _has_property(
    test: Callable[[CipherSuite], bool], _name: str, suite: CipherSuite | None
) -> bool:
    return suite is not None and test(suite)


def suites_allowed(params: Params, facts: TlsFacts, now: datetime) -> list[Violation]:
    allowed = set(_strs(params, "suites"))
    bad = _suites_where(facts, lambda n, _s: n not in allowed)
    if not bad:
        return []
    return [
        (f"accepts {_plural(_count(bad), 'suite')} outside the allowed list", _suites_evidence(bad))
    ]


# ---------------------------------------------------------------------------------------------
# Key size rules


def _key_min_bits(key_types: Iterable[str], facts: TlsFacts, minimum: int) -> list[Violation]:
    types = set(key_types)
    return [
        (
            f"{_cert_label(c)}: {c.key_type} key of {c.key_bits} bits (minimum is {minimum})",
            _cert_evidence(c),
        )
        for c in facts.certificates
        if c.key_type in types and c.key_bits < minimum
    ]


def rsa_min_bits(params: Params, facts: TlsFacts, now: datetime) -> list[Violation]:
    return _key_min_bits(("RSA",), facts, _int(params, "min"))


def ec_min_bits(params: Params, facts: TlsFacts, now: datetime) -> list[Violation]:
    return _key_min_bits(("EC",), facts, _int(params, "min"))


def dh_min_bits(params: Params, facts: TlsFacts, now: datetime) -> list[Violation]:
    minimum = _int(params, "min")
    weak: dict[tuple[int, str | None], list[str]] = {}
    for suite, kx in facts.key_exchange.items():
        if kx.kind == "DHE" and kx.bits < minimum:
            weak.setdefault((kx.bits, kx.group), []).append(suite)
    found: list[Violation] = []
    for (bits, group), suites in sorted(weak.items(), key=lambda item: item[0][0]):
        named = f" ({group})" if group else ""
        found.append(
            (f"DHE group of {bits} bits{named} (minimum is {minimum})", ", ".join(sorted(suites)))
        )
    return found


# ---------------------------------------------------------------------------------------------
# Certificate rules


def signature_hash_forbidden(params: Params, facts: TlsFacts, now: datetime) -> list[Violation]:
    forbidden = set(_strs(params, "hashes"))
    found: list[Violation] = []
    for cert in facts.certificates:
        leaf_hash = (cert.signature_hash or "").lower()
        leaf_entry = None
        if leaf_hash in forbidden:
            leaf_entry = f"{cert.subject} ({leaf_hash})"  # also listed in chain_weak_signatures
            how = f"{leaf_hash.upper()} ({cert.signature_algorithm})"
            found.append((f"{_cert_label(cert)} is signed with {how}", _cert_evidence(cert)))
        weak = [
            entry
            for entry in cert.chain_weak_signatures
            if entry != leaf_entry and _weak_entry_forbidden(entry, forbidden)
        ]
        if weak:
            found.append(
                (
                    f"{_cert_label(cert)}: chain has {_plural(len(weak), 'certificate')} "
                    "signed with a forbidden hash",
                    "; ".join(weak),
                )
            )
    return found


_TRAILING_HASH = re.compile(r"\(([A-Za-z0-9-]+)\)\s*$")


def _weak_entry_forbidden(entry: str, forbidden: set[str]) -> bool:
    """chain_weak_signatures entries read "SUBJECT (hash)"; the codec lists only weak hashes
    (MD2/MD4/MD5/SHA-1), so an entry whose hash cannot be read counts against sha1/md5."""
    match = _TRAILING_HASH.search(entry)
    if match:
        return match.group(1).lower() in forbidden
    return bool(forbidden & {"sha1", "md5"})


def certificate_valid_now(params: Params, facts: TlsFacts, now: datetime) -> list[Violation]:
    found: list[Violation] = []
    for cert in facts.certificates:
        if _utc(cert.not_before) > _utc(now):
            when = f"{_utc(cert.not_before):%Y-%m-%d %H:%M} UTC"
            found.append(
                (f"{_cert_label(cert)} is not valid yet (not before {when})", _cert_evidence(cert))
            )
        when = f"{_utc(cert.not_after):%Y-%m-%d %H:%M} UTC"
        if _utc(cert.not_after) <= _utc(now):
            ago = _plural(_days_until(now, cert.not_after), "day")
            message = f"{_cert_label(cert)} expired on {when} ({ago} ago)"
            found.append((message, _cert_evidence(cert)))
        elif cert.days_to_expiry < 0:  # expired when scanned, though not at `now`
            found.append((f"{_cert_label(cert)} expired on {when}", _cert_evidence(cert)))
    return found


def certificate_trusted(params: Params, facts: TlsFacts, now: datetime) -> list[Violation]:
    found: list[Violation] = []
    for cert in facts.certificates:
        if cert.trusted:
            continue
        why = cert.trust_error or ("self-signed" if cert.self_signed else "no reason given")
        found.append((f"{_cert_label(cert)} is not trusted: {why}", _cert_evidence(cert)))
    return found


def certificate_name_matches(params: Params, facts: TlsFacts, now: datetime) -> list[Violation]:
    return [
        (
            f"{_cert_label(c)} does not match the requested name",
            f"subject {c.subject}; SAN {', '.join(c.san) if c.san else '(none)'}",
        )
        for c in facts.certificates
        if c.name_matches is False
    ]


def certificate_expiry_warning(params: Params, facts: TlsFacts, now: datetime) -> list[Violation]:
    days = _int(params, "days")
    found: list[Violation] = []
    for cert in facts.certificates:
        left = _days_until(cert.not_after, now)
        if _utc(cert.not_after) > _utc(now) and left < days:
            found.append(
                (
                    f"{_cert_label(cert)} expires in {_plural(left, 'day')} (warning at {days})",
                    f"not after {_utc(cert.not_after):%Y-%m-%d %H:%M} UTC; {_cert_evidence(cert)}",
                )
            )
    return found


def certificate_server_auth(params: Params, facts: TlsFacts, now: datetime) -> list[Violation]:
    """The leaf's extended key usage must allow serverAuth (RFC 5280 4.2.1.12); clients refuse
    a certificate restricted to other purposes. An absent EKU allows any purpose."""
    found: list[Violation] = []
    for cert in facts.certificates:
        if cert.server_auth is False:
            purposes = ", ".join(cert.extended_key_usage)
            found.append(
                (
                    f"{_cert_label(cert)} is not for TLS servers: extended key usage {purposes}",
                    _cert_evidence(cert),
                )
            )
    return found


# RFC 5280 4.2.1.3 key usage each way of using the server's key needs (RFC 5246 7.4.2, RFC 8446
# 4.4.2.2): a signature (ECDHE/DHE, TLS 1.3) or RSA key transport (the TLS_RSA_* suites).
_KEY_USAGE_FOR_KX = {"ECDHE": "digitalSignature", "DHE": "digitalSignature", "TLS13":
                     "digitalSignature", "RSA": "keyEncipherment"}  # fmt: skip
# The certificate key types each suite authentication can use.
_KEY_TYPES_FOR_AUTH = {"RSA": ("RSA",), "ECDSA": ("EC",), "DSS": ("DSA",),
                       "TLS13": ("RSA", "EC", "Ed25519", "Ed448")}  # fmt: skip


def certificate_key_usage(params: Params, facts: TlsFacts, now: datetime) -> list[Violation]:
    """A leaf with a key usage extension must allow what the accepted suites do with its key:
    digitalSignature for ECDHE, DHE and TLS 1.3, keyEncipherment for RSA key transport.
    Strict clients refuse the handshake otherwise. No extension: any use is allowed."""
    found: list[Violation] = []
    for cert in facts.certificates:
        if not cert.key_usage:
            continue
        missing: dict[str, list[str]] = {}
        for label in _labels(facts.cipher_suites):
            for name in facts.cipher_suites[label]:
                suite = _suite_by_name(name)
                if suite is None or cert.key_type not in _KEY_TYPES_FOR_AUTH.get(suite.auth, ()):
                    continue
                needed = _KEY_USAGE_FOR_KX.get(suite.kx)
                if needed is not None and needed not in cert.key_usage:
                    missing.setdefault(needed, []).append(name)
        for needed, suites in missing.items():
            found.append(
                (
                    f"{_cert_label(cert)} has key usage {', '.join(cert.key_usage)} without "
                    f"{needed}, which {len(suites)} accepted suites need",
                    f"{', '.join(dict.fromkeys(suites))}; {_cert_evidence(cert)}",
                )
            )
    return found


def certificate_trusted_by_stores(
    params: Params, facts: TlsFacts, now: datetime
) -> list[Violation]:
    """Chains that verify (`trusted`) but not in some of the listed stores: those clients fail.
    Chains checked against a --ca-file (a private CA) are not judged by public stores."""
    listed = _strs(params, "stores")
    found: list[Violation] = []
    for cert in facts.certificates:
        if not cert.trusted or "custom" in cert.trust_stores:
            continue
        missing = [name for name in listed if cert.trust_stores.get(name) is False]
        if missing:
            found.append(
                (
                    f"{_cert_label(cert)} does not verify in the {', '.join(missing)} "
                    f"trust {'store' if len(missing) == 1 else 'stores'}",
                    _cert_evidence(cert),
                )
            )
    return found


def _publicly_trusted(cert: CertificateFacts) -> bool:
    """Verifies in a public store (the system store counts unless a --ca-file was given)."""
    if "custom" in cert.trust_stores:
        return any(ok for name, ok in cert.trust_stores.items() if name != "custom")
    return cert.trusted or any(cert.trust_stores.values())


def certificate_validity_limit(params: Params, facts: TlsFacts, now: datetime) -> list[Violation]:
    """Publicly trusted certificates stay within the CA/B Forum validity limit of their issuance
    date (BR 6.3.2; CertificateFacts.exceeds_validity_limit). Private CAs are not bound by it."""
    return [
        (
            f"{_cert_label(c)} is valid for {c.validity_days} days, longer than the CA/Browser "
            "Forum allowed when it was issued",
            f"not before {_utc(c.not_before):%Y-%m-%d}; {_cert_evidence(c)}",
        )
        for c in facts.certificates
        if c.exceeds_validity_limit and _publicly_trusted(c)
    ]


def certificate_max_validity(params: Params, facts: TlsFacts, now: datetime) -> list[Violation]:
    days = _int(params, "days")
    return [
        (
            f"{_cert_label(c)} is valid for {c.validity_days} days (maximum is {days})",
            f"not before {_utc(c.not_before):%Y-%m-%d}; {_cert_evidence(c)}",
        )
        for c in facts.certificates
        if c.validity_days > days
    ]


def certificate_chain_complete(params: Params, facts: TlsFacts, now: datetime) -> list[Violation]:
    return [
        (
            f"{_cert_label(c)}: the served chain is incomplete (an issuer is missing: "
            f"{c.trust_error or 'no path to a trust anchor'})",
            _cert_evidence(c),
        )
        for c in facts.certificates
        if c.chain_complete is False
    ]


def certificate_chain_in_order(params: Params, facts: TlsFacts, now: datetime) -> list[Violation]:
    return [
        (
            f"{_cert_label(c)}: the served chain is out of order (each certificate should "
            "follow the one it issued)",
            _cert_evidence(c),
        )
        for c in facts.certificates
        if not c.chain_in_order
    ]


# ---------------------------------------------------------------------------------------------
# Key-exchange group rules (TlsFacts.groups: the groups the server accepts, per version)

# Other spellings of group names (OpenSSL's, NIST's) -> the IANA name, for error hints only.
_GROUP_ALIASES = {"prime256v1": "secp256r1", "p-256": "secp256r1", "p-384": "secp384r1",
                  "p-521": "secp521r1"}  # fmt: skip
# X25519 is a 255-bit curve at P-256's 128-bit security level, but its size is reported as 253
# bits (as OpenSSL does; sslyze adds 3 for the same reason). Judge it, and the hybrids built on
# it, as 256 bits.
_EC_BITS_AS = {"x25519": 256, "X25519MLKEM768": 256, "X25519Kyber768Draft00": 256}


@cache
def _group_index() -> tuple[dict[str, int | None], dict[str, str]]:
    """IANA group name -> size of its elliptic curve in bits (None when it has none: finite
    field and pure ML-KEM groups), and lower-case name -> name."""
    from probe.codecs.tls.constants import GROUP_BITS, GROUP_NAMES

    ec_bits: dict[str, int | None] = {}
    for code, name in GROUP_NAMES.items():
        is_ffdhe = 0x0100 <= code <= 0x01FF
        ec_bits[name] = None if is_ffdhe else _EC_BITS_AS.get(name, GROUP_BITS.get(code))
    return ec_bits, {name.lower(): name for name in ec_bits}


def _unknown_group(item: str) -> str:
    lowered = item.lower()
    hint = _group_index()[1].get(lowered) or _GROUP_ALIASES.get(lowered)
    extra = f" (the IANA name is {hint})" if hint else ' (IANA names, e.g. "x25519", "secp256r1")'
    return f'unknown group "{item}"{extra}'


def groups_allowed(params: Params, facts: TlsFacts, now: datetime) -> list[Violation]:
    allowed = set(_strs(params, "groups"))
    bad: dict[str, list[str]] = {}
    for label in _labels(facts.groups):
        names = [n for n in facts.groups[label] if n not in allowed]
        if names:
            bad[label] = names
    if not bad:
        return []
    return [
        (f"accepts {_plural(_count(bad), 'group')} outside the allowed list", _suites_evidence(bad))
    ]


def ecdh_min_bits(params: Params, facts: TlsFacts, now: datetime) -> list[Violation]:
    minimum = _int(params, "min")
    ec_bits = _group_index()[0]
    weak: dict[str, tuple[int, list[str]]] = {}  # group -> (bits, versions or suites)
    for label in _labels(facts.groups):
        for name in facts.groups[label]:
            bits = ec_bits.get(name)
            if bits is not None and bits < minimum:
                weak.setdefault(name, (bits, []))[1].append(label)
    for suite, kx in sorted(facts.key_exchange.items()):
        if kx.kind != "ECDHE":
            continue
        bits = ec_bits.get(kx.group or "") or kx.bits
        if 0 < bits < minimum:
            weak.setdefault(kx.group or "(unnamed)", (bits, []))[1].append(suite)
    return [
        (f"ECDHE group {name} of {bits} bits (minimum is {minimum})", ", ".join(where))
        for name, (bits, where) in sorted(weak.items(), key=lambda item: (item[1][0], item[0]))
    ]


# HTTPS enforcement (probe.checks.https). Both rules judge only what was measured: targets
# that are not HTTPS (or whose HTTP requests failed: see incomplete) give no finding here.


def hsts_required(params: Params, facts: TlsFacts, now: datetime) -> list[Violation]:
    if facts.https_status is None:
        return []
    hsts = facts.hsts
    if hsts is None:
        if facts.hsts_header is not None:
            why = facts.hsts_problem or "invalid"
            return [(f"the Strict-Transport-Security header is ignored by browsers: {why}",
                     facts.hsts_header)]  # fmt: skip
        return [("no Strict-Transport-Security (HSTS) header over HTTPS", None)]
    out: list[Violation] = []
    minimum = _int(params, "min_max_age")
    if hsts.max_age < minimum:
        out.append(
            (f"HSTS max-age is {hsts.max_age} s (minimum is {minimum} s)", facts.hsts_header)
        )
    if params.get("include_subdomains") is True and not hsts.include_subdomains:
        out.append(("HSTS does not cover subdomains (no includeSubDomains)", facts.hsts_header))
    return out


def http_redirects_to_https(params: Params, facts: TlsFacts, now: datetime) -> list[Violation]:
    if facts.http_plain != "content":
        return []
    evidence = f"redirected via {facts.http_location}" if facts.http_location else None
    return [("serves content over plain HTTP instead of redirecting to HTTPS", evidence)]


def vulnerabilities_forbidden(params: Params, facts: TlsFacts, now: datetime) -> list[Violation]:
    """One violation per listed vulnerability the endpoint is exposed to (probe.checks.tls_vulns);
    those that cannot be told (null) give none: incomplete says why."""
    from probe.checks.tls_vulns import DESCRIPTIONS, vulnerabilities

    found = vulnerabilities(facts)
    return [(DESCRIPTIONS[name], name) for name in _strs(params, "names") if found.get(name)]


def early_data_forbidden(params: Params, facts: TlsFacts, now: datetime) -> list[Violation]:
    """TLS 1.3 0-RTT accepted (--deep only): early data can be replayed (RFC 8446 section 8)."""
    if facts.resumption is None or facts.resumption.early_data is not True:
        return []
    return [("TLS 1.3 0-RTT early data is accepted: it can be replayed", "early_data")]


# ---------------------------------------------------------------------------------------------
# The table

_MIN_BITS = "the smallest acceptable size in bits"


def starttls_offered(
    params: Mapping[str, ParamValue], facts: StartTlsFacts, now: datetime
) -> list[Violation]:
    if facts.offered:
        return []
    if facts.advertised:
        message = f"{facts.protocol} advertises STARTTLS but refuses it: plaintext only"
    else:
        message = f"{facts.protocol} offers no upgrade to TLS (STARTTLS): plaintext only"
    return [(message, facts.reply)]


RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in (
        Rule(
            "tls_min_version",
            "no protocol version older than `min` is accepted",
            {"min": Param("version", "the oldest acceptable version label, e.g. TLSv1.2")},
            tls_min_version,
        ),
        Rule(
            "tls_versions_forbidden",
            "none of the listed versions is accepted",
            {"versions": Param("versions", "version labels that must not be accepted")},
            tls_versions_forbidden,
        ),
        Rule(
            "tls_max_version_required",
            "the given version is offered",
            {"version": Param("version", "a version label that must be offered, e.g. TLSv1.3")},
            tls_max_version_required,
        ),
        Rule(
            "forward_secrecy_only",
            "every accepted suite has forward secrecy",
            {},
            forward_secrecy_only,
        ),
        Rule(
            "aead_preferred",
            "AEAD suites are accepted and preferred in TLS 1.2/1.3",
            {},
            aead_preferred,
        ),
        Rule(
            "suites_forbidden",
            "no accepted suite has any of the listed properties",
            {
                "properties": Param(
                    "suite_properties", "suite property names (see SUITE_PROPERTIES)"
                )
            },
            suites_forbidden,
        ),
        Rule(
            "suites_allowed",
            "every accepted suite is on the list",
            {"suites": Param("suite_names", "IANA names of the allowed suites")},
            suites_allowed,
        ),
        Rule(
            "rsa_min_bits",
            "RSA certificate keys are large enough",
            {"min": Param("int", _MIN_BITS)},
            rsa_min_bits,
        ),
        Rule(
            "ec_min_bits",
            "EC certificate keys are large enough",
            {"min": Param("int", _MIN_BITS)},
            ec_min_bits,
        ),
        Rule(
            "dh_min_bits",
            "DHE groups the server chooses are large enough",
            {"min": Param("int", _MIN_BITS)},
            dh_min_bits,
        ),
        Rule(
            "ecdh_min_bits",
            "no elliptic-curve group the server accepts or chooses is smaller than `min` bits",
            {"min": Param("int", _MIN_BITS)},
            ecdh_min_bits,
        ),
        Rule(
            "groups_allowed",
            "every key-exchange group the server accepts is on the list",
            {"groups": Param("group_names", 'IANA group names, e.g. ["x25519", "secp256r1"]')},
            groups_allowed,
        ),
        Rule(
            "hsts_required",
            "HTTPS targets send a valid HSTS header with a long enough max-age",
            {
                "min_max_age": Param(
                    "int", "the shortest acceptable max-age in seconds", default=31536000
                ),
                "include_subdomains": Param(
                    "bool", "true to require includeSubDomains as well", default=False
                ),
            },
            hsts_required,
        ),
        Rule(
            "http_redirects_to_https",
            "the plain-HTTP side of an HTTPS target serves no content: it redirects to https,"
            " refuses, or answers with an HTTP error",
            {},
            http_redirects_to_https,
        ),
        Rule(
            "vulnerabilities_forbidden",
            "the endpoint is exposed to none of the listed known vulnerabilities",
            {
                "names": Param(
                    "vulnerability_names",
                    'names as in tls.vulnerabilities, e.g. ["crime", "insecure_renegotiation"]',
                )
            },
            vulnerabilities_forbidden,
        ),
        Rule(
            "early_data_forbidden",
            "the server does not accept TLS 1.3 0-RTT early data (measured with --deep only)",
            {},
            early_data_forbidden,
        ),
        Rule(
            "signature_hash_forbidden",
            "no certificate (leaf or chain) is signed with a listed hash",
            {"hashes": Param("hashes", "hash names", default=("sha1", "md5"))},
            signature_hash_forbidden,
        ),
        Rule(
            "certificate_valid_now",
            "certificates are within their validity period",
            {},
            certificate_valid_now,
        ),
        Rule(
            "certificate_trusted",
            "certificate chains verify against the trust store",
            {},
            certificate_trusted,
        ),
        Rule(
            "certificate_name_matches",
            "certificates match the requested name",
            {},
            certificate_name_matches,
        ),
        Rule(
            "certificate_expiry_warning",
            "certificates do not expire within `days` days",
            {"days": Param("int", "days of warning before expiry", default=30)},
            certificate_expiry_warning,
        ),
        Rule(
            "certificate_server_auth",
            "certificates allow TLS server authentication (extended key usage serverAuth)",
            {},
            certificate_server_auth,
        ),
        Rule(
            "certificate_key_usage",
            "the leaf's key usage allows what the accepted suites do with its key",
            {},
            certificate_key_usage,
        ),
        Rule(
            "certificate_trusted_by_stores",
            "chains that verify also verify in each listed trust store",
            {
                "stores": Param(
                    "trust_store_names",
                    'store names, e.g. ["mozilla", "apple", "android", "microsoft"]',
                    default=("mozilla", "apple", "android", "microsoft"),
                )
            },
            certificate_trusted_by_stores,
        ),
        Rule(
            "certificate_validity_limit",
            "publicly trusted certificates are not valid longer than the CA/B Forum allowed",
            {},
            certificate_validity_limit,
        ),
        Rule(
            "certificate_max_validity",
            "certificates are valid for at most `days` days",
            {"days": Param("int", "the longest acceptable validity period in days", default=398)},
            certificate_max_validity,
        ),
        Rule(
            "certificate_chain_complete",
            "served chains are complete: no intermediate certificate is missing",
            {},
            certificate_chain_complete,
        ),
        Rule(
            "certificate_chain_in_order",
            "served chains are in order, each certificate followed by its issuer",
            {},
            certificate_chain_in_order,
        ),
        Rule(
            "smb1_disabled",
            "the server does not accept SMB1",
            {},
            smb_rules.smb1_disabled,
            applies_to=("smb",),
        ),
        Rule(
            "smb_min_dialect",
            "the highest dialect the server picks is `min` or newer",
            {"min": Param("smb_dialect", 'the oldest acceptable highest dialect, e.g. "3.0"')},
            smb_rules.smb_min_dialect,
            applies_to=("smb",),
        ),
        Rule(
            "smb_ciphers_required",
            "SMB encryption is supported with one of `ciphers`",
            {"ciphers": Param("smb_ciphers", 'acceptable ciphers, e.g. ["AES-128-GCM"]')},
            smb_rules.smb_ciphers_required,
            applies_to=("smb",),
        ),
        Rule(
            "smb_encryption_required",
            "the server refuses sessions from clients that do not encrypt",
            {},
            smb_rules.smb_encryption_required,
            applies_to=("smb",),
        ),
        Rule(
            "smb_guest_refused",
            "an unknown user gets no session (no guest access)",
            {},
            smb_rules.smb_guest_refused,
            applies_to=("smb",),
        ),
        Rule(
            "smb_signing_required",
            "the server requires SMB signing",
            {},
            smb_rules.smb_signing_required,
            applies_to=("smb",),
        ),
        Rule(
            "ike_v1_disabled",
            "the responder does not accept IKEv1",
            {},
            vpn_rules.ike_v1_disabled,
            applies_to=("ike",),
        ),
        Rule(
            "ike_no_aggressive_psk",
            "no IKEv1 Aggressive Mode reply with a crackable PSK hash",
            {},
            vpn_rules.ike_no_aggressive_psk,
            applies_to=("ike",),
        ),
        Rule(
            "ike_algorithms_forbidden",
            "the responder accepts none of the listed transforms (either IKE version)",
            IKE_PARAMS,
            vpn_rules.ike_algorithms_forbidden,
            applies_to=("ike",),
        ),
        Rule(
            "ike_prefers_strong",
            "offered everything strongest first, it picks no listed transform when it accepts"
            " an unlisted one of the same kind",
            IKE_PARAMS,
            vpn_rules.ike_prefers_strong,
            applies_to=("ike",),
        ),
        Rule(
            "starttls_offered",
            "a STARTTLS target (smtp://, imap://, ...) accepts the upgrade to TLS",
            {},
            starttls_offered,
            applies_to=("starttls",),
        ),
        Rule(
            "sstp_requires_tls",
            "SSTP is not answered over plain TCP",
            {},
            vpn_rules.sstp_requires_tls,
            applies_to=("sstp",),
        ),
        Rule(
            "sstp_hash_required",
            "the Call Connect Ack offers crypto binding with `hash`",
            {"hash": Param("sstp_hash", 'e.g. "SHA256"')},
            vpn_rules.sstp_hash_required,
            applies_to=("sstp",),
        ),
        Rule(
            "sstp_hash_forbidden",
            "the Call Connect Ack does not offer crypto binding with `hash`",
            {"hash": Param("sstp_hash", 'e.g. "SHA1"')},
            vpn_rules.sstp_hash_forbidden,
            applies_to=("sstp",),
        ),
        Rule(
            "sstp_auth_forbidden",
            "PPP does not ask for any of the listed authentication protocols",
            {"protocols": Param("sstp_auth", 'e.g. ["PAP"]')},
            vpn_rules.sstp_auth_forbidden,
            applies_to=("sstp",),
        ),
        Rule(
            "capture_cleartext_credentials",
            "no credential of the listed kinds is seen in cleartext traffic (one per credential)",
            {
                "kinds": Param(
                    "credential_kinds",
                    'credential kinds, e.g. ["http-basic", "ftp-password"]',
                    default=pcap_rules.CREDENTIAL_KINDS,
                )
            },
            pcap_rules.judged_on_captures,
            applies_to=("pcap",),
            capture=pcap_rules.cleartext_credentials,
        ),
        Rule(
            "capture_cleartext_secrets",
            "no secret of the listed kinds (keys, tokens, cards) is seen in cleartext traffic",
            {
                "kinds": Param(
                    "secret_kinds",
                    'secret kinds, e.g. ["azure-sas", "aws-access-key"]',
                    default=pcap_rules.SECRET_KINDS,
                )
            },
            pcap_rules.judged_on_captures,
            applies_to=("pcap",),
            capture=pcap_rules.cleartext_secrets,
        ),
        Rule(
            "capture_cleartext_protocols",
            "no application data is carried by any of the listed cleartext protocols",
            {"protocols": Param("pcap_protocols", 'protocol names, e.g. ["http", "ftp"]')},
            pcap_rules.judged_on_captures,
            applies_to=("pcap",),
            capture=pcap_rules.cleartext_protocols,
        ),
        Rule(
            "capture_starttls_not_used",
            "no client stayed in the clear on a flow whose server offered STARTTLS",
            {},
            pcap_rules.judged_on_captures,
            applies_to=("pcap",),
            capture=pcap_rules.starttls_not_used,
        ),
        Rule(
            "capture_starttls_stripped",
            "no flow shows signs of STARTTLS stripping: a masked capability, a login in the"
            " clear after a refused upgrade, or after an offer missing on this flow only",
            {},
            pcap_rules.judged_on_captures,
            applies_to=("pcap",),
            capture=pcap_rules.starttls_stripped,
        ),
        Rule(
            "capture_tls_min_version",
            "no TLS connection in the capture negotiated a version older than `min`",
            {"min": Param("version", "the oldest acceptable version label, e.g. TLSv1.2")},
            pcap_rules.judged_on_captures,
            applies_to=("pcap",),
            capture=pcap_rules.tls_min_version,
        ),
        Rule(
            "capture_tls_suites_forbidden",
            "no TLS server in the capture chose a suite with any of the listed properties",
            {
                "properties": Param(
                    "suite_properties", "suite property names (see SUITE_PROPERTIES)"
                )
            },
            pcap_rules.judged_on_captures,
            applies_to=("pcap",),
            capture=pcap_rules.tls_suites_forbidden,
        ),
        Rule(
            "capture_tls_weak_certificate",
            "no TLS server in the capture served (in the clear) a leaf certificate with an RSA or"
            " DSA key under `min_rsa_bits`, an EC key under `min_ec_bits`, or a listed signature"
            " hash",
            {
                "min_rsa_bits": Param("int", "bits", default=2048),
                "min_ec_bits": Param("int", "bits", default=256),
                "hashes": Param("hashes", "hash names", default=("sha1", "md5")),
            },
            pcap_rules.judged_on_captures,
            applies_to=("pcap",),
            capture=pcap_rules.tls_weak_certificate,
        ),
        Rule(
            "capture_http_expected_https",
            "no plain HTTP request names a host under one of the listed suffixes",
            {
                "hosts": Param(
                    "host_suffixes",
                    'DNS name suffixes, e.g. [".core.windows.net"]',
                    default=(".core.windows.net", ".azure.net", ".amazonaws.com"),
                )
            },
            pcap_rules.judged_on_captures,
            applies_to=("pcap",),
            capture=pcap_rules.http_expected_https,
        ),
    )
}


# ---------------------------------------------------------------------------------------------
# Evaluation


def evaluate(profile: Profile, result: TargetResult, *, now: datetime) -> TargetResult:
    """Judge one target against a profile; return a copy with `findings` and `passed` set.

    A requirement applies to a kind of facts (`applies_to`: "tls", "smb", "ike", "sstp") and
    is judged on every target that has those facts: an SSTP target carries the TLS facts of its
    listener, so the TLS requirements judge it too. Facts gathered before an error are still
    judged, but a target whose status is error never passes. Findings are ordered by severity
    (most serious first), then by profile order.
    """
    findings = sorted(
        [*_findings(profile, result, now), *_incomplete(result)],
        key=lambda f: -severity_rank(f.severity),
    )
    threshold = severity_rank(profile.fail_on)
    passed = (
        result.status is Status.COMPLETED
        and not result.incomplete
        and all(severity_rank(f.severity) < threshold for f in findings)
    )
    # The letter grade is a verdict of its own: it never changes `passed`.
    graded = grade_target(result, now=now)
    return dataclasses.replace(
        result,
        findings=tuple(findings),
        passed=passed,
        grade=None if graded is None else graded.grade,
        grade_caps=() if graded is None else graded.caps,
    )


INCOMPLETE_ID = "PROBE-INCOMPLETE"


def _incomplete(result: TargetResult) -> Iterator[Finding]:
    """What could not be measured is not judged, so such a target never passes; say why."""
    incomplete = result.incomplete
    if not incomplete:
        return
    parts = [f"{what} ({why})" for what, why in sorted(incomplete.items())]
    yield Finding(
        id=INCOMPLETE_ID,
        severity="high",
        message="not everything could be measured: " + "; ".join(parts),
        evidence=", ".join(sorted(incomplete)),
        rationale="A requirement cannot be judged on facts that were not measured.",
        reference="docs/usage.md#per-target-errors",
    )


# The kinds of facts a requirement can apply to: TargetResult attributes.
FACT_KINDS: tuple[str, ...] = ("tls", "smb", "ike", "sstp", "starttls")


def _findings(profile: Profile, result: TargetResult, now: datetime) -> Iterator[Finding]:
    for req in profile.requirements:
        facts = getattr(result, req.applies_to, None) if req.applies_to in FACT_KINDS else None
        if facts is None:
            continue
        for message, evidence in RULES[req.rule].check(req.params, facts, now):
            yield Finding(
                id=req.id,
                severity=req.severity,
                message=message,
                evidence=evidence,
                rationale=req.rationale,
                reference=req.reference,
            )


# ---------------------------------------------------------------------------------------------
# Capture evaluation (probe pcap)


def evaluate_capture(profile: Profile, analysis: Analysis) -> CaptureVerdict:
    """Judge an offline capture analysis against the profile's "pcap" requirements.

    Findings are ordered by severity (most serious first), then by profile order. A capture
    that could not be read whole (damage, Ctrl-C) gets a PROBE-INCOMPLETE finding, as a target
    with unmeasured facts does, so it never passes: what was not read was not judged.
    """
    from probe.grading.pcap_verdict import CaptureFinding, CaptureVerdict

    findings: list[CaptureFinding] = []
    for req in profile.requirements:
        capture_check = RULES[req.rule].capture
        if req.applies_to != "pcap" or capture_check is None:
            continue
        for message, evidence, protocol, flow in capture_check(req.params, analysis):
            findings.append(
                CaptureFinding(req.id, req.severity, protocol, flow, message, evidence,
                               req.rationale, req.reference)
            )  # fmt: skip
    for message, evidence, _protocol, _flow in pcap_rules.damaged(analysis):
        findings.append(
            CaptureFinding(
                INCOMPLETE_ID,
                "high",
                None,
                None,
                message,
                evidence,
                "Traffic in a part of a capture that could not be read was not judged.",
                "docs/pcap.md#damaged-captures",
            )
        )
    findings.sort(key=lambda f: -severity_rank(f.severity))
    threshold = severity_rank(profile.fail_on)
    passed = all(severity_rank(f.severity) < threshold for f in findings)
    return CaptureVerdict(tuple(findings), passed)
