"""Real STARTTLS servers on 127.0.0.1 for the STARTTLS tests: SMTP, IMAP, POP3, FTP, LDAP,
XMPP, PostgreSQL and MySQL (MariaDB), each with a STARTTLS variant serving the lab's CA-signed
RSA-2048 leaf for localhost / 127.0.0.1 (``LabCerts.rsa2048``) and a ``-plain`` variant that
offers no TLS upgrade at all.

- ``smtp``: aiosmtpd 1.4 (tests/lab/smtp_server.py); plain: no STARTTLS in the EHLO answer.
- ``imap``, ``pop3``: Dovecot 2.3 (``dovecot -F -c CONF``, one protocol each); plain:
  ``ssl = no``.
- ``ftp``: pyftpdlib ``TLS_FTPHandler`` (tests/lab/ftp_server.py); plain: ``FTPHandler``.
- ``ldap``: OpenLDAP 2.5 slapd (own slapd.conf, ``-d 0``); plain: no TLS directives.
- ``xmpp``: Prosody 0.12 (own config, ``-F``, ``run_as_root``); plain: mod_tls not loaded.
- ``postgres``: PostgreSQL 15 run as the postgres user (``setpriv``); plain: ``ssl=off``.
- ``mysql``: MariaDB 10.11 ``mariadbd --user=root --skip-grant-tables``; plain:
  ``--skip-ssl``.

What a client sees (measured on Debian 12 by tests/lab_tests/test_starttls_lab.py):

- SMTP greets ``220 localhost Python SMTP 1.4.6``; EHLO lists ``250-STARTTLS`` (TLS only).
- Dovecot's IMAP greeting already carries the capabilities:
  ``* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS
  AUTH=PLAIN] Dovecot (Debian) ready.`` (plain: the same without STARTTLS). POP3: ``CAPA``
  lists ``STLS`` (plain: not; ``STLS`` gets ``-ERR TLS support isn't enabled.``).
- FTP: ``FEAT`` lists ``AUTH TLS`` and ``AUTH SSL``; the plain server answers ``AUTH TLS``
  with ``500 Command "AUTH" not understood.``
- LDAP: slapd answers the StartTLS ExtendedRequest with an ExtendedResponse without
  responseName: resultCode 0 with TLS; protocolError (2), "unsupported extended operation",
  without.
- XMPP: ``<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`` (not ``<required/>``) in the
  stream features; SASL PLAIN is offered before TLS on both (``allow_unencrypted_plain_auth``).
  A plain server keeps the stream open: a client waiting for <starttls/> must time out.
- PostgreSQL answers SSLRequest with ``S`` / ``N``.
- MariaDB's handshake: version ``5.5.5-10.11.19-MariaDB-0+deb12u1``, capability flags
  0x81fffffe with CLIENT_SSL (0x800), 0x81fff7fe with ``--skip-ssl``.

Every server listens on 127.0.0.1 only, on a port the kernel picked, is started on first use
and runs in its own process group (stopped by ``close()``). Daemon state (configs, databases,
sockets) lives in a private directory under /tmp (mode 0755, removed on ``close()``): the
daemons drop to their own users (dovenull, postgres...) which cannot traverse pytest's 0700
temporary directory, and Unix socket paths must stay short. Logs go to the lab ``workdir``.

Nothing here touches /etc or a system service: scripts/install-test-deps.sh installs the
packages with service starts forbidden. A missing binary raises ``LabError`` (never a skip).

``LabServer.expected`` holds ``protocol`` (the ``openssl s_client -starttls`` name),
``starttls`` (the upgrade is offered and works) and ``cert`` (the lab certificate served, or
None); tests/lab_tests/test_starttls_lab.py checks each against the live server.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .certs import KeyCert, LabCerts
from .servers import (
    LOOPBACK,
    LabError,
    LabServer,
    LazyServers,
    ServerProcess,
    require_binary,
    run_server,
)

HERE = Path(__file__).resolve().parent
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
LAB_CERT = "rsa2048"


@dataclass(frozen=True)
class StartTlsConfig:
    name: str
    protocol: str  # the openssl s_client -starttls name
    starttls: bool
    description: str


def _pair(protocol: str, server: str, plain_how: str) -> list[StartTlsConfig]:
    return [
        StartTlsConfig(
            protocol, protocol, True, f"{server}, STARTTLS with the lab RSA-2048 certificate"
        ),
        StartTlsConfig(f"{protocol}-plain", protocol, False, f"{server}, {plain_how}"),
    ]


STARTTLS_CONFIGS: dict[str, StartTlsConfig] = {
    c.name: c
    for c in [
        *_pair("smtp", "aiosmtpd SMTP", "no STARTTLS in the EHLO answer"),
        *_pair("imap", "Dovecot IMAP", "ssl = no: no STARTTLS capability"),
        *_pair("pop3", "Dovecot POP3", "ssl = no: no STLS capability"),
        *_pair("ftp", "pyftpdlib FTP", "plain FTPHandler: AUTH TLS refused with 500"),
        *_pair("ldap", "OpenLDAP slapd", "no TLS configured: the StartTLS extended op fails"),
        *_pair("xmpp", "Prosody XMPP c2s", "mod_tls not loaded: no <starttls/> feature"),
        *_pair("postgres", "PostgreSQL 15", "ssl=off: SSLRequest answered 'N'"),
        *_pair("mysql", "MariaDB 10.11", "--skip-ssl: no CLIENT_SSL capability"),
    ]
}

# (process, port) of a started server
Started = Iterator[tuple[ServerProcess, int]]


def lab_leaf(certs: LabCerts) -> KeyCert:
    leaf: KeyCert = getattr(certs, LAB_CERT)
    return leaf


def _check_run(argv: list[str], what: str, **kwargs: Any) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        raise LabError(
            f"{what} failed ({result.returncode}): {' '.join(argv)}\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )


@contextlib.contextmanager
def _smtp(config: StartTlsConfig, certs: LabCerts, root: Path, log: Path) -> Started:
    leaf = lab_leaf(certs)
    tls = [str(leaf.cert), str(leaf.key)] if config.starttls else []

    def build(ports: list[int]) -> list[str]:
        return [sys.executable, str(HERE / "smtp_server.py"), LOOPBACK, str(ports[0]), *tls]

    with run_server(build, ports=1, log=log) as (proc, ports):
        yield proc, ports[0]


@contextlib.contextmanager
def _ftp(config: StartTlsConfig, certs: LabCerts, root: Path, log: Path) -> Started:
    leaf = lab_leaf(certs)
    tls = [str(leaf.cert), str(leaf.key)] if config.starttls else []
    (root / "pub").mkdir(parents=True, exist_ok=True)

    def build(ports: list[int]) -> list[str]:
        script = str(HERE / "ftp_server.py")
        return [sys.executable, script, LOOPBACK, str(ports[0]), str(root / "pub"), *tls]

    with run_server(build, ports=1, log=log) as (proc, ports):
        yield proc, ports[0]


def dovecot_conf(root: Path, protocol: str, port: int, leaf: KeyCert | None, dh: Path) -> str:
    """A self-contained dovecot.conf: one protocol on one loopback port, everything under
    ``root``; the imaps/pop3s listeners are disabled (port 0)."""
    if leaf is not None:
        ssl = f"ssl = yes\nssl_cert = <{leaf.cert}\nssl_key = <{leaf.key}\nssl_dh = <{dh}\n"
    else:
        ssl = "ssl = no\n"
    return f"""# probe STARTTLS lab ({protocol}); nothing here reads /etc/dovecot
instance_name = probe-lab-{protocol}-{port}
base_dir = {root}/run
state_dir = {root}/state
log_path = /dev/stderr
info_log_path = /dev/stderr
protocols = {protocol}
listen = {LOOPBACK}
{ssl}disable_plaintext_auth = no
auth_mechanisms = plain
passdb {{
  driver = static
  args = password=probe
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    port = {port if protocol == "imap" else 0}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {port if protocol == "pop3" else 0}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
"""


@contextlib.contextmanager
def _dovecot(config: StartTlsConfig, certs: LabCerts, root: Path, log: Path) -> Started:
    dovecot = require_binary("dovecot")
    for user in ("dovecot", "dovenull"):  # created by the dovecot-core package
        _require_user(user, "dovecot-core")
    conf = root / "dovecot.conf"
    leaf = lab_leaf(certs) if config.starttls else None

    def build(ports: list[int]) -> list[str]:
        conf.write_text(dovecot_conf(root, config.protocol, ports[0], leaf, certs.dh2048))
        return [dovecot, "-F", "-c", str(conf)]

    with run_server(build, ports=1, log=log) as (proc, ports):
        yield proc, ports[0]


def slapd_conf(root: Path, leaf: KeyCert | None) -> str:
    tls = ""
    if leaf is not None:
        tls = f"TLSCertificateFile {leaf.cert}\nTLSCertificateKeyFile {leaf.key}\n"
    return f"""# probe STARTTLS lab; nothing here reads /etc/ldap/slapd.d
include /etc/ldap/schema/core.schema
pidfile {root}/slapd.pid
argsfile {root}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
{tls}
database mdb
maxsize 10485760
suffix "dc=lab,dc=probe"
rootdn "cn=admin,dc=lab,dc=probe"
rootpw probe
directory {root}/db
"""


@contextlib.contextmanager
def _slapd(config: StartTlsConfig, certs: LabCerts, root: Path, log: Path) -> Started:
    leaf = lab_leaf(certs)
    slapd = require_binary("slapd")
    (root / "db").mkdir(parents=True, exist_ok=True)
    conf = root / "slapd.conf"
    conf.write_text(slapd_conf(root, leaf if config.starttls else None))
    # -u: a dry run (the empty database cannot be opened in tool mode before slapd made it).
    _check_run([slapd, "-T", "test", "-u", "-f", str(conf)], "slaptest")

    def build(ports: list[int]) -> list[str]:
        return [slapd, "-d", "0", "-f", str(conf), "-h", f"ldap://{LOOPBACK}:{ports[0]}/"]

    with run_server(build, ports=1, log=log) as (proc, ports):
        yield proc, ports[0]


def prosody_conf(root: Path, port: int, leaf: KeyCert | None) -> str:
    modules = ['"saslauth"', '"disco"', '"ping"']
    ssl = ""
    if leaf is not None:
        modules.append('"tls"')
        ssl = f'ssl = {{ certificate = "{leaf.cert}"; key = "{leaf.key}"; }}\n'
    return f"""-- probe STARTTLS lab; nothing here reads /etc/prosody
run_as_root = true -- the lab runs as root and every file is the lab's own
pidfile = "{root}/prosody.pid"
data_path = "{root}/data"
log = {{ {{ levels = {{ min = "info" }}, to = "console" }} }}
interfaces = {{ "{LOOPBACK}" }}
local_interfaces = {{ "{LOOPBACK}" }}
c2s_ports = {{ {port} }}
c2s_direct_tls_ports = {{ }}
s2s_ports = {{ }}
s2s_direct_tls_ports = {{ }}
component_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
modules_enabled = {{ {", ".join(modules)} }}
modules_disabled = {{ "s2s" }}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
{ssl}
VirtualHost "localhost"
{ssl}"""


@contextlib.contextmanager
def _prosody(config: StartTlsConfig, certs: LabCerts, root: Path, log: Path) -> Started:
    leaf = lab_leaf(certs)
    prosody = require_binary("prosody")
    (root / "data").mkdir(parents=True, exist_ok=True)
    conf = root / "prosody.cfg.lua"

    def build(ports: list[int]) -> list[str]:
        conf.write_text(prosody_conf(root, ports[0], leaf if config.starttls else None))
        return [prosody, "-F", "--config", str(conf)]

    with run_server(build, ports=1, log=log, cwd=root) as (proc, ports):
        yield proc, ports[0]


def _require_user(user: str, package: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(user)
    except KeyError:
        raise LabError(f"no {user!r} user (the {package} package creates it)") from None


@contextlib.contextmanager
def _postgres(config: StartTlsConfig, certs: LabCerts, root: Path, log: Path) -> Started:
    leaf = lab_leaf(certs)
    initdb, postgres = (str(POSTGRES_BIN / b) for b in ("initdb", "postgres"))
    if not os.access(postgres, os.X_OK):
        raise LabError(f"{postgres} is missing (Debian postgresql-15); run install-test-deps")
    account = _require_user("postgres", "postgresql-common")
    # postgres refuses to run as root: initdb and the server run as the postgres user.
    as_postgres = [
        require_binary("setpriv"),
        f"--reuid={account.pw_uid}",
        f"--regid={account.pw_gid}",
        "--init-groups",
        "--",
    ]
    data = root / "data"
    root.mkdir(parents=True, exist_ok=True)
    os.chown(root, account.pw_uid, account.pw_gid)
    _check_run(
        [*as_postgres, initdb, "-D", str(data), "-U", "probe", "-A", "trust", "--no-sync",
         "--no-instructions", "-E", "UTF8", "--locale=C"],
        "initdb",
    )  # fmt: skip
    # the key must be 0600 and owned by the server's user
    for source, target in ((leaf.cert, "server.crt"), (leaf.key, "server.key")):
        shutil.copyfile(source, data / target)
        os.chown(data / target, account.pw_uid, account.pw_gid)
        (data / target).chmod(0o600)
    ssl = "on" if config.starttls else "off"

    def build(ports: list[int]) -> list[str]:
        return [
            *as_postgres, postgres, "-D", str(data), "-k", str(root), "-h", LOOPBACK,
            "-p", str(ports[0]), "-c", f"ssl={ssl}", "-c", "ssl_cert_file=server.crt",
            "-c", "ssl_key_file=server.key", "-c", "fsync=off", "-c", "logging_collector=off",
        ]  # fmt: skip

    with run_server(build, ports=1, log=log) as (proc, ports):
        yield proc, ports[0]


@contextlib.contextmanager
def _mariadb(config: StartTlsConfig, certs: LabCerts, root: Path, log: Path) -> Started:
    leaf = lab_leaf(certs)
    mariadbd = require_binary("mariadbd")
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    # --user=root: mariadbd refuses root otherwise; every file is the lab's own.
    common = ["--no-defaults", f"--datadir={data}", "--user=root"]
    _check_run(
        [require_binary("mariadb-install-db"), *common, "--auth-root-authentication-method=normal",
         "--skip-test-db", "--skip-name-resolve"],
        "mariadb-install-db",
    )  # fmt: skip
    ssl = [f"--ssl-cert={leaf.cert}", f"--ssl-key={leaf.key}"] if config.starttls else []

    def build(ports: list[int]) -> list[str]:
        return [
            mariadbd, *common, f"--socket={root}/mysqld.sock", f"--pid-file={root}/mysqld.pid",
            f"--port={ports[0]}", f"--bind-address={LOOPBACK}", "--skip-name-resolve",
            "--skip-grant-tables", "--innodb-buffer-pool-size=16M", "--skip-log-bin",
            *(ssl or ["--skip-ssl"]),
        ]  # fmt: skip

    with run_server(build, ports=1, log=log) as (proc, ports):
        yield proc, ports[0]


Starter = Callable[
    [StartTlsConfig, LabCerts, Path, Path],
    contextlib.AbstractContextManager[tuple[ServerProcess, int]],
]
STARTERS: dict[str, Starter] = {
    "smtp": _smtp,
    "ftp": _ftp,
    "imap": _dovecot,
    "pop3": _dovecot,
    "ldap": _slapd,
    "xmpp": _prosody,
    "postgres": _postgres,
    "mysql": _mariadb,
}


class StartTlsServers(LazyServers):
    """The STARTTLS configurations, each started on first use and kept until ``close()``."""

    kind = "STARTTLS server"

    def __init__(self, certs: LabCerts, workdir: Path) -> None:
        super().__init__(STARTTLS_CONFIGS, certs, workdir)
        self._runtime: Path | None = None

    def _runtime_dir(self) -> Path:
        if self._runtime is None:
            self._runtime = Path(tempfile.mkdtemp(prefix="probe-starttls-"))
            self._runtime.chmod(0o755)  # daemons' own users must reach their directories
        return self._runtime

    def _start(self, name: str) -> LabServer:
        config = STARTTLS_CONFIGS[name]
        self.workdir.mkdir(parents=True, exist_ok=True)
        root = self._runtime_dir() / config.name
        root.mkdir(parents=True, exist_ok=True)
        log = self.workdir / f"{config.name}.log"
        starter = STARTERS[config.protocol]
        proc, port = self._stack.enter_context(starter(config, self.certs, root, log))
        expected = {
            "protocol": config.protocol,
            "starttls": config.starttls,
            "cert": LAB_CERT if config.starttls else None,
        }
        return LabServer(LOOPBACK, port, config.name, config.description, expected, proc.log)

    def _cleanup(self) -> None:
        if self._runtime is not None:
            shutil.rmtree(self._runtime, ignore_errors=True)
            self._runtime = None
