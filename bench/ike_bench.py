#!/usr/bin/env python3
"""IKE: probe's enumeration against ike-scan on the same strongSwan responders.

    python3 bench/ike_bench.py --runs 3

ike-scan 1.9.5 cannot enumerate IKEv2 transforms (one fixed proposal; only the KE group can
be chosen, royhills/ike-scan#34), so its IKEv2 row is what wrappers such as iker do: one run
per DH group. Its IKEv1 row is the iker-style transform loop: one run per transform
(encryption x hash x auth x group, the same 224 candidates probe offers). probe's rows are
full scans (IKEv2, IKEv1 Main and Aggressive Mode, NAT-T). The responders are the test lab's
charon (tests/lab/strongswan.py) with its half-open limits raised, so that ike-scan's loop is
not silenced halfway (with charon's defaults it would be after 5 accepted transforms).

Like tls_bench.py it runs inside a fresh network namespace (root) so /proc/net/snmp's
OutDatagrams counts exactly the datagrams of each run, both ways (the responder is in the same
namespace), retransmissions included.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tls_bench import ROOT, probe_command, rerun_in_namespace

# The IKEv1 candidates of probe.checks.ike_plan, in ike-scan's --trans=enc[/bits],hash,auth,group
# syntax (enc 7 = AES with a key length, 5 = 3DES, 1 = DES; hash 1 MD5, 2 SHA1, 4 SHA2-256,
# 5 SHA2-384; auth 1 PSK, 3 RSA signatures).
V1_TRANSFORMS = [
    f"{enc},{hash_},{auth},{group}"
    for enc, hash_, auth, group in itertools.product(
        ("7/256", "7/128", "5", "1"), (5, 4, 2, 1), (3, 1), (20, 19, 15, 14, 5, 2, 1)
    )
]
V2_GROUPS = (21, 32, 18, 20, 17, 16, 31, 19, 15, 14, 24, 23, 26, 5, 25, 22, 2, 1)


def out_datagrams() -> int:
    lines = Path("/proc/net/snmp").read_text().splitlines()
    udp = [line.split() for line in lines if line.startswith("Udp:")]
    return int(udp[1][udp[0].index("OutDatagrams")])


def timed(argvs: list[list[str]]) -> tuple[float, int, list[str]]:
    before = out_datagrams()
    started = time.perf_counter()
    outputs = [subprocess.run(a, capture_output=True, text=True).stdout for a in argvs]
    return time.perf_counter() - started, out_datagrams() - before, outputs


def measure(name: str, argvs: list[list[str]], runs: int, lab: object) -> dict[str, object]:
    times, datagrams, probes = [], [], []
    for _ in range(runs):
        lab.restart()  # type: ignore[attr-defined]  # no half-open state from the last run
        wall, sent, outputs = timed(argvs)
        times.append(wall)
        datagrams.append(sent)
        if name.startswith("probe"):
            doc = json.loads(outputs[0])
            probes.append(doc["targets"][0]["ike"]["probes"])
    return {
        "tool": name,
        "wall_s": statistics.median(times),
        "datagrams": statistics.median_low(datagrams),
        "probes": statistics.median_low(probes) if probes else len(argvs),
    }


def ike_scan(host: str, *args: str) -> list[str]:
    return ["ike-scan", "--sport=0", "--retry=1", "--timeout=500", *args, host]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per tool (median reported)")
    parser.add_argument("--in-namespace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.in_namespace:
        return rerun_in_namespace(__file__, ["--runs", str(args.runs)])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    from tests.lab.certs import make_lab_certs
    from tests.lab.strongswan import StrongSwanLab

    rows = []
    with tempfile.TemporaryDirectory(prefix="probe-ike-bench-") as tmp:
        certs = make_lab_certs(Path(tmp) / "certs")
        limits = {"block_threshold": 10000, "cookie_threshold": 10000, "cookie_threshold_ip": 0}
        with StrongSwanLab(Path(tmp) / "strongswan", certs=certs, **limits) as lab:
            v2 = lab["weak-ikev2"].host
            v1 = lab["ikev1-main"].host
            scan = ["scan", "--no-progress", "--json", "-", "--timeout", "2"]
            rows.append(
                measure(
                    "probe ike:// (IKEv2 responder)",
                    [probe_command([*scan, f"ike://{v2}"])],
                    args.runs,
                    lab,
                )
            )
            rows.append(
                measure(
                    "ike-scan --ikev2, per group",
                    [ike_scan(v2, "--ikev2", f"--dhgroup={g}") for g in V2_GROUPS],
                    args.runs,
                    lab,
                )
            )
            rows.append(
                measure(
                    "probe ike:// (IKEv1 responder)",
                    [probe_command([*scan, f"ike://{v1}"])],
                    args.runs,
                    lab,
                )
            )
            rows.append(
                measure(
                    "ike-scan IKEv1, per transform",
                    [ike_scan(v1, f"--trans={t}") for t in V1_TRANSFORMS],
                    args.runs,
                    lab,
                )
            )
    # Datagrams both ways: the responder runs in the same namespace.
    print(f"{'tool':<34} {'wall s (median)':>16} {'requests':>9} {'datagrams':>10}")
    for row in rows:
        print(f"{row['tool']:<34} {row['wall_s']:>16.2f} {row['probes']:>9} {row['datagrams']:>14}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
