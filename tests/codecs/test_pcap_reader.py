"""probe.codecs.pcap: real loopback captures in any split, and hostile hand-built files."""

from __future__ import annotations

import itertools
import random
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probe.codecs.packet import decode
from probe.codecs.pcap import MAX_PCAPNG_BLOCK, CaptureReader, Damage, Frame, read_capture

CAPTURES = Path(__file__).resolve().parents[2] / "captures" / "pcap"

# name: (frames, {interface: link type}, first timestamp ns, first packet's 5-tuple,
#        total transport payload bytes) -- checked against `tcpdump -nn --nano -tt -r`.
EXPECTED = {
    "lo_en10mb.pcap": (
        12,
        {0: 1},
        1795957946_643149000,
        ("127.0.0.1", 40322, "127.0.0.1", 18080, 6),
        128 + 191 + 5969,
    ),
    "any_sll2.pcap": (
        13,
        {0: 276},
        1795957948_668374000,
        ("127.0.0.1", 40336, "127.0.0.1", 18080, 6),
        128 + 191 + 5969 + 18,
    ),
    "lo_ipv6_nano.pcap": (
        12,
        {0: 1},
        1795957950_706940934,
        ("::1", 41594, "::1", 18081, 6),
        124 + 191 + 5969,
    ),
    "multi.pcapng": (
        37,
        {0: 1, 1: 276, 2: 1},
        1795957946_643149000,
        ("127.0.0.1", 40322, "127.0.0.1", 18080, 6),
        6288 + 6306 + 6284,
    ),
}


def read_all(data: bytes, sizes: list[int] | None = None) -> tuple[list[Frame], list[Damage]]:
    reader = CaptureReader()
    frames: list[Frame] = []
    if sizes is None:
        sizes = [len(data) or 1]
    at = 0
    for size in itertools.cycle(sizes):
        if at >= len(data):
            break
        reader.feed(data[at : at + size])
        at += size
        frames.extend(reader.frames())
    return frames, reader.close()


def five_tuple(frame: Frame) -> tuple[str, int | None, str, int | None, int]:
    packet = decode(frame)
    assert packet is not None
    return (packet.src, packet.sport, packet.dst, packet.dport, packet.proto)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_capture_in_any_split(name: str) -> None:
    data = (CAPTURES / name).read_bytes()
    count, links, first_ts, first, payload = EXPECTED[name]
    whole, damage = read_all(data)
    assert damage == []
    assert len(whole) == count
    assert {f.interface: f.link_type for f in whole} == links
    assert whole[0].timestamp_ns == first_ts
    assert five_tuple(whole[0]) == first
    assert all(len(f.data) == f.original_length for f in whole)
    total = 0
    for frame in whole:
        packet = decode(frame)
        assert packet is not None
        total += len(packet.payload)
    assert total == payload
    assert read_all(data, [1]) == (whole, [])
    rng = random.Random(name)
    for _ in range(5):
        sizes = [rng.randint(1, 3000) for _ in range(20)]
        assert read_all(data, sizes) == (whole, [])


def test_pcapng_matches_its_source_pcaps() -> None:
    frames, _ = read_all((CAPTURES / "multi.pcapng").read_bytes())
    sources = {
        0: read_all((CAPTURES / "lo_en10mb.pcap").read_bytes())[0],
        1: read_all((CAPTURES / "any_sll2.pcap").read_bytes())[0],
        2: read_all((CAPTURES / "lo_ipv6_nano.pcap").read_bytes())[0],
    }
    for interface, source in sources.items():
        mine = [f for f in frames if f.interface == interface]
        assert [(f.timestamp_ns, f.data, f.original_length) for f in mine] == [
            (f.timestamp_ns, f.data, f.original_length) for f in source
        ]


def test_read_capture_yields_frames_then_damage() -> None:
    data = (CAPTURES / "lo_en10mb.pcap").read_bytes()
    items = list(read_capture([data[:-10]]))
    assert all(isinstance(i, Frame) for i in items[:-1])
    assert len(items) == 12
    assert isinstance(items[-1], Damage)
    assert "truncated" in items[-1].reason


# -- hand-built pcap -----------------------------------------------------------------------------


def pcap(
    records: list[bytes], *, endian: str = "<", nano: bool = False, link: int = 1, snap: int = 65535
) -> bytes:
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snap, link)
    for i, data in enumerate(records):
        out += struct.pack(endian + "IIII", 1000 + i, 5, len(data), len(data) + 3) + data
    return out


def test_pcap_big_endian_and_nanoseconds() -> None:
    frames, damage = read_all(pcap([b"ab", b"cde"], endian=">", nano=True, link=228))
    assert damage == []
    assert frames == [
        Frame(1000 * 10**9 + 5, 228, b"ab", 5, 0),
        Frame(1001 * 10**9 + 5, 228, b"cde", 6, 0),
    ]
    frames, _ = read_all(pcap([b"x"]))
    assert frames[0].timestamp_ns == 1000 * 10**9 + 5000


def test_pcap_link_type_ignores_fcs_bits() -> None:
    frames, _ = read_all(pcap([b"x"], link=0x1400_0001))
    assert frames[0].link_type == 1


def test_truncated_pcap_keeps_earlier_frames() -> None:
    data = pcap([b"a" * 40, b"b" * 40, b"c" * 40])
    for cut in (len(data) - 1, len(data) - 40, len(data) - 50):
        frames, damage = read_all(data[:cut])
        assert [f.data for f in frames] == [b"a" * 40, b"b" * 40]
        assert len(damage) == 1
        assert damage[0].offset == 24 + 2 * 56
        assert "truncated" in damage[0].reason


def test_truncated_header_and_empty_file() -> None:
    assert read_all(pcap([])[:10])[1][0].reason.startswith("truncated")
    assert read_all(b"") == ([], [Damage(0, "empty capture")])


def test_huge_incl_len_stops_without_allocating() -> None:
    good = pcap([b"ok"])
    huge = good + struct.pack("<IIII", 1, 2, 0x8000_0000, 0x8000_0000) + b"zz"
    frames, damage = read_all(huge)
    assert [f.data for f in frames] == [b"ok"]
    assert damage == [Damage(len(good), damage[0].reason)]
    assert "2147483648" in damage[0].reason
    reader = CaptureReader()
    reader.feed(huge)
    list(reader.frames())
    assert reader.failed
    reader.feed(b"\x00" * 1000)  # ignored after the framing broke
    assert list(reader.frames()) == []


def test_incl_len_over_snaplen_is_damage() -> None:
    frames, damage = read_all(pcap([b"a" * 10, b"b" * 100], snap=64))
    assert len(frames) == 1
    assert "exceeds the limit of 64" in damage[0].reason


def test_unknown_magic_and_pcap_version() -> None:
    assert "not a pcap" in read_all(b"GET / HTTP/1.1\r\n")[1][0].reason
    bad = bytearray(pcap([b"x"]))
    bad[4] = 9
    assert "version 9" in read_all(bytes(bad))[1][0].reason


# -- hand-built pcapng (draft-ietf-opsawg-pcapng) -----------------------------------------------


def block(e: str, block_type: int, body: bytes, *, length: int | None = None) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    real = 12 + len(body)
    head = length if length is not None else real
    return struct.pack(e + "II", block_type, head) + body + struct.pack(e + "I", head)


def shb(e: str = "<") -> bytes:
    return block(e, 0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def option(e: str, code: int, value: bytes) -> bytes:
    return struct.pack(e + "HH", code, len(value)) + value + b"\x00" * (-len(value) % 4)


def idb(e: str = "<", link: int = 1, snap: int = 0, options: bytes = b"") -> bytes:
    if options:
        options += struct.pack(e + "HH", 0, 0)
    return block(e, 1, struct.pack(e + "HHI", link, 0, snap) + options)


def epb(e: str, iface: int, ticks: int, data: bytes, orig: int | None = None) -> bytes:
    orig = len(data) if orig is None else orig
    head = struct.pack(e + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(data), orig)
    return block(e, 6, head + data)


def spb(e: str, data: bytes, orig: int | None = None) -> bytes:
    return block(e, 3, struct.pack(e + "I", len(data) if orig is None else orig) + data)


def obsolete_pb(e: str, iface: int, ticks: int, data: bytes) -> bytes:
    head = struct.pack(
        e + "HHIIII", iface, 0, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data)
    )
    return block(e, 2, head + data)


def test_pcapng_sections_interfaces_and_resolutions() -> None:
    tsresol_ns = option("<", 9, b"\x09")
    tsresol_2_10 = option(">", 9, b"\x8a")  # 2^-10 s
    tsoffset = option(">", 14, struct.pack(">q", 100))
    data = b"".join(
        [
            shb("<"),
            idb("<", 1, options=tsresol_ns),
            idb("<", 276),  # default microseconds
            block("<", 5, b"statistics are skipped"),
            epb("<", 0, 1_500_000_000_123, b"eth"),
            epb("<", 1, 7_000_001, b"sll2"),
            spb("<", b"simple"),  # interface 0, previous timestamp
            obsolete_pb("<", 1, 5, b"old"),
            shb(">"),
            idb(">", 101, options=tsresol_2_10 + tsoffset),
            epb(">", 0, 1024 * 3 + 512, b"raw"),
        ]
    )
    expected = [
        Frame(1_500_000_000_123, 1, b"eth", 3, 0),
        Frame(7_000_001_000, 276, b"sll2", 4, 1),
        Frame(7_000_001_000, 1, b"simple", 6, 0),
        Frame(5_000, 276, b"old", 3, 1),
        Frame(3_500_000_000 + 100 * 10**9, 101, b"raw", 3, 2),
    ]
    assert read_all(data) == (expected, [])
    assert read_all(data, [1]) == (expected, [])
    assert read_all(data, [3, 7, 11]) == (expected, [])


def test_spb_capped_by_snaplen() -> None:
    data = shb() + idb(snap=4) + spb("<", b"abcdefgh", orig=100)
    frames, damage = read_all(data)
    assert damage == []
    assert frames[0].data == b"abcd"
    assert frames[0].original_length == 100


def test_pcapng_block_damage_is_skipped() -> None:
    data = b"".join(
        [
            shb(),
            idb(),
            epb("<", 3, 1, b"unknown interface"),
            block("<", 6, struct.pack("<IIIII", 0, 0, 0, 999, 999) + b"x" * 8),  # cap overrun
            block("<", 1, b"\x01\x00\x00\x00\x00\x00\x00\x00" + option("<", 9, b"\x01\x02")),
            epb("<", 1, 1, b"damaged interface"),
            epb("<", 0, 1, b"fine"),
        ]
    )
    frames, damage = read_all(data)
    assert [f.data for f in frames] == [b"fine"]
    reasons = [d.reason for d in damage]
    assert len(reasons) == 4
    assert "interface 3" in reasons[0]
    assert "overruns" in reasons[1]
    assert "if_tsresol" in reasons[2]
    assert "damaged" in reasons[3]
    assert read_all(data, [1]) == (frames, damage)


@pytest.mark.parametrize(
    ("length", "why"),
    [(13, "bad pcapng block length 13"), (8, "length 8"), (MAX_PCAPNG_BLOCK + 4, "block length")],
)
def test_pcapng_bad_block_length_stops(length: int, why: str) -> None:
    good = shb() + idb() + epb("<", 0, 1, b"kept")
    data = good + block("<", 6, b"\x00" * 20, length=length) + epb("<", 0, 1, b"lost")
    frames, damage = read_all(data)
    assert [f.data for f in frames] == [b"kept"]
    assert len(damage) == 1
    assert damage[0].offset == len(good)
    assert why in damage[0].reason


def test_pcapng_trailer_mismatch_and_bad_byte_order() -> None:
    broken = bytearray(shb() + idb() + epb("<", 0, 1, b"data"))
    broken[-1] = 0x7F
    frames, damage = read_all(bytes(broken))
    assert frames == []
    assert "trailer" in damage[0].reason
    bad_bom = bytearray(shb())
    bad_bom[8:12] = b"\x00\x00\x00\x00"
    assert "byte-order" in read_all(bytes(bad_bom))[1][0].reason


def test_truncated_pcapng() -> None:
    data = shb() + idb() + epb("<", 0, 1, b"one") + epb("<", 0, 2, b"two")
    frames, damage = read_all(data[:-5])
    assert [f.data for f in frames] == [b"one"]
    assert "truncated" in damage[0].reason


def test_unknown_link_type_is_yielded() -> None:
    frames, damage = read_all(pcap([b"\x01\x02\x03"], link=147))  # LINKTYPE_USER0
    assert damage == []
    assert frames[0].link_type == 147
    assert decode(frames[0]) is None


# -- hostile bytes -------------------------------------------------------------------------------

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SEEDS = [
    pcap([b"abc", b"defg"]),
    shb() + idb(options=option("<", 9, b"\x09")) + epb("<", 0, 5, b"xyz") + spb("<", b"q"),
]


def run_reader(data: bytes, cuts: list[int]) -> tuple[list[Frame], list[Damage]]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    reader = CaptureReader()
    frames: list[Frame] = []
    for a, b in itertools.pairwise([0, *points, len(data)]):
        reader.feed(data[a:b])
        frames.extend(reader.frames())
    return frames, reader.close()


@FUZZ
@given(st.binary(max_size=400), st.lists(st.integers(min_value=0), max_size=8))
def test_reader_never_raises_on_random_bytes(data: bytes, cuts: list[int]) -> None:
    assert run_reader(data, cuts) == run_reader(data, [])


@FUZZ
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=6),
    st.integers(min_value=0),
    st.lists(st.integers(min_value=0), max_size=8),
)
def test_reader_on_mutated_captures(
    seed: bytes, flips: list[tuple[int, int]], cut: int, cuts: list[int]
) -> None:
    data = bytearray(seed)
    for at, value in flips:
        data[at % len(data)] = value
    mutated = bytes(data[: cut % (len(data) + 1)])
    frames, damage = run_reader(mutated, cuts)
    assert (frames, damage) == run_reader(mutated, [])
    for frame in frames:
        assert len(frame.data) <= len(mutated)
