"""Terminal report of ``probe pcap``: the share of bytes encrypted by protocol, the largest
flows, the findings, then a one-line verdict.

As in probe.report.table, everything from the capture (addresses, SNI, messages) goes through
rich ``Text``, never markup, and states carry a word as well as a colour (pipes, NO_COLOR).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Console, Group
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from probe.grading.pcap_verdict import CaptureFinding, CaptureVerdict
from probe.pcap.analyze import Analysis, FlowFacts

MAX_FLOW_ROWS = 20
MAX_FINDINGS = 50
_SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan"}


def _severity(severity: str) -> Text:
    return Text(severity.upper(), style=_SEVERITY_STYLE.get(severity, "dim"))


def _verdict(passed: bool) -> Text:
    return Text("PASS", style="bold green") if passed else Text("FAIL", style="bold red")


def render(console: Console, analysis: Analysis, verdict: CaptureVerdict, profile: str) -> None:
    s = analysis.summary
    console.print(Text(f"probe pcap: profile {profile}", style="bold"))
    if analysis.secrets_shown:  # --show-secrets: say so before anything else is read
        console.print(
            Text("secrets shown: --show-secrets prints raw credential values", style="bold red")
        )
    console.print(_headline(analysis))
    for capture in analysis.captures:
        for damage in capture.damage:
            console.print(
                Text.assemble(
                    ("damaged: ", "red"),
                    f"{capture.name} at offset {damage.offset}: ",
                    damage.reason,
                )
            )
    if s.flows:
        console.print()
        console.print(_protocol_table(analysis))
        console.print()
        console.print(_flow_table(analysis.flows, console.width))
    if verdict.findings:
        console.print()
        console.print(Text(f"Findings ({len(verdict.findings)})", style="bold"))
        for finding in verdict.findings[:MAX_FINDINGS]:
            console.print(_finding_block(finding))
        if len(verdict.findings) > MAX_FINDINGS:
            more = len(verdict.findings) - MAX_FINDINGS
            console.print(Text(f"  ... and {more} more findings (see --json)", style="dim"))
    console.print()
    console.print(_tally(analysis, verdict))


def _size(n: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _headline(analysis: Analysis) -> Text:
    s = analysis.summary
    text = Text(
        f"{s.captures} capture{'s' if s.captures != 1 else ''}, {s.packets} packets, "
        f"{s.flows} flow{'s' if s.flows != 1 else ''}, {_size(s.bytes)} of payload: "
    )
    text.append(f"{_percent(s.encrypted_bytes, s.bytes)} encrypted", style="bold")
    text.append(f", {_percent(s.cleartext_bytes, s.bytes)} cleartext")
    if s.unknown_bytes:
        text.append(f", {_percent(s.unknown_bytes, s.bytes)} not recognised")
    ignored = s.ignored
    if ignored.total:
        parts = [
            f"{n} {what}"
            for n, what in (
                (ignored.not_ip, "not IP"),
                (ignored.fragments, "IP fragments not reassembled"),
                (ignored.not_tcp_udp, "not TCP/UDP"),
                (ignored.malformed, "malformed"),
            )
            if n
        ]
        text.append(f"\n{ignored.total} packets not analysed: {', '.join(parts)}", style="dim")
    if s.fragments.datagrams:
        text.append(
            f"\n{s.fragments.datagrams} IP datagrams reassembled from {s.fragments.used} fragments",
            style="dim",
        )
    if analysis.interrupted:
        text.append("\ninterrupted: the report covers what was read", style="yellow")
    return text


def _encrypted(value: bool | None) -> Text:
    if value is True:
        return Text("yes", style="green")
    if value is False:
        return Text("NO", style="bold red")
    return Text("?", style="dim")


def _protocol_table(analysis: Analysis) -> Table:
    s = analysis.summary
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), show_edge=False)
    table.add_column("Protocol")
    table.add_column("Encrypted")
    for name in ("Flows", "Packets", "Bytes", "Share"):
        table.add_column(name, justify="right")
    for p in s.by_protocol:
        table.add_row(
            Text(p.protocol),
            _encrypted(p.encrypted),
            str(p.flows),
            str(p.packets),
            _size(p.bytes),
            _percent(p.bytes, s.bytes),
        )
    return table


def _endpoint(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _notes(flow: FlowFacts) -> Text:
    parts: list[str] = []
    if flow.tls_version:
        parts.append(flow.tls_version)
    if flow.tls_cipher_suite:
        parts.append(flow.tls_cipher_suite)
    if flow.sni:
        parts.append(f"SNI {flow.sni}")
    if flow.certificate is not None:
        parts.append(f"cert {flow.certificate.key_type} {flow.certificate.key_bits}")
    if flow.starttls is not None and flow.starttls.used:
        parts.append(f"after {flow.starttls.command}")
    if flow.http_hosts:
        parts.append(f"Host {flow.http_hosts[0]}")
    if not flow.handshake_seen:
        parts.append("mid-stream")
    return Text(", ".join(parts))


def _flow_table(flows: Sequence[FlowFacts], width: int) -> Group:
    largest = sorted(flows, key=lambda f: -f.bytes)[:MAX_FLOW_ROWS]
    table = Table(
        box=box.SIMPLE_HEAD,
        padding=(0, 1, 0, 0),
        show_edge=False,
        title="Largest flows",
        title_justify="left",
    )
    table.add_column("Client", overflow="fold")
    table.add_column("Server", overflow="fold")
    table.add_column("Proto")
    table.add_column("Encrypted")
    table.add_column("Packets", justify="right")
    table.add_column("Bytes", justify="right")
    if width >= 100:
        table.add_column("TLS / notes", overflow="fold")
    for f in largest:
        row = [
            Text(_endpoint(f.src, f.sport)),
            Text(_endpoint(f.dst, f.dport)),
            Text(f"{f.protocol}/{f.transport}"),
            _encrypted(f.encrypted),
            Text(str(f.packets)),
            Text(_size(f.bytes)),
        ]
        if width >= 100:
            row.append(_notes(f))
        table.add_row(*row)
    if len(flows) <= MAX_FLOW_ROWS:
        return Group(table)
    more = Text(f"... and {len(flows) - MAX_FLOW_ROWS} more flows (see --json)", style="dim")
    return Group(table, more)


def _finding_block(finding: CaptureFinding) -> Group:
    head = Text.assemble("  ", _severity(finding.severity), " ", finding.id)
    if finding.protocol:
        head.append(f" ({finding.protocol})", style="dim")
    body = Text(finding.message)
    if finding.evidence:
        body.append("\n" + finding.evidence, style="dim")
    return Group(head, Padding(body, (0, 0, 0, 4)))


def _tally(analysis: Analysis, verdict: CaptureVerdict) -> Text:
    text = Text.assemble(_verdict(verdict.passed), " ")
    counts: dict[str, int] = {}
    for finding in verdict.findings:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    if counts:
        text.append(", ".join(f"{n} {severity}" for severity, n in counts.items()))
    else:
        text.append("no findings")
    s = analysis.summary
    text.append(f"; {_percent(s.encrypted_bytes, s.bytes)} of the bytes encrypted")
    return text
