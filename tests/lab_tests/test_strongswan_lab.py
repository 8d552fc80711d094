"""The strongSwan lab starts, answers, and really has the facts recorded in ``expected``.

Two oracles, neither of them probe's code. ike-scan 1.9.5 covers IKEv1 transforms, Aggressive
Mode and the PSK hash (cracked with psk-crack), and ike-scan's default offers. It sends only
its one default IKEv2 proposal, so a minimal hand-made IKE_SA_INIT below (RFC 7296; it reads
only the fields it needs) checks the IKEv2 suites, preference, INVALID_KE_PAYLOAD, COOKIE
and CERTREQ.

Every test but the last few starts from a fresh charon (``lab`` restarts it): half-open
IKE_SAs from one test would otherwise bring the next one into charon's cookie or block mode.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519

from tests.lab import strongswan as strongswan_lab_module
from tests.lab.servers import LabError, require_binary
from tests.lab.strongswan import (
    ADDRESS_LABEL,
    IKE_PORT,
    LAB_PSK,
    NAT_T_PORT,
    STRONGSWAN_CONFIGS,
    LabIke,
    StrongSwanLab,
    ike_scan,
    ipv4_addresses,
    udp_listeners,
)

make_suite = strongswan_lab_module.suite
IKEV2_CONFIGS = [n for n, c in STRONGSWAN_CONFIGS.items() if c.version == 2]
IKEV1_CONFIGS = [n for n, c in STRONGSWAN_CONFIGS.items() if c.version == 1]
SILENCE_MS = 600  # how long a probe waits before calling it silence

# ---------------------------------------------------------------------------------------------
# A minimal IKEv2 IKE_SA_INIT (RFC 7296 3.1-3.4, 3.9, 3.10; IANA IKEv2 registry numbers).

ENCR = {
    "DES": (2, None),
    "3DES": (3, None),
    "AES-CBC-128": (12, 128),
    "AES-CBC-256": (12, 256),
    "AES-GCM-16-128": (20, 128),
    "AES-GCM-16-256": (20, 256),
    "CHACHA20-POLY1305": (28, None),
}
PRF = {"PRF-HMAC-MD5": 1, "PRF-HMAC-SHA1": 2, "PRF-HMAC-SHA2-256": 5, "PRF-HMAC-SHA2-384": 6}
INTEG = {"HMAC-MD5": 1, "HMAC-SHA1": 2, "HMAC-SHA2-256": 12, "HMAC-SHA2-384": 13}
GROUP = {
    "MODP-1024": 2,
    "MODP-1536": 5,
    "MODP-2048": 14,
    "ECP-256": 19,
    "ECP-384": 20,
    "CURVE25519": 31,
}
NOTIFY = {
    7: "INVALID_SYNTAX",
    14: "NO_PROPOSAL_CHOSEN",
    17: "INVALID_KE_PAYLOAD",
    16390: "COOKIE",
    16404: "MULTIPLE_AUTH_SUPPORTED",
    16418: "CHILDLESS_IKEV2_SUPPORTED",
}
AEAD = {"AES-GCM-16-128", "AES-GCM-16-256", "CHACHA20-POLY1305"}
PAYLOAD_SA, PAYLOAD_KE, PAYLOAD_CERTREQ, PAYLOAD_N, PAYLOAD_NONCE = 33, 34, 38, 41, 40


@dataclass(frozen=True)
class Offer:
    """One proposal: every algorithm of each type, in the client's order of preference."""

    encryption: tuple[str, ...]
    prf: tuple[str, ...]
    integrity: tuple[str, ...]
    groups: tuple[str, ...]


def offer(suite: dict[str, Any], **swap: str) -> Offer:
    """The proposal that is exactly ``suite`` (with ``swap`` replacing some of its parts)."""
    parts = {**suite, **swap}
    integrity = parts["integrity"]
    return Offer(
        (parts["encryption"],),
        (parts["prf"],),
        (integrity,) if integrity else (),
        (parts["group"],),
    )


@dataclass
class Answer:
    spi_r: bytes
    suite: dict[str, Any] | None = None  # the chosen SA, in probe's names
    notifies: list[str] = field(default_factory=list)
    notify_data: dict[str, bytes] = field(default_factory=dict)
    payloads: list[int] = field(default_factory=list)
    cookie_echoed: bool = False


def _ke_data(group: str) -> bytes:
    if group.startswith("MODP-"):
        # any value below p does for the responder's side of the exchange
        return b"\x7f" + os.urandom(int(group[5:]) // 8 - 1)
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    if group == "CURVE25519":
        return x25519.X25519PrivateKey.generate().public_key().public_bytes(*raw)
    # a real point: strongSwan refuses a malformed ECP value (RFC 5903: x | y, no 0x04)
    curve = {"ECP-256": ec.SECP256R1(), "ECP-384": ec.SECP384R1()}[group]
    point = serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    return ec.generate_private_key(curve).public_key().public_bytes(*point)[1:]


def _proposal(number: int, item: Offer, last: bool) -> bytes:
    transforms = [(1, *ENCR[e]) for e in item.encryption]
    transforms += [(2, PRF[p], None) for p in item.prf]
    transforms += [(3, INTEG[i], None) for i in item.integrity]
    transforms += [(4, GROUP[g], None) for g in item.groups]
    body = b""
    for n, (kind, ident, key_bits) in enumerate(transforms):
        attrs = struct.pack("!HH", 0x800E, key_bits) if key_bits else b""  # Key Length (TV)
        more = 0 if n == len(transforms) - 1 else 3
        body += struct.pack("!BBHBBH", more, 0, 8 + len(attrs), kind, 0, ident) + attrs
    header = struct.pack(
        "!BBHBBBB", 0 if last else 2, 0, 8 + len(body), number, 1, 0, len(transforms)
    )
    return header + body


def sa_init_message(
    spi: bytes, offers: list[Offer], ke_group: str, ke: bytes, nonce: bytes, cookie: bytes | None
) -> bytes:
    sa = b"".join(_proposal(n + 1, o, n == len(offers) - 1) for n, o in enumerate(offers))
    payloads = [] if cookie is None else [(PAYLOAD_N, struct.pack("!BBH", 0, 0, 16390) + cookie)]
    payloads += [
        (PAYLOAD_SA, sa),
        (PAYLOAD_KE, struct.pack("!HH", GROUP[ke_group], 0) + ke),
        (PAYLOAD_NONCE, nonce),
    ]
    body = b""
    for n, (_, data) in enumerate(payloads):
        following = payloads[n + 1][0] if n + 1 < len(payloads) else 0
        body += struct.pack("!BBH", following, 0, 4 + len(data)) + data
    # SPIi, SPIr 0, first payload, version 2.0, IKE_SA_INIT, Initiator flag, message ID 0
    header = (
        spi + bytes(8) + struct.pack("!BBBBII", payloads[0][0], 0x20, 34, 0x08, 0, 28 + len(body))
    )
    return header + body


def _names(table: dict[str, Any]) -> dict[Any, str]:
    return {v: k for k, v in table.items()}


def parse_answer(data: bytes) -> Answer:
    answer = Answer(spi_r=data[8:16])
    following, offset = data[16], 28
    while following and offset + 4 <= len(data):
        kind = following
        following, _, length = struct.unpack_from("!BBH", data, offset)
        body = data[offset + 4 : offset + length]
        answer.payloads.append(kind)
        if kind == PAYLOAD_N:
            spi_size, ntype = body[1], struct.unpack_from("!H", body, 2)[0]
            name = NOTIFY.get(ntype, str(ntype))
            answer.notifies.append(name)
            answer.notify_data[name] = body[4 + spi_size :]
        elif kind == PAYLOAD_SA:  # exactly one proposal with one transform per type
            chosen: dict[int, tuple[int, int | None]] = {}
            pos = 8
            for _ in range(body[7]):
                _, _, tlen, ttype, _, tid = struct.unpack_from("!BBHBBH", body, pos)
                key_bits = struct.unpack_from("!H", body, pos + 10)[0] if tlen > 8 else None
                chosen[ttype] = (tid, key_bits)
                pos += tlen
            integ = chosen.get(3)
            answer.suite = {
                "encryption": _names(ENCR)[chosen[1]],
                "prf": _names(PRF)[chosen[2][0]],
                "integrity": _names(INTEG)[integ[0]] if integ else None,
                "group": _names(GROUP)[chosen[4][0]],
            }
        offset += length
    return answer


def sa_init(
    host: str,
    offers: list[Offer],
    ke_group: str,
    *,
    echo_cookie: bool = True,
    bind: str | None = None,
    timeout: float = SILENCE_MS / 1000,
) -> Answer | None:
    """Send one IKE_SA_INIT; resend with the cookie if asked (RFC 7296 2.6: same SPIi, nonce
    and KE). None means no answer within ``timeout``."""
    spi, nonce, ke = os.urandom(8), os.urandom(32), _ke_data(ke_group)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        if bind:
            sock.bind((bind, 0))
        sock.settimeout(timeout)
        cookie = None
        while True:
            sock.sendto(sa_init_message(spi, offers, ke_group, ke, nonce, cookie), (host, IKE_PORT))
            try:
                answer = parse_answer(sock.recv(65535))
            except TimeoutError:
                return None
            answer.cookie_echoed = cookie is not None
            if cookie is None and echo_cookie and "COOKIE" in answer.notifies:
                cookie = answer.notify_data["COOKIE"]
                continue
            return answer


# Everything the lab knows, strongest first.
ALL_AEAD = Offer(
    ("AES-GCM-16-256", "CHACHA20-POLY1305"),
    ("PRF-HMAC-SHA2-384", "PRF-HMAC-SHA2-256", "PRF-HMAC-SHA1", "PRF-HMAC-MD5"),
    (),
    ("ECP-384", "CURVE25519", "ECP-256", "MODP-2048", "MODP-1024"),
)
ALL_CBC = Offer(
    ("AES-CBC-256", "AES-CBC-128", "3DES", "DES"),
    ALL_AEAD.prf,
    ("HMAC-SHA2-384", "HMAC-SHA2-256", "HMAC-SHA1", "HMAC-MD5"),
    ALL_AEAD.groups,
)


# ike-scan 1.9.5's one IKEv2 proposal (as charon logs it); its KE is for --dhgroup (default 2)
IKE_SCAN_IKEV2_OFFER = Offer(
    ("AES-CBC-256", "AES-CBC-128", "3DES", "DES"),
    ("PRF-HMAC-SHA1", "PRF-HMAC-MD5"),
    ("HMAC-SHA1", "HMAC-MD5"),
    ("MODP-1024", "MODP-1536", "MODP-2048"),
)


def _reversed(item: Offer) -> Offer:
    return Offer(
        *(tuple(reversed(getattr(item, f))) for f in ("encryption", "prf", "integrity", "groups"))
    )


# ---------------------------------------------------------------------------------------------
# ike-scan's view in probe's names

IKE_SCAN_GROUPS = {"1:modp768": "MODP-768", "2:modp1024": "MODP-1024", "14:modp2048": "MODP-2048"}
IKE_SCAN_HASH = {"MD5": "MD5", "SHA1": "SHA1", "HMAC_MD5": "MD5", "HMAC_SHA1": "SHA1"}


def ike_scan_suite(sa: dict[str, str]) -> dict[str, Any]:
    if "Encr" in sa:  # IKEv2
        cipher, integ, prf, group = sa["Encr"], sa["Integ"], sa["Prf"], sa["DH_Group"]
        integrity = "HMAC-" + IKE_SCAN_HASH[integ.removesuffix("_96")]
        prf_name = "PRF-HMAC-" + IKE_SCAN_HASH[prf]
    else:  # IKEv1: one hash for PRF and integrity
        cipher, group = sa["Enc"], sa["Group"]
        integrity, prf_name = "HMAC-" + sa["Hash"], "PRF-HMAC-" + sa["Hash"]
    if cipher in ("AES_CBC", "AES"):
        cipher = f"AES-CBC-{sa['KeyLength']}"
    return {
        "encryption": cipher,
        "prf": prf_name,
        "integrity": integrity,
        "group": IKE_SCAN_GROUPS[group],
    }


V1_ENC = {"DES": "1", "3DES": "5", "AES-CBC-128": "7/128", "AES-CBC-256": "7/256"}
V1_HASH = {"HMAC-MD5": "1", "HMAC-SHA1": "2"}
V1_GROUP = {"MODP-1024": "2", "MODP-2048": "14"}


def v1_trans(suite: dict[str, Any]) -> str:
    """ike-scan's --trans (enc[/len],hash,auth,group) for a PSK suite."""
    return (
        f"--trans={V1_ENC[suite['encryption']]},{V1_HASH[suite['integrity']]},1,"
        f"{V1_GROUP[suite['group']]}"
    )


# ---------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture
def lab(strongswan_lab: StrongSwanLab) -> Iterator[StrongSwanLab]:
    strongswan_lab.restart()  # no half-open IKE_SAs or cookie state from earlier tests
    yield strongswan_lab


def _charon_processes(conf: Path) -> list[int]:
    """Processes started with STRONGSWAN_CONF=<conf> (the lab's charon and nothing else)."""
    needle = f"STRONGSWAN_CONF={conf}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


# ---------------------------------------------------------------------------------------------
# the lab itself


def test_lab_runs_on_loopback_aliases_without_touching_the_machine(lab: StrongSwanLab) -> None:
    assert lab.names() == list(STRONGSWAN_CONFIGS)
    present = ipv4_addresses()
    hosts = set()
    for name in lab:
        ike = lab[name]
        assert isinstance(ike, LabIke)
        assert (ike.port, ike.nat_t_port) == (IKE_PORT, NAT_T_PORT)
        assert present[ike.host] == ("lo", ADDRESS_LABEL)
        assert ike.log is not None and ike.log.exists()
        hosts.add(ike.host)
    assert len(hosts) == len(lab)
    for port in (IKE_PORT, NAT_T_PORT):  # IPv4 only; datagrams for other interfaces dropped
        listeners = udp_listeners(port)
        assert len(listeners) == 1 and "charon" in listeners[0], listeners
        assert f"0.0.0.0:{port}" in listeners[0]
    # its pid file is in the lab's run directory, not the machine's /run
    assert (lab.run_dir / "charon.pid").read_text().strip() == str(lab.pid)
    machine_pid_file = Path("/run/charon.pid")
    assert not machine_pid_file.exists() or machine_pid_file.read_text().strip() != str(lab.pid)
    # no routing rule (table 220), no XFRM state for the lab's addresses
    ip = require_binary("ip")
    rules = subprocess.run([ip, "rule"], capture_output=True, text=True, check=True).stdout
    assert "lookup 220" not in rules, rules
    xfrm = subprocess.run([ip, "xfrm", "state"], capture_output=True, text=True, check=True).stdout
    assert not any(host in xfrm for host in hosts), xfrm


def test_charon_has_the_weak_algorithms(lab: StrongSwanLab) -> None:
    """DES and MD5 come from OpenSSL 3's legacy provider through the openssl plugin."""
    algs = lab.swanctl("--list-algs").stdout
    for name in ("DES_CBC", "3DES_CBC", "HMAC_MD5_96", "PRF_HMAC_MD5", "MODP_1024",
                 "AES_GCM_16", "CHACHA20_POLY1305", "CURVE_25519", "ECP_384"):  # fmt: skip
        assert f"{name}[" in algs, (name, algs)


def test_cert_config_has_its_certificate_and_key(lab: StrongSwanLab) -> None:
    certs = lab.swanctl("--list-certs").stdout
    assert 'CN=localhost"' in certs and "has private key" in certs, certs
    assert 'CN=probe lab CA"' in certs, certs


# ---------------------------------------------------------------------------------------------
# ike-scan


@pytest.mark.parametrize("name", list(STRONGSWAN_CONFIGS))
def test_ike_scan_default_offer(lab: StrongSwanLab, name: str) -> None:
    ike = lab[name]
    want = ike.expected["ike_scan_default"]
    v2 = ike.expected["ike_version"] == 2
    answer = ike_scan(ike.host, *(["--ikev2"] if v2 else []))
    if want["answer"] == "handshake":
        assert answer.kind == ("ikev2" if v2 else "main"), answer.output
        assert ike_scan_suite(answer.sa) == want["suite"], answer.output
    else:
        assert (answer.kind, answer.notify) == ("notify", want["answer"]), answer.output
    if "group" in want:  # ike-scan does not print INVALID_KE_PAYLOAD's data: ask by hand
        mimic = sa_init(ike.host, [IKE_SCAN_IKEV2_OFFER], "MODP-1024")
        assert mimic is not None and mimic.notifies == [want["answer"]], mimic
        assert mimic.notify_data[want["answer"]] == struct.pack("!H", GROUP[want["group"]])


@pytest.mark.parametrize("name", list(STRONGSWAN_CONFIGS))
def test_other_ike_version_gets_no_proposal_chosen(lab: StrongSwanLab, name: str) -> None:
    ike = lab[name]
    v2 = ike.expected["ike_version"] == 2
    answer = ike_scan(ike.host, *([] if v2 else ["--ikev2"]))  # the other version
    assert (answer.kind, answer.notify) == ("notify", ike.expected["other_version"]), answer.output


def test_ikev1_main_mode_transforms(lab: StrongSwanLab) -> None:
    ike = lab["ikev1-main"]
    for proposal in ike.expected["proposals"]:
        answer = ike_scan(ike.host, v1_trans(proposal))
        assert answer.kind == "main", answer.output
        assert ike_scan_suite(answer.sa) == proposal, answer.output
        assert any("(XAUTH)" in p for p in answer.payloads), answer.output
        assert any("(Dead Peer Detection" in p for p in answer.payloads), answer.output
    aes128_sha1 = ike.expected["proposals"][0]
    for refused in (
        {**aes128_sha1, "encryption": "DES"},
        {**aes128_sha1, "encryption": "AES-CBC-256"},
        {**aes128_sha1, "group": "MODP-1024"},  # a known group, not in this suite
    ):
        answer = ike_scan(ike.host, v1_trans(refused))
        assert (answer.kind, answer.notify) == ("notify", "NO_PROPOSAL_CHOSEN"), answer.output
    # Aggressive Mode is refused after proposal selection, PSK or not
    aggressive = ike_scan(ike.host, "-A", "--id=probe@lab", v1_trans(aes128_sha1), "--dhgroup=14")
    assert (aggressive.kind, aggressive.notify) == ("notify", "AUTHENTICATION_FAILED")
    assert ike.expected["aggressive_answer"] == "AUTHENTICATION_FAILED"
    assert not ike.expected["aggressive_mode"]


def test_ikev1_aggressive_mode_gives_away_the_psk_hash(lab: StrongSwanLab, tmp_path: Path) -> None:
    ike = lab["ikev1-aggressive-psk"]
    suite = ike.expected["proposals"][0]
    params = tmp_path / "psk-params"
    answer = ike_scan(ike.host, "-A", "--id=probe@lab", v1_trans(suite), f"--pskcrack={params}")
    assert answer.kind == "aggressive" and ike.expected["aggressive_mode"], answer.output
    assert ike_scan_suite(answer.sa) == suite
    assert "Hash(20 bytes)" in answer.payloads, answer.output
    assert f"ID(Type=ID_FQDN, Value={ike.expected['local_id']})" in answer.payloads
    # HASH_R is the PSK's: a dictionary attack finds it offline
    words = tmp_path / "words"
    words.write_text(f"password\nvpnsecret\n{ike.expected['psk']}\n")
    cracked = subprocess.run(
        [require_binary("psk-crack"), "-d", str(words), str(params)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert f'key "{LAB_PSK}" matches' in cracked.stdout, cracked.stdout + cracked.stderr
    # the same connection answers Main Mode
    main = ike_scan(ike.host, v1_trans(suite))
    assert main.kind == "main" and ike.expected["main_mode"], main.output


def test_ike_scan_ikev2_dhgroup_and_certreq(lab: StrongSwanLab) -> None:
    """ike-scan's IKEv2 proposal is fixed; --dhgroup picks the KE's MODP group."""
    cert = lab["ikev2-cert"]
    answer = ike_scan(cert.host, "--ikev2", "--dhgroup=14")
    assert answer.kind == "ikev2", answer.output
    # its offer has no SHA-256, so charon falls back to its second suite
    assert ike_scan_suite(answer.sa) == cert.expected["proposals"][1]
    assert any(p.startswith("CertificateRequest(") for p in answer.payloads), answer.output
    # weak-ikev2 would take MODP-2048 only with AES-128/SHA-256, which ike-scan cannot offer:
    # its first suite (MODP-1024) wins and the MODP-2048 KE is refused
    weak = ike_scan(lab["weak-ikev2"].host, "--ikev2", "--dhgroup=14")
    assert (weak.kind, weak.notify) == ("notify", "INVALID_KE_PAYLOAD"), weak.output
    plain = ike_scan(lab["weak-ikev2"].host, "--ikev2")
    assert not any(p.startswith("CertificateRequest(") for p in plain.payloads), plain.output


def test_nat_t_port_answers_with_the_non_esp_marker(lab: StrongSwanLab) -> None:
    weak = lab["weak-ikev2"]
    answer = ike_scan(weak.host, "--ikev2", nat_t=True)
    assert answer.kind == "ikev2", answer.output
    assert ike_scan_suite(answer.sa) == weak.expected["proposals"][0]
    main = ike_scan(lab["ikev1-main"].host, nat_t=True)
    assert main.kind == "main", main.output


def test_answers_only_on_loopback(lab: StrongSwanLab) -> None:
    present = ipv4_addresses()
    unconfigured = next(f"127.0.0.{n}" for n in range(49, 99) if f"127.0.0.{n}" not in present)
    outside = [a for a, (dev, _) in present.items() if dev != "lo"]
    for host in [unconfigured, *outside]:  # charon's socket gets them, and ignores them
        answer = ike_scan(host, "--ikev2", timeout_ms=SILENCE_MS)
        assert answer.kind is None, (host, answer.output)
    # 127.0.0.1 is on lo but has no connection
    answer = ike_scan("127.0.0.1", "--ikev2")
    assert (answer.kind, answer.notify) == ("notify", "NO_PROPOSAL_CHOSEN"), answer.output


# ---------------------------------------------------------------------------------------------
# IKEv2 with the hand-made IKE_SA_INIT


@pytest.mark.parametrize("name", IKEV2_CONFIGS)
def test_ikev2_accepted_and_refused_suites(lab: StrongSwanLab, name: str) -> None:
    ike = lab[name]
    facts = ike.expected
    for proposal in facts["proposals"]:
        answer = sa_init(ike.host, [offer(proposal)], proposal["group"])
        assert answer is not None and answer.suite == proposal, (proposal, answer)
        assert [n for n in answer.notifies] == facts["notifies"], answer
        assert (PAYLOAD_CERTREQ in answer.payloads) is facts["certreq"], answer
        assert answer.spi_r != bytes(8)
    # one part of the first suite swapped for something the configuration never accepts
    first = facts["proposals"][0]
    aead = first["encryption"] in AEAD
    swaps: list[dict[str, str]] = [
        {"encryption": "AES-GCM-16-128" if aead else "DES"},
        {"prf": next(p for p in PRF if p not in facts["prf"])},
        {"group": next(g for g in GROUP if g not in facts["groups"])},
    ]
    if not aead:
        swaps.append({"integrity": next(i for i in INTEG if i not in facts["integrity"])})
    for swap in swaps:
        suite = {**first, **swap}
        answer = sa_init(ike.host, [offer(suite)], suite["group"])
        assert answer is not None and answer.notifies == ["NO_PROPOSAL_CHOSEN"], (swap, answer)
        assert answer.spi_r == bytes(8)  # refused on a matching connection: no SA at all


def test_weak_ikev2_refuses_what_it_should_not_accept(lab: StrongSwanLab) -> None:
    weak = lab["weak-ikev2"]
    for refused in (
        make_suite("DES", "PRF-HMAC-SHA1", "HMAC-SHA1", "MODP-1024"),
        make_suite("3DES", "PRF-HMAC-MD5", "HMAC-MD5", "MODP-1024"),
        make_suite("AES-CBC-256", "PRF-HMAC-SHA2-256", "HMAC-SHA2-256", "MODP-2048"),
        # every part accepted somewhere, not in this combination
        make_suite("3DES", "PRF-HMAC-SHA2-256", "HMAC-SHA2-256", "MODP-2048"),
    ):
        answer = sa_init(weak.host, [offer(refused)], refused["group"])
        assert answer is not None and answer.notifies == ["NO_PROPOSAL_CHOSEN"], (refused, answer)
    v1 = ike_scan(weak.host)  # ike-scan's IKEv1 offer, with DES and MD5
    assert (v1.kind, v1.notify) == ("notify", "NO_PROPOSAL_CHOSEN"), v1.output


@pytest.mark.parametrize("name", IKEV2_CONFIGS)
def test_ikev2_preference_is_the_servers(lab: StrongSwanLab, name: str) -> None:
    """Everything offered strongest-first, with a KE for the strongest group: charon takes its
    own first suite, asking for that suite's group with INVALID_KE_PAYLOAD if needed."""
    ike = lab[name]
    preferred = ike.expected["preferred"]
    assert ike.expected["server_preference"]
    for offers in ([ALL_AEAD, ALL_CBC], [_reversed(ALL_CBC), _reversed(ALL_AEAD)]):
        ke_group = offers[0].groups[0]
        answer = sa_init(ike.host, offers, ke_group)
        assert answer is not None, offers
        if preferred["group"] != ke_group:
            assert answer.notifies == ["INVALID_KE_PAYLOAD"], answer
            assert answer.notify_data["INVALID_KE_PAYLOAD"] == struct.pack(
                "!H", GROUP[preferred["group"]]
            )
            answer = sa_init(ike.host, offers, preferred["group"])
            assert answer is not None
        assert answer.suite == preferred, (offers, answer)


def test_prefers_weak_even_when_the_strong_suite_is_offered_first(lab: StrongSwanLab) -> None:
    ike = lab["ikev2-prefers-weak"]
    weak, strong = ike.expected["proposals"]
    assert ike.expected["preferred"] == weak
    # two proposals, the strong one first, KE for its group: charon asks for MODP-1024
    answer = sa_init(ike.host, [offer(strong), offer(weak)], strong["group"])
    assert answer is not None and answer.notifies == ["INVALID_KE_PAYLOAD"], answer
    assert answer.notify_data["INVALID_KE_PAYLOAD"] == struct.pack("!H", GROUP["MODP-1024"])
    answer = sa_init(ike.host, [offer(strong), offer(weak)], weak["group"])
    assert answer is not None and answer.suite == weak, answer
    # the strong suite alone is accepted
    answer = sa_init(ike.host, [offer(strong)], strong["group"])
    assert answer is not None and answer.suite == strong, answer


@pytest.mark.parametrize("name", IKEV1_CONFIGS)
def test_ikev2_to_an_ikev1_only_address(lab: StrongSwanLab, name: str) -> None:
    ike = lab[name]
    suite = ike.expected["proposals"][0]
    answer = sa_init(ike.host, [offer(suite)], suite["group"])
    assert answer is not None and answer.notifies == ["NO_PROPOSAL_CHOSEN"], answer
    assert answer.spi_r != bytes(8)  # "no IKE config found": an SA was made, then dropped


# ---------------------------------------------------------------------------------------------
# half-open limits and settings


def _weak_probe(ike: LabIke, **kwargs: Any) -> str:
    suite = ike.expected["proposals"][0]
    answer = sa_init(ike.host, [offer(suite)], suite["group"], **kwargs)
    if answer is None:
        return "silence"
    if answer.suite is not None:
        return "accepted after cookie" if answer.cookie_echoed else "accepted"
    return "/".join(answer.notifies)


def test_default_half_open_limits(lab: StrongSwanLab) -> None:
    assert lab.settings.block_threshold == 5 and lab.settings.cookie_threshold_ip == 3
    weak = lab["weak-ikev2"]
    # ike-scan never echoes a cookie: 3 handshakes, then COOKIE notifies
    kinds = [ike_scan(weak.host, "--ikev2").kind for _ in range(5)]
    notify = ike_scan(weak.host, "--ikev2").notify
    assert kinds == ["ikev2"] * 3 + ["notify"] * 2 and notify == "COOKIE", kinds
    lab.restart()
    # a client that echoes cookies: 3 plain, 2 with a cookie, then silence (block_threshold)
    got = [_weak_probe(weak) for _ in range(7)]
    assert got == ["accepted"] * 3 + ["accepted after cookie"] * 2 + ["silence"] * 2, got
    # a source address of its own (bound to 127.0.0.1) has a half-open count of its own: it is
    # not silenced. It may still be asked for a cookie: charon keeps the 10 s cookie calm-down
    # in one of 32 buckets chosen by a keyed hash of the address (a new key each start), so
    # about one start in 32 puts 127.0.0.1 in the alias's bucket.
    assert _weak_probe(weak, bind="127.0.0.1") in ("accepted", "accepted after cookie")
    # IKEv1 has no cookies: 5 answers, then silence
    main = lab["ikev1-main"]
    kinds = [ike_scan(main.host, timeout_ms=SILENCE_MS).kind for _ in range(7)]
    assert kinds == ["main"] * 5 + [None] * 2, kinds
    log = main.log.read_text() if main.log else ""
    assert f"ignoring IKE_SA setup from {main.host}, per-IP half-open IKE_SA limit of 5" in log


def test_half_open_timeout(lab: StrongSwanLab) -> None:
    with lab.settings_changed(half_open_timeout=3):
        main, weak = lab["ikev1-main"], lab["weak-ikev2"]
        start = time.monotonic()
        kinds = [ike_scan(main.host, timeout_ms=300).kind for _ in range(6)]
        assert kinds == ["main"] * 5 + [None], kinds
        assert [_weak_probe(weak) for _ in range(3)] == ["accepted"] * 3
        assert _weak_probe(weak, echo_cookie=False) == "COOKIE"
        while ike_scan(main.host, timeout_ms=300).kind != "main":
            assert time.monotonic() - start < 8, "half-open IKE_SAs not deleted in time"
        assert time.monotonic() - start > 2.5
        # IKEv2 SAs are gone too, but cookies stay required for 10 s more (calm-down)
        assert _weak_probe(weak, echo_cookie=False) == "COOKIE"
        assert _weak_probe(weak) == "accepted after cookie"
        log = main.log.read_text() if main.log else ""
        assert f"deleting half open IKE_SA with {main.host} after timeout" in log
    assert lab.settings.half_open_timeout == 30  # restored afterwards


def test_thresholds_are_configurable(lab: StrongSwanLab) -> None:
    with lab.settings_changed(block_threshold=2, cookie_threshold_ip=0):
        assert "block_threshold = 2" in lab.conf.read_text()
        weak = lab["weak-ikev2"]
        kinds = [ike_scan(weak.host, "--ikev2", timeout_ms=SILENCE_MS).kind for _ in range(3)]
        assert kinds == ["ikev2", "ikev2", None], kinds
    with lab.settings_changed(dos_protection=False):
        main = lab["ikev1-main"]
        kinds = [ike_scan(main.host, timeout_ms=SILENCE_MS).kind for _ in range(8)]
        assert kinds == ["main"] * 8, kinds


# ---------------------------------------------------------------------------------------------
# start-up refusals and close


def test_second_lab_refuses_while_ports_are_taken(
    strongswan_lab: StrongSwanLab, tmp_path: Path
) -> None:
    other = StrongSwanLab(tmp_path / "other", configs=["weak-ikev2"])
    with pytest.raises(LabError, match="UDP port 500 is already bound") as info:
        other.start()
    assert "charon" in str(info.value)
    # nothing of the running lab was touched
    assert ipv4_addresses()["127.0.0.41"] == ("lo", ADDRESS_LABEL)
    assert ike_scan("127.0.0.41", "--ikev2").kind in ("ikev2", "notify")


def test_foreign_address_is_never_taken(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # weak-ikev2 alone: its address is refused before anything is added
    other = StrongSwanLab(tmp_path / "other", configs=["weak-ikev2"])
    monkeypatch.setattr(other, "_check_ports_free", lambda: None)
    real = ipv4_addresses()
    monkeypatch.setattr(
        strongswan_lab_module,
        "ipv4_addresses",
        lambda: {**real, "127.0.0.41": ("lo", "lo")},  # as if someone else had it
    )
    with pytest.raises(LabError, match=r"127\.0\.0\.41 is already configured on lo"):
        other.start()
    assert other.pid is None and other._added == []


def test_close_leaves_nothing_behind(strongswan_lab: StrongSwanLab) -> None:
    lab = strongswan_lab
    lab.start()
    pid, conf, run_dir = lab.pid, lab.conf, lab.run_dir
    assert pid is not None and _charon_processes(conf) == [pid]
    try:
        lab.close()
        assert not Path(f"/proc/{pid}").exists()
        assert _charon_processes(conf) == []
        assert not any(label == ADDRESS_LABEL for _, label in ipv4_addresses().values())
        assert udp_listeners(IKE_PORT) == [] and udp_listeners(NAT_T_PORT) == []
        assert not (run_dir / "charon.pid").exists() and not (run_dir / "charon.vici").exists()
    finally:
        lab.start()  # the session's lab again, for the tests that follow
    assert ike_scan(lab["weak-ikev2"].host, "--ikev2").kind == "ikev2"
