"""IP fragment reassembly for captures, sans-I/O and bounded (issue 5, "IP fragments").

IPv4 per RFC 791 3.2 ("Fragmentation and Reassembly") and RFC 815; IPv6 per RFC 8200 4.5.
A datagram is keyed by source, destination, identification and, for IPv4, the protocol
(RFC 791); IPv6 keys on source, destination and identification only, and takes the next
header of the offset-zero fragment (RFC 8200 4.5). Fragments arrive as the tuples of
:func:`probe.codecs.packet.decode_fields` (``seq`` = offset in bytes, ``ack`` =
identification, ``tcp_flags`` = more-fragments flag); a completed datagram comes back as the
tuple of its transport header and payload (:func:`probe.codecs.packet.transport_fields`).

Every fragment is hostile, so the policy is strict and deterministic:

- Overlap: a fragment that overlaps one already held, other than an exact duplicate (same
  offset, same bytes: ignored and counted), discards the whole datagram and every fragment of
  it that comes later, until it expires. RFC 5722 3 demands this for IPv6; Linux does the
  same for IPv4 since 4.19, so data hidden in overlaps never reached the receiver either.
- A non-final fragment whose length is not a multiple of 8 is dropped (RFC 8200 4.5; RFC 791
  offsets count 8-octet units). A datagram that would end past ``max_bytes`` (65,535),
  whose final fragment disagrees with another about the end, or that has more than
  ``max_fragments`` fragments is discarded like an overlapping one.
- At most ``max_pending`` datagrams and ``max_pending_bytes`` bytes wait at once; past that
  the oldest is given up (counted as incomplete).
- A datagram not complete ``timeout_ns`` after its first fragment is given up, measured on
  the capture's own timestamps (the latest seen), never the wall clock. RFC 8200 4.5 says 60 s;
  Linux's ``ipfrag_time`` is 30 s, used here.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from probe.codecs.packet import Fields, transport_fields

__all__ = ["FragmentStats", "Reassembler"]

_Key = tuple[int, str, str, int, int]


@dataclass(frozen=True, slots=True)
class FragmentStats:
    """Fragment counts. ``packets``: fragments seen; ``datagrams``: datagrams reassembled
    from ``used`` of them; ``duplicates``: exact copies ignored; ``dropped``: fragments thrown
    away by the overlap rule or a limit (``overlaps`` datagrams were discarded for
    overlapping); ``incomplete``: fragments of datagrams never completed (expired, pushed
    out, or still waiting at the end)."""

    packets: int = 0
    datagrams: int = 0
    used: int = 0
    duplicates: int = 0
    dropped: int = 0
    incomplete: int = 0
    overlaps: int = 0

    @property
    def unused(self) -> int:
        """Fragments that did not end up in a reassembled datagram."""
        return self.packets - self.used


class _Pending:
    """One datagram being reassembled."""

    __slots__ = ("bad", "count", "created", "held", "pieces", "proto", "total", "vlan")

    def __init__(self, created: int, vlan: tuple[int, ...]) -> None:
        self.created = created  # capture clock when its first fragment came
        self.vlan = vlan
        self.pieces: dict[int, bytes] = {}  # offset -> data
        self.held = 0  # bytes in pieces
        self.count = 0  # fragments accepted
        self.total: int | None = None  # length, once the final fragment is seen
        self.proto = -1  # from the offset-zero fragment
        self.bad = False  # discarded: later fragments are dropped until it expires


class Reassembler:
    """Collects fragments; :meth:`add` returns a datagram's fields when it completes."""

    def __init__(
        self,
        *,
        max_fragments: int = 64,
        max_bytes: int = 65_535,
        max_pending: int = 1024,
        max_pending_bytes: int = 16 << 20,
        timeout_ns: int = 30 * 10**9,
    ) -> None:
        if min(max_fragments, max_bytes, max_pending, max_pending_bytes, timeout_ns) < 1:
            raise ValueError("fragment limits must be positive")
        self.max_fragments = max_fragments
        self.max_bytes = max_bytes
        self.max_pending = max_pending
        self.max_pending_bytes = max_pending_bytes
        self.timeout_ns = timeout_ns
        self._pending: OrderedDict[_Key, _Pending] = OrderedDict()  # oldest first
        self._held = 0
        self._clock: int | None = None
        self._packets = self._datagrams = self._used = self._duplicates = 0
        self._dropped = self._incomplete = self._overlaps = 0

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def stats(self) -> FragmentStats:
        """Counts so far; fragments still waiting count as incomplete."""
        waiting = sum(p.count for p in self._pending.values() if not p.bad)
        return FragmentStats(
            self._packets,
            self._datagrams,
            self._used,
            self._duplicates,
            self._dropped,
            self._incomplete + waiting,
            self._overlaps,
        )

    def add(self, fields: Fields, timestamp_ns: int) -> Fields | None:
        """Take one fragment; the reassembled datagram's fields when it was the last one
        missing, else None. Raises :class:`~probe.codecs.errors.DecodeError` when a completed
        datagram's TCP or UDP header is malformed."""
        src, dst, proto, _, _, payload, more, offset, ident, vlan, version, _ = fields
        self._packets += 1
        if self._clock is None or timestamp_ns > self._clock:
            self._clock = timestamp_ns
            self._expire()
        offset = offset or 0
        more = bool(more)
        key: _Key = (version, src, dst, ident or 0, proto if version == 4 else -1)
        entry = self._pending.get(key)
        if entry is None:
            entry = _Pending(self._clock, vlan)
            self._pending[key] = entry
            while len(self._pending) > self.max_pending:
                self._give_up(next(iter(self._pending)))
        if entry.bad:
            self._dropped += 1
            return None
        size = len(payload)
        end = offset + size
        if more and size % 8:
            self._dropped += 1  # RFC 8200 4.5: a non-final fragment is a multiple of 8 long
            if not entry.count:
                self._pending.pop(key)
            return None
        old = entry.pieces.get(offset)
        if old is not None and old == payload:
            self._duplicates += 1
            return None
        if (
            old is not None
            or end > self.max_bytes
            or entry.count >= self.max_fragments
            or (not more and entry.total is not None and entry.total != end)
            or (entry.total is not None and end > entry.total)
            or (not more and any(o + len(d) > end for o, d in entry.pieces.items()))
            or any(o < end and offset < o + len(d) for o, d in entry.pieces.items())
        ):
            self._discard(entry, overlap=old is not None or self._overlapping(entry, offset, end))
            return None
        entry.pieces[offset] = payload
        entry.count += 1
        entry.held += size
        self._held += size
        if offset == 0:
            entry.proto = proto
        if not more:
            entry.total = end
        while self._held > self.max_pending_bytes and self._pending:
            oldest = next(iter(self._pending))
            self._give_up(oldest)
            if oldest == key:
                return None
        if entry.total is None or entry.held != entry.total:
            return None
        # No overlaps were let in, so held == total means every byte is there.
        del self._pending[key]
        self._held -= entry.held
        self._datagrams += 1
        self._used += entry.count
        data = b"".join(entry.pieces[o] for o in sorted(entry.pieces))
        return transport_fields(src, dst, entry.proto, data, entry.vlan, version)

    @staticmethod
    def _overlapping(entry: _Pending, offset: int, end: int) -> bool:
        return any(o < end and offset < o + len(d) for o, d in entry.pieces.items())

    def _discard(self, entry: _Pending, *, overlap: bool) -> None:
        """Throw the datagram away and keep its key, so later fragments are dropped too."""
        self._dropped += entry.count + 1
        self._overlaps += overlap
        self._held -= entry.held
        entry.pieces.clear()
        entry.held = entry.count = 0
        entry.bad = True

    def _give_up(self, key: _Key) -> None:
        entry = self._pending.pop(key)
        self._held -= entry.held
        if not entry.bad:
            self._incomplete += entry.count

    def _expire(self) -> None:
        assert self._clock is not None
        limit = self._clock - self.timeout_ns
        pending = self._pending
        while pending:
            key, entry = next(iter(pending.items()))
            if entry.created > limit:
                return
            self._give_up(key)

    def finish(self) -> FragmentStats:
        """Give up every datagram still waiting (the end of the capture); the final counts."""
        for key in list(self._pending):
            self._give_up(key)
        return self.stats
