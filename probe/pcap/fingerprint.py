"""TLS client and server fingerprints of a captured handshake: JA3, JA3S and JA4.

- JA3 (salesforce/ja3 README): MD5 of ``SSLVersion,Ciphers,Extensions,EllipticCurves,
  ECPointFormats``: decimal values joined by ``-``, the fields by ``,``; ``SSLVersion`` is the
  ClientHello's legacy ``client_version``; GREASE values (RFC 8701 2: 0x0A0A, 0x1A1A, ...
  0xFAFA) are left out of every list.
- JA3S: MD5 of ``SSLVersion,Cipher,Extensions`` of the ServerHello (its legacy version, the
  chosen suite, the extension types in order).
- JA4 (FoxIO ``technical_details/JA4.md``): ``a_b_c``. a = ``t`` (TLS over TCP) or ``d``
  (DTLS), the version (highest of supported_versions, else the legacy version: ``13``,
  ``12``, ``11``, ``10``, ``s3``, ``s2``, ``d1``, ``d2``, ``d3``, else ``00``), ``d`` when SNI
  is present else ``i``, two-digit cipher and extension counts (GREASE excluded, at most 99)
  and the first and last characters of the first ALPN value (``00`` without one; its hex
  digits when either end is not alphanumeric). b = the first 12 hex digits of SHA-256 over the
  sorted 4-hex-digit cipher list, comma-joined. c = the same over the sorted extension list
  without SNI (0000) and ALPN (0010), then ``_`` and the signature algorithms in wire order
  (no ``_`` when there are none). An empty list hashes to ``000000000000``.

The ClientHello may span several TLS records (RFC 8446 5.1: a handshake message can be
fragmented across records, as large post-quantum hellos are); it is reassembled from the
records at the start of the client's prefix. Hostile input gives None, never an exception.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from probe.codecs.buffer import Reader
from probe.codecs.errors import DecodeError

__all__ = [
    "ClientHelloFacts",
    "is_grease",
    "ja3",
    "ja3_string",
    "ja3s",
    "ja4",
    "parse_client_hello",
]

MAX_HELLO = 1 << 16  # bytes of a ClientHello reassembled from records
_EXT_SNI, _EXT_GROUPS, _EXT_POINT_FORMATS, _EXT_SIG_ALGS = 0, 10, 11, 13
_EXT_ALPN, _EXT_VERSIONS = 16, 43
_JA4_VERSIONS = {
    0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2",
    0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3",
}  # fmt: skip


def is_grease(value: int) -> bool:
    """RFC 8701 2: both bytes equal and of the form 0x?A."""
    return value & 0x0F0F == 0x0A0A and value >> 8 == value & 0xFF


@dataclass(frozen=True, slots=True)
class ClientHelloFacts:
    """The ClientHello fields the fingerprints use, in wire order, GREASE included."""

    legacy_version: int
    ciphers: tuple[int, ...]
    extensions: tuple[int, ...]
    groups: tuple[int, ...]
    point_formats: tuple[int, ...]
    signature_algorithms: tuple[int, ...]
    versions: tuple[int, ...]
    alpn: bytes | None  # the first ALPN protocol name
    sni: bool
    server_name: bytes | None = None  # the first host_name of server_name (RFC 6066 3)


def _handshake(prefix: bytes) -> bytes | None:
    """The first handshake message, reassembled from the TLS records at the start."""
    body = bytearray()
    pos = 0
    need: int | None = None
    while pos + 5 <= len(prefix) and len(body) < MAX_HELLO:
        content_type, _version, length = struct.unpack_from("!BHH", prefix, pos)
        if content_type != 22:
            break
        body += prefix[pos + 5 : pos + 5 + length]
        pos += 5 + length
        if need is None and len(body) >= 4:
            need = 4 + int.from_bytes(body[1:4], "big")
        if need is not None and len(body) >= need:
            return bytes(body[:need])
    return None


def _u16s(data: bytes) -> tuple[int, ...]:
    return tuple(v for (v,) in struct.iter_unpack("!H", data[: len(data) & ~1]))


def parse_client_hello(prefix: bytes) -> ClientHelloFacts | None:
    """The ClientHello at the start of a client prefix (RFC 8446 4.1.2, RFC 5246 7.4.1.2),
    or None when there is none or it is cut short or malformed."""
    if len(prefix) < 6 or prefix[0] != 22 or prefix[5] != 1:
        return None
    message = _handshake(prefix)
    if message is None:
        return None
    try:
        body = Reader(message[4:])
        legacy_version = body.u16()
        body.bytes(32)  # random
        body.vector(1)  # legacy_session_id
        ciphers = _u16s(body.vector(2))
        body.vector(1)  # legacy_compression_methods
        extensions: list[int] = []
        groups: tuple[int, ...] = ()
        formats: tuple[int, ...] = ()
        sig_algs: tuple[int, ...] = ()
        versions: tuple[int, ...] = ()
        alpn: bytes | None = None
        server_name: bytes | None = None
        if not body.eof:
            exts = body.sub(2)
            while not exts.eof:
                ext_type, data = exts.u16(), exts.vector(2)
                extensions.append(ext_type)
                if ext_type == _EXT_GROUPS:  # RFC 8446 4.2.7
                    groups = _u16s(Reader(data).vector(2))
                elif ext_type == _EXT_POINT_FORMATS:  # RFC 8422 5.1.2
                    formats = tuple(Reader(data).vector(1))
                elif ext_type == _EXT_SIG_ALGS:  # RFC 8446 4.2.3
                    sig_algs = _u16s(Reader(data).vector(2))
                elif ext_type == _EXT_VERSIONS:  # RFC 8446 4.2.1
                    versions = _u16s(Reader(data).vector(1))
                elif ext_type == _EXT_SNI and server_name is None:
                    names = Reader(data).sub(2)
                    if names.u8() == 0:  # host_name
                        server_name = names.vector(2)
                elif ext_type == _EXT_ALPN:  # RFC 7301 3.1: a list of non-empty names
                    names = Reader(data).sub(2)
                    alpn = names.vector(1) if not names.eof else b""
    except DecodeError:
        return None
    return ClientHelloFacts(
        legacy_version, ciphers, tuple(extensions), groups, formats, sig_algs, versions, alpn,
        _EXT_SNI in extensions, server_name,
    )  # fmt: skip


def _dashed(values: tuple[int, ...]) -> str:
    return "-".join(str(v) for v in values if not is_grease(v))


def ja3_string(hello: ClientHelloFacts) -> str:
    return ",".join(
        (
            str(hello.legacy_version),
            _dashed(hello.ciphers),
            _dashed(hello.extensions),
            _dashed(hello.groups),
            "-".join(str(v) for v in hello.point_formats),
        )
    )


def ja3(hello: ClientHelloFacts) -> str:
    # MD5 as the JA3 definition fixes it: a fingerprint, not a security use.
    return hashlib.md5(ja3_string(hello).encode(), usedforsecurity=False).hexdigest()


def ja3s(legacy_version: int, cipher_suite: int, extensions: tuple[int, ...]) -> str:
    text = f"{legacy_version},{cipher_suite},{_dashed(extensions)}"
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _hash12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12] if text else "000000000000"


def _alpn_chars(alpn: bytes | None) -> str:
    if not alpn:
        return "00"
    first, last = alpn[0], alpn[-1]
    if (
        chr(first).isascii()
        and chr(first).isalnum()
        and chr(last).isascii()
        and chr(last).isalnum()
    ):
        return chr(first) + chr(last)
    hexed = alpn.hex()
    return hexed[0] + hexed[-1]


def ja4(hello: ClientHelloFacts, *, dtls: bool = False) -> str:
    ciphers = [v for v in hello.ciphers if not is_grease(v)]
    extensions = [v for v in hello.extensions if not is_grease(v)]
    versions = [v for v in hello.versions if not is_grease(v)]
    if versions:
        # Highest by protocol order: DTLS numbers count down (RFC 9147 5.3).
        version = max(versions, key=lambda v: 0xFFFF - v if v >= 0xFE00 else v)
    else:
        version = hello.legacy_version
    part_a = (
        ("d" if dtls else "t")
        + _JA4_VERSIONS.get(version, "00")
        + ("d" if hello.sni else "i")
        + f"{min(len(ciphers), 99):02d}{min(len(extensions), 99):02d}"
        + _alpn_chars(hello.alpn)
    )
    part_b = _hash12(",".join(sorted(f"{v:04x}" for v in ciphers)))
    kept = sorted(f"{v:04x}" for v in extensions if v not in (_EXT_SNI, _EXT_ALPN))
    text = ",".join(kept)
    sig_algs = [f"{v:04x}" for v in hello.signature_algorithms if not is_grease(v)]
    if kept and sig_algs:
        text += "_" + ",".join(sig_algs)
    return f"{part_a}_{part_b}_{_hash12(text)}"
