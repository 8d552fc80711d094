"""Cleartext credentials in a flow's reassembled client prefix (issue 5, "What it finds").

One parser per protocol, chosen by the flow's content classification (not its port):

- HTTP (RFC 9110 11.6.2, RFC 7617, RFC 6750): ``Authorization``/``Proxy-Authorization``
  ``Basic`` (base64 ``user:password``, split at the first colon) and ``Bearer``; password
  fields (``password``, ``passwd``, ``pwd``) of ``application/x-www-form-urlencoded`` bodies.
- HTTP Digest (RFC 7616) and NTLM ([MS-NLMP] 2.2.1.3): :mod:`probe.pcap.httpauth`.
- FTP (RFC 959 4.1.1) and POP3 (RFC 1939 7): ``USER`` then ``PASS``. The FTP guest ids
  (``anonymous``, ``ftp``) are skipped, as Zeek's ``FTP::guest_ids`` does: their "password"
  is an e-mail address by convention.
- SMTP (RFC 4954, RFC 4616; LOGIN: draft-murchison-sasl-login): ``AUTH PLAIN <b64>``, or
  ``AUTH PLAIN`` with the response on the next client line (after the server's ``334``);
  ``AUTH LOGIN [<b64 user>]`` followed by the user and password lines (answers to
  ``334 VXNlcm5hbWU6`` "Username:" and ``334 UGFzc3dvcmQ6`` "Password:", in that order).
- IMAP (RFC 9051 6.2.3): ``tag LOGIN user password``, each an atom, a quoted string or a
  synchronising or non-synchronising literal (``{n}``/``{n+}``).
- Telnet, Redis, PostgreSQL, LDAP simple bind and SNMP communities: :mod:`probe.pcap.logins`.
- MySQL ``mysql_clear_password``: :mod:`probe.pcap.mysql`.
- XMPP SASL PLAIN (RFC 6120 6.4.2, RFC 4616): :mod:`probe.pcap.starttls`.

Lines longer than :data:`MAX_LINE` are not considered. Everything returned is redacted.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from urllib.parse import unquote_to_bytes

from probe.pcap.classify import Classification
from probe.pcap.flows import Flow
from probe.pcap.httpauth import digest_credentials, ntlm_credentials
from probe.pcap.logins import (
    ldap_credentials,
    postgresql_credentials,
    redis_credentials,
    snmp_credentials,
    telnet_credentials,
)
from probe.pcap.mysql import mysql_credentials
from probe.pcap.redact import Secret, clean_user, redact
from probe.pcap.secrets import find_secrets
from probe.pcap.starttls import xmpp_credentials

__all__ = ["MAX_LINE", "find_credentials", "scan_flow"]

MAX_LINE = 4096
FTP_GUESTS = frozenset({b"anonymous", b"ftp"})


def _lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(offset, line without CR LF) for each line of at most MAX_LINE bytes; the last line
    counts even without its LF (the prefix cap may have cut it)."""
    pos = 0
    size = len(data)
    while pos < size:
        end = data.find(b"\n", pos)
        if end < 0:
            end = size
        line = data[pos:end]
        if len(line) <= MAX_LINE + 1:
            yield pos, line[:-1] if line.endswith(b"\r") else line
        pos = end + 1


def _b64(text: bytes) -> bytes | None:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def _secret(kind: str, protocol: str, offset: int, user: bytes | str | None,
            value: bytes) -> Secret:  # fmt: skip
    return Secret(kind, protocol, "client", offset, clean_user(user), redact(value, kind=kind))


# --- HTTP --------------------------------------------------------------------------------

_AUTH = re.compile(
    rb"(?im)^(?:Proxy-)?Authorization:[ \t]*(Basic|Bearer)[ \t]+([A-Za-z0-9+/._~-]+=*)[ \t]*\r?$"
)
_REQUEST = re.compile(rb"(?m)^[A-Z]{3,12} [^ \r\n]+ HTTP/1\.[01]\r?$")
_FORM_TYPE = re.compile(rb"(?im)^Content-Type:[ \t]*application/x-www-form-urlencoded")
_LENGTH = re.compile(rb"(?im)^Content-Length:[ \t]*([0-9]{1,9})[ \t]*\r?$")
_PASSWORD_FIELDS = frozenset({b"password", b"passwd", b"pwd"})
_USER_FIELDS = (b"username", b"user", b"login", b"email", b"user_name", b"userid", b"uname")


def _http(data: bytes) -> list[Secret]:
    out = []
    for match in _AUTH.finditer(data):
        scheme, token = match.group(1).lower(), match.group(2)
        if scheme == b"bearer":
            if len(token) >= 8:
                out.append(_secret("http-bearer", "http", match.start(2), None, token))
            continue
        decoded = _b64(token)
        if decoded is None or b":" not in decoded:
            continue
        user, _, password = decoded.partition(b":")
        out.append(_secret("http-basic", "http", match.start(2), user, password))
    for request in _REQUEST.finditer(data):
        head_end = data.find(b"\r\n\r\n", request.end())
        sep = 4
        if head_end < 0:
            head_end, sep = data.find(b"\n\n", request.end()), 2
        if head_end < 0:
            continue
        head = data[request.start() : head_end]
        if _FORM_TYPE.search(head) is None:
            continue
        body_start = head_end + sep
        length = _LENGTH.search(head)
        body_end = body_start + int(length.group(1)) if length else len(data)
        out += _form(data[body_start:body_end][:MAX_LINE], body_start)
    if b"igest" in data:
        out += digest_credentials(data)
    if b"NTLM" in data or b"egotiate" in data:
        out += ntlm_credentials(data)
    return out


def _form(body: bytes, base: int) -> list[Secret]:
    fields: list[tuple[int, bytes, bytes]] = []
    pos = 0
    for pair in body.split(b"&"):
        name, _, value = pair.partition(b"=")
        fields.append((base + pos, unquote_to_bytes(name.replace(b"+", b" ")).lower(),
                       unquote_to_bytes(value.replace(b"+", b" "))))  # fmt: skip
        pos += len(pair) + 1
    names = {name: value for _, name, value in fields}
    user = next((names[n] for n in _USER_FIELDS if names.get(n)), None)
    return [
        _secret("http-form-password", "http", offset, user, value)
        for offset, name, value in fields
        if name in _PASSWORD_FIELDS and value
    ]


# --- FTP, POP3 ---------------------------------------------------------------------------


def _user_pass(data: bytes, protocol: str) -> list[Secret]:
    kind = "ftp-password" if protocol == "ftp" else "pop3-password"
    out = []
    user: bytes | None = None
    for offset, line in _lines(data):
        command, _, argument = line.partition(b" ")
        command = command.upper()
        if command == b"USER":
            user = argument
        elif command == b"PASS":
            if protocol == "ftp" and user is not None and user.lower() in FTP_GUESTS:
                continue
            if argument:
                out.append(_secret(kind, protocol, offset + 5, user, argument))
    return out


# --- SMTP --------------------------------------------------------------------------------


def _plain(response: bytes, offset: int) -> Secret | None:
    """A SASL PLAIN response (RFC 4616 2): authzid NUL authcid NUL passwd, in base64."""
    decoded = _b64(response)
    if decoded is None or decoded.count(b"\0") != 2:
        return None
    _authzid, user, password = decoded.split(b"\0")
    if not password:
        return None
    return _secret("smtp-auth-plain", "smtp", offset, user, password)


def _smtp(data: bytes) -> list[Secret]:
    out: list[Secret] = []
    state = ""  # "plain": next line is a PLAIN response; "user"/"pass": LOGIN steps
    user: bytes | None = None
    for offset, line in _lines(data):
        if state == "plain":
            state = ""
            found = _plain(line, offset)
            if found is not None:
                out.append(found)
            continue
        if state == "user":
            state = "pass" if line != b"*" else ""
            user = _b64(line)
            continue
        if state == "pass":
            state = ""
            password = _b64(line) if line != b"*" else None
            if password:
                out.append(_secret("smtp-auth-login", "smtp", offset, user, password))
            continue
        words = line.split()
        if len(words) < 2 or words[0].upper() != b"AUTH":
            continue
        mechanism = words[1].upper()
        if mechanism == b"PLAIN":
            if len(words) >= 3:
                found = _plain(words[2], offset + line.find(words[2], 10))
                if found is not None:
                    out.append(found)
            else:
                state = "plain"
        elif mechanism == b"LOGIN":
            if len(words) >= 3 and words[2] != b"=":
                user, state = _b64(words[2]), "pass"
            else:
                user, state = None, "user"
    return out


# --- IMAP --------------------------------------------------------------------------------

_IMAP_LOGIN = re.compile(rb"(?im)^[A-Za-z0-9.+_-]{1,32} LOGIN ")
_LITERAL = re.compile(rb"\{([0-9]{1,6})\+?\}\r?\n")
_ATOM = re.compile(rb"[^\s(){%*\"\\\]]+")


def _astring(data: bytes, pos: int) -> tuple[bytes, int, int] | None:
    """An IMAP astring at ``pos`` (RFC 9051 9): (value, start, end), or None."""
    if data.startswith(b'"', pos):
        value = bytearray()
        i = pos + 1
        limit = min(len(data), pos + MAX_LINE)
        while i < limit:
            char = data[i]
            if char == 0x5C and i + 1 < limit:  # backslash escape: \" or \\
                value.append(data[i + 1])
                i += 2
            elif char == 0x22:
                return bytes(value), pos + 1, i + 1
            elif char in (0x0A, 0x0D):
                return None
            else:
                value.append(char)
                i += 1
        return None
    literal = _LITERAL.match(data, pos)
    if literal is not None:
        size = int(literal.group(1))
        start = literal.end()
        if size > MAX_LINE or start + size > len(data):
            return None
        return data[start : start + size], start, start + size
    atom = _ATOM.match(data, pos, pos + MAX_LINE)
    if atom is None:
        return None
    return atom.group(0), pos, atom.end()


def _imap(data: bytes) -> list[Secret]:
    out = []
    for match in _IMAP_LOGIN.finditer(data):
        user = _astring(data, match.end())
        if user is None or not data.startswith(b" ", user[2]):
            continue
        password = _astring(data, user[2] + 1)
        if password is None or not password[0]:
            continue
        out.append(_secret("imap-login", "imap", password[1], user[0], password[0]))
    return out


# --- entry points ------------------------------------------------------------------------


def find_credentials(flow: Flow, classification: Classification) -> list[Secret]:
    """Credentials the client sent in the clear, by the flow's classified protocol. An
    encrypted or unknown flow yields none. Never raises on arbitrary prefixes."""
    data = flow.client_prefix
    protocol = classification.protocol
    if classification.encrypted:
        return []
    if protocol == "snmp":  # UDP: both directions carry the community
        return snmp_credentials(flow.client_datagrams, flow.server_datagrams)
    if not data:
        return []
    if protocol == "http":
        return _http(data)
    if protocol in ("ftp", "pop3"):
        return _user_pass(data, protocol)
    if protocol == "smtp":
        return _smtp(data)
    if protocol == "imap":
        return _imap(data)
    if protocol == "telnet":
        return telnet_credentials(data, flow.server_prefix)
    if protocol == "redis":
        return redis_credentials(data)
    if protocol == "postgresql":
        return postgresql_credentials(data, flow.server_prefix)
    if protocol == "ldap":
        return ldap_credentials(data)
    if protocol == "mysql":
        return mysql_credentials(data, flow.server_prefix)
    if protocol == "xmpp":
        return xmpp_credentials(data)
    return []


def scan_flow(flow: Flow, classification: Classification) -> list[Secret]:
    """Credentials and secrets in both directions of a flow that is not encrypted."""
    if classification.encrypted:
        return []
    protocol = classification.protocol
    return [
        *find_credentials(flow, classification),
        *find_secrets(flow.client_prefix, protocol=protocol, direction="client"),
        *find_secrets(flow.server_prefix, protocol=protocol, direction="server"),
    ]
