"""Sans-I/O SSTP codec: the HTTP(S) handshake, SSTP framing, and the server's first PPP LCP
packet.

Just enough of the Secure Socket Tunneling Protocol ([MS-SSTP]) to tell, without credentials,
whether a server speaks SSTP, over what, and how it would authenticate the tunnel:

* the ``SSTP_DUPLEX_POST`` request of [MS-SSTP] 3.2.4.1 / 4.1 and the HTTP response head
  (status line and header fields, RFC 9112 4 / 5);
* SSTP packets ([MS-SSTP] 2.2.1: data 2.2.3, control 2.2.2 with the attributes of 2.2.4),
  framed incrementally by :class:`SstpReader`;
* the Call Connect Request (2.2.9) the client sends and the Call Connect Acknowledge (2.2.10)
  with its Crypto Binding Request attribute (2.2.6: hash protocol bitmask and nonce);
* Status Info attributes (2.2.8) of a Call Connect NAK (2.2.12), Call Abort (2.2.13) or Call
  Disconnect (2.2.14);
* the server's LCP Configure-Request (RFC 1661 5.1) carried in the first SSTP data packet,
  whose Authentication-Protocol option (RFC 1661 6.2) names PAP, CHAP (RFC 1994, with the MD5,
  MS-CHAP and MS-CHAPv2 algorithms) or EAP (RFC 3748).

Builders take every variable value as an argument (the correlation GUID: no randomness here)
and raise ``ValueError`` on bad arguments. Parsers raise only :class:`DecodeError`: every
length field is checked against the bytes actually present, an HTTP head is capped at
:data:`MAX_HTTP_HEAD` bytes and an SSTP packet's 12-bit length at 4095.

All SSTP and PPP integers are big-endian (network byte order).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from probe.codecs.buffer import Reader, Writer
from probe.codecs.errors import DecodeError

__all__ = [
    "ATTRIBUTE_NAMES",
    "ATTRIB_CRYPTO_BINDING",
    "ATTRIB_CRYPTO_BINDING_REQ",
    "ATTRIB_ENCAPSULATED_PROTOCOL_ID",
    "ATTRIB_NO_ERROR",
    "ATTRIB_STATUS_INFO",
    "CONTENT_LENGTH_ULONGLONG_MAX",
    "HASH_PROTOCOL_NAMES",
    "HASH_SHA1",
    "HASH_SHA256",
    "MAX_HTTP_HEAD",
    "MAX_SSTP_PACKET",
    "MESSAGE_NAMES",
    "MSG_CALL_ABORT",
    "MSG_CALL_CONNECTED",
    "MSG_CALL_CONNECT_ACK",
    "MSG_CALL_CONNECT_NAK",
    "MSG_CALL_CONNECT_REQUEST",
    "MSG_CALL_DISCONNECT",
    "MSG_CALL_DISCONNECT_ACK",
    "MSG_ECHO_REQUEST",
    "MSG_ECHO_RESPONSE",
    "PPP_CHAP",
    "PPP_EAP",
    "PPP_LCP",
    "PPP_PAP",
    "PROTOCOL_PPP",
    "SSTP_URI",
    "SSTP_VERSION",
    "STATUS_NAMES",
    "CallConnectAck",
    "DecodeError",
    "HttpAnswer",
    "LcpConfigureRequest",
    "SstpAttribute",
    "SstpPacket",
    "SstpReader",
    "StatusInfo",
    "build_call_connect_request",
    "build_call_disconnect",
    "build_control_packet",
    "build_data_packet",
    "build_duplex_post",
    "build_echo_response",
    "is_sstp_accept",
    "parse_call_connect_ack",
    "parse_http_head",
    "parse_packet",
    "parse_ppp_lcp",
    "parse_status_info",
]

# --- constants ---------------------------------------------------------------------------

# [MS-SSTP] 3.2.4.1: the URI every SSTP client posts to, and the Content-Length both sides
# send (ULONGLONG_MAX: the HTTP body is the whole SSTP stream).
SSTP_URI = "/sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/"
CONTENT_LENGTH_ULONGLONG_MAX = "18446744073709551615"

# The answer to an SSTP_DUPLEX_POST is a short head (Windows: four header fields, [MS-SSTP]
# 4.1); anything longer without an end is not an SSTP server.
MAX_HTTP_HEAD = 8192

# [MS-SSTP] 2.2.1: Version 0x10 (major 1, minor 0); the length is 12 bits and covers the
# 4-byte header.
SSTP_VERSION = 0x10
_SSTP_HEADER = 4
MAX_SSTP_PACKET = 0x0FFF
_CONTROL_HEADER = 8  # [MS-SSTP] 2.2.2: packet header + Message Type + Num Attributes
_ATTRIBUTE_HEADER = 4  # [MS-SSTP] 2.2.4: Reserved, Attribute ID, 4-bit R + 12-bit Length

# Message Type ([MS-SSTP] 2.2.2).
MSG_CALL_CONNECT_REQUEST = 0x0001
MSG_CALL_CONNECT_ACK = 0x0002
MSG_CALL_CONNECT_NAK = 0x0003
MSG_CALL_CONNECTED = 0x0004
MSG_CALL_ABORT = 0x0005
MSG_CALL_DISCONNECT = 0x0006
MSG_CALL_DISCONNECT_ACK = 0x0007
MSG_ECHO_REQUEST = 0x0008
MSG_ECHO_RESPONSE = 0x0009

MESSAGE_NAMES: dict[int, str] = {
    MSG_CALL_CONNECT_REQUEST: "CALL_CONNECT_REQUEST",
    MSG_CALL_CONNECT_ACK: "CALL_CONNECT_ACK",
    MSG_CALL_CONNECT_NAK: "CALL_CONNECT_NAK",
    MSG_CALL_CONNECTED: "CALL_CONNECTED",
    MSG_CALL_ABORT: "CALL_ABORT",
    MSG_CALL_DISCONNECT: "CALL_DISCONNECT",
    MSG_CALL_DISCONNECT_ACK: "CALL_DISCONNECT_ACK",
    MSG_ECHO_REQUEST: "ECHO_REQUEST",
    MSG_ECHO_RESPONSE: "ECHO_RESPONSE",
}

# Attribute ID ([MS-SSTP] 2.2.4); 0 is SSTP_ATTRIB_NO_ERROR, valid only as the AttribID of a
# Status Info attribute (2.2.8).
ATTRIB_NO_ERROR = 0x00
ATTRIB_ENCAPSULATED_PROTOCOL_ID = 0x01
ATTRIB_STATUS_INFO = 0x02
ATTRIB_CRYPTO_BINDING = 0x03
ATTRIB_CRYPTO_BINDING_REQ = 0x04

ATTRIBUTE_NAMES: dict[int, str] = {
    ATTRIB_NO_ERROR: "NO_ERROR",
    ATTRIB_ENCAPSULATED_PROTOCOL_ID: "ENCAPSULATED_PROTOCOL_ID",
    ATTRIB_STATUS_INFO: "STATUS_INFO",
    ATTRIB_CRYPTO_BINDING: "CRYPTO_BINDING",
    ATTRIB_CRYPTO_BINDING_REQ: "CRYPTO_BINDING_REQ",
}

PROTOCOL_PPP = 0x0001  # [MS-SSTP] 2.2.5 SSTP_ENCAPSULATED_PROTOCOL_PPP

# Hash Protocol Bitmask ([MS-SSTP] 2.2.6).
HASH_SHA1 = 0x01  # CERT_HASH_PROTOCOL_SHA1
HASH_SHA256 = 0x02  # CERT_HASH_PROTOCOL_SHA256
HASH_PROTOCOL_NAMES: dict[int, str] = {HASH_SHA1: "SHA1", HASH_SHA256: "SHA256"}
_CRYPTO_BINDING_REQ_VALUE = 36  # [MS-SSTP] 2.2.6: Length 40 minus the 4-byte attribute header
_NONCE = 32

# Status ([MS-SSTP] 2.2.8).
STATUS_NAMES: dict[int, str] = {
    0x00000000: "ATTRIB_STATUS_NO_ERROR",
    0x00000001: "ATTRIB_STATUS_DUPLICATE_ATTRIBUTE",
    0x00000002: "ATTRIB_STATUS_UNRECOGNIZED_ATTRIBUTE",
    0x00000003: "ATTRIB_STATUS_INVALID_ATTRIB_VALUE_LENGTH",
    0x00000004: "ATTRIB_STATUS_VALUE_NOT_SUPPORTED",
    0x00000005: "ATTRIB_STATUS_UNACCEPTED_FRAME_RECEIVED",
    0x00000006: "ATTRIB_STATUS_RETRY_COUNT_EXCEEDED",
    0x00000007: "ATTRIB_STATUS_INVALID_FRAME_RECEIVED",
    0x00000008: "ATTRIB_STATUS_NEGOTIATION_TIMEOUT",
    0x00000009: "ATTRIB_STATUS_ATTRIB_NOT_SUPPORTED_IN_MSG",
    0x0000000A: "ATTRIB_STATUS_REQUIRED_ATTRIBUTE_MISSING",
    0x0000000B: "ATTRIB_STATUS_STATUS_INFO_NOT_SUPPORTED_IN_MSG",
}
_STATUS_INFO_FIXED = 8  # [MS-SSTP] 2.2.8: Reserved1 (3), AttribID (1), Status (4)

# PPP protocol numbers (RFC 1661 2, IANA "PPP DLL Protocol Numbers").
PPP_LCP = 0xC021
PPP_PAP = 0xC023  # RFC 1334
PPP_CHAP = 0xC223  # RFC 1994
PPP_EAP = 0xC227  # RFC 3748
_LCP_CONFIGURE_REQUEST = 1  # RFC 1661 5.1
_LCP_OPTION_AUTH = 3  # RFC 1661 6.2
_CHAP_ALGORITHMS = {0x05: "CHAP-MD5", 0x80: "MS-CHAP", 0x81: "MS-CHAPv2"}  # RFC 1994 3, 2433, 2759

_GUID_RE = re.compile(
    r"(\{)?([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})(?(1)\})"
)
# RFC 3986 host (reg-name, IPv4, bracketed IPv6 with an optional zone) and optional port.
_HOST_RE = re.compile(r"[A-Za-z0-9._~%!$&'()*+,;=:\[\]-]+")
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 5.6.2
_STATUS_LINE_RE = re.compile(r"(HTTP/[0-9]\.[0-9]) ([0-9]{3})(?: (.*))?")  # RFC 9112 4
_BAD_FIELD_CHARS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # controls except HTAB


# --- HTTP ([MS-SSTP] 3.2.4.1, 4.1) ---------------------------------------------------------


def build_duplex_post(host: str, correlation_id: str) -> bytes:
    """The request that opens an SSTP call ([MS-SSTP] 3.2.4.1, example in 4.1).

    ``host`` goes into the Host field as given (a DNS name, an IPv4 address or a bracketed
    IPv6 address, optionally with ``:port``; IDNs must already be in A-label form).
    ``correlation_id`` is a GUID, with or without braces; it is sent in braces, letter case
    kept, as Windows clients do (``SSTPCORRELATIONID: {<GUID>}``).
    """
    if not _HOST_RE.fullmatch(host):
        raise ValueError(f"not a valid HTTP host: {host!r}")
    match = _GUID_RE.fullmatch(correlation_id)
    if match is None:
        raise ValueError(f"not a GUID: {correlation_id!r}")
    return (
        f"SSTP_DUPLEX_POST {SSTP_URI} HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        f"Content-Length: {CONTENT_LENGTH_ULONGLONG_MAX}\r\n"
        f"SSTPCORRELATIONID: {{{match.group(2)}}}\r\n"
        "\r\n"
    ).encode("ascii")


@dataclass(frozen=True)
class HttpAnswer:
    """The head of the server's HTTP response."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]  # (name as sent, value without surrounding blanks)
    server: str | None  # the first Server field
    content_length: str | None  # decimal digits, leading zeros removed
    version: str  # e.g. "HTTP/1.1"


def _content_length(values: list[str]) -> str | None:
    """RFC 9110 8.6 / RFC 9112 6.3: repeated or comma-listed Content-Length values are
    accepted only when they are all the same number."""
    numbers: set[str] = set()
    for value in values:
        for item in value.split(","):
            item = item.strip(" \t")
            if not item.isascii() or not item.isdigit():
                raise DecodeError(f"Content-Length {value!r} is not a number")
            numbers.add(item.lstrip("0") or "0")
    if len(numbers) > 1:
        raise DecodeError(f"conflicting Content-Length values {sorted(numbers)}")
    return numbers.pop() if numbers else None


def parse_http_head(data: bytes) -> tuple[HttpAnswer, int] | None:
    """Parse the response head at the start of ``data`` (what the server sent so far).

    Returns None while the head (up to and including the first CRLFCRLF) is incomplete, else
    the answer and the number of bytes it used: SSTP packets may follow in the same read, and
    the caller keeps ``data[consumed:]``. Raises :class:`DecodeError` as soon as the first
    bytes cannot start an HTTP response (an early answer to "is this HTTP at all"), when no
    end is found within :data:`MAX_HTTP_HEAD` bytes, and on a malformed status line or field
    (bare CR or LF, obsolete line folding, a field without a colon or with a bad name, control
    characters, conflicting Content-Length values). Field names match case-insensitively.
    """
    start = bytes(data[:5])
    if not b"HTTP/".startswith(start):
        raise DecodeError(f"not an HTTP response (first bytes {bytes(data[:16])!r})")
    end = data.find(b"\r\n\r\n", 0, MAX_HTTP_HEAD)
    if end < 0:
        if len(data) >= MAX_HTTP_HEAD:
            raise DecodeError(f"no end of the HTTP head within {MAX_HTTP_HEAD} bytes")
        return None
    lines = bytes(data[:end]).decode("latin-1").split("\r\n")
    for line in lines:
        if "\r" in line or "\n" in line:
            raise DecodeError("bare CR or LF in the HTTP head")
    status_line = _STATUS_LINE_RE.fullmatch(lines[0])
    if status_line is None:
        raise DecodeError(f"bad HTTP status line {lines[0][:80]!r}")
    reason = status_line.group(3) or ""
    if _BAD_FIELD_CHARS.search(reason):
        raise DecodeError("control character in the HTTP reason phrase")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            raise DecodeError("obsolete line folding in the HTTP head")  # RFC 9112 5.2
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN_RE.fullmatch(name):
            raise DecodeError(f"bad HTTP field line {line[:80]!r}")
        value = value.strip(" \t")
        if _BAD_FIELD_CHARS.search(value):
            raise DecodeError(f"control character in HTTP field {name!r}")
        headers.append((name, value))
    servers = [v for n, v in headers if n.lower() == "server"]
    length = _content_length([v for n, v in headers if n.lower() == "content-length"])
    answer = HttpAnswer(
        status=int(status_line.group(2)),
        reason=reason,
        headers=tuple(headers),
        server=servers[0] if servers else None,
        content_length=length,
        version=status_line.group(1),
    )
    return answer, end + 4


def is_sstp_accept(answer: HttpAnswer) -> bool:
    """Whether ``answer`` accepts an SSTP call ([MS-SSTP] 3.2.4.1, 4.1).

    Required: status 200, HTTP/1.x, and Content-Length 18446744073709551615 (ULONGLONG_MAX,
    leading zeros ignored; a repeated identical value is one value). Tolerated: any reason
    phrase (Windows' example lists only the code; sstp-server sends "OK"), a missing or any
    Server field, any extra fields (Date...), any field-name case. A 200 without that
    Content-Length is an ordinary web server answering an unknown method, not SSTP.
    """
    return (
        answer.status == 200
        and answer.version.startswith("HTTP/1.")
        and answer.content_length == CONTENT_LENGTH_ULONGLONG_MAX
    )


# --- SSTP packets ([MS-SSTP] 2.2.1 - 2.2.4) ------------------------------------------------


@dataclass(frozen=True)
class SstpAttribute:
    """An SSTP attribute ([MS-SSTP] 2.2.4): its ID and the value after the 4-byte header."""

    attribute_id: int
    value: bytes

    @property
    def name(self) -> str:
        return ATTRIBUTE_NAMES.get(self.attribute_id, f"0x{self.attribute_id:02x}")


@dataclass(frozen=True)
class SstpPacket:
    """One SSTP packet ([MS-SSTP] 2.2.1).

    Control packets (2.2.2) have ``message_type`` and ``attributes`` and an empty ``data``;
    data packets (2.2.3) have ``message_type`` None, no attributes, and the encapsulated PPP
    frame in ``data``. ``length`` is the packet's total length, header included.
    """

    version: int
    control: bool
    length: int
    message_type: int | None
    attributes: tuple[SstpAttribute, ...]
    data: bytes

    @property
    def message_name(self) -> str:
        if self.message_type is None:
            return "DATA"
        return MESSAGE_NAMES.get(self.message_type, f"0x{self.message_type:04x}")


def _check_version(first: bytes) -> None:
    if first[0] != SSTP_VERSION:
        raise DecodeError(
            f"SSTP version byte 0x{first[0]:02x} is not 0x10 (first bytes {first[:16]!r})"
        )


def _header(first: bytes) -> tuple[bool, int]:
    """Check an SSTP packet header's first bytes ([MS-SSTP] 2.2.1); (control, length) once 4
    bytes are there. The 7 reserved bits and the 4-bit R field are ignored, as required."""
    _check_version(first)
    control = bool(first[1] & 0x01)
    length = ((first[2] & 0x0F) << 8) | first[3]
    minimum = _CONTROL_HEADER if control else _SSTP_HEADER + 1
    if length < minimum:
        kind = "control" if control else "data"
        raise DecodeError(f"SSTP {kind} packet length {length} is below {minimum}")
    return control, length


def parse_packet(data: bytes) -> SstpPacket:
    """Parse exactly one whole SSTP packet (its length field must equal ``len(data)``)."""
    data = bytes(data)
    if len(data) < _SSTP_HEADER:
        raise DecodeError(f"truncated SSTP header: {len(data)} of 4 bytes")
    control, length = _header(data)
    if length != len(data):
        raise DecodeError(f"SSTP length field says {length} bytes, have {len(data)}")
    if not control:
        return SstpPacket(data[0], False, length, None, (), data[_SSTP_HEADER:])
    body = Reader(data[_SSTP_HEADER:])
    message_type = body.u16()
    count = body.u16()
    attributes: list[SstpAttribute] = []
    for index in range(count):
        if body.remaining < _ATTRIBUTE_HEADER:
            raise DecodeError(f"SSTP message declares {count} attributes, only {index} are present")
        body.u8()  # Reserved: ignored on receipt
        attribute_id = body.u8()
        attr_length = body.u16() & 0x0FFF  # 4-bit R ignored
        if attr_length < _ATTRIBUTE_HEADER:
            raise DecodeError(f"SSTP attribute length {attr_length} is below 4")
        if attr_length - _ATTRIBUTE_HEADER > body.remaining:
            raise DecodeError(
                f"SSTP attribute of {attr_length} bytes overruns the packet "
                f"({body.remaining + _ATTRIBUTE_HEADER} left)"
            )
        attributes.append(SstpAttribute(attribute_id, body.bytes(attr_length - 4)))
    body.expect_eof(f"the {count} attributes of an SSTP control message")
    return SstpPacket(data[0], True, length, message_type, tuple(attributes), b"")


class SstpReader:
    """Incremental SSTP framing of the stream after the HTTP head: feed any split, get every
    packet completed so far.

    The header is checked as soon as its bytes arrive (a first byte other than 0x10 fails at
    once; 3.1.5.1 says a stream that cannot be delineated is aborted), so at most one
    incomplete packet (at most 4094 bytes) is ever buffered. On malformed bytes ``feed``
    raises :class:`DecodeError`; when packets were complete before the bad bytes in the same
    ``feed``, it returns those first and raises on the next call (``feed(b"")`` flushes it).
    The stream cannot be re-synchronised: after an error every ``feed`` raises again.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._error: DecodeError | None = None
        self._packets: list[SstpPacket] = []

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete packet held back."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[SstpPacket]:
        if self._error is not None:
            raise DecodeError(f"SSTP stream already failed: {self._error}")
        self._packets = []
        try:
            self._feed(data)
        except DecodeError as exc:
            self._error = exc
            self._buffer.clear()
            if not self._packets:
                raise
        return self._packets

    def _feed(self, data: bytes) -> None:
        view = memoryview(bytes(data))
        while view:
            missing = _SSTP_HEADER - len(self._buffer)
            if missing > 0:
                self._buffer += view[:missing]
                view = view[missing:]
                _check_version(bytes(self._buffer))  # fail on the first byte, not the fourth
                if len(self._buffer) < _SSTP_HEADER:
                    break
            _, length = _header(bytes(self._buffer[:_SSTP_HEADER]))
            take = min(length - len(self._buffer), len(view))
            self._buffer += view[:take]
            view = view[take:]
            if len(self._buffer) == length:
                self._packets.append(parse_packet(bytes(self._buffer)))
                self._buffer.clear()


def build_control_packet(message_type: int, attributes: list[tuple[int, bytes]]) -> bytes:
    """An SSTP control packet ([MS-SSTP] 2.2.2) with attributes (2.2.4) as (ID, value)."""
    body = Writer()
    body.u16(message_type)
    body.u16(len(attributes))
    for attribute_id, value in attributes:
        body.u8(0)  # Reserved
        body.u8(attribute_id)
        if _ATTRIBUTE_HEADER + len(value) > MAX_SSTP_PACKET:
            raise ValueError(f"SSTP attribute value of {len(value)} bytes is too long")
        body.u16(_ATTRIBUTE_HEADER + len(value))
        body.bytes(value)
    return _packet(True, body.getvalue())


def build_data_packet(frame: bytes) -> bytes:
    """An SSTP data packet ([MS-SSTP] 2.2.3) carrying one PPP frame."""
    if not frame:
        raise ValueError("an SSTP data packet needs a payload")
    return _packet(False, bytes(frame))


def _packet(control: bool, payload: bytes) -> bytes:
    length = _SSTP_HEADER + len(payload)
    if length > MAX_SSTP_PACKET:
        raise ValueError(f"SSTP packet of {length} bytes exceeds {MAX_SSTP_PACKET}")
    return bytes((SSTP_VERSION, int(control))) + length.to_bytes(2, "big") + payload


def build_call_connect_request(protocol_id: int = PROTOCOL_PPP) -> bytes:
    """Call Connect Request ([MS-SSTP] 2.2.9): one Encapsulated Protocol ID attribute (2.2.5).

    With PPP (the only protocol SSTP 1.0 defines) it is the 14 bytes
    ``10 01 00 0E 00 01 00 01 00 01 00 06 00 01``.
    """
    if not 0 <= protocol_id <= 0xFFFF:
        raise ValueError(f"protocol id {protocol_id} does not fit in 16 bits")
    return build_control_packet(
        MSG_CALL_CONNECT_REQUEST,
        [(ATTRIB_ENCAPSULATED_PROTOCOL_ID, protocol_id.to_bytes(2, "big"))],
    )


def _status_info(attrib_id: int, status: int, value: bytes = b"") -> bytes:
    """A Status Info attribute value ([MS-SSTP] 2.2.8): Reserved1, AttribID, Status, value."""
    return b"\x00\x00\x00" + bytes((attrib_id,)) + status.to_bytes(4, "big") + value


def build_call_disconnect() -> bytes:
    """Call Disconnect ([MS-SSTP] 2.2.14), with the one Status Info attribute the message
    SHOULD have: AttribID SSTP_ATTRIB_NO_ERROR, Status ATTRIB_STATUS_NO_ERROR (20 bytes)."""
    return build_control_packet(MSG_CALL_DISCONNECT, [(ATTRIB_STATUS_INFO, _status_info(0, 0))])


def build_echo_response() -> bytes:
    """Echo Response ([MS-SSTP] 2.2.15): the answer to a server's Echo Request (its hello
    timer, 3.1.2.3), no attributes (8 bytes)."""
    return build_control_packet(MSG_ECHO_RESPONSE, [])


# --- Call Connect Acknowledge / NAK ([MS-SSTP] 2.2.10, 2.2.12, 2.2.6, 2.2.8) ---------------


@dataclass(frozen=True)
class CallConnectAck:
    """The Crypto Binding Request of a Call Connect Acknowledge ([MS-SSTP] 2.2.10, 2.2.6).

    ``hash_protocols`` names the known bits of ``bitmask`` ("SHA1" 0x01, "SHA256" 0x02), in
    that order; unknown bits are left out of it but kept in ``bitmask``. An empty tuple means
    the server offers no hash the spec knows (it MUST select at least one): a protocol
    violation, returned rather than raised so it can be reported.
    """

    hash_protocols: tuple[str, ...]
    bitmask: int
    nonce: bytes


def _control_message(packet: SstpPacket, message_type: int) -> None:
    if not packet.control or packet.message_type != message_type:
        raise DecodeError(f"expected SSTP {MESSAGE_NAMES[message_type]}, got {packet.message_name}")


def parse_call_connect_ack(packet: SstpPacket) -> CallConnectAck:
    """The Call Connect Acknowledge in ``packet``; :class:`DecodeError` when it is another
    message (e.g. CALL_CONNECT_NAK or CALL_ABORT: check ``message_type`` first) or has not
    exactly one Crypto Binding Request attribute of 40 bytes."""
    _control_message(packet, MSG_CALL_CONNECT_ACK)
    requests = [a for a in packet.attributes if a.attribute_id == ATTRIB_CRYPTO_BINDING_REQ]
    if len(requests) != 1:
        raise DecodeError(
            f"Call Connect Ack has {len(requests)} Crypto Binding Request attributes, not 1"
        )
    value = requests[0].value
    if len(value) != _CRYPTO_BINDING_REQ_VALUE:
        raise DecodeError(f"Crypto Binding Request attribute of {len(value) + 4} bytes, not 40")
    bitmask = value[3]  # after the 3 reserved bytes
    names = tuple(name for bit, name in HASH_PROTOCOL_NAMES.items() if bitmask & bit)
    return CallConnectAck(hash_protocols=names, bitmask=bitmask, nonce=value[4 : 4 + _NONCE])


@dataclass(frozen=True)
class StatusInfo:
    """A Status Info attribute ([MS-SSTP] 2.2.8): which attribute, what went wrong, and the
    offending value when the sender includes it."""

    attrib_id: int
    status: int
    value: bytes

    @property
    def status_name(self) -> str:
        return STATUS_NAMES.get(self.status, f"0x{self.status:08x}")


def parse_status_info(packet: SstpPacket) -> tuple[StatusInfo, ...]:
    """The Status Info attributes of a control packet (a Call Connect NAK has one or more,
    2.2.12; Call Abort and Call Disconnect SHOULD have one, 2.2.13 / 2.2.14). Other attributes
    are skipped; a Status Info value shorter than its 8 fixed bytes raises DecodeError."""
    if not packet.control:
        raise DecodeError("an SSTP data packet has no attributes")
    infos: list[StatusInfo] = []
    for attribute in packet.attributes:
        if attribute.attribute_id != ATTRIB_STATUS_INFO:
            continue
        value = attribute.value
        if len(value) < _STATUS_INFO_FIXED:
            raise DecodeError(f"Status Info attribute of {len(value) + 4} bytes, below 12")
        infos.append(
            StatusInfo(value[3], int.from_bytes(value[4:8], "big"), value[_STATUS_INFO_FIXED:])
        )
    return tuple(infos)


# --- PPP LCP (RFC 1661) --------------------------------------------------------------------


@dataclass(frozen=True)
class LcpConfigureRequest:
    """An LCP Configure-Request (RFC 1661 5.1).

    ``auth_protocol`` comes from the first Authentication-Protocol option (RFC 1661 6.2):
    "PAP", "CHAP-MD5", "MS-CHAP", "MS-CHAPv2", "CHAP-0x<alg>" for another CHAP algorithm,
    "EAP", "0x<protocol>" for an unknown protocol, None without the option (no
    authentication asked). ``options`` are (type, data) without the type/length bytes.
    """

    identifier: int
    auth_protocol: str | None
    options: tuple[tuple[int, bytes], ...]


def _auth_name(data: bytes) -> str:
    if len(data) < 2:
        raise DecodeError(f"Authentication-Protocol option of {len(data) + 2} bytes, below 4")
    protocol = int.from_bytes(data[:2], "big")
    if protocol == PPP_PAP:
        return "PAP"
    if protocol == PPP_EAP:
        return "EAP"
    if protocol == PPP_CHAP:
        if len(data) < 3:  # RFC 1994 3: the Algorithm octet is required
            raise DecodeError("CHAP Authentication-Protocol option without an algorithm")
        return _CHAP_ALGORITHMS.get(data[2], f"CHAP-0x{data[2]:02x}")
    return f"0x{protocol:04x}"


def parse_ppp_lcp(frame: bytes) -> LcpConfigureRequest | None:
    """The LCP Configure-Request in a PPP frame (the payload of an SSTP data packet).

    The frame may start with the FF 03 address and control fields (RFC 1662 3.1); SSTP carries
    no flags and no FCS. Returns None for any other PPP frame (another protocol, a compressed
    one-byte protocol field, another LCP code), so the caller can keep reading. Raises
    :class:`DecodeError` on a truncated frame, an LCP Length outside the frame, or a malformed
    option (RFC 1661 5.1, 6: Length below 2 or past the packet). Bytes after the LCP Length
    are padding and ignored (RFC 1661 5).
    """
    data = bytes(frame)
    if data[:2] == b"\xff\x03":
        data = data[2:]
    if not data:
        raise DecodeError("empty PPP frame")
    if data[0] & 0x01:  # RFC 1661 2: a compressed (odd) one-byte protocol, never LCP (6.5)
        return None
    if len(data) < 2:
        raise DecodeError("truncated PPP protocol field")
    if int.from_bytes(data[:2], "big") != PPP_LCP:
        return None
    lcp = Reader(data[2:])
    code = lcp.u8()
    identifier = lcp.u8()
    length = lcp.u16()
    if length < 4 or length > 4 + lcp.remaining:
        raise DecodeError(f"LCP Length {length} outside the {4 + lcp.remaining}-byte packet")
    if code != _LCP_CONFIGURE_REQUEST:
        return None
    body = Reader(lcp.bytes(length - 4))
    options: list[tuple[int, bytes]] = []
    auth: str | None = None
    while not body.eof:
        option_type = body.u8()
        option_length = body.u8()
        if option_length < 2:
            raise DecodeError(f"LCP option {option_type} has Length {option_length}, below 2")
        if option_length - 2 > body.remaining:
            raise DecodeError(f"LCP option {option_type} of {option_length} bytes overruns")
        option_data = body.bytes(option_length - 2)
        if option_type == _LCP_OPTION_AUTH and auth is None:
            auth = _auth_name(option_data)
        options.append((option_type, option_data))
    return LcpConfigureRequest(identifier=identifier, auth_protocol=auth, options=tuple(options))
