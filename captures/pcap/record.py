"""Regenerate the capture-reader test captures (see README.md). Needs root and tcpdump.

    sudo python3 captures/pcap/record.py

Each capture records real loopback traffic made here (Python's http.server answering
urllib, a UDP datagram, an IPv6 TCP exchange) with tcpdump; ``multi.pcapng`` is then built from
three of them per draft-ietf-opsawg-pcapng, because tcpdump 4.99 writes only pcap.
"""

from __future__ import annotations

import http.server
import shutil
import socket
import struct
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
HTTP_PORT = 18080
UDP_PORT = 18053
V6_PORT = 18081


@contextmanager
def tcpdump(path: Path, interface: str, bpf: str, *extra: str) -> Iterator[None]:
    tcpdump_bin = shutil.which("tcpdump") or "/usr/sbin/tcpdump"
    command = [tcpdump_bin, "-i", interface, "-U", "-s", "262144", "-w", str(path), *extra, bpf]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE)
    time.sleep(1.0)  # let it open the interface
    try:
        yield
    finally:
        time.sleep(0.5)
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def http_server(host: str, port: int) -> Iterator[None]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    server = Server((host, port), lambda *a: Quiet(*a, directory=str(HERE)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def get(url: str) -> None:
    with urllib.request.urlopen(url, timeout=5) as answer:
        answer.read()


def udp_datagram() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", UDP_PORT))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.bind(("127.0.0.1", UDP_PORT + 1))
            sender.sendto(b"probe udp datagram", ("127.0.0.1", UDP_PORT))
        receiver.recvfrom(100)


def record(name: str, interface: str, bpf: str, traffic: Callable[[], None], *extra: str) -> None:
    path = HERE / name
    with tcpdump(path, interface, bpf, *extra):
        traffic()
    print(f"{name}: {path.stat().st_size} bytes")


def http_get_v4() -> None:
    with http_server("127.0.0.1", HTTP_PORT):
        get(f"http://127.0.0.1:{HTTP_PORT}/record.py")


def http_get_v4_and_udp() -> None:
    http_get_v4()
    udp_datagram()


def http_get_v6() -> None:
    with http_server("::1", V6_PORT):
        get(f"http://[::1]:{V6_PORT}/record.py")


# -- pcapng built from the pcaps (draft-ietf-opsawg-pcapng sections 3.1, 4.1, 4.2, 4.3) --------


def block(endian: str, block_type: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    length = 12 + len(body)
    return struct.pack(endian + "II", block_type, length) + body + struct.pack(endian + "I", length)


def shb(endian: str) -> bytes:
    return block(endian, 0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(endian: str, link_type: int, tsresol: int | None) -> bytes:
    options = b""
    if tsresol is not None:  # if_tsresol (9), then opt_endofopt
        options = struct.pack(endian + "HHB3x", 9, 1, tsresol) + struct.pack(endian + "HH", 0, 0)
    return block(endian, 1, struct.pack(endian + "HHI", link_type, 0, 262144) + options)


def epb(endian: str, interface: int, ticks: int, data: bytes, original: int) -> bytes:
    head = struct.pack(
        endian + "IIIII", interface, ticks >> 32, ticks & 0xFFFFFFFF, len(data), original
    )
    return block(endian, 6, head + data)


def pcap_records(path: Path) -> tuple[int, list[tuple[int, bytes, int]]]:
    """(link type, [(timestamp ns, data, original length)]) of a little-endian pcap."""
    raw = path.read_bytes()
    magic, link = struct.unpack_from("<I16xI", raw, 0)
    scale = 1 if magic == 0xA1B23C4D else 1000
    records, at = [], 24
    while at + 16 <= len(raw):
        sec, frac, incl, orig = struct.unpack_from("<IIII", raw, at)
        records.append((sec * 10**9 + frac * scale, raw[at + 16 : at + 16 + incl], orig))
        at += 16 + incl
    return link & 0xFFFF, records


def build_pcapng() -> None:
    """Section 1 (little-endian): IDB 0 Ethernet in ns (if_tsresol 9), IDB 1 SLL2 in the
    default microseconds, their packets interleaved by time. Section 2 (big-endian): IDB 0
    Ethernet in ns with the IPv6 capture."""
    link_a, lo = pcap_records(HERE / "lo_en10mb.pcap")
    link_b, any_ = pcap_records(HERE / "any_sll2.pcap")
    link_c, v6 = pcap_records(HERE / "lo_ipv6_nano.pcap")
    tagged = [(ts, 0, d, o) for ts, d, o in lo] + [(ts, 1, d, o) for ts, d, o in any_]
    tagged.sort(key=lambda item: (item[0], item[1]))
    out = [shb("<"), idb("<", link_a, 9), idb("<", link_b, None)]
    for ts, interface, data, orig in tagged:
        ticks = ts if interface == 0 else ts // 1000
        out.append(epb("<", interface, ticks, data, orig))
    out += [shb(">"), idb(">", link_c, 9)]
    out += [epb(">", 0, ts, data, orig) for ts, data, orig in v6]
    (HERE / "multi.pcapng").write_bytes(b"".join(out))
    print(f"multi.pcapng: {(HERE / 'multi.pcapng').stat().st_size} bytes")


def main() -> None:
    bpf4 = f"tcp port {HTTP_PORT} or udp port {UDP_PORT}"
    record("lo_en10mb.pcap", "lo", f"tcp port {HTTP_PORT}", http_get_v4)
    record("any_sll2.pcap", "any", bpf4, http_get_v4_and_udp)
    record(
        "lo_ipv6_nano.pcap",
        "lo",
        f"tcp port {V6_PORT}",
        http_get_v6,
        "--time-stamp-precision=nano",
    )
    build_pcapng()


if __name__ == "__main__":
    main()
