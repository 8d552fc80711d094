"""Regenerate captures/sstp/sstpd.txt from real sstpd servers (sstp-server 0.6.0) on loopback.

Usage: ``python captures/sstp/record.py`` from the repository root, with sstp-server installed
as tests/lab/sstp.py says (``require_sstpd``). It starts the lab configurations of
tests/lab/sstp.py (sstpd + tests/lab/fake_pppd.py, lab certificates in a temporary folder),
runs one call on each with probe's codec, and writes every byte string the server sent, in
hex, one per line. The Call Connect Ack nonce changes on every run. What each must yield is in
README.md; tests/codecs/test_sstp_codec.py asserts it.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from probe.codecs.sstp import (  # noqa: E402
    SstpReader,
    build_call_connect_request,
    build_call_disconnect,
    build_duplex_post,
    parse_http_head,
)
from tests.lab.certs import make_lab_certs  # noqa: E402
from tests.lab.sstp import SstpLabServer, SstpServer  # noqa: E402

CORRELATION_ID = "50524F42-0000-4000-8000-000000000001"  # "PROB", then fixed digits
TIMEOUT = 10.0


def _connect(server: SstpLabServer) -> socket.socket:
    raw = socket.create_connection((server.host, server.port), timeout=TIMEOUT)
    if not server.expected["over_tls"]:
        return raw
    context = ssl.create_default_context(cafile=str(server.ca_file))
    return context.wrap_socket(raw, server_hostname=server.server_name)


def _read_packets(sock: socket.socket, reader: SstpReader, stream: bytearray, count: int) -> None:
    """Read until ``count`` more packets were framed, keeping the raw bytes in ``stream``."""
    framed = 0
    while framed < count:
        chunk = sock.recv(4096)
        if not chunk:
            raise EOFError("server closed early")
        stream += chunk
        framed += len(reader.feed(chunk))


def record_call(server: SstpLabServer) -> dict[str, bytes]:
    """One call: the HTTP head, then each SSTP packet the server sent, as raw bytes."""
    with contextlib.closing(_connect(server)) as sock:
        sock.sendall(build_duplex_post(server.server_name, CORRELATION_ID))
        data = b""
        while (parsed := parse_http_head(data)) is None:
            chunk = sock.recv(4096)
            if not chunk:
                raise EOFError("server closed before the end of the HTTP head")
            data += chunk
        _, used = parsed
        head, stream = data[:used], bytearray(data[used:])
        reader = SstpReader()
        already = len(reader.feed(bytes(stream)))
        sock.sendall(build_call_connect_request())
        _read_packets(sock, reader, stream, 2 - already)  # the ack, then the LCP packet
        sock.sendall(build_call_disconnect())
        _read_packets(sock, reader, stream, 1)  # the Call Disconnect Ack
    packets: list[bytes] = []
    rest = bytes(stream)
    while rest:
        length = ((rest[2] & 0x0F) << 8) | rest[3]
        packets.append(rest[:length])
        rest = rest[length:]
    ack, lcp, disconnect_ack = packets
    return {
        "http_200": head,
        "call_connect_ack": ack,
        "lcp": lcp,
        "call_disconnect_ack": disconnect_ack,
        "stream": bytes(stream),
    }


def main() -> None:
    lines = [
        "# Bytes sstp-server 0.6.0 (sstpd) sent on loopback, recorded by captures/sstp/record.py;",
        "# PPP side: tests/lab/fake_pppd.py. See README.md. Format: <name> <hex>.",
    ]
    with tempfile.TemporaryDirectory(prefix="probe-sstp-") as tmp:
        work = Path(tmp)
        certs = make_lab_certs(work / "certs")
        for name, prefix in (("tls-mschapv2", "tls_mschapv2"), ("tls-pap", "tls_pap")):
            with SstpServer(name, certs, work) as server:
                for key, value in record_call(server).items():
                    lines.append(f"{prefix}_{key} {value.hex()}")
        with SstpServer("plain", certs, work) as server:
            plain = record_call(server)
            lines.append(f"plain_mschapv2_http_200 {plain['http_200'].hex()}")
            lines.append(f"plain_mschapv2_stream {plain['stream'].hex()}")
    (HERE / "sstpd.txt").write_text("\n".join(lines) + "\n")
    print(f"wrote {HERE / 'sstpd.txt'}")


if __name__ == "__main__":
    main()
