"""The terminal report: readable without colour and at 80 columns."""

from __future__ import annotations

from factories import NOW, cert, error_result, facts, result
from rich.console import Console

from probe.grading.profile import builtin_profiles, load_profile
from probe.grading.rules import evaluate
from probe.model import ErrorReason, TargetResult
from probe.report.table import render, render_profile, render_profile_list


def console(width: int = 80) -> Console:
    return Console(record=True, width=width, color_system=None, force_terminal=False)


def graded() -> list[TargetResult]:
    profile = load_profile("azure-transit")
    weak = facts(
        {
            "SSLv3": ("TLS_RSA_WITH_RC4_128_SHA",),
            "TLSv1.0": ("TLS_RSA_WITH_AES_128_CBC_SHA",),
            "TLSv1.2": ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
        },
        certificates=(cert(key_bits=1024, days_to_expiry=-2, trusted=False, trust_error="x"),),
        incomplete={"TLSv1.3": "timeout"},
    )
    return [
        evaluate(profile, result(), now=NOW),
        evaluate(profile, result(weak, given="[2001:db8::1]:8443"), now=NOW),
        evaluate(profile, error_result(ErrorReason.REFUSED), now=NOW),
    ]


def test_table_has_the_key_pieces() -> None:
    out = console()
    render(out, graded(), "azure-transit")
    text = out.export_text()
    assert "azure-transit" in text
    for piece in ("example.com:443", "[2001:db8::1]:8443", "down.example:443"):
        assert piece in text  # brackets survive: no markup injection
    assert "PASS" in text and "FAIL" in text
    assert "refused" in text
    assert "1.2 1.3" in text  # the good server's versions
    assert "SSL3!" in text and "1.0!" in text  # weak versions marked without colour
    assert "1.3?" in text  # not measured
    assert "RSA 2048" in text and "90d left" in text
    assert "expired" in text and "untrusted" in text
    assert "RC4" in text
    assert "CRITICAL" in text and "TLS-NO-SSL" in text
    assert "accepts TLSv1.0 (minimum is TLSv1.2)" in text
    assert "connect timed out after 5 s" in text
    assert "not measured: TLSv1.3: timeout" in text
    assert "3 targets: 1 passed, 1 failed, 1 not scanned" in text


def test_no_line_exceeds_the_width() -> None:
    for width in (80, 50):
        out = console(width)
        render(out, graded(), "azure-transit")
        lines = out.export_text().splitlines()
        assert lines
        assert max(len(line) for line in lines) <= width


def test_colour_output_styles_weak_items() -> None:
    out = Console(record=True, width=100, color_system="truecolor", force_terminal=True)
    render(out, graded(), "azure-transit")
    html = out.export_html(inline_styles=True)
    assert "color: #800000" in html or "color: #ff0000" in html


def test_empty_results_render() -> None:
    out = console()
    render(out, [], "azure-transit")
    assert "0 targets: 0 passed, 0 failed, 0 not scanned" in out.export_text()


def test_render_profile_shows_every_requirement() -> None:
    profile = load_profile("mozilla-intermediate")
    out = console()
    render_profile(out, profile)
    text = out.export_text()
    assert "mozilla-intermediate" in text and "fails on: medium" in text
    for req in profile.requirements:
        assert req.id in text
    assert "tls_min_version(min=TLSv1.2)" in text
    assert "wiki.mozilla.org" in text


def test_render_profile_list() -> None:
    profiles = [load_profile(name) for name in builtin_profiles()]
    out = console()
    render_profile_list(out, profiles)
    text = out.export_text()
    for profile in profiles:
        assert profile.name in text
        assert str(len(profile.requirements)) in text


def test_grade_in_the_result_column_and_caps_in_the_details() -> None:
    profile = load_profile("mozilla-intermediate")
    tls10 = facts(
        {
            "TLSv1.0": ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",),
            "TLSv1.2": ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",),
            "TLSv1.3": ("TLS_AES_128_GCM_SHA256",),
        }
    )
    results = [
        evaluate(profile, result(), now=NOW),
        evaluate(profile, result(tls10, given="old.example:443"), now=NOW),
    ]
    for width in (100, 80, 50):
        out = console(width)
        render(out, results, "mozilla-intermediate")
        text = out.export_text()
        assert "(A)" in text and "(B)" in text
        assert "CAP B" in text and "tls10_tls11" in text
        assert "accepts TLSv1.0 (deprecated by RFC 8996)" in text
        assert max(len(line) for line in text.splitlines()) <= width
    # A graded A with no findings gets no details block.
    assert results[0].grade == "A" and not results[0].findings
    out = console()
    render(out, results[:1], "mozilla-intermediate")
    assert "CAP" not in out.export_text()
