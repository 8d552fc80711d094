"""ClientHello builders: parsed back with a small test-only parser, and compared to goldens."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from tls_helpers import load_capture, load_record_module

from probe.codecs.buffer import Reader
from probe.codecs.tls.constants import ExtensionType, Version
from probe.codecs.tls.hello import (
    DEFAULT_GROUPS,
    build_client_hello,
    build_sslv2_client_hello,
)
from probe.codecs.tls.suites import SSL2_CIPHERS, candidate_suites

RANDOM = bytes(range(32))
KEY = bytes(range(100, 132))


@dataclass
class ParsedHello:
    record_version: int
    legacy_version: int
    random: bytes
    session_id: bytes
    suites: list[int]
    compression: bytes
    extensions: dict[int, bytes] | None
    extension_order: list[int]
    handshake_length: int


def parse_client_hello(record: bytes) -> ParsedHello:
    """Just enough of RFC 8446 4.1.2 to check what the builder wrote; strict about lengths."""
    r = Reader(record)
    assert r.u8() == 22
    record_version = r.u16()
    fragment = r.sub(2)
    r.expect_eof("record")
    assert fragment.u8() == 1
    handshake_length = fragment.u24()
    body = Reader(fragment.bytes(handshake_length))
    fragment.expect_eof("handshake")
    legacy_version = body.u16()
    random = body.bytes(32)
    session_id = body.vector(1)
    suites_reader = body.sub(2)
    suites = [suites_reader.u16() for _ in range(suites_reader.remaining // 2)]
    compression = body.vector(1)
    extensions: dict[int, bytes] | None = None
    order: list[int] = []
    if not body.eof:
        extensions = {}
        block = body.sub(2)
        while not block.eof:
            ext_type = block.u16()
            assert ext_type not in extensions, "duplicate extension"
            extensions[ext_type] = block.vector(2)
            order.append(ext_type)
    body.expect_eof("ClientHello")
    return ParsedHello(
        record_version,
        legacy_version,
        random,
        session_id,
        suites,
        compression,
        extensions,
        order,
        handshake_length + 4,
    )


def u16_list(data: bytes, len_width: int = 2) -> list[int]:
    r = Reader(data)
    inner = r.sub(len_width)
    r.expect_eof("list")
    return [inner.u16() for _ in range(inner.remaining // 2)]


def test_tls12_hello_structure() -> None:
    suites = candidate_suites(Version.TLS1_2)[:40]
    hello = build_client_hello(
        version=Version.TLS1_2, cipher_suites=suites, server_name="example.com.", random=RANDOM
    )
    p = parse_client_hello(hello)
    assert (p.record_version, p.legacy_version) == (0x0301, 0x0303)
    assert p.random == RANDOM and p.session_id == b""
    assert p.suites == suites
    assert p.compression == b"\x00"
    assert p.extensions is not None
    sni = Reader(p.extensions[ExtensionType.SERVER_NAME])
    names = sni.sub(2)
    assert names.u8() == 0 and names.vector(2) == b"example.com"  # trailing dot dropped
    assert u16_list(p.extensions[ExtensionType.SUPPORTED_GROUPS]) == list(DEFAULT_GROUPS)
    assert {29, 23, 24, 25, 30, 0x0100, 0x0104, 26} <= set(DEFAULT_GROUPS)
    assert p.extensions[ExtensionType.EC_POINT_FORMATS] == b"\x03\x00\x01\x02"
    sigalgs = u16_list(p.extensions[ExtensionType.SIGNATURE_ALGORITHMS])
    assert {0x0201, 0x0101, 0x0403, 0x0804} <= set(sigalgs)
    assert p.extensions[ExtensionType.RENEGOTIATION_INFO] == b"\x00"
    assert ExtensionType.SUPPORTED_VERSIONS not in p.extensions


@pytest.mark.parametrize("version", [Version.TLS1_0, Version.TLS1_1])
def test_tls10_and_11_hellos_omit_signature_algorithms(version: Version) -> None:
    hello = build_client_hello(
        version=version, cipher_suites=[0x002F], server_name="example.com", random=RANDOM
    )
    p = parse_client_hello(hello)
    assert (p.record_version, p.legacy_version) == (0x0301, version)
    assert p.extensions is not None
    assert ExtensionType.SIGNATURE_ALGORITHMS not in p.extensions
    assert ExtensionType.SUPPORTED_GROUPS in p.extensions


def test_sslv3_hello_has_no_extensions() -> None:
    hello = build_client_hello(
        version=Version.SSL3,
        cipher_suites=[0x000A, 0x0005],
        server_name="example.com",
        random=RANDOM,
    )
    p = parse_client_hello(hello)
    assert (p.record_version, p.legacy_version) == (0x0300, 0x0300)
    assert p.extensions is None
    assert p.suites == [0x000A, 0x0005]


def test_tls13_hello_with_key_share() -> None:
    hello = build_client_hello(
        version=Version.TLS1_3,
        cipher_suites=[0x1301, 0x1302],
        server_name="example.com",
        random=RANDOM,
        session_id=bytes(32),
        x25519_key_share=KEY,
        groups=[29, 23],
    )
    p = parse_client_hello(hello)
    assert (p.record_version, p.legacy_version) == (0x0301, 0x0303)
    assert p.session_id == bytes(32)
    assert p.extensions is not None
    assert u16_list(p.extensions[ExtensionType.SUPPORTED_VERSIONS], 1) == [0x0304]
    assert u16_list(p.extensions[ExtensionType.SUPPORTED_GROUPS]) == [29, 23]
    assert p.extensions[ExtensionType.PSK_KEY_EXCHANGE_MODES] == b"\x01\x01"
    shares = Reader(p.extensions[ExtensionType.KEY_SHARE]).sub(2)
    assert shares.u16() == 29 and shares.vector(2) == KEY and shares.eof
    sigalgs = u16_list(p.extensions[ExtensionType.SIGNATURE_ALGORITHMS])
    assert 0x0804 in sigalgs and 0x0101 not in sigalgs
    assert ExtensionType.RENEGOTIATION_INFO not in p.extensions


def test_tls13_hello_without_key_share_sends_an_empty_list() -> None:
    hello = build_client_hello(
        version=Version.TLS1_3, cipher_suites=[0x1301], server_name=None, random=RANDOM
    )
    p = parse_client_hello(hello)
    assert p.extensions is not None
    assert p.extensions[ExtensionType.KEY_SHARE] == b"\x00\x00"
    assert ExtensionType.SERVER_NAME not in p.extensions


@pytest.mark.parametrize("version", [Version.TLS1_3, Version.TLS1_2])
def test_group_probe_hello_offers_exactly_the_given_groups(version: Version) -> None:
    """The hellos of the group elimination: exactly these groups, in this order, and (TLS 1.3)
    an empty key_share list, so the server must name its group in a HelloRetryRequest."""
    groups = [0x11ED, 0x11EB, 0x11EC, 0x6399, 25, 24, 23, 29, 0x0104, 0x0100]
    hello = build_client_hello(
        version=version, cipher_suites=[0x1301, 0xC02F], server_name="a.example", random=RANDOM,
        groups=groups,
    )  # fmt: skip
    p = parse_client_hello(hello)
    assert p.extensions is not None
    assert u16_list(p.extensions[ExtensionType.SUPPORTED_GROUPS]) == groups
    if version is Version.TLS1_3:
        assert p.extensions[ExtensionType.KEY_SHARE] == b"\x00\x00"
        assert u16_list(p.extensions[ExtensionType.SUPPORTED_VERSIONS], 1) == [0x0304]
    else:
        assert ExtensionType.KEY_SHARE not in p.extensions


def test_group_probe_hellos_stay_small() -> None:
    """Every candidate group with a full chunk of suites: no bigger than the suite probes."""
    from probe.codecs.tls.groups import TLS12_GROUP_CANDIDATES, TLS13_GROUP_CANDIDATES

    for version, groups in (
        (Version.TLS1_3, TLS13_GROUP_CANDIDATES),
        (Version.TLS1_2, TLS12_GROUP_CANDIDATES),
    ):
        assert len(groups) <= len(DEFAULT_GROUPS)
        hello = build_client_hello(
            version=version, cipher_suites=candidate_suites(version)[:128], server_name="x" * 253,
            random=RANDOM, groups=groups,
        )  # fmt: skip
        assert len(hello) < 2048


@pytest.mark.parametrize("name", ["192.0.2.1", "2001:db8::1", "[2001:db8::1]", None, ""])
def test_no_sni_for_ip_literals_or_none(name: str | None) -> None:
    hello = build_client_hello(
        version=Version.TLS1_2, cipher_suites=[0x002F], server_name=name, random=RANDOM
    )
    p = parse_client_hello(hello)
    assert p.extensions is not None
    assert ExtensionType.SERVER_NAME not in p.extensions


def test_internationalised_names_are_sent_as_a_labels() -> None:
    hello = build_client_hello(
        version=Version.TLS1_2,
        cipher_suites=[0x002F],
        server_name="bücher.example",
        random=RANDOM,
    )
    p = parse_client_hello(hello)
    assert p.extensions is not None
    assert b"xn--bcher-kva.example" in p.extensions[ExtensionType.SERVER_NAME]


@pytest.mark.parametrize("count", range(1, 129, 3))
def test_padding_keeps_hellos_out_of_256_to_511(count: int) -> None:
    """RFC 7685: hellos that would be 256..511 bytes are padded to at least 512."""
    for version in (Version.TLS1_0, Version.TLS1_2, Version.TLS1_3):
        suites = candidate_suites(version)[:count]
        hello = build_client_hello(
            version=version, cipher_suites=suites, server_name="a.example", random=RANDOM
        )
        p = parse_client_hello(hello)
        assert not 256 <= p.handshake_length < 512, (version, count, p.handshake_length)
        assert p.extensions is not None
        if ExtensionType.PADDING in p.extensions:
            assert p.extension_order[-1] == ExtensionType.PADDING
            assert set(p.extensions[ExtensionType.PADDING]) <= {0}
            assert p.handshake_length <= 516


def test_extra_extensions_are_appended() -> None:
    hello = build_client_hello(
        version=Version.TLS1_2,
        cipher_suites=[0x002F],
        server_name=None,
        random=RANDOM,
        extra_extensions=[(ExtensionType.EXTENDED_MASTER_SECRET, b""), (0x3374, b"\x01")],
    )
    p = parse_client_hello(hello)
    assert p.extensions is not None
    assert p.extensions[ExtensionType.EXTENDED_MASTER_SECRET] == b""
    assert p.extensions[0x3374] == b"\x01"


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(random=bytes(31)),
        dict(cipher_suites=[]),
        dict(cipher_suites=list(range(129))),
        dict(session_id=bytes(33)),
        dict(x25519_key_share=bytes(31)),
        dict(version=Version.SSL2),
    ],
)
def test_builder_rejects_bad_arguments(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = dict(
        version=Version.TLS1_2, cipher_suites=[0x002F], server_name=None, random=RANDOM
    )
    args.update(kwargs)
    with pytest.raises(ValueError):
        build_client_hello(**args)  # type: ignore[arg-type]


def test_hello_stays_small_with_128_suites() -> None:
    for version in (Version.TLS1_2, Version.TLS1_3):
        hello = build_client_hello(
            version=version,
            cipher_suites=candidate_suites(Version.TLS1_2)[:128],
            server_name="x" * 253,
            random=RANDOM,
            x25519_key_share=KEY,
        )
        assert len(hello) < 2048


def test_goldens_match_the_recorded_hellos() -> None:
    """captures/tls/client_hello_*.bin were written by record.py with the same inputs."""
    for name, hello in load_record_module().golden_hellos().items():
        assert hello == load_capture(name), name
        parse_client_hello(hello)


def test_sslv2_client_hello_layout() -> None:
    challenge = bytes(range(16))
    specs = list(SSL2_CIPHERS)
    hello = build_sslv2_client_hello(cipher_specs=specs, challenge=challenge)
    r = Reader(hello)
    header = r.u16()
    assert header & 0x8000
    assert header & 0x7FFF == r.remaining
    assert r.u8() == 1  # MSG-CLIENT-HELLO
    assert r.u16() == 0x0002
    specs_length, session_id_length, challenge_length = r.u16(), r.u16(), r.u16()
    assert (specs_length, session_id_length, challenge_length) == (3 * len(specs), 0, 16)
    assert [r.uint(3) for _ in specs] == specs
    assert r.rest() == challenge


@pytest.mark.parametrize(
    "kwargs", [dict(challenge=bytes(15)), dict(challenge=bytes(33)), dict(cipher_specs=[])]
)
def test_sslv2_builder_rejects_bad_arguments(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = dict(cipher_specs=[0x010080], challenge=bytes(16))
    args.update(kwargs)
    with pytest.raises(ValueError):
        build_sslv2_client_hello(**args)  # type: ignore[arg-type]
