"""The UDP edge: one connected datagram socket per endpoint, a bounded inbox, ICMP as results.

Why not asyncio-dgram (a core package elsewhere): its ``recv()`` only notices an ICMP error
(port unreachable) when it is called again, so a waiting receive sleeps through a refusal
until its timeout; and its inbox is unbounded, so a flood of replies grows memory. Both matter
for a scanner: "refused" must be told from "no answer" at once, and every byte is hostile.
This is a thin asyncio DatagramProtocol that wakes the waiter on either event.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import socket

from probe.model import ErrorReason
from probe.net.stream import TransportError

# Replies kept waiting to be read; beyond this a flood is dropped (and counted).
MAX_QUEUED_DATAGRAMS = 64
# Larger datagrams are cut here by the kernel (recvfrom buffer); IKE messages are far smaller.
MAX_DATAGRAM = 65535

_ICMP_REASONS = {
    errno.ECONNREFUSED: ErrorReason.REFUSED,  # ICMP port unreachable
    errno.EHOSTUNREACH: ErrorReason.UNREACHABLE,
    errno.ENETUNREACH: ErrorReason.UNREACHABLE,
    errno.EHOSTDOWN: ErrorReason.UNREACHABLE,
}


class _Inbox(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: collections.deque[bytes] = collections.deque()
        self.dropped = 0
        self.error: OSError | None = None
        self.closed = False
        self._waiter: asyncio.Future[None] | None = None

    def datagram_received(self, data: bytes, addr: object) -> None:
        if len(self.queue) >= MAX_QUEUED_DATAGRAMS:
            self.dropped += 1
            return
        self.queue.append(data)
        self._wake()

    def error_received(self, exc: Exception) -> None:
        if isinstance(exc, OSError) and self.error is None:
            self.error = exc
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait(self, timeout: float) -> None:
        """Return when a datagram or an error is there, or the timeout passed."""
        if self.queue or self.error is not None or self.closed or timeout <= 0:
            return
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._waiter, timeout)
        finally:
            self._waiter = None


class UdpChannel:
    """A connected UDP socket: the kernel only passes us datagrams from that address and port,
    and reports ICMP errors for them."""

    def __init__(self, transport: asyncio.DatagramTransport, inbox: _Inbox) -> None:
        self._transport = transport
        self._inbox = inbox
        self.sent = 0

    @classmethod
    async def open(cls, address: str, port: int) -> UdpChannel:
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        try:
            transport, inbox = await loop.create_datagram_endpoint(
                _Inbox, remote_addr=(address, port), family=family
            )
        except OSError as exc:
            reason = _ICMP_REASONS.get(exc.errno or 0, ErrorReason.UNREACHABLE)
            raise TransportError(reason, f"UDP to {address}:{port}: {exc.strerror}") from None
        return cls(transport, inbox)

    @property
    def dropped(self) -> int:
        """Datagrams dropped because the inbox was full (a flood)."""
        return self._inbox.dropped

    def send(self, data: bytes) -> None:
        self._raise_error()
        self._transport.sendto(data)
        self.sent += 1

    def discard_pending(self) -> None:
        """Forget replies already queued (late answers to an earlier request)."""
        self._inbox.queue.clear()

    async def receive(self, timeout: float) -> bytes | None:
        """The next datagram, or None when none came within ``timeout`` seconds. An ICMP error
        for this endpoint raises TransportError (refused: nothing listens on that port)."""
        await self._inbox.wait(timeout)
        if self._inbox.queue:
            return self._inbox.queue.popleft()
        self._raise_error()
        return None

    def _raise_error(self) -> None:
        error = self._inbox.error
        if error is not None:
            self._inbox.error = None
            reason = _ICMP_REASONS.get(error.errno or 0, ErrorReason.UNREACHABLE)
            detail = error.strerror or type(error).__name__
            raise TransportError(reason, f"ICMP: {detail}")
        if self._inbox.closed:
            raise TransportError(ErrorReason.INTERNAL, "UDP socket closed")

    def close(self) -> None:
        self._transport.close()
