"""Terminal report: a summary table, then findings per target.

Everything a target or server supplied (names, messages, subjects) goes through rich `Text`,
never markup strings, so a "[" in a hostname cannot inject styles. Weak items carry a text
marker as well as a colour, so the output reads the same with colour off (pipes, NO_COLOR).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich import box
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from probe.grading.profile import Profile
from probe.grading.rules import severity_rank, suite_has
from probe.model import (
    TLS_VERSION_LABELS,
    CertificateFacts,
    Finding,
    GradeCap,
    IkeFacts,
    SmbFacts,
    SstpFacts,
    Status,
    TargetResult,
    TlsFacts,
)

_SHORT_VERSION = {
    "SSLv2": "SSL2",
    "SSLv3": "SSL3",
    "TLSv1.0": "1.0",
    "TLSv1.1": "1.1",
    "TLSv1.2": "1.2",
    "TLSv1.3": "1.3",
}
_WEAK_VERSIONS = frozenset({"SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1"})
_SEVERITY_STYLE = {
    "critical": "bold red",
    "high": "red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}
# Suite notes, worst first: (property in rules.SUITE_PROPERTIES, label shown).
_SUITE_NOTES = (
    ("null", "NULL"),
    ("export", "EXPORT"),
    ("anon", "anon"),
    ("rc4", "RC4"),
    ("des", "DES"),
    ("3des", "3DES"),
    ("no_fs", "no FS"),
    ("cbc", "CBC"),
)
_MAX_NOTES = 3
# Letter grades by colour (the letter itself is the marker without colour).
_GRADE_STYLE = {"A+": "green", "A": "green", "A-": "yellow", "B": "yellow"}
_NARROW = 70  # below this many columns, targets are listed as blocks, not a table


def render(console: Console, results: Sequence[TargetResult], profile_name: str) -> None:
    """Print a summary of every target, the findings of each target, and a one-line tally.

    From 70 columns up the summary is a table; narrower consoles get one block per target.
    """
    narrow = console.width < _NARROW
    rows = [_summary_row(r) for r in results]
    console.print(Text(f"probe: profile {profile_name}", style="bold"))
    if narrow:
        for row in rows:
            console.print(_stacked(row))
    else:
        mixed = any(r.smb or r.ike or r.sstp for r in results)
        console.print(_summary_table(rows, console.width, mixed))
    if any(row.marked for row in rows):
        console.print(Text("versions: ! weak (deprecated), ? not measured", style="dim"))
    for result in results:
        if result.findings or result.error or result.incomplete or _grade_lowered(result):
            console.print()
            console.print(_details(result, narrow))
    console.print()
    console.print(_tally(results))


@dataclass(frozen=True)
class _Row:
    target: Text
    scan: Text
    versions: Text
    marked: bool  # versions carry a "!" or "?" marker that the legend explains
    suites: Text
    certificate: Text
    verdict: Text


def _summary_row(result: TargetResult) -> _Row:
    if result.smb is not None:
        return _smb_row(result, result.smb)
    if result.ike is not None:
        return _ike_row(result, result.ike)
    if result.sstp is not None:
        return _sstp_row(result, result.sstp)
    versions, marked = _versions_cell(result.tls)
    if result.starttls is not None and not result.starttls.offered:
        versions = Text("plaintext only (no STARTTLS)", style="bold red")
    return _Row(
        target=Text(result.target.given),
        scan=_scan_cell(result),
        versions=versions,
        marked=marked,
        suites=_suites_cell(result.tls),
        certificate=_certificate_cell(result.tls),
        verdict=_verdict(result.passed, result.grade),
    )


def _summary_table(rows: Sequence[_Row], width: int, has_smb: bool = False) -> Table:
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), show_edge=False)
    # Keep target names on one line when they fit in a third of the width; other columns wrap.
    longest = max((len(row.target) for row in rows), default=0)
    table.add_column("Target", overflow="fold", no_wrap=longest <= width // 3)
    table.add_column("Scan", overflow="fold")
    # SMB, IKE and SSTP rows use the same columns for what stands in for versions, suites
    # and certificates (dialects, ciphers, enforcement; IKE versions, transforms, notes).
    table.add_column("Versions / protocol" if has_smb else "Versions", overflow="fold")
    table.add_column("Suites / ciphers" if has_smb else "Suites", overflow="fold")
    table.add_column("Cert / notes" if has_smb else "Cert", overflow="fold")
    table.add_column("Result", no_wrap=True)
    for row in rows:
        table.add_row(row.target, row.scan, row.versions, row.suites, row.certificate, row.verdict)
    return table


def _stacked(row: _Row) -> Group:
    body = Text.assemble("scan ", row.scan, "; versions ", row.versions, "; suites ", row.suites)
    body.append("; cert ")
    body.append_text(Text(", ").join(row.certificate.split("\n")))
    return Group(Text.assemble(row.target, "  ", row.verdict), Padding(body, (0, 0, 0, 2)))


def render_profile(console: Console, profile: Profile) -> None:
    """Print one profile: header, then each requirement with its rule, params and rationale."""
    header = Text()
    header.append(profile.name, style="bold")
    header.append(f"  version {profile.version}\n")
    header.append(profile.description + "\n")
    header.append(f"fails on: {profile.fail_on} or worse\n", style="dim")
    header.append(f"source: {profile.source}", style="dim")
    console.print(header)
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), show_edge=False)
    table.add_column("ID", overflow="fold")
    table.add_column("Severity", no_wrap=True)
    table.add_column("Requirement", overflow="fold", ratio=1)
    for req in profile.requirements:
        cell = Text()
        cell.append(req.rule, style="bold")
        # Short params inline, rule(min=2048); long lists below, one item per line.
        long = {k: v for k, v in req.params.items() if isinstance(v, tuple) and len(v) > 3}
        inline = [f"{k}={_param_text(v)}" for k, v in req.params.items() if k not in long]
        if inline:
            cell.append(f"({', '.join(inline)})")
        if req.applies_to != "tls":
            cell.append(f" (applies to {req.applies_to})")
        for name, items in long.items():
            cell.append(f"\n{name}:")
            for item in items:
                cell.append(f"\n  {item}")
        cell.append("\n" + req.rationale)
        cell.append("\n" + req.reference, style="dim")
        table.add_row(Text(req.id), _severity(req.severity), cell)
    console.print(table)


def render_profile_list(console: Console, profiles: Sequence[Profile]) -> None:
    """Print one row per profile: name, version, number of requirements, description."""
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), show_edge=False)
    table.add_column("Profile", no_wrap=True)
    table.add_column("Version", no_wrap=True)
    table.add_column("Reqs", justify="right", no_wrap=True)
    table.add_column("Description", overflow="fold", ratio=1)
    for profile in profiles:
        table.add_row(
            Text(profile.name, style="bold"),
            Text(profile.version),
            str(len(profile.requirements)),
            Text(profile.description),
        )
    console.print(table)


def _param_text(value: object) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _verdict(passed: bool, grade: str | None = None) -> Text:
    text = Text("PASS", style="bold green") if passed else Text("FAIL", style="bold red")
    if grade is not None:
        text.append(" (")
        text.append(grade, style=_GRADE_STYLE.get(grade, "red"))
        text.append(")")
    return text


def _grade_lowered(result: TargetResult) -> bool:
    """A grade under A has caps worth showing even when the profile found nothing."""
    return result.grade is not None and result.grade not in ("A+", "A")


def _severity(severity: str) -> Text:
    return Text(severity.upper(), style=_SEVERITY_STYLE.get(severity, ""))


def _smb_row(result: TargetResult, facts: SmbFacts) -> _Row:
    """SMB in the same columns: dialects for versions, ciphers for suites, enforcement for the
    certificate column (SMB has none)."""
    dialects = Text()
    if facts.smb1:
        dialects.append("SMB1! ", style="red")
    dialects.append(" ".join(facts.dialects) or "-")
    ciphers = Text(
        ", ".join(facts.ciphers) or ("3.0 CCM" if facts.encryption_capability else "none")
    )
    enforcement = Text()
    for label, value in (("encrypt", facts.encryption_required), ("sign", facts.signing_required)):
        word = {True: "required", False: "optional", None: "?"}[value]
        enforcement.append(f"{label} {word}\n", style="" if value else "yellow")
    enforcement.rstrip()
    return _Row(
        target=Text(result.target.given),
        scan=_scan_cell(result),
        versions=dialects,
        marked=bool(facts.smb1),
        suites=ciphers,
        certificate=enforcement,
        verdict=_verdict(result.passed),
    )


def _ike_row(result: TargetResult, facts: IkeFacts) -> _Row:
    """IKE: versions answered, the accepted transforms (weak ones flagged), notes."""
    versions = Text()
    if facts.ikev2 and facts.ikev2_accepted.encryption:
        versions.append("IKEv2 ", style="green")
    elif facts.ikev2:
        versions.append("IKEv2:none ", style="dim")  # answered, accepted nothing offered
    if facts.ikev1:
        versions.append("IKEv1! ", style="red")
    if facts.aggressive_mode_psk:
        versions.append("AM-PSK! ", style="bold red")
    versions.rstrip()
    accepted = facts.accepted
    transforms = Text()
    for kind, names in (("enc", accepted.encryption), ("dh", accepted.dh_groups)):
        if names:
            transforms.append(f"{kind} " + ", ".join(names[:4]))
            transforms.append(" ...\n" if len(names) > 4 else "\n")
    transforms.rstrip()
    notes = Text()
    if facts.nat_t:
        notes.append("NAT-T\n")
    if facts.certificate_requests:
        notes.append("cert auth\n")
    if facts.vendors:
        notes.append(", ".join(facts.vendors[:2]) + "\n", style="dim")
    notes.rstrip()
    return _Row(
        target=Text(result.target.given),
        scan=_scan_cell(result),
        versions=versions or Text("-", style="dim"),
        marked=False,
        suites=transforms or Text("none", style="dim"),
        certificate=notes or Text("-", style="dim"),
        verdict=_verdict(result.passed),
    )


def _sstp_row(result: TargetResult, facts: SstpFacts) -> _Row:
    """SSTP: where it answers (TLS or plain), the TLS versions, binding hashes, PPP auth."""
    tls_versions, marked = _versions_cell(result.tls)
    versions = Text()
    if facts.over_tls:
        versions.append("SSTP/TLS ", style="green")
    if facts.plain_http:
        versions.append("SSTP/plain! ", style="bold red")
    versions.append_text(tls_versions)
    binding = Text("binding " + (", ".join(facts.hash_protocols) or "-"))
    if facts.auth_protocol:
        binding.append(f"\nPPP {facts.auth_protocol}")
    return _Row(
        target=Text(result.target.given),
        scan=_scan_cell(result),
        versions=versions,
        marked=marked,
        suites=binding,
        certificate=_certificate_cell(result.tls),
        verdict=_verdict(result.passed, result.grade),
    )


def _scan_cell(result: TargetResult) -> Text:
    if result.status is Status.ERROR:
        reason = result.error.reason.value if result.error else "error"
        return Text(reason, style="red")
    if result.incomplete:
        return Text("partial", style="yellow")
    return Text("ok")


def _versions_cell(facts: TlsFacts | None) -> tuple[Text, bool]:
    """Accepted versions in short form; weak ones get "!", unmeasured ones "?"."""
    if facts is None:
        return Text("-", style="dim"), False
    cell = Text()
    marked = False
    for label in TLS_VERSION_LABELS:
        short = _SHORT_VERSION[label]
        if facts.versions.get(label):
            weak = label in _WEAK_VERSIONS
            marked = marked or weak
            cell.append(short + ("!" if weak else ""), style="bold red" if weak else "green")
        elif label in facts.incomplete:
            marked = True
            cell.append(short + "?", style="yellow")
        else:
            continue
        cell.append(" ")
    cell.rstrip()
    if not cell:
        return Text("none", style="dim"), marked
    return cell, marked


def _suites_cell(facts: TlsFacts | None) -> Text:
    if facts is None:
        return Text("-", style="dim")
    names = list(dict.fromkeys(n for suites in facts.cipher_suites.values() for n in suites))
    if not names:
        return Text("0", style="dim")
    notes = [label for prop, label in _SUITE_NOTES if any(suite_has(n, prop) for n in names)]
    cell = Text(str(len(names)))
    if notes:
        shown = ", ".join(notes[:_MAX_NOTES]) + (", ..." if len(notes) > _MAX_NOTES else "")
        cell.append(f" ({shown})", style="yellow")
    return cell


def _certificate_cell(facts: TlsFacts | None) -> Text:
    if facts is None or not facts.certificates:
        return Text("-", style="dim")
    cell = Text()
    for i, cert in enumerate(facts.certificates):
        if i:
            cell.append("\n")
        # One item per line: predictable in narrow terminals, where a column wraps anyway.
        cell.append(f"{cert.key_type} {cert.key_bits}\n")
        cell.append_text(_expiry(cert))
        if not cert.trusted:
            cell.append("\nuntrusted", style="red")
        if cert.name_matches is False:
            cell.append("\nwrong name", style="red")
    return cell


def _expiry(cert: CertificateFacts) -> Text:
    days = cert.days_to_expiry
    if days < 0:
        return Text("expired", style="bold red")
    return Text(f"{days}d left", style="yellow" if days < 30 else "")


def _details(result: TargetResult, narrow: bool) -> Group:
    head = Text()
    head.append(result.target.given, style="bold")
    head.append("  ")
    head.append_text(_verdict(result.passed, result.grade))
    if result.findings:
        n = len(result.findings)
        head.append(f"  {n} finding{'s' if n != 1 else ''}")
    parts: list[RenderableType] = [head]
    if result.error is not None:
        line = Text("  error ", style="red")
        line.append(f"({result.error.reason.value}): ")
        line.append(result.error.message)
        parts.append(line)
    for label, reason in result.incomplete.items():
        parts.append(Text(f"  not measured: {label}: {reason}", style="yellow"))
    ordered = sorted(result.findings, key=lambda f: -severity_rank(f.severity))
    caps = _shown_caps(result)
    if narrow:
        parts.extend(_finding_block(f) for f in ordered)
        parts.extend(_cap_block(c) for c in caps)
    elif ordered or caps:
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold", ratio=1)
        for finding in ordered:
            grid.add_row(
                Text.assemble(" ", _severity(finding.severity)),
                Text(finding.id),
                _finding_text(finding),
            )
        for cap in caps:
            grid.add_row(Text.assemble(" ", _cap_label(cap)), Text(cap.rule), _cap_text(cap))
        parts.append(grid)
    return Group(*parts)


def _shown_caps(result: TargetResult) -> tuple[GradeCap, ...]:
    """The caps under A; the A cap (no HSTS measured, so no A+) only when it set the grade."""
    return tuple(c for c in result.grade_caps if c.cap != "A" or result.grade == "A")


def _cap_label(cap: GradeCap) -> Text:
    """The best grade a grading rule allows, as "CAP B" (docs/grading.md)."""
    return Text(f"CAP {cap.cap}", style=_GRADE_STYLE.get(cap.cap, "red"))


def _cap_text(cap: GradeCap) -> Text:
    text = Text(cap.message)
    if cap.evidence:
        text.append("\n" + cap.evidence, style="dim")
    return text


def _cap_block(cap: GradeCap) -> Group:
    head = Text.assemble("  ", _cap_label(cap), " ", cap.rule)
    return Group(head, Padding(_cap_text(cap), (0, 0, 0, 4)))


def _finding_text(finding: Finding) -> Text:
    text = Text(finding.message)
    if finding.evidence:
        text.append("\n" + finding.evidence, style="dim")
    return text


def _finding_block(finding: Finding) -> Group:
    head = Text.assemble("  ", _severity(finding.severity), " ", finding.id)
    return Group(head, Padding(_finding_text(finding), (0, 0, 0, 4)))


def _tally(results: Sequence[TargetResult]) -> Text:
    errors = sum(1 for r in results if r.status is Status.ERROR)
    passed = sum(1 for r in results if r.passed)
    failed = len(results) - passed - errors
    text = Text(f"{len(results)} target{'s' if len(results) != 1 else ''}: ")
    text.append(f"{passed} passed", style="green" if passed else "")
    text.append(", ")
    text.append(f"{failed} failed", style="red" if failed else "")
    text.append(", ")
    text.append(f"{errors} not scanned", style="red" if errors else "")
    return text
