"""Hypothesis: hostile bytes in any split may only ever raise DecodeError from the SMB codec."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from pathlib import Path

from fuzz_helpers import mutated
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probe.codecs.errors import DecodeError
from probe.codecs.smb2 import (
    NbssReader,
    parse_negotiate_response,
    parse_session_setup_response,
    parse_smb1_negotiate_response,
    parse_smb2_header,
)

CAPTURES = {
    p.name: p.read_bytes()
    for p in sorted((Path(__file__).resolve().parents[2] / "captures" / "smb").glob("*.bin"))
}
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PARSERS: tuple[Callable[[bytes], object], ...] = (
    parse_smb2_header,
    parse_negotiate_response,
    parse_session_setup_response,
    parse_smb1_negotiate_response,
)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def read(chunks: list[bytes]) -> object:
    reader = NbssReader()
    try:
        for chunk in chunks:
            reader.feed(chunk)
    except DecodeError as exc:
        return type(exc)
    return (reader.done, reader.message(), reader.session_response, reader.negative_code)


hostile = st.one_of(
    st.binary(max_size=1024),
    mutated(CAPTURES),
    st.builds(
        lambda head, tail: head + tail,
        st.sampled_from(
            [b"\x00\x00\x00\x40\xfeSMB", b"\x00\x00\x01\x00\xffSMB", b"\x85\x00\x00\x00", b"\x00"]
        ),
        st.binary(max_size=512),
    ),
)


@FUZZ
@given(data=hostile, cuts=st.lists(st.integers(0, 4096), max_size=12))
def test_nbss_reader_raises_only_decode_error(data: bytes, cuts: list[int]) -> None:
    # Splitting never changes the outcome: same result, or the same kind of error.
    assert read([data]) == read(split(data, cuts))


@FUZZ
@given(data=hostile)
def test_parsers_raise_only_decode_error(data: bytes) -> None:
    reader = NbssReader()
    with contextlib.suppress(DecodeError):
        reader.feed(data)
    candidates = [data, data[4:]]
    message = reader.message()
    if message is not None:
        candidates.append(message)
    for candidate in candidates:
        for parse in PARSERS:
            with contextlib.suppress(DecodeError):
                parse(candidate)


@FUZZ
@given(name=st.sampled_from(sorted(CAPTURES)), cuts=st.lists(st.integers(0, 4096), max_size=30))
def test_any_split_of_a_recording_gives_the_same_message(name: str, cuts: list[int]) -> None:
    data = CAPTURES[name]
    assert read([data]) == read(split(data, cuts))


@FUZZ
@given(length=st.integers(MAX := 1024 * 1024 + 1, 0xFFFFFF), tail=st.binary(max_size=64))
def test_oversized_length_fails_after_the_header(length: int, tail: bytes) -> None:
    reader = NbssReader()
    reader.feed(b"\x00" + length.to_bytes(3, "big")[:2])
    try:
        reader.feed(length.to_bytes(3, "big")[2:])
    except DecodeError:
        return
    raise AssertionError(f"length {length} (over {MAX}) was accepted")
