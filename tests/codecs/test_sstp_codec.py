"""probe.codecs.sstp: builders byte for byte, the recorded sstpd answers and the Windows
answers built from [MS-SSTP] (captures/sstp, see its README) fed whole and byte by byte, HTTP
head edge cases, LCP options, and hypothesis fuzzing where only DecodeError may escape."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fuzz_helpers import mutated
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probe.codecs.errors import DecodeError
from probe.codecs.sstp import (
    ATTRIB_CRYPTO_BINDING_REQ,
    ATTRIB_ENCAPSULATED_PROTOCOL_ID,
    ATTRIB_STATUS_INFO,
    MAX_HTTP_HEAD,
    MAX_SSTP_PACKET,
    MESSAGE_NAMES,
    MSG_CALL_ABORT,
    MSG_CALL_CONNECT_ACK,
    MSG_CALL_CONNECT_NAK,
    MSG_CALL_CONNECT_REQUEST,
    MSG_CALL_DISCONNECT,
    MSG_CALL_DISCONNECT_ACK,
    MSG_ECHO_REQUEST,
    MSG_ECHO_RESPONSE,
    SSTP_URI,
    CallConnectAck,
    HttpAnswer,
    SstpAttribute,
    SstpPacket,
    SstpReader,
    StatusInfo,
    build_call_connect_request,
    build_call_disconnect,
    build_control_packet,
    build_data_packet,
    build_duplex_post,
    build_echo_response,
    is_sstp_accept,
    parse_call_connect_ack,
    parse_http_head,
    parse_packet,
    parse_ppp_lcp,
    parse_status_info,
)

CAPTURES = Path(__file__).resolve().parents[2] / "captures" / "sstp"
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ULONGLONG_MAX = "18446744073709551615"
GUID = "5C1D4A2E-1111-4222-8333-944455556666"


def load_samples(path: Path) -> dict[str, bytes]:
    samples: dict[str, bytes] = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, hexdata = line.split()
        assert name not in samples, name
        samples[name] = bytes.fromhex(hexdata)
    return samples


SSTPD = load_samples(CAPTURES / "sstpd.txt")
WINDOWS = load_samples(CAPTURES / "windows_spec.txt")
ALL = {**SSTPD, **WINDOWS}
HEADS = {n: b for n, b in ALL.items() if n.endswith("http_200")}
STREAMS = {n: b for n, b in ALL.items() if not n.endswith("http_200")}


def lcp_frame(options: bytes, *, code: int = 1, identifier: int = 7, acfc: bool = True) -> bytes:
    """A PPP frame with an LCP packet (RFC 1661 5), built independently of the codec."""
    packet = bytes((code, identifier)) + (4 + len(options)).to_bytes(2, "big") + options
    return (b"\xff\x03" if acfc else b"") + b"\xc0\x21" + packet


def read(chunks: list[bytes]) -> tuple[list[SstpPacket], type[Exception] | None]:
    """Every packet an SstpReader yields for ``chunks``, and the error that stopped it."""
    reader = SstpReader()
    packets: list[SstpPacket] = []
    try:
        for chunk in [*chunks, b""]:
            packets += reader.feed(chunk)
    except DecodeError as exc:
        return packets, type(exc)
    return packets, None


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


# --- builders ------------------------------------------------------------------------------


def test_call_connect_request_is_the_14_spec_bytes() -> None:
    wire = bytes.fromhex("10 01 00 0E 00 01 00 01 00 01 00 06 00 01")
    assert build_call_connect_request() == wire == WINDOWS["spec_call_connect_request"]
    assert build_call_connect_request(2)[-2:] == b"\x00\x02"
    for bad in (-1, 0x10000):
        with pytest.raises(ValueError):
            build_call_connect_request(bad)


def test_call_disconnect_has_one_no_error_status_info() -> None:
    wire = build_call_disconnect()
    assert wire == bytes.fromhex("10 01 00 14 00 06 00 01 00 02 00 0C 00 00 00 00 00 00 00 00")
    packet = parse_packet(wire)
    assert packet.message_type == MSG_CALL_DISCONNECT
    assert parse_status_info(packet) == (StatusInfo(0, 0, b""),)


def test_echo_response() -> None:
    assert build_echo_response() == bytes.fromhex("10 01 00 08 00 09 00 00")
    assert parse_packet(build_echo_response()).message_name == "ECHO_RESPONSE"


def test_duplex_post_bytes() -> None:
    assert build_duplex_post("vpn.example.com", GUID) == (
        b"SSTP_DUPLEX_POST /sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/ HTTP/1.1\r\n"
        b"Host: vpn.example.com\r\n"
        b"Content-Length: 18446744073709551615\r\n"
        b"SSTPCORRELATIONID: {5C1D4A2E-1111-4222-8333-944455556666}\r\n"
        b"\r\n"
    )
    assert SSTP_URI == "/sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/"
    # braces optional on input, always sent; letter case kept
    assert build_duplex_post("h", "{" + GUID + "}") == build_duplex_post("h", GUID)
    assert b"{5c1d4a2e-" in build_duplex_post("h", GUID.lower())
    for host in ("[::1]:443", "192.0.2.1", "xn--bcher-kva.example:8443"):
        assert f"Host: {host}\r\n".encode() in build_duplex_post(host, GUID)


@pytest.mark.parametrize(
    "host",
    ["", "a b", "evil\r\nX-Injected: 1", "host\n", "h\x00", "bücher.example", "a/b", "a\tb"],
)
def test_duplex_post_refuses_bad_hosts(host: str) -> None:
    with pytest.raises(ValueError):
        build_duplex_post(host, GUID)


@pytest.mark.parametrize(
    "guid",
    [
        "",
        "not-a-guid",
        "{" + GUID,
        GUID + "}",
        GUID[:-1],
        GUID + "0",
        GUID.replace("-", ""),
        "{" + GUID + "}\r\nX: y",
        GUID.replace("5", "g"),
    ],
)
def test_duplex_post_refuses_bad_guids(guid: str) -> None:
    with pytest.raises(ValueError):
        build_duplex_post("h", guid)


def test_packet_builders_round_trip_and_refuse_oversize() -> None:
    frame = lcp_frame(b"\x03\x04\xc0\x23")
    data = build_data_packet(frame)
    assert parse_packet(data) == SstpPacket(0x10, False, len(frame) + 4, None, (), frame)
    control = build_control_packet(MSG_CALL_ABORT, [(ATTRIB_STATUS_INFO, bytes(8)), (9, b"x")])
    packet = parse_packet(control)
    assert packet.attributes == (SstpAttribute(2, bytes(8)), SstpAttribute(9, b"x"))
    assert [a.name for a in packet.attributes] == ["STATUS_INFO", "0x09"]
    assert parse_packet(build_data_packet(bytes(MAX_SSTP_PACKET - 4))).length == MAX_SSTP_PACKET
    with pytest.raises(ValueError):
        build_data_packet(bytes(MAX_SSTP_PACKET - 3))
    with pytest.raises(ValueError):
        build_data_packet(b"")
    with pytest.raises(ValueError):
        build_control_packet(MSG_CALL_ABORT, [(2, bytes(4092))])
    with pytest.raises(ValueError):
        build_control_packet(MSG_CALL_ABORT, [(2, bytes(4084))])  # packet over 4095


def test_message_names() -> None:
    assert MESSAGE_NAMES == {
        1: "CALL_CONNECT_REQUEST",
        2: "CALL_CONNECT_ACK",
        3: "CALL_CONNECT_NAK",
        4: "CALL_CONNECTED",
        5: "CALL_ABORT",
        6: "CALL_DISCONNECT",
        7: "CALL_DISCONNECT_ACK",
        8: "ECHO_REQUEST",
        9: "ECHO_RESPONSE",
    }
    assert parse_packet(build_control_packet(0x00AB, [])).message_name == "0x00ab"


# --- the captures --------------------------------------------------------------------------

SSTPD_HEAD = HttpAnswer(
    status=200,
    reason="OK",
    headers=(("Content-Length", ULONGLONG_MAX), ("Server", "SSTP-Server/0.6.0")),
    server="SSTP-Server/0.6.0",
    content_length=ULONGLONG_MAX,
    version="HTTP/1.1",
)
WINDOWS_HEAD = HttpAnswer(
    status=200,
    reason="OK",
    headers=(
        ("Content-Length", ULONGLONG_MAX),
        ("Server", "Microsoft-HTTPAPI/2.0"),
        ("Date", "Thu, 09 Nov 2006 00:51:09 GMT"),
    ),
    server="Microsoft-HTTPAPI/2.0",
    content_length=ULONGLONG_MAX,
    version="HTTP/1.1",
)
EXPECTED_HEADS = {
    "tls_mschapv2_http_200": SSTPD_HEAD,
    "tls_pap_http_200": SSTPD_HEAD,
    "plain_mschapv2_http_200": SSTPD_HEAD,
    "windows_http_200": WINDOWS_HEAD,
}
# Per stream sample: the message names it frames into, and what they must yield.
ACK_BOTH = ("ack", ("SHA1", "SHA256"), 0x03)
EXPECTED_STREAMS: dict[str, list[tuple[str, tuple[Any, ...]]]] = {
    "tls_mschapv2_call_connect_ack": [("CALL_CONNECT_ACK", ACK_BOTH)],
    "tls_pap_call_connect_ack": [("CALL_CONNECT_ACK", ACK_BOTH)],
    "tls_mschapv2_lcp": [("DATA", ("lcp", "MS-CHAPv2"))],
    "tls_pap_lcp": [("DATA", ("lcp", "PAP"))],
    "tls_mschapv2_call_disconnect_ack": [("CALL_DISCONNECT_ACK", ())],
    "tls_pap_call_disconnect_ack": [("CALL_DISCONNECT_ACK", ())],
    "tls_mschapv2_stream": [
        ("CALL_CONNECT_ACK", ACK_BOTH),
        ("DATA", ("lcp", "MS-CHAPv2")),
        ("CALL_DISCONNECT_ACK", ()),
    ],
    "tls_pap_stream": [
        ("CALL_CONNECT_ACK", ACK_BOTH),
        ("DATA", ("lcp", "PAP")),
        ("CALL_DISCONNECT_ACK", ()),
    ],
    "plain_mschapv2_stream": [
        ("CALL_CONNECT_ACK", ACK_BOTH),
        ("DATA", ("lcp", "MS-CHAPv2")),
        ("CALL_DISCONNECT_ACK", ()),
    ],
    "windows_call_connect_ack_sha256": [("CALL_CONNECT_ACK", ("ack", ("SHA256",), 0x02))],
    "windows_call_connect_nak": [("CALL_CONNECT_NAK", (StatusInfo(1, 4, b"\x00\x02"),))],
    "spec_call_abort": [("CALL_ABORT", (StatusInfo(0, 7, b""),))],
    "spec_echo_request": [("ECHO_REQUEST", ())],
    "spec_call_connect_request": [("CALL_CONNECT_REQUEST", ())],
}


def test_every_capture_has_an_expectation() -> None:
    assert set(EXPECTED_HEADS) == set(HEADS)
    assert set(EXPECTED_STREAMS) == set(STREAMS)
    assert len(ALL) == len(SSTPD) + len(WINDOWS)


@pytest.mark.parametrize("name", sorted(HEADS))
def test_recorded_heads(name: str) -> None:
    data = HEADS[name]
    assert parse_http_head(data) == (EXPECTED_HEADS[name], len(data))
    assert is_sstp_accept(EXPECTED_HEADS[name])
    # SSTP bytes in the same read are left to the caller
    assert parse_http_head(data + SSTPD["tls_pap_stream"]) == (EXPECTED_HEADS[name], len(data))
    # every proper prefix is "not yet"
    for end in range(len(data)):
        assert parse_http_head(data[:end]) is None, end


def check_stream(name: str, packets: list[SstpPacket]) -> None:
    expected = EXPECTED_STREAMS[name]
    assert [p.message_name for p in packets] == [message for message, _ in expected]
    for packet, (_, what) in zip(packets, expected, strict=True):
        assert packet.version == 0x10
        if what and what[0] == "ack":
            ack = parse_call_connect_ack(packet)
            assert (ack.hash_protocols, ack.bitmask) == what[1:]
            assert len(ack.nonce) == 32 and packet.length == 48
        elif what and what[0] == "lcp":
            lcp = parse_ppp_lcp(packet.data)
            assert lcp is not None and lcp.auth_protocol == what[1]
        elif packet.control:
            assert parse_status_info(packet) == what


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_recorded_streams_whole_and_byte_by_byte(name: str) -> None:
    data = STREAMS[name]
    whole, error = read([data])
    assert error is None
    check_stream(name, whole)
    assert read([data[i : i + 1] for i in range(len(data))]) == (whole, None)
    assert sum(p.length for p in whole) == len(data)
    if len(whole) == 1:
        assert parse_packet(data) == whole[0]


def test_windows_ack_details() -> None:
    ack = parse_call_connect_ack(parse_packet(WINDOWS["windows_call_connect_ack_sha256"]))
    assert ack == CallConnectAck(hash_protocols=("SHA256",), bitmask=0x02, nonce=bytes(range(32)))


def test_windows_nak_details() -> None:
    packet = parse_packet(WINDOWS["windows_call_connect_nak"])
    assert packet.message_type == MSG_CALL_CONNECT_NAK
    (info,) = parse_status_info(packet)
    assert info.attrib_id == ATTRIB_ENCAPSULATED_PROTOCOL_ID
    assert info.status_name == "ATTRIB_STATUS_VALUE_NOT_SUPPORTED"
    with pytest.raises(DecodeError, match="CALL_CONNECT_NAK"):
        parse_call_connect_ack(packet)


# --- HTTP head edge cases ------------------------------------------------------------------


def head(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def test_head_missing_end_waits_then_fails_at_the_cap() -> None:
    start = b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n"
    assert parse_http_head(start) is None
    padded = start + b"X: " + b"a" * (MAX_HTTP_HEAD - len(start) - 4)
    assert len(padded) == MAX_HTTP_HEAD - 1
    assert parse_http_head(padded) is None
    with pytest.raises(DecodeError, match="8192"):
        parse_http_head(padded + b"a")
    with pytest.raises(DecodeError):
        parse_http_head(padded + b"a\r\n\r\n")  # the end comes past the cap


def test_head_exactly_at_the_cap() -> None:
    start = "HTTP/1.1 200 OK\r\nX: "
    data = (start + "a" * (MAX_HTTP_HEAD - len(start) - 4) + "\r\n\r\n").encode()
    assert len(data) == MAX_HTTP_HEAD
    parsed = parse_http_head(data)
    assert parsed is not None and parsed[1] == MAX_HTTP_HEAD
    longer = data.replace(b"X: ", b"X: a")
    with pytest.raises(DecodeError):
        parse_http_head(longer)


@pytest.mark.parametrize(
    "data", [b"S", b"SSH-2.0-OpenSSH_9.2\r\n", b"\x16\x03\x01\x00", b"<html>", b"http/1.1 200"]
)
def test_head_not_http_fails_at_once(data: bytes) -> None:
    with pytest.raises(DecodeError, match="not an HTTP response"):
        parse_http_head(data)


@pytest.mark.parametrize(
    "status_line",
    [
        "HTTP/1.1 2000 OK",
        "HTTP/1.1 20 OK",
        "HTTP/1.1  200 OK",
        "HTTP/1.1 OK 200",
        "HTTP/x.y 200 OK",
        "HTTP/11 200 OK",
        "HTTP/1.1",
        "HTTP/1.1 200 O\x01K",
        "HTTP/1.1 200 OK\rX",
    ],
)
def test_head_bad_status_line(status_line: str) -> None:
    with pytest.raises(DecodeError):
        parse_http_head(head(status_line, "Content-Length: 0"))


def test_head_status_line_without_reason() -> None:
    parsed = parse_http_head(head("HTTP/1.1 200", f"Content-Length: {ULONGLONG_MAX}"))
    assert parsed is not None
    assert parsed[0].reason == "" and is_sstp_accept(parsed[0])


def test_head_lowercase_names_and_blanks() -> None:
    parsed = parse_http_head(
        head("HTTP/1.1 200 OK", f"content-length:\t{ULONGLONG_MAX} ", "server:  MikroTik-SSTP")
    )
    assert parsed is not None
    answer = parsed[0]
    assert answer.server == "MikroTik-SSTP" and answer.content_length == ULONGLONG_MAX
    assert answer.headers == (("content-length", ULONGLONG_MAX), ("server", "MikroTik-SSTP"))
    assert is_sstp_accept(answer)


@pytest.mark.parametrize(
    ("fields", "length"),
    [
        ([f"Content-Length: {ULONGLONG_MAX}", f"Content-Length: {ULONGLONG_MAX}"], ULONGLONG_MAX),
        ([f"Content-Length: {ULONGLONG_MAX}, {ULONGLONG_MAX}"], ULONGLONG_MAX),
        ([f"Content-Length: 000{ULONGLONG_MAX}"], ULONGLONG_MAX),
        (["Content-Length: 0"], "0"),
        (["Content-Length: 000"], "0"),
        ([], None),
    ],
)
def test_head_content_length_forms(fields: list[str], length: str | None) -> None:
    parsed = parse_http_head(head("HTTP/1.1 200 OK", *fields))
    assert parsed is not None and parsed[0].content_length == length
    assert is_sstp_accept(parsed[0]) is (length == ULONGLONG_MAX)


@pytest.mark.parametrize(
    "fields",
    [
        [f"Content-Length: {ULONGLONG_MAX}", "Content-Length: 0"],
        [f"Content-Length: {ULONGLONG_MAX}, 5"],
        ["Content-Length: -1"],
        ["Content-Length: 1e3"],
        ["Content-Length: "],
        ["Content-Length: \xb2\xb3"],  # latin-1 superscripts: str.isdigit() says True
    ],
)
def test_head_bad_or_conflicting_content_length(fields: list[str]) -> None:
    with pytest.raises(DecodeError):
        parse_http_head(head("HTTP/1.1 200 OK", *fields))


def test_head_huge_content_length_digits_do_not_hit_int_limits() -> None:
    parsed = parse_http_head(head("HTTP/1.1 200 OK", "Content-Length: " + "9" * 6000))
    assert parsed is not None and parsed[0].content_length == "9" * 6000
    assert not is_sstp_accept(parsed[0])


@pytest.mark.parametrize(
    "field",
    [
        " folded: value",  # obs-fold
        "\tfolded",
        "no colon here",
        "Server : x",
        ": empty name",
        "Bad\x01Name: x",
        "Server: a\x00b",
        "Server: a\nb",
        "Server: a\rb",
        "Server: a\x7fb",
    ],
)
def test_head_bad_field_lines(field: str) -> None:
    with pytest.raises(DecodeError):
        parse_http_head(head("HTTP/1.1 200 OK", f"Content-Length: {ULONGLONG_MAX}", field))


@pytest.mark.parametrize(
    "lines",
    [
        ["HTTP/1.1 404 Not Found", f"Content-Length: {ULONGLONG_MAX}"],
        ["HTTP/1.1 200 OK", "Content-Length: 1234"],
        ["HTTP/1.1 200 OK"],
        ["HTTP/2.0 200 OK", f"Content-Length: {ULONGLONG_MAX}"],
        ["HTTP/1.1 400 Bad Request", "Server: Microsoft-HTTPAPI/2.0", "Content-Length: 0"],
    ],
)
def test_not_an_sstp_accept(lines: list[str]) -> None:
    parsed = parse_http_head(head(*lines))
    assert parsed is not None and not is_sstp_accept(parsed[0])


def test_head_obs_text_is_kept_latin1() -> None:
    parsed = parse_http_head(b"HTTP/1.1 200 OK\r\nServer: caf\xe9\r\n\r\n")
    assert parsed is not None and parsed[0].server == "caf\xe9"


# --- SSTP framing --------------------------------------------------------------------------


def test_reader_fails_on_the_first_byte_and_stays_failed() -> None:
    reader = SstpReader()
    with pytest.raises(DecodeError, match="0x48"):
        reader.feed(b"H")  # e.g. a second HTTP answer
    with pytest.raises(DecodeError, match="already failed"):
        reader.feed(WINDOWS["spec_echo_request"])


def test_reader_returns_good_packets_before_an_error() -> None:
    reader = SstpReader()
    echo = WINDOWS["spec_echo_request"]
    assert [p.message_type for p in reader.feed(echo + b"\x11garbage")] == [MSG_ECHO_REQUEST]
    with pytest.raises(DecodeError):
        reader.feed(b"")


@pytest.mark.parametrize(
    "header",
    [
        b"\x10\x00\x00\x04",  # data packet without payload
        b"\x10\x00\x00\x00",
        b"\x10\x01\x00\x07",  # control packet shorter than its 8-byte header
        b"\x10\x01\xf0\x04",  # R bits set, length 4
        b"\x11\x01\x00\x08",  # version 1.1
        b"\x20\x01\x00\x08",
    ],
)
def test_reader_bad_headers(header: bytes) -> None:
    assert read([header]) == ([], DecodeError)
    with pytest.raises(DecodeError):
        parse_packet(header + bytes(16))


def test_reader_ignores_reserved_bits_and_buffers_at_most_one_packet() -> None:
    echo = bytearray(WINDOWS["spec_echo_request"])
    echo[1] |= 0xFE  # 7 reserved bits
    echo[2] |= 0xF0  # 4-bit R
    (packet,) = SstpReader().feed(bytes(echo))
    assert packet.message_type == MSG_ECHO_REQUEST and packet.length == 8
    big = build_data_packet(bytes(MAX_SSTP_PACKET - 4))
    reader = SstpReader()
    assert reader.feed(big[:-1]) == [] and reader.buffered == MAX_SSTP_PACKET - 1
    assert len(reader.feed(big[-1:] + big[:3])) == 1 and reader.buffered == 3


@pytest.mark.parametrize(
    "body",
    [
        b"\x00\x02\x00\x02" + b"\x00\x04\x00\x08\x00\x00\x00\x03",  # declares 2, has 1
        b"\x00\x02\x00\x00" + b"\x00\x04\x00\x08\x00\x00\x00\x03",  # declares 0, has 1
        b"\x00\x02\x00\x01" + b"\x00\x04\x00\x03\x00\x00\x00\x03",  # attribute length 3
        b"\x00\x02\x00\x01" + b"\x00\x04\x00\x09\x00\x00\x00\x03",  # overruns by 1
        b"\x00\x02\x00\x01" + b"\x00\x04\x00",  # truncated attribute header
    ],
)
def test_bad_control_messages(body: bytes) -> None:
    packet = b"\x10\x01" + (4 + len(body)).to_bytes(2, "big") + body
    with pytest.raises(DecodeError):
        parse_packet(packet)
    assert read([packet]) == ([], DecodeError)


def test_parse_packet_needs_the_exact_length() -> None:
    echo = WINDOWS["spec_echo_request"]
    for data in (echo[:3], echo[:-1], echo + b"\x00", b""):
        with pytest.raises(DecodeError):
            parse_packet(data)


# --- Call Connect Ack / Status Info --------------------------------------------------------


def ack_packet(value: bytes, *, attribute_id: int = ATTRIB_CRYPTO_BINDING_REQ) -> SstpPacket:
    return parse_packet(build_control_packet(MSG_CALL_CONNECT_ACK, [(attribute_id, value)]))


@pytest.mark.parametrize(
    ("bitmask", "names"),
    [
        (0x01, ("SHA1",)),
        (0x02, ("SHA256",)),
        (0x03, ("SHA1", "SHA256")),
        (0xFF, ("SHA1", "SHA256")),
        (0x04, ()),
        (0x00, ()),
    ],
)
def test_ack_bitmask(bitmask: int, names: tuple[str, ...]) -> None:
    ack = parse_call_connect_ack(ack_packet(b"\xaa\xbb\xcc" + bytes((bitmask,)) + bytes(32)))
    assert ack.hash_protocols == names and ack.bitmask == bitmask  # reserved bytes ignored


@pytest.mark.parametrize(
    "packet",
    [
        ack_packet(bytes(35)),
        ack_packet(bytes(37)),
        ack_packet(bytes(36), attribute_id=ATTRIB_STATUS_INFO),
        parse_packet(build_control_packet(MSG_CALL_CONNECT_ACK, [])),
        parse_packet(build_control_packet(MSG_CALL_CONNECT_ACK, [(4, bytes(36))] * 2)),
        parse_packet(build_control_packet(MSG_CALL_ABORT, [(4, bytes(36))])),
        parse_packet(build_control_packet(MSG_CALL_CONNECT_REQUEST, [(1, b"\x00\x01")])),
        parse_packet(build_data_packet(build_control_packet(MSG_CALL_CONNECT_ACK, []))),
    ],
)
def test_not_a_well_formed_ack(packet: SstpPacket) -> None:
    with pytest.raises(DecodeError):
        parse_call_connect_ack(packet)


def test_status_info() -> None:
    packet = parse_packet(
        build_control_packet(
            MSG_CALL_CONNECT_NAK,
            [
                (ATTRIB_STATUS_INFO, bytes(3) + b"\x01" + (4).to_bytes(4, "big") + b"\x00\x02"),
                (9, b"ignored"),
                (ATTRIB_STATUS_INFO, bytes(3) + b"\x04" + (0x1234).to_bytes(4, "big")),
            ],
        )
    )
    assert parse_status_info(packet) == (StatusInfo(1, 4, b"\x00\x02"), StatusInfo(4, 0x1234, b""))
    assert parse_status_info(packet)[1].status_name == "0x00001234"
    short = build_control_packet(MSG_CALL_ABORT, [(ATTRIB_STATUS_INFO, bytes(7))])
    with pytest.raises(DecodeError):
        parse_status_info(parse_packet(short))
    with pytest.raises(DecodeError):
        parse_status_info(parse_packet(build_data_packet(b"\xff\x03")))
    # sstpd's own Call Disconnect carries attribute id 0 with a bare status: not Status Info
    sstpd_disconnect = build_control_packet(MSG_CALL_DISCONNECT, [(0, bytes(4))])
    assert parse_status_info(parse_packet(sstpd_disconnect)) == ()
    assert parse_packet(build_control_packet(MSG_CALL_DISCONNECT_ACK, [])).attributes == ()
    assert parse_packet(build_echo_response()).message_type == MSG_ECHO_RESPONSE


# --- PPP LCP -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth_option", "name"),
    [
        (b"\x03\x04\xc0\x23", "PAP"),
        (b"\x03\x05\xc2\x23\x05", "CHAP-MD5"),
        (b"\x03\x05\xc2\x23\x80", "MS-CHAP"),
        (b"\x03\x05\xc2\x23\x81", "MS-CHAPv2"),
        (b"\x03\x05\xc2\x23\x06", "CHAP-0x06"),
        (b"\x03\x04\xc2\x27", "EAP"),
        (b"\x03\x04\xc0\x27", "0xc027"),
        (b"\x03\x06\xc0\x23\x00\x00", "PAP"),  # extra data tolerated
        (b"", None),
    ],
)
def test_lcp_auth_protocol(auth_option: bytes, name: str | None) -> None:
    options = b"\x01\x04\x05\xdc" + auth_option + b"\x05\x06\x12\x34\x56\x78"
    for acfc in (True, False):
        lcp = parse_ppp_lcp(lcp_frame(options, acfc=acfc))
        assert lcp is not None
        assert lcp.identifier == 7 and lcp.auth_protocol == name
        assert lcp.options[0] == (1, b"\x05\xdc") and lcp.options[-1] == (5, b"\x12\x34\x56\x78")


def test_lcp_first_auth_option_wins_and_padding_is_ignored() -> None:
    frame = lcp_frame(b"\x03\x04\xc0\x23\x03\x05\xc2\x23\x81") + b"\x00\x00padding"
    lcp = parse_ppp_lcp(frame)
    assert lcp is not None and lcp.auth_protocol == "PAP" and len(lcp.options) == 2


@pytest.mark.parametrize(
    "frame",
    [
        b"\xff\x03\x80\x21\x01\x01\x00\x04",  # IPCP
        b"\x80\x21\x01\x01\x00\x04",
        b"\x21\x45\x00",  # compressed one-byte protocol (IPv4)
        b"\xff\x03\x21",
        lcp_frame(b"\x03\x04\xc0\x23", code=2),  # Configure-Ack
        lcp_frame(b"", code=5),  # Terminate-Request
        b"\xff\x03\xc2\x23\x01\x01\x00\x04",  # CHAP itself
    ],
)
def test_lcp_other_frames_are_none(frame: bytes) -> None:
    assert parse_ppp_lcp(frame) is None


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\xff\x03",
        b"\xc0",
        b"\xff\x03\xc0\x21\x01\x01\x00",  # truncated LCP header
        b"\xff\x03\xc0\x21\x01\x01\x00\x03",  # LCP Length below 4
        b"\xff\x03\xc0\x21\x01\x01\x00\x09\x03\x04\xc0\x23",  # Length past the frame
        lcp_frame(b"\x03\x00\xc0\x23"),  # option Length 0
        lcp_frame(b"\x03\x01"),  # option Length 1
        lcp_frame(b"\x05\x06\x00\x00"),  # option overruns
        lcp_frame(b"\x05"),  # truncated option header
        lcp_frame(b"\x03\x03\xc0"),  # auth option too short
        lcp_frame(b"\x03\x02"),
        lcp_frame(b"\x03\x04\xc2\x23"),  # CHAP without its algorithm
    ],
)
def test_lcp_malformed(frame: bytes) -> None:
    with pytest.raises(DecodeError):
        parse_ppp_lcp(frame)


# --- fuzzing -------------------------------------------------------------------------------

hostile = st.one_of(
    st.binary(max_size=512),
    mutated(ALL),
    st.builds(
        lambda head, tail: head + tail,
        st.sampled_from([b"\x10\x01\x00\x30", b"\x10\x00\x00\x21", b"HTTP/1.1 200 OK\r\n"]),
        st.binary(max_size=256),
    ),
)


@FUZZ
@given(data=hostile, cuts=st.lists(st.integers(0, 4096), max_size=12))
def test_reader_raises_only_decode_error_and_ignores_splits(data: bytes, cuts: list[int]) -> None:
    assert read([data]) == read(split(data, cuts))


@FUZZ
@given(name=st.sampled_from(sorted(STREAMS)), cuts=st.lists(st.integers(0, 4096), max_size=20))
def test_any_split_of_a_capture_frames_the_same(name: str, cuts: list[int]) -> None:
    data = STREAMS[name]
    assert read(split(data, cuts)) == read([data])


PACKET_PARSERS: tuple[Callable[[SstpPacket], object], ...] = (
    parse_call_connect_ack,
    parse_status_info,
    lambda p: parse_ppp_lcp(p.data) if not p.control else None,
)


@FUZZ
@given(data=hostile)
def test_parsers_raise_only_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        parse_http_head(data)
    with contextlib.suppress(DecodeError):
        parse_ppp_lcp(data)
    packets, _ = read([data])
    with contextlib.suppress(DecodeError):
        packets.append(parse_packet(data))
    for packet in packets:
        for parse in PACKET_PARSERS:
            with contextlib.suppress(DecodeError):
                parse(packet)


@FUZZ
@given(data=mutated(HEADS))
def test_http_head_mutations_raise_only_decode_error(data: bytes) -> None:
    try:
        parsed = parse_http_head(data)
    except DecodeError:
        return
    if parsed is not None:
        answer, used = parsed
        assert 0 < used <= min(len(data), MAX_HTTP_HEAD)
        is_sstp_accept(answer)


@FUZZ
@given(options=st.binary(max_size=64), tail=st.binary(max_size=8))
def test_lcp_options_raise_only_decode_error(options: bytes, tail: bytes) -> None:
    with contextlib.suppress(DecodeError):
        parse_ppp_lcp(lcp_frame(options) + tail)
