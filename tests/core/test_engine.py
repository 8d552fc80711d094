"""The engine: results stream per target, a crashing check costs only its own target."""

from __future__ import annotations

import asyncio

import pytest

from probe import engine
from probe.checks.context import CheckContext, ScanOptions
from probe.model import ErrorReason, Status, Target, TargetResult


def _target(name: str, check: str = "stub") -> Target:
    return Target(given=name, host=name, port=1, check=check)


async def _stub_check(target: Target, ctx: CheckContext) -> TargetResult:
    """A stand-in check (no network): sleeps a little, and crashes for hosts named 'boom'."""
    await asyncio.sleep(0.01 if target.host != "slow" else 0.1)
    if target.host == "boom":
        raise RuntimeError("kaboom")
    return TargetResult(
        target=target, status=Status.COMPLETED, error=None, tls=None, duration_seconds=0
    )


@pytest.fixture(autouse=True)
def stub_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(engine.CHECKS, "stub", _stub_check)


async def test_crash_is_isolated_and_every_target_reports() -> None:
    names = ["a", "boom", "slow", "b"]
    seen: list[TargetResult] = []
    await engine.scan([_target(n) for n in names], ScanOptions(concurrency=4), seen.append)
    by_name = {r.target.host: r for r in seen}
    assert set(by_name) == set(names)
    assert by_name["boom"].status is Status.ERROR
    assert by_name["boom"].error is not None
    assert by_name["boom"].error.reason is ErrorReason.INTERNAL
    assert "kaboom" in by_name["boom"].error.message
    assert all(by_name[n].status is Status.COMPLETED for n in ("a", "slow", "b"))
    assert seen[-1].target.host == "slow"  # streamed in finishing order, not input order


async def test_unknown_check_is_an_error_result() -> None:
    seen: list[TargetResult] = []
    await engine.scan([_target("x", check="nope")], ScanOptions(), seen.append)
    assert seen[0].status is Status.ERROR


async def test_targets_are_pulled_lazily() -> None:
    pulled = 0

    def generate():  # type: ignore[no-untyped-def]
        nonlocal pulled
        for i in range(100):
            pulled += 1
            yield _target(f"h{i}")

    in_flight_peak = 0
    seen: list[TargetResult] = []

    def on_result(result: TargetResult) -> None:
        nonlocal in_flight_peak
        in_flight_peak = max(in_flight_peak, pulled - len(seen))
        seen.append(result)

    await engine.scan(generate(), ScanOptions(concurrency=5), on_result)
    assert len(seen) == 100
    assert in_flight_peak <= 5
