"""IP fragment reassembly (probe.pcap.fragments): hand-built IPv4 (RFC 791) and IPv6
(RFC 8200 4.5) fragments through the reassembler and the whole pipeline; out of order,
duplicated, overlapping (RFC 5722), never completed, oversize, too many, expired; hypothesis
over the reassembler."""

from __future__ import annotations

import base64
import ipaddress
import random
import struct
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pcap_writer import ACK, ETH_IPV4, PSH, SYN, ipv4, tcp, write_pcap

from probe.codecs.errors import DecodeError
from probe.codecs.packet import decode_fields
from probe.pcap.analyze import analyze
from probe.pcap.fragments import Reassembler
from probe.report.pcap_doc import dumps

C, S = ("10.0.0.1", 40000), ("10.0.0.2", 161)
ETH_IPV6 = bytes(6) + bytes.fromhex("020000000001") + b"\x86\xdd"


def ber(tag: int, body: bytes) -> bytes:
    if len(body) < 0x80:
        return bytes([tag, len(body)]) + body
    return bytes([tag, 0x82]) + struct.pack("!H", len(body)) + body


def snmp(community: bytes, padding: int = 3000) -> bytes:
    """An SNMPv2c SetRequest (RFC 3416 3) with one long OCTET STRING value: big enough to be
    fragmented on a 1,500-byte link."""
    varbind = ber(0x30, ber(0x06, b"\x2b\x06\x01\x02\x01\x01\x05\x00") + ber(0x04, b"x" * padding))
    pdu = ber(
        0xA3, ber(0x02, b"\x01") + ber(0x02, b"\x00") + ber(0x02, b"\x00") + ber(0x30, varbind)
    )
    return ber(0x30, ber(0x02, b"\x01") + ber(0x04, community) + pdu)


def udp_bytes(src: tuple[str, int], dst: tuple[str, int], payload: bytes) -> bytes:
    return struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload


def v4_fragments(body: bytes, proto: int = 17, size: int = 1480, ident: int = 7) -> list[bytes]:
    """``body`` (transport header and payload) cut into IPv4 fragments of ``size`` bytes."""
    out = []
    for start in range(0, len(body), size):
        more = start + size < len(body)
        frag = (0x2000 if more else 0) | (start // 8)
        out.append(ETH_IPV4 + ipv4(C[0], S[0], proto, body[start : start + size], frag=frag,
                                   ident=ident))  # fmt: skip
    return out


def v6_fragment(body: bytes, offset: int, more: bool, ident: int = 9, proto: int = 17) -> bytes:
    src = ipaddress.IPv6Address("2001:db8::1").packed
    dst = ipaddress.IPv6Address("2001:db8::2").packed
    header = struct.pack("!BxHI", proto, offset | int(more), ident)  # RFC 8200 4.5
    ip = struct.pack("!IHBB16s16s", 6 << 28, 8 + len(body), 44, 64, src, dst)
    return ETH_IPV6 + ip + header + body


def v6_fragments(body: bytes, size: int = 1232, ident: int = 9) -> list[bytes]:
    return [
        v6_fragment(body[start : start + size], start, start + size < len(body), ident)
        for start in range(0, len(body), size)
    ]


def fields(frame: bytes) -> tuple:  # type: ignore[type-arg]
    decoded = decode_fields(1, frame)
    assert decoded is not None and decoded[11]
    return decoded


def run(tmp_path: Path, frames: list[bytes], name: str = "f.pcap"):  # type: ignore[no-untyped-def]
    return analyze([str(write_pcap(tmp_path / name, [(10 + i, f) for i, f in enumerate(frames)]))])


# --- the decoder's fragment facts -----------------------------------------------------------


def test_decoder_gives_offset_identification_and_more_flag() -> None:
    first, last = v4_fragments(b"a" * 16 + b"b" * 8, size=16, ident=0xBEEF)
    one, two = fields(first), fields(last)
    assert (one[6], one[7], one[8], one[5]) == (1, 0, 0xBEEF, b"a" * 16)
    assert (two[6], two[7], two[8], two[5]) == (0, 16, 0xBEEF, b"b" * 8)
    v6 = fields(v6_fragment(b"z" * 8, 1232, False, ident=0xDEADBEEF))
    assert (v6[2], v6[6], v6[7], v6[8], v6[10]) == (17, 0, 1232, 0xDEADBEEF, 6)


# --- whole pipeline -------------------------------------------------------------------------


def test_snmp_community_in_a_fragmented_udp_datagram_out_of_order(tmp_path: Path) -> None:
    body = udp_bytes(C, S, snmp(b"fake-frag-community"))
    frames = v4_fragments(body)
    assert len(frames) == 3
    frames = [frames[2], frames[0], frames[0], frames[1]]  # reversed-ish, one duplicate
    analysis = run(tmp_path, frames)
    (flow,) = analysis.flows
    assert (flow.protocol, flow.dport, flow.transport) == ("snmp", 161, "udp")
    (found,) = analysis.secrets
    assert found.secret.kind == "snmp-community"
    stats = analysis.summary.fragments
    assert (stats.packets, stats.datagrams, stats.used, stats.duplicates) == (4, 1, 3, 1)
    assert analysis.summary.ignored.fragments == 1  # the duplicate
    assert "fake-frag-community" not in dumps_of(analysis)


def test_fragmented_tcp_segment_carries_basic_credentials(tmp_path: Path) -> None:
    token = base64.b64encode(b"dave:fake-frag-pass").decode()
    request = f"GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Basic {token}\r\n\r\n".encode()
    web = (C[0], 40001), (S[0], 80)
    segment = tcp(web[0], web[1], 1000, ACK | PSH, request)[14 + 20 :]  # the TCP segment
    frames = [tcp(web[0], web[1], 999, SYN), tcp(web[1], web[0], 8999, SYN | ACK)]
    frames += v4_fragments(segment, proto=6, size=24)[::-1]
    analysis = run(tmp_path, frames)
    (flow,) = analysis.flows
    assert flow.protocol == "http"
    (found,) = analysis.secrets
    assert (found.secret.kind, found.secret.user) == ("http-basic", "dave")
    assert analysis.summary.fragments.datagrams == 1


def test_ipv6_fragmented_udp_datagram(tmp_path: Path) -> None:
    body = udp_bytes(("2001:db8::1", 40000), ("2001:db8::2", 161), snmp(b"fake-v6-community"))
    frames = v6_fragments(body)
    random.Random(5).shuffle(frames)
    analysis = run(tmp_path, frames)
    (flow,) = analysis.flows
    assert (flow.protocol, flow.src, flow.dst) == ("snmp", "2001:db8::1", "2001:db8::2")
    assert [s.secret.kind for s in analysis.secrets] == ["snmp-community"]


def test_overlap_discards_the_datagram_and_later_fragments(tmp_path: Path) -> None:
    body = udp_bytes(C, S, snmp(b"fake-overlap"))
    first, second, third = v4_fragments(body)
    # A fragment at offset 8 (inside the first one) with other bytes: RFC 5722 overlap.
    sneaky = ETH_IPV4 + ipv4(C[0], S[0], 17, b"Q" * 64, frag=0x2000 | 1, ident=7)
    analysis = run(tmp_path, [first, sneaky, second, third])
    assert analysis.flows == () and analysis.secrets == ()
    stats = analysis.summary.fragments
    assert (stats.overlaps, stats.dropped, stats.datagrams) == (1, 4, 0)
    assert analysis.summary.ignored.fragments == 4


def test_ipv6_overlap_is_dropped_too() -> None:
    body = udp_bytes(C, S, b"y" * 2000)
    table = Reassembler()
    assert table.add(fields(v6_fragment(body[:1232], 0, True)), 1) is None
    assert table.add(fields(v6_fragment(body[1224:], 1224, False)), 2) is None
    assert table.stats.overlaps == 1 and table.finish().datagrams == 0


def test_never_completed_is_incomplete(tmp_path: Path) -> None:
    first, _second, third = v4_fragments(udp_bytes(C, S, snmp(b"fake-lost")))
    analysis = run(tmp_path, [first, third])
    stats = analysis.summary.fragments
    assert (stats.incomplete, stats.datagrams, stats.dropped) == (2, 0, 0)
    assert analysis.summary.ignored.fragments == 2


def test_oversize_and_bad_lengths_are_dropped() -> None:
    table = Reassembler()
    # Offset 8189 x 8 = 65,512 plus 32 bytes ends past 65,535 (the classic ping of death).
    big = ETH_IPV4 + ipv4(C[0], S[0], 17, b"x" * 32, frag=8189, ident=3)
    assert table.add(fields(big), 1) is None
    odd = ETH_IPV4 + ipv4(C[0], S[0], 17, b"x" * 13, frag=0x2000, ident=4)  # MF, 13 bytes
    assert table.add(fields(odd), 2) is None
    stats = table.finish()
    assert (stats.dropped, stats.incomplete) == (2, 0)


def test_final_fragments_that_disagree_discard() -> None:
    table = Reassembler()
    end = ETH_IPV4 + ipv4(C[0], S[0], 17, b"x" * 16, frag=2, ident=5)  # ends at 32
    other = ETH_IPV4 + ipv4(C[0], S[0], 17, b"x" * 8, frag=8, ident=5)  # ends at 72
    assert table.add(fields(end), 1) is None and table.add(fields(other), 2) is None
    assert table.finish().dropped == 2


def test_too_many_fragments() -> None:
    table = Reassembler(max_fragments=4)
    for i in range(6):
        frame = ETH_IPV4 + ipv4(C[0], S[0], 17, b"x" * 8, frag=0x2000 | i, ident=6)
        assert table.add(fields(frame), i) is None
    stats = table.finish()
    assert (stats.dropped, stats.incomplete) == (6, 0)


def test_expiry_by_capture_time_and_pending_limits() -> None:
    table = Reassembler(timeout_ns=1000, max_pending=2)
    first, second = v4_fragments(udp_bytes(C, S, b"z" * 40), size=24)
    assert table.add(fields(first), 0) is None
    assert table.add(fields(second), 2000) is None  # the first expired: this one waits alone
    assert table.stats.incomplete == 2 and len(table) == 1
    for ident in (20, 21, 22):  # three datagrams, room for two: the oldest goes
        (one, _) = v4_fragments(udp_bytes(C, S, b"z" * 40), size=24, ident=ident)
        table.add(fields(one), 2001)
    assert len(table) == 2
    assert table.finish().incomplete == 5


def test_pending_bytes_cap() -> None:
    table = Reassembler(max_pending_bytes=2000)
    for ident in range(4):
        one = v4_fragments(udp_bytes(C, S, b"z" * 3000), ident=ident)[0]
        table.add(fields(one), ident)
    assert len(table) == 1  # 1,480 bytes each: one fits
    assert table.finish().incomplete == 4


def test_malformed_transport_header_in_a_whole_datagram() -> None:
    table = Reassembler()
    one = ETH_IPV4 + ipv4(C[0], S[0], 6, b"x" * 8, frag=0x2000, ident=8)
    two = ETH_IPV4 + ipv4(C[0], S[0], 6, b"x" * 4, frag=1, ident=8)
    assert table.add(fields(one), 1) is None
    with pytest.raises(DecodeError):
        table.add(fields(two), 2)  # 12 bytes: shorter than a TCP header


def dumps_of(analysis) -> str:  # type: ignore[no-untyped-def]
    from probe.grading.profile import load_profile
    from probe.grading.rules import evaluate_capture
    from probe.report.pcap_doc import document

    profile = load_profile("azure-transit")
    return dumps(document(profile.name, analysis, evaluate_capture(profile, analysis)))


# --- hypothesis -----------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    size=st.integers(min_value=1, max_value=3000),
    cut=st.integers(min_value=1, max_value=200),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    duplicates=st.integers(min_value=0, max_value=4),
    v6=st.booleans(),
)
def test_any_fragmentation_in_any_order_reassembles(
    size: int, cut: int, seed: int, duplicates: int, v6: bool
) -> None:
    payload = random.Random(seed).randbytes(size)
    body = udp_bytes(C, S, payload)
    step = cut * 8
    frames = v6_fragments(body, size=step) if v6 else v4_fragments(body, size=step)
    assume(1 < len(frames) <= 64)  # one piece is no fragment; 64 is the per-datagram cap
    rng = random.Random(seed)
    frames += [rng.choice(frames) for _ in range(duplicates)]
    rng.shuffle(frames)
    table = Reassembler()
    results = [table.add(fields(f), i) for i, f in enumerate(frames)]
    whole = [r for r in results if r is not None]
    # Copies that come after the datagram completed start it again, as at a receiver.
    assert whole and all(w[5] == payload and w[4] == 161 for w in whole)
    assert len(whole) == 1 or duplicates
    stats = table.finish()
    assert stats.packets == stats.used + stats.duplicates + stats.dropped + stats.incomplete


fragment_strategy = st.tuples(
    st.integers(min_value=0, max_value=3),  # identification
    st.integers(min_value=0, max_value=0x1FFF),  # offset in 8-octet units
    st.booleans(),  # more fragments
    st.binary(max_size=64),
    st.integers(min_value=0, max_value=10**10),  # timestamp
)


@settings(max_examples=300, deadline=None)
@given(st.lists(fragment_strategy, max_size=40))
def test_hostile_fragments_keep_the_books_and_the_bounds(
    items: list[tuple[int, int, bool, bytes, int]],
) -> None:
    table = Reassembler(max_fragments=8, max_pending=3, max_pending_bytes=200)
    for ident, offset, more, data, ts in items:
        frame = ETH_IPV4 + ipv4(C[0], S[0], 17, data, frag=(0x2000 if more else 0) | offset,
                                ident=ident)  # fmt: skip
        try:
            decoded = decode_fields(1, frame)
            if decoded is None or not decoded[11]:
                continue  # offset 0 without MF: a whole packet, not a fragment
            result = table.add(decoded, ts)
        except DecodeError:
            continue
        assert result is None or len(result[5]) <= 65_535
        assert len(table) <= 3
        assert table._held <= 200  # the byte bound itself
    stats = table.finish()
    assert stats.packets == stats.used + stats.duplicates + stats.dropped + stats.incomplete
    assert len(table) == 0


def test_recorded_capture_with_kernel_fragments() -> None:
    """captures/pcap/ip_fragments.pcap: the Linux kernel fragmented an SNMP datagram over IPv4
    and IPv6 and a 3,000-byte ICMP echo and its reply on a 1,280-byte-MTU loopback."""
    path = Path(__file__).resolve().parents[2] / "captures" / "pcap" / "ip_fragments.pcap"
    analysis = analyze([str(path)])
    stats = analysis.summary.fragments
    assert (stats.packets, stats.datagrams, stats.used, stats.dropped, stats.incomplete) == (
        10, 4, 10, 0, 0,
    )  # fmt: skip
    assert analysis.summary.ignored.not_tcp_udp == 2  # the echo and its reply, whole
    assert [f.protocol for f in analysis.flows] == ["snmp", "snmp"]
    assert [s.secret.kind for s in analysis.secrets] == ["snmp-community"] * 2
