"""probe.pcap.analyze end to end in process: the committed captures against their expected
flows and findings (captures/pcap/expected.json), gzip input, damaged and hostile files,
bounded memory, and the report built on top."""

from __future__ import annotations

import base64
import gzip
import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pcap_writer import ACK, FIN, PSH, SYN, conversation, pcap_bytes, tcp, udp, write_pcap

from probe.grading.profile import load_profile
from probe.grading.rules import INCOMPLETE_ID, evaluate_capture
from probe.pcap import analyze as analyze_module
from probe.pcap.analyze import Analysis, Analyzer, analyze, unreadable
from probe.report.pcap_doc import document, dumps, iter_dumps

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = ROOT / "captures" / "pcap"
EXPECTED: dict[str, Any] = json.loads((CAPTURES / "expected.json").read_text())
SCHEMA = json.loads((ROOT / "docs" / "pcap-output.schema.json").read_text())
PROFILE = load_profile("azure-transit")
C, S = ("10.0.0.1", 40000), ("10.0.0.2", 21)


def report(analysis: Analysis) -> dict[str, Any]:
    verdict = evaluate_capture(PROFILE, analysis)
    doc = document(PROFILE.name, analysis, verdict)
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    text = dumps(doc)
    assert json.loads(text) == doc  # the hand-laid-out text is the same JSON
    assert "".join(iter_dumps(PROFILE.name, analysis, verdict)) == text
    return doc


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_committed_capture_matches_expected(name: str) -> None:
    expected = EXPECTED[name]
    doc = report(analyze([str(CAPTURES / name)]))
    assert doc["summary"]["packets"] == expected["packets"]
    flows = [{k: f[k] for k in expected["flows"][0]} for f in doc["flows"]]
    assert flows == expected["flows"]
    findings = [
        {k: f[k] for k in ("id", "severity", "protocol", "flow", "evidence")}
        for f in doc["findings"]
    ]
    assert findings == expected["findings"]
    assert doc["captures"][0]["damage"] == []
    text = dumps(doc)
    for raw in expected["never_shown"]:
        assert raw not in text


def test_all_captures_at_once_add_up() -> None:
    names = sorted(EXPECTED)
    analysis = analyze([str(CAPTURES / n) for n in names])
    doc = report(analysis)
    assert doc["summary"]["captures"] == len(names)
    assert doc["summary"]["packets"] == sum(EXPECTED[n]["packets"] for n in names)
    s = analysis.summary
    assert s.bytes == s.encrypted_bytes + s.cleartext_bytes + s.unknown_bytes
    assert s.bytes == sum(f.bytes for f in analysis.flows)
    assert sum(p.bytes for p in s.by_protocol) == s.bytes
    assert {p.protocol for p in s.by_protocol} == {
        "http",
        "ftp",
        "smtp",
        "tls",
        "unknown",
        "snmp",
        "mysql",
        "imap",
        "ldap",
        "postgresql",
        "xmpp",
        "pop3",
    }


def test_leaks_capture_details() -> None:
    """What the http_leaks capture must yield (README): Basic credentials with their user, a
    SAS that allows http sent to a storage host, an AWS key id with its paired secret."""
    analysis = analyze([str(CAPTURES / "http_leaks.pcap")])
    kinds = {f.secret.kind: f for f in analysis.secrets}
    assert set(kinds) == {"http-basic", "azure-sas", "aws-access-key"}
    assert kinds["http-basic"].secret.user == "alice"
    assert kinds["azure-sas"].secret.allows_http is True
    assert "secret_key" in kinds["aws-access-key"].secret.detail
    hosts = {h for f in analysis.flows for h in f.http_hosts}
    assert "probeacct.blob.core.windows.net" in hosts
    assert all(f.dport == 18082 for f in analysis.flows)  # HTTP found on a non-standard port


def test_tls_capture_versions_and_suites() -> None:
    flows = analyze([str(CAPTURES / "tls_versions.pcap")]).flows
    seen = {(f.tls_version, f.tls_cipher_suite, f.sni) for f in flows}
    assert seen == {
        ("TLSv1.3", "TLS_AES_256_GCM_SHA384", "probe.test"),
        ("TLSv1.2", "TLS_RSA_WITH_AES_128_GCM_SHA256", "probe.test"),
        ("TLSv1.0", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "probe.test"),
    }
    assert all(f.encrypted and f.handshake_seen and f.closed for f in flows)


def test_gzip_input_gives_the_same_analysis(tmp_path: Path) -> None:
    source = CAPTURES / "http_leaks.pcap"
    packed = tmp_path / "leaks.pcap.gz"
    packed.write_bytes(gzip.compress(source.read_bytes()))
    plain, zipped = analyze([str(source)]), analyze([str(packed)])
    assert zipped.flows == plain.flows and zipped.secrets == plain.secrets
    assert zipped.captures[0].compression == "gzip" and zipped.captures[0].format == "pcap"
    assert zipped.captures[0].damage == ()
    assert zipped.captures[0].size == packed.stat().st_size


def test_gzip_members_and_bounded_inflation(tmp_path: Path, monkeypatch: Any) -> None:
    """Several gzip members (as `cat a.gz b.gz` makes) are one stream; the inflater hands out
    at most MAX_INFLATE bytes per step."""
    data = (CAPTURES / "ftp_login.pcap").read_bytes()
    path = tmp_path / "two.gz"
    path.write_bytes(gzip.compress(data[:1000]) + gzip.compress(data[1000:]))
    monkeypatch.setattr(analyze_module, "MAX_INFLATE", 256)
    monkeypatch.setattr(analyze_module, "CHUNK", 64)
    sizes: list[int] = []
    original = analyze_module.CaptureReader.feed

    def feed(self: Any, chunk: bytes) -> None:
        sizes.append(len(chunk))
        original(self, chunk)

    monkeypatch.setattr(analyze_module.CaptureReader, "feed", feed)
    analysis = analyze([str(path)])
    assert max(sizes) <= 256 and sum(sizes) == len(data)
    assert analysis.captures[0].damage == ()
    assert [f.protocol for f in analysis.flows] == ["ftp", "ftp"]


def test_truncated_gzip_is_damage_and_the_rest_is_read(tmp_path: Path) -> None:
    packed = gzip.compress((CAPTURES / "http_leaks.pcap").read_bytes())
    path = tmp_path / "cut.gz"
    path.write_bytes(packed[: len(packed) * 2 // 3])
    analysis = analyze([str(path)])
    reasons = [d.reason for d in analysis.captures[0].damage]
    assert "truncated gzip stream" in reasons
    assert analysis.summary.packets > 0 and analysis.flows


def test_truncated_capture_reports_damage_and_keeps_what_came_before(tmp_path: Path) -> None:
    data = (CAPTURES / "http_leaks.pcap").read_bytes()
    path = tmp_path / "cut.pcap"
    path.write_bytes(data[: len(data) - 10])
    analysis = analyze([str(path)])
    (damage,) = analysis.captures[0].damage
    assert damage.reason.startswith("truncated:") and damage.offset < len(data) - 10
    assert analysis.summary.packets == EXPECTED["http_leaks.pcap"]["packets"] - 1
    assert {f.secret.kind for f in analysis.secrets} == {
        "http-basic",
        "azure-sas",
        "aws-access-key",
    }
    verdict = evaluate_capture(PROFILE, analysis)
    incomplete = [f for f in verdict.findings if f.id == INCOMPLETE_ID]
    assert len(incomplete) == 1 and incomplete[0].severity == "high" and not verdict.passed
    report(analysis)


@pytest.mark.parametrize("size", [0, 3, 24, 4096, 100_000])
def test_random_bytes_are_damage_not_a_crash(tmp_path: Path, size: int) -> None:
    path = tmp_path / "random.bin"
    path.write_bytes(random.Random(size).randbytes(size))
    analysis = analyze([str(path)])
    capture = analysis.captures[0]
    assert capture.damage and capture.format == "unknown" and capture.packets == 0
    assert analysis.flows == () and analysis.summary.packets == 0
    if size == 0:
        assert capture.damage[0].reason == "empty capture"
    elif size < 4:
        assert capture.damage[0].reason.startswith("truncated:")
    else:
        assert "not a pcap or pcapng file" in capture.damage[0].reason
    doc = report(analysis)
    assert doc["summary"]["passed"] is False and doc["findings"][0]["id"] == INCOMPLETE_ID


def test_random_records_after_a_valid_header(tmp_path: Path) -> None:
    """A pcap header followed by random records: some frames may decode, most do not; every
    packet is accounted for somewhere."""
    rng = random.Random(7)
    frames = [(i, rng.randbytes(rng.randrange(0, 200))) for i in range(300)]
    frames += [(400 + i, tcp(C, S, 1, ACK, rng.randbytes(50))) for i in range(20)]
    path = write_pcap(tmp_path / "noise.pcap", frames)
    analysis = analyze([str(path)])
    s = analysis.summary
    assert s.packets == 320
    in_flows = sum(f.packets for f in analysis.flows)
    assert in_flows + s.ignored.total == 320 and in_flows >= 20
    report(analysis)


def test_ignored_packets_by_kind(tmp_path: Path) -> None:
    arp = bytes(12) + b"\x08\x06" + bytes(28)
    icmp = bytes(12) + b"\x08\x00" + bytes.fromhex("4500001c00010000400100000a0000010a000002")
    icmp += bytes(8)
    fragment = tcp(C, S, 1)[:20] + b"\x20\x00" + tcp(C, S, 1)[22:]  # MF flag set
    malformed = bytes(12) + b"\x08\x00" + b"\x45\x00"  # cut inside the IPv4 header
    frames = [(1, arp), (2, icmp), (3, fragment), (4, malformed), (5, udp(C, S, b"x"))]
    analysis = analyze([str(write_pcap(tmp_path / "mixed.pcap", frames))])
    ignored = analysis.summary.ignored
    assert (ignored.not_ip, ignored.not_tcp_udp, ignored.fragments, ignored.malformed) == (
        1,
        1,
        1,
        1,
    )
    assert analysis.summary.flows == 1


def test_credentials_split_one_byte_per_segment_reordered(tmp_path: Path) -> None:
    """FTP credentials sent one byte per segment, in reverse order, with retransmissions,
    through the whole pipeline (reader, decoder, reassembly, scan)."""
    login = b"USER carol\r\nPASS fake-split-pass\r\n"
    frames = [tcp(C, S, 999, SYN), tcp(S, C, 8999, SYN | ACK), tcp(C, S, 1000, ACK)]
    frames.append(tcp(S, C, 9000, ACK | PSH, b"220 ready\r\n"))
    pieces = [tcp(C, S, 1000 + i, ACK | PSH, login[i : i + 1]) for i in range(len(login))]
    frames += list(reversed(pieces)) + pieces[::5]
    frames.append(tcp(C, S, 1000 + len(login), FIN | ACK))
    path = write_pcap(tmp_path / "split.pcap", [(10 + i, f) for i, f in enumerate(frames)])
    analysis = analyze([str(path)])
    (flow,) = analysis.flows
    assert flow.protocol == "ftp" and flow.dport == 21
    (found,) = analysis.secrets
    assert found.secret.kind == "ftp-password" and found.secret.user == "carol"
    assert "fake-split-pass" not in dumps(report(analysis))


def test_repeated_secret_is_one_finding_with_a_count(tmp_path: Path) -> None:
    token = base64.b64encode(b"dave:fake-repeated-pass")
    request = b"GET / HTTP/1.1\r\nHost: a.test\r\nAuthorization: Basic " + token + b"\r\n\r\n"
    frames = []
    for n in range(3):
        frames += conversation(
            ("10.0.0.5", 50000 + n),
            ("10.0.0.6", 80),
            [(True, request)],
            start_us=1_000_000 * (n + 1),
        )
    analysis = analyze([str(write_pcap(tmp_path / "three.pcap", frames))])
    (found,) = analysis.secrets
    assert found.count == 3 and found.flow.sport == 50000
    verdict = evaluate_capture(PROFILE, analysis)
    creds = [f for f in verdict.findings if f.id == "PCAP-CLEARTEXT-CREDENTIALS"]
    assert len(creds) == 1 and "seen 3 times" in (creds[0].evidence or "")


def test_memory_stays_bounded_flows_are_drained(tmp_path: Path) -> None:
    """2,000 connections, each with an FTP login, through a table of at most 32 flows: the
    table never holds more, every flow is analysed as it leaves, nothing is lost."""
    frames = []
    for n in range(2000):
        login = [(False, b"220 hi\r\n"), (True, f"USER u{n}\r\nPASS fake-{n}-pass\r\n".encode())]
        client = (f"10.9.{n // 250}.{n % 250 + 1}", 40000 + n % 1000)
        frames += conversation(client, ("10.8.0.1", 21), login, start_us=n * 50, step_us=1)
    frames.sort(key=lambda item: item[0])
    path = write_pcap(tmp_path / "many.pcap", frames)
    sizes: list[int] = []
    analyzer = Analyzer(max_flows=32, on_flow=lambda _f, _s: sizes.append(len(analyzer.table)))
    analyzer.read(str(path))
    assert sizes and max(sizes) <= 32
    assert len(analyzer.table) <= 32
    analyzer.finish()
    analysis = analyzer.result()
    assert analysis.summary.flows == 2000 and len(analysis.secrets) == 2000
    assert {f.protocol for f in analysis.flows} == {"ftp"}


def test_closed_flows_leave_the_table_without_waiting_for_idle(tmp_path: Path) -> None:
    frames = []
    for n in range(50):  # one closed connection a second
        frames += conversation(
            ("10.0.0.1", 30000 + n), S, [(True, b"USER x\r\n")], start_us=n * 10**6
        )
    analyzer = Analyzer()
    analyzer.read(str(write_pcap(tmp_path / "closed.pcap", frames)))
    # Closed flows linger 5 s (plus the 1 s check step) of packet time, not the 300 s idle.
    assert len(analyzer.table) <= 7


def test_several_captures_share_one_table(tmp_path: Path) -> None:
    """A connection cut across two files (tcpdump -C) is one flow."""
    frames = conversation(
        C, S, [(False, b"220 hi\r\n"), (True, b"USER eve\r\n"), (True, b"PASS fake-two-files\r\n")]
    )
    first = write_pcap(tmp_path / "a.pcap", frames[:5])
    second = write_pcap(tmp_path / "b.pcap", frames[5:])
    analysis = analyze([str(first), str(second)])
    (flow,) = analysis.flows
    assert flow.packets == len(frames) and analysis.secrets[0].secret.user == "eve"


def test_interrupted_read_is_reported(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "a.pcap", conversation(C, S, [(True, b"USER x\r\n")]))
    analyzer = Analyzer()

    def stop(_n: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        analyzer.read(str(path), on_read=stop)
    analyzer.finish()
    analysis = analyzer.result()
    assert analysis.interrupted and analysis.captures[0].complete is False
    assert analysis.captures[0].damage == ()  # unread is not damaged
    verdict = evaluate_capture(PROFILE, analysis)
    assert any(f.id == INCOMPLETE_ID for f in verdict.findings)


def test_unreadable_paths(tmp_path: Path) -> None:
    present = write_pcap(tmp_path / "ok.pcap", [])
    locked = write_pcap(tmp_path / "locked.pcap", [])
    locked.chmod(0)
    problems = dict(
        unreadable([str(present), str(tmp_path / "missing.pcap"), str(tmp_path), str(locked)])
    )
    assert str(present) not in problems
    assert problems[str(tmp_path / "missing.pcap")] == "No such file or directory"
    assert problems[str(tmp_path)] == "is a directory"
    if os.geteuid() != 0:  # root reads anything
        assert problems[str(locked)] == "Permission denied"


def test_hostile_wire_values_are_cleaned(tmp_path: Path) -> None:
    """SNI, banners and Host values come off the wire: no terminal escapes or bidi overrides."""
    request = b"GET / HTTP/1.1\r\nHost: evil\x1b[31m\xe2\x80\xaeexample.test:8080\r\n\r\n"
    frames = conversation(C, ("10.0.0.2", 8080), [(True, request)])
    analysis = analyze([str(write_pcap(tmp_path / "esc.pcap", frames))])
    (flow,) = analysis.flows
    (host,) = flow.http_hosts
    assert host.startswith("evil[31m") and host.endswith("example.test")  # port dropped
    assert host.isprintable() and "\x1b" not in host and "\u202e" not in host


def test_pcapng_and_sll2_captures_decode() -> None:
    analysis = analyze([str(CAPTURES / "multi.pcapng"), str(CAPTURES / "any_sll2.pcap")])
    assert analysis.captures[0].format == "pcapng"
    assert analysis.captures[0].link_types == (1, 276)
    assert analysis.captures[1].link_types == (276,)


def test_udp_only_capture(tmp_path: Path) -> None:
    query = bytes.fromhex("123401000001000000000000") + b"\x07example\x04test\x00\x00\x01\x00\x01"
    path = write_pcap(
        tmp_path / "dns.pcap", [(1, udp(("10.0.0.1", 5353), ("10.0.0.2", 53), query))]
    )
    (flow,) = analyze([str(path)]).flows
    assert (flow.protocol, flow.encrypted, flow.transport) == ("dns", False, "udp")
    assert flow.handshake_seen


def test_pcap_bytes_helper_round_trip() -> None:
    assert pcap_bytes([])[:4] == b"\xd4\xc3\xb2\xa1"


LEAKS_BYTES = (CAPTURES / "http_leaks.pcap").read_bytes()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, len(LEAKS_BYTES) - 1), st.integers(0, 255)), max_size=12),
    st.integers(24, len(LEAKS_BYTES)),
    st.booleans(),
)
def test_mutated_capture_never_raises(flips: list[tuple[int, int]], cut: int, packed: bool) -> None:
    """Every byte is hostile: a real capture with random bytes changed and cut anywhere, gzip or
    not, is analysed without an exception and gives a valid report."""
    data = bytearray(LEAKS_BYTES[:cut])
    for at, value in flips:
        if at < len(data):
            data[at] = value
    raw = gzip.compress(bytes(data)) if packed else bytes(data)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mutated"
        path.write_bytes(raw)
        analysis = analyze([str(path)])
    s = analysis.summary
    assert s.packets == sum(f.packets for f in analysis.flows) + s.ignored.total
    report(analysis)
