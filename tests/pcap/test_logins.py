"""probe.pcap.logins through classify and find_credentials: Telnet, Redis, PostgreSQL, LDAP
simple bind and SNMP v1/v2c on hand-built bytes (following the RFCs and protocol docs cited in
the module), whole and reassembled from one-byte segments, and fuzzed."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from test_credentials import leaks
from test_flows import C, S, seg

from probe.pcap.classify import Classification, classify
from probe.pcap.credentials import find_credentials, scan_flow
from probe.pcap.flows import Flow, FlowTable
from probe.pcap.logins import (
    is_ldap,
    is_redis,
    is_telnet,
    ldap_credentials,
    postgresql_credentials,
    redis_credentials,
    snmp_credentials,
    telnet_credentials,
    telnet_text,
)
from probe.pcap.redact import Secret

ACK, SYN = 0x10, 0x02


def flow(client: bytes, server: bytes = b"", *, port: int = 40000, udp: bool = False) -> Flow:
    return Flow(
        client=("10.0.0.1", 50000), server=("10.0.0.2", port),
        transport="udp" if udp else "tcp", packets=2, packets_to_server=1, packets_to_client=1,
        bytes_to_server=len(client), bytes_to_client=len(server), first_ns=0, last_ns=1,
        client_prefix=client, server_prefix=server,
        client_datagrams=(client,) if udp and client else (),
        server_datagrams=(server,) if udp and server else (),
    )  # fmt: skip


def creds(client: bytes, server: bytes = b"", **kw: bool | int) -> tuple[str, list[Secret]]:
    f = flow(client, server, **kw)  # type: ignore[arg-type]
    c = classify(f)
    return c.protocol, find_credentials(f, c)


def reassembled(client: bytes, server: bytes) -> Flow:
    """Both directions through the flow table: the client one byte per segment, reversed."""
    table = FlowTable()
    table.add(seg(C, S, 999, flags=SYN), 1)
    table.add(seg(S, C, 4999, flags=SYN | ACK), 2)
    table.add(seg(C, S, 1000), 3)
    table.add(seg(S, C, 5000, server), 4)
    pieces = [seg(C, S, 1000 + i, client[i : i + 1]) for i in range(len(client))]
    for i, packet in enumerate(reversed(pieces)):
        table.add(packet, 10 + i)
    (result,) = table.finish()
    assert result.client_prefix == client and result.server_prefix == server
    return result


def split_too(client: bytes, server: bytes) -> list[tuple[str, list[Secret]]]:
    """The same flow whole and reassembled from one-byte segments."""
    whole = creds(client, server)
    f = reassembled(client, server)
    c = classify(f)
    return [whole, (c.protocol, find_credentials(f, c))]


# --- Telnet (RFC 854, 855, 857) ------------------------------------------------------------

IAC, WILL, WONT, DO, DONT, SB, SE = 255, 251, 252, 253, 254, 250, 240
TELNET_SERVER = (bytes([IAC, DO, 24, IAC, DO, 32, IAC, WILL, 1, IAC, WILL, 3])
                 + b"\r\nUbuntu 24.04\r\nhost login: " + b"alice\r\n" + b"Password: "
                 + b"\r\nLast login: ...\r\n$ ")  # fmt: skip


def keystrokes(text: bytes) -> bytes:
    """A client answering the negotiation (terminal type subnegotiation, RFC 1091) then
    typing ``text`` with CR NUL / CR LF line ends (RFC 854 "the NVT printer")."""
    negotiation = bytes([IAC, WILL, 24, IAC, WONT, 32, IAC, DO, 1, IAC, DO, 3])
    negotiation += bytes([IAC, SB, 24, 0]) + b"XTERM" + bytes([IAC, SE])
    return negotiation + text


def test_telnet_classified_by_negotiation() -> None:
    assert is_telnet(bytes([IAC, DO, 1]), b"")
    assert is_telnet(b"", bytes([IAC, WONT, 3]))
    assert not is_telnet(bytes([IAC, 0xF1, 0]), b"")  # NOP is not a negotiation
    result = classify(flow(keystrokes(b""), TELNET_SERVER, port=2323))
    assert (result.protocol, result.encrypted) == ("telnet", False)


def test_telnet_text_strips_commands() -> None:
    data = b"a" + bytes([IAC, IAC]) + b"b\r\0c" + bytes([IAC, SB, 24, 1, IAC, SE, IAC, 0xF1]) + b"d"
    text, where = telnet_text(data)
    assert text == b"a\xffb\rcd" and where[1] == 1 and data[where[-1]] == ord("d")


def test_telnet_login_whole_and_one_byte_segments() -> None:
    client = keystrokes(b"alice\r\0" + b"fake-telx\x7fnet-pw\r\n")  # DEL edits
    for protocol, found in split_too(client, TELNET_SERVER):
        assert protocol == "telnet"
        (secret,) = found
        assert (secret.kind, secret.protocol, secret.user) == ("telnet-login", "telnet", "alice")
        assert secret.fingerprint.startswith("telnet-login:len=14:f..w:")
        assert client[secret.offset :].startswith(b"fake-tel")
        assert not leaks(secret, "fake-telnet-pw")


def test_telnet_password_prompt_only_and_no_prompt() -> None:
    server = bytes([IAC, WILL, 1]) + b"Password: "
    ((secret,),) = [telnet_credentials(b"fake-only-pw\r\n", server)]
    assert secret.user is None
    assert telnet_credentials(b"alice\r\nfake\r\n", bytes([IAC, WILL, 1]) + b"$ ") == []
    assert telnet_credentials(b"alice\r\n", TELNET_SERVER) == []  # no password typed yet


# --- Redis (RESP) ----------------------------------------------------------------------------


def resp(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def test_redis_resp_auth_forms() -> None:
    client = (resp(b"AUTH", b"fake-redis-pw") + resp(b"AUTH", b"bob", b"fake-acl-pass")
              + resp(b"HELLO", b"3", b"AUTH", b"carol", b"fake-hello-pw")
              + resp(b"PING"))  # fmt: skip
    for protocol, found in split_too(client, b"+OK\r\n+OK\r\n%7\r\n"):
        assert protocol == "redis"
        assert [(s.kind, s.user) for s in found] == [
            ("redis-auth", None), ("redis-auth", "bob"), ("redis-auth", "carol")]  # fmt: skip
        for secret, raw in zip(
            found, ("fake-redis-pw", "fake-acl-pass", "fake-hello-pw"), strict=True
        ):
            assert client[secret.offset :].startswith(raw.encode())
            assert not leaks(secret, raw)


def test_redis_inline_auth_and_binary_safe_bulk() -> None:
    protocol, found = creds(b"AUTH fake-inline-pw\r\nGET k\r\n", b"+OK\r\n$-1\r\n")
    assert protocol == "redis" and [s.kind for s in found] == ["redis-auth"]
    assert not leaks(found[0], "fake-inline-pw")
    # A password holding CR LF is one bulk string (the length decides, not the line end).
    (secret,) = redis_credentials(resp(b"AUTH", b"fake\r\npw"))
    assert secret.fingerprint.startswith("redis-auth:len=8:")
    assert not is_redis(b"AUTH x\r\n", b"220 hello\r\n")  # inline needs a RESP reply
    assert redis_credentials(b"*2\r\n$4\r\nAUTH\r\n$99\r\nshort\r\n") == []  # cut bulk


# --- PostgreSQL (frontend/backend protocol 3.0) ------------------------------------------------


def startup(user: bytes = b"alice") -> bytes:
    body = struct.pack("!I", 196608) + b"user\0" + user + b"\0database\0app\0\0"
    return struct.pack("!I", len(body) + 4) + body


def message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


SSL_REQUEST = struct.pack("!II", 8, 80877103)


def test_postgresql_cleartext_password() -> None:
    client = startup() + message(b"p", b"fake-pg-pass\0") + message(b"Q", b"select 1\0")
    server = message(b"R", struct.pack("!I", 3))
    for protocol, found in split_too(client, server):
        assert protocol == "postgresql"
        (secret,) = found
        assert (secret.kind, secret.user) == ("postgresql-password", "alice")
        assert client[secret.offset :].startswith(b"fake-pg-pass")
        assert not leaks(secret, "fake-pg-pass")


def test_postgresql_md5_and_sasl() -> None:
    digest = b"md5" + b"0123456789abcdef" * 2
    server = message(b"R", struct.pack("!I", 5) + b"salt")
    (secret,) = postgresql_credentials(startup() + message(b"p", digest + b"\0"), server)
    assert secret.kind == "postgresql-md5" and not leaks(secret, digest)
    sasl = message(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", 5) + b"n,,n=")
    scram = message(b"R", struct.pack("!I", 10) + b"SCRAM-SHA-256\0\0")
    assert postgresql_credentials(startup() + sasl, scram) == []


def test_postgresql_ssl_request() -> None:
    # Answered 'S': TLS follows, nothing in the clear.
    result = classify(flow(SSL_REQUEST + b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x03", b"S"))
    assert (result.protocol, result.encrypted, result.detail["starttls"]) == (
        "tls", True, "SSLRequest")  # fmt: skip
    # Answered 'N': the StartupMessage and password follow in the clear.
    client = SSL_REQUEST + startup(b"bob") + message(b"p", b"fake-after-n\0")
    protocol, found = creds(client, b"N" + message(b"R", struct.pack("!I", 3)))
    assert protocol == "postgresql" and [(s.kind, s.user) for s in found] == [
        ("postgresql-password", "bob")]  # fmt: skip


# --- LDAP (RFC 4511) -----------------------------------------------------------------------------


def ber(tag: int, body: bytes) -> bytes:
    size = len(body)
    length = bytes([size]) if size < 0x80 else bytes([0x82]) + struct.pack("!H", size)
    return bytes([tag]) + length + body


def bind(dn: bytes, password: bytes, msgid: int = 1) -> bytes:
    """RFC 4511 4.2 BindRequest ::= [APPLICATION 0] SEQUENCE { version INTEGER (3),
    name LDAPDN, authentication simple [0] OCTET STRING } inside an LDAPMessage."""
    request = ber(0x60, ber(0x02, b"\x03") + ber(0x04, dn) + ber(0x80, password))
    return ber(0x30, ber(0x02, bytes([msgid])) + request)


def test_ldap_simple_bind() -> None:
    dn = b"cn=admin,dc=example,dc=test"
    client = bind(b"", b"", 1) + bind(dn, b"fake-ldap-pw", 2) + bind(b"x" * 200, b"pw2-" * 40, 3)
    server = ber(0x30, ber(0x02, b"\x01") + ber(0x61, ber(0x0A, b"\x00") + ber(0x04, b"") * 2))
    assert is_ldap(client, server) and is_ldap(b"", server)
    for protocol, found in split_too(client, server):
        assert protocol == "ldap"
        assert [(s.kind, s.user) for s in found] == [
            ("ldap-simple-bind", dn.decode()), ("ldap-simple-bind", "x" * 64)]  # fmt: skip
        assert client[found[0].offset :].startswith(b"fake-ldap-pw")
        assert not leaks(found[0], "fake-ldap-pw") and not leaks(found[1], "pw2-" * 40)


def test_ldap_sasl_bind_and_search_are_not_credentials() -> None:
    sasl = ber(0x30, ber(0x02, b"\x01") + ber(0x60, ber(0x02, b"\x03") + ber(0x04, b"")
                                                 + ber(0xA3, ber(0x04, b"GSSAPI"))))  # fmt: skip
    assert ldap_credentials(sasl) == []
    assert not is_ldap(b"\x30\x03\x02\x01", b"")  # cut before the operation


# --- SNMP v1/v2c (RFC 1157, RFC 3416) ---------------------------------------------------------


def snmp(community: bytes, version: int = 1, pdu: int = 0xA0) -> bytes:
    varbind = ber(0x30, ber(0x30, ber(0x06, b"\x2b\x06\x01\x02\x01\x01\x01\x00") + b"\x05\x00"))
    body = ber(0x02, b"\x01") + ber(0x02, b"\x00") + ber(0x02, b"\x00") + varbind
    return ber(0x30, ber(0x02, bytes([version])) + ber(0x04, community) + ber(pdu, body))


def test_snmp_community() -> None:
    request, response = snmp(b"fake-community"), snmp(b"fake-community", pdu=0xA2)
    f = flow(request, response, port=161, udp=True)
    result = classify(f)
    assert (result.protocol, result.encrypted) == ("snmp", False)
    (secret,) = find_credentials(f, result)
    assert (secret.kind, secret.direction) == ("snmp-community", "client")
    assert request[secret.offset :].startswith(b"fake-community")
    assert not leaks(secret, "fake-community")
    # v1 trap from an agent: only the server side carries one; SNMPv3 (version 3) is not v1/v2c.
    (trap,) = snmp_credentials((), (snmp(b"fake-trap", 0, 0xA4),))
    assert trap.direction == "server"
    assert classify(flow(snmp(b"x", version=3), port=161, udp=True)).protocol != "snmp"


# --- never raise, never leak -----------------------------------------------------------------

NEW = ["telnet", "redis", "postgresql", "ldap", "snmp"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.binary(max_size=600), st.sampled_from(NEW), st.booleans())
def test_arbitrary_bytes_never_raise(client: bytes, server: bytes, protocol: str,
                                     udp: bool) -> None:  # fmt: skip
    f = flow(client, server, udp=udp)
    classify(f)
    for secret in scan_flow(f, Classification(protocol, False)):
        assert secret.direction in ("client", "server") and secret.offset >= 0


PREFIXES = [
    keystrokes(b"alice\r\npw\r\n"), resp(b"AUTH", b"u", b"p"), startup() + message(b"p", b"x\0"),
    bind(b"cn=a", b"b"), snmp(b"c"), SSL_REQUEST + startup(),
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PREFIXES), st.integers(0, 200), st.binary(max_size=8),
       st.sampled_from(NEW))  # fmt: skip
def test_damaged_messages_never_raise(good: bytes, cut: int, junk: bytes, protocol: str) -> None:
    for data in (good[:cut] + junk, junk + good[cut:], good[:cut] + junk + good[cut:]):
        for udp in (False, True):
            f = flow(data, TELNET_SERVER if protocol == "telnet" else data[::-1], udp=udp)
            classify(f)
            find_credentials(f, Classification(protocol, False))


PASSWORD = st.text("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!#$%",
                   min_size=10, max_size=40).filter(lambda p: not p.islower())  # fmt: skip
USER = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=20)


@settings(max_examples=100, deadline=None)
@given(USER, PASSWORD)
def test_constructed_credentials_found_and_never_leaked(user: str, password: str) -> None:
    u, p = user.encode(), password.encode()
    cases = [
        (keystrokes(u + b"\r\0" + p + b"\r\0"), TELNET_SERVER, "telnet-login", user),
        (resp(b"AUTH", u, p), b"+OK\r\n", "redis-auth", user),
        (startup(u) + message(b"p", p + b"\0"), message(b"R", struct.pack("!I", 3)),
         "postgresql-password", user),
        (bind(u, p), b"", "ldap-simple-bind", user),
    ]  # fmt: skip
    for client, server, kind, who in cases:
        protocol, found = creds(client, server)
        assert [(s.kind, s.user) for s in found] == [(kind, who)], protocol
        assert not leaks(found[0], password)
    protocol, found = creds(snmp(p), b"", port=161, udp=True)
    assert protocol == "snmp" and [s.kind for s in found] == ["snmp-community"]
    assert not leaks(found[0], password)
