"""What every check receives: user options, shared limits, injected clock and randomness."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from probe.model import ErrorInfo, ErrorReason, Status, Target, TargetResult
from probe.net.limits import Limits


@dataclass(frozen=True)
class ScanOptions:
    timeout: float = 5.0  # seconds for each connect, and for each whole answer
    concurrency: int = 64  # connections open at once across the scan
    per_host: int = 5  # connections open at once to one address
    rate: float | None = None  # new connections per second across the scan
    retries: int = 2  # extra attempts after a connection reset, with backoff
    ca_file: str | None = None  # trust only this CA bundle instead of the system store
    tls_groups: bool = True  # enumerate key-exchange groups (one hello per accepted group + 1)
    # sslyze's Heartbleed, CCS injection, ROBOT, renegotiation and fallback SCSV scans
    # (probe.checks.tls_deep), one connection at a time under a per-host slot.
    deep: bool = False
    # HTTPS targets: the plain-HTTP port whose answer is judged (probe.checks.https); 0 skips.
    http_port: int = 80
    # SMB credentials for the optional authenticated probe. The password never reaches a
    # result, a log or a repr.
    smb_user: str | None = None
    smb_password: str | None = field(default=None, repr=False)
    smb_domain: str = ""
    smb_share: str | None = None
    # IKE: the identity an Aggressive Mode offer carries (ID_USER_FQDN), the NAT-T port, and
    # the pace: at most ``ike_half_open`` accepted offers (each leaves a half-open SA on the
    # responder) within ``ike_half_open_seconds`` (strongSwan's half_open_timeout is 30 s and
    # it ignores a peer with 5 half-open SAs).
    ike_identity: str = "probe@probe.invalid"
    ike_nat_t_port: int = 4500
    ike_half_open: int = 4
    ike_half_open_seconds: float = 30.0


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CheckContext:
    options: ScanOptions
    limits: Limits
    now: Callable[[], datetime] = utc_now
    random_bytes: Callable[[int], bytes] = field(default=secrets.token_bytes)


class ProbeFailed(Exception):
    """One probe of a check got no usable answer (transport problem or undecodable bytes).
    Checks catch it and turn it into an incomplete entry or the target's error."""

    def __init__(self, reason: ErrorReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def error_result(
    target: Target, reason: ErrorReason, message: str, started: float | None = None
) -> TargetResult:
    """A target that could not be measured; ``started`` is its time.monotonic() start."""
    return TargetResult(
        target=target,
        status=Status.ERROR,
        error=ErrorInfo(reason, message),
        tls=None,
        duration_seconds=0.0 if started is None else time.monotonic() - started,
    )
