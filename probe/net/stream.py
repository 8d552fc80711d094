"""The TCP edge: resolve, connect, send one request, feed the answer to a sans-I/O reader.

This is the only place (with full_handshake.py) that touches sockets. Every await has a
timeout, every read is capped, and OS errors are translated into one TransportError with an
ErrorReason, once, here; checks never see OSError.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

from probe.model import ErrorReason


class TransportError(Exception):
    def __init__(self, reason: ErrorReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class ResponseReader(Protocol):
    """What exchange() drives: a sans-I/O reader that says when it has seen enough."""

    def feed(self, data: bytes) -> None: ...

    @property
    def done(self) -> bool: ...


@dataclass(frozen=True)
class Timeouts:
    connect: float
    read: float  # the whole answer must arrive within this, not just each chunk


_ERRNO_REASONS = {
    errno.ECONNREFUSED: ErrorReason.REFUSED,
    errno.ECONNRESET: ErrorReason.RESET,
    errno.EPIPE: ErrorReason.RESET,
    errno.ECONNABORTED: ErrorReason.RESET,
    errno.EHOSTUNREACH: ErrorReason.UNREACHABLE,
    errno.ENETUNREACH: ErrorReason.UNREACHABLE,
    errno.EHOSTDOWN: ErrorReason.UNREACHABLE,
    errno.ETIMEDOUT: ErrorReason.TIMEOUT,
}


def _os_error(exc: OSError, what: str) -> TransportError:
    reason = _ERRNO_REASONS.get(exc.errno or 0, ErrorReason.UNREACHABLE)
    detail = exc.strerror or exc.__class__.__name__
    return TransportError(reason, f"{what}: {detail}")


async def resolve(host: str, port: int, timeout: float) -> str:
    """Resolve a name to one address (the first the resolver offers)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout
        )
    except TimeoutError:
        raise TransportError(ErrorReason.DNS, f"resolving {host} timed out") from None
    except (socket.gaierror, UnicodeError) as exc:
        raise TransportError(ErrorReason.DNS, f"cannot resolve {host}: {exc}") from None
    if not infos:
        raise TransportError(ErrorReason.DNS, f"{host} has no address")
    return str(infos[0][4][0])


class _PumpProtocol(asyncio.Protocol):
    """Feeds every chunk the peer sends straight to the current sans-I/O reader.

    A bare Protocol rather than asyncio streams: a scan opens thousands of short connections,
    and the stream machinery (reader, writer, a wake-up per read) dominated the client's CPU.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.received = 0
        self.transport: asyncio.Transport | None = None
        self.reader: ResponseReader | None = None
        self.finished: asyncio.Future[None] | None = None
        self.open = True
        self.end_error: BaseException | None = None  # why the connection ended, if it did

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        _set_linger_zero(transport)
        self.transport = transport

    def start(self, request: bytes, reader: ResponseReader) -> asyncio.Future[None]:
        """Send ``request``; the future completes when ``reader`` is done or the peer closes."""
        self.reader = reader
        self.finished = asyncio.get_running_loop().create_future()
        if not self.open:
            self._finish(self.end_error)  # closed before we asked: the reader has what it has
        elif self.transport is not None:
            self.transport.write(request)
        return self.finished

    def data_received(self, data: bytes) -> None:
        if self.reader is None or self.finished is None or self.finished.done():
            return  # unsolicited bytes between exchanges are not ours to interpret
        self.received += len(data)
        if self.received > self.max_bytes:
            self._finish(
                TransportError(ErrorReason.PROTOCOL_ERROR, f"answer exceeds {self.max_bytes} bytes")
            )
            return
        try:
            self.reader.feed(data)
        except Exception as exc:  # the reader's DecodeError goes to the caller unchanged
            self._finish(exc)
            return
        if self.reader.done:
            self._finish(None)

    def eof_received(self) -> bool:
        self._end(None)  # peer closed; the reader's state tells what we got
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(_os_error(exc, "exchange") if isinstance(exc, OSError) else None)

    def _end(self, error: BaseException | None) -> None:
        if self.open:
            self.open, self.end_error = False, error
        self._finish(error)

    def _finish(self, error: BaseException | None) -> None:
        if self.finished is None or self.finished.done():
            return
        if error is None:
            self.finished.set_result(None)
        else:
            self.finished.set_exception(error)


class Conversation:
    """One open connection: several request/answer exchanges, each under its own deadline."""

    def __init__(self, protocol: _PumpProtocol, timeouts: Timeouts) -> None:
        self._protocol = protocol
        self._timeouts = timeouts

    def send(self, data: bytes) -> None:
        """Write without reading an answer (a request the peer does not answer)."""
        if self._protocol.transport is None or not self._protocol.open:
            raise TransportError(ErrorReason.RESET, "the peer closed the connection")
        self._protocol.transport.write(data)

    async def exchange(self, request: bytes, reader: ResponseReader) -> None:
        """Send ``request`` and feed the answer to ``reader`` until it is done (or the peer
        closes). The whole answer must arrive within the read timeout: a server trickling a
        byte at a time cannot extend it."""
        try:
            async with asyncio.timeout(self._timeouts.read):
                await self._protocol.start(request, reader)
        except TimeoutError:
            raise TransportError(
                ErrorReason.TIMEOUT, f"no complete answer within {self._timeouts.read:g}s"
            ) from None


@contextlib.asynccontextmanager
async def conversation(
    address: str,
    port: int,
    *,
    timeouts: Timeouts,
    max_bytes: int = 1 << 20,
    on_connect: Callable[[], None] | None = None,
    tls: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> AsyncIterator[Conversation]:
    """Connect (within the connect timeout) and yield a Conversation; always closes with RST.

    ``max_bytes`` caps everything the peer may send on this connection. With ``tls`` the
    connection is wrapped in Python's TLS (the handshake counts against the connect timeout;
    a failed handshake is NOT_TLS); the readers then see the decrypted bytes.
    """
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeouts.connect):
            if tls is None:
                transport, protocol = await loop.create_connection(
                    lambda: _PumpProtocol(max_bytes), address, port
                )
            else:  # server_hostname "" sends no SNI (IP targets)
                transport, protocol = await loop.create_connection(
                    lambda: _PumpProtocol(max_bytes),
                    address,
                    port,
                    ssl=tls,
                    server_hostname=server_hostname or "",
                )
    except TimeoutError:
        raise TransportError(
            ErrorReason.TIMEOUT, f"connect timed out after {timeouts.connect:g}s"
        ) from None
    except ssl.SSLError as exc:
        raise TransportError(ErrorReason.NOT_TLS, f"TLS handshake failed: {exc}") from None
    except OSError as exc:
        raise _os_error(exc, "connect") from None
    if on_connect is not None:
        on_connect()
    try:
        yield Conversation(protocol, timeouts)
    finally:
        transport.abort()  # RST, not FIN: we never finish these handshakes


async def exchange(
    address: str,
    port: int,
    request: bytes,
    reader: ResponseReader,
    *,
    timeouts: Timeouts,
    max_bytes: int = 1 << 20,
    on_connect: Callable[[], None] | None = None,
    tls: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> None:
    """Connect, send ``request``, feed what comes back to ``reader`` until it is done.

    Returns when the reader is done or the peer closed (the reader's state tells what arrived).
    Raises TransportError for transport problems; the reader's own exceptions (DecodeError)
    propagate unchanged so the caller can keep what was parsed.
    """
    async with conversation(
        address,
        port,
        timeouts=timeouts,
        max_bytes=max_bytes,
        on_connect=on_connect,
        tls=tls,
        server_hostname=server_hostname,
    ) as conv:
        await conv.exchange(request, reader)


def _set_linger_zero(transport: asyncio.BaseTransport) -> None:
    """Close with RST so thousands of probes leave no TIME_WAIT sockets behind on our side."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
