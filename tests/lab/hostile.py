"""Misbehaving peers on 127.0.0.1: each runs an asyncio server on its own event loop in a
background thread, so the same object works from sync tests (``with``) and async tests
(``async with``); both yield ``(host, port)``.

- ``garbage_server``: sends non-TLS bytes, reads what the client sent, then closes cleanly.
- ``silent_server``: accepts, reads and discards, never answers (until the client leaves).
- ``huge_length_server``: after the ClientHello, a handshake record whose ServerHello header
  claims 16 MB (0xFFFFFF); then keeps sending 16 KB handshake records slowly.
- ``reset_server``: after the ClientHello, half a ServerHello, then an RST (SO_LINGER 0).
- ``trickle_server``: after the ClientHello, a valid-looking ServerHello record, one byte per
  ``interval`` seconds (1 s by default).
- ``eof_server``: accepts and sends FIN at once, without a byte.

Each server counts ``connections`` and keeps the first bytes of each client in ``received``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType

LOOPBACK = "127.0.0.1"
Reader = asyncio.StreamReader
Writer = asyncio.StreamWriter
Handler = Callable[["HostileServer", Reader, Writer], Awaitable[None]]

GARBAGE = b"SSH-2.0-OpenSSH_9.2p1 not-tls\r\n" + bytes(range(256)) * 4


def server_hello_record() -> bytes:
    """A plausible TLS 1.2 ServerHello record (ECDHE-RSA-AES128-GCM-SHA256, no extensions)."""
    body = (
        b"\x03\x03"  # legacy_version TLS 1.2
        + bytes(range(32))  # random
        + b"\x20"
        + bytes(range(32, 64))  # session id
        + b"\xc0\x2f"  # cipher suite
        + b"\x00"  # compression
        + b"\x00\x05\xff\x01\x00\x01\x00"  # extensions: renegotiation_info (empty)
    )
    handshake = b"\x02" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x03" + len(handshake).to_bytes(2, "big") + handshake


async def read_client_hello(reader: asyncio.StreamReader, timeout: float = 5.0) -> bytes:
    """Read the client's first TLS record (or whatever arrives before ``timeout``)."""
    data = b""
    with contextlib.suppress(TimeoutError, asyncio.IncompleteReadError, ConnectionError):
        async with asyncio.timeout(timeout):
            data = await reader.readexactly(5)
            if data[:1] == b"\x16":
                length = int.from_bytes(data[3:5], "big")
                data += await reader.readexactly(length)
    return data


async def drain_until_eof(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while await reader.read(65536):
            pass


class HostileServer:
    """An asyncio TCP server with one behaviour, on a private loop in a daemon thread."""

    def __init__(self, name: str, handler: Handler, host: str = LOOPBACK) -> None:
        self.name = name
        self.host = host
        self.port = 0
        self.connections = 0
        self.received: list[bytes] = []
        self._handler = handler
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # lifecycle ----------------------------------------------------------------------------
    def start(self) -> tuple[str, int]:
        self._thread = threading.Thread(target=self._run, name=f"hostile-{self.name}", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError(f"hostile server {self.name} did not start")
        if self._error is not None:
            raise RuntimeError(f"hostile server {self.name} failed") from self._error
        return self.host, self.port

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._on_client, self.host, 0, backlog=512)
            )
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            await self._handler(self, reader, writer)
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)

    # context managers -----------------------------------------------------------------------
    def __enter__(self) -> tuple[str, int]:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> tuple[str, int]:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)


# behaviours ---------------------------------------------------------------------------------


def garbage_server(payload: bytes = GARBAGE) -> HostileServer:
    async def handle(srv: HostileServer, reader: Reader, writer: Writer) -> None:
        writer.write(payload)
        await writer.drain()
        # Read the ClientHello so closing sends a FIN, not an RST for unread data.
        srv.received.append(await read_client_hello(reader, timeout=1.0))
        writer.write_eof()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                await drain_until_eof(reader)

    return HostileServer("garbage", handle)


def silent_server() -> HostileServer:
    async def handle(srv: HostileServer, reader: Reader, writer: Writer) -> None:
        srv.received.append(await read_client_hello(reader, timeout=5.0))
        await drain_until_eof(reader)

    return HostileServer("silent", handle)


HUGE_CLAIM = 0xFFFFFF  # the 24-bit handshake length field at its maximum: ~16 MB


def huge_length_server(interval: float = 0.2, total: int = HUGE_CLAIM) -> HostileServer:
    """First record: ``16 03 03 40 00`` + ServerHello header ``02 FF FF FF`` + 16380 filler
    bytes; then one more 16 KB handshake record every ``interval`` s until ``total`` bytes."""

    async def handle(srv: HostileServer, reader: Reader, writer: Writer) -> None:
        srv.received.append(await read_client_hello(reader))
        first = b"\x16\x03\x03\x40\x00" + b"\x02" + HUGE_CLAIM.to_bytes(3, "big")
        first += b"\x03\x03" + b"\xab" * (0x4000 - 6)
        writer.write(first)
        await writer.drain()
        sent = 0x4000 - 4
        eof = asyncio.ensure_future(drain_until_eof(reader))
        try:
            while sent < total and not eof.done():
                await asyncio.sleep(interval)
                chunk = min(0x4000, total - sent)
                writer.write(b"\x16\x03\x03" + chunk.to_bytes(2, "big") + b"\xab" * chunk)
                await writer.drain()
                sent += chunk
            await eof
        finally:
            eof.cancel()

    return HostileServer("huge_length", handle)


def reset_server() -> HostileServer:
    async def handle(srv: HostileServer, reader: Reader, writer: Writer) -> None:
        srv.received.append(await read_client_hello(reader))
        hello = server_hello_record()
        writer.write(hello[: len(hello) // 2])
        await writer.drain()
        transport = writer.transport
        for _ in range(100):  # let the kernel take the bytes before the reset
            if transport.get_write_buffer_size() == 0:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    return HostileServer("reset", handle)


def trickle_server(interval: float = 1.0) -> HostileServer:
    async def handle(srv: HostileServer, reader: Reader, writer: Writer) -> None:
        srv.received.append(await read_client_hello(reader))
        eof = asyncio.ensure_future(drain_until_eof(reader))
        try:
            for byte in server_hello_record():
                if eof.done():
                    return
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(interval)
            await eof
        finally:
            eof.cancel()

    return HostileServer("trickle", handle)


def eof_server() -> HostileServer:
    async def handle(srv: HostileServer, reader: Reader, writer: Writer) -> None:
        writer.write_eof()  # FIN at once; reading on avoids an RST for the unread ClientHello
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await drain_until_eof(reader)

    return HostileServer("eof", handle)


HOSTILE_SERVERS: dict[str, Callable[[], HostileServer]] = {
    "garbage": garbage_server,
    "silent": silent_server,
    "huge_length": huge_length_server,
    "reset": reset_server,
    "trickle": trickle_server,
    "eof": eof_server,
}
