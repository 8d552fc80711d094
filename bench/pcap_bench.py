#!/usr/bin/env python3
"""Speed and memory of ``probe pcap`` against ``tshark -q -z credentials`` on one mixed capture.

    python3 bench/pcap_bench.py                    # 600k packets, best of 1 run each
    python3 bench/pcap_bench.py --packets 1200000 --runs 3 --keep /tmp/mixed.pcap

The capture is generated here (never committed) as pcap records written straight from Python:
Ethernet/IPv4/TCP, many interleaved TCP connections with a handshake, HTTP requests and
responses (some with Basic credentials or an AWS documentation example key), TLS 1.2/1.3
handshakes and application data, and FTP logins. The mix and the sizes (about 600 bytes a
packet on average) follow the synthetic capture of shared/research/pcap-anchors.md.

Each tool runs as a child process (probe as ``python -m probe`` from this tree); its wall time
and peak RSS (``ru_maxrss`` of the child, from ``os.wait4``) are reported with packets/s and
MB/s. tshark is optional: the bench reports probe alone when it is not installed.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)  # µs, EN10MB
_ETH = bytes.fromhex("0200000000020200000000010800")
SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01
MSS = 1448
# The AWS documentation's example key pair: obviously fake, safe to generate.
AWS_EXAMPLE = b"AKIAIOSFODNN7EXAMPLE"
AWS_EXAMPLE_SECRET = b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def _ip_tcp(
    src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int, payload: bytes
) -> bytes:
    total = 40 + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, src, dst)
    tcp = struct.pack(
        "!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 0x50, flags, 65535, 0, 0
    )
    return _ETH + ip + tcp + payload


@dataclass
class _Conn:
    """One generated TCP connection: a script of (from_client, payload) messages."""

    client: bytes
    server: bytes
    sport: int
    dport: int
    script: list[tuple[bool, bytes]]
    cseq: int = 1000
    sseq: int = 5000
    step: int = 0  # -3..-1 handshake, then index into the segments, then FIN

    def packets(self) -> Iterator[bytes]:
        c, s = self.client, self.server
        yield _ip_tcp(c, s, self.sport, self.dport, self.cseq - 1, 0, SYN, b"")
        yield _ip_tcp(s, c, self.dport, self.sport, self.sseq - 1, self.cseq, SYN | ACK, b"")
        yield _ip_tcp(c, s, self.sport, self.dport, self.cseq, self.sseq, ACK, b"")
        for from_client, message in self.script:
            for at in range(0, len(message), MSS):
                chunk = message[at : at + MSS]
                if from_client:
                    yield _ip_tcp(
                        c, s, self.sport, self.dport, self.cseq, self.sseq, ACK | PSH, chunk
                    )
                    self.cseq += len(chunk)
                else:
                    yield _ip_tcp(
                        s, c, self.dport, self.sport, self.sseq, self.cseq, ACK | PSH, chunk
                    )
                    self.sseq += len(chunk)
            # the peer's bare ACK, as a real stack would send
            if from_client:
                yield _ip_tcp(s, c, self.dport, self.sport, self.sseq, self.cseq, ACK, b"")
            else:
                yield _ip_tcp(c, s, self.sport, self.dport, self.cseq, self.sseq, ACK, b"")
        yield _ip_tcp(c, s, self.sport, self.dport, self.cseq, self.sseq, FIN | ACK, b"")
        yield _ip_tcp(s, c, self.dport, self.sport, self.sseq, self.cseq + 1, FIN | ACK, b"")
        yield _ip_tcp(c, s, self.sport, self.dport, self.cseq + 1, self.sseq + 1, ACK, b"")


def _tls_record(kind: int, body: bytes) -> bytes:
    return struct.pack("!BHH", kind, 0x0303, len(body)) + body


def _client_hello(rng: random.Random, host: str) -> bytes:
    name = host.encode()
    sni = struct.pack("!HHHBH", 0, len(name) + 5, len(name) + 3, 0, len(name)) + name
    versions = struct.pack("!HHB", 43, 5, 4) + b"\x03\x04\x03\x03"
    exts = sni + versions
    body = (
        b"\x03\x03"
        + rng.randbytes(32)
        + b"\x00"
        + struct.pack("!H", 4)
        + b"\x13\x01\xc0\x2f"
        + b"\x01\x00"
        + struct.pack("!H", len(exts))
        + exts
    )
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return _tls_record(22, hs)


def _server_hello(rng: random.Random, tls13: bool) -> bytes:
    exts = struct.pack("!HHH", 43, 2, 0x0304) if tls13 else b""
    suite = b"\x13\x01" if tls13 else b"\xc0\x2f"
    body = (
        b"\x03\x03"
        + rng.randbytes(32)
        + b"\x00"
        + suite
        + b"\x00"
        + struct.pack("!H", len(exts))
        + exts
    )
    hs = b"\x02" + len(body).to_bytes(3, "big") + body
    return _tls_record(22, hs) + _tls_record(20, b"\x01")


def _script(rng: random.Random, kind: str, n: int) -> list[tuple[bool, bytes]]:
    if kind == "http":
        out: list[tuple[bool, bytes]] = []
        for i in range(rng.randint(1, 4)):
            extra = b""
            if n % 7 == 0 and i == 0:
                token = base64.b64encode(f"user{n}:fake-password-{n}".encode())
                extra = b"Authorization: Basic " + token + b"\r\n"
            if n % 11 == 0 and i == 0:
                extra += b"X-Amz-Key: " + AWS_EXAMPLE + b" " + AWS_EXAMPLE_SECRET + b"\r\n"
            request = (
                f"GET /item/{n}/{i} HTTP/1.1\r\nHost: shop{n % 50}.example\r\n".encode()
                + b"User-Agent: bench\r\nAccept: */*\r\n"
                + extra
                + b"\r\n"
            )
            body = rng.randbytes(rng.choice((200, 900, 3000, 9000)))
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            out += [(True, request), (False, head + body)]
        return out
    if kind == "tls":
        tls13 = n % 2 == 0
        out = [
            (True, _client_hello(rng, f"api{n % 40}.example")),
            (False, _server_hello(rng, tls13) + _tls_record(23, rng.randbytes(2500))),
        ]
        for _ in range(rng.randint(1, 4)):
            out += [
                (True, _tls_record(23, rng.randbytes(rng.choice((100, 400))))),
                (False, _tls_record(23, rng.randbytes(rng.choice((1200, 5000, 14000))))),
            ]
        return out
    user = f"ftp{n}".encode()
    return [
        (False, b"220 bench FTP server ready\r\n"),
        (True, b"USER " + user + b"\r\n"),
        (False, b"331 Password required\r\n"),
        (True, b"PASS fake-secret-" + str(n).encode() + b"\r\n"),
        (False, b"230 Logged in\r\n"),
        (True, b"PWD\r\n"),
        (False, b'257 "/" is the current directory\r\n'),
        (True, b"QUIT\r\n"),
        (False, b"221 Bye\r\n"),
    ]


def generate(path: Path, packets: int, *, seed: int = 5, concurrent: int = 200) -> int:
    """Write a capture of at least ``packets`` packets; return the number written."""
    rng = random.Random(seed)
    kinds = ("http", "http", "tls", "tls", "tls", "ftp")
    ports = {"http": 80, "tls": 443, "ftp": 21}
    written = 0
    n = 0
    ts = 1_700_000_000_000_000
    active: list[Iterator[bytes]] = []
    with open(path, "wb") as out:
        out.write(_PCAP_HEADER)
        buffer: list[bytes] = []
        while written < packets:
            while len(active) < concurrent:
                kind = kinds[n % len(kinds)]
                client = bytes((10, 1, (n >> 8) & 0xFF, n & 0xFF))
                server = bytes((10, 2, 0, 1 + n % 60))
                conn = _Conn(client, server, 20000 + n % 40000, ports[kind], _script(rng, kind, n))
                active.append(conn.packets())
                n += 1
            index = rng.randrange(len(active))
            frame = next(active[index], None)
            if frame is None:
                active[index] = active[-1]
                active.pop()
                continue
            ts += rng.randint(5, 60)
            buffer.append(
                struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(frame), len(frame))
                + frame
            )
            written += 1
            if len(buffer) >= 4096:
                out.write(b"".join(buffer))
                buffer.clear()
        out.write(b"".join(buffer))
    return written


@dataclass
class Measure:
    seconds: float
    peak_rss_mb: float
    returncode: int


def measure(argv: Sequence[str]) -> Measure:
    """Run a child to completion; its wall time and peak RSS (ru_maxrss is in KiB on Linux)."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measure(seconds, usage.ru_maxrss / 1024, proc.returncode)


def probe_argv(capture: Path, scan_bytes: int | None = None) -> list[str]:
    """probe from this source tree (PYTHONPATH is set to it in main): start-up is a fraction
    of a second, so an installed copy would time the same."""
    argv = [sys.executable, "-m", "probe", "pcap", str(capture), "--json", os.devnull]
    return argv if scan_bytes is None else [*argv, "--scan-bytes", str(scan_bytes)]


def report(name: str, runs: list[Measure], packets: int, size: int) -> None:
    best = min(runs, key=lambda m: m.seconds)
    rss = max(m.peak_rss_mb for m in runs)
    print(
        f"{name:<24} {best.seconds:7.2f} s  {packets / best.seconds / 1000:7.1f} k packets/s  "
        f"{size / best.seconds / 1e6:6.1f} MB/s  peak RSS {rss:6.1f} MB  "
        f"(exit {best.returncode}; median {statistics.median(m.seconds for m in runs):.2f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packets", type=int, default=600_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="write the capture here and keep it")
    parser.add_argument("--no-tshark", action="store_true", help="time probe only")
    parser.add_argument(
        "--scan-bytes",
        type=int,
        action="append",
        help="time probe with this per-direction scan budget (repeatable; default: probe's)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pcap-bench-") as tmp:
        capture = args.keep or Path(tmp) / "mixed.pcap"
        started = time.monotonic()
        packets = generate(capture, args.packets)
        size = capture.stat().st_size
        print(
            f"capture: {packets} packets, {size / 1e6:.1f} MB ({size / packets:.0f} B/packet), "
            f"generated in {time.monotonic() - started:.1f} s"
        )
        os.environ["PYTHONPATH"] = str(ROOT)
        for budget in args.scan_bytes or [None]:
            name = "probe pcap" if budget is None else f"probe pcap --scan-bytes {budget}"
            runs = [measure(probe_argv(capture, budget)) for _ in range(args.runs)]
            report(name, runs, packets, size)
        tshark = shutil.which("tshark")
        if tshark is None or args.no_tshark:
            print("tshark: not installed (apt-get install tshark), or skipped")
            return
        argv = [tshark, "-q", "-z", "credentials", "-r", str(capture)]
        report("tshark -z credentials", [measure(argv) for _ in range(args.runs)], packets, size)


if __name__ == "__main__":
    main()
