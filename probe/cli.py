"""Command line: ``probe scan``, ``probe vpn``, ``probe pcap``, ``probe demo``, ``probe profiles``.

Exit codes: 0 every target scanned and passing the profile; 1 some target failed the profile
or could not be scanned; 2 usage or configuration error (bad arguments, bad profile, bad
target lines: the valid targets are still scanned and reported); 130 interrupted by Ctrl-C
(what finished is written; the rest is reported as cancelled).

``probe pcap`` follows the same convention: 1 when a finding reaches the profile's ``fail_on``
(a damaged capture counts, as a high PROBE-INCOMPLETE finding), 2 for a missing or unreadable
capture (decided before reading starts), 130 on Ctrl-C with what was read reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from probe.grading.profile import Profile
    from probe.model import Target, TargetResult

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
SMB_PASSWORD_ENV = "PROBE_SMB_PASSWORD"
DEFAULT_PROFILE = "azure-transit"

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Measure whether data in transit is really encrypted.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
profiles_app = typer.Typer(no_args_is_help=True, help="List and show grading profiles.")
app.add_typer(profiles_app, name="profiles")


def _stderr() -> Console:
    from rich.console import Console

    # soft_wrap: never fold a long path or message, so error lines stay greppable.
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _usage_error(message: str) -> typer.Exit:
    _stderr().print(f"[bold red]error:[/] {message}", markup=True)
    return typer.Exit(EXIT_USAGE)


def _load_profile(name: str) -> Profile:
    from probe.grading.profile import ProfileError, load_profile

    try:
        return load_profile(name)
    except ProfileError as exc:
        raise _usage_error(str(exc)) from None


def _target_lines(targets: list[str], files: list[str]) -> Iterator[tuple[str, str]]:
    from probe.targets import iter_lines

    for index, text in enumerate(targets, start=1):
        yield f"argument {index}", text
    for name in files:
        if name == "-":
            yield from iter_lines(sys.stdin, "stdin")
            continue
        try:
            with open(name, encoding="utf-8", errors="replace") as handle:
                yield from iter_lines(handle, name)
        except OSError as exc:
            raise _usage_error(f"cannot read target file {name}: {exc.strerror}") from None


class _Outputs:
    """Where results go: the JSONL stream as each target finishes, the rest at the end.

    Files are opened before the scan starts, so an unwritable path is a usage error up front,
    not a traceback after every target was scanned.
    """

    def __init__(self, stack: ExitStack, json_path: str | None, jsonl_path: str | None) -> None:
        self.json_file: IO[str] | None = self._open(stack, json_path)
        self.jsonl: IO[str] | None = self._open(stack, jsonl_path)
        self.stdout_taken = "-" in (json_path, jsonl_path)
        self.write_error: str | None = None
        self.interrupted = False

    @staticmethod
    def _open(stack: ExitStack, path: str | None) -> IO[str] | None:
        if path is None:
            return None
        if path == "-":
            return sys.stdout
        return stack.enter_context(open(path, "w", encoding="utf-8"))

    def stream(self, result: TargetResult) -> None:
        if self.jsonl is None:
            return
        from probe.report.json_doc import json_line

        try:
            self.jsonl.write(json_line(result) + "\n")
            self.jsonl.flush()
        except OSError as exc:
            self._failed(self.jsonl, exc)
            self.jsonl = None  # keep scanning: the table and --json still get every result

    def finish(self, profile: str, results: list[TargetResult]) -> None:
        if self.json_file is None:
            return
        from probe.report.json_doc import document

        try:
            self.json_file.write(json.dumps(document(profile, results), indent=2) + "\n")
            self.json_file.flush()
        except OSError as exc:
            self._failed(self.json_file, exc)

    def _failed(self, handle: IO[str], exc: OSError) -> None:
        if handle is sys.stdout:
            # The reader went away (`| head`): silence stdout so the exit flush cannot fail.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            if isinstance(exc, BrokenPipeError):
                return
        self.write_error = f"cannot write output: {exc.strerror or exc}"
        _stderr().print(f"[bold red]error:[/] {self.write_error}", markup=True)


def _run_scan(
    targets: list[Target],
    profile: Profile,
    options_kwargs: dict[str, object],
    outputs: _Outputs,
    *,
    progress: bool,
) -> list[TargetResult]:
    """Scan, grade and stream; returns what finished even when the user presses Ctrl-C."""
    from probe.checks.context import ScanOptions, utc_now
    from probe.engine import scan
    from probe.grading.rules import evaluate

    options = ScanOptions(**options_kwargs)  # type: ignore[arg-type]
    finished: list[TargetResult] = []
    bar = _progress_bar(len(targets)) if progress else None

    def on_result(result: TargetResult) -> None:
        graded = evaluate(profile, result, now=utc_now())
        finished.append(graded)
        outputs.stream(graded)
        if bar is not None:
            bar[0].advance(bar[1])

    try:
        if bar is not None:
            bar[0].start()
        asyncio.run(scan(targets, options, on_result))
    except KeyboardInterrupt:
        _stderr().print(f"interrupted: {len(finished)} of {len(targets)} targets finished")
        outputs.interrupted = True
        # Nothing is lost silently: every target that did not finish is reported as cancelled.
        done = {id(r.target) for r in finished}
        for target in targets:
            if id(target) not in done:
                cancelled = _cancelled(target)
                finished.append(cancelled)
                outputs.stream(cancelled)
    finally:
        if bar is not None:
            bar[0].stop()
    return finished


def _cancelled(target: Target) -> TargetResult:
    from probe.checks.context import error_result
    from probe.model import ErrorReason

    message = "the scan was interrupted before this target finished"
    return error_result(target, ErrorReason.CANCELLED, message)


def _progress_bar(total: int) -> tuple[Progress, TaskID] | None:
    if total < 2 or not sys.stderr.isatty():
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_stderr(),
        transient=True,
    )
    task = bar.add_task("scan", total=total)
    return bar, task


def _report(
    profile: Profile, results: list[TargetResult], outputs: _Outputs, order: list[Target]
) -> None:
    rank = {id(t): i for i, t in enumerate(order)}
    results.sort(key=lambda r: rank.get(id(r.target), len(rank)))
    outputs.finish(profile.name, results)
    if not outputs.stdout_taken:
        from rich.console import Console

        from probe.report.table import render

        render(Console(highlight=False), results, profile.name)


def _exit_code(results: list[TargetResult], outputs: _Outputs, bad_lines: int) -> int:
    if outputs.interrupted:
        return EXIT_INTERRUPTED
    if bad_lines or outputs.write_error:
        return EXIT_USAGE
    if not all(r.passed for r in results):
        return EXIT_FAIL
    return EXIT_OK


TimeoutOpt = Annotated[
    float, typer.Option("--timeout", min=0.1, help="Seconds for each connect and each answer.")
]
ConcurrencyOpt = Annotated[
    int, typer.Option("--concurrency", min=1, help="Connections open at once, in all.")
]
PerHostOpt = Annotated[
    int,
    typer.Option(
        "--per-host", min=1, help="Connections open at once to one endpoint (address and port)."
    ),
]
JsonOpt = Annotated[
    str | None, typer.Option("--json", metavar="FILE|-", help="Write one JSON document.")
]
JsonlOpt = Annotated[
    str | None, typer.Option("--jsonl", metavar="FILE|-", help="Stream one JSON object per target.")
]
ProfileOpt = Annotated[
    str, typer.Option("--profile", "-p", help="Built-in profile name or a .toml file.")
]
NoGroupsOpt = Annotated[
    bool,
    typer.Option(
        "--no-groups",
        help="Skip the TLS key-exchange group enumeration (one connection per accepted group"
        " and version, plus one).",
    ),
]
CaFileOpt = Annotated[
    str | None,
    typer.Option("--ca-file", help="Trust this CA bundle instead of the system store."),
]
IkeIdOpt = Annotated[
    str,
    typer.Option("--ike-id", help="Identity (user FQDN) an IKEv1 Aggressive Mode offer carries."),
]
IkeHalfOpenOpt = Annotated[
    int,
    typer.Option(
        "--ike-half-open",
        min=1,
        help="Accepted IKE offers (each a half-open SA on the responder) allowed per window.",
    ),
]
IkeWindowOpt = Annotated[
    float,
    typer.Option(
        "--ike-half-open-seconds",
        min=0.0,
        help="How long a responder keeps a half-open SA (strongSwan: 30 s).",
    ),
]


@app.command("scan")
def scan_command(
    targets: Annotated[
        list[str] | None,
        typer.Argument(help="host, host:port, \\[v6]:port, tls://host, smb://host, CIDR"),
    ] = None,
    file: Annotated[
        list[str] | None,
        typer.Option("--file", "-f", help="Read targets from FILE ('-' for stdin)."),
    ] = None,
    profile_name: ProfileOpt = DEFAULT_PROFILE,
    json_out: JsonOpt = None,
    jsonl_out: JsonlOpt = None,
    timeout: TimeoutOpt = 5.0,
    concurrency: ConcurrencyOpt = 64,
    per_host: PerHostOpt = 5,
    rate: Annotated[
        float | None, typer.Option("--rate", min=0.01, help="New connections per second, in all.")
    ] = None,
    retries: Annotated[
        int, typer.Option("--retries", min=0, max=5, help="Retries after a reset.")
    ] = 2,
    ca_file: CaFileOpt = None,
    no_groups: NoGroupsOpt = False,
    deep: Annotated[
        bool,
        typer.Option(
            "--deep",
            help="TLS: also run sslyze's Heartbleed, CCS injection, ROBOT, renegotiation and"
            " fallback SCSV checks (slower; one connection at a time per host).",
        ),
    ] = False,
    http_port: Annotated[
        int,
        typer.Option(
            "--http-port",
            min=0,
            max=65535,
            help="Plain-HTTP port checked for https:// targets and hosts on 443 (0: skip).",
        ),
    ] = 80,
    max_cidr: Annotated[
        int, typer.Option("--max-cidr", min=1, help="Largest CIDR block accepted.")
    ] = 65536,
    no_progress: Annotated[
        bool, typer.Option("--no-progress", help="Never show a progress bar.")
    ] = False,
    smb_user: Annotated[
        str | None, typer.Option("--smb-user", help="SMB user for the authenticated probe.")
    ] = None,
    smb_password: Annotated[
        str | None,
        typer.Option(
            "--smb-password",
            envvar=SMB_PASSWORD_ENV,
            show_envvar=True,
            help="SMB password (prefer the environment variable: arguments show in ps).",
        ),
    ] = None,
    smb_domain: Annotated[str, typer.Option("--smb-domain", help="SMB domain or workgroup.")] = "",
    smb_share: Annotated[
        str | None, typer.Option("--smb-share", help="Share whose encryption to check.")
    ] = None,
    ike_id: IkeIdOpt = "probe@probe.invalid",
    ike_half_open: IkeHalfOpenOpt = 4,
    ike_half_open_seconds: IkeWindowOpt = 30.0,
) -> None:
    """Scan endpoints and grade them against a profile."""
    from probe.targets import collect_targets

    profile = _load_profile(profile_name)
    if smb_user is None and (smb_share is not None or smb_domain):
        raise _usage_error("--smb-share and --smb-domain need --smb-user")
    if json_out == "-" and jsonl_out == "-":
        raise _usage_error("--json - and --jsonl - cannot both write to stdout")
    if ca_file is not None and not Path(ca_file).is_file():
        raise _usage_error(f"--ca-file {ca_file}: no such file")
    parsed, bad = collect_targets(_target_lines(targets or [], file or []), max_cidr=max_cidr)
    for item in bad:
        _stderr().print(
            f"[bold red]error:[/] {item.source}: {item.text!r}: {item.reason}", markup=True
        )
    if not parsed:
        raise _usage_error("no valid targets (give hosts as arguments or with -f FILE)")
    with ExitStack() as stack:
        try:
            outputs = _Outputs(stack, json_out, jsonl_out)
        except OSError as exc:
            raise _usage_error(f"cannot write output: {exc}") from None
        results = _run_scan(
            parsed,
            profile,
            {
                "timeout": timeout,
                "concurrency": concurrency,
                "per_host": per_host,
                "rate": rate,
                "retries": retries,
                "ca_file": ca_file,
                "tls_groups": not no_groups,
                "deep": deep,
                "http_port": http_port,
                "smb_user": smb_user,
                "smb_password": smb_password,
                "smb_domain": smb_domain,
                "smb_share": smb_share,
                "ike_identity": ike_id,
                "ike_half_open": ike_half_open,
                "ike_half_open_seconds": ike_half_open_seconds,
            },
            outputs,
            progress=not no_progress,
        )
        _report(profile, results, outputs, parsed)
    raise typer.Exit(_exit_code(results, outputs, len(bad)))


def _vpn_targets(
    host: str, *, ike: bool, sstp: bool, ike_port: int, sstp_port: int
) -> list[Target]:
    from probe.targets import TargetError, parse_target

    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if "://" in bare or "/" in bare:
        raise _usage_error(f"{host!r}: give a host name or address, without scheme or port")
    shown = f"[{bare}]" if ":" in bare else bare
    wanted = []
    if ike:  # the IKE check also tries the NAT-T port (options.ike_nat_t_port)
        wanted.append(f"ike://{shown}:{ike_port}")
    if sstp:
        wanted.append(f"sstp://{shown}:{sstp_port}")
    targets: list[Target] = []
    for text in wanted:
        try:
            targets.extend(parse_target(text, max_cidr=1))
        except TargetError as exc:
            raise _usage_error(f"{host!r}: {exc}") from None
    return targets


@app.command("vpn")
def vpn_command(
    host: Annotated[str, typer.Argument(help="The VPN endpoint: a host name or address.")],
    ike_only: Annotated[bool, typer.Option("--ike-only", help="Only IKE (no SSTP).")] = False,
    sstp_only: Annotated[bool, typer.Option("--sstp-only", help="Only SSTP (no IKE).")] = False,
    ike_port: Annotated[int, typer.Option("--ike-port", min=1, max=65535, help="IKE port.")] = 500,
    nat_t_port: Annotated[
        int,
        typer.Option(
            "--nat-t-port",
            min=1,
            max=65535,
            help="NAT-T port, tried with one IKEv2 offer behind the non-ESP marker.",
        ),
    ] = 4500,
    sstp_port: Annotated[
        int, typer.Option("--sstp-port", min=1, max=65535, help="SSTP (TLS) port.")
    ] = 443,
    profile_name: ProfileOpt = DEFAULT_PROFILE,
    json_out: JsonOpt = None,
    jsonl_out: JsonlOpt = None,
    timeout: TimeoutOpt = 5.0,
    ca_file: CaFileOpt = None,
    no_groups: NoGroupsOpt = False,
    ike_id: IkeIdOpt = "probe@probe.invalid",
    ike_half_open: IkeHalfOpenOpt = 4,
    ike_half_open_seconds: IkeWindowOpt = 30.0,
) -> None:
    """Validate a VPN endpoint: IKE on UDP 500, NAT-T on UDP 4500, SSTP (and its TLS) on 443."""
    if ike_only and sstp_only:
        raise _usage_error("--ike-only and --sstp-only exclude each other")
    if json_out == "-" and jsonl_out == "-":
        raise _usage_error("--json - and --jsonl - cannot both write to stdout")
    if ca_file is not None and not Path(ca_file).is_file():
        raise _usage_error(f"--ca-file {ca_file}: no such file")
    profile = _load_profile(profile_name)
    targets = _vpn_targets(
        host,
        ike=not sstp_only,
        sstp=not ike_only,
        ike_port=ike_port,
        sstp_port=sstp_port,
    )
    with ExitStack() as stack:
        try:
            outputs = _Outputs(stack, json_out, jsonl_out)
        except OSError as exc:
            raise _usage_error(f"cannot write output: {exc}") from None
        results = _run_scan(
            targets,
            profile,
            {
                "timeout": timeout,
                "ca_file": ca_file,
                "tls_groups": not no_groups,
                "ike_identity": ike_id,
                "ike_nat_t_port": nat_t_port,
                "ike_half_open": ike_half_open,
                "ike_half_open_seconds": ike_half_open_seconds,
            },
            outputs,
            progress=False,
        )
        _report(profile, results, outputs, targets)
    raise typer.Exit(_exit_code(results, outputs, 0))


class _PcapOutputs(_Outputs):
    """A scan's outputs, written with the lines and document of ``probe pcap``."""

    def line(self, text: str) -> None:
        if self.jsonl is None:
            return
        try:
            self.jsonl.write(text + "\n")
        except OSError as exc:
            self._failed(self.jsonl, exc)
            self.jsonl = None

    def flush_lines(self) -> None:
        if self.jsonl is None:
            return
        try:
            self.jsonl.flush()
        except OSError as exc:
            self._failed(self.jsonl, exc)
            self.jsonl = None

    def document(self, pieces: Iterable[str]) -> None:
        if self.json_file is None:
            return
        try:
            for text in pieces:
                self.json_file.write(text)
            self.json_file.flush()
        except OSError as exc:
            self._failed(self.json_file, exc)


PROGRESS_MIN_BYTES = 32 * 1024 * 1024  # below this a capture is read in a few seconds


def _pcap_progress(total: int) -> tuple[Progress, TaskID]:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    bar = Progress(
        TextColumn("reading"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=_stderr(),
        transient=True,
    )
    return bar, bar.add_task("read", total=total)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


# Per-direction bytes of a flow that probe pcap keeps and scans: the default holds the request
# and reply heads where credentials sit; more finds secrets later in long connections, at
# max_flows x 2 x BYTES of memory in the worst case (bench/pcap_bench.py --scan-bytes).
PCAP_SCAN_DEFAULT = 4096
PCAP_SCAN_MIN = 1024
PCAP_SCAN_MAX = 1 << 20


@app.command("pcap")
def pcap_command(
    captures: Annotated[
        list[str],
        typer.Argument(
            help="pcap or pcapng files, gzip-compressed or not.",
            metavar="CAPTURE...",
            show_default=False,
        ),
    ],
    profile_name: ProfileOpt = DEFAULT_PROFILE,
    json_out: JsonOpt = None,
    jsonl_out: Annotated[
        str | None,
        typer.Option(
            "--jsonl",
            metavar="FILE|-",
            help="Stream one JSON object per flow, then per finding, then the summary.",
        ),
    ] = None,
    no_progress: Annotated[
        bool, typer.Option("--no-progress", help="Never show a progress bar.")
    ] = False,
    show_secrets: Annotated[
        bool,
        typer.Option(
            "--show-secrets",
            help="Print the raw values of credentials and secrets found (redacted otherwise).",
        ),
    ] = False,
    scan_bytes: Annotated[
        int,
        typer.Option(
            "--scan-bytes",
            min=PCAP_SCAN_MIN,
            max=PCAP_SCAN_MAX,
            metavar="BYTES",
            help="Bytes kept, classified and scanned per flow direction.",
        ),
    ] = PCAP_SCAN_DEFAULT,
) -> None:
    """Analyse captures offline: how much traffic was encrypted, which flows were not, what
    leaked in the clear (credentials and secrets, redacted unless --show-secrets)."""
    from probe.pcap.analyze import unreadable

    profile = _load_profile(profile_name)
    if json_out == "-" and jsonl_out == "-":
        raise _usage_error("--json - and --jsonl - cannot both write to stdout")
    problems = unreadable(captures)
    for name, reason in problems:
        _stderr().print(f"[bold red]error:[/] cannot read capture {name}: {reason}", markup=True)
    if problems:
        raise typer.Exit(EXIT_USAGE)
    for out in (json_out, jsonl_out):
        if out not in (None, "-") and any(_same_file(out, c) for c in captures):
            raise _usage_error(f"{out} is one of the captures: it would be overwritten")
    if not any(r.applies_to == "pcap" for r in profile.requirements):
        _stderr().print(f"note: profile {profile.name} has no capture requirements (pcap)")
    with ExitStack() as stack:
        try:
            outputs = _PcapOutputs(stack, json_out, jsonl_out)
        except OSError as exc:
            raise _usage_error(f"cannot write output: {exc}") from None
        passed = _run_pcap(
            captures,
            profile,
            outputs,
            progress=not no_progress,
            show_secrets=show_secrets,
            scan_bytes=scan_bytes,
        )
    if outputs.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    if outputs.write_error:
        raise typer.Exit(EXIT_USAGE)
    raise typer.Exit(EXIT_OK if passed else EXIT_FAIL)


def _run_pcap(
    captures: list[str],
    profile: Profile,
    outputs: _PcapOutputs,
    *,
    progress: bool,
    show_secrets: bool = False,
    scan_bytes: int = PCAP_SCAN_DEFAULT,
) -> bool:
    """Analyse, grade and report; True when the profile passes. Ctrl-C stops the reading and
    reports what was read."""
    from probe.grading.rules import evaluate_capture
    from probe.pcap.analyze import Analyzer
    from probe.report import pcap_doc

    total = sum(os.path.getsize(c) for c in captures)
    bar = None
    if progress and total >= PROGRESS_MIN_BYTES and sys.stderr.isatty():
        bar = _pcap_progress(total)
    analyzer = Analyzer(prefix_bytes=scan_bytes, show_secrets=show_secrets)
    if outputs.jsonl is not None:  # each flow streamed as soon as it is analysed
        analyzer.on_flow = lambda facts, _secrets: outputs.line(pcap_doc.flow_line(facts))
    try:
        if bar is not None:
            bar[0].start()
        for capture in captures:
            analyzer.read(capture, on_read=None if bar is None else partial(bar[0].advance, bar[1]))
        analyzer.finish()
    except KeyboardInterrupt:
        outputs.interrupted = True
        analyzer.interrupted()
        _stderr().print("interrupted: reporting what was read")
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C skips the last flows
            analyzer.finish()
    finally:
        if bar is not None:
            bar[0].stop()
    analysis = analyzer.result()
    verdict = evaluate_capture(profile, analysis)
    for text in pcap_doc.json_lines(profile.name, analysis, verdict):
        outputs.line(text)
    outputs.flush_lines()
    outputs.document(pcap_doc.iter_dumps(profile.name, analysis, verdict))
    if not outputs.stdout_taken:
        from rich.console import Console

        from probe.report.pcap_table import render

        render(Console(highlight=False), analysis, verdict, profile.name)
    return verdict.passed


@app.command("demo")
def demo_command(
    json_out: JsonOpt = None,
    profile_name: ProfileOpt = DEFAULT_PROFILE,
) -> None:
    """Start a small lab of real TLS servers on loopback, scan it, and show the graded table."""
    from probe.demo_lab import DemoLab
    from probe.model import Status, Target

    profile = _load_profile(profile_name)
    err = _stderr()
    with DemoLab() as lab, ExitStack() as stack:
        outputs = _Outputs(stack, json_out, None)
        targets = [
            Target(
                given=f"{e.name} ({e.host}:{e.port})",
                host=e.host,
                port=e.port,
                check="tls",
                server_name="localhost",
            )
            for e in lab.endpoints
        ]
        for e in lab.endpoints:
            err.print(f"lab: {e.name} on {e.host}:{e.port}: {e.description}")
        results = _run_scan(
            targets, profile, {"timeout": 5.0, "ca_file": lab.ca_file}, outputs, progress=False
        )
        _report(profile, results, outputs, targets)
    # The demo's job is to show a real scan and grade: it succeeds when every lab endpoint was
    # scanned. Its legacy server failing the profile is the point, not an error.
    code = _exit_code(results, outputs, 0)
    scanned = all(r.status is Status.COMPLETED for r in results) and len(results) == len(targets)
    if code == EXIT_FAIL and scanned:
        err.print("The legacy server fails the profile, as designed (probe scan would exit 1).")
        code = EXIT_OK
    raise typer.Exit(code)


@profiles_app.command("list")
def profiles_list() -> None:
    """List the built-in profiles."""
    from rich.console import Console

    from probe.grading.profile import builtin_profiles, load_profile
    from probe.report.table import render_profile_list

    render_profile_list(Console(highlight=False), [load_profile(n) for n in builtin_profiles()])


@profiles_app.command("show")
def profiles_show(
    name: Annotated[str, typer.Argument(help="Built-in name or a .toml file.")],
) -> None:
    """Show every requirement of a profile."""
    from rich.console import Console

    from probe.report.table import render_profile

    render_profile(Console(highlight=False), _load_profile(name))


def main() -> None:
    app()
