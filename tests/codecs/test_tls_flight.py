"""ServerFlightReader and Ssl2ServerHelloReader against recorded and hand-built answers."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from tls_helpers import Feedable, load_capture

from probe.codecs.buffer import Reader, Writer
from probe.codecs.errors import DecodeError, NotTlsError, Ssl2ReplyError
from probe.codecs.tls.constants import (
    GROUP_NAMES,
    HELLO_RETRY_REQUEST_RANDOM,
    Version,
    group_name,
)
from probe.codecs.tls.flight import (
    MAX_RECORD_LENGTH,
    ServerFlight,
    ServerFlightReader,
    Ssl2ServerFlight,
    Ssl2ServerHelloReader,
)

Feed = Callable[[Feedable, bytes], None]


def read_flight(data: bytes, feed: Feed, *, want: bool = True) -> ServerFlight:
    reader = ServerFlightReader(want_certificate=want, want_key_exchange=want)
    feed(reader, data)
    assert reader.done
    return reader.result()


def read_ssl2(data: bytes, feed: Feed) -> Ssl2ServerFlight:
    reader = Ssl2ServerHelloReader()
    feed(reader, data)
    assert reader.done
    return reader.result()


# --- hand-built messages (RFC 5246 6.2.1, 7.4) --------------------------------------------


def record(content_type: int, fragment: bytes, version: int = 0x0303) -> bytes:
    w = Writer()
    w.u8(content_type)
    w.u16(version)
    w.vector(2, fragment)
    return w.getvalue()


def handshake(msg_type: int, body: bytes) -> bytes:
    w = Writer()
    w.u8(msg_type)
    w.vector(3, body)
    return w.getvalue()


def server_hello(
    *,
    version: int = 0x0303,
    suite: int = 0xC02F,
    random: bytes = bytes(range(32)),
    extensions: list[tuple[int, bytes]] | None = None,
    session_id: bytes = b"",
) -> bytes:
    w = Writer()
    w.u16(version)
    w.bytes(random)
    w.vector(1, session_id)
    w.u16(suite)
    w.u8(0)
    if extensions is not None:
        block = Writer()
        for ext_type, data in extensions:
            block.u16(ext_type)
            block.vector(2, data)
        w.vector(2, block.getvalue())
    return handshake(2, w.getvalue())


def certificate(*ders: bytes) -> bytes:
    inner = Writer()
    for der in ders:
        inner.vector(3, der)
    w = Writer()
    w.vector(3, inner.getvalue())
    return handshake(11, w.getvalue())


def ecdhe_ske(group: int = 23, point: bytes = b"\x04" + bytes(64)) -> bytes:
    w = Writer()
    w.u8(3)
    w.u16(group)
    w.vector(1, point)
    w.u16(0x0401)
    w.vector(2, b"signature")
    return handshake(12, w.getvalue())


SHD = handshake(14, b"")


def handshake_stream(capture: bytes) -> bytes:
    """The handshake bytes of a capture's leading handshake records."""
    r = Reader(capture)
    out = b""
    while r.remaining >= 5:
        content_type, _, fragment = r.u8(), r.u16(), r.vector(2)
        if content_type != 22:
            break
        out += fragment
    return out


# --- recorded answers ---------------------------------------------------------------------


def test_openssl_tls12_ecdhe_rsa(feed: Feed) -> None:
    flight = read_flight(load_capture("openssl_tls12_ecdhe_rsa.bin"), feed)
    hello = flight.server_hello
    assert hello is not None and flight.alert is None
    assert (hello.version, hello.legacy_version) == (Version.TLS1_2, 0x0303)
    assert hello.version_label == "TLSv1.2"
    assert hello.suite is not None and hello.suite.kx == "ECDHE" and hello.suite.auth == "RSA"
    assert hello.secure_renegotiation
    assert not hello.is_hello_retry_request and not flight.hello_retry_request
    assert len(flight.certificate_chain) == 2
    assert all(der[0] == 0x30 for der in flight.certificate_chain)  # DER SEQUENCE
    kx = flight.key_exchange
    assert kx is not None
    assert (kx.kind, kx.group, kx.group_name, kx.bits) == ("ECDHE", 29, "x25519", 253)
    assert len(kx.public) == 32
    assert flight.server_hello_done
    assert flight.handshake_types == (2, 11, 12, 14)
    assert flight.record_version == 0x0303


def test_openssl_tls12_dhe_rsa(feed: Feed) -> None:
    flight = read_flight(load_capture("openssl_tls12_dhe_rsa.bin"), feed)
    assert flight.server_hello is not None
    assert flight.server_hello.cipher_suite == 0x009E
    kx = flight.key_exchange
    assert kx is not None
    assert (kx.kind, kx.group, kx.bits) == ("DHE", None, 2048)
    assert kx.prime is not None and len(kx.prime) == 256
    assert kx.prime[-8:] == b"\xff" * 8  # RFC 7919 ffdhe2048 ends in 64 one bits
    assert kx.generator == b"\x02"
    assert flight.server_hello_done


def test_openssl_tls13_server_hello(feed: Feed) -> None:
    flight = read_flight(load_capture("openssl_tls13_server_hello.bin"), feed)
    hello = flight.server_hello
    assert hello is not None
    assert (hello.version, hello.legacy_version) == (Version.TLS1_3, 0x0303)
    assert hello.cipher_suite == 0x1301
    assert hello.selected_group == 29
    assert hello.session_id == bytes(range(32))  # echoed (RFC 8446 4.1.3)
    assert flight.key_exchange is not None and flight.key_exchange.group_name == "x25519"
    assert flight.certificate_chain == ()  # encrypted in TLS 1.3
    assert not flight.server_hello_done
    assert flight.handshake_types == (2,)


def test_openssl_tls13_hello_retry_request(feed: Feed) -> None:
    flight = read_flight(load_capture("openssl_tls13_hrr.bin"), feed)
    hello = flight.server_hello
    assert hello is not None
    assert hello.is_hello_retry_request and flight.hello_retry_request
    assert hello.random == HELLO_RETRY_REQUEST_RANDOM
    assert hello.version == Version.TLS1_3
    assert hello.selected_group == 29
    assert flight.key_exchange is None


# RFC 8446 4.1.4: what a server sends to a hello with an empty key_share list. Built by hand:
# Debian 12's OpenSSL 3.0 has no ML-KEM, so no lab server can name a post-quantum hybrid.
def hello_retry_request(group: int, *, extra: list[tuple[int, bytes]] | None = None) -> bytes:
    extensions = [(43, b"\x03\x04"), *(extra or []), (51, group.to_bytes(2, "big"))]
    return record(
        22,
        server_hello(
            suite=0x1301,
            random=HELLO_RETRY_REQUEST_RANDOM,
            session_id=bytes(range(32)),
            extensions=extensions,
        ),
    )


@pytest.mark.parametrize(
    ("group", "name"),
    [
        (0x11EC, "X25519MLKEM768"),
        (0x11EB, "SecP256r1MLKEM768"),
        (0x11ED, "SecP384r1MLKEM1024"),
        (0x6399, "X25519Kyber768Draft00"),
        (0x0101, "ffdhe3072"),
        (0x0201, "MLKEM768"),
    ],
)
def test_hand_built_hello_retry_request_names_its_group(feed: Feed, group: int, name: str) -> None:
    flight = read_flight(hello_retry_request(group, extra=[(44, b"\x00\x04cook")]), feed)
    hello = flight.server_hello
    assert hello is not None and flight.hello_retry_request
    assert hello.version == Version.TLS1_3
    assert hello.selected_group == group
    assert group_name(group) == name and GROUP_NAMES[group] == name
    assert flight.key_exchange is None  # an HRR carries no key
    assert flight.handshake_types == (2,)  # it stops there: nothing after an HRR is ours


def test_hello_retry_request_without_key_share_names_no_group() -> None:
    data = record(
        22, server_hello(random=HELLO_RETRY_REQUEST_RANDOM, extensions=[(43, b"\x03\x04")])
    )
    flight = read_flight(data, lambda r, d: r.feed(d))
    assert flight.hello_retry_request
    assert flight.server_hello is not None and flight.server_hello.selected_group is None


@pytest.mark.parametrize("key_share", [b"\x11", b"\x11\xec\x00", b"\x11\xec\x00\x00"])
def test_hello_retry_request_key_share_must_be_exactly_a_group(key_share: bytes) -> None:
    """RFC 8446 4.2.8: the HRR's key_share is KeyShareHelloRetryRequest, a NamedGroup only."""
    data = record(
        22,
        server_hello(
            random=HELLO_RETRY_REQUEST_RANDOM, extensions=[(43, b"\x03\x04"), (51, key_share)]
        ),
    )
    with pytest.raises(DecodeError):
        ServerFlightReader().feed(data)


@pytest.mark.parametrize(
    "name, description, label, record_version",
    [
        ("openssl_alert_handshake_failure.bin", 40, "handshake_failure", 0x0303),
        ("openssl_alert_protocol_version.bin", 70, "protocol_version", 0x0301),
    ],
)
def test_openssl_alerts(
    feed: Feed, name: str, description: int, label: str, record_version: int
) -> None:
    flight = read_flight(load_capture(name), feed)
    assert flight.server_hello is None
    assert flight.alert is not None
    assert (flight.alert.level, flight.alert.description) == (2, description)
    assert flight.alert.name == label and flight.alert.fatal
    assert flight.record_version == record_version


def test_openssl_tls10(feed: Feed) -> None:
    flight = read_flight(load_capture("openssl_tls10_all.bin"), feed)
    hello = flight.server_hello
    assert hello is not None and hello.version == Version.TLS1_0
    assert hello.suite is not None and hello.suite.min_version <= Version.TLS1_0
    assert flight.record_version == 0x0301
    assert flight.server_hello_done and len(flight.certificate_chain) == 2


def test_gnutls_tls12(feed: Feed) -> None:
    flight = read_flight(load_capture("gnutls_tls12_ecdhe.bin"), feed)
    assert flight.server_hello is not None and flight.server_hello.version == Version.TLS1_2
    assert flight.key_exchange is not None and flight.key_exchange.kind == "ECDHE"
    assert flight.certificate_requested  # gnutls-serv asks for a client certificate
    assert flight.server_hello_done


def test_synthetic_sslv3(feed: Feed) -> None:
    flight = read_flight(load_capture("synthetic_sslv3_server_hello.bin"), feed)
    hello = flight.server_hello
    assert hello is not None
    assert hello.version == Version.SSL3 and hello.version_label == "SSLv3"
    assert hello.extensions == () and not hello.secure_renegotiation
    assert hello.cipher_suite == 0x000A
    assert len(flight.certificate_chain) == 1 and flight.server_hello_done
    assert flight.key_exchange is None


def test_stops_after_server_hello_when_nothing_more_is_wanted() -> None:
    data = load_capture("openssl_tls12_ecdhe_rsa.bin")
    reader = ServerFlightReader()
    reader.feed(data[:200])
    assert reader.done
    flight = reader.result()
    assert flight.server_hello is not None
    assert flight.certificate_chain == () and flight.key_exchange is None


def test_result_before_done_is_partial() -> None:
    data = load_capture("openssl_tls12_ecdhe_rsa.bin")
    reader = ServerFlightReader(want_certificate=True)
    reader.feed(data[:120])
    assert not reader.done
    assert reader.result().server_hello is not None
    assert reader.result().certificate_chain == ()


# --- record layer -------------------------------------------------------------------------


def test_messages_spanning_records_and_sharing_records() -> None:
    stream = handshake_stream(load_capture("openssl_tls12_ecdhe_rsa.bin"))
    expected = read_flight(load_capture("openssl_tls12_ecdhe_rsa.bin"), lambda r, d: r.feed(d))
    for size in (1, 7, 100, 16384):
        chunks = [stream[i : i + size] for i in range(0, len(stream), size)]
        framed = b"".join(record(22, chunk) for chunk in chunks)
        assert read_flight(framed, lambda r, d: r.feed(d)) == expected


def test_empty_and_heartbeat_records_are_skipped() -> None:
    data = record(22, b"") + record(24, b"\x01\x00") + record(22, server_hello() + SHD)
    assert read_flight(data, lambda r, d: r.feed(d)).server_hello_done


def test_warning_alerts_are_recorded_and_do_not_end_the_flight(feed: Feed) -> None:
    data = record(21, b"\x01\x70") + record(22, server_hello() + ecdhe_ske() + SHD)
    flight = read_flight(data, feed)
    assert [a.name for a in flight.warnings] == ["unrecognized_name"]
    assert flight.alert is None and flight.server_hello_done
    assert flight.key_exchange is not None and flight.key_exchange.group_name == "secp256r1"


def test_close_notify_ends_the_flight() -> None:
    flight = read_flight(record(21, b"\x01\x00"), lambda r, d: r.feed(d))
    assert flight.alert is not None and flight.alert.name == "close_notify"


def test_alert_split_across_records() -> None:
    flight = read_flight(record(21, b"\x02") + record(21, b"\x28"), lambda r, d: r.feed(d))
    assert flight.alert is not None and flight.alert.name == "handshake_failure"


def test_unknown_alert_description_gets_a_name() -> None:
    flight = read_flight(record(21, b"\x02\xfe"), lambda r, d: r.feed(d))
    assert flight.alert is not None and flight.alert.name == "alert_254"


def test_change_cipher_spec_ends_the_flight() -> None:
    data = record(22, server_hello()) + record(20, b"\x01") + record(22, b"encrypted")
    flight = read_flight(data, lambda r, d: r.feed(d))
    assert flight.server_hello is not None and not flight.server_hello_done


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 400 Bad Request\r\n\r\n",
        b"SSH-2.0-OpenSSH_9.6\r\n",
        b"220 mail.example ESMTP\r\n",
        b"\x16\x02\x00",  # content type fine, major version not 3
        b"\x00\x00\x00\x00\x00",
    ],
)
def test_non_tls_answers_fail_fast(data: bytes) -> None:
    reader = ServerFlightReader()
    with pytest.raises(NotTlsError, match="not answer with TLS"):
        for i in range(len(data)):
            reader.feed(data[i : i + 1])
            assert i < 3, "should have failed within the first 3 bytes"


@pytest.mark.parametrize("name", ["synthetic_sslv2_server_hello.bin", "synthetic_sslv2_error.bin"])
def test_sslv2_answer_to_a_tls_hello_is_not_this_version(name: str) -> None:
    reader = ServerFlightReader()
    with pytest.raises(Ssl2ReplyError):
        reader.feed(load_capture(name))
    assert issubclass(Ssl2ReplyError, DecodeError)


def test_record_longer_than_the_limit_fails_after_its_header() -> None:
    reader = ServerFlightReader()
    reader.feed(b"\x16\x03\x03")
    with pytest.raises(DecodeError, match="exceeds"):
        reader.feed(b"\xff\xff")
    too_long = (MAX_RECORD_LENGTH + 1).to_bytes(2, "big")
    with pytest.raises(DecodeError):
        ServerFlightReader().feed(b"\x16\x03\x03" + too_long)


def test_handshake_header_announcing_16_mb_fails_without_buffering() -> None:
    reader = ServerFlightReader()
    reader.feed(b"\x16\x03\x03\x40\x00")  # a handshake record that promises 16 KiB...
    with pytest.raises(DecodeError, match="exceeds"):
        # ...whose first 4 bytes announce a 16 MiB ServerHello: refused before the record ends.
        reader.feed(b"\x02\xff\xff\xff")


def test_handshake_length_cap_in_a_complete_record() -> None:
    with pytest.raises(DecodeError, match="exceeds"):
        ServerFlightReader().feed(record(22, b"\x02\xff\xff\xff"))


@pytest.mark.parametrize(
    "data, message",
    [
        (record(22, SHD), "before ServerHello"),
        (record(22, handshake(2, server_hello()[4:-1])), "truncated"),
        (record(22, handshake(2, b"\x03\x03" + bytes(10))), "truncated"),
        (record(22, server_hello(extensions=[(43, b"\x03")])), "truncated"),
        (record(22, server_hello() + b"\x0b\x00\x00\x02\x00\x00"), "truncated"),
        (record(22, b"\x02\x00") + record(21, b"\x02\x28"), "fragmented handshake"),
        (record(22, server_hello()) + b"\x63\x03\x03\x00\x01x", "bad record header"),
    ],
)
def test_malformed_flights_raise_decode_error(data: bytes, message: str) -> None:
    reader = ServerFlightReader(want_certificate=True)
    with pytest.raises(DecodeError, match=message):
        reader.feed(data)


def test_trailing_bytes_inside_a_server_hello_are_an_error() -> None:
    body = server_hello(extensions=[])
    bad = body[:1] + (int.from_bytes(body[1:4], "big") + 1).to_bytes(3, "big") + body[4:] + b"x"
    with pytest.raises(DecodeError, match="unexpected bytes"):
        ServerFlightReader().feed(record(22, bad))


# --- odd but parseable values are facts ---------------------------------------------------


def test_odd_values_are_facts_not_errors() -> None:
    data = record(
        22,
        server_hello(
            version=0x0305, suite=0xABCD, session_id=bytes(40), extensions=[(0x1234, b"?")]
        ),
    )
    flight = read_flight(data, lambda r, d: r.feed(d), want=False)
    hello = flight.server_hello
    assert hello is not None
    assert hello.version == 0x0305 and hello.version_label == "0x0305"
    assert hello.suite is None and len(hello.session_id) == 40
    assert hello.extension(0x1234) == b"?" and hello.extension(0x9999) is None


def test_supported_versions_decides_the_version() -> None:
    sv = (43, b"\x03\x04")
    ks = (51, b"\x00\x17\x00\x41" + b"\x04" + bytes(64))
    flight = read_flight(
        record(22, server_hello(suite=0x1302, extensions=[sv, ks])), lambda r, d: r.feed(d)
    )
    assert flight.server_hello is not None and flight.server_hello.version == Version.TLS1_3
    assert flight.key_exchange is not None
    assert (flight.key_exchange.group_name, flight.key_exchange.bits) == ("secp256r1", 256)


def test_downgrade_sentinel_is_reported() -> None:
    random = bytes(24) + b"DOWNGRD\x01"
    flight = read_flight(
        record(22, server_hello(random=random)), lambda r, d: r.feed(d), want=False
    )
    assert flight.server_hello is not None
    assert flight.server_hello.downgrade_sentinel == Version.TLS1_2


def test_ems_extension_helper() -> None:
    flight = read_flight(
        record(22, server_hello(extensions=[(23, b"")])), lambda r, d: r.feed(d), want=False
    )
    assert flight.server_hello is not None and flight.server_hello.extended_master_secret


def test_key_exchange_for_suites_without_parameters_is_skipped() -> None:
    ske = handshake(12, b"\x00\x04hint")
    data = record(22, server_hello(suite=0x008C) + ske + SHD)  # TLS_PSK_WITH_AES_128_CBC_SHA
    flight = read_flight(data, lambda r, d: r.feed(d))
    assert flight.key_exchange is None and flight.server_hello_done


def test_ecdhe_psk_key_exchange_skips_the_hint() -> None:
    w = Writer()
    w.vector(2, b"hint")
    w.u8(3)
    w.u16(29)
    w.vector(1, bytes(32))
    data = record(22, server_hello(suite=0xC035) + handshake(12, w.getvalue()) + SHD)
    flight = read_flight(data, lambda r, d: r.feed(d))
    assert flight.key_exchange is not None and flight.key_exchange.group_name == "x25519"


def test_explicit_prime_curve_is_reported_with_its_size() -> None:
    w = Writer()
    w.u8(1)
    w.vector(1, b"\x00" + b"\xff" * 28)  # a 224-bit "prime" with a leading zero byte
    w.bytes(b"rest of the curve is not read")
    data = record(22, server_hello(suite=0xC013) + handshake(12, w.getvalue()) + SHD)
    flight = read_flight(data, lambda r, d: r.feed(d))
    assert flight.key_exchange is not None
    assert (flight.key_exchange.group_name, flight.key_exchange.bits) == ("explicit_prime", 224)


def test_export_rsa_temporary_key() -> None:
    w = Writer()
    w.vector(2, b"\x00" + b"\xc3" * 64)  # 512-bit modulus
    w.vector(2, b"\x01\x00\x01")
    data = record(22, server_hello(suite=0x0003) + handshake(12, w.getvalue()) + SHD)
    flight = read_flight(data, lambda r, d: r.feed(d))
    assert flight.key_exchange is not None
    assert (flight.key_exchange.kind, flight.key_exchange.bits) == ("RSA", 512)


def test_empty_certificate_list_and_hello_request_are_accepted() -> None:
    data = record(22, handshake(0, b"") + server_hello() + certificate() + SHD)
    flight = read_flight(data, lambda r, d: r.feed(d))
    assert flight.certificate_chain == () and flight.server_hello_done


def test_too_many_warning_alerts() -> None:
    with pytest.raises(DecodeError, match="warning alerts"):
        ServerFlightReader().feed(record(21, b"\x01\x70" * 20))


# --- SSLv2 --------------------------------------------------------------------------------


def test_sslv2_server_hello(feed: Feed) -> None:
    result = read_ssl2(load_capture("synthetic_sslv2_server_hello.bin"), feed)
    hello = result.server_hello
    assert hello is not None
    assert hello.version == Version.SSL2 and not hello.session_id_hit
    assert hello.certificate_type == 1 and hello.certificate[0] == 0x30
    assert hello.cipher_specs == (0x010080, 0x0700C0, 0x020080)
    assert hello.connection_id == bytes(range(16))
    assert result.error_code is None and result.alert is None


def test_sslv2_error(feed: Feed) -> None:
    result = read_ssl2(load_capture("synthetic_sslv2_error.bin"), feed)
    assert result.server_hello is None
    assert (result.error_code, result.error_name) == (1, "NO-CIPHER-ERROR")


def test_sslv2_hello_answered_with_a_tls_alert(feed: Feed) -> None:
    result = read_ssl2(load_capture("openssl_alert_protocol_version.bin"), feed)
    assert result.alert is not None and result.alert.name == "protocol_version"
    assert result.tls_record_version == 0x0301 and result.server_hello is None


def test_sslv2_hello_answered_with_a_tls_server_hello() -> None:
    result = read_ssl2(load_capture("synthetic_sslv3_server_hello.bin"), lambda r, d: r.feed(d))
    assert result.server_hello is None and result.alert is None
    assert result.tls_record_version == 0x0300


def test_sslv2_three_byte_header_with_padding() -> None:
    body = bytes([0]) + (0x0006).to_bytes(2, "big") + b"\x00\x00"  # ERROR + 2 padding bytes
    data = bytes([len(body) >> 8, len(body) & 0xFF, 2]) + body
    result = read_ssl2(data, lambda r, d: r.feed(d))
    assert result.error_name == "UNSUPPORTED-CERTIFICATE-TYPE-ERROR"


@pytest.mark.parametrize("data", [b"HTTP/1.1 400 Bad Request\r\n", b"SSH-2.0-x\r\n", b"\x16\x01"])
def test_sslv2_reader_rejects_non_ssl(data: bytes) -> None:
    with pytest.raises(NotTlsError):
        Ssl2ServerHelloReader().feed(data)


def test_sslv2_bad_cipher_specs_length() -> None:
    body = bytes([4, 0, 1, 0, 2, 0, 0, 0, 4, 0, 0]) + b"\x01\x00\x80\x07"
    with pytest.raises(DecodeError, match="multiple of 3"):
        Ssl2ServerHelloReader().feed((0x8000 | len(body)).to_bytes(2, "big") + body)


def test_large_trailing_data_after_a_complete_flight_is_ignored() -> None:
    reader = ServerFlightReader(want_certificate=True)
    reader.feed(load_capture("openssl_tls12_ecdhe_rsa.bin") + bytes(3 * 1024 * 1024))
    assert reader.done and reader.result().server_hello_done


def test_endless_empty_records_hit_the_flight_cap_quickly() -> None:
    flood = record(22, server_hello()) + record(22, b"") * 300_000  # 1.5 MB of empty records
    started = time.monotonic()
    with pytest.raises(DecodeError, match="server flight exceeds"):
        ServerFlightReader(want_certificate=True).feed(flood)
    assert time.monotonic() - started < 5


def test_hello_request_flood_is_refused() -> None:
    with pytest.raises(DecodeError, match="handshake messages"):
        ServerFlightReader().feed(record(22, handshake(0, b"") * 100))
