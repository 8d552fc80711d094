"""A flow table keyed by the bidirectional 5-tuple, with bounded in-order TCP reassembly.

Each flow keeps the first ``prefix_bytes`` of payload per direction. TCP segments are placed by
sequence number (RFC 9293 3.4, compared modulo 2^32 as RFC 793 3.3 prescribes): out-of-order
segments are buffered up to ``max_ooo_bytes`` per flow, retransmitted or overlapping bytes keep
the first copy, and a stream seen without its SYN starts at the first sequence number seen.
UDP flows keep the first ``max_datagrams`` datagrams per direction (within ``prefix_bytes``).

Memory is bounded: at most ``max_flows`` flows (the least recently used is evicted), flows idle
for more than ``idle_ns`` (measured on the packets' own timestamps, never the wall clock) are
evicted, a TCP flow closed by a FIN each way or a RST is evicted once it was quiet for
``closed_ns`` (Zeek's ``tcp_close_delay`` is 5 s too), and every per-flow buffer is capped.
Idle and closed flows are looked for at most every ``idle_ns / 16`` or ``closed_ns / 4`` (and
at least every second) of packet time, so a flow leaves the table within that much of its
time. ``bytes_*`` count transport payload bytes as captured, retransmissions included.

``add_fields`` takes the tuple of :func:`probe.codecs.packet.decode_fields` instead of a
:class:`~probe.codecs.packet.Packet`, for callers that account millions of packets.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Literal

from probe.codecs.packet import IPPROTO_TCP, IPPROTO_UDP, Fields, Packet

__all__ = ["Flow", "FlowTable"]

Endpoint = tuple[str, int]
Transport = Literal["tcp", "udp"]

# TCP flag bits (RFC 9293 3.1).
FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
_SEQ_MOD = 1 << 32
_SEQ_HALF = 1 << 31
_MAX_IDLE_CHECK_NS = 10**9


@dataclass(frozen=True, slots=True)
class Flow:
    """One bidirectional flow. The client sent the first SYN, else the first packet seen."""

    client: Endpoint
    server: Endpoint
    transport: Transport
    packets: int
    packets_to_server: int
    packets_to_client: int
    bytes_to_server: int
    bytes_to_client: int
    first_ns: int
    last_ns: int
    client_prefix: bytes  # first bytes client -> server, in sequence order
    server_prefix: bytes
    syn_seen: bool = False  # a SYN from the client: the stream start was captured
    fin_seen: bool = False
    rst_seen: bool = False
    ooo_dropped: int = 0  # out-of-order bytes dropped by the buffer cap (a gap in a prefix)
    client_datagrams: tuple[bytes, ...] = ()  # UDP only: first datagrams, each cut to the cap
    server_datagrams: tuple[bytes, ...] = ()


class _Stream:
    """One direction of a TCP connection: the first ``cap`` bytes by sequence number."""

    __slots__ = ("base", "cap", "data", "heap", "ooo", "ooo_bytes")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.base: int | None = None  # sequence number of data[0]
        self.data = bytearray()
        self.ooo: dict[int, bytes] = {}  # offset from base -> bytes, beyond len(data)
        self.heap: list[int] = []  # the offsets in ooo, smallest first
        self.ooo_bytes = 0

    def start(self, seq: int) -> None:
        if self.base is None:
            self.base = seq % _SEQ_MOD

    def add(self, seq: int, payload: bytes, ooo_room: int) -> int:
        """Place a segment; return the number of bytes dropped for lack of buffer room."""
        if self.base is None:
            self.base = seq % _SEQ_MOD  # mid-stream start
        have = len(self.data)
        if have >= self.cap or not payload:
            return 0
        offset = (seq - self.base) % _SEQ_MOD
        if offset >= _SEQ_HALF:  # before the start: a signed distance (RFC 793 3.3)
            offset -= _SEQ_MOD
        end = min(offset + len(payload), self.cap)
        if end <= have:
            return 0  # a retransmission of bytes already placed: keep the first copy
        if offset <= have:
            self.data += payload[have - offset : end - offset]
            self._drain()
            return 0
        return self._buffer(offset, payload[: end - offset], ooo_room)

    def _buffer(self, offset: int, chunk: bytes, room: int) -> int:
        old = self.ooo.get(offset)
        if old is not None:
            if len(chunk) <= len(old):
                return 0
            offset, chunk = offset + len(old), chunk[len(old) :]  # keep the first copy
            if offset in self.ooo:
                return 0  # rare double overlap: drop rather than recurse
        if len(chunk) > room:
            return len(chunk)
        self.ooo[offset] = chunk
        heapq.heappush(self.heap, offset)
        self.ooo_bytes += len(chunk)
        return 0

    def _drain(self) -> None:
        heap = self.heap
        while heap and heap[0] <= len(self.data) < self.cap:
            offset = heapq.heappop(heap)
            chunk = self.ooo.pop(offset)
            self.ooo_bytes -= len(chunk)
            have = len(self.data)
            if offset + len(chunk) > have:  # else wholly overlapped: the first copy stays
                self.data += chunk[have - offset : self.cap - offset]
        if len(self.data) >= self.cap:
            self.ooo.clear()
            heap.clear()
            self.ooo_bytes = 0


class _State:
    """The mutable state behind one :class:`Flow`."""

    __slots__ = (
        "bytes",
        "client",
        "closing",
        "datagrams",
        "fin",
        "fins",
        "first_ns",
        "last_ns",
        "ooo_dropped",
        "order",
        "packets",
        "rst",
        "server",
        "streams",
        "syn",
        "transport",
    )

    def __init__(
        self, client: Endpoint, server: Endpoint, transport: Transport, ts: int, order: int,
        cap: int,
    ) -> None:  # fmt: skip
        self.client, self.server, self.transport = client, server, transport
        self.first_ns = self.last_ns = ts
        self.order = order
        self.packets = [0, 0]  # index 0: client -> server, 1: server -> client
        self.bytes = [0, 0]
        self.streams = (_Stream(cap), _Stream(cap))
        self.datagrams: tuple[list[bytes], list[bytes]] = ([], [])
        self.syn = self.fin = self.rst = False
        self.fins = 0  # bit 0: the client sent a FIN, bit 1: the server did
        self.closing = False  # queued in FlowTable._closing
        self.ooo_dropped = 0

    def freeze(self) -> Flow:
        to_server, to_client = self.streams
        return Flow(
            client=self.client,
            server=self.server,
            transport=self.transport,
            packets=self.packets[0] + self.packets[1],
            packets_to_server=self.packets[0],
            packets_to_client=self.packets[1],
            bytes_to_server=self.bytes[0],
            bytes_to_client=self.bytes[1],
            first_ns=self.first_ns,
            last_ns=self.last_ns,
            client_prefix=bytes(to_server.data),
            server_prefix=bytes(to_client.data),
            syn_seen=self.syn,
            fin_seen=self.fin,
            rst_seen=self.rst,
            ooo_dropped=self.ooo_dropped,
            client_datagrams=tuple(self.datagrams[0]),
            server_datagrams=tuple(self.datagrams[1]),
        )


_Key = tuple[int, Endpoint, Endpoint]


class FlowTable:
    """Groups decoded packets into flows; see the module docstring for the bounds."""

    # Worst case held at once: max_flows x (2 x prefix_bytes + max_ooo_bytes), about 480 MiB
    # with the defaults; evicted flows wait in expired() until the caller drains them.
    def __init__(
        self,
        max_flows: int = 20_000,
        idle_ns: int = 300 * 10**9,
        prefix_bytes: int = 4096,
        *,
        max_ooo_bytes: int = 16 * 1024,
        max_datagrams: int = 8,
        closed_ns: int = 5 * 10**9,
    ) -> None:
        if min(idle_ns, prefix_bytes, max_ooo_bytes, closed_ns) < 0 or max_flows < 1:
            raise ValueError("flow table bounds must be positive")
        self.max_flows = max_flows
        self.idle_ns = idle_ns
        self.prefix_bytes = prefix_bytes
        self.max_ooo_bytes = max_ooo_bytes
        self.max_datagrams = max_datagrams
        self.closed_ns = closed_ns
        self.ignored = 0  # packets that are not TCP/UDP or are IP fragments
        self._flows: OrderedDict[_Key, _State] = OrderedDict()  # least recently used first
        self._expired: list[Flow] = []
        self._clock: int | None = None  # the latest packet timestamp seen
        self._next_idle_check: int | None = None  # packet time of the next look for idle flows
        self._idle_step = max(1, min(idle_ns // 16, closed_ns // 4, _MAX_IDLE_CHECK_NS))
        # Closed flows by the packet time they may leave: (deadline, key, state).
        self._closing: deque[tuple[int, _Key, _State]] = deque()
        self._order = 0

    def __len__(self) -> int:
        return len(self._flows)

    def add(self, packet: Packet, timestamp_ns: int) -> None:
        """Account one packet (from :func:`probe.codecs.packet.decode`)."""
        self.add_fields(
            (packet.src, packet.dst, packet.proto, packet.sport, packet.dport, packet.payload,
             packet.tcp_flags, packet.seq, packet.ack, packet.vlan, packet.ip_version,
             packet.fragment),
            timestamp_ns,
        )  # fmt: skip

    def add_fields(self, fields: Fields, timestamp_ns: int) -> None:
        """Account one packet given as :func:`probe.codecs.packet.decode_fields` returns it."""
        src_ip, dst_ip, proto, sport, dport, payload, tcp_flags, seq, _, _, _, fragment = fields
        if fragment or sport is None or dport is None or proto not in (IPPROTO_TCP, IPPROTO_UDP):
            self.ignored += 1
            return
        clock = self._clock
        if clock is None or timestamp_ns > clock:
            self._clock = timestamp_ns
            if self._next_idle_check is None or timestamp_ns >= self._next_idle_check:
                self._next_idle_check = timestamp_ns + self._idle_step
                self._expire_idle()
                self._expire_closed()
        src: Endpoint = (src_ip, sport)
        dst: Endpoint = (dst_ip, dport)
        key: _Key = (proto, src, dst) if src <= dst else (proto, dst, src)
        flags = tcp_flags or 0
        flows = self._flows
        state = flows.get(key)
        if state is None:
            client, server = src, dst
            if proto == IPPROTO_TCP and flags & (SYN | ACK) == SYN | ACK:
                client, server = dst, src  # the SYN-ACK's receiver sent the SYN
            transport: Transport = "tcp" if proto == IPPROTO_TCP else "udp"
            self._order += 1
            state = _State(client, server, transport, timestamp_ns, self._order,
                           self.prefix_bytes)  # fmt: skip
            flows[key] = state
            if len(flows) > self.max_flows:
                self._evict(next(iter(flows)))
        elif (
            flags & SYN
            and proto == IPPROTO_TCP
            and flags & (SYN | ACK) == SYN
            and (state.fin or state.rst)
            and src == state.client
        ):
            self._evict(key)  # the 5-tuple reused by a new connection
            self.add_fields(fields, timestamp_ns)
            return
        else:
            flows.move_to_end(key)
        if timestamp_ns > state.last_ns:
            state.last_ns = timestamp_ns
        elif timestamp_ns < state.first_ns:
            state.first_ns = timestamp_ns
        direction = 0 if src == state.client else 1
        state.packets[direction] += 1
        if proto != IPPROTO_TCP:
            state.bytes[direction] += len(payload)
            self._udp(state, direction, payload)
            return
        if payload:
            state.bytes[direction] += len(payload)
        if flags & (RST | FIN | SYN):
            self._tcp_flags(state, direction, seq or 0, payload, flags)
            if not state.closing and (state.rst or state.fins == 3):
                state.closing = True
                self._closing.append((timestamp_ns + self.closed_ns, key, state))
        elif payload:  # the common case: data, no handshake or close flags
            stream = state.streams[direction]
            if len(stream.data) < stream.cap:
                other = state.streams[1 - direction]
                room = self.max_ooo_bytes - stream.ooo_bytes - other.ooo_bytes
                state.ooo_dropped += stream.add(seq or 0, payload, max(0, room))

    def _tcp_flags(self, state: _State, direction: int, seq: int, payload: bytes,
                   flags: int) -> None:  # fmt: skip
        """A segment with SYN, FIN or RST (and perhaps data)."""
        stream = state.streams[direction]
        if flags & RST:
            state.rst = True
        if flags & FIN:
            state.fin = True
            state.fins |= 1 << direction
        if flags & SYN:
            if direction == 0 and not flags & ACK:
                state.syn = True
            stream.start(seq + 1)  # the SYN occupies one sequence number (RFC 9293 3.4)
            seq += 1  # data on a SYN (TCP Fast Open, RFC 7413) follows it
        if payload:
            room = max(0, self.max_ooo_bytes - sum(s.ooo_bytes for s in state.streams))
            state.ooo_dropped += stream.add(seq, payload, room)

    def _udp(self, state: _State, direction: int, payload: bytes) -> None:
        kept = state.datagrams[direction]
        stream = state.streams[direction]
        room = self.prefix_bytes - len(stream.data)
        if len(kept) >= self.max_datagrams or room <= 0:
            return
        kept.append(payload[:room])
        stream.data += payload[:room]

    def _evict(self, key: _Key) -> None:
        self._expired.append(self._flows.pop(key).freeze())

    def _expire_idle(self) -> None:
        assert self._clock is not None
        limit = self._clock - self.idle_ns
        while self._flows:
            key, state = next(iter(self._flows.items()))
            if state.last_ns >= limit:
                return
            self._evict(key)

    def _expire_closed(self) -> None:
        assert self._clock is not None
        clock, closing = self._clock, self._closing
        while closing and closing[0][0] <= clock:
            _, key, state = closing.popleft()
            if self._flows.get(key) is not state:
                continue  # already evicted (idle, full table, reused)
            if state.last_ns + self.closed_ns <= clock:
                self._evict(key)
            else:  # packets after the close (retransmissions): wait for quiet again
                closing.append((state.last_ns + self.closed_ns, key, state))

    def expired(self) -> list[Flow]:
        """The flows evicted since the last call (idle, closed, over ``max_flows`` or
        reused)."""
        out, self._expired = self._expired, []
        return out

    def finish(self) -> list[Flow]:
        """Every flow not yet returned by :meth:`expired`, in order of first appearance;
        the table is empty afterwards."""
        states = sorted(self._flows.values(), key=lambda s: s.order)
        self._flows.clear()
        self._closing.clear()
        return [*self.expired(), *(s.freeze() for s in states)]
