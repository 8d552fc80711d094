"""The Samba lab servers start, answer, and really have the facts recorded in ``expected``.

Three oracles, none of them probe's own code: smbclient (Samba's client), nmap's SMB scripts,
and a minimal hand-made SMB2 NEGOTIATE below (it reads only the few fields it needs).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import struct
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.lab import samba as samba_lab
from tests.lab.samba import (
    SAMBA_CONFIGS,
    SAMBA_PROTOCOL_NAMES,
    SMB2_DIALECTS,
    SMB3_CIPHERS,
    SambaLabServer,
    SambaServer,
    SambaServers,
    nmap_smb_facts,
)
from tests.lab.servers import LabError, require_binary

CONFIGS = list(SAMBA_CONFIGS)

# ---------------------------------------------------------------------------------------------
# A minimal SMB2 NEGOTIATE (MS-SMB2 2.2.3 / 2.2.4), for facts no client tool prints.

DIALECT_IDS = {"2.0.2": 0x0202, "2.1": 0x0210, "3.0": 0x0300, "3.0.2": 0x0302, "3.1.1": 0x0311}
DIALECT_NAMES = {v: k for k, v in DIALECT_IDS.items()}
CIPHER_IDS = {"AES-128-CCM": 1, "AES-128-GCM": 2, "AES-256-CCM": 3, "AES-256-GCM": 4}
CIPHER_NAMES = {v: k for k, v in CIPHER_IDS.items()}
CAP_ENCRYPTION = 0x40
STATUS_INVALID_PARAMETER = 0xC000000D
STATUS_NOT_SUPPORTED = 0xC00000BB


def _recv_exact(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise EOFError(f"closed after {len(data)} of {count} bytes")
        data += chunk
    return data


def negotiate(
    server: SambaLabServer,
    dialects: list[str],
    *,
    caps: int = 0,
    ciphers: list[str] | None = None,
) -> dict[str, Any]:
    """Send one NEGOTIATE; return the status and, on success, the fields the tests read."""
    ids = [DIALECT_IDS[d] for d in dialects]
    header = b"\xfeSMB" + struct.pack(
        "<HHIHHIIQIIQ16s", 64, 0, 0, 0, 1, 0, 0, 0, 0xFEFF, 0, 0, bytes(16)
    )
    contexts: list[bytes] = []
    if 0x0311 in ids:
        preauth = struct.pack("<HHH", 1, 32, 1) + os.urandom(32)  # SHA-512, 32-byte salt
        contexts.append(struct.pack("<HHI", 1, len(preauth), 0) + preauth)
        if ciphers is not None:
            data = struct.pack("<H", len(ciphers)) + b"".join(
                struct.pack("<H", CIPHER_IDS[c]) for c in ciphers
            )
            contexts.append(struct.pack("<HHI", 2, len(data), 0) + data)
    fixed_len = 36 + 2 * len(ids)
    context_offset = 0
    tail = b""
    if contexts:
        pad = (-(64 + fixed_len)) % 8
        context_offset = 64 + fixed_len + pad
        tail = bytes(pad) + b"".join(
            c + bytes((-len(c)) % 8) if i + 1 < len(contexts) else c for i, c in enumerate(contexts)
        )
    body = struct.pack(
        "<HHHHI16sIHH", 36, len(ids), 1, 0, caps, os.urandom(16), context_offset, len(contexts), 0
    )
    body += b"".join(struct.pack("<H", d) for d in ids) + tail
    message = header + body
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(struct.pack(">I", len(message)) + message)
        length = struct.unpack(">I", _recv_exact(sock, 4))[0] & 0xFFFFFF
        reply = _recv_exact(sock, length)
    assert reply[:4] == b"\xfeSMB", reply[:8]
    result: dict[str, Any] = {"status": struct.unpack_from("<I", reply, 8)[0]}
    if result["status"] != 0:
        return result
    security_mode, dialect, context_count = struct.unpack_from("<HHH", reply, 66)
    result.update(
        security_mode=security_mode,
        dialect=DIALECT_NAMES[dialect],
        capabilities=struct.unpack_from("<I", reply, 88)[0],
        contexts={},
    )
    offset = struct.unpack_from("<I", reply, 124)[0]
    for _ in range(context_count if dialect == 0x0311 else 0):
        ctype, clen = struct.unpack_from("<HH", reply, offset)
        result["contexts"][ctype] = reply[offset + 8 : offset + 8 + clen]
        offset += 8 + clen
        offset += (-offset) % 8
    return result


def chosen_cipher(answer: dict[str, Any]) -> str | None:
    """The cipher in the answer's ENCRYPTION context: a name, "none" (id 0), or None (absent)."""
    data = answer["contexts"].get(2)
    if data is None:
        return None
    count, cipher = struct.unpack_from("<HH", data, 0)
    assert count == 1
    return CIPHER_NAMES.get(cipher, "none")


# ---------------------------------------------------------------------------------------------
# smbclient


def smbclient(
    server: SambaLabServer,
    target: str,
    *options: str,
    user: str | None = "probe",
    debug: int = 4,
    command: str = "ls",
) -> str:
    """Run smbclient against ``//host/target`` (or ``-L`` when target is "-L"); its output.

    ``user``: "probe" logs in with the lab account, None is anonymous (-N), anything else is
    used as is (``name%password``).
    """
    argv = [require_binary("smbclient"), "-p", str(server.port), "-d", str(debug)]
    argv += ["-L", server.host] if target == "-L" else [f"//{server.host}/{target}", "-c", command]
    if user is None:
        argv.append("-N")
    elif user == "probe":
        argv += ["-U", f"{server.user}%{server.password}"]
    else:
        argv += ["-U", user]
    argv += options
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL
    )
    return result.stdout + result.stderr


def pinned(protocol: str) -> tuple[str, str]:
    return (f"--option=client min protocol={protocol}", f"--option=client max protocol={protocol}")


def negotiated(output: str) -> str | None:
    match = re.search(r"negotiated dialect\[(\w+)\]", output)
    return match.group(1) if match else None


def listed(output: str) -> bool:
    """An ``ls`` in a share printed its directory (hello.txt is in every share)."""
    return "hello.txt" in output


def parallel(calls: list[Any]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda call: call(), calls))


# ---------------------------------------------------------------------------------------------
# Start-up, listeners, accounts


@pytest.mark.parametrize("name", CONFIGS)
def test_config_starts_and_answers(samba_servers: SambaServers, name: str) -> None:
    server = samba_servers[name]
    assert server.host == "127.0.0.1" and server.name == name
    answer = negotiate(server, list(SMB2_DIALECTS), ciphers=list(SMB3_CIPHERS))
    assert answer["status"] == 0, answer
    assert answer["dialect"] == server.expected["preferred_dialect"]
    out = subprocess.run(
        ["ss", "-Hltn", f"sport = :{server.port}"], capture_output=True, text=True, check=True
    ).stdout
    assert [line.split()[3] for line in out.splitlines()] == [f"127.0.0.1:{server.port}"]
    assert server.conf is not None and f"smb ports = {server.port}" in server.conf.read_text()
    for path in server.shares.values():
        assert (path / "hello.txt").is_file()


def test_config_names_and_expected_keys() -> None:
    keys = {
        "smb1",
        "dialects",
        "preferred_dialect",
        "ciphers",
        "signing_required",
        "encryption_required",
    }
    for config in SAMBA_CONFIGS.values():
        assert keys <= set(config.expected), config.name
        assert set(config.expected["dialects"]) <= set(SMB2_DIALECTS)
        assert set(config.expected["ciphers"]) <= set(SMB3_CIPHERS)
    assert {
        "default",
        "smb1_on",
        "max_smb2_10",
        "encrypt_required",
        "encrypt_desired",
        "encrypt_off",
        "signing_mandatory",
        "one_cipher",
    } <= set(SAMBA_CONFIGS)


def test_lab_account_logs_in_and_wrong_password_is_refused(samba_servers: SambaServers) -> None:
    server = samba_servers["default"]
    good = smbclient(server, "data", "-m", "SMB3_11")
    assert listed(good), good[-2000:]
    bad = smbclient(server, "data", user=f"{server.user}%wrong-password")
    assert "NT_STATUS_LOGON_FAILURE" in bad, bad[-2000:]
    # the write goes to the share's directory on disk
    put = smbclient(server, "data", command="mkdir made-by-test")
    assert (server.shares["data"] / "made-by-test").is_dir(), put[-2000:]


# ---------------------------------------------------------------------------------------------
# smbclient: dialects, SMB1, ciphers, encryption


@pytest.mark.parametrize("name", CONFIGS)
def test_smbclient_dialects(samba_servers: SambaServers, name: str) -> None:
    server = samba_servers[name]
    expected = server.expected
    outputs = parallel(
        [lambda p=p: smbclient(server, "data", *pinned(p)) for p in SAMBA_PROTOCOL_NAMES.values()]
        + [lambda: smbclient(server, "data", *pinned("NT1")), lambda: smbclient(server, "data")]
    )
    *per_dialect, smb1, offered_all = outputs
    for dialect, out in zip(SMB2_DIALECTS, per_dialect, strict=True):
        # smbclient sets the ENCRYPTION capability for 3.x and sends an ENCRYPTION context
        # for 3.1.1, so a server that rejects the capability refuses 3.0/3.0.2 here.
        rejected = dialect in expected["encryption_cap_rejected"] and dialect != "3.1.1"
        accepted = dialect in expected["dialects"] and not rejected
        got = negotiated(out)
        assert (got == SAMBA_PROTOCOL_NAMES[dialect]) is accepted, (dialect, out[-1500:])
        if rejected:
            assert "NT_STATUS_INVALID_PARAMETER" in out, out[-1500:]
        if accepted:
            # SMB 2.x cannot encrypt: refused where encryption is required server-wide
            refused = expected["encryption_required"] and dialect in ("2.0.2", "2.1")
            assert listed(out) is not refused, (dialect, out[-1500:])
            if refused:
                assert "session setup failed: NT_STATUS_ACCESS_DENIED" in out, out[-1500:]
    assert (negotiated(smb1) == "NT1") is expected["smb1"], smb1[-1500:]
    assert negotiated(offered_all) == SAMBA_PROTOCOL_NAMES[expected["preferred_dialect"]]
    assert listed(offered_all), offered_all[-1500:]


@pytest.mark.parametrize("name", CONFIGS)
def test_smbclient_ciphers(samba_servers: SambaServers, name: str) -> None:
    server = samba_servers[name]
    outputs = parallel(
        [
            lambda c=c: smbclient(
                server,
                "data",
                "-m",
                "SMB3_11",
                "--client-protection=encrypt",
                f"--option=client smb3 encryption algorithms={c}",
                debug=10,
            )
            for c in SMB3_CIPHERS
        ]
    )
    for cipher, out in zip(SMB3_CIPHERS, outputs, strict=True):
        ok = listed(out) and "Encrypted SMB2 message" in out
        assert ok is (cipher in server.expected["ciphers"]), (cipher, out[-1500:])


@pytest.mark.parametrize("name", CONFIGS)
def test_smbclient_encryption(samba_servers: SambaServers, name: str) -> None:
    server = samba_servers[name]
    expected = server.expected
    asked_nothing, anon_21, anon_311, guest_21, guest_311 = parallel(
        [
            lambda: smbclient(server, "data", debug=10),
            lambda: smbclient(server, "-L", "-m", "SMB2_10", user=None),
            lambda: smbclient(server, "-L", "-m", "SMB3_11", user=None),
            lambda: smbclient(server, "-L", "-m", "SMB2_10", user="no-such-user%x"),
            lambda: smbclient(server, "-L", "-m", "SMB3_11", user="no-such-user%x"),
        ]
    )
    # encrypted without asking: desired / required server-wide
    assert listed(asked_nothing), asked_nothing[-1500:]
    encrypted = "Encrypted SMB2 message" in asked_nothing
    assert encrypted is expected["encrypt_data"], asked_nothing[-1500:]
    # anonymous and guest sessions cannot be encrypted: refused where encryption is required
    for out in (anon_21, anon_311, guest_21, guest_311):
        denied = "session setup failed: NT_STATUS_ACCESS_DENIED" in out
        assert denied is expected["encryption_required"], out[-1500:]
        assert denied is not expected["guest_session"]


def test_smbclient_shares_of_default(samba_servers: SambaServers) -> None:
    server = samba_servers["default"]
    expected = server.expected
    assert expected["guest_shares"] == ["public"] and expected["encrypted_shares"] == ["secret"]
    public_anon, public_guest, data_anon, data_guest, secret, secret_21, data_plain = parallel(
        [
            lambda: smbclient(server, "public", user=None),
            lambda: smbclient(server, "public", user="no-such-user%x"),
            lambda: smbclient(server, "data", user=None),
            lambda: smbclient(server, "data", user="no-such-user%x"),
            lambda: smbclient(server, "secret", debug=10),
            lambda: smbclient(server, "secret", "-m", "SMB2_10"),
            lambda: smbclient(server, "data", debug=10),
        ]
    )
    assert listed(public_anon) and listed(public_guest), public_anon[-1500:]
    for out in (data_anon, data_guest, secret_21):
        assert "tree connect failed: NT_STATUS_ACCESS_DENIED" in out, out[-1500:]
    assert listed(secret) and "Encrypted SMB2 message" in secret, secret[-1500:]
    assert listed(data_plain) and "Encrypted SMB2 message" not in data_plain


# ---------------------------------------------------------------------------------------------
# nmap as an oracle


@pytest.mark.parametrize("name", CONFIGS)
def test_nmap_agrees(samba_servers: SambaServers, name: str) -> None:
    server = samba_servers[name]
    seen = nmap_smb_facts(server)
    assert seen["dialects"] == server.expected["dialects"], seen["output"]
    assert seen["smb1"] is server.expected["smb1"], seen["output"]
    assert seen["highest"] == server.expected["preferred_dialect"], seen["output"]
    assert seen["signing_required"] is server.expected["signing_required"], seen["output"]


# ---------------------------------------------------------------------------------------------
# The hand-made NEGOTIATE: signing, per-dialect, ciphers and the ENCRYPTION capability


@pytest.mark.parametrize("name", CONFIGS)
def test_negotiate_oracle(samba_servers: SambaServers, name: str) -> None:
    server = samba_servers[name]
    expected = server.expected
    for dialect in SMB2_DIALECTS:
        answer = negotiate(server, [dialect])  # capabilities 0, like nmap
        if dialect in expected["dialects"]:
            assert answer["status"] == 0 and answer["dialect"] == dialect, (dialect, answer)
            assert bool(answer["security_mode"] & 0x02) is expected["signing_required"]
            assert answer["security_mode"] & 0x01
            assert not answer["capabilities"] & CAP_ENCRYPTION  # only echoed
        else:
            assert answer["status"] == STATUS_NOT_SUPPORTED, (dialect, answer)
    for dialect in ("3.0", "3.0.2", "3.1.1"):
        if dialect not in expected["dialects"]:
            continue
        answer = negotiate(server, [dialect], caps=CAP_ENCRYPTION)  # no ENCRYPTION context
        if dialect in expected["encryption_cap_rejected"]:
            assert answer["status"] == STATUS_INVALID_PARAMETER, (dialect, answer)
        else:
            assert answer["status"] == 0, (dialect, answer)
            echoed = bool(answer["capabilities"] & CAP_ENCRYPTION)
            assert echoed is expected["encryption_capability"], (dialect, answer)
    if "3.1.1" not in expected["dialects"]:
        assert expected["ciphers"] == [] and expected["preferred_cipher"] is None
        return
    accepted = []
    for cipher in SMB3_CIPHERS:
        answer = negotiate(server, ["3.1.1"], caps=CAP_ENCRYPTION, ciphers=[cipher])
        assert answer["status"] == 0, answer
        assert not answer["capabilities"] & CAP_ENCRYPTION  # never with a context (3.1.1)
        got = chosen_cipher(answer)
        if expected["cipher_context_absent"]:
            assert got is None, (cipher, answer)
        else:
            assert got in (cipher, "none"), (cipher, answer)
            if got == cipher:
                accepted.append(cipher)
    assert accepted == expected["ciphers"]
    # Samba applies its own order, whatever the client's
    for order in (list(SMB3_CIPHERS), list(reversed(SMB3_CIPHERS))):
        answer = negotiate(server, list(SMB2_DIALECTS), caps=CAP_ENCRYPTION, ciphers=order)
        assert answer["dialect"] == "3.1.1"
        assert chosen_cipher(answer) == expected["preferred_cipher"], (order, answer)


# ---------------------------------------------------------------------------------------------
# Robustness and clean-up


def test_survives_50_short_connections(samba_servers: SambaServers) -> None:
    server = samba_servers["default"]
    started = time.monotonic()
    for i in range(50):
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            # NBSS keep-alive, an NBSS header announcing 16 bytes that never come, garbage
            sock.sendall([b"\x85\x00\x00\x00", b"\x00\x00\x00\x10", b"\xde\xad\xbe\xef"][i % 3])
    answer = negotiate(server, list(SMB2_DIALECTS), ciphers=list(SMB3_CIPHERS))
    assert answer["status"] == 0 and answer["dialect"] == "3.1.1"
    assert listed(smbclient(server, "data"))
    assert time.monotonic() - started < 30


def test_stop_ends_smbd_and_its_rpc_helpers(tmp_path: Path) -> None:
    with SambaServer("default", tmp_path) as server:
        assert server.conf is not None
        # listing shares makes smbd start samba-dcerpcd (it calls setsid: its own group)
        out = smbclient(server, "-L", user=None)
        assert "IPC$" in out, out[-1500:]
        helpers = samba_lab._helper_pids(server.conf)
        assert helpers, "samba-dcerpcd was expected to start for -L"
        listening = subprocess.run(
            ["ss", "-Hltnp"], capture_output=True, text=True, check=True
        ).stdout
        for pid in helpers:  # on-demand helpers serve named pipes only, never TCP
            assert f"pid={pid}," not in listening
    assert samba_lab._helper_pids(server.conf) == []
    with pytest.raises(OSError):
        socket.create_connection((server.host, server.port), timeout=2).close()


def test_missing_smbd_fails_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_which = shutil.which
    monkeypatch.setattr(
        shutil, "which", lambda name, *a, **k: None if name == "smbd" else real_which(name, *a, **k)
    )
    with pytest.raises(LabError, match="install-test-deps"), SambaServer("default", tmp_path):
        pass


def test_unknown_config_name(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="encrypt_required"):
        SambaServers(tmp_path)["nope"]
