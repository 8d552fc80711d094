"""JSON report of ``probe pcap``: a public, versioned contract (docs/pcap.md,
docs/pcap-output.schema.json).

Same rules as the scan report (probe.report.json_doc): field names and types only change with
SCHEMA_VERSION, keys are only added within a major version, key order is stable. Every value
that came off the wire was cleaned by the analysis, and secrets appear only as the redacted
fingerprints of probe.pcap.redact, unless the user asked for ``--show-secrets``: then the
top-level ``secrets_shown`` is true and findings' evidence carries the raw values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from probe.grading.pcap_verdict import CaptureFinding, CaptureVerdict
from probe.pcap.analyze import Analysis, CaptureInfo, FlowFacts, FlowRef, Summary

SCHEMA_VERSION = "1.0"

JsonObject = dict[str, Any]


def document(profile_name: str, analysis: Analysis, verdict: CaptureVerdict) -> JsonObject:
    """The whole report: schema_version, profile, summary, flows, findings, captures."""
    return {
        key: list(value) if key == "flows" else value
        for key, value in _items(profile_name, analysis, verdict)
    }


def _items(profile_name: str, analysis: Analysis, verdict: CaptureVerdict) -> list[tuple[str, Any]]:
    """The document's keys in order; flows as a generator (see iter_dumps)."""
    return [
        ("schema_version", SCHEMA_VERSION),
        ("profile", profile_name),
        ("secrets_shown", analysis.secrets_shown),
        ("summary", summary_to_dict(analysis, verdict)),
        ("flows", (flow_to_dict(f) for f in analysis.flows)),
        ("findings", [finding_to_dict(f) for f in verdict.findings]),
        ("captures", [capture_to_dict(c) for c in analysis.captures]),
    ]


def json_lines(profile_name: str, analysis: Analysis, verdict: CaptureVerdict) -> Iterator[str]:
    """The JSONL stream after the flows (see :func:`flow_line`): one line per finding, then
    one summary line: the document without its flows and findings."""
    for finding in verdict.findings:
        yield _line({"type": "finding", **finding_to_dict(finding)})
    yield _line(
        {
            "type": "summary",
            "schema_version": SCHEMA_VERSION,
            "profile": profile_name,
            "secrets_shown": analysis.secrets_shown,
            "summary": summary_to_dict(analysis, verdict),
            "captures": [capture_to_dict(c) for c in analysis.captures],
        }
    )


def flow_line(flow: FlowFacts) -> str:
    """One flow as a JSONL line: ``{"type": "flow", ...}`` and the keys of a ``flows`` entry."""
    return _line({"type": "flow", **flow_to_dict(flow)})


def dumps(doc: JsonObject) -> str:
    """The document as JSON text (UTF-8 safe, key order kept), ending in a newline: indented,
    except that each flow is one compact line. A capture can hold a million flows, and
    Python's C encoder only serves unindented output (indenting them all takes 10 times as
    long); one flow per line also reads and greps well."""
    return "".join(_text(doc.items()))


def iter_dumps(profile_name: str, analysis: Analysis, verdict: CaptureVerdict) -> Iterator[str]:
    """``dumps(document(...))`` in pieces, building one flow's dict at a time: writing the
    report of a large capture does not hold it all in memory a second time."""
    return _text(_items(profile_name, analysis, verdict))


def _text(items: Iterable[tuple[str, Any]]) -> Iterator[str]:
    separator = "{\n"
    for key, value in items:
        yield f"{separator}  {json.dumps(key)}: "
        separator = ",\n"
        if key == "flows":
            yield from _flow_lines(value)
        else:
            yield json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n  ")
    yield "\n}\n"


def _flow_lines(flows: Iterable[JsonObject]) -> Iterator[str]:
    opening = "[\n    "
    for flow in flows:
        yield opening + _line(flow)
        opening = ",\n    "
    yield "[]" if opening.startswith("[") else "\n  ]"


def _line(obj: JsonObject) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _time(ns: int | None) -> str | None:
    """ISO 8601 UTC with microseconds and a Z suffix (captures keep µs or ns)."""
    if ns is None:
        return None
    seconds, rest = divmod(ns, 10**9)  # integer arithmetic: a float would lose microseconds
    moment = datetime.fromtimestamp(seconds, tz=UTC) + timedelta(microseconds=rest // 1000)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def summary_to_dict(analysis: Analysis, verdict: CaptureVerdict) -> JsonObject:
    s: Summary = analysis.summary
    return {
        "packets": s.packets,
        "flows": s.flows,
        "bytes": s.bytes,
        "encrypted_bytes": s.encrypted_bytes,
        "cleartext_bytes": s.cleartext_bytes,
        "unknown_bytes": s.unknown_bytes,
        "encrypted_share": _share(s.encrypted_bytes, s.bytes),
        "by_protocol": {
            p.protocol: {
                "encrypted": p.encrypted,
                "flows": p.flows,
                "packets": p.packets,
                "bytes": p.bytes,
                "share": _share(p.bytes, s.bytes),
            }
            for p in s.by_protocol
        },
        "ignored": {
            "not_ip": s.ignored.not_ip,
            "fragments": s.ignored.fragments,
            "not_tcp_udp": s.ignored.not_tcp_udp,
            "malformed": s.ignored.malformed,
        },
        "fragments": {
            "packets": s.fragments.packets,
            "datagrams": s.fragments.datagrams,
            "used": s.fragments.used,
            "duplicates": s.fragments.duplicates,
            "dropped": s.fragments.dropped,
            "incomplete": s.fragments.incomplete,
            "overlapping_datagrams": s.fragments.overlaps,
        },
        "first_seen": _time(s.first_ns),
        "last_seen": _time(s.last_ns),
        "captures": s.captures,
        "damaged_captures": s.damaged_captures,
        "secrets": s.secrets,
        "secrets_dropped": s.secrets_dropped,
        "findings": len(verdict.findings),
        "passed": verdict.passed,
        "interrupted": analysis.interrupted,
    }


def flow_to_dict(flow: FlowFacts) -> JsonObject:
    return {
        "src": flow.src,
        "sport": flow.sport,
        "dst": flow.dst,
        "dport": flow.dport,
        "transport": flow.transport,
        "protocol": flow.protocol,
        "encrypted": flow.encrypted,
        "packets": flow.packets,
        "packets_to_server": flow.packets_to_server,
        "packets_to_client": flow.packets_to_client,
        "bytes_to_server": flow.bytes_to_server,
        "bytes_to_client": flow.bytes_to_client,
        "first_seen": _time(flow.first_ns),
        "last_seen": _time(flow.last_ns),
        "handshake_seen": flow.handshake_seen,
        "closed": flow.closed,
        "gaps": flow.gaps,
        "tls": _tls(flow),
        "starttls": _starttls(flow),
        "http_hosts": list(flow.http_hosts),
        "detail": dict(flow.detail),
        "certificate": _certificate(flow),
    }


def _certificate(flow: FlowFacts) -> JsonObject | None:
    cert = flow.certificate
    if cert is None:
        return None
    return {
        "key_type": cert.key_type,
        "key_bits": cert.key_bits,
        "curve": cert.curve,
        "signature_algorithm": cert.signature_algorithm,
        "signature_hash": cert.signature_hash,
        "subject": cert.subject,
        "issuer": cert.issuer,
        "san": list(cert.san),
        "san_count": cert.san_count,
        "self_signed": cert.self_signed,
        "not_after": cert.not_after,
        "expired": cert.expired,
        "sha256": cert.sha256,
        "chain_length": cert.chain_length,
    }


def _tls(flow: FlowFacts) -> JsonObject | None:
    if flow.protocol != "tls":
        return None
    return {
        "version": flow.tls_version,
        "cipher_suite": flow.tls_cipher_suite,
        "sni": flow.sni,
        "ja3": flow.ja3,
        "ja3s": flow.ja3s,
        "ja4": flow.ja4,
    }


def _starttls(flow: FlowFacts) -> JsonObject | None:
    up = flow.starttls
    if up is None:
        return None
    return {
        "protocol": up.protocol,
        "offered": up.offered,
        "requested": up.requested,
        "command": up.command,
        "accepted": up.accepted,
        "used": up.used,
        "masked": up.masked,
        "login_in_clear": up.login_in_clear,
    }


def _flow_ref(ref: FlowRef | None) -> JsonObject | None:
    if ref is None:
        return None
    return {"src": ref.src, "sport": ref.sport, "dst": ref.dst, "dport": ref.dport}


def finding_to_dict(finding: CaptureFinding) -> JsonObject:
    return {
        "id": finding.id,
        "severity": finding.severity,
        "protocol": finding.protocol,
        "flow": _flow_ref(finding.flow),
        "message": finding.message,
        "evidence": finding.evidence,
        "rationale": finding.rationale,
        "reference": finding.reference,
    }


def capture_to_dict(capture: CaptureInfo) -> JsonObject:
    return {
        "name": capture.name,
        "format": capture.format,
        "compression": capture.compression,
        "size": capture.size,
        "packets": capture.packets,
        "link_types": list(capture.link_types),
        "damage": [{"offset": d.offset, "reason": d.reason} for d in capture.damage],
        "complete": capture.complete,
    }
