"""probe.pcap.flows: real captures, reassembly of reordered and retransmitted segments, bounds."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from probe.codecs.packet import Packet, decode
from probe.codecs.pcap import CaptureReader, Frame
from probe.pcap.flows import ACK, FIN, RST, SYN, Flow, FlowTable

CAPTURES = Path(__file__).resolve().parents[2] / "captures" / "pcap"
C, S = ("10.0.0.1", 40000), ("10.0.0.2", 21)
CREDS = b"USER alice\r\nPASS s3cret\r\n"


def seg(src: tuple[str, int], dst: tuple[str, int], seq: int, payload: bytes = b"",
        flags: int = ACK, proto: int = 6) -> Packet:  # fmt: skip
    tcp = proto == 6
    return Packet(src[0], dst[0], proto, src[1], dst[1], payload, flags if tcp else None,
                  seq if tcp else None, 0 if tcp else None, (), 4, False)  # fmt: skip


def flows_of(path: Path) -> list[Flow]:
    reader = CaptureReader()
    reader.feed(path.read_bytes())
    table = FlowTable()
    for frame in reader.frames():
        assert isinstance(frame, Frame)
        packet = decode(frame)
        if packet is not None:
            table.add(packet, frame.timestamp_ns)
    reader.close()
    return table.finish()


def test_real_capture_http_flow() -> None:
    flows = flows_of(CAPTURES / "lo_en10mb.pcap")
    assert len(flows) == 1
    flow = flows[0]
    assert flow.transport == "tcp" and flow.syn_seen and flow.fin_seen
    assert flow.client == ("127.0.0.1", 40322) and flow.server == ("127.0.0.1", 18080)
    assert flow.packets == 12 and flow.first_ns == 1795957946643149000
    assert flow.client_prefix.startswith(b"GET /")
    assert flow.bytes_to_server == 128 and flow.bytes_to_client == 191 + 5969
    assert flow.server_prefix.startswith(b"HTTP/1.0 200")
    assert len(flow.server_prefix) == 4096


def test_sll2_capture_has_udp_flow() -> None:
    flows = flows_of(CAPTURES / "any_sll2.pcap")
    udp = [f for f in flows if f.transport == "udp"]
    assert len(flows) == 2 and len(udp) == 1
    assert udp[0].client_prefix == b"probe udp datagram"
    assert udp[0].client_datagrams == (b"probe udp datagram",)


def handshake(table: FlowTable, isn: int = 1000) -> None:
    table.add(seg(C, S, isn - 1, flags=SYN), 1)
    table.add(seg(S, C, 5000, flags=SYN | ACK), 2)
    table.add(seg(C, S, isn), 3)


def one_byte_segments(isn: int) -> list[Packet]:
    return [seg(C, S, isn + i, CREDS[i : i + 1]) for i in range(len(CREDS))]


def test_reversed_retransmitted_one_byte_segments() -> None:
    table = FlowTable()
    handshake(table)
    segments = one_byte_segments(1000)
    for i, packet in enumerate(reversed(segments)):
        table.add(packet, 10 + i)
    for packet in segments[::3]:  # retransmissions with other bytes: the first copy stays
        table.add(seg(C, S, packet.seq or 0, b"X"), 100)
    (flow,) = table.finish()
    assert flow.client_prefix == CREDS
    assert flow.client == C and flow.packets_to_server == 2 + len(CREDS) + len(segments[::3])


def test_overlapping_segments_and_seq_wraparound() -> None:
    table = FlowTable()
    isn = 2**32 - 5  # the stream wraps past 2^32 (RFC 793 3.3)
    handshake(table, isn)
    table.add(seg(C, S, (isn + 10) % 2**32, CREDS[10:20]), 4)
    table.add(seg(C, S, (isn + 5) % 2**32, CREDS[5:12]), 5)
    table.add(seg(C, S, isn - 2, b"??" + CREDS[:7]), 6)  # starts before the stream start
    table.add(seg(C, S, (isn + 18) % 2**32, CREDS[18:]), 7)
    (flow,) = table.finish()
    assert flow.client_prefix == CREDS


def test_mid_stream_start() -> None:
    table = FlowTable()
    table.add(seg(C, S, 777_000, CREDS[:12]), 1)
    table.add(seg(S, C, 9, b"331 ok\r\n"), 2)
    table.add(seg(C, S, 777_012, CREDS[12:]), 3)
    (flow,) = table.finish()
    assert not flow.syn_seen and flow.client == C
    assert flow.client_prefix == CREDS and flow.server_prefix == b"331 ok\r\n"


def test_syn_ack_first_makes_its_receiver_the_client() -> None:
    table = FlowTable()
    table.add(seg(S, C, 5000, flags=SYN | ACK), 1)
    (flow,) = table.finish()
    assert flow.client == C and flow.server == S


def test_out_of_order_cap() -> None:
    table = FlowTable(max_ooo_bytes=10)
    handshake(table)
    table.add(seg(C, S, 1005, CREDS[5:13]), 4)  # 8 bytes buffered
    table.add(seg(C, S, 1013, CREDS[13:]), 5)  # over the cap: dropped
    table.add(seg(C, S, 1000, CREDS[:5]), 6)
    (flow,) = table.finish()
    assert flow.client_prefix == CREDS[:13]
    assert flow.ooo_dropped == len(CREDS) - 13


def test_prefix_cap() -> None:
    table = FlowTable(prefix_bytes=8)
    handshake(table)
    table.add(seg(C, S, 1004, CREDS[4:]), 4)
    table.add(seg(C, S, 1000, CREDS[:4]), 5)
    (flow,) = table.finish()
    assert flow.client_prefix == CREDS[:8] and flow.bytes_to_server == len(CREDS)


def test_idle_eviction_uses_packet_clock() -> None:
    table = FlowTable(idle_ns=100)
    table.add(seg(C, S, 1, b"a"), 1000)
    other = ("10.0.0.3", 5555)
    table.add(seg(other, S, 1, b"b"), 1050)
    assert table.expired() == []
    table.add(seg(other, S, 2, b"c"), 1101)  # the first flow is now 101 ns idle
    (gone,) = table.expired()
    assert gone.client == C and gone.client_prefix == b"a"
    assert table.expired() == []
    (left,) = table.finish()
    assert left.client == other and left.client_prefix == b"bc"


def test_max_flows_evicts_least_recently_used() -> None:
    table = FlowTable(max_flows=2)
    a, b, c = (("10.0.0.9", p) for p in (1, 2, 3))
    table.add(seg(a, S, 1, b"a"), 1)
    table.add(seg(b, S, 1, b"b"), 2)
    table.add(seg(a, S, 2, b"A"), 3)  # a is now more recent than b
    table.add(seg(c, S, 1, b"c"), 4)
    assert [f.client for f in table.expired()] == [b]
    assert [f.client for f in table.finish()] == [a, c]


def test_finish_includes_undrained_expired() -> None:
    table = FlowTable(max_flows=1)
    table.add(seg(C, S, 1, b"x"), 1)
    table.add(seg(S, ("10.0.0.7", 1), 1, b"y"), 2)
    assert len(table.finish()) == 2 and len(table) == 0


def test_port_reuse_after_fin_starts_a_new_flow() -> None:
    table = FlowTable()
    handshake(table)
    table.add(seg(C, S, 1000, b"one", ACK | FIN), 4)
    table.add(seg(C, S, 70_000, flags=SYN), 5)
    table.add(seg(C, S, 70_001, b"two"), 6)
    first, second = table.finish()
    assert first.client_prefix == b"one" and second.client_prefix == b"two"


def test_non_transport_packets_are_ignored() -> None:
    table = FlowTable()
    table.add(Packet("1.1.1.1", "2.2.2.2", 1, None, None, b"ping", None, None, None, (), 4,
                     False), 1)  # fmt: skip
    assert table.ignored == 1 and table.finish() == []


packets = st.builds(
    lambda proto, a, b, seq, payload, flags: seg(a, b, seq, payload, flags, proto),
    st.sampled_from([6, 17]),
    st.sampled_from([C, S, ("10.0.0.3", 1)]),
    st.sampled_from([C, S, ("10.0.0.3", 1)]),
    st.integers(0, 2**32 - 1) | st.integers(990, 1100),
    st.binary(max_size=64),
    st.integers(0, 0x1FF),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(packets, st.integers(0, 10**6)), max_size=40),
       st.integers(1, 4), st.integers(0, 64))  # fmt: skip
def test_random_packets_never_raise(
    items: list[tuple[Packet, int]], max_flows: int, cap: int
) -> None:
    table = FlowTable(max_flows=max_flows, idle_ns=1000, prefix_bytes=cap, max_ooo_bytes=cap)
    for packet, ts in items:
        table.add(packet, ts)
        assert len(table) <= max_flows
    flows = [*table.expired(), *table.finish()]
    assert sum(f.packets for f in flows) == len(items)
    for flow in flows:
        assert len(flow.client_prefix) <= cap and len(flow.server_prefix) <= cap


def test_closed_flow_leaves_after_closed_ns_of_quiet() -> None:
    table = FlowTable(closed_ns=100, idle_ns=10**6)
    handshake(table)
    table.add(seg(C, S, 1000, b"bye", ACK | FIN), 10)
    table.add(seg(S, C, 5000, b"", ACK | FIN), 20)  # both FINs: closed at t=20
    other = ("10.0.0.3", 5555)
    table.add(seg(other, S, 1, b"x"), 100)
    assert table.expired() == []  # quiet for 80 ns only
    table.add(seg(C, S, 1004, b"", ACK), 110)  # the last ACK: quiet again from t=110
    table.add(seg(other, S, 2, b"y"), 200)
    assert table.expired() == []
    table.add(seg(other, S, 3, b"z"), 300)
    (gone,) = table.expired()
    assert gone.client == C and gone.fin_seen and gone.client_prefix == b"bye"
    (left,) = table.finish()
    assert left.client == other


def test_reset_flow_leaves_after_closed_ns() -> None:
    table = FlowTable(closed_ns=50)
    handshake(table)
    table.add(seg(S, C, 5000, b"", RST), 10)
    table.add(seg(("10.0.0.3", 1), S, 1, b"x"), 100)
    (gone,) = table.expired()
    assert gone.rst_seen and gone.client == C
