"""The TCP edge against real loopback sockets: each failure maps to one ErrorReason."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from probe.model import ErrorReason
from probe.net.limits import Limits
from probe.net.stream import Timeouts, TransportError, exchange, resolve

FAST = Timeouts(connect=1.0, read=0.5)


class UntilBytes:
    """A minimal reader: done after ``want`` bytes."""

    def __init__(self, want: int) -> None:
        self.want = want
        self.data = b""

    def feed(self, data: bytes) -> None:
        self.data += data

    @property
    def done(self) -> bool:
        return len(self.data) >= self.want


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def server(handler: Handler) -> AsyncIterator[int]:
    srv = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        srv.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_answer_is_fed_until_reader_done() -> None:
    async def echo_twice(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        data = await r.read(100)
        w.write(data + data)
        await w.drain()

    async with server(echo_twice) as port:
        reader = UntilBytes(8)
        await exchange("127.0.0.1", port, b"ping", reader, timeouts=FAST)
        assert reader.data == b"pingping"


async def test_refused() -> None:
    with pytest.raises(TransportError) as info:
        await exchange("127.0.0.1", closed_port(), b"x", UntilBytes(1), timeouts=FAST)
    assert info.value.reason is ErrorReason.REFUSED


async def test_silent_server_times_out_within_budget() -> None:
    async def silent(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    async with server(silent) as port:
        started = time.monotonic()
        with pytest.raises(TransportError) as info:
            await exchange("127.0.0.1", port, b"x", UntilBytes(1), timeouts=FAST)
        assert info.value.reason is ErrorReason.TIMEOUT
        assert time.monotonic() - started < FAST.read + 0.5


async def test_trickling_server_is_cut_at_the_whole_answer_deadline() -> None:
    async def trickle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        for _ in range(50):
            w.write(b"\x16")
            await w.drain()
            await asyncio.sleep(0.05)

    async with server(trickle) as port:
        started = time.monotonic()
        with pytest.raises(TransportError) as info:
            await exchange("127.0.0.1", port, b"x", UntilBytes(10_000), timeouts=FAST)
        assert info.value.reason is ErrorReason.TIMEOUT
        assert time.monotonic() - started < FAST.read + 0.5


async def test_reset_is_reported_as_reset() -> None:
    async def reset(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read(10)
        sock = w.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        w.transport.abort()

    async with server(reset) as port:
        with pytest.raises(TransportError) as info:
            await exchange("127.0.0.1", port, b"hello", UntilBytes(1), timeouts=FAST)
        assert info.value.reason is ErrorReason.RESET


async def test_early_close_returns_with_what_arrived() -> None:
    async def short(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read(10)  # read the request first, or closing sends RST instead of FIN
        w.write(b"ab")
        await w.drain()
        w.close()

    async with server(short) as port:
        reader = UntilBytes(10)
        await exchange("127.0.0.1", port, b"x", reader, timeouts=FAST)
        assert reader.data == b"ab" and not reader.done


async def test_answer_size_is_capped() -> None:
    async def flood(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            for _ in range(100):
                w.write(b"\0" * 65536)
                await w.drain()
        except ConnectionError:
            pass

    async with server(flood) as port:
        with pytest.raises(TransportError) as info:
            await exchange(
                "127.0.0.1", port, b"x", UntilBytes(10**9), timeouts=FAST, max_bytes=100_000
            )
        assert info.value.reason is ErrorReason.PROTOCOL_ERROR


async def test_dns_failure_is_a_dns_error() -> None:
    with pytest.raises(TransportError) as info:
        await resolve("no-such-host.invalid", 443, 2.0)
    assert info.value.reason is ErrorReason.DNS


async def test_per_host_and_global_caps_hold() -> None:
    limits = Limits(concurrency=3, per_host=2)
    active: dict[str, int] = {"a": 0, "b": 0, "all": 0}
    peak: dict[str, int] = {"a": 0, "b": 0, "all": 0}

    async def use(host: str) -> None:
        async with limits.slot(host, 443):
            for key in (host, "all"):
                active[key] += 1
                peak[key] = max(peak[key], active[key])
            await asyncio.sleep(0.01)
            for key in (host, "all"):
                active[key] -= 1

    await asyncio.gather(*(use(h) for h in "ab" * 10))
    assert peak == {"a": 2, "b": 2, "all": 3}


async def test_multi_slot_holders_count_against_the_cap_and_never_deadlock() -> None:
    """--deep's sslyze holds several slots of one endpoint (Limits.slots): single probes and
    multi-slot holders together never exceed the per-host cap, and two multi-slot holders of
    one endpoint (each wanting all of it) both finish."""
    limits = Limits(concurrency=10, per_host=3)
    active = 0
    peak = 0

    async def hold(count: int) -> int:
        nonlocal active, peak
        async with limits.slots("h", 443, count) as held:
            active += held
            peak = max(peak, active)
            await asyncio.sleep(0.01)
            active -= held
            return held

    async def single() -> None:
        nonlocal active, peak
        async with limits.slot("h", 443):
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0.005)
            active -= 1

    async with asyncio.timeout(5):
        results = await asyncio.gather(hold(3), *(single() for _ in range(5)), hold(9), hold(0))
    assert results[0] == 3 and results[-2] == 3 and results[-1] == 1  # capped at per_host, >= 1
    assert peak <= 3
    assert not limits._multi and not limits._hosts  # nothing kept once released


async def test_rate_limit_spaces_connections() -> None:
    limits = Limits(concurrency=10, per_host=10, rate=50)
    started = time.monotonic()

    async def use() -> None:
        async with limits.slot("h", 443):
            pass

    await asyncio.gather(*(use() for _ in range(11)))
    assert time.monotonic() - started >= 0.18  # 10 intervals of 20 ms after the first


async def test_conversation_runs_several_exchanges_on_one_connection() -> None:
    from probe.net.stream import conversation

    connections = 0

    async def echo_each(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        for _ in range(2):
            data = await r.read(100)
            w.write(data.upper())
            await w.drain()
        w.close()

    async with server(echo_each) as port:
        async with conversation("127.0.0.1", port, timeouts=FAST) as conv:
            first, second, third = UntilBytes(3), UntilBytes(3), UntilBytes(3)
            await conv.exchange(b"abc", first)
            await conv.exchange(b"def", second)
            await conv.exchange(b"ghi", third)  # the server closed after two: nothing arrives
        assert (first.data, second.data, third.data) == (b"ABC", b"DEF", b"")
        assert connections == 1
