"""``--deep``: the vulnerability checks that need attack handshakes, run by sslyze (issue 6).

Heartbleed, OpenSSL CCS injection, ROBOT, client-initiated renegotiation, TLS_FALLBACK_SCSV,
session resumption and TLS 1.3 early data are measured by sslyze's scan commands in a worker
thread (sslyze is synchronous), with probe's timeout and retries. sslyze opens as many
connections at once as the per-host cap allows (--per-host, 5 by default), and probe holds
that many of the endpoint's slots meanwhile (``Limits.slots``), so the cap still holds;
sslyze's own connections do not pass through --rate. sslyze is imported only here, and only
when ``--deep`` is given (it takes about 0.5 s to import).

Verdicts follow tls.vulnerabilities' convention: True when exposed, False when not, None when
sslyze could not tell; why goes to ``incomplete["deep"]`` (sslyze could not connect, or
failed) or ``incomplete["deep <name>"]`` (one scan command failed). Resumption and 0-RTT are
facts (``ResumptionFacts``), not verdicts. Never raises.

Cost (bench/tls_bench.py, loopback s_server): 33 TCP connections in all, sslyze's
connectivity test included. Resumption takes 4 per attempt (a fresh session and its
resumption, once with session IDs and once with tickets), so probe asks for
RESUMPTION_ATTEMPTS instead of sslyze's 5; early data takes 2.

sslyze's early-data test sends an HTTP GET and reads the answer to get the session ticket, so
it runs on HTTPS targets only (Target.expects_https); elsewhere early_data stays None.
sslyze closes its connections without a close_notify, which OpenSSL 3 servers that do not
ignore an unexpected EOF take as fatal: they drop that session from their cache, so session
IDs read as not resumed there (ResumptionFacts).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from probe.checks.context import CheckContext
from probe.checks.tls_vulns import DEEP_VULNERABILITIES
from probe.codecs.starttls import PROTOCOLS as STARTTLS_PROTOCOLS
from probe.model import ResumptionFacts, Target

Verdicts = dict[str, bool | None]

# Two attempts per mechanism: enough to tell "resumes" from "never resumes", and a partial
# rate (some of 2) still shows; sslyze's default 5 would add 12 handshakes for little.
RESUMPTION_ATTEMPTS = 2


@dataclass(frozen=True)
class DeepResult:
    """What --deep measured on one endpoint."""

    verdicts: Verdicts  # every DEEP_VULNERABILITIES name
    resumption: ResumptionFacts | None  # None: sslyze could not connect or failed
    incomplete: dict[str, str]

    @classmethod
    def failed(cls, why: str) -> DeepResult:
        return cls(dict.fromkeys(DEEP_VULNERABILITIES), None, {"deep": why})


def _verdict(name: str, result: Any) -> bool | None:
    """One scan command's result as a vulnerability verdict."""
    if name == "heartbleed":
        return bool(result.is_vulnerable_to_heartbleed)
    if name == "ccs_injection":
        return bool(result.is_vulnerable_to_ccs_injection)
    if name == "robot":
        value = str(result.robot_result.value)
        if value.startswith("VULNERABLE"):
            return True
        if value.startswith("NOT_VULNERABLE"):
            return False
        return None  # UNKNOWN_INCONSISTENT_RESULTS
    if name == "client_renegotiation":
        return bool(result.is_vulnerable_to_client_renegotiation_dos)
    return not result.supports_fallback_scsv  # fallback_scsv


def _failure(attempt: Any) -> str:
    reason = attempt.error_reason.value if attempt.error_reason is not None else "failed"
    trace = attempt.error_trace
    detail = f": {str(trace).strip()}" if trace is not None and str(trace).strip() else ""
    return f"sslyze {reason}{detail}"


def _resumption(session: Any, early: Any, incomplete: dict[str, str]) -> ResumptionFacts:
    """The two fact commands' attempts as ResumptionFacts; a failed one is left unmeasured."""
    from sslyze.scanner.scan_command_attempt import ScanCommandAttemptStatusEnum

    def done(attempt: Any) -> bool:
        return (
            attempt.status is ScanCommandAttemptStatusEnum.COMPLETED and attempt.result is not None
        )

    counts = (0, 0, 0, 0)
    if done(session):
        r = session.result
        counts = (
            r.session_id_successful_resumptions_count,
            r.session_id_attempted_resumptions_count,
            r.tls_ticket_successful_resumptions_count,
            r.tls_ticket_attempted_resumptions_count,
        )
    else:
        incomplete["deep resumption"] = _failure(session)
    early_data: bool | None = None
    if done(early):
        early_data = bool(early.result.supports_early_data)
    elif early.status is not ScanCommandAttemptStatusEnum.NOT_SCHEDULED:
        incomplete["deep early_data"] = _failure(early)
    return ResumptionFacts(*counts, early_data=early_data)


def _scan(
    target: Target, address: str, timeout: float, retries: int, connections: int = 1
) -> DeepResult:
    """sslyze's scan commands, synchronously (in a worker thread)."""
    from sslyze.plugins.scan_commands import ScanCommand
    from sslyze.plugins.session_resumption.implementation import (
        SessionResumptionSupportExtraArgument,
    )
    from sslyze.scanner.models import (
        ScanCommandsExtraArguments,
        ServerConnectivityStatusEnum,
        ServerScanRequest,
    )
    from sslyze.scanner.scan_command_attempt import ScanCommandAttemptStatusEnum
    from sslyze.scanner.scanner import Scanner
    from sslyze.server_setting import ServerNetworkConfiguration, ServerNetworkLocation

    commands = {
        "heartbleed": (ScanCommand.HEARTBLEED, "heartbleed"),
        "ccs_injection": (ScanCommand.OPENSSL_CCS_INJECTION, "openssl_ccs_injection"),
        "robot": (ScanCommand.ROBOT, "robot"),
        "client_renegotiation": (ScanCommand.SESSION_RENEGOTIATION, "session_renegotiation"),
        "fallback_scsv": (ScanCommand.TLS_FALLBACK_SCSV, "tls_fallback_scsv"),
    }
    facts = {ScanCommand.SESSION_RESUMPTION}
    if target.expects_https:
        # sslyze gets the ticket for its 0-RTT attempt with "GET /": HTTPS targets only.
        facts.add(ScanCommand.TLS_1_3_EARLY_DATA)
    from sslyze.connection_helpers.opportunistic_tls_helpers import (
        ProtocolWithOpportunisticTlsEnum,
    )

    name = target.server_name or target.host
    opportunistic = None
    if target.scheme in STARTTLS_PROTOCOLS:
        # sslyze speaks every probe STARTTLS dialog but MySQL's.
        sslyze_name = "SMTP" if target.scheme == "submission" else target.scheme.upper()
        if sslyze_name not in ProtocolWithOpportunisticTlsEnum.__members__:
            return DeepResult.failed(f"sslyze has no STARTTLS for {target.scheme}")
        opportunistic = ProtocolWithOpportunisticTlsEnum[sslyze_name]
    request = ServerScanRequest(
        server_location=ServerNetworkLocation(hostname=name, port=target.port, ip_address=address),
        network_configuration=ServerNetworkConfiguration(
            tls_server_name_indication=name,
            tls_opportunistic_encryption=opportunistic,
            xmpp_to_hostname=name
            if opportunistic is ProtocolWithOpportunisticTlsEnum.XMPP
            else None,
            smtp_ehlo_hostname=(
                "probe.invalid" if opportunistic is ProtocolWithOpportunisticTlsEnum.SMTP else None
            ),
            network_timeout=max(1, round(timeout)),
            network_max_retries=retries,
        ),
        scan_commands={command for command, _ in commands.values()} | facts,
        scan_commands_extra_arguments=ScanCommandsExtraArguments(
            session_resumption=SessionResumptionSupportExtraArgument(
                number_of_resumptions_to_attempt=RESUMPTION_ATTEMPTS
            )
        ),
    )
    scanner = Scanner(
        per_server_concurrent_connections_limit=connections, concurrent_server_scans_limit=1
    )
    scanner.queue_scans([request])
    (result,) = list(scanner.get_results())
    if result.connectivity_status is not ServerConnectivityStatusEnum.COMPLETED:
        trace = result.connectivity_error_trace
        why = str(trace).strip() if trace is not None else "no connection"
        return DeepResult.failed(f"sslyze could not connect: {why}")
    if result.scan_result is None:
        return DeepResult.failed(f"sslyze scan {result.scan_status.value}")
    verdicts: Verdicts = dict.fromkeys(DEEP_VULNERABILITIES)
    incomplete: dict[str, str] = {}
    for key, (_, attribute) in commands.items():
        attempt = getattr(result.scan_result, attribute)
        if attempt.status is ScanCommandAttemptStatusEnum.COMPLETED and attempt.result is not None:
            verdicts[key] = _verdict(key, attempt.result)
        else:
            incomplete[f"deep {key}"] = _failure(attempt)
    resumption = _resumption(
        result.scan_result.session_resumption, result.scan_result.tls_1_3_early_data, incomplete
    )
    return DeepResult(verdicts, resumption, incomplete)


async def measure(target: Target, address: str, ctx: CheckContext) -> DeepResult:
    """What --deep measures on one endpoint, and what could not be measured. Never raises."""
    options = ctx.options
    try:
        # sslyze opens its own connections: it gets as many as the per-host cap allows, and
        # holds that many of probe's slots while it runs (ROBOT and the fallback check take
        # most of the time; in parallel they overlap).
        async with ctx.limits.slots(address, target.port, options.per_host) as connections:
            return await asyncio.to_thread(
                _scan, target, address, options.timeout, options.retries, connections
            )
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # sslyze missing or broken: a result, not a crash
        return DeepResult.failed(f"sslyze: {type(exc).__name__}: {exc}")
