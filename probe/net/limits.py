"""Politeness: a global connection cap, a per-endpoint cap and an optional rate limit.

Servers and IDSs drop bursts of connections (sslyze #385, #349), so every connection a check
opens goes through ``Limits.slot(address, port)``. The per-host cap counts connections to one
endpoint (address and port), as sslyze's per-server limit does: two services on one machine
are two servers, and a cap per address would make a scan of many ports on one machine crawl.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager


class _RateLimiter:
    """Spaces connection starts evenly: at most ``rate`` per second across the whole scan."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self._interval
        if delay > 0:
            await asyncio.sleep(delay)


class Limits:
    def __init__(self, *, concurrency: int, per_host: int, rate: float | None = None) -> None:
        if concurrency < 1 or per_host < 1:
            raise ValueError("concurrency and per-host limits must be at least 1")
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive")
        self.concurrency = concurrency
        self.per_host = per_host
        self._global = asyncio.Semaphore(concurrency)
        self._hosts: dict[tuple[str, int], tuple[asyncio.Semaphore, int]] = {}
        self._rate = _RateLimiter(rate) if rate else None
        self._half_open: dict[str, deque[float]] = {}
        # Endpoint -> (lock, users): multi-slot holders take their slots one at a time under
        # it, so two of them never each hold part of what the other waits for.
        self._multi: dict[tuple[str, int], tuple[asyncio.Lock, int]] = {}

    def half_open_log(self, address: str) -> deque[float]:
        """When each accepted IKE offer to ``address`` was answered, across every target of the
        scan (ike://host:500 and ike://host:4500 are one responder): each left a half-open SA
        there, and responders ignore a peer that holds too many."""
        return self._half_open.setdefault(address, deque(maxlen=1024))

    @asynccontextmanager
    async def slot(self, address: str, port: int) -> AsyncIterator[None]:
        """Hold one connection slot for the endpoint (and one of the global pool)."""
        key = (address, port)
        semaphore, users = self._hosts.get(key, (asyncio.Semaphore(self.per_host), 0))
        self._hosts[key] = (semaphore, users + 1)
        try:
            async with semaphore, self._global:
                if self._rate is not None:
                    await self._rate.wait()
                yield
        finally:
            semaphore, users = self._hosts[key]
            if users <= 1:
                del self._hosts[key]  # keeps memory flat over thousands of endpoints
            else:
                self._hosts[key] = (semaphore, users - 1)

    @asynccontextmanager
    async def slots(self, address: str, port: int, count: int) -> AsyncIterator[int]:
        """Hold ``count`` slots of the endpoint at once (at most the per-host cap), for a tool
        that opens its own connections (sslyze under --deep); yields how many are held."""
        count = max(1, min(count, self.per_host))
        key = (address, port)
        lock, users = self._multi.get(key, (asyncio.Lock(), 0))
        self._multi[key] = (lock, users + 1)
        try:
            async with AsyncExitStack() as stack:
                async with lock:
                    for _ in range(count):
                        await stack.enter_async_context(self.slot(address, port))
                yield count
        finally:
            lock, users = self._multi[key]
            if users <= 1:
                del self._multi[key]
            else:
                self._multi[key] = (lock, users - 1)
