"""Small pcap writer for tests: Ethernet/IPv4 frames, TCP conversations, pcap records.

Builds packets by the RFCs (RFC 791 IPv4 header, RFC 9293 TCP header, RFC 768 UDP), with zero
checksums (nothing in probe checks them), written as a little-endian microsecond pcap
(draft-ietf-opsawg-pcap).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path

SYN, ACK, PSH, FIN, RST = 0x02, 0x10, 0x08, 0x01, 0x04
ETH_IPV4 = bytes(6) + bytes.fromhex("020000000001") + b"\x08\x00"

Frame = tuple[int, bytes]  # (timestamp in µs, Ethernet frame)


def ipv4(
    src: str, dst: str, proto: int, body: bytes, *, frag: int = 0x4000, ident: int = 1
) -> bytes:
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(body),
        ident,
        frag,
        64,
        proto,
        0,
        bytes(map(int, src.split("."))),
        bytes(map(int, dst.split("."))),
    )
    return header + body


def tcp(
    src: tuple[str, int],
    dst: tuple[str, int],
    seq: int,
    flags: int = ACK | PSH,
    payload: bytes = b"",
    ack: int = 0,
) -> bytes:
    header = struct.pack(
        "!HHIIBBHHH", src[1], dst[1], seq % 2**32, ack % 2**32, 0x50, flags, 65535, 0, 0
    )
    return ETH_IPV4 + ipv4(src[0], dst[0], 6, header + payload)


def udp(src: tuple[str, int], dst: tuple[str, int], payload: bytes) -> bytes:
    header = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0)
    return ETH_IPV4 + ipv4(src[0], dst[0], 17, header + payload)


def conversation(
    client: tuple[str, int],
    server: tuple[str, int],
    messages: Iterable[tuple[bool, bytes]],
    *,
    start_us: int = 1_000_000,
    step_us: int = 10,
) -> list[Frame]:
    """A whole TCP connection: handshake, each (from_client, payload) as one segment, FINs."""
    cseq, sseq = 1000, 9000
    frames = [
        tcp(client, server, cseq - 1, SYN),
        tcp(server, client, sseq - 1, SYN | ACK),
        tcp(client, server, cseq, ACK),
    ]
    for from_client, payload in messages:
        if from_client:
            frames.append(tcp(client, server, cseq, ACK | PSH, payload))
            cseq += len(payload)
        else:
            frames.append(tcp(server, client, sseq, ACK | PSH, payload))
            sseq += len(payload)
    frames += [
        tcp(client, server, cseq, FIN | ACK),
        tcp(server, client, sseq, FIN | ACK),
        tcp(client, server, cseq + 1, ACK),
    ]
    return [(start_us + i * step_us, frame) for i, frame in enumerate(frames)]


def pcap_bytes(frames: Iterable[Frame], *, link_type: int = 1) -> bytes:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, link_type)]
    for ts, frame in frames:
        out.append(struct.pack("<IIII", ts // 10**6, ts % 10**6, len(frame), len(frame)) + frame)
    return b"".join(out)


def write_pcap(path: Path, frames: Iterable[Frame], *, link_type: int = 1) -> Path:
    path.write_bytes(pcap_bytes(frames, link_type=link_type))
    return path
