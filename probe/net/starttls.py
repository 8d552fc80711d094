"""The I/O edge of STARTTLS: pump a probe.codecs.starttls dialog over an open connection.

Two pumps for the two kinds of connection the TLS check uses: an asyncio Conversation (the raw
hellos) and a connected socket in a worker thread (the pyOpenSSL full handshake). Both stop at
the dialog's outcome; the caller then speaks TLS on the same connection.
"""

from __future__ import annotations

import socket
import time

from probe.codecs.starttls import StartTlsDialog, StartTlsError, StartTlsOutcome
from probe.net.stream import Conversation

__all__ = ["negotiate", "negotiate_blocking"]

_CHUNK = 16384


async def negotiate(conversation: Conversation, dialog: StartTlsDialog) -> StartTlsOutcome:
    """Run the dialog; raises StartTlsError (the codec's) or TransportError (the edge's)."""
    while not dialog.finished:
        if dialog.expects_reply:
            await conversation.exchange(dialog.request, dialog)
            if not dialog.done:
                raise StartTlsError(f"the server closed the connection during {dialog.protocol}")
        else:
            conversation.send(dialog.request)
        dialog.advance()
    return dialog.outcome


def negotiate_blocking(
    sock: socket.socket, dialog: StartTlsDialog, deadline: float
) -> StartTlsOutcome:
    """The same on a blocking socket, all of it before ``deadline`` (time.monotonic()).
    Raises StartTlsError, or OSError/TimeoutError from the socket."""
    while not dialog.finished:
        if dialog.request:
            sock.settimeout(_remaining(deadline))
            sock.sendall(dialog.request)
        while dialog.expects_reply and not dialog.done:
            sock.settimeout(_remaining(deadline))
            data = sock.recv(_CHUNK)
            if not data:
                raise StartTlsError(f"the server closed the connection during {dialog.protocol}")
            dialog.feed(data)
        dialog.advance()
    return dialog.outcome


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("STARTTLS timed out")
    return left
