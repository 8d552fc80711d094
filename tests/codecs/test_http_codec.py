"""probe.codecs.http: request building, the head reader, HSTS (RFC 6797 6.1) and redirects."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe.codecs.errors import DecodeError
from probe.codecs.http import (
    MAX_HTTP_HEAD,
    HstsPolicy,
    HttpHeadReader,
    Url,
    build_request,
    hsts_from_headers,
    parse_hsts,
    resolve_redirect,
    shown_location,
)

BASE = Url("http", "example.com", 80, "/")


def test_request_has_host_and_asks_to_close() -> None:
    assert build_request(BASE) == (
        b"GET / HTTP/1.1\r\nHost: example.com\r\n"
        b"User-Agent: probe (encryption-in-transit scanner)\r\nAccept: */*\r\n"
        b"Connection: close\r\n\r\n"
    )
    assert b"Host: [2001:db8::1]:8080\r\n" in build_request(Url("http", "2001:db8::1", 8080, "/"))
    assert b"Host: h\r\n" in build_request(Url("https", "h", 443, "/"))
    assert b"Host: h:80\r\n" in build_request(Url("https", "h", 80, "/"))
    for bad in (Url("http", "h", 80, "/a b"), Url("http", "h\r\nX: y", 80, "/")):
        with pytest.raises(ValueError):
            build_request(bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("max-age=63072000; includeSubDomains; preload", HstsPolicy(63072000, True, True)),
        ("max-age=31536000", HstsPolicy(31536000, False, False)),
        ('MAX-AGE="600" ; INCLUDESUBDOMAINS', HstsPolicy(600, True, False)),  # case, quotes
        ("  max-age = 10 ;; ; includeSubDomains ;", HstsPolicy(10, True, False)),  # empty parts
        ("max-age=0", HstsPolicy(0, False, False)),  # "forget me" is valid
        ("max-age=007", HstsPolicy(7, False, False)),
        ('foo="a;b=\\"c\\""; max-age=5', HstsPolicy(5, False, False)),  # unknown, quoted ';'
        ("max-age=1; preload=yes", HstsPolicy(1, False, True)),
        ("max-age=" + "9" * 40, HstsPolicy(10**18 - 1, False, False)),  # capped, no overflow
    ],
)
def test_valid_hsts(value: str, expected: HstsPolicy) -> None:
    assert parse_hsts(value) == expected


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "no max-age"),
        ("includeSubDomains", "no max-age"),
        ("max-age=1; max-age=2", "more than once"),
        ("max-age=1; Max-Age=1", "more than once"),  # duplicates are case-insensitive
        ("max-age=1; includeSubDomains; includesubdomains", "more than once"),
        ("max-age=", "empty value"),
        ("max-age=-1", "not a number"),  # a token, but not 1*DIGIT
        ("max-age=1.5", "not a number"),
        ("max-age=abc", "not a number"),
        ('max-age=""', "not a number"),
        ("max-age=١٢", "empty value"),  # Arabic-Indic digits are not DIGIT
        ('max-age="12', "unterminated"),
        ("max-age=1, max-age=2", "unexpected"),  # two headers folded by a proxy
        ("max-age=1; includeSubDomains=yes", "takes no value"),
        ("max-age 1", "unexpected"),
        ("=1", "bad HSTS directive"),
    ],
)
def test_invalid_hsts(value: str, why: str) -> None:
    with pytest.raises(DecodeError) as caught:
        parse_hsts(value)
    assert why in str(caught.value)


def test_first_hsts_header_counts() -> None:
    headers = [("Server", "x"), ("strict-transport-security", "max-age=5"),
               ("Strict-Transport-Security", "max-age=31536000")]  # fmt: skip
    assert hsts_from_headers(headers) == (HstsPolicy(5, False, False), "max-age=5", None)
    bad_first = [("Strict-Transport-Security", "max-age=x"), *headers]
    policy, raw, problem = hsts_from_headers(bad_first)
    assert (policy, raw) == (None, "max-age=x") and problem and "not a number" in problem
    assert hsts_from_headers([("Server", "x")]) == (None, None, None)


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("https://Example.COM./x?y=1", Url("https", "example.com", 443, "/x?y=1")),
        ("https://example.com:8443", Url("https", "example.com", 8443, "/")),
        ("/next", Url("http", "example.com", 80, "/next")),
        ("next", Url("http", "example.com", 80, "/next")),
        ("//other.example/", Url("http", "other.example", 80, "/")),
        ("https://[2001:DB8::1]:444/", Url("https", "2001:db8::1", 444, "/")),
        ("https://example.com/#frag", Url("https", "example.com", 443, "/")),
    ],
)
def test_redirect_targets(location: str, expected: Url) -> None:
    assert resolve_redirect(BASE, location) == expected


@pytest.mark.parametrize(
    "location",
    [
        "",
        "ftp://example.com/",
        "javascript:alert(1)",
        "https://user:pw@example.com/",
        "https://example.com:99999/",
        "https://example.com:0/",
        "https://exa mple.com/",
        "https://example.com/\r\nSet-Cookie: x",
        "https:///nohost",
        "https://example.com/" + "a" * 3000,
        "https://exämple.com/",
    ],
)
def test_redirects_not_to_follow(location: str) -> None:
    with pytest.raises(DecodeError):
        resolve_redirect(BASE, location)


def test_head_reader_stops_at_the_head_and_is_capped() -> None:
    reader = HttpHeadReader()
    head = b"HTTP/1.1 301 Moved\r\nLocation: https://x/\r\n\r\n"
    for i in range(len(head) - 1):
        reader.feed(head[i : i + 1])
        assert not reader.done
    reader.feed(head[-1:] + b"body" * 1000)
    assert reader.done and reader.answer is not None
    assert (reader.answer.status, reader.answer.headers) == (301, (("Location", "https://x/"),))
    with pytest.raises(DecodeError):
        HttpHeadReader().feed(b"\x16\x03\x01\x00\x05hello")
    endless = HttpHeadReader()
    endless.feed(b"HTTP/1.1 200 OK\r\n")
    with pytest.raises(DecodeError):
        for _ in range(MAX_HTTP_HEAD):
            endless.feed(b"X-A: " + b"a" * 100 + b"\r\n")
    assert endless.received <= MAX_HTTP_HEAD + 4


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8))
def test_head_reader_fuzz_only_decode_errors(chunks: list[bytes]) -> None:
    reader = HttpHeadReader()
    try:
        for chunk in [b"HTTP/1.1 200 OK\r\n", *chunks]:
            reader.feed(chunk)
    except DecodeError:
        return
    if reader.answer is not None:
        policy = hsts_from_headers(reader.answer.headers)[0]
        assert policy is None or policy.max_age >= 0


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=120))
def test_hsts_fuzz_only_decode_errors(value: str) -> None:
    try:
        policy = parse_hsts(value)
    except DecodeError:
        return
    assert 0 <= policy.max_age < 10**18


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_location_fuzz_only_decode_errors(value: str) -> None:
    try:
        url = resolve_redirect(BASE, value)
    except DecodeError:
        return
    assert url.scheme in ("http", "https") and url.path.startswith("/")
    build_request(url)  # anything we would follow makes a well-formed request


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        ("https://h.example/a?sv=2024&sig=SECRET", "https://h.example/a?***"),
        ("http://user:pass@h.example/", "http://***@h.example/"),
        ("/relative/path#frag", "/relative/path"),
        ("https://h.example/", "https://h.example/"),
    ],
)
def test_locations_are_shown_without_query_or_user_information(location: str, shown: str) -> None:
    assert shown_location(location) == shown


def test_refused_location_error_does_not_carry_its_query() -> None:
    with pytest.raises(DecodeError) as caught:
        resolve_redirect(BASE, "http://h.example/a b?sig=SECRET")  # a space: unusable
    assert "unusable Location" in str(caught.value)
    assert "SECRET" not in str(caught.value)
