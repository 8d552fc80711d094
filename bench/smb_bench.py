#!/usr/bin/env python3
"""SMB: probe's no-credential grade against nmap's smb-protocols, smb2-security-mode and
smb2-capabilities on the same Samba smbd (the lab's default configuration).

    python3 bench/smb_bench.py --runs 5

Like tls_bench.py it runs inside a fresh network namespace (root) so /proc/net/snmp's
ActiveOpens counts exactly each tool's TCP connections.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tls_bench import ROOT, measure, probe_command, rerun_in_namespace

NMAP_SCRIPTS = "smb-protocols,smb2-security-mode,smb2-capabilities"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per tool (median reported)")
    parser.add_argument("--in-namespace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.in_namespace:
        return rerun_in_namespace(__file__, ["--runs", str(args.runs)])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    from tests.lab.samba import SambaServer

    with (
        tempfile.TemporaryDirectory(prefix="probe-smb-bench-") as tmp,
        SambaServer("default", Path(tmp)) as smbd,
    ):
        target = f"smb://{smbd.host}:{smbd.port}"
        rows = [
            measure(
                "probe smb",
                probe_command(["scan", target, "--no-progress"]),
                args.runs,
            ),
            measure(
                "nmap smb scripts",
                [
                    "nmap",
                    "-Pn",
                    "-n",
                    "-p",
                    str(smbd.port),
                    "--script",
                    NMAP_SCRIPTS,
                    "--script-args",
                    f"smbport={smbd.port}",
                    smbd.host,
                ],
                args.runs,
            ),
        ]
    print(f"{'tool':<24} {'wall s (median)':>16} {'TCP connections':>16}")
    for row in rows:
        print(f"{row['tool']:<24} {row['wall_s']:>16.2f} {row['connections']:>16}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
