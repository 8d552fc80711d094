"""MySQL classic protocol (probe.pcap.mysql): packets built from the MySQL Client/Server
Protocol documentation's layouts: HandshakeV10, SSLRequest, HandshakeResponse41,
AuthSwitchRequest; whole and one byte per segment; hostile packets."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from test_credentials import leaks
from test_logins import creds, reassembled

from probe.pcap.classify import classify
from probe.pcap.credentials import find_credentials
from probe.pcap.mysql import (
    CLIENT_CONNECT_WITH_DB,
    CLIENT_PLUGIN_AUTH,
    CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
    CLIENT_PROTOCOL_41,
    CLIENT_SECURE_CONNECTION,
    CLIENT_SSL,
    mysql_credentials,
    mysql_handshake,
)

BASE = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH


def packet(sequence: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "little") + bytes([sequence]) + payload


def greeting(capabilities: int = BASE | CLIENT_SSL, version: bytes = b"8.0.36") -> bytes:
    """Protocol::HandshakeV10."""
    body = b"\x0a" + version + b"\x00" + struct.pack("<I", 42) + b"12345678" + b"\x00"
    body += struct.pack("<H", capabilities & 0xFFFF) + b"\x21" + struct.pack("<H", 2)
    body += struct.pack("<H", capabilities >> 16) + b"\x15" + bytes(10)
    body += b"abcdefghijkl\x00" + b"caching_sha2_password\x00"
    return packet(0, body)


def ssl_request(capabilities: int = BASE | CLIENT_SSL) -> bytes:
    return packet(1, struct.pack("<IIB", capabilities, 1 << 24, 0x21) + bytes(23))


def response41(
    user: bytes, auth: bytes, plugin: bytes, flags: int = BASE, db: bytes = b""
) -> bytes:
    body = struct.pack("<IIB", flags, 1 << 24, 0x21) + bytes(23) + user + b"\x00"
    if flags & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA:
        body += bytes([len(auth)]) + auth
    else:
        body += bytes([len(auth)]) + auth
    if flags & CLIENT_CONNECT_WITH_DB:
        body += db + b"\x00"
    return packet(1, body + plugin + b"\x00")


CLIENT_HELLO = bytes.fromhex("16030100") + b"\x2f\x01" + bytes(0x2F - 1)


def test_greeting_classifies_and_no_ssl_is_cleartext() -> None:
    client = response41(b"app", bytes(20), b"caching_sha2_password")
    protocol, found = creds(client, greeting(), port=13306)
    assert (protocol, found) == ("mysql", [])
    handshake = mysql_handshake(client, greeting())
    assert handshake is not None and handshake.server_version == "8.0.36"
    assert handshake.server_ssl and not handshake.ssl


def test_ssl_request_switches_to_tls() -> None:
    client = ssl_request() + CLIENT_HELLO
    result = classify(reassembled(client, greeting() + b"\x16\x03\x03\x00\x02\x02\x00"))
    assert (result.protocol, result.encrypted) == ("tls", True)
    assert result.detail["starttls"] == "SSLRequest"
    assert result.detail["mysql_version"] == "8.0.36"


def test_clear_password_in_the_handshake_response() -> None:
    client = response41(b"alice", b"fake-mysql-pass\x00", b"mysql_clear_password",
                        BASE | CLIENT_CONNECT_WITH_DB, b"shop")  # fmt: skip
    for f in (reassembled(client, greeting()),):
        c = classify(f)
        (secret,) = find_credentials(f, c)
        assert (secret.kind, secret.user, secret.protocol) == (
            "mysql-clear-password", "alice", "mysql",
        )  # fmt: skip
        assert not leaks(secret, "fake-mysql-pass")
        assert client[secret.offset :].startswith(b"fake-mysql-pass")


def test_clear_password_after_an_auth_switch() -> None:
    client = response41(b"bob", bytes(20), b"caching_sha2_password", BASE)
    client += packet(3, b"fake-switch-pass\x00")
    switch = packet(2, b"\xfemysql_clear_password\x00")
    (secret,) = mysql_credentials(client, greeting() + switch)
    assert (secret.kind, secret.user) == ("mysql-clear-password", "bob")
    assert client[secret.offset :].startswith(b"fake-switch-pass")
    # The same switch after an SSLRequest is inside TLS: nothing in the clear.
    assert mysql_credentials(ssl_request() + client, greeting() + switch) == []


def test_lenenc_auth_data_and_other_plugins() -> None:
    flags = BASE | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
    client = response41(b"carol", b"fake-lenenc-pw", b"mysql_clear_password", flags)
    assert [s.user for s in mysql_credentials(client, greeting())] == ["carol"]
    native = response41(b"dave", bytes(20), b"mysql_native_password")
    assert mysql_credentials(native, greeting()) == []


def test_not_mysql() -> None:
    assert mysql_handshake(b"", b"\x05\x00\x00\x00\x0a8.0\x00") is None  # cut short
    assert mysql_handshake(b"", packet(0, b"\x09" + bytes(40))) is None  # protocol 9
    assert mysql_handshake(b"", packet(0, b"\x0a\x1b[31m\x00" + bytes(40))) is None
    assert classify(reassembled(b"GET / HTTP/1.1\r\n\r\n", b"")).protocol == "http"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=300))
def test_hostile_packets_never_raise(client: bytes, server: bytes) -> None:
    mysql_credentials(client, greeting() + server)
    mysql_credentials(response41(b"x", b"", b"") + client, server)
    mysql_handshake(client, server)
