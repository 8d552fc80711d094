"""A flow table keyed by the bidirectional 5-tuple, with bounded in-order TCP reassembly.

Each flow keeps the first ``prefix_bytes`` of payload per direction. TCP segments are placed by
sequence number (RFC 9293 3.4, compared modulo 2^32 as RFC 793 3.3 prescribes): out-of-order
segments are buffered up to ``max_ooo_bytes`` per flow, retransmitted or overlapping bytes keep
the first copy, and a stream seen without its SYN starts at the first sequence number seen.
UDP flows keep the first ``max_datagrams`` datagrams per direction (within ``prefix_bytes``).

Memory is bounded: at most ``max_flows`` flows (the least recently used is evicted), flows idle
for more than ``idle_ns`` (measured on the packets' own timestamps, never the wall clock) are
evicted, and every per-flow buffer is capped. ``bytes_*`` count transport payload bytes as
captured, retransmissions included.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

from probe.codecs.packet import IPPROTO_TCP, IPPROTO_UDP, Packet

__all__ = ["Flow", "FlowTable"]

Endpoint = tuple[str, int]
Transport = Literal["tcp", "udp"]

# TCP flag bits (RFC 9293 3.1).
FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
_SEQ_MOD = 1 << 32
_SEQ_HALF = 1 << 31


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
        "datagrams",
        "fin",
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
    ) -> None:
        if max_flows < 1 or idle_ns < 0 or prefix_bytes < 0 or max_ooo_bytes < 0:
            raise ValueError("flow table bounds must be positive")
        self.max_flows = max_flows
        self.idle_ns = idle_ns
        self.prefix_bytes = prefix_bytes
        self.max_ooo_bytes = max_ooo_bytes
        self.max_datagrams = max_datagrams
        self.ignored = 0  # packets that are not TCP/UDP or are IP fragments
        self._flows: OrderedDict[_Key, _State] = OrderedDict()  # least recently used first
        self._expired: list[Flow] = []
        self._clock: int | None = None  # the latest packet timestamp seen
        self._order = 0

    def __len__(self) -> int:
        return len(self._flows)

    def add(self, packet: Packet, timestamp_ns: int) -> None:
        """Account one packet (from :func:`probe.codecs.packet.decode`)."""
        if (
            packet.fragment
            or packet.sport is None
            or packet.dport is None
            or packet.proto not in (IPPROTO_TCP, IPPROTO_UDP)
        ):
            self.ignored += 1
            return
        if self._clock is None or timestamp_ns > self._clock:
            self._clock = timestamp_ns
            self._expire_idle()
        src: Endpoint = (packet.src, packet.sport)
        dst: Endpoint = (packet.dst, packet.dport)
        key: _Key = (packet.proto, src, dst) if src <= dst else (packet.proto, dst, src)
        flags = packet.tcp_flags or 0
        state = self._flows.get(key)
        reused = state is not None and (state.fin or state.rst) and src == state.client
        if reused and packet.proto == IPPROTO_TCP and flags & (SYN | ACK) == SYN:
            self._evict(key)  # the 5-tuple reused by a new connection
            state = None
        if state is None:
            client, server = src, dst
            if packet.proto == IPPROTO_TCP and flags & (SYN | ACK) == SYN | ACK:
                client, server = dst, src  # the SYN-ACK's receiver sent the SYN
            transport: Transport = "tcp" if packet.proto == IPPROTO_TCP else "udp"
            self._order += 1
            state = _State(client, server, transport, timestamp_ns, self._order,
                           self.prefix_bytes)  # fmt: skip
            self._flows[key] = state
            if len(self._flows) > self.max_flows:
                self._evict(next(iter(self._flows)))
        else:
            self._flows.move_to_end(key)
        state.first_ns = min(state.first_ns, timestamp_ns)
        state.last_ns = max(state.last_ns, timestamp_ns)
        direction = 0 if src == state.client else 1
        state.packets[direction] += 1
        state.bytes[direction] += len(packet.payload)
        if packet.proto == IPPROTO_TCP:
            self._tcp(state, direction, packet, flags)
        else:
            self._udp(state, direction, packet.payload)

    def _tcp(self, state: _State, direction: int, packet: Packet, flags: int) -> None:
        stream = state.streams[direction]
        seq = packet.seq or 0
        if flags & RST:
            state.rst = True
        if flags & FIN:
            state.fin = True
        if flags & SYN:
            if direction == 0 and not flags & ACK:
                state.syn = True
            stream.start(seq + 1)  # the SYN occupies one sequence number (RFC 9293 3.4)
            seq += 1  # data on a SYN (TCP Fast Open, RFC 7413) follows it
        if packet.payload:
            room = max(0, self.max_ooo_bytes - sum(s.ooo_bytes for s in state.streams))
            state.ooo_dropped += stream.add(seq, packet.payload, room)

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

    def expired(self) -> list[Flow]:
        """The flows evicted since the last call (idle, over ``max_flows`` or reused)."""
        out, self._expired = self._expired, []
        return out

    def finish(self) -> list[Flow]:
        """Every flow not yet returned by :meth:`expired`, in order of first appearance;
        the table is empty afterwards."""
        states = sorted(self._flows.values(), key=lambda s: s.order)
        self._flows.clear()
        return [*self.expired(), *(s.freeze() for s in states)]
