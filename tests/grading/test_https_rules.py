"""The HTTPS-enforcement rules: hsts_required and http_redirects_to_https."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from factories import NOW, facts

from probe.grading.rules import RULES, ParamError, Violation, check_param
from probe.model import HstsFacts, TlsFacts

YEAR = HstsFacts(max_age=31536000, include_subdomains=False, preload=False)


def run(rule: str, tls: TlsFacts, **raw: Any) -> list[Violation]:
    params = {
        name: check_param(p, raw[name]) if name in raw else p.default
        for name, p in RULES[rule].params.items()
    }
    return RULES[rule].check(params, tls, NOW)  # type: ignore[arg-type]


def https(**changes: Any) -> TlsFacts:
    return dataclasses.replace(facts(), https_status=200, **changes)


def test_hsts_is_judged_only_when_measured() -> None:
    assert run("hsts_required", facts()) == []  # not an HTTPS target, or its request failed
    assert run("hsts_required", https(hsts=YEAR)) == []
    assert run("hsts_required", https()) == [
        ("no Strict-Transport-Security (HSTS) header over HTTPS", None)
    ]


def test_hsts_invalid_short_and_subdomains() -> None:
    invalid = https(hsts_header="max-age=1; max-age=1", hsts_problem="repeated")
    assert run("hsts_required", invalid) == [
        ("the Strict-Transport-Security header is ignored by browsers: repeated",
         "max-age=1; max-age=1")
    ]  # fmt: skip
    short = https(hsts=dataclasses.replace(YEAR, max_age=86400), hsts_header="max-age=86400")
    assert run("hsts_required", short) == [
        ("HSTS max-age is 86400 s (minimum is 31536000 s)", "max-age=86400")
    ]
    assert run("hsts_required", short, min_max_age=3600) == []
    assert run("hsts_required", https(hsts=YEAR), include_subdomains=True) == [
        ("HSTS does not cover subdomains (no includeSubDomains)", None)
    ]
    with pytest.raises(ParamError):
        check_param(RULES["hsts_required"].params["include_subdomains"], 1)


@pytest.mark.parametrize(
    ("plain", "finding"),
    [
        (None, False),
        ("redirect_https", False),
        ("refused", False),
        ("no_answer", False),
        ("rejected", False),
        ("redirect_other_host", False),
        ("error", False),  # incomplete, judged by PROBE-INCOMPLETE
        ("content", True),
    ],
)
def test_plain_http_content_is_the_finding(plain: str | None, finding: bool) -> None:
    out = run("http_redirects_to_https", https(http_plain=plain))
    assert bool(out) is finding
    via = run("http_redirects_to_https", https(http_plain="content", http_location="http://h/x"))
    assert via == [("serves content over plain HTTP instead of redirecting to HTTPS",
                    "redirected via http://h/x")]  # fmt: skip
