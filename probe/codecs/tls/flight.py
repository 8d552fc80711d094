"""Incremental readers for a server's answer to one of our hellos.

Theory of operation: the caller feeds whatever bytes arrived (any split, even one byte at a
time) and checks ``done``; once done, later bytes are ignored. ``result()`` may be called at
any time and returns what was learnt so far, so a connection that closes early still yields
facts.

:class:`ServerFlightReader` undoes the record layer (RFC 5246 6.2, RFC 8446 5.1): handshake
messages may span records and several may share one (RFC 5246 6.2.1). It stops at

* a fatal alert (or close_notify);
* a ServerHello or HelloRetryRequest when nothing more is wanted, or when TLS 1.3 was chosen
  (everything after is encrypted, RFC 8446 2);
* ServerHelloDone (RFC 5246 7.4.5) when the certificate or key exchange is wanted;
* ChangeCipherSpec or application data, after which nothing is readable.

:class:`Ssl2ServerHelloReader` reads an SSLv2 SERVER-HELLO or ERROR (SSL 2.0 draft,
draft-hickman-netscape-ssl-00), or the TLS alert that a modern server sends instead.

Every length field is checked against hard caps before anything is buffered.
"""

from __future__ import annotations

from dataclasses import dataclass

from probe.codecs.buffer import Reader
from probe.codecs.errors import DecodeError, NotTlsError, Ssl2ReplyError
from probe.codecs.tls.constants import (
    DOWNGRADE_TLS11,
    DOWNGRADE_TLS12,
    GROUP_BITS,
    HELLO_RETRY_REQUEST_RANDOM,
    SSL2_ERRORS,
    SSL2_MT_ERROR,
    SSL2_MT_SERVER_HELLO,
    AlertLevel,
    ContentType,
    ExtensionType,
    HandshakeType,
    Version,
    alert_name,
    group_name,
    version_label,
)
from probe.codecs.tls.suites import SUITES, CipherSuite

__all__ = [
    "MAX_FLIGHT_BYTES",
    "MAX_HANDSHAKE_MESSAGE",
    "MAX_RECORD_LENGTH",
    "Alert",
    "DecodeError",
    "KeyExchange",
    "NotTlsError",
    "ServerFlight",
    "ServerFlightReader",
    "ServerHello",
    "ServerHelloFeatures",
    "Ssl2ReplyError",
    "Ssl2ServerFlight",
    "Ssl2ServerHello",
    "Ssl2ServerHelloReader",
    "parse_certificate_status",
    "server_hello_features",
]

# RFC 5246 6.2.3: a TLSCiphertext fragment is at most 2^14 + 2048 bytes.
MAX_RECORD_LENGTH = 2**14 + 2048
# Certificate chains are the largest message; 256 KiB leaves room for absurd but real chains.
MAX_HANDSHAKE_MESSAGE = 256 * 1024
# Everything a first flight may take before we give up on it.
MAX_FLIGHT_BYTES = 1024 * 1024
# Warning alerts are recorded; a peer that sends them forever is broken.
_MAX_WARNINGS = 16
# A real first flight has at most 8 messages; HelloRequest floods are not worth recording.
_MAX_MESSAGES = 64
_RECORD_HEADER = 5
_HANDSHAKE_HEADER = 4
_TLS_CONTENT_TYPES = range(ContentType.CHANGE_CIPHER_SPEC, ContentType.HEARTBEAT + 1)


@dataclass(frozen=True)
class Alert:
    """A TLS alert (RFC 5246 7.2)."""

    level: int
    description: int

    @property
    def name(self) -> str:
        return alert_name(self.description)

    @property
    def fatal(self) -> bool:
        return self.level != AlertLevel.WARNING


@dataclass(frozen=True)
class ServerHello:
    """A ServerHello or HelloRetryRequest (RFC 5246 7.4.1.3, RFC 8446 4.1.3), as sent."""

    legacy_version: int
    version: int  # negotiated: supported_versions when present, else legacy_version
    random: bytes
    session_id: bytes
    cipher_suite: int
    compression_method: int
    extensions: tuple[tuple[int, bytes], ...]
    is_hello_retry_request: bool
    selected_group: int | None  # from key_share (RFC 8446 4.2.8)

    def extension(self, ext_type: int) -> bytes | None:
        """The data of the first extension of that type, or None when absent."""
        for found, data in self.extensions:
            if found == ext_type:
                return data
        return None

    def has_extension(self, ext_type: int) -> bool:
        return any(found == ext_type for found, _ in self.extensions)

    @property
    def version_label(self) -> str:
        return version_label(self.version)

    @property
    def suite(self) -> CipherSuite | None:
        return SUITES.get(self.cipher_suite)

    @property
    def secure_renegotiation(self) -> bool:
        """RFC 5746 3.4: the server echoed renegotiation_info."""
        return self.has_extension(ExtensionType.RENEGOTIATION_INFO)

    @property
    def extended_master_secret(self) -> bool:
        return self.has_extension(ExtensionType.EXTENDED_MASTER_SECRET)

    @property
    def downgrade_sentinel(self) -> Version | None:
        """RFC 8446 4.1.3: a TLS 1.3 server negotiating an older version marks its random."""
        if self.random.endswith(DOWNGRADE_TLS12):
            return Version.TLS1_2
        if self.random.endswith(DOWNGRADE_TLS11):
            return Version.TLS1_1
        return None


@dataclass(frozen=True)
class KeyExchange:
    """Ephemeral key exchange parameters from a ServerKeyExchange (RFC 8422 5.4, RFC 5246
    7.4.3) or the ServerHello key_share (RFC 8446 4.2.8).

    kind is "ECDHE", "DHE" or "RSA" (a temporary export RSA key, RFC 4346 A.5 / RFC 2246
    7.4.3). bits is the curve size, the DH prime's bit length or the RSA modulus size.
    """

    kind: str
    group: int | None  # named group id when the server used one
    group_name: str | None
    bits: int
    prime: bytes | None = None  # DH p, without leading zero bytes
    generator: bytes | None = None
    public: bytes = b""  # the server's public value; the same value twice means key reuse


@dataclass(frozen=True)
class ServerFlight:
    """Everything readable in the server's first flight."""

    server_hello: ServerHello | None
    alert: Alert | None  # the fatal alert (or close_notify) that ended the flight
    certificate_chain: tuple[bytes, ...]  # DER, leaf first, as sent (RFC 5246 7.4.2)
    key_exchange: KeyExchange | None
    server_hello_done: bool
    warnings: tuple[Alert, ...] = ()  # warning alerts before the end (e.g. unrecognized_name)
    record_version: int | None = None  # version field of the first record
    handshake_types: tuple[int, ...] = ()  # every handshake message type seen, in order
    certificate_requested: bool = False  # CertificateRequest seen (RFC 5246 7.4.4)
    certificate_status: bytes | None = None  # CertificateStatus body, as sent (RFC 6066 8)

    @property
    def hello_retry_request(self) -> bool:
        return self.server_hello is not None and self.server_hello.is_hello_retry_request


def _check_first_bytes(head: bytes) -> None:
    """Raise early when the peer's first bytes cannot start a TLS record (RFC 5246 6.2.1)."""
    first = head[0]
    if first & 0x80:
        # SSLv2 2-byte header (SSL 2.0 draft, "Record Header"); byte 3 is the message type.
        if len(head) < 3:
            return
        if head[2] in (SSL2_MT_SERVER_HELLO, SSL2_MT_ERROR):
            raise Ssl2ReplyError("the server answered with an SSLv2 record")
        raise NotTlsError(f"peer did not answer with TLS (first bytes {head[:16]!r})")
    if first not in _TLS_CONTENT_TYPES:
        raise NotTlsError(f"peer did not answer with TLS (first bytes {head[:16]!r})")
    if len(head) >= 2 and head[1] != 3:
        raise NotTlsError(f"peer did not answer with TLS (first bytes {head[:16]!r})")


def _parse_alert(data: bytes) -> Alert:
    return Alert(level=data[0], description=data[1])


def parse_server_hello(body: bytes) -> ServerHello:
    """Parse a ServerHello body (after the 4-byte handshake header)."""
    r = Reader(body)
    legacy_version = r.u16()
    random = r.bytes(32)
    session_id = r.vector(1)  # RFC 5246 allows up to 32 bytes; more is recorded as a fact
    cipher_suite = r.u16()
    compression_method = r.u8()
    extensions: list[tuple[int, bytes]] = []
    if not r.eof:  # RFC 5246 7.4.1.3: SSLv3 and early TLS servers end here
        block = r.sub(2)
        while not block.eof:
            ext_type = block.u16()
            extensions.append((ext_type, block.vector(2)))
    r.expect_eof("ServerHello extensions")

    is_hrr = random == HELLO_RETRY_REQUEST_RANDOM
    version = legacy_version
    selected_group: int | None = None
    for ext_type, data in extensions:
        if ext_type == ExtensionType.SUPPORTED_VERSIONS:
            ext = Reader(data)
            version = ext.u16()  # RFC 8446 4.2.1 ServerHello: selected_version
            ext.expect_eof("supported_versions")
        elif ext_type == ExtensionType.KEY_SHARE:
            ext = Reader(data)
            selected_group = ext.u16()  # HRR: selected_group; SH: KeyShareEntry.group
            if not is_hrr:
                ext.vector(2)
            ext.expect_eof("key_share")
    return ServerHello(
        legacy_version=legacy_version,
        version=version,
        random=random,
        session_id=session_id,
        cipher_suite=cipher_suite,
        compression_method=compression_method,
        extensions=tuple(extensions),
        is_hello_retry_request=is_hrr,
        selected_group=selected_group,
    )


@dataclass(frozen=True)
class ServerHelloFeatures:
    """What a TLS 1.0-1.2 server's first flight says about the optional features it supports,
    read from the extensions it echoed (a server only echoes what the client offered, RFC 5246
    7.4.1.4), the ServerHello fields and the CertificateStatus message.

    None means the extension was absent; booleans are only meaningful for extensions the
    hello offered.
    """

    version: int
    cipher_suite: int  # encrypt_then_mac is only echoed for CBC suites (RFC 7366 3)
    renegotiation_info: bytes | None  # renegotiated_connection; empty on a first handshake
    extended_master_secret: bool  # RFC 7627 5.2
    encrypt_then_mac: bool  # RFC 7366 2
    session_ticket: bool  # RFC 5077 3.2: it will send a NewSessionTicket
    status_request: bool  # RFC 6066 8: it will send a CertificateStatus
    ocsp_response: bytes | None  # DER OCSPResponse from CertificateStatus (RFC 6066 8)
    alpn: bytes | None  # RFC 7301 3.1: the one protocol it selected
    compression_method: int  # RFC 5246 7.4.1.3
    session_id_length: int  # non-zero: the session is cached for resumption (RFC 5246 7.4.1.2)


def _empty_extension(data: bytes, name: str) -> bool:
    if data:
        raise DecodeError(f"{name} extension must be empty in a ServerHello, got {len(data)} bytes")
    return True


def parse_certificate_status(body: bytes) -> bytes:
    """RFC 6066 8 CertificateStatus: status_type ocsp(1), then OCSPResponse<1..2^24-1>."""
    r = Reader(body)
    status_type = r.u8()
    if status_type != 1:
        raise DecodeError(f"CertificateStatus of unknown type {status_type}")
    response = r.vector(3, min_len=1)
    r.expect_eof("CertificateStatus")
    return response


def server_hello_features(flight: ServerFlight) -> ServerHelloFeatures:
    """The features a TLS 1.0-1.2 ServerHello (and the CertificateStatus after it) announce.

    Raises DecodeError for a flight without a ServerHello, a TLS 1.3 or SSLv3 one (whose
    answers carry these elsewhere or not at all), duplicate extensions (RFC 5246 7.4.1.4) or
    a malformed extension body.
    """
    hello = flight.server_hello
    if hello is None:
        raise DecodeError("no ServerHello")
    if not Version.TLS1_0 <= hello.version <= Version.TLS1_2 or hello.is_hello_retry_request:
        raise DecodeError(f"{hello.version_label} ServerHello: no TLS 1.0-1.2 extensions")
    seen = [ext_type for ext_type, _ in hello.extensions]
    if len(seen) != len(set(seen)):
        raise DecodeError("ServerHello repeats an extension type")
    reneg: bytes | None = None
    ems = etm = ticket = status = False
    alpn: bytes | None = None
    for ext_type, data in hello.extensions:
        if ext_type == ExtensionType.RENEGOTIATION_INFO:
            r = Reader(data)
            reneg = r.vector(1)  # RFC 5746 3.2 renegotiated_connection<0..255>
            r.expect_eof("renegotiation_info")
        elif ext_type == ExtensionType.EXTENDED_MASTER_SECRET:
            ems = _empty_extension(data, "extended_master_secret")
        elif ext_type == ExtensionType.ENCRYPT_THEN_MAC:
            etm = _empty_extension(data, "encrypt_then_mac")
        elif ext_type == ExtensionType.SESSION_TICKET:
            ticket = _empty_extension(data, "SessionTicket")
        elif ext_type == ExtensionType.STATUS_REQUEST:
            status = _empty_extension(data, "status_request")
        elif ext_type == ExtensionType.ALPN:
            r = Reader(data)
            names = r.sub(2)
            r.expect_eof("ALPN")
            alpn = names.vector(1, min_len=1)  # RFC 7301 3.1: exactly one ProtocolName
            names.expect_eof("ALPN protocol list with more than one name")
    ocsp = None
    if flight.certificate_status is not None:
        ocsp = parse_certificate_status(flight.certificate_status)
    return ServerHelloFeatures(
        version=hello.version,
        cipher_suite=hello.cipher_suite,
        renegotiation_info=reneg,
        extended_master_secret=ems,
        encrypt_then_mac=etm,
        session_ticket=ticket,
        status_request=status,
        ocsp_response=ocsp,
        alpn=alpn,
        compression_method=hello.compression_method,
        session_id_length=len(hello.session_id),
    )


def parse_certificate(body: bytes) -> tuple[bytes, ...]:
    """RFC 5246 7.4.2: certificate_list<0..2^24-1> of ASN.1Cert<1..2^24-1>."""
    r = Reader(body)
    block = r.sub(3)
    r.expect_eof("Certificate")
    chain: list[bytes] = []
    while not block.eof:
        chain.append(block.vector(3, min_len=1))
    return tuple(chain)


def _strip_zeros(value: bytes) -> bytes:
    return value.lstrip(b"\x00")


def _parse_ec_params(r: Reader) -> KeyExchange:
    """RFC 8422 5.4 ServerECDHParams; explicit curves (RFC 4492 5.4) are still reported."""
    curve_type = r.u8()
    if curve_type == 3:  # named_curve
        group = r.u16()
        public = r.vector(1, min_len=1)
        return KeyExchange(
            kind="ECDHE",
            group=group,
            group_name=group_name(group),
            bits=GROUP_BITS.get(group, 0),
            public=public,
        )
    if curve_type == 1:  # explicit_prime: prime p, then curve a, b, base, order, cofactor
        prime = _strip_zeros(r.vector(1, min_len=1))
        return KeyExchange(
            kind="ECDHE",
            group=None,
            group_name="explicit_prime",
            bits=int.from_bytes(prime, "big").bit_length(),
        )
    if curve_type == 2:  # explicit_char2: the field is GF(2^m)
        return KeyExchange(kind="ECDHE", group=None, group_name="explicit_char2", bits=r.u16())
    raise DecodeError(f"unknown ECCurveType {curve_type}")


def _parse_dh_params(r: Reader) -> KeyExchange:
    """RFC 5246 7.4.3 ServerDHParams: dh_p, dh_g, dh_Ys, each <1..2^16-1>."""
    prime = _strip_zeros(r.vector(2, min_len=1))
    generator = _strip_zeros(r.vector(2, min_len=1))
    public = r.vector(2, min_len=1)
    return KeyExchange(
        kind="DHE",
        group=None,
        group_name=None,
        bits=int.from_bytes(prime, "big").bit_length(),
        prime=prime,
        generator=generator,
        public=public,
    )


def parse_server_key_exchange(body: bytes, suite: CipherSuite) -> KeyExchange | None:
    """The ephemeral parameters of a ServerKeyExchange; None for key exchanges we do not read
    (SRP, PSK hints only, GOST, ECCPWD). The signature that follows is not checked."""
    r = Reader(body)
    if suite.kx in ("DHE_PSK", "ECDHE_PSK"):
        r.vector(2)  # RFC 4279 2 / RFC 5489 2: psk_identity_hint comes first
    if suite.kx in ("DHE", "DHE_PSK"):
        return _parse_dh_params(r)
    if suite.kx in ("ECDHE", "ECDHE_PSK") and "CECPQ1" not in suite.name:
        return _parse_ec_params(r)
    if suite.kx == "RSA" and suite.export:
        # RFC 2246 7.4.3 ServerRSAParams: a temporary RSA key for export suites.
        modulus = _strip_zeros(r.vector(2, min_len=1))
        exponent = r.vector(2, min_len=1)
        return KeyExchange(
            kind="RSA",
            group=None,
            group_name=None,
            bits=int.from_bytes(modulus, "big").bit_length(),
            public=modulus + b"|" + exponent,
        )
    return None


def _key_share_exchange(hello: ServerHello) -> KeyExchange | None:
    """TLS 1.3 chose its group in the ServerHello key_share (RFC 8446 4.2.8)."""
    if hello.selected_group is None or hello.is_hello_retry_request:
        return None
    data = hello.extension(ExtensionType.KEY_SHARE) or b""
    r = Reader(data)
    group = r.u16()
    public = r.vector(2)
    if 0x0100 <= group <= 0x01FF:  # RFC 7919 FFDHE
        kind = "DHE"
    elif 0x0200 <= group <= 0x02FF:  # ML-KEM alone: no classical part
        kind = "KEM"
    else:  # curves, and hybrids by their classical curve
        kind = "ECDHE"
    return KeyExchange(
        kind=kind,
        group=group,
        group_name=group_name(group),
        bits=GROUP_BITS.get(group, 0),
        public=public,
    )


class ServerFlightReader:
    """Reads a server's first flight; see the module docstring for when it stops."""

    def __init__(self, *, want_certificate: bool = False, want_key_exchange: bool = False) -> None:
        self._want_more = want_certificate or want_key_exchange
        self._buffer = bytearray()  # record layer bytes not yet parsed (< one record)
        self._handshake = bytearray()  # reassembled handshake bytes not yet parsed
        self._alert_bytes = bytearray()
        self._consumed = 0
        self._done = False
        self._server_hello: ServerHello | None = None
        self._alert: Alert | None = None
        self._warnings: list[Alert] = []
        self._chain: tuple[bytes, ...] = ()
        self._key_exchange: KeyExchange | None = None
        self._hello_done = False
        self._record_version: int | None = None
        self._types: list[int] = []
        self._certificate_requested = False
        self._certificate_status: bytes | None = None

    @property
    def done(self) -> bool:
        return self._done

    @property
    def pending_handshake(self) -> bytes:
        """Handshake bytes not yet a whole message, with the start of a handshake record not yet
        whole: what a caller whose input was cut short (a capture's capped prefix) can still
        read. At most one record plus one partial message, both capped by ``feed``."""
        partial = b""
        if len(self._buffer) > _RECORD_HEADER and self._buffer[0] == ContentType.HANDSHAKE:
            partial = bytes(self._buffer[_RECORD_HEADER:])
        return bytes(self._handshake) + partial

    def feed(self, data: bytes) -> None:
        """Consume bytes from the server. Raises DecodeError (or NotTlsError) on bad input."""
        if self._done or not data:
            return
        if self._record_version is None:
            _check_first_bytes(bytes(self._buffer) + data[:_RECORD_HEADER])
        buf = self._buffer
        buf += data
        pos = 0  # parse by offset and compact once: deleting per record would be quadratic
        while not self._done and len(buf) - pos >= _RECORD_HEADER:
            content_type = buf[pos]
            version = int.from_bytes(buf[pos + 1 : pos + 3], "big")
            length = int.from_bytes(buf[pos + 3 : pos + 5], "big")
            if content_type not in _TLS_CONTENT_TYPES or buf[pos + 1] != 3:
                raise DecodeError(f"bad record header {bytes(buf[pos : pos + 5]).hex()}")
            if length > MAX_RECORD_LENGTH:
                raise DecodeError(f"record of {length} bytes exceeds {MAX_RECORD_LENGTH}")
            if self._record_version is None:
                self._record_version = version
            start, end = pos + _RECORD_HEADER, pos + _RECORD_HEADER + length
            if len(buf) < end:
                if content_type == ContentType.HANDSHAKE:
                    self._check_partial_message(bytes(buf[start : start + _HANDSHAKE_HEADER]))
                break
            pos = end
            self._consumed += end - start + _RECORD_HEADER
            if self._consumed > MAX_FLIGHT_BYTES:
                raise DecodeError(f"server flight exceeds {MAX_FLIGHT_BYTES} bytes")
            self._on_record(content_type, bytes(buf[start:end]))
        if self._done:
            buf.clear()  # trailing bytes are not ours to keep
        else:
            del buf[:pos]

    def _check_partial_message(self, partial_fragment: bytes) -> None:
        """Refuse an oversized handshake message as soon as its header is visible, even while
        the record carrying it is still incomplete."""
        if len(self._handshake) >= _HANDSHAKE_HEADER:
            return  # that header was checked when it arrived
        head = bytes(self._handshake) + partial_fragment[:_HANDSHAKE_HEADER]
        if len(head) >= _HANDSHAKE_HEADER:
            self._check_message_length(int.from_bytes(head[1:4], "big"))

    @staticmethod
    def _check_message_length(length: int) -> None:
        if length > MAX_HANDSHAKE_MESSAGE:
            raise DecodeError(
                f"handshake message of {length} bytes exceeds {MAX_HANDSHAKE_MESSAGE}"
            )

    def _on_record(self, content_type: int, fragment: bytes) -> None:
        if content_type == ContentType.HANDSHAKE:
            if self._alert_bytes:
                raise DecodeError("handshake record inside a fragmented alert")
            self._handshake += fragment
            self._parse_handshake()
        elif content_type == ContentType.ALERT:
            if self._handshake:
                raise DecodeError("alert inside a fragmented handshake message")
            self._alert_bytes += fragment
            while len(self._alert_bytes) >= 2 and not self._done:
                alert = _parse_alert(bytes(self._alert_bytes[:2]))
                del self._alert_bytes[:2]
                self._on_alert(alert)
        elif content_type in (ContentType.CHANGE_CIPHER_SPEC, ContentType.APPLICATION_DATA):
            # From here on everything is encrypted (RFC 5246 7.1, RFC 8446 5).
            self._done = True
        # Heartbeat records (RFC 6520) carry nothing we read.

    def _on_alert(self, alert: Alert) -> None:
        if alert.fatal or alert.description == 0:  # close_notify ends it too
            self._alert = alert
            self._done = True
            return
        self._warnings.append(alert)
        if len(self._warnings) > _MAX_WARNINGS:
            raise DecodeError(f"more than {_MAX_WARNINGS} warning alerts")

    def _parse_handshake(self) -> None:
        hs = self._handshake
        pos = 0
        while not self._done and len(hs) - pos >= _HANDSHAKE_HEADER:
            msg_type = hs[pos]
            length = int.from_bytes(hs[pos + 1 : pos + 4], "big")
            self._check_message_length(length)
            start, end = pos + _HANDSHAKE_HEADER, pos + _HANDSHAKE_HEADER + length
            if len(hs) < end:
                break
            pos = end
            self._on_message(msg_type, bytes(hs[start:end]))
        del hs[:pos]

    def _on_message(self, msg_type: int, body: bytes) -> None:
        self._types.append(msg_type)
        if len(self._types) > _MAX_MESSAGES:
            raise DecodeError(f"more than {_MAX_MESSAGES} handshake messages in one flight")
        if msg_type == HandshakeType.HELLO_REQUEST:
            return  # RFC 5246 7.4.1.1: may be ignored
        if self._server_hello is None:
            if msg_type != HandshakeType.SERVER_HELLO:
                raise DecodeError(f"handshake message {msg_type} before ServerHello")
            hello = parse_server_hello(body)
            self._server_hello = hello
            if hello.version >= Version.TLS1_3 or hello.is_hello_retry_request:
                self._key_exchange = _key_share_exchange(hello)
                self._done = True
            elif not self._want_more:
                self._done = True
            return
        if msg_type == HandshakeType.CERTIFICATE:
            self._chain = parse_certificate(body)
        elif msg_type == HandshakeType.SERVER_KEY_EXCHANGE:
            suite = self._server_hello.suite
            if suite is not None:
                self._key_exchange = parse_server_key_exchange(body, suite)
        elif msg_type == HandshakeType.CERTIFICATE_REQUEST:
            self._certificate_requested = True
        elif msg_type == HandshakeType.CERTIFICATE_STATUS and self._certificate_status is None:
            self._certificate_status = body  # parsed by server_hello_features, not here
        elif msg_type == HandshakeType.SERVER_HELLO_DONE:
            self._hello_done = True
            self._done = True
        elif msg_type == HandshakeType.FINISHED:
            self._done = True  # an abbreviated handshake; cannot happen without CCS first

    def result(self) -> ServerFlight:
        """What was read so far; complete once ``done`` is true."""
        return ServerFlight(
            server_hello=self._server_hello,
            alert=self._alert,
            certificate_chain=self._chain,
            key_exchange=self._key_exchange,
            server_hello_done=self._hello_done,
            warnings=tuple(self._warnings),
            record_version=self._record_version,
            handshake_types=tuple(self._types),
            certificate_requested=self._certificate_requested,
            certificate_status=self._certificate_status,
        )


# --- SSLv2 -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ssl2ServerHello:
    """SSL 2.0 SERVER-HELLO (draft-hickman-netscape-ssl-00, "Server Only Protocol Messages")."""

    session_id_hit: bool
    certificate_type: int  # 1 = SSL_CT_X509_CERTIFICATE
    version: int
    certificate: bytes  # DER
    cipher_specs: tuple[int, ...]  # 3-byte cipher kinds the server accepts
    connection_id: bytes


@dataclass(frozen=True)
class Ssl2ServerFlight:
    """The answer to an SSLv2 CLIENT-HELLO: a SERVER-HELLO, an SSLv2 ERROR, or a TLS alert."""

    server_hello: Ssl2ServerHello | None
    error_code: int | None = None
    alert: Alert | None = None
    tls_record_version: int | None = None  # set when the server answered with SSLv3/TLS

    @property
    def error_name(self) -> str | None:
        if self.error_code is None:
            return None
        return SSL2_ERRORS.get(self.error_code, f"error_0x{self.error_code:04x}")


# A 2-byte SSLv2 header carries a 15-bit length; a 3-byte one 14 bits (SSL 2.0 draft).
_SSL2_MAX_RECORD = 0x7FFF


def parse_ssl2_server_hello(body: bytes) -> Ssl2ServerHello:
    """The SERVER-HELLO after its message type byte."""
    r = Reader(body)
    session_id_hit = r.u8()
    certificate_type = r.u8()
    version = r.u16()
    certificate_length = r.u16()
    cipher_specs_length = r.u16()
    connection_id_length = r.u16()
    certificate = r.bytes(certificate_length)
    if cipher_specs_length % 3:
        raise DecodeError(f"SSLv2 cipher specs length {cipher_specs_length} is not a multiple of 3")
    specs = Reader(r.bytes(cipher_specs_length))
    cipher_specs = tuple(specs.uint(3) for _ in range(cipher_specs_length // 3))
    connection_id = r.bytes(connection_id_length)
    r.expect_eof("SSLv2 SERVER-HELLO")
    return Ssl2ServerHello(
        session_id_hit=session_id_hit != 0,
        certificate_type=certificate_type,
        version=version,
        certificate=certificate,
        cipher_specs=cipher_specs,
        connection_id=connection_id,
    )


class Ssl2ServerHelloReader:
    """Reads the answer to an SSLv2 CLIENT-HELLO; same feed/done/result pattern."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._done = False
        self._result = Ssl2ServerFlight(server_hello=None)

    @property
    def done(self) -> bool:
        return self._done

    def feed(self, data: bytes) -> None:
        if self._done or not data:
            return
        # One record answers an SSLv2 hello, so the buffer never outgrows its 32 KiB limit
        # plus the caller's last chunk.
        self._buffer += data
        first = self._buffer[0]
        if first in _TLS_CONTENT_TYPES:
            self._read_tls()
        else:
            self._read_ssl2()
        if self._done:
            self._buffer.clear()

    def _read_tls(self) -> None:
        """A server without SSLv2 may answer a v2-framed hello with SSLv3/TLS (RFC 5246 E.2)."""
        if len(self._buffer) >= 2 and self._buffer[1] != 3:
            raise NotTlsError(f"peer did not answer with SSL (first bytes {self._head()!r})")
        if len(self._buffer) < _RECORD_HEADER:
            return
        content_type = self._buffer[0]
        version = int.from_bytes(self._buffer[1:3], "big")
        length = int.from_bytes(self._buffer[3:5], "big")
        if length > MAX_RECORD_LENGTH:
            raise DecodeError(f"record of {length} bytes exceeds {MAX_RECORD_LENGTH}")
        if content_type == ContentType.ALERT:
            if length < 2:
                raise DecodeError("alert record shorter than 2 bytes")
            if len(self._buffer) < _RECORD_HEADER + 2:
                return
            alert = _parse_alert(bytes(self._buffer[5:7]))
            self._result = Ssl2ServerFlight(
                server_hello=None, alert=alert, tls_record_version=version
            )
        else:
            self._result = Ssl2ServerFlight(server_hello=None, tls_record_version=version)
        self._done = True

    def _read_ssl2(self) -> None:
        if len(self._buffer) < 2:
            return
        first = self._buffer[0]
        # A 2-byte header (high bit set) carries a 15-bit length; a 3-byte one a 14-bit length
        # and then a padding count (SSL 2.0 draft, "Record Header").
        header = 2 if first & 0x80 else 3
        length = ((first & (0x7F if header == 2 else 0x3F)) << 8) | self._buffer[1]
        if length == 0:
            raise NotTlsError(f"peer did not answer with SSL (first bytes {self._head()!r})")
        # The message type is the first byte after the header; refuse non-SSL early.
        if len(self._buffer) > header and self._buffer[header] not in (
            SSL2_MT_SERVER_HELLO,
            SSL2_MT_ERROR,
        ):
            raise NotTlsError(f"peer did not answer with SSL (first bytes {self._head()!r})")
        if len(self._buffer) < header + length:
            return
        message = bytes(self._buffer[header : header + length])
        if header == 3:
            padding = self._buffer[2]
            if padding > length - 1:
                raise DecodeError("SSLv2 padding longer than the record")
            message = message[: length - padding]
        r = Reader(message)
        msg_type = r.u8()
        if msg_type == SSL2_MT_ERROR:
            self._result = Ssl2ServerFlight(server_hello=None, error_code=r.u16())
        else:
            self._result = Ssl2ServerFlight(server_hello=parse_ssl2_server_hello(r.rest()))
        self._done = True

    def _head(self) -> bytes:
        return bytes(self._buffer[:16])

    def result(self) -> Ssl2ServerFlight:
        return self._result
