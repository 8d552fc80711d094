"""STARTTLS dialogs: the plaintext exchanges that upgrade a connection to TLS, sans-I/O.

One dialog per protocol, written as a generator that yields what to send and how to tell
that the server's reply is complete, and receives that reply. ``StartTlsDialog`` drives the
generator for the I/O edge (probe.net.starttls): it is fed the server's bytes, says when the
current reply is complete, and ends with a ``StartTlsOutcome``. No sockets, no clock.

Every dialog tries the upgrade command even when the capability is not advertised (the
answer is the truth; ``advertised`` records what the server claimed), except XMPP (RFC 6120
forbids it, and servers leave it unanswered) and MySQL, whose SSL request is only defined when
the server's handshake carries CLIENT_SSL.

Every reply is capped (``MAX_REPLY_BYTES``); bytes the server sends after accepting the
upgrade and before the TLS handshake are a protocol error (they would be read as TLS, the
mistake behind STARTTLS command injection, CVE-2011-0411).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator
from dataclasses import dataclass

from probe.codecs.errors import DecodeError

__all__ = [
    "MAX_REPLY_BYTES",
    "PROTOCOLS",
    "StartTlsDialog",
    "StartTlsError",
    "StartTlsOutcome",
]

MAX_REPLY_BYTES = 64 * 1024
MAX_REPLY_LINES = 200
_SHOWN_REPLY = 200  # characters of a refusal kept for the report


class StartTlsError(DecodeError):
    """The server's plaintext side broke the protocol (or is not that protocol at all)."""


@dataclass(frozen=True)
class StartTlsOutcome:
    upgraded: bool  # the server accepted the upgrade: TLS comes next
    # The server announced the upgrade (EHLO/CAPABILITY/CAPA/FEAT/stream features/MySQL
    # CLIENT_SSL); None where the protocol has no such announcement (LDAP, PostgreSQL).
    advertised: bool | None
    reply: str  # the server's answer to the upgrade (or why none was asked), printable, capped


# A framer returns the length of the first complete reply in the buffer, or None for "more".
Framer = Callable[[bytes], int | None]


@dataclass(frozen=True)
class _Ask:
    send: bytes
    frame: Framer | None  # None: nothing is read back (the next step follows at once)


_Script = Generator[_Ask, bytes, StartTlsOutcome]


def _printable(data: bytes) -> str:
    text = data.decode("utf-8", "replace")
    text = "".join(c if c.isprintable() else " " for c in text)
    text = " ".join(text.split())
    return text[:_SHOWN_REPLY]


# --- framers -------------------------------------------------------------------------------


def _lines(buffer: bytes) -> list[bytes]:
    """Complete lines (without their line ends) at the start of buffer."""
    if buffer.count(b"\n") > MAX_REPLY_LINES:
        raise StartTlsError(f"reply longer than {MAX_REPLY_LINES} lines")
    return buffer.split(b"\n")[:-1]


def _coded_reply(buffer: bytes) -> int | None:
    """SMTP (RFC 5321 4.2.1) and FTP (RFC 959 4.2) replies: "250-..." lines up to the one with
    the same code and a space ("250 ..."); FTP lets the middle lines be anything."""
    lines = _lines(buffer)
    if not lines:
        return None
    first = lines[0]
    if len(first) < 3 or not first[:3].isdigit():
        raise StartTlsError(f"not a reply line: {_printable(first)!r}")
    if len(first) == 3 or first[3:4] in (b" ", b"\r"):
        return len(first) + 1
    if first[3:4] != b"-":
        raise StartTlsError(f"not a reply line: {_printable(first)!r}")
    end = first[:3] + b" "
    offset = len(first) + 1
    for line in lines[1:]:
        offset += len(line) + 1
        if line.startswith(end) or line.rstrip(b"\r") == first[:3]:
            return offset
    return None


def _one_line(buffer: bytes) -> int | None:
    end = buffer.find(b"\n")
    return None if end < 0 else end + 1


def _pop3_multiline(buffer: bytes) -> int | None:
    """RFC 1939 3: "+OK" then lines up to a line holding only "."; "-ERR" is one line."""
    first = _one_line(buffer)
    if first is None or not buffer.startswith(b"+OK"):
        return first
    offset = first
    for line in _lines(buffer[first:]):
        offset += len(line) + 1
        if line.rstrip(b"\r") == b".":
            return offset
    return None


def _imap_tagged(tag: bytes) -> Framer:
    """RFC 9051 2.2.2: untagged "* ..." lines, then the line that starts with our tag."""

    def frame(buffer: bytes) -> int | None:
        offset = 0
        for line in _lines(buffer):
            offset += len(line) + 1
            if line.startswith(tag + b" "):
                return offset
        return None

    return frame


def _ber_message(buffer: bytes) -> int | None:
    """One BER-encoded LDAPMessage (RFC 4511 4.1.1, X.690 8.1.3): SEQUENCE, definite length."""
    if not buffer:
        return None
    if buffer[0] != 0x30:
        raise StartTlsError("not an LDAP message (no SEQUENCE)")
    if len(buffer) < 2:
        return None
    first = buffer[1]
    if first < 0x80:
        return 2 + first if len(buffer) >= 2 + first else None
    count = first & 0x7F
    if count == 0 or count > 3:  # indefinite forms are not allowed in LDAP; > 16 MiB is hostile
        raise StartTlsError("LDAP message length not usable")
    if len(buffer) < 2 + count:
        return None
    length = int.from_bytes(buffer[2 : 2 + count], "big")
    total = 2 + count + length
    if total > MAX_REPLY_BYTES:
        raise StartTlsError(f"LDAP message of {total} bytes exceeds the cap")
    return total if len(buffer) >= total else None


_XMPP_FEATURES_END = re.compile(rb"</(?:[\w.-]+:)?features\s*>|<(?:[\w.-]+:)?features\s*/>")
_XMPP_STREAM_ERROR = re.compile(rb"<(?:[\w.-]+:)?error[\s>].*?</(?:[\w.-]+:)?error\s*>", re.S)
_XMPP_STREAM_END = b"</stream:stream>"


def _xmpp_features(buffer: bytes) -> int | None:
    """RFC 6120 4.3.2: the server's stream header, then <stream:features/>; or an error."""
    for pattern in (_XMPP_FEATURES_END, _XMPP_STREAM_ERROR):
        match = pattern.search(buffer)
        if match:
            return match.end()
    end = buffer.find(_XMPP_STREAM_END)
    return None if end < 0 else end + len(_XMPP_STREAM_END)


_XMPP_TLS_ANSWER = re.compile(
    rb"<(?:proceed|failure)\b[^>]*?(?:/>|>.*?</(?:proceed|failure)>)", re.S
)


def _xmpp_tls_answer(buffer: bytes) -> int | None:
    """RFC 6120 5.4.2.3/5.4.2.2: <proceed/> or <failure/> in the STARTTLS namespace."""
    for pattern in (_XMPP_TLS_ANSWER, _XMPP_STREAM_ERROR):
        match = pattern.search(buffer)
        if match:
            return match.end()
    end = buffer.find(_XMPP_STREAM_END)
    return None if end < 0 else end + len(_XMPP_STREAM_END)


def _one_byte(buffer: bytes) -> int | None:
    return 1 if buffer else None


def _mysql_packet(buffer: bytes) -> int | None:
    """MySQL protocol packet: 3-byte little-endian payload length, sequence id, payload."""
    if len(buffer) < 4:
        return None
    total = 4 + int.from_bytes(buffer[:3], "little")
    if total > MAX_REPLY_BYTES:
        raise StartTlsError(f"MySQL packet of {total} bytes exceeds the cap")
    return total if len(buffer) >= total else None


# --- dialogs -------------------------------------------------------------------------------


def _code(reply: bytes) -> int:
    return int(reply[:3])


def _smtp(server_name: str) -> _Script:
    """RFC 3207: greeting 220, EHLO (250 with the STARTTLS keyword), STARTTLS -> 220."""
    del server_name  # EHLO names the client, not the server
    greeting = yield _Ask(b"", _coded_reply)
    if _code(greeting) != 220:
        raise StartTlsError(f"SMTP server refused the session: {_printable(greeting)}")
    ehlo = yield _Ask(b"EHLO probe.invalid\r\n", _coded_reply)
    advertised = False
    if _code(ehlo) == 250:
        keywords = (line[4:].strip().split(b" ")[0].upper() for line in _lines(ehlo))
        advertised = b"STARTTLS" in keywords
    answer = yield _Ask(b"STARTTLS\r\n", _coded_reply)
    return StartTlsOutcome(_code(answer) == 220, advertised, _printable(answer))


def _imap(server_name: str) -> _Script:
    """RFC 9051 6.2.1 (and RFC 3501): greeting, CAPABILITY (unless the greeting carries it),
    "STARTTLS" -> tagged OK."""
    del server_name
    greeting = yield _Ask(b"", _one_line)
    upper = greeting.upper()
    if upper.startswith(b"* BYE"):
        raise StartTlsError(f"IMAP server refused the session: {_printable(greeting)}")
    if not upper.startswith((b"* OK", b"* PREAUTH")):
        raise StartTlsError(f"not an IMAP greeting: {_printable(greeting)}")
    capabilities = greeting
    if b"[CAPABILITY " not in upper:
        capabilities = yield _Ask(b"a1 CAPABILITY\r\n", _imap_tagged(b"a1"))
    advertised = b"STARTTLS" in re.split(rb"[\s\[\]]+", capabilities.upper())
    answer = yield _Ask(b"a2 STARTTLS\r\n", _imap_tagged(b"a2"))
    tagged = _lines(answer)[-1]
    return StartTlsOutcome(tagged.upper().startswith(b"A2 OK"), advertised, _printable(tagged))


def _pop3(server_name: str) -> _Script:
    """RFC 2595 4: greeting +OK, CAPA (the STLS capability), STLS -> +OK."""
    del server_name
    greeting = yield _Ask(b"", _one_line)
    if not greeting.startswith(b"+OK"):
        raise StartTlsError(f"not a POP3 greeting: {_printable(greeting)}")
    capabilities = yield _Ask(b"CAPA\r\n", _pop3_multiline)
    advertised = capabilities.startswith(b"+OK") and any(
        line.strip().upper() == b"STLS" for line in _lines(capabilities)[1:]
    )
    answer = yield _Ask(b"STLS\r\n", _one_line)
    return StartTlsOutcome(answer.startswith(b"+OK"), advertised, _printable(answer))


def _ftp(server_name: str) -> _Script:
    """RFC 4217 4: greeting 220, FEAT (RFC 2389; "AUTH TLS" listed), AUTH TLS -> 234."""
    del server_name
    greeting = yield _Ask(b"", _coded_reply)
    if _code(greeting) != 220:
        raise StartTlsError(f"FTP server refused the session: {_printable(greeting)}")
    features = yield _Ask(b"FEAT\r\n", _coded_reply)
    advertised = False
    if _code(features) == 211:
        for line in _lines(features)[1:]:
            words = line.strip().upper().replace(b";", b" ").split()
            advertised = advertised or (words[:1] == [b"AUTH"] and b"TLS" in words[1:])
    answer = yield _Ask(b"AUTH TLS\r\n", _coded_reply)
    return StartTlsOutcome(_code(answer) == 234, advertised, _printable(answer))


# RFC 4511 4.14.1: ExtendedRequest with requestName 1.3.6.1.4.1.1466.20037, messageID 1.
_LDAP_STARTTLS_OID = b"1.3.6.1.4.1.1466.20037"
_LDAP_STARTTLS_REQUEST = (
    bytes([0x30, 7 + len(_LDAP_STARTTLS_OID), 0x02, 0x01, 0x01])
    + bytes([0x77, 2 + len(_LDAP_STARTTLS_OID), 0x80, len(_LDAP_STARTTLS_OID)])
    + _LDAP_STARTTLS_OID
)
# RFC 4511 4.1.9 resultCode names for the answers a refusal usually carries.
_LDAP_RESULTS = {
    0: "success",
    1: "operationsError",
    2: "protocolError",
    12: "unavailableCriticalExtension",
    51: "busy",
    52: "unavailable",
    53: "unwillingToPerform",
    80: "other",
}


def _ber_element(data: bytes, offset: int) -> tuple[int, bytes, int]:
    """(tag, contents, next offset) of the definite-length element at offset."""
    if offset + 2 > len(data):
        raise StartTlsError("LDAP answer truncated")
    tag, first = data[offset], data[offset + 1]
    offset += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 3 or offset + count > len(data):
            raise StartTlsError("LDAP answer has a bad length")
        length = int.from_bytes(data[offset : offset + count], "big")
        offset += count
    if offset + length > len(data):
        raise StartTlsError("LDAP answer truncated")
    return tag, data[offset : offset + length], offset + length


def _ldap_result(message: bytes) -> tuple[int, str]:
    """resultCode and diagnosticMessage of an ExtendedResponse (RFC 4511 4.12)."""
    tag, body, _ = _ber_element(message, 0)
    tag, _message_id, offset = _ber_element(body, 0)
    if tag != 0x02:
        raise StartTlsError("LDAP answer without a messageID")
    tag, response, _ = _ber_element(body, offset)
    if tag != 0x78:  # [APPLICATION 24] ExtendedResponse
        raise StartTlsError(f"LDAP answer is not an ExtendedResponse (tag 0x{tag:02x})")
    tag, code, offset = _ber_element(response, 0)
    if tag != 0x0A or not 1 <= len(code) <= 4:
        raise StartTlsError("LDAP ExtendedResponse without a resultCode")
    result = int.from_bytes(code, "big")
    diagnostic = ""
    for _ in range(2):  # matchedDN, then diagnosticMessage (both OCTET STRING)
        if offset >= len(response):
            break
        tag, text, offset = _ber_element(response, offset)
        diagnostic = _printable(text) if tag == 0x04 else diagnostic
    return result, diagnostic


def _ldap(server_name: str) -> _Script:
    """RFC 4511 4.14: the StartTLS extended operation; resultCode success means go."""
    del server_name
    answer = yield _Ask(_LDAP_STARTTLS_REQUEST, _ber_message)
    result, diagnostic = _ldap_result(answer)
    name = _LDAP_RESULTS.get(result, str(result))
    shown = f"{name}: {diagnostic}" if diagnostic else name
    return StartTlsOutcome(result == 0, None, shown)


def _xmpp_domain(server_name: str) -> str:
    # The stream's 'to' is the service domain (RFC 6120 4.7.2); keep it XML-safe.
    return re.sub(r"[^A-Za-z0-9.:\[\]-]", "", server_name) or "localhost"


def _xmpp(server_name: str) -> _Script:
    """RFC 6120 5.4: open a client stream, read the features, <starttls/> -> <proceed/>."""
    header = (
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client'"
        " xmlns:stream='http://etherx.jabber.org/streams'"
        f" to='{_xmpp_domain(server_name)}' version='1.0'>"
    ).encode()
    features = yield _Ask(header, _xmpp_features)
    error = _XMPP_STREAM_ERROR.search(features)
    if error or _XMPP_FEATURES_END.search(features) is None:
        raise StartTlsError(f"XMPP server ended the stream: {_printable(features[-300:])}")
    advertised = (
        re.search(rb"<starttls\b[^>]*urn:ietf:params:xml:ns:xmpp-tls", features) is not None
    )
    if not advertised:
        # RFC 6120 5.3.1: the client must not send <starttls/> unless offered, and servers
        # (Prosody) then leave it unanswered.
        return StartTlsOutcome(False, False, "no <starttls/> in the stream features")
    answer = yield _Ask(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", _xmpp_tls_answer)
    upgraded = re.match(rb"\s*<proceed\b", answer) is not None
    return StartTlsOutcome(upgraded, advertised, _printable(answer))


# PostgreSQL protocol 53.2.9 / 55.7 SSLRequest: length 8, code 80877103.
_POSTGRES_SSL_REQUEST = (8).to_bytes(4, "big") + (80877103).to_bytes(4, "big")


def _postgres(server_name: str) -> _Script:
    """PostgreSQL SSLRequest: the server answers one byte, 'S' (go) or 'N' (no TLS)."""
    del server_name
    answer = yield _Ask(_POSTGRES_SSL_REQUEST, _one_byte)
    if answer == b"S":
        return StartTlsOutcome(True, None, "S")
    if answer == b"N":
        return StartTlsOutcome(False, None, "N: the server does not accept SSL")
    if answer == b"E":  # servers before protocol 3 answer with an error message
        return StartTlsOutcome(False, None, "E: the server answered with an error")
    raise StartTlsError(f"not a PostgreSQL answer to SSLRequest: {answer!r}")


# MySQL client/server protocol, capability flags.
_CLIENT_LONG_PASSWORD = 0x1
_CLIENT_PROTOCOL_41 = 0x200
_CLIENT_SSL = 0x800
_CLIENT_SECURE_CONNECTION = 0x8000


def _mysql_capabilities(packet: bytes) -> tuple[int, str]:
    """Capability flags and server version of a HandshakeV10 packet (after the 4-byte header)."""
    payload = packet[4:]
    if payload[:1] == b"\xff":  # ERR_Packet: e.g. "Host ... is not allowed to connect"
        raise StartTlsError(f"MySQL server refused the session: {_printable(payload[3:])}")
    if payload[:1] != b"\x0a":
        raise StartTlsError("not a MySQL protocol 10 handshake")
    end = payload.find(b"\x00", 1)
    if end < 0:
        raise StartTlsError("MySQL handshake truncated (server version)")
    version = _printable(payload[1:end])
    # version NUL, thread id (4), auth data part 1 (8), filler (1), capability flags low (2)
    low = end + 1 + 4 + 8 + 1
    if len(payload) < low + 2:
        raise StartTlsError("MySQL handshake truncated (capabilities)")
    capabilities = int.from_bytes(payload[low : low + 2], "little")
    # character set (1), status flags (2), capability flags high (2): optional in old servers
    high = low + 2 + 1 + 2
    if len(payload) >= high + 2:
        capabilities |= int.from_bytes(payload[high : high + 2], "little") << 16
    return capabilities, version


def _mysql(server_name: str) -> _Script:
    """MySQL: the server's HandshakeV10 says CLIENT_SSL; the client's SSLRequest packet
    (sequence 1) is answered by nothing: TLS starts at once."""
    del server_name
    handshake = yield _Ask(b"", _mysql_packet)
    capabilities, version = _mysql_capabilities(handshake)
    if not capabilities & _CLIENT_SSL:
        return StartTlsOutcome(False, False, f"server {version} does not offer CLIENT_SSL")
    flags = _CLIENT_LONG_PASSWORD | _CLIENT_PROTOCOL_41 | _CLIENT_SSL | _CLIENT_SECURE_CONNECTION
    payload = (
        flags.to_bytes(4, "little")
        + (1 << 24).to_bytes(4, "little")  # max packet size
        + bytes([0x21])  # utf8_general_ci
        + bytes(23)
    )
    request = len(payload).to_bytes(3, "little") + b"\x01" + payload
    yield _Ask(request, None)
    return StartTlsOutcome(True, True, f"server {version} offers CLIENT_SSL")


# URL scheme -> dialog. "submission" (RFC 6409, port 587) speaks SMTP's.
PROTOCOLS: dict[str, Callable[[str], _Script]] = {
    "smtp": _smtp,
    "submission": _smtp,
    "imap": _imap,
    "pop3": _pop3,
    "ftp": _ftp,
    "ldap": _ldap,
    "xmpp": _xmpp,
    "postgres": _postgres,
    "mysql": _mysql,
}


class StartTlsDialog:
    """Drives one protocol's dialog. The edge loop:

    while not dialog.finished:
        send(dialog.request)
        if dialog.expects_reply:
            feed dialog until dialog.done (or the peer closes: an error)
        dialog.advance()
    dialog.outcome
    """

    def __init__(self, protocol: str, server_name: str) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"no STARTTLS dialog for {protocol!r}")
        self.protocol = protocol
        self._script = PROTOCOLS[protocol](server_name)
        self._buffer = b""
        self._reply_length: int | None = None
        self._outcome: StartTlsOutcome | None = None
        self._step: _Ask | None = next(self._script)

    @property
    def finished(self) -> bool:
        return self._outcome is not None

    @property
    def outcome(self) -> StartTlsOutcome:
        if self._outcome is None:
            raise RuntimeError("the dialog has not finished")
        return self._outcome

    @property
    def request(self) -> bytes:
        if self._step is None:
            raise RuntimeError("the dialog has finished")
        return self._step.send

    @property
    def expects_reply(self) -> bool:
        return self._step is not None and self._step.frame is not None

    def feed(self, data: bytes) -> None:
        if self._step is None or self._step.frame is None:
            raise StartTlsError("the server sent data when none was expected")
        self._buffer += data
        if len(self._buffer) > MAX_REPLY_BYTES:
            raise StartTlsError(f"{self.protocol} reply exceeds {MAX_REPLY_BYTES} bytes")
        if self._reply_length is None:
            self._reply_length = self._step.frame(self._buffer)

    @property
    def done(self) -> bool:
        """The current step's reply is complete (or the step reads none)."""
        return self._step is not None and (
            self._step.frame is None or self._reply_length is not None
        )

    def advance(self) -> None:
        """Hand the complete reply to the dialog and move on to its next step."""
        if not self.done:
            raise RuntimeError("the current reply is not complete")
        assert self._step is not None
        if self._step.frame is None:
            reply = b""
        else:
            assert self._reply_length is not None
            reply, self._buffer = (
                self._buffer[: self._reply_length],
                self._buffer[self._reply_length :],
            )
        self._reply_length = None
        try:
            self._step = self._script.send(reply)
        except StopIteration as stop:
            self._step = None
            self._outcome = stop.value
            if self._buffer and self._outcome.upgraded:
                # CVE-2011-0411: plaintext after the go-ahead would be read as TLS.
                raise StartTlsError(
                    f"{len(self._buffer)} bytes followed the server's STARTTLS go-ahead"
                ) from None
            return
        except (ValueError, IndexError) as exc:  # a reply the dialog could not read
            if isinstance(exc, StartTlsError):
                raise
            raise StartTlsError(f"unreadable {self.protocol} reply: {exc}") from None
        if self._buffer and self._step.frame is not None:
            # Pipelined bytes from the server are the start of the next reply.
            self._reply_length = self._step.frame(self._buffer)
        elif self._buffer:
            raise StartTlsError("the server sent data when none was expected")
