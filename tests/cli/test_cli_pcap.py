"""`probe pcap` end to end as a subprocess: the report shapes (table, --json, --jsonl) against
the published schema, exit codes 0/1/2/130, damaged and hostile files, redaction."""

from __future__ import annotations

import gzip
import json
import random
import signal
import struct
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.cli.cli_helpers import ROOT, popen_probe, run_probe
from tests.pcap.pcap_writer import conversation, udp, write_pcap

CAPTURES = ROOT / "captures" / "pcap"
EXPECTED: dict[str, Any] = json.loads((CAPTURES / "expected.json").read_text())
SCHEMA: dict[str, Any] = json.loads((ROOT / "docs" / "pcap-output.schema.json").read_text())
TOP_KEYS = [
    "schema_version",
    "profile",
    "secrets_shown",
    "summary",
    "flows",
    "findings",
    "captures",
]
FLOW_KEYS = [
    "src",
    "sport",
    "dst",
    "dport",
    "transport",
    "protocol",
    "encrypted",
    "packets",
    "packets_to_server",
    "packets_to_client",
    "bytes_to_server",
    "bytes_to_client",
    "first_seen",
    "last_seen",
    "handshake_seen",
    "closed",
    "gaps",
    "tls",
    "starttls",
    "http_hosts",
    "detail",
    "certificate",
]
FINDING_KEYS = [
    "id",
    "severity",
    "protocol",
    "flow",
    "message",
    "evidence",
    "rationale",
    "reference",
]
LEAKS = str(CAPTURES / "http_leaks.pcap")
ALL = [str(CAPTURES / name) for name in sorted(EXPECTED)]
SECRETS = [raw for entry in EXPECTED.values() for raw in entry["never_shown"]]


def validate(doc: Any) -> None:
    jsonschema.Draft202012Validator(
        SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(doc)
    assert list(doc) == TOP_KEYS
    assert doc["schema_version"] == "1.0"
    for flow in doc["flows"]:
        assert list(flow) == FLOW_KEYS and flow["protocol"] == flow["protocol"].lower()
    for finding in doc["findings"]:
        assert list(finding) == FINDING_KEYS
    summary = doc["summary"]
    assert summary["flows"] == len(doc["flows"])
    assert summary["findings"] == len(doc["findings"])
    assert summary["bytes"] == sum(
        f["bytes_to_server"] + f["bytes_to_client"] for f in doc["flows"]
    )


def validate_line(obj: Any) -> None:
    jsonschema.Draft202012Validator({"$ref": "#/$defs/line", "$defs": SCHEMA["$defs"]}).validate(
        obj
    )


def no_secret_in(*texts: str) -> None:
    for text in texts:
        for raw in SECRETS:
            assert raw not in text, raw


def test_json_report_of_every_committed_capture() -> None:
    run = run_probe("pcap", *ALL, "--json", "-")
    assert run.returncode == 1, run.describe()
    doc = run.json()
    validate(doc)
    assert doc["profile"] == "azure-transit"
    assert [c["name"] for c in doc["captures"]] == ALL
    ids = {f["id"] for f in doc["findings"]}
    assert ids == {f["id"] for entry in EXPECTED.values() for f in entry["findings"]}
    assert run.stderr == ""
    no_secret_in(run.stdout, run.stderr)


def test_jsonl_streams_flows_then_findings_then_summary() -> None:
    run = run_probe("pcap", LEAKS, str(CAPTURES / "tls_versions.pcap"), "--jsonl", "-")
    assert run.returncode == 1, run.describe()
    lines = run.lines()
    types = [line["type"] for line in lines]
    assert types == sorted(types, key=["flow", "finding", "summary"].index)
    assert types.count("flow") == 6 and types[-1] == "summary"
    for line in lines:
        validate_line(line)
    summary = lines[-1]
    assert summary["summary"]["flows"] == 6 and summary["summary"]["passed"] is False
    assert len(summary["captures"]) == 2
    flows = [{k: v for k, v in line.items() if k != "type"} for line in lines[:6]]
    assert all(list(f) == FLOW_KEYS for f in flows)
    no_secret_in(run.stdout)


def test_json_file_and_jsonl_file_together(tmp_path: Path) -> None:
    out, stream = tmp_path / "r.json", tmp_path / "r.jsonl"
    run = run_probe("pcap", LEAKS, "--json", str(out), "--jsonl", str(stream))
    assert run.returncode == 1, run.describe()
    doc = json.loads(out.read_text())
    validate(doc)
    lines = [json.loads(x) for x in stream.read_text().splitlines()]
    assert [x for x in lines if x["type"] == "finding"] == [
        {"type": "finding", **f} for f in doc["findings"]
    ]
    assert "Largest flows" in run.stdout  # the table still goes to stdout


def test_table_report() -> None:
    run = run_probe("pcap", LEAKS, str(CAPTURES / "ftp_login.pcap"))
    assert run.returncode == 1, run.describe()
    out = run.stdout
    for text in (
        "probe pcap: profile azure-transit",
        "0.0% encrypted",
        "Largest flows",
        "Findings (",
        "PCAP-CLEARTEXT-CREDENTIALS",
        "FAIL",
    ):
        assert text in out
    no_secret_in(out, run.stderr)


def test_passing_capture_exits_zero(tmp_path: Path) -> None:
    profile = tmp_path / "creds-only.toml"
    profile.write_text(
        'name = "creds-only"\ndescription = "d"\nversion = "1"\nfail_on = "high"\n'
        '[[requirement]]\nid = "CREDS"\nseverity = "high"\n'
        'rule = "capture_cleartext_credentials"\napplies_to = "pcap"\n'
        'rationale = "r"\nreference = "r"\n'
    )
    run = run_probe(
        "pcap", str(CAPTURES / "lo_en10mb.pcap"), "--profile", str(profile), "--json", "-"
    )
    assert run.returncode == 0, run.describe()
    doc = run.json()
    assert doc["findings"] == [] and doc["summary"]["passed"] is True
    # The same profile fails a capture with credentials in it.
    assert run_probe("pcap", LEAKS, "--profile", str(profile)).returncode == 1


def test_profile_without_capture_requirements_says_so() -> None:
    run = run_probe("pcap", str(CAPTURES / "lo_en10mb.pcap"), "--profile", "mozilla-intermediate")
    assert run.returncode == 0, run.describe()
    assert "has no capture requirements" in run.stderr


def test_gzip_capture_same_findings(tmp_path: Path) -> None:
    packed = tmp_path / "leaks.pcap.gz"
    packed.write_bytes(gzip.compress(Path(LEAKS).read_bytes()))
    plain = run_probe("pcap", LEAKS, "--json", "-").json()
    zipped = run_probe("pcap", str(packed), "--json", "-").json()
    validate(zipped)
    assert zipped["findings"] == plain["findings"] and zipped["flows"] == plain["flows"]
    assert zipped["captures"][0]["compression"] == "gzip"


def test_missing_and_unreadable_captures_are_usage_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pcap"
    run = run_probe("pcap", LEAKS, str(missing), str(tmp_path), "--json", "-")
    assert run.returncode == 2, run.describe()
    assert f"cannot read capture {missing}: No such file or directory" in run.stderr
    assert f"cannot read capture {tmp_path}: is a directory" in run.stderr
    assert run.stdout == "" and "Traceback" not in run.stderr


def test_usage_errors() -> None:
    assert run_probe("pcap").returncode == 2
    both = run_probe("pcap", LEAKS, "--json", "-", "--jsonl", "-")
    assert both.returncode == 2 and "cannot both write to stdout" in both.stderr
    bad = run_probe("pcap", LEAKS, "--profile", "no-such-profile")
    assert bad.returncode == 2 and "no built-in profile" in bad.stderr


def test_output_over_a_capture_is_refused(tmp_path: Path) -> None:
    capture = tmp_path / "c.pcap"
    capture.write_bytes(Path(LEAKS).read_bytes())
    run = run_probe("pcap", str(capture), "--json", str(capture))
    assert run.returncode == 2 and "is one of the captures" in run.stderr
    assert capture.read_bytes() == Path(LEAKS).read_bytes()


def test_truncated_capture_reports_damage_and_the_rest(tmp_path: Path) -> None:
    data = Path(LEAKS).read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) // 2])
    run = run_probe("pcap", str(cut), "--json", "-")
    assert run.returncode == 1, run.describe()
    doc = run.json()
    validate(doc)
    (damage,) = doc["captures"][0]["damage"]
    assert damage["reason"].startswith("truncated:")
    assert "PROBE-INCOMPLETE" in [f["id"] for f in doc["findings"]]
    assert doc["summary"]["packets"] > 0 and doc["flows"]
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("size", [0, 2, 65536])
def test_random_or_empty_file(tmp_path: Path, size: int) -> None:
    path = tmp_path / "noise.pcap"
    path.write_bytes(random.Random(size).randbytes(size))
    run = run_probe("pcap", str(path), "--json", "-")
    assert run.returncode == 1, run.describe()
    doc = run.json()
    validate(doc)
    assert doc["flows"] == [] and doc["captures"][0]["damage"]
    assert [f["id"] for f in doc["findings"]] == ["PROBE-INCOMPLETE"]
    table = run_probe("pcap", str(path))
    assert table.returncode == 1 and "damaged:" in table.stdout
    assert "Traceback" not in run.stderr + table.stderr


def test_ctrl_c_reports_what_was_read(tmp_path: Path) -> None:
    """SIGINT while reading: exit 130, the JSON says interrupted and covers what was read."""
    frames = []
    for n in range(3000):
        frames += conversation(
            (f"10.1.{n // 200}.{n % 200 + 1}", 40000),
            ("10.2.0.1", 21),
            [(True, b"USER x\r\n" * 20)],
            start_us=n * 100,
        )
    capture = write_pcap(tmp_path / "big.pcap", sorted(frames))
    out = tmp_path / "report.json"
    proc = popen_probe("pcap", *[str(capture)] * 200, "--json", str(out))
    deadline = time.monotonic() + 30
    while not out.exists() and time.monotonic() < deadline:  # opened just before reading
        time.sleep(0.05)
    time.sleep(1.0)  # well into the 200 copies (each takes about half a second)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr.decode()
    assert b"interrupted" in stderr and b"Traceback" not in stderr
    doc = json.loads(out.read_text())
    validate(doc)
    assert doc["summary"]["interrupted"] is True and doc["summary"]["packets"] > 0
    assert doc["captures"][-1]["complete"] is False and len(doc["captures"]) < 200
    assert any(f["id"] == "PROBE-INCOMPLETE" for f in doc["findings"])


def test_new_protocol_credentials_never_shown_in_json(tmp_path: Path) -> None:
    """Telnet, Redis, PostgreSQL, LDAP and SNMP logins, hand-built by their specs: each is a
    high credential finding in `probe pcap --json`, and no raw value appears anywhere."""

    def ber(tag: int, body: bytes) -> bytes:  # X.690 8.1, short lengths
        return bytes([tag, len(body)]) + body

    def pg(kind: bytes, body: bytes) -> bytes:  # PostgreSQL 55.7 typed message
        return kind + struct.pack("!I", len(body) + 4) + body

    raw = {
        "telnet": b"fake-cli-telnet", "redis": b"fake-cli-redis", "postgresql": b"fake-cli-pg",
        "ldap": b"fake-cli-ldap", "snmp": b"fake-cli-community",
    }  # fmt: skip
    startup = struct.pack("!I", 196608) + b"user\0alice\0\0"
    bind = ber(0x60, ber(0x02, b"\x03") + ber(0x04, b"cn=alice") + ber(0x80, raw["ldap"]))
    community = ber(0x04, raw["snmp"]) + ber(
        0xA0, ber(0x02, b"\x01") + bytes.fromhex("020100020100") + ber(0x30, b"")
    )
    talks = [
        (23, [(False, b"\xff\xfb\x01login: "), (True, b"alice\r\n"), (False, b"Password: "),
              (True, raw["telnet"] + b"\r\n")]),
        (6379, [(True, b"*2\r\n$4\r\nAUTH\r\n$14\r\n" + raw["redis"] + b"\r\n"),
                (False, b"+OK\r\n")]),
        (5432, [(True, struct.pack("!I", len(startup) + 4) + startup),
                (False, pg(b"R", struct.pack("!I", 3))),
                (True, pg(b"p", raw["postgresql"] + b"\0"))]),
        (389, [(True, ber(0x30, ber(0x02, b"\x01") + bind))]),
    ]  # fmt: skip
    frames = []
    for n, (port, messages) in enumerate(talks):
        frames += conversation(("10.0.0.1", 40000 + n), ("10.0.0.2", port), messages,
                               start_us=1_000_000 * (n + 1))  # fmt: skip
    snmp = ber(0x30, ber(0x02, b"\x01") + community)
    frames.append((9_000_000, udp(("10.0.0.1", 50000), ("10.0.0.2", 161), snmp)))
    capture = write_pcap(tmp_path / "logins.pcap", frames)
    run = run_probe("pcap", str(capture), "--json", "-")
    assert run.returncode == 1, run.stderr
    for value in raw.values():
        assert value.decode() not in run.stdout
    doc = run.json()
    validate(doc)
    assert sorted(f["protocol"] for f in doc["flows"]) == sorted(raw)
    found = {f["protocol"] for f in doc["findings"] if f["id"] == "PCAP-CLEARTEXT-CREDENTIALS"}
    assert found == set(raw)
