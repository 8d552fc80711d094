"""gnutls-serv and nginx answer real handshakes on loopback."""

from __future__ import annotations

import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor

from tests.lab.certs import LabCerts
from tests.lab.clients import (
    client_hello,
    hello_then_close,
    openssl_handshake,
    openssl_stdname,
    python_handshake,
)
from tests.lab.servers import LabServer, NginxFactory, require_binary

TLS_LABELS = ("TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")


def _listening_addresses(port: int) -> set[str]:
    out = subprocess.run(
        ["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout
    return {line.split()[3].rsplit(":", 1)[0] for line in out.splitlines() if line.strip()}


def test_gnutls_versions(gnutls_server: LabServer) -> None:
    assert gnutls_server.host == "127.0.0.1"
    for label in TLS_LABELS:
        hs = openssl_handshake(gnutls_server.host, gnutls_server.port, version=label)
        assert hs.ok is gnutls_server.expected["versions"][label], (label, hs.output[-500:])


def test_gnutls_is_a_different_implementation_with_the_lab_cert(
    gnutls_server: LabServer, lab_certs: LabCerts
) -> None:
    hs = python_handshake(gnutls_server.host, gnutls_server.port, ca_file=str(lab_certs.ca_cert))
    assert hs.ok and hs.version == "TLSv1.3", hs.output
    cli = subprocess.run(
        [
            require_binary("gnutls-cli"),
            "--x509cafile",
            str(lab_certs.ca_cert),
            "--port",
            str(gnutls_server.port),
            "--verify-hostname",
            "localhost",
            "127.0.0.1",
        ],
        input=b"GET / HTTP/1.0\r\n\r\n",
        capture_output=True,
        timeout=15,
        check=False,
    )
    out = cli.stdout.decode(errors="replace")
    assert "Handshake was completed" in out, out + cli.stderr.decode(errors="replace")
    assert "GnuTLS" in out  # gnutls-serv's HTTP status page


def test_gnutls_survives_many_hello_then_close(gnutls_server: LabServer) -> None:
    hello = client_hello()
    for _ in range(100):
        assert hello_then_close(gnutls_server.host, gnutls_server.port, hello)[:1] == b"\x16"
    assert python_handshake(gnutls_server.host, gnutls_server.port).ok


def test_gnutls_relay_listens_on_loopback_only(gnutls_server: LabServer) -> None:
    assert _listening_addresses(gnutls_server.port) == {"127.0.0.1"}
    # gnutls-serv itself lives in a private network namespace: nothing of it on 4433 here.
    assert "0.0.0.0" not in _listening_addresses(4433)


def test_nginx_several_ports(nginx_factory: NginxFactory) -> None:
    server = nginx_factory(ports_count=3)
    assert len(set(server.ports)) == 3
    for host, port in server.addresses:
        assert _listening_addresses(port) == {"127.0.0.1"}
        for label in TLS_LABELS:
            hs = openssl_handshake(host, port, version=label)
            assert hs.ok is server.expected["versions"][label], (port, label)


def test_nginx_protocols_ciphers_and_server_preference(nginx_factory: NginxFactory) -> None:
    server = nginx_factory(
        protocols="TLSv1 TLSv1.1 TLSv1.2",
        ciphers="ECDHE-RSA-AES256-GCM-SHA384:AES128-SHA:@SECLEVEL=0",
    )
    host, port = server.addresses[0]
    assert server.expected["versions"]["TLSv1.0"] and not server.expected["versions"]["TLSv1.3"]
    for label in TLS_LABELS:
        assert openssl_handshake(host, port, version=label).ok is server.expected["versions"][label]
    hs = openssl_handshake(
        host, port, version="TLSv1.2", cipher="AES128-SHA:ECDHE-RSA-AES256-GCM-SHA384"
    )
    assert hs.cipher == "ECDHE-RSA-AES256-GCM-SHA384"  # ssl_prefer_server_ciphers on
    hs = openssl_handshake(host, port, version="TLSv1.0", cipher="AES128-SHA")
    assert hs.ok and openssl_stdname(hs.cipher or "") == "TLS_RSA_WITH_AES_128_CBC_SHA"
    assert not openssl_handshake(host, port, version="TLSv1.2", cipher="AES256-SHA").ok


def test_nginx_dhe_with_dhparam(nginx_factory: NginxFactory, lab_certs: LabCerts) -> None:
    server = nginx_factory(
        protocols="TLSv1.2",
        ciphers="DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0",
        dhparam=lab_certs.dh1024,
    )
    hs = openssl_handshake(*server.addresses[0], version="TLSv1.2")
    assert hs.ok and hs.server_temp_key == "DH, 1024 bits"


def test_nginx_hundred_ports(nginx_factory: NginxFactory) -> None:
    server = nginx_factory(ports_count=100)
    assert len(set(server.ports)) == 100

    def handshake(address: tuple[str, int]) -> bool:
        return python_handshake(*address).ok

    with ThreadPoolExecutor(16) as pool:
        assert all(pool.map(handshake, server.addresses))


def test_nginx_survives_many_hello_then_close(nginx_factory: NginxFactory) -> None:
    server = nginx_factory(ports_count=3)
    hello = client_hello()
    for i in range(300):
        host, port = server.addresses[i % 3]
        assert hello_then_close(host, port, hello)[:1] == b"\x16"
    sock = socket.create_connection(server.addresses[0], timeout=5)
    sock.close()
    assert python_handshake(*server.addresses[0]).ok
