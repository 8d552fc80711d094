"""name_matches: RFC 6125 host name checks, table-driven and property-based."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probe.codecs.x509 import name_matches

# Host name labels; the leading letter keeps all-numeric names (IP literals) out.
LABEL = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from("abcdefghijklmnopqrstuvwxyz"),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", max_size=12),
)
HOST = st.lists(LABEL, min_size=1, max_size=5).map(".".join)


@pytest.mark.parametrize(
    ("server_name", "san_dns", "san_ips", "cn", "expected"),
    [
        ("example.com", ["example.com"], [], None, True),
        ("EXAMPLE.com", ["example.COM"], [], None, True),
        ("example.com.", ["example.com"], [], None, True),
        ("example.com", ["example.com."], [], None, True),
        ("www.example.com", ["example.com"], [], None, False),
        ("example.com", ["www.example.com"], [], None, False),
        # wildcards: one whole left-most label
        ("www.example.com", ["*.example.com"], [], None, True),
        ("WWW.Example.Com", ["*.EXAMPLE.com"], [], None, True),
        ("example.com", ["*.example.com"], [], None, False),
        ("a.b.example.com", ["*.example.com"], [], None, False),
        ("www.example.com", ["www.*.com"], [], None, False),
        ("www.example.com", ["w*.example.com"], [], None, False),
        ("www.example.com", ["*w.example.com"], [], None, False),
        ("example.com", ["*.com"], [], None, False),
        ("com", ["*"], [], None, False),
        ("x.example.com", ["*.*.com"], [], None, False),
        ("foo.co.uk", ["*.co.uk"], [], None, True),  # no public suffix list: two labels suffice
        # CN only when there is no DNS SAN at all
        ("cn.example.com", [], [], "cn.example.com", True),
        ("cn.example.com", [], [], ["other", "cn.example.com"], True),
        ("cn.example.com", [], ["192.0.2.1"], "cn.example.com", True),
        ("cn.example.com", ["san.example.com"], [], "cn.example.com", False),
        ("www.cn.example", [], [], "*.cn.example", True),
        ("cn.example.com", [], [], None, False),
        # IP literals match IP SANs only
        ("192.0.2.1", [], ["192.0.2.1"], None, True),
        ("192.0.2.1", ["192.0.2.1"], [], "192.0.2.1", False),
        ("192.0.2.1", [], ["192.0.2.2"], None, False),
        ("2001:db8::1", [], ["2001:0db8:0:0::1"], None, True),
        ("[2001:db8::1]", [], ["2001:db8::1"], None, True),
        ("::ffff:192.0.2.1", [], ["192.0.2.1"], None, False),
        # IDNA: compared as A-labels
        ("bücher.example", ["xn--bcher-kva.example"], [], None, True),
        ("xn--bcher-kva.example", ["bücher.example"], [], None, True),
        ("BÜCHER.example", ["xn--bcher-kva.example"], [], None, True),
        ("www.bücher.example", ["*.xn--bcher-kva.example"], [], None, True),
        # malformed names never match
        ("", ["example.com"], [], None, False),
        ("a..example.com", ["a..example.com"], [], None, False),
        (".", ["."], [], None, False),
    ],
)
def test_table(
    server_name: str,
    san_dns: list[str],
    san_ips: list[str],
    cn: str | list[str] | None,
    expected: bool,
) -> None:
    assert name_matches(server_name, san_dns, san_ips, cn) is expected


def test_none_when_no_name_asked() -> None:
    assert name_matches(None, ["example.com"], [], "example.com") is None


@given(HOST)
def test_name_matches_itself(host: str) -> None:
    assert name_matches(host, [host], [], None) is True
    assert name_matches(host.upper(), [host], [], None) is True
    assert name_matches(host, [host.upper()], [], None) is True


@given(HOST)
def test_cn_alone_matches_itself(host: str) -> None:
    assert name_matches(host, [], [], host) is True


@given(LABEL, LABEL, st.lists(LABEL, min_size=2, max_size=4).map(".".join))
def test_wildcard_matches_exactly_one_label(a: str, b: str, base: str) -> None:
    pattern = "*." + base
    assert name_matches(f"{a}.{base}", [pattern], [], None) is True
    assert name_matches(f"{a}.{b}.{base}", [pattern], [], None) is False
    assert name_matches(base, [pattern], [], None) is False


@given(LABEL, LABEL)
def test_wildcard_over_a_single_label_never_matches(a: str, tld: str) -> None:
    assert name_matches(f"{a}.{tld}", ["*." + tld], [], None) is False


@given(HOST, HOST)
def test_distinct_names_do_not_match(a: str, b: str) -> None:
    assert name_matches(a, [b], [], None) is (a == b)


@given(LABEL, st.sampled_from(["0", "12", "255"]))
def test_numeric_labels_are_still_names(a: str, number: str) -> None:
    host = f"{a}.{number}.{number}"
    assert name_matches(host, [host], [], None) is True
    assert name_matches(f"{a}.{host}", ["*." + host], [], None) is True


@given(st.ip_addresses())
def test_ip_matches_only_ip_sans(ip: object) -> None:
    text = str(ip)
    assert name_matches(text, [], [text], None) is True
    assert name_matches(text, [text], [], text) is False


@given(st.text(max_size=40), st.lists(st.text(max_size=40), max_size=3))
def test_never_raises(server_name: str, sans: list[str]) -> None:
    assert name_matches(server_name, sans, sans, sans) in (True, False)
