"""Hypothesis: hostile bytes may only ever raise DecodeError from the IKE parsers."""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable

from fuzz_helpers import mutated
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ike_samples import SAMPLES

from probe.codecs.errors import DecodeError
from probe.codecs.ike import NON_ESP_MARKER, ike_major_version, parse_ikev1, parse_ikev2

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PARSERS: tuple[Callable[..., object], ...] = (parse_ikev2, parse_ikev1, ike_major_version)
# The NAT-T sample without its marker, so every sample is a bare IKE message.
BARE = {name: data[4:] if data[:4] == NON_ESP_MARKER else data for name, data in SAMPLES.items()}


def fix_length(data: bytes) -> bytes:
    """Patch the header length to the datagram size, so mutations reach the payloads."""
    if len(data) < 28:
        return data
    return data[:24] + struct.pack("!I", len(data)) + data[28:]


@st.composite
def payload_chains(draw: st.DrawFn) -> bytes:
    """A valid-looking header (either version) followed by random generic payloads."""
    version = draw(st.sampled_from([0x10, 0x20]))
    types = [1, 2, 3, 4, 5, 8, 10, 11, 13] if version == 0x10 else [33, 34, 38, 40, 41, 43, 46]
    chosen = draw(st.lists(st.sampled_from([*types, 0, 99]), min_size=1, max_size=6))
    body = b""
    for index, _ in enumerate(chosen):
        following = chosen[index + 1] if index + 1 < len(chosen) else 0
        content = draw(st.binary(max_size=64))
        length = draw(st.one_of(st.just(4 + len(content)), st.integers(0, 0xFFFF)))
        body += struct.pack("!BBH", following, draw(st.sampled_from([0, 0x80])), length)
        body += content
    flags = draw(st.integers(0, 255))
    header = bytes(8) + bytes(8) + struct.pack("!BBBBI", chosen[0], version, 34, flags, 0)
    return header + struct.pack("!I", 28 + len(body)) + body


hostile = st.one_of(
    st.binary(max_size=2048),
    mutated(BARE),
    mutated(BARE).map(fix_length),
    payload_chains(),
)


def only_decode_errors(data: bytes) -> None:
    for parser in PARSERS:
        for nat_t in (False, True):
            candidate = NON_ESP_MARKER + data if nat_t else data
            with contextlib.suppress(DecodeError):
                parser(candidate, nat_t=nat_t)
        with contextlib.suppress(DecodeError):
            parser(data, nat_t=True)


@FUZZ
@given(data=hostile)
def test_parsers_raise_only_decode_error(data: bytes) -> None:
    only_decode_errors(data)


@FUZZ
@given(data=st.binary(min_size=28, max_size=600).map(fix_length))
def test_random_bodies_behind_a_consistent_length(data: bytes) -> None:
    only_decode_errors(data)
