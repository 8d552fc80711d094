"""Differential: probe's derived vulnerability verdicts (probe.checks.tls_vulns) against
sslscan's findings on the same lab servers.

sslscan 2 (https://github.com/rbsec/sslscan, installed by scripts/install-test-deps.sh) is an
independent implementation: it enumerates suites with OpenSSL's client by elimination plus
hand-built hellos for the suites OpenSSL lacks (that is how it sees gnutls' 3DES and RC4
suites), reads the DH prime size of each DHE suite from real handshakes, tests SSL 2.0 / 3.0
with its own hellos and renegotiation with OpenSSL. It runs in about half a second per server.
nmap's ssl-enum-ciphers covers fewer of the checks (no renegotiation, DH size only relative
to the certificate key) and testssl.sh is not installed and takes tens of seconds per check.

Each check's verdict is computed here from sslscan's XML alone (cipher names, ``dhebits``,
protocol and renegotiation elements), not from probe's suite table:

* sweet32: an accepted suite named with DES (3DES and single DES), IDEA or RC2;
* rc4: an accepted suite named with RC4;
* freak: an accepted export (EXP) suite without DH key exchange;
* logjam: an accepted DHE suite whose prime is under 2048 bits (``dhebits``), or an export DH
  suite;
* poodle: SSL 3.0 is enabled. sslscan cannot list SSL 3.0 suites when its OpenSSL has no SSL
  3.0 (Debian's), and every SSL 3.0 suite but RC4 and NULL is CBC: probe's definition (SSL
  3.0 with a CBC suite) is narrower. No lab server speaks SSL 3.0, so both say no;
* beast: TLS 1.0 with a CBC suite, or SSL 3.0 enabled (same limitation);
* drown: SSL 2.0 is enabled (no lab server: both say no);
* insecure_renegotiation: sslyze-style "supported, not secure" from
  ``<renegotiation supported="1" secure="0">``. By definition they differ where the server
  refuses renegotiation: sslscan reports "not supported" and no insecurity, while probe looks
  at the ServerHello's RFC 5746 indication only. The lab's servers with the indication (all
  OpenSSL ones, gnutls by default) are "secure" or "not supported" for sslscan and false for
  probe; gnutls with %DISABLE_SAFE_RENEGOTIATION sends no indication and does renegotiate:
  both say true.
* crime is not compared: sslscan's compression test needs an OpenSSL built with zlib, which
  Debian's is not (it prints no compression element), and no lab server compresses.

The lab holds no export, single-DES, SSL 2.0 or SSL 3.0 server (OpenSSL 3 and GnuTLS 3.7
dropped them), so freak, poodle and drown are compared on "no" only.
"""

from __future__ import annotations

import asyncio
import subprocess
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from probe.checks.context import ScanOptions
from probe.checks.tls_vulns import DERIVED_VULNERABILITIES, vulnerabilities
from probe.engine import scan
from probe.model import Status, Target, TargetResult
from tests.lab.certs import LabCerts
from tests.lab.servers import LabServer, LabServers, gnutls_serv, require_binary

pytestmark = pytest.mark.lab

SERVER_NAME = "localhost"
COMPARED = tuple(n for n in DERIVED_VULNERABILITIES if n != "crime")

# gnutls with the legacy suites and protocol versions OpenSSL 3 no longer builds, and without
# RFC 5746: the lab's only server exposed to sweet32, rc4 and insecure renegotiation.
GNUTLS_LEGACY = (
    "NORMAL:+3DES-CBC:+ARCFOUR-128:+VERS-TLS1.0:+VERS-TLS1.1:%DISABLE_SAFE_RENEGOTIATION"
)

# s_server configurations that differ in what these checks look at (the others repeat
# "modern"); then gnutls-serv with its defaults and with GNUTLS_LEGACY.
S_SERVERS = ["modern", "tls10_only", "tls13_ecdsa", "rsa1024", "dhe1024", "non_fs", "ffdhe3072"]
SERVERS = [*S_SERVERS, "gnutls", "gnutls_legacy"]

# What the lab servers are exposed to, so a regression on both sides still shows.
EXPOSED = {
    "tls10_only": {"beast", "logjam"},  # TLS 1.0 CBC suites; a 1024-bit automatic DH prime
    "rsa1024": {"beast", "logjam"},  # automatic DH follows the 1024-bit key
    "dhe1024": {"logjam"},
    "gnutls_legacy": {"sweet32", "rc4", "beast", "insecure_renegotiation"},
}


def _cbc(name: str) -> bool:
    # OpenSSL names CBC suites without a mode (AES128-SHA); IANA names say _CBC_
    return "CBC" in name or not any(m in name for m in ("GCM", "CCM", "CHACHA", "RC4", "NULL"))


def sslscan_verdicts(host: str, port: int) -> tuple[dict[str, bool], str]:
    """The compared checks as sslscan's XML shows them, and that XML (for messages)."""
    sslscan = require_binary("sslscan")
    done = subprocess.run(
        [sslscan, "--no-colour", "--xml=-", "--no-groups", "--no-check-certificate",
         f"--sni-name={SERVER_NAME}", f"{host}:{port}"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    xml = done.stdout[done.stdout.find("<?xml") :]
    root = ElementTree.fromstring(xml)
    enabled = {
        f"{p.get('type')}{p.get('version')}": p.get("enabled") == "1" for p in root.iter("protocol")
    }
    ciphers = [
        (c.get("sslversion", ""), c.get("cipher", ""), c.get("dhebits"))
        for c in root.iter("cipher")
        if c.get("status") in ("accepted", "preferred")
    ]
    names = [name for _, name, _ in ciphers]
    export = [n for n in names if "EXP" in n]
    dh_export = [n for n in export if any(k in n for k in ("DH", "EDH"))]
    reneg = root.find(".//renegotiation")
    ssl3 = enabled.get("ssl3", False)
    verdicts = {
        "sweet32": any(k in n for n in names for k in ("DES", "IDEA", "RC2")),
        "logjam": bool(dh_export)
        or any(bits is not None and int(bits) < 2048 for _, _, bits in ciphers),
        "freak": len(export) > len(dh_export),
        "rc4": any("RC4" in n for n in names),
        "poodle": ssl3,
        "beast": ssl3 or any(v == "TLSv1.0" and _cbc(n) for v, n, _ in ciphers),
        "drown": enabled.get("ssl2", False),
        "insecure_renegotiation": reneg is not None
        and reneg.get("supported") == "1"
        and reneg.get("secure") == "0",
    }
    return verdicts, xml


def run_probe(host: str, port: int) -> TargetResult:
    target = Target(
        given=f"{host}:{port}", host=host, port=port, check="tls", server_name=SERVER_NAME
    )
    results: list[TargetResult] = []
    asyncio.run(scan([target], ScanOptions(tls_groups=False), results.append))
    (result,) = results
    return result


@dataclass(frozen=True)
class Observation:
    server: str
    probe: dict[str, bool | None]
    sslscan: dict[str, bool]
    xml: str


@pytest.fixture(scope="module")
def gnutls_legacy(lab_certs: LabCerts, lab_dir: Path) -> Iterator[LabServer]:
    with gnutls_serv(lab_certs, lab_dir / "gnutls-legacy", priority=GNUTLS_LEGACY) as server:
        yield server


@pytest.fixture(scope="module", params=SERVERS)
def observation(request: pytest.FixtureRequest) -> Observation:
    name: str = request.param
    server: LabServer
    if name == "gnutls":
        server = request.getfixturevalue("gnutls_server")
    elif name == "gnutls_legacy":
        server = request.getfixturevalue("gnutls_legacy")
    else:
        servers: LabServers = request.getfixturevalue("lab_servers")
        server = servers[name]
    result = run_probe(server.host, server.port)
    assert result.status is Status.COMPLETED and result.tls is not None, result.error
    found = vulnerabilities(result.tls)
    theirs, xml = sslscan_verdicts(server.host, server.port)
    return Observation(name, {n: found[n] for n in COMPARED}, theirs, xml)


def test_derived_vulnerabilities_agree_with_sslscan(observation: Observation) -> None:
    obs = observation
    disagree = {
        n: (obs.probe[n], obs.sslscan[n]) for n in COMPARED if obs.probe[n] != obs.sslscan[n]
    }
    assert not disagree, f"{obs.server}: (probe, sslscan) {disagree}\n{obs.xml}"


def test_lab_exposures_are_the_expected_ones(observation: Observation) -> None:
    exposed = {n for n, v in observation.probe.items() if v}
    assert exposed == EXPOSED.get(observation.server, set()), observation.server
