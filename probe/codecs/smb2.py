"""Sans-I/O SMB codec: NetBIOS session framing, SMB1 and SMB2/3 NEGOTIATE, SESSION_SETUP.

Just enough of SMB to grade how a server protects data in transit without credentials:

* framing: the Direct TCP transport of [MS-SMB2] 2.1 (a zero byte and a 24-bit big-endian
  length) and the NetBIOS session service of [RFC1002] 4.3 it descends from (port 139 needs a
  SESSION REQUEST first, [RFC1002] 4.3.2);
* SMB1 NEGOTIATE ([MS-CIFS] 2.2.4.52, [MS-SMB] 2.2.4.5) to tell whether SMB1 is accepted;
* SMB2 NEGOTIATE ([MS-SMB2] 2.2.3, 2.2.4) with the 3.1.1 negotiate contexts (2.2.3.1);
* SESSION_SETUP ([MS-SMB2] 2.2.5, 2.2.6) carrying an SPNEGO (RFC 4178) NTLMSSP NEGOTIATE
  ([MS-NLMP] 2.2.1.1), whose status tells whether unencrypted sessions are refused.

Builders take every random value (client GUID, salt) as an argument and raise ``ValueError``
on bad arguments. Parsers take one NBSS payload (what :meth:`NbssReader.message` returns) and
raise only :class:`DecodeError`: every length and offset the server sends is checked against
the bytes actually present before use.

Error responses. :func:`parse_negotiate_response` raises :class:`Smb2ErrorResponse` (a
``DecodeError`` carrying ``.status``) when the server answers NEGOTIATE with an SMB2 ERROR
response ([MS-SMB2] 2.2.2), e.g. ``STATUS_NOT_SUPPORTED`` when no dialect is in common; a
returned :class:`NegotiateResponse` always has ``status == Status.SUCCESS``.
:func:`parse_session_setup_response` instead *returns* the status, since every status is a
normal answer there (``MORE_PROCESSING_REQUIRED``, ``ACCESS_DENIED``, ...).

All SMB integers are little-endian; only the NBSS header is big-endian.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from probe.codecs.errors import DecodeError

__all__ = [
    "CAP_DFS",
    "CAP_DIRECTORY_LEASING",
    "CAP_ENCRYPTION",
    "CAP_LARGE_MTU",
    "CAP_LEASING",
    "CAP_MULTI_CHANNEL",
    "CAP_NOTIFICATIONS",
    "CAP_PERSISTENT_HANDLES",
    "CIPHER_LABEL",
    "DEFAULT_CAPABILITIES",
    "DIALECT_LABEL",
    "DIALECT_WILDCARD",
    "MAX_NBSS_MESSAGE",
    "NBSS_KEEPALIVE",
    "NBSS_NEGATIVE_RESPONSE",
    "NBSS_POSITIVE_RESPONSE",
    "NBSS_RETARGET_RESPONSE",
    "NBSS_SESSION_MESSAGE",
    "NBSS_SESSION_REQUEST",
    "SECURITY_SIGNING_ENABLED",
    "SECURITY_SIGNING_REQUIRED",
    "SESSION_FLAG_ENCRYPT_DATA",
    "SESSION_FLAG_IS_GUEST",
    "SESSION_FLAG_IS_NULL",
    "SIGNING_LABEL",
    "STATUS_NAMES",
    "Cipher",
    "Command",
    "ContextType",
    "DecodeError",
    "Dialect",
    "NbssReader",
    "NegotiateResponse",
    "NotSmbError",
    "SessionSetupResponse",
    "SigningAlgorithm",
    "Smb1NegotiateResponse",
    "Smb2ErrorResponse",
    "Smb2Header",
    "Status",
    "build_nbss_session_request",
    "build_negotiate_request",
    "build_session_setup_request",
    "build_smb1_negotiate_request",
    "dialect_label",
    "filetime_to_unix",
    "ntlmssp_anonymous_authenticate_message",
    "ntlmssp_anonymous_blob",
    "ntlmssp_negotiate_blob",
    "ntlmssp_negotiate_message",
    "parse_negotiate_response",
    "parse_session_setup_response",
    "parse_smb1_negotiate_response",
    "parse_smb2_header",
    "status_name",
]


class NotSmbError(DecodeError):
    """The peer's answer is not NBSS-framed SMB (e.g. an HTTP, SSH or TLS server)."""


class Smb2ErrorResponse(DecodeError):
    """The server answered with an SMB2 ERROR response ([MS-SMB2] 2.2.2) instead of the
    expected one; ``status`` is its NTSTATUS."""

    def __init__(self, status: int, command: int) -> None:
        super().__init__(f"server answered command {command} with {status_name(status)}")
        self.status = status
        self.command = command


# --- constants ---------------------------------------------------------------------------


class Dialect(IntEnum):
    """SMB2 dialect revisions ([MS-SMB2] 2.2.3)."""

    SMB2_0_2 = 0x0202
    SMB2_1 = 0x0210
    SMB3_0 = 0x0300
    SMB3_0_2 = 0x0302
    SMB3_1_1 = 0x0311


# [MS-SMB2] 2.2.4: the answer to an SMB1 negotiate that offered "SMB 2.???" (3.3.5.3.1).
DIALECT_WILDCARD = 0x02FF

DIALECT_LABEL: dict[int, str] = {
    Dialect.SMB2_0_2: "2.0.2",
    Dialect.SMB2_1: "2.1",
    Dialect.SMB3_0: "3.0",
    Dialect.SMB3_0_2: "3.0.2",
    Dialect.SMB3_1_1: "3.1.1",
}


def dialect_label(dialect: int) -> str:
    return DIALECT_LABEL.get(dialect, f"0x{dialect:04x}")


class Cipher(IntEnum):
    """SMB2_ENCRYPTION_CAPABILITIES cipher ids ([MS-SMB2] 2.2.3.1.2)."""

    AES_128_CCM = 1
    AES_128_GCM = 2
    AES_256_CCM = 3
    AES_256_GCM = 4


CIPHER_LABEL: dict[int, str] = {
    Cipher.AES_128_CCM: "AES-128-CCM",
    Cipher.AES_128_GCM: "AES-128-GCM",
    Cipher.AES_256_CCM: "AES-256-CCM",
    Cipher.AES_256_GCM: "AES-256-GCM",
}


class SigningAlgorithm(IntEnum):
    """SMB2_SIGNING_CAPABILITIES algorithm ids ([MS-SMB2] 2.2.3.1.7)."""

    HMAC_SHA256 = 0
    AES_CMAC = 1
    AES_GMAC = 2


SIGNING_LABEL: dict[int, str] = {
    SigningAlgorithm.HMAC_SHA256: "HMAC-SHA256",
    SigningAlgorithm.AES_CMAC: "AES-CMAC",
    SigningAlgorithm.AES_GMAC: "AES-GMAC",
}


class ContextType(IntEnum):
    """Negotiate context types ([MS-SMB2] 2.2.3.1)."""

    PREAUTH_INTEGRITY_CAPABILITIES = 0x0001
    ENCRYPTION_CAPABILITIES = 0x0002
    COMPRESSION_CAPABILITIES = 0x0003
    NETNAME_NEGOTIATE_CONTEXT_ID = 0x0005
    TRANSPORT_CAPABILITIES = 0x0006
    RDMA_TRANSFORM_CAPABILITIES = 0x0007
    SIGNING_CAPABILITIES = 0x0008


PREAUTH_SHA512 = 0x0001  # [MS-SMB2] 2.2.3.1.1 HashAlgorithms


class Command(IntEnum):
    """SMB2 commands ([MS-SMB2] 2.2.1.2)."""

    NEGOTIATE = 0x0000
    SESSION_SETUP = 0x0001
    LOGOFF = 0x0002
    TREE_CONNECT = 0x0003


class Status(IntEnum):
    """NTSTATUS values an SMB server may answer with ([MS-ERREF] 2.3.1)."""

    SUCCESS = 0x00000000
    PENDING = 0x00000103
    NOT_IMPLEMENTED = 0xC0000002
    INVALID_PARAMETER = 0xC000000D
    INVALID_DEVICE_REQUEST = 0xC0000010
    MORE_PROCESSING_REQUIRED = 0xC0000016
    ACCESS_DENIED = 0xC0000022
    LOGON_FAILURE = 0xC000006D
    ACCOUNT_RESTRICTION = 0xC000006E
    PASSWORD_EXPIRED = 0xC0000071
    ACCOUNT_DISABLED = 0xC0000072
    INSUFFICIENT_RESOURCES = 0xC000009A
    NOT_SUPPORTED = 0xC00000BB
    INVALID_NETWORK_RESPONSE = 0xC00000C3
    BAD_NETWORK_NAME = 0xC00000CC
    REQUEST_NOT_ACCEPTED = 0xC00000D0
    USER_SESSION_DELETED = 0xC0000203
    NETWORK_SESSION_EXPIRED = 0xC000035C


STATUS_NAMES: dict[int, str] = {s.value: f"STATUS_{s.name}" for s in Status}


def status_name(status: int) -> str:
    return STATUS_NAMES.get(status, f"0x{status:08X}")


# SMB2_GLOBAL_CAP_* ([MS-SMB2] 2.2.3 Capabilities).
CAP_DFS = 0x01
CAP_LEASING = 0x02
CAP_LARGE_MTU = 0x04
CAP_MULTI_CHANNEL = 0x08
CAP_PERSISTENT_HANDLES = 0x10
CAP_DIRECTORY_LEASING = 0x20
CAP_ENCRYPTION = 0x40
CAP_NOTIFICATIONS = 0x80
DEFAULT_CAPABILITIES = CAP_DFS | CAP_LEASING | CAP_LARGE_MTU | CAP_ENCRYPTION

# SecurityMode ([MS-SMB2] 2.2.3, 2.2.4, 2.2.5).
SECURITY_SIGNING_ENABLED = 0x01
SECURITY_SIGNING_REQUIRED = 0x02

# SessionFlags ([MS-SMB2] 2.2.6).
SESSION_FLAG_IS_GUEST = 0x0001
SESSION_FLAG_IS_NULL = 0x0002
SESSION_FLAG_ENCRYPT_DATA = 0x0004

# SMB2 header Flags ([MS-SMB2] 2.2.1.2).
FLAG_SERVER_TO_REDIR = 0x00000001
FLAG_ASYNC_COMMAND = 0x00000002
FLAG_SIGNED = 0x00000008

# NBSS packet types ([RFC1002] 4.3.1).
NBSS_SESSION_MESSAGE = 0x00
NBSS_SESSION_REQUEST = 0x81
NBSS_POSITIVE_RESPONSE = 0x82
NBSS_NEGATIVE_RESPONSE = 0x83
NBSS_RETARGET_RESPONSE = 0x84
NBSS_KEEPALIVE = 0x85
_NBSS_FROM_SERVER = (
    NBSS_SESSION_MESSAGE,
    NBSS_POSITIVE_RESPONSE,
    NBSS_NEGATIVE_RESPONSE,
    NBSS_RETARGET_RESPONSE,
    NBSS_KEEPALIVE,
)
_NBSS_HEADER = 4
# Answers to NEGOTIATE and SESSION_SETUP are a few hundred bytes; the 24-bit length of
# [MS-SMB2] 2.1 could claim 16 MiB.
MAX_NBSS_MESSAGE = 1024 * 1024
_MAX_KEEPALIVES = 64

SMB1_PROTOCOL_ID = b"\xffSMB"
SMB2_PROTOCOL_ID = b"\xfeSMB"
SMB2_TRANSFORM_ID = b"\xfdSMB"  # [MS-SMB2] 2.2.41
SMB2_COMPRESSION_ID = b"\xfcSMB"  # [MS-SMB2] 2.2.42
_SMB_PROTOCOL_IDS = (SMB1_PROTOCOL_ID, SMB2_PROTOCOL_ID, SMB2_TRANSFORM_ID, SMB2_COMPRESSION_ID)

_SMB2_HEADER = 64
_SMB1_HEADER = 32
_SMB1_COM_NEGOTIATE = 0x72
_SMB1_NO_DIALECT = 0xFFFF


# --- little-endian helpers ----------------------------------------------------------------


def _field(data: bytes, offset: int, size: int, what: str) -> bytes:
    if offset < 0 or offset + size > len(data):
        raise DecodeError(
            f"truncated: {what} needs bytes {offset}..{offset + size}, have {len(data)}"
        )
    return data[offset : offset + size]


def _u8(data: bytes, offset: int, what: str) -> int:
    return _field(data, offset, 1, what)[0]


def _u16(data: bytes, offset: int, what: str) -> int:
    return int.from_bytes(_field(data, offset, 2, what), "little")


def _u32(data: bytes, offset: int, what: str) -> int:
    return int.from_bytes(_field(data, offset, 4, what), "little")


def _u64(data: bytes, offset: int, what: str) -> int:
    return int.from_bytes(_field(data, offset, 8, what), "little")


def _pad8(n: int) -> int:
    return (n + 7) & ~7


def _check_u16_ids(values: Sequence[int], what: str) -> None:
    for value in values:
        if not 0 <= value <= 0xFFFF:
            raise ValueError(f"{what} {value} does not fit in 16 bits")


# --- NBSS framing ([RFC1002] 4.3, [MS-SMB2] 2.1) ------------------------------------------


def _nbss_frame(payload: bytes) -> bytes:
    """A SESSION MESSAGE with the 24-bit length of Direct TCP ([MS-SMB2] 2.1)."""
    if len(payload) >= 1 << 24:
        raise ValueError("SMB message too long for NBSS framing")
    return bytes([NBSS_SESSION_MESSAGE]) + len(payload).to_bytes(3, "big") + payload


def _netbios_name(name: str, suffix: int) -> bytes:
    """First-level encoding of a NetBIOS name ([RFC1001] 14.1, [RFC1002] 4.1): the name in
    upper case padded with spaces to 15 bytes plus the suffix byte, each nibble as 'A'+n,
    as one 32-byte label followed by the empty root label."""
    raw = name.upper().encode("ascii")
    if not raw or len(raw) > 15:
        raise ValueError(f"NetBIOS name {name!r} must be 1 to 15 ASCII characters")
    padded = raw.ljust(15, b" ") + bytes([suffix])
    encoded = bytes(c for b in padded for c in (0x41 + (b >> 4), 0x41 + (b & 0x0F)))
    return bytes([len(encoded)]) + encoded + b"\x00"


def build_nbss_session_request(called: str, calling: str) -> bytes:
    """NBSS SESSION REQUEST ([RFC1002] 4.3.2) for port 139: the called name gets the file
    server suffix 0x20, the calling name the workstation suffix 0x00. ``*SMBSERVER`` is the
    conventional called name when the server's NetBIOS name is unknown."""
    body = _netbios_name(called, 0x20) + _netbios_name(calling, 0x00)
    # [RFC1002] 4.3.1: 7 flag bits then a 17-bit length; 68 bytes always fit in 16.
    return bytes([NBSS_SESSION_REQUEST, 0]) + len(body).to_bytes(2, "big") + body


class NbssReader:
    """Incremental NBSS de-framing of the server's answer, in the style of
    :class:`probe.codecs.tls.flight.ServerFlightReader`: feed any split, check ``done``.

    Done at the first SESSION MESSAGE (``message()`` returns its payload) or the first
    session response (``session_response`` is 0x82 positive, 0x83 negative (then
    ``negative_code`` holds the [RFC1002] 4.3.4 error code) or 0x84 retarget). Keepalives
    (0x85) are skipped. Later bytes are ignored.

    Raises :class:`NotSmbError` as soon as the first bytes cannot be NBSS-framed SMB, and
    :class:`DecodeError` right after the 4-byte header when a length exceeds ``max_message``.
    """

    def __init__(self, max_message: int = MAX_NBSS_MESSAGE) -> None:
        self._max = max_message
        self._buffer = bytearray()
        self._done = False
        self._message: bytes | None = None
        self._session_response: int | None = None
        self._negative_code: int | None = None
        self._keepalives = 0

    @property
    def done(self) -> bool:
        return self._done

    @property
    def session_response(self) -> int | None:
        return self._session_response

    @property
    def negative_code(self) -> int | None:
        return self._negative_code

    @property
    def keepalives(self) -> int:
        return self._keepalives

    def message(self) -> bytes | None:
        """The payload of the first SESSION MESSAGE (an SMB1 or SMB2 message), once done."""
        return self._message

    def feed(self, data: bytes) -> None:
        if self._done or not data:
            return
        self._buffer += data
        self._parse()
        if self._done:
            self._buffer.clear()

    def _parse(self) -> None:
        buf = self._buffer
        while not self._done and buf:
            kind = buf[0]
            if kind not in _NBSS_FROM_SERVER:
                raise NotSmbError(
                    f"peer did not answer with NBSS/SMB (first bytes {bytes(buf[:16])!r})"
                )
            if len(buf) < _NBSS_HEADER:
                return
            if kind == NBSS_SESSION_MESSAGE:
                length = int.from_bytes(buf[1:4], "big")  # [MS-SMB2] 2.1: 24 bits
            else:
                # [RFC1002] 4.3.1: the low flag bit extends the 16-bit length to 17 bits.
                if buf[1] & 0xFE:
                    raise NotSmbError(
                        f"NBSS flags 0x{buf[1]:02x} are reserved (first bytes {bytes(buf[:16])!r})"
                    )
                length = ((buf[1] & 1) << 16) | int.from_bytes(buf[2:4], "big")
            if length > self._max:
                raise DecodeError(f"NBSS message of {length} bytes exceeds {self._max}")
            if kind == NBSS_SESSION_MESSAGE:
                self._check_protocol_id(length)
            elif kind == NBSS_NEGATIVE_RESPONSE and length != 1:
                raise DecodeError(f"NBSS negative session response of {length} bytes, not 1")
            elif kind == NBSS_RETARGET_RESPONSE and length != 6:
                raise DecodeError(f"NBSS retarget response of {length} bytes, not 6")
            end = _NBSS_HEADER + length
            if len(buf) < end:
                return
            body = bytes(buf[_NBSS_HEADER:end])
            del buf[:end]
            if kind == NBSS_KEEPALIVE:
                self._keepalives += 1
                if self._keepalives > _MAX_KEEPALIVES:
                    raise DecodeError(f"more than {_MAX_KEEPALIVES} NBSS keepalives")
                continue
            if kind == NBSS_SESSION_MESSAGE:
                self._message = body
            else:
                self._session_response = kind
                if kind == NBSS_NEGATIVE_RESPONSE:
                    self._negative_code = body[0]
            self._done = True

    def _check_protocol_id(self, length: int) -> None:
        """Refuse a session message that cannot be SMB as soon as its first bytes arrive."""
        if length < 4:
            raise NotSmbError(f"NBSS session message of {length} bytes cannot hold SMB")
        head = bytes(self._buffer[_NBSS_HEADER : _NBSS_HEADER + 4])
        if not any(pid.startswith(head) for pid in _SMB_PROTOCOL_IDS):
            raise NotSmbError(f"NBSS payload is not SMB (first bytes {bytes(self._buffer[:16])!r})")


# --- SMB2 header ([MS-SMB2] 2.2.1.2) ------------------------------------------------------


@dataclass(frozen=True)
class Smb2Header:
    """An SMB2 packet header, sync or async form ([MS-SMB2] 2.2.1.1, 2.2.1.2)."""

    credit_charge: int
    status: int
    command: int
    credits: int  # CreditRequest in a request, CreditResponse in a response
    flags: int
    next_command: int
    message_id: int
    async_id: int | None  # set when SMB2_FLAGS_ASYNC_COMMAND
    tree_id: int | None  # set in the sync form
    session_id: int
    signature: bytes

    @property
    def is_response(self) -> bool:
        return bool(self.flags & FLAG_SERVER_TO_REDIR)

    @property
    def is_signed(self) -> bool:
        return bool(self.flags & FLAG_SIGNED)

    @property
    def status_name(self) -> str:
        return status_name(self.status)


def _check_smb2_protocol_id(msg: bytes) -> None:
    head = msg[:4]
    if head == SMB2_PROTOCOL_ID:
        return
    if head == SMB1_PROTOCOL_ID:
        raise DecodeError("the server answered with SMB1, not SMB2")
    if head in (SMB2_TRANSFORM_ID, SMB2_COMPRESSION_ID):
        raise DecodeError(f"the server answered with a transform header {head!r}")
    if len(head) < 4 and SMB2_PROTOCOL_ID.startswith(head):
        raise DecodeError(f"truncated SMB2 header ({len(msg)} bytes)")
    raise NotSmbError(f"not an SMB2 message (first bytes {msg[:16]!r})")


def parse_smb2_header(msg: bytes) -> Smb2Header:
    """The 64-byte header at the start of an SMB2 message (one NBSS payload)."""
    _check_smb2_protocol_id(msg)
    if len(msg) < _SMB2_HEADER:
        raise DecodeError(f"truncated SMB2 header ({len(msg)} bytes)")
    structure_size = _u16(msg, 4, "StructureSize")
    if structure_size != _SMB2_HEADER:
        raise DecodeError(f"SMB2 header StructureSize {structure_size}, not 64")
    flags = _u32(msg, 16, "Flags")
    is_async = bool(flags & FLAG_ASYNC_COMMAND)
    return Smb2Header(
        credit_charge=_u16(msg, 6, "CreditCharge"),
        status=_u32(msg, 8, "Status"),
        command=_u16(msg, 12, "Command"),
        credits=_u16(msg, 14, "CreditRequest/Response"),
        flags=flags,
        next_command=_u32(msg, 20, "NextCommand"),
        message_id=_u64(msg, 24, "MessageId"),
        async_id=_u64(msg, 32, "AsyncId") if is_async else None,
        tree_id=None if is_async else _u32(msg, 36, "TreeId"),
        session_id=_u64(msg, 40, "SessionId"),
        signature=msg[48:64],
    )


def _build_smb2_header(
    *, command: int, message_id: int, credit_request: int, session_id: int = 0
) -> bytes:
    return struct.pack(
        "<4sHHIHHIIQIIQ16s",
        SMB2_PROTOCOL_ID,
        _SMB2_HEADER,  # StructureSize
        0,  # CreditCharge: 0 is valid for every dialect for one-credit requests (3.3.5.2.5)
        0,  # ChannelSequence/Reserved (Status in a response)
        command,
        credit_request,
        0,  # Flags: a synchronous request
        0,  # NextCommand
        message_id,
        0,  # Reserved (ProcessId)
        0,  # TreeId
        session_id,
        bytes(16),  # Signature
    )


def _body(msg: bytes, header: Smb2Header, command: int, what: str) -> bytes:
    """The response body after the header; raises on the wrong command or an error response."""
    if not header.is_response:
        raise DecodeError(f"{what}: SMB2 message is a request, not a response")
    if header.command != command:
        raise DecodeError(f"{what}: expected command {command}, got {header.command}")
    if header.next_command:
        raise DecodeError(f"{what}: compounded response (NextCommand {header.next_command})")
    return msg[_SMB2_HEADER:]


def _security_buffer(msg: bytes, offset: int, length: int, what: str) -> bytes:
    """A security buffer whose offset counts from the header start ([MS-SMB2] 2.2.4, 2.2.6)."""
    if length == 0:
        return b""
    if offset < _SMB2_HEADER:
        raise DecodeError(f"{what}: security buffer offset {offset} inside the header")
    return _field(msg, offset, length, f"{what} security buffer")


# --- NEGOTIATE request ([MS-SMB2] 2.2.3) ---------------------------------------------------


def _negotiate_context(context_type: int, data: bytes) -> bytes:
    """One negotiate context ([MS-SMB2] 2.2.3.1): ContextType, DataLength, Reserved, Data."""
    return struct.pack("<HHI", context_type, len(data), 0) + data


def build_negotiate_request(
    *,
    dialects: Sequence[int],
    client_guid: bytes,
    salt: bytes,
    capabilities: int = DEFAULT_CAPABILITIES,
    security_mode: int = SECURITY_SIGNING_ENABLED,
    ciphers: Sequence[int] | None = None,
    signing_algorithms: Sequence[int] | None = None,
    message_id: int = 0,
) -> bytes:
    """An NBSS-framed SMB2 NEGOTIATE request ([MS-SMB2] 2.2.3).

    When 3.1.1 is offered, the negotiate context list ([MS-SMB2] 2.2.3.1) carries
    PREAUTH_INTEGRITY_CAPABILITIES (SHA-512 with ``salt``, 2.2.3.1.1, mandatory), then
    ENCRYPTION_CAPABILITIES (2.2.3.1.2) when ``ciphers`` is a non-empty list, then
    SIGNING_CAPABILITIES (2.2.3.1.7) when ``signing_algorithms`` is a non-empty list.
    ``ciphers=None`` or ``[]`` offers 3.1.1 without an encryption context. Without 3.1.1 the
    context fields are ClientStartTime and are zero.
    """
    if not dialects:
        raise ValueError("at least one dialect is required")
    if len(dialects) > 0xFFFF:
        raise ValueError("too many dialects")
    _check_u16_ids(dialects, "dialect")
    if len(client_guid) != 16:
        raise ValueError("client_guid must be 16 bytes")
    if len(salt) > 0xFFFF:
        raise ValueError("salt too long")
    for name, value in (("capabilities", capabilities), ("security_mode", security_mode)):
        if not 0 <= value <= (0xFFFFFFFF if name == "capabilities" else 0xFFFF):
            raise ValueError(f"{name} {value} out of range")
    if not 0 <= message_id < 1 << 64:
        raise ValueError("message_id out of range")

    contexts: list[bytes] = []
    if Dialect.SMB3_1_1 in dialects:
        contexts.append(
            _negotiate_context(
                ContextType.PREAUTH_INTEGRITY_CAPABILITIES,
                struct.pack("<HHH", 1, len(salt), PREAUTH_SHA512) + salt,
            )
        )
        if ciphers:
            _check_u16_ids(ciphers, "cipher")
            data = struct.pack(f"<H{len(ciphers)}H", len(ciphers), *ciphers)
            contexts.append(_negotiate_context(ContextType.ENCRYPTION_CAPABILITIES, data))
        if signing_algorithms:
            _check_u16_ids(signing_algorithms, "signing algorithm")
            data = struct.pack(
                f"<H{len(signing_algorithms)}H", len(signing_algorithms), *signing_algorithms
            )
            contexts.append(_negotiate_context(ContextType.SIGNING_CAPABILITIES, data))

    fixed_end = _SMB2_HEADER + 36 + 2 * len(dialects)
    context_offset = _pad8(fixed_end) if contexts else 0
    body = struct.pack(
        "<HHHHI16sIHH",
        36,  # StructureSize
        len(dialects),
        security_mode,
        0,  # Reserved
        capabilities,
        client_guid,
        context_offset,  # NegotiateContextOffset (ClientStartTime low half without 3.1.1)
        len(contexts),  # NegotiateContextCount
        0,  # Reserved2
    ) + struct.pack(f"<{len(dialects)}H", *dialects)
    if contexts:
        body += bytes(context_offset - fixed_end)
        for i, context in enumerate(contexts):
            # 2.2.3.1: each context after the first starts 8-byte aligned.
            if i:
                body += bytes(_pad8(len(body)) - len(body))
            body += context
    header = _build_smb2_header(command=Command.NEGOTIATE, message_id=message_id, credit_request=1)
    return _nbss_frame(header + body)


# --- NEGOTIATE response ([MS-SMB2] 2.2.4) --------------------------------------------------


@dataclass(frozen=True)
class NegotiateResponse:
    """An SMB2 NEGOTIATE response ([MS-SMB2] 2.2.4) and its 3.1.1 negotiate contexts.

    ``cipher`` is None both when the ENCRYPTION_CAPABILITIES context is absent (the server
    does not offer 3.1.1 encryption) and when it names cipher 0 (no cipher in common);
    ``encryption_context_present`` tells them apart. ``status`` is always SUCCESS: an error
    answer raises :class:`Smb2ErrorResponse`.
    """

    status: int
    dialect: int  # DialectRevision; 0x02FF (DIALECT_WILDCARD) answers an SMB1 negotiate
    security_mode: int
    capabilities: int
    server_guid: bytes
    max_transact: int
    max_read: int
    max_write: int
    system_time: int  # FILETIME; see filetime_to_unix
    server_start_time: int  # FILETIME, usually 0
    security_blob: bytes  # the server's SPNEGO NegTokenInit hint, may be empty
    cipher: int | None
    encryption_context_present: bool
    signing_algorithm: int | None
    preauth_hash_algorithms: tuple[int, ...]
    contexts: tuple[tuple[int, bytes], ...]  # (ContextType, Data) in the order sent
    header: Smb2Header

    @property
    def signing_enabled(self) -> bool:
        return bool(self.security_mode & SECURITY_SIGNING_ENABLED)

    @property
    def signing_required(self) -> bool:
        return bool(self.security_mode & SECURITY_SIGNING_REQUIRED)

    @property
    def encryption_capability(self) -> bool:
        """SMB2_GLOBAL_CAP_ENCRYPTION: meaningful for 3.0 and 3.0.2; servers do not set it
        for 3.1.1, where the ENCRYPTION_CAPABILITIES context says it instead."""
        return bool(self.capabilities & CAP_ENCRYPTION)

    @property
    def dialect_label(self) -> str:
        return dialect_label(self.dialect)

    @property
    def cipher_label(self) -> str | None:
        if self.cipher is None:
            return None
        return CIPHER_LABEL.get(self.cipher, f"0x{self.cipher:04x}")

    @property
    def signing_label(self) -> str | None:
        if self.signing_algorithm is None:
            return None
        return SIGNING_LABEL.get(self.signing_algorithm, f"0x{self.signing_algorithm:04x}")


def _parse_id_list(data: bytes, what: str) -> tuple[int, ...]:
    """Count (u16) then that many u16 ids, as in 2.2.3.1.2 and 2.2.3.1.7."""
    count = _u16(data, 0, f"{what} count")
    _field(data, 2, 2 * count, f"{what} list")
    return tuple(_u16(data, 2 + 2 * i, what) for i in range(count))


def _parse_contexts(msg: bytes, offset: int, count: int) -> tuple[tuple[int, bytes], ...]:
    """The NegotiateContextList ([MS-SMB2] 2.2.4, 2.2.3.1); offset is from the header start."""
    if count == 0:
        return ()
    if offset < _SMB2_HEADER + 64 or offset % 8:
        raise DecodeError(f"NegotiateContextOffset {offset} is not an aligned offset past the body")
    contexts: list[tuple[int, bytes]] = []
    pos = offset
    for i in range(count):
        if i:
            pos = _pad8(pos)
        context_type = _u16(msg, pos, "ContextType")
        length = _u16(msg, pos + 2, "DataLength")
        data = _field(msg, pos + 8, length, f"negotiate context 0x{context_type:04x} data")
        contexts.append((context_type, data))
        pos += 8 + length
    return tuple(contexts)


def parse_negotiate_response(msg: bytes) -> NegotiateResponse:
    """Parse an SMB2 NEGOTIATE response (one NBSS payload). Raises :class:`Smb2ErrorResponse`
    for an ERROR response ([MS-SMB2] 2.2.2) and DecodeError for anything malformed."""
    header = parse_smb2_header(msg)
    body = _body(msg, header, Command.NEGOTIATE, "NEGOTIATE response")
    structure_size = _u16(body, 0, "NEGOTIATE response StructureSize")
    if header.status != Status.SUCCESS:
        if structure_size == 9:
            raise Smb2ErrorResponse(header.status, header.command)
        raise DecodeError(f"NEGOTIATE response with {status_name(header.status)}")
    if structure_size != 65:
        raise DecodeError(f"NEGOTIATE response StructureSize {structure_size}, not 65")
    security_mode = _u16(body, 2, "SecurityMode")
    dialect = _u16(body, 4, "DialectRevision")
    context_count = _u16(body, 6, "NegotiateContextCount")
    server_guid = _field(body, 8, 16, "ServerGuid")
    capabilities = _u32(body, 24, "Capabilities")
    max_transact = _u32(body, 28, "MaxTransactSize")
    max_read = _u32(body, 32, "MaxReadSize")
    max_write = _u32(body, 36, "MaxWriteSize")
    system_time = _u64(body, 40, "SystemTime")
    server_start_time = _u64(body, 48, "ServerStartTime")
    blob = _security_buffer(
        msg,
        _u16(body, 56, "SecurityBufferOffset"),
        _u16(body, 58, "SecurityBufferLength"),
        "NEGOTIATE response",
    )
    context_offset = _u32(body, 60, "NegotiateContextOffset")

    contexts: tuple[tuple[int, bytes], ...] = ()
    if dialect == Dialect.SMB3_1_1:  # otherwise both fields are Reserved
        contexts = _parse_contexts(msg, context_offset, context_count)
    cipher: int | None = None
    encryption_context_present = False
    signing_algorithm: int | None = None
    preauth: tuple[int, ...] = ()
    for context_type, data in contexts:
        if context_type == ContextType.PREAUTH_INTEGRITY_CAPABILITIES and not preauth:
            # 2.2.3.1.1: HashAlgorithmCount, SaltLength, HashAlgorithms, Salt
            count = _u16(data, 0, "HashAlgorithmCount")
            salt_length = _u16(data, 2, "SaltLength")
            _field(data, 4, 2 * count + salt_length, "HashAlgorithms and Salt")
            preauth = tuple(_u16(data, 4 + 2 * i, "HashAlgorithm") for i in range(count))
        elif context_type == ContextType.ENCRYPTION_CAPABILITIES and not encryption_context_present:
            # 2.2.3.1.2: the server answers with CipherCount 1; cipher 0 = none in common.
            ids = _parse_id_list(data, "Cipher")
            encryption_context_present = True
            cipher = ids[0] if ids and ids[0] != 0 else None
        elif context_type == ContextType.SIGNING_CAPABILITIES and signing_algorithm is None:
            ids = _parse_id_list(data, "SigningAlgorithm")
            signing_algorithm = ids[0] if ids else None
    return NegotiateResponse(
        status=header.status,
        dialect=dialect,
        security_mode=security_mode,
        capabilities=capabilities,
        server_guid=server_guid,
        max_transact=max_transact,
        max_read=max_read,
        max_write=max_write,
        system_time=system_time,
        server_start_time=server_start_time,
        security_blob=blob,
        cipher=cipher,
        encryption_context_present=encryption_context_present,
        signing_algorithm=signing_algorithm,
        preauth_hash_algorithms=preauth,
        contexts=contexts,
        header=header,
    )


# --- SMB1 NEGOTIATE ([MS-CIFS] 2.2.4.52, [MS-SMB] 2.2.4.5) --------------------------------

# [MS-CIFS] 2.2.3.1 Flags / Flags2 as a current client sends them.
_SMB1_FLAGS = 0x18  # CASE_INSENSITIVE | CANONICALIZED_PATHS
# UNICODE | NT_STATUS | EXTENDED_SECURITY ([MS-SMB] 2.2.3.1) | LONG_NAMES
_SMB1_FLAGS2 = 0x8000 | 0x4000 | 0x0800 | 0x0001


def build_smb1_negotiate_request(dialects: Sequence[str] = ("NT LM 0.12",)) -> bytes:
    """An NBSS-framed SMB_COM_NEGOTIATE request ([MS-CIFS] 2.2.4.52.1, [MS-SMB] 2.2.4.5.1):
    the SMB1 header (2.2.3.1), WordCount 0, then each dialect as 0x02 + OEM string + NUL.

    Offer only "NT LM 0.12" to test SMB1: adding "SMB 2.002" or "SMB 2.???" lets an SMB2
    server answer with an SMB2 NEGOTIATE response ([MS-SMB2] 3.3.5.3.1)."""
    if not dialects:
        raise ValueError("at least one dialect is required")
    data = b""
    for dialect in dialects:
        raw = dialect.encode("ascii")
        if b"\x00" in raw:
            raise ValueError("dialect strings cannot contain NUL")
        data += b"\x02" + raw + b"\x00"
    if len(data) > 0xFFFF:
        raise ValueError("dialect list too long")
    header = struct.pack(
        "<4sBIBHH8sHHHHH",
        SMB1_PROTOCOL_ID,
        _SMB1_COM_NEGOTIATE,
        0,  # Status
        _SMB1_FLAGS,
        _SMB1_FLAGS2,
        0,  # PIDHigh
        bytes(8),  # SecurityFeatures
        0,  # Reserved
        0,  # TID
        0xFEFF,  # PIDLow
        0,  # UID
        0,  # MID
    )
    return _nbss_frame(header + b"\x00" + struct.pack("<H", len(data)) + data)


@dataclass(frozen=True)
class Smb1NegotiateResponse:
    """The answer to an SMB1 NEGOTIATE.

    ``smb2`` is set when the server answered with an SMB2 NEGOTIATE response instead (it
    speaks SMB2 and took an "SMB 2.x" dialect from the list); then ``dialect_index`` is
    0xFFFF and the SMB1 fields are zero. SMB1 was accepted exactly when ``accepted``.
    """

    status: int
    dialect_index: int  # 0xFFFF: none of the offered dialects
    word_count: int
    security_mode: int  # [MS-CIFS] 2.2.4.52.2: 0x01 user, 0x02 challenge, 0x04/0x08 signing
    max_mpx_count: int
    max_buffer_size: int
    capabilities: int
    system_time: int  # FILETIME
    smb2: NegotiateResponse | None = None

    @property
    def accepted(self) -> bool:
        return (
            self.smb2 is None
            and self.status == Status.SUCCESS
            and self.dialect_index != _SMB1_NO_DIALECT
        )

    @property
    def signing_enabled(self) -> bool:
        return bool(self.security_mode & 0x04)

    @property
    def signing_required(self) -> bool:
        return bool(self.security_mode & 0x08)


def _smb1_refused(status: int, word_count: int, dialect_index: int) -> Smb1NegotiateResponse:
    return Smb1NegotiateResponse(
        status=status,
        dialect_index=dialect_index,
        word_count=word_count,
        security_mode=0,
        max_mpx_count=0,
        max_buffer_size=0,
        capabilities=0,
        system_time=0,
    )


def parse_smb1_negotiate_response(msg: bytes) -> Smb1NegotiateResponse:
    """Parse the answer to :func:`build_smb1_negotiate_request` (one NBSS payload): an SMB1
    response ([MS-CIFS] 2.2.4.52.2, [MS-SMB] 2.2.4.5.2) or an SMB2 NEGOTIATE response."""
    head = msg[:4]
    if head == SMB2_PROTOCOL_ID:
        smb2 = parse_negotiate_response(msg)
        return Smb1NegotiateResponse(
            status=smb2.status,
            dialect_index=_SMB1_NO_DIALECT,
            word_count=0,
            security_mode=0,
            max_mpx_count=0,
            max_buffer_size=0,
            capabilities=0,
            system_time=0,
            smb2=smb2,
        )
    if head != SMB1_PROTOCOL_ID:
        if len(head) < 4 and SMB1_PROTOCOL_ID.startswith(head):
            raise DecodeError(f"truncated SMB1 header ({len(msg)} bytes)")
        raise NotSmbError(f"not an SMB message (first bytes {msg[:16]!r})")
    if len(msg) < _SMB1_HEADER + 1:
        raise DecodeError(f"truncated SMB1 header ({len(msg)} bytes)")
    command = msg[4]
    if command != _SMB1_COM_NEGOTIATE:
        raise DecodeError(f"SMB1 command 0x{command:02x}, not NEGOTIATE")
    flags = msg[9]
    if not flags & 0x80:  # SMB_FLAGS_REPLY
        raise DecodeError("SMB1 message is a request, not a reply")
    # Status is an NTSTATUS with FLAGS2_NT_STATUS, else a DOS class/code pair ([MS-CIFS]
    # 2.2.3.1); either way 0 is success, so the raw 32 bits are kept.
    status = _u32(msg, 5, "Status")
    word_count = msg[_SMB1_HEADER]
    params = _field(msg, _SMB1_HEADER + 1, 2 * word_count, "SMB1 parameter words")
    if word_count == 0:
        # An error reply carries no words ([MS-CIFS] 2.2.4.52.2 error codes).
        return _smb1_refused(status, 0, _SMB1_NO_DIALECT)
    dialect_index = _u16(params, 0, "DialectIndex")
    if word_count < 17:
        # WordCount 1 with 0xFFFF: no dialect in common; 13 is the LANMAN 2.1 form.
        return _smb1_refused(status, word_count, dialect_index)
    return Smb1NegotiateResponse(
        status=status,
        dialect_index=dialect_index,
        word_count=word_count,
        security_mode=params[2],
        max_mpx_count=_u16(params, 3, "MaxMpxCount"),
        max_buffer_size=_u32(params, 7, "MaxBufferSize"),
        capabilities=_u32(params, 19, "Capabilities"),
        system_time=_u64(params, 23, "SystemTime"),
    )


# --- SESSION_SETUP ([MS-SMB2] 2.2.5, 2.2.6) and its security blob -------------------------


def _der(tag: int, content: bytes) -> bytes:
    """A DER TLV (X.690 8.1) with a definite length."""
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


_OID_SPNEGO = bytes.fromhex("2b0601050502")  # 1.3.6.1.5.5.2
_OID_NTLMSSP = bytes.fromhex("2b0601040182370202" + "0a")  # 1.3.6.1.4.1.311.2.2.10

# [MS-NLMP] 2.2.2.5 NEGOTIATE flags: UNICODE | OEM | REQUEST_TARGET | SIGN | SEAL | NTLM |
# ALWAYS_SIGN | EXTENDED_SESSIONSECURITY | 128 | KEY_EXCH | 56.
NTLMSSP_NEGOTIATE_FLAGS = (
    0x00000001
    | 0x00000002
    | 0x00000004
    | 0x00000010
    | 0x00000020
    | 0x00000200
    | 0x00008000
    | 0x00080000
    | 0x20000000
    | 0x40000000
    | 0x80000000
)


def ntlmssp_negotiate_message(flags: int = NTLMSSP_NEGOTIATE_FLAGS) -> bytes:
    """An NTLMSSP NEGOTIATE_MESSAGE ([MS-NLMP] 2.2.1.1) with empty domain and workstation
    fields and no Version (NTLMSSP_NEGOTIATE_VERSION is not set): 32 bytes."""
    empty_field = struct.pack("<HHI", 0, 0, 0)  # Len, MaxLen, BufferOffset
    return b"NTLMSSP\x00" + struct.pack("<II", 1, flags) + empty_field + empty_field


def ntlmssp_negotiate_blob() -> bytes:
    """The SPNEGO NegTokenInit (RFC 4178 4.2.1) offering NTLMSSP with the NEGOTIATE message
    as its mechToken, inside the GSS-API InitialContextToken framing (RFC 2743 3.1)."""
    mech_types = _der(0x30, _der(0x06, _OID_NTLMSSP))
    neg_token_init = _der(
        0x30,
        _der(0xA0, mech_types) + _der(0xA2, _der(0x04, ntlmssp_negotiate_message())),
    )
    return _der(0x60, _der(0x06, _OID_SPNEGO) + _der(0xA0, neg_token_init))


def build_session_setup_request(
    *,
    security_blob: bytes,
    message_id: int,
    session_id: int = 0,
    security_mode: int = SECURITY_SIGNING_ENABLED,
) -> bytes:
    """An NBSS-framed SMB2 SESSION_SETUP request ([MS-SMB2] 2.2.5), no binding, no
    previous session; the security buffer follows the 24-byte body at offset 88."""
    if not 0 <= security_mode <= 0xFF:
        raise ValueError("security_mode is one byte in SESSION_SETUP")
    if len(security_blob) > 0xFFFF:
        raise ValueError("security blob too long")
    if not 0 <= message_id < 1 << 64 or not 0 <= session_id < 1 << 64:
        raise ValueError("message_id and session_id are 64-bit")
    body = struct.pack(
        "<HBBIIHHQ",
        25,  # StructureSize (24 + 1 byte of buffer)
        0,  # Flags: not a binding request
        security_mode,
        0,  # Capabilities: DFS not asked for
        0,  # Channel
        _SMB2_HEADER + 24,  # SecurityBufferOffset
        len(security_blob),
        0,  # PreviousSessionId
    )
    header = _build_smb2_header(
        command=Command.SESSION_SETUP,
        message_id=message_id,
        credit_request=1,
        session_id=session_id,
    )
    return _nbss_frame(header + body + security_blob)


@dataclass(frozen=True)
class SessionSetupResponse:
    """The answer to SESSION_SETUP: a response ([MS-SMB2] 2.2.6) when the status is SUCCESS
    or MORE_PROCESSING_REQUIRED, else an ERROR response (2.2.2, flags 0, blob empty)."""

    status: int
    session_id: int
    session_flags: int
    security_blob: bytes
    header: Smb2Header

    @property
    def status_name(self) -> str:
        return status_name(self.status)

    @property
    def is_guest(self) -> bool:
        return bool(self.session_flags & SESSION_FLAG_IS_GUEST)

    @property
    def is_null(self) -> bool:
        return bool(self.session_flags & SESSION_FLAG_IS_NULL)

    @property
    def encrypt_data(self) -> bool:
        return bool(self.session_flags & SESSION_FLAG_ENCRYPT_DATA)

    @property
    def ntlm_challenge(self) -> bool:
        """The blob carries an NTLMSSP CHALLENGE_MESSAGE ([MS-NLMP] 2.2.1.2)."""
        return b"NTLMSSP\x00\x02\x00\x00\x00" in self.security_blob


def parse_session_setup_response(msg: bytes) -> SessionSetupResponse:
    """Parse the answer to SESSION_SETUP (one NBSS payload); every status is returned."""
    header = parse_smb2_header(msg)
    body = _body(msg, header, Command.SESSION_SETUP, "SESSION_SETUP response")
    structure_size = _u16(body, 0, "SESSION_SETUP response StructureSize")
    if structure_size != 9:
        raise DecodeError(f"SESSION_SETUP response StructureSize {structure_size}, not 9")
    if header.status in (Status.SUCCESS, Status.MORE_PROCESSING_REQUIRED):
        session_flags = _u16(body, 2, "SessionFlags")
        blob = _security_buffer(
            msg,
            _u16(body, 4, "SecurityBufferOffset"),
            _u16(body, 6, "SecurityBufferLength"),
            "SESSION_SETUP response",
        )
    else:
        # 2.2.2 ERROR: ErrorContextCount, Reserved, ByteCount, ErrorData (not needed).
        _field(body, 0, 8, "ERROR response")
        session_flags, blob = 0, b""
    return SessionSetupResponse(
        status=header.status,
        session_id=header.session_id,
        session_flags=session_flags,
        security_blob=blob,
        header=header,
    )


# --- time ---------------------------------------------------------------------------------

_FILETIME_UNIX_EPOCH = 116_444_736_000_000_000  # 1970-01-01 in 100 ns units since 1601


def filetime_to_unix(ft: int) -> float:
    """A FILETIME ([MS-DTYP] 2.3.3, 100 ns ticks since 1601-01-01 UTC) as Unix seconds."""
    return (ft - _FILETIME_UNIX_EPOCH) / 10_000_000


# NTLMSSP flags for an anonymous AUTHENTICATE: UNICODE | NTLM | ANONYMOUS | ALWAYS_SIGN |
# EXTENDED_SESSIONSECURITY | 128 | 56 ([MS-NLMP] 2.2.2.5); no KEY_EXCH, SIGN or SEAL, since an
# anonymous session has no key to exchange.
NTLMSSP_ANONYMOUS_FLAGS = (
    0x00000001 | 0x00000200 | 0x00000800 | 0x00008000 | 0x00080000 | 0x20000000 | 0x80000000
)


def ntlmssp_anonymous_authenticate_message(flags: int = NTLMSSP_ANONYMOUS_FLAGS) -> bytes:
    """An anonymous NTLMSSP AUTHENTICATE_MESSAGE ([MS-NLMP] 2.2.1.3, 3.2.5.1.2): empty user,
    domain, workstation and NtChallengeResponse, LmChallengeResponse Z(1), no session key."""
    payload_offset = 64  # Signature, MessageType, six 8-byte fields, NegotiateFlags
    lm = struct.pack("<HHI", 1, 1, payload_offset)
    empty = struct.pack("<HHI", 0, 0, payload_offset + 1)
    fields = lm + empty * 5  # Lm, Nt, DomainName, UserName, Workstation, SessionKey
    return b"NTLMSSP\x00" + struct.pack("<I", 3) + fields + struct.pack("<I", flags) + b"\x00"


# NTLMSSP flags for a (guest) AUTHENTICATE: UNICODE | REQUEST_TARGET | NTLM | ALWAYS_SIGN |
# EXTENDED_SESSIONSECURITY | TARGET_INFO | 128 | 56 ([MS-NLMP] 2.2.2.5); no KEY_EXCH: the
# login is meant to fail or become a guest session, so no session key is offered.
NTLMSSP_AUTHENTICATE_FLAGS = (
    0x00000001 | 0x00000004 | 0x00000200 | 0x00008000 | 0x00080000 | 0x00800000
    | 0x20000000 | 0x80000000
)  # fmt: skip


def ntlmssp_authenticate_message(
    *,
    user: str,
    domain: str,
    workstation: str,
    nt_response: bytes,
    lm_response: bytes = b"\0" * 24,
    flags: int = NTLMSSP_AUTHENTICATE_FLAGS,
) -> bytes:
    """An NTLMSSP AUTHENTICATE_MESSAGE ([MS-NLMP] 2.2.1.3) with Unicode names and the given
    responses, no Version, no MIC and no session key."""
    payloads = [
        lm_response,
        nt_response,
        domain.encode("utf-16-le"),
        user.encode("utf-16-le"),
        workstation.encode("utf-16-le"),
        b"",  # EncryptedRandomSessionKey
    ]
    offset = 64  # Signature, MessageType, six 8-byte fields, NegotiateFlags
    fields = b""
    for payload in payloads:
        fields += struct.pack("<HHI", len(payload), len(payload), offset)
        offset += len(payload)
    header = b"NTLMSSP\x00" + struct.pack("<I", 3) + fields + struct.pack("<I", flags)
    return header + b"".join(payloads)


def ntlmssp_authenticate_blob(message: bytes) -> bytes:
    """The SPNEGO NegTokenResp (RFC 4178 4.2.2) carrying an AUTHENTICATE as responseToken."""
    return _der(0xA1, _der(0x30, _der(0xA2, _der(0x04, message))))


def ntlmssp_anonymous_blob() -> bytes:
    """The SPNEGO NegTokenResp (RFC 4178 4.2.2) carrying an anonymous AUTHENTICATE as its
    responseToken: the second SESSION_SETUP leg of a null session."""
    return ntlmssp_authenticate_blob(ntlmssp_anonymous_authenticate_message())
