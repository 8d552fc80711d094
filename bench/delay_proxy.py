"""A TCP forwarder that adds network latency, for benchmarks on loopback (bench/tls_bench.py).

    python3 bench/delay_proxy.py LISTEN_PORT TARGET_PORT RTT_MS

Each accepted connection waits one round trip before anything is forwarded (the TCP handshake
a remote server would cost), and every chunk then reaches the other side half a round trip
after it was sent, in order, in both directions. Loopback has no latency and this kernel has no
netem qdisc, so without this a scan's fixed costs (interpreter start, imports) hide what
round trips cost a scanner that opens hundreds of connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time

_EOF = b""


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is _EOF:
                with contextlib.suppress(OSError):
                    writer.write_eof()
                return
            writer.write(data)
            with contextlib.suppress(ConnectionError):
                await writer.drain()

    sender = asyncio.create_task(deliver())
    try:
        while data := await reader.read(65536):
            queue.put_nowait((time.monotonic() + delay, data))
    except ConnectionError:
        pass
    queue.put_nowait((time.monotonic() + delay, _EOF))
    await sender


async def _serve(target_port: int, rtt: float, client_r, client_w) -> None:  # type: ignore[no-untyped-def]
    try:
        await asyncio.sleep(rtt)  # the SYN / SYN-ACK round trip
        server_r, server_w = await asyncio.open_connection("127.0.0.1", target_port)
    except OSError:
        client_w.close()
        return
    try:
        await asyncio.gather(_pump(client_r, server_w, rtt / 2), _pump(server_r, client_w, rtt / 2))
    finally:
        for w in (client_w, server_w):
            w.close()


async def main(listen_port: int, target_port: int, rtt_ms: float) -> None:
    rtt = rtt_ms / 1000

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            await _serve(target_port, rtt, r, w)

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])))
