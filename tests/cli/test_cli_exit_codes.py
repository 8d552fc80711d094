"""Exit codes of ``probe scan``: 0 all pass, 1 some fail or cannot be scanned, 2 usage errors."""

from __future__ import annotations

from pathlib import Path

from cli_helpers import closed_port, run_probe, validate_document

GOOD_PROFILE = """\
name = "cli-test-min-version"
description = "Only TLS 1.2 or later: what a non-forward-secret TLS 1.2 server passes"
version = "0.1"
fail_on = "medium"

[[requirement]]
id = "TLS-MIN-VERSION"
severity = "high"
rule = "tls_min_version"
params = { min = "TLSv1.2" }
rationale = "TLS 1.0 and 1.1 are deprecated (RFC 8996)."
reference = "https://www.rfc-editor.org/rfc/rfc8996"
"""


def test_exit_0_when_every_target_passes(strict_target: str, lab_ca_file: str) -> None:
    run = run_probe("scan", strict_target, "--ca-file", lab_ca_file, "--json", "-")
    assert run.returncode == 0, run.describe()
    doc = run.json()
    validate_document(doc)
    assert doc["profile"] == "azure-transit"
    (target,) = doc["targets"]
    assert target["target"] == strict_target
    assert target["status"] == "completed"
    assert target["passed"] is True
    assert target["findings"] == []
    (cert,) = target["tls"]["certificates"]
    assert cert["name_matches"] is True and cert["trusted"] is True


def test_exit_0_table_on_stdout(strict_target: str, lab_ca_file: str) -> None:
    run = run_probe("scan", strict_target, "--ca-file", lab_ca_file)
    assert run.returncode == 0, run.describe()
    assert strict_target in run.stdout
    assert "PASS" in run.stdout
    assert "azure-transit" in run.stdout


def test_without_ca_file_the_lab_cert_is_untrusted(strict_target: str) -> None:
    run = run_probe("scan", strict_target, "--json", "-")
    assert run.returncode == 1, run.describe()
    (target,) = run.json()["targets"]
    assert "CERT-TRUSTED" in {f["id"] for f in target["findings"]}


def test_exit_1_when_a_target_fails_the_profile(
    strict_target: str, non_fs_target: str, lab_ca_file: str
) -> None:
    run = run_probe("scan", strict_target, non_fs_target, "--ca-file", lab_ca_file, "--json", "-")
    assert run.returncode == 1, run.describe()
    doc = run.json()
    validate_document(doc)
    good, bad = doc["targets"]  # in the order given
    assert good["target"] == strict_target and good["passed"] is True
    assert bad["target"] == non_fs_target and bad["passed"] is False
    assert bad["status"] == "completed"
    assert {f["id"] for f in bad["findings"]} == {"TLS-FORWARD-SECRECY"}
    assert doc["summary"] == {"targets": 2, "passed": 1, "failed": 1, "errors": 0}


def test_exit_1_when_a_target_cannot_be_scanned(strict_target: str, lab_ca_file: str) -> None:
    refused = f"127.0.0.1:{closed_port()}"
    run = run_probe("scan", strict_target, refused, "--ca-file", lab_ca_file, "--json", "-")
    assert run.returncode == 1, run.describe()
    doc = run.json()
    validate_document(doc)
    assert [t["target"] for t in doc["targets"]] == [strict_target, refused]
    assert doc["targets"][0]["passed"] is True
    assert doc["targets"][1]["status"] == "error"
    assert doc["targets"][1]["error"]["reason"] == "refused"
    assert doc["summary"]["errors"] == 1


def test_custom_profile_file(non_fs_target: str, lab_ca_file: str, tmp_path: Path) -> None:
    profile = tmp_path / "min-version.toml"
    profile.write_text(GOOD_PROFILE, encoding="utf-8")
    run = run_probe(
        "scan", non_fs_target, "--ca-file", lab_ca_file, "--profile", str(profile), "--json", "-"
    )
    assert run.returncode == 0, run.describe()
    doc = run.json()
    validate_document(doc)
    assert doc["profile"] == "cli-test-min-version"
    assert doc["targets"][0]["passed"] is True


def test_builtin_mozilla_profile_by_name(strict_target: str, lab_ca_file: str) -> None:
    run = run_probe(
        "scan",
        strict_target,
        "--ca-file",
        lab_ca_file,
        "--profile",
        "mozilla-intermediate",
        "--json",
        "-",
    )
    doc = run.json()
    validate_document(doc)
    assert doc["profile"] == "mozilla-intermediate"
    assert run.returncode == (0 if doc["targets"][0]["passed"] else 1), run.describe()


# usage errors -------------------------------------------------------------------------------


def test_unknown_option_exits_2() -> None:
    run = run_probe("scan", "--no-such-option", "127.0.0.1:443")
    assert run.returncode == 2, run.describe()
    assert "--no-such-option" in run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout == ""


def test_unknown_profile_name_exits_2() -> None:
    run = run_probe("scan", "--profile", "no-such-profile", f"127.0.0.1:{closed_port()}")
    assert run.returncode == 2, run.describe()
    assert "no-such-profile" in run.stderr
    assert "azure-transit" in run.stderr  # it lists what exists
    assert run.stdout == ""


def test_invalid_profile_file_names_the_bad_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD_PROFILE + 'colour_of_the_bikeshed = "blue"\n', encoding="utf-8")
    run = run_probe("scan", "--profile", str(bad), f"127.0.0.1:{closed_port()}")
    assert run.returncode == 2, run.describe()
    assert "colour_of_the_bikeshed" in run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout == ""


def test_unparsable_profile_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "broken.toml"
    bad.write_text("name = [unterminated\n", encoding="utf-8")
    run = run_probe("scan", "--profile", str(bad), f"127.0.0.1:{closed_port()}")
    assert run.returncode == 2, run.describe()
    assert "Traceback" not in run.stderr


def test_bad_target_arguments_exit_2_but_the_rest_is_scanned(
    strict_target: str, lab_ca_file: str
) -> None:
    run = run_probe(
        "scan", "a:b", strict_target, "host:99999", "--ca-file", lab_ca_file, "--json", "-"
    )
    assert run.returncode == 2, run.describe()
    assert "argument 1" in run.stderr and "'a:b'" in run.stderr
    assert "argument 3" in run.stderr and "99999" in run.stderr
    doc = run.json()
    validate_document(doc)
    assert [t["target"] for t in doc["targets"]] == [strict_target]
    assert doc["targets"][0]["passed"] is True


def test_only_bad_targets_exit_2() -> None:
    run = run_probe("scan", "a:b")
    assert run.returncode == 2, run.describe()
    assert "'a:b'" in run.stderr


def test_no_targets_at_all_exits_2() -> None:
    run = run_probe("scan")
    assert run.returncode == 2, run.describe()


def test_unreadable_target_file_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "missing.txt"
    run = run_probe("scan", "-f", str(missing), f"127.0.0.1:{closed_port()}")
    assert run.returncode == 2, run.describe()
    assert "missing.txt" in run.stderr
    assert "Traceback" not in run.stderr


def test_json_and_jsonl_both_on_stdout_exits_2() -> None:
    run = run_probe("scan", "--json", "-", "--jsonl", "-", f"127.0.0.1:{closed_port()}")
    assert run.returncode == 2, run.describe()
    assert "--json" in run.stderr and "--jsonl" in run.stderr
    assert run.stdout == ""


def test_missing_ca_file_exits_2(tmp_path: Path) -> None:
    run = run_probe("scan", "--ca-file", str(tmp_path / "nope.pem"), "127.0.0.1:443")
    assert run.returncode == 2, run.describe()
    assert "nope.pem" in run.stderr


def test_out_of_range_option_exits_2() -> None:
    run = run_probe("scan", "--timeout", "0", "127.0.0.1:443")
    assert run.returncode == 2, run.describe()


def test_unwritable_jsonl_file_exits_2_before_scanning(tmp_path: Path) -> None:
    out = tmp_path / "no-such-dir" / "out.jsonl"
    run = run_probe("scan", "--jsonl", str(out), f"127.0.0.1:{closed_port()}")
    assert run.returncode == 2, run.describe()
    assert "Traceback" not in run.stderr


def test_unwritable_json_file_is_a_usage_error_not_a_crash(tmp_path: Path) -> None:
    """BUG: ``--json`` into a missing directory scans everything, then dies with a traceback.

    probe/cli.py ``_Outputs.__init__`` checks only the ``--jsonl`` path up front; the ``--json``
    file is first opened in ``_Outputs.finish`` (``Path.write_text``) after the whole scan, with
    no error handling, so the OSError escapes ``scan_command``: a rich traceback, exit 1, and
    every result is lost. ``--jsonl`` to the same place is a clean usage error (exit 2).
    """
    out = tmp_path / "no-such-dir" / "report.json"
    run = run_probe("scan", "--json", str(out), f"127.0.0.1:{closed_port()}")
    assert "Traceback" not in run.stderr, run.describe()
    assert run.returncode == 2, run.describe()
    assert "report.json" in run.stderr
