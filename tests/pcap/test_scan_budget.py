"""The per-direction scan budget (``probe pcap --scan-bytes``): a secret past the default 4 KiB
of a keep-alive connection is found once the budget covers it; the budget bounds what is kept."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from pcap_writer import conversation, write_pcap

from probe.pcap.analyze import analyze
from tests.cli.cli_helpers import run_probe

C, S = ("10.0.0.1", 40000), ("10.0.0.2", 8080)
BODY = b"x" * 6000  # the first request on the connection fills the old 4 KiB budget
SECOND = (
    b"GET /late HTTP/1.1\r\nHost: example.test\r\nAuthorization: Basic "
    + base64.b64encode(b"carol:late-secret-pass")
    + b"\r\n\r\n"
)


def late_secret(tmp_path: Path) -> Path:
    first = b"POST /upload HTTP/1.1\r\nHost: example.test\r\nContent-Length: 6000\r\n\r\n" + BODY
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    # the first request in MSS-sized segments, as a real client sends it
    parts = [(True, first[i : i + 1448]) for i in range(0, len(first), 1448)]
    frames = conversation(C, S, [*parts, (False, ok), (True, SECOND), (False, ok)])
    return write_pcap(tmp_path / "late.pcap", frames)


def test_secret_past_the_default_budget(tmp_path: Path) -> None:
    path = str(late_secret(tmp_path))
    default = analyze([path])
    assert default.flows[0].protocol == "http" and default.secrets == ()
    wider = analyze([path], prefix_bytes=16384)
    (found,) = wider.secrets
    assert found.secret.kind == "http-basic" and found.secret.user == "carol"
    assert found.secret.offset > 4096
    assert wider.flows[0].bytes == default.flows[0].bytes  # counts never depended on it


def test_budget_bounds_the_prefix_kept(tmp_path: Path) -> None:
    from probe.codecs.packet import decode_fields
    from probe.codecs.pcap import CaptureReader
    from probe.pcap.flows import FlowTable

    table = FlowTable(10, 10**12, 2048)
    reader = CaptureReader()
    reader.feed(late_secret(tmp_path).read_bytes())
    for timestamp_ns, link_type, data, _orig, _iface in reader.records():
        fields = decode_fields(link_type, data)
        assert fields is not None
        table.add_fields(fields, timestamp_ns)
    (flow,) = table.finish()
    assert len(flow.client_prefix) == 2048 and len(flow.server_prefix) <= 2048


def test_cli_scan_bytes(tmp_path: Path) -> None:
    path = str(late_secret(tmp_path))
    default = run_probe("pcap", path, "--json", "-")
    wider = run_probe("pcap", path, "--scan-bytes", "65536", "--json", "-")
    ids = [f["id"] for f in json.loads(default.stdout)["findings"]]
    assert "PCAP-CLEARTEXT-CREDENTIALS" not in ids
    wide_ids = [f["id"] for f in json.loads(wider.stdout)["findings"]]
    assert "PCAP-CLEARTEXT-CREDENTIALS" in wide_ids
    assert "late-secret-pass" not in wider.stdout  # a larger budget is no --show-secrets
    bad = run_probe("pcap", path, "--scan-bytes", "10")
    assert bad.returncode == 2 and "--scan-bytes" in bad.stderr
