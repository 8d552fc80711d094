"""``--json FILE|-`` and ``--jsonl FILE|-``: the public output contract, written by a real run."""

from __future__ import annotations

import json
import select
import subprocess
import time
from pathlib import Path

from cli_helpers import closed_port, popen_probe, run_probe, validate_document, validate_line

from tests.lab.hostile import HostileServer


def test_json_file_matches_the_contract(
    strict_target: str, non_fs_target: str, lab_ca_file: str, tmp_path: Path
) -> None:
    refused = f"127.0.0.1:{closed_port()}"
    out = tmp_path / "report.json"
    run = run_probe(
        "scan", non_fs_target, refused, strict_target, "--ca-file", lab_ca_file, "--json", str(out)
    )
    assert run.returncode == 1, run.describe()
    # --json FILE leaves stdout to the table.
    assert non_fs_target in run.stdout and strict_target in run.stdout
    doc = json.loads(out.read_text(encoding="utf-8"))
    validate_document(doc)
    assert doc["profile"] == "azure-transit"
    assert [t["target"] for t in doc["targets"]] == [non_fs_target, refused, strict_target]
    assert doc["summary"] == {"targets": 3, "passed": 1, "failed": 1, "errors": 1}

    non_fs, bad, good = doc["targets"]
    assert bad["host"] == "127.0.0.1" and bad["server_name"] is None and bad["tls"] is None

    port = int(strict_target.rsplit(":", 1)[1])
    assert (good["host"], good["port"], good["server_name"]) == ("localhost", port, "localhost")
    tls = good["tls"]
    assert tls["versions"] == {
        "SSLv2": False,
        "SSLv3": False,
        "TLSv1.0": False,
        "TLSv1.1": False,
        "TLSv1.2": True,
        "TLSv1.3": True,
    }
    # The strict server enforces its order: ECDHE + AEAD only (tests/lab/servers.py STRICT_*).
    assert tls["cipher_suites"]["TLSv1.2"] == [
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    ]
    assert set(tls["cipher_suites"]) == {"TLSv1.2", "TLSv1.3"}
    assert tls["server_preference"]["TLSv1.2"] is True
    assert tls["incomplete"] == {}
    assert tls["connections"] > 0
    (cert,) = tls["certificates"]
    assert cert["key_type"] == "RSA" and cert["key_bits"] == 2048
    assert cert["signature_algorithm"] == "sha256WithRSAEncryption"
    assert "CN=localhost" in cert["subject"]
    assert set(cert["san"]) == {"localhost", "127.0.0.1"}
    assert cert["name_matches"] is True and cert["trusted"] is True
    assert cert["days_to_expiry"] > 30

    (finding,) = non_fs["findings"]
    assert finding["id"] == "TLS-FORWARD-SECRECY" and finding["severity"] == "high"
    assert "TLS_RSA_WITH_AES_128_CBC_SHA" in finding["evidence"]
    assert finding["rationale"] and finding["reference"]

    # The letter grade closes each target (docs/grading.md): no HSTS measured, so no A+.
    assert (good["grade"], [c["rule"] for c in good["grade_caps"]]) == ("A", ["hsts_not_measured"])
    assert non_fs["grade"] == "B"
    assert "no_forward_secrecy" in {c["rule"] for c in non_fs["grade_caps"]}
    assert (bad["grade"], bad["grade_caps"]) == (None, [])


def test_json_stdout_is_only_the_document(strict_target: str, lab_ca_file: str) -> None:
    run = run_probe("scan", strict_target, "--ca-file", lab_ca_file, "--json", "-")
    assert run.returncode == 0, run.describe()
    doc = json.loads(run.stdout)  # nothing but JSON on stdout: no table around it
    validate_document(doc)
    assert run.stdout.lstrip().startswith("{") and run.stdout.rstrip().endswith("}")


def test_jsonl_stdout_one_object_per_target(
    strict_target: str, non_fs_target: str, lab_ca_file: str
) -> None:
    refused = f"127.0.0.1:{closed_port()}"
    run = run_probe(
        "scan", strict_target, non_fs_target, refused, "--ca-file", lab_ca_file, "--jsonl", "-"
    )
    assert run.returncode == 1, run.describe()
    raw_lines = run.stdout.splitlines()
    assert len(raw_lines) == 3, run.describe()
    objs = [json.loads(line) for line in raw_lines]  # each line is one compact document
    for obj in objs:
        validate_line(obj)
    by_target = {o["target"]: o for o in objs}
    assert set(by_target) == {strict_target, non_fs_target, refused}
    assert by_target[strict_target]["passed"] is True
    assert by_target[non_fs_target]["passed"] is False
    assert by_target[refused]["error"]["reason"] == "refused"


def test_jsonl_file_and_json_file_agree(
    strict_target: str, non_fs_target: str, lab_ca_file: str, tmp_path: Path
) -> None:
    jsonl, report = tmp_path / "out.jsonl", tmp_path / "out.json"
    run = run_probe(
        "scan",
        strict_target,
        non_fs_target,
        "--ca-file",
        lab_ca_file,
        "--jsonl",
        str(jsonl),
        "--json",
        str(report),
    )
    assert run.returncode == 1, run.describe()
    lines = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    doc = json.loads(report.read_text(encoding="utf-8"))
    validate_document(doc)
    for line in lines:
        validate_line(line)
    key = lambda t: t["target"]  # noqa: E731
    assert sorted(lines, key=key) == sorted(doc["targets"], key=key)


def test_jsonl_streams_each_target_as_it_finishes(
    strict_target: str, lab_ca_file: str, silent_server: HostileServer
) -> None:
    """The fast target's line is on stdout while the silent target is still timing out.

    ``--per-host 20``: every lab server is on 127.0.0.1, and with the default of 5 the silent
    server's six parallel probes hold the address's slots and delay the fast target too.
    """
    timeout = 2.0
    proc = popen_probe(
        "scan",
        strict_target,
        f"127.0.0.1:{silent_server.port}",
        "--ca-file",
        lab_ca_file,
        "--timeout",
        str(timeout),
        "--per-host",
        "20",
        "--jsonl",
        "-",
    )
    started = time.monotonic()
    assert proc.stdout is not None
    try:
        first = proc.stdout.readline()  # blocks until a whole line arrives (or EOF)
        first_at = time.monotonic() - started
        rest = proc.stdout.read()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    ended_at = time.monotonic() - started
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert proc.returncode == 1, stderr
    obj = json.loads(first)
    validate_line(obj)
    assert obj["target"] == strict_target and obj["passed"] is True
    (second,) = [json.loads(line) for line in rest.decode().splitlines()]
    assert second["error"]["reason"] == "timeout"
    # Streamed, not buffered until exit: the first line came well before the end.
    assert ended_at - first_at > timeout / 2, (first_at, ended_at)
    assert first_at < timeout, (first_at, ended_at)


def test_jsonl_into_a_closed_pipe_does_not_crash(
    strict_target: str, lab_ca_file: str, silent_server: HostileServer
) -> None:
    """BUG: ``probe scan ... --jsonl - | head -n 1`` ends in a BrokenPipeError traceback.

    probe/cli.py ``_Outputs.stream`` writes and flushes sys.stdout with no BrokenPipeError
    handling. It is called from ``on_result`` in ``_run_scan``, which probe/engine.py
    ``scan``'s worker calls outside ``run_one``'s guard, so the error escapes the worker, the
    TaskGroup cancels every other target, and asyncio.run re-raises an ExceptionGroup that
    typer prints as a full traceback. A reader that stops early (head, grep -m1) is ordinary
    for a streaming format; probe should stop quietly.
    """
    proc = popen_probe(
        "scan",
        strict_target,
        f"127.0.0.1:{silent_server.port}",
        "--ca-file",
        lab_ca_file,
        "--timeout",
        "1",
        "--per-host",
        "20",
        "--jsonl",
        "-",
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        first = proc.stdout.readline()
        assert json.loads(first)["target"] == strict_target
        proc.stdout.close()  # the reader goes away, like `| head -n 1`
        _, stderr_bytes = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = stderr_bytes.decode(errors="replace")
    assert "Traceback" not in stderr, stderr
    assert "BrokenPipeError" not in stderr, stderr


def test_no_progress_bar_or_ansi_when_stderr_is_a_pipe(
    strict_target: str, lab_ca_file: str
) -> None:
    refused = [f"127.0.0.1:{closed_port()}" for _ in range(2)]
    run = run_probe("scan", strict_target, *refused, "--ca-file", lab_ca_file, "--json", "-")
    assert run.returncode == 1, run.describe()
    validate_document(run.json())
    assert "\x1b" not in run.stderr and "\r" not in run.stderr, repr(run.stderr)
    assert "scanning" not in run.stderr
    assert "\x1b" not in run.stdout


def _stderr_through_a_pty(*args: str) -> tuple[int, bytes]:
    import os
    import pty

    master, slave = pty.openpty()
    try:
        proc = popen_probe(*args, stdout=subprocess.DEVNULL, stderr=slave)
    finally:
        os.close(slave)
    seen = b""
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer closed its end
                break
            if not data:
                break
            seen += data
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return proc.returncode, seen


def test_progress_bar_only_on_a_terminal(silent_server: HostileServer) -> None:
    """Positive control for the test above: on a terminal the bar is drawn, unless told not."""
    args = (
        "scan",
        f"127.0.0.1:{closed_port()}",
        f"127.0.0.1:{silent_server.port}",
        "--timeout",
        "0.5",
        "--per-host",
        "20",
        "--json",
        "/dev/null",
    )
    code, seen = _stderr_through_a_pty(*args)
    assert code == 1
    assert b"scanning" in seen, seen[:500]
    code, seen = _stderr_through_a_pty(*args, "--no-progress")
    assert code == 1
    assert b"scanning" not in seen and b"\x1b" not in seen, seen[:500]
