"""The credentialed and guest SMB probes (smbprotocol) against real Samba, and hostile peers."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from probe.checks.smb_auth import _scrub, probe_credentials, probe_guest
from probe.model import ShareFacts, SmbAuthFacts
from tests.lab.samba import SAMBA_CONFIGS

TIMEOUT = 5.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _no_secret(facts: SmbAuthFacts, secret: str) -> None:
    assert secret not in repr(facts)


async def _login(server: Any, share: str | None = None, **kw: Any) -> SmbAuthFacts:
    args: dict[str, Any] = {"user": server.user, "password": server.password, "share": share}
    args.update(kw)
    return await probe_credentials(server.host, server.port, timeout=TIMEOUT, **args)


async def test_right_credentials_on_default(samba_servers: Any) -> None:
    server = samba_servers["default"]
    facts = await _login(server)
    assert facts.authenticated is True
    assert facts.auth_error is None
    assert facts.session_is_guest is False
    assert facts.session_encrypt_data is False
    assert facts.shares == {}  # no share asked, none reported


@pytest.mark.parametrize(
    ("share", "encrypt_data"),
    [("secret", True), ("data", False), ("public", False)],
)
async def test_share_encrypt_data(samba_servers: Any, share: str, encrypt_data: bool) -> None:
    server = samba_servers["default"]
    assert (share in server.expected["encrypted_shares"]) is encrypt_data
    facts = await _login(server, share)
    assert facts.authenticated is True
    assert set(facts.shares) == {share}  # the requested share and only that one
    assert facts.shares[share] == ShareFacts(encrypt_data=encrypt_data, accessible=True, error=None)
    # share encryption is per tree: the session itself stays unencrypted
    assert facts.session_encrypt_data is False


async def test_missing_share(samba_servers: Any) -> None:
    facts = await _login(samba_servers["default"], "no-such-share")
    assert facts.authenticated is True
    assert facts.shares == {
        "no-such-share": ShareFacts(
            encrypt_data=None, accessible=False, error="STATUS_BAD_NETWORK_NAME"
        )
    }


@pytest.mark.parametrize("name", list(SAMBA_CONFIGS))
async def test_session_encrypt_data_per_configuration(samba_servers: Any, name: str) -> None:
    server = samba_servers[name]
    facts = await _login(server, "data")
    assert facts.authenticated is True, facts.auth_error
    assert facts.session_is_guest is False
    # smbprotocol offers encryption without demanding it: ENCRYPT_DATA is the server's demand
    # (Samba's "required" and "desired")
    assert facts.session_encrypt_data is server.expected["encrypt_data"]
    data = facts.shares["data"]
    assert data.accessible is True
    # Samba flags every share ENCRYPT_DATA when it encrypts the whole session
    assert data.encrypt_data is server.expected["encrypt_data"]


async def test_encrypt_required_session(samba_servers: Any) -> None:
    facts = await _login(samba_servers["encrypt_required"], "data")
    assert facts.authenticated is True
    assert facts.session_encrypt_data is True
    assert facts.shares["data"].encrypt_data is True


async def test_wrong_password(samba_servers: Any) -> None:
    server = samba_servers["default"]
    wrong = "Wrong-" + server.password
    facts = await _login(server, "data", password=wrong)
    assert facts.authenticated is False
    assert facts.auth_error is not None and "LOGON_FAILURE" in facts.auth_error
    assert facts.session_encrypt_data is None
    assert facts.session_is_guest is None
    assert facts.shares["data"].accessible is False
    _no_secret(facts, wrong)
    _no_secret(facts, server.password)


async def test_unknown_user_becomes_guest(samba_servers: Any) -> None:
    """map to guest = Bad User: an unknown user's login is a guest session, which is not the
    credentials being accepted."""
    facts = await _login(samba_servers["default"], "public", user="no-such-user-7")
    assert facts.session_is_guest is True
    assert facts.authenticated is False
    assert facts.auth_error is not None and "guest" in facts.auth_error
    assert facts.shares["public"].accessible is False  # not tried on a guest session


async def test_password_never_logged(samba_servers: Any, caplog: pytest.LogCaptureFixture) -> None:
    server = samba_servers["default"]
    caplog.set_level(logging.DEBUG)
    await _login(server, "secret")
    await _login(server, "data", password=server.password + "-x")
    assert caplog.records  # smbprotocol did log at DEBUG
    assert server.password not in caplog.text


@pytest.mark.parametrize("name", list(SAMBA_CONFIGS))
async def test_guest_probe(samba_servers: Any, name: str) -> None:
    server = samba_servers[name]
    granted, evidence = await probe_guest(server.host, server.port, timeout=TIMEOUT)
    # Samba with map to guest = Bad User gives an unknown user a guest session, except when
    # every session must be encrypted: a guest session cannot be, so it is refused with
    # ACCESS_DENIED (the same as anonymous, tests/lab/samba.py)
    assert granted is server.expected["guest_session"], evidence
    if granted:
        assert "IS_GUEST" in evidence
    else:
        assert "STATUS_ACCESS_DENIED" in evidence


async def test_guest_refused_when_encryption_required(samba_servers: Any) -> None:
    server = samba_servers["encrypt_required"]
    granted, evidence = await probe_guest(server.host, server.port, timeout=TIMEOUT)
    assert granted is False
    assert "STATUS_ACCESS_DENIED" in evidence


async def test_refused_port() -> None:
    port = _free_port()
    granted, evidence = await probe_guest("127.0.0.1", port, timeout=2.0)
    assert granted is None
    assert "could not connect" in evidence and "Traceback" not in evidence
    facts = await probe_credentials(
        "127.0.0.1", port, user="u", password="pw-123456", share="data", timeout=2.0
    )
    assert facts.authenticated is None  # the login could not be tried
    assert facts.auth_error is not None and facts.auth_error.startswith("could not connect")
    assert "Traceback" not in facts.auth_error
    assert facts.shares["data"].accessible is False


async def test_error_text_is_scrubbed() -> None:
    """A password that happens to appear in an error text is blanked out of it."""
    facts = await probe_credentials(
        "127.0.0.1", _free_port(), user="u", password="refused", share=None, timeout=2.0
    )
    assert facts.auth_error is not None
    assert "refused" not in facts.auth_error and "***" in facts.auth_error


def test_scrub() -> None:
    assert _scrub("bad pw s3cret!", ("s3cret!",)) == "bad pw ***"
    assert _scrub("nothing", ("",)) == "nothing"


def _workers_for(port: int) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.endswith(f":{port}")]


async def test_silent_server(silent_server: Any) -> None:
    timeout = 1.5
    start = time.monotonic()
    granted, evidence = await probe_guest(silent_server.host, silent_server.port, timeout=timeout)
    assert time.monotonic() - start < timeout + 1
    assert granted is None and "no answer" in evidence

    start = time.monotonic()
    facts = await probe_credentials(
        silent_server.host,
        silent_server.port,
        user="u",
        password="pw",
        share="data",
        timeout=timeout,
    )
    assert time.monotonic() - start < timeout + 1
    assert facts.authenticated is None
    assert facts.auth_error is not None and "no answer" in facts.auth_error
    # the socket was closed at the deadline: smbprotocol's receiver threads end too
    deadline = time.monotonic() + 3
    while _workers_for(silent_server.port) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _workers_for(silent_server.port)


async def test_garbage_server_is_not_smb(garbage_server: Any) -> None:
    """smbprotocol would allocate the 1.4 GB that "SSH-" claims as a length: refused first."""
    granted, evidence = await probe_guest(garbage_server.host, garbage_server.port, timeout=2.0)
    assert granted is None
    assert evidence.startswith("not SMB")


def test_smbprotocol_imported_lazily() -> None:
    code = "import sys, probe.checks.smb_auth; print('smbprotocol' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
