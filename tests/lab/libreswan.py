"""A real libreswan IKE responder (pluto 4.10) in a private network namespace.

strongSwan's lab (tests/lab/strongswan.py) holds UDP 500 and 4500 in the main network
namespace, so pluto never runs there. Each ``LibreswanLab`` is one pluto with one
configuration, alone in a fresh network and mount namespace (``unshare --net --mount``), and
``LibreswanLab.run`` runs a client command in that same network namespace (``nsenter --net``).
Labs are independent: several can run at once, each in its own namespace.

Why this shape (each point checked on Debian 12 with libreswan 4.10-2+deb12u1):

- pluto is not installed as a Debian package. ``libreswan`` declares ``Conflicts: ike-server``,
  which ``strongswan-charon`` provides: installing it removes charon, and the other way round.
  scripts/install-test-deps.sh downloads the .deb (``apt-get download libreswan``) and
  unpacks it with ``dpkg-deb -x`` into ``/opt/probe-lab/libreswan`` (or
  ``$PROBE_LIBRESWAN_ROOT``), after installing its libraries and ``libnss3-tools``. A
  system-wide libreswan (``/usr/libexec/ipsec/pluto``) is used when there is no unpacked one.
- pluto 4.10 insists on its compiled-in ``/usr/libexec/ipsec/addconn`` ("FATAL ERROR:
  /usr/libexec/ipsec/addconn: missing or not executable"), with or without ``--config``. In
  its private mount namespace the unpacked ``usr/libexec/ipsec`` is bound there (over a
  tmpfs on ``/usr/libexec``); a private tmpfs on ``/run`` hides the machine's ``/run/pluto``.
  Nothing outside the lab directory is written: ``--config``, ``--secretsfile``,
  ``--ipsecdir``, ``--nssdir`` and ``--rundir`` (control socket and pid file) point into it,
  ``dumpdir`` too. ``--log-no-audit`` keeps pluto off the kernel audit log, its log goes to
  stderr (the lab's ``pluto.log``), and ``/dev/log`` is masked in its mount namespace (pluto
  connects to it at start-up even with ``--stderrlog``).
- Two addresses. pluto listens only on 127.0.0.2 (``listen=``; an alias the namespace adds to
  ``lo``), and every client in the namespace speaks from 127.0.0.1: the lab replaces the
  kernel's ``local 127.0.0.2`` route with one whose preferred source is 127.0.0.1. Without
  that, Linux answers a datagram to a local address from that same address, and pluto 4.10
  aborts when a peer's address is one of its own interfaces: "both sides of "x"[1] 127.0.0.1
  are our interface lo!" followed by "ABORT: ASSERTION FAILED: st->st_interface != NULL"
  (pluto exits; the client sees ICMP port unreachable).
- No MODP-1024. Debian builds pluto without DH group 2 ("IKE DH algorithm 'modp1024' is not
  supported"), so the weak IKEv2 suite uses MODP-1536. A connection pluto refuses is not
  reported at start-up unless debugging is on, so the lab checks every ``ike=`` with
  ``algparse`` first and checks that pluto lists every connection afterwards.
- Connections are added by the lab (``addconn --config ... NAME``), not by ``auto=add``:
  addconn returns once pluto has taken the connection. None has ``auto=start`` or ``route``,
  and no client knows the PSK, so no IPsec SA or kernel policy is ever installed.

libreswan 4.10 behaviours the expected facts rest on (see tests/lab_tests/test_libreswan_lab.py):

- IKEv1 Main Mode is never answered here: a connection with ``aggressive=yes`` serves only
  Aggressive Mode, and an IKEv2-only responder drops IKEv1 ("initial Main Mode message
  received but no connection has been authorized with authby=PSK and xauth=no"). Silence, no
  notify.
- An Aggressive Mode offer is matched against connections by the authentication methods it
  contains (``preparse_isakmp_sa_body``): one XAUTH-PSK transform (65001) among PSK ones
  makes pluto look for an XAUTH connection, exactly. A PSK-only connection then ignores the
  whole offer, and an XAUTH one ignores a PSK-only offer ("initial Aggressive Mode message
  from 127.0.0.1:port but no (wildcard) connection has been configured with authby PSK").
- Aggressive Mode answers only the configured peer ID (``rightid=``, here probe's default
  ``--ike-id``, ``probe@probe.invalid``): pluto looks connections up by it, so another ID
  gets silence, logged like the auth mismatch above. (Without ``rightid`` the peer's ID must
  be its IP address; any other gets INVALID-ID-INFORMATION.)
- IKEv2 offers to an IKEv1-only responder get NO_PROPOSAL_CHOSEN (responder SPI zero).

``LibreswanLab.expected`` holds what a client sees. Algorithm names are probe's (as in
tests/lab/strongswan.py). Keys:

- ``ike_version``: 1 or 2. ``ikev2_answer``: "handshake" or "NO_PROPOSAL_CHOSEN".
  ``main_mode``: whether IKEv1 Main Mode is answered (never, see above).
- ``proposals``: the suites pluto accepts (``encryption``, ``prf``, ``integrity``, ``group``),
  in its order; IKEv1 has one hash for PRF and integrity, given in both HMAC forms.
  ``encryption``, ``prf``, ``integrity``, ``groups``: their union. ``preferred``: the suite
  pluto picks when every candidate is offered strongest first (its first one).
- ``pluto_algorithms``: the "IKE algorithms:" line of ``whack --status`` for the connection.
- ``ike_scan_default`` (IKEv2): the answer to ike-scan's default ``--ikev2`` offer (MODP-1024
  KE); ``ike_scan_retry``: the answer once the KE is in the group pluto asked for.
- ``aggressive_mode``: an Aggressive Mode offer with the right auth method and ID gets KE,
  nonce, ID and HASH_R. ``aggressive_auth``: that method ("PSK" or "XAUTH-PSK");
  ``other_auth_answer``: the answer to an offer of only the other method (None: silence);
  ``mixed_auth_answer``: the answer to an offer holding both (None: silence);
  ``other_id_answer``: the answer to the right offer from another peer ID (None: silence).
- ``vendor_ids``: VIDs in the Aggressive Mode answer (ike-scan's names).
- ``local_id``, ``peer_id``, ``psk``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .servers import INSTALL_HINT, LabError, ServerProcess, require_binary
from .strongswan import IkeScanAnswer, parse_ike_scan, suite

SERVER_ADDRESS = "127.0.0.2"  # pluto's only address
CLIENT_ADDRESS = "127.0.0.1"  # every client's source address in the namespace
IKE_PORT = 500
NAT_T_PORT = 4500
LAB_PSK = "probe-lab-psk-7c4d19"
PEER_ID = "probe@probe.invalid"  # probe's default --ike-id (a USER_FQDN)
LOCAL_ID_DOMAIN = "probe.lab"
ROOT_ENV = "PROBE_LIBRESWAN_ROOT"
UNPACKED_ROOT = Path("/opt/probe-lab/libreswan")  # where install-test-deps.sh unpacks the .deb
IPSEC_LIBEXEC = Path("usr/libexec/ipsec")
SYSTEM_LIBEXEC = Path("/") / IPSEC_LIBEXEC
PLUTO_START_TIMEOUT = 20.0
# AF_UNIX paths are limited to 107 bytes (pluto.ctl lives in the run directory).
MAX_SOCKET_PATH = 100

# Runs as root in the fresh namespaces: $1 server address, $2 client address, $3 the
# libexec directory to show at /usr/libexec/ipsec, $4 ip; then pluto's argv. ``exec`` keeps
# pluto as the process (and group leader) that ServerProcess stops; the namespaces go with it.
NAMESPACE_SETUP = """set -e
"$4" link set lo up
"$4" addr add "$1/32" dev lo
"$4" route replace local "$1" dev lo table local proto kernel scope host src "$2"
mount -t tmpfs -o mode=0755 probe-lab-run /run
if [ -S /dev/log ]; then mount --bind /dev/null /dev/log; fi
if [ "$3" != /usr/libexec/ipsec ]; then
    mount -t tmpfs -o mode=0755 probe-lab-libexec /usr/libexec
    mkdir /usr/libexec/ipsec
    mount --bind "$3" /usr/libexec/ipsec
fi
shift 4
exec "$@"
"""


@dataclass(frozen=True)
class LibreswanConfig:
    name: str
    description: str
    version: int
    ike: str  # libreswan 4.10 ike= syntax
    options: tuple[str, ...]  # further conn lines
    expected: Mapping[str, Any]

    @property
    def local_id(self) -> str:
        return f"{self.name}.{LOCAL_ID_DOMAIN}"

    def conn(self) -> str:
        lines = [
            f"conn {self.name}",
            "    authby=secret",
            f"    left={SERVER_ADDRESS}",
            f"    leftid=@{self.local_id}",
            "    right=%any",
            f"    ike={self.ike}",
            "    esp=aes128-sha1",
            *(f"    {line}" for line in self.options),
        ]
        return "\n".join(lines) + "\n"


def _facts(
    name: str, version: int, proposals: list[dict[str, Any]], **facts: Any
) -> dict[str, Any]:
    def union(key: str) -> list[str]:
        return list(dict.fromkeys(p[key] for p in proposals if p[key] is not None))

    return {
        "ike_version": version,
        "ikev2_answer": "handshake" if version == 2 else "NO_PROPOSAL_CHOSEN",
        "main_mode": False,
        "proposals": proposals,
        "encryption": union("encryption"),
        "prf": union("prf"),
        "integrity": union("integrity"),
        "groups": union("group"),
        "preferred": proposals[0],
        "aggressive_mode": False,
        "local_id": f"{name}.{LOCAL_ID_DOMAIN}",
        "peer_id": PEER_ID,
        "psk": LAB_PSK,
        **facts,
    }


IKEV2_PSK = [
    suite("AES-CBC-256", "PRF-HMAC-SHA2-256", "HMAC-SHA2-256", "MODP-2048"),
    suite("AES-CBC-128", "PRF-HMAC-SHA1", "HMAC-SHA1", "MODP-1536"),
]
AGGRESSIVE_V1 = [suite("AES-CBC-128", "PRF-HMAC-SHA1", "HMAC-SHA1", "MODP-2048")]
AGGRESSIVE_VIDS = ["IKE Fragmentation", "Dead Peer Detection v1.0"]

LIBRESWAN_CONFIGS: dict[str, LibreswanConfig] = {
    c.name: c
    for c in [
        LibreswanConfig(
            "ikev2-psk",
            "IKEv2 only, aes256-sha2_256;modp2048 then aes128-sha1;modp1536, PSK",
            2,
            "aes256-sha2_256;modp2048,aes128-sha1;modp1536",
            ("ikev2=insist",),
            _facts(
                "ikev2-psk",
                2,
                IKEV2_PSK,
                pluto_algorithms=(
                    "AES_CBC_256-HMAC_SHA2_256-MODP2048, AES_CBC_128-HMAC_SHA1-MODP1536"
                ),
                # ike-scan offers MODP-1024/1536/2048 with a MODP-1024 KE: pluto picks its
                # aes128-sha1;modp1536 suite and asks for that group
                ike_scan_default={"answer": "INVALID_KE_PAYLOAD"},
                ike_scan_retry={"answer": "handshake", "suite": IKEV2_PSK[1]},
            ),
        ),
        LibreswanConfig(
            "ikev1-aggressive-psk",
            "IKEv1 Aggressive Mode only (answers with the PSK hash), aes128-sha1;modp2048, PSK",
            1,
            "aes128-sha1;modp2048",
            ("ikev2=no", "aggressive=yes", f"rightid={PEER_ID}"),
            _facts(
                "ikev1-aggressive-psk",
                1,
                AGGRESSIVE_V1,
                pluto_algorithms="AES_CBC_128-HMAC_SHA1-MODP2048",
                aggressive_mode=True,
                aggressive_auth="PSK",
                other_auth_answer=None,
                mixed_auth_answer=None,
                other_id_answer=None,
                vendor_ids=AGGRESSIVE_VIDS,
            ),
        ),
        LibreswanConfig(
            "ikev1-aggressive-xauth-psk",
            "IKEv1 Aggressive Mode with XAUTH and PSK (answers with the PSK hash before "
            "XAUTH), aes128-sha1;modp2048",
            1,
            "aes128-sha1;modp2048",
            (
                "ikev2=no",
                "aggressive=yes",
                f"rightid={PEER_ID}",
                "leftxauthserver=yes",
                "rightxauthclient=yes",
            ),
            _facts(
                "ikev1-aggressive-xauth-psk",
                1,
                AGGRESSIVE_V1,
                pluto_algorithms="AES_CBC_128-HMAC_SHA1-MODP2048",
                aggressive_mode=True,
                aggressive_auth="XAUTH-PSK",
                other_auth_answer=None,
                mixed_auth_answer="handshake",
                other_id_answer=None,
                vendor_ids=["IKE Fragmentation", "XAUTH", "Dead Peer Detection v1.0"],
            ),
        ),
    ]
}


def find_libreswan() -> Path:
    """The directory holding pluto, addconn, whack and algparse (an unpacked .deb first)."""
    given = os.environ.get(ROOT_ENV)
    roots = [Path(given)] if given else [UNPACKED_ROOT, Path("/")]
    looked = []
    for root in roots:
        libexec = root / IPSEC_LIBEXEC
        looked.append(str(libexec))
        if all(os.access(libexec / n, os.X_OK) for n in ("pluto", "addconn", "whack", "algparse")):
            return libexec
    raise LabError(
        f"libreswan's pluto is not installed (looked in {', '.join(looked)}; the Debian package "
        f"conflicts with strongswan-charon, so the .deb is unpacked instead); {INSTALL_HINT}"
    )


def _run(
    argv: Sequence[str], *, timeout: float = 15.0, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )


def ipsec_conf(config: LibreswanConfig, *, dumpdir: Path) -> str:
    return (
        "# generated by tests/lab/libreswan.py\n"
        "config setup\n"
        f"    listen={SERVER_ADDRESS}\n"
        f"    dumpdir={dumpdir}\n"
        "    ikev1-policy=accept\n"
        "    plutodebug=none\n"
        "\n" + config.conn()
    )


class LibreswanLab:
    """One pluto serving one configuration from ``LIBRESWAN_CONFIGS`` in its own namespace.

    ``host`` is pluto's address inside the namespace; only commands started with ``run`` can
    reach it. Use as a context manager; ``close`` stops pluto, and its namespaces go with it.
    """

    def __init__(self, workdir: Path, config: str | LibreswanConfig) -> None:
        if isinstance(config, str):
            if config not in LIBRESWAN_CONFIGS:
                raise KeyError(
                    f"no libreswan configuration {config!r}; known: {list(LIBRESWAN_CONFIGS)}"
                )
            config = LIBRESWAN_CONFIGS[config]
        self.config = config
        self.host = SERVER_ADDRESS
        self.client_address = CLIENT_ADDRESS
        self.port = IKE_PORT
        self.nat_t_port = NAT_T_PORT
        self.root = workdir
        self.conf = workdir / "ipsec.conf"
        self.secrets = workdir / "ipsec.secrets"
        self.ipsec_d = workdir / "ipsec.d"
        self.nss = workdir / "nss"
        self.run_dir = workdir / "run"
        self.log = workdir / "pluto.log"
        self.libexec: Path | None = None
        self.netns: str | None = None  # "net:[inode]" of the lab's network namespace
        self._proc: ServerProcess | None = None
        self._cleanup = contextlib.ExitStack()
        self._lock = threading.RLock()

    # -- public API ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def expected(self) -> Mapping[str, Any]:
        return self.config.expected

    @property
    def ctl(self) -> Path:
        return self.run_dir / "pluto.ctl"

    @property
    def pid(self) -> int | None:
        """pluto's process id (it is also the namespaces' first process) while it runs."""
        return self._proc.proc.pid if self._proc and self._proc.alive() else None

    def run(
        self, argv: Sequence[str], *, timeout: float = 60.0, **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the lab's network namespace (the file system stays the caller's:
        ``cwd`` and paths work as usual); text output captured, never raises on failure."""
        pid = self.pid
        if pid is None:
            raise LabError(f"pluto is not running\n{self.describe()}")
        nsenter = require_binary("nsenter")
        return _run(
            [nsenter, "--target", str(pid), "--net", "--", *argv], timeout=timeout, **kwargs
        )

    def whack(self, *args: str, timeout: float = 15.0) -> subprocess.CompletedProcess[str]:
        """``whack`` against this lab's pluto (its private control socket)."""
        libexec = self.libexec or find_libreswan()
        return _run([str(libexec / "whack"), "--ctlsocket", str(self.ctl), *args], timeout=timeout)

    def status(self) -> str:
        return self.whack("--status").stdout

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def exchanges(self) -> str:
        """pluto's log lines about peers' messages (start-up and algorithm tables left out)."""
        quoted = f'"{self.name}"'
        lines = self.log_text().splitlines()
        return "\n".join(line for line in lines if "packet from" in line or quoted in line)

    def describe(self) -> str:
        text = self._proc.output() if self._proc else f"(pluto not started)\n{self.log_text()}"
        return f"--- pluto ({self.name}) ---\n{text}"

    def start(self) -> LibreswanLab:
        """Start pluto and add the connection; a no-op while it runs."""
        with self._lock:
            if self._proc is not None:
                return self
            try:
                self._prepare()
                self._start_pluto()
                self._add_connection()
            except BaseException:
                self.close()
                raise
            return self

    def close(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
            try:
                if proc is not None:
                    proc.stop()  # SIGTERM: pluto shuts down cleanly; SIGKILL after 5 s
            finally:
                self._cleanup.close()

    def __enter__(self) -> LibreswanLab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------

    def _prepare(self) -> None:
        self.libexec = find_libreswan()
        require_binary("unshare")
        require_binary("nsenter")
        require_binary("ip")
        self._check_algorithms()
        self.root.mkdir(parents=True, exist_ok=True)
        self.run_dir = self.root / "run"
        if len(str(self.ctl)) > MAX_SOCKET_PATH:  # a deep --basetemp: the socket goes elsewhere
            self.run_dir = Path(tempfile.mkdtemp(prefix="probe-pluto-"))
            self._cleanup.callback(shutil.rmtree, self.run_dir, ignore_errors=True)
        for stale in ("pluto.ctl", "pluto.pid"):
            (self.run_dir / stale).unlink(missing_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.ipsec_d.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(ipsec_conf(self.config, dumpdir=self.run_dir))
        self.secrets.write_text(f'# generated by tests/lab/libreswan.py\n: PSK "{LAB_PSK}"\n')
        self.secrets.chmod(0o600)
        if not (self.nss / "cert9.db").exists():
            self.nss.mkdir(parents=True, exist_ok=True)
            done = _run(
                [require_binary("certutil"), "-N", "-d", f"sql:{self.nss}", "--empty-password"]
            )
            if done.returncode != 0:
                raise LabError(f"certutil could not create the NSS database: {done.stderr}")

    def _check_algorithms(self) -> None:
        assert self.libexec is not None
        flag = "-v1" if self.config.version == 1 else "-v2"
        done = _run([str(self.libexec / "algparse"), flag, f"ike={self.config.ike}"])
        if done.returncode != 0 or "ERROR" in done.stdout + done.stderr:
            raise LabError(
                f"pluto would refuse ike={self.config.ike} of {self.name}:\n"
                f"{done.stdout}{done.stderr}"
            )

    def _start_pluto(self) -> None:
        assert self.libexec is not None
        pluto_argv = [
            str(SYSTEM_LIBEXEC / "pluto"),  # the bound copy, so that pluto finds its helpers
            "--nofork",
            "--stderrlog",
            "--log-no-audit",
            "--config",
            str(self.conf),
            "--secretsfile",
            str(self.secrets),
            "--ipsecdir",
            str(self.ipsec_d),
            "--nssdir",
            str(self.nss),
            "--rundir",
            str(self.run_dir),
        ]
        argv = [
            require_binary("unshare"),
            "--net",
            "--mount",
            "--propagation",
            "private",
            "--",
            "/bin/sh",  # essential on every Debian (as is mount)
            "-c",
            NAMESPACE_SETUP,
            "sh",
            SERVER_ADDRESS,
            CLIENT_ADDRESS,
            str(self.libexec),
            require_binary("ip"),
            *pluto_argv,
        ]
        self._proc = ServerProcess(argv, self.log, cwd=self.root)
        deadline = time.monotonic() + PLUTO_START_TIMEOUT
        while True:
            if not self._proc.alive():
                raise LabError(f"pluto exited during start-up\n{self.describe()}")
            if self.ctl.exists() and self.whack("--status").returncode == 0:
                break
            if time.monotonic() > deadline:
                raise LabError(f"pluto not ready in {PLUTO_START_TIMEOUT} s\n{self.describe()}")
            time.sleep(0.05)
        with contextlib.suppress(OSError):
            self.netns = os.readlink(f"/proc/{self._proc.proc.pid}/ns/net")

    def _add_connection(self) -> None:
        assert self.libexec is not None
        added = _run(
            [
                str(self.libexec / "addconn"),
                "--config",
                str(self.conf),
                "--ctlsocket",
                str(self.ctl),
                self.name,
            ]
        )
        status = self.status()
        listed = f'"{self.name}":' in status
        listening = f"UDP {SERVER_ADDRESS}:{IKE_PORT}" in status
        if added.returncode != 0 or not listed or not listening:
            raise LabError(
                f"pluto did not take connection {self.name} (addconn exit {added.returncode}, "
                f"listed {listed}, listening on {SERVER_ADDRESS}:{IKE_PORT} {listening}):\n"
                f"{added.stdout}{added.stderr}\n{self.describe()}"
            )

    def ike_algorithms(self) -> str | None:
        """The "IKE algorithms:" of this lab's connection in ``whack --status``."""
        match = re.search(rf'"{re.escape(self.name)}":\s+IKE algorithms: (.*)', self.status())
        return match.group(1).strip() if match else None


# -------------------------------------------------------------------------------------------
# ike-scan as an oracle, inside a lab's namespace


def ike_scan(
    lab: LibreswanLab, *args: str, nat_t: bool = False, timeout_ms: int = 1000, retry: int = 1
) -> IkeScanAnswer:
    """One ike-scan probe to the lab's pluto from a random source port, decoded as
    tests/lab/strongswan.py decodes it."""
    argv = [
        require_binary("ike-scan"),
        *(["--nat-t"] if nat_t else []),
        "--sport=0",
        "--multiline",
        f"--retry={retry}",
        f"--timeout={timeout_ms}",
        *args,
        lab.host,
    ]
    out = lab.run(argv, timeout=30 + timeout_ms * retry * 3 / 1000).stdout
    return parse_ike_scan(lab.host, out)


def namespace_processes(netns: str) -> list[int]:
    """Processes whose network namespace is ``netns`` ("net:[inode]")."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if os.readlink(entry / "ns" / "net") == netns:
                found.append(int(entry.name))
    return found
