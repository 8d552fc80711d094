"""The STARTTLS lab servers are what they claim, checked with independent clients.

``openssl s_client -starttls PROTO`` completes a verified handshake (lab CA, name localhost)
on every STARTTLS variant and fails on every ``-plain`` one; a few lines of raw protocol per
server show that the upgrade is advertised exactly when ``expected["starttls"]`` says so.
"""

from __future__ import annotations

import socket
import subprocess
import time

import pytest

from tests.lab.servers import LabServer, require_binary
from tests.lab.starttls import STARTTLS_CONFIGS, StartTlsServers

NAMES = list(STARTTLS_CONFIGS)
# s_client waits forever on a plain FTP or XMPP server (it sends its ClientHello after the
# refused AUTH TLS / reads features until it sees <starttls>): a timeout means "no handshake".
S_CLIENT_TIMEOUT = 4.0


def s_client(server: LabServer, ca_file: str) -> str:
    argv = [
        require_binary("openssl"), "s_client", "-starttls", server.expected["protocol"],
        "-connect", server.address, "-brief", "-CAfile", ca_file,
        "-verify_hostname", "localhost", "-verify_return_error",
    ]  # fmt: skip
    if server.expected["protocol"] == "xmpp":
        argv += ["-xmpphost", "localhost"]
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=S_CLIENT_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        return f"[timed out]\n{err}"
    return done.stderr + done.stdout


@pytest.mark.parametrize("name", NAMES)
def test_s_client_handshake(starttls_servers: StartTlsServers, lab_ca_file: str, name: str) -> None:
    server = starttls_servers[name]
    assert server.host == "127.0.0.1"
    assert server.expected["protocol"] == STARTTLS_CONFIGS[name].protocol
    out = s_client(server, lab_ca_file)
    if server.expected["starttls"]:
        assert server.expected["cert"] == "rsa2048"
        assert "CONNECTION ESTABLISHED" in out, out
        assert "Protocol version: TLSv1.3" in out, out
        assert "Peer certificate: O = probe test lab, CN = localhost" in out, out
        assert "Verification: OK" in out, out
    else:
        assert server.expected["cert"] is None
        assert "CONNECTION ESTABLISHED" not in out, out
        assert "Protocol version" not in out, out


def _exchange(server: LabServer, sends: list[bytes], *, quiet: float = 0.3) -> bytes:
    """Everything the server says: its greeting, then after each of ``sends``, reading until
    it has been quiet for ``quiet`` seconds."""
    received = b""
    with socket.create_connection((server.host, server.port), timeout=5) as sock:

        def drain() -> None:
            nonlocal received
            sock.settimeout(quiet)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    chunk = sock.recv(4096)
                except TimeoutError:
                    if received:
                        return
                    continue
                if not chunk:
                    return
                received += chunk

        if server.expected["protocol"] not in {"xmpp", "ldap", "postgres"}:
            drain()  # these speak first
        for data in sends:
            sock.sendall(data)
            drain()
    return received


XMPP_OPEN = (
    b"<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' "
    b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
)
# LDAPMessage(messageID 1, ExtendedRequest(requestName 1.3.6.1.4.1.1466.20037))
LDAP_STARTTLS = bytes.fromhex("301d02010177188016312e332e362e312e342e312e313436362e3230303337")
POSTGRES_SSLREQUEST = bytes.fromhex("0000000804d2162f")
MYSQL_CLIENT_SSL = 0x0800


def offers_starttls(server: LabServer) -> bool:
    """Whether the server advertises (or, for LDAP/PostgreSQL, accepts) the TLS upgrade,
    read from the raw protocol."""
    protocol = server.expected["protocol"]
    if protocol == "smtp":
        lines = _exchange(server, [b"EHLO probe.test\r\n"]).decode().splitlines()
        return any(line[4:].upper() == "STARTTLS" for line in lines if line.startswith("250"))
    if protocol == "imap":
        out = _exchange(server, [b"a CAPABILITY\r\n"]).decode()
        caps = next(line for line in out.splitlines() if line.startswith("* CAPABILITY"))
        return "STARTTLS" in caps.split()
    if protocol == "pop3":
        lines = _exchange(server, [b"CAPA\r\n"]).decode().splitlines()
        return "STLS" in lines
    if protocol == "ftp":
        out = _exchange(server, [b"AUTH TLS\r\n"]).decode()
        return out.splitlines()[-1].startswith("234")
    if protocol == "xmpp":
        return b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'" in _exchange(
            server, [XMPP_OPEN]
        )
    if protocol == "ldap":
        # ExtendedResponse: 30 len 02 01 01 78 len 0a 01 <resultCode>
        answer = _exchange(server, [LDAP_STARTTLS])
        assert answer[5] == 0x78 and answer[7:9] == b"\x0a\x01", answer.hex()
        return answer[9] == 0  # success; slapd without TLS answers protocolError (2)
    if protocol == "postgres":
        return _exchange(server, [POSTGRES_SSLREQUEST])[:1] == b"S"
    if protocol == "mysql":
        packet = _exchange(server, [])[4:]  # the initial handshake (protocol 10)
        assert packet[0] == 10, packet.hex()
        after_version = packet.index(b"\0", 1) + 1
        flags = int.from_bytes(packet[after_version + 13 : after_version + 15], "little")
        return bool(flags & MYSQL_CLIENT_SSL)
    raise AssertionError(protocol)


@pytest.mark.parametrize("name", NAMES)
def test_upgrade_advertised(starttls_servers: StartTlsServers, name: str) -> None:
    server = starttls_servers[name]
    assert offers_starttls(server) is server.expected["starttls"]


def test_unknown_name(starttls_servers: StartTlsServers) -> None:
    assert "smtp" in starttls_servers and "nntp" not in starttls_servers
    with pytest.raises(KeyError):
        starttls_servers["nntp"]


def test_details_the_lab_docstring_states(starttls_servers: StartTlsServers) -> None:
    """The exact answers tests/lab/starttls.py documents for the scanner's parsers."""
    imap = _exchange(starttls_servers["imap"], []).decode()
    assert imap.startswith("* OK [CAPABILITY IMAP4rev1 ") and " STARTTLS " in imap, imap
    plain_imap = _exchange(starttls_servers["imap-plain"], []).decode()
    assert plain_imap.startswith("* OK [CAPABILITY ") and "STARTTLS" not in plain_imap
    stls = _exchange(starttls_servers["pop3-plain"], [b"STLS\r\n"]).decode()
    assert stls.splitlines()[-1] == "-ERR TLS support isn't enabled.", stls
    auth = _exchange(starttls_servers["ftp-plain"], [b"AUTH TLS\r\n"]).decode()
    assert auth.splitlines()[-1] == '500 Command "AUTH" not understood.', auth
    ldap = _exchange(starttls_servers["ldap-plain"], [LDAP_STARTTLS])
    assert ldap[9] == 2 and b"unsupported extended operation" in ldap, ldap.hex()
    # resultCode, empty matchedDN, diagnosticMessage and nothing after: no responseName [10]
    assert ldap[10:12] == b"\x04\x00" and ldap[6] == 3 + 2 + 2 + ldap[13], ldap.hex()
    for name, flags in (("mysql", 0x81FFFFFE), ("mysql-plain", 0x81FFF7FE)):
        packet = _exchange(starttls_servers[name], [])[4:]
        version_end = packet.index(b"\0", 1)
        assert packet[1:version_end].startswith(b"5.5.5-10.11."), packet
        low = packet[version_end + 14 : version_end + 16]
        high = packet[version_end + 19 : version_end + 21]
        assert int.from_bytes(low + high, "little") == flags, packet.hex()
