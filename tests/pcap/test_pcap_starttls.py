"""probe.pcap.starttls on hand-built dialogs (RFC 3207, RFC 9051/2595, RFC 2449, RFC 4217,
RFC 4511 4.14, RFC 6120 5, PostgreSQL 55.2.10): offered / requested / accepted / used, masked
capabilities and logins in the clear, whole, reassembled from one-byte segments sent in reverse
order, through classify, through the capture rules, and fuzzed."""

from __future__ import annotations

import random
import struct
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_classify import TLS12_SERVER, flow, hello
from test_flows import C, S, seg
from test_logins import ACK, SYN, bind, message, reassembled, startup

from probe.grading.pcap_rules import starttls_not_used, starttls_stripped
from probe.grading.profile import load_profile
from probe.grading.rules import evaluate_capture
from probe.pcap.analyze import Analysis, Ignored, Summary, analyze, flow_facts
from probe.pcap.classify import classify
from probe.pcap.credentials import find_credentials
from probe.pcap.flows import Flow, FlowTable
from probe.pcap.starttls import LDAP_STARTTLS_OID, StartTls, find_starttls, xmpp_credentials

SERVER_TLS = TLS12_SERVER[:1500]
PROFILE = load_profile("azure-transit")
PLAIN = b"AUTH PLAIN AGFsaWNlAGZha2Utc210cC1wYXNz\r\n"  # alice / fake-smtp-pass


def shuffled(client: bytes, server: bytes, seed: int) -> Flow:
    """Both directions one byte per segment, interleaved in a random order, every tenth
    segment sent twice (a retransmission)."""
    table = FlowTable(prefix_bytes=8192)
    table.add(seg(C, S, 999, flags=SYN), 1)
    table.add(seg(S, C, 4999, flags=SYN | ACK), 2)
    pieces = [seg(C, S, 1000 + i, client[i : i + 1]) for i in range(len(client))]
    pieces += [seg(S, C, 5000 + i, server[i : i + 1]) for i in range(len(server))]
    pieces += pieces[::10]
    random.Random(seed).shuffle(pieces)
    for i, packet in enumerate(pieces):
        table.add(packet, 10 + i)
    (result,) = table.finish()
    assert result.client_prefix == client and result.server_prefix == server
    return result


def both(client: bytes, server: bytes) -> StartTls | None:
    """The facts of the whole prefixes, checked equal to those of the flow reassembled from
    one-byte segments (client reversed; both directions shuffled with retransmissions)."""
    whole = find_starttls(client, server)
    again = reassembled(client, server)
    assert find_starttls(again.client_prefix, again.server_prefix) == whole
    mixed = shuffled(client, server, len(client) + len(server))
    assert find_starttls(mixed.client_prefix, mixed.server_prefix) == whole
    return whole


def facts(up: StartTls | None) -> tuple[object, ...]:
    assert up is not None
    return (up.protocol, up.offered, up.requested, up.command, up.accepted, up.used,
            up.login_in_clear)  # fmt: skip


# --- SMTP (RFC 3207, RFC 5321 4.2) ---------------------------------------------------------

EHLO_TLS = b"220 mx ESMTP\r\n250-mx\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n"
EHLO_PLAIN = b"220 mx ESMTP\r\n250-mx\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n"


def test_smtp_offered_and_used() -> None:
    client = b"EHLO me\r\nSTARTTLS\r\n" + hello()
    server = EHLO_TLS + b"220 2.0.0 Ready to start TLS\r\n" + SERVER_TLS
    up = both(client, server)
    assert facts(up) == ("smtp", True, True, "STARTTLS", True, True, False)
    assert up is not None and client[up.client_tls_at :] == hello()
    result = classify(flow(client, server, port=25))
    assert (result.protocol, result.detail["starttls"], result.detail["sni"]) == (
        "tls", "STARTTLS", "example.test",
    )  # fmt: skip
    assert result.detail["version"] == "TLSv1.2" and result.starttls == up


def test_smtp_offered_not_used() -> None:
    client = b"EHLO me\r\n" + PLAIN + b"QUIT\r\n"
    server = EHLO_TLS + b"235 ok\r\n221 bye\r\n"
    assert facts(both(client, server)) == ("smtp", True, False, None, None, False, True)
    result = classify(flow(client, server, port=2525))
    assert result.protocol == "smtp" and result.starttls is not None


def test_smtp_not_offered_refused_and_masked() -> None:
    client = b"EHLO me\r\n" + PLAIN
    assert facts(both(client, EHLO_PLAIN + b"235 ok\r\n")) == (
        "smtp", False, False, None, None, False, True,
    )  # fmt: skip
    client = b"EHLO me\r\nSTARTTLS\r\n" + PLAIN
    server = EHLO_TLS + b"454 4.7.0 TLS not available\r\n235 ok\r\n"
    assert facts(both(client, server)) == ("smtp", True, True, "STARTTLS", False, False, True)
    masked = EHLO_TLS.replace(b"STARTTLS", b"XXXXXXXA")
    up = both(b"EHLO me\r\n" + PLAIN, masked + b"235 ok\r\n")
    assert up is not None and up.masked and up.offered is False and up.login_in_clear


def test_smtp_helo_only_offer_unknown() -> None:
    up = both(b"HELO me\r\nMAIL FROM:<a@b>\r\n", b"220 mx\r\n250 mx\r\n250 ok\r\n")
    assert facts(up) == ("smtp", None, False, None, None, False, False)


# --- IMAP (RFC 9051, RFC 2595) -------------------------------------------------------------

IMAP_TLS = b"* OK [CAPABILITY IMAP4rev1 LITERAL+ STARTTLS AUTH=PLAIN] ready\r\n"
IMAP_PLAIN = b"* OK [CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN] ready\r\n"


def test_imap_starttls_used_and_login_in_clear() -> None:
    client = b"a1 STARTTLS\r\n" + hello()
    server = IMAP_TLS + b"a1 OK Begin TLS negotiation now.\r\n" + SERVER_TLS
    assert facts(both(client, server)) == ("imap", True, True, "STARTTLS", True, True, False)
    assert classify(flow(client, server, port=143)).protocol == "tls"
    client = b"a1 LOGIN alice fake-imap-pass\r\na2 LOGOUT\r\n"
    assert facts(both(client, IMAP_TLS + b"a1 OK\r\n")) == (
        "imap", True, False, None, None, False, True,
    )  # fmt: skip
    assert facts(both(client, IMAP_PLAIN + b"a1 OK\r\n"))[1] is False


def test_imap_capability_command_and_refusal() -> None:
    client = b"a1 CAPABILITY\r\na2 STARTTLS\r\na3 LOGIN alice pw\r\n"
    server = (b"* OK ready\r\n* CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK\r\n"
              b"a2 NO [UNAVAILABLE] TLS down\r\na3 OK\r\n")  # fmt: skip
    assert facts(both(client, server)) == ("imap", True, True, "STARTTLS", False, False, True)


# --- POP3 (RFC 1939, RFC 2449, RFC 2595 4) -------------------------------------------------


def test_pop3_capa_stls_used_and_not() -> None:
    capa = b"+OK ready\r\n+OK list follows\r\nUSER\r\nSTLS\r\nSASL PLAIN\r\n.\r\n"
    client = b"CAPA\r\nSTLS\r\n" + hello()
    server = capa + b"+OK Begin TLS\r\n" + SERVER_TLS
    assert facts(both(client, server)) == ("pop3", True, True, "STLS", True, True, False)
    assert classify(flow(client, server, port=110)).protocol == "tls"
    client = b"CAPA\r\nUSER alice\r\nPASS fake\r\n"
    assert facts(both(client, capa + b"+OK\r\n+OK\r\n")) == (
        "pop3", True, False, None, None, False, True,
    )  # fmt: skip
    plain = b"+OK ready\r\n+OK\r\nUSER\r\n.\r\n-ERR TLS support isn't enabled.\r\n+OK\r\n+OK\r\n"
    client = b"CAPA\r\nSTLS\r\nUSER alice\r\nPASS fake\r\n"
    assert facts(both(client, plain)) == ("pop3", False, True, "STLS", False, False, True)


# --- FTP (RFC 4217, RFC 2389) --------------------------------------------------------------


def test_ftp_auth_tls() -> None:
    client = b"AUTH TLS\r\n" + hello()
    server = b"220 probe lab FTP ready.\r\n234 AUTH TLS successful.\r\n" + SERVER_TLS
    assert facts(both(client, server)) == ("ftp", True, True, "AUTH TLS", True, True, False)
    assert classify(flow(client, server, port=2121)).protocol == "tls"


def test_ftp_feat_and_refusal() -> None:
    feat = (
        b"220 hi\r\n211-Features supported:\r\n AUTH SSL\r\n AUTH TLS\r\n PBSZ\r\n211 End FEAT.\r\n"
    )
    client = b"FEAT\r\nUSER alice\r\nPASS fake-ftp-pass\r\n"
    assert facts(both(client, feat + b"331 pw\r\n230 ok\r\n")) == (
        "ftp", True, False, None, None, False, True,
    )  # fmt: skip
    client = b"AUTH TLS\r\nUSER alice\r\nPASS fake-ftp-pass\r\n"
    server = b'220 hi\r\n500 Command "AUTH" not understood.\r\n331 pw\r\n230 ok\r\n'
    assert facts(both(client, server)) == ("ftp", None, True, "AUTH TLS", False, False, True)
    guest = b"FEAT\r\nUSER anonymous\r\nPASS a@b\r\n"
    assert facts(both(guest, feat + b"331\r\n230\r\n"))[-1] is False  # not a credential


# --- LDAP (RFC 4511 4.12, 4.14) ------------------------------------------------------------


def ber(tag: int, body: bytes) -> bytes:
    size = len(body)
    length = bytes([size]) if size < 0x80 else bytes([0x82]) + struct.pack("!H", size)
    return bytes([tag]) + length + body


def extended_request(msgid: int = 1) -> bytes:
    return ber(0x30, ber(0x02, bytes([msgid])) + ber(0x77, ber(0x80, LDAP_STARTTLS_OID)))


def extended_response(code: int, msgid: int = 1) -> bytes:
    result = ber(0x0A, bytes([code])) + ber(0x04, b"") + ber(0x04, b"")
    return ber(0x30, ber(0x02, bytes([msgid])) + ber(0x78, result))


def test_ldap_starttls_accepted_and_refused() -> None:
    client = extended_request() + hello()
    server = extended_response(0) + SERVER_TLS
    assert facts(both(client, server)) == ("ldap", True, True, "StartTLS", True, True, False)
    result = classify(flow(client, server, port=389))
    assert result.protocol == "tls" and result.detail["starttls"] == "StartTLS"
    client = extended_request() + bind(b"cn=admin,dc=lab", b"fake-ldap-pass", msgid=2)
    server = extended_response(2)
    assert facts(both(client, server)) == ("ldap", False, True, "StartTLS", False, False, True)
    assert classify(flow(client, server, port=389)).protocol == "ldap"
    plain = find_starttls(bind(b"cn=admin", b"pw"), b"")
    assert facts(plain) == ("ldap", None, False, None, None, False, True)


# --- XMPP (RFC 6120 5) ---------------------------------------------------------------------

STREAMS_NS = b"xmlns:stream='http://etherx.jabber.org/streams'>"
XMPP_CLIENT = (b"<?xml version='1.0'?><stream:stream to='localhost' version='1.0' "
               b"xmlns='jabber:client' " + STREAMS_NS)  # fmt: skip
XMPP_SERVER = (b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' id='x' from='localhost'"
               b" version='1.0' xmlns:stream='http://etherx.jabber.org/streams'>")  # fmt: skip
TLS_FEATURE = b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
SASL_FEATURE = (b"<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN"
                b"</mechanism></mechanisms>")  # fmt: skip
XMPP_AUTH = b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHB3</auth>"


def features(*items: bytes) -> bytes:
    return b"<stream:features>" + b"".join(items) + b"</stream:features>"


def test_xmpp_starttls_used_offered_not_used_and_not_offered() -> None:
    client = XMPP_CLIENT + TLS_FEATURE + hello()
    server = (XMPP_SERVER + features(TLS_FEATURE, SASL_FEATURE)
              + b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" + SERVER_TLS)  # fmt: skip
    assert facts(both(client, server)) == ("xmpp", True, True, "<starttls/>", True, True, False)
    assert classify(flow(client, server, port=5222)).protocol == "tls"
    client = XMPP_CLIENT + XMPP_AUTH
    server = XMPP_SERVER + features(TLS_FEATURE, SASL_FEATURE)
    assert facts(both(client, server)) == ("xmpp", True, False, None, None, False, True)
    result = classify(flow(client, server, port=5222))
    assert (result.protocol, result.encrypted) == ("xmpp", False)
    server = XMPP_SERVER + features(SASL_FEATURE)
    assert facts(both(client, server))[1] is False
    failure = b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
    client = XMPP_CLIENT + TLS_FEATURE
    assert facts(both(client, server + failure)) == (
        "xmpp", False, True, "<starttls/>", False, False, False,
    )  # fmt: skip


def test_xmpp_sasl_plain_credentials() -> None:
    (secret,) = xmpp_credentials(XMPP_CLIENT + XMPP_AUTH)  # alice / pw
    assert (secret.kind, secret.user, secret.protocol) == ("xmpp-sasl-plain", "alice", "xmpp")
    assert b"pw" not in secret.fingerprint.encode()[-12:] and "AGFsaWNlAHB3" not in repr(secret)
    f = reassembled(XMPP_CLIENT + XMPP_AUTH, XMPP_SERVER + features(SASL_FEATURE))
    assert [s.user for s in find_credentials(f, classify(f))] == ["alice"]
    other_ns = XMPP_AUTH.replace(b"xmpp-sasl", b"other")
    assert xmpp_credentials(XMPP_CLIENT + other_ns) == []
    assert xmpp_credentials(XMPP_AUTH.replace(b"AGFsaWNlAHB3", b"=")) == []  # empty response
    assert xmpp_credentials(XMPP_AUTH.replace(b"AGFsaWNlAHB3", b"!!notb64")) == []


# --- PostgreSQL (55.2.10) and MySQL -------------------------------------------------------

SSL_REQUEST = struct.pack("!II", 8, 80877103)


def test_postgresql_ssl_request() -> None:
    client = SSL_REQUEST + hello()
    assert facts(both(client, b"S" + SERVER_TLS)) == (
        "postgresql", True, True, "SSLRequest", True, True, False,
    )  # fmt: skip
    client = SSL_REQUEST + startup() + message(b"p", b"fake-pg-pass\0")
    server = b"N" + message(b"R", struct.pack("!I", 3))
    assert facts(both(client, server)) == (
        "postgresql", False, True, "SSLRequest", False, False, True,
    )  # fmt: skip
    assert find_starttls(startup(), b"") is None  # no SSLRequest: not an upgrade flow


# --- rules ---------------------------------------------------------------------------------


def analysis_of(*pairs: tuple[bytes, bytes, int]) -> Analysis:
    flows = []
    for index, (client, server, port) in enumerate(pairs):
        f = replace(flow(client, server, port=port), client=("10.0.0.1", 50000 + index))
        flows.append(flow_facts(f, classify(f)))
    summary = Summary(1, 0, len(flows), 0, 0, 0, 0, (), Ignored(), None, None, 0, 0, 0)
    return Analysis((), tuple(flows), (), summary)


def test_rules_not_used_and_stripped() -> None:
    used = (b"EHLO me\r\nSTARTTLS\r\n" + hello(), EHLO_TLS + b"220 go\r\n" + SERVER_TLS, 25)
    clear = (b"EHLO me\r\n" + PLAIN, EHLO_TLS + b"235 ok\r\n", 25)
    stripped = (b"EHLO me\r\n" + PLAIN, EHLO_PLAIN + b"235 ok\r\n", 25)
    refused = (b"EHLO me\r\nSTARTTLS\r\n" + PLAIN, EHLO_TLS + b"454 no\r\n235 ok\r\n", 587)
    masked = (b"EHLO me\r\n", EHLO_TLS.replace(b"STARTTLS", b"XXXXXXXA"), 465)
    analysis = analysis_of(used, clear, stripped, refused, masked)
    not_used = starttls_not_used({}, analysis)
    assert len(not_used) == 1 and "10.0.0.2:25 offered STARTTLS" in not_used[0][0]
    assert not_used[0][3] is not None and not_used[0][3].sport == 50001
    found = starttls_stripped({}, analysis)
    assert [(v[3].dport if v[3] else None) for v in found] == [25, 587, 465]
    assert "did not offer STARTTLS on this flow but did on 2 other flows" in found[0][0]
    assert "was refused, and logged in in the clear" in found[1][0]
    assert "overwritten with filler" in found[2][0]
    # one server that never offers it: cleartext, but no sign of stripping
    assert starttls_stripped({}, analysis_of(stripped, stripped)) == []


# --- hostile input -------------------------------------------------------------------------

GREETINGS = [b"", b"220 x\r\n", b"* OK x\r\n", b"+OK\r\n", XMPP_SERVER, b"S", b"N",
             extended_response(0)]  # fmt: skip
OPENINGS = [b"", b"EHLO x\r\n", b"a STARTTLS\r\n", b"STLS\r\n", b"AUTH TLS\r\n", XMPP_CLIENT,
            extended_request(), SSL_REQUEST, b"0\x84\xff\xff\xff\xff"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(OPENINGS), st.binary(max_size=300), st.sampled_from(GREETINGS),
       st.binary(max_size=300))  # fmt: skip
def test_never_raises(opening: bytes, client: bytes, greeting: bytes, server: bytes) -> None:
    up = find_starttls(opening + client, greeting + server)
    if up is not None:
        assert up.requested == (up.command is not None)
        assert not up.used or up.accepted
        assert 0 <= up.client_tls_at <= len(opening + client) + 8


@pytest.mark.parametrize(("cut", "used"), [(1, False), (17, False), (40, False), (80, True)])
def test_cut_prefixes_claim_use_only_after_the_go_ahead(cut: int, used: bool) -> None:
    client = b"EHLO me\r\nSTARTTLS\r\n" + hello()
    server = EHLO_TLS + b"220 go\r\n" + SERVER_TLS
    up = find_starttls(client[:cut], server[:cut])
    # 40: the client's hello is there but not the server's 220, which ends at byte 74
    assert (up is not None and up.used) is used


# --- the committed captures of the lab's real servers (captures/pcap/README.md) -------------

CAPTURES = Path(__file__).resolve().parents[2] / "captures" / "pcap"
REAL = {
    # capture: {(flow protocol, starttls.protocol, offered, command, accepted, used, login)}
    "smtp_starttls.pcap": {
        ("tls", "smtp", True, "STARTTLS", True, True, False),
        ("smtp", "smtp", True, None, None, False, True),
        ("smtp", "smtp", False, None, None, False, True),
    },
    "smtp_stripped.pcap": {
        ("tls", "smtp", True, "STARTTLS", True, True, False),
        ("smtp", "smtp", False, None, None, False, True),  # twice: removed, then masked
    },
    "imap_starttls.pcap": {
        ("tls", "imap", True, "STARTTLS", True, True, False),
        ("imap", "imap", False, None, None, False, True),
    },
    "ftp_starttls.pcap": {
        ("tls", "ftp", True, "AUTH TLS", True, True, False),
        ("ftp", "ftp", False, None, None, False, True),
    },
    "ldap_starttls.pcap": {
        ("tls", "ldap", True, "StartTLS", True, True, False),
        ("ldap", "ldap", None, None, None, False, True),
    },
    "pop3_starttls.pcap": {
        ("tls", "pop3", True, "STLS", True, True, False),
        ("pop3", "pop3", True, None, None, False, True),
        ("pop3", "pop3", False, "STLS", False, False, True),
    },
    "xmpp_starttls.pcap": {
        ("tls", "xmpp", True, "<starttls/>", True, True, False),
        ("xmpp", "xmpp", True, None, None, False, True),
        ("xmpp", "xmpp", False, None, None, False, True),
    },
    "postgres_ssl.pcap": {
        ("tls", "postgresql", True, "SSLRequest", True, True, False),
        ("postgresql", "postgresql", False, "SSLRequest", False, False, True),
        ("postgresql", None, None, None, None, None, None),  # sslmode=disable: no request
    },
}
FINDINGS = {
    "smtp_starttls.pcap": ["PCAP-STARTTLS-NOT-USED"],
    "smtp_stripped.pcap": ["PCAP-STARTTLS-STRIPPED", "PCAP-STARTTLS-STRIPPED"],
    "imap_starttls.pcap": [],
    "ftp_starttls.pcap": [],
    "ldap_starttls.pcap": [],
    "postgres_ssl.pcap": ["PCAP-STARTTLS-STRIPPED"],
    "xmpp_starttls.pcap": ["PCAP-STARTTLS-NOT-USED"],
    "pop3_starttls.pcap": ["PCAP-STARTTLS-STRIPPED", "PCAP-STARTTLS-NOT-USED"],
}


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_captures(name: str) -> None:
    analysis = analyze([str(CAPTURES / name)])
    seen = set()
    for f in analysis.flows:
        up = f.starttls
        if up is None:
            seen.add((f.protocol, None, None, None, None, None, None))
            continue
        seen.add((f.protocol, up.protocol, up.offered, up.command, up.accepted, up.used,
                  up.login_in_clear))  # fmt: skip
        assert f.encrypted is up.used  # upgraded flows are tls, the others cleartext
    assert seen == REAL[name]
    verdict = evaluate_capture(PROFILE, analysis)
    ids = [f.id for f in verdict.findings if f.id.startswith("PCAP-STARTTLS")]
    assert ids == FINDINGS[name]
    assert all(
        f.id != "PCAP-CLEARTEXT-CREDENTIALS" or f.protocol != "tls" for f in verdict.findings
    )
