"""STARTTLS in a flow's first bytes (issue 5, "STARTTLS"): did the server offer the upgrade,
did the client ask for it, did the server agree, did the flow switch to TLS, and did the client
log in while the flow was still in the clear.

One reader per protocol, on the reassembled client and server prefixes (the two directions are
held apart, so replies are matched to commands by their order or their tag):

- SMTP (RFC 3207 4, RFC 5321 4.2 replies): the ``STARTTLS`` EHLO keyword; ``STARTTLS``
  answered ``220`` (go ahead) or anything else (refused).
- IMAP (RFC 9051 6.2.1, 7.2.2; RFC 2595 3.1): ``STARTTLS`` in a ``CAPABILITY`` response or
  response code; ``tag STARTTLS`` answered ``tag OK`` / ``tag NO|BAD``.
- POP3 (RFC 2595 4, RFC 2449 5 ``CAPA``): the ``STLS`` capability; ``STLS`` answered ``+OK``
  / ``-ERR``.
- FTP (RFC 4217 4, RFC 2389 3 ``FEAT``): ``AUTH TLS`` (or ``AUTH SSL``) in the FEAT answer;
  ``AUTH TLS`` answered ``234`` / anything else.
- LDAP (RFC 4511 4.12 ExtendedRequest, 4.14 StartTLS, OID 1.3.6.1.4.1.1466.20037): the
  ExtendedResponse with the same messageID, resultCode 0 (success) or not.
- XMPP (RFC 6120 5.3, 5.4.2): ``<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>`` in
  ``<stream:features>``; the client's ``<starttls/>`` answered ``<proceed/>`` / ``<failure/>``.
- PostgreSQL (protocol "Message Flow" 55.2.10): SSLRequest answered ``S`` / ``N``.
- MySQL (``page_protocol_connection_phase``): CLIENT_SSL in the greeting, SSLRequest.

"Offered" is what the server advertised before any request (None: no capability listing was
captured); a server that agreed to the request offered it too, and for LDAP and PostgreSQL,
which advertise nothing on the connection, agreeing is the only way to offer. A capability
replaced by same-length filler (``XXXXXXXA``, what a middlebox that strips STARTTLS without
changing TCP sequence numbers writes; nabla-c0d3/sslyze#84) is recorded as ``masked``.

Pure functions on bytes; hostile input gives None, never an exception; lines, replies and
messages looked at are capped.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from probe.pcap.logins import ldap_credentials, postgresql_credentials
from probe.pcap.mysql import mysql_handshake
from probe.pcap.redact import Secret, clean_user, redact

__all__ = ["StartTls", "find_starttls", "is_xmpp", "xmpp_credentials"]

MAX_LINES = 256  # lines (or replies) looked at per direction
MAX_LINE = 4096
LDAP_STARTTLS_OID = b"1.3.6.1.4.1.1466.20037"
XMPP_TLS_NS = b"urn:ietf:params:xml:ns:xmpp-tls"
XMPP_SASL_NS = b"urn:ietf:params:xml:ns:xmpp-sasl"
FTP_GUESTS = frozenset({b"anonymous", b"ftp"})
_SSL_REQUEST = b"\x00\x00\x00\x08\x04\xd2\x16\x2f"  # PostgreSQL 55.7: length 8, code 80877103
# A keyword overwritten with X's (Cisco ASA "ESMTP inspection" writes XXXXXXXA for STARTTLS).
_MASKED = re.compile(rb"X{4,}[A-Z]?")


@dataclass(frozen=True, slots=True)
class StartTls:
    """The upgrade facts of one flow.

    ``protocol`` is the cleartext protocol the flow started with; ``command`` what the client
    sent to upgrade (``STARTTLS``, ``STLS``, ``AUTH TLS``, ``AUTH SSL``, ``StartTLS`` for the
    LDAP extended operation, ``<starttls/>``, ``SSLRequest``), None when it sent none.
    ``offered``: the server advertised (or agreed to) the upgrade; None when unknown.
    ``requested``: the client asked. ``accepted``: the server's answer was a go-ahead (None:
    not asked, or no answer captured). ``used``: TLS followed the go-ahead. ``masked``: a
    capability was overwritten with filler. ``login_in_clear``: the client sent a login
    (password, SASL exchange, simple bind, ...) before TLS, i.e. in the clear.
    ``client_tls_at`` / ``server_tls_at``: where TLS starts in each prefix (when accepted)."""

    protocol: str
    command: str | None
    offered: bool | None
    requested: bool
    accepted: bool | None
    used: bool
    masked: bool = False
    login_in_clear: bool = False
    client_tls_at: int = 0
    server_tls_at: int = 0


def _is_tls_record(data: bytes) -> bool:
    """A TLS record header (RFC 8446 5.1): handshake or alert, version 3.x."""
    return len(data) >= 3 and data[0] in (0x15, 0x16) and data[1] == 3 and data[2] <= 4


def _lines(data: bytes) -> list[tuple[int, int, bytes]]:
    """(start, end after LF, line without CR LF) of each whole line (LF-terminated)."""
    out: list[tuple[int, int, bytes]] = []
    pos = 0
    while len(out) < MAX_LINES:
        end = data.find(b"\n", pos, pos + MAX_LINE)
        if end < 0:
            break
        out.append((pos, end + 1, data[pos:end].rstrip(b"\r")))
        pos = end + 1
    return out


def _used(client: bytes, server: bytes, client_at: int, server_at: int) -> bool:
    return _is_tls_record(client[client_at:]) or _is_tls_record(server[server_at:])


# --- SMTP and FTP: numbered replies (RFC 5321 4.2, RFC 959 4.2) ---------------------------

_CODE = re.compile(rb"([1-5][0-9][0-9])([ -])")


def _replies(server: bytes) -> list[tuple[int, list[bytes], int]]:
    """(code, lines, end offset) of each whole reply. A multi-line reply opens with
    ``ddd-`` and ends at a line ``ddd `` with the same code (RFC 959 4.2); SMTP puts the
    code on every line (RFC 5321 4.2.1), FTP need not (FEAT lists features after a space)."""
    out: list[tuple[int, list[bytes], int]] = []
    current: tuple[int, list[bytes]] | None = None
    for _start, end, line in _lines(server):
        if current is None:
            match = _CODE.match(line)
            if match is None:
                break  # not a reply: TLS or garbage from here on
            code = int(match.group(1))
            if match.group(2) == b" ":
                out.append((code, [line], end))
            else:
                current = (code, [line])
            continue
        current[1].append(line)
        if line[:4] == b"%d " % current[0] or line == b"%d" % current[0]:
            out.append((current[0], current[1], end))
            current = None
    return out


def _smtp_ftp(client: bytes, server: bytes, protocol: str) -> StartTls:
    replies = [r for r in _replies(server) if r[0] >= 200]  # 1xx replies are preliminary
    commands = _lines(client)
    offered: bool | None = None
    masked = False
    command: str | None = None
    accepted: bool | None = None
    client_at = server_at = 0
    login = False
    user: bytes | None = None
    for index, (_start, end, line) in enumerate(commands):
        word = line.split(b" ", 1)[0].upper()
        reply = replies[index + 1] if index + 1 < len(replies) else None  # 0 is the greeting
        if word in (b"EHLO", b"LHLO", b"FEAT") and reply is not None and command is None:
            keywords = [r[4:] if protocol == "smtp" else r for r in reply[1][1:]]
            keywords = [k.strip().upper() for k in keywords]
            wanted = (b"STARTTLS",) if protocol == "smtp" else (b"AUTH TLS", b"AUTH SSL")
            found = any(
                k == w or k.startswith(w + b" ") or (w == b"AUTH TLS" and _ftp_auth_tls(k))
                for k in keywords
                for w in wanted
            )
            masked = masked or any(_MASKED.fullmatch(k) for k in keywords)
            offered = bool(offered) or found
            continue
        upgrade = word == b"STARTTLS" if protocol == "smtp" else line.upper() in (
            b"AUTH TLS", b"AUTH SSL", b"AUTH TLS-C",
        )  # fmt: skip
        if upgrade and command is None:
            command = line.decode("ascii", "replace").upper()
            if reply is not None:
                accepted = reply[0] == (220 if protocol == "smtp" else 234)
                client_at, server_at = end, reply[2]
            break
        if protocol == "smtp" and word == b"AUTH":
            login = True
        elif protocol == "ftp" and word == b"USER":
            user = line[5:].strip().lower()
        elif protocol == "ftp" and word == b"PASS" and user not in FTP_GUESTS:
            login = True
    if accepted is False:  # the client went on in the clear after the refusal
        login = login or _clear_login(client[client_at:], protocol)
    used = bool(accepted) and _used(client, server, client_at, server_at)
    return _facts(protocol, command, offered, accepted, used, masked, login, client_at, server_at)


def _ftp_auth_tls(keyword: bytes) -> bool:
    """RFC 4217 6: FEAT lists ``AUTH`` with its mechanisms, e.g. ``AUTH TLS;TLS-C;SSL``."""
    if not keyword.startswith(b"AUTH "):
        return False
    return any(m.strip() in (b"TLS", b"SSL", b"TLS-C") for m in keyword[5:].split(b";"))


def _clear_login(rest: bytes, protocol: str) -> bool:
    """A login command among the client's lines in ``rest``."""
    user: bytes | None = None
    for _start, _end, line in _lines(rest):
        word = line.split(b" ", 1)[0].upper()
        if protocol == "smtp" and word == b"AUTH":
            return True
        if protocol == "pop3" and word in (b"PASS", b"APOP", b"AUTH"):
            return True
        if protocol == "imap" and _IMAP_LOGIN.match(line):
            return True
        if protocol == "ftp":
            if word == b"USER":
                user = line[5:].strip().lower()
            elif word == b"PASS" and user not in FTP_GUESTS:
                return True
    return False


def _facts(protocol: str, command: str | None, offered: bool | None, accepted: bool | None,
           used: bool, masked: bool, login: bool, client_at: int,
           server_at: int) -> StartTls:  # fmt: skip
    if accepted:
        offered = True  # a server that agrees offered it
    return StartTls(
        protocol, command, offered, command is not None, accepted, used, masked, login,
        client_at if accepted else 0, server_at if accepted else 0,
    )  # fmt: skip


# --- IMAP (RFC 9051) and POP3 (RFC 1939, RFC 2449) ----------------------------------------

_IMAP_CAPS = re.compile(rb"(?i)^\* (?:OK \[CAPABILITY ([^\]]*)\]|CAPABILITY (.*))")
_IMAP_LOGIN = re.compile(rb"(?i)^[A-Za-z0-9.+_-]{1,32} (?:LOGIN|AUTHENTICATE) ")
_IMAP_COMMAND = re.compile(rb"([A-Za-z0-9.+_-]{1,32}) STARTTLS$", re.IGNORECASE)


def _imap(client: bytes, server: bytes) -> StartTls:
    offered: bool | None = None
    masked = False
    for _start, _end, line in _lines(server):
        caps = _IMAP_CAPS.match(line)
        if caps is not None:
            atoms = (caps.group(1) or caps.group(2) or b"").upper().split()
            offered = bool(offered) or b"STARTTLS" in atoms
            masked = masked or any(_MASKED.fullmatch(a) for a in atoms)
    command: str | None = None
    accepted: bool | None = None
    client_at = server_at = 0
    login = False
    for _start, end, line in _lines(client):
        match = _IMAP_COMMAND.match(line)
        if match is None:
            login = login or _IMAP_LOGIN.match(line) is not None
            continue
        command, client_at = "STARTTLS", end
        tag = match.group(1) + b" "
        for _s, server_end, answer in _lines(server):
            if answer.startswith(tag):
                status = answer[len(tag) :].split(b" ", 1)[0].upper()
                accepted, server_at = status == b"OK", server_end
                break
        break
    if accepted is False:
        login = login or _clear_login(client[client_at:], "imap")
    if accepted and offered is False and not masked:
        offered = True
    used = bool(accepted) and _used(client, server, client_at, server_at)
    return _facts("imap", command, offered, accepted, used, masked, login, client_at, server_at)


_POP3_MULTILINE = frozenset({b"CAPA", b"RETR", b"TOP"})
_POP3_LISTS = frozenset({b"LIST", b"UIDL"})  # multi-line without an argument


def _pop3_replies(server: bytes, commands: list[bytes]) -> list[tuple[bool, list[bytes], int]]:
    """(+OK or not, lines, end offset) of the greeting and the answer to each command."""
    lines = _lines(server)
    out: list[tuple[bool, list[bytes], int]] = []
    pos = 0
    expected = [b"", *commands]
    for command in expected:
        if pos >= len(lines):
            break
        first = lines[pos][2]
        if not first.startswith((b"+OK", b"-ERR")):
            break
        ok = first.startswith(b"+OK")
        words = command.upper().split()
        multi = (
            ok
            and bool(words)
            and (words[0] in _POP3_MULTILINE or (words[0] in _POP3_LISTS and len(words) == 1))
        )
        body = [first]
        pos += 1
        if multi:  # RFC 1939 3: lines up to a lone "."
            while pos < len(lines) and lines[pos][2] != b".":
                body.append(lines[pos][2])
                pos += 1
            if pos >= len(lines):
                break
            pos += 1
        out.append((ok, body, lines[pos - 1][1]))
    return out


def _pop3(client: bytes, server: bytes) -> StartTls:
    commands = _lines(client)
    replies = _pop3_replies(server, [line for _, _, line in commands])
    offered: bool | None = None
    masked = False
    command: str | None = None
    accepted: bool | None = None
    client_at = server_at = 0
    login = False
    for index, (_start, end, line) in enumerate(commands):
        word = line.split(b" ", 1)[0].upper()
        reply = replies[index + 1] if index + 1 < len(replies) else None
        if word == b"CAPA" and reply is not None and reply[0] and command is None:
            names = [c.split(b" ", 1)[0].strip().upper() for c in reply[1][1:]]
            offered = bool(offered) or b"STLS" in names
            masked = masked or any(_MASKED.fullmatch(n) for n in names)
        elif word == b"STLS":
            command = "STLS"
            if reply is not None:
                accepted, client_at, server_at = reply[0], end, reply[2]
            break
        elif word in (b"PASS", b"APOP", b"AUTH"):
            login = True
    if accepted is False:
        login = login or _clear_login(client[client_at:], "pop3")
    used = bool(accepted) and _used(client, server, client_at, server_at)
    return _facts("pop3", command, offered, accepted, used, masked, login, client_at, server_at)


# --- LDAP (RFC 4511, BER per X.690 8.1) ---------------------------------------------------


def _ber(data: bytes, pos: int) -> tuple[int, int, int] | None:
    """(tag, start, end) of a definite-length element at ``pos`` within ``data``, or None."""
    if pos + 2 > len(data):
        return None
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first & 0x80:
        count = first & 0x7F
        if not 1 <= count <= 4 or pos + count > len(data):
            return None
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    else:
        length = first
    if pos + length > len(data):
        return None
    return tag, pos, pos + length


def _ldap_messages(data: bytes) -> list[tuple[bytes, int, int, int]]:
    """(messageID bytes, operation tag, start of the operation, end of the message) of the
    whole LDAPMessages at the start of ``data`` (RFC 4511 4.1.1)."""
    out: list[tuple[bytes, int, int, int]] = []
    pos = 0
    while len(out) < MAX_LINES:
        message = _ber(data, pos)
        if message is None or message[0] != 0x30:
            break
        ident = _ber(data, message[1])
        if ident is None or ident[0] != 0x02 or ident[2] > message[2]:
            break
        op = _ber(data, ident[2])
        if op is None or op[2] > message[2]:
            break
        out.append((data[ident[1] : ident[2]], op[0], op[1], message[2]))
        pos = message[2]
    return out


def _ldap(client: bytes, server: bytes) -> StartTls | None:
    requests = _ldap_messages(client)
    if not requests:
        return None
    command: str | None = None
    accepted: bool | None = None
    client_at = server_at = 0
    for ident, tag, start, end in requests:
        name = _ber(client, start)
        # ExtendedRequest [APPLICATION 23] { requestName [0] LDAPOID, ... } (RFC 4511 4.12)
        if tag != 0x77 or name is None or name[0] != 0x80:
            continue
        if client[name[1] : name[2]] != LDAP_STARTTLS_OID:
            continue
        command, client_at = "StartTLS", end
        for answer_id, answer_tag, answer_start, answer_end in _ldap_messages(server):
            if answer_id != ident or answer_tag != 0x78:  # ExtendedResponse [APPLICATION 24]
                continue
            code = _ber(server, answer_start)  # LDAPResult: resultCode ENUMERATED first
            if code is not None and code[0] == 0x0A:
                accepted = server[code[1] : code[2]] in (b"\x00", b"")
                server_at = answer_end
            break
        break
    # Before TLS only, when it was agreed to (ldap_credentials stops at the TLS bytes anyway).
    login = bool(ldap_credentials(client[:client_at] if accepted else client))
    used = bool(accepted) and _used(client, server, client_at, server_at)
    return _facts("ldap", command, accepted, accepted, used, False, login, client_at, server_at)


# --- XMPP (RFC 6120) ----------------------------------------------------------------------

_XMPP_STARTTLS = re.compile(rb"<starttls\b[^>]*" + re.escape(XMPP_TLS_NS) + rb"[^>]*>")
_XMPP_ANSWER = re.compile(rb"<(proceed|failure)\b[^>]*" + re.escape(XMPP_TLS_NS) + rb"[^>]*>")
_XMPP_AUTH = re.compile(rb"<auth\b[^>]*" + re.escape(XMPP_SASL_NS))


def is_xmpp(client: bytes, server: bytes) -> bool:
    """A stream header in the jabber:client or jabber:server namespace (RFC 6120 4.2)."""
    head = client[:1024]
    return b"<stream:stream" in head and (b"jabber:client" in head or b"jabber:server" in head)


def _xmpp(client: bytes, server: bytes) -> StartTls:
    offered: bool | None = None
    start = server.find(b"<stream:features")  # the first features: later ones follow TLS or SASL
    end = server.find(b"</stream:features>", start) if start >= 0 else -1
    if end >= 0:
        offered = _XMPP_STARTTLS.search(server, start, end) is not None
    request = _XMPP_STARTTLS.search(client)
    command: str | None = None
    accepted: bool | None = None
    client_at = server_at = 0
    login_part = client
    if request is not None:
        command, client_at = "<starttls/>", request.end()
        if not request.group(0).endswith(b"/>"):  # <starttls ...></starttls>
            close = client.find(b"</starttls>", request.end())
            client_at = close + len(b"</starttls>") if close >= 0 else client_at
        answer = _XMPP_ANSWER.search(server)
        if answer is not None:
            accepted, server_at = answer.group(1) == b"proceed", answer.end()
        login_part = client[client_at:] if accepted is False else client[: request.start()]
    login = _XMPP_AUTH.search(login_part) is not None
    used = bool(accepted) and _used(client, server, client_at, server_at)
    return _facts("xmpp", command, offered, accepted, used, False, login, client_at, server_at)


# SASL PLAIN with its initial response inside <auth> (RFC 6120 6.4.2; "=" is an empty one).
_XMPP_PLAIN = re.compile(
    rb"<auth\b[^>]{0,512}?mechanism=['\"]PLAIN['\"][^>]{0,512}>([A-Za-z0-9+/=\s]{1,4096})</auth>"
)


def xmpp_credentials(client: bytes) -> list[Secret]:
    """The user and password of each SASL PLAIN ``<auth>`` (RFC 4616 2: authzid NUL authcid
    NUL passwd, in base64) the client sent in the clear."""
    out: list[Secret] = []
    for match in _XMPP_PLAIN.finditer(client):
        if _XMPP_AUTH.match(client, match.start()) is None:
            continue  # not in the xmpp-sasl namespace
        try:
            decoded = base64.b64decode(re.sub(rb"\s", b"", match.group(1)), validate=True)
        except (binascii.Error, ValueError):
            continue
        parts = decoded.split(b"\0")
        if len(parts) != 3 or not parts[2]:
            continue
        value = redact(parts[2], kind="xmpp-sasl-plain")
        out.append(Secret("xmpp-sasl-plain", "xmpp", "client", match.start(1),
                          clean_user(parts[1]), value))  # fmt: skip
    return out


# --- PostgreSQL and MySQL: a request before any TLS ---------------------------------------


def _postgresql(client: bytes, server: bytes) -> StartTls:
    if not server:
        return StartTls("postgresql", "SSLRequest", None, True, None, False)
    accepted = server[:1] == b"S"
    login = not accepted and bool(postgresql_credentials(client, server))
    used = accepted and _is_tls_record(client[8:])
    return _facts("postgresql", "SSLRequest", accepted, accepted, used, False, login, 8, 1)


def _mysql(client: bytes, server: bytes) -> StartTls | None:
    handshake = mysql_handshake(client, server)
    if handshake is None:
        return None
    login = not handshake.ssl and len(client) > 4  # a HandshakeResponse in the clear
    command = "SSLRequest" if handshake.ssl else None
    accepted = True if handshake.ssl else None
    used = handshake.ssl and _is_tls_record(client[handshake.client_tls_at :])
    return _facts("mysql", command, handshake.server_ssl, accepted, used, False, login,
                  handshake.client_tls_at, handshake.server_tls_at)  # fmt: skip


# --- entry point --------------------------------------------------------------------------

_SMTP_HELLO = (b"EHLO", b"HELO", b"LHLO")
_FTP_FIRST = (b"USER", b"AUTH", b"FEAT", b"SYST", b"OPTS", b"PBSZ", b"PASS")


def find_starttls(client: bytes, server: bytes) -> StartTls | None:
    """The upgrade facts of a flow whose cleartext part is SMTP, IMAP, POP3, FTP, LDAP, XMPP,
    PostgreSQL or MySQL, recognised by content; None for any other flow."""
    if client[:8] == _SSL_REQUEST:
        return _postgresql(client, server)
    if _is_tls_record(client) or not client:
        return None  # implicit TLS, or nothing sent
    if is_xmpp(client, server):
        return _xmpp(client, server)
    if client[:1] == b"\x30":
        ldap = _ldap(client, server)
        if ldap is not None:
            return ldap
    mysql = _mysql(client, server)
    if mysql is not None:
        return mysql
    first = client.split(b"\n", 1)[0].split(b" ", 1)[0].strip().upper()
    if server.startswith((b"* OK", b"* PREAUTH")):
        return _imap(client, server)
    if server.startswith(b"+OK"):
        return _pop3(client, server)
    if _CODE.match(server) and server[:1] == b"2":  # a 220 (or 120) greeting
        if first in _SMTP_HELLO:
            return _smtp_ftp(client, server, "smtp")
        if first in _FTP_FIRST:
            return _smtp_ftp(client, server, "ftp")
    return None
