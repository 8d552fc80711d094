"""Chain trust: does a served chain lead to a trusted root, valid at a given moment?

Only the path is checked here (signatures, issuers, validity dates, CA constraints); whether the
leaf is valid for the host name is a separate fact (probe.codecs.x509.name_matches).

The trust store is the system bundle (found through `ssl.get_default_verify_paths()`) or, when a
CA file is given, only that file. Parsing the system bundle costs tens of milliseconds, so each
file's certificates are parsed once per process (thread-safe) and kept. Every verification then
builds its own small X509Store from them (well under a millisecond): OpenSSL only honours the
first verification time set on a store, so a shared store cannot serve different "now"s.

`assess_chain` also checks the chain against the public stores sslyze ships (Mozilla, Apple,
Android, Microsoft, Java), each parsed only when first needed. Measured on this machine:
about 130 ms to parse all five once per process, then a store per verification holds only the
anchors whose names the chain can reach (an index by subject), so seven verdicts cost about as
much as one.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import importlib.util
import os
import ssl
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from OpenSSL import crypto

from probe.model import TRUST_STORE_NAMES

__all__ = [
    "PUBLIC_STORES",
    "STORE_NAMES",
    "ChainTrust",
    "TrustStoreError",
    "assess_chain",
    "clear_store_cache",
    "verify_chain",
]

# Store name -> PEM file in sslyze's trust_stores/pem_files (from the trust_stores_observatory
# project). "java" is Oracle's store, the one sslyze's own Java verdict uses.
PUBLIC_STORES: dict[str, str] = {
    "mozilla": "mozilla_nss.pem",
    "apple": "apple.pem",
    "android": "google_aosp.pem",
    "microsoft": "microsoft_windows.pem",
    "java": "oracle_java.pem",
}
# Every name CertificateFacts.trust_stores can hold ("custom": the --ca-file).
STORE_NAMES: tuple[str, ...] = TRUST_STORE_NAMES  # tests keep it equal to the stores here

# OpenSSL verify errors that mean "no issuer found for some certificate": the path could not be
# built from the served certificates plus the store (x509_vfy.h values, stable since 0.9.8).
_ISSUER_MISSING = frozenset({2, 20, 21})  # UNABLE_TO_GET_ISSUER_CERT{,_LOCALLY}, ..._LEAF_SIGNATURE

# Same caps as probe.codecs.x509: a hostile server must not make us parse megabytes.
_MAX_CHAIN_CERTS = 10
_MAX_CHAIN_BYTES = 1 << 20


class TrustStoreError(RuntimeError):
    """The trust store could not be loaded (missing or unreadable CA file)."""


class _Anchors:
    """One bundle's trust anchors, indexed by DER subject name and parsed only when a chain
    names them: OpenSSL's parse costs ~0.2 ms per certificate, and the five public stores hold
    ~850 of them, while a chain reaches one or two."""

    def __init__(self, ders: Sequence[bytes], capath: str | None) -> None:
        self.ders = tuple(ders)
        self.capath = capath  # a hashed directory OpenSSL looks up lazily (system store only)
        index: dict[bytes, list[int]] = {}
        for position, der in enumerate(self.ders):
            subject = _subject_name_der(der)
            if subject is not None:  # an unreadable entry must not cost the whole store
                index.setdefault(subject, []).append(position)
        self.by_subject: Mapping[bytes, tuple[int, ...]] = {
            name: tuple(positions) for name, positions in index.items()
        }
        self._parsed: dict[int, crypto.X509 | None] = {}
        self._lock = threading.Lock()

    def with_subject(self, subject: bytes) -> list[crypto.X509]:
        return [c for p in self.by_subject.get(subject, ()) if (c := self._cert(p)) is not None]

    @property
    def certs(self) -> tuple[crypto.X509, ...]:
        """Every anchor, parsed (tests and diagnostics; verification uses with_subject)."""
        found = (self._cert(p) for positions in self.by_subject.values() for p in positions)
        return tuple(c for c in found if c is not None)

    def _cert(self, position: int) -> crypto.X509 | None:
        with self._lock:
            if position not in self._parsed:
                try:
                    cert = crypto.load_certificate(crypto.FILETYPE_ASN1, self.ders[position])
                except crypto.Error:
                    cert = None
                self._parsed[position] = cert
            return self._parsed[position]


def _der_header(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at offset (X.690 8.1.2-8.1.3)."""
    if offset + 2 > len(data):
        raise ValueError("truncated")
    tag, first = data[offset], data[offset + 1]
    start = offset + 2
    if first & 0x80:
        count = first & 0x7F
        if not 1 <= count <= 4 or start + count > len(data):
            raise ValueError("bad length")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    else:
        length = first
    if start + length > len(data):
        raise ValueError("truncated")
    return tag, start, start + length


def _subject_name_der(der: bytes) -> bytes | None:
    """The subject Name's DER encoding (RFC 5280 4.1: Certificate -> TBSCertificate -> subject,
    after the optional [0] version, serialNumber, signature, issuer and validity), as
    X509Name.der() gives it for a parsed certificate; None when the bytes do not fit."""
    try:
        _, cert_start, _ = _der_header(der, 0)
        _, position, tbs_end = _der_header(der, cert_start)
        tag, _, end = _der_header(der, position)
        if tag == 0xA0:  # version
            position = end
        for _ in range(4):  # serialNumber, signature, issuer, validity
            _, _, position = _der_header(der, position)
            if position > tbs_end:
                return None
        tag, _, end = _der_header(der, position)
    except ValueError:
        return None
    return der[position:end] if tag == 0x30 and end <= tbs_end else None


@dataclass(frozen=True)
class ChainTrust:
    """Verdicts on one served chain. `trusted`/`trust_error` are verify_chain's (system store,
    or only the CA file when one is given); `stores` has one verdict per store that loaded."""

    trusted: bool
    trust_error: str | None
    stores: Mapping[str, bool]
    # The served certificates (in any order) plus some store's anchor form a path: no issuer is
    # missing. False also when the top issuer is a private root that no store holds: without
    # fetching (AIA) that cannot be told from a missing intermediate.
    complete: bool


# Keys: None (system), a CA file path, or "public:NAME".
_anchors: dict[str | None, _Anchors] = {}
_anchors_lock = threading.Lock()

_PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"
_PEM_END = b"-----END CERTIFICATE-----"


def verify_chain(
    chain_der: Sequence[bytes], *, now: datetime, ca_file: str | None = None
) -> tuple[bool, str | None]:
    """(True, None) when the served chain verifies at `now`; otherwise (False, short reason).

    The leaf is chain_der[0]; the rest are untrusted intermediates in any order. With `ca_file`,
    only the certificates in that PEM file are trusted; otherwise the system trust store.
    Raises TrustStoreError only when the store itself cannot be loaded.
    """
    certs = _parse_chain(chain_der)
    if isinstance(certs, str):
        return False, certs
    trusted, why, _code = _verify(certs, now=now, store_key=ca_file)
    return trusted, why


def assess_chain(
    chain_der: Sequence[bytes],
    *,
    now: datetime,
    ca_file: str | None = None,
    public_stores: bool = True,
) -> ChainTrust:
    """verify_chain's verdict plus one per trust store (system, the public stores, the CA file).

    Raises TrustStoreError only when the store behind `trusted` cannot be loaded; a public
    store that cannot be found (sslyze missing) is left out of `stores`.
    """
    certs = _parse_chain(chain_der)
    if isinstance(certs, str):
        return ChainTrust(False, certs, {}, complete=False)
    results: dict[str, tuple[bool, str | None, int | None]] = {}
    if ca_file is not None:
        results["custom"] = _verify(certs, now=now, store_key=ca_file)
    try:
        results["system"] = _verify(certs, now=now, store_key=None)
    except TrustStoreError:
        if ca_file is None:
            raise
    if public_stores:
        for name in PUBLIC_STORES:
            with contextlib.suppress(TrustStoreError):
                results[name] = _verify(certs, now=now, store_key=f"public:{name}")
    trusted, why, _code = results["custom" if ca_file is not None else "system"]
    complete = any(code not in _ISSUER_MISSING for _ok, _why, code in results.values())
    return ChainTrust(
        trusted=trusted,
        trust_error=why,
        stores={name: results[name][0] for name in STORE_NAMES if name in results},
        complete=complete,
    )


def _parse_chain(chain_der: Sequence[bytes]) -> list[crypto.X509] | str:
    """The served certificates OpenSSL can use, or why there are none."""
    if not chain_der:
        return "no certificate"
    certs: list[crypto.X509] = []
    total = 0
    for der in chain_der[:_MAX_CHAIN_CERTS]:
        total += len(der)
        if total > _MAX_CHAIN_BYTES:
            break
        try:
            certs.append(crypto.load_certificate(crypto.FILETYPE_ASN1, bytes(der)))
        except crypto.Error:
            if not certs:
                return "unparsable certificate"
            # An unparsable intermediate is simply not usable for path building.
    if not certs:
        return "certificate too large"
    return certs


def _verify(
    certs: list[crypto.X509], *, now: datetime, store_key: str | None
) -> tuple[bool, str | None, int | None]:
    """(verified, reason, OpenSSL error code or None) against one store."""
    store = _store_at(_anchors_for(store_key), now, certs)
    context = crypto.X509StoreContext(store, certs[0], certs[1:])
    try:
        context.verify_certificate()
    except crypto.X509StoreContextError as exc:
        code = exc.errors[0] if exc.errors and isinstance(exc.errors[0], int) else None
        return False, str(exc) or "verification failed", code
    return True, None, None


def clear_store_cache() -> None:
    """Forget the parsed trust anchors (tests; or after the system bundle changed)."""
    with _anchors_lock:
        _anchors.clear()


def _anchors_for(ca_file: str | None) -> _Anchors:
    with _anchors_lock:
        cached = _anchors.get(ca_file)
        if cached is None:
            cached = _load_anchors(ca_file)
            _anchors[ca_file] = cached
        return cached


def _load_anchors(key: str | None) -> _Anchors:
    if key is not None and key.startswith("public:"):
        anchors = _Anchors(_read_pem_bundle(_public_store_path(key.removeprefix("public:"))), None)
        if not anchors.by_subject:
            raise TrustStoreError(f"no certificates in the {key} store")
        return anchors
    if key is not None:
        anchors = _Anchors(_read_pem_bundle(key), None)
        if not anchors.by_subject:
            raise TrustStoreError(f"no certificates in {key}")
        return anchors
    paths = ssl.get_default_verify_paths()
    ders = _read_pem_bundle(paths.cafile) if paths.cafile is not None else ()
    anchors = _Anchors(ders, paths.capath)
    if not anchors.by_subject and paths.capath is None:
        raise TrustStoreError("no system trust store found")
    return anchors


def _public_store_path(name: str) -> str:
    # find_spec locates the package without importing it (importing sslyze costs ~0.5 s).
    spec = importlib.util.find_spec("sslyze")
    if spec is None or spec.origin is None:
        raise TrustStoreError("sslyze (which ships the public trust stores) is missing")
    base = os.path.dirname(spec.origin)
    return os.path.join(base, "plugins", "certificate_info", "trust_stores", "pem_files",
                        PUBLIC_STORES[name])  # fmt: skip


def _read_pem_bundle(path: str) -> tuple[bytes, ...]:
    """The DER bytes of every CERTIFICATE block (RFC 7468) in a PEM file."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise TrustStoreError(f"cannot read {path}: {exc.strerror or exc}") from exc
    ders: list[bytes] = []
    position = 0
    while (start := data.find(_PEM_BEGIN, position)) >= 0:
        end = data.find(_PEM_END, start)
        if end < 0:
            break
        position = end + len(_PEM_END)
        try:
            ders.append(base64.b64decode(data[start + len(_PEM_BEGIN) : end]))
        except binascii.Error:
            continue  # one bad entry must not cost the whole store
    return tuple(ders)


def _store_at(anchors: _Anchors, now: datetime, chain: Sequence[crypto.X509]) -> crypto.X509Store:
    store = crypto.X509Store()
    # A certificate in the store is a trust anchor even when it is not self-signed (a user's
    # CA file may hold an intermediate), as browsers and Python 3.13's ssl do.
    store.set_flags(crypto.X509StoreFlags.PARTIAL_CHAIN)
    for cert in _reachable(anchors, chain):
        store.add_cert(cert)
    if anchors.capath is not None:
        # The bundle alone is enough; a missing directory changes nothing.
        with contextlib.suppress(crypto.Error):
            store.load_locations(None, anchors.capath)
    store.set_time(_as_utc(now))
    return store


def _reachable(anchors: _Anchors, chain: Sequence[crypto.X509]) -> list[crypto.X509]:
    """The anchors OpenSSL could use for this chain: those named as the subject or issuer of a
    served certificate, then of those anchors in turn (path building looks issuers up by name,
    and PARTIAL_CHAIN matches a served certificate itself). Adding all of a 300-root store to
    every per-chain store would cost milliseconds per verdict."""
    names = {c.get_subject().der() for c in chain} | {c.get_issuer().der() for c in chain}
    picked: dict[int, crypto.X509] = {}
    pending = list(names)
    while pending:
        for cert in anchors.with_subject(pending.pop()):
            if id(cert) in picked:
                continue
            picked[id(cert)] = cert
            issuer = cert.get_issuer().der()
            if issuer not in names:
                names.add(issuer)
                pending.append(issuer)
    return list(picked.values())


def _as_utc(moment: datetime) -> datetime:
    # pyOpenSSL reads the time tuple as UTC, so an aware time must be converted first.
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
