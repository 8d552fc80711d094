"""Every openssl s_server configuration really accepts what its ``expected`` says."""

from __future__ import annotations

import time

import pytest

from tests.lab.certs import LabCerts
from tests.lab.clients import client_hello, hello_then_close, openssl_handshake, openssl_stdname
from tests.lab.servers import (
    PREF_ORDER_OPENSSL,
    S_SERVER_CONFIGS,
    LabError,
    LabServers,
    ServerProcess,
    free_port,
    require_binary,
    run_server,
)

NAMES = list(S_SERVER_CONFIGS)
TLS_LABELS = ("TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")
WITH_SUITES = [n for n in NAMES if "suites" in S_SERVER_CONFIGS[n].expected]


@pytest.mark.parametrize("name", NAMES)
def test_versions(lab_servers: LabServers, name: str) -> None:
    server = lab_servers[name]
    assert server.host == "127.0.0.1"
    expected = server.expected["versions"]
    assert not expected["SSLv2"] and not expected["SSLv3"]
    got = {v: openssl_handshake(server.host, server.port, version=v) for v in TLS_LABELS}
    for label, hs in got.items():
        assert hs.ok is expected[label], (name, label, hs.output[-800:])
        if hs.ok:
            assert hs.version == label


@pytest.mark.parametrize("name", WITH_SUITES)
def test_pinned_suites_are_exactly_accepted(lab_servers: LabServers, name: str) -> None:
    server = lab_servers[name]
    for version, suites in server.expected["suites"].items():
        if version == "TLSv1.3":
            for suite in suites:
                hs = openssl_handshake(
                    server.host, server.port, "-ciphersuites", suite, version=version
                )
                assert hs.ok and hs.cipher == suite, (name, suite)
            continue
        accepted = []
        offer = "ALL:COMPLEMENTOFALL"
        while True:  # let the server pick, remove its pick, repeat: its whole list, in order
            hs = openssl_handshake(server.host, server.port, version=version, cipher=offer)
            if not hs.ok:
                break
            assert hs.cipher is not None
            accepted.append(openssl_stdname(hs.cipher))
            offer += f":!{hs.cipher}"
        assert set(accepted) == set(suites), name
        if server.expected.get("server_preference", {}).get(version):
            assert tuple(accepted) == suites, name


@pytest.mark.parametrize("name", ["serverpref", "clientpref", "strict", "modern"])
def test_preference(lab_servers: LabServers, name: str) -> None:
    server = lab_servers[name]
    prefers_server = server.expected["server_preference"]["TLSv1.2"]
    if name in ("serverpref", "clientpref"):
        offer = ["AES128-SHA", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"]
    else:
        offer = ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"]
    hs = openssl_handshake(server.host, server.port, version="TLSv1.2", cipher=":".join(offer))
    assert hs.ok
    if prefers_server:
        assert openssl_stdname(hs.cipher or "") == server.expected["suites"]["TLSv1.2"][0]
    else:
        assert hs.cipher == offer[0]
    # TLS 1.3 follows the same switch when the version is enabled.
    if "TLSv1.3" in server.expected["server_preference"]:
        hs = openssl_handshake(
            server.host,
            server.port,
            "-ciphersuites",
            "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384",
            version="TLSv1.3",
        )
        want = "TLS_AES_256_GCM_SHA384" if prefers_server else "TLS_AES_128_GCM_SHA256"
        assert hs.cipher == want


def test_preferred_order_recorded(lab_servers: LabServers) -> None:
    server = lab_servers["serverpref"]
    order = server.expected["preferred_order"]["TLSv1.2"]
    assert order == server.expected["suites"]["TLSv1.2"]
    assert tuple(openssl_stdname(c) for c in PREF_ORDER_OPENSSL.split(":")) == order


def test_dhe1024_uses_a_1024_bit_group(lab_servers: LabServers) -> None:
    server = lab_servers["dhe1024"]
    hs = openssl_handshake(server.host, server.port, version="TLSv1.2")
    assert hs.ok and hs.cipher and hs.cipher.startswith("DHE-RSA-")
    assert hs.server_temp_key == "DH, 1024 bits"
    assert server.expected["dh_bits"] == 1024


@pytest.mark.parametrize("name", NAMES)
def test_forward_secrecy_flag(lab_servers: LabServers, name: str) -> None:
    """forward_secret_only False <=> some RSA-key-exchange suite is accepted."""
    server = lab_servers[name]
    expected = server.expected["forward_secret_only"]
    old = [v for v in TLS_LABELS[:3] if server.expected["versions"][v]]
    rsa_kx = any(
        openssl_handshake(server.host, server.port, version=v, cipher="kRSA").ok for v in old
    )
    assert rsa_kx is (not expected), name


@pytest.mark.parametrize("name", NAMES)
def test_certificate_facts(lab_servers: LabServers, lab_certs: LabCerts, name: str) -> None:
    server = lab_servers[name]
    exp = server.expected
    hs = openssl_handshake(
        server.host,
        server.port,
        "-verify_hostname",
        "localhost",
        servername="localhost",
        ca_file=str(lab_certs.ca_cert),
    )
    expect_ok = exp["trusted_with_lab_ca"] and exp["name_matches"] and not exp["expired"]
    assert hs.ok is expect_ok, (name, hs.output[-600:])
    if exp["expired"]:
        assert "certificate has expired" in hs.output
    if not exp["name_matches"]:
        assert "hostname mismatch" in hs.output
    if exp["self_signed"]:
        assert "self-signed certificate" in hs.output or "self signed" in hs.output
    kind = "rsaEncryption" if exp["key_type"] == "RSA" else "id-ecPublicKey"
    assert f"PKEY: {kind}, {exp['key_bits']} (bit)" in hs.output


def test_survives_hundreds_of_hello_then_close(lab_servers: LabServers) -> None:
    """Scanners close right after the ServerHello; s_server must keep serving."""
    server = lab_servers["modern"]
    hello = client_hello()
    started = time.monotonic()
    for _ in range(300):
        answer = hello_then_close(server.host, server.port, hello)
        assert answer[:1] == b"\x16", answer[:16]  # a handshake record: the ServerHello
    assert time.monotonic() - started < 60
    assert openssl_handshake(server.host, server.port, version="TLSv1.3").ok


def test_survives_connect_and_close_without_hello(lab_servers: LabServers) -> None:
    import socket

    server = lab_servers["clientpref"]
    for _ in range(50):
        socket.create_connection((server.host, server.port), timeout=5).close()
    assert openssl_handshake(server.host, server.port, version="TLSv1.2").ok


def test_a_server_that_dies_raises_with_its_output(tmp_path) -> None:  # type: ignore[no-untyped-def]
    openssl = require_binary("openssl")
    with (
        pytest.raises(LabError, match=r"No such file|Could not|unable|error") as caught,
        run_server(
            lambda ports: [
                openssl,
                "s_server",
                "-accept",
                f"127.0.0.1:{ports[0]}",
                "-cert",
                str(tmp_path / "missing.pem"),
            ],
            ports=1,
            log=tmp_path / "log",
        ),
    ):
        pass
    assert "exited" in str(caught.value)


def test_missing_binary_is_an_error_not_a_skip() -> None:
    with pytest.raises(LabError, match="install-test-deps"):
        require_binary("probe-no-such-binary")


def test_free_port_is_bindable() -> None:
    import socket

    port = free_port()
    assert 0 < port < 65536
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_stop_kills_the_process_group(tmp_path) -> None:  # type: ignore[no-untyped-def]
    proc = ServerProcess(["sh", "-c", "sleep 300 & sleep 300"], tmp_path / "log")
    assert proc.alive()
    proc.stop()
    assert not proc.alive()


@pytest.mark.parametrize("name", NAMES)
def test_anonymous_suites_flag(lab_servers: LabServers, name: str) -> None:
    server = lab_servers[name]
    old = [v for v in TLS_LABELS[:3] if server.expected["versions"][v]]
    anonymous = any(
        openssl_handshake(server.host, server.port, version=v, cipher="aNULL").ok for v in old
    )
    assert anonymous is server.expected["anonymous_suites"], name
