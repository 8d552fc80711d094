"""Reference clients for checking lab servers: ``openssl s_client`` and ``gnutls-cli``."""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import subprocess
import warnings
from dataclasses import dataclass

from .servers import require_binary

# s_client flags that pin one protocol version.
S_CLIENT_VERSION_FLAG = {
    "TLSv1.0": "-tls1",
    "TLSv1.1": "-tls1_1",
    "TLSv1.2": "-tls1_2",
    "TLSv1.3": "-tls1_3",
}


@dataclass(frozen=True)
class Handshake:
    ok: bool
    version: str | None  # "TLSv1.2" etc. (s_client's "TLSv1" is reported as "TLSv1.0")
    cipher: str | None  # OpenSSL name
    output: str
    server_temp_key: str | None = None  # e.g. "DH, 1024 bits", "X25519, 253 bits"


def openssl_handshake(
    host: str,
    port: int,
    *args: str,
    version: str | None = None,
    cipher: str | None = None,
    servername: str | None = None,
    ca_file: str | None = None,
    timeout: float = 10.0,
) -> Handshake:
    """One ``openssl s_client`` handshake; ``ok`` when a cipher was negotiated.

    ``cipher`` is the TLS <= 1.2 cipher string; security level 0 is appended so the client
    never refuses anything on its own. Extra ``args`` go to s_client verbatim.
    """
    argv = [require_binary("openssl"), "s_client", "-connect", f"{host}:{port}"]
    if version is not None:
        argv.append(S_CLIENT_VERSION_FLAG[version])
    argv += ["-cipher", f"{cipher or 'ALL:COMPLEMENTOFALL'}:@SECLEVEL=0"]
    argv += ["-servername", servername] if servername else ["-noservername"]
    if ca_file:
        argv += ["-CAfile", ca_file, "-verify_return_error"]
    argv += list(args)
    proc = subprocess.run(argv, input=b"", capture_output=True, timeout=timeout, check=False)
    out = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
    # "New, TLSv1.3, Cipher is X" names the protocol only for TLS 1.3 (for older versions it
    # names the cipher's origin, e.g. "SSLv3"); the SSL-Session block (absent for TLS 1.3
    # when no ticket arrived before stdin closed) has the negotiated protocol.
    new_m = re.search(r"^(?:New|Reused), (\S+), Cipher is (\S+)", out, re.M)
    version_m = re.search(r"^\s*Protocol\s*:\s*(\S+)", out, re.M)
    temp_m = re.search(r"^Server Temp Key:\s*(.+)$", out, re.M)
    negotiated = new_m.group(2) if new_m else None
    # With TLS 1.3 the cipher is known before the certificate, so a failed verification
    # still prints one: the exit status is what says the handshake completed.
    ok = proc.returncode == 0 and negotiated not in (None, "0000", "(NONE)")
    label = version_m.group(1) if version_m else None
    if new_m and new_m.group(1) == "TLSv1.3":
        label = "TLSv1.3"
    if label == "TLSv1":
        label = "TLSv1.0"
    return Handshake(
        ok=ok,
        version=label if ok else None,
        cipher=negotiated if ok else None,
        output=out,
        server_temp_key=temp_m.group(1).strip() if temp_m else None,
    )


def openssl_stdname(openssl_cipher: str) -> str:
    """The IANA name of an OpenSSL cipher name (via ``openssl ciphers -stdname``)."""
    out = subprocess.run(
        [require_binary("openssl"), "ciphers", "-stdname", f"{openssl_cipher}:@SECLEVEL=0"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2] == openssl_cipher:
            return parts[0]
    raise KeyError(openssl_cipher)


def client_hello(
    *,
    minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1,
    maximum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3,
    ciphers: str = "ALL:@SECLEVEL=0",
    server_name: str | None = "localhost",
) -> bytes:
    """The ClientHello record Python's ssl would send (no I/O: a memory BIO)."""
    ctx = _client_context(minimum, maximum, ciphers)
    obj = ctx.wrap_bio(ssl.MemoryBIO(), outgoing := ssl.MemoryBIO(), server_hostname=server_name)
    with contextlib.suppress(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def hello_then_close(host: str, port: int, hello: bytes, *, timeout: float = 5.0) -> bytes:
    """Send ``hello``, read the first bytes of the answer (up to 5 + record length), close.

    This is what a scanner does many times per endpoint; servers must survive it.
    """
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(hello)
        data = b""
        while len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def _client_context(
    minimum: ssl.TLSVersion, maximum: ssl.TLSVersion, ciphers: str, ca_file: str | None = None
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = minimum
        ctx.maximum_version = maximum
    ctx.set_ciphers(ciphers)
    if ca_file is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.load_verify_locations(ca_file)
    return ctx


def python_handshake(
    host: str,
    port: int,
    *,
    minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1,
    maximum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3,
    ciphers: str = "ALL:@SECLEVEL=0",
    ca_file: str | None = None,
    server_name: str | None = "localhost",
    timeout: float = 10.0,
) -> Handshake:
    """A full handshake with Python's ssl; ``ok`` False (with the error) when it fails."""
    ctx = _client_context(minimum, maximum, ciphers, ca_file)
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            ctx.wrap_socket(raw, server_hostname=server_name) as tls,
        ):
            cipher = tls.cipher()
            return Handshake(
                ok=True,
                version=_PY_VERSION_LABEL.get(tls.version() or "", tls.version()),
                cipher=cipher[0] if cipher else None,
                output="",
            )
    except (ssl.SSLError, OSError) as exc:
        return Handshake(ok=False, version=None, cipher=None, output=repr(exc))


_PY_VERSION_LABEL = {"TLSv1": "TLSv1.0"}
