"""MySQL classic protocol in a flow's first bytes (issue 5): recognised by content, switched to
TLS or not, and the password a ``mysql_clear_password`` login sends in the clear.

Layouts from the MySQL Client/Server Protocol documentation ("MySQL Internals", dev.mysql.com
``page_protocol_*``):

- every message is a packet: payload length (3 bytes, little-endian), sequence id (1 byte),
  payload (``page_protocol_basic_packets``);
- the server speaks first with ``Protocol::HandshakeV10`` (payload byte 0 is 10, then the
  NUL-terminated server version, ``page_protocol_connection_phase_packets_protocol_handshake_v10``);
- the client answers with ``Protocol::SSLRequest`` (32 bytes: capability flags, max packet
  size, character set, 23 filler bytes) when it sets ``CLIENT_SSL`` (0x800), and TLS follows
  at once; otherwise with ``Protocol::HandshakeResponse41`` (capabilities, ..., user name NUL,
  auth response, [database NUL], [client plugin name NUL]);
- ``mysql_clear_password`` sends the password itself, NUL-terminated: as the auth response
  when the client starts with that plugin, or in the packet answering the server's
  ``AuthSwitchRequest`` (0xFE, plugin name NUL, plugin data) naming it.

Hostile input gives None or [], never an exception; packets and values are capped.
"""

from __future__ import annotations

from dataclasses import dataclass

from probe.pcap.redact import Secret, clean_user, redact

__all__ = ["MysqlHandshake", "mysql_credentials", "mysql_handshake"]

MAX_PACKETS = 16  # packets looked at per direction
CLIENT_CONNECT_WITH_DB = 0x00000008
CLIENT_PROTOCOL_41 = 0x00000200
CLIENT_SSL = 0x00000800
CLIENT_SECURE_CONNECTION = 0x00008000
CLIENT_PLUGIN_AUTH = 0x00080000
CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA = 0x00200000
_SSL_REQUEST_SIZE = 32
_CLEAR = b"mysql_clear_password"


@dataclass(frozen=True, slots=True)
class MysqlHandshake:
    """``server_version`` from the greeting; ``ssl``: the client sent an SSLRequest (TLS
    follows from ``client_tls_at`` in the client prefix and ``server_tls_at`` in the server's);
    ``server_ssl``: the greeting offered CLIENT_SSL."""

    server_version: str
    server_ssl: bool
    ssl: bool
    client_tls_at: int
    server_tls_at: int


def _packets(data: bytes) -> list[tuple[int, int, bytes]]:
    """(offset of the payload, sequence id, payload) of the whole packets at the start."""
    out = []
    pos = 0
    for _ in range(MAX_PACKETS):
        if pos + 4 > len(data):
            break
        length = int.from_bytes(data[pos : pos + 3], "little")
        if pos + 4 + length > len(data):
            break
        out.append((pos + 4, data[pos + 3], data[pos + 4 : pos + 4 + length]))
        pos += 4 + length
    return out


def _greeting(server: bytes) -> tuple[str, int, int] | None:
    """(server version, capability flags, end of the packet) of a HandshakeV10, or None."""
    if len(server) < 5 or server[3] != 0 or server[4] != 10:
        return None
    length = int.from_bytes(server[:3], "little")
    payload = server[4 : 4 + length]
    end = payload.find(b"\x00", 1, 64)
    if end < 2 or len(payload) < end + 1 + 4 + 8 + 1 + 2:
        return None
    version = payload[1:end]
    if not all(0x20 < b < 0x7F for b in version):
        return None
    at = end + 1 + 4 + 8 + 1  # thread id, auth-plugin-data-part-1, filler
    capabilities = int.from_bytes(payload[at : at + 2], "little")
    if len(payload) >= at + 2 + 1 + 2 + 2:
        capabilities |= int.from_bytes(payload[at + 5 : at + 7], "little") << 16
    if payload[at - 1] != 0:
        return None  # the filler byte after auth-plugin-data-part-1
    return version.decode("ascii"), capabilities, 4 + length


def mysql_handshake(client: bytes, server: bytes) -> MysqlHandshake | None:
    """The connection phase's facts, or None when the server did not greet with protocol 10."""
    greeting = _greeting(server)
    if greeting is None:
        return None
    version, capabilities, server_end = greeting
    first = _packets(client[:4096])[:1]
    ssl = False
    client_at = 0
    if first:
        offset, sequence, payload = first[0]
        flags = int.from_bytes(payload[:4], "little") if len(payload) >= 4 else 0
        ssl = sequence == 1 and len(payload) == _SSL_REQUEST_SIZE and bool(flags & CLIENT_SSL)
        client_at = offset + len(payload)
    return MysqlHandshake(version, bool(capabilities & CLIENT_SSL), ssl, client_at, server_end)


def _cstring(data: bytes, pos: int) -> tuple[bytes, int] | None:
    end = data.find(b"\x00", pos)
    return None if end < 0 else (data[pos:end], end + 1)


def _lenenc(data: bytes, pos: int) -> tuple[int, int] | None:
    """A length-encoded integer (``page_protocol_basic_dt_integers``)."""
    if pos >= len(data):
        return None
    first = data[pos]
    if first < 0xFB:
        return first, pos + 1
    size = {0xFC: 2, 0xFD: 3, 0xFE: 8}.get(first)
    if size is None or pos + 1 + size > len(data):
        return None
    return int.from_bytes(data[pos + 1 : pos + 1 + size], "little"), pos + 1 + size


def _response41(payload: bytes) -> tuple[bytes, bytes, int, bytes] | None:
    """(user, auth response, offset of it, client plugin name) of a HandshakeResponse41."""
    if len(payload) < 33:
        return None
    flags = int.from_bytes(payload[:4], "little")
    if not flags & CLIENT_PROTOCOL_41:
        return None
    user = _cstring(payload, 32)
    if user is None:
        return None
    name, pos = user
    if flags & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA:
        length = _lenenc(payload, pos)
        if length is None:
            return None
        size, pos = length
    elif flags & CLIENT_SECURE_CONNECTION:
        if pos >= len(payload):
            return None
        size, pos = payload[pos], pos + 1
    else:
        value = _cstring(payload, pos)
        if value is None:
            return None
        size = len(value[0])
    if pos + size > len(payload):
        return None
    auth, auth_at = payload[pos : pos + size], pos
    pos += size
    if flags & CLIENT_CONNECT_WITH_DB:
        database = _cstring(payload, pos)
        pos = database[1] if database is not None else len(payload)
    plugin = _cstring(payload, pos) if flags & CLIENT_PLUGIN_AUTH else None
    return name, auth, auth_at, plugin[0] if plugin is not None else b""


def mysql_credentials(client: bytes, server: bytes) -> list[Secret]:
    """The password of a ``mysql_clear_password`` login in the clear (none after an
    SSLRequest: that part is TLS)."""
    handshake = mysql_handshake(client, server)
    if handshake is None or handshake.ssl:
        return []
    client_packets = _packets(client)
    if not client_packets:
        return []
    offset, _sequence, payload = client_packets[0]
    response = _response41(payload)
    if response is None:
        return []
    user, auth, auth_at, plugin = response
    out = []

    def found(value: bytes, at: int) -> None:
        value = value.rstrip(b"\x00")  # sent NUL-terminated
        if value:
            out.append(Secret("mysql-clear-password", "mysql", "client", at, clean_user(user),
                              redact(value, kind="mysql-clear-password")))  # fmt: skip

    if plugin == _CLEAR:
        found(auth, offset + auth_at)
    # AuthSwitchRequest (0xFE, plugin name NUL, data) naming mysql_clear_password: the
    # client's next packet is the password.
    switched = any(
        p[:1] == b"\xfe" and p[1:].split(b"\x00", 1)[0] == _CLEAR
        for _, _, p in _packets(server[handshake.server_tls_at :])
    )
    if switched and len(client_packets) > 1:
        at, _, answer = client_packets[1]
        found(answer, at)
    return out
