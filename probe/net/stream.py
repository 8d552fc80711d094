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
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from probe.model import ErrorReason

READ_CHUNK = 16384


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


async def exchange(
    address: str,
    port: int,
    request: bytes,
    reader: ResponseReader,
    *,
    timeouts: Timeouts,
    max_bytes: int = 1 << 20,
    on_connect: Callable[[], None] | None = None,
) -> None:
    """Connect, send ``request``, feed what comes back to ``reader`` until it is done.

    Returns when the reader is done. Raises TransportError for transport problems; the reader's
    own exceptions (DecodeError) propagate unchanged so the caller can keep what was parsed.
    A peer that closes early is not an error here: the reader decides whether it saw enough.
    """
    try:
        stream_reader, writer = await asyncio.wait_for(
            asyncio.open_connection(address, port), timeouts.connect
        )
    except TimeoutError:
        raise TransportError(
            ErrorReason.TIMEOUT, f"connect timed out after {timeouts.connect:g}s"
        ) from None
    except OSError as exc:
        raise _os_error(exc, "connect") from None
    if on_connect is not None:
        on_connect()
    try:
        _set_linger_zero(writer)
        writer.write(request)
        await asyncio.wait_for(writer.drain(), timeouts.read)
        deadline = time.monotonic() + timeouts.read
        received = 0
        while not reader.done:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TransportError(
                    ErrorReason.TIMEOUT, f"no complete answer within {timeouts.read:g}s"
                )
            try:
                data = await asyncio.wait_for(stream_reader.read(READ_CHUNK), remaining)
            except TimeoutError:
                raise TransportError(
                    ErrorReason.TIMEOUT, f"no complete answer within {timeouts.read:g}s"
                ) from None
            if not data:
                return  # peer closed; the reader's state tells what we got
            received += len(data)
            if received > max_bytes:
                raise TransportError(
                    ErrorReason.PROTOCOL_ERROR, f"answer exceeds {max_bytes} bytes"
                )
            reader.feed(data)
    except OSError as exc:
        raise _os_error(exc, "exchange") from None
    finally:
        writer.transport.abort()  # RST, not FIN: we never finish these handshakes


def _set_linger_zero(writer: asyncio.StreamWriter) -> None:
    """Close with RST so thousands of probes leave no TIME_WAIT sockets behind on our side."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
