"""The feature extensions (issue 6): building hellos that offer them, and reading what a
TLS 1.0-1.2 server echoed (RFC 5746, 7627, 7366, 5077, 6066 8, 7301, 5246 7.4.1.3)."""

from __future__ import annotations

import pytest
from test_tls_flight import SHD, certificate, handshake, record, server_hello
from test_tls_hello import RANDOM, parse_client_hello

from probe.codecs.buffer import Writer
from probe.codecs.errors import DecodeError
from probe.codecs.tls.constants import (
    COMPRESSION_DEFLATE,
    COMPRESSION_NULL,
    TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
    ExtensionType,
    HandshakeType,
    Version,
    compression_name,
)
from probe.codecs.tls.flight import (
    ServerFlight,
    ServerFlightReader,
    parse_certificate_status,
    server_hello_features,
)
from probe.codecs.tls.hello import build_client_hello

FEATURES = {
    "extended_master_secret": (ExtensionType.EXTENDED_MASTER_SECRET, b""),
    "encrypt_then_mac": (ExtensionType.ENCRYPT_THEN_MAC, b""),
    "session_ticket": (ExtensionType.SESSION_TICKET, b""),
    "status_request": (ExtensionType.STATUS_REQUEST, b"\x01\x00\x00\x00\x00"),
}


def _hello(**kwargs: object) -> bytes:
    args: dict[str, object] = dict(
        version=Version.TLS1_2, cipher_suites=[0x002F], server_name="example.com", random=RANDOM
    )
    args.update(kwargs)
    return build_client_hello(**args)  # type: ignore[arg-type]


# --- building -----------------------------------------------------------------------------


def test_defaults_offer_none_of_the_features() -> None:
    p = parse_client_hello(_hello())
    assert p.extensions is not None and p.compression == b"\x00"
    assert p.extensions[ExtensionType.RENEGOTIATION_INFO] == b"\x00"
    for ext_type, _ in FEATURES.values():
        assert ext_type not in p.extensions
    assert ExtensionType.ALPN not in p.extensions


@pytest.mark.parametrize("flag", sorted(FEATURES))
@pytest.mark.parametrize("version", [Version.TLS1_0, Version.TLS1_2, Version.TLS1_3])
def test_each_feature_adds_exactly_its_extension(flag: str, version: Version) -> None:
    plain = parse_client_hello(_hello(version=version))
    p = parse_client_hello(_hello(version=version, **{flag: True}))
    assert plain.extensions is not None and p.extensions is not None
    ext_type, data = FEATURES[flag]
    assert p.extensions[ext_type] == data
    added = set(p.extensions) - set(plain.extensions) - {ExtensionType.PADDING}
    assert added == {ext_type}


def test_alpn_protocol_name_list() -> None:
    p = parse_client_hello(_hello(alpn_protocols=[b"h2", b"http/1.1"]))
    assert p.extensions is not None
    # RFC 7301 3.1: ProtocolNameList<2..2^16-1> of ProtocolName<1..2^8-1>
    assert p.extensions[ExtensionType.ALPN] == b"\x00\x0c\x02h2\x08http/1.1"


def test_compression_and_scsv_without_the_renegotiation_extension() -> None:
    hello = _hello(
        cipher_suites=[0x002F, TLS_EMPTY_RENEGOTIATION_INFO_SCSV],
        compression_methods=[COMPRESSION_DEFLATE, COMPRESSION_NULL],
        renegotiation_info=False,
    )
    p = parse_client_hello(hello)
    assert p.compression == b"\x01\x00"
    assert p.suites[-1] == 0x00FF
    assert p.extensions is not None and ExtensionType.RENEGOTIATION_INFO not in p.extensions


def test_sslv3_hello_takes_compression_but_no_extensions() -> None:
    p = parse_client_hello(
        _hello(version=Version.SSL3, compression_methods=[1, 0], extended_master_secret=True)
    )
    assert p.compression == b"\x01\x00" and p.extensions is None


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(compression_methods=[]),
        dict(compression_methods=[256]),
        dict(compression_methods=[0] * 256),
        dict(alpn_protocols=[b""]),
        dict(alpn_protocols=[b"x" * 256]),
    ],
)
def test_bad_feature_arguments_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        _hello(**kwargs)


# --- reading what the server echoed ---------------------------------------------------------


def _flight(hello: bytes, *rest: bytes) -> ServerFlight:
    reader = ServerFlightReader(want_certificate=True, want_key_exchange=True)
    reader.feed(record(22, hello + b"".join(rest)))
    assert reader.done
    return reader.result()


def _alpn(*names: bytes) -> bytes:
    inner = Writer()
    for name in names:
        inner.vector(1, name)
    w = Writer()
    w.vector(2, inner.getvalue())
    return w.getvalue()


def _status(response: bytes, status_type: int = 1) -> bytes:
    w = Writer()
    w.u8(status_type)
    w.vector(3, response)
    return handshake(HandshakeType.CERTIFICATE_STATUS, w.getvalue())


def _compressed(hello: bytes, method: int) -> bytes:
    """The same ServerHello with another compression_method byte (after the suite)."""
    sid_len = hello[4 + 2 + 32]
    at = 4 + 2 + 32 + 1 + sid_len + 2
    return hello[:at] + bytes([method]) + hello[at + 1 :]


def test_a_server_echoing_everything() -> None:
    hello = server_hello(
        session_id=bytes(range(32)),
        extensions=[
            (ExtensionType.RENEGOTIATION_INFO, b"\x00"),
            (ExtensionType.EXTENDED_MASTER_SECRET, b""),
            (ExtensionType.ENCRYPT_THEN_MAC, b""),
            (ExtensionType.SESSION_TICKET, b""),
            (ExtensionType.STATUS_REQUEST, b""),
            (ExtensionType.ALPN, _alpn(b"h2")),
        ],
    )
    flight = _flight(_compressed(hello, 1), certificate(b"leaf"), _status(b"ocsp-der"), SHD)
    f = server_hello_features(flight)
    assert f.version == Version.TLS1_2
    assert f.renegotiation_info == b""
    assert f.extended_master_secret and f.encrypt_then_mac
    assert f.session_ticket and f.status_request
    assert f.ocsp_response == b"ocsp-der"
    assert f.alpn == b"h2"
    assert f.compression_method == 1 and compression_name(f.compression_method) == "DEFLATE"
    assert f.session_id_length == 32
    assert flight.certificate_chain == (b"leaf",)  # CertificateStatus does not end the flight


def test_a_server_echoing_nothing() -> None:
    f = server_hello_features(_flight(server_hello(extensions=None), SHD))
    assert f.renegotiation_info is None and f.alpn is None and f.ocsp_response is None
    assert not (f.extended_master_secret or f.encrypt_then_mac or f.session_ticket)
    assert not f.status_request
    assert f.compression_method == 0 and compression_name(0) == "null"
    assert f.session_id_length == 0


def test_status_request_without_certificate_status_staples_nothing() -> None:
    """RFC 6066 8: a server may echo status_request and still send no CertificateStatus."""
    flight = _flight(server_hello(extensions=[(ExtensionType.STATUS_REQUEST, b"")]), SHD)
    f = server_hello_features(flight)
    assert f.status_request and f.ocsp_response is None


@pytest.mark.parametrize(
    "extensions",
    [
        [(ExtensionType.EXTENDED_MASTER_SECRET, b"\x00")],
        [(ExtensionType.ENCRYPT_THEN_MAC, b"x")],
        [(ExtensionType.SESSION_TICKET, b"ticket")],
        [(ExtensionType.STATUS_REQUEST, b"\x01")],
        [(ExtensionType.RENEGOTIATION_INFO, b"")],
        [(ExtensionType.RENEGOTIATION_INFO, b"\x05abc")],
        [(ExtensionType.RENEGOTIATION_INFO, b"\x00\x00")],
        [(ExtensionType.ALPN, b"")],
        [(ExtensionType.ALPN, b"\x00\x00")],
        [(ExtensionType.ALPN, b"\x00\x01\x00")],
        [(ExtensionType.ALPN, b"\x00\x05\x02h2")],
        [(ExtensionType.ALPN, _alpn(b"h2", b"http/1.1"))],
        [(ExtensionType.ALPN, _alpn(b"h2") + b"\x00")],
        [(ExtensionType.ENCRYPT_THEN_MAC, b""), (ExtensionType.ENCRYPT_THEN_MAC, b"")],
    ],
)
def test_malformed_echoes_raise_decode_error(extensions: list[tuple[int, bytes]]) -> None:
    flight = _flight(server_hello(extensions=extensions), SHD)
    with pytest.raises(DecodeError):
        server_hello_features(flight)


def test_a_non_empty_renegotiated_connection_is_reported_as_sent() -> None:
    ext = [(ExtensionType.RENEGOTIATION_INFO, b"\x03abc")]
    assert server_hello_features(_flight(server_hello(extensions=ext), SHD)).renegotiation_info == (
        b"abc"
    )


@pytest.mark.parametrize(
    "body", [b"", b"\x02\x00\x00\x01x", b"\x01\x00\x00\x00", b"\x01\x00\x00\x02x", b"\x01\x00"]
)
def test_malformed_certificate_status(body: bytes) -> None:
    with pytest.raises(DecodeError):
        parse_certificate_status(body)
    flight = _flight(server_hello(), handshake(HandshakeType.CERTIFICATE_STATUS, body), SHD)
    assert flight.server_hello_done  # the reader keeps it raw and goes on
    with pytest.raises(DecodeError):
        server_hello_features(flight)


@pytest.mark.parametrize("version", [0x0300, 0x0304, 0x0305])
def test_only_tls10_to_12_hellos_have_these_features(version: int) -> None:
    if version == 0x0300:
        flight = _flight(server_hello(version=version), SHD)
    else:
        ext = [(ExtensionType.SUPPORTED_VERSIONS, version.to_bytes(2, "big"))]
        flight = _flight(server_hello(extensions=ext))  # TLS 1.3: the reader stops here
    with pytest.raises(DecodeError):
        server_hello_features(flight)


def test_no_server_hello_is_a_decode_error() -> None:
    reader = ServerFlightReader()
    reader.feed(record(21, b"\x02\x28"))
    with pytest.raises(DecodeError):
        server_hello_features(reader.result())
