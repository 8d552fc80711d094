"""``--show-secrets``: raw values only when asked, in the JSON evidence and the table; every
output stays redacted by default (captures/pcap/expected.json's ``never_shown`` lists)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from probe.grading.profile import load_profile
from probe.grading.rules import evaluate_capture
from probe.pcap.analyze import analyze
from probe.pcap.redact import redact, revealing, shown_raw
from probe.report.pcap_doc import document, dumps, json_lines
from probe.report.pcap_table import render
from tests.cli.cli_helpers import run_probe

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = ROOT / "captures" / "pcap"
EXPECTED: dict[str, Any] = json.loads((CAPTURES / "expected.json").read_text())
PROFILE = load_profile("azure-transit")
WITH_SECRETS = sorted(name for name, entry in EXPECTED.items() if entry["never_shown"])
# never_shown entries that are a wire encoding of a value probe reports in its decoded form:
# the Basic header's base64 (probe shows the password) and the card number with its spaces
# (probe shows the digits, also listed). By definition they never appear, even when asked.
ENCODINGS = {"YWxpY2U6ZmFrZS1iYXNpYy1wYXNz", "4111 1111 1111 1111"}


def outputs(name: str, *, show: bool) -> tuple[str, str, str]:
    """(JSON document, JSONL lines, table) of one committed capture."""
    analysis = analyze([str(CAPTURES / name)], show_secrets=show)
    verdict = evaluate_capture(PROFILE, analysis)
    doc = document(PROFILE.name, analysis, verdict)
    assert doc["secrets_shown"] is show
    console = Console(file=io.StringIO(), width=200, highlight=False)
    render(console, analysis, verdict, PROFILE.name)
    table = console.file.getvalue()  # type: ignore[attr-defined]
    return dumps(doc), "\n".join(json_lines(PROFILE.name, analysis, verdict)), table


@pytest.mark.parametrize("name", WITH_SECRETS)
def test_default_outputs_never_show_raw_values(name: str) -> None:
    for text in outputs(name, show=False):
        assert "value=" not in text and "secrets shown" not in text
        for raw in EXPECTED[name]["never_shown"]:
            assert raw not in text


# Captures whose never_shown values all went in the clear (other captures list values sent
# inside TLS, which no flag can show).
CLEARTEXT_LEAKS = ["ftp_login.pcap", "http_leaks.pcap", "ip_fragments.pcap", "mysql_logins.pcap",
                   "smtp_auth.pcap"]  # fmt: skip


@pytest.mark.parametrize("name", CLEARTEXT_LEAKS)
def test_show_secrets_reveals_them_everywhere(name: str) -> None:
    document_text, lines, table = outputs(name, show=True)
    assert table.startswith(f"probe pcap: profile {PROFILE.name}\nsecrets shown:")
    assert json.loads(lines.splitlines()[-1])["secrets_shown"] is True
    for raw in EXPECTED[name]["never_shown"]:
        if raw in ENCODINGS:
            continue
        assert raw in document_text and raw in lines
        assert raw in table


@pytest.mark.parametrize("name", WITH_SECRETS)
def test_every_found_secret_has_its_raw_value_when_asked(name: str) -> None:
    analysis = analyze([str(CAPTURES / name)], show_secrets=True)
    text = dumps(document(PROFILE.name, analysis, evaluate_capture(PROFILE, analysis)))
    for found in analysis.secrets:
        assert found.raw and found.secret.fingerprint in found.raw
        for value in found.raw.values():
            assert f"value={json.dumps(value)[1:-1]}" in text
    plain = analyze([str(CAPTURES / name)])
    assert all(found.raw is None for found in plain.secrets)


def test_redact_records_only_inside_revealing() -> None:
    fingerprint = redact("hunter2-long", kind="ftp-password")
    with revealing() as raw:
        assert redact("hunter2-long", kind="ftp-password") == fingerprint
    assert raw == {fingerprint: "hunter2-long"}
    redact("another-one", kind="ftp-password")  # outside: nothing recorded anywhere
    assert len(raw) == 1


def test_raw_values_are_escaped_and_capped() -> None:
    assert shown_raw("a\x1b[31mb\u202ec\x00") == "a\\x1b[31mb\\u202ec\\x00"
    assert shown_raw(b"\xff-x") == "\ufffd-x"
    assert len(shown_raw("x" * 100_000)) == 8192 + 3


def test_cli_flag(tmp_path: Path) -> None:
    leaks = str(CAPTURES / "http_leaks.pcap")
    plain = run_probe("pcap", leaks, "--json", "-")
    shown = run_probe("pcap", leaks, "--show-secrets", "--json", "-")
    assert plain.returncode == shown.returncode == 1
    assert json.loads(plain.stdout)["secrets_shown"] is False
    assert json.loads(shown.stdout)["secrets_shown"] is True
    assert "fake-basic-pass" not in plain.stdout + plain.stderr
    assert "fake-basic-pass" in shown.stdout
    table = run_probe("pcap", leaks, "--show-secrets")
    assert "secrets shown" in table.stdout and "fake-basic-pass" in table.stdout
