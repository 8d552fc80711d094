"""The IKE codec: exact request layouts, round trips, hand-built responder messages, hostile
lengths, and the answers strongSwan 5.9.8 really sent (captures/ike, see record.py there)."""

from __future__ import annotations

import contextlib
import hashlib
import socket
import struct
from collections.abc import Callable

import pytest
from ike_samples import IKEV1, IKEV2, NAT_T, SAMPLES

from probe.codecs.errors import DecodeError
from probe.codecs.ike import (
    FLAG_INITIATOR,
    FLAG_RESPONSE,
    MAX_MESSAGE,
    NON_ESP_MARKER,
    Ikev1Message,
    Ikev1Transform,
    Ikev2Message,
    Notify,
    Proposal,
    Transform,
    build_ikev1_aggressive,
    build_ikev1_main_mode,
    build_ikev1_message,
    build_ikev2_message,
    build_ikev2_sa_init,
    ike_major_version,
    ikev1_notify_body,
    ikev1_sa_body,
    ikev2_ke_body,
    ikev2_notify_body,
    ikev2_sa_body,
    nat_detection_hash,
    parse_ikev1,
    parse_ikev2,
    strip_non_esp_marker,
)
from probe.codecs.ike_constants import (
    AEAD_ENCRYPTION,
    DH_NAMES,
    ENCRYPTION_NAMES,
    INTEGRITY_NAMES,
    KEYED_ENCRYPTION,
    PRF_NAMES,
    V1_AUTH_NAMES,
    V1_ENCRYPTION_NAMES,
    V1_HASH_NAMES,
    NotifyType,
    PayloadType,
    TransformType,
    encryption_name,
    known_vendor_id,
    notify_name,
    transform_name,
    v1_encryption_name,
)
from probe.codecs.ike_groups import public_value

ENCR, PRF, INTEG, DH = TransformType.ENCR, TransformType.PRF, TransformType.INTEG, TransformType.DH
SPI = bytes.fromhex("0123456789abcdef")
SPI_R = bytes.fromhex("fedcba9876543210")
NONCE = bytes(range(32))
KE_2048 = public_value(14, bytes(range(32)))
AES256_SHA256_2048 = Proposal(
    (Transform(ENCR, 12, 256), Transform(PRF, 5), Transform(INTEG, 12), Transform(DH, 14))
)
GCM_ECP384 = Proposal((Transform(ENCR, 20, 256), Transform(PRF, 6), Transform(DH, 20)))
TDES_SHA1_1024 = Proposal(
    (Transform(ENCR, 3), Transform(PRF, 2), Transform(INTEG, 2), Transform(DH, 2))
)


def sa_init(**overrides: object) -> bytes:
    arguments: dict[str, object] = {
        "spi_i": SPI,
        "proposals": [AES256_SHA256_2048],
        "dh_group": 14,
        "key_exchange": KE_2048,
        "nonce": NONCE,
    }
    arguments.update(overrides)
    return build_ikev2_sa_init(**arguments)  # type: ignore[arg-type]


# --- IKEv2 request layout -------------------------------------------------------------------


def test_single_proposal_request_is_376_bytes_byte_for_byte() -> None:
    # The research note's example: AES-CBC-256, PRF-HMAC-SHA2-256, HMAC-SHA2-256-128, MODP-2048
    # and a 32-byte nonce make 376 bytes.
    message = sa_init()
    assert len(message) == 376
    expected = (
        SPI.hex() + "00" * 8  # SPIi, SPIr
        # next SA (33), version 2.0, IKE_SA_INIT (34), Initiator flag, message id 0, length
        + "21" + "20" + "22" + "08" + "00000000" + "00000178"
        + "22" + "00" + "0030"  # SA: next KE (34), length 48
        + "00" + "00" + "002c" + "01" + "01" + "00" + "04"  # last proposal, #1, IKE, no SPI, 4
        + "03" + "00" + "000c" + "01" + "00" + "000c" + "800e0100"  # ENCR AES-CBC, Key Length 256
        + "03" + "00" + "0008" + "02" + "00" + "0005"  # PRF HMAC-SHA2-256
        + "03" + "00" + "0008" + "03" + "00" + "000c"  # INTEG HMAC-SHA2-256-128
        + "00" + "00" + "0008" + "04" + "00" + "000e"  # last transform: DH 14
        + "28" + "00" + "0108" + "000e" + "0000" + KE_2048.hex()  # KE: next Nonce (40), 264
        + "00" + "00" + "0024" + NONCE.hex()  # Nonce, last payload
    )  # fmt: skip
    assert message.hex() == expected


def test_several_proposals_are_numbered_with_last_substructure_markers() -> None:
    message = sa_init(proposals=[TDES_SHA1_1024, GCM_ECP384, AES256_SHA256_2048])
    sa = message[28 + 4 :]
    offsets = []
    position = 0
    for _ in range(3):
        offsets.append(position)
        position += int.from_bytes(sa[position + 2 : position + 4], "big")
    assert [sa[o] for o in offsets] == [2, 2, 0]  # 2 = more proposals follow (RFC 7296 §3.3.1)
    assert [sa[o + 4] for o in offsets] == [1, 2, 3]  # proposal numbers
    assert [sa[o + 7] for o in offsets] == [4, 3, 4]  # transform counts
    # Transforms of the GCM proposal: 3 (more), 3, 0 (last).
    transforms = offsets[1] + 8
    markers = []
    for _ in range(3):
        markers.append(sa[transforms])
        transforms += int.from_bytes(sa[transforms + 2 : transforms + 4], "big")
    assert markers == [3, 3, 0]
    parsed = parse_ikev2(message)
    assert parsed.proposals == (TDES_SHA1_1024, GCM_ECP384, AES256_SHA256_2048)
    assert parsed.proposal_numbers == (1, 2, 3)
    assert parsed.chosen_proposal_number is None  # a request chooses nothing


def test_round_trip_with_cookie_notifies_vendor_ids_and_nat_t() -> None:
    cookie = bytes(range(20))
    notifies = [
        (NotifyType.IKEV2_FRAGMENTATION_SUPPORTED, b""),
        (NotifyType.SIGNATURE_HASH_ALGORITHMS, b"\x00\x02\x00\x03"),
    ]
    vids = [b"probe-vendor-id!", hashlib.md5(b"strongSwan").digest()]
    message = sa_init(
        proposals=[GCM_ECP384],
        dh_group=20,
        key_exchange=public_value(20, bytes(48)),
        cookie=cookie,
        notifies=notifies,
        vendor_ids=vids,
        nat_t=True,
    )
    assert message[:4] == NON_ESP_MARKER
    assert ike_major_version(message, nat_t=True) == 2
    parsed = parse_ikev2(message, nat_t=True)
    # RFC 7296 §2.6: N(COOKIE) first; then SA, KE, Ni, the other notifies, the vendor IDs.
    assert parsed.payload_types == (41, 33, 34, 40, 41, 41, 43, 43)
    assert parsed.cookie == cookie
    assert parsed.notify_types == (NotifyType.COOKIE, *(t for t, _ in notifies))
    assert parsed.notifies[2] == Notify(
        0, NotifyType.SIGNATURE_HASH_ALGORITHMS, b"", notifies[1][1]
    )
    assert parsed.vendor_ids == tuple(vids)
    assert parsed.proposals == (GCM_ECP384,)
    assert (parsed.ke_group, parsed.ke_length, parsed.nonce_length) == (20, 96, 32)
    assert parsed.spi_i == SPI and parsed.spi_r == bytes(8)
    assert (parsed.exchange_type, parsed.flags, parsed.message_id) == (34, FLAG_INITIATOR, 0)
    assert not parsed.is_response
    assert parsed.error_notifies == ()
    assert parsed.invalid_ke_group is None
    # Without the marker the same bytes are an ESP packet for the NAT-T parser.
    with pytest.raises(DecodeError, match="non-ESP"):
        parse_ikev2(message[4:], nat_t=True)
    assert strip_non_esp_marker(message) == message[4:]


def test_aead_proposal_without_integrity_and_key_lengths_round_trip() -> None:
    proposals = [
        Proposal((Transform(ENCR, 20, 128), Transform(ENCR, 20, 256), Transform(PRF, 7),
                  Transform(DH, 31), Transform(DH, 19))),
        Proposal((Transform(ENCR, 28), Transform(PRF, 5), Transform(DH, 31))),
        Proposal((Transform(ENCR, 13, 192), Transform(PRF, 8), Transform(INTEG, 5),
                  Transform(DH, 2), Transform(TransformType.ESN, 0))),
    ]  # fmt: skip
    message = sa_init(proposals=proposals, dh_group=31, key_exchange=public_value(31, bytes(32)))
    assert parse_ikev2(message).proposals == tuple(proposals)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"spi_i": bytes(7)}, "8 bytes"),
        ({"spi_i": bytes(8)}, "zero"),
        ({"nonce": bytes(15)}, "nonce"),
        ({"nonce": bytes(257)}, "nonce"),
        ({"proposals": []}, "proposals"),
        ({"proposals": [AES256_SHA256_2048] * 65}, "proposals"),
        ({"proposals": [Proposal(())]}, "no transforms"),
        ({"proposals": [Proposal((Transform(ENCR, 12),) * 128)] * 3}, "transforms"),
        ({"proposals": [Proposal((Transform(ENCR, 12, 70000),))]}, "attribute"),
        ({"proposals": [Proposal((Transform(0, 12),))]}, "transform type"),
        ({"proposals": [Proposal((Transform(ENCR, 1 << 16),))]}, "transform id"),
        ({"dh_group": 1 << 16}, "DH group"),
        ({"key_exchange": b""}, "key exchange"),
        ({"cookie": b""}, "cookie"),
        ({"cookie": bytes(65)}, "cookie"),
        ({"notifies": [(1 << 16, b"")]}, "notify type"),
        ({"vendor_ids": [bytes(70000)]}, "length field"),
    ],
)
def test_bad_request_arguments_raise_value_error(overrides: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        sa_init(**overrides)


def test_oversized_message_is_refused() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        sa_init(vendor_ids=[bytes(60000), bytes(6000)])


# --- IKEv2 responder messages built by hand -------------------------------------------------


def response(*payloads: tuple[int, bytes], exchange: int = 34, flags: int = FLAG_RESPONSE) -> bytes:
    return build_ikev2_message(
        spi_i=SPI, spi_r=SPI_R, exchange_type=exchange, flags=flags, payloads=payloads
    )


def test_accepting_response_names_the_chosen_proposal() -> None:
    chosen = Proposal(
        (Transform(ENCR, 12, 256), Transform(INTEG, 12), Transform(PRF, 5), Transform(DH, 14))
    )
    message = response(
        (PayloadType.SA, ikev2_sa_body([chosen], numbers=[3])),
        (PayloadType.KE, ikev2_ke_body(14, KE_2048)),
        (PayloadType.NONCE, bytes(48)),
        (PayloadType.CERTREQ, b"\x04" + bytes(20)),
        (PayloadType.NOTIFY, ikev2_notify_body(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED)),
        (PayloadType.VENDOR_ID, hashlib.md5(b"strongSwan").digest()),
    )
    parsed = parse_ikev2(message)
    assert parsed.is_response
    assert parsed.spi_r == SPI_R
    assert parsed.proposals == (chosen,)
    assert parsed.chosen_proposal_number == 3
    assert (parsed.ke_group, parsed.ke_length, parsed.nonce_length) == (14, 256, 48)
    assert parsed.certificate_requests == 1
    assert parsed.notify_types == (NotifyType.IKEV2_FRAGMENTATION_SUPPORTED,)
    assert parsed.error_notifies == ()
    assert [known_vendor_id(v) for v in parsed.vendor_ids] == ["strongSwan"]


def test_error_responses() -> None:
    no_proposal = parse_ikev2(
        response((PayloadType.NOTIFY, ikev2_notify_body(NotifyType.NO_PROPOSAL_CHOSEN)))
    )
    assert no_proposal.error_notifies == (NotifyType.NO_PROPOSAL_CHOSEN,)
    assert no_proposal.proposals == ()
    assert no_proposal.chosen_proposal_number is None

    invalid_ke = parse_ikev2(
        response(
            (PayloadType.NOTIFY, ikev2_notify_body(NotifyType.INVALID_KE_PAYLOAD, b"\x00\x13"))
        )
    )
    assert invalid_ke.error_notifies == (NotifyType.INVALID_KE_PAYLOAD,)
    assert invalid_ke.invalid_ke_group == 19

    short = parse_ikev2(
        response((PayloadType.NOTIFY, ikev2_notify_body(NotifyType.INVALID_KE_PAYLOAD, b"\x13")))
    )
    assert short.invalid_ke_group is None

    cookie = parse_ikev2(
        response((PayloadType.NOTIFY, ikev2_notify_body(NotifyType.COOKIE, b"c" * 24)))
    )
    assert cookie.cookie == b"c" * 24
    assert cookie.error_notifies == ()

    with_spi = parse_ikev2(
        response((PayloadType.NOTIFY, ikev2_notify_body(11, b"data", protocol_id=3, spi=b"SPI!")))
    )
    assert with_spi.notifies == (Notify(3, NotifyType.INVALID_SPI, b"SPI!", b"data"),)


def raw_payload(ptype_next: int, body: bytes, flags: int = 0) -> bytes:
    return struct.pack("!BBH", ptype_next, flags, 4 + len(body)) + body


def raw_v2(first: int, body: bytes, *, version: int = 0x20, length: int | None = None) -> bytes:
    total = 28 + len(body) if length is None else length
    return SPI + SPI_R + struct.pack("!BBBBII", first, version, 34, 0x20, 0, total) + body


def test_encrypted_payload_ends_the_cleartext_chain() -> None:
    # IKE_AUTH: SK's next-payload names the first inner payload (IDi, 35); its body is opaque.
    message = raw_v2(46, raw_payload(35, bytes(80)))
    parsed = parse_ikev2(message)
    assert parsed.payload_types == (46,)
    assert parsed.notifies == ()


def test_unknown_payloads_are_skipped_and_critical_ones_noted() -> None:
    body = (
        raw_payload(200, b"abc", flags=0x00)  # unknown 150, not critical
        + raw_payload(41, b"xyz", flags=0x80)  # unknown 200, critical
        + raw_payload(0, ikev2_notify_body(NotifyType.NO_PROPOSAL_CHOSEN))
    )
    parsed = parse_ikev2(raw_v2(150, body))
    assert parsed.payload_types == (150, 200, 41)
    assert parsed.critical_unknown == (200,)
    assert parsed.error_notifies == (NotifyType.NO_PROPOSAL_CHOSEN,)


def test_trailing_bytes_after_the_header_length_are_ignored() -> None:
    message = response((PayloadType.NOTIFY, ikev2_notify_body(NotifyType.NO_PROPOSAL_CHOSEN)))
    assert parse_ikev2(message + b"garbage") == parse_ikev2(message)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "shorter than the IKE header"),
        (raw_v2(0, b"")[:27], "shorter than the IKE header"),
        (raw_v2(0, b"", length=27), "shorter than the header"),
        (raw_v2(0, b"", length=29), "exceeds"),
        (raw_v2(0, b"", version=0x10), "major version 1"),
        (raw_v2(0, b"", version=0x30), "major version 3"),
        (raw_v2(41, b""), "truncated"),
        (raw_v2(41, raw_payload(0, b"")[:3]), "truncated"),
        (raw_v2(41, struct.pack("!BBH", 0, 0, 3)), "less than its header"),
        (raw_v2(41, struct.pack("!BBH", 0, 0, 9) + b"1234"), "truncated"),
        (raw_v2(41, raw_payload(0, b"\x00\x00")), "truncated"),  # Notify without its type
        (raw_v2(41, raw_payload(0, b"\x00\x08\x00\x0e")), "truncated"),  # SPI size 8, no SPI
        (raw_v2(34, raw_payload(0, b"\x00")), "truncated"),  # KE without a group
        (raw_v2(0, b"extra"), "unexpected bytes"),
        (raw_v2(0, bytes(MAX_MESSAGE)), "exceeds 65536"),
    ],
)
def test_hostile_ikev2_messages_raise_decode_error(data: bytes, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        parse_ikev2(data)


def proposal_bytes(transforms: bytes, count: int, last: int = 0, spi: bytes = b"") -> bytes:
    body = struct.pack("!BBBB", 1, 1, len(spi), count) + spi + transforms
    return struct.pack("!BBH", last, 0, 4 + len(body)) + body


def transform_bytes(ttype: int, tid: int, attributes: bytes = b"") -> bytes:
    return struct.pack("!BBHBBH", 0, 0, 8 + len(attributes), ttype, 0, tid) + attributes


@pytest.mark.parametrize(
    ("sa", "match"),
    [
        (proposal_bytes(b"", 0)[:7], "truncated"),
        (struct.pack("!BBH", 0, 0, 7) + b"\x01\x01\x00", "proposal length 7"),
        (proposal_bytes(transform_bytes(1, 12), 2), "truncated"),  # one transform short
        (proposal_bytes(transform_bytes(1, 12) * 2, 1), "unexpected bytes"),  # one too many
        (proposal_bytes(struct.pack("!BBH", 0, 0, 7) + b"\x01\x00\x00", 1), "transform length"),
        (proposal_bytes(transform_bytes(1, 12, b"\x00\x0e\x00\x05ab"), 1), "truncated"),  # TLV
        (proposal_bytes(transform_bytes(1, 12, b"\x80\x0e\x01"), 1), "truncated"),
        (proposal_bytes(transform_bytes(1, 12, b"\x80\x01\x00\x00" * 33), 1), "attributes"),
        (proposal_bytes(transform_bytes(1, 12), 1) * 65, "more than 64 proposals"),
        (
            proposal_bytes(transform_bytes(1, 12) * 200, 200)
            + proposal_bytes(transform_bytes(1, 12) * 57, 57),
            "more than 256 transforms",
        ),
    ],
)
def test_hostile_sa_payloads_raise_decode_error(sa: bytes, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        parse_ikev2(raw_v2(33, raw_payload(0, sa)))


def test_sa_markers_are_not_trusted_and_tlv_attributes_are_skipped() -> None:
    tv_key = b"\x80\x0e\x00\x80"
    tlv_other = b"\x00\x63\x00\x03xyz"
    sa = proposal_bytes(transform_bytes(1, 12, tlv_other + tv_key), 1, last=7, spi=b"12345678")
    parsed = parse_ikev2(raw_v2(33, raw_payload(0, sa)))
    assert parsed.proposals == (Proposal((Transform(1, 12, 128),)),)
    assert parsed.chosen_proposal_number == 1


def test_at_most_64_payloads() -> None:
    notify = ikev2_notify_body(NotifyType.INITIAL_CONTACT)
    body = raw_payload(41, notify) * 64 + raw_payload(0, notify)
    with pytest.raises(DecodeError, match="more than 64 payloads"):
        parse_ikev2(raw_v2(41, body))
    assert (
        len(parse_ikev2(raw_v2(41, raw_payload(41, notify) * 63 + raw_payload(0, notify))).notifies)
        == 64
    )


def test_ike_major_version() -> None:
    assert ike_major_version(sa_init()) == 2
    assert ike_major_version(build_ikev1_main_mode(cookie_i=SPI, transforms=[V1_AES])) == 1
    assert ike_major_version(NON_ESP_MARKER + sa_init(), nat_t=True) == 2
    for bad in (b"", sa_init()[:27], raw_v2(0, b"", version=0x30), raw_v2(0, b"", version=0)):
        with pytest.raises(DecodeError):
            ike_major_version(bad)
    with pytest.raises(DecodeError):
        ike_major_version(b"\x00\x00\x00", nat_t=True)
    with pytest.raises(DecodeError, match="non-ESP"):
        ike_major_version(sa_init(), nat_t=True)


def test_nat_detection_hash() -> None:
    address = socket.inet_aton("192.0.2.1")
    expected = hashlib.sha1(SPI + bytes(8) + address + b"\x01\xf4").digest()
    assert nat_detection_hash(SPI, bytes(8), address, 500) == expected
    assert len(nat_detection_hash(SPI, SPI_R, socket.inet_pton(socket.AF_INET6, "::1"), 4500)) == 20
    with pytest.raises(ValueError):
        nat_detection_hash(SPI, bytes(8), b"\x7f\x00\x01", 500)
    with pytest.raises(ValueError):
        nat_detection_hash(SPI, bytes(8), address, 1 << 16)


# --- IKEv1 ----------------------------------------------------------------------------------

V1_AES = Ikev1Transform(encryption=7, key_length=128, hash=2, auth=1, group=2)


def test_main_mode_layout_byte_for_byte() -> None:
    message = build_ikev1_main_mode(cookie_i=SPI, transforms=[V1_AES])
    attributes = (
        "80010007" "80020002" "80030001" "80040002" "800e0080"  # enc AES, SHA1, PSK, group 2, 128
        "800b0001" "000c0004" "00007080"  # life type seconds, life duration 28800 (4-byte TLV)
    )  # fmt: skip
    expected = (
        SPI.hex() + "00" * 8
        + "01" + "10" + "02" + "00" + "00000000" + f"{28 + 12 + 8 + 8 + 32:08x}"
        + "00" + "00" + f"{4 + 8 + 8 + 8 + 32:04x}" + "00000001" + "00000001"  # SA: DOI, SIT
        + "00" + "00" + f"{8 + 8 + 32:04x}" + "01" + "01" + "00" + "01"  # proposal #1 ISAKMP
        + "00" + "00" + f"{8 + 32:04x}" + "01" + "01" + "0000" + attributes  # transform #1 KEY_IKE
    )  # fmt: skip
    assert message.hex() == expected


def test_main_mode_round_trip() -> None:
    transforms = [
        V1_AES,
        Ikev1Transform(5, None, 1, 65001, 14, life_seconds=86400),
        Ikev1Transform(1, None, 1, 1, 1, life_seconds=None),
        Ikev1Transform(7, 256, 6, 64221, 20, life_seconds=0xFFFFFFFF),
    ]
    vids = [bytes.fromhex("afcad71368a1f1c96b8696fc77570100")]
    message = build_ikev1_main_mode(
        cookie_i=SPI, transforms=transforms, vendor_ids=vids, nat_t=True
    )
    parsed = parse_ikev1(message, nat_t=True)
    assert parsed.transforms == tuple(transforms)
    assert parsed.transform_numbers == (1, 2, 3, 4)
    assert parsed.vendor_ids == tuple(vids)
    assert parsed.payload_types == (1, 13)
    assert (parsed.exchange_type, parsed.flags, parsed.message_id) == (2, 0, 0)
    assert (parsed.cookie_i, parsed.cookie_r) == (SPI, bytes(8))
    assert not (parsed.has_key_exchange or parsed.has_nonce or parsed.has_identity)
    assert not parsed.has_hash and parsed.hash_length is None
    assert not parsed.encrypted
    # Transform payloads chain with next-payload 3 and a final 0 (RFC 2408 §3.6).
    sa_body = message[4 + 28 + 4 :]
    position = 8 + 8  # DOI + situation, then the proposal header
    markers = []
    for _ in transforms:
        markers.append(sa_body[position])
        position += int.from_bytes(sa_body[position + 2 : position + 4], "big")
    assert markers == [3, 3, 3, 0]


def test_aggressive_mode_round_trip() -> None:
    ke = public_value(2, bytes(32))
    message = build_ikev1_aggressive(
        cookie_i=SPI,
        transforms=[V1_AES, Ikev1Transform(5, None, 2, 1, 2)],
        key_exchange=ke,
        nonce=bytes(16),
        identity=b"vpn@example.com",
        vendor_ids=[b"v" * 16],
    )
    parsed = parse_ikev1(message)
    assert parsed.exchange_type == 4
    assert parsed.payload_types == (1, 4, 10, 5, 13)
    assert (parsed.has_key_exchange, parsed.has_nonce, parsed.has_identity) == (True, True, True)
    assert (parsed.ke_length, parsed.nonce_length, parsed.id_type) == (128, 16, 3)
    assert parsed.identity == b"vpn@example.com"
    # ID payload (RFC 2407 §4.6.2): ID_USER_FQDN, UDP (17), port 500.
    assert b"\x03\x11\x01\xf4vpn@example.com" in message


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: build_ikev1_main_mode(cookie_i=bytes(8), transforms=[V1_AES]), "zero"),
        (lambda: build_ikev1_main_mode(cookie_i=SPI[:4], transforms=[V1_AES]), "8 bytes"),
        (lambda: build_ikev1_main_mode(cookie_i=SPI, transforms=[]), "transforms"),
        (lambda: build_ikev1_main_mode(cookie_i=SPI, transforms=[V1_AES] * 256), "transforms"),
        (
            lambda: build_ikev1_main_mode(
                cookie_i=SPI, transforms=[Ikev1Transform(7, 1 << 16, 2, 1, 2)]
            ),
            "attribute",
        ),
        (
            lambda: build_ikev1_main_mode(
                cookie_i=SPI, transforms=[Ikev1Transform(7, 128, 2, 1, 2, life_seconds=0)]
            ),
            "life_seconds",
        ),
        (
            lambda: build_ikev1_aggressive(
                cookie_i=SPI,
                transforms=[V1_AES, Ikev1Transform(7, 128, 2, 1, 14)],
                key_exchange=b"k",
                nonce=bytes(16),
                identity=b"id",
            ),
            "several groups",
        ),
        (
            lambda: build_ikev1_aggressive(
                cookie_i=SPI, transforms=[V1_AES], key_exchange=b"k", nonce=bytes(7), identity=b""
            ),
            "nonce",
        ),
        (
            lambda: build_ikev1_aggressive(
                cookie_i=SPI, transforms=[V1_AES], key_exchange=b"", nonce=bytes(8), identity=b""
            ),
            "key exchange",
        ),
    ],
)
def test_bad_ikev1_arguments_raise_value_error(call: Callable[[], bytes], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def v1_response(*payloads: tuple[int, bytes], exchange: int = 2, flags: int = 0) -> bytes:
    return build_ikev1_message(
        cookie_i=SPI, cookie_r=SPI_R, exchange_type=exchange, flags=flags, payloads=payloads
    )


def test_ikev1_responder_messages() -> None:
    accepted = parse_ikev1(v1_response((1, ikev1_sa_body([V1_AES], numbers=[5])), (13, b"vid-one")))
    assert accepted.transforms == (V1_AES,)
    assert accepted.transform_numbers == (5,)
    assert accepted.cookie_r == SPI_R
    assert accepted.vendor_ids == (b"vid-one",)

    refused = parse_ikev1(v1_response((11, ikev1_notify_body(14)), exchange=5))
    assert refused.notify_types == (14,)
    assert refused.exchange_type == 5

    aggressive = parse_ikev1(
        v1_response(
            (1, ikev1_sa_body([V1_AES])),
            (4, bytes(128)),
            (10, bytes(32)),
            (5, b"\x02\x11\x01\xf4gw"),
            (8, bytes(20)),
            exchange=4,
        )
    )
    assert aggressive.has_hash and aggressive.hash_length == 20
    assert (aggressive.id_type, aggressive.identity) == (2, b"gw")

    encrypted = parse_ikev1(v1_response((8, bytes(40)), exchange=5, flags=1))
    assert encrypted.encrypted
    assert encrypted.payload_types == ()
    assert not encrypted.has_hash


def test_ikev1_sa_edge_cases() -> None:
    # A transform that is not KEY_IKE, a non-ISAKMP proposal, an unknown DOI: nothing parsed.
    sa = ikev1_sa_body([V1_AES])
    not_key_ike = sa[: 8 + 8 + 5] + b"\x02" + sa[8 + 8 + 6 :]
    assert parse_ikev1(v1_response((1, not_key_ike))).transforms == ()
    esp = sa[: 8 + 5] + b"\x03" + sa[8 + 6 :]
    assert parse_ikev1(v1_response((1, esp))).transforms == ()
    other_doi = b"\x00\x00\x00\x00" + sa[4:]
    assert parse_ikev1(v1_response((1, other_doi))).transforms == ()
    # Missing attributes read as 0; a kilobyte lifetime is not a seconds lifetime; a
    # 16-byte TLV value is ignored.
    attributes = b"\x80\x01\x00\x05" + b"\x80\x0b\x00\x02" + b"\x00\x0c\x00\x04\x00\x00\x10\x00"
    attributes += b"\x00\x63\x00\x10" + bytes(16)
    transform = struct.pack("!BBHBBH", 0, 0, 8 + len(attributes), 1, 1, 0) + attributes
    proposal = struct.pack("!BBHBBBB", 0, 0, 8 + len(transform), 1, 1, 0, 1) + transform
    parsed = parse_ikev1(v1_response((1, b"\x00\x00\x00\x01\x00\x00\x00\x01" + proposal)))
    assert parsed.transforms == (Ikev1Transform(5, None, 0, 0, 0, life_seconds=None),)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        SPI + SPI_R + bytes([0, 0x20, 2, 0]) + bytes(8),  # IKEv2 header to the IKEv1 parser
        v1_response((1, b"\x00\x00\x00\x01\x00\x00\x00")),  # SA payload too short
        v1_response((11, b"\x00\x00\x00\x01\x01\x04\x00\x0e")),  # notify SPI missing
        v1_response((5, b"\x03\x11")),  # ID too short
    ],
)
def test_hostile_ikev1_messages_raise_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        parse_ikev1(data)


# --- every prefix ---------------------------------------------------------------------------


def built_samples() -> dict[str, bytes]:
    return {
        "sa_init": sa_init(cookie=b"cookie", notifies=[(16430, b"")], vendor_ids=[b"x" * 16]),
        "main_mode": build_ikev1_main_mode(cookie_i=SPI, transforms=[V1_AES] * 3),
        "aggressive": build_ikev1_aggressive(
            cookie_i=SPI, transforms=[V1_AES], key_exchange=b"k" * 128, nonce=bytes(16),
            identity=b"me",
        ),
    }  # fmt: skip


def with_length(data: bytes) -> bytes:
    """``data`` with the header length patched to its own size (so truncation hits payloads)."""
    if len(data) < 28:
        return data
    return data[:24] + len(data).to_bytes(4, "big") + data[28:]


@pytest.mark.parametrize("name", sorted(set(SAMPLES) | set(built_samples())))
def test_every_prefix_parses_or_raises_decode_error(name: str) -> None:
    data = SAMPLES[name] if name in SAMPLES else built_samples()[name]
    nat_t = name in NAT_T
    if nat_t:
        data = data[4:]
    for end in range(len(data) + 1):
        for candidate in (data[:end], with_length(data[:end])):
            for parser in (parse_ikev2, parse_ikev1, ike_major_version):
                with contextlib.suppress(DecodeError):
                    parser(candidate)


# --- names ----------------------------------------------------------------------------------


def test_names_fixed_by_the_json_contract() -> None:
    expected_encr = {2: "DES", 3: "3DES", 11: "NULL", 12: "AES-CBC", 13: "AES-CTR",
                     14: "AES-CCM-8", 15: "AES-CCM-12", 16: "AES-CCM-16", 18: "AES-GCM-8",
                     19: "AES-GCM-12", 20: "AES-GCM-16", 23: "CAMELLIA-CBC",
                     28: "CHACHA20-POLY1305"}  # fmt: skip
    assert {k: ENCRYPTION_NAMES[k] for k in expected_encr} == expected_encr
    assert {14, 15, 16, 18, 19, 20, 28} <= AEAD_ENCRYPTION
    assert not {2, 3, 11, 12, 13, 23} & AEAD_ENCRYPTION
    assert {12, 13, 14, 15, 16, 18, 19, 20, 23} <= KEYED_ENCRYPTION
    assert not {2, 3, 11, 28} & KEYED_ENCRYPTION
    assert PRF_NAMES == PRF_NAMES | {
        1: "PRF-HMAC-MD5", 2: "PRF-HMAC-SHA1", 4: "PRF-AES128-XCBC", 5: "PRF-HMAC-SHA2-256",
        6: "PRF-HMAC-SHA2-384", 7: "PRF-HMAC-SHA2-512", 8: "PRF-AES128-CMAC",
    }  # fmt: skip
    assert INTEGRITY_NAMES == INTEGRITY_NAMES | {
        1: "HMAC-MD5", 2: "HMAC-SHA1", 3: "DES-MAC", 5: "AES-XCBC", 12: "HMAC-SHA2-256",
        13: "HMAC-SHA2-384", 14: "HMAC-SHA2-512",
    }  # fmt: skip
    dh = {1: "MODP-768", 2: "MODP-1024", 5: "MODP-1536", 14: "MODP-2048", 15: "MODP-3072",
          16: "MODP-4096", 17: "MODP-6144", 18: "MODP-8192", 19: "ECP-256", 20: "ECP-384",
          21: "ECP-521", 22: "MODP-1024-160", 23: "MODP-2048-224", 24: "MODP-2048-256",
          25: "ECP-192", 26: "ECP-224", 27: "BRAINPOOL-224", 28: "BRAINPOOL-256",
          29: "BRAINPOOL-384", 30: "BRAINPOOL-512", 31: "CURVE25519", 32: "CURVE448",
          35: "ML-KEM-512", 36: "ML-KEM-768", 37: "ML-KEM-1024"}  # fmt: skip
    assert {k: DH_NAMES[k] for k in dh} == dh
    assert V1_HASH_NAMES == {1: "MD5", 2: "SHA1", 3: "TIGER", 4: "SHA2-256", 5: "SHA2-384",
                             6: "SHA2-512"}  # fmt: skip
    v1_auth = {1: "PSK", 2: "DSS", 3: "RSA-SIG", 4: "RSA-ENC", 5: "RSA-ENC-REV",
               64221: "HYBRID-RSA", 65001: "XAUTH-PSK", 65005: "XAUTH-RSA"}  # fmt: skip
    assert {k: V1_AUTH_NAMES[k] for k in v1_auth} == v1_auth
    assert {k: V1_ENCRYPTION_NAMES[k] for k in (1, 2, 3, 4, 5, 6)} == {
        1: "DES", 2: "IDEA", 3: "BLOWFISH", 4: "RC5", 5: "3DES", 6: "CAST"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("args", "name"),
    [
        ((12, 128), "AES-CBC-128"),
        ((20, 256), "AES-GCM-16-256"),
        ((3, None), "3DES"),
        ((28, None), "CHACHA20-POLY1305"),
        ((99, None), "ENCR-99"),
        ((99, 128), "ENCR-99-128"),
    ],
)
def test_encryption_name(args: tuple[int, int | None], name: str) -> None:
    assert encryption_name(*args) == name
    assert transform_name(ENCR, *args) == name


def test_transform_and_notify_names() -> None:
    assert transform_name(PRF, 5) == "PRF-HMAC-SHA2-256"
    assert transform_name(PRF, 99) == "PRF-99"
    assert transform_name(INTEG, 12) == "HMAC-SHA2-256"
    assert transform_name(INTEG, 99) == "INTEG-99"
    assert transform_name(DH, 31) == "CURVE25519"
    assert transform_name(DH, 999) == "DH-999"
    assert transform_name(TransformType.ADDKE1, 36) == "ML-KEM-768"
    assert transform_name(TransformType.ESN, 0) == "NO-ESN"
    assert transform_name(77, 1) == "TRANSFORM-77-1"
    assert notify_name(14) == "NO_PROPOSAL_CHOSEN"
    assert notify_name(16430) == "IKEV2_FRAGMENTATION_SUPPORTED"
    assert notify_name(12345) == "NOTIFY-12345"
    assert v1_encryption_name(7, 256) == "AES-CBC-256"
    assert v1_encryption_name(5) == "3DES"
    assert v1_encryption_name(99) == "ENCR-99"
    required = {1: "UNSUPPORTED_CRITICAL_PAYLOAD", 4: "INVALID_IKE_SPI",
                5: "INVALID_MAJOR_VERSION", 7: "INVALID_SYNTAX", 9: "INVALID_MESSAGE_ID",
                11: "INVALID_SPI", 14: "NO_PROPOSAL_CHOSEN", 17: "INVALID_KE_PAYLOAD",
                24: "AUTHENTICATION_FAILED", 16388: "NAT_DETECTION_SOURCE_IP",
                16389: "NAT_DETECTION_DESTINATION_IP", 16390: "COOKIE",
                16406: "REDIRECT_SUPPORTED", 16430: "IKEV2_FRAGMENTATION_SUPPORTED",
                16431: "SIGNATURE_HASH_ALGORITHMS", 16435: "USE_PPK",
                16438: "INTERMEDIATE_EXCHANGE_SUPPORTED"}  # fmt: skip
    assert {code: NotifyType(code).name for code in required} == required


# Hex values as listed in ike-scan 1.9.5's ike-vendor-ids (an independent record of each
# definition); known_vendor_id computes them from the defining strings.
VENDOR_IDS = {
    "882fe56d6fd20dbc2251613b2ebe5beb": "strongSwan",
    "4a131c81070358455c5728f20e95452f": "RFC 3947 NAT-T",
    "90cb80913ebb696e086381b5ec427b1f": "draft-ietf-ipsec-nat-t-ike-02\\n",
    "cd60464335df21f87cfdb2fc68b6a448": "draft-ietf-ipsec-nat-t-ike-02",
    "4485152d18b6bbcd0be8a8469579ddcc": "draft-ietf-ipsec-nat-t-ike-00",
    "42ea5b6f898d9773a575df26e7dd19e1": "draft-ietf-ipsec-nat-t-ike-09",
    "4df37928e9fc4fd1b3262170d515c662": "draft-ietf-ipsec-nat-t-ike",
    "6105c422e76847e43f9684801292aecd": "draft-stenberg-ipsec-nat-traversal-02",
    "afcad71368a1f1c96b8696fc77570100": "DPD 1.0",
    "09002689dfd6b712": "XAUTH",
    "4048b7d56ebce88525e7de7f00d6c2d3": "FRAGMENTATION",
    "4048b7d56ebce88525e7de7f00d6c2d380000000": "FRAGMENTATION",
    "12f5f28c457168a9702d9fe274cc0100": "Cisco Unity 1.0",
    "1e2b516905991c7d7c96fcbfb587e46100000009": "MS NT5 ISAKMPOAKLEY v9",
    "fb1de3cdf341b7ea16b7e5be0855f120": "MS-Negotiation Discovery Capable",
    "26244d38eddb61b3172a36e3d0cfb819": "Microsoft Initial-Contact",
    "e3a5966a76379fe707228231e5ce8652": "IKE CGA version 1",
    "4865617274426561745f4e6f74696679": "HeartBeat_Notify",
}


@pytest.mark.parametrize(("vid", "name"), sorted(VENDOR_IDS.items()))
def test_known_vendor_ids(vid: str, name: str) -> None:
    assert known_vendor_id(bytes.fromhex(vid)) == name


def test_unknown_vendor_ids() -> None:
    for vid in (b"", b"\x00" * 16, bytes.fromhex("afcad71368a1f1c9"), b"strongSwan"):
        assert known_vendor_id(vid) is None


# --- recorded strongSwan 5.9.8 answers and ike-scan requests --------------------------------


def parse(name: str) -> Ikev2Message | Ikev1Message:
    data = SAMPLES[name]
    nat_t = name in NAT_T
    if name in IKEV1:
        assert ike_major_version(data, nat_t=nat_t) == 1
        return parse_ikev1(data, nat_t=nat_t)
    assert ike_major_version(data, nat_t=nat_t) == 2
    return parse_ikev2(data, nat_t=nat_t)


def v2(name: str) -> Ikev2Message:
    message = parse(name)
    assert isinstance(message, Ikev2Message)
    return message


def v1(name: str) -> Ikev1Message:
    message = parse(name)
    assert isinstance(message, Ikev1Message)
    return message


STRONGSWAN_VID = hashlib.md5(b"strongSwan").digest()
CHOSEN_AES128 = Proposal(
    (Transform(ENCR, 12, 128), Transform(INTEG, 12), Transform(PRF, 5), Transform(DH, 14))
)


def check_accept(name: str, request: str | None) -> Ikev2Message:
    message = v2(name)
    assert message.is_response and message.exchange_type == 34
    assert message.spi_r != bytes(8)
    assert message.proposals == (CHOSEN_AES128,)  # charon lists INTEG before PRF
    assert message.chosen_proposal_number == 1
    assert (message.ke_group, message.ke_length, message.nonce_length) == (14, 256, 32)
    assert NotifyType.CHILDLESS_IKEV2_SUPPORTED in message.notify_types
    assert message.vendor_ids == (STRONGSWAN_VID,)
    assert message.error_notifies == ()
    if request is not None:
        assert message.spi_i == v2(request).spi_i
    return message


def test_capture_sa_init_accept() -> None:
    message = check_accept("ikev2_sa_init_accept.bin", "ikev2_request_weak2.bin")
    # charon answered the request's NAT-D notifies with its own: SHA-1 over the SPIs, its
    # address 127.0.0.1 and port 500 (RFC 7296 §2.23), which nat_detection_hash reproduces.
    assert message.payload_types == (33, 34, 40, 41, 41, 41, 41, 43)
    source = next(
        n for n in message.notifies if n.notify_type == NotifyType.NAT_DETECTION_SOURCE_IP
    )
    assert source.data == nat_detection_hash(
        message.spi_i, message.spi_r, socket.inet_aton("127.0.0.1"), 500
    )


def test_capture_sa_init_accept_nat_t() -> None:
    assert SAMPLES["ikev2_sa_init_accept_nat_t.bin"][:4] == NON_ESP_MARKER
    check_accept("ikev2_sa_init_accept_nat_t.bin", None)


def test_capture_cookie_round() -> None:
    challenge = v2("ikev2_cookie.bin")
    assert challenge.payload_types == (41,)
    assert challenge.spi_r == bytes(8)  # no state kept: the responder SPI stays zero
    assert challenge.cookie is not None and 1 <= len(challenge.cookie) <= 64
    retry = v2("ikev2_request_with_cookie.bin")
    assert retry.payload_types[0] == 41 and retry.cookie == challenge.cookie
    assert retry.spi_i == challenge.spi_i
    check_accept("ikev2_sa_init_after_cookie.bin", "ikev2_request_with_cookie.bin")


def test_capture_gcm_ecp384_accept() -> None:
    message = v2("ikev2_sa_init_gcm_ecp384.bin")
    assert message.proposals == (GCM_ECP384,)  # AEAD: no INTEG transform
    assert (message.ke_group, message.ke_length) == (20, 96)
    assert message.spi_i == v2("ikev2_request_gcm.bin").spi_i
    names = [transform_name(t.type, t.id, t.key_length) for t in message.proposals[0].transforms]
    assert names == ["AES-GCM-16-256", "PRF-HMAC-SHA2-384", "ECP-384"]


@pytest.mark.parametrize(
    ("name", "group"),
    [("ikev2_invalid_ke_payload.bin", 20), ("ikev2_invalid_ke_preferred_group.bin", 2)],
)
def test_capture_invalid_ke(name: str, group: int) -> None:
    message = v2(name)
    assert message.error_notifies == (NotifyType.INVALID_KE_PAYLOAD,)
    assert message.invalid_ke_group == group
    assert message.proposals == () and message.spi_r == bytes(8)
    assert message.vendor_ids == (STRONGSWAN_VID,)


@pytest.mark.parametrize("name", ["ikev2_no_proposal_chosen.bin", "ikev2_garbage_ecp_ke.bin"])
def test_capture_no_proposal_chosen(name: str) -> None:
    message = v2(name)
    assert message.payload_types == (41,)
    assert message.error_notifies == (NotifyType.NO_PROPOSAL_CHOSEN,)
    assert len(SAMPLES[name]) == 36


def test_capture_ikev1_main_mode() -> None:
    message = v1("ikev1_main_mode_sa.bin")
    assert message.exchange_type == 2 and message.cookie_r != bytes(8)
    # mm1 prefers aes256-sha256-modp2048: transform #2 of the three offered.
    assert message.transforms == (Ikev1Transform(7, 256, 4, 1, 14, 28800),)
    assert message.transform_numbers == (2,)
    assert [known_vendor_id(v) for v in message.vendor_ids] == ["strongSwan", "XAUTH", "DPD 1.0"]
    assert message.cookie_i == v1("ikev1_request_main_mode.bin").cookie_i

    refused = v1("ikev1_main_mode_no_proposal.bin")
    assert refused.exchange_type == 5  # Informational
    assert refused.notify_types == (14,)
    assert refused.transforms == ()


def test_capture_ikev1_aggressive_mode_returns_a_hash() -> None:
    message = v1("ikev1_aggressive_hash.bin")
    assert message.exchange_type == 4
    assert message.payload_types == (1, 4, 10, 5, 13, 13, 13, 8)
    assert message.transforms == (V1_AES,)
    assert message.has_hash and message.hash_length == 20  # HASH_R, SHA-1
    assert (message.has_key_exchange, message.ke_length) == (True, 128)
    assert (message.id_type, message.identity) == (2, b"gw")  # ID_FQDN of the responder
    request = v1("ikev1_request_aggressive.bin")
    assert request.identity == b"probe@example.com"


def test_capture_ike_scan_requests() -> None:
    main = v1("ikescan_main_mode_request.bin")
    assert main.exchange_type == 2 and len(main.transforms) == 8
    assert {(t.encryption, t.hash, t.group) for t in main.transforms} == {
        (e, h, g) for e in (5, 1) for h in (2, 1) for g in (2, 1)
    }
    aggressive = v1("ikescan_aggressive_request.bin")
    assert aggressive.exchange_type == 4 and aggressive.identity == b"probe"
    assert (aggressive.ke_length, aggressive.id_type) == (128, 3)
    ikev2 = v2("ikescan_ikev2_request.bin")
    assert not ikev2.is_response and ikev2.ke_group == 2
    assert len(ikev2.proposals) == 1 and len(ikev2.proposals[0].transforms) == 11


def test_every_capture_has_an_expectation() -> None:
    covered = {
        "ikev2_sa_init_accept.bin", "ikev2_request_weak2.bin", "ikev2_sa_init_accept_nat_t.bin",
        "ikev2_cookie.bin", "ikev2_request_with_cookie.bin", "ikev2_sa_init_after_cookie.bin",
        "ikev2_sa_init_gcm_ecp384.bin", "ikev2_request_gcm.bin", "ikev2_invalid_ke_payload.bin",
        "ikev2_invalid_ke_preferred_group.bin", "ikev2_no_proposal_chosen.bin",
        "ikev2_garbage_ecp_ke.bin", "ikev1_main_mode_sa.bin", "ikev1_request_main_mode.bin",
        "ikev1_main_mode_no_proposal.bin", "ikev1_aggressive_hash.bin",
        "ikev1_request_aggressive.bin", "ikescan_main_mode_request.bin",
        "ikescan_aggressive_request.bin", "ikescan_ikev2_request.bin",
    }  # fmt: skip
    assert set(SAMPLES) == covered
    assert covered == IKEV2 | IKEV1


def _padded(message: bytes, padding: bytes) -> bytes:
    """``message`` with ``padding`` after its last payload, the header length grown to match."""
    return message[:24] + struct.pack("!I", len(message) + len(padding)) + message[28:] + padding


@pytest.mark.parametrize("pad", [b"\x00", b"\x00\x00", b"\x00\x00\x00"])
def test_ikev1_zero_padding_after_the_last_payload_is_tolerated(pad: bytes) -> None:
    # libreswan 4.10 pads its cleartext Aggressive Mode answer to a multiple of 4 bytes.
    original = SAMPLES["ikev1_aggressive_hash.bin"]
    assert parse_ikev1(_padded(original, pad)) == parse_ikev1(original)


@pytest.mark.parametrize("pad", [b"\x00" * 4, b"\x00\x01", b"\xff"])
def test_ikev1_other_trailing_bytes_are_refused(pad: bytes) -> None:
    with pytest.raises(DecodeError):
        parse_ikev1(_padded(SAMPLES["ikev1_aggressive_hash.bin"], pad))


def test_ikev2_padding_is_not_tolerated() -> None:
    with pytest.raises(DecodeError):
        parse_ikev2(_padded(SAMPLES["ikev2_no_proposal_chosen.bin"], b"\x00\x00"))
