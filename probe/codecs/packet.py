"""Link, IP and transport header decoding of captured frames (sans-I/O).

:func:`decode` turns a :class:`~probe.codecs.pcap.Frame` into a :class:`Packet`: the IP endpoints,
the transport protocol and ports, TCP flags and sequence numbers, and the transport payload.

Link types (tcpdump.org LINKTYPE registry): ``LINKTYPE_NULL`` (0, BSD loopback: a 4-byte address
family in the byte order of the writer), ``LINKTYPE_ETHERNET`` (1, with IEEE 802.1Q and 802.1ad
"QinQ" tags, TPIDs 0x8100, 0x88A8 and the pre-standard 0x9100), ``LINKTYPE_RAW`` (101),
``LINKTYPE_LOOP`` (108, address family in network byte order), ``LINKTYPE_LINUX_SLL`` (113),
``LINKTYPE_IPV4`` (228), ``LINKTYPE_IPV6`` (229) and ``LINKTYPE_LINUX_SLL2`` (276).

Rules: a frame that is not IP (ARP, LLC, an unsupported link type) decodes to ``None``; a frame
whose headers are malformed raises :class:`DecodeError`. A packet cut short by the snapshot length
is not malformed: its payload is what was captured. IP fragments (IPv4 MF flag or fragment offset,
IPv6 Fragment header) are flagged with ``fragment=True`` and their transport header is not decoded
(``sport``/``dport`` are ``None`` and ``payload`` is the fragment's data): reassembly is the
caller's business (:mod:`probe.pcap.fragments`). For a fragment, the TCP-only slots carry what
reassembly needs: ``seq`` is the fragment offset in bytes, ``ack`` the identification (16 bits
in IPv4, 32 in IPv6) and ``tcp_flags`` 1 when more fragments follow (MF / M flag), else 0.
:func:`transport_fields` decodes the transport header of a reassembled datagram.

:func:`decode_fields` returns the same facts as a plain tuple in the order of :class:`Packet`'s
fields (``Packet(*fields)``), for callers that decode millions of frames: building the frozen
dataclass costs more than decoding the headers.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from functools import lru_cache

from probe.codecs.errors import DecodeError
from probe.codecs.pcap import Frame

__all__ = [
    "SUPPORTED_LINK_TYPES",
    "Fields",
    "Packet",
    "decode",
    "decode_fields",
    "decode_link",
    "transport_fields",
]

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
SUPPORTED_LINK_TYPES = frozenset(
    {
        LINKTYPE_NULL,
        LINKTYPE_ETHERNET,
        LINKTYPE_RAW,
        LINKTYPE_LOOP,
        LINKTYPE_LINUX_SLL,
        LINKTYPE_IPV4,
        LINKTYPE_IPV6,
        LINKTYPE_LINUX_SLL2,
    }
)

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
_VLAN_TPIDS = frozenset({0x8100, 0x88A8, 0x9100})
MAX_VLAN_TAGS = 8
MAX_IPV6_EXTENSIONS = 8

IPPROTO_TCP = 6
IPPROTO_UDP = 17
# IPv6 extension headers walked over (RFC 8200 4.1; AH RFC 4302 2.2; Mobility RFC 6275 6.1).
_IPV6_HOP_BY_HOP, _IPV6_ROUTING, _IPV6_FRAGMENT, _IPV6_DEST_OPTS = 0, 43, 44, 60
_IPV6_AH, _IPV6_MOBILITY = 51, 135
_IPV6_EIGHT_OCTET_EXTS = frozenset(
    {_IPV6_HOP_BY_HOP, _IPV6_ROUTING, _IPV6_DEST_OPTS, _IPV6_MOBILITY}
)

# BSD address families seen in LINKTYPE_NULL/LOOP headers: AF_INET is 2 everywhere; AF_INET6 is
# 24 (NetBSD, OpenBSD), 28 (FreeBSD, DragonFly) or 30 (macOS).
_AF_INET = 2
_AF_INET6 = frozenset({24, 28, 30})

_U16 = struct.Struct("!H")
_U32_LE = struct.Struct("<I")
_U32_BE = struct.Struct("!I")
_IPV4 = struct.Struct("!BxHHHxBxx4s4s")  # RFC 791 3.1
_IPV6 = struct.Struct("!BxxxHBx16s16s")  # RFC 8200 3
_IPV6_FRAG = struct.Struct("!BxHI")  # RFC 8200 4.5: next header, offset and M, identification
_VLAN_TAG = struct.Struct("!HH")  # IEEE 802.1Q 9.6: TCI, then the inner EtherType
_TCP = struct.Struct("!HHIIBB")  # RFC 9293 3.1
_UDP = struct.Struct("!HHH")  # RFC 768


@dataclass(frozen=True, slots=True)
class Packet:
    """The IP and transport facts of one frame.

    ``proto`` is the IP protocol number after IPv6 extension headers (6 TCP, 17 UDP, ...).
    ``vlan`` lists the 802.1Q/802.1ad VLAN IDs, outermost first. ``tcp_flags`` holds the 9 TCP flag
    bits (NS in 0x100, then CWR ... FIN).
    """

    src: str
    dst: str
    proto: int
    sport: int | None
    dport: int | None
    payload: bytes
    tcp_flags: int | None
    seq: int | None
    ack: int | None
    vlan: tuple[int, ...]
    ip_version: int
    fragment: bool


# A Packet as a tuple: (src, dst, proto, sport, dport, payload, tcp_flags, seq, ack, vlan,
# ip_version, fragment).
Fields = tuple[
    str, str, int, int | None, int | None, bytes, int | None, int | None, int | None,
    tuple[int, ...], int, bool,
]  # fmt: skip


@lru_cache(maxsize=8192)
def _ipv4_text(raw: bytes) -> str:
    return f"{raw[0]}.{raw[1]}.{raw[2]}.{raw[3]}"


@lru_cache(maxsize=8192)
def _ipv6_text(raw: bytes) -> str:
    return ipaddress.IPv6Address(raw).compressed


def decode(frame: Frame) -> Packet | None:
    """Decode a captured frame; ``None`` if it is not IP (see the module docstring)."""
    return decode_link(frame.link_type, frame.data)


def decode_link(link_type: int, data: bytes) -> Packet | None:
    """Decode ``data`` framed as ``link_type`` (a LINKTYPE_* value)."""
    fields = decode_fields(link_type, data)
    return None if fields is None else Packet(*fields)


def decode_fields(link_type: int, data: bytes) -> Fields | None:
    """:func:`decode_link` as a tuple of Packet's fields (same rules, same errors)."""
    if link_type == LINKTYPE_ETHERNET:
        if len(data) < 14:
            raise DecodeError(f"Ethernet frame of {len(data)} bytes is shorter than its header")
        return _ethertype(data, 12, ())
    if link_type == LINKTYPE_LINUX_SLL2:
        # Protocol type (2), reserved (2), interface index (4), ARPHRD (2), packet type (1),
        # address length (1), address (8): 20 bytes.
        if len(data) < 20:
            raise DecodeError(f"SLL2 frame of {len(data)} bytes is shorter than its header")
        return _ethertype(data, 0, (), 20)
    if link_type == LINKTYPE_LINUX_SLL:
        # Packet type (2), ARPHRD (2), address length (2), address (8), protocol type (2).
        if len(data) < 16:
            raise DecodeError(f"SLL frame of {len(data)} bytes is shorter than its header")
        return _ethertype(data, 14, ())
    if link_type in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6):
        if not data:
            raise DecodeError("empty raw IP frame")
        version = data[0] >> 4
        if link_type == LINKTYPE_IPV4 and version != 4:
            raise DecodeError(f"IPv4 link type carries IP version {version}")
        if link_type == LINKTYPE_IPV6 and version != 6:
            raise DecodeError(f"IPv6 link type carries IP version {version}")
        return _ip(data, 0, ())
    if link_type in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(data) < 4:
            raise DecodeError(f"loopback frame of {len(data)} bytes is shorter than its header")
        if link_type == LINKTYPE_LOOP:
            (family,) = _U32_BE.unpack_from(data, 0)
        else:
            # Host byte order of the writer: families are small, so a value with the low two
            # bytes zero was written big-endian.
            (family,) = _U32_LE.unpack_from(data, 0)
            if family > 0xFFFF:
                (family,) = _U32_BE.unpack_from(data, 0)
        if family == _AF_INET:
            return _ipv4(data, 4, ())
        if family in _AF_INET6:
            return _ipv6(data, 4, ())
        return None
    return None


ETHERTYPE_MACSEC = 0x88E5  # IEEE 802.1AE-2018 clause 9.4: the MACsec EtherType


def is_macsec(link_type: int, data: bytes) -> bool:
    """The frame is MACsec (IEEE 802.1AE), after any VLAN tags: its payload is the SecTAG and
    the (usually encrypted) secure data, so nothing above layer 2 can be read. Called only
    for frames decode_fields found not to be IP, so it costs the IP path nothing."""
    # (offset of the EtherType, offset of the payload after it) per link type
    layout = {
        LINKTYPE_ETHERNET: (12, 14),
        LINKTYPE_LINUX_SLL2: (0, 20),
        LINKTYPE_LINUX_SLL: (14, 16),
    }
    if link_type not in layout:
        return False
    at, payload = layout[link_type]
    for _ in range(MAX_VLAN_TAGS + 1):
        if at + 2 > len(data):
            return False
        (ethertype,) = _U16.unpack_from(data, at)
        if ethertype == ETHERTYPE_MACSEC:
            return True
        if ethertype not in _VLAN_TPIDS:
            return False
        at, payload = payload + 2, payload + 4  # 802.1Q tag: TCI (2), then the EtherType
    return False


def _ethertype(
    data: bytes, at: int, vlan: tuple[int, ...], payload_at: int | None = None
) -> Fields | None:
    """The EtherType at ``at``, then any VLAN tags; the network header follows them."""
    (ethertype,) = _U16.unpack_from(data, at)
    start = at + 2 if payload_at is None else payload_at
    tags = 0
    while ethertype in _VLAN_TPIDS:  # IEEE 802.1Q / 802.1ad tag: TCI (2), EtherType (2)
        tags += 1
        if tags > MAX_VLAN_TAGS:
            raise DecodeError(f"more than {MAX_VLAN_TAGS} VLAN tags")
        if start + 4 > len(data):
            raise DecodeError("truncated VLAN tag")
        tci, ethertype = _VLAN_TAG.unpack_from(data, start)
        vlan = (*vlan, tci & 0x0FFF)
        start += 4
    if ethertype == ETHERTYPE_IPV4:
        return _ipv4(data, start, vlan)
    if ethertype == ETHERTYPE_IPV6:
        return _ipv6(data, start, vlan)
    return None  # ARP, LLC (a length below 0x0600), MACsec, ...


def _ip(data: bytes, at: int, vlan: tuple[int, ...]) -> Fields | None:
    version = data[at] >> 4
    if version == 4:
        return _ipv4(data, at, vlan)
    if version == 6:
        return _ipv6(data, at, vlan)
    raise DecodeError(f"raw IP frame with IP version {version}")


def _ipv4(data: bytes, at: int, vlan: tuple[int, ...]) -> Fields:
    """RFC 791 3.1: options skipped by IHL; fragments flagged."""
    size = len(data)
    if at + 20 > size:
        raise DecodeError("truncated IPv4 header")
    ver_ihl, total, ident, frag, proto, src, dst = _IPV4.unpack_from(data, at)
    if ver_ihl >> 4 != 4:
        raise DecodeError(f"IPv4 header with version {ver_ihl >> 4}")
    header = (ver_ihl & 0x0F) * 4
    if header < 20:
        raise DecodeError(f"IPv4 header length {header} is under 20")
    if at + header > size:
        raise DecodeError("truncated IPv4 options")
    # Total length 0 is a TCP segmentation offload artefact on the sending host: use what is there.
    if total == 0:
        end = size
    elif total < header:
        raise DecodeError(f"IPv4 total length {total} is under its header length {header}")
    else:
        end = at + total
        if end > size:
            end = size  # cut by the snapshot length
    if frag & 0x3FFF:  # MF flag or a fragment offset (in 8-octet units)
        return (_ipv4_text(src), _ipv4_text(dst), proto, None, None, data[at + header : end],
                (frag >> 13) & 1, (frag & 0x1FFF) * 8, ident, vlan, 4, True)  # fmt: skip
    return _transport(
        data, at + header, end, proto, _ipv4_text(src), _ipv4_text(dst), vlan, 4, False
    )


def _ipv6(data: bytes, at: int, vlan: tuple[int, ...]) -> Fields:
    """RFC 8200 3 and 4: extension headers walked (at most MAX_IPV6_EXTENSIONS)."""
    if at + 40 > len(data):
        raise DecodeError("truncated IPv6 header")
    ver, payload_length, proto, src, dst = _IPV6.unpack_from(data, at)
    if ver >> 4 != 6:
        raise DecodeError(f"IPv6 header with version {ver >> 4}")
    start = at + 40
    # Payload length 0 is a jumbogram (RFC 2675) or a segmentation offload artefact.
    end = len(data) if payload_length == 0 else min(start + payload_length, len(data))
    fragment: tuple[int, int] | None = None  # (offset and M flag, identification)
    for _ in range(MAX_IPV6_EXTENSIONS + 1):
        if proto in _IPV6_EIGHT_OCTET_EXTS:
            if start + 2 > end:
                raise DecodeError(f"truncated IPv6 extension header {proto}")
            next_header, size = data[start], (data[start + 1] + 1) * 8
        elif proto == _IPV6_AH:
            if start + 2 > end:
                raise DecodeError("truncated IPv6 authentication header")
            next_header, size = data[start], (data[start + 1] + 2) * 4
        elif proto == _IPV6_FRAGMENT:
            if start + 8 > end:
                raise DecodeError("truncated IPv6 fragment header")
            next_header, offset_flags, ident = _IPV6_FRAG.unpack_from(data, start)
            if offset_flags & 0xFFF9:  # a fragment offset or the M flag (else RFC 6946 atomic)
                fragment = (offset_flags, ident)
            size = 8
        else:
            break
        if start + size > end:
            raise DecodeError(f"IPv6 extension header {proto} of {size} bytes overruns the packet")
        proto = next_header
        start += size
        if fragment is not None:
            # Offset in 8-octet units in the top 13 bits; M in bit 0.
            return (_ipv6_text(src), _ipv6_text(dst), proto, None, None, data[start:end],
                    fragment[0] & 1, fragment[0] & 0xFFF8, fragment[1], vlan, 6, True)  # fmt: skip
    else:
        raise DecodeError(f"more than {MAX_IPV6_EXTENSIONS} IPv6 extension headers")
    return _transport(data, start, end, proto, _ipv6_text(src), _ipv6_text(dst), vlan, 6, False)


def transport_fields(
    src: str, dst: str, proto: int, data: bytes, vlan: tuple[int, ...], version: int
) -> Fields:
    """The fields of a reassembled IP datagram whose payload (transport header included) is
    ``data``; raises :class:`DecodeError` on a malformed TCP or UDP header."""
    return _transport(data, 0, len(data), proto, src, dst, vlan, version, False)


def _transport(
    data: bytes,
    start: int,
    end: int,
    proto: int,
    src: str,
    dst: str,
    vlan: tuple[int, ...],
    version: int,
    fragment: bool,
) -> Fields:
    if fragment or proto not in (IPPROTO_TCP, IPPROTO_UDP):
        return (src, dst, proto, None, None, data[start:end], None, None, None, vlan, version,
                fragment)  # fmt: skip
    if proto == IPPROTO_TCP:
        if start + 20 > end:
            raise DecodeError("truncated TCP header")
        sport, dport, seq, ack, offset, flags = _TCP.unpack_from(data, start)
        header = (offset >> 4) * 4
        if header < 20:
            raise DecodeError(f"TCP data offset {header} is under 20")
        if start + header > end:
            raise DecodeError("truncated TCP options")
        flags |= (offset & 0x01) << 8  # NS (RFC 3540), now reserved
        return (src, dst, proto, sport, dport, data[start + header : end], flags, seq, ack, vlan,
                version, False)  # fmt: skip
    if start + 8 > end:
        raise DecodeError("truncated UDP header")
    sport, dport, length = _UDP.unpack_from(data, start)
    if length:  # 0: an IPv6 jumbogram (RFC 2675 4); past the end: cut by the snapshot length
        if length < 8:
            raise DecodeError(f"UDP length {length} is under 8")
        end = min(start + length, end)
    return (src, dst, proto, sport, dport, data[start + 8 : end], None, None, None, vlan,
            version, False)  # fmt: skip
