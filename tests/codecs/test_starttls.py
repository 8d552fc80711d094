"""The STARTTLS dialogs (probe.codecs.starttls) on recorded and hostile server bytes.

The server replies below follow the protocols' RFC examples and what the lab's real servers
(aiosmtpd, Dovecot, pyftpdlib, slapd, Prosody, PostgreSQL, MariaDB) send; the lab tests in
tests/lab_tests/test_starttls_scan.py run the same dialogs against those servers.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe.codecs.starttls import (
    MAX_REPLY_BYTES,
    PROTOCOLS,
    StartTlsDialog,
    StartTlsError,
    StartTlsOutcome,
)


def converse(
    protocol: str, replies: Sequence[bytes], *, chunk: int = 0, name: str = "mail.example"
) -> tuple[StartTlsOutcome, list[bytes]]:
    """Play the server's replies (one per step that reads one), fed in pieces of ``chunk``
    bytes (0: whole); returns the outcome and what the client sent."""
    dialog = StartTlsDialog(protocol, name)
    sent: list[bytes] = []
    pending = list(replies)
    while not dialog.finished:
        sent.append(dialog.request)
        if dialog.expects_reply:
            assert pending, f"the dialog wants more than {len(replies)} replies"
            reply = pending.pop(0)
            pieces = (
                [reply]
                if chunk <= 0
                else [reply[i : i + chunk] for i in range(0, len(reply), chunk)]
            )
            for piece in pieces:
                dialog.feed(piece)
        assert dialog.done, "the reply did not complete the step"
        dialog.advance()
    assert not pending, "replies left over"
    return dialog.outcome, sent


SMTP_OK = [
    b"220 mail.example ESMTP ready\r\n",
    b"250-mail.example\r\n250-SIZE 33554432\r\n250-8BITMIME\r\n250-STARTTLS\r\n250 HELP\r\n",
    b"220 Ready to start TLS\r\n",
]
IMAP_OK = [
    b"* OK IMAP4rev1 ready\r\n",
    b"* CAPABILITY IMAP4rev1 LITERAL+ STARTTLS LOGINDISABLED\r\na1 OK done\r\n",
    b"a2 OK Begin TLS negotiation now\r\n",
]
POP3_OK = [
    b"+OK Dovecot ready.\r\n",
    b"+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nSTLS\r\nSASL PLAIN\r\n.\r\n",
    b"+OK Begin TLS negotiation now.\r\n",
]
FTP_OK = [
    b"220-Welcome\r\n220 pyftpdlib ready.\r\n",
    b"211-Features supported:\r\n AUTH SSL\r\n AUTH TLS\r\n MDTM\r\n PBSZ\r\n211 End FEAT.\r\n",
    b"234 AUTH TLS successful.\r\n",
]
# RFC 4511 4.14.2 ExtendedResponse: messageID 1, resultCode success, empty DN and message.
LDAP_OK = [bytes.fromhex("300c02010178070a010004000400")]
LDAP_REFUSED = [
    bytes.fromhex("302302010178")
    + bytes([0x1E])
    + bytes.fromhex("0a01340400")
    + bytes([0x04, 0x17])
    + b"Could not initialize TLS"[:23]
]
XMPP_OK = [
    b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    b"xmlns:stream='http://etherx.jabber.org/streams' id='x' from='localhost' version='1.0'>"
    b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
    b"<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>"
    b"</mechanisms></stream:features>",
    b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
]


def mysql_handshake(capabilities: int) -> bytes:
    payload = (
        b"\x0a10.11.6-MariaDB\x00"
        + (7).to_bytes(4, "little")
        + b"abcdefgh\x00"
        + (capabilities & 0xFFFF).to_bytes(2, "little")
        + b"\x21"
        + b"\x02\x00"
        + (capabilities >> 16).to_bytes(2, "little")
        + b"\x15"
        + bytes(10)
        + b"ijklmnopqrst\x00mysql_native_password\x00"
    )
    return len(payload).to_bytes(3, "little") + b"\x00" + payload


@pytest.mark.parametrize(
    ("protocol", "replies", "advertised"),
    [
        ("smtp", SMTP_OK, True),
        ("submission", SMTP_OK, True),
        ("imap", IMAP_OK, True),
        ("pop3", POP3_OK, True),
        ("ftp", FTP_OK, True),
        ("ldap", LDAP_OK, None),
        ("xmpp", XMPP_OK, True),
        ("postgres", [b"S"], None),
        ("mysql", [mysql_handshake(0x0800 | 0x0200 | 0x8000)], True),
    ],
)
@pytest.mark.parametrize("chunk", [0, 1, 7])
def test_upgrade_accepted(
    protocol: str, replies: list[bytes], advertised: bool | None, chunk: int
) -> None:
    outcome, _ = converse(protocol, replies, chunk=chunk)
    assert outcome.upgraded is True
    assert outcome.advertised is advertised


def test_requests_on_the_wire() -> None:
    assert converse("smtp", SMTP_OK)[1] == [b"", b"EHLO probe.invalid\r\n", b"STARTTLS\r\n"]
    assert converse("imap", IMAP_OK)[1] == [b"", b"a1 CAPABILITY\r\n", b"a2 STARTTLS\r\n"]
    assert converse("pop3", POP3_OK)[1] == [b"", b"CAPA\r\n", b"STLS\r\n"]
    assert converse("ftp", FTP_OK)[1] == [b"", b"FEAT\r\n", b"AUTH TLS\r\n"]
    # RFC 4511 4.14.1: ExtendedRequest, requestName 1.3.6.1.4.1.1466.20037
    ldap = converse("ldap", LDAP_OK)[1]
    assert ldap == [bytes.fromhex("301d02010177188016") + b"1.3.6.1.4.1.1466.20037"]
    assert converse("postgres", [b"S"])[1] == [bytes.fromhex("0000000804d2162f")]
    xmpp = converse("xmpp", XMPP_OK, name="chat.example")[1]
    assert b"to='chat.example'" in xmpp[0]
    assert xmpp[1] == b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"


def test_mysql_ssl_request_packet() -> None:
    _, sent = converse("mysql", [mysql_handshake(0x0800 | 0x0200 | 0x8000)])
    request = sent[1]
    assert request[:4] == bytes([32, 0, 0, 1])  # 32-byte payload, sequence id 1
    flags = int.from_bytes(request[4:8], "little")
    assert flags & 0x0800 and flags & 0x0200  # CLIENT_SSL, CLIENT_PROTOCOL_41
    assert request[13:] == bytes(23)


def test_imap_greeting_with_capabilities_saves_a_round_trip() -> None:
    greeting = b"* OK [CAPABILITY IMAP4rev1 SASL-IR STARTTLS AUTH=PLAIN] Dovecot ready.\r\n"
    outcome, sent = converse("imap", [greeting, b"a2 OK Begin TLS negotiation now.\r\n"])
    assert outcome.upgraded and outcome.advertised
    assert sent == [b"", b"a2 STARTTLS\r\n"]


@pytest.mark.parametrize(
    ("protocol", "replies", "advertised"),
    [
        (
            "smtp",
            [
                SMTP_OK[0],
                b"250-mail.example\r\n250 HELP\r\n",
                b"502 5.5.1 Command not implemented\r\n",
            ],
            False,
        ),
        ("smtp", [SMTP_OK[0], SMTP_OK[1], b"454 4.7.0 TLS not available\r\n"], True),
        (
            "imap",
            [IMAP_OK[0], b"* CAPABILITY IMAP4rev1\r\na1 OK\r\n", b"a2 BAD unknown command\r\n"],
            False,
        ),
        ("pop3", [POP3_OK[0], b"-ERR unknown command\r\n", b"-ERR unknown command\r\n"], False),
        (
            "ftp",
            [
                b"220 ready\r\n",
                b"211-Features:\r\n MDTM\r\n211 End\r\n",
                b"500 Unknown command\r\n",
            ],
            False,
        ),
        ("ldap", LDAP_REFUSED, None),
        # RFC 6120 5.3.1: not offered, so <starttls/> is not sent (Prosody would not answer)
        ("xmpp", [XMPP_OK[0].replace(b"<starttls", b"<x")], False),
        ("xmpp", [XMPP_OK[0], b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"], True),
        ("postgres", [b"N"], None),
        ("mysql", [mysql_handshake(0x0200 | 0x8000)], False),
    ],
)
def test_upgrade_refused(protocol: str, replies: list[bytes], advertised: bool | None) -> None:
    outcome, _ = converse(protocol, replies)
    assert outcome.upgraded is False
    assert outcome.advertised is advertised
    assert outcome.reply


def test_ldap_refusal_names_the_result() -> None:
    outcome, _ = converse("ldap", LDAP_REFUSED)
    assert outcome.reply.startswith("unavailable")


@pytest.mark.parametrize(
    ("protocol", "replies", "match"),
    [
        ("smtp", [b"554 no service for you\r\n"], "refused the session"),
        ("smtp", [b"SSH-2.0-OpenSSH_9.2\r\n"], "not a reply line"),
        ("imap", [b"* BYE too many connections\r\n"], "refused the session"),
        ("imap", [b"HTTP/1.1 400 Bad Request\r\n"], "not an IMAP greeting"),
        ("pop3", [b"-ERR busy\r\n"], "not a POP3 greeting"),
        ("ftp", [b"421 Too many users\r\n"], "refused the session"),
        ("ldap", [b"\x16\x03\x01\x00\x05hello"], "not an LDAP message"),
        ("postgres", [b"\x16"], "not a PostgreSQL answer"),
        ("mysql", [b"\x05\x00\x00\x00\xff\x6a\x04#Host"], "refused the session"),
        ("mysql", [b"\x05\x00\x00\x00\x09abcd"], "not a MySQL protocol 10"),
        (
            "xmpp",
            [
                b"<stream:stream><stream:error><host-unknown "
                b"xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>"
            ],
            "ended the stream",
        ),
    ],
)
def test_wrong_or_unwilling_servers_are_protocol_errors(
    protocol: str, replies: list[bytes], match: str
) -> None:
    with pytest.raises(StartTlsError, match=match):
        converse(protocol, replies)


def test_bytes_after_the_go_ahead_are_refused() -> None:
    """CVE-2011-0411: plaintext injected after "220 go ahead" must not be read as TLS."""
    injected = [*SMTP_OK[:2], SMTP_OK[2] + b"250 injected\r\n"]
    with pytest.raises(StartTlsError, match="followed the server's STARTTLS go-ahead"):
        converse("smtp", injected)
    with pytest.raises(StartTlsError, match="followed"):
        converse("postgres", [b"SX"])


def test_reply_size_is_capped() -> None:
    dialog = StartTlsDialog("smtp", "x")
    dialog.feed(b"220-")
    with pytest.raises(StartTlsError, match="exceeds"):
        for _ in range(MAX_REPLY_BYTES // 1000 + 2):
            dialog.feed(b"x" * 999 + b"\n")


def test_ldap_length_is_not_trusted() -> None:
    dialog = StartTlsDialog("ldap", "x")
    with pytest.raises(StartTlsError, match="exceeds the cap"):
        dialog.feed(bytes.fromhex("3083ffffff"))
    dialog = StartTlsDialog("ldap", "x")
    with pytest.raises(StartTlsError, match="not usable"):
        dialog.feed(bytes.fromhex("3080"))  # indefinite length


def test_refusal_text_is_printable_and_capped() -> None:
    reply = b"454 " + b"\x1b[31m" + b"A" * 1000 + b"\r\n"
    outcome, _ = converse("smtp", [SMTP_OK[0], SMTP_OK[1], reply])
    assert len(outcome.reply) <= 200
    assert "\x1b" not in outcome.reply


def test_xmpp_domain_is_xml_safe() -> None:
    dialog = StartTlsDialog("xmpp", "evil'/><x a='")
    assert b"evil" in dialog.request and b"'/><x" not in dialog.request


def test_unknown_protocol() -> None:
    with pytest.raises(ValueError, match="no STARTTLS dialog"):
        StartTlsDialog("gopher", "x")


@settings(max_examples=300, deadline=None)
@given(
    protocol=st.sampled_from(sorted(PROTOCOLS)),
    data=st.lists(st.binary(max_size=300), min_size=1, max_size=6),
)
def test_hostile_bytes_end_in_an_outcome_or_a_start_tls_error(
    protocol: str, data: list[bytes]
) -> None:
    """Whatever the server sends, the dialog ends with an outcome, waits for more, or raises
    StartTlsError: never another exception."""
    dialog = StartTlsDialog(protocol, "x")
    try:
        for chunk in data:
            if dialog.finished:
                break
            if dialog.expects_reply:
                dialog.feed(chunk)
            if dialog.done:
                dialog.advance()
    except StartTlsError:
        return


@settings(max_examples=100, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=20))
def test_chunking_never_changes_the_outcome(cuts: list[int]) -> None:
    """The same server bytes cut anywhere give the same outcome (replies span reads)."""
    for protocol, replies in (
        ("smtp", SMTP_OK),
        ("imap", IMAP_OK),
        ("ftp", FTP_OK),
        ("xmpp", XMPP_OK),
    ):
        expected, _ = converse(protocol, replies)
        dialog = StartTlsDialog(protocol, "mail.example")
        for reply in replies:
            while not dialog.expects_reply:
                dialog.advance()
            rest, i = reply, 0
            while rest:
                size = cuts[i % len(cuts)]
                dialog.feed(rest[:size])
                rest, i = rest[size:], i + 1
            dialog.advance()
        assert dialog.outcome == expected
