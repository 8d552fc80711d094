"""Sans-I/O, incremental readers for pcap and pcapng capture files.

Formats:

* pcap: the tcpdump/libpcap file format, draft-ietf-opsawg-pcap section 4 (file header, magic
  0xA1B2C3D4 for microsecond and 0xA1B23C4D for nanosecond timestamps, either byte order) and
  section 5 (packet record).
* pcapng: draft-ietf-opsawg-pcapng. Section 3.1 (general block structure), 4.1 Section Header
  Block, 4.2 Interface Description Block (options ``if_tsresol`` 9 and ``if_tsoffset`` 14),
  4.3 Enhanced Packet Block, 4.4 Simple Packet Block and the obsolete Packet Block (appendix
  "Packet Block (obsolete!)"). Other block types are skipped. Several sections, each with its own
  byte order and interfaces, may follow one another.

Usage: ``feed(chunk)`` as bytes arrive, drain ``frames()`` after each feed, then ``close()`` at end
of file. The format is detected from the first four bytes. ``records()`` yields the same frames
as plain tuples (:data:`Record`), for callers that read millions of them: building a frozen
dataclass costs more than reading the record.

Damage contract: the reader never raises on the bytes of a capture. Every length read from the
file is checked against the bytes present and capped (:data:`MAX_PCAP_RECORD`,
:data:`MAX_PCAPNG_BLOCK`). What it cannot read becomes a :class:`Damage` entry (absolute file
offset and reason) in :attr:`CaptureReader.damage`:

* a damaged block whose framing is intact (an Enhanced Packet Block naming an unknown interface,
  a captured length past its block, a bad option) is skipped and reading goes on;
* damaged framing (an unknown magic, a pcap record longer than the snapshot length or 256 KiB, a
  pcapng block length that is under 12, not a multiple of 4, over 16 MiB or not repeated at the
  end of the block) cannot be resynchronised: the reader stops there
  (:attr:`~CaptureReader.failed`), keeps every frame it already yielded, and ignores what is
  fed afterwards;
* ``close()`` adds the bytes of an incomplete record or block left at end of file (a truncated
  capture), or an empty input.

:func:`read_capture` wraps all this into one iterator of ``Frame | Damage``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from probe.codecs.errors import DecodeError

__all__ = [
    "MAX_PCAPNG_BLOCK",
    "MAX_PCAP_RECORD",
    "CaptureReader",
    "Damage",
    "Frame",
    "Record",
    "read_capture",
]

MAX_PCAP_RECORD = 256 * 1024
"""Cap on a pcap record's captured length (libpcap's largest snapshot length, 262144)."""
MAX_PCAPNG_BLOCK = 16 * 1024 * 1024
"""Cap on a pcapng block's total length."""

_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured link-layer frame.

    ``timestamp_ns`` is nanoseconds since the epoch (a Simple Packet Block has no timestamp: it gets
    the previous packet's in its section, else 0). ``interface`` is 0 for pcap; for pcapng it is
    numbered across the whole file (the first section's interfaces first), so interfaces of
    different sections never share a number. ``data`` holds ``len(data) <= original_length`` bytes
    when the capture was cut by a snapshot length.
    """

    timestamp_ns: int
    link_type: int
    data: bytes
    original_length: int
    interface: int


# A frame as a tuple, in the order of Frame's fields: Frame(*record) == the frame.
Record = tuple[int, int, bytes, int, int]


@dataclass(frozen=True, slots=True)
class Damage:
    """A part of the capture that could not be read, at absolute file ``offset``."""

    offset: int
    reason: str


# pcap file header and record header (draft-ietf-opsawg-pcap sections 4 and 5).
_PCAP_MAGICS: dict[bytes, tuple[str, int]] = {
    b"\xa1\xb2\xc3\xd4": (">", 1000),  # microseconds, big-endian
    b"\xd4\xc3\xb2\xa1": ("<", 1000),  # microseconds, little-endian
    b"\xa1\xb2\x3c\x4d": (">", 1),  # nanoseconds, big-endian
    b"\x4d\x3c\xb2\xa1": ("<", 1),  # nanoseconds, little-endian
}
_PCAP_HEADER = {e: struct.Struct(e + "4sHHiIII") for e in "<>"}
_PCAP_RECORD = {e: struct.Struct(e + "IIII") for e in "<>"}
_PCAP_HEADER_LEN = 24
_PCAP_RECORD_LEN = 16

# pcapng (draft-ietf-opsawg-pcapng section 3.1 and 4).
_SHB_TYPE = b"\x0a\x0d\x0d\x0a"  # palindromic: the same in both byte orders
_BYTE_ORDER_MAGIC = 0x1A2B3C4D
_BLOCK_HEADER = {e: struct.Struct(e + "II") for e in "<>"}
_U32 = {e: struct.Struct(e + "I") for e in "<>"}
_SHB_BODY = {e: struct.Struct(e + "HHq") for e in "<>"}
_IDB_BODY = {e: struct.Struct(e + "HHI") for e in "<>"}
_EPB_BODY = {e: struct.Struct(e + "IIIII") for e in "<>"}
_PB_BODY = {e: struct.Struct(e + "HHIIII") for e in "<>"}
_OPTION = {e: struct.Struct(e + "HH") for e in "<>"}
_I64 = {e: struct.Struct(e + "q") for e in "<>"}
_BT_IDB = 1
_BT_PB = 2  # obsolete Packet Block
_BT_SPB = 3
_BT_EPB = 6
_OPT_ENDOFOPT = 0
_OPT_IF_TSRESOL = 9
_OPT_IF_TSOFFSET = 14
_MIN_BLOCK = 12
_MIN_SHB = 28
_MIN_IDB = 20
_MIN_EPB = 32
_MIN_PB = 32
_MIN_SPB = 16

_UNKNOWN, _PCAP, _PCAPNG = 0, 1, 2


@dataclass(frozen=True, slots=True)
class _Interface:
    """An IDB as needed to stamp frames: ns = ((ts * mul) >> shift) // div + offset_ns."""

    link_type: int
    snaplen: int
    mul: int
    shift: int
    div: int
    offset_ns: int
    number: int

    def ns(self, ts: int) -> int:
        return ((ts * self.mul) >> self.shift) // self.div + self.offset_ns


def _resolution(value: int) -> tuple[int, int, int]:
    """(mul, shift, div) for an ``if_tsresol`` byte (draft-ietf-opsawg-pcapng 4.2)."""
    if value & 0x80:  # a negative power of two
        return _NS, value & 0x7F, 1
    if value <= 9:
        return 10 ** (9 - value), 0, 1
    return 1, 0, 10 ** (value - 9)


class CaptureReader:
    """Incremental reader of a pcap or pcapng byte stream (see the module docstring)."""

    __slots__ = (
        "_base",
        "_buf",
        "_chunks",
        "_chunks_len",
        "_damage",
        "_endian",
        "_failed",
        "_fed",
        "_format",
        "_interfaces",
        "_last_ts",
        "_link_type",
        "_next_number",
        "_pcap_limit",
        "_pcap_mult",
        "_pos",
    )

    def __init__(self) -> None:
        self._buf = b""  # bytes being parsed; self._pos is the next unread offset in it
        self._pos = 0
        self._base = 0  # file offset of self._buf[0]
        self._chunks: list[bytes] = []  # fed but not yet joined into self._buf
        self._chunks_len = 0
        self._fed = 0
        self._format = _UNKNOWN
        self._endian = "<"
        self._damage: list[Damage] = []
        self._failed = False
        # pcap
        self._link_type = 0
        self._pcap_mult = 1000
        self._pcap_limit = MAX_PCAP_RECORD
        # pcapng: the current section's interfaces (None for a damaged IDB)
        self._interfaces: list[_Interface | None] = []
        self._next_number = 0
        self._last_ts = 0

    # -- public API ------------------------------------------------------------------------

    @property
    def damage(self) -> list[Damage]:
        """Damage found so far, in file order (a copy)."""
        return list(self._damage)

    @property
    def failed(self) -> bool:
        """True once the framing was damaged: nothing after that point will be read."""
        return self._failed

    def feed(self, data: bytes) -> None:
        """Add the next bytes of the file (any split is fine)."""
        if not data:
            return
        self._fed += len(data)
        if self._failed:
            return
        self._chunks.append(bytes(data))
        self._chunks_len += len(data)

    def frames(self) -> Iterator[Frame]:
        """Yield every frame that is complete in what was fed so far."""
        for record in self.records():
            yield Frame(*record)

    def records(self) -> Iterator[Record]:
        """Like :meth:`frames`, as (timestamp_ns, link_type, data, original_length, interface)."""
        while not self._failed:
            if self._format == _UNKNOWN:
                if not self._detect():
                    return
            elif self._format == _PCAP:
                yield from self._pcap_records()
                return
            else:
                yield from self._pcapng_records()
                return

    def close(self) -> list[Damage]:
        """End of file: every damage, including an incomplete record or block left over."""
        left = len(self._buf) - self._pos + self._chunks_len
        if self._fed == 0:
            self._damage.append(Damage(0, "empty capture"))
        elif not self._failed and left:
            what = {_UNKNOWN: "file header", _PCAP: "pcap record", _PCAPNG: "pcapng block"}
            self._damage.append(
                Damage(
                    self._base + self._pos,
                    f"truncated: {left} bytes of an incomplete {what[self._format]} at end of file",
                )
            )
        self._buf, self._pos, self._chunks, self._chunks_len = b"", 0, [], 0
        return list(self._damage)

    # -- buffer ----------------------------------------------------------------------------

    def _refill(self, need: int) -> bool:
        """Make at least ``need`` unread bytes contiguous in self._buf; False if not fed yet."""
        if len(self._buf) - self._pos + self._chunks_len < need:
            return False
        self._base += self._pos
        self._buf = self._buf[self._pos :] + b"".join(self._chunks)
        self._pos = 0
        self._chunks = []
        self._chunks_len = 0
        return True

    def _fail(self, offset: int, reason: str) -> None:
        self._damage.append(Damage(offset, reason))
        self._failed = True
        self._buf, self._pos, self._chunks, self._chunks_len = b"", 0, [], 0

    # -- detection -------------------------------------------------------------------------

    def _detect(self) -> bool:
        if len(self._buf) - self._pos < 4 and not self._refill(4):
            return False
        magic = self._buf[self._pos : self._pos + 4]
        if magic == _SHB_TYPE:
            self._format = _PCAPNG
            return True
        known = _PCAP_MAGICS.get(magic)
        if known is None:
            self._fail(self._base + self._pos, f"not a pcap or pcapng file (magic {magic.hex()})")
            return False
        if len(self._buf) - self._pos < _PCAP_HEADER_LEN and not self._refill(_PCAP_HEADER_LEN):
            return False
        endian, mult = known
        _, major, _minor, _zone, _sigfigs, snaplen, link = _PCAP_HEADER[endian].unpack_from(
            self._buf, self._pos
        )
        if major != 2:
            self._fail(self._base + self._pos, f"unsupported pcap version {major}")
            return False
        self._format = _PCAP
        self._endian = endian
        self._pcap_mult = mult
        # LinkType is the low 16 bits; the high bits carry the FCS length (draft section 4).
        self._link_type = link & 0xFFFF
        self._pcap_limit = min(snaplen, MAX_PCAP_RECORD) if snaplen else MAX_PCAP_RECORD
        self._pos += _PCAP_HEADER_LEN
        return True

    # -- pcap ------------------------------------------------------------------------------

    def _pcap_records(self) -> Iterator[Record]:
        record = _PCAP_RECORD[self._endian]
        mult, limit, link = self._pcap_mult, self._pcap_limit, self._link_type
        while True:
            buf, pos = self._buf, self._pos
            end = len(buf)
            need = _PCAP_RECORD_LEN
            while pos + _PCAP_RECORD_LEN <= end:
                sec, frac, incl, orig = record.unpack_from(buf, pos)
                if incl > limit:
                    self._fail(
                        self._base + pos,
                        f"pcap record of {incl} captured bytes exceeds the limit of {limit}",
                    )
                    return
                start = pos + _PCAP_RECORD_LEN
                stop = start + incl
                if stop > end:
                    need = _PCAP_RECORD_LEN + incl
                    break
                self._pos = pos = stop
                yield (sec * _NS + frac * mult, link, buf[start:stop], orig, 0)
            self._pos = pos
            if not self._refill(need):
                return

    # -- pcapng ----------------------------------------------------------------------------

    def _pcapng_records(self) -> Iterator[Record]:
        while True:
            buf, pos = self._buf, self._pos
            avail = len(buf) - pos
            if avail < 8:
                if not self._refill(8):
                    return
                continue
            offset = self._base + pos
            if buf[pos : pos + 4] == _SHB_TYPE:
                if avail < _MIN_BLOCK:
                    if not self._refill(_MIN_BLOCK):
                        return
                    continue
                (bom,) = _U32["<"].unpack_from(buf, pos + 8)
                if bom == _BYTE_ORDER_MAGIC:
                    self._endian = "<"
                elif bom == 0x4D3C2B1A:
                    self._endian = ">"
                else:
                    self._fail(offset, f"bad pcapng byte-order magic {bom:#010x}")
                    return
            endian = self._endian
            block_type, length = _BLOCK_HEADER[endian].unpack_from(buf, pos)
            if length < _MIN_BLOCK or length % 4 or length > MAX_PCAPNG_BLOCK:
                self._fail(offset, f"bad pcapng block length {length} (type {block_type:#x})")
                return
            if avail < length:
                if not self._refill(length):
                    return
                continue
            (trailer,) = _U32[endian].unpack_from(buf, pos + length - 4)
            if trailer != length:
                self._fail(offset, f"pcapng block length {length} does not match trailer {trailer}")
                return
            self._pos = pos + length
            if block_type == 0x0A0D0D0A:
                if not self._section(buf, pos, length, offset):
                    return
                continue
            try:
                record = self._block(block_type, buf, pos, length)
            except DecodeError as exc:
                self._damage.append(Damage(offset, str(exc)))
                continue
            if record is not None:
                yield record

    def _section(self, buf: bytes, pos: int, length: int, offset: int) -> bool:
        """A Section Header Block (4.1): a new section with its own byte order and interfaces."""
        if length < _MIN_SHB:
            self._fail(offset, f"pcapng section header block of {length} bytes is too short")
            return False
        major, _minor, _section_length = _SHB_BODY[self._endian].unpack_from(buf, pos + 12)
        if major != 1:
            self._fail(offset, f"unsupported pcapng version {major}")
            return False
        self._interfaces = []
        self._last_ts = 0
        return True

    def _block(self, block_type: int, buf: bytes, pos: int, length: int) -> Record | None:
        endian = self._endian
        if block_type == _BT_EPB:  # Enhanced Packet Block (4.3)
            if length < _MIN_EPB:
                raise DecodeError(f"enhanced packet block of {length} bytes is too short")
            iface_id, ts_hi, ts_lo, cap, orig = _EPB_BODY[endian].unpack_from(buf, pos + 8)
            iface = self._interface(iface_id)
            if cap > length - _MIN_EPB:
                raise DecodeError(f"captured length {cap} overruns its {length}-byte block")
            start = pos + 28
            ts = iface.ns((ts_hi << 32) | ts_lo)
            self._last_ts = ts
            return (ts, iface.link_type, buf[start : start + cap], orig, iface.number)
        if block_type == _BT_SPB:  # Simple Packet Block (4.4): interface 0, no timestamp
            if length < _MIN_SPB:
                raise DecodeError(f"simple packet block of {length} bytes is too short")
            iface = self._interface(0)
            (orig,) = _U32[endian].unpack_from(buf, pos + 8)
            cap = min(orig, length - _MIN_SPB)
            if iface.snaplen:
                cap = min(cap, iface.snaplen)
            start = pos + 12
            return (self._last_ts, iface.link_type, buf[start : start + cap], orig, iface.number)
        if block_type == _BT_IDB:  # Interface Description Block (4.2)
            self._add_interface(buf, pos, length)
            return None
        if block_type == _BT_PB:  # obsolete Packet Block
            if length < _MIN_PB:
                raise DecodeError(f"packet block of {length} bytes is too short")
            iface_id, _drops, ts_hi, ts_lo, cap, orig = _PB_BODY[endian].unpack_from(buf, pos + 8)
            iface = self._interface(iface_id)
            if cap > length - _MIN_PB:
                raise DecodeError(f"captured length {cap} overruns its {length}-byte block")
            start = pos + 28
            ts = iface.ns((ts_hi << 32) | ts_lo)
            self._last_ts = ts
            return (ts, iface.link_type, buf[start : start + cap], orig, iface.number)
        return None  # statistics, name resolution, custom, ... blocks are skipped

    def _interface(self, iface_id: int) -> _Interface:
        if iface_id >= len(self._interfaces):
            raise DecodeError(f"packet names interface {iface_id} that was not described")
        iface = self._interfaces[iface_id]
        if iface is None:
            raise DecodeError(f"packet names interface {iface_id} whose description is damaged")
        return iface

    def _add_interface(self, buf: bytes, pos: int, length: int) -> None:
        number = self._next_number
        self._next_number += 1
        if length < _MIN_IDB:
            self._interfaces.append(None)
            raise DecodeError(f"interface description block of {length} bytes is too short")
        endian = self._endian
        link, _reserved, snaplen = _IDB_BODY[endian].unpack_from(buf, pos + 8)
        mul, shift, div = 1000, 0, 1  # default if_tsresol 6: microseconds
        offset_ns = 0
        option = _OPTION[endian]
        at, end = pos + 16, pos + length - 4
        try:
            while at + 4 <= end:  # options (draft-ietf-opsawg-pcapng 3.5)
                code, size = option.unpack_from(buf, at)
                at += 4
                if code == _OPT_ENDOFOPT:
                    break
                if at + size > end:
                    raise DecodeError(f"interface option {code} of {size} bytes overruns its block")
                if code == _OPT_IF_TSRESOL:
                    if size != 1:
                        raise DecodeError(f"if_tsresol option of {size} bytes")
                    mul, shift, div = _resolution(buf[at])
                elif code == _OPT_IF_TSOFFSET:
                    if size != 8:
                        raise DecodeError(f"if_tsoffset option of {size} bytes")
                    offset_ns = _I64[endian].unpack_from(buf, at)[0] * _NS
                at += (size + 3) & ~3
        except DecodeError:
            self._interfaces.append(None)
            raise
        self._interfaces.append(_Interface(link, snaplen, mul, shift, div, offset_ns, number))


def read_capture(chunks: Iterable[bytes]) -> Iterator[Frame | Damage]:
    """Frames of a whole capture given as chunks, with each :class:`Damage` where it is found.

    Never raises on the capture's bytes; stops reading the chunks once the framing is damaged.
    """
    reader = CaptureReader()
    reported = 0
    for chunk in chunks:
        reader.feed(chunk)
        yield from reader.frames()
        damage = reader.damage
        yield from damage[reported:]
        reported = len(damage)
        if reader.failed:
            break
    yield from reader.close()[reported:]
