"""Known TLS vulnerabilities, derived from facts the TLS check already measured (issue 6).

No connection is made here: each verdict follows from TlsFacts (versions, accepted suites and
the suite table, key exchange parameters, echoed extensions). These are still facts, not
verdicts: "accepts TLS 1.0 with CBC suites" is true of the endpoint whatever a profile thinks
of it, so the module sits with the checks and both the JSON report (``tls.vulnerabilities``)
and the grading rule ``vulnerabilities_forbidden`` read it.

Each value is True (exposed), False (not exposed) or None (cannot be told: the measurement it
needs failed, see ``TlsFacts.incomplete``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from typing import TYPE_CHECKING

from probe.model import TlsFacts

if TYPE_CHECKING:
    from probe.codecs.tls.suites import CipherSuite

# The --deep names (the module that runs sslyze imports it lazily; this one does not).
DEEP_VULNERABILITIES: tuple[str, ...] = (
    "heartbleed",
    "ccs_injection",
    "robot",
    "client_renegotiation",
    "fallback_scsv",
)

# Names as in the JSON report, in report order.
DERIVED_VULNERABILITIES: tuple[str, ...] = (
    "sweet32",
    "logjam",
    "freak",
    "rc4",
    "poodle",
    "beast",
    "drown",
    "crime",
    "insecure_renegotiation",
)

# What each one means, for docs, rule messages and the profile loader.
DESCRIPTIONS: dict[str, str] = {
    "sweet32": "SWEET32: a 64-bit block cipher suite is accepted (3DES, DES, IDEA, RC2)",
    "logjam": "LOGJAM: DHE with a prime under 2048 bits, or an export DH suite, is accepted",
    "freak": "FREAK: an export RSA suite is accepted",
    "rc4": "RC4: an RC4 suite is accepted",
    "poodle": "POODLE exposure: SSL 3.0 is accepted with a CBC suite",
    "beast": "BEAST exposure: SSL 3.0 or TLS 1.0 is accepted with a CBC suite",
    "drown": "DROWN exposure: SSL 2.0 is accepted on the same endpoint (same key)",
    "crime": "CRIME: TLS-level compression is accepted",
    "insecure_renegotiation": "insecure renegotiation: no secure renegotiation indication"
    " (RFC 5746)",
    # --deep (probe.checks.tls_deep)
    "heartbleed": "Heartbleed: the server leaks memory in heartbeat answers (CVE-2014-0160)",
    "ccs_injection": "OpenSSL CCS injection: an early ChangeCipherSpec is accepted (CVE-2014-0224)",
    "robot": "ROBOT: the server is an RSA decryption (Bleichenbacher) oracle",
    "client_renegotiation": "client-initiated renegotiation is accepted (a denial-of-service"
    " lever)",
    "fallback_scsv": "no downgrade protection: TLS_FALLBACK_SCSV is not honoured (RFC 7507)",
}
KNOWN_VULNERABILITIES: tuple[str, ...] = (*DERIVED_VULNERABILITIES, *DEEP_VULNERABILITIES)

_TLS_UP_TO_12 = ("SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2")
_ALL_LABELS = ("SSLv2", *_TLS_UP_TO_12, "TLSv1.3")
_DH_MIN_BITS = 2048


@cache
def _suites_by_name() -> dict[str, CipherSuite]:
    from probe.codecs.tls.suites import SUITES

    return {s.name: s for s in SUITES.values()}


def _cbc(suite: CipherSuite) -> bool:
    return "CBC" in suite.cipher.split("_")


def _accepted(facts: TlsFacts, labels: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(version label, suite name) for every accepted suite in the given versions."""
    for label in labels:
        for name in facts.cipher_suites.get(label, ()):
            yield label, name


def _unmeasured(facts: TlsFacts, labels: tuple[str, ...]) -> bool:
    """A version that matters here was not measured (its probe failed)."""
    return any(label in facts.incomplete for label in labels)


def _from_suites(
    facts: TlsFacts,
    labels: tuple[str, ...],
    tls_test: Callable[[CipherSuite], bool],
    ssl2_test: Callable[[str], bool] = lambda name: False,
) -> bool | None:
    """True when an accepted suite passes the test; None when not but a version is unknown."""
    table = _suites_by_name()
    for label, name in _accepted(facts, labels):
        suite = table.get(name)
        if (suite is not None and tls_test(suite)) or (label == "SSLv2" and ssl2_test(name)):
            return True
    return None if _unmeasured(facts, labels) else False


def sweet32(facts: TlsFacts) -> bool | None:
    # SSL 2.0's DES, 3DES, RC2 and IDEA kinds are 64-bit block ciphers too.
    return _from_suites(
        facts,
        _ALL_LABELS,
        lambda s: s.block_bits == 64,
        lambda n: any(c in n for c in ("_DES_", "_RC2_", "_IDEA_")),
    )


def logjam(facts: TlsFacts) -> bool | None:
    if any(kx.kind == "DHE" and 0 < kx.bits < _DH_MIN_BITS for kx in facts.key_exchange.values()):
        return True
    export_dh = _from_suites(facts, _TLS_UP_TO_12, lambda s: s.export and s.kx in ("DHE", "DH"))
    if export_dh is not False:
        return export_dh
    # A DHE suite is accepted but no prime of the server's was read: cannot be told.
    seen_prime = any(kx.kind == "DHE" for kx in facts.key_exchange.values())
    dhe = _from_suites(facts, _TLS_UP_TO_12, lambda s: s.kx in ("DHE", "DHE_PSK"))
    return None if dhe and not seen_prime else False


def freak(facts: TlsFacts) -> bool | None:
    return _from_suites(facts, _TLS_UP_TO_12, lambda s: s.export and s.kx == "RSA")


def rc4(facts: TlsFacts) -> bool | None:
    return _from_suites(
        facts, _ALL_LABELS, lambda s: s.cipher.startswith("RC4"), lambda n: "_RC4_" in n
    )


def poodle(facts: TlsFacts) -> bool | None:
    return _from_suites(facts, ("SSLv3",), _cbc)


def beast(facts: TlsFacts) -> bool | None:
    return _from_suites(facts, ("SSLv3", "TLSv1.0"), _cbc)


def drown(facts: TlsFacts) -> bool | None:
    if facts.versions.get("SSLv2"):
        return True
    return None if _unmeasured(facts, ("SSLv2",)) else False


def _no_tls_up_to_12(facts: TlsFacts) -> bool:
    """Measured, and no SSL 3.0 - TLS 1.2 accepted: nothing to compress or renegotiate."""
    return not _unmeasured(facts, _TLS_UP_TO_12) and not any(
        facts.versions.get(v) for v in _TLS_UP_TO_12
    )


def crime(facts: TlsFacts) -> bool | None:
    ext = facts.extensions
    if ext is None or ext.compression is None:
        return False if _no_tls_up_to_12(facts) else None
    return ext.compression != "null"


def insecure_renegotiation(facts: TlsFacts) -> bool | None:
    ext = facts.extensions
    if ext is not None:
        indicated = ext.secure_renegotiation
        if indicated is None:
            indicated = ext.secure_renegotiation_scsv
        if indicated is not None:
            return not indicated
    # TLS 1.3 has no renegotiation; SSL 2.0 (DROWN's concern) has none either.
    return False if _no_tls_up_to_12(facts) else None


_CHECKS: dict[str, Callable[[TlsFacts], bool | None]] = {
    "sweet32": sweet32,
    "logjam": logjam,
    "freak": freak,
    "rc4": rc4,
    "poodle": poodle,
    "beast": beast,
    "drown": drown,
    "crime": crime,
    "insecure_renegotiation": insecure_renegotiation,
}


def vulnerabilities(facts: TlsFacts) -> dict[str, bool | None]:
    """Every derived verdict, keyed and ordered as DERIVED_VULNERABILITIES, then --deep's
    verdicts when they were measured (DEEP_VULNERABILITIES order)."""
    out = {name: _CHECKS[name](facts) for name in DERIVED_VULNERABILITIES}
    for name in DEEP_VULNERABILITIES:
        if name in facts.deep_vulnerabilities:
            out[name] = facts.deep_vulnerabilities[name]
    return out
