"""Content classification of a flow's first bytes: which protocol, and is it encrypted.

Decided by content, not by port; a port only breaks ties (FTP vs POP3 on USER/PASS alone, a
bare ``220`` banner). Signatures follow Zeek's ``dpd.sig`` files (see
``shared/research/pcap-anchors.md`` section 4) and the RFCs cited beside each check.
"""

from __future__ import annotations

import contextlib
import re
import struct
from dataclasses import dataclass, field, replace

from probe.codecs.buffer import Reader
from probe.codecs.errors import DecodeError
from probe.codecs.tls.constants import version_label
from probe.codecs.tls.flight import ServerFlightReader
from probe.pcap.fingerprint import ja3, ja3s, ja4, parse_client_hello
from probe.pcap.flows import Flow
from probe.pcap.logins import is_ldap, is_redis, is_snmp, is_telnet, postgres_state
from probe.pcap.mysql import mysql_handshake
from probe.pcap.starttls import StartTls, find_starttls, is_xmpp

__all__ = ["ENCRYPTED", "Classification", "classify"]

ENCRYPTED = frozenset({"tls", "dtls", "ssh", "smb3-encrypted", "ike", "esp", "quic", "wireguard"})
CLEARTEXT = frozenset({
    "http", "smb2", "smb1", "ftp", "smtp", "pop3", "imap", "dns", "telnet", "redis", "postgresql",
    "ldap", "snmp", "mysql", "xmpp",
})  # fmt: skip


@dataclass(frozen=True)
class Classification:
    """``encrypted`` is None when the protocol is unknown. ``detail`` holds short facts
    (TLS version and suite, SNI, SSH software, QUIC version, ...), never payload secrets.
    ``starttls``: the upgrade facts of a flow that started in a STARTTLS-capable protocol."""

    protocol: str
    encrypted: bool | None
    detail: dict[str, str] = field(default_factory=dict, hash=False)
    starttls: StartTls | None = None


def _result(protocol: str, **detail: str) -> Classification:
    encrypted = True if protocol in ENCRYPTED else False if protocol in CLEARTEXT else None
    return Classification(protocol, encrypted, detail)


def classify(flow: Flow) -> Classification:
    """Classify ``flow`` from its client and server prefixes (UDP: its first datagrams)."""
    ports = {flow.client[1], flow.server[1]}
    if flow.transport == "udp":
        return _udp(flow, ports)
    upgrade = find_starttls(flow.client_prefix, flow.server_prefix)
    result = _tcp(flow.client_prefix, flow.server_prefix, ports, upgrade)
    return result if upgrade is None else replace(result, starttls=upgrade)


# --- TCP ---------------------------------------------------------------------------------

_HTTP_METHODS = (
    b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"CONNECT", b"TRACE",
    b"PROPFIND", b"PROPPATCH", b"MKCOL", b"COPY", b"MOVE", b"LOCK", b"UNLOCK", b"REPORT",
)  # fmt: skip
# RFC 9112 3: method SP request-target SP HTTP-version.
_REQUEST_LINE = re.compile(rb"([A-Z]{3,12}) \S+ HTTP/(1\.[01])\r?\n")
_STARTTLS = re.compile(rb"(?im)^(?:[A-Za-z0-9.]+ )?(STARTTLS|STLS|AUTH TLS|AUTH SSL)\r?\n")
_FTP_COMMANDS = (b"USER", b"PASS", b"AUTH", b"FEAT", b"SYST", b"OPTS", b"PWD", b"PASV", b"EPSV")
_SMTP_COMMANDS = (b"EHLO", b"HELO", b"LHLO")
_POP3_COMMANDS = (b"CAPA", b"APOP", b"STLS", b"UIDL", b"STAT")


def _tcp(client: bytes, server: bytes, ports: set[int], upgrade: StartTls | None = None
         ) -> Classification:  # fmt: skip
    postgres = postgres_state(client, server)
    if postgres == "tls":  # SSLRequest answered 'S': TLS from the next byte (PostgreSQL 55.2.10)
        tls = _tls(client[8:], server[1:])
        if tls is not None:
            return _result("tls", **tls.detail, starttls="SSLRequest")
        return _result("tls", starttls="SSLRequest")
    if postgres is not None:
        return _result(postgres)
    mysql = mysql_handshake(client, server)
    if mysql is not None:
        version = mysql.server_version[:64]
        if mysql.ssl:  # SSLRequest with CLIENT_SSL: TLS from the next byte each way
            tls = _tls(client[mysql.client_tls_at :], server[mysql.server_tls_at :])
            extra = tls.detail if tls is not None else {}
            return _result("tls", **extra, starttls="SSLRequest", mysql_version=version)
        return _result(
            "mysql", server_version=version, server_offers_ssl="yes" if mysql.server_ssl else "no"
        )
    if upgrade is not None and upgrade.used and upgrade.command is not None:
        # TLS from where the go-ahead ended each direction (probe.pcap.starttls).
        tls = _tls(client[upgrade.client_tls_at :], server[upgrade.server_tls_at :])
        return _result("tls", **(tls.detail if tls else {}), starttls=upgrade.command)
    tls = _tls(client, server)
    if tls is not None:
        return tls
    if b"SSH-" in (client[:4].upper(), server[:4].upper()):
        return _ssh(client, server)
    smb = _smb(client, server)
    if smb is not None:
        return smb
    http = _http(client, server)
    if http is not None:
        return http
    if is_telnet(client, server):
        return _result("telnet")
    if is_redis(client, server):
        return _result("redis")
    if is_ldap(client, server):
        return _result("ldap")
    if is_xmpp(client, server):  # RFC 6120 4.2 stream header
        return _result("xmpp")
    return _banner(client, server, ports)


def _first_word(prefix: bytes) -> bytes:
    line = prefix.split(b"\n", 1)[0]
    return line.split(b" ", 1)[0].strip().upper()


def _client_hello(prefix: bytes) -> dict[str, str] | None:
    """Parse the ClientHello in the first record (RFC 8446 4.1.2, RFC 5246 7.4.1.2); None when
    the prefix does not start with one. A hello cut short still counts, with fewer facts."""
    if len(prefix) < 6 or prefix[0] != 0x16 or prefix[1] != 3 or prefix[2] > 4 or prefix[5] != 1:
        return None
    detail = {"record_version": version_label(struct.unpack_from("!H", prefix, 1)[0])}
    try:
        body = Reader(prefix[9 : 5 + struct.unpack_from("!H", prefix, 3)[0]])
        detail["client_version"] = version_label(body.u16())
        body.bytes(32)  # random
        body.vector(1)  # session id
        body.vector(2)  # cipher suites
        body.vector(1)  # compression methods
        if body.eof:
            return detail
        exts = body.sub(2)
        while not exts.eof:
            ext_type, data = exts.u16(), exts.vector(2)
            if ext_type == 0:  # server_name (RFC 6066 3): list, type 0 host_name
                names = Reader(data).sub(2)
                if names.u8() == 0:
                    sni = names.vector(2).decode("ascii", "replace")
                    detail["sni"] = sni[:255]
            elif ext_type == 43:  # supported_versions (RFC 8446 4.2.1)
                offered = Reader(data).vector(1)
                versions = [v for (v,) in struct.iter_unpack("!H", offered[: len(offered) & ~1])]
                detail["offered_versions"] = ",".join(version_label(v) for v in versions[:16])
    except DecodeError:
        pass  # cut by the prefix cap or malformed: keep what was read
    return detail


def _server_hello(prefix: bytes) -> dict[str, str] | None:
    """Read the server's flight with probe's own reader; None when it is not TLS."""
    reader = ServerFlightReader()
    with contextlib.suppress(DecodeError):  # NotTlsError too; the partial result still tells
        reader.feed(prefix)
    flight = reader.result()
    if flight.record_version is None:
        return None
    detail: dict[str, str] = {}
    hello = flight.server_hello
    if hello is not None:
        detail["version"] = hello.version_label
        suite = hello.suite
        detail["cipher_suite"] = suite.name if suite else f"0x{hello.cipher_suite:04x}"
        if not hello.is_hello_retry_request:
            types = tuple(t for t, _ in hello.extensions)
            detail["ja3s"] = ja3s(hello.legacy_version, hello.cipher_suite, types)
    elif flight.alert is not None:
        detail["alert"] = flight.alert.name
    elif prefix[0] != 0x16:
        return None  # the first record is not a handshake: not a server's first flight
    return detail


def _hello(prefix: bytes) -> dict[str, str] | None:
    """The ClientHello facts and fingerprints; one full parse when the hello is whole, else
    what :func:`_client_hello` can read of it."""
    if len(prefix) < 6 or prefix[0] != 0x16 or prefix[1] != 3 or prefix[2] > 4 or prefix[5] != 1:
        return None
    facts = parse_client_hello(prefix)
    if facts is None:
        return _client_hello(prefix)
    detail = {
        "record_version": version_label(struct.unpack_from("!H", prefix, 1)[0]),
        "client_version": version_label(facts.legacy_version),
        "ja3": ja3(facts),
        "ja4": ja4(facts),
    }
    if facts.server_name is not None:
        detail["sni"] = facts.server_name.decode("ascii", "replace")[:255]
    if facts.versions:
        detail["offered_versions"] = ",".join(version_label(v) for v in facts.versions[:16])
    return detail


def _tls(client: bytes, server: bytes) -> Classification | None:
    detail: dict[str, str] = {}
    offset = 0
    hello = _hello(client)
    starttls = None
    if hello is None:
        # STARTTLS (RFC 3207, RFC 2595, RFC 4217): a command line, then a ClientHello.
        match = _STARTTLS.search(client)
        if match is not None:
            hello = _hello(client[match.end() :])
            starttls = match.group(1).decode("ascii").upper()
    if starttls is not None and hello is not None:
        detail["starttls"] = starttls
        # The server's ClientHello answer follows its reply line to the command.
        offset = server.find(b"\x16\x03")
        while offset > 0 and server[offset - 1 : offset] != b"\n":
            offset = server.find(b"\x16\x03", offset + 1)
    served = _server_hello(server[offset:]) if offset >= 0 and server[offset:] else None
    if hello is None and (served is None or not served):
        return None
    detail.update(hello or {})
    detail.update(served or {})
    return _result("tls", **detail)


def _ssh(client: bytes, server: bytes) -> Classification:
    """RFC 4253 4.2: ``SSH-protoversion-softwareversion``; a server may send other lines first."""
    detail: dict[str, str] = {}
    for name, prefix in (("client_banner", client), ("server_banner", server)):
        for line in prefix[:1024].split(b"\n")[:16]:
            if line[:4].upper() == b"SSH-":
                detail[name] = line.rstrip(b"\r")[:255].decode("ascii", "replace")
                break
    return _result("ssh", **detail)


def _smb(client: bytes, server: bytes) -> Classification | None:
    """Walk the NBSS/direct-TCP frames (RFC 1002 4.3.1, [MS-SMB2] 2.1) of both prefixes and
    look at each message's protocol id: 0xFF 'SMB' SMB1, 0xFE SMB2, 0xFD a transform header
    ([MS-SMB2] 2.2.41: the message is encrypted)."""
    kinds: set[int] = set()
    for prefix in (client, server):
        pos = 0
        for _ in range(256):
            if pos + 8 > len(prefix):
                break
            kind, length = prefix[pos], int.from_bytes(prefix[pos + 1 : pos + 4], "big")
            if kind == 0x00:  # session message
                if prefix[pos + 5 : pos + 8] != b"SMB" or prefix[pos + 4] not in (
                    0xFD, 0xFE, 0xFF,
                ):  # fmt: skip
                    break
                kinds.add(prefix[pos + 4])
            elif kind not in (0x81, 0x82, 0x83, 0x84, 0x85) or length > 0xFFFF:
                break  # not NBSS session service framing (RFC 1002 4.3.1)
            pos += 4 + length
    if 0xFD in kinds:
        return _result("smb3-encrypted")
    if 0xFE in kinds:
        return _result("smb2")
    if 0xFF in kinds:
        return _result("smb1")
    return None


def _http(client: bytes, server: bytes) -> Classification | None:
    match = _REQUEST_LINE.match(client[:8192])
    if match is not None and match.group(1) in _HTTP_METHODS:
        return _result(
            "http", method=match.group(1).decode(), version="HTTP/" + match.group(2).decode()
        )
    if client.startswith(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"):  # RFC 9113 3.4 prior knowledge
        return _result("http", version="HTTP/2")
    if re.match(rb"HTTP/1\.[01] [1-5][0-9][0-9]", server):  # RFC 9112 4: status line
        return _result("http", version=server[:8].decode())
    return None


def _banner(client: bytes, server: bytes, ports: set[int]) -> Classification:
    """FTP (RFC 959), SMTP (RFC 5321), POP3 (RFC 1939) and IMAP (RFC 9051) by the server's
    greeting and the client's first command."""
    command = _first_word(client)
    greeting = server[:512]
    if greeting.startswith((b"* OK", b"* PREAUTH", b"* BYE")):
        return _result("imap")
    if greeting.startswith(b"+OK"):
        return _result("pop3")
    if re.match(rb"(?:120|220)[ -]", greeting):
        if command in _SMTP_COMMANDS:
            return _result("smtp")
        if command in _FTP_COMMANDS:
            return _result("ftp")
        upper = greeting.split(b"\n", 1)[0].upper()
        if b"SMTP" in upper or ports & {25, 465, 587, 2525}:
            return _result("smtp")
        if b"FTP" in upper or ports & {21, 990, 2121}:
            return _result("ftp")
        return _result("unknown", banner="220")
    if command in _SMTP_COMMANDS:
        return _result("smtp")
    if command in _POP3_COMMANDS or (command in (b"USER", b"PASS") and ports & {110, 995}):
        return _result("pop3")
    if command in _FTP_COMMANDS:
        return _result("ftp")
    # IMAP: tag SP command (RFC 9051 2.2.1).
    if re.match(rb"[A-Za-z0-9.]{1,16} (?i:CAPABILITY|LOGIN|AUTHENTICATE|STARTTLS)[ \r\n]", client):
        return _result("imap")
    return _result("unknown")


# --- UDP ---------------------------------------------------------------------------------


def _udp(flow: Flow, ports: set[int]) -> Classification:
    datagrams = [d for d in (*flow.client_datagrams, *flow.server_datagrams) if d]
    if not datagrams:
        return _result("unknown")
    first = datagrams[0]
    if ports & {53, 5353, 5355} and all(_dns(d) for d in datagrams[:2]):
        return _result("dns")
    quic = _quic(first)
    if quic is not None:
        return _result("quic", version=quic)
    if 4500 in ports:
        if first[:4] == b"\x00\x00\x00\x00" and _isakmp(first[4:]):
            return _result("ike", nat_traversal="yes")
        if len(first) == 1 and first[0] == 0xFF:
            return _result("ike", nat_traversal="keepalive")  # RFC 3948 2.3
        if len(first) >= 8 and first[:4] != b"\x00\x00\x00\x00":
            return _result("esp", encapsulation="udp")  # RFC 3948 2.2: an SPI, not the marker
    if _isakmp(first) and (500 in ports or all(_isakmp(d) for d in datagrams[:2])):
        return _result("ike")
    if _wireguard(first):
        return _result("wireguard")
    dtls = _dtls(first)
    if dtls is not None and all(_dtls(d) for d in datagrams[1:3]):
        return _result("dtls", record_version=dtls)
    if is_snmp(datagrams):
        return _result("snmp")
    if all(_dns(d) for d in datagrams[:2]) and _dns(first, strict=True):
        return _result("dns")
    return _result("unknown")


def _dns(data: bytes, *, strict: bool = False) -> bool:
    """RFC 1035 4.1.1 header and 4.1.2 question; ``strict`` wants a query that ends exactly
    after its question (and an optional EDNS OPT record, RFC 6891 6.1.2)."""
    if len(data) < 12:
        return False
    _id, flags, qd, an, ns, ar = struct.unpack_from("!6H", data)
    opcode = (flags >> 11) & 0xF
    if opcode not in (0, 1, 2, 4, 5, 6) or qd > 4 or an + ns + ar > 512:
        return False
    if qd == 0:
        return not strict and bool(flags & 0x8000) and flags & 0xF != 0  # an error answer
    pos = 12
    for _ in range(qd):
        for _ in range(128):
            if pos >= len(data):
                return False
            size = data[pos]
            if size == 0:
                pos += 1
                break
            if size & 0xC0 == 0xC0:  # compression pointer (4.1.4)
                pos += 2
                break
            if size & 0xC0:
                return False
            pos += 1 + size
        else:
            return False
        pos += 4  # QTYPE, QCLASS
        if pos > len(data):
            return False
    if not strict:
        return True
    if flags & 0x8000 or an or ns or ar > 1:
        return False
    return pos == len(data) or (ar == 1 and len(data) - pos >= 11 and data[pos] == 0)


def _quic(data: bytes) -> str | None:
    """RFC 8999 5.1 / RFC 9000 17.2 long header: form and fixed bits, version, CID lengths."""
    if len(data) < 7 or data[0] & 0x80 == 0:
        return None
    version = int.from_bytes(data[1:5], "big")
    known = {1: "1", 0x6B3343CF: "2", 0: "negotiation"}  # RFC 9369 for v2
    if version in known:
        name = known[version]
    elif version >> 8 == 0xFF0000:
        name = f"draft-{version & 0xFF}"
    else:
        return None
    if version and not data[0] & 0x40:
        return None  # the fixed bit (RFC 9000 17.2), except in version negotiation
    dcid = data[5]
    if dcid > 20 or 6 + dcid >= len(data) or data[6 + dcid] > 20:
        return None
    return name


def _isakmp(data: bytes) -> bool:
    """ISAKMP/IKE header (RFC 2408 3.1, RFC 7296 3.1): 28 bytes, a non-zero initiator SPI,
    major version 1 or 2, and a length that matches the datagram."""
    if len(data) < 28 or data[:8] == bytes(8) or data[17] >> 4 not in (1, 2):
        return False
    length = int.from_bytes(data[24:28], "big")
    return length == len(data)


# DTLSPlaintext.version (RFC 6347 4.1, RFC 9147 4): 1.0 and 1.2 (DTLS 1.3 keeps 1.2 there).
_DTLS_VERSIONS = {0xFEFF: "DTLSv1.0", 0xFEFD: "DTLSv1.2", 0x0100: "DTLSv1.0 (OpenSSL pre-RFC)"}
_DTLS_RECORD_TYPES = frozenset({20, 21, 22, 23, 25})  # change_cipher_spec .. ack (RFC 9147)
_DTLS_MAX_RECORD = 2**14 + 2048  # RFC 6347 4.1.1: compressed/encrypted length bound


def _dtls(data: bytes) -> str | None:
    """Every record of the datagram is a well-formed DTLS record: type, version, epoch (2),
    sequence number (6), length (2) that fits (RFC 6347 4.1); DTLS 1.3's unified header
    (RFC 9147 4: first bits 001, connection ID and lengths vary) ends the walk as accepted
    when it follows a plaintext record. The version label of the first record, or None."""
    position, name = 0, None
    while position < len(data):
        if name is not None and data[position] >> 5 == 0b001:
            return name  # a DTLS 1.3 ciphertext record after a plaintext one
        if position + 13 > len(data) or data[position] not in _DTLS_RECORD_TYPES:
            return None
        version = int.from_bytes(data[position + 1 : position + 3], "big")
        length = int.from_bytes(data[position + 11 : position + 13], "big")
        if version not in _DTLS_VERSIONS or length > _DTLS_MAX_RECORD:
            return None
        if position + 13 + length > len(data):
            return None
        name = name or _DTLS_VERSIONS[version]
        position += 13 + length
    return name


def _wireguard(data: bytes) -> bool:
    """WireGuard message types 1-4 with three reserved zero bytes and their fixed sizes."""
    if len(data) < 32 or data[0] not in (1, 2, 3, 4) or data[1:4] != b"\x00\x00\x00":
        return False
    return data[0] == 4 or len(data) == {1: 148, 2: 92, 3: 64}[data[0]]
