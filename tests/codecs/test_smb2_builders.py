"""Builders of probe.codecs.smb2 (byte layout and round trip through a test-only request
parser) and the hand-made edge cases of NbssReader and the parsers."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import pytest

from probe.codecs.errors import DecodeError
from probe.codecs.smb2 import (
    CAP_ENCRYPTION,
    CIPHER_LABEL,
    DEFAULT_CAPABILITIES,
    DIALECT_LABEL,
    MAX_NBSS_MESSAGE,
    NBSS_NEGATIVE_RESPONSE,
    NBSS_RETARGET_RESPONSE,
    PREAUTH_SHA512,
    SECURITY_SIGNING_ENABLED,
    SECURITY_SIGNING_REQUIRED,
    SIGNING_LABEL,
    STATUS_NAMES,
    Cipher,
    Command,
    ContextType,
    Dialect,
    NbssReader,
    NotSmbError,
    SigningAlgorithm,
    Smb2ErrorResponse,
    Status,
    build_nbss_session_request,
    build_negotiate_request,
    build_session_setup_request,
    build_smb1_negotiate_request,
    filetime_to_unix,
    ntlmssp_anonymous_authenticate_message,
    ntlmssp_anonymous_blob,
    ntlmssp_negotiate_blob,
    parse_negotiate_response,
    parse_session_setup_response,
    parse_smb1_negotiate_response,
    parse_smb2_header,
    status_name,
)

GUID = bytes(range(16))
SALT = bytes(range(100, 132))


# --- a test-only parser of our own requests -------------------------------------------------


@dataclass(frozen=True)
class NegotiateRequest:
    security_mode: int
    capabilities: int
    client_guid: bytes
    context_offset: int
    dialects: tuple[int, ...]
    contexts: tuple[tuple[int, bytes], ...]
    message_id: int


def unframe(data: bytes) -> bytes:
    assert data[0] == 0
    assert int.from_bytes(data[1:4], "big") == len(data) - 4
    return data[4:]


def parse_negotiate_request(data: bytes) -> NegotiateRequest:
    msg = unframe(data)
    assert msg[:4] == b"\xfeSMB"
    assert struct.unpack_from("<H", msg, 4)[0] == 64
    assert struct.unpack_from("<H", msg, 12)[0] == Command.NEGOTIATE
    message_id = struct.unpack_from("<Q", msg, 24)[0]
    size, count, security_mode, reserved, caps = struct.unpack_from("<HHHHI", msg, 64)
    assert (size, reserved) == (36, 0)
    guid = msg[76:92]
    offset, ctx_count, reserved2 = struct.unpack_from("<IHH", msg, 92)
    assert reserved2 == 0
    dialects = struct.unpack_from(f"<{count}H", msg, 100)
    contexts = []
    pos = offset
    for i in range(ctx_count):
        if i:
            pos = (pos + 7) & ~7
        assert pos % 8 == 0
        ctype, length, reserved3 = struct.unpack_from("<HHI", msg, pos)
        assert reserved3 == 0
        contexts.append((ctype, msg[pos + 8 : pos + 8 + length]))
        pos += 8 + length
    assert pos == len(msg) or ctx_count == 0
    return NegotiateRequest(
        security_mode, caps, guid, offset, dialects, tuple(contexts), message_id
    )


def test_negotiate_request_with_all_contexts() -> None:
    data = build_negotiate_request(
        dialects=list(Dialect),
        client_guid=GUID,
        salt=SALT,
        ciphers=list(Cipher),
        signing_algorithms=list(SigningAlgorithm),
        message_id=7,
    )
    # Research note: with those three contexts the message is 200 bytes.
    assert data[:4] == b"\x00\x00\x00\xc8"
    request = parse_negotiate_request(data)
    assert request.dialects == (0x0202, 0x0210, 0x0300, 0x0302, 0x0311)
    assert request.client_guid == GUID
    assert request.security_mode == SECURITY_SIGNING_ENABLED
    assert request.capabilities == DEFAULT_CAPABILITIES
    assert request.capabilities & CAP_ENCRYPTION
    assert request.context_offset == 112  # 64 + 36 + 10 = 110, padded to 8
    assert request.message_id == 7
    assert request.contexts == (
        (ContextType.PREAUTH_INTEGRITY_CAPABILITIES, struct.pack("<HHH", 1, 32, 1) + SALT),
        (ContextType.ENCRYPTION_CAPABILITIES, bytes.fromhex("0400 0100 0200 0300 0400")),
        (ContextType.SIGNING_CAPABILITIES, bytes.fromhex("0300 0000 0100 0200")),
    )


def test_negotiate_request_311_without_encryption_context() -> None:
    options: tuple[list[int] | None, ...] = (None, [])
    for ciphers in options:
        request = parse_negotiate_request(
            build_negotiate_request(
                dialects=[Dialect.SMB3_1_1],
                client_guid=GUID,
                salt=SALT,
                ciphers=ciphers,
                capabilities=0,
                security_mode=SECURITY_SIGNING_REQUIRED,
            )
        )
        assert [t for t, _ in request.contexts] == [ContextType.PREAUTH_INTEGRITY_CAPABILITIES]
        assert request.context_offset == 104  # 64 + 36 + 2 = 102, padded
        assert request.capabilities == 0
        assert request.security_mode == SECURITY_SIGNING_REQUIRED


def test_negotiate_request_without_311_has_no_contexts() -> None:
    data = build_negotiate_request(
        dialects=[Dialect.SMB2_0_2, Dialect.SMB3_0],
        client_guid=GUID,
        salt=SALT,
        ciphers=list(Cipher),
        signing_algorithms=[0],
    )
    assert len(data) == 4 + 64 + 36 + 4
    request = parse_negotiate_request(data)
    assert request.context_offset == 0 and request.contexts == ()
    assert data[-4:] == bytes.fromhex("0202 0003")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"dialects": []},
        {"client_guid": b"short"},
        {"dialects": [0x10000]},
        {"ciphers": [-1], "dialects": [0x0311]},
        {"capabilities": 1 << 32},
        {"message_id": -1},
    ],
)
def test_negotiate_request_rejects_bad_arguments(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"dialects": [0x0311], "client_guid": GUID, "salt": SALT}
    args.update(kwargs)
    with pytest.raises(ValueError):
        build_negotiate_request(**args)  # type: ignore[arg-type]


def test_smb1_negotiate_request_layout() -> None:
    data = build_smb1_negotiate_request()
    msg = unframe(data)
    assert msg[:5] == b"\xffSMBr"
    assert len(msg) == 32 + 1 + 2 + len(b"\x02NT LM 0.12\x00")
    assert msg[9] == 0x18  # Flags
    assert struct.unpack_from("<H", msg, 10)[0] & 0x4800 == 0x4800  # NT_STATUS, EXT_SEC
    assert msg[32] == 0  # WordCount
    assert struct.unpack_from("<H", msg, 33)[0] == 12
    assert msg[35:] == b"\x02NT LM 0.12\x00"
    multi = unframe(build_smb1_negotiate_request(("NT LM 0.12", "SMB 2.???")))
    assert msg[35:] + b"\x02SMB 2.???\x00" == multi[35:]
    with pytest.raises(ValueError):
        build_smb1_negotiate_request(())


def test_session_setup_request_layout() -> None:
    blob = ntlmssp_negotiate_blob()
    data = build_session_setup_request(security_blob=blob, message_id=1, session_id=0x1234)
    msg = unframe(data)
    assert struct.unpack_from("<H", msg, 12)[0] == Command.SESSION_SETUP
    assert struct.unpack_from("<Q", msg, 24)[0] == 1
    assert struct.unpack_from("<Q", msg, 40)[0] == 0x1234
    size, flags, mode, caps, channel, offset, length, previous = struct.unpack_from(
        "<HBBIIHHQ", msg, 64
    )
    assert (size, flags, mode, caps, channel, previous) == (25, 0, 1, 0, 0, 0)
    assert (offset, length) == (88, len(blob))
    assert msg[88:] == blob
    with pytest.raises(ValueError):
        build_session_setup_request(security_blob=blob, message_id=1, security_mode=0x100)


def test_ntlmssp_negotiate_blob_is_spnego_with_ntlmssp() -> None:
    blob = ntlmssp_negotiate_blob()
    assert blob[0] == 0x60 and blob[1] == len(blob) - 2
    assert blob[2:10] == bytes.fromhex("06062b0601050502")  # SPNEGO OID
    assert bytes.fromhex("060a2b06010401823702020a") in blob  # NTLMSSP OID
    ntlm = blob[-32:]
    assert ntlm[:8] == b"NTLMSSP\x00"
    message_type, flags = struct.unpack_from("<II", ntlm, 8)
    assert message_type == 1
    assert flags & 0x00080000 and flags & 0x00000200  # EXTENDED_SESSIONSECURITY, NTLM
    assert ntlm[16:32] == bytes(16)  # empty domain and workstation fields
    assert blob[-34:-32] == b"\x04\x20"  # OCTET STRING of 32 bytes


def test_ntlmssp_anonymous_blob() -> None:
    message = ntlmssp_anonymous_authenticate_message()
    assert len(message) == 65
    assert struct.unpack_from("<I", message, 8)[0] == 3
    assert struct.unpack_from("<HHI", message, 12) == (1, 1, 64)  # LmChallengeResponse Z(1)
    assert struct.unpack_from("<I", message, 60)[0] & 0x800  # NTLMSSP_NEGOTIATE_ANONYMOUS
    blob = ntlmssp_anonymous_blob()
    assert blob[0] == 0xA1 and blob.endswith(message)


def test_nbss_session_request_encoding() -> None:
    # RFC 1001 14.1: "FRED" padded with spaces; the called name has suffix 0x20 ("CA").
    data = build_nbss_session_request("fred", "probe")
    assert data[:4] == bytes([0x81, 0, 0, 68])
    assert data[4:38] == b"\x20" + b"EGFCEFEE" + b"CA" * 11 + b"CA" + b"\x00"
    assert data[38] == 0x20 and data[71] == 0
    assert data[69:71] == b"AA"  # calling name suffix 0x00
    with pytest.raises(ValueError):
        build_nbss_session_request("a-name-that-is-too-long", "x")


# --- NbssReader edge cases -------------------------------------------------------------------


def test_keepalives_are_skipped() -> None:
    reader = NbssReader()
    for byte in b"\x85\x00\x00\x00" * 3 + b"\x00\x00\x00\x04\xfeSMB":
        reader.feed(bytes([byte]))
    assert reader.done and reader.keepalives == 3
    assert reader.message() == b"\xfeSMB"


def test_keepalive_flood_is_refused() -> None:
    with pytest.raises(DecodeError):
        NbssReader().feed(b"\x85\x00\x00\x00" * 100)


def test_negative_and_retarget_responses() -> None:
    reader = NbssReader()
    reader.feed(b"\x83\x00\x00\x01\x82")
    assert reader.done and reader.session_response == NBSS_NEGATIVE_RESPONSE
    assert reader.negative_code == 0x82
    reader = NbssReader()
    reader.feed(b"\x84\x00\x00\x06\x7f\x00\x00\x01\x01\xbd")
    assert reader.session_response == NBSS_RETARGET_RESPONSE
    with pytest.raises(DecodeError):
        NbssReader().feed(b"\x83\x00\x00\x05")


def test_huge_length_raises_after_four_bytes() -> None:
    reader = NbssReader()
    reader.feed(b"\x00\xff\xff")
    assert not reader.done
    with pytest.raises(DecodeError, match="exceeds"):
        reader.feed(b"\xff")
    limit = MAX_NBSS_MESSAGE
    with pytest.raises(DecodeError):
        NbssReader().feed(b"\x00" + (limit + 1).to_bytes(3, "big"))


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 400 Bad Request\r\n",
        b"SSH-2.0-OpenSSH_9.2\r\n",
        b"\x15\x03\x03\x00\x02\x02\x28",
        b"\x00\x00\x00\x10GET / HTTP/1.1\r\n",
        b"\x00\x00\x00\x02ab",
        b"\x82\x10\x00\x00",
    ],
)
def test_not_smb_is_refused_early(data: bytes) -> None:
    reader = NbssReader()
    with pytest.raises(NotSmbError):
        for i in range(len(data)):
            reader.feed(data[i : i + 1])
    assert i < 9  # before the whole answer was needed


# --- parsers on hand-made messages -----------------------------------------------------------


def smb2_header(*, command: int, status: int = 0, flags: int = 1) -> bytes:
    return struct.pack(
        "<4sHHIHHIIQIIQ16s", b"\xfeSMB", 64, 0, status, command, 1, flags, 0, 5, 0, 0, 9, bytes(16)
    )


def test_async_header() -> None:
    header = parse_smb2_header(
        smb2_header(command=0, flags=3)[:32] + struct.pack("<Q", 77) + bytes(24)
    )
    assert header.async_id == 77 and header.tree_id is None


@pytest.mark.parametrize(
    "msg",
    [
        b"",
        b"\xfeSM",
        b"\xfeSMB" + bytes(10),
        smb2_header(command=0, flags=0) + bytes(65),  # a request
        smb2_header(command=1) + bytes(65),  # wrong command
        smb2_header(command=0) + struct.pack("<H", 65),  # truncated body
        b"\xffSMB" + bytes(100),
        b"\xfdSMB" + bytes(100),
    ],
)
def test_negotiate_response_garbage(msg: bytes) -> None:
    with pytest.raises(DecodeError):
        parse_negotiate_response(msg)


def test_negotiate_error_response_and_hostile_offsets() -> None:
    error = smb2_header(command=0, status=Status.ACCESS_DENIED) + struct.pack("<HBBI", 9, 0, 0, 0)
    with pytest.raises(Smb2ErrorResponse) as info:
        parse_negotiate_response(error)
    assert info.value.status == Status.ACCESS_DENIED
    body = bytearray(64)
    struct.pack_into("<HHHH", body, 0, 65, 1, 0x0311, 1)
    struct.pack_into("<HHI", body, 56, 128, 0xFFFF, 0)  # security buffer past the end
    with pytest.raises(DecodeError):
        parse_negotiate_response(smb2_header(command=0) + bytes(body))
    struct.pack_into("<HHI", body, 56, 0, 0, 0x7FFFFFF8)  # context offset past the end
    with pytest.raises(DecodeError):
        parse_negotiate_response(smb2_header(command=0) + bytes(body))
    struct.pack_into("<I", body, 60, 129)  # unaligned
    with pytest.raises(DecodeError):
        parse_negotiate_response(smb2_header(command=0) + bytes(body) + bytes(16))


def test_session_setup_response_garbage() -> None:
    with pytest.raises(DecodeError):
        parse_session_setup_response(smb2_header(command=1) + struct.pack("<HHHH", 9, 0, 72, 50))
    with pytest.raises(DecodeError):
        parse_session_setup_response(smb2_header(command=1) + struct.pack("<HH", 17, 0))
    denied = smb2_header(command=1, status=Status.ACCESS_DENIED) + struct.pack("<HBBI", 9, 0, 0, 0)
    assert parse_session_setup_response(denied).status == Status.ACCESS_DENIED


def test_smb1_parser_edges() -> None:
    header = bytearray(32)
    header[:5] = b"\xffSMBr"
    header[9] = 0x80
    struct.pack_into("<I", header, 5, Status.NOT_SUPPORTED)
    refused = parse_smb1_negotiate_response(bytes(header) + b"\x00\x00\x00")
    assert not refused.accepted and refused.status == Status.NOT_SUPPORTED
    with pytest.raises(DecodeError):
        parse_smb1_negotiate_response(bytes(header) + b"\x11" + bytes(10))  # 17 words, short
    with pytest.raises(NotSmbError):
        parse_smb1_negotiate_response(b"HTTP/1.1 200 OK\r\n")
    header[9] = 0
    with pytest.raises(DecodeError):
        parse_smb1_negotiate_response(bytes(header) + b"\x00\x00\x00")


def test_labels_and_time() -> None:
    assert DIALECT_LABEL == {
        0x0202: "2.0.2",
        0x0210: "2.1",
        0x0300: "3.0",
        0x0302: "3.0.2",
        0x0311: "3.1.1",
    }
    assert CIPHER_LABEL == {1: "AES-128-CCM", 2: "AES-128-GCM", 3: "AES-256-CCM", 4: "AES-256-GCM"}
    assert SIGNING_LABEL == {0: "HMAC-SHA256", 1: "AES-CMAC", 2: "AES-GMAC"}
    assert STATUS_NAMES[0xC0000022] == "STATUS_ACCESS_DENIED"
    assert int(Status.MORE_PROCESSING_REQUIRED) == 0xC0000016
    assert int(Status.NOT_SUPPORTED) == 0xC00000BB
    assert status_name(0xC0001234) == "0xC0001234"
    assert PREAUTH_SHA512 == 1
    assert filetime_to_unix(116_444_736_000_000_000) == 0.0
    assert filetime_to_unix(116_444_736_000_000_000 + 15_000_000) == 1.5


def test_ntlmssp_authenticate_message_layout() -> None:
    """[MS-NLMP] 2.2.1.3: six (len, maxlen, offset) fields point at the payloads in order."""
    import struct

    from probe.codecs.smb2 import ntlmssp_authenticate_blob, ntlmssp_authenticate_message

    nt = bytes(range(24))
    msg = ntlmssp_authenticate_message(user="üser", domain="D", workstation="WS", nt_response=nt)
    assert msg[:8] == b"NTLMSSP\x00" and struct.unpack_from("<I", msg, 8) == (3,)
    fields = [struct.unpack_from("<HHI", msg, 12 + 8 * i) for i in range(6)]
    payloads = [msg[offset : offset + length] for length, _, offset in fields]
    assert [length == maxlen for length, maxlen, _ in fields] == [True] * 6
    assert payloads == [
        b"\x00" * 24,
        nt,
        "D".encode("utf-16-le"),
        "üser".encode("utf-16-le"),
        "WS".encode("utf-16-le"),
        b"",
    ]
    assert fields[0][2] == 64  # payloads start right after NegotiateFlags: no Version, no MIC
    blob = ntlmssp_authenticate_blob(msg)
    assert blob[0] == 0xA1 and blob.endswith(msg)  # SPNEGO NegTokenResp wrapping the token
