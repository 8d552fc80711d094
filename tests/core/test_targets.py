"""Target parsing: every accepted form, the errors, CIDR caps, files and duplicates."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probe.targets import TargetError, collect_targets, iter_lines, parse_target


@pytest.mark.parametrize(
    ("text", "host", "port", "sni"),
    [
        ("example.org", "example.org", 443, "example.org"),
        ("Example.ORG.", "example.org.", 443, "example.org"),
        ("10.0.0.5:8443", "10.0.0.5", 8443, None),
        ("[2001:db8::1]:443", "2001:db8::1", 443, None),
        ("[2001:db8::1]", "2001:db8::1", 443, None),
        ("2001:db8::1", "2001:db8::1", 443, None),
        ("tls://mail.example.org:993", "mail.example.org", 993, "mail.example.org"),
        ("https://www.example.org/", "www.example.org", 443, "www.example.org"),
        ("HTTPS://www.example.org:8443", "www.example.org", 8443, "www.example.org"),
        ("bücher.example", "bücher.example", 443, "xn--bcher-kva.example"),
        ("smtp://mx.example.org", "mx.example.org", 25, "mx.example.org"),
        ("submission://mx.example.org", "mx.example.org", 587, "mx.example.org"),
        ("IMAP://10.0.0.5", "10.0.0.5", 143, None),
        ("pop3://mail.example.org:1110", "mail.example.org", 1110, "mail.example.org"),
        ("ftp://[2001:db8::1]", "2001:db8::1", 21, None),
        ("ldap://dc1.example.org", "dc1.example.org", 389, "dc1.example.org"),
        ("xmpp://chat.example.org", "chat.example.org", 5222, "chat.example.org"),
        ("postgres://db.example.org", "db.example.org", 5432, "db.example.org"),
        ("mysql://db.example.org", "db.example.org", 3306, "db.example.org"),
        ("smtps://mx.example.org", "mx.example.org", 465, "mx.example.org"),
        ("imaps://mx.example.org", "mx.example.org", 993, "mx.example.org"),
        ("pop3s://mx.example.org", "mx.example.org", 995, "mx.example.org"),
        ("ldaps://dc1.example.org", "dc1.example.org", 636, "dc1.example.org"),
        ("ftps://files.example.org", "files.example.org", 990, "files.example.org"),
    ],
)
def test_accepted_forms(text: str, host: str, port: int, sni: str | None) -> None:
    [target] = parse_target(text)
    assert (target.host, target.port, target.server_name, target.check) == (host, port, sni, "tls")
    assert target.given == text


def test_starttls_schemes_pick_their_dialog() -> None:
    from probe.checks.tls import starttls_protocol

    assert [starttls_protocol(t) for t in parse_target("Smtp://mx.example.org")] == ["smtp"]
    assert [starttls_protocol(t) for t in parse_target("submission://mx")] == ["submission"]
    # Implicit TLS and plain TLS targets speak TLS at once.
    for text in ("smtps://mx.example.org", "tls://mx.example.org:25", "mx.example.org"):
        assert [starttls_protocol(t) for t in parse_target(text)] == [None]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("host:0", "out of range"),
        ("host:70000", "out of range"),
        ("host:abc", "not a number"),
        ("ftp2://host", "unknown scheme"),
        ("[2001:db8::1", "missing ']'"),
        ("[2001:db8::1]x", "unexpected text"),
        ("bad_host!", "not a valid host"),
        ("-leading.example", "not a valid host"),
        ("a..b", "not a valid host"),
        ("10.0.0.0/33", "bad CIDR"),
        ("10.0.0.0/8", "cap is"),
        ("", "empty"),
    ],
)
def test_errors_say_why(text: str, fragment: str) -> None:
    with pytest.raises(TargetError, match=None) as info:
        parse_target(text)
    assert fragment in str(info.value)


def test_cidr_expands_to_hosts_with_port() -> None:
    targets = parse_target("192.0.2.0/30:8443")
    assert [(t.host, t.port) for t in targets] == [("192.0.2.1", 8443), ("192.0.2.2", 8443)]
    assert len(parse_target("2001:db8::/126")) == 3
    assert [t.host for t in parse_target("192.0.2.7/32")] == ["192.0.2.7"]


def test_cidr_cap_is_configurable() -> None:
    assert len(parse_target("10.0.0.0/20", max_cidr=4096)) == 4094
    with pytest.raises(TargetError):
        parse_target("10.0.0.0/20", max_cidr=4095)


def test_file_lines_comments_duplicates_and_bad_lines_named() -> None:
    lines = [
        "# header",
        "",
        "a.example  # trailing comment",
        "a.example:443",
        "b.example:x",
        "tls://a.example",
    ]
    targets, bad = collect_targets(iter_lines(lines, "hosts.txt"))
    assert [t.given for t in targets] == ["a.example"]
    assert [(b.source, b.text) for b in bad] == [("hosts.txt:5", "b.example:x")]
    assert "not a number" in bad[0].reason


@given(st.text(max_size=80))
def test_parser_never_raises_anything_but_target_error(text: str) -> None:
    try:
        targets = parse_target(text, max_cidr=16)
    except TargetError:
        return
    for target in targets:
        assert 1 <= target.port <= 65535
        assert target.host
