"""Sans-I/O IKE codec: IKEv2 IKE_SA_INIT (RFC 7296) and IKEv1/ISAKMP Phase 1 (RFC 2408, 2409).

Just enough of IKE to learn, without credentials, which suites a VPN gateway accepts:

* IKEv2: build an IKE_SA_INIT request (RFC 7296 §1.2) with any proposals, a KE payload, a
  nonce, an optional COOKIE (§2.6), notifies and vendor IDs; parse the cleartext payloads of
  any IKEv2 message (the chosen SA, INVALID_KE_PAYLOAD's group, COOKIE, NO_PROPOSAL_CHOSEN,
  vendor IDs, CERTREQ). Encrypted payloads (SK, SKF) are recorded, never opened.
* IKEv1: build a Main Mode (Identity Protection) first message and an Aggressive Mode first
  message (RFC 2409 §5); parse the answer's SA, notifications, vendor IDs and which of KE,
  nonce, ID and HASH came back (HASH_R in a cleartext Aggressive Mode reply is crackable
  offline, RFC 2409 §5.4).
* UDP 4500: NAT-T puts a 4-byte zero non-ESP marker before the IKE header (RFC 3948 §2.2).

Builders take every random value (SPIs, cookies, nonces, key-exchange values) as an argument
and raise ``ValueError`` on bad arguments. Parsers raise only :class:`DecodeError`: every
length is checked against the bytes actually present, and counts are capped (64 payloads, 64
proposals, 256 transforms, 64 KiB per message).

Layouts, all big-endian:

* IKE header (RFC 7296 §3.1, RFC 2408 §3.1), 28 bytes: initiator SPI/cookie (8), responder
  SPI/cookie (8), next payload (1), version (major << 4 | minor), exchange type (1), flags (1),
  message id (4), length of the whole message (4).
* Generic payload header (RFC 7296 §3.2, RFC 2408 §3.2): next payload (1), critical bit and
  reserved (1; IKEv1: reserved), payload length including this header (2).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from probe.codecs.buffer import Reader
from probe.codecs.errors import DecodeError
from probe.codecs.ike_constants import (
    FIRST_STATUS_NOTIFY,
    ExchangeType,
    NotifyType,
    PayloadType,
    V1Attribute,
    V1ExchangeType,
    V1PayloadType,
)

__all__ = [
    "FLAG_INITIATOR",
    "FLAG_RESPONSE",
    "FLAG_VERSION",
    "HEADER_LENGTH",
    "MAX_MESSAGE",
    "MAX_PAYLOADS",
    "MAX_PROPOSALS",
    "MAX_TRANSFORMS",
    "NON_ESP_MARKER",
    "V1_FLAG_ENCRYPTION",
    "DecodeError",
    "Ikev1Message",
    "Ikev1Transform",
    "Ikev2Message",
    "Notify",
    "Proposal",
    "Transform",
    "build_ikev1_aggressive",
    "build_ikev1_main_mode",
    "build_ikev1_message",
    "build_ikev2_message",
    "build_ikev2_sa_init",
    "ike_major_version",
    "ikev1_id_body",
    "ikev1_notify_body",
    "ikev1_sa_body",
    "ikev2_ke_body",
    "ikev2_notify_body",
    "ikev2_sa_body",
    "nat_detection_hash",
    "parse_ikev1",
    "parse_ikev2",
    "strip_non_esp_marker",
]

NON_ESP_MARKER = b"\x00\x00\x00\x00"  # RFC 3948 §2.2: where an ESP SPI would be, zero
HEADER_LENGTH = 28  # RFC 7296 §3.1, RFC 2408 §3.1
MAX_MESSAGE = 65536
MAX_PAYLOADS = 64
MAX_PROPOSALS = 64
MAX_TRANSFORMS = 256  # per message
MAX_ATTRIBUTES = 32  # per transform

IKEV2_VERSION = 0x20  # major 2, minor 0
IKEV1_VERSION = 0x10  # major 1, minor 0

# RFC 7296 §3.1 header flags.
FLAG_INITIATOR = 0x08
FLAG_VERSION = 0x10
FLAG_RESPONSE = 0x20
# RFC 2408 §3.1 header flags.
V1_FLAG_ENCRYPTION = 0x01
V1_FLAG_COMMIT = 0x02
V1_FLAG_AUTH_ONLY = 0x04

PROTOCOL_IKE = 1  # RFC 7296 §3.3.1 Protocol ID; RFC 2407 §4.4.1 PROTO_ISAKMP
KEY_IKE = 1  # RFC 2407 §4.4.2: the one Phase 1 transform id
DOI_IPSEC = 1  # RFC 2407 §4.2
SIT_IDENTITY_ONLY = 1  # RFC 2407 §4.2.1
ATTR_KEY_LENGTH = 14  # RFC 7296 §3.3.5 (IKEv2) and RFC 2409 Appendix A (IKEv1)
_AF_TV = 0x8000  # attribute format bit: type/value, 2-byte value (RFC 7296 §3.3.5)

_LAST = 0  # Last Substruc / next payload of the final proposal or transform
_MORE_PROPOSALS = 2  # RFC 7296 §3.3.1; RFC 2408 §3.5 (payload type Proposal)
_MORE_TRANSFORMS = 3  # RFC 7296 §3.3.2; RFC 2408 §3.6 (payload type Transform)
_CRITICAL = 0x80  # RFC 7296 §3.2

# Encrypted payloads: their next-payload field names the first *inner* payload, so the walk
# of the cleartext chain stops there (RFC 7296 §3.14, RFC 7383 §2.5).
_V2_ENCRYPTED = frozenset({PayloadType.ENCRYPTED, PayloadType.ENCRYPTED_FRAGMENT})
_V2_KNOWN = frozenset(PayloadType)


# --- small helpers ----------------------------------------------------------------------------


def _check_uint(name: str, value: int, bits: int, *, minimum: int = 0) -> None:
    if not minimum <= value < 1 << bits:
        raise ValueError(f"{name} {value} is outside {minimum}..{(1 << bits) - 1}")


def _check_spi(name: str, spi: bytes) -> None:
    if len(spi) != 8:
        raise ValueError(f"{name} must be 8 bytes, got {len(spi)}")
    if spi == bytes(8):
        raise ValueError(f"{name} must not be zero (RFC 7296 §3.1, RFC 2408 §2.5.3)")


def _chain(payloads: Sequence[tuple[int, bytes]]) -> tuple[int, bytes]:
    """Generic payload headers for a list of (type, body): the first type and the bytes."""
    if len(payloads) > MAX_PAYLOADS:
        raise ValueError(f"{len(payloads)} payloads, at most {MAX_PAYLOADS}")
    out = bytearray()
    for index, (ptype, body) in enumerate(payloads):
        _check_uint("payload type", ptype, 8)
        following = payloads[index + 1][0] if index + 1 < len(payloads) else 0
        length = 4 + len(body)
        if length > 0xFFFF:
            raise ValueError(f"payload {ptype} of {length} bytes does not fit its length field")
        out += struct.pack("!BBH", following, 0, length) + body
    return (payloads[0][0] if payloads else 0), bytes(out)


def _message(
    spi_i: bytes,
    spi_r: bytes,
    version: int,
    exchange_type: int,
    flags: int,
    message_id: int,
    payloads: Sequence[tuple[int, bytes]],
    nat_t: bool,
) -> bytes:
    if len(spi_i) != 8 or len(spi_r) != 8:
        raise ValueError("SPIs / cookies must be 8 bytes")
    _check_uint("exchange type", exchange_type, 8)
    _check_uint("flags", flags, 8)
    _check_uint("message id", message_id, 32)
    first, body = _chain(payloads)
    length = HEADER_LENGTH + len(body)
    if length > MAX_MESSAGE:
        raise ValueError(f"message of {length} bytes exceeds {MAX_MESSAGE}")
    header = struct.pack(
        "!8s8sBBBBII", spi_i, spi_r, first, version, exchange_type, flags, message_id, length
    )
    return (NON_ESP_MARKER if nat_t else b"") + header + body


def _tv(attribute: int, value: int) -> bytes:
    """A type/value attribute (RFC 7296 §3.3.5, RFC 2408 §3.3)."""
    _check_uint(f"attribute {attribute}", value, 16)
    return struct.pack("!HH", _AF_TV | attribute, value)


def _tlv(attribute: int, value: bytes) -> bytes:
    """A type/length/value attribute (RFC 2408 §3.3)."""
    return struct.pack("!HH", attribute, len(value)) + value


def strip_non_esp_marker(data: bytes) -> bytes:
    """The IKE message after the RFC 3948 §2.2 non-ESP marker of a UDP 4500 datagram."""
    if len(data) < len(NON_ESP_MARKER):
        raise DecodeError(f"datagram of {len(data)} bytes is shorter than the non-ESP marker")
    if data[:4] != NON_ESP_MARKER:
        raise DecodeError("no non-ESP marker: an ESP packet, not IKE (RFC 3948 §2.2)")
    return bytes(data[4:])


def nat_detection_hash(spi_i: bytes, spi_r: bytes, address: bytes, port: int) -> bytes:
    """NAT_DETECTION_*_IP data: SHA-1(SPIi ‖ SPIr ‖ IP ‖ port) (RFC 7296 §2.23).

    ``address`` is the packed 4- or 16-byte address; ``spi_r`` is zero in IKE_SA_INIT.
    """
    if len(spi_i) != 8 or len(spi_r) != 8:
        raise ValueError("SPIs must be 8 bytes")
    if len(address) not in (4, 16):
        raise ValueError("address must be a packed IPv4 or IPv6 address")
    _check_uint("port", port, 16)
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(spi_i + spi_r + address + port.to_bytes(2, "big"))
    return digest.digest()


# --- IKEv2 builders ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Transform:
    """One IKEv2 transform (RFC 7296 §3.3.2): type, id and the Key Length attribute in bits."""

    type: int
    id: int
    key_length: int | None = None


@dataclass(frozen=True)
class Proposal:
    """One IKE proposal: protocol IKE (1), SPI size 0, numbered 1..n in the message."""

    transforms: tuple[Transform, ...]


def ikev2_sa_body(proposals: Sequence[Proposal], *, numbers: Sequence[int] | None = None) -> bytes:
    """The body of an IKEv2 SA payload (RFC 7296 §3.3): proposals numbered 1..n unless
    ``numbers`` says otherwise (a responder answers with the number it chose)."""
    if not 1 <= len(proposals) <= MAX_PROPOSALS:
        raise ValueError(f"{len(proposals)} proposals, need 1..{MAX_PROPOSALS}")
    if numbers is None:
        numbers = range(1, len(proposals) + 1)
    if len(numbers) != len(proposals):
        raise ValueError("one proposal number per proposal")
    total = sum(len(p.transforms) for p in proposals)
    if total > MAX_TRANSFORMS:
        raise ValueError(f"{total} transforms, at most {MAX_TRANSFORMS} per message")
    out = bytearray()
    for index, (proposal, number) in enumerate(zip(proposals, numbers, strict=True)):
        _check_uint("proposal number", number, 8)
        count = len(proposal.transforms)
        if count == 0:
            raise ValueError(f"proposal {number} has no transforms")
        body = bytearray()
        for t_index, transform in enumerate(proposal.transforms):
            _check_uint("transform type", transform.type, 8, minimum=1)
            _check_uint("transform id", transform.id, 16)
            attributes = b""
            if transform.key_length is not None:
                attributes = _tv(ATTR_KEY_LENGTH, transform.key_length)
            last = _MORE_TRANSFORMS if t_index + 1 < count else _LAST
            # RFC 7296 §3.3.2: Last Substruc, RESERVED, Transform Length, Type, RESERVED, ID.
            body += struct.pack(
                "!BBHBBH", last, 0, 8 + len(attributes), transform.type, 0, transform.id
            )
            body += attributes
        last = _MORE_PROPOSALS if index + 1 < len(proposals) else _LAST
        # RFC 7296 §3.3.1: Last Substruc, RESERVED, Proposal Length, Proposal Num,
        # Protocol ID, SPI Size (0 in IKE_SA_INIT), Num Transforms; no SPI.
        out += struct.pack("!BBHBBBB", last, 0, 8 + len(body), number, PROTOCOL_IKE, 0, count)
        out += body
    return bytes(out)


def ikev2_ke_body(group: int, key_exchange: bytes) -> bytes:
    """The body of an IKEv2 KE payload (RFC 7296 §3.4): group, RESERVED, the public value."""
    _check_uint("DH group", group, 16)
    return struct.pack("!HH", group, 0) + key_exchange


def ikev2_notify_body(
    notify_type: int, data: bytes = b"", *, protocol_id: int = 0, spi: bytes = b""
) -> bytes:
    """The body of an IKEv2 Notify payload (RFC 7296 §3.10): Protocol ID, SPI Size, Notify
    Message Type, SPI, Notification Data."""
    _check_uint("notify type", notify_type, 16)
    _check_uint("protocol id", protocol_id, 8)
    _check_uint("SPI size", len(spi), 8)
    return struct.pack("!BBH", protocol_id, len(spi), notify_type) + spi + data


def build_ikev2_message(
    *,
    spi_i: bytes,
    spi_r: bytes = bytes(8),
    exchange_type: int = ExchangeType.IKE_SA_INIT,
    flags: int = FLAG_INITIATOR,
    message_id: int = 0,
    payloads: Sequence[tuple[int, bytes]] = (),
    nat_t: bool = False,
) -> bytes:
    """Any IKEv2 message from (payload type, payload body) pairs, in order (tests use it to
    play the responder)."""
    return _message(spi_i, spi_r, IKEV2_VERSION, exchange_type, flags, message_id, payloads, nat_t)


def build_ikev2_sa_init(
    *,
    spi_i: bytes,
    proposals: Sequence[Proposal],
    dh_group: int,
    key_exchange: bytes,
    nonce: bytes,
    cookie: bytes | None = None,
    notifies: Sequence[tuple[int, bytes]] = (),
    vendor_ids: Sequence[bytes] = (),
    nat_t: bool = False,
) -> bytes:
    """An IKE_SA_INIT request (RFC 7296 §1.2): HDR, [N(COOKIE)], SAi1, KEi, Ni, [N+], [V+].

    The header has the Initiator flag, a zero responder SPI and message id 0. A cookie from
    the responder's N(COOKIE) goes first (§2.6). ``notifies`` are (type, data) with protocol
    0 and no SPI; ``nat_t`` prefixes the non-ESP marker for UDP 4500.
    """
    _check_spi("SPIi", spi_i)
    if not key_exchange:
        raise ValueError("the key exchange value is empty")
    if not 16 <= len(nonce) <= 256:
        raise ValueError(f"nonce of {len(nonce)} bytes, RFC 7296 §3.9 needs 16..256")
    payloads: list[tuple[int, bytes]] = []
    if cookie is not None:
        if not 1 <= len(cookie) <= 64:
            raise ValueError(f"cookie of {len(cookie)} bytes, RFC 7296 §2.6 allows 1..64")
        payloads.append((PayloadType.NOTIFY, ikev2_notify_body(NotifyType.COOKIE, cookie)))
    payloads.append((PayloadType.SA, ikev2_sa_body(proposals)))
    payloads.append((PayloadType.KE, ikev2_ke_body(dh_group, key_exchange)))
    payloads.append((PayloadType.NONCE, bytes(nonce)))
    payloads.extend((PayloadType.NOTIFY, ikev2_notify_body(t, d)) for t, d in notifies)
    payloads.extend((PayloadType.VENDOR_ID, bytes(v)) for v in vendor_ids)
    return build_ikev2_message(spi_i=spi_i, payloads=payloads, nat_t=nat_t)


# --- header and payload walking -------------------------------------------------------------


@dataclass(frozen=True)
class _Header:
    spi_i: bytes
    spi_r: bytes
    next_payload: int
    version: int
    exchange_type: int
    flags: int
    message_id: int
    body: bytes  # the bytes after the header, up to the header's length


def _header(data: bytes, *, nat_t: bool) -> _Header:
    data = strip_non_esp_marker(data) if nat_t else bytes(data)
    if len(data) > MAX_MESSAGE:
        raise DecodeError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE}")
    if len(data) < HEADER_LENGTH:
        raise DecodeError(f"message of {len(data)} bytes is shorter than the IKE header")
    spi_i, spi_r, next_payload, version, exchange, flags, message_id, length = struct.unpack(
        "!8s8sBBBBII", data[:HEADER_LENGTH]
    )
    if length < HEADER_LENGTH:
        raise DecodeError(f"header length {length} is shorter than the header")
    if length > len(data):
        raise DecodeError(f"header length {length} exceeds the {len(data)} bytes received")
    # Bytes after the header's length are not part of the message and are ignored.
    body = data[HEADER_LENGTH:length]
    return _Header(spi_i, spi_r, next_payload, version, exchange, flags, message_id, body)


@dataclass(frozen=True)
class _Payload:
    type: int
    flags: int
    body: bytes


# libreswan pads cleartext IKEv1 messages to a multiple of 4 bytes with zeros after the last
# payload (its Aggressive Mode answer ends in 2 such bytes); tolerated for IKEv1 only.
V1_MAX_PADDING = 3


def _walk(
    first: int, data: bytes, *, stop_at: frozenset[int] = frozenset(), padding: int = 0
) -> list[_Payload]:
    """The chain of generic payload headers (RFC 7296 §3.2, RFC 2408 §3.2); up to
    ``padding`` zero bytes may follow the last payload."""
    reader = Reader(data)
    payloads: list[_Payload] = []
    ptype = first
    while ptype != 0:
        if len(payloads) >= MAX_PAYLOADS:
            raise DecodeError(f"more than {MAX_PAYLOADS} payloads")
        if reader.remaining < 4:
            raise DecodeError(f"payload {ptype} truncated: {reader.remaining} bytes left")
        following = reader.u8()
        flags = reader.u8()
        length = reader.u16()
        if length < 4:
            raise DecodeError(f"payload {ptype} has length {length}, less than its header")
        payloads.append(_Payload(ptype, flags, reader.bytes(length - 4)))
        if ptype in stop_at:
            break
        ptype = following
    if 0 < reader.remaining <= padding and not any(data[reader.offset :]):
        return payloads
    reader.expect_eof("the last payload")
    return payloads


def _uint(value: bytes) -> int | None:
    """A variable-length attribute value as an integer (None beyond 64 bits)."""
    return int.from_bytes(value, "big") if len(value) <= 8 else None


def _attributes(reader: Reader) -> list[tuple[int, int | None]]:
    """Data attributes to the end of ``reader`` (RFC 7296 §3.3.5, RFC 2408 §3.3)."""
    attributes: list[tuple[int, int | None]] = []
    while not reader.eof:
        if len(attributes) >= MAX_ATTRIBUTES:
            raise DecodeError(f"more than {MAX_ATTRIBUTES} attributes in one transform")
        word = reader.u16()
        if word & _AF_TV:
            attributes.append((word & 0x7FFF, reader.u16()))
        else:
            attributes.append((word, _uint(reader.vector(2))))
    return attributes


@dataclass(frozen=True)
class _RawTransform:
    number: int  # IKEv1 Transform #; the Transform Type in IKEv2
    id: int
    attributes: list[tuple[int, int | None]]


@dataclass(frozen=True)
class _RawProposal:
    number: int
    protocol_id: int
    transforms: list[_RawTransform]


def _proposals(reader: Reader, *, ikev1: bool) -> list[_RawProposal]:
    """Proposal substructures to the end of ``reader`` (RFC 7296 §3.3.1-3.3.2; RFC 2408
    §3.5-3.6). The Last Substruc / next-payload markers are not trusted: lengths and counts
    delimit the structures."""
    proposals: list[_RawProposal] = []
    transforms_seen = 0
    while not reader.eof:
        if len(proposals) >= MAX_PROPOSALS:
            raise DecodeError(f"more than {MAX_PROPOSALS} proposals")
        reader.u8()  # Last Substruc / Next Payload
        reader.u8()
        length = reader.u16()
        if length < 8:
            raise DecodeError(f"proposal length {length} is shorter than its header")
        proposal = Reader(reader.bytes(length - 4))
        number = proposal.u8()
        protocol_id = proposal.u8()
        spi_size = proposal.u8()
        count = proposal.u8()
        proposal.bytes(spi_size)
        transforms: list[_RawTransform] = []
        for _ in range(count):
            transforms_seen += 1
            if transforms_seen > MAX_TRANSFORMS:
                raise DecodeError(f"more than {MAX_TRANSFORMS} transforms")
            proposal.u8()  # Last Substruc / Next Payload
            proposal.u8()
            t_length = proposal.u16()
            if t_length < 8:
                raise DecodeError(f"transform length {t_length} is shorter than its header")
            transform = Reader(proposal.bytes(t_length - 4))
            if ikev1:
                # RFC 2408 §3.6: Transform #, Transform-Id, RESERVED2 (2).
                t_number = transform.u8()
                t_id = transform.u8()
                transform.u16()
            else:
                # RFC 7296 §3.3.2: Transform Type, RESERVED, Transform ID (2).
                t_number = transform.u8()
                transform.u8()
                t_id = transform.u16()
            transforms.append(_RawTransform(t_number, t_id, _attributes(transform)))
        proposal.expect_eof(f"the {count} transforms of proposal {number}")
        proposals.append(_RawProposal(number, protocol_id, transforms))
    return proposals


# --- IKEv2 parser ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Notify:
    """One Notify payload (RFC 7296 §3.10)."""

    protocol_id: int
    notify_type: int
    spi: bytes
    data: bytes


@dataclass(frozen=True)
class Ikev2Message:
    """The cleartext content of one IKEv2 message.

    ``proposals`` come from the first SA payload; a response carries exactly one, the chosen
    suite, whose number is ``chosen_proposal_number``. ``payload_types`` lists every payload
    in order, including ones not parsed (an Encrypted payload ends the cleartext chain).
    ``critical_unknown`` are payload types this codec does not know that had the critical bit
    set (RFC 7296 §2.5: a responder would reject them; here they are only noted).
    """

    spi_i: bytes
    spi_r: bytes
    exchange_type: int
    flags: int
    message_id: int
    is_response: bool
    proposals: tuple[Proposal, ...]
    chosen_proposal_number: int | None
    ke_group: int | None
    nonce_length: int | None
    notifies: tuple[Notify, ...]
    vendor_ids: tuple[bytes, ...]
    certificate_requests: int
    payload_types: tuple[int, ...]
    minor_version: int = 0
    ke_length: int | None = None
    proposal_numbers: tuple[int, ...] = ()
    critical_unknown: tuple[int, ...] = ()

    @property
    def notify_types(self) -> tuple[int, ...]:
        return tuple(n.notify_type for n in self.notifies)

    @property
    def error_notifies(self) -> tuple[int, ...]:
        """Error notify types (below 16384, RFC 7296 §3.10.1), in order."""
        return tuple(t for t in self.notify_types if t < FIRST_STATUS_NOTIFY)

    @property
    def invalid_ke_group(self) -> int | None:
        """The group an INVALID_KE_PAYLOAD asks for (its 2-byte data, RFC 7296 §1.2)."""
        for n in self.notifies:
            if n.notify_type == NotifyType.INVALID_KE_PAYLOAD and len(n.data) >= 2:
                return int.from_bytes(n.data[:2], "big")
        return None

    @property
    def cookie(self) -> bytes | None:
        """The data of N(COOKIE) (RFC 7296 §2.6), to send back first in the retried request."""
        for n in self.notifies:
            if n.notify_type == NotifyType.COOKIE:
                return n.data
        return None


def _v2_transform(raw: _RawTransform) -> Transform:
    key_length = next((v for a, v in raw.attributes if a == ATTR_KEY_LENGTH), None)
    return Transform(raw.number, raw.id, key_length)


def parse_ikev2(data: bytes, *, nat_t: bool = False) -> Ikev2Message:
    """Parse one IKEv2 message (``nat_t``: a UDP 4500 datagram with the non-ESP marker)."""
    header = _header(data, nat_t=nat_t)
    if header.version >> 4 != 2:
        raise DecodeError(f"IKE major version {header.version >> 4}, expected 2")
    payloads = _walk(header.next_payload, header.body, stop_at=_V2_ENCRYPTED)
    proposals: tuple[Proposal, ...] = ()
    numbers: tuple[int, ...] = ()
    seen_sa = False
    ke_group: int | None = None
    ke_length: int | None = None
    nonce_length: int | None = None
    notifies: list[Notify] = []
    vendor_ids: list[bytes] = []
    certificate_requests = 0
    critical_unknown: list[int] = []
    for payload in payloads:
        reader = Reader(payload.body)
        if payload.type == PayloadType.SA and not seen_sa:
            seen_sa = True
            raw = _proposals(reader, ikev1=False)
            proposals = tuple(Proposal(tuple(_v2_transform(t) for t in p.transforms)) for p in raw)
            numbers = tuple(p.number for p in raw)
        elif payload.type == PayloadType.KE and ke_group is None:
            ke_group = reader.u16()
            reader.u16()  # RESERVED
            ke_length = reader.remaining
        elif payload.type == PayloadType.NONCE and nonce_length is None:
            nonce_length = len(payload.body)
        elif payload.type == PayloadType.NOTIFY:
            protocol_id = reader.u8()
            spi_size = reader.u8()
            notify_type = reader.u16()
            spi = reader.bytes(spi_size)
            notifies.append(Notify(protocol_id, notify_type, spi, reader.rest()))
        elif payload.type == PayloadType.VENDOR_ID:
            vendor_ids.append(payload.body)
        elif payload.type == PayloadType.CERTREQ:
            certificate_requests += 1
        elif payload.type not in _V2_KNOWN and payload.flags & _CRITICAL:
            critical_unknown.append(payload.type)
    is_response = bool(header.flags & FLAG_RESPONSE)
    return Ikev2Message(
        spi_i=header.spi_i,
        spi_r=header.spi_r,
        exchange_type=header.exchange_type,
        flags=header.flags,
        message_id=header.message_id,
        is_response=is_response,
        proposals=proposals,
        chosen_proposal_number=numbers[0] if is_response and numbers else None,
        ke_group=ke_group,
        nonce_length=nonce_length,
        notifies=tuple(notifies),
        vendor_ids=tuple(vendor_ids),
        certificate_requests=certificate_requests,
        payload_types=tuple(p.type for p in payloads),
        minor_version=header.version & 0x0F,
        ke_length=ke_length,
        proposal_numbers=numbers,
        critical_unknown=tuple(critical_unknown),
    )


def ike_major_version(data: bytes, *, nat_t: bool = False) -> int:
    """1 or 2, from the version byte of the IKE header (RFC 7296 §3.1, RFC 2408 §3.1)."""
    message = strip_non_esp_marker(data) if nat_t else bytes(data)
    if len(message) < HEADER_LENGTH:
        raise DecodeError(f"message of {len(message)} bytes is shorter than the IKE header")
    major = message[17] >> 4
    if major not in (1, 2):
        raise DecodeError(f"IKE major version {major}")
    return major


# --- IKEv1 ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ikev1Transform:
    """One Phase 1 transform (KEY_IKE) by its attributes (RFC 2409 Appendix A): encryption,
    key length in bits, hash, authentication method, group description and the life in
    seconds (``None``: no seconds lifetime). An attribute a parsed transform lacks is 0."""

    encryption: int
    key_length: int | None
    hash: int
    auth: int
    group: int
    life_seconds: int | None = 28800


def _v1_attributes(transform: Ikev1Transform) -> bytes:
    out = _tv(V1Attribute.ENCRYPTION, transform.encryption)
    out += _tv(V1Attribute.HASH, transform.hash)
    out += _tv(V1Attribute.AUTH, transform.auth)
    out += _tv(V1Attribute.GROUP_DESCRIPTION, transform.group)
    if transform.key_length is not None:
        out += _tv(V1Attribute.KEY_LENGTH, transform.key_length)
    if transform.life_seconds is not None:
        _check_uint("life_seconds", transform.life_seconds, 32, minimum=1)
        # Life Type seconds, then Life Duration as a 4-byte TLV whatever its value (as nmap's
        # ike.lua does; RFC 2409 Appendix A lets a "V" class attribute be either form).
        out += _tv(V1Attribute.LIFE_TYPE, 1)
        out += _tlv(V1Attribute.LIFE_DURATION, transform.life_seconds.to_bytes(4, "big"))
    return out


def ikev1_sa_body(
    transforms: Sequence[Ikev1Transform], *, numbers: Sequence[int] | None = None
) -> bytes:
    """The body of an ISAKMP SA payload for Phase 1 (RFC 2408 §3.4-3.6, RFC 2407 §4.6.1):
    DOI IPsec, SIT_IDENTITY_ONLY, one proposal #1 (PROTO_ISAKMP, no SPI) with the transforms
    numbered 1..n (KEY_IKE), unless ``numbers`` says otherwise (a responder answers with the
    number it accepted)."""
    if not 1 <= len(transforms) <= 255:
        raise ValueError(f"{len(transforms)} transforms, need 1..255")
    if numbers is None:
        numbers = range(1, len(transforms) + 1)
    if len(numbers) != len(transforms):
        raise ValueError("one transform number per transform")
    body = bytearray()
    for index, (transform, number) in enumerate(zip(transforms, numbers, strict=True)):
        _check_uint("transform number", number, 8)
        attributes = _v1_attributes(transform)
        following = V1PayloadType.TRANSFORM if index + 1 < len(transforms) else _LAST
        # RFC 2408 §3.6: Next Payload, RESERVED, Payload Length, Transform #, Transform-Id,
        # RESERVED2 (2), SA Attributes.
        body += struct.pack("!BBHBBH", following, 0, 8 + len(attributes), number, KEY_IKE, 0)
        body += attributes
    # RFC 2408 §3.5: Next Payload, RESERVED, Payload Length, Proposal #, Protocol-Id,
    # SPI Size, # of Transforms; no SPI in Phase 1.
    proposal = struct.pack("!BBHBBBB", _LAST, 0, 8 + len(body), 1, PROTOCOL_IKE, 0, len(transforms))
    return struct.pack("!II", DOI_IPSEC, SIT_IDENTITY_ONLY) + proposal + bytes(body)


def ikev1_id_body(
    identity: bytes, id_type: int = 3, *, protocol: int = 17, port: int = 500
) -> bytes:
    """The body of an ISAKMP ID payload (RFC 2408 §3.8, RFC 2407 §4.6.2): ID Type, Protocol
    ID, Port, Identification Data (type 3 is ID_USER_FQDN)."""
    _check_uint("ID type", id_type, 8)
    _check_uint("ID protocol", protocol, 8)
    _check_uint("ID port", port, 16)
    return struct.pack("!BBH", id_type, protocol, port) + identity


def ikev1_notify_body(
    notify_type: int, data: bytes = b"", *, protocol_id: int = PROTOCOL_IKE, spi: bytes = b""
) -> bytes:
    """The body of an ISAKMP Notification payload (RFC 2408 §3.14): DOI, Protocol-ID, SPI
    Size, Notify Message Type, SPI, Notification Data."""
    _check_uint("notify type", notify_type, 16)
    _check_uint("protocol id", protocol_id, 8)
    _check_uint("SPI size", len(spi), 8)
    return struct.pack("!IBBH", DOI_IPSEC, protocol_id, len(spi), notify_type) + spi + data


def build_ikev1_message(
    *,
    cookie_i: bytes,
    cookie_r: bytes = bytes(8),
    exchange_type: int = V1ExchangeType.IDENTITY_PROTECTION,
    flags: int = 0,
    message_id: int = 0,
    payloads: Sequence[tuple[int, bytes]] = (),
    nat_t: bool = False,
) -> bytes:
    """Any ISAKMP message from (payload type, payload body) pairs, in order."""
    return _message(
        cookie_i, cookie_r, IKEV1_VERSION, exchange_type, flags, message_id, payloads, nat_t
    )


def build_ikev1_main_mode(
    *,
    cookie_i: bytes,
    transforms: Sequence[Ikev1Transform],
    vendor_ids: Sequence[bytes] = (),
    nat_t: bool = False,
) -> bytes:
    """The first Main Mode (Identity Protection) message (RFC 2409 §5): HDR, SA, [VID+]."""
    _check_spi("CKY-I", cookie_i)
    payloads: list[tuple[int, bytes]] = [(V1PayloadType.SA, ikev1_sa_body(transforms))]
    payloads.extend((V1PayloadType.VENDOR_ID, bytes(v)) for v in vendor_ids)
    return build_ikev1_message(cookie_i=cookie_i, payloads=payloads, nat_t=nat_t)


def build_ikev1_aggressive(
    *,
    cookie_i: bytes,
    transforms: Sequence[Ikev1Transform],
    key_exchange: bytes,
    nonce: bytes,
    identity: bytes,
    id_type: int = 3,
    vendor_ids: Sequence[bytes] = (),
    nat_t: bool = False,
) -> bytes:
    """The first Aggressive Mode message (RFC 2409 §5): HDR, SA, KE, Ni, IDii, [VID+].

    The KE value belongs to one group, so every transform must offer that group.
    """
    _check_spi("CKY-I", cookie_i)
    groups = {t.group for t in transforms}
    if len(groups) > 1:
        raise ValueError(f"aggressive mode transforms offer several groups: {sorted(groups)}")
    if not key_exchange:
        raise ValueError("the key exchange value is empty")
    if not 8 <= len(nonce) <= 256:
        raise ValueError(f"nonce of {len(nonce)} bytes, RFC 2409 §5 needs 8..256")
    payloads: list[tuple[int, bytes]] = [
        (V1PayloadType.SA, ikev1_sa_body(transforms)),
        (V1PayloadType.KE, bytes(key_exchange)),
        (V1PayloadType.NONCE, bytes(nonce)),
        (V1PayloadType.ID, ikev1_id_body(identity, id_type)),
    ]
    payloads.extend((V1PayloadType.VENDOR_ID, bytes(v)) for v in vendor_ids)
    return build_ikev1_message(
        cookie_i=cookie_i,
        exchange_type=V1ExchangeType.AGGRESSIVE,
        payloads=payloads,
        nat_t=nat_t,
    )


@dataclass(frozen=True)
class Ikev1Message:
    """The cleartext content of one ISAKMP message.

    ``transforms`` are the KEY_IKE transforms of the first SA payload (a reply carries the one
    accepted; its number in the request is in ``transform_numbers``). ``encrypted`` is the
    header's E flag: the body was not parsed and every payload field is empty.
    ``has_hash`` with ``exchange_type`` 4 is the Aggressive Mode PSK finding (RFC 2409 §5.4).
    """

    cookie_i: bytes
    cookie_r: bytes
    exchange_type: int
    flags: int
    message_id: int
    transforms: tuple[Ikev1Transform, ...]
    notify_types: tuple[int, ...]
    vendor_ids: tuple[bytes, ...]
    has_key_exchange: bool
    has_nonce: bool
    has_identity: bool
    has_hash: bool
    hash_length: int | None
    payload_types: tuple[int, ...]
    encrypted: bool
    transform_numbers: tuple[int, ...] = ()
    ke_length: int | None = None
    nonce_length: int | None = None
    id_type: int | None = None
    identity: bytes | None = None


def _v1_transform(raw: _RawTransform) -> Ikev1Transform:
    values: dict[int, int] = {}
    life_type: int | None = None
    life_seconds: int | None = None
    for attribute, value in raw.attributes:
        if value is None:
            continue
        if attribute == V1Attribute.LIFE_TYPE:
            life_type = value
        elif attribute == V1Attribute.LIFE_DURATION:
            # RFC 2409 Appendix A: a Life Duration applies to the Life Type before it.
            if life_type == 1 and life_seconds is None:
                life_seconds = value
        else:
            values.setdefault(attribute, value)
    return Ikev1Transform(
        encryption=values.get(V1Attribute.ENCRYPTION, 0),
        key_length=values.get(V1Attribute.KEY_LENGTH),
        hash=values.get(V1Attribute.HASH, 0),
        auth=values.get(V1Attribute.AUTH, 0),
        group=values.get(V1Attribute.GROUP_DESCRIPTION, 0),
        life_seconds=life_seconds,
    )


def parse_ikev1(data: bytes, *, nat_t: bool = False) -> Ikev1Message:
    """Parse one ISAKMP message (``nat_t``: a UDP 4500 datagram with the non-ESP marker)."""
    header = _header(data, nat_t=nat_t)
    if header.version >> 4 != 1:
        raise DecodeError(f"IKE major version {header.version >> 4}, expected 1")
    encrypted = bool(header.flags & V1_FLAG_ENCRYPTION)
    payloads = [] if encrypted else _walk(header.next_payload, header.body, padding=V1_MAX_PADDING)
    transforms: list[Ikev1Transform] = []
    numbers: list[int] = []
    seen_sa = False
    notify_types: list[int] = []
    vendor_ids: list[bytes] = []
    ke_length: int | None = None
    nonce_length: int | None = None
    hash_length: int | None = None
    id_type: int | None = None
    identity: bytes | None = None
    for payload in payloads:
        reader = Reader(payload.body)
        if payload.type == V1PayloadType.SA and not seen_sa:
            seen_sa = True
            doi = reader.u32()
            situation = reader.u32()
            # Other situations add labelled-domain fields before the proposals (RFC 2407
            # §4.6.1); a Phase 1 reply never uses them, so their proposals are not read.
            if doi == DOI_IPSEC and situation == SIT_IDENTITY_ONLY:
                for proposal in _proposals(reader, ikev1=True):
                    if proposal.protocol_id != PROTOCOL_IKE:
                        continue
                    for raw in proposal.transforms:
                        if raw.id == KEY_IKE:
                            transforms.append(_v1_transform(raw))
                            numbers.append(raw.number)
        elif payload.type == V1PayloadType.KE and ke_length is None:
            ke_length = len(payload.body)
        elif payload.type == V1PayloadType.NONCE and nonce_length is None:
            nonce_length = len(payload.body)
        elif payload.type == V1PayloadType.HASH and hash_length is None:
            hash_length = len(payload.body)
        elif payload.type == V1PayloadType.ID and id_type is None:
            id_type = reader.u8()
            reader.u8()  # protocol
            reader.u16()  # port
            identity = reader.rest()
        elif payload.type == V1PayloadType.NOTIFICATION:
            reader.u32()  # DOI
            reader.u8()  # Protocol-ID
            spi_size = reader.u8()
            notify_types.append(reader.u16())
            reader.bytes(spi_size)
        elif payload.type == V1PayloadType.VENDOR_ID:
            vendor_ids.append(payload.body)
    return Ikev1Message(
        cookie_i=header.spi_i,
        cookie_r=header.spi_r,
        exchange_type=header.exchange_type,
        flags=header.flags,
        message_id=header.message_id,
        transforms=tuple(transforms),
        notify_types=tuple(notify_types),
        vendor_ids=tuple(vendor_ids),
        has_key_exchange=ke_length is not None,
        has_nonce=nonce_length is not None,
        has_identity=id_type is not None,
        has_hash=hash_length is not None,
        hash_length=hash_length,
        payload_types=tuple(p.type for p in payloads),
        encrypted=encrypted,
        transform_numbers=tuple(numbers),
        ke_length=ke_length,
        nonce_length=nonce_length,
        id_type=id_type,
        identity=identity,
    )
