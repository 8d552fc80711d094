"""Real Samba ``smbd`` servers on 127.0.0.1 for the SMB tests.

Each configuration runs its own ``smbd`` (Debian 12: Samba 4.17) from a scratch directory: its
own smb.conf, passdb, state, lock, cache, pid, ncalrpc and log directories, listening on one
port the kernel picked (``smb ports``) on 127.0.0.1 only. No nmbd, no winbindd, no printers.

``smbd`` starts ``samba-dcerpcd`` on demand (for ``\\PIPE\\srvsvc`` when a client lists the
shares); that helper calls ``setsid()``, so it is not in smbd's process group and outlives smbd.
``SambaServer`` therefore also ends every process whose command line names its smb.conf (only
ever ones it caused to start: the path is unique to the instance). In its on-demand mode the
helper listens on named pipes only, never on TCP.

Accounts: ``SAMBA_USER`` / ``SAMBA_PASSWORD`` logs in (NTLM) on every configuration. The Samba
passdb account belongs to the Unix account running smbd (root in the lab); ``username map``
maps the client name ``probe`` onto it, so no system user is created. Any other user name is
mapped to guest (``map to guest = Bad User``); a wrong password for ``probe`` is refused.

``SambaLabServer.expected`` holds facts a client sees, each checked against real clients in
tests/lab_tests/test_samba.py (the comment on ``SAMBA_CONFIGS`` says which tool proved which):

- ``smb1``: an SMB1 ``NT LM 0.12`` NEGOTIATE is accepted.
- ``dialects``: the SMB2/3 dialects accepted when offered alone by a client that does not set
  the ENCRYPTION capability (nmap's way), from "2.0.2", "2.1", "3.0", "3.0.2", "3.1.1".
- ``preferred_dialect``: the dialect chosen when a client offers all five.
- ``ciphers``: the SMB 3.1.1 encryption ciphers accepted when offered alone, by name
  ("AES-128-CCM", "AES-128-GCM", "AES-256-CCM", "AES-256-GCM"); an unsupported one is
  answered with an ENCRYPTION context holding cipher 0 ("no common cipher").
- ``preferred_cipher``: the cipher chosen when all four are offered (Samba applies its own
  order, ``server smb3 encryption algorithms``, not the client's); None without 3.1.1
  encryption.
- ``cipher_context_absent``: the 3.1.1 NEGOTIATE response has no ENCRYPTION context at all
  although the client offered ciphers (``server smb encrypt = off``).
- ``encryption_capability``: for 3.0/3.0.2 the response echoes SMB2_GLOBAL_CAP_ENCRYPTION
  (0x40) when the client sets it (Samba echoes it only then: nmap, which sends 0, never sees
  it).
- ``encryption_cap_rejected``: dialects whose NEGOTIATE fails with STATUS_INVALID_PARAMETER
  (0xC000000D) when the client sets the ENCRYPTION capability but offers no usable cipher
  (3.0/3.0.2 can only use AES-128-CCM; 3.1.1: capability set and no ENCRYPTION context).
  Happens when ``server smb3 encryption algorithms`` leaves AES-128-CCM out. A scanner must
  not read this as "dialect not supported".
- ``signing_required``: SecurityMode has SIGNING_REQUIRED (0x02) in the NEGOTIATE response.
- ``encryption_required``: server-wide; a session that cannot be encrypted is refused with
  ACCESS_DENIED. Samba 4.17 refuses at the *end* of session setup (the NTLM AUTHENTICATE
  leg), not at the first leg: an NTLMSSP NEGOTIATE alone still gets MORE_PROCESSING_REQUIRED.
  Anonymous and guest sessions can never be encrypted, so an anonymous session setup is
  refused with ACCESS_DENIED on every dialect, 3.1.1 included.
- ``encrypt_data``: sessions of an encryption-capable client are encrypted even when the
  client does not ask (Samba's ``desired``/``required``: SessionFlags ENCRYPT_DATA).
- ``guest_session``: an anonymous session setup and one with an unknown user name (mapped to
  guest) succeed.
- ``guest_shares``: shares a guest or anonymous session can use; ``encrypted_shares``: shares
  that require encryption (ShareFlags ENCRYPT_DATA; a tree connect that cannot be encrypted,
  e.g. over SMB 2.1, gets ACCESS_DENIED).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .servers import LOOPBACK, LabError, require_binary, run_server

SAMBA_USER = "probe"
SAMBA_PASSWORD = "Probe-lab-pw1"
SAMBA_START_TIMEOUT = 30.0

# The dialect names Samba uses (``server min/max protocol``, ``client ... protocol``) for
# the version strings in ``expected`` and in probe's JSON.
SAMBA_PROTOCOL_NAMES = {
    "2.0.2": "SMB2_02",
    "2.1": "SMB2_10",
    "3.0": "SMB3_00",
    "3.0.2": "SMB3_02",
    "3.1.1": "SMB3_11",
}
SMB2_DIALECTS = tuple(SAMBA_PROTOCOL_NAMES)
SMB3_CIPHERS = ("AES-128-CCM", "AES-128-GCM", "AES-256-CCM", "AES-256-GCM")
ALL_DIALECTS = list(SMB2_DIALECTS)


@dataclass(frozen=True)
class Share:
    name: str
    params: dict[str, str]


DATA_SHARE = Share("data", {"read only": "no", "guest ok": "no"})
# Guests are the Unix account ``nobody``, which cannot reach pytest's 0700 temp directories:
# ``force user`` (set to smbd's own account when the conf is written) lets them read.
PUBLIC_SHARE = Share("public", {"read only": "yes", "guest ok": "yes", "force user": ""})
SECRET_SHARE = Share("secret", {"read only": "no", "guest ok": "no", "smb encrypt": "required"})


@dataclass(frozen=True)
class SambaConfig:
    name: str
    description: str
    params: dict[str, str]  # extra [global] parameters
    expected: dict[str, Any]
    shares: tuple[Share, ...] = (DATA_SHARE,)


def _facts(
    *,
    smb1: bool = False,
    dialects: list[str] = ALL_DIALECTS,
    ciphers: tuple[str, ...] = SMB3_CIPHERS,
    preferred_cipher: str | None = "AES-128-GCM",
    encryption_capability: bool = True,
    encryption_cap_rejected: tuple[str, ...] = (),
    signing_required: bool = False,
    encryption_required: bool = False,
    encrypt_data: bool = False,
    guest_shares: tuple[str, ...] = (),
    encrypted_shares: tuple[str, ...] = (),
) -> dict[str, Any]:
    # map to guest = Bad User: an unknown user (or anonymous) gets a session, unless every
    # session must be encrypted (guest sessions cannot be)
    has_311 = "3.1.1" in dialects
    return {
        "smb1": smb1,
        "dialects": list(dialects),
        "preferred_dialect": dialects[-1],
        "ciphers": list(ciphers) if has_311 else [],
        "preferred_cipher": preferred_cipher if has_311 and ciphers else None,
        "cipher_context_absent": has_311 and not ciphers,
        "encryption_capability": encryption_capability and "3.0" in dialects,
        "encryption_cap_rejected": list(encryption_cap_rejected),
        "signing_required": signing_required,
        "encryption_required": encryption_required,
        "encrypt_data": encrypt_data,
        "guest_session": not encryption_required,
        "guest_shares": list(guest_shares),
        "encrypted_shares": list(encrypted_shares),
    }


# Verified on Debian 12 (samba 4.17.12, smbclient 4.17.12, nmap 7.93); the same checks run in
# tests/lab_tests/test_samba.py. Which tool confirmed which fact:
# - smb1, dialects: nmap smb-protocols (one NEGOTIATE per dialect, capabilities 0; SMB1 shows
#   as "NT LM 0.12 (SMBv1) [dangerous, but default]") and smbclient pinned to one dialect with
#   client min/max protocol (NT1 for SMB1). preferred_dialect: smbclient offering
#   SMB2_02..SMB3_11 ("negotiated dialect[...]" at debug level 4) and nmap's highest.
# - ciphers: smbclient -m SMB3_11 --client-protection=encrypt with "client smb3 encryption
#   algorithms" set to one cipher (it logs in only when that cipher is accepted); nmap does
#   not parse 3.1.1 contexts. preferred_cipher, cipher_context_absent, encryption_capability,
#   encryption_cap_rejected: a hand-made NEGOTIATE in the test (an oracle independent of
#   probe's codec).
# - signing_required: nmap smb2-security-mode ("Message signing enabled and required" vs
#   "enabled but not required") and the hand-made NEGOTIATE's SecurityMode. smbclient cannot
#   show it: an SMB2 client signs whenever the server requires it, whatever it is told.
# - encryption_required: smbclient -m SMB2_10 (no encryption possible) with the right password
#   gets "session setup failed: NT_STATUS_ACCESS_DENIED", and so does anonymous (-N) on every
#   dialect; SMB 3.x with encryption logs in.
# - encrypt_data, encrypted_shares: smbclient at debug level 10 logs "Encrypted SMB2 message"
#   without being asked to encrypt (desired/required; [secret]); [secret] over SMB 2.1 gets
#   "tree connect failed: NT_STATUS_ACCESS_DENIED". guest_shares: smbclient -N and an unknown
#   user (mapped to guest) read [public] and are refused on [data]; guest_session: smbclient -N
#   and an unknown user log in (-L) on SMB 2.1 and 3.1.1.
SAMBA_CONFIGS: dict[str, SambaConfig] = {
    c.name: c
    for c in [
        SambaConfig(
            "default",
            "Samba 4.17 defaults (SMB2_02..SMB3_11, encryption if_required, signing not "
            "required) + a guest share [public] + a share [secret] requiring encryption",
            {},
            _facts(guest_shares=("public",), encrypted_shares=("secret",)),
            (DATA_SHARE, PUBLIC_SHARE, SECRET_SHARE),
        ),
        SambaConfig(
            "smb1_on",
            "server min protocol = NT1 (SMB1 accepted besides SMB2/3)",
            {"server min protocol": "NT1"},
            _facts(smb1=True),
        ),
        SambaConfig(
            "max_smb2_10",
            "server max protocol = SMB2_10 (no SMB 3, so no encryption)",
            {"server max protocol": "SMB2_10"},
            _facts(dialects=["2.0.2", "2.1"]),
        ),
        SambaConfig(
            "encrypt_required",
            "server smb encrypt = required (unencrypted sessions refused server-wide)",
            {"server smb encrypt": "required"},
            _facts(encryption_required=True, encrypt_data=True),
        ),
        SambaConfig(
            "encrypt_desired",
            "server smb encrypt = desired (encrypted when the client can, not enforced)",
            {"server smb encrypt": "desired"},
            _facts(encrypt_data=True),
        ),
        SambaConfig(
            "encrypt_off",
            "server smb encrypt = off (encryption cannot be negotiated)",
            {"server smb encrypt": "off"},
            _facts(ciphers=(), encryption_capability=False),
        ),
        SambaConfig(
            "signing_mandatory",
            "server signing = mandatory",
            {"server signing": "mandatory"},
            _facts(signing_required=True),
        ),
        SambaConfig(
            "one_cipher",
            "server smb3 encryption algorithms = AES-128-GCM (one 3.1.1 cipher)",
            {"server smb3 encryption algorithms": "AES-128-GCM"},
            _facts(
                ciphers=("AES-128-GCM",),
                encryption_capability=False,
                encryption_cap_rejected=("3.0", "3.0.2", "3.1.1"),
            ),
        ),
    ]
}


@dataclass(frozen=True)
class SambaLabServer:
    host: str
    port: int
    name: str
    description: str
    expected: dict[str, Any]
    shares: dict[str, Path]  # share name -> its directory
    user: str
    password: str
    log: Path | None = field(default=None, compare=False)
    conf: Path | None = field(default=None, compare=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def _unix_account() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name


# AF_UNIX socket paths are limited to 107 bytes: smbd's messaging sockets live in
# "<lock directory>/msg.sock/<pid>" and the RPC pipes in "<ncalrpc dir>/np/<pipe>".
MAX_SOCKET_ROOT = 64


def smb_conf(root: Path, port: int, config: SambaConfig, sockets: Path | None = None) -> str:
    """The smb.conf text for ``config`` with every path inside ``root``.

    ``sockets`` (default ``root``) holds the lock and ncalrpc directories, which hold sockets.
    """
    sockets = sockets or root
    params: dict[str, str] = {
        "smb ports": str(port),
        "interfaces": LOOPBACK,
        "bind interfaces only": "yes",
        "disable netbios": "yes",
        "server role": "standalone server",
        "workgroup": "PROBELAB",
        "netbios name": "PROBELAB",
        "map to guest": "Bad User",
        "guest account": "nobody",
        "username map": str(root / "usermap"),
        "passdb backend": f"tdbsam:{root / 'private' / 'passdb.tdb'}",
        "private dir": str(root / "private"),
        "state directory": str(root / "state"),
        "lock directory": str(sockets / "lock"),
        "cache directory": str(root / "cache"),
        "pid directory": str(root / "run"),
        "ncalrpc dir": str(sockets / "ncalrpc"),
        "binddns dir": str(root / "binddns"),
        "usershare path": "",
        "log file": str(root / "log" / "log.%m"),
        "max log size": "1000",
        "load printers": "no",
        "printing": "bsd",
        "printcap name": "/dev/null",
        "disable spoolss": "yes",
        **config.params,
    }
    lines = ["[global]", *(f"    {k} = {v}" for k, v in params.items())]
    for share in config.shares:
        lines += ["", f"[{share.name}]", f"    path = {root / 'shares' / share.name}"]
        for key, value in share.params.items():
            if key == "force user":
                value = value or _unix_account()
            lines.append(f"    {key} = {value}")
    return "\n".join(lines) + "\n"


def _helper_pids(conf: Path) -> list[int]:
    """Processes other than smbd (samba-dcerpcd, rpcd_*) started for the smb.conf ``conf``.

    smbd and its per-connection children share smbd's process group, which ``run_server``
    ends; the helpers left it with ``setsid()``.
    """
    needle = f"--configfile={conf}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if needle in argv and os.path.basename(argv[0]) != b"smbd":
            pids.append(int(entry.name))
    return pids


def _stop_helpers(conf: Path) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = _helper_pids(conf)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                group = os.getpgid(pid)
                if group != os.getpgrp():  # never the test run's own group
                    os.killpg(group, sig)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        for _ in range(50):
            if not _helper_pids(conf):
                return
            threading.Event().wait(0.05)


class SambaServer:
    """``with SambaServer("default", workdir) as server:`` -> a running ``SambaLabServer``."""

    def __init__(self, name: str, workdir: Path, *, port: int | None = None) -> None:
        if name not in SAMBA_CONFIGS:
            raise KeyError(f"no Samba configuration {name!r}; known: {', '.join(SAMBA_CONFIGS)}")
        self.config = SAMBA_CONFIGS[name]
        self.root = workdir / f"samba-{name}"
        self.conf = self.root / "smb.conf"
        self.sockets = self.root
        self._stack = contextlib.ExitStack()
        self.fixed_port = port  # e.g. 139, where clients speak NetBIOS session service first

    def _prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if len(str(self.root)) > MAX_SOCKET_ROOT:  # a deep --basetemp: sockets go elsewhere
            self.sockets = Path(tempfile.mkdtemp(prefix="probe-smb-"))
            self._stack.callback(shutil.rmtree, self.sockets, ignore_errors=True)
        for sub in ("private", "state", "cache", "run", "binddns", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        for sub in ("lock", "ncalrpc"):
            (self.sockets / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "private").chmod(0o700)
        for share in self.config.shares:
            path = self.root / "shares" / share.name
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o777 if share.params.get("read only") == "no" else 0o755)
            (path / "hello.txt").write_text(f"probe lab share {share.name}\n")
        (self.root / "usermap").write_text(f"{_unix_account()} = {SAMBA_USER}\n")

    def _write_conf(self, port: int) -> None:
        self.conf.write_text(smb_conf(self.root, port, self.config, self.sockets))
        check = subprocess.run(
            [require_binary("testparm"), "-s", str(self.conf)],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 0:
            raise LabError(f"testparm rejected {self.conf}:\n{check.stderr}")

    def _add_user(self) -> None:
        result = subprocess.run(
            [require_binary("smbpasswd"), "-c", str(self.conf), "-s", "-a", _unix_account()],
            input=f"{SAMBA_PASSWORD}\n{SAMBA_PASSWORD}\n",
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise LabError(f"smbpasswd -a failed:\n{result.stdout}{result.stderr}")

    def __enter__(self) -> SambaLabServer:
        smbd = require_binary("smbd")
        user_added = False

        def build(ports: list[int]) -> list[str]:
            nonlocal user_added
            self._write_conf(ports[0])
            if not user_added:
                self._add_user()
                user_added = True
            return [
                smbd,
                "--foreground",
                "--no-process-group",
                "--debug-stdout",
                "--debuglevel=1",
                f"--configfile={self.conf}",
            ]

        try:
            self._prepare()
            self._stack.callback(_stop_helpers, self.conf)
            proc, ports = self._stack.enter_context(
                run_server(
                    build,
                    ports=1,
                    log=self.root / "smbd.log",
                    timeout=SAMBA_START_TIMEOUT,
                    cwd=self.root,
                    fixed_ports=[self.fixed_port] if self.fixed_port else None,
                )
            )
        except BaseException:
            self._stack.close()
            raise
        return SambaLabServer(
            LOOPBACK,
            ports[0],
            self.config.name,
            self.config.description,
            self.config.expected,
            {s.name: self.root / "shares" / s.name for s in self.config.shares},
            SAMBA_USER,
            SAMBA_PASSWORD,
            proc.log,
            self.conf,
        )

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


class SambaServers:
    """The Samba configurations, each started on first use and kept until ``close()``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._stack = contextlib.ExitStack()
        self._started: dict[str, SambaLabServer] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> SambaLabServer:
        if name not in SAMBA_CONFIGS:
            raise KeyError(f"no Samba configuration {name!r}; known: {', '.join(SAMBA_CONFIGS)}")
        with self._lock:
            if name not in self._started:
                self._started[name] = self._stack.enter_context(SambaServer(name, self.workdir))
            return self._started[name]

    def __contains__(self, name: object) -> bool:
        return name in SAMBA_CONFIGS

    def __iter__(self) -> Iterator[str]:
        return iter(SAMBA_CONFIGS)

    def __len__(self) -> int:
        return len(SAMBA_CONFIGS)

    def names(self) -> list[str]:
        return list(SAMBA_CONFIGS)

    def close(self) -> None:
        with self._lock:
            self._stack.close()
            self._started.clear()


# ---------------------------------------------------------------------------------------------
# nmap as an oracle (the lab tests check the configurations with it; the differential tests
# compare probe with it)

NMAP_DIALECTS = {"202": "2.0.2", "210": "2.1", "300": "3.0", "302": "3.0.2", "311": "3.1.1"}


def nmap_smb_facts(server: SambaLabServer) -> dict[str, Any]:
    """What nmap's smb-protocols and smb2-security-mode say: dialects, smb1, the highest
    dialect and whether signing is required (plus the raw output for assertion messages)."""
    result = subprocess.run(
        [
            require_binary("nmap"), "-Pn", "-n", "-p", str(server.port),
            "--script", "smb-protocols,smb2-security-mode,smb2-capabilities",
            # smb.lua only looks at 445/139 unless told the port
            "--script-args", f"smbport={server.port}", server.host,
        ],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    out = result.stdout
    block = out.split("smb-protocols:", 1)[1].split("\n| smb", 1)[0].split("\nNmap done", 1)[0]
    dialects = [NMAP_DIALECTS[m] for m in re.findall(r"^\|_?\s+(\d{3})\s*$", block, re.M)]
    mode = out.split("smb2-security-mode:", 1)[1]
    highest = re.match(r"\s*\n\|\s+(\d{3}):", mode)
    return {
        "dialects": dialects,
        "smb1": "NT LM 0.12 (SMBv1)" in block,
        "highest": NMAP_DIALECTS.get(highest.group(1)) if highest else None,
        "signing_required": "Message signing enabled and required" in mode,
        "output": out,
    }
