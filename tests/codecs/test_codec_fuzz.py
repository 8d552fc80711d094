"""Hypothesis: hostile bytes in any split may only ever raise DecodeError."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

from fuzz_helpers import mutated
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tls_helpers import CAPTURES

from probe.codecs.buffer import Reader
from probe.codecs.errors import DecodeError
from probe.codecs.tls.constants import HELLO_RETRY_REQUEST_RANDOM
from probe.codecs.tls.flight import (
    ServerFlightReader,
    Ssl2ServerHelloReader,
    server_hello_features,
)

SERVER_CAPTURES = {
    p.name: p.read_bytes() for p in sorted(CAPTURES.glob("*.bin")) if "client_hello" not in p.name
}
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def feed_chunks(
    make: Callable[[], ServerFlightReader | Ssl2ServerHelloReader], chunks: list[bytes]
) -> object:
    reader = make()
    try:
        for chunk in chunks:
            reader.feed(chunk)
    except DecodeError as exc:
        return type(exc)
    return (reader.done, reader.result())


def _flight_reader(want: bool) -> Callable[[], ServerFlightReader]:
    return lambda: ServerFlightReader(want_certificate=want, want_key_exchange=want)


def _hrr(group: int, session_id: bytes, extra: list[tuple[int, bytes]]) -> bytes:
    """A HelloRetryRequest record (RFC 8446 4.1.4) naming ``group``, with extra extensions."""
    extensions = [(43, b"\x03\x04"), *extra, (51, group.to_bytes(2, "big"))]
    block = b"".join(t.to_bytes(2, "big") + len(d).to_bytes(2, "big") + d for t, d in extensions)
    body = (
        b"\x03\x03" + HELLO_RETRY_REQUEST_RANDOM + bytes([len(session_id)]) + session_id
        + b"\x13\x01\x00" + len(block).to_bytes(2, "big") + block
    )  # fmt: skip
    message = b"\x02" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x03" + len(message).to_bytes(2, "big") + message


hello_retry_requests = st.builds(
    _hrr,
    st.one_of(
        st.sampled_from([0x11EC, 0x11EB, 0x11ED, 0x6399, 29, 23, 0x0100]), st.integers(0, 0xFFFF)
    ),
    st.binary(max_size=32),
    st.lists(st.tuples(st.sampled_from([44, 0x1234, 0xFF01]), st.binary(max_size=40)), max_size=3),
)
HRR_SAMPLES = {f"hrr_{g:04x}": _hrr(g, bytes(32), [(44, b"\x00\x02ck")]) for g in (0x11EC, 0x6399)}


def _feature_flight(extensions: list[tuple[int, bytes]], status: bytes) -> bytes:
    """A TLS 1.2 ServerHello (DEFLATE, a session ID) echoing feature extensions, then a
    CertificateStatus (RFC 6066 8) and ServerHelloDone, in one record."""
    block = b"".join(t.to_bytes(2, "big") + len(d).to_bytes(2, "big") + d for t, d in extensions)
    body = (
        b"\x03\x03" + bytes(32) + b"\x20" + bytes(range(32)) + b"\xc0\x2f\x01"
        + len(block).to_bytes(2, "big") + block
    )  # fmt: skip
    messages = b"\x02" + len(body).to_bytes(3, "big") + body
    messages += b"\x16" + len(status).to_bytes(3, "big") + status + b"\x0e\x00\x00\x00"
    return b"\x16\x03\x03" + len(messages).to_bytes(2, "big") + messages


FEATURE_SAMPLES = {
    "features_all": _feature_flight(
        [(0xFF01, b"\x00"), (23, b""), (22, b""), (35, b""), (5, b""), (16, b"\x00\x03\x02h2")],
        b"\x01\x00\x00\x03der",
    ),
    "features_none": _feature_flight([], b"\x01\x00\x00\x01x"),
}

hostile = st.one_of(
    st.binary(max_size=2048),
    mutated(SERVER_CAPTURES),
    mutated(HRR_SAMPLES),
    mutated(FEATURE_SAMPLES),
    hello_retry_requests,
    st.builds(
        lambda head, tail: head + tail,
        st.sampled_from([b"\x16\x03\x03", b"\x15\x03\x01", b"\x80"]),
        st.binary(max_size=512),
    ),
)


@FUZZ
@given(data=hostile, cuts=st.lists(st.integers(0, 4096), max_size=12), want=st.booleans())
def test_server_flight_reader_raises_only_decode_error(
    data: bytes, cuts: list[int], want: bool
) -> None:
    whole = feed_chunks(_flight_reader(want), [data])
    pieces = feed_chunks(_flight_reader(want), split(data, cuts))
    # Splitting never changes the outcome: same result, or the same kind of error.
    assert whole == pieces


@FUZZ
@given(data=hello_retry_requests, cuts=st.lists(st.integers(0, 4096), max_size=12))
def test_any_hello_retry_request_names_its_group_in_any_split(data: bytes, cuts: list[int]) -> None:
    whole = feed_chunks(_flight_reader(True), [data])
    assert whole == feed_chunks(_flight_reader(True), split(data, cuts))
    assert isinstance(whole, tuple), whole  # well-formed: never an error
    done, flight = whole
    assert done and flight.hello_retry_request
    assert flight.server_hello.selected_group == int.from_bytes(data[-2:], "big")


@FUZZ
@given(data=st.one_of(mutated(FEATURE_SAMPLES), hostile))
def test_server_hello_features_raise_only_decode_error(data: bytes) -> None:
    reader = ServerFlightReader(want_certificate=True)
    try:
        reader.feed(data)
        features = server_hello_features(reader.result())
    except DecodeError:
        return
    assert 0 <= features.session_id_length <= 255
    assert features.alpn is None or 1 <= len(features.alpn) <= 255


def test_feature_samples_are_well_formed() -> None:
    for name, data in FEATURE_SAMPLES.items():
        reader = ServerFlightReader(want_certificate=True)
        reader.feed(data)
        assert reader.done, name
        server_hello_features(reader.result())


@FUZZ
@given(data=hostile, cuts=st.lists(st.integers(0, 4096), max_size=12))
def test_ssl2_reader_raises_only_decode_error(data: bytes, cuts: list[int]) -> None:
    whole = feed_chunks(Ssl2ServerHelloReader, [data])
    pieces = feed_chunks(Ssl2ServerHelloReader, split(data, cuts))
    assert whole == pieces


@FUZZ
@given(
    name=st.sampled_from(sorted(SERVER_CAPTURES)), cuts=st.lists(st.integers(0, 4096), max_size=30)
)
def test_any_split_of_a_recording_gives_the_same_flight(name: str, cuts: list[int]) -> None:
    data = SERVER_CAPTURES[name]
    make = Ssl2ServerHelloReader if "sslv2" in name else _flight_reader(True)
    assert feed_chunks(make, [data]) == feed_chunks(make, split(data, cuts))


_OPS = st.lists(
    st.tuples(
        st.sampled_from(["u8", "u16", "u24", "u32", "bytes", "vector", "sub"]), st.integers(-2, 300)
    ),
    max_size=20,
)


@FUZZ
@given(data=st.binary(max_size=512), ops=_OPS)
def test_reader_raises_only_decode_error(data: bytes, ops: list[tuple[str, int]]) -> None:
    r = Reader(data)
    try:
        for op, arg in ops:
            if op == "bytes":
                r.bytes(arg)
            elif op in ("vector", "sub"):
                width = arg % 3 + 1
                if op == "sub":
                    r = r.sub(width)
                else:
                    r.vector(width)
            else:
                getattr(r, op)()
            assert 0 <= r.remaining <= len(data)
    except DecodeError:
        pass


def test_captures_exist() -> None:
    assert Path(CAPTURES / "record.py").exists()
    assert len(SERVER_CAPTURES) >= 10
