"""``--deep``: the vulnerability checks that need attack handshakes, run by sslyze (issue 6).

Heartbleed, OpenSSL CCS injection, ROBOT, client-initiated renegotiation and TLS_FALLBACK_SCSV
are measured by sslyze's scan commands in a worker thread (sslyze is synchronous), while the
scan holds one per-host connection slot: sslyze is told to open one connection at a time, with
probe's timeout and retries. sslyze is imported only here, and only when ``--deep`` is given
(it takes long to import).

Verdicts follow tls.vulnerabilities' convention: True when exposed, False when not, None when
sslyze could not tell; why goes to ``incomplete["deep"]`` (sslyze could not connect, or
failed) or ``incomplete["deep <name>"]`` (one scan command failed). Never raises.
"""

from __future__ import annotations

import asyncio
from typing import Any

from probe.checks.context import CheckContext
from probe.checks.tls_vulns import DEEP_VULNERABILITIES
from probe.model import Target

Verdicts = dict[str, bool | None]


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


def _scan(
    target: Target, address: str, timeout: float, retries: int
) -> tuple[Verdicts, dict[str, str]]:
    """sslyze's five scan commands, synchronously (in a worker thread)."""
    from sslyze.plugins.scan_commands import ScanCommand
    from sslyze.scanner.models import ServerConnectivityStatusEnum, ServerScanRequest
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
    name = target.server_name or target.host
    request = ServerScanRequest(
        server_location=ServerNetworkLocation(hostname=name, port=target.port, ip_address=address),
        network_configuration=ServerNetworkConfiguration(
            tls_server_name_indication=name,
            network_timeout=max(1, round(timeout)),
            network_max_retries=retries,
        ),
        scan_commands={command for command, _ in commands.values()},
    )
    verdicts: Verdicts = dict.fromkeys(DEEP_VULNERABILITIES)
    incomplete: dict[str, str] = {}
    scanner = Scanner(per_server_concurrent_connections_limit=1, concurrent_server_scans_limit=1)
    scanner.queue_scans([request])
    (result,) = list(scanner.get_results())
    if result.connectivity_status is not ServerConnectivityStatusEnum.COMPLETED:
        trace = result.connectivity_error_trace
        why = str(trace).strip() if trace is not None else "no connection"
        incomplete["deep"] = f"sslyze could not connect: {why}"
        return verdicts, incomplete
    if result.scan_result is None:
        incomplete["deep"] = f"sslyze scan {result.scan_status.value}"
        return verdicts, incomplete
    for key, (_, attribute) in commands.items():
        attempt = getattr(result.scan_result, attribute)
        if attempt.status is ScanCommandAttemptStatusEnum.COMPLETED and attempt.result is not None:
            verdicts[key] = _verdict(key, attempt.result)
        else:
            reason = attempt.error_reason.value if attempt.error_reason is not None else "failed"
            trace = attempt.error_trace
            detail = f": {str(trace).strip()}" if trace is not None and str(trace).strip() else ""
            incomplete[f"deep {key}"] = f"sslyze {reason}{detail}"
    return verdicts, incomplete


async def measure(
    target: Target, address: str, ctx: CheckContext
) -> tuple[Verdicts, dict[str, str]]:
    """The deep verdicts for one endpoint and what could not be measured. Never raises."""
    options = ctx.options
    try:
        async with ctx.limits.slot(address, target.port):
            return await asyncio.to_thread(_scan, target, address, options.timeout, options.retries)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # sslyze missing or broken: a result, not a crash
        return dict.fromkeys(DEEP_VULNERABILITIES), {"deep": f"sslyze: {type(exc).__name__}: {exc}"}
