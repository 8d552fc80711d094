"""ClientHello builders for probing: SSLv3 to TLS 1.3 (RFC 8446 4.1.2, RFC 5246 7.4.1.2,
RFC 6101 5.6.1.2) and the SSLv2 CLIENT-HELLO (draft-hickman-netscape-ssl-00).

The hellos are built to be answered, not to complete a handshake: they offer broad group and
signature lists so that servers of any age pick something, and all randomness (client random,
SSLv2 challenge, key share) comes from the caller.
"""

from __future__ import annotations

import functools
import ipaddress
import struct
from collections.abc import Sequence

from probe.codecs.buffer import Writer
from probe.codecs.tls.constants import (
    COMPRESSION_NULL,
    SSL2_MT_CLIENT_HELLO,
    ContentType,
    ExtensionType,
    HandshakeType,
    Version,
)

__all__ = [
    "DEFAULT_GROUPS",
    "DEFAULT_SIGNATURE_ALGORITHMS",
    "MAX_CIPHER_SUITES",
    "TLS13_DEFAULT_GROUPS",
    "build_client_hello",
    "build_sslv2_client_hello",
]

# testssl.sh found servers that fail hellos with 128 or more suites (research note, section 2).
MAX_CIPHER_SUITES = 128

# Every curve and FFDHE group in common use, newest first, then the deprecated ones so that a
# server configured with only an old curve still answers with ECDHE (RFC 8422 5.1.1).
DEFAULT_GROUPS: tuple[int, ...] = (
    29,  # x25519
    23,  # secp256r1
    30,  # x448
    24,  # secp384r1
    25,  # secp521r1
    26,  # brainpoolP256r1
    27,  # brainpoolP384r1
    28,  # brainpoolP512r1
    0x0100,  # ffdhe2048
    0x0101,  # ffdhe3072
    0x0102,  # ffdhe4096
    0x0103,  # ffdhe6144
    0x0104,  # ffdhe8192
    22,  # secp256k1
    21,  # secp224r1
    20,  # secp224k1
    19,  # secp192r1
    18,  # secp192k1
    15,  # secp160k1
    16,  # secp160r1
    17,  # secp160r2
    *range(1, 15),  # sect163k1 .. sect571r1
)

# TLS 1.3 groups (RFC 8446 4.2.7): the post-quantum hybrids, modern curves and FFDHE.
TLS13_DEFAULT_GROUPS: tuple[int, ...] = (
    29,  # x25519
    0x11EC,  # X25519MLKEM768
    23,  # secp256r1
    24,  # secp384r1
    25,  # secp521r1
    30,  # x448
    0x11EB,  # SecP256r1MLKEM768
    0x11ED,  # SecP384r1MLKEM1024
    31,  # brainpoolP256r1tls13
    32,  # brainpoolP384r1tls13
    33,  # brainpoolP512r1tls13
    41,  # curveSM2
    0x0100,  # ffdhe2048
    0x0101,  # ffdhe3072
    0x0102,  # ffdhe4096
    0x0103,  # ffdhe6144
    0x0104,  # ffdhe8192
)

# RFC 8446 4.2.3 schemes, then the TLS 1.2 (hash, signature) pairs of RFC 5246 7.4.1.4.1 down
# to SHA-1 and MD5, so a server whose only key or hash is old still signs its key exchange.
DEFAULT_SIGNATURE_ALGORITHMS: tuple[int, ...] = (
    0x0403,  # ecdsa_secp256r1_sha256
    0x0804,  # rsa_pss_rsae_sha256
    0x0401,  # rsa_pkcs1_sha256
    0x0503,  # ecdsa_secp384r1_sha384
    0x0805,  # rsa_pss_rsae_sha384
    0x0501,  # rsa_pkcs1_sha384
    0x0603,  # ecdsa_secp521r1_sha512
    0x0806,  # rsa_pss_rsae_sha512
    0x0601,  # rsa_pkcs1_sha512
    0x0807,  # ed25519
    0x0808,  # ed448
    0x0809,  # rsa_pss_pss_sha256
    0x080A,  # rsa_pss_pss_sha384
    0x080B,  # rsa_pss_pss_sha512
    0x081A,  # ecdsa_brainpoolP256r1tls13_sha256
    0x081B,  # ecdsa_brainpoolP384r1tls13_sha384
    0x081C,  # ecdsa_brainpoolP512r1tls13_sha512
    0x0402,  # dsa_sha256
    0x0502,  # dsa_sha384
    0x0602,  # dsa_sha512
    0x0303,  # ecdsa_sha224
    0x0301,  # rsa_sha224
    0x0302,  # dsa_sha224
    0x0203,  # ecdsa_sha1
    0x0201,  # rsa_pkcs1_sha1
    0x0202,  # dsa_sha1
    0x0103,  # ecdsa_md5
    0x0101,  # rsa_md5
    0x0102,  # dsa_md5
)

# TLS 1.3 forbids SHA-1, MD5, SHA-224 and DSA in CertificateVerify (RFC 8446 4.2.3) but a
# scanner still lists rsa_pkcs1_sha1/ecdsa_sha1 so legacy certificate chains stay acceptable.
_TLS13_SIGNATURE_ALGORITHMS: tuple[int, ...] = tuple(
    s for s in DEFAULT_SIGNATURE_ALGORITHMS if (s >> 8) >= 4 or s in (0x0201, 0x0203)
)

_EC_POINT_FORMATS = bytes([3, 0, 1, 2])  # RFC 8422 5.1.2: uncompressed and both compressed
_PSK_DHE_KE = 1  # RFC 8446 4.2.9
_OCSP = 1  # RFC 6066 8 CertificateStatusType ocsp
_X25519 = 29

# F5 BIG-IP hangs on ClientHello messages of 256..511 bytes; RFC 7685 4 pads them to 512.
_PADDING_FROM = 256
_PADDING_TO = 512


def _extension(ext_type: int, data: bytes) -> bytes:
    w = Writer()
    w.u16(ext_type)
    w.vector(2, data)
    return w.getvalue()


def _u16_list(values: Sequence[int], len_width: int = 2) -> bytes:
    body = struct.pack(f">{len(values)}H", *values)  # one call: hellos are built by the thousand
    return len(body).to_bytes(len_width, "big") + body


def _server_name_extension(server_name: str | None) -> bytes | None:
    """RFC 6066 3: a DNS host name only; IP literals are not allowed in SNI."""
    if not server_name:
        return None
    host = server_name.rstrip(".")
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return None
    encoded = host.encode("idna") if not host.isascii() else host.encode("ascii")
    entry = Writer()
    entry.u8(0)  # NameType host_name
    entry.vector(2, encoded)
    names = Writer()
    names.vector(2, entry.getvalue())
    return _extension(ExtensionType.SERVER_NAME, names.getvalue())


def _handshake(msg_type: int, body: bytes) -> bytes:
    w = Writer()
    w.u8(msg_type)
    w.vector(3, body)
    return w.getvalue()


def _record(content_type: int, version: int, fragment: bytes) -> bytes:
    w = Writer()
    w.u8(content_type)
    w.u16(version)
    w.vector(2, fragment)
    return w.getvalue()


def build_client_hello(
    *,
    version: Version,
    cipher_suites: Sequence[int],
    server_name: str | None,
    random: bytes,
    session_id: bytes = b"",
    groups: Sequence[int] | None = None,
    x25519_key_share: bytes | None = None,
    signature_algorithms: Sequence[int] | None = None,
    extra_extensions: Sequence[tuple[int, bytes]] = (),
    compression_methods: Sequence[int] = (COMPRESSION_NULL,),
    renegotiation_info: bool = True,
    extended_master_secret: bool = False,
    encrypt_then_mac: bool = False,
    session_ticket: bool = False,
    status_request: bool = False,
    alpn_protocols: Sequence[bytes] = (),
) -> bytes:
    """A ClientHello record that offers exactly ``version`` and ``cipher_suites``.

    SSLv3 hellos carry no extensions (RFC 6101 has none). TLS 1.0-1.2 hellos carry SNI,
    supported_groups, ec_point_formats, signature_algorithms (TLS 1.2 only) and an empty
    renegotiation_info. TLS 1.3 hellos say legacy_version TLS 1.2 and put 1.3 in
    supported_versions (RFC 8446 4.1.2, 4.2.1); without ``x25519_key_share`` the key_share list
    is empty, so a TLS 1.3 server must answer with a HelloRetryRequest naming its group.

    The defaults give the bytes probe has always sent. The feature flags add, to TLS 1.0-1.3
    hellos, the empty extended_master_secret (RFC 7627 5.1), encrypt_then_mac (RFC 7366 2) and
    SessionTicket (RFC 5077 3.2) extensions, an OCSP status_request without responder ids or
    request extensions (RFC 6066 8) and an ALPN ProtocolNameList (RFC 7301 3.1);
    ``renegotiation_info=False`` leaves out the empty renegotiation_info extension (to offer
    the TLS_EMPTY_RENEGOTIATION_INFO_SCSV suite instead, RFC 5746 3.3). SSLv3 hellos ignore
    them all (no extensions). ``compression_methods`` is sent as given (RFC 5246 7.4.1.2:
    null must be among them; a TLS 1.3 server refuses anything but null alone, RFC 8446 4.1.2).
    """
    if version == Version.SSL2:
        raise ValueError("use build_sslv2_client_hello for SSLv2")
    if len(random) != 32:
        raise ValueError("random must be 32 bytes")
    if len(session_id) > 32:
        raise ValueError("session_id is at most 32 bytes")
    if not cipher_suites or len(cipher_suites) > MAX_CIPHER_SUITES:
        raise ValueError(f"offer between 1 and {MAX_CIPHER_SUITES} cipher suites")
    if x25519_key_share is not None and len(x25519_key_share) != 32:
        raise ValueError("an x25519 key share is 32 bytes")
    if not 1 <= len(compression_methods) <= 255 or not all(
        0 <= m <= 255 for m in compression_methods
    ):
        raise ValueError("offer between 1 and 255 compression methods, each one byte")
    features = _feature_extensions(
        extended_master_secret=extended_master_secret,
        encrypt_then_mac=encrypt_then_mac,
        session_ticket=session_ticket,
        status_request=status_request,
        alpn_protocols=alpn_protocols,
    )

    extensions = _extensions(
        version=version,
        server_name=server_name,
        groups=groups,
        x25519_key_share=x25519_key_share,
        signature_algorithms=signature_algorithms,
        extra_extensions=extra_extensions,
        renegotiation_info=renegotiation_info,
        features=features,
    )

    body = Writer()
    # RFC 8446 4.1.2: legacy_version is TLS 1.2 when offering TLS 1.3.
    body.u16(min(version, Version.TLS1_2))
    body.bytes(random)
    body.vector(1, session_id)
    body.vector(2, struct.pack(f">{len(cipher_suites)}H", *cipher_suites))
    body.vector(1, bytes(compression_methods))  # RFC 5246 7.4.1.2; default: null only
    if extensions is not None:
        unpadded = len(body) + 2 + len(extensions) + 4  # + extensions length + handshake header
        if _PADDING_FROM <= unpadded < _PADDING_TO:
            pad = max(0, _PADDING_TO - unpadded - 4)
            extensions += _extension(ExtensionType.PADDING, bytes(pad))
        body.vector(2, extensions)

    message = _handshake(HandshakeType.CLIENT_HELLO, body.getvalue())
    # RFC 8446 5.1: legacy_record_version 0x0301 for compatibility; SSLv3 servers want 0x0300.
    record_version = Version.SSL3 if version == Version.SSL3 else Version.TLS1_0
    return _record(ContentType.HANDSHAKE, record_version, message)


def _extensions(
    *,
    version: Version,
    server_name: str | None,
    groups: Sequence[int] | None,
    x25519_key_share: bytes | None,
    signature_algorithms: Sequence[int] | None,
    extra_extensions: Sequence[tuple[int, bytes]],
    renegotiation_info: bool = True,
    features: bytes = b"",
) -> bytes | None:
    if version == Version.SSL3:
        return None  # RFC 6101: SSLv3 servers may reject any data after compression_methods
    parts: list[bytes] = []
    sni = _server_name_extension(server_name)
    if sni is not None:
        parts.append(sni)
    parts.append(
        _fixed_extensions(
            version,
            None if groups is None else tuple(groups),
            None if not signature_algorithms else tuple(signature_algorithms),
        )
    )
    if version == Version.TLS1_3:
        shares = Writer()
        if x25519_key_share is not None:
            shares.u16(_X25519)
            shares.vector(2, x25519_key_share)
        key_share = Writer()
        key_share.vector(2, shares.getvalue())  # RFC 8446 4.2.8 KeyShareClientHello
        parts.append(_extension(ExtensionType.KEY_SHARE, key_share.getvalue()))
    elif renegotiation_info:
        parts.append(_extension(ExtensionType.RENEGOTIATION_INFO, b"\x00"))  # RFC 5746 3.4
    parts.append(features)
    parts.extend(_extension(ext_type, data) for ext_type, data in extra_extensions)
    return b"".join(parts)


def _feature_extensions(
    *,
    extended_master_secret: bool,
    encrypt_then_mac: bool,
    session_ticket: bool,
    status_request: bool,
    alpn_protocols: Sequence[bytes],
) -> bytes:
    """The optional extensions whose echo tells what the server supports (see the caller)."""
    parts: list[bytes] = []
    if extended_master_secret:
        parts.append(_extension(ExtensionType.EXTENDED_MASTER_SECRET, b""))  # RFC 7627 5.1
    if encrypt_then_mac:
        parts.append(_extension(ExtensionType.ENCRYPT_THEN_MAC, b""))  # RFC 7366 2
    if session_ticket:
        parts.append(_extension(ExtensionType.SESSION_TICKET, b""))  # RFC 5077 3.2: no ticket
    if status_request:
        # RFC 6066 8: CertificateStatusRequest{ocsp(1), responder_id_list<0..2^16-1> empty,
        # request_extensions<0..2^16-1> empty}.
        parts.append(_extension(ExtensionType.STATUS_REQUEST, bytes([_OCSP, 0, 0, 0, 0])))
    if alpn_protocols:
        names = Writer()
        for name in alpn_protocols:
            if not 1 <= len(name) <= 255:
                raise ValueError("an ALPN protocol name is 1 to 255 bytes")  # RFC 7301 3.1
            names.vector(1, name)
        alpn = Writer()
        alpn.vector(2, names.getvalue())
        parts.append(_extension(ExtensionType.ALPN, alpn.getvalue()))
    return b"".join(parts)


@functools.lru_cache(maxsize=64)
def _fixed_extensions(
    version: Version, groups: tuple[int, ...] | None, signature_algorithms: tuple[int, ...] | None
) -> bytes:
    """The extensions that depend only on the version and the lists: encoded once, reused."""
    parts: list[bytes] = []
    if version == Version.TLS1_3:
        group_list = TLS13_DEFAULT_GROUPS if groups is None else groups
        parts.append(_extension(ExtensionType.SUPPORTED_GROUPS, _u16_list(group_list)))
        sigalgs = signature_algorithms or _TLS13_SIGNATURE_ALGORITHMS
        parts.append(_extension(ExtensionType.SIGNATURE_ALGORITHMS, _u16_list(sigalgs)))
        parts.append(_extension(ExtensionType.SUPPORTED_VERSIONS, _u16_list([Version.TLS1_3], 1)))
        parts.append(_extension(ExtensionType.PSK_KEY_EXCHANGE_MODES, bytes([1, _PSK_DHE_KE])))
    else:
        group_list = DEFAULT_GROUPS if groups is None else groups
        parts.append(_extension(ExtensionType.SUPPORTED_GROUPS, _u16_list(group_list)))
        parts.append(_extension(ExtensionType.EC_POINT_FORMATS, _EC_POINT_FORMATS))
        # RFC 5246 7.4.1.4.1: not meaningful before TLS 1.2 and clients must not offer it.
        if version == Version.TLS1_2:
            sigalgs = signature_algorithms or DEFAULT_SIGNATURE_ALGORITHMS
            parts.append(_extension(ExtensionType.SIGNATURE_ALGORITHMS, _u16_list(sigalgs)))
    return b"".join(parts)


def build_sslv2_client_hello(*, cipher_specs: Sequence[int], challenge: bytes) -> bytes:
    """An SSL 2.0 CLIENT-HELLO with a 2-byte record header (SSL 2.0 draft, "Client Only
    Protocol Messages"): version 0x0002, no session id, 3-byte cipher kinds."""
    if not 16 <= len(challenge) <= 32:
        raise ValueError("the SSLv2 challenge is 16 to 32 bytes")
    if not cipher_specs:
        raise ValueError("offer at least one cipher kind")
    specs = b"".join(spec.to_bytes(3, "big") for spec in cipher_specs)
    body = Writer()
    body.u8(SSL2_MT_CLIENT_HELLO)
    body.u16(Version.SSL2)
    body.u16(len(specs))
    body.u16(0)  # SESSION-ID-LENGTH
    body.u16(len(challenge))
    body.bytes(specs)
    body.bytes(challenge)
    message = body.getvalue()
    if len(message) > 0x7FFF:
        raise ValueError("SSLv2 hello too long")
    # Two-byte header: high bit set, 15-bit length, no padding.
    return (0x8000 | len(message)).to_bytes(2, "big") + message
