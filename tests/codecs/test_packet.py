"""probe.codecs.packet: link types, VLAN tags, IPv4/IPv6 and TCP/UDP headers, hostile bytes."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probe.codecs.errors import DecodeError
from probe.codecs.packet import Packet, decode, decode_link
from probe.codecs.pcap import Frame

V4_SRC, V4_DST = bytes([10, 0, 0, 1]), bytes([192, 168, 1, 2])
V6_SRC, V6_DST = bytes(15) + b"\x01", b"\x20\x01\x0d\xb8" + bytes(11) + b"\x02"


def tcp(sport: int = 1234, dport: int = 80, payload: bytes = b"GET /", flags: int = 0x18) -> bytes:
    options = b"\x01\x01\x01\x01"  # NOPs: data offset 6
    head = struct.pack("!HHIIBBHHH", sport, dport, 100, 200, 6 << 4, flags, 512, 0, 0)
    return head + options + payload


def udp(sport: int = 5353, dport: int = 53, payload: bytes = b"query") -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def ipv4(proto: int, body: bytes, *, frag: int = 0, options: bytes = b"") -> bytes:
    ihl = 5 + len(options) // 4
    total = ihl * 4 + len(body)
    head = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, 7, frag, 64, proto, 0, V4_SRC, V4_DST)
    return head + options + body


def ipv6(next_header: int, body: bytes) -> bytes:
    return struct.pack("!IHBB16s16s", 0x6 << 28, len(body), next_header, 64, V6_SRC, V6_DST) + body


def eth(ethertype: int, body: bytes, tags: tuple[tuple[int, int], ...] = ()) -> bytes:
    out = b"\x02" * 6 + b"\x04" * 6
    for tpid, vid in tags:
        out += struct.pack("!HH", tpid, vid)
    return out + struct.pack("!H", ethertype) + body


def frame(link: int, data: bytes) -> Frame:
    return Frame(0, link, data, len(data), 0)


def summary(p: Packet | None) -> tuple[object, ...]:
    assert p is not None
    return (p.src, p.sport, p.dst, p.dport, p.proto, bytes(p.payload), p.vlan, p.ip_version)


def test_ethernet_ipv4_tcp() -> None:
    p = decode(frame(1, eth(0x0800, ipv4(6, tcp()))))
    assert summary(p) == ("10.0.0.1", 1234, "192.168.1.2", 80, 6, b"GET /", (), 4)
    assert p is not None
    assert (p.tcp_flags, p.seq, p.ack, p.fragment) == (0x18, 100, 200, False)


def test_ethernet_padding_is_trimmed_and_options_skipped() -> None:
    packet = ipv4(17, udp(), options=b"\x94\x04\x00\x00")  # router alert
    p = decode(frame(1, eth(0x0800, packet) + b"\x00" * 12))
    assert summary(p) == ("10.0.0.1", 5353, "192.168.1.2", 53, 17, b"query", (), 4)


def test_vlan_and_qinq() -> None:
    inner = ipv4(6, tcp())
    one = decode(frame(1, eth(0x0800, inner, ((0x8100, 0x2000 | 42),))))
    assert one is not None and one.vlan == (42,)
    two = decode(frame(1, eth(0x0800, inner, ((0x88A8, 100), (0x8100, 200)))))
    assert two is not None and two.vlan == (100, 200) and two.dport == 80
    with pytest.raises(DecodeError, match="VLAN"):
        decode(frame(1, eth(0x0800, b"", tuple((0x8100, 1) for _ in range(9)))))
    with pytest.raises(DecodeError, match="truncated VLAN"):
        decode(frame(1, eth(0x8100, b"\x00")))


def test_non_ip_is_none() -> None:
    assert decode(frame(1, eth(0x0806, b"\x00" * 28))) is None  # ARP
    assert decode(frame(1, eth(0x0026, b"\x42" * 38))) is None  # 802.3 length + LLC
    assert decode(frame(147, b"anything")) is None  # unsupported link type
    assert decode(frame(0, struct.pack("<I", 7) + b"\x00" * 20)) is None


@pytest.mark.parametrize(
    ("link", "header"),
    [
        (113, struct.pack("!HHH8sH", 0, 772, 6, b"\x00" * 8, 0x0800)),  # SLL
        (276, struct.pack("!HHIHBB8s", 0x0800, 0, 1, 772, 0, 6, b"\x00" * 8)),  # SLL2
        (101, b""),  # raw
        (228, b""),  # raw IPv4
        (0, struct.pack("<I", 2)),  # BSD null, little-endian writer
        (0, struct.pack(">I", 2)),  # BSD null, big-endian writer
        (108, struct.pack(">I", 2)),  # OpenBSD loop
    ],
)
def test_link_types_ipv4(link: int, header: bytes) -> None:
    p = decode(frame(link, header + ipv4(17, udp())))
    assert summary(p) == ("10.0.0.1", 5353, "192.168.1.2", 53, 17, b"query", (), 4)


@pytest.mark.parametrize(
    ("link", "header"),
    [(229, b""), (101, b""), (0, struct.pack("<I", 30)), (108, struct.pack(">I", 24))],
)
def test_link_types_ipv6(link: int, header: bytes) -> None:
    p = decode(frame(link, header + ipv6(6, tcp())))
    assert summary(p) == ("::1", 1234, "2001:db8::2", 80, 6, b"GET /", (), 6)


def test_raw_link_type_version_mismatch() -> None:
    with pytest.raises(DecodeError):
        decode(frame(228, ipv6(6, tcp())))
    with pytest.raises(DecodeError):
        decode(frame(101, b"\x50" + bytes(30)))


def test_ipv4_fragments_are_flagged_not_decoded() -> None:
    first = decode(frame(101, ipv4(6, tcp(), frag=0x2000)))  # MF
    later = decode(frame(101, ipv4(6, b"rest", frag=0x0010)))  # offset 16
    df = decode(frame(101, ipv4(6, tcp(), frag=0x4000)))  # DF only: not a fragment
    assert first is not None and first.fragment and first.sport is None
    assert later is not None and later.fragment and bytes(later.payload) == b"rest"
    assert df is not None and not df.fragment and df.sport == 1234


def ext(next_header: int, body_len8: int) -> bytes:
    return bytes([next_header, body_len8]) + bytes(6 + 8 * body_len8)


def test_ipv6_extension_headers() -> None:
    chain = ext(43, 0) + ext(60, 1) + ext(6, 0)  # hop-by-hop -> routing -> dest-opts -> TCP
    p = decode(frame(229, ipv6(0, chain + tcp())))
    assert summary(p) == ("::1", 1234, "2001:db8::2", 80, 6, b"GET /", (), 6)
    fragment = struct.pack("!BxHI", 17, 0x0001, 99)  # M flag, offset 0
    q = decode(frame(229, ipv6(44, fragment + udp())))
    assert q is not None and q.fragment and q.proto == 17 and q.sport is None
    atomic = struct.pack("!BxHI", 17, 0, 99)  # RFC 6946 atomic fragment: whole packet
    r = decode(frame(229, ipv6(44, atomic + udp())))
    assert r is not None and not r.fragment and r.dport == 53
    none = decode(frame(229, ipv6(59, b"")))
    assert none is not None and none.proto == 59 and none.payload == b""


def test_ipv6_extension_chain_is_capped_and_bounded() -> None:
    with pytest.raises(DecodeError, match="more than"):
        decode(frame(229, ipv6(60, ext(60, 0) * 20 + udp())))
    with pytest.raises(DecodeError, match="overruns"):
        decode(frame(229, ipv6(0, bytes([6, 200]) + bytes(6))))


@pytest.mark.parametrize(
    "data",
    [
        eth(0x0800, b"")[:10],
        eth(0x0800, ipv4(6, tcp())[:19]),
        eth(0x0800, b"\x44" + bytes(19)),  # IHL 4
        eth(0x0800, b"\x4f" + bytes(19)),  # IHL 15, options missing
        eth(0x0800, ipv4(6, tcp()[:12])),  # TCP header cut
        eth(0x0800, ipv4(6, tcp()[:12] + b"\x40" + bytes(7))),  # data offset 4
        eth(0x0800, ipv4(6, tcp()[:12] + b"\xf0" + bytes(7))),  # data offset 60, too long
        eth(0x0800, ipv4(17, b"\x00" * 5)),  # UDP header cut
        eth(0x0800, ipv4(17, struct.pack("!HHHH", 1, 2, 3, 0))),  # UDP length 3
        eth(0x86DD, ipv6(6, b"")[:30]),
        eth(0x86DD, b"\x40" + bytes(50)),  # version 4 in an IPv6 EtherType
    ],
)
def test_malformed_headers_raise_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(frame(1, data))


def test_snaplen_cut_and_zero_lengths() -> None:
    full = ipv4(6, tcp(payload=b"x" * 100))
    cut = decode(frame(101, full[:80]))
    assert cut is not None and bytes(cut.payload) == b"x" * (80 - 20 - 24)
    tso = bytearray(full)
    tso[2:4] = b"\x00\x00"  # total length 0 (segmentation offload)
    whole = decode(frame(101, bytes(tso)))
    assert whole is not None and len(whole.payload) == 100


def test_tcp_flags_include_ns() -> None:
    raw = bytearray(ipv4(6, tcp(flags=0x12)))
    raw[20 + 12] |= 0x01
    p = decode_link(101, bytes(raw))
    assert p is not None and p.tcp_flags == 0x112


FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SEEDS = [
    (1, eth(0x0800, ipv4(6, tcp()), ((0x8100, 5),))),
    (1, eth(0x86DD, ipv6(0, ext(44, 0) + struct.pack("!BxHI", 6, 0, 1) + tcp()))),
    (276, struct.pack("!HHIHBB8s", 0x86DD, 0, 1, 772, 0, 6, b"\x00" * 8) + ipv6(17, udp())),
    (113, struct.pack("!HHH8sH", 0, 772, 6, b"\x00" * 8, 0x0800) + ipv4(17, udp())),
    (0, struct.pack("<I", 2) + ipv4(6, tcp())),
]


@FUZZ
@given(st.sampled_from([0, 1, 101, 108, 113, 228, 229, 276, 147]), st.binary(max_size=200))
def test_random_bytes_only_decode_error(link: int, data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode(frame(link, data))


@FUZZ
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=6),
    st.integers(min_value=0),
)
def test_mutated_packets_only_decode_error(
    seed: tuple[int, bytes], flips: list[tuple[int, int]], cut: int
) -> None:
    link, raw = seed
    data = bytearray(raw)
    for at, value in flips:
        data[at % len(data)] = value
    try:
        p = decode(frame(link, bytes(data[: cut % (len(data) + 1)])))
    except DecodeError:
        return
    if p is not None:
        assert len(p.payload) <= len(data)
