"""``probe demo`` and ``probe profiles``."""

from __future__ import annotations

import re
import tomllib

import pytest
from cli_helpers import ROOT, run_probe, validate_document

AZURE = tomllib.loads((ROOT / "profiles" / "azure-transit.toml").read_text(encoding="utf-8"))
AZURE_IDS = [r["id"] for r in AZURE["requirement"]]
DEMO_ENDPOINT = re.compile(r"^(hardened|legacy) \(127\.0\.0\.1:\d+\)$")


@pytest.mark.lab
def test_demo_succeeds_and_shows_the_legacy_server_failing() -> None:
    run = run_probe("demo")
    assert run.returncode == 0, run.describe()  # the demo ran; legacy failing is its point
    assert "as designed" in run.stderr
    assert re.search(r"hardened \(127\.0\.0\.1:\d+\).*PASS", run.stdout), run.stdout
    assert re.search(r"legacy \(127\.0\.0\.1:\d+\).*FAIL", run.stdout), run.stdout
    assert "lab: hardened on 127.0.0.1:" in run.stderr
    assert "lab: legacy on 127.0.0.1:" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.lab
def test_demo_json() -> None:
    run = run_probe("demo", "--json", "-")
    assert run.returncode == 0, run.describe()
    doc = run.json()
    validate_document(doc)
    assert doc["profile"] == "azure-transit"
    hardened, legacy = doc["targets"]
    assert DEMO_ENDPOINT.match(hardened["target"]) and hardened["target"].startswith("hardened")
    assert DEMO_ENDPOINT.match(legacy["target"]) and legacy["target"].startswith("legacy")

    assert hardened["status"] == "completed" and hardened["passed"] is True
    assert hardened["findings"] == []
    assert hardened["tls"]["versions"]["TLSv1.0"] is False

    assert legacy["status"] == "completed" and legacy["passed"] is False
    ids = {f["id"] for f in legacy["findings"]}
    expected = {"TLS-MIN-VERSION", "TLS-FORWARD-SECRECY", "CERT-RSA-MIN-BITS"}
    assert expected <= set(AZURE_IDS)  # the ids really are the profile's
    assert expected <= ids, ids
    assert legacy["tls"]["versions"]["TLSv1.0"] is True
    rsa_bits = {c["key_bits"] for c in legacy["tls"]["certificates"] if c["key_type"] == "RSA"}
    assert 1024 in rsa_bits
    # Findings are most severe first.
    order = ["critical", "high", "medium", "low", "info"]
    ranks = [order.index(f["severity"]) for f in legacy["findings"]]
    assert ranks == sorted(ranks)


def test_profiles_list() -> None:
    run = run_probe("profiles", "list")
    assert run.returncode == 0, run.describe()
    for name in (
        "azure-transit",
        "mozilla-intermediate",
        "mozilla-modern",
        "nist-sp800-52r2",
        "pci-dss-4",
    ):
        assert name in run.stdout, name


def test_profiles_show_azure_transit() -> None:
    run = run_probe("profiles", "show", "azure-transit")
    assert run.returncode == 0, run.describe()
    assert "azure-transit" in run.stdout
    for requirement_id in AZURE_IDS:
        assert requirement_id in run.stdout, requirement_id


def test_profiles_show_unknown_exits_2() -> None:
    run = run_probe("profiles", "show", "nope")
    assert run.returncode == 2, run.describe()
    assert "nope" in run.stderr
    assert run.stdout == ""


def test_no_arguments_shows_help() -> None:
    run = run_probe()
    assert run.returncode in (0, 2), run.describe()
    assert "scan" in run.stdout + run.stderr


def test_scan_help_shows_every_target_form() -> None:
    run = run_probe("scan", "--help")
    assert run.returncode == 0
    for form in ("host:port", "[v6]:port", "tls://host", "smb://host", "CIDR"):
        assert form in run.stdout, form  # "[v6]" once vanished as rich markup
