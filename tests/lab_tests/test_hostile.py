"""Each hostile peer misbehaves exactly as documented, from sync and async code."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from tests.lab import hostile
from tests.lab.clients import client_hello

HELLO = client_hello()


def _connect(server: hostile.HostileServer, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=timeout)
    return sock


def _read_all(sock: socket.socket, limit: int = 1 << 20) -> bytes:
    data = b""
    while len(data) < limit:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_garbage_then_clean_close(garbage_server: hostile.HostileServer) -> None:
    with _connect(garbage_server) as sock:
        sock.sendall(HELLO)
        data = _read_all(sock)
    assert data == hostile.GARBAGE
    assert data[:1] != b"\x16"
    assert garbage_server.connections == 1
    assert garbage_server.received == [HELLO]


def test_silent_never_answers(silent_server: hostile.HostileServer) -> None:
    with _connect(silent_server, timeout=1.0) as sock:
        sock.sendall(HELLO)
        with pytest.raises(TimeoutError):
            sock.recv(1)
    deadline = time.monotonic() + 2
    while silent_server.received != [HELLO] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert silent_server.received == [HELLO]


def test_huge_length_claims_16_mb(huge_length_server: hostile.HostileServer) -> None:
    with _connect(huge_length_server) as sock:
        sock.sendall(HELLO)
        head = b""
        while len(head) < 9:
            head += sock.recv(9 - len(head))
        assert head[:5] == b"\x16\x03\x03\x40\x00"  # one full-size handshake record
        assert head[5] == 2  # ServerHello
        assert int.from_bytes(head[6:9], "big") == 0xFFFFFF  # claimed: 16 MB
        # More records keep coming, slowly.
        sock.settimeout(3)
        got = 0
        while got < 0x4000 - 4 + 5:
            got += len(sock.recv(65536))
        assert got >= 0x4000 - 4 + 5


def test_reset_mid_handshake(reset_server: hostile.HostileServer) -> None:
    with _connect(reset_server) as sock:
        sock.sendall(HELLO)
        data = b""
        with pytest.raises(ConnectionResetError):
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break  # a FIN would be a bug: the assertion below reports it
                data += chunk
                time.sleep(0.05)
    full = hostile.server_hello_record()
    assert data == full[: len(full) // 2]


def test_trickle_one_byte_per_interval() -> None:
    server = hostile.trickle_server(interval=0.2)
    with server as (host, port), socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(HELLO)
        started = time.monotonic()
        data = b""
        while len(data) < 6:
            data += sock.recv(65536)
        elapsed = time.monotonic() - started
    assert data == hostile.server_hello_record()[: len(data)]
    assert elapsed >= 0.2 * (len(data) - 1) - 0.05


def test_trickle_default_is_one_byte_a_second(trickle_server: hostile.HostileServer) -> None:
    with _connect(trickle_server) as sock:
        sock.sendall(HELLO)
        first = sock.recv(100)
        started = time.monotonic()
        second = sock.recv(100)
        assert time.monotonic() - started > 0.7
    assert (first + second) == hostile.server_hello_record()[:2]


def test_server_hello_record_is_well_formed() -> None:
    record = hostile.server_hello_record()
    assert record[:3] == b"\x16\x03\x03"
    assert int.from_bytes(record[3:5], "big") == len(record) - 5
    assert record[5] == 2
    assert int.from_bytes(record[6:9], "big") == len(record) - 9


def test_eof_sends_nothing(eof_server: hostile.HostileServer) -> None:
    with _connect(eof_server) as sock:
        sock.sendall(HELLO)
        assert sock.recv(10) == b""


async def test_works_from_async_code() -> None:
    async with hostile.garbage_server() as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(HELLO)
        data = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        await writer.wait_closed()
    assert data == hostile.GARBAGE
    async with hostile.silent_server() as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(HELLO)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.read(1), 0.5)
        writer.close()


@pytest.mark.parametrize("name", list(hostile.HOSTILE_SERVERS))
def test_shutdown_with_clients_still_connected(name: str) -> None:
    server = hostile.HOSTILE_SERVERS[name]()
    host, port = server.start()
    socks = [socket.create_connection((host, port), timeout=5) for _ in range(5)]
    for sock in socks:
        sock.sendall(HELLO)
    time.sleep(0.1)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 5
    for sock in socks:
        sock.close()
    with pytest.raises(OSError):
        socket.create_connection((host, port), timeout=1).close()
