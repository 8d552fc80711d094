"""A real strongSwan IKE responder (charon 5.9.8) on loopback aliases for the IKE tests.

One ``charon`` serves every configuration: each configuration is one swanctl connection bound
by ``local_addrs`` to its own loopback alias (127.0.0.41, .42, ...), which the lab adds to
``lo`` (label ``lo:probeike``) and removes again at close. charon picks the connection by the
address a datagram was sent to, so the aliases answer independently: an address whose only
connection speaks the other IKE version answers NO_PROPOSAL_CHOSEN.

Why this shape (each point checked on Debian 12, strongSwan 5.9.8):

- Ports 500 and 4500 only. charon 5.9.8 treats a datagram whose source and destination ports
  are both not 500 as NAT-T framed: without the 4-byte non-ESP marker it is taken for ESP and
  dropped. With ``port = 10500`` a plain IKE client gets silence; only ``ike-scan --nat-t
  --dport=10500`` is answered.
- The main network namespace, no relay. socket-default binds 0.0.0.0:500/4500, but with
  ``interfaces_use = lo`` charon drops datagrams for addresses outside ``lo`` ("on ignored
  interface"): one sent to the machine's eth0 address, or to a 127.x address not configured
  on ``lo``, gets no answer. ``use_ipv6 = no`` keeps it off [::]:500.
- A private mount namespace (``unshare --mount``) with the lab's run directory bound over
  /run: charon 5.9.8 hard-codes /var/run/charon.pid and refuses to start while another
  charon holds it, even one in another network namespace. The pid file and the vici socket
  stay in the lab directory; nothing is written to the real /run.
- Nothing touches the machine's IPsec or routing state: no connection has a ``children``
  section, so no CHILD_SA (kernel SA or policy) can ever be negotiated, even by a client that
  knows the PSK. ``routing_table = 0`` and ``install_routes = no`` keep charon from adding the
  ``ip rule`` for table 220. Only the plugins in ``CHARON_PLUGINS`` load (no stroke, updown,
  resolve, bypass-lan). Nothing goes to syslog: the only logger is the file log. The IKE bypass
  policies charon sets are per socket and go away with its sockets.
- The lab never reads /etc/strongswan.conf or /etc/swanctl: ``STRONGSWAN_CONF`` points charon
  and swanctl at a generated file, and swanctl loads an explicit ``--file`` and talks to the
  private vici socket (``--uri``).

The client's source address: Linux sends a datagram for a local address from that same
address, so a client that does not bind gets source 127.0.0.4x, not 127.0.0.1. charon counts
half-open IKE_SAs per source address, so each configuration has its own count unless a client
binds 127.0.0.1.

Half-open limits. ``StrongSwanLab`` keeps charon's defaults unless told otherwise, so an
enumerating scanner meets them. Measured with ike-scan and a hand-made client (the checks are
in tests/lab_tests/test_strongswan_lab.py):

- ``cookie_threshold_ip`` (3): once a source address has 3 half-open IKE_SAs, an IKEv2
  IKE_SA_INIT without a valid COOKIE gets N(COOKIE) and creates no state. ike-scan never
  echoes the cookie, so from its 4th accepted probe on it sees only COOKIE notifies. A client
  that resends with the cookie (same SPIi, nonce and KE) is served until ``block_threshold``.
  Cookies stay required for 10 s (COOKIE_CALMDOWN_DELAY, built in) after the count was last
  at or above the threshold. That calm-down state sits in one of 32 buckets picked by a hash
  of the source address, so two aliases can share it.
- ``block_threshold`` (5): with 5 half-open IKE_SAs from one address charon ignores further
  setups from it (silence): IKEv2 with a valid cookie and IKEv1 alike. A cookie-less IKEv2
  request still gets N(COOKIE). IKEv1 has no cookies, so the 6th Main or Aggressive Mode
  probe is the first one unanswered.
- ``cookie_threshold`` (30): like ``cookie_threshold_ip``, counted over all sources.
- ``half_open_timeout`` (30 s): charon deletes a half-open IKE_SA this long after creating it.
  That is an IKE_SA_INIT, or a first Main or Aggressive Mode message, that it answered and the
  client never followed up. IKEv1 is answered again as soon as the count drops; cookie-less
  IKEv2 waits 10 s more. Refused offers (NO_PROPOSAL_CHOSEN, INVALID_KE_PAYLOAD,
  AUTHENTICATION_FAILED) keep no state and do not count.

``LabIke.expected`` holds what a client sees. Algorithm names are probe's: encryption "DES",
"3DES", "AES-CBC-128", "AES-CBC-256", "AES-GCM-16-256", "CHACHA20-POLY1305"; PRF
"PRF-HMAC-MD5", "PRF-HMAC-SHA1", "PRF-HMAC-SHA2-256", "PRF-HMAC-SHA2-384"; integrity
"HMAC-MD5", "HMAC-SHA1", "HMAC-SHA2-256", "HMAC-SHA2-384" (None with an AEAD); groups
"MODP-1024", "MODP-2048", "ECP-256", "ECP-384", "CURVE25519". Keys:

- ``ike_version``: 1 or 2. ``other_version``: the answer to an offer of the other version
  (the address has no connection for it). IKEv2 NO_PROPOSAL_CHOSEN then carries a non-zero
  responder SPI; a refused proposal on a matching connection gets SPIr 0.
- ``proposals``: the accepted suites (dicts with ``encryption``, ``prf``, ``integrity``,
  ``group``) in charon's order. An offer is accepted when it contains one of them whole.
  IKEv1 has one hash for PRF and integrity; ``prf`` and ``integrity`` hold its HMAC forms.
- ``encryption``, ``prf``, ``integrity``, ``groups``: every algorithm that appears in some
  accepted suite (for one-item-at-a-time enumeration with the rest of that suite).
- ``server_preference``: charon chooses by its own order (``prefer_configured_proposals =
  yes``, the default), whatever the client's order. It takes its first configured suite
  that the offer allows. If the KE payload is for another group, the answer is
  INVALID_KE_PAYLOAD naming that suite's group, even when a suite for the KE's group was
  offered too.
- ``preferred``: the suite chosen when a client offers every algorithm above, strongest first.
  For ``ikev2-prefers-weak`` that is the weak first proposal, although the strong one is
  offered and allowed.
- ``ike_scan_default``: the answer to ike-scan's default offer (``--ikev2`` for IKEv2):
  ``{"answer": "handshake", "suite": {...}}``, or ``{"answer": "<NOTIFY>"}`` with ``group``
  for INVALID_KE_PAYLOAD. ike-scan's defaults are, for IKEv2, one proposal AES-CBC-256/
  AES-CBC-128/3DES/DES, HMAC-SHA1/HMAC-MD5, PRF-HMAC-SHA1/PRF-HMAC-MD5 and MODP-1024/1536/2048
  with a MODP-1024 KE (``--dhgroup`` changes only the KE). For IKEv1 Main Mode they are 8
  transforms: 3DES/DES, SHA1/MD5, MODP-1024/MODP-768, PSK.
- ``notifies`` (IKEv2): the status notifies in an IKE_SA_INIT answer to a client that sends
  none itself. ``certreq``: the IKE_SA_INIT answer carries CERTREQ (only ``ikev2-cert``:
  ``send_certreq = no`` elsewhere, since charon would otherwise request the lab CA in every
  IKEv2 answer).
- IKEv1 only: ``main_mode`` (answered with the chosen SA) and ``aggressive_mode``. The
  Aggressive Mode answer carries KE, nonce, the responder's ID and HASH_R, the PSK hash that
  can be cracked offline. ``aggressive_answer``: the notify when Aggressive Mode is refused
  ("AUTHENTICATION_FAILED", sent after proposal selection). ``vendor_ids``: the VIDs in every
  IKEv1 answer. A connection with ``aggressive = yes`` answers Main Mode too.
- ``auth`` ("psk" or "pubkey"), ``local_id`` (the responder's ID), ``psk`` (the secret, for
  PSK configurations).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .certs import LabCerts
from .servers import INSTALL_HINT, LabError, ServerProcess, require_binary

CHARON = Path("/usr/lib/ipsec/charon")  # Debian's path; not on PATH
IKE_PORT = 500
NAT_T_PORT = 4500
STRONGSWAN_START_TIMEOUT = 20.0
LAB_PSK = "probe-lab-psk-5e1f0c"
LOCAL_ID_DOMAIN = "probe.lab"
# The label marks the lab's aliases: an address with it is the lab's own (maybe left by a
# killed run), one without it belongs to someone else and is never touched.
ADDRESS_LABEL = "lo:probeike"
# openssl provides every cipher, MAC and DH group, X25519 included; DES and MD5 come from
# OpenSSL 3's legacy provider, which the plugin loads by default. The rest parse keys and
# certificates or are charon's plumbing. Nothing from libstrongswan-extra-plugins is needed.
CHARON_PLUGINS = (
    "random nonce openssl pem pkcs1 pkcs8 x509 pubkey constraints "
    "kernel-netlink socket-default vici"
)
# AF_UNIX paths are limited to 107 bytes.
MAX_SOCKET_PATH = 100


@dataclass(frozen=True)
class CharonSettings:
    """strongswan.conf knobs a test may change; the defaults are charon 5.9.8's own."""

    block_threshold: int = 5
    cookie_threshold: int = 30
    cookie_threshold_ip: int = 3
    half_open_timeout: int = 30
    dos_protection: bool = True


def suite(encryption: str, prf: str, integrity: str | None, group: str) -> dict[str, Any]:
    return {"encryption": encryption, "prf": prf, "integrity": integrity, "group": group}


@dataclass(frozen=True)
class IkeConfig:
    name: str
    description: str
    address: str
    version: int
    proposals: str  # swanctl syntax
    expected: dict[str, Any]
    aggressive: bool = False
    auth: str = "psk"  # or "pubkey" (needs LabCerts)


def _id(name: str) -> str:
    return f"{name}.{LOCAL_ID_DOMAIN}"


def _facts(
    name: str,
    version: int,
    proposals: list[dict[str, Any]],
    *,
    ike_scan_default: dict[str, Any],
    auth: str = "psk",
    local_id: str | None = None,
    ikev1: dict[str, Any] | None = None,
) -> dict[str, Any]:
    def union(key: str) -> list[str]:
        return list(dict.fromkeys(p[key] for p in proposals if p[key] is not None))

    facts: dict[str, Any] = {
        "ike_version": version,
        "other_version": "NO_PROPOSAL_CHOSEN",
        "proposals": proposals,
        "encryption": union("encryption"),
        "prf": union("prf"),
        "integrity": union("integrity"),
        "groups": union("group"),
        "server_preference": True,
        "preferred": proposals[0],
        "ike_scan_default": ike_scan_default,
        "auth": auth,
        "local_id": local_id or _id(name),
        "psk": LAB_PSK if auth == "psk" else None,
        "certreq": auth == "pubkey",
    }
    if version == 2:
        facts["notifies"] = ["CHILDLESS_IKEV2_SUPPORTED", "MULTIPLE_AUTH_SUPPORTED"]
    else:
        facts.update(
            {
                "main_mode": True,
                "aggressive_mode": False,
                "aggressive_answer": "AUTHENTICATION_FAILED",
                "vendor_ids": ["XAUTH", "DPD"],
                **(ikev1 or {}),
            }
        )
    return facts


NO_PROPOSAL = {"answer": "NO_PROPOSAL_CHOSEN"}
WEAK_V2 = [
    suite("3DES", "PRF-HMAC-SHA1", "HMAC-SHA1", "MODP-1024"),
    suite("AES-CBC-128", "PRF-HMAC-SHA2-256", "HMAC-SHA2-256", "MODP-2048"),
]
STRONG_V2 = [
    suite("AES-GCM-16-256", "PRF-HMAC-SHA2-384", None, "ECP-384"),
    suite("CHACHA20-POLY1305", "PRF-HMAC-SHA2-256", None, "CURVE25519"),
]
MAIN_V1 = [
    suite("AES-CBC-128", "PRF-HMAC-SHA1", "HMAC-SHA1", "MODP-2048"),
    suite("3DES", "PRF-HMAC-MD5", "HMAC-MD5", "MODP-1024"),
]
AGGRESSIVE_V1 = [suite("AES-CBC-128", "PRF-HMAC-SHA1", "HMAC-SHA1", "MODP-1024")]
PREFERS_WEAK_V2 = [
    suite("AES-CBC-128", "PRF-HMAC-SHA1", "HMAC-SHA1", "MODP-1024"),
    suite("AES-CBC-256", "PRF-HMAC-SHA2-384", "HMAC-SHA2-384", "ECP-384"),
]
CERT_V2 = [
    suite("AES-CBC-256", "PRF-HMAC-SHA2-256", "HMAC-SHA2-256", "MODP-2048"),
    suite("AES-CBC-128", "PRF-HMAC-SHA1", "HMAC-SHA1", "MODP-2048"),
]

# Every fact is checked in tests/lab_tests/test_strongswan_lab.py, with ike-scan 1.9.5 (IKEv1
# transforms, Aggressive Mode, ike-scan's default offers) and a hand-made IKE_SA_INIT (IKEv2
# suites, preference, INVALID_KE_PAYLOAD, CERTREQ, notifies).
STRONGSWAN_CONFIGS: dict[str, IkeConfig] = {
    c.name: c
    for c in [
        IkeConfig(
            "weak-ikev2",
            "IKEv2, proposals 3des-sha1-modp1024 then aes128-sha256-modp2048, PSK",
            "127.0.0.41",
            2,
            "3des-sha1-modp1024, aes128-sha256-modp2048",
            _facts(
                "weak-ikev2",
                2,
                WEAK_V2,
                ike_scan_default={"answer": "handshake", "suite": WEAK_V2[0]},
            ),
        ),
        IkeConfig(
            "strong-ikev2",
            "IKEv2, AEAD only: aes256gcm16-prfsha384-ecp384, chacha20poly1305-prfsha256-x25519",
            "127.0.0.42",
            2,
            "aes256gcm16-prfsha384-ecp384, chacha20poly1305-prfsha256-x25519",
            _facts("strong-ikev2", 2, STRONG_V2, ike_scan_default=NO_PROPOSAL),
        ),
        IkeConfig(
            "ikev1-main",
            "IKEv1 Main Mode only, aes128-sha1-modp2048 then 3des-md5-modp1024, PSK",
            "127.0.0.43",
            1,
            "aes128-sha1-modp2048, 3des-md5-modp1024",
            _facts(
                "ikev1-main",
                1,
                MAIN_V1,
                ike_scan_default={"answer": "handshake", "suite": MAIN_V1[1]},
            ),
        ),
        IkeConfig(
            "ikev1-aggressive-psk",
            "IKEv1 Aggressive Mode with PSK (answers with the PSK hash), aes128-sha1-modp1024;"
            " Main Mode is answered too",
            "127.0.0.44",
            1,
            "aes128-sha1-modp1024",
            _facts(
                "ikev1-aggressive-psk",
                1,
                AGGRESSIVE_V1,
                ike_scan_default=NO_PROPOSAL,
                ikev1={"aggressive_mode": True, "aggressive_answer": None},
            ),
            aggressive=True,
        ),
        IkeConfig(
            "ikev2-prefers-weak",
            "IKEv2, aes128-sha1-modp1024 first, aes256-sha384-ecp384 also allowed: "
            "charon picks the weak suite when both are offered",
            "127.0.0.45",
            2,
            "aes128-sha1-modp1024, aes256-sha384-ecp384",
            _facts(
                "ikev2-prefers-weak",
                2,
                PREFERS_WEAK_V2,
                ike_scan_default={"answer": "handshake", "suite": PREFERS_WEAK_V2[0]},
            ),
        ),
        IkeConfig(
            "ikev2-cert",
            "IKEv2 with certificate auth (lab RSA-2048 leaf, the lab CA trusted): "
            "the IKE_SA_INIT answer carries CERTREQ",
            "127.0.0.46",
            2,
            "aes256-sha256-modp2048, aes128-sha1-modp2048",
            _facts(
                "ikev2-cert",
                2,
                CERT_V2,
                # ike-scan offers MODP-2048 but sends a MODP-1024 KE
                ike_scan_default={"answer": "INVALID_KE_PAYLOAD", "group": "MODP-2048"},
                auth="pubkey",
                local_id="localhost",
            ),
            auth="pubkey",
        ),
    ]
}


@dataclass(frozen=True)
class LabIke:
    host: str  # the configuration's loopback alias
    port: int
    nat_t_port: int
    name: str
    description: str
    expected: dict[str, Any]
    log: Path | None = field(default=None, compare=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def _run(argv: list[str], *, timeout: float = 15.0, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **env} if env else None,
    )


def _require_charon() -> str:
    if not CHARON.is_file():
        raise LabError(f"{CHARON} is not installed (strongswan-charon); {INSTALL_HINT}")
    return str(CHARON)


def ipv4_addresses() -> dict[str, tuple[str, str]]:
    """Every IPv4 address in this network namespace: address -> (device, label)."""
    out = _run([require_binary("ip"), "-j", "-4", "addr", "show"])
    if out.returncode != 0:
        raise LabError(f"ip -j -4 addr show failed: {out.stderr}")
    found: dict[str, tuple[str, str]] = {}
    for link in json.loads(out.stdout or "[]"):
        for info in link.get("addr_info", []):
            found[info["local"]] = (link["ifname"], info.get("label", link["ifname"]))
    return found


def udp_listeners(port: int) -> list[str]:
    """``ss`` lines for the UDP sockets bound to ``port``, with their owner process."""
    out = _run([require_binary("ss"), "-H", "-ulnp", f"sport = :{port}"])
    return [line for line in out.stdout.splitlines() if line.strip()]


def strongswan_conf(settings: CharonSettings, *, vici: Path, log: Path) -> str:
    yes_no = {True: "yes", False: "no"}
    return f"""# generated by tests/lab/strongswan.py
charon {{
    load_modular = no
    load = {CHARON_PLUGINS}
    port = {IKE_PORT}
    port_nat_t = {NAT_T_PORT}
    interfaces_use = lo
    install_routes = no
    install_virtual_ip = no
    routing_table = 0
    # the default, spelled out because LabIke.expected relies on it
    prefer_configured_proposals = yes
    dos_protection = {yes_no[settings.dos_protection]}
    block_threshold = {settings.block_threshold}
    cookie_threshold = {settings.cookie_threshold}
    cookie_threshold_ip = {settings.cookie_threshold_ip}
    half_open_timeout = {settings.half_open_timeout}
    # the ikev1-aggressive-psk configuration is refused without this
    i_dont_care_about_security_and_use_aggressive_mode_psk = yes
    plugins {{
        vici {{
            socket = unix://{vici}
        }}
        socket-default {{
            use_ipv6 = no
        }}
    }}
    filelog {{
        lab {{
            path = {log}
            append = yes
            flush_line = yes
            time_format = %H:%M:%S
            time_add_ms = yes
            ike_name = yes
            default = 1
            cfg = 2
            ike = 2
            net = 2
        }}
    }}
}}
"""


def swanctl_conf(configs: Iterable[IkeConfig]) -> str:
    lines = ["connections {"]
    for config in configs:
        pubkey = config.auth == "pubkey"
        local = (
            ["certs = lab-leaf.pem", "id = localhost"] if pubkey else [f"id = {_id(config.name)}"]
        )
        lines += [
            f"    {config.name} {{",
            f"        version = {config.version}",
            f"        local_addrs = {config.address}",
            f"        proposals = {config.proposals}",
            f"        aggressive = {'yes' if config.aggressive else 'no'}",
            "        mobike = no",
            # charon sends CERTREQ for every trusted CA in every IKEv2 answer unless told not to
            f"        send_certreq = {'yes' if pubkey else 'no'}",
            "        local {",
            f"            auth = {config.auth}",
            *(f"            {line}" for line in local),
            "        }",
            "        remote {",
            f"            auth = {config.auth}",
            "        }",
            # no children section: no CHILD_SA can ever be negotiated, so nothing is installed
            # in the kernel, even for a client that authenticates
            "    }",
        ]
    lines += ["}", "secrets {", "    ike-lab {", f'        secret = "{LAB_PSK}"', "    }", "}"]
    return "\n".join(lines) + "\n"


class StrongSwanLab:
    """One charon serving ``STRONGSWAN_CONFIGS`` on their loopback aliases.

    ``with StrongSwanLab(workdir, certs=lab_certs) as lab: lab["weak-ikev2"]`` -> ``LabIke``.
    Keyword arguments are ``CharonSettings`` fields (charon's defaults when omitted).
    ``configs`` limits the lab to some configurations; ``ikev2-cert`` needs ``certs`` and is
    left out without them. Only one lab can run at a time: it needs UDP 500 and 4500.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        certs: LabCerts | None = None,
        configs: Iterable[str] | None = None,
        **settings: Any,
    ) -> None:
        names = list(configs) if configs is not None else list(STRONGSWAN_CONFIGS)
        unknown = [n for n in names if n not in STRONGSWAN_CONFIGS]
        if unknown:
            raise KeyError(
                f"no strongSwan configuration {unknown}; known: {list(STRONGSWAN_CONFIGS)}"
            )
        if certs is None:
            if configs is not None and "ikev2-cert" in names:
                raise LabError("the ikev2-cert configuration needs the lab certificates")
            names = [n for n in names if STRONGSWAN_CONFIGS[n].auth != "pubkey"]
        self.configs = [STRONGSWAN_CONFIGS[n] for n in names]
        self.certs = certs
        self.settings = CharonSettings(**settings)
        self.root = workdir
        self.run_dir = workdir / "run"
        self.swanctl_dir = workdir / "swanctl"
        self.conf = workdir / "strongswan.conf"
        self.log = workdir / "charon.log"
        self._proc: ServerProcess | None = None
        self._added: list[str] = []
        self._cleanup = contextlib.ExitStack()
        self._lock = threading.RLock()

    # -- public API ------------------------------------------------------------------------

    @property
    def vici(self) -> Path:
        return self.run_dir / "charon.vici"

    @property
    def uri(self) -> str:
        return f"unix://{self.vici}"

    @property
    def pid(self) -> int | None:
        """charon's process id while it runs."""
        return self._proc.proc.pid if self._proc and self._proc.alive() else None

    @property
    def addresses(self) -> list[str]:
        return [c.address for c in self.configs]

    def __getitem__(self, name: str) -> LabIke:
        config = next((c for c in self.configs if c.name == name), None)
        if config is None:
            raise KeyError(f"no strongSwan configuration {name!r} here; known: {self.names()}")
        return LabIke(
            config.address,
            IKE_PORT,
            NAT_T_PORT,
            config.name,
            config.description,
            config.expected,
            self.log,
        )

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.configs)

    def names(self) -> list[str]:
        return [c.name for c in self.configs]

    def swanctl(self, *args: str, timeout: float = 15.0) -> subprocess.CompletedProcess[str]:
        """Run ``swanctl`` against this lab's charon (its private vici socket)."""
        return _run(
            [require_binary("swanctl"), *args, "--uri", self.uri],
            timeout=timeout,
            STRONGSWAN_CONF=str(self.conf),
        )

    def start(self) -> StrongSwanLab:
        """Add the aliases and start charon; a no-op while it runs. Works again after close."""
        with self._lock:
            if self._proc is not None:
                return self
            self._check_ports_free()  # before touching anything: another lab may be running
            try:
                self._prepare()
                self._add_addresses()
                self._start_charon()
            except BaseException:
                self.close()
                raise
            return self

    def restart(self, **changes: Any) -> None:
        """A fresh charon (no IKE_SAs, no half-open counts, no cookie state) with ``changes``
        (``CharonSettings`` fields) applied to the settings."""
        with self._lock:
            self.settings = dataclasses.replace(self.settings, **changes)
            if not self._added:  # not started (or closed): the aliases are needed too
                self.start()
                return
            self._stop_charon()
            self._start_charon()

    @contextlib.contextmanager
    def settings_changed(self, **changes: Any) -> Iterator[StrongSwanLab]:
        """Run a block against a fresh charon with other settings. The old settings come back
        afterwards, on a fresh charon again, so the block's half-open IKE_SAs do not leak."""
        before = self.settings
        self.restart(**changes)
        try:
            yield self
        finally:
            self.restart(**dataclasses.asdict(before))

    def close(self) -> None:
        """Stop charon and remove the aliases the lab added."""
        with self._lock:
            try:
                self._stop_charon()
            finally:
                self._remove_addresses()
                self._cleanup.close()

    def __enter__(self) -> StrongSwanLab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------

    def _prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.run_dir = self.root / "run"
        if len(str(self.vici)) > MAX_SOCKET_PATH:  # a deep --basetemp: the socket goes elsewhere
            self.run_dir = Path(tempfile.mkdtemp(prefix="probe-ike-"))
            self._cleanup.callback(shutil.rmtree, self.run_dir, ignore_errors=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log.unlink(missing_ok=True)  # one log per start(); restarts append to it
        # swanctl loads credentials from x509/, x509ca/ and private/ beside its --file
        for sub in ("x509", "x509ca", "private"):
            (self.swanctl_dir / sub).mkdir(parents=True, exist_ok=True)
        (self.swanctl_dir / "private").chmod(0o700)
        if self.certs is not None:
            shutil.copyfile(self.certs.rsa2048.cert, self.swanctl_dir / "x509" / "lab-leaf.pem")
            shutil.copyfile(self.certs.rsa2048.key, self.swanctl_dir / "private" / "lab-leaf.key")
            shutil.copyfile(self.certs.ca_cert, self.swanctl_dir / "x509ca" / "lab-ca.pem")
        (self.swanctl_dir / "swanctl.conf").write_text(swanctl_conf(self.configs))

    def _add_addresses(self) -> None:
        present = ipv4_addresses()
        ip = require_binary("ip")
        for address in self.addresses:
            if address in present:
                device, label = present[address]
                if (device, label) != ("lo", ADDRESS_LABEL):
                    raise LabError(
                        f"{address} is already configured on {device} (label {label}), not by "
                        "the probe lab; the strongSwan lab needs it"
                    )
                # ours, left behind by a killed run: adopt it and remove it at close
            else:
                done = _run(
                    [ip, "addr", "add", f"{address}/32", "dev", "lo", "label", ADDRESS_LABEL]
                )
                if done.returncode != 0:
                    raise LabError(f"ip addr add {address}/32 dev lo failed: {done.stderr}")
            self._added.append(address)

    def _remove_addresses(self) -> None:
        if not self._added:
            return
        ip = require_binary("ip")
        present = ipv4_addresses()
        errors = []
        for address in self._added:
            if present.get(address) == ("lo", ADDRESS_LABEL):
                done = _run([ip, "addr", "del", f"{address}/32", "dev", "lo"])
                if done.returncode != 0:
                    errors.append(f"{address}: {done.stderr.strip()}")
        self._added.clear()
        if errors:
            raise LabError(f"could not remove the lab's loopback aliases: {errors}")

    def _check_ports_free(self) -> None:
        for port in (IKE_PORT, NAT_T_PORT):
            holders = udp_listeners(port)
            if holders:
                raise LabError(
                    f"UDP port {port} is already bound in this network namespace; the "
                    "strongSwan lab needs 500 and 4500 (charon answers plain IKE on 500 "
                    "only):\n" + "\n".join(holders)
                )

    def _start_charon(self) -> None:
        charon = _require_charon()
        self._check_ports_free()
        self.conf.write_text(strongswan_conf(self.settings, vici=self.vici, log=self.log))
        for stale in ("charon.pid", "charon.vici"):
            (self.run_dir / stale).unlink(missing_ok=True)
        # A private mount namespace gives charon its own /run (see the module docstring);
        # exec keeps charon as the process and group leader that ServerProcess stops.
        argv = [
            require_binary("unshare"),
            "--mount",
            "--propagation",
            "private",
            "--",
            "/bin/sh",  # essential on every Debian (as is mount)
            "-c",
            'mount --bind "$1" /run && exec env STRONGSWAN_CONF="$2" "$3"',
            "sh",
            str(self.run_dir),
            str(self.conf),
            charon,
        ]
        self._proc = ServerProcess(argv, self.root / "charon.out", cwd=self.root)
        try:
            self._wait_ready()
        except BaseException:
            self._stop_charon()
            raise

    def _describe(self) -> str:
        text = self._proc.output() if self._proc else ""
        try:
            log = self.log.read_text(errors="replace")[-4000:]
        except OSError:
            log = "(no log)"
        return f"{text}\n--- {self.log} ---\n{log}"

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + STRONGSWAN_START_TIMEOUT

        def still_starting() -> None:
            if self._proc is None or not self._proc.alive():
                raise LabError(f"charon exited during start-up\n{self._describe()}")
            if time.monotonic() > deadline:
                raise LabError(
                    f"charon not ready within {STRONGSWAN_START_TIMEOUT} s\n{self._describe()}"
                )
            time.sleep(0.05)

        # 1. vici answers: plugins are loaded (socket-default bound 500/4500 before vici
        #    started) and the worker threads run
        while not (self.vici.exists() and self.swanctl("--stats").returncode == 0):
            still_starting()
        for port in (IKE_PORT, NAT_T_PORT):
            if not any("charon" in line for line in udp_listeners(port)):
                raise LabError(f"charon does not hold UDP {port}\n{self._describe()}")
        # 2. the connections, the PSK and, for ikev2-cert, the certificates and key
        loaded = self.swanctl("--load-all", "--file", str(self.swanctl_dir / "swanctl.conf"))
        want = f"successfully loaded {len(self.configs)} connections"
        if loaded.returncode != 0 or want not in loaded.stdout:
            raise LabError(
                f"swanctl --load-all failed:\n{loaded.stdout}{loaded.stderr}\n{self._describe()}"
            )
        # 3. charon lists every one of them
        while True:
            listed = self.swanctl("--list-conns")
            if set(re.findall(r"^(\S+): IKEv[12]", listed.stdout, re.M)) == set(self.names()):
                return
            still_starting()

    def _stop_charon(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.stop()  # SIGTERM: charon removes its pid file; SIGKILL after 5 s
        self.vici.unlink(missing_ok=True)  # charon leaves its socket file behind


# -------------------------------------------------------------------------------------------
# ike-scan as an oracle (the lab tests check the configurations with it)

IKE_SCAN_NOTIFY = re.compile(r"Notify message (\d+) \(([A-Z_-]+)\)")


@dataclass(frozen=True)
class IkeScanAnswer:
    kind: str | None  # "main", "aggressive", "ikev2", "notify", or None (no answer)
    notify: str | None  # e.g. "NO_PROPOSAL_CHOSEN" (ike-scan's IKEv1 dashes become _)
    sa: dict[str, str]  # the chosen transform as ike-scan prints it: {"Enc": "3DES", ...}
    payloads: list[str]  # the other decoded lines (VID=..., Hash(20 bytes), ID(...), ...)
    output: str


def ike_scan(
    host: str, *args: str, nat_t: bool = False, timeout_ms: int = 1500, retry: int = 1
) -> IkeScanAnswer:
    """One ike-scan probe from a random source port (charon holds 500 and 4500), decoded.

    ``nat_t`` sends to 4500 with the non-ESP marker (``--nat-t``)."""
    argv = [
        require_binary("ike-scan"),
        *(["--nat-t"] if nat_t else []),
        "--sport=0",  # after --nat-t, which would set it to 4500
        "--multiline",
        f"--retry={retry}",
        f"--timeout={timeout_ms}",
        *args,
        host,
    ]
    out = _run(argv, timeout=30 + timeout_ms * retry * 3 / 1000).stdout
    return parse_ike_scan(host, out)


def parse_ike_scan(host: str, out: str) -> IkeScanAnswer:
    """ike-scan --multiline output for ``host``, decoded (shared with tests/lab/libreswan.py)."""
    kind = notify = None
    sa: dict[str, str] = {}
    payloads: list[str] = []
    for line in out.splitlines():
        if line.startswith(host + "\t"):
            text = line.split("\t", 1)[1]
            if "Main Mode Handshake" in text:
                kind = "main"
            elif "Aggressive Mode Handshake" in text:
                kind = "aggressive"
            elif "IKEv2 SA_INIT Handshake" in text:
                kind = "ikev2"
            elif match := IKE_SCAN_NOTIFY.search(text):
                kind, notify = "notify", match.group(2).replace("-", "_")
        elif line.startswith("\t"):
            text = line.strip()
            if text.startswith("SA=("):
                pairs = text[4:-1].replace(",", " ").split()
                sa = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
            elif not text.startswith("HDR="):
                payloads.append(text)
    return IkeScanAnswer(kind, notify, sa, payloads, out)
