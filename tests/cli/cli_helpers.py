"""Helpers for the end-to-end CLI tests: run ``python -m probe`` as a real subprocess.

Every run gets a clean environment (no FORCE_COLOR, COLUMNS, PYTHONUNBUFFERED...), so what the
tests see is what a user piping probe into another program sees.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from tests.json_contract import CERT_KEYS, FINDING_KEYS, TARGET_KEYS, TLS_KEYS, TOP_KEYS

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "docs" / "json-output.schema.json"

# Environment variables that change how rich or Python write to pipes.
_SCRUB = (
    "FORCE_COLOR",
    "NO_COLOR",
    "CLICOLOR_FORCE",
    "TTY_COMPATIBLE",
    "TTY_INTERACTIVE",
    "COLUMNS",
    "LINES",
    "PYTHONUNBUFFERED",
    "PYTHONWARNINGS",
)

VERSION_LABELS = ["SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
ERROR_REASONS = {
    "dns",
    "refused",
    "unreachable",
    "timeout",
    "reset",
    "not_tls",
    "protocol_error",
    "cancelled",
    "internal",
}


def probe_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def probe_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "probe", *args]


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def json(self) -> Any:
        return json.loads(self.stdout)

    def lines(self) -> list[Any]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def describe(self) -> str:
        return (
            f"exit {self.returncode} after {self.seconds:.2f}s\n"
            f"--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"
        )


def run_probe(*args: str, stdin: str | None = None, timeout: float = 60.0) -> Run:
    """Run probe to completion (stdin closed unless given) and capture everything."""
    started = time.monotonic()
    proc = subprocess.run(
        probe_argv(*args),
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=probe_env(),
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


def popen_probe(*args: str, **kwargs: Any) -> subprocess.Popen[bytes]:
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(probe_argv(*args), cwd=ROOT, env=probe_env(), **kwargs)


def closed_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (bound by the kernel, then released)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


def validate_document(doc: Any) -> None:
    """The --json document against the published JSON Schema and the documented contract."""
    jsonschema.Draft202012Validator(
        schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(doc)
    assert list(doc) == TOP_KEYS
    assert doc["schema_version"] == "1.0"
    summary = doc["summary"]
    targets = doc["targets"]
    assert summary["targets"] == len(targets)
    assert summary["passed"] == sum(t["passed"] for t in targets)
    assert summary["errors"] == sum(t["status"] == "error" for t in targets)
    assert summary["failed"] == sum(t["status"] == "completed" and not t["passed"] for t in targets)
    for target in targets:
        check_target(target)


def validate_line(obj: Any) -> None:
    """One JSONL line: exactly the shape of an entry of ``targets``."""
    target_schema = {"$ref": "#/$defs/target", "$defs": schema()["$defs"]}
    jsonschema.Draft202012Validator(target_schema).validate(obj)
    check_target(obj)


def check_target(t: dict[str, Any]) -> None:
    assert list(t) == TARGET_KEYS, list(t)
    assert isinstance(t["target"], str) and t["target"]
    assert isinstance(t["host"], str) and not t["host"].startswith("[")
    assert isinstance(t["port"], int)
    assert t["check"] == "tls"
    assert t["status"] in ("completed", "error")
    if t["status"] == "error":
        assert t["passed"] is False
        assert set(t["error"]) == {"reason", "message"}
        assert t["error"]["reason"] in ERROR_REASONS
        assert t["error"]["message"]
    else:
        assert t["error"] is None
        assert t["tls"] is not None
    assert t["duration_seconds"] >= 0
    for finding in t["findings"]:
        assert list(finding) == FINDING_KEYS
    if t["tls"] is None:
        return
    tls = t["tls"]
    assert list(tls) == TLS_KEYS
    assert list(tls["versions"]) == VERSION_LABELS
    for label, suites in tls["cipher_suites"].items():
        assert tls["versions"][label] is True
        assert suites and all(isinstance(s, str) for s in suites)
    for label in tls["server_preference"]:
        assert tls["versions"][label] is True
    for cert in tls["certificates"]:
        assert list(cert) == CERT_KEYS
        assert cert["not_after"].endswith("Z") and cert["not_before"].endswith("Z")
