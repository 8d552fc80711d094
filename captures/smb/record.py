"""Regenerate the SMB captures in this folder from a real Samba smbd on loopback.

Usage (as root, with Debian's ``samba`` package installed): ``python captures/smb/record.py``
from the repository root. Every smbd runs in the foreground on a port the kernel picked, with
all its directories in a temporary folder, and is stopped afterwards. Each capture is exactly
the bytes the server sent in answer to one request built by ``probe.codecs.smb2`` (an empty
file means the server closed the connection without answering). What each must yield is in
README.md; tests/codecs/test_smb2_captures.py asserts it.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from probe.codecs.smb2 import (  # noqa: E402
    CAP_DFS,
    CAP_LARGE_MTU,
    CAP_LEASING,
    Cipher,
    Dialect,
    NbssReader,
    SigningAlgorithm,
    Status,
    build_nbss_session_request,
    build_negotiate_request,
    build_session_setup_request,
    build_smb1_negotiate_request,
    ntlmssp_anonymous_blob,
    ntlmssp_negotiate_blob,
    parse_negotiate_response,
    parse_session_setup_response,
)

CLIENT_GUID = bytes.fromhex("70726f6265736d62636c69656e743031")  # "probesmbclient01"
SALT = bytes(range(32))
ALL_DIALECTS = tuple(Dialect)
ALL_CIPHERS = tuple(Cipher)
ALL_SIGNING = tuple(SigningAlgorithm)
NO_ENCRYPTION_CAPS = CAP_DFS | CAP_LEASING | CAP_LARGE_MTU
TIMEOUT = 5.0
MAX_CAPTURE = 65536


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def smb_conf(directory: Path, port: int, extra: dict[str, str]) -> str:
    options = {
        "smb ports": str(port),
        "interfaces": "127.0.0.1",
        "bind interfaces only": "yes",
        "disable netbios": "yes",
        "server role": "standalone server",
        "workgroup": "PROBE",
        "netbios name": "PROBELAB",
        "lock directory": str(directory / "lock"),
        "state directory": str(directory / "state"),
        "cache directory": str(directory / "cache"),
        "private dir": str(directory / "private"),
        "pid directory": str(directory / "run"),
        "ncalrpc dir": str(directory / "ncalrpc"),
        "binddns dir": str(directory / "binddns"),
        "log file": str(directory / "log.%m"),
        "load printers": "no",
        "printcap name": "/dev/null",
        "disable spoolss": "yes",
        **extra,
    }
    lines = ["[global]", *(f"  {key} = {value}" for key, value in options.items())]
    lines += ["[share]", f"  path = {directory / 'share'}", "  read only = yes", ""]
    return "\n".join(lines)


@contextlib.contextmanager
def smbd(extra: dict[str, str] | None = None) -> Iterator[int]:
    """A foreground smbd on 127.0.0.1 with its own directories; yields its port."""
    binary = shutil.which("smbd") or "/usr/sbin/smbd"
    with tempfile.TemporaryDirectory(prefix="probe-smbd-") as tmp:
        directory = Path(tmp)
        for sub in ("lock", "state", "cache", "private", "run", "ncalrpc", "binddns", "share"):
            (directory / sub).mkdir()
        port = free_port()
        conf = directory / "smb.conf"
        conf.write_text(smb_conf(directory, port, extra or {}))
        log = (directory / "stdout.log").open("wb")
        proc = subprocess.Popen(
            [binary, "--foreground", "--no-process-group", "--debug-stdout", "-s", str(conf)],
            stdout=log,
            stderr=subprocess.STDOUT,
            # smbd signals its whole process group when it shuts down; with
            # --no-process-group that would be ours, so it gets a session of its own.
            start_new_session=True,
        )
        try:
            _wait_for_port(port, proc, directory)
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], directory: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = (directory / "stdout.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"smbd exited with {proc.returncode}:\n{output}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"smbd did not listen on port {port}")


def read_answer(sock: socket.socket) -> bytes:
    """Everything up to the first complete NBSS message (or the close), as received."""
    reader = NbssReader()
    received = b""
    sock.settimeout(TIMEOUT)
    while not reader.done and len(received) < MAX_CAPTURE:
        try:
            chunk = sock.recv(4096)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        received += chunk
        reader.feed(chunk)
    return received


def exchange(port: int, requests: Sequence[bytes]) -> list[bytes]:
    """Send each request in turn on one connection; the answer to each."""
    answers = []
    with socket.create_connection(("127.0.0.1", port), TIMEOUT) as sock:
        for request in requests:
            sock.sendall(request)
            answers.append(read_answer(sock))
    return answers


def negotiate(
    dialects: Sequence[int],
    *,
    ciphers: Sequence[int] | None = None,
    signing: Sequence[int] | None = None,
    capabilities: int | None = None,
) -> bytes:
    kwargs = {} if capabilities is None else {"capabilities": capabilities}
    return build_negotiate_request(
        dialects=dialects,
        client_guid=CLIENT_GUID,
        salt=SALT,
        ciphers=ciphers,
        signing_algorithms=signing,
        **kwargs,
    )


def session_setup() -> bytes:
    return build_session_setup_request(security_blob=ntlmssp_negotiate_blob(), message_id=1)


def null_session(port: int, negotiate_request: bytes) -> tuple[bytes, bytes, bytes]:
    """NEGOTIATE, SESSION_SETUP with an NTLMSSP NEGOTIATE, then the anonymous AUTHENTICATE
    leg on the session id the server gave: the three answers."""
    with socket.create_connection(("127.0.0.1", port), TIMEOUT) as sock:
        sock.sendall(negotiate_request)
        negotiated = read_answer(sock)
        _check_negotiated(negotiated)
        sock.sendall(session_setup())
        first = read_answer(sock)
        reader = NbssReader()
        reader.feed(first)
        message = reader.message()
        if message is None:
            raise RuntimeError("no answer to the first SESSION_SETUP")
        leg = parse_session_setup_response(message)
        if leg.status != Status.MORE_PROCESSING_REQUIRED:
            return negotiated, first, b""
        sock.sendall(
            build_session_setup_request(
                security_blob=ntlmssp_anonymous_blob(), message_id=2, session_id=leg.session_id
            )
        )
        return negotiated, first, read_answer(sock)


def save(name: str, data: bytes) -> None:
    (HERE / name).write_bytes(data)
    print(f"{name}: {len(data)} bytes")


def record_default() -> None:
    """Samba 4.17 defaults: SMB2_02..SMB3_11, signing not required, encryption if_required."""
    with smbd() as port:
        for dialect in ALL_DIALECTS:
            label = f"{dialect:04x}"
            save(f"negotiate_{label}.bin", exchange(port, [negotiate([dialect])])[0])
        save(
            "negotiate_all.bin",
            exchange(port, [negotiate(ALL_DIALECTS, ciphers=ALL_CIPHERS, signing=ALL_SIGNING)])[0],
        )
        save(
            "negotiate_0311_ciphers_all.bin",
            exchange(port, [negotiate([Dialect.SMB3_1_1], ciphers=ALL_CIPHERS)])[0],
        )
        for cipher in ALL_CIPHERS:
            save(
                f"negotiate_0311_cipher_{cipher:d}.bin",
                exchange(port, [negotiate([Dialect.SMB3_1_1], ciphers=[cipher])])[0],
            )
        save(
            "negotiate_0311_no_encryption_context.bin",
            exchange(port, [negotiate([Dialect.SMB3_1_1], ciphers=[])])[0],
        )
        for algorithm in ALL_SIGNING:
            save(
                f"negotiate_0311_signing_{algorithm:d}.bin",
                exchange(port, [negotiate([Dialect.SMB3_1_1], signing=[algorithm])])[0],
            )
        save("smb1_negotiate_refused.bin", exchange(port, [build_smb1_negotiate_request()])[0])
        save(
            "smb1_negotiate_multiprotocol.bin",
            exchange(
                port, [build_smb1_negotiate_request(("NT LM 0.12", "SMB 2.002", "SMB 2.???"))]
            )[0],
        )
        _, first, second = null_session(
            port, negotiate([Dialect.SMB3_1_1], ciphers=[], capabilities=NO_ENCRYPTION_CAPS)
        )
        save("session_setup_default.bin", first)
        save("session_setup_anonymous_default.bin", second)
        answers = exchange(
            port, [build_nbss_session_request("*SMBSERVER", "PROBE"), negotiate([Dialect.SMB2_1])]
        )
        save("nbss_session_response.bin", answers[0])
        save("nbss_then_negotiate_0210.bin", answers[1])


def record_smb1() -> None:
    with smbd({"server min protocol": "NT1"}) as port:
        save("smb1_negotiate_nt1.bin", exchange(port, [build_smb1_negotiate_request()])[0])


def record_max_smb2() -> None:
    with smbd({"server max protocol": "SMB2_10"}) as port:
        save(
            "negotiate_max_smb2_10_offer_0300.bin", exchange(port, [negotiate([Dialect.SMB3_0])])[0]
        )
        save(
            "negotiate_max_smb2_10_offer_all.bin",
            exchange(port, [negotiate(ALL_DIALECTS, ciphers=ALL_CIPHERS)])[0],
        )


def record_one_cipher() -> None:
    with smbd({"server smb3 encryption algorithms": "aes-128-ccm"}) as port:
        save(
            "negotiate_0311_only_ccm_offer_gcm256.bin",
            exchange(port, [negotiate([Dialect.SMB3_1_1], ciphers=[Cipher.AES_256_GCM])])[0],
        )
        save(
            "negotiate_0311_only_ccm_offer_all.bin",
            exchange(port, [negotiate([Dialect.SMB3_1_1], ciphers=ALL_CIPHERS)])[0],
        )


def record_signing_mandatory() -> None:
    with smbd({"server signing": "mandatory"}) as port:
        save(
            "negotiate_signing_mandatory_0311.bin",
            exchange(port, [negotiate([Dialect.SMB3_1_1], ciphers=ALL_CIPHERS)])[0],
        )


def record_encrypt(setting: str) -> None:
    with smbd({"server smb encrypt": setting}) as port:
        save(
            f"negotiate_encrypt_{setting}_0300.bin",
            exchange(port, [negotiate([Dialect.SMB3_0])])[0],
        )
        cases = {
            "0210": [Dialect.SMB2_1],
            "0311_noenc": [Dialect.SMB3_1_1],
        }
        requests = {
            label: negotiate(dialects, ciphers=[], capabilities=NO_ENCRYPTION_CAPS)
            for label, dialects in cases.items()
        }
        requests["0311_enc"] = negotiate([Dialect.SMB3_1_1], ciphers=ALL_CIPHERS)
        for label, request in requests.items():
            _, first, second = null_session(port, request)
            save(f"session_setup_encrypt_{setting}_{label}.bin", first)
            save(f"session_setup_anonymous_encrypt_{setting}_{label}.bin", second)


def _check_negotiated(answer: bytes) -> None:
    reader = NbssReader()
    reader.feed(answer)
    message = reader.message()
    if message is None:
        raise RuntimeError("no NEGOTIATE answer before SESSION_SETUP")
    parse_negotiate_response(message)


def main() -> None:
    record_default()
    record_smb1()
    record_max_smb2()
    record_one_cipher()
    record_signing_mandatory()
    record_encrypt("required")
    record_encrypt("desired")


if __name__ == "__main__":
    main()
