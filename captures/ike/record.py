"""Regenerate the IKE captures in this folder from a real strongSwan charon, and measure how it
answers a scanner.

Usage (as root, with Debian's ``strongswan-charon``, ``strongswan-swanctl``,
``libstrongswan-standard-plugins``, ``libstrongswan-extra-plugins`` and ``ike-scan``):
``python captures/ike/record.py`` from the repository root. ``--measure`` also runs the
behaviour measurements described in README.md (about a minute); ``--no-write`` leaves the
.bin files alone. When charon fails, the tail of its log is printed; set
``PROBE_IKE_KEEP_LOG=/some/file`` to keep the whole log.

The script re-runs itself under ``unshare --net --mount``: charon binds UDP 500/4500 in a
private network namespace that has only a loopback interface, and its pid file goes to a
private tmpfs on /run (the stroke plugin, which would read /etc/ipsec.conf, is not loaded), so
nothing on the host is disturbed. Every charon has its
configuration, vici socket and log in a temporary folder and is stopped afterwards (and
restarted between phases, so that half-open IKE_SAs of one phase do not trigger the cookie
or blocking thresholds of the next).

Each capture is exactly one UDP payload: charon's answer to one request built by
``probe.codecs.ike`` with ``probe.codecs.ike_groups`` key-exchange values, some of those
requests (``*_request_*``), or a request of ike-scan's own (``ikescan_*``).
tests/codecs/test_ike_codec.py asserts what each must yield.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from probe.codecs.ike import (  # noqa: E402
    NON_ESP_MARKER,
    Ikev1Transform,
    Proposal,
    Transform,
    build_ikev1_aggressive,
    build_ikev1_main_mode,
    build_ikev2_sa_init,
    ike_major_version,
    nat_detection_hash,
    parse_ikev1,
    parse_ikev2,
)
from probe.codecs.ike_constants import (  # noqa: E402
    NotifyType,
    TransformType,
    known_vendor_id,
    notify_name,
)
from probe.codecs.ike_groups import GROUPS, private_bytes_needed, public_value  # noqa: E402

CHARON = "/usr/lib/ipsec/charon"
INSIDE = "PROBE_IKE_RECORD_NETNS"
TIMEOUT = 1.0

STRONGSWAN_CONF = """\
charon {{
  load_modular = yes
  port = 500
  port_nat_t = 4500
  interfaces_use = lo
  install_routes = no
  install_virtual_ip = no
  send_vendor_id = yes
  i_dont_care_about_security_and_use_aggressive_mode_psk = yes
  filelog {{
    log {{
      path = {directory}/charon.log
      flush_line = yes
      default = 1
      ike = 2
      enc = 1
      net = 2
      cfg = 2
    }}
  }}
  plugins {{
    include /etc/strongswan.d/charon/*.conf
    stroke {{
      load = no
    }}
    vici {{
      socket = unix://{directory}/charon.vici
    }}
  }}
}}
"""

ALL_GROUP_KEYWORDS = (
    "modp768-modp1024-modp1536-modp2048-modp3072-modp4096-modp6144-modp8192-ecp256-ecp384-"
    "ecp521-modp1024s160-modp2048s224-modp2048s256-ecp192-ecp224-ecp256bp-ecp384bp-ecp512bp-"
    "curve25519-curve448"
)

# One value per line: swanctl.conf values run to the end of the line.
SWANCTL_CONF = f"""\
connections {{
  weak2 {{
    version = 2
    local_addrs = 127.0.0.1
    proposals = 3des-sha1-modp1024, aes128-sha256-modp2048
    local {{
      auth = psk
      id = gw
    }}
    remote {{
      auth = psk
    }}
    children {{
      c {{
        esp_proposals = aes128-sha1
      }}
    }}
  }}
  gcm {{
    version = 2
    local_addrs = 127.0.0.2
    proposals = aes256gcm16-prfsha384-ecp384
    local {{
      auth = psk
      id = gw
    }}
    remote {{
      auth = psk
    }}
    children {{
      c {{
        esp_proposals = aes256gcm16
      }}
    }}
  }}
  am1 {{
    version = 1
    aggressive = yes
    local_addrs = 127.0.0.3
    proposals = aes128-sha1-modp1024
    local {{
      auth = psk
      id = gw
    }}
    remote {{
      auth = psk
    }}
    children {{
      c {{
        esp_proposals = aes128-sha1
      }}
    }}
  }}
  mm1 {{
    version = 1
    local_addrs = 127.0.0.4
    proposals = aes256-sha256-modp2048, 3des-sha1-modp1024
    local {{
      auth = psk
      id = gw
    }}
    remote {{
      auth = psk
    }}
    children {{
      c {{
        esp_proposals = aes128-sha1
      }}
    }}
  }}
  groups {{
    version = 2
    local_addrs = 127.0.0.5
    proposals = aes128-sha256-{ALL_GROUP_KEYWORDS}
    local {{
      auth = psk
      id = gw
    }}
    remote {{
      auth = psk
    }}
    children {{
      c {{
        esp_proposals = aes128-sha1
      }}
    }}
  }}
}}
secrets {{
  ike-any {{
    secret = "0123456789abcdef"
  }}
}}
"""

WEAK2 = "127.0.0.1"
GCM = "127.0.0.2"
AM1 = "127.0.0.3"
MM1 = "127.0.0.4"
GROUPS_HOST = "127.0.0.5"
NO_CONFIG = "127.0.0.6"

ENCR, PRF, INTEG, DH = TransformType.ENCR, TransformType.PRF, TransformType.INTEG, TransformType.DH


def suite(encr: int, key: int | None, prf: int, integ: int | None, *groups: int) -> Proposal:
    transforms = [Transform(ENCR, encr, key), Transform(PRF, prf)]
    if integ is not None:
        transforms.append(Transform(INTEG, integ))
    transforms.extend(Transform(DH, g) for g in groups)
    return Proposal(tuple(transforms))


AES128_SHA256_2048 = suite(12, 128, 5, 12, 14)
TDES_SHA1_1024 = suite(3, None, 2, 2, 2)
AES256_SHA512_4096 = suite(12, 256, 7, 14, 16)
GCM256_SHA384_ECP384 = suite(20, 256, 6, None, 20)
GCM256_SHA384_ECP256_384 = suite(20, 256, 6, None, 19, 20)


def seeded(label: str, size: int) -> bytes:
    """Deterministic stand-in for random bytes (the recordings need no secrecy)."""
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{label}/{counter}".encode()).digest()
        counter += 1
    return out[:size]


def spi(label: str) -> bytes:
    return b"\x70" + seeded(f"spi/{label}", 7)  # non-zero first byte


def ke(group: int, label: str) -> bytes:
    return public_value(group, seeded(f"ke/{label}", private_bytes_needed(group)))


# --- namespace and charon ------------------------------------------------------------------


def reexec_in_namespace() -> int:
    for tool in ("unshare", "ip", "mount", CHARON, "swanctl"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: run as root with strongSwan installed")
    env = dict(os.environ, **{INSIDE: "1"})
    command = ["unshare", "--net", "--mount", sys.executable, __file__, *sys.argv[1:]]
    return subprocess.run(command, env=env, check=False).returncode


def private_namespace_setup() -> None:
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/run"], check=True)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    # charon drops datagrams to an address it does not see on an interface ("is not a local
    # address"): 127.0.0.0/8 routing to lo is not enough, each responder address is added.
    for address in (GCM, AM1, MM1, GROUPS_HOST, NO_CONFIG):
        subprocess.run(["ip", "addr", "add", f"{address}/8", "dev", "lo"], check=True)


@dataclass
class Charon:
    directory: Path
    process: subprocess.Popen[bytes]

    @property
    def uri(self) -> str:
        return f"unix://{self.directory}/charon.vici"

    def swanctl(self, *args: str) -> str:
        result = subprocess.run(
            ["swanctl", *args, "--uri", self.uri],
            capture_output=True,
            text=True,
            check=True,
            timeout=20,
        )
        return result.stdout

    def half_open(self) -> tuple[int, int]:
        """(total IKE_SAs, half-open IKE_SAs) from ``swanctl --stats``."""
        stats = self.swanctl("--stats")
        match = re.search(r"IKE_SAs: (\d+) total, (\d+) half-open", stats)
        if match is None:
            raise RuntimeError(f"unexpected swanctl --stats output:\n{stats}")
        return int(match.group(1)), int(match.group(2))


@contextlib.contextmanager
def charon(extra: str = "") -> Iterator[Charon]:
    with tempfile.TemporaryDirectory(prefix="probe-ike-") as tmp:
        directory = Path(tmp)
        conf = STRONGSWAN_CONF.format(directory=directory)
        if extra:
            conf = conf.replace("charon {\n", "charon {\n" + extra + "\n", 1)
        (directory / "strongswan.conf").write_text(conf)
        (directory / "swanctl.conf").write_text(SWANCTL_CONF)
        env = dict(os.environ, STRONGSWAN_CONF=str(directory / "strongswan.conf"))
        process = subprocess.Popen(
            [CHARON], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        daemon = Charon(directory, process)
        try:
            deadline = time.monotonic() + 15
            while not (directory / "charon.vici").exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("charon did not start; see its log")
                time.sleep(0.1)
            daemon.swanctl("--load-all", "--file", str(directory / "swanctl.conf"))
            yield daemon
        except BaseException:
            log = directory / "charon.log"
            if log.exists():
                text = log.read_text()
                print(text[-4000:], file=sys.stderr)
                if os.environ.get("PROBE_IKE_KEEP_LOG"):
                    Path(os.environ["PROBE_IKE_KEEP_LOG"]).write_text(text)
            raise
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def exchange(
    source: str,
    destination: str,
    request: bytes,
    *,
    port: int = 500,
    timeout: float = TIMEOUT,
    source_port: int = 0,
) -> bytes | None:
    """Send one datagram from ``source`` and return the first answer, or None on silence."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, source_port))
        sock.settimeout(timeout)
        sock.sendto(request, (destination, port))
        try:
            answer, _ = sock.recvfrom(65535)
        except TimeoutError:
            return None
        return answer


def sa_init(
    label: str,
    proposals: Sequence[Proposal],
    group: int,
    *,
    cookie: bytes | None = None,
    nat_t: bool = False,
    nat_detection: tuple[str, int, str, int] | None = None,
    ke_value: bytes | None = None,
    spi_i: bytes | None = None,
) -> bytes:
    spi_i = spi_i if spi_i is not None else spi(label)
    notifies: list[tuple[int, bytes]] = []
    if nat_detection is not None:
        src, sport, dst, dport = nat_detection
        notifies.append(
            (
                NotifyType.NAT_DETECTION_SOURCE_IP,
                nat_detection_hash(spi_i, bytes(8), socket.inet_aton(src), sport),
            )
        )
        notifies.append(
            (
                NotifyType.NAT_DETECTION_DESTINATION_IP,
                nat_detection_hash(spi_i, bytes(8), socket.inet_aton(dst), dport),
            )
        )
    return build_ikev2_sa_init(
        spi_i=spi_i,
        proposals=proposals,
        dh_group=group,
        key_exchange=ke_value if ke_value is not None else ke(group, label),
        nonce=seeded(f"nonce/{label}", 32),
        cookie=cookie,
        notifies=notifies,
        nat_t=nat_t,
    )


def describe(answer: bytes | None, *, nat_t: bool = False) -> str:
    if answer is None:
        return "silence"
    if ike_major_version(answer, nat_t=nat_t) == 1:
        v1 = parse_ikev1(answer, nat_t=nat_t)
        parts = [f"IKEv1 exch {v1.exchange_type} payloads {list(v1.payload_types)}"]
        if v1.transforms:
            parts.append(f"transform #{v1.transform_numbers[0]} {v1.transforms[0]}")
        if v1.notify_types:
            parts.append(f"notify {list(v1.notify_types)}")
        return "; ".join(parts)
    v2 = parse_ikev2(answer, nat_t=nat_t)
    if v2.proposals:
        chosen = ", ".join(f"{t.type}:{t.id}" for t in v2.proposals[0].transforms)
        return f"SA #{v2.chosen_proposal_number} [{chosen}] KE {v2.ke_group}"
    if v2.invalid_ke_group is not None:
        return f"INVALID_KE_PAYLOAD -> {v2.invalid_ke_group}"
    if v2.cookie is not None:
        return "COOKIE"
    return "notify " + ", ".join(notify_name(t) for t in v2.notify_types)


# --- recordings ----------------------------------------------------------------------------


def record_ikev2(captures: dict[str, bytes]) -> None:
    with charon():
        src = "127.0.1.1"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe_socket:
            probe_socket.bind((src, 0))
            sport = probe_socket.getsockname()[1]
        request = sa_init(
            "accept", [AES128_SHA256_2048], 14, nat_detection=(src, sport, WEAK2, 500)
        )
        captures["ikev2_request_weak2.bin"] = request
        captures["ikev2_sa_init_accept.bin"] = need(
            exchange(src, WEAK2, request, source_port=sport)
        )

        # Both of weak2's suites offered, KE for the second: charon insists on its first.
        request = sa_init("preferred", [TDES_SHA1_1024, AES128_SHA256_2048], 14)
        captures["ikev2_invalid_ke_preferred_group.bin"] = need(
            exchange("127.0.1.11", WEAK2, request)
        )

        request = sa_init("accept-nat-t", [AES128_SHA256_2048], 14, nat_t=True)
        captures["ikev2_sa_init_accept_nat_t.bin"] = need(
            exchange("127.0.1.2", WEAK2, request, port=4500)
        )

        request = sa_init("no-proposal", [AES256_SHA512_4096], 16)
        captures["ikev2_no_proposal_chosen.bin"] = need(exchange("127.0.1.3", WEAK2, request))

        request = sa_init("gcm", [GCM256_SHA384_ECP384], 20)
        captures["ikev2_request_gcm.bin"] = request
        captures["ikev2_sa_init_gcm_ecp384.bin"] = need(exchange("127.0.1.4", GCM, request))

        request = sa_init("invalid-ke", [GCM256_SHA384_ECP256_384], 19)
        captures["ikev2_invalid_ke_payload.bin"] = need(exchange("127.0.1.5", GCM, request))

        # The same offer with its KE value replaced by random bytes (what ike-scan sends).
        request = sa_init("garbage-ke", [GCM256_SHA384_ECP384], 20, ke_value=seeded("garbage", 96))
        captures["ikev2_garbage_ecp_ke.bin"] = need(exchange("127.0.1.6", GCM, request))

    # A COOKIE challenge: with cookie_threshold_ip = 1 the second half-open IKE_SA from one
    # address is challenged (RFC 7296 §2.6).
    with charon("  cookie_threshold_ip = 1"):
        src = "127.0.1.7"
        first = sa_init("cookie-0", [AES128_SHA256_2048], 14)
        need(exchange(src, WEAK2, first))
        label = "cookie-1"
        request = sa_init(label, [AES128_SHA256_2048], 14)
        challenge = need(exchange(src, WEAK2, request))
        captures["ikev2_cookie.bin"] = challenge
        cookie = parse_ikev2(challenge).cookie
        if cookie is None:
            raise RuntimeError(f"expected a COOKIE, got {describe(challenge)}")
        retry = sa_init(label, [AES128_SHA256_2048], 14, cookie=cookie)
        captures["ikev2_request_with_cookie.bin"] = retry
        captures["ikev2_sa_init_after_cookie.bin"] = need(exchange(src, WEAK2, retry))


def record_ikev1(captures: dict[str, bytes]) -> None:
    offered = [
        Ikev1Transform(7, 128, 2, 1, 2),
        Ikev1Transform(7, 256, 4, 1, 14),
        Ikev1Transform(5, None, 2, 1, 2),
    ]
    with charon():
        request = build_ikev1_main_mode(cookie_i=spi("mm"), transforms=offered)
        captures["ikev1_request_main_mode.bin"] = request
        captures["ikev1_main_mode_sa.bin"] = need(exchange("127.0.1.8", MM1, request))

        weak = [Ikev1Transform(1, None, 1, 1, 1)]
        request = build_ikev1_main_mode(cookie_i=spi("mm-none"), transforms=weak)
        captures["ikev1_main_mode_no_proposal.bin"] = need(exchange("127.0.1.9", MM1, request))

        request = build_ikev1_aggressive(
            cookie_i=spi("am"),
            transforms=[Ikev1Transform(7, 128, 2, 1, 2)],
            key_exchange=ke(2, "am"),
            nonce=seeded("nonce/am", 20),
            identity=b"probe@example.com",
        )
        captures["ikev1_request_aggressive.bin"] = request
        captures["ikev1_aggressive_hash.bin"] = need(exchange("127.0.1.10", AM1, request))


def record_ike_scan(captures: dict[str, bytes]) -> None:
    """ike-scan's own requests, caught by a UDP socket on 127.0.0.1:5500."""
    runs = {
        "ikescan_main_mode_request.bin": [],
        "ikescan_aggressive_request.bin": ["-A", "--id=probe"],
        "ikescan_ikev2_request.bin": ["--ikev2"],
    }
    for name, options in runs.items():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
            listener.bind(("127.0.0.1", 5500))
            listener.settimeout(5)
            command = ["ike-scan", "--sport=0", "--dport=5500", "--retry=1", *options]
            scan = subprocess.Popen(
                [*command, "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            try:
                captures[name], _ = listener.recvfrom(65535)
            finally:
                scan.wait(timeout=30)


def need(answer: bytes | None) -> bytes:
    if answer is None:
        raise RuntimeError("charon did not answer")
    return answer


def check_groups() -> list[str]:
    """Offer every group of ike_groups with its real public value; charon must accept each."""
    lines = []
    with charon():
        for index, group in enumerate(sorted(GROUPS)):
            request = sa_init(f"group-{group}", [suite(12, 128, 5, 12, group)], group)
            answer = exchange(f"127.0.3.{index + 1}", GROUPS_HOST, request, timeout=3)
            result = describe(answer)
            ok = answer is not None and parse_ikev2(answer).ke_group == group
            lines.append(f"group {group:2} {GROUPS[group].name:14} {'ok' if ok else 'FAILED'}")
            if not ok:
                lines[-1] += f": {result}"
    return lines


# --- behaviour measurements ----------------------------------------------------------------


def measure() -> list[str]:
    notes: list[str] = []

    # 1. Which group wins when the KE payload is for an offered group that is not charon's
    # first choice? weak2 prefers 3des-sha1-modp1024, then aes128-sha256-modp2048.
    with charon():
        cases = {
            "one proposal {3DES,AES128}x{SHA1,SHA256}x{MODP1024,MODP2048}, KE MODP2048": (
                [
                    Proposal(
                        (
                            Transform(ENCR, 3),
                            Transform(ENCR, 12, 128),
                            Transform(PRF, 2),
                            Transform(PRF, 5),
                            Transform(INTEG, 2),
                            Transform(INTEG, 12),
                            Transform(DH, 2),
                            Transform(DH, 14),
                        )
                    )
                ],
                14,
            ),
            "same single proposal, KE MODP1024": (None, 2),
            "#1 3DES-SHA1-MODP1024, #2 AES128-SHA256-MODP2048, KE MODP2048": (
                [TDES_SHA1_1024, AES128_SHA256_2048],
                14,
            ),
            "#1 AES128-SHA256-MODP2048, #2 3DES-SHA1-MODP1024, KE MODP1024": (
                [AES128_SHA256_2048, TDES_SHA1_1024],
                2,
            ),
            "#1 AES128-SHA256-{MODP1024,MODP2048}, KE MODP1024": (
                [suite(12, 128, 5, 12, 2, 14)],
                2,
            ),
            "#1 AES128-SHA256-MODP2048 only, KE MODP1024 (group not offered)": (
                [AES128_SHA256_2048],
                2,
            ),
        }
        previous: list[Proposal] = []
        for index, (name, (proposals, group)) in enumerate(cases.items()):
            offer = proposals if proposals is not None else previous
            previous = offer
            answer = exchange(f"127.0.4.{index + 1}", WEAK2, sa_init(f"m1-{index}", offer, group))
            notes.append(f"[KE choice] {name}: {describe(answer)}")

    # 2. Does an INVALID_KE / NO_PROPOSAL answer leave a half-open IKE_SA?
    with charon() as daemon:
        notes.append(f"[half-open] at start: (total, half-open) = {daemon.half_open()}")
        answer = exchange("127.0.5.1", WEAK2, sa_init("m2-np", [AES256_SHA512_4096], 16))
        time.sleep(0.3)
        notes.append(f"[half-open] after {describe(answer)}: {daemon.half_open()}")
        answer = exchange("127.0.5.2", GCM, sa_init("m2-ike", [GCM256_SHA384_ECP256_384], 19))
        time.sleep(0.3)
        notes.append(f"[half-open] after {describe(answer)}: {daemon.half_open()}")
        answer = exchange(
            "127.0.5.3",
            GCM,
            sa_init("m2-garbage", [GCM256_SHA384_ECP384], 20, ke_value=seeded("g", 96)),
        )
        time.sleep(0.3)
        notes.append(f"[half-open] after garbage ECP KE ({describe(answer)}): {daemon.half_open()}")
        answer = exchange("127.0.5.4", WEAK2, sa_init("m2-ok", [AES128_SHA256_2048], 14))
        time.sleep(0.3)
        notes.append(f"[half-open] after {describe(answer)}: {daemon.half_open()}")
        refusals = []
        for n in range(10):
            offer = [AES256_SHA512_4096] if n % 2 else [GCM256_SHA384_ECP256_384]
            target, group = (WEAK2, 16) if n % 2 else (GCM, 19)
            refusals.append(
                describe(exchange("127.0.5.5", target, sa_init(f"m2-r{n}", offer, group)))
            )
        answer = exchange("127.0.5.5", WEAK2, sa_init("m2-after", [AES128_SHA256_2048], 14))
        notes.append(
            f"[half-open] 10 refused offers from one address ({sorted(set(refusals))}), "
            f"then an acceptable one: {describe(answer)}"
        )

    # 3. Accepted IKE_SA_INITs from one address, defaults (cookie_threshold_ip 3,
    # block_threshold 5, cookie_threshold 30): when do cookies start, when does it go silent?
    with charon() as daemon:
        src = "127.0.6.1"
        outcomes = []
        for n in range(12):
            answer = exchange(src, WEAK2, sa_init(f"m3-{n}", [AES128_SHA256_2048], 14))
            outcomes.append(describe(answer).split(" [")[0])
        notes.append(f"[threshold] 12 fresh SA_INITs from one IP: {outcomes}")
        notes.append(f"[threshold] (total, half-open) now {daemon.half_open()}")
        outcomes = []
        for n in range(12):
            label = f"m3c-{n}"
            answer = exchange(src, WEAK2, sa_init(label, [AES128_SHA256_2048], 14))
            cookie = parse_ikev2(answer).cookie if answer is not None else None
            if cookie is not None:
                answer = exchange(
                    src, WEAK2, sa_init(label, [AES128_SHA256_2048], 14, cookie=cookie)
                )
                outcomes.append("COOKIE then " + describe(answer).split(" [")[0])
            else:
                outcomes.append(describe(answer).split(" [")[0])
        notes.append(f"[threshold] 12 more, answering cookies: {outcomes}")
        notes.append(f"[threshold] (total, half-open) now {daemon.half_open()}")
        answer = exchange("127.0.6.2", WEAK2, sa_init("m3-other", [AES128_SHA256_2048], 14))
        notes.append(f"[threshold] another source IP meanwhile: {describe(answer)}")
        notes.append("[threshold] waiting 32 s for half_open_timeout (30 s) ...")
        time.sleep(32)
        notes.append(f"[threshold] (total, half-open) after the timeout {daemon.half_open()}")
        answer = exchange(src, WEAK2, sa_init("m3-after", [AES128_SHA256_2048], 14))
        notes.append(f"[threshold] same IP after the timeout: {describe(answer)}")

    # 4. The same for accepted IKEv1 Main Mode offers (IKEv1 has no cookie mechanism).
    with charon() as daemon:
        outcomes = []
        for n in range(8):
            request = build_ikev1_main_mode(
                cookie_i=spi(f"m4-mm-{n}"), transforms=[Ikev1Transform(7, 256, 4, 1, 14)]
            )
            outcomes.append(describe(exchange("127.0.8.1", MM1, request)).split(";")[0])
        notes.append(f"[threshold] 8 accepted Main Mode offers from one IP: {outcomes}")
        notes.append(f"[threshold] (total, half-open) now {daemon.half_open()}")

    # 5. IKEv2 on the IKEv1-only and IKEv1 on the IKEv2-only addresses.
    with charon():
        answer = exchange("127.0.7.1", MM1, sa_init("m4-v2", [AES128_SHA256_2048], 14))
        notes.append(f"[versions] IKEv2 SA_INIT to an IKEv1-only config: {describe(answer)}")
        request = build_ikev1_main_mode(
            cookie_i=spi("m4-v1"), transforms=[Ikev1Transform(7, 128, 4, 1, 14)]
        )
        answer = exchange("127.0.7.2", WEAK2, request)
        notes.append(f"[versions] IKEv1 Main Mode to an IKEv2-only config: {describe(answer)}")
        answer = exchange("127.0.7.3", NO_CONFIG, sa_init("m4-none", [AES128_SHA256_2048], 14))
        notes.append(f"[versions] IKEv2 SA_INIT to an address without config: {describe(answer)}")
    return notes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", action="store_true", help="also measure charon behaviour")
    parser.add_argument("--no-write", action="store_true", help="do not rewrite the .bin files")
    args = parser.parse_args()
    if os.environ.get(INSIDE) != "1":
        return reexec_in_namespace()
    private_namespace_setup()
    captures: dict[str, bytes] = {}
    record_ikev2(captures)
    record_ikev1(captures)
    record_ike_scan(captures)
    for name, data in sorted(captures.items()):
        summary = describe(data, nat_t=data[:4] == NON_ESP_MARKER) if "request" not in name else ""
        print(f"{name:40} {len(data):5} bytes {summary}")
    vendor_ids = {
        known_vendor_id(v) or v.hex()
        for name, data in captures.items()
        if name.startswith("ikev2") and "request" not in name
        for v in parse_ikev2(data, nat_t=data[:4] == NON_ESP_MARKER).vendor_ids
    }
    print("IKEv2 vendor IDs from charon:", sorted(vendor_ids))
    for line in check_groups():
        print(line)
    if args.measure:
        for line in measure():
            print(line)
    if not args.no_write:
        for name, data in captures.items():
            (HERE / name).write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
