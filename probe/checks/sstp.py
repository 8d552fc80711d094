"""The SSTP check: the listener's TLS grade, then SSTP itself over TLS and over plain TCP.

[MS-SSTP] 3.2.4.1: a client sends SSTP_DUPLEX_POST to the fixed URI inside TLS, expects HTTP
200 with an "infinite" Content-Length, then a Call Connect Request; the Call Connect Ack
offers the crypto-binding hashes (2.2.10, 2.2.6), and the server's first PPP LCP
Configure-Request names the authentication it wants (RFC 1661 6.2). We stop there and send a
Call Disconnect: no credentials, no PPP session. The same request over plain TCP tells
whether the server speaks SSTP without TLS at all (only right behind a TLS-terminating proxy).

Three connections beside the TLS grade (one over TLS, one in the clear), every await timed
out, every read capped.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
import uuid
from dataclasses import dataclass, field, replace

from probe.checks import tls as tls_check
from probe.checks.context import CheckContext, error_result
from probe.codecs import sstp
from probe.codecs.errors import DecodeError
from probe.model import (
    ErrorInfo,
    ErrorReason,
    SstpFacts,
    Status,
    Target,
    TargetResult,
    TlsFacts,
)
from probe.net.stream import TransportError, resolve

MAX_READ = 16 * 1024  # bytes read from one SSTP conversation before giving up on it
# After the Call Connect Ack the server's LCP Configure-Request comes at once (pppd starts);
# wait at most this long for it so that a server that waits for us costs little.
LCP_WAIT = 2.0
MAX_PACKETS = 32  # SSTP packets read while looking for the LCP Configure-Request


@dataclass
class _Exchange:
    """What one SSTP conversation (over TLS or in the clear) showed."""

    connected: bool = False
    http_status: int | None = None
    server: str | None = None
    accepted: bool = False
    call_connect: str | None = None
    hash_protocols: tuple[str, ...] = ()
    auth_protocol: str | None = None
    problem: str | None = None  # why it ended early (for the incomplete map)
    error: TransportError | None = None


@dataclass
class _Stream:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    deadline: float
    budget: int = MAX_READ
    buffered: bytearray = field(default_factory=bytearray)

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        await asyncio.wait_for(self.writer.drain(), left)

    async def read(self, limit: float | None = None) -> bytes:
        left = self.deadline - time.monotonic()
        if limit is not None:
            left = min(left, limit)
        if left <= 0 or self.budget <= 0:
            raise TimeoutError
        data = await asyncio.wait_for(self.reader.read(min(4096, self.budget)), left)
        self.budget -= len(data)
        return data


def _client_tls_context() -> ssl.SSLContext:
    # Only the SSTP layer is measured here; the TLS grade has its own probes. Accept any
    # certificate and any version the local OpenSSL can still speak.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with contextlib.suppress(ValueError, ssl.SSLError):
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.set_ciphers("ALL:@SECLEVEL=0")
    return context


async def _conversation(
    target: Target, address: str, ctx: CheckContext, *, use_tls: bool
) -> _Exchange:
    options = ctx.options
    out = _Exchange()
    host = target.server_name or target.host
    correlation = str(uuid.UUID(bytes=ctx.random_bytes(16))).upper()
    async with ctx.limits.slot(address, target.port):
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    address,
                    target.port,
                    ssl=_client_tls_context() if use_tls else None,
                    server_hostname=(target.server_name or "") if use_tls else None,
                    limit=MAX_READ,
                ),
                options.timeout,
            )
        except TimeoutError:
            out.error = TransportError(ErrorReason.TIMEOUT, "connect timed out")
            return out
        except ssl.SSLError as exc:
            out.error = TransportError(ErrorReason.NOT_TLS, f"TLS handshake failed: {exc}")
            return out
        except OSError as exc:
            out.error = _os_error(exc)
            return out
        out.connected = True
        stream = _Stream(reader, writer, time.monotonic() + options.timeout)
        try:
            await _talk(stream, host, correlation, out)
        except TimeoutError:
            out.problem = out.problem or "timed out"
        except (ConnectionError, ssl.SSLError, OSError) as exc:
            out.problem = out.problem or f"connection ended: {type(exc).__name__}"
        except DecodeError as exc:
            out.problem = f"protocol error: {exc}"
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
    return out


async def _talk(stream: _Stream, host: str, correlation: str, out: _Exchange) -> None:
    await stream.write(sstp.build_duplex_post(host, correlation))
    # [MS-SSTP] 3.2.4.1: the HTTP answer head.
    while True:
        data = await stream.read()
        if not data:
            out.problem = "closed before an HTTP answer" if not stream.buffered else None
            if stream.buffered:
                out.problem = "closed in the middle of the HTTP answer"
            return
        stream.buffered += data
        parsed = sstp.parse_http_head(bytes(stream.buffered))
        if parsed is not None:
            break
    answer, used = parsed
    del stream.buffered[:used]
    out.http_status = answer.status
    out.server = answer.server
    if not sstp.is_sstp_accept(answer):
        return
    out.accepted = True
    # [MS-SSTP] 2.2.9: Call Connect Request; the answer is an Ack, a Nak or an Abort.
    await stream.write(sstp.build_call_connect_request())
    framer = sstp.SstpReader()
    packets = framer.feed(bytes(stream.buffered))
    stream.buffered.clear()
    seen = 0
    waiting_for_lcp = False
    lcp_deadline = 0.0
    while seen < MAX_PACKETS:
        while not packets:
            limit = max(0.0, lcp_deadline - time.monotonic()) if waiting_for_lcp else None
            try:
                data = await stream.read(limit)
            except TimeoutError:
                if waiting_for_lcp:
                    out.problem = None  # an ack without LCP is a complete answer
                    return
                raise
            if not data:
                return
            packets = framer.feed(data)
        packet = packets.pop(0)
        seen += 1
        if packet.control:
            name = sstp.MESSAGE_NAMES.get(packet.message_type or 0, "")
            if out.call_connect is None and name == "CALL_CONNECT_ACK":
                ack = sstp.parse_call_connect_ack(packet)
                out.call_connect = "ack"
                out.hash_protocols = ack.hash_protocols
                waiting_for_lcp = True
                lcp_deadline = time.monotonic() + LCP_WAIT
            elif out.call_connect is None and name == "CALL_CONNECT_NAK":
                out.call_connect = "nak"
                return
            elif name in ("CALL_ABORT", "CALL_DISCONNECT"):
                out.call_connect = out.call_connect or "abort"
                return
            continue
        lcp = sstp.parse_ppp_lcp(packet.data)
        if lcp is not None:
            out.auth_protocol = lcp.auth_protocol
            with contextlib.suppress(OSError):
                stream.writer.write(sstp.build_call_disconnect())
                await asyncio.wait_for(stream.writer.drain(), 1.0)
            return


def _not_tls(exchange: _Exchange) -> bool:
    return exchange.error is not None and exchange.error.reason is ErrorReason.NOT_TLS


def _os_error(exc: OSError) -> TransportError:
    if isinstance(exc, ConnectionRefusedError):
        return TransportError(ErrorReason.REFUSED, "connection refused")
    if isinstance(exc, ConnectionResetError):
        return TransportError(ErrorReason.RESET, "connection reset")
    return TransportError(ErrorReason.UNREACHABLE, exc.strerror or type(exc).__name__)


async def run(target: Target, ctx: CheckContext) -> TargetResult:
    started = time.monotonic()
    try:
        address = await resolve(target.host, target.port, ctx.options.timeout)
    except TransportError as exc:
        return error_result(target, exc.reason, exc.message, started)
    # The TLS grade and the two SSTP conversations are independent: run them together.
    tls_target = replace(target, check="tls")
    graded, over_tls, in_clear = await asyncio.gather(
        tls_check.run(tls_target, ctx),
        _conversation(target, address, ctx, use_tls=True),
        _conversation(target, address, ctx, use_tls=False),
    )
    tls_facts: TlsFacts | None = graded.tls
    incomplete: dict[str, str] = {}
    # A listener that speaks SSTP in the clear and fails a TLS handshake in any way (some
    # wait for more of an "HTTP request" until a timer fires) simply has no TLS.
    plain_only = in_clear.accepted and not over_tls.accepted
    if plain_only:
        over_tls_fact: bool | None = False
    elif over_tls.connected or _not_tls(over_tls):
        over_tls_fact = over_tls.accepted
    else:
        over_tls_fact = None
    if not plain_only and over_tls.error is not None and not _not_tls(over_tls):
        incomplete["sstp over TLS"] = over_tls.error.message
    elif over_tls.accepted and over_tls.problem:
        incomplete["sstp over TLS"] = over_tls.problem
    if in_clear.error is not None:
        incomplete["sstp in the clear"] = in_clear.error.message
    if over_tls.accepted and graded.error is not None:
        incomplete["tls grade"] = f"{graded.error.reason.value}: {graded.error.message}"
    best = over_tls if over_tls.accepted else in_clear
    facts = SstpFacts(
        sstp=over_tls.accepted or in_clear.accepted,
        over_tls=over_tls_fact,
        plain_http=in_clear.accepted if in_clear.connected else None,
        hash_protocols=best.hash_protocols,
        server=over_tls.server or in_clear.server,
        http_status=over_tls.http_status,
        call_connect=best.call_connect,
        auth_protocol=best.auth_protocol,
        connections=int(over_tls.connected) + int(in_clear.connected),
        incomplete=incomplete,
    )
    status, error = Status.COMPLETED, None
    if not facts.sstp:
        failure = over_tls.error or in_clear.error
        if failure is not None and not (over_tls.connected or in_clear.connected or
                                        _not_tls(over_tls)):  # fmt: skip
            status, error = Status.ERROR, ErrorInfo(failure.reason, failure.message)
        else:
            answer = over_tls.http_status or in_clear.http_status
            said = f"HTTP {answer}" if answer else "no HTTP answer"
            status = Status.ERROR
            error = ErrorInfo(ErrorReason.NOT_SSTP, f"not an SSTP server ({said})")
        incomplete.clear()  # nothing SSTP to measure
    return TargetResult(
        target=target,
        status=status,
        error=error,
        tls=tls_facts,
        duration_seconds=time.monotonic() - started,
        sstp=facts,
    )
