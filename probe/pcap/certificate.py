"""The server's leaf certificate seen in a TLS flow (issue 5, "Weak TLS seen in traffic").

Up to TLS 1.2 the server's Certificate message (RFC 5246 7.4.2) travels in the clear after its
ServerHello; TLS 1.3 encrypts it (RFC 8446 2), so those flows have none. The flight is read
with the live scanner's reader (:class:`~probe.codecs.tls.flight.ServerFlightReader`) and the
leaf described by :func:`probe.codecs.x509.certificate_facts`, the same code ``probe scan`` uses.

Bounded on purpose: one chain per flow, read from the flow's server prefix (already capped by
the flow table); only the leaf is parsed, and not at all when it is larger than
:data:`MAX_LEAF_BYTES`. A chain cut by the prefix cap still yields its leaf when the leaf itself
is whole (the leaf comes first, RFC 5246 7.4.2). Certificates are public: nothing is redacted,
but every string is cleaned (a hostile certificate can carry terminal escapes) and capped.
"""

from __future__ import annotations

import contextlib
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from probe.codecs.errors import DecodeError
from probe.codecs.tls.constants import HandshakeType, Version
from probe.codecs.tls.flight import ServerFlightReader, ServerHello, parse_server_hello

if TYPE_CHECKING:
    from probe.model import CertificateFacts

__all__ = ["MAX_LEAF_BYTES", "MAX_SAN", "LeafCertificate", "find_server_hello", "leaf_certificate"]

MAX_LEAF_BYTES = 64 * 1024  # a real leaf is 1-4 KiB; past this it is not parsed
MAX_SAN = 8  # subjectAltName entries kept (san_count has them all)
MAX_TEXT = 255
_SEARCH_LIMIT = 64 * 1024  # how far into a server prefix a ServerHello is looked for
_HEADER = 4  # handshake message header: type, uint24 length (RFC 5246 7.4)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # "now" for the cached parse: expiry is judged apart


@dataclass(frozen=True, slots=True)
class LeafCertificate:
    """What the leaf says about the server's key and name. ``key_bits`` is the RSA/DSA modulus
    size or the EC field size; ``chain_length`` is None when the chain was cut by the prefix cap
    (only its leaf was whole). ``not_after`` is ISO 8601 UTC; ``expired`` is judged at the
    flow's first packet, never the wall clock."""

    key_type: str
    key_bits: int
    curve: str | None
    signature_algorithm: str
    signature_hash: str | None
    subject: str
    issuer: str
    san: tuple[str, ...]
    san_count: int
    self_signed: bool
    not_after: str
    expired: bool
    sha256: str
    chain_length: int | None


def _clean(value: str) -> str:
    kept = "".join(c for c in value if unicodedata.category(c) not in ("Cc", "Cf", "Cs"))
    return kept[:MAX_TEXT]


def find_server_hello(server: bytes) -> int:
    """Offset of the first record that starts a ServerHello in ``server``: a handshake record
    header (RFC 5246 6.2.1: type 22, major version 3) whose first message is ServerHello (type 2).
    0 for implicit TLS; later after a STARTTLS reply, PostgreSQL's ``S`` or a MySQL greeting.
    -1 when there is none in the first :data:`_SEARCH_LIMIT` bytes."""
    end = min(len(server), _SEARCH_LIMIT)
    pos = server.find(b"\x16\x03", 0, end)
    while pos >= 0:
        if pos + 5 < len(server) and server[pos + 2] <= 4 and server[pos + 5] == 2:
            return pos
        pos = server.find(b"\x16\x03", pos + 1, end)
    return -1


def _leaf_of_partial(pending: bytes) -> bytes | None:
    """The first certificate of a Certificate message cut short (RFC 5246 7.4.2:
    certificate_list<0..2^24-1> of ASN.1Cert<1..2^24-1>), when it is whole."""
    if len(pending) < _HEADER + 6 or pending[0] != HandshakeType.CERTIFICATE:
        return None
    size = int.from_bytes(pending[_HEADER + 3 : _HEADER + 6], "big")
    start = _HEADER + 6
    if size == 0 or size > MAX_LEAF_BYTES or start + size > len(pending):
        return None
    return pending[start : start + size]


def leaf_certificate(server: bytes, *, now_ns: int) -> LeafCertificate | None:
    """The leaf certificate of the server flight in ``server`` (a flow's server prefix), or
    None: no ServerHello, TLS 1.3 (encrypted), no Certificate captured, or a leaf that does not
    parse. Never raises on hostile bytes."""
    start = find_server_hello(server)
    if start < 0:
        return None
    reader = ServerFlightReader(want_certificate=True)
    cut = False
    try:
        reader.feed(server[start:])
    except DecodeError:
        cut = True  # a malformed message: what was read before it still counts
    flight = reader.result()
    hello = flight.server_hello
    chain_length: int | None = len(flight.certificate_chain)
    leaf = flight.certificate_chain[0] if flight.certificate_chain else None
    if leaf is None and not cut and not reader.done:
        # Cut by the scan budget: the messages of the record being read, itself cut short
        # (servers often put ServerHello and Certificate in one record).
        pending_hello, leaf = _pending(reader.pending_handshake, hello is None)
        hello = hello or pending_hello
        chain_length = None
    if hello is None or hello.is_hello_retry_request or hello.version >= Version.TLS1_3:
        return None
    if leaf is None or len(leaf) > MAX_LEAF_BYTES:
        return None
    return _describe(leaf, chain_length, now_ns)


def _pending(pending: bytes, want_hello: bool) -> tuple[ServerHello | None, bytes | None]:
    """The ServerHello (when ``want_hello``) and the leaf certificate found in handshake bytes
    that do not make a whole flight (RFC 5246 7.4: type, uint24 length, body)."""
    hello: ServerHello | None = None
    pos = 0
    while len(pending) - pos >= _HEADER:
        msg_type = pending[pos]
        end = pos + _HEADER + int.from_bytes(pending[pos + 1 : pos + _HEADER], "big")
        if msg_type == HandshakeType.CERTIFICATE:
            return hello, _leaf_of_partial(pending[pos:])
        if end > len(pending):
            break
        if msg_type == HandshakeType.SERVER_HELLO and want_hello and hello is None:
            try:
                hello = parse_server_hello(pending[pos + _HEADER : end])
            except DecodeError:
                return None, None
        pos = end
    return hello, None


def _describe(leaf: bytes, chain_length: int | None, now_ns: int) -> LeafCertificate | None:
    facts = _facts(leaf)
    if facts is None:
        return None
    return LeafCertificate(
        key_type=_clean(facts.key_type),
        key_bits=facts.key_bits,
        curve=_clean(facts.curve) if facts.curve else None,
        signature_algorithm=_clean(facts.signature_algorithm),
        signature_hash=facts.signature_hash,
        subject=_clean(facts.subject),
        issuer=_clean(facts.issuer),
        san=tuple(_clean(name) for name in facts.san[:MAX_SAN]),
        san_count=len(facts.san),
        self_signed=facts.self_signed,
        not_after=facts.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
        expired=facts.not_after < datetime.fromtimestamp(now_ns / 1e9, UTC),
        sha256=facts.sha256_fingerprint,
        chain_length=chain_length,
    )


@lru_cache(maxsize=256)
def _facts(leaf: bytes) -> CertificateFacts | None:
    """The leaf's facts, parsed once per distinct certificate: a capture holds many
    connections to the same few servers, and a parse with its signature check costs ~0.2 ms.
    Nothing that depends on the flow (time, name) is cached."""
    # Imported here: cryptography costs ~50 ms to load, and most captures need no certificate.
    from probe.codecs.x509 import certificate_facts

    with contextlib.suppress(DecodeError):  # CertificateDecodeError: garbage is no certificate
        return certificate_facts(
            (leaf,),
            server_name=None,
            now=_EPOCH,
            trusted=False,
            trust_error=None,
            served_with=(),
        )
    return None
