from __future__ import annotations

import pytest

from probe.codecs.buffer import Reader, Writer
from probe.codecs.errors import DecodeError


def test_reads_big_endian_integers_and_tracks_position() -> None:
    r = Reader(bytes.fromhex("01 0203 040506 0708090a ff"))
    assert (r.u8(), r.u16(), r.u24(), r.u32()) == (1, 0x0203, 0x040506, 0x0708090A)
    assert r.offset == 10
    assert r.remaining == 1
    assert not r.eof
    assert r.bytes(1) == b"\xff"
    assert r.eof


def test_vector_and_sub_reader_are_limited_to_their_length() -> None:
    r = Reader(b"\x00\x03abc\x02xyz")
    assert r.vector(2) == b"abc"
    sub = r.sub(1)
    assert sub.bytes(2) == b"xy"
    assert sub.eof
    assert r.rest() == b"z"


@pytest.mark.parametrize(
    "data, read",
    [
        (b"", lambda r: r.u8()),
        (b"\x01", lambda r: r.u16()),
        (b"\x00\x00", lambda r: r.u24()),
        (b"\x05abc", lambda r: r.vector(1)),
        (b"\xff\xff\xff", lambda r: r.vector(3)),
        (b"\x00", lambda r: r.vector(1, min_len=1)),
        (b"ab", lambda r: r.bytes(3)),
        (b"ab", lambda r: r.bytes(-1)),
    ],
)
def test_short_input_raises_decode_error(data: bytes, read: object) -> None:
    with pytest.raises(DecodeError):
        read(Reader(data))  # type: ignore[operator]


def test_expect_eof_reports_trailing_bytes() -> None:
    r = Reader(b"\x01\x02")
    r.u8()
    with pytest.raises(DecodeError, match="1 unexpected bytes after thing"):
        r.expect_eof("thing")


def test_writer_round_trips_through_reader() -> None:
    w = Writer()
    w.u8(1)
    w.u16(0x0203)
    w.u24(0x040506)
    w.u32(0x0708090A)
    w.vector(2, b"hello")
    w.bytes(b"!")
    r = Reader(w.getvalue())
    assert (r.u8(), r.u16(), r.u24(), r.u32(), r.vector(2), r.rest()) == (
        1,
        0x0203,
        0x040506,
        0x0708090A,
        b"hello",
        b"!",
    )
    assert len(w) == 1 + 2 + 3 + 4 + 2 + 5 + 1


def test_writer_refuses_values_that_do_not_fit() -> None:
    w = Writer()
    with pytest.raises(ValueError):
        w.u8(256)
    with pytest.raises(ValueError):
        w.vector(1, bytes(256))
    with pytest.raises(ValueError):
        w.u16(-1)
