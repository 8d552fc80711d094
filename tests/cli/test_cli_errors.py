"""Per-target errors are results; Ctrl-C keeps what finished; IPv6 targets."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

from cli_helpers import closed_port, popen_probe, run_probe, validate_document

from tests.lab.hostile import HostileServer


def test_each_broken_target_gets_its_own_reason_and_the_good_one_completes(
    strict_target: str,
    lab_ca_file: str,
    silent_server: HostileServer,
    garbage_server: HostileServer,
) -> None:
    timeout = 2.0
    refused = f"127.0.0.1:{closed_port()}"
    silent = f"127.0.0.1:{silent_server.port}"
    garbage = f"127.0.0.1:{garbage_server.port}"
    run = run_probe(
        "scan",
        refused,
        silent,
        garbage,
        strict_target,
        "--ca-file",
        lab_ca_file,
        "--timeout",
        str(timeout),
        "--json",
        "-",
    )
    assert run.returncode == 1, run.describe()
    doc = run.json()
    validate_document(doc)
    by_target = {t["target"]: t for t in doc["targets"]}
    assert list(by_target) == [refused, silent, garbage, strict_target]
    assert by_target[refused]["error"]["reason"] == "refused"
    assert by_target[silent]["error"]["reason"] == "timeout"
    assert by_target[garbage]["error"]["reason"] in ("not_tls", "protocol_error")
    for broken in (refused, silent, garbage):
        assert by_target[broken]["status"] == "error"
        assert by_target[broken]["passed"] is False
        assert by_target[broken]["findings"] == []
    good = by_target[strict_target]
    assert good["status"] == "completed" and good["passed"] is True
    assert good["tls"]["incomplete"] == {}
    assert doc["summary"] == {"targets": 4, "passed": 1, "failed": 0, "errors": 3}
    # The silent server costs timeouts, not the whole run: measured ~2x timeout (its six
    # parallel probes share the default five per-host slots), interpreter start included.
    assert run.seconds < 3 * timeout, run.describe()
    assert "Traceback" not in run.stderr


def test_error_reasons_in_the_table(silent_server: HostileServer) -> None:
    refused = f"127.0.0.1:{closed_port()}"
    run = run_probe("scan", refused, f"127.0.0.1:{silent_server.port}", "--timeout", "0.5")
    assert run.returncode == 1, run.describe()
    assert "refused" in run.stdout and "timeout" in run.stdout
    assert "2 not scanned" in run.stdout


def _wait_for_lines(path: Path, count: int, deadline: float) -> list[str]:
    while time.monotonic() < deadline:
        if path.exists():
            lines = path.read_text(encoding="utf-8").splitlines()
            if len(lines) >= count:
                return lines
        time.sleep(0.05)
    raise AssertionError(f"{path} did not get {count} line(s) in time")


def test_ctrl_c_stops_promptly_and_keeps_finished_targets(
    strict_target: str,
    lab_ca_file: str,
    silent_servers: Callable[[int], list[HostileServer]],
    tmp_path: Path,
) -> None:
    silents = [f"127.0.0.1:{s.port}" for s in silent_servers(3)]
    jsonl, report = tmp_path / "out.jsonl", tmp_path / "out.json"
    proc = popen_probe(
        "scan",
        strict_target,
        *silents,
        "--ca-file",
        lab_ca_file,
        "--timeout",
        "10",
        # All lab servers share 127.0.0.1: with the default 5 per-host slots the silent
        # servers' probes would hold the address for 10 s rounds before the good one runs.
        "--per-host",
        "64",
        "--jsonl",
        str(jsonl),
        "--json",
        str(report),
    )
    try:
        (line,) = _wait_for_lines(jsonl, 1, time.monotonic() + 8)
        assert json.loads(line)["target"] == strict_target
        assert proc.poll() is None, "the silent targets should still be running"
        interrupted = time.monotonic()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=15)
        took = time.monotonic() - interrupted
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = stderr.decode(errors="replace")
    assert took < 3.0, (took, err)
    assert proc.returncode == 130, err  # 128 + SIGINT, as documented
    assert "Traceback" not in err, err
    assert "interrupted" in err
    doc = json.loads(report.read_text(encoding="utf-8"))
    validate_document(doc)
    finished = [t["target"] for t in doc["targets"]]
    assert finished == [strict_target, *silents]  # every target, in the order given
    assert doc["targets"][0]["passed"] is True
    for entry in doc["targets"][1:]:  # nothing silently lost: unfinished targets say so
        assert entry["status"] == "error"
        assert entry["error"]["reason"] == "cancelled"
    lines = [json.loads(x) for x in jsonl.read_text(encoding="utf-8").splitlines()]
    assert [x["target"] for x in lines] == finished
    assert strict_target in stdout.decode()  # and the table of what finished


def test_ipv6_target(ipv6_strict_port: int | None, lab_ca_file: str) -> None:
    assert ipv6_strict_port is not None, "this machine kind has ::1; the test needs it"
    target = f"[::1]:{ipv6_strict_port}"
    run = run_probe("scan", target, "--ca-file", lab_ca_file, "--json", "-")
    doc = run.json()
    validate_document(doc)
    (result,) = doc["targets"]
    assert result["target"] == target
    assert result["host"] == "::1" and result["server_name"] is None
    assert result["port"] == ipv6_strict_port
    assert result["status"] == "completed", run.describe()
    versions = result["tls"]["versions"]
    assert [v for v, ok in versions.items() if ok] == ["TLSv1.2", "TLSv1.3"]
    (cert,) = result["tls"]["certificates"]
    assert cert["trusted"] is True
    # The lab certificate names localhost and 127.0.0.1, not ::1: a legitimate finding.
    assert cert["name_matches"] is False
    assert {f["id"] for f in result["findings"]} == {"CERT-NAME-MATCH"}
    assert run.returncode == 1


def test_ipv6_refused_is_a_clean_error() -> None:
    try:
        port = closed_port("::1")
    except OSError:
        port = 9  # no ::1 here: the connect fails another way, still cleanly
    target = f"[::1]:{port}"
    run = run_probe("scan", target, "--timeout", "1", "--json", "-")
    assert run.returncode == 1, run.describe()
    assert "Traceback" not in run.stderr
    doc = run.json()
    validate_document(doc)
    (result,) = doc["targets"]
    assert result["host"] == "::1" and result["port"] == port
    assert result["error"]["reason"] in ("refused", "unreachable")
