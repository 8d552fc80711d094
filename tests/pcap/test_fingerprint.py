"""JA3, JA3S and JA4 (probe.pcap.fingerprint).

Oracles: tshark 4.0's ``tls.handshake.ja3``/``ja3s`` on the committed TLS capture; for JA4,
which tshark 4.0 lacks, (1) the worked example of FoxIO's ``technical_details/JA4.md`` (its
cipher, extension and signature-algorithm lists, ALPN h2, SNI, TLS 1.3 give
``t13d1516h2_8daaf6152771_e5627efa2ab1``; without signature algorithms the c part is
``6d807ffa2a79``; its ALPN hex examples), and (2) the JA4 formula applied in this test to the
ClientHello fields tshark dissects, against probe's own parse of the same capture."""

from __future__ import annotations

import hashlib
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe.pcap.analyze import analyze
from probe.pcap.fingerprint import (
    _alpn_chars,
    is_grease,
    ja3,
    ja3_string,
    ja4,
    parse_client_hello,
)
from tests.lab.servers import require_binary

CAPTURES = Path(__file__).resolve().parents[2] / "captures" / "pcap"
# Capture -> (tshark "decode as" options, TLS flows): MySQL on 13306 only with a hint.
TLS_CAPTURES = {
    "tls_versions.pcap": ([], 3),
    "mysql_logins.pcap": (["-d", "tcp.port==13306,mysql"], 1),
}

# JA4.md "Cipher hash", "Extension hash" and "Raw Output" (JA4_ro: the original order).
SPEC_CIPHERS = [0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013,
                0xC014, 0x009C, 0x009D, 0x002F, 0x0035]  # fmt: skip
SPEC_EXTENSIONS = [0x001B, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002D, 0x000D, 0x0005,
                   0x0023, 0x0012, 0x002B, 0xFF01, 0x000B, 0x000A, 0x0015]  # fmt: skip
SPEC_SIG_ALGS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]


def ext(ext_type: int, data: bytes = b"") -> bytes:
    return struct.pack("!HH", ext_type, len(data)) + data


def u16_list(values: list[int], size_bytes: int = 2) -> bytes:
    body = b"".join(struct.pack("!H", v) for v in values)
    return len(body).to_bytes(size_bytes, "big") + body


def client_hello(
    ciphers: list[int],
    extensions: list[bytes],
    *,
    version: int = 0x0303,
    record_size: int = 1 << 14,
) -> bytes:
    """A ClientHello (RFC 8446 4.1.2) in TLS records of at most ``record_size`` bytes."""
    exts = b"".join(extensions)
    body = struct.pack("!H", version) + bytes(32) + b"\x20" + bytes(32) + u16_list(ciphers)
    body += b"\x01\x00" + struct.pack("!H", len(exts)) + exts
    message = b"\x01" + len(body).to_bytes(3, "big") + body
    out = b""
    for start in range(0, len(message), record_size):
        piece = message[start : start + record_size]
        out += struct.pack("!BHH", 22, 0x0301, len(piece)) + piece
    return out


def spec_hello(*, sig_algs: list[int] = SPEC_SIG_ALGS, record_size: int = 1 << 14) -> bytes:
    """The JA4.md example as a hello: its lists in its order, plus GREASE that must vanish."""
    bodies = {
        0x0000: struct.pack("!HBH", 14, 0, 11) + b"example.com",
        0x0010: struct.pack("!H", 3) + b"\x02h2",
        0x000D: u16_list(sig_algs),
        0x002B: bytes([6]) + struct.pack("!HHH", 0x3A3A, 0x0304, 0x0303),
        0x000A: u16_list([0x2A2A, 0x001D, 0x0017]),
        0x000B: b"\x01\x00",
    }
    extensions = [ext(0x0A0A)] + [ext(t, bodies.get(t, b"")) for t in SPEC_EXTENSIONS]
    return client_hello([0xDADA, *SPEC_CIPHERS], extensions, record_size=record_size)


def test_ja4_spec_example() -> None:
    hello = parse_client_hello(spec_hello())
    assert hello is not None
    assert ja4(hello) == "t13d1516h2_8daaf6152771_e5627efa2ab1"


def test_ja4_spec_example_without_signature_algorithms() -> None:
    hello = parse_client_hello(spec_hello(sig_algs=[]))
    assert hello is not None
    assert ja4(hello).endswith("_8daaf6152771_6d807ffa2a79")


def test_ja4_alpn_characters_per_spec() -> None:
    assert _alpn_chars(b"h2") == "h2" and _alpn_chars(b"http/1.1") == "h1"
    assert _alpn_chars(None) == "00" and _alpn_chars(b"") == "00" and _alpn_chars(b"x") == "xx"
    # JA4.md "ALPN Extension Value": non-alphanumeric ends give the hex digits.
    for raw, want in (("ab", "ab"), ("abcd", "ad"), ("30ab", "3b"), ("3031abcd", "3d"),
                      ("30abcd31", "01")):  # fmt: skip
        assert _alpn_chars(bytes.fromhex(raw)) == want


def test_empty_lists_and_legacy_version() -> None:
    hello = parse_client_hello(client_hello([], [], version=0x0301))
    assert hello is not None
    assert ja4(hello) == "t10i000000_000000000000_000000000000"
    assert ja3_string(hello) == "769,,,,"


def test_hello_split_over_records_is_reassembled() -> None:
    whole = parse_client_hello(spec_hello())
    split = parse_client_hello(spec_hello(record_size=37))
    assert whole is not None and whole == split
    assert parse_client_hello(spec_hello(record_size=37)[:-1]) is None  # cut short


def test_grease() -> None:
    greases = [v for v in range(0x10000) if is_grease(v)]
    assert greases == [0x0A0A + 0x1010 * i for i in range(16)]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(min_value=0, max_value=399))
def test_hostile_hellos_never_raise(noise: bytes, at: int) -> None:
    data = bytearray(spec_hello())
    data[at : at + len(noise[:8])] = noise[:8]
    hello = parse_client_hello(bytes(data))
    if hello is not None:
        ja3(hello), ja4(hello)
    parse_client_hello(b"\x16\x03\x01" + noise)


# --- oracles on the committed capture --------------------------------------------------------


def tshark_fields(
    path: Path, display_filter: str, *fields: str, options: tuple[str, ...] = ()
) -> list[list[str]]:
    tshark = require_binary("tshark")  # scripts/install-test-deps.sh installs it
    command = [tshark, "-r", str(path), *options, "-Y", display_filter, "-T", "fields",
               "-E", "separator=|"]  # fmt: skip
    for name in fields:
        command += ["-e", name]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    return [line.split("|") for line in out.stdout.splitlines()]


@pytest.mark.parametrize("name", sorted(TLS_CAPTURES))
def test_ja3_and_ja3s_match_tshark(name: str) -> None:
    path = CAPTURES / name
    options, count = TLS_CAPTURES[name]
    flows = {f.sport: f for f in analyze([str(path)]).flows if f.protocol == "tls"}
    hellos = tshark_fields(path, "tls.handshake.type == 1", "tcp.srcport", "tls.handshake.ja3",
                           options=tuple(options))  # fmt: skip
    servers = tshark_fields(path, "tls.handshake.type == 2", "tcp.dstport", "tls.handshake.ja3s",
                            options=tuple(options))  # fmt: skip
    assert len(hellos) == len(servers) == len(flows) == count
    for port, want in hellos:
        assert flows[int(port)].ja3 == want
    for port, want in servers:
        assert flows[int(port)].ja3s == want


def _ja4_from(fields: list[str]) -> str:
    """The JA4 formula of JA4.md applied to tshark's dissection of a ClientHello."""
    _port, ciphers_text, types_text, sigs_text, versions_text, alpn, sni, legacy = fields
    ciphers = [int(c, 16) for c in ciphers_text.split(",") if c]
    types = [int(t) for t in types_text.split(",") if t]
    sigs = [s[2:] for s in sigs_text.split(",") if s]
    versions = [int(v, 16) for v in versions_text.split(",") if v]
    names = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10"}
    version = names[max(versions)] if versions else names[int(legacy, 16)]
    a = f"t{version}{'d' if sni else 'i'}{len(ciphers):02d}{len(types):02d}"
    a += (alpn[0] + alpn[-1]) if alpn else "00"
    b = hashlib.sha256(",".join(sorted(f"{c:04x}" for c in ciphers)).encode()).hexdigest()[:12]
    text = ",".join(sorted(f"{t:04x}" for t in types if t not in (0, 16)))
    if sigs:
        text += "_" + ",".join(sigs)
    return f"{a}_{b}_{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def test_ja4_matches_the_formula_over_tshark_dissection() -> None:
    path = CAPTURES / "tls_versions.pcap"
    flows = {f.sport: f for f in analyze([str(path)]).flows}
    rows = tshark_fields(
        path, "tls.handshake.type == 1", "tcp.srcport", "tls.handshake.ciphersuite",
        "tls.handshake.extension.type", "tls.handshake.sig_hash_alg",
        "tls.handshake.extensions.supported_version", "tls.handshake.extensions_alpn_str",
        "tls.handshake.extensions_server_name", "tls.handshake.version",
    )  # fmt: skip
    assert len(rows) == 3
    for row in rows:
        assert flows[int(row[0])].ja4 == _ja4_from(row)
