"""Record a real TLS 1.2 handshake whose server presents an RSA-1024 certificate.

openssl s_server (RSA-1024 self-signed certificate with a subjectAltName, ``@SECLEVEL=0`` so
OpenSSL 3 accepts the small key) and one ``openssl s_client -tls1_2`` on loopback, recorded with
tcpdump on ``lo`` the way captures/pcap/record.py does it. Used by a test fixture (needs root,
tcpdump and openssl); run by hand: ``python tests/pcap/record_weak_cert.py out.pcap``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.lab.servers import LOOPBACK, free_port, require_binary, wait_until_accepting

SERVER_NAME = "weak.probe.test"


def record(out: Path) -> int:
    """Write the capture to ``out``; the server's port."""
    openssl, tcpdump = require_binary("openssl"), require_binary("tcpdump")
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        key, cert = f"{tmp}/key.pem", f"{tmp}/cert.pem"
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "rsa:1024", "-nodes", "-keyout", key,
             "-out", cert, "-days", "30", "-subj", f"/CN={SERVER_NAME}",
             "-addext", f"subjectAltName=DNS:{SERVER_NAME},DNS:alt.probe.test"],
            check=True, capture_output=True,
        )  # fmt: skip
        server = subprocess.Popen(
            [openssl, "s_server", "-accept", str(port), "-cert", cert, "-key", key,
             "-cipher", "ALL:@SECLEVEL=0", "-www", "-quiet"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        dump: subprocess.Popen[bytes] | None = None
        try:
            # before tcpdump: these probe connections are not recorded
            wait_until_accepting(LOOPBACK, port, timeout=10, alive=lambda: server.poll() is None)
            dump = subprocess.Popen(
                [tcpdump, "-i", "lo", "-U", "-s", "262144", "-w", str(out), f"tcp port {port}"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1.0)  # let tcpdump open the interface
            subprocess.run(
                [openssl, "s_client", "-connect", f"127.0.0.1:{port}", "-servername",
                 SERVER_NAME, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0"],
                input=b"", capture_output=True, timeout=10, check=False,
            )  # fmt: skip
            # libpcap hands packets over on its 1 s buffer timeout: wait past it (record.py).
            time.sleep(1.5)
        finally:
            server.terminate()
            server.wait(timeout=10)
            if dump is not None:
                dump.terminate()
                dump.wait(timeout=10)
    return port


if __name__ == "__main__":
    print(record(Path(sys.argv[1])))
