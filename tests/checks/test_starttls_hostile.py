"""STARTTLS targets against misbehaving plaintext servers on 127.0.0.1 (tests.lab.hostile).

Real sockets and the real TLS check; only the server side is scripted, because no real
server injects bytes after its go-ahead or trickles its greeting. The real servers are in
tests/lab_tests/test_starttls_scan.py.
"""

from __future__ import annotations

import asyncio
import time

from probe.checks import tls
from probe.checks.context import CheckContext, ScanOptions
from probe.model import ErrorReason, Status, Target, TargetResult
from probe.net.limits import Limits
from tests.lab.hostile import HostileServer, Reader, Writer, server_hello_record


def scan(scheme: str, host: str, port: int, *, timeout: float = 2.0) -> TargetResult:
    target = Target(f"{scheme}://{host}:{port}", host, port, "tls", None, scheme)
    options = ScanOptions(timeout=timeout, retries=0)

    async def go() -> TargetResult:
        limits = Limits(concurrency=options.concurrency, per_host=options.per_host)
        return await tls.run(target, CheckContext(options=options, limits=limits))

    return asyncio.run(go())


async def smtp_until_starttls(reader: Reader, writer: Writer, *, advertise: bool = True) -> None:
    writer.write(b"220 hostile.example ESMTP\r\n")
    await writer.drain()
    await reader.readline()  # EHLO
    writer.write(
        b"250-hostile.example\r\n" + (b"250-STARTTLS\r\n" if advertise else b"") + b"250 HELP\r\n"
    )
    await writer.drain()
    await reader.readline()  # STARTTLS


def smtp_server(name: str, after_starttls: bytes, *, advertise: bool = True) -> HostileServer:
    async def handle(srv: HostileServer, reader: Reader, writer: Writer) -> None:
        await smtp_until_starttls(reader, writer, advertise=advertise)
        writer.write(after_starttls)
        await writer.drain()
        srv.received.append(await reader.read(4096))

    return HostileServer(name, handle)


def test_injected_bytes_after_the_go_ahead_are_a_protocol_error() -> None:
    server = smtp_server("inject", b"220 go ahead\r\n250 injected\r\n")
    with server as (host, port):
        result = scan("smtp", host, port)
    assert result.status is Status.ERROR
    assert result.error is not None and result.error.reason is ErrorReason.PROTOCOL_ERROR
    assert "go-ahead" in result.error.message
    assert not [r for r in server.received if r.startswith(b"\x16")]  # no hello was sent


def test_refused_upgrade_is_a_completed_plaintext_result() -> None:
    server = smtp_server("refuse", b"454 4.7.0 TLS not available due to local problem\r\n")
    with server as (host, port):
        result = scan("smtp", host, port)
    assert result.status is Status.COMPLETED, result.error
    assert result.tls is None
    assert result.starttls is not None
    assert (result.starttls.offered, result.starttls.advertised) == (False, True)
    assert result.starttls.reply.startswith("454 4.7.0")
    assert server.connections == 2  # the two openers; nothing more is tried


def test_unadvertised_and_refused() -> None:
    with smtp_server("noext", b"502 5.5.1 unknown command\r\n", advertise=False) as (host, port):
        result = scan("submission", host, port)
    assert result.starttls is not None
    assert result.starttls.protocol == "smtp"
    assert (result.starttls.offered, result.starttls.advertised) == (False, False)


def test_silent_server_times_out_with_a_clear_reason() -> None:
    async def handle(srv: HostileServer, reader: Reader, writer: Writer) -> None:
        await reader.read(4096)  # never greets

    with HostileServer("mute", handle) as (host, port):
        started = time.monotonic()
        result = scan("imap", host, port, timeout=1.0)
        elapsed = time.monotonic() - started
    assert result.error is not None and result.error.reason is ErrorReason.TIMEOUT
    assert "STARTTLS (imap)" in result.error.message
    assert elapsed < 8  # the openers time out together, nothing else waits


def test_trickled_greeting_cannot_extend_the_deadline() -> None:
    async def handle(srv: HostileServer, reader: Reader, writer: Writer) -> None:
        for byte in b"220-" + b"x" * 100:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.1)

    with HostileServer("trickle", handle) as (host, port):
        result = scan("ftp", host, port, timeout=1.0)
    assert result.error is not None and result.error.reason is ErrorReason.TIMEOUT


def test_endless_reply_is_capped() -> None:
    async def handle(srv: HostileServer, reader: Reader, writer: Writer) -> None:
        writer.write(b"220-welcome\r\n")
        for _ in range(2000):
            writer.write(b"220-" + b"y" * 200 + b"\r\n")
            await writer.drain()
        await reader.read(1)

    with HostileServer("endless", handle) as (host, port):
        result = scan("smtp", host, port)
    assert result.error is not None and result.error.reason is ErrorReason.PROTOCOL_ERROR
    assert "exceeds" in result.error.message or "lines" in result.error.message


def test_wrong_protocol_is_named() -> None:
    async def handle(srv: HostileServer, reader: Reader, writer: Writer) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.2p1\r\n")
        await writer.drain()
        await reader.read(4096)

    with HostileServer("ssh", handle) as (host, port):
        result = scan("pop3", host, port)
    assert result.error is not None and result.error.reason is ErrorReason.PROTOCOL_ERROR
    assert "not a POP3 greeting" in result.error.message


def test_tls_after_the_upgrade_is_read_as_usual() -> None:
    """A fake server that upgrades and answers every hello with one fixed ServerHello: the
    dialog really hands the connection over to the TLS reader."""

    async def handle(srv: HostileServer, reader: Reader, writer: Writer) -> None:
        await smtp_until_starttls(reader, writer)
        writer.write(b"220 go ahead\r\n")
        await writer.drain()
        hello = await reader.read(5)
        srv.received.append(hello)
        writer.write(server_hello_record())
        await writer.drain()
        await reader.read(65536)

    server = HostileServer("upgrade", handle)
    with server as (host, port):
        result = scan("smtp", host, port)
    assert result.starttls is not None and result.starttls.offered
    assert all(r.startswith((b"\x16\x03", b"\x80", b"\x16")) for r in server.received), (
        server.received
    )
    assert result.tls is not None
