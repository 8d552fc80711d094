"""Differential: ``probe pcap`` against tshark 4.0 on every committed capture, where the two
overlap (issue 5, "tshark as an oracle"):

- flows: the set of TCP and UDP conversations (5-tuples) of ``-z conv,tcp`` / ``-z conv,udp``;
- per TLS flow, the version and suite the server chose: the ServerHello's
  ``tls.handshake.ciphersuite`` and ``tls.handshake.version``, or
  ``tls.handshake.extensions.supported_version`` for TLS 1.3 (RFC 8446 4.2.1);
- the user names of ``-z credentials``.

Disagreements by definition, accounted for below:

- tshark dissects by port (plus heuristics); probe by content. FTP on 2121 or SMTP on 2525 is
  not FTP/SMTP to tshark, so its credentials tap stays silent. The test tells tshark the
  protocol probe found (``-d tcp.port==P,proto``) and then compares what each extracts: the
  classification itself is tested elsewhere (tests/pcap/test_classify.py).
- FTP guest logins (``anonymous``, ``ftp``) are credentials to tshark, not to probe (Zeek's
  ``FTP::guest_ids``: their "password" is an e-mail address by convention).
- tshark's tap covers fewer protocols than probe (no SMTP AUTH, SNMP communities, MySQL
  clear passwords in 4.0): probe's users must include tshark's, not equal them.
- A HelloRetryRequest is a ServerHello to tshark (same handshake type, RFC 8446 4.1.4); probe
  reports the server's final choice, so tshark's last ServerHello of a conversation counts.
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

from probe.codecs.tls.constants import version_label
from probe.codecs.tls.suites import SUITES
from probe.pcap.analyze import Analysis, analyze
from tests.lab.servers import require_binary

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = sorted(
    p.name for p in (ROOT / "captures" / "pcap").iterdir() if p.suffix in (".pcap", ".pcapng")
)
FTP_GUESTS = {"anonymous", "ftp"}
# probe's protocol name -> tshark's dissector name for "decode as".
DECODE_AS = {"ftp": "ftp", "http": "http", "smtp": "smtp", "pop3": "pop", "imap": "imap"}
# Secret kinds whose user tshark 4.0's credentials tap also reports.
# The kinds tshark 4.0's credentials tap lists. It has no NTLMSSP or Digest entries: NTLM
# users are compared with its NTLMSSP dissector's fields instead (test_ntlm_users_match_tshark).
TSHARK_KINDS = {"http-basic", "ftp-password", "pop3-password", "imap-login"}
_CONV = re.compile(r"^(\S+):(\d+)\s+<->\s+(\S+):(\d+)\s", re.M)
_CREDENTIAL = re.compile(r"^\s*(\d+)\s{2,}(.+?)\s{2,}(\S+)", re.M)

Conversation = frozenset[tuple[str, int]]


def tshark(path: Path, *args: str) -> str:
    binary = require_binary("tshark")
    done = subprocess.run(
        [binary, "-n", "-r", str(path), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


@cache
def probe_of(name: str) -> Analysis:
    return analyze([str(ROOT / "captures" / "pcap" / name)])


def conversations(text: str) -> set[Conversation]:
    return {frozenset({(a, int(ap)), (b, int(bp))}) for a, ap, b, bp in _CONV.findall(text)}


@pytest.mark.parametrize("name", CAPTURES)
def test_flows_match_tshark_conversations(name: str) -> None:
    path = ROOT / "captures" / "pcap" / name
    analysis = probe_of(name)
    for transport in ("tcp", "udp"):
        theirs = conversations(tshark(path, "-q", "-z", f"conv,{transport}"))
        ours = {
            frozenset({(f.src, f.sport), (f.dst, f.dport)})
            for f in analysis.flows
            if f.transport == transport
        }
        assert ours == theirs, transport


def tshark_server_hellos(path: Path) -> dict[Conversation, tuple[str, str]]:
    """The last ServerHello of each conversation: (version label, suite name)."""
    fields = ["ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport",
              "tls.handshake.version", "tls.handshake.ciphersuite",
              "tls.handshake.extensions.supported_version"]  # fmt: skip
    args = ["-Y", "tls.handshake.type == 2", "-T", "fields", "-E", "separator=\t"]
    for field in fields:
        args += ["-e", field]
    out: dict[Conversation, tuple[str, str]] = {}
    for line in tshark(path, *args).splitlines():
        if not line.strip():
            continue
        ip4s, ip6s, sport, ip4d, ip6d, dport, version, suite, supported = line.split("\t")
        # Several ServerHellos in one frame come comma-separated; the last is the final one.
        chosen = (supported or version).split(",")[-1]
        code = int(suite.split(",")[-1], 16)
        server, client = (ip4s or ip6s, int(sport)), (ip4d or ip6d, int(dport))
        suite_name = SUITES[code].name if code in SUITES else f"0x{code:04x}"
        out[frozenset({server, client})] = (version_label(int(chosen, 16)), suite_name)
    return out


@pytest.mark.parametrize("name", CAPTURES)
def test_tls_versions_and_suites_match_tshark(name: str) -> None:
    theirs = tshark_server_hellos(ROOT / "captures" / "pcap" / name)
    ours = {
        frozenset({(f.src, f.sport), (f.dst, f.dport)}): (f.tls_version, f.tls_cipher_suite)
        for f in probe_of(name).flows
        if f.protocol == "tls" and f.tls_version is not None
    }
    assert ours == theirs


def tshark_users(path: Path, analysis: Analysis) -> set[str]:
    decode: list[str] = []
    for port in sorted({f.dport for f in analysis.flows if f.protocol in DECODE_AS}):
        proto = next(
            f.protocol for f in analysis.flows if f.dport == port and f.protocol in DECODE_AS
        )
        decode += ["-d", f"tcp.port=={port},{DECODE_AS[proto]}"]
    text = tshark(path, *decode, "-q", "-z", "credentials")
    return {user for _frame, _proto, user in _CREDENTIAL.findall(text) if user != "Username"}


@pytest.mark.parametrize("name", CAPTURES)
def test_credential_users_match_tshark(name: str) -> None:
    analysis = probe_of(name)
    theirs = tshark_users(ROOT / "captures" / "pcap" / name, analysis) - FTP_GUESTS
    users = {f.secret.user for f in analysis.secrets if f.secret.user}
    assert theirs <= users  # probe finds at least what tshark's tap does
    shared = {f.secret.user for f in analysis.secrets if f.secret.kind in TSHARK_KINDS}
    assert shared == theirs  # and exactly that on the protocols both cover


@pytest.mark.parametrize("name", CAPTURES)
def test_ntlm_users_match_tshark(name: str) -> None:
    """NTLM AUTHENTICATE_MESSAGE users ([MS-NLMP] 2.2.1.3) as DOMAIN\\user, against tshark's
    ntlmssp.auth.domain / ntlmssp.auth.username (HTTP on any port, decoded as probe found)."""
    analysis = probe_of(name)
    ports = sorted({f.dport for f in analysis.flows if f.protocol == "http"})
    decode = [a for port in ports for a in ("-d", f"tcp.port=={port},http")]
    fields = ["-T", "fields", "-e", "ntlmssp.auth.domain", "-e", "ntlmssp.auth.username"]
    capture = ROOT / "captures" / "pcap" / name
    out = tshark(capture, *decode, "-Y", "ntlmssp.auth.username", *fields)
    theirs = {
        f"{domain}\\{user}" if domain and domain != "NULL" else user
        for domain, user in (line.split("\t") for line in out.splitlines() if line.strip())
    }
    mine = {f.secret.user for f in analysis.secrets if f.secret.kind.startswith("http-ntlm")}
    assert mine == theirs


def test_the_oracle_sees_something() -> None:
    """Guard against a vacuous pass (tshark printing nothing parsable)."""
    leaks = ROOT / "captures" / "pcap" / "http_leaks.pcap"
    assert tshark_users(leaks, probe_of("http_leaks.pcap")) == {"alice"}
    ftp = ROOT / "captures" / "pcap" / "ftp_login.pcap"
    assert tshark_users(ftp, probe_of("ftp_login.pcap")) == {"alice", "anonymous"}
    auth = ROOT / "captures" / "pcap" / "http_auth.pcap"
    assert {f.secret.user for f in probe_of("http_auth.pcap").secrets} == {"carol", "PROBE\\bob"}
    out = tshark(auth, "-d", "tcp.port==18099,http", "-Y", "ntlmssp.auth.username",
                 "-T", "fields", "-e", "ntlmssp.auth.username")  # fmt: skip
    assert out.split() == ["bob"]
    tls = tshark_server_hellos(ROOT / "captures" / "pcap" / "tls_versions.pcap")
    assert sorted(tls.values()) == [
        ("TLSv1.0", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
        ("TLSv1.2", "TLS_RSA_WITH_AES_128_GCM_SHA256"),
        ("TLSv1.3", "TLS_AES_256_GCM_SHA384"),
    ]


def tshark_rsa_bits(path: Path) -> dict[Conversation, int]:
    """The RSA modulus size of the first certificate of each Certificate message (the leaf,
    RFC 5246 7.4.2), from tshark's ``pkcs1.modulus``."""
    args = ["-Y", "tls.handshake.type == 11", "-T", "fields", "-E", "separator=\t"]
    for field in ("ip.src", "tcp.srcport", "ip.dst", "tcp.dstport", "pkcs1.modulus"):
        args += ["-e", field]
    out: dict[Conversation, int] = {}
    for line in tshark(path, *args).splitlines():
        if not line.strip():
            continue
        src, sport, dst, dport, moduli = line.split("\t")
        if moduli:
            leaf = moduli.split(",")[0]
            out[frozenset({(src, int(sport)), (dst, int(dport))})] = int(leaf, 16).bit_length()
    return out


@pytest.mark.parametrize("name", CAPTURES)
def test_certificate_rsa_sizes_match_tshark(name: str) -> None:
    theirs = tshark_rsa_bits(ROOT / "captures" / "pcap" / name)
    ours = {
        frozenset({(f.src, f.sport), (f.dst, f.dport)}): f.certificate.key_bits
        for f in probe_of(name).flows
        if f.certificate is not None and f.certificate.key_type == "RSA"
    }
    assert ours == theirs


def test_rsa1024_capture_matches_tshark(tmp_path: Path) -> None:
    from tests.pcap.record_weak_cert import record

    path = tmp_path / "rsa1024.pcap"
    record(path)
    (flow,) = [f for f in analyze([str(path)]).flows if f.protocol == "tls"]
    assert flow.certificate is not None
    theirs = tshark_rsa_bits(path)
    assert theirs == {frozenset({(flow.src, flow.sport), (flow.dst, flow.dport)}): 1024}
    assert flow.certificate.key_bits == 1024
    hellos = tshark_server_hellos(path)
    assert set(hellos.values()) == {(flow.tls_version, flow.tls_cipher_suite)}
