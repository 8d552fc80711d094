"""The sstpd lab servers start, answer, and really have the facts recorded in ``expected``.

The client is a small blocking one written here on top of probe's SSTP codec, so these tests
are also the codec's test against a real server: duplex POST -> HTTP 200 -> Call Connect
Request -> Call Connect Ack -> the server's LCP Configure-Request -> Call Disconnect. The TLS
versions are checked with ``openssl s_client``; the PPP side is tests/lab/fake_pppd.py.
"""

from __future__ import annotations

import ast
import re
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import pytest

from probe.codecs.sstp import (
    CONTENT_LENGTH_ULONGLONG_MAX,
    MSG_CALL_CONNECT_ACK,
    MSG_CALL_DISCONNECT_ACK,
    SSTP_URI,
    HttpAnswer,
    LcpConfigureRequest,
    SstpPacket,
    SstpReader,
    build_call_connect_request,
    build_call_disconnect,
    build_duplex_post,
    is_sstp_accept,
    parse_call_connect_ack,
    parse_http_head,
    parse_ppp_lcp,
)
from tests.lab.certs import LabCerts
from tests.lab.clients import openssl_handshake
from tests.lab.sstp import (
    AUTH_BY_OPTION,
    FAKE_PPPD,
    PPP_LOCAL,
    SSTP_CONFIGS,
    SstpLabServer,
    SstpServer,
    SstpServers,
)

CONFIGS = list(SSTP_CONFIGS)
TLS_CONFIGS = [n for n in CONFIGS if SSTP_CONFIGS[n].tls]
TIMEOUT = 10.0
FAKE_PPPD_LINE = re.compile(r"fake_pppd: pid=(\d+) argv=(\[.*?\]) auth=")


class Client:
    """One blocking SSTP client connection (TLS when the configuration has it, or when told)."""

    def __init__(self, server: SstpLabServer, *, tls: bool | None = None) -> None:
        self.server = server
        use_tls = server.expected["over_tls"] if tls is None else tls
        raw = socket.create_connection((server.host, server.port), timeout=TIMEOUT)
        if use_tls:
            context = ssl.create_default_context(cafile=str(server.ca_file))
            self.sock: socket.socket = context.wrap_socket(raw, server_hostname=server.server_name)
        else:
            self.sock = raw
        self.reader = SstpReader()
        self.pending: list[SstpPacket] = []

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def post(self, request: bytes | None = None) -> HttpAnswer:
        """Send the SSTP_DUPLEX_POST (or ``request``) and read the HTTP answer's head."""
        self.send(request or build_duplex_post(self.server.server_name, str(uuid.uuid4())))
        data = b""
        while True:
            parsed = parse_http_head(data)
            if parsed is not None:
                answer, used = parsed
                self.pending += self.reader.feed(data[used:])
                return answer
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError(f"server closed before the end of the HTTP head: {data!r}")
            data += chunk

    def packet(self) -> SstpPacket:
        while not self.pending:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError("server closed the SSTP stream")
            self.pending += self.reader.feed(chunk)
        return self.pending.pop(0)

    def first_lcp(self) -> LcpConfigureRequest:
        while True:
            packet = self.packet()
            if not packet.control:
                lcp = parse_ppp_lcp(packet.data)
                if lcp is not None:
                    return lcp

    def closed_by_server(self) -> bool:
        """True when the server closes the connection (EOF) with nothing more to say."""
        return self.sock.recv(4096) == b"" and not self.pending


def _fake_pppd_runs(server: SstpLabServer) -> list[tuple[int, list[str]]]:
    assert server.log is not None
    text = server.log.read_text(errors="replace")
    return [(int(m[1]), ast.literal_eval(m[2])) for m in FAKE_PPPD_LINE.finditer(text)]


def _wait_for(predicate: Callable[[], object], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_configs_are_consistent() -> None:
    for name, config in SSTP_CONFIGS.items():
        asked = [AUTH_BY_OPTION[o] for o in config.pppd_options if o in AUTH_BY_OPTION]
        assert config.expected["auth_protocol"] == (asked[-1] if asked else None), name
        assert config.expected["over_tls"] is config.tls is not config.expected["plain_http"]


@pytest.mark.parametrize("name", CONFIGS)
def test_sstp_call(sstp_servers: SstpServers, name: str) -> None:
    server = sstp_servers[name]
    expected = server.expected
    assert server.host == "127.0.0.1"
    with Client(server) as client:
        answer = client.post()
        assert answer.status == expected["http_status"]
        assert answer.version == "HTTP/1.1"
        assert answer.content_length == expected["content_length"] == CONTENT_LENGTH_ULONGLONG_MAX
        assert answer.server == expected["server"]
        assert is_sstp_accept(answer)

        client.send(build_call_connect_request())
        packet = client.packet()
        assert packet.control and packet.message_type == MSG_CALL_CONNECT_ACK
        assert packet.length == 48  # [MS-SSTP] 2.2.10
        ack = parse_call_connect_ack(packet)
        assert list(ack.hash_protocols) == expected["hash_protocols"]
        assert ack.bitmask == expected["hash_bitmask"]
        assert len(ack.nonce) == 32

        lcp = client.first_lcp()
        assert lcp.auth_protocol == expected["auth_protocol"]

        client.send(build_call_disconnect())
        reply = client.packet()
        assert expected["disconnect_ack"]
        assert reply.control and reply.message_type == MSG_CALL_DISCONNECT_ACK
        assert client.closed_by_server()

    # sstpd ran the (fake) pppd the way fake_pppd.py's docstring says
    assert server.pppd_options is not None
    _wait_for(lambda: _fake_pppd_runs(server))
    _, argv = _fake_pppd_runs(server)[-1]
    assert argv[:5] == ["notty", "file", str(server.pppd_options), "115200", f"{PPP_LOCAL}:"]
    assert argv[5:] == ["remotenumber", "127.0.0.1"]


@pytest.mark.parametrize("name", CONFIGS)
def test_each_call_gets_a_fresh_nonce(sstp_servers: SstpServers, name: str) -> None:
    server = sstp_servers[name]
    nonces = []
    for _ in range(2):
        with Client(server) as client:
            assert is_sstp_accept(client.post())
            client.send(build_call_connect_request())
            nonces.append(parse_call_connect_ack(client.packet()).nonce)
    assert nonces[0] != nonces[1]


@pytest.mark.parametrize("name", CONFIGS)
def test_any_uri(sstp_servers: SstpServers, name: str) -> None:
    server = sstp_servers[name]
    request = build_duplex_post(server.server_name, str(uuid.uuid4()))
    request = request.replace(SSTP_URI.encode(), b"/not-the-sstp-uri/")
    with Client(server) as client:
        assert is_sstp_accept(client.post(request)) is server.expected["any_uri"]


@pytest.mark.parametrize("name", CONFIGS)
def test_unknown_protocol_gets_no_nak(sstp_servers: SstpServers, name: str) -> None:
    """sstpd 0.6.0 stays silent on a Call Connect Request for another protocol (it builds a
    NAK and never sends it) and still acknowledges a correct request afterwards."""
    server = sstp_servers[name]
    assert server.expected["nak_for_unknown_protocol"] is False
    with Client(server) as client:
        assert is_sstp_accept(client.post())
        client.send(build_call_connect_request(protocol_id=0x0002))
        client.sock.settimeout(1.0)
        with pytest.raises(TimeoutError):
            client.packet()
        client.sock.settimeout(TIMEOUT)
        client.send(build_call_connect_request())
        assert parse_call_connect_ack(client.packet()).bitmask == server.expected["hash_bitmask"]


@pytest.mark.parametrize("name", TLS_CONFIGS)
def test_tls_listener_does_not_answer_plain_sstp(sstp_servers: SstpServers, name: str) -> None:
    server = sstp_servers[name]
    with socket.create_connection((server.host, server.port), timeout=TIMEOUT) as sock:
        sock.sendall(build_duplex_post(server.server_name, str(uuid.uuid4())))
        received = b""
        try:
            while chunk := sock.recv(4096):
                received += chunk
        except ConnectionResetError:
            pass
    assert received == b""  # closed without a byte: no HTTP answer, no TLS alert


@pytest.mark.parametrize("name", TLS_CONFIGS)
def test_tls_versions(sstp_servers: SstpServers, name: str) -> None:
    server = sstp_servers[name]
    expected = server.expected["versions"]
    assert not expected["SSLv2"] and not expected["SSLv3"]
    for label in ("TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"):
        handshake = openssl_handshake(
            server.host,
            server.port,
            version=label,
            servername=server.server_name,
            ca_file=str(server.ca_file),
        )
        assert handshake.ok is expected[label], (label, handshake.output[-600:])


def test_plain_listener_stays_silent_on_a_tls_hello(sstp_servers: SstpServers) -> None:
    server = sstp_servers["plain"]
    assert server.expected["versions"] is None
    assert server.expected["plain_http"] and not server.expected["over_tls"]
    assert server.expected["silent_on_tls_hello"]
    context = ssl.create_default_context(cafile=str(server.ca_file))
    with (
        socket.create_connection((server.host, server.port), timeout=2.0) as raw,
        pytest.raises(TimeoutError),
    ):
        context.wrap_socket(raw, server_hostname=server.server_name)


def test_unknown_config_is_refused(sstp_servers: SstpServers) -> None:
    with pytest.raises(KeyError):
        sstp_servers["no-such-config"]


def test_close_stops_sstpd_and_fake_pppd(lab_certs: LabCerts, tmp_path: Path) -> None:
    """Leaving the context stops sstpd and the fake pppd of a call still in progress."""
    with SstpServer("plain", lab_certs, tmp_path) as server:
        client = Client(server)
        assert is_sstp_accept(client.post())
        client.send(build_call_connect_request())
        parse_call_connect_ack(client.packet())
        assert client.first_lcp().auth_protocol == "MS-CHAPv2"
        _wait_for(lambda: _fake_pppd_runs(server))
        pid, _ = _fake_pppd_runs(server)[-1]
        assert Path(f"/proc/{pid}").exists()
    try:
        with pytest.raises(OSError):
            socket.create_connection((server.host, server.port), timeout=2.0).close()
        _wait_for(lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid), timeout=5.0)
    finally:
        client.sock.close()


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_fake_pppd_refuses_the_plugin_probe() -> None:
    """sstpd's start-up probe (``pppd plugin sstp-pppd-plugin.so notty dryrun``) must fail,
    so sstpd does not wait for crypto-binding keys that the fake pppd never sends."""
    result = subprocess.run(
        [sys.executable, str(FAKE_PPPD), "plugin", "sstp-pppd-plugin.so", "notty", "dryrun"],
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode != 0
    assert result.stdout == b""
