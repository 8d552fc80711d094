"""SSL Labs-style letter grade (A+ to F, plus T and M) of one endpoint's TLS facts.

A verdict, independent of the profile, following the SSL Server Rating Guide: three category
scores (protocol support 30 %, key exchange 30 %, cipher strength 40 %) give a letter; then
every cap rule whose condition the facts meet limits it. T (certificate not trusted) and M
(name mismatch) replace the letter. docs/grading.md gives each rule with its source, and the
SSL Labs rules probe cannot apply yet because it does not measure their facts.

Pure functions: no I/O, and "now" is passed in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING

from probe.model import (
    TLS_VERSION_LABELS,
    CertificateFacts,
    GradeCap,
    KeyExchangeParams,
    Status,
    TargetResult,
    TlsFacts,
)

if TYPE_CHECKING:
    from probe.codecs.tls.suites import CipherSuite

# Letters best first. A+ is never reached while HSTS is not measured (rule hsts_not_measured).
LETTERS: tuple[str, ...] = ("A+", "A", "A-", "B", "C", "D", "E", "F")
# Grades outside the A-F scale, which replace the letter: name mismatch first, then trust.
TRUST_GRADES: tuple[str, ...] = ("M", "T")
GRADES: tuple[str, ...] = (*LETTERS, *TRUST_GRADES)
_LETTER_RANK = {letter: i for i, letter in enumerate(LETTERS)}

# Rating guide, "Protocol Support"; SSL 2.0 is 0 % in the later wiki guide (20 % in 2009e).
PROTOCOL_SCORES: dict[str, int] = {
    "SSLv2": 0,
    "SSLv3": 80,
    "TLSv1.0": 90,
    "TLSv1.1": 95,
    "TLSv1.2": 100,
    "TLSv1.3": 100,
}
# Rating guide, "Criteria categories": protocol, key exchange, cipher strength (percent).
WEIGHTS: tuple[int, int, int] = (30, 30, 40)
# Rating guide, "Letter grade translation": the lowest score of each letter; under 20 is F.
LETTER_THRESHOLDS: tuple[tuple[int, str], ...] = (
    (80, "A"),
    (65, "B"),
    (50, "C"),
    (35, "D"),
    (20, "E"),
)

# Key exchange table of the guide as (upper bound exclusive, score), for finite-field sizes
# (RSA, DSA, DH); elliptic-curve sizes use testssl.sh's RSA-equivalent bounds
# (set_key_str_score). 4096 bits (or 225-bit curves) and more score 100.
_FINITE_FIELD_STEPS: tuple[tuple[int, int], ...] = ((512, 20), (1024, 40), (2048, 80), (4096, 90))
_ELLIPTIC_STEPS: tuple[tuple[int, int], ...] = ((110, 20), (123, 40), (163, 80), (225, 90))
_ELLIPTIC_KEYS = frozenset({"EC", "Ed25519", "Ed448"})
_FINITE_FIELD_KEYS = frozenset({"RSA", "DSA"})
# Scores at or under these cap the grade (2014 rule: under 1024 bits F, under 2048 bits B).
_INSECURE_KX_SCORE = 40
_WEAK_KX_SCORE = 80
_EXPORT_KX_SCORE = 40  # "exportable key exchange (limited to 512 bits)"
_ANONYMOUS_KX_SCORE = 0

# The guide's cipher table counts key length: 3DES is "168" there (its effective strength,
# 112 bits, is what CipherSuite.cipher_bits holds and what the under-112-bit rule uses).
_CIPHER_KEY_BITS: dict[str, int] = {"3DES_EDE_CBC": 168}
_MIN_CIPHER_BITS = 112

_MODERN_VERSIONS = ("TLSv1.2", "TLSv1.3")  # the versions current clients negotiate
_TLS11_AND_LATER = ("TLSv1.1", "TLSv1.2", "TLSv1.3")

# Incomplete-measurement keys that leave the grade unknown (a version's suites, or the
# certificate); the group enumeration ("TLSv1.3 groups") does not enter the grade.
_GRADE_INPUTS = frozenset({*TLS_VERSION_LABELS, "certificate"})


@dataclass(frozen=True)
class CapRule:
    """One cap rule: its id (GradeCap.rule), the best grade it allows, and its condition."""

    rule: str
    cap: str
    condition: str


# Every rule probe applies, most severe first; docs/grading.md has one row per id.
CAP_RULES: tuple[CapRule, ...] = (
    CapRule("name_mismatch", "M", "a certificate does not match the requested name"),
    CapRule("untrusted", "T", "a certificate chain does not verify against the trust store"),
    CapRule("expired", "T", "a certificate has expired"),
    CapRule("not_yet_valid", "T", "a certificate is not valid yet"),
    CapRule("sha1_signature", "T", "a certificate (leaf or intermediate) is signed with SHA-1"),
    CapRule("md5_signature", "F", "a certificate is signed with MD2, MD4 or MD5"),
    CapRule("sslv2", "F", "SSLv2 is accepted"),
    CapRule("sslv3_only", "F", "SSLv3 is the newest version accepted"),
    CapRule("export_suites", "F", "an export suite is accepted"),
    CapRule("anonymous_suites", "F", "an anonymous (unauthenticated) suite is accepted"),
    CapRule(
        "weak_cipher", "F", "a suite encrypting with under 112 bits (NULL, DES...) is accepted"
    ),
    CapRule("key_insecure", "F", "a certificate key is weaker than RSA 1024"),
    CapRule("kx_insecure", "F", "(EC)DHE parameters are weaker than RSA 1024"),
    CapRule("no_tls12", "C", "neither TLSv1.2 nor TLSv1.3 is accepted"),
    CapRule("rc4_modern", "C", "RC4 is accepted with TLSv1.1 or later"),
    CapRule(
        "block64_modern",
        "C",
        "a current client gets a 64-bit block cipher (3DES...) with TLSv1.1 or later",
    ),
    CapRule("sslv3_poodle", "C", "SSLv3 is accepted with a CBC suite (POODLE)"),
    CapRule("tls10_tls11", "B", "TLSv1.0 or TLSv1.1 is accepted"),
    CapRule("sslv3", "B", "SSLv3 is accepted (without CBC suites, and not alone)"),
    CapRule("rc4", "B", "RC4 is accepted, with TLSv1.0 or older only"),
    CapRule("key_weak", "B", "a certificate key is weaker than RSA 2048"),
    CapRule("kx_weak", "B", "(EC)DHE parameters are weaker than RSA 2048"),
    CapRule("no_forward_secrecy", "B", "a current client gets a suite without forward secrecy"),
    CapRule("no_aead", "B", "a current client gets a suite that is not AEAD"),
    CapRule("no_tls13", "A-", "TLSv1.3 is not accepted"),
    CapRule("hsts_not_measured", "A", "HSTS is not measured (no HTTPS target), and A+ needs it"),
    CapRule("hsts_missing", "A", "no valid HSTS header over HTTPS, and A+ needs one"),
    CapRule("hsts_short", "A", "HSTS max-age is under 6 months (15552000 s), too short for A+"),
)
_CAP_OF: dict[str, str] = {r.rule: r.cap for r in CAP_RULES}
_RULE_ORDER: dict[str, int] = {r.rule: i for i, r in enumerate(CAP_RULES)}


@dataclass(frozen=True)
class Scores:
    """The three category scores (0-100) of the rating guide."""

    protocol: float
    key_exchange: float
    cipher: float

    @property
    def total(self) -> float:
        """Weighted 30/30/40; a zero in any category makes the total zero."""
        parts = (self.protocol, self.key_exchange, self.cipher)
        if min(parts) == 0:
            return 0.0
        return sum(w * p for w, p in zip(WEIGHTS, parts, strict=True)) / 100


@dataclass(frozen=True)
class LetterGrade:
    grade: str  # one of GRADES
    caps: tuple[GradeCap, ...]  # most severe first
    scores: Scores
    score_letter: str  # the letter of the scores alone, before any cap


def letter_for_score(score: float) -> str:
    for floor, letter in LETTER_THRESHOLDS:
        if score >= floor:
            return letter
    return "F"


def grade_target(result: TargetResult, *, now: datetime) -> LetterGrade | None:
    """The grade of a target's TLS facts; None without facts, or when a version or the
    certificate could not be measured (a grade on part of the facts could be too good)."""
    facts = result.tls
    if facts is None:
        return None
    if result.status is Status.ERROR and result.facts is facts:
        return None  # the TLS check itself stopped early
    if any(key in _GRADE_INPUTS for key in facts.incomplete):
        return None
    return grade_tls(facts, now=now)


def grade_tls(facts: TlsFacts, *, now: datetime) -> LetterGrade | None:
    """Scores, caps and grade of complete TLS facts; None when no version is accepted, or no
    certificate was seen and nothing explains why (no anonymous suite)."""
    accepted = [v for v in TLS_VERSION_LABELS if facts.versions.get(v)]
    if not accepted:
        return None
    suites = _accepted_suites(facts)
    if not facts.certificates and not any(s.anonymous for _v, s in suites):
        return None
    scores = Scores(
        protocol=(PROTOCOL_SCORES[accepted[-1]] + PROTOCOL_SCORES[accepted[0]]) / 2,
        key_exchange=min(_key_exchange_scores(facts, suites), default=100),
        cipher=_cipher_score(facts, suites),
    )
    seen = _Seen(facts, suites, accepted, now)
    caps = sorted(_caps(seen), key=lambda c: _RULE_ORDER[c.rule])
    score_letter = letter_for_score(scores.total)
    # A+ is an A with nothing against it; every cap (HSTS's included) can only lower it.
    grade = "A+" if score_letter == "A" else score_letter
    for cap in caps:
        if cap.cap in _LETTER_RANK and _LETTER_RANK[cap.cap] > _LETTER_RANK[grade]:
            grade = cap.cap
    for trust_grade in TRUST_GRADES:
        if any(cap.cap == trust_grade for cap in caps):
            grade = trust_grade
            break
    return LetterGrade(grade, tuple(caps), scores, score_letter)


# ---------------------------------------------------------------------------------------------
# Facts helpers


@cache
def _suite_index() -> dict[str, CipherSuite]:
    from probe.codecs.tls.suites import SUITES

    return {s.name: s for s in SUITES.values()}


@cache
def _ssl2_bits() -> dict[str, int]:
    from probe.codecs.tls.suites import SSL2_CIPHER_BITS, SSL2_CIPHERS

    return {name: SSL2_CIPHER_BITS[code] for code, name in SSL2_CIPHERS.items()}


def _accepted_suites(facts: TlsFacts) -> list[tuple[str, CipherSuite]]:
    """(version, suite) for every accepted TLS suite probe's table knows (SSLv2 kinds aside)."""
    index = _suite_index()
    return [
        (label, index[name])
        for label in TLS_VERSION_LABELS
        for name in facts.cipher_suites.get(label, ())
        if name in index
    ]


def _by_version(pairs: Iterable[tuple[str, CipherSuite]]) -> str:
    """Evidence: "TLSv1.0: A, B; TLSv1.2: C" in version order."""
    grouped: dict[str, list[str]] = {}
    for label, suite in pairs:
        grouped.setdefault(label, []).append(suite.name)
    return "; ".join(f"{label}: {', '.join(names)}" for label, names in grouped.items())


def _count(pairs: Sequence[tuple[str, CipherSuite]]) -> int:
    return len({suite.name for _label, suite in pairs})


def _suites_word(n: int) -> str:
    return "1 suite" if n == 1 else f"{n} suites"


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _cert_label(cert: CertificateFacts) -> str:
    return f"certificate ({cert.key_type} {cert.key_bits})"


def _cert_evidence(cert: CertificateFacts) -> str:
    return f"subject {cert.subject}; sha256 {cert.sha256_fingerprint[:16]}"


# ---------------------------------------------------------------------------------------------
# Scores


def _strength_score(bits: int, *, elliptic: bool) -> int:
    for bound, score in _ELLIPTIC_STEPS if elliptic else _FINITE_FIELD_STEPS:
        if bits < bound:
            return score
    return 100


def _cert_key_score(cert: CertificateFacts) -> int | None:
    if cert.key_type in _ELLIPTIC_KEYS:
        return _strength_score(cert.key_bits, elliptic=True)
    if cert.key_type in _FINITE_FIELD_KEYS:
        return _strength_score(cert.key_bits, elliptic=False)
    return None  # a key type the guide does not size


def _kx_score(kx: KeyExchangeParams) -> int | None:
    if kx.bits <= 0:
        return None  # a group whose size probe does not know
    return _strength_score(kx.bits, elliptic=kx.kind != "DHE")


def _key_exchange_scores(
    facts: TlsFacts, suites: Sequence[tuple[str, CipherSuite]]
) -> Iterator[int]:
    """What the key-exchange score is the weakest of: certificate keys, the (EC)DHE parameters
    the server chose, and export or anonymous key exchange when a suite has it."""
    for cert in facts.certificates:
        score = _cert_key_score(cert)
        if score is not None:
            yield score
    for kx in facts.key_exchange.values():
        score = _kx_score(kx)
        if score is not None:
            yield score
    if any(s.export for _v, s in suites):
        yield _EXPORT_KX_SCORE
    if any(s.anonymous for _v, s in suites):
        yield _ANONYMOUS_KX_SCORE


def _cipher_bits_for_score(suite: CipherSuite) -> int:
    return _CIPHER_KEY_BITS.get(suite.cipher, suite.cipher_bits)


def _bits_score(bits: int) -> int:
    if bits <= 0:
        return 0
    if bits < 128:
        return 20
    if bits < 256:
        return 80
    return 100


def _cipher_score(facts: TlsFacts, suites: Sequence[tuple[str, CipherSuite]]) -> float:
    """(strongest + weakest) / 2 over every accepted suite, SSLv2 cipher kinds included."""
    bits = [_cipher_bits_for_score(s) for _v, s in suites]
    ssl2 = _ssl2_bits()
    bits += [ssl2[name] for name in facts.cipher_suites.get("SSLv2", ()) if name in ssl2]
    if not bits:
        return 0
    return (_bits_score(max(bits)) + _bits_score(min(bits))) / 2


# ---------------------------------------------------------------------------------------------
# What a current client negotiates


def _weak_bulk(suite: CipherSuite) -> bool:
    return suite.cipher.startswith("RC4") or suite.block_bits == 64


def _client_rank(suite: CipherSuite) -> tuple[bool, bool, bool, bool, int]:
    """How a current client orders its offer: forward-secret AEAD first, weak ciphers last."""
    return (
        suite.forward_secret and suite.aead,
        suite.forward_secret,
        suite.aead,
        not _weak_bulk(suite),
        suite.cipher_bits,
    )


def _client_pick(facts: TlsFacts, label: str) -> CipherSuite | None:
    """The suite a client offering every usable suite (best first) gets at this version: the
    server's first choice when it enforces its order, else the client's best. SSL Labs judges
    forward secrecy, AEAD and 3DES by what its reference clients negotiate; probe has no
    client simulation, so this one client stands in for them."""
    index = _suite_index()
    usable = [
        index[name]
        for name in facts.cipher_suites.get(label, ())
        if name in index
        and not index[name].anonymous
        and not index[name].export
        and index[name].cipher != "NULL"
    ]
    if not usable:
        return None
    if facts.server_preference.get(label) is True:
        return usable[0]  # cipher_suites holds the server's order then
    return max(usable, key=_client_rank)


def _client_picks(facts: TlsFacts, labels: Iterable[str]) -> list[tuple[str, CipherSuite]]:
    picks = []
    for label in labels:
        if facts.versions.get(label):
            pick = _client_pick(facts, label)
            if pick is not None:
                picks.append((label, pick))
    return picks


# ---------------------------------------------------------------------------------------------
# Caps


@dataclass(frozen=True)
class _Seen:
    """What the cap rules look at."""

    facts: TlsFacts
    suites: Sequence[tuple[str, CipherSuite]]  # (version, suite) for every accepted suite
    accepted: Sequence[str]  # accepted version labels, oldest first
    now: datetime

    def where(self, test: Callable[[CipherSuite], bool]) -> list[tuple[str, CipherSuite]]:
        return [(v, s) for v, s in self.suites if test(s)]


def _cap(rule: str, message: str, evidence: str | None = None) -> GradeCap:
    return GradeCap(rule=rule, cap=_CAP_OF[rule], message=message, evidence=evidence)


def _caps(seen: _Seen) -> Iterator[GradeCap]:
    for check in (_certificate_caps, _protocol_caps, _suite_caps, _client_caps, _key_caps):
        yield from check(seen)
    yield from _hsts_caps(seen.facts)


# SSL Labs (2014 changes): A+ needs HSTS with a long max-age; its assessments read "long" as
# at least 6 months (180 days).
HSTS_A_PLUS_MAX_AGE = 15552000


def _hsts_caps(facts: TlsFacts) -> Iterator[GradeCap]:
    """A+ needs HSTS (max-age of 6 months or more) measured on the HTTPS side."""
    if facts.https_status is None:
        yield _cap(
            "hsts_not_measured",
            "HSTS is not measured (only https:// targets and hosts on 443 are asked over HTTP),"
            " so A+ (which needs it) is not given",
        )
    elif facts.hsts is None:
        why = f" ({facts.hsts_problem})" if facts.hsts_problem else ""
        yield _cap("hsts_missing", f"no valid HSTS header{why}, so no A+", facts.hsts_header)
    elif facts.hsts.max_age < HSTS_A_PLUS_MAX_AGE:
        yield _cap(
            "hsts_short",
            f"HSTS max-age is {facts.hsts.max_age} s, under the 6 months A+ needs",
            facts.hsts_header,
        )


_TRAILING_HASH = re.compile(r"\(([A-Za-z0-9-]+)\)\s*$")
_MD_HASHES = frozenset({"md2", "md4", "md5"})


def _certificate_caps(seen: _Seen) -> Iterator[GradeCap]:
    now = _utc(seen.now)
    for cert in seen.facts.certificates:
        label = _cert_label(cert)
        if cert.name_matches is False:
            san = ", ".join(cert.san) if cert.san else "(none)"
            yield _cap(
                "name_mismatch",
                f"{label} does not match the requested name",
                f"subject {cert.subject}; SAN {san}",
            )
        if not cert.trusted:
            why = cert.trust_error or ("self-signed" if cert.self_signed else "no reason given")
            yield _cap("untrusted", f"{label} is not trusted: {why}", _cert_evidence(cert))
        # days_to_expiry was computed at scan time, which may be before "now"
        if _utc(cert.not_after) <= now or cert.days_to_expiry < 0:
            when = f"{_utc(cert.not_after):%Y-%m-%d}"
            yield _cap("expired", f"{label} expired on {when}", _cert_evidence(cert))
        if _utc(cert.not_before) > now:
            when = f"{_utc(cert.not_before):%Y-%m-%d}"
            yield _cap("not_yet_valid", f"{label} is not valid before {when}", _cert_evidence(cert))
        weak = _weak_signatures(cert)
        md = [entry for entry, digest in weak if digest in _MD_HASHES]
        sha1 = [entry for entry, digest in weak if digest not in _MD_HASHES]
        if md:
            yield _cap("md5_signature", f"{label}: chain signed with MD2/MD4/MD5", "; ".join(md))
        if sha1:
            yield _cap("sha1_signature", f"{label}: chain signed with SHA-1", "; ".join(sha1))


def _weak_signatures(cert: CertificateFacts) -> list[tuple[str, str]]:
    """(entry, hash) for each weakly signed certificate of the chain, leaf included. The codec
    lists only MD2/MD4/MD5/SHA-1 there; an entry whose hash cannot be read counts as SHA-1."""
    found: dict[str, str] = {}
    for entry in cert.chain_weak_signatures:
        match = _TRAILING_HASH.search(entry)
        found[entry] = match.group(1).lower() if match else "sha1"
    leaf_hash = (cert.signature_hash or "").lower()
    if leaf_hash in (*_MD_HASHES, "sha1"):
        found.setdefault(f"{cert.subject} ({leaf_hash})", leaf_hash)
    return list(found.items())


def _protocol_caps(seen: _Seen) -> Iterator[GradeCap]:
    accepted = seen.accepted
    offered = "accepted: " + ", ".join(accepted)
    if "SSLv2" in accepted:
        yield _cap("sslv2", "accepts SSLv2 (DROWN; no downgrade protection)", "SSLv2")
    # One SSLv3 rule, the most severe that applies.
    if accepted[-1] == "SSLv3":
        yield _cap("sslv3_only", "SSLv3 is the newest version accepted", offered)
    elif "SSLv3" in accepted:
        cbc = [(v, s) for v, s in seen.where(_cbc) if v == "SSLv3"]
        if cbc:
            message = f"accepts SSLv3 with {_suites_word(_count(cbc))} in CBC mode (POODLE)"
            yield _cap("sslv3_poodle", message, _by_version(cbc))
        else:
            yield _cap("sslv3", "accepts SSLv3", "SSLv3")
    if not any(v in accepted for v in _MODERN_VERSIONS):
        yield _cap("no_tls12", "accepts neither TLSv1.2 nor TLSv1.3", offered)
    old = [v for v in ("TLSv1.0", "TLSv1.1") if v in accepted]
    if old:
        message = f"accepts {' and '.join(old)} (deprecated by RFC 8996)"
        yield _cap("tls10_tls11", message, ", ".join(old))
    if "TLSv1.3" not in accepted:
        yield _cap("no_tls13", "does not accept TLSv1.3", offered)


def _cbc(suite: CipherSuite) -> bool:
    return "CBC" in suite.cipher.split("_")


def _suite_caps(seen: _Seen) -> Iterator[GradeCap]:
    export = seen.where(lambda s: s.export)
    if export:
        message = f"accepts {_suites_word(_count(export))} with export-grade crypto (FREAK, Logjam)"
        yield _cap("export_suites", message, _by_version(export))
    anonymous = seen.where(lambda s: s.anonymous)
    if anonymous:
        message = f"accepts {_suites_word(_count(anonymous))} without server authentication"
        yield _cap("anonymous_suites", message, _by_version(anonymous))
    weak = seen.where(lambda s: s.cipher_bits < _MIN_CIPHER_BITS)
    ssl2 = _ssl2_bits()
    weak_ssl2 = [
        n for n in seen.facts.cipher_suites.get("SSLv2", ()) if ssl2.get(n, 0) < _MIN_CIPHER_BITS
    ]
    if weak or weak_ssl2:
        evidence = [_by_version(weak)] if weak else []
        evidence += [f"SSLv2: {', '.join(weak_ssl2)}"] if weak_ssl2 else []
        count = _suites_word(_count(weak) + len(weak_ssl2))
        message = f"accepts {count} encrypting with under {_MIN_CIPHER_BITS} bits"
        yield _cap("weak_cipher", message, "; ".join(evidence))
    # One RC4 rule: with TLS 1.1 or later it is C, else B.
    rc4 = seen.where(lambda s: s.cipher.startswith("RC4"))
    rc4_modern = [(v, s) for v, s in rc4 if v in _TLS11_AND_LATER]
    if rc4_modern:
        versions = " and ".join(dict.fromkeys(v for v, _s in rc4_modern))
        yield _cap("rc4_modern", f"accepts RC4 with {versions}", _by_version(rc4_modern))
    elif rc4:
        yield _cap("rc4", "accepts RC4 (with TLSv1.0 or older only)", _by_version(rc4))


def _client_caps(seen: _Seen) -> Iterator[GradeCap]:
    """SSL Labs judges these by what clients that could do better negotiate (2017, 2018)."""
    block64 = [(v, s) for v, s in _client_picks(seen.facts, _TLS11_AND_LATER) if s.block_bits == 64]
    if block64:
        message = f"a current client gets a 64-bit block cipher (SWEET32) with {block64[0][0]}"
        yield _cap("block64_modern", message, _by_version(block64))
    # The versions current clients use; an older server is judged at its newest version.
    modern = [v for v in _MODERN_VERSIONS if v in seen.accepted] or [seen.accepted[-1]]
    picks = _client_picks(seen.facts, modern)
    no_fs = [(v, s) for v, s in picks if not s.forward_secret]
    if no_fs:
        message = f"a current client gets no forward secrecy with {no_fs[0][0]}"
        yield _cap("no_forward_secrecy", message, _by_version(no_fs))
    no_aead = [(v, s) for v, s in picks if not s.aead]
    if no_aead:
        message = f"a current client gets no AEAD suite with {no_aead[0][0]}"
        yield _cap("no_aead", message, _by_version(no_aead))


def _key_caps(seen: _Seen) -> Iterator[GradeCap]:
    for cert in seen.facts.certificates:
        score = _cert_key_score(cert)
        if score is None or score > _WEAK_KX_SCORE:
            continue
        insecure = score <= _INSECURE_KX_SCORE
        message = (
            f"certificate {cert.key_type} key of {cert.key_bits} bits is weaker than"
            f" RSA {1024 if insecure else 2048}"
        )
        yield _cap("key_insecure" if insecure else "key_weak", message, _cert_evidence(cert))
    weak: dict[tuple[int, str, int, str | None], list[str]] = {}
    for suite, kx in seen.facts.key_exchange.items():
        score = _kx_score(kx)
        if score is not None and score <= _WEAK_KX_SCORE:
            weak.setdefault((score, kx.kind, kx.bits, kx.group), []).append(suite)
    for (score, kind, bits, group), names in sorted(weak.items(), key=lambda item: item[0][:1]):
        insecure = score <= _INSECURE_KX_SCORE
        named = f" ({group})" if group else ""
        rsa = 1024 if insecure else 2048
        message = f"{kind} parameters of {bits} bits{named} are weaker than RSA {rsa}"
        yield _cap("kx_insecure" if insecure else "kx_weak", message, ", ".join(sorted(names)))
