"""`probe vpn` and ike:// / sstp:// targets end to end, against the strongSwan and sstpd labs."""

from __future__ import annotations

from typing import Any

import jsonschema

from tests.cli.cli_helpers import run_probe, schema
from tests.json_contract import IKE_KEYS, SSTP_KEYS, TARGET_KEYS, TOP_KEYS


def _validate(doc: Any) -> None:
    jsonschema.Draft202012Validator(schema()).validate(doc)
    assert list(doc) == TOP_KEYS
    for target in doc["targets"]:
        assert list(target) == TARGET_KEYS
        if target["ike"] is not None:
            assert list(target["ike"]) == IKE_KEYS
        if target["sstp"] is not None:
            assert list(target["sstp"]) == SSTP_KEYS


def test_vpn_ike_only_weak_responder_fails_with_findings(strongswan_lab: Any) -> None:
    strongswan_lab.restart()
    host = strongswan_lab["weak-ikev2"].host
    run = run_probe("vpn", host, "--ike-only", "--json", "-", "--timeout", "2")
    assert run.returncode == 1, run.describe()
    doc = run.json()
    _validate(doc)
    (target,) = doc["targets"]
    assert (target["check"], target["port"], target["status"]) == ("ike", 500, "completed")
    assert target["ike"]["accepted"]["encryption"] == ["3DES", "AES-CBC-128"]
    assert target["ike"]["nat_t"] is True
    assert "IKE-WEAK-ALGORITHMS" in {f["id"] for f in target["findings"]}


def test_vpn_strong_responder_passes_and_table_shows_it(strongswan_lab: Any) -> None:
    strongswan_lab.restart()
    host = strongswan_lab["strong-ikev2"].host
    run = run_probe("vpn", host, "--ike-only", "--timeout", "2")
    assert run.returncode == 0, run.describe()
    assert "IKEv2" in run.stdout and "PASS" in run.stdout
    assert "AES-GCM-16-256" in run.stdout


def test_vpn_sstp_only_with_its_tls_grade(sstp_servers: Any) -> None:
    server = sstp_servers["tls-pap"]
    run = run_probe(
        "vpn", "localhost", "--sstp-only", "--sstp-port", str(server.port),
        "--ca-file", str(server.ca_file), "--json", "-", "--timeout", "3",
    )  # fmt: skip
    assert run.returncode == 1, run.describe()
    doc = run.json()
    _validate(doc)
    (target,) = doc["targets"]
    assert target["check"] == "sstp" and target["status"] == "completed"
    assert target["sstp"]["auth_protocol"] == "PAP"
    assert target["sstp"]["hash_protocols"] == ["SHA1", "SHA256"]
    assert target["tls"]["versions"]["TLSv1.2"] is True
    ids = {f["id"] for f in target["findings"]}
    assert "SSTP-NO-PAP" in ids
    assert not any(i.startswith("CERT-") for i in ids)  # the lab CA was given


def test_scan_mixes_ike_sstp_and_tls_targets(strongswan_lab: Any, sstp_servers: Any) -> None:
    strongswan_lab.restart()
    ike_host = strongswan_lab["strong-ikev2"].host
    sstp = sstp_servers["plain"]
    run = run_probe(
        "scan", f"ike://{ike_host}", f"sstp://127.0.0.1:{sstp.port}",
        f"tls://127.0.0.1:{sstp_servers['tls-pap'].port}", "--json", "-", "--timeout", "2",
    )  # fmt: skip
    doc = run.json()
    _validate(doc)
    checks = [t["check"] for t in doc["targets"]]
    assert checks == ["ike", "sstp", "tls"]
    plain = doc["targets"][1]
    assert plain["sstp"]["plain_http"] is True
    assert "SSTP-REQUIRES-TLS" in {f["id"] for f in plain["findings"]}


def test_vpn_usage_errors() -> None:
    both = run_probe("vpn", "127.0.0.1", "--ike-only", "--sstp-only")
    assert both.returncode == 2 and "exclude" in both.stderr
    scheme = run_probe("vpn", "ike://127.0.0.1")
    assert scheme.returncode == 2 and "without scheme" in scheme.stderr


def test_vpn_silent_endpoint_is_no_answer_not_a_crash() -> None:
    # 127.0.0.1:500 with nothing listening answers ICMP port unreachable: refused, at once.
    run = run_probe("vpn", "127.0.0.1", "--ike-only", "--ike-port", "9", "--json", "-")
    assert run.returncode == 1, run.describe()
    (target,) = run.json()["targets"]
    assert target["status"] == "error" and target["error"]["reason"] == "refused"
