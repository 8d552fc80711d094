"""Chain trust: does a served chain lead to a trusted root, valid at a given moment?

Only the path is checked here (signatures, issuers, validity dates, CA constraints); whether the
leaf is valid for the host name is a separate fact (probe.codecs.x509.name_matches).

The trust store is the system bundle (found through `ssl.get_default_verify_paths()`) or, when a
CA file is given, only that file. Parsing the system bundle costs tens of milliseconds, so each
file's certificates are parsed once per process (thread-safe) and kept. Every verification then
builds its own small X509Store from them (well under a millisecond): OpenSSL only honours the
first verification time set on a store, so a shared store cannot serve different "now"s.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from OpenSSL import crypto

__all__ = ["TrustStoreError", "clear_store_cache", "verify_chain"]

# Same caps as probe.codecs.x509: a hostile server must not make us parse megabytes.
_MAX_CHAIN_CERTS = 10
_MAX_CHAIN_BYTES = 1 << 20


class TrustStoreError(RuntimeError):
    """The trust store could not be loaded (missing or unreadable CA file)."""


@dataclass(frozen=True)
class _Anchors:
    certs: tuple[crypto.X509, ...]  # parsed from the CA file
    capath: str | None  # a hashed directory OpenSSL looks up lazily (system store only)


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
    if not chain_der:
        return False, "no certificate"
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
                return False, "unparsable certificate"
            # An unparsable intermediate is simply not usable for path building.
    if not certs:
        return False, "certificate too large"
    store = _store_at(_anchors_for(ca_file), now)
    context = crypto.X509StoreContext(store, certs[0], certs[1:])
    try:
        context.verify_certificate()
    except crypto.X509StoreContextError as exc:
        return False, str(exc) or "verification failed"
    return True, None


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


def _load_anchors(ca_file: str | None) -> _Anchors:
    if ca_file is not None:
        certs = _read_pem_bundle(ca_file)
        if not certs:
            raise TrustStoreError(f"no certificates in {ca_file}")
        return _Anchors(certs=certs, capath=None)
    paths = ssl.get_default_verify_paths()
    certs = _read_pem_bundle(paths.cafile) if paths.cafile is not None else ()
    if not certs and paths.capath is None:
        raise TrustStoreError("no system trust store found")
    return _Anchors(certs=certs, capath=paths.capath)


def _read_pem_bundle(path: str) -> tuple[crypto.X509, ...]:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise TrustStoreError(f"cannot read {path}: {exc.strerror or exc}") from exc
    certs: list[crypto.X509] = []
    position = 0
    while (start := data.find(_PEM_BEGIN, position)) >= 0:
        end = data.find(_PEM_END, start)
        if end < 0:
            break
        position = end + len(_PEM_END)
        try:
            certs.append(crypto.load_certificate(crypto.FILETYPE_PEM, data[start:position]))
        except crypto.Error:
            continue  # one bad entry must not cost the whole store
    return tuple(certs)


def _store_at(anchors: _Anchors, now: datetime) -> crypto.X509Store:
    store = crypto.X509Store()
    # A certificate in the store is a trust anchor even when it is not self-signed (a user's
    # CA file may hold an intermediate), as browsers and Python 3.13's ssl do.
    store.set_flags(crypto.X509StoreFlags.PARTIAL_CHAIN)
    for cert in anchors.certs:
        store.add_cert(cert)
    if anchors.capath is not None:
        # The bundle alone is enough; a missing directory changes nothing.
        with contextlib.suppress(crypto.Error):
            store.load_locations(None, anchors.capath)
    store.set_time(_as_utc(now))
    return store


def _as_utc(moment: datetime) -> datetime:
    # pyOpenSSL reads the time tuple as UTC, so an aware time must be converted first.
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
