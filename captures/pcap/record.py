"""Regenerate the test captures (see README.md). Needs root, tcpdump, curl, openssl, iproute2,
mariadb-server and what scripts/install-test-deps.sh installs for the STARTTLS lab.

    sudo python3 captures/pcap/record.py                  # all of them
    sudo python3 captures/pcap/record.py tls_versions.pcap # only the ones named

Each capture records real loopback traffic made here with tcpdump: Python's http.server
answering urllib and curl, a UDP datagram, an IPv6 TCP exchange, ftplib and smtplib against the
small FTP and SMTP servers below, openssl s_client against s_server, and the STARTTLS captures:
smtplib, imaplib, ftplib, ldapwhoami (ldap-utils) and psql (postgresql-client) against the test
lab's real servers (tests/lab/starttls.py: aiosmtpd, Dovecot, pyftpdlib, slapd, PostgreSQL 15,
with and without TLS; certificates from tests/lab/certs.py). ``multi.pcapng`` is then
built from three of them per draft-ietf-opsawg-pcapng, because tcpdump 4.99 writes only pcap.
Every credential and secret in them is an obvious fake (the AWS documentation's example key,
the Visa test card number, passwords named fake-...).
"""

from __future__ import annotations

import base64
import ftplib
import http.server
import imaplib
import os
import poplib
import shutil
import smtplib
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
HTTP_PORT = 18080
UDP_PORT = 18053
V6_PORT = 18081
LEAK_PORT = 18082  # HTTP on a port no classifier would guess
FTP_PORT = 2121
SMTP_PORT = 2525
TLS_PORT = 18443
# Obvious fakes only: the AWS documentation's example key pair and the Visa test number.
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TEST_CARD = "4111 1111 1111 1111"
FAKE_SIG = base64.b64encode(b"probe-fake-sas-signature-32byte!").decode()


@contextmanager
def tcpdump(
    path: Path, interface: str, bpf: str, *extra: str, netns: str | None = None
) -> Iterator[None]:
    tcpdump_bin = shutil.which("tcpdump") or "/usr/sbin/tcpdump"
    command = [tcpdump_bin, "-i", interface, "-U", "-s", "262144", "-w", str(path), *extra, bpf]
    if netns is not None:
        command = ["ip", "netns", "exec", netns, *command]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE)
    time.sleep(1.0)  # let it open the interface
    try:
        yield
    finally:
        # libpcap hands packets over when its buffer timeout (1 s) expires, and tcpdump drops
        # what is still in the kernel ring when terminated: wait past that timeout.
        time.sleep(1.5)
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


# -- leak captures: credentials, secrets and weak TLS over real clients ---------------------


def curl(*args: str) -> None:
    subprocess.run(["curl", "-s", "-o", "/dev/null", "--max-time", "5", *args], check=False)


def http_leaks() -> None:
    """Three curl requests to http.server on a non-standard port: Basic credentials, a SAS
    URL sent to a storage host name over plain HTTP, and an AWS key pair in a form body."""
    base = f"http://127.0.0.1:{LEAK_PORT}"
    sig = FAKE_SIG.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    sas = f"sv=2022-11-02&ss=b&srt=o&sp=r&se=2030-01-01T00:00:00Z&spr=https,http&sig={sig}"
    form = f"aws_access_key_id={AWS_KEY_ID}&aws_secret_access_key={AWS_SECRET}"
    with http_server("127.0.0.1", LEAK_PORT):
        curl("-u", "alice:fake-basic-pass", f"{base}/README.md")
        curl("-H", "Host: probeacct.blob.core.windows.net", f"{base}/c/blob.txt?{sas}")
        curl("--data", form, f"{base}/upload")


AUTH_PORT = 18099  # HTTP Digest and NTLM challenges


def ntlm_challenge() -> bytes:
    """[MS-NLMP] 2.2.1.2 CHALLENGE_MESSAGE: target name PROBE and target info (2.2.2.1 AV
    pairs: NetBIOS domain and computer name, MsvAvEOL), so curl answers with NTLMv2. No
    Version field (NTLMSSP_NEGOTIATE_VERSION is not set): payload from offset 48."""
    name = "PROBE".encode("utf-16-le")
    computer = "SERVER".encode("utf-16-le")
    info = (struct.pack("<HH", 2, len(name)) + name + struct.pack("<HH", 1, len(computer))
            + computer + struct.pack("<HH", 0, 0))  # fmt: skip
    # UNICODE, REQUEST_TARGET, NTLM, ALWAYS_SIGN, TARGET_TYPE_DOMAIN, EXTENDED_SESSIONSECURITY,
    # TARGET_INFO, 128, 56
    flags = 0x1 | 0x4 | 0x200 | 0x8000 | 0x10000 | 0x80000 | 0x800000 | 0x20000000 | 0x80000000
    return (b"NTLMSSP\x00" + struct.pack("<I", 2) + struct.pack("<HHI", len(name), len(name), 48)
            + struct.pack("<I", flags) + bytes.fromhex("0123456789abcdef") + bytes(8)
            + struct.pack("<HHI", len(info), len(info), 48 + len(name)) + name + info)  # fmt: skip


class _AuthHandler(http.server.BaseHTTPRequestHandler):
    """Asks for Digest (RFC 7616) on /digest and NTLM on /ntlm, over kept-alive HTTP/1.1, and
    accepts whatever comes back: the capture needs the clients' real answers, not a login."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def answer(self, code: int, challenge: str | None = None) -> None:
        body = b"ok\n" if code == 200 else b""
        self.send_response(code)
        if challenge is not None:
            self.send_header("WWW-Authenticate", challenge)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization", "")
        if self.path.startswith("/digest"):
            if auth.startswith("Digest "):
                return self.answer(200)
            nonce = "5f1e2d3c4b5a69788796a5b4c3d2e1f0"
            return self.answer(401, f'Digest realm="probe-test", nonce="{nonce}", qop="auth"')
        if auth.startswith("NTLM "):
            message = base64.b64decode(auth[5:])
            if message[8:12] == struct.pack("<I", 1):  # NEGOTIATE_MESSAGE: challenge it
                return self.answer(401, "NTLM " + base64.b64encode(ntlm_challenge()).decode())
            return self.answer(200)
        return self.answer(401, "NTLM")


def http_auth() -> None:
    """curl against _AuthHandler: an HTTP Digest login and an NTLMv2 one (real client bytes)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", AUTH_PORT), _AuthHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        curl("--digest", "-u", "carol:fake-digest-pass", f"http://127.0.0.1:{AUTH_PORT}/digest/a")
        curl("--ntlm", "-u", "PROBE\\bob:fake-ntlm-pass", f"http://127.0.0.1:{AUTH_PORT}/ntlm/a")
    finally:
        server.shutdown()
        server.server_close()


class _LineHandler(socketserver.StreamRequestHandler):
    """A line-based server whose answers come from ``reply(line)`` (None: close)."""

    greeting = b""

    def send(self, text: bytes) -> None:
        self.wfile.write(text)
        self.wfile.flush()

    def handle(self) -> None:
        self.send(self.greeting)
        for raw in self.rfile:
            answer = self.reply(raw.rstrip(b"\r\n"))
            if answer is None:
                return
            self.send(answer)

    def reply(self, line: bytes) -> bytes | None:
        raise NotImplementedError


class _Ftp(_LineHandler):
    """RFC 959 replies to a login and PWD: enough for ftplib's login(), pwd() and quit()."""

    greeting = b"220 probe FTP test server\r\n"

    def reply(self, line: bytes) -> bytes | None:
        command = line.split(b" ", 1)[0].upper()
        answers = {
            b"USER": b"331 Password required\r\n",
            b"PASS": b"230 Logged in\r\n",
            b"PWD": b'257 "/" is the current directory\r\n',
            b"SYST": b"215 UNIX Type: L8\r\n",
        }
        if command == b"QUIT":
            self.send(b"221 Bye\r\n")
            return None
        return answers.get(command, b"502 Not implemented\r\n")


class _Smtp(_LineHandler):
    """RFC 5321/4954 replies: EHLO advertising AUTH PLAIN LOGIN (no STARTTLS), AUTH, one
    message, QUIT."""

    greeting = b"220 probe.test ESMTP test server\r\n"
    in_data = False

    def reply(self, line: bytes) -> bytes | None:
        if self.in_data:
            if line == b".":
                self.in_data = False
                return b"250 2.0.0 Queued\r\n"
            return b""
        command = line.split(b" ", 1)[0].upper()
        if command == b"EHLO":
            return b"250-probe.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
        if command == b"AUTH":
            return b"235 2.7.0 Authentication successful\r\n"
        if command == b"DATA":
            self.in_data = True
            return b"354 End data with <CR><LF>.<CR><LF>\r\n"
        if command == b"QUIT":
            self.send(b"221 2.0.0 Bye\r\n")
            return None
        return b"250 2.0.0 OK\r\n"


@contextmanager
def line_server(handler: type[_LineHandler], port: int) -> Iterator[None]:
    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

    server = Server(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def ftp_logins() -> None:
    """ftplib: a login with a (fake) password, then an anonymous one (not a credential)."""
    with line_server(_Ftp, FTP_PORT):
        for user, password in (("alice", "fake-ftp-pass"), ("anonymous", "guest@example.com")):
            ftp = ftplib.FTP()
            ftp.connect("127.0.0.1", FTP_PORT, timeout=5)
            ftp.login(user, password)
            ftp.pwd()
            ftp.quit()


def smtp_auth() -> None:
    """smtplib: AUTH PLAIN (its first choice of what the server offers), then a message
    carrying the Visa test card number."""
    with line_server(_Smtp, SMTP_PORT), smtplib.SMTP("127.0.0.1", SMTP_PORT, timeout=5) as smtp:
        smtp.login("bob@probe.test", "fake-smtp-pass")
        body = f"Subject: order\r\n\r\nPlease charge card {TEST_CARD}, exp 12/30.\r\n"
        smtp.sendmail("bob@probe.test", ["shop@probe.test"], body)


def tls_versions() -> None:
    """openssl s_server accepting everything down to TLS 1.0; three s_client handshakes:
    TLS 1.3, TLS 1.2 with RSA key exchange (no forward secrecy) and TLS 1.0."""
    openssl = shutil.which("openssl") or "/usr/bin/openssl"
    with tempfile.TemporaryDirectory() as tmp:
        key, cert = f"{tmp}/key.pem", f"{tmp}/cert.pem"
        subprocess.run(
            [
                openssl,
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                key,
                "-out",
                cert,
                "-days",
                "30",
                "-subj",
                "/CN=probe.test",
            ],
            check=True,
            capture_output=True,
        )
        server = subprocess.Popen(
            [
                openssl,
                "s_server",
                "-accept",
                str(TLS_PORT),
                "-cert",
                cert,
                "-key",
                key,
                "-min_protocol",
                "TLSv1",
                "-cipher",
                "ALL:@SECLEVEL=0",
                "-www",
                "-quiet",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)
        try:
            for extra in (
                ["-tls1_3"],
                ["-tls1_2", "-cipher", "AES128-GCM-SHA256"],
                ["-tls1", "-cipher", "ECDHE-RSA-AES128-SHA:@SECLEVEL=0"],
            ):
                subprocess.run(
                    [
                        openssl,
                        "s_client",
                        "-connect",
                        f"127.0.0.1:{TLS_PORT}",
                        "-servername",
                        "probe.test",
                        *extra,
                    ],
                    input=b"",
                    capture_output=True,
                    timeout=10,
                    check=False,
                )
        finally:
            server.terminate()
            server.wait(timeout=10)


# -- IP fragments: a private network namespace whose loopback has the IPv6 minimum MTU ----------

FRAG_NS = "probe-frag"
SNMP_PORT = 161
# An SNMPv2c SetRequest (RFC 3416 3, BER per X.690) with community "fake-frag-community" and
# one 2,000-byte OCTET STRING value: larger than the 1,280-byte MTU, so the kernel fragments
# it (IPv4 RFC 791, IPv6 RFC 8200 4.5: the sending host fragments UDP).
_FRAG_SENDER = """
import socket, struct
def ber(tag, body):
    if len(body) < 0x80:
        return bytes([tag, len(body)]) + body
    return bytes([tag, 0x82]) + struct.pack('!H', len(body)) + body
oid = ber(0x06, bytes.fromhex('2b0601020101050 0'.replace(' ', '')))  # 1.3.6.1.2.1.1.5.0
value = ber(0x30, oid + ber(0x04, b'x' * 2000))
pdu = ber(0xA3, ber(0x02, b'\\x01') + ber(0x02, b'\\x00') * 2 + ber(0x30, value))
message = ber(0x30, ber(0x02, b'\\x01') + ber(0x04, b'fake-frag-community') + pdu)
for family, host in ((socket.AF_INET, '127.0.0.1'), (socket.AF_INET6, '::1')):
    with socket.socket(family, socket.SOCK_DGRAM) as receiver:
        receiver.bind((host, PORT))
        with socket.socket(family, socket.SOCK_DGRAM) as sender:
            sender.bind((host, PORT + 40000))
            sender.sendto(message, (host, PORT))
        receiver.settimeout(5)
        assert receiver.recvfrom(65535)[0] == message
# An ICMP echo request of 3,000 bytes (RFC 792; what ping -s 3000 -p 70726f6265 sends, and ping
# is not installed here); the kernel answers it, fragmented too.
body = b'probe' * 600
header = struct.pack('!BBHHH', 8, 0, 0, 0x7062, 1)
words = sum(struct.unpack('!%dH' % ((len(header + body)) // 2), header + body))
while words >> 16:
    words = (words & 0xFFFF) + (words >> 16)
header = struct.pack('!BBHHH', 8, 0, ~words & 0xFFFF, 0x7062, 1)
with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as icmp:
    icmp.settimeout(5)
    icmp.sendto(header + body, ('127.0.0.1', 0))
    while icmp.recvfrom(65535)[0][20] != 0:  # our own request comes back first
        pass
""".replace("PORT", str(SNMP_PORT))


def ip_fragments() -> None:
    """A fragmented SNMP datagram over IPv4 and IPv6, then a 3,000-byte ICMP echo and its reply
    (fragments that are not TCP/UDP), inside the namespace made by :func:`record_fragments`."""
    run = ["ip", "netns", "exec", FRAG_NS]
    subprocess.run([*run, sys.executable, "-c", _FRAG_SENDER], check=True, timeout=20)


def record_fragments(name: str) -> None:
    subprocess.run(["ip", "netns", "delete", FRAG_NS], capture_output=True, check=False)
    subprocess.run(["ip", "netns", "add", FRAG_NS], check=True)
    try:
        ns = ["ip", "netns", "exec", FRAG_NS, "ip", "link", "set", "lo"]
        subprocess.run([*ns, "mtu", "1280"], check=True)  # RFC 8200 5: the IPv6 minimum
        subprocess.run([*ns, "up"], check=True)
        path = HERE / name
        # No port filter: only a datagram's first fragment carries the UDP header.
        with tcpdump(path, "lo", "ip or ip6", netns=FRAG_NS):
            ip_fragments()
        print(f"{name}: {path.stat().st_size} bytes")
    finally:
        subprocess.run(["ip", "netns", "delete", FRAG_NS], check=False)


# -- MySQL: MariaDB 10.11 from Debian 12 in a throw-away data directory --------------------------

MYSQL_PORT = 13306  # not 3306: content, not the port, must tell it is MySQL


@contextmanager
def mariadb_server(tmp: str) -> Iterator[str]:
    """mariadbd on 127.0.0.1:MYSQL_PORT with a throw-away certificate; yields its socket."""
    data, socket_path = f"{tmp}/data", f"{tmp}/sock"
    subprocess.run(["mariadb-install-db", "--user=root", f"--datadir={data}",
                    "--auth-root-authentication-method=normal", "--skip-test-db"],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    f"{tmp}/key.pem", "-out", f"{tmp}/cert.pem", "-days", "30", "-subj",
                    "/CN=probe.test"], check=True, capture_output=True)  # fmt: skip
    server = subprocess.Popen(
        ["mariadbd", "--no-defaults", "--user=root", f"--datadir={data}",
         f"--socket={socket_path}", f"--port={MYSQL_PORT}", "--bind-address=127.0.0.1",
         f"--ssl-cert={tmp}/cert.pem", f"--ssl-key={tmp}/key.pem", f"--pid-file={tmp}/pid",
         "--skip-log-bin"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(50):
            if Path(socket_path).exists():
                break
            time.sleep(0.2)
        yield socket_path
    finally:
        server.terminate()
        server.wait(timeout=30)


def mysql_logins() -> None:
    """Three logins of the mariadb client as alice / fake-mysql-pass: without TLS
    (mysql_native_password), with TLS (SSLRequest), and without TLS starting with the
    mysql_clear_password client plugin, which sends the password itself."""
    with tempfile.TemporaryDirectory() as tmp, mariadb_server(tmp) as socket_path:
        subprocess.run(["mariadb", "--no-defaults", "-S", socket_path, "-u", "root", "-e",
                        "CREATE USER 'alice'@'127.0.0.1' IDENTIFIED BY 'fake-mysql-pass'"],
                       check=True, timeout=30)  # fmt: skip
        client = ["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", str(MYSQL_PORT),
                  "-u", "alice", "-pfake-mysql-pass", "-e", "SELECT 1"]  # fmt: skip
        plugins = "/usr/lib/x86_64-linux-gnu/libmariadb3/plugin"
        for extra in (
            ["--skip-ssl"],
            ["--ssl", "--ssl-verify-server-cert=0"],
            ["--skip-ssl", "--default-auth=mysql_clear_password", f"--plugin-dir={plugins}"],
        ):
            subprocess.run([*client, *extra], check=True, capture_output=True, timeout=30)


# -- STARTTLS: the lab's real servers (tests/lab/starttls.py), each with and without TLS ----------

# Throw-away test credentials; the lab's own configs use "probe", which would show up in every
# report (the tool's name), so record.py swaps in these for Dovecot, slapd and PostgreSQL.
STARTTLS_PASS = {
    "smtp": "fake-smtp-tls-pass",
    "imap": "fake-imap-pass",
    "ftp": "fake-ftps-pass",
    "ldap": "fake-ldap-pass",
    "postgres": "fake-pg-pass",
    "xmpp": "fake-xmpp-pass",
}


@contextmanager
def starttls_lab() -> Iterator[Any]:
    """The lab's StartTlsServers with record.py's passwords; yields (servers, certs)."""
    sys.path.insert(0, str(HERE.parents[1]))
    from tests.lab import starttls as lab
    from tests.lab.certs import make_lab_certs

    dovecot_conf, slapd_conf = lab.dovecot_conf, lab.slapd_conf

    def dovecot(*args: Any) -> str:
        return dovecot_conf(*args).replace("password=probe", f"password={STARTTLS_PASS['imap']}")

    def slapd(*args: Any) -> str:
        return slapd_conf(*args).replace("rootpw probe", f"rootpw {STARTTLS_PASS['ldap']}")

    lab.dovecot_conf, lab.slapd_conf = dovecot, slapd  # looked up by the lab's starters
    with tempfile.TemporaryDirectory() as tmp:
        certs = make_lab_certs(Path(tmp) / "certs")
        servers = lab.StartTlsServers(certs, Path(tmp) / "work")
        try:
            yield servers, certs
        finally:
            servers.close()
            lab.dovecot_conf, lab.slapd_conf = dovecot_conf, slapd_conf


def record_pair(
    name: str, servers: Any, pair: tuple[str, str], traffic: Callable[..., None]
) -> None:
    """Start both servers first (their start-up traffic stays out), then record ``traffic``."""
    tls, plain = servers[pair[0]], servers[pair[1]]
    time.sleep(3.0)  # the lab's readiness probes close before tcpdump starts
    bpf = f"tcp port {tls.port} or tcp port {plain.port}"
    record(name, "lo", bpf, lambda: traffic(tls.port, plain.port))


def smtp_starttls(tls: int, plain: int) -> None:
    """smtplib against aiosmtpd: STARTTLS then AUTH PLAIN inside TLS; AUTH PLAIN in the clear
    to the server that offers STARTTLS; AUTH PLAIN to the -plain one. aiosmtpd has no
    authenticator here, so every AUTH is refused: what the client sent is what counts."""
    plain_auth = base64.b64encode(b"\0carol@probe.test\0" + STARTTLS_PASS["smtp"].encode())
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    for port, upgrade in ((tls, True), (tls, False), (plain, False)):
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.ehlo("client.probe.test")
            if upgrade:
                smtp.starttls(context=context)
                smtp.ehlo("client.probe.test")
            smtp.docmd("AUTH", "PLAIN " + plain_auth.decode())


def imap_starttls(tls: int, plain: int) -> None:
    """imaplib against Dovecot: STARTTLS then LOGIN; LOGIN in the clear to the -plain one."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    for port, upgrade in ((tls, True), (plain, False)):
        imap = imaplib.IMAP4("127.0.0.1", port, timeout=10)
        if upgrade:
            imap.starttls(ssl_context=context)
        imap.login("dave", STARTTLS_PASS["imap"])
        imap.logout()


def pop3_starttls(tls: int, plain: int) -> None:
    """poplib against Dovecot: CAPA, STLS, then USER/PASS inside TLS; CAPA and USER/PASS in the
    clear to the server that offers STLS; the same to the -plain one (STLS refused with -ERR,
    then the login in the clear)."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    for port, mode in ((tls, "stls"), (tls, "clear"), (plain, "refused")):
        pop = poplib.POP3("127.0.0.1", port, timeout=10)
        pop.capa()
        if mode == "stls":
            pop.stls(context=context)
        elif mode == "refused":
            with suppress(poplib.error_proto):
                pop._shortcmd("STLS")  # poplib.stls() checks CAPA first and would not send it
        pop.user("grace")
        # Dovecot answers the (right) password with "-ERR [SYS/TEMP]": the lab's POP3 has no
        # mail storage it can open. What the client sent is what counts.
        with suppress(poplib.error_proto, OSError):
            pop.pass_(STARTTLS_PASS["imap"])
            pop.quit()
        pop.close()


def ftp_starttls(tls: int, plain: int) -> None:
    """ftplib: FEAT, then FTP_TLS (AUTH TLS) and a login inside TLS; FEAT and a login in the
    clear to the -plain pyftpdlib. The lab server knows only anonymous: both logins get 530."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    for port, client in ((tls, ftplib.FTP_TLS(context=context)), (plain, ftplib.FTP())):
        client.connect("127.0.0.1", port, timeout=10)
        client.sendcmd("FEAT")
        with suppress(ftplib.error_perm):
            client.login("erin", STARTTLS_PASS["ftp"])
        client.quit()


def ldap_starttls(tls: int, plain: int) -> None:
    """ldapwhoami (OpenLDAP 2.5) simple bind as the rootdn: -ZZ (StartTLS required) against
    slapd with TLS; without -ZZ against the -plain slapd."""
    env = {**os.environ, "LDAPTLS_REQCERT": "never"}
    bind = ["-x", "-D", "cn=admin,dc=lab,dc=probe", "-w", STARTTLS_PASS["ldap"]]
    for port, extra in ((tls, ["-ZZ"]), (plain, [])):
        subprocess.run(["ldapwhoami", *extra, "-H", f"ldap://127.0.0.1:{port}", *bind],
                       env=env, check=True, capture_output=True, timeout=20)  # fmt: skip


def postgres_passwords(servers: Any, names: tuple[str, ...]) -> None:
    """The lab's PostgreSQL trusts every local login: give its user a password and ask for
    it in the clear (pg_hba ``password``: AuthenticationCleartextPassword, 55.2.2)."""
    for name in names:
        server = servers[name]
        dsn = f"host=127.0.0.1 port={server.port} user=probe dbname=postgres sslmode=disable"
        sql = f"ALTER USER probe PASSWORD '{STARTTLS_PASS['postgres']}'"
        subprocess.run(["psql", dsn, "-c", sql], check=True, capture_output=True, timeout=20)
        hba = Path(servers._runtime_dir()) / name / "data" / "pg_hba.conf"
        hba.write_text("host all all 127.0.0.1/32 password\n")
        subprocess.run(["psql", dsn, "-c", "SELECT pg_reload_conf()"], check=True,
                       capture_output=True, timeout=20)  # fmt: skip
    time.sleep(1.0)


def postgres_ssl(tls: int, plain: int) -> None:
    """psql: sslmode=require (SSLRequest, 'S', TLS); sslmode=disable (no SSLRequest, the
    password in the clear); sslmode=prefer against the ssl=off server ('N', then the password
    in the clear)."""
    env = {**os.environ, "PGPASSWORD": STARTTLS_PASS["postgres"], "PGCONNECT_TIMEOUT": "10"}
    for port, mode in ((tls, "require"), (tls, "disable"), (plain, "prefer")):
        dsn = f"host=127.0.0.1 port={port} user=probe dbname=postgres sslmode={mode}"
        subprocess.run(["psql", dsn, "-c", "SELECT 1"], env=env, check=True,
                       capture_output=True, timeout=20)  # fmt: skip


XMPP_HEADER = (
    b"<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' "
    b"xmlns:stream='http://etherx.jabber.org/streams'>"
)


def _xmpp_until(sock: Any, *marks: bytes) -> bytes:
    data = b""
    while not any(m in data for m in marks):
        piece = sock.recv(65536)
        if not piece:
            break
        data += piece
    return data


def xmpp_session(port: int, upgrade: bool) -> None:
    """RFC 6120 by hand (no XMPP library here): stream header, features, optionally
    <starttls/> and TLS (5.4), then SASL PLAIN (6.4) for frank@localhost; the lab's Prosody has
    no accounts, so the server answers <failure/>: what the client sent is what counts."""
    plain = base64.b64encode(b"\0frank\0" + STARTTLS_PASS["xmpp"].encode())
    auth = b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + plain + b"</auth>"
    sock: Any = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(XMPP_HEADER)
        _xmpp_until(sock, b"</stream:features>")
        if upgrade:
            sock.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            _xmpp_until(sock, b"<proceed")
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            sock = context.wrap_socket(sock, server_hostname="localhost")
            sock.sendall(XMPP_HEADER)
            _xmpp_until(sock, b"</stream:features>")
        sock.sendall(auth)
        _xmpp_until(sock, b"</failure>", b"<success")
        sock.sendall(b"</stream:stream>")
        _xmpp_until(sock, b"</stream:stream>")
    finally:
        sock.close()


def xmpp_starttls(tls: int, plain: int) -> None:
    """<starttls/> then SASL PLAIN inside TLS; SASL PLAIN in the clear to the server that
    offers <starttls/>; the same to the -plain Prosody (no mod_tls)."""
    for port, upgrade in ((tls, True), (tls, False), (plain, False)):
        xmpp_session(port, upgrade)


STARTTLS_CAPTURES: dict[str, tuple[tuple[str, str], Callable[[int, int], None]]] = {
    "smtp_starttls.pcap": (("smtp", "smtp-plain"), smtp_starttls),
    "imap_starttls.pcap": (("imap", "imap-plain"), imap_starttls),
    "ftp_starttls.pcap": (("ftp", "ftp-plain"), ftp_starttls),
    "pop3_starttls.pcap": (("pop3", "pop3-plain"), pop3_starttls),
    "ldap_starttls.pcap": (("ldap", "ldap-plain"), ldap_starttls),
    "postgres_ssl.pcap": (("postgres", "postgres-plain"), postgres_ssl),
    "xmpp_starttls.pcap": (("xmpp", "xmpp-plain"), xmpp_starttls),
}


def record_starttls(names: list[str]) -> None:
    if not names:
        return
    with starttls_lab() as (servers, _certs):
        for name in names:
            pair, traffic = STARTTLS_CAPTURES[name]
            if pair[0] == "postgres":
                postgres_passwords(servers, pair)
            record_pair(name, servers, pair, traffic)


STRIP_PORT = 2587  # the stripping relay's port (submission-like, not a port the classifier uses)


class _StrippingRelay(socketserver.BaseRequestHandler):
    """A TCP relay in front of the lab's STARTTLS SMTP server that acts as an attacker on the
    path: connection 1 is relayed as is; on connection 2 the ``250-STARTTLS`` line is removed
    from the server's answers; on connection 3 the keyword is overwritten with ``XXXXXXXA``
    (same length, as Cisco ASA's ESMTP inspection does)."""

    upstream = 0
    count = 0

    def handle(self) -> None:
        type(self).count += 1
        mode = type(self).count
        with socket.create_connection(("127.0.0.1", self.upstream), timeout=10) as up:

            def pump(src: socket.socket, dst: socket.socket, edit: bool) -> None:
                with suppress(OSError):
                    while data := src.recv(65536):
                        if edit and mode == 2:
                            data = data.replace(b"250-STARTTLS\r\n", b"")
                        elif edit and mode == 3:
                            data = data.replace(b"STARTTLS", b"XXXXXXXA")
                        dst.sendall(data)
                with suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)

            back = threading.Thread(target=pump, args=(up, self.request, True), daemon=True)
            back.start()
            pump(self.request, up, False)
            back.join(timeout=10)


def smtp_stripped_traffic(upstream: int) -> None:
    """smtplib through the relay three times: it uses STARTTLS when it sees it, else sends
    AUTH PLAIN in the clear (what a client without "require TLS" does)."""
    _StrippingRelay.upstream, _StrippingRelay.count = upstream, 0

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

    server = Server(("127.0.0.1", STRIP_PORT), _StrippingRelay)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    plain_auth = base64.b64encode(b"\0carol@probe.test\0" + STARTTLS_PASS["smtp"].encode())
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        for _ in range(3):
            with smtplib.SMTP("127.0.0.1", STRIP_PORT, timeout=10) as smtp:
                smtp.ehlo("client.probe.test")
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=context)
                    smtp.ehlo("client.probe.test")
                smtp.docmd("AUTH", "PLAIN " + plain_auth.decode())
    finally:
        server.shutdown()
        server.server_close()


def record_stripped(name: str) -> None:
    with starttls_lab() as (servers, _certs):
        upstream = servers["smtp"].port
        time.sleep(3.0)
        record(name, "lo", f"tcp port {STRIP_PORT}", lambda: smtp_stripped_traffic(upstream))


def main() -> None:
    wanted = set(sys.argv[1:])

    def want(name: str) -> bool:
        return not wanted or name in wanted

    bpf4 = f"tcp port {HTTP_PORT} or udp port {UDP_PORT}"
    if want("lo_en10mb.pcap"):
        record("lo_en10mb.pcap", "lo", f"tcp port {HTTP_PORT}", http_get_v4)
    if want("any_sll2.pcap"):
        record("any_sll2.pcap", "any", bpf4, http_get_v4_and_udp)
    if want("lo_ipv6_nano.pcap"):
        record(
            "lo_ipv6_nano.pcap",
            "lo",
            f"tcp port {V6_PORT}",
            http_get_v6,
            "--time-stamp-precision=nano",
        )
    if want("multi.pcapng"):
        build_pcapng()
    if want("http_leaks.pcap"):
        record("http_leaks.pcap", "lo", f"tcp port {LEAK_PORT}", http_leaks)
    if want("http_auth.pcap"):
        record("http_auth.pcap", "lo", f"tcp port {AUTH_PORT}", http_auth)
    if want("ftp_login.pcap"):
        record("ftp_login.pcap", "lo", f"tcp port {FTP_PORT}", ftp_logins)
    if want("smtp_auth.pcap"):
        record("smtp_auth.pcap", "lo", f"tcp port {SMTP_PORT}", smtp_auth)
    if want("tls_versions.pcap"):
        record("tls_versions.pcap", "lo", f"tcp port {TLS_PORT}", tls_versions)
    if want("mysql_logins.pcap"):
        record("mysql_logins.pcap", "lo", f"tcp port {MYSQL_PORT}", mysql_logins)
    if want("ip_fragments.pcap"):
        record_fragments("ip_fragments.pcap")
    record_starttls([name for name in STARTTLS_CAPTURES if want(name)])
    if want("smtp_stripped.pcap"):
        record_stripped("smtp_stripped.pcap")


if __name__ == "__main__":
    main()
