"""Credentialed and guest SMB probes: session and share encryption, and guest access.

NTLM and SMB session setup come from smbprotocol (a maintained library) rather than from
probe's own codec, which never authenticates. smbprotocol is synchronous: each probe runs one
connection in a worker thread (``asyncio.to_thread``) under ``asyncio.wait_for``. Its own
waits are bounded too: the TCP connect and the NEGOTIATE wait get a backstop just over
``timeout``, and because its SESSION_SETUP and TREE_CONNECT waits have none, the socket is
closed at the deadline (which wakes every wait in the thread), so no worker thread outlives a
probe by more than a moment and ``asyncio.run`` never waits on one at exit. Its Direct TCP
reader is also bounded to SMB's 16 MB (smbprotocol would allocate whatever 32-bit length a
peer announces).

What is read, and from where:

* SessionFlags (IS_GUEST 0x1, IS_NULL 0x2, ENCRYPT_DATA 0x4) and ShareFlags (ENCRYPT_DATA
  0x8000) are read from the raw SESSION_SETUP and TREE_CONNECT responses as they pass through
  ``Connection.receive`` (wrapped on the instance), not from smbprotocol's derived state:
  smbprotocol keeps no session flags, and fills ``TreeConnect.encrypt_data`` only for 3.x
  connections that support encryption. It also raises on some sessions the server *did*
  grant (a guest session when signing is required), and the raw flags still tell the truth.
* The client offers encryption (CAP_ENCRYPTION, every cipher) but does not demand it
  (``Session(require_encryption=False)``), so ENCRYPT_DATA is the server's own demand. When
  the server demands it, smbprotocol complies: it encrypts every later message on that session
  (session flag) or tree (share flag), and raises "SMB encryption is required but the
  connection does not support it" if the negotiated connection cannot encrypt.

Secrets: the password goes to smbprotocol only. It is never logged by this module and every
text returned is scrubbed of it (and of the random guest password).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import secrets
import struct
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from probe.codecs.smb2 import status_name
from probe.model import ShareFacts, SmbAuthFacts

SESSION_FLAG_IS_GUEST = 0x0001
SESSION_FLAG_IS_NULL = 0x0002
SESSION_FLAG_ENCRYPT_DATA = 0x0004
SHAREFLAG_ENCRYPT_DATA = 0x00008000
STATUS_SUCCESS = 0x00000000
STATUS_ACCESS_DENIED = 0xC0000022
STATUS_MORE_PROCESSING_REQUIRED = 0xC0000016
SMB2_SESSION_SETUP = 0x0001
SMB2_TREE_CONNECT = 0x0003

T = TypeVar("T")


class _Failed(Exception):
    """A probe that could not tell: the text is already scrubbed and finding-free."""


@dataclass
class _Seen:
    """SESSION_SETUP and TREE_CONNECT outcomes, recorded from the raw responses."""

    session_status: int | None = None
    session_flags: int | None = None
    tree_status: int | None = None
    share_flags: int | None = None


class _OversizedMessage(ValueError):
    """The server announced a message longer than SMB allows (a hostile or non-SMB peer)."""


MAX_SMB_MESSAGE = 0xFFFFFF  # [MS-SMB2] 2.1: Direct TCP's length is 24 bits (first byte zero)


def _bound_recv(tcp: Any) -> None:
    """Make ``tcp.recv`` refuse a length over 16 MB before allocating it.

    smbprotocol's ``Tcp.recv`` reads the 4-byte Direct TCP length as 32 bits and allocates that
    much at once: a peer answering "SSH-2.0..." makes it allocate 1.4 GB. This is the same
    logic with a check in between (it uses ``Tcp._recv``, smbprotocol 1.x).
    """

    def recv(timeout: float) -> bytes | None:
        head, timeout = tcp._recv(4, timeout)
        if not head:
            return b""
        size = struct.unpack(">L", head)[0]
        if size > MAX_SMB_MESSAGE:
            raise _OversizedMessage(
                f"not SMB: the answer's length field says {size} bytes "
                f"(Direct TCP allows {MAX_SMB_MESSAGE})"
            )
        data: bytes | None = tcp._recv(size, timeout)[0]
        return data

    tcp.recv = recv


@functools.cache
def _connection_class() -> Any:
    """smbprotocol's Connection, with every transport it creates length-bounded."""
    from smbprotocol.connection import Connection

    # smbprotocol logs a traceback when its receiver thread stops on a bad answer, and a
    # warning on a reset; with no logging configured, Python would print them on stderr. A
    # NullHandler keeps them quiet unless the application configures logging itself.
    for name in ("smbprotocol", "spnego"):
        logging.getLogger(name).addHandler(logging.NullHandler())

    class BoundedConnection(Connection):  # type: ignore[misc]
        @property
        def transport(self) -> Any:
            return self.__dict__.get("_probe_transport")

        @transport.setter
        def transport(self, value: Any) -> None:
            if value is not None:
                _bound_recv(value)
            self.__dict__["_probe_transport"] = value

    return BoundedConnection


class _Attempt:
    """One smbprotocol connection driven from a worker thread.

    ``abort()`` may be called from any thread: it closes the socket, which makes smbprotocol's
    receiver thread stop and every pending wait in the worker raise.
    """

    def __init__(self, host: str, port: int, timeout: float, *, require_signing: bool) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.require_signing = require_signing
        self.seen = _Seen()
        self.aborted = threading.Event()
        self._conn: Any = None
        self._lock = threading.Lock()

    def connect(self) -> Any:
        conn = _connection_class()(
            uuid.uuid4(), self.host, self.port, require_signing=self.require_signing
        )
        self._wrap_receive(conn)
        with self._lock:
            if self.aborted.is_set():
                raise _Failed(self.timeout_text())
            self._conn = conn
        # A backstop for the TCP connect and the NEGOTIATE wait; the caller's deadline governs.
        # One second more because smbprotocol rounds its wait down to whole seconds.
        conn.connect(timeout=math.ceil(self.timeout) + 1)
        with self._lock:
            # An abort() that came while the socket was still connecting could not close it.
            if self.aborted.is_set():
                conn.transport.close()
                raise _Failed(self.timeout_text())
        return conn

    def _wrap_receive(self, conn: Any) -> None:
        from smbprotocol.exceptions import SMBResponseException
        from smbprotocol.session import SMB2SessionSetupResponse
        from smbprotocol.tree import SMB2TreeConnectResponse

        original = conn.receive
        seen = self.seen

        def record(header: Any) -> None:
            command = header["command"].get_value()
            status = header["status"].get_value()
            if command == SMB2_SESSION_SETUP:
                if status == STATUS_MORE_PROCESSING_REQUIRED:
                    return  # a leg of NTLM, not an outcome
                seen.session_status = status
                if status == STATUS_SUCCESS:
                    body = SMB2SessionSetupResponse()
                    body.unpack(header["data"].get_value())
                    seen.session_flags = int(body["session_flags"].get_value())
            elif command == SMB2_TREE_CONNECT:
                seen.tree_status = status
                if status == STATUS_SUCCESS:
                    body = SMB2TreeConnectResponse()
                    body.unpack(header["data"].get_value())
                    seen.share_flags = int(body["share_flags"].get_value())

        def receive(request: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                header = original(request, *args, **kwargs)
            except SMBResponseException as exc:
                record(exc.header)
                raise
            record(header)
            return header

        conn.receive = receive

    def timeout_text(self) -> str:
        return f"no answer within {self.timeout:g} s"

    def abort(self) -> None:
        with self._lock:
            self.aborted.set()
            conn = self._conn
        if conn is not None and conn.transport is not None:
            with contextlib.suppress(Exception):  # a socket that is already broken
                conn.transport.close()

    def abort_in_background(self) -> None:
        # Tcp.close can wait for a TCP connect in progress (itself bounded by the timeout):
        # never block the event loop on it.
        threading.Thread(target=self.abort, name="smb-auth-abort", daemon=True).start()

    def close(self) -> None:
        """Drop the connection without LOGOFF/TREE_DISCONNECT round trips (they wait with no
        timeout in smbprotocol, and the server cleans up a closed connection anyway)."""
        conn = self._conn
        if conn is not None and conn.transport is not None:
            with contextlib.suppress(Exception):  # best effort on an already failed connection
                conn.disconnect(close=False)


def _scrub(text: str, hidden: tuple[str, ...]) -> str:
    for secret in hidden:
        if secret:
            text = text.replace(secret, "***")
    return text


def _status_text(status: int) -> str:
    name = status_name(status)
    if name.startswith("0x"):
        from smbprotocol.header import NtStatus

        for key, value in vars(NtStatus).items():
            if key.startswith("STATUS_") and value == status:
                return str(key)
    return name


def _error_text(exc: BaseException, attempt: _Attempt, hidden: tuple[str, ...]) -> str:
    """A short, finding-free, scrubbed description of why a step failed."""
    from smbprotocol.exceptions import SMBConnectionClosed, SMBResponseException

    if isinstance(exc, SMBResponseException):
        return _status_text(int(exc.status))
    if isinstance(exc, _Failed | _OversizedMessage):
        text = str(exc)
    elif attempt.aborted.is_set():
        text = attempt.timeout_text()
    elif isinstance(exc, ValueError) and str(exc).startswith("Failed to connect"):
        # smbprotocol's TCP connect failure: "Failed to connect to 'h:p': [Errno 111] ..."
        cause = exc.__cause__
        reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(cause)
        text = f"could not connect to {attempt.host}:{attempt.port}: {reason}"
    elif isinstance(exc, SMBConnectionClosed):
        text = "the server closed the connection"
    elif isinstance(exc, TimeoutError) or "timeout" in str(exc).lower():
        text = attempt.timeout_text()
    else:
        text = f"{type(exc).__name__}: {exc}"
    return _scrub(text, hidden)


async def _in_thread(work: Callable[[], T], attempt: _Attempt, timeout: float) -> T:
    """Run ``work`` in a worker thread; at the deadline (or on cancellation) close its socket
    so the thread ends too, and raise _Failed (or re-raise the cancellation)."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(work), timeout)
    except TimeoutError:
        attempt.abort_in_background()
        raise _Failed(attempt.timeout_text()) from None
    except asyncio.CancelledError:
        attempt.abort_in_background()
        raise


def _flag(flags: int | None, bit: int) -> bool | None:
    return None if flags is None else bool(flags & bit)


def _unc(host: str, share: str) -> str:
    if share.startswith("\\\\"):
        return share
    server = f"[{host}]" if ":" in host else host  # an IPv6 literal
    name = share.strip("\\")
    return f"\\\\{server}\\{name}"


async def probe_credentials(
    host: str,
    port: int,
    *,
    user: str,
    password: str,
    domain: str = "",
    share: str | None,
    timeout: float,
) -> SmbAuthFacts:
    """Log in with NTLM as ``user`` (``domain\\user`` when ``domain`` is given), then tree
    connect to ``share`` if named. Never raises for network, protocol or login failures:
    they come back as ``auth_error`` (and ``authenticated`` None when the login could not be
    tried). ``timeout`` bounds the whole probe."""
    hidden = (password,)
    # Signing on: SMB 3.1.1 servers (Samba included) refuse an unsigned TREE_CONNECT on an
    # authenticated session. It does not change what the server says about encryption.
    attempt = _Attempt(host, port, timeout, require_signing=True)
    username = f"{domain}\\{user}" if domain else user
    outcome: dict[str, Any] = {"auth_error": None, "share_error": None}

    def work() -> None:
        from smbprotocol.session import Session
        from smbprotocol.tree import TreeConnect

        try:
            conn = attempt.connect()
            session = Session(
                conn, username, password, require_encryption=False, auth_protocol="ntlm"
            )
            try:
                session.connect()
            except Exception as exc:
                outcome["auth_error"] = _error_text(exc, attempt, hidden)
                return
            if share is None:
                return
            try:
                TreeConnect(session, _unc(host, share)).connect(require_secure_negotiate=False)
            except Exception as exc:
                outcome["share_error"] = _error_text(exc, attempt, hidden)
        except Exception as exc:
            outcome["auth_error"] = _error_text(exc, attempt, hidden)
        finally:
            attempt.close()

    try:
        await _in_thread(work, attempt, timeout)
    except _Failed as exc:
        outcome["auth_error"] = _scrub(str(exc), hidden)

    seen = attempt.seen
    granted = seen.session_status == STATUS_SUCCESS and seen.session_flags is not None
    is_guest = _flag(seen.session_flags, SESSION_FLAG_IS_GUEST | SESSION_FLAG_IS_NULL)
    authenticated: bool | None
    auth_error = outcome["auth_error"]
    if granted and is_guest:
        authenticated = False
        auth_error = "the credentials were not accepted: the server gave a guest session"
    elif granted and auth_error is not None:
        # The server said SUCCESS, then smbprotocol gave up on the session: its signature did
        # not verify (a server that does not know the password), or it demands encryption the
        # connection cannot do. Whether the credentials were really accepted is not told.
        authenticated = None
        auth_error = f"session granted, then: {auth_error}"
    elif granted:
        authenticated = True
    elif seen.session_status is not None:  # the server answered the login with an error
        authenticated = False
        auth_error = auth_error or _status_text(seen.session_status)
    else:
        authenticated = None  # the login could not be tried (connect, negotiate, timeout)

    shares: dict[str, ShareFacts] = {}
    if share is not None:
        if seen.tree_status == STATUS_SUCCESS:
            shares[share] = ShareFacts(
                encrypt_data=_flag(seen.share_flags, SHAREFLAG_ENCRYPT_DATA),
                accessible=True,
                error=outcome["share_error"],
            )
        else:
            if seen.tree_status is not None:
                error = _status_text(seen.tree_status)
            elif granted and is_guest:
                error = "not tried: the login became a guest session"
            elif granted:
                error = outcome["share_error"] or auth_error or "not tried"
            else:
                error = "not tried: no session"
            shares[share] = ShareFacts(encrypt_data=None, accessible=False, error=error)

    return SmbAuthFacts(
        authenticated=authenticated,
        auth_error=_scrub(auth_error, hidden) if auth_error else None,
        session_encrypt_data=_flag(seen.session_flags, SESSION_FLAG_ENCRYPT_DATA),
        session_is_guest=is_guest,
        shares=shares,
    )


async def probe_guest(host: str, port: int, *, timeout: float) -> tuple[bool | None, str]:
    """Log in as a random, non-existent user with a random password.

    The scan's own guest probe (probe.checks.smb._guest_access) uses probe's codec and costs no
    smbprotocol import; this smbprotocol version is the second implementation its tests agree with.

    True: the server gave a session anyway (a guest session, or, worse, a real one);
    False: it refused the login (the status is the evidence); None: it could not be told
    (connect failure, timeout, no session setup answer). The evidence never holds the
    password. Signing is not required by the client (a guest session cannot sign); if the
    server requires it, smbprotocol gives up on the guest session after the server granted it,
    and the recorded response still shows the grant.
    """
    user = f"probe-{secrets.token_hex(6)}"
    password = secrets.token_urlsafe(18)
    hidden = (password,)
    attempt = _Attempt(host, port, timeout, require_signing=False)
    outcome: dict[str, str | None] = {"error": None}

    def work() -> None:
        from smbprotocol.session import Session

        try:
            conn = attempt.connect()
            Session(conn, user, password, require_encryption=False, auth_protocol="ntlm").connect()
        except Exception as exc:
            outcome["error"] = _error_text(exc, attempt, hidden)
        finally:
            attempt.close()

    try:
        await _in_thread(work, attempt, timeout)
    except _Failed as exc:
        outcome["error"] = _scrub(str(exc), hidden)

    seen = attempt.seen
    if seen.session_status == STATUS_SUCCESS and seen.session_flags is not None:
        flags = seen.session_flags
        if flags & SESSION_FLAG_IS_GUEST:
            how = "a guest session (SessionFlags IS_GUEST)"
        elif flags & SESSION_FLAG_IS_NULL:
            how = "an anonymous session (SessionFlags IS_NULL)"
        else:
            how = "a full session without the guest flag"
        return True, (
            f"unknown user {user!r} with a random password got {how}, SessionFlags 0x{flags:04X}"
        )
    if seen.session_status is not None:
        status = _status_text(seen.session_status)
        note = ""
        if seen.session_status == STATUS_ACCESS_DENIED:
            note = " (what Samba answers when it requires encryption: guests cannot encrypt)"
        return False, f"unknown user {user!r} with a random password was refused: {status}{note}"
    return None, _scrub(outcome["error"] or "no SESSION_SETUP answer", hidden)
