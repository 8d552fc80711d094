"""Telnet, Redis, PostgreSQL, LDAP and SNMP: recognising the protocol in a flow's first bytes
and the credentials its client sends in the clear (issue 5, "What it finds").

Pure functions on bytes, bounds-checked and capped; hostile input gives ``None`` or ``[]``,
never an exception. Every value found is redacted at once (:func:`probe.pcap.redact.redact`).

- Telnet (RFC 854, RFC 855 option negotiation, RFC 857 ECHO): a stream that opens with
  IAC WILL/WONT/DO/DONT; the user and password are the lines typed after the server's
  ``login:`` and ``Password:`` prompts, IAC sequences and CR NUL removed.
- Redis (RESP, redis.io "Redis serialization protocol specification"): ``*N`` arrays of
  ``$len`` bulk strings, or inline commands; ``AUTH [user] password`` and
  ``HELLO <ver> AUTH user password``.
- PostgreSQL (frontend/backend protocol, "Message Flow" 55.2 and "Message Formats" 55.7):
  StartupMessage (protocol 3.0 = 196608), SSLRequest (80877103) answered ``S`` (TLS follows);
  a PasswordMessage after AuthenticationCleartextPassword (``R``, code 3) is the password,
  after AuthenticationMD5Password (code 5) an MD5 digest (reported as the fact only).
- LDAP (RFC 4511 4.1.1 LDAPMessage, 4.2 BindRequest; BER per X.690 8.1): a simple bind's
  DN and password.
- SNMP v1/v2c (RFC 1157 4, RFC 3416 3 with RFC 1901 3): the community string.
"""

from __future__ import annotations

import re
import struct

from probe.pcap.redact import Direction, Secret, clean_user, redact

__all__ = [
    "MAX_ITEMS",
    "is_ldap",
    "is_redis",
    "is_snmp",
    "is_telnet",
    "ldap_credentials",
    "postgres_state",
    "postgresql_credentials",
    "redis_credentials",
    "snmp_credentials",
    "telnet_credentials",
]

MAX_ITEMS = 256  # messages, commands or lines looked at per direction
MAX_VALUE = 4096  # longest value (a password, a bulk string) considered


def _secret(kind: str, protocol: str, offset: int, user: bytes | None, value: bytes,
            direction: Direction = "client") -> Secret:  # fmt: skip
    return Secret(kind, protocol, direction, offset, clean_user(user), redact(value, kind=kind))


# --- Telnet ------------------------------------------------------------------------------

IAC, SB, SE = 0xFF, 0xFA, 0xF0
_NEGOTIATION = (0xFB, 0xFC, 0xFD, 0xFE)  # WILL, WONT, DO, DONT (RFC 854 "TELNET COMMAND STRUCTURE")
_LOGIN_PROMPT = re.compile(rb"(?i)(?:login|username|user name)[ \t]*:")
_PASSWORD_PROMPT = re.compile(rb"(?i)password[ \t]*:")


def is_telnet(client: bytes, server: bytes) -> bool:
    """Either direction opens with IAC and an option negotiation command (RFC 855 2)."""
    return any(len(p) >= 3 and p[0] == IAC and p[1] in _NEGOTIATION for p in (client, server))


def telnet_text(data: bytes) -> tuple[bytes, list[int]]:
    """The data bytes of a Telnet stream (RFC 854): IAC commands and subnegotiations dropped,
    IAC IAC as one 0xFF, CR NUL as CR. Returns the text and each text byte's offset in ``data``."""
    out = bytearray()
    where: list[int] = []
    i, size = 0, len(data)
    while i < size:
        byte = data[i]
        if byte == IAC:
            if i + 1 >= size:
                break
            command = data[i + 1]
            if command == IAC:
                out.append(IAC)
                where.append(i)
                i += 2
            elif command in _NEGOTIATION:
                i += 3
            elif command == SB:  # RFC 855: IAC SB option ... IAC SE
                end = data.find(bytes((IAC, SE)), i + 2)
                i = size if end < 0 else end + 2
            else:
                i += 2
            continue
        if byte == 0 and out.endswith(b"\r"):  # CR NUL: a bare carriage return
            i += 1
            continue
        out.append(byte)
        where.append(i)
        i += 1
    return bytes(out), where


def _typed_lines(data: bytes) -> list[tuple[int, bytes]]:
    """The lines a Telnet client typed, each ended by CR or LF, with backspace (BS, DEL)
    editing applied: (offset of the line's first byte in ``data``, line)."""
    text, where = telnet_text(data)
    lines: list[tuple[int, bytes]] = []
    line = bytearray()
    start = 0
    for index, byte in enumerate(text):
        if len(lines) >= MAX_ITEMS:
            break
        if byte in (0x0D, 0x0A):
            if line or byte == 0x0D or not (index and text[index - 1] == 0x0D):
                lines.append((start, bytes(line)))
            line = bytearray()
            continue
        if not line:
            start = where[index]
        if byte in (0x08, 0x7F):
            if line:
                line.pop()
        elif len(line) < MAX_VALUE:
            line.append(byte)
    return lines


def telnet_credentials(client: bytes, server: bytes) -> list[Secret]:
    """The user typed after a ``login:`` prompt and the password after ``Password:``. The two
    directions are held apart, so the prompts are taken in order: a login prompt before the
    first password prompt means the first typed line is the user name."""
    prompts, _ = telnet_text(server)
    password_at = _PASSWORD_PROMPT.search(prompts)
    if password_at is None:
        return []
    login_at = _LOGIN_PROMPT.search(prompts, 0, password_at.start())
    lines = [(offset, line) for offset, line in _typed_lines(client) if line]
    user: bytes | None = None
    if login_at is not None:
        if len(lines) < 2:
            return []
        (_, user), (offset, password) = lines[0], lines[1]
    elif lines:
        offset, password = lines[0]
    else:
        return []
    return [_secret("telnet-login", "telnet", offset, user, password)]


# --- Redis -------------------------------------------------------------------------------

# A RESP array of bulk strings, as clients send commands ("Sending commands to a Redis server").
_RESP_COMMAND = re.compile(rb"\*([0-9]{1,3})\r\n\$([0-9]{1,9})\r\n")
_REPLY = re.compile(rb"[+\-:$*%_#,(=!~>|]")
_INLINE_COMMANDS = frozenset({
    b"AUTH", b"PING", b"HELLO", b"SELECT", b"INFO", b"GET", b"SET", b"CLIENT", b"COMMAND",
    b"KEYS", b"SCAN", b"DEL", b"EXISTS", b"QUIT", b"ECHO", b"CONFIG", b"MONITOR",
})  # fmt: skip


def is_redis(client: bytes, server: bytes) -> bool:
    """A RESP command array, or a known inline command answered with a RESP reply."""
    if _RESP_COMMAND.match(client):
        return True
    word = client.split(b"\n", 1)[0].split(b" ", 1)[0].strip().upper()
    return word in _INLINE_COMMANDS and _REPLY.match(server) is not None


def redis_commands(data: bytes) -> list[tuple[int, list[tuple[int, bytes]]]]:
    """Client commands in order: (offset, [(offset, argument), ...]), RESP or inline; stops at
    the first thing that is neither (the prefix cap or a malformed frame)."""
    commands: list[tuple[int, list[tuple[int, bytes]]]] = []
    pos, size = 0, len(data)
    while pos < size and len(commands) < MAX_ITEMS:
        start = pos
        if data[pos] == 0x2A:  # '*': array of bulk strings
            head = re.compile(rb"\*([0-9]{1,3})\r\n").match(data, pos)
            if head is None:
                break
            pos = head.end()
            args: list[tuple[int, bytes]] = []
            for _ in range(int(head.group(1))):
                bulk = re.compile(rb"\$([0-9]{1,9})\r\n").match(data, pos)
                if bulk is None:
                    return commands
                length, begin = int(bulk.group(1)), bulk.end()
                if length > MAX_VALUE or data[begin + length : begin + length + 2] != b"\r\n":
                    return commands
                args.append((begin, data[begin : begin + length]))
                pos = begin + length + 2
            commands.append((start, args))
            continue
        end = data.find(b"\n", pos)
        if end < 0 or end - pos > MAX_VALUE:
            break
        line = data[pos:end].rstrip(b"\r")
        args = [(m.start() + pos, m.group(0)) for m in re.finditer(rb"[^ \t]+", line)]
        if args:
            commands.append((start, args))
        pos = end + 1
    return commands


def redis_credentials(client: bytes) -> list[Secret]:
    """``AUTH password``, ``AUTH user password`` (Redis 6 ACL) and ``HELLO ver AUTH user pass``."""
    out: list[Secret] = []
    for _, args in redis_commands(client):
        names = [value.upper() for _, value in args]
        user: bytes | None = None
        if names[:1] == [b"AUTH"] and len(args) in (2, 3):
            if len(args) == 3:
                user = args[1][1]
            offset, password = args[-1]
        elif names[:1] == [b"HELLO"] and len(args) >= 5 and names[2] == b"AUTH":
            user = args[3][1]
            offset, password = args[4]
        else:
            continue
        if password:
            out.append(_secret("redis-auth", "redis", offset, user, password))
    return out


# --- PostgreSQL --------------------------------------------------------------------------

PROTOCOL_3_0 = 196608  # 55.7 StartupMessage: major 3, minor 0
SSL_REQUEST = 80877103  # 55.7 SSLRequest
GSSENC_REQUEST = 80877104  # 55.7 GSSENCRequest
MAX_MESSAGE = 1 << 20


def postgres_state(client: bytes, server: bytes) -> str | None:
    """``"tls"`` when an SSLRequest was answered ``S`` (55.2.10: the TLS handshake follows),
    ``"postgresql"`` for a StartupMessage (after an SSLRequest refused with ``N``), else None."""
    if len(client) >= 8 and struct.unpack_from("!II", client) == (8, SSL_REQUEST):
        if server[:1] == b"S":
            return "tls"
        if server[:1] == b"N" or not server:
            rest = client[8:]
            return "postgresql" if not rest or _startup(rest) is not None else None
        return None
    return "postgresql" if _startup(client) is not None else None


def _startup(data: bytes) -> dict[bytes, bytes] | None:
    """The parameters of a StartupMessage at the start of ``data`` (55.7), or None."""
    if len(data) < 8:
        return None
    length, version = struct.unpack_from("!II", data)
    if version != PROTOCOL_3_0 or not 8 <= length <= 10_000:
        return None
    body = data[8:length].split(b"\0")
    params = {}
    for i in range(0, min(len(body) - 1, 2 * MAX_ITEMS), 2):
        if not body[i]:
            break
        params[body[i]] = body[i + 1]
    return params


def _messages(data: bytes, pos: int) -> list[tuple[int, int, bytes]]:
    """Typed messages (55.7: Byte1 type, Int32 length counting itself, body) from ``pos``:
    (offset of the body, type, body); the last one may be cut by the prefix cap."""
    out: list[tuple[int, int, bytes]] = []
    while pos + 5 <= len(data) and len(out) < MAX_ITEMS:
        kind, length = data[pos], struct.unpack_from("!I", data, pos + 1)[0]
        if length < 4 or length > MAX_MESSAGE or not 0x20 < kind < 0x7F:
            break
        out.append((pos + 5, kind, data[pos + 5 : pos + 1 + length]))
        pos += 1 + length
    return out


def postgresql_credentials(client: bytes, server: bytes) -> list[Secret]:
    """The PasswordMessage answering the server's authentication request (55.2.2)."""
    start = 8 if client[4:8] == struct.pack("!I", SSL_REQUEST) else 0
    if server[:1] == b"S":
        return []  # TLS follows the SSLRequest
    params = _startup(client[start:])
    if params is None:
        return []
    server_at = 1 if start else 0
    asked = [
        struct.unpack_from("!I", body)[0]
        for _, kind, body in _messages(server, server_at)
        if kind == ord("R") and len(body) >= 4
    ]
    method = next((code for code in asked if code in (3, 5, 10)), None)
    length = struct.unpack_from("!I", client, start)[0]
    user = params.get(b"user")
    out = []
    for offset, kind, body in _messages(client, start + length):
        if kind != ord("p"):
            continue
        value = body.split(b"\0", 1)[0]
        if not value or len(value) > MAX_VALUE:
            continue
        md5 = re.fullmatch(rb"md5[0-9a-f]{32}", value) is not None
        if method == 5 or (method is None and md5):
            out.append(_secret("postgresql-md5", "postgresql", offset, user, value))
        elif method == 3:
            out.append(_secret("postgresql-password", "postgresql", offset, user, value))
        break  # only the first answer: later 'p' messages are SASL or GSS data
    return out


# --- BER (X.690 8.1), for LDAP and SNMP ----------------------------------------------------


def _tlv(data: bytes, pos: int, end: int) -> tuple[int, int, int] | None:
    """(tag, start of contents, end of contents) of the definite-length element at ``pos``
    (X.690 8.1.2 single-byte tags, 8.1.3 lengths up to 4 bytes), or None."""
    limit = min(end, len(data))  # ``end`` may lie past a prefix cut by the cap
    if pos < 0 or pos + 2 > limit:
        return None
    tag, first = data[pos], data[pos + 1]
    if tag & 0x1F == 0x1F:
        return None  # multi-byte tags do not occur in LDAP or SNMP messages
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > limit:
            return None  # indefinite length is not allowed (RFC 4511 5.1)
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > end:
        return None
    return tag, pos, pos + length


def _ldap_message(data: bytes, pos: int = 0) -> tuple[int, int, int, int] | None:
    """An LDAPMessage (RFC 4511 4.1.1: SEQUENCE { messageID INTEGER, protocolOp
    [APPLICATION n], ... }) at ``pos``, possibly cut by the prefix cap: (operation number,
    start and end of the operation's contents, end of the message), or None."""
    head = _tlv(data, pos, 1 << 31)
    if head is None or head[0] != 0x30:
        return None
    end = min(head[2], len(data))
    msgid = _tlv(data, head[1], end)
    if msgid is None or msgid[0] != 0x02 or not 1 <= msgid[2] - msgid[1] <= 4:
        return None
    operation = _tlv(data, msgid[2], 1 << 31)
    if operation is None or operation[0] & 0xC0 != 0x40 or operation[0] & 0x1F > 25:
        return None
    return operation[0] & 0x1F, operation[1], min(operation[2], end), head[2]


def is_ldap(client: bytes, server: bytes) -> bool:
    """Either direction starts with an LDAPMessage whose operation fits its direction."""
    request = _ldap_message(client)
    response = _ldap_message(server)
    requests = {0, 2, 3, 6, 8, 10, 12, 14, 16, 23}  # RFC 4511 4.2 - 4.12 request operations
    return (request is not None and request[0] in requests) or (
        response is not None and request is None and response[0] not in requests
    )


def ldap_credentials(client: bytes) -> list[Secret]:
    """Simple BindRequests (RFC 4511 4.2: version INTEGER, name LDAPDN, authentication
    simple [0] OCTET STRING) with a non-empty password (an empty one is an unauthenticated
    bind, RFC 4513 5.1.2)."""
    out = []
    pos = 0
    for _ in range(MAX_ITEMS):
        message = _ldap_message(client, pos)
        if message is None:
            break
        number, start, end, pos = message
        if number != 0:
            continue
        version = _tlv(client, start, end)
        if version is None or version[0] != 0x02:
            continue
        name = _tlv(client, version[2], end)
        if name is None or name[0] != 0x04:
            continue
        auth = _tlv(client, name[2], end)
        if auth is None or auth[0] != 0x80 or auth[1] == auth[2]:
            continue
        password = client[auth[1] : auth[2]]
        dn = client[name[1] : name[2]][:MAX_VALUE]
        out.append(_secret("ldap-simple-bind", "ldap", auth[1], dn, password))
    return out


# --- SNMP --------------------------------------------------------------------------------


def _snmp_community(datagram: bytes) -> tuple[int, bytes] | None:
    """(offset, community) of an SNMPv1 or v2c message (RFC 1157 4: SEQUENCE { version
    INTEGER 0, community OCTET STRING, data PDU }; RFC 1901 3: version 1; RFC 3416 3 PDUs are
    context tags 0 to 8), or None."""
    message = _tlv(datagram, 0, len(datagram))
    if message is None or message[0] != 0x30:
        return None
    end = message[2]
    version = _tlv(datagram, message[1], end)
    if version is None or version[0] != 0x02 or datagram[version[1] : version[2]] not in (
        b"\x00", b"\x01",
    ):  # fmt: skip
        return None
    community = _tlv(datagram, version[2], end)
    if community is None or community[0] != 0x04:
        return None
    pdu = _tlv(datagram, community[2], end)
    if pdu is None or not 0xA0 <= pdu[0] <= 0xA8:
        return None
    return community[1], datagram[community[1] : community[2]]


def is_snmp(datagrams: list[bytes]) -> bool:
    return bool(datagrams) and all(_snmp_community(d) is not None for d in datagrams[:2])


def snmp_credentials(client: tuple[bytes, ...], server: tuple[bytes, ...]) -> list[Secret]:
    """Each distinct community string, in the first direction it was seen."""
    out = []
    seen: set[bytes] = set()
    directions: tuple[tuple[Direction, tuple[bytes, ...]], ...] = (
        ("client", client),
        ("server", server),
    )
    for direction, datagrams in directions:
        offset = 0
        for datagram in datagrams[:MAX_ITEMS]:
            found = _snmp_community(datagram)
            if found is not None and found[1] and found[1] not in seen:
                seen.add(found[1])
                out.append(
                    _secret("snmp-community", "snmp", offset + found[0], None, found[1], direction)
                )
            offset += len(datagram)
    return out
