"""One event loop drives every target: bounded workers, shared limits, results streamed out.

Targets are pulled lazily from an iterator by a fixed number of workers, so a list of
thousands costs neither thousands of tasks nor a result list in memory: each result goes to
``on_result`` as soon as its target finishes. A check never raises out of here; a bug in one
becomes that target's error result.
"""

from __future__ import annotations

import asyncio
import importlib
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Iterator

from probe.checks.context import CheckContext, ScanOptions, error_result
from probe.model import ErrorReason, Target, TargetResult
from probe.net.limits import Limits

Check = Callable[[Target, CheckContext], Awaitable[TargetResult]]

# The single place checks are registered: a target's ``check`` names the module whose ``run``
# does it. Modules load on first use, so a TLS scan never imports the SMB codec and back.
CHECK_MODULES: dict[str, str] = {
    "tls": "probe.checks.tls",
    "smb": "probe.checks.smb",
    "ike": "probe.checks.ike",
    "sstp": "probe.checks.sstp",
}
# Overrides and already-loaded checks (tests register stand-in checks here).
CHECKS: dict[str, Check] = {}


def check_for(name: str) -> Check | None:
    if name not in CHECKS and name in CHECK_MODULES:
        CHECKS[name] = importlib.import_module(CHECK_MODULES[name]).run
    return CHECKS.get(name)


def _crash_result(target: Target, exc: BaseException, started: float) -> TargetResult:
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    at = f" at {where.filename.rsplit('/', 1)[-1]}:{where.lineno}" if where else ""
    message = f"bug in probe: {type(exc).__name__}: {exc}{at}"
    return error_result(target, ErrorReason.INTERNAL, message, started)


async def run_one(target: Target, ctx: CheckContext) -> TargetResult:
    started = time.monotonic()
    try:
        check = check_for(target.check)
        if check is None:
            return error_result(target, ErrorReason.INTERNAL, f"no check named {target.check!r}")
        return await check(target, ctx)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # one target's bug must not cost the others their results
        return _crash_result(target, exc, started)


async def scan(
    targets: Iterable[Target],
    options: ScanOptions,
    on_result: Callable[[TargetResult], None],
    *,
    ctx: CheckContext | None = None,
) -> None:
    """Scan every target, calling ``on_result`` once per target as each one finishes."""
    if ctx is None:
        limits = Limits(
            concurrency=options.concurrency, per_host=options.per_host, rate=options.rate
        )
        ctx = CheckContext(options=options, limits=limits)
    source: Iterator[Target] = iter(targets)
    # Enough targets in flight to keep the connection pool busy, few enough to bound memory.
    workers = max(1, options.concurrency)

    async def worker() -> None:
        for target in source:  # the iterator is shared: each target is taken by one worker
            on_result(await run_one(target, ctx))

    async with asyncio.TaskGroup() as group:
        for _ in range(workers):
            group.create_task(worker())
