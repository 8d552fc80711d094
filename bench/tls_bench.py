#!/usr/bin/env python3
"""Speed and connection counts: probe against sslscan, sslyze (and nmap) on the same servers.

    python3 bench/tls_bench.py                 # single server + 25-endpoint mass case
    python3 bench/tls_bench.py --mass 100 --runs 3
    python3 bench/tls_bench.py --only deep,https --runs 2
    python3 bench/tls_bench.py --only wan --rtt-ms 20 --runs 1

Runs itself inside a fresh network namespace (``unshare --net``, needs root) so that the
kernel's TCP counters (/proc/net/snmp ActiveOpens) count exactly the connections each tool
opens, and nothing else on the machine can disturb them or be disturbed.

Single server: ``openssl s_server`` with TLS 1.2 + 1.3, RSA-2048 and OpenSSL's default suites.
Every tool does a full grade: protocol versions, every cipher suite, the certificate.
Mass case: one nginx listening on N loopback ports, graded the same way by probe and sslyze.

Deep case (issue 6 "Speed"): ``--deep`` on an ``openssl s_server -www`` (HTTP, so sslyze's
0-RTT test gets its answer): probe with and without ``--deep`` (both ``--no-groups``; the
difference is the deep checks' cost), sslyze with only the scan commands --deep runs, and
sslyze's own full default scan (every scan command) of the same server.

WAN case: one nginx behind bench/delay_proxy.py, which adds ``--rtt-ms`` (20 by default) of
round-trip time to every connection: the costs a scan across a network pays, which loopback
hides (this kernel has no netem). probe, probe --deep, sslscan and sslyze on the same server.

HTTPS case: nginx with HSTS on TLS and a plain-HTTP server block redirecting to https, scanned
as ``https://127.0.0.1:PORT`` (with ``--http-port``: the HTTPS-enforcement requests) and as
``tls://127.0.0.1:PORT`` (none); the difference is the HTTPS-enforcement checks' cost.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SSLYZE_FULL_GRADE = [
    "--sslv2",
    "--sslv3",
    "--tlsv1",
    "--tlsv1_1",
    "--tlsv1_2",
    "--tlsv1_3",
    "--certinfo",
]


def install_probe(directory: Path) -> str:
    """probe as a user installs it: `pip install .` into a fresh venv, dependencies included
    (not the editable dev install, whose import finder adds to every start, nor this machine's
    site-packages and their .pth files)."""
    venv = directory / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
         "--disable-pip-version-check", str(ROOT)],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(venv / "bin" / "probe")


def probe_command(argv: Sequence[str]) -> list[str]:
    """The probe executable the outer process installed (see --probe-bin), or python -m probe."""
    return [PROBE_BIN, *argv] if PROBE_BIN else [sys.executable, "-m", "probe", *argv]


PROBE_BIN = os.environ.get("PROBE_BENCH_BIN", "")


def rerun_in_namespace(script: str, args: Sequence[str]) -> int:
    """Install probe, then run ``script --in-namespace ARGS`` in a fresh network namespace."""
    with tempfile.TemporaryDirectory(prefix="probe-bench-install-") as install_dir:
        env = {**os.environ, "PROBE_BENCH_BIN": install_probe(Path(install_dir))}
        argv = ["unshare", "--net", "--", sys.executable, script, "--in-namespace", *args]
        return subprocess.call(argv, env=env)


def stop_nginx(master: subprocess.Popen[bytes]) -> None:
    """SIGTERM lets the master stop its workers; SIGKILL would leave them running, orphaned."""
    master.terminate()
    try:
        master.wait(timeout=10)
    except subprocess.TimeoutExpired:
        master.kill()
        master.wait()


def active_opens() -> int:
    lines = Path("/proc/net/snmp").read_text().splitlines()
    tcp = [line.split() for line in lines if line.startswith("Tcp:")]
    header, values = tcp[0], tcp[1]
    return int(values[header.index("ActiveOpens")])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, deadline: float = 10.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def make_cert(workdir: Path) -> tuple[Path, Path]:
    key, cert = workdir / "key.pem", workdir / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "30",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return key, cert


def measure(name: str, argv: Sequence[str], runs: int) -> dict[str, object]:
    times, conns = [], []
    for _ in range(runs):
        before = active_opens()
        started = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        conns.append(active_opens() - before)
        if proc.returncode not in (0, 1):
            print(
                f"  {name} exited {proc.returncode}: {proc.stderr.strip()[-300:]}", file=sys.stderr
            )
    return {
        "tool": name,
        "wall_s": statistics.median(times),
        "connections": statistics.median_low(conns),
        "runs": runs,
    }


def single_server(workdir: Path, runs: int) -> list[dict[str, object]]:
    key, cert = make_cert(workdir)
    port = free_port()
    server = subprocess.Popen(
        [
            "openssl",
            "s_server",
            "-accept",
            str(port),
            "-key",
            str(key),
            "-cert",
            str(cert),
            "-no_tls1",
            "-no_tls1_1",
            "-quiet",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(port)
        target = f"127.0.0.1:{port}"
        probe_json = str(workdir / "probe.json")
        tools = [
            # The issue 2 grade (versions, every suite, certificate), then the default scan,
            # which adds the key-exchange groups (one hello per accepted group + 1 a version).
            (
                "probe --no-groups",
                probe_command(
                    ["scan", target, "--no-progress", "--no-groups", "--json", probe_json]
                ),
            ),
            ("probe", probe_command(["scan", target, "--no-progress", "--json", probe_json])),
            ("sslscan", ["sslscan", "--no-colour", target]),
            ("sslyze", [sys.executable, "-m", "sslyze", *SSLYZE_FULL_GRADE, target]),
        ]
        if shutil.which("nmap"):
            tools.append(
                (
                    "nmap ssl-enum-ciphers",
                    [
                        "nmap",
                        "-Pn",
                        "-n",
                        "-p",
                        str(port),
                        "--script",
                        "ssl-enum-ciphers",
                        "127.0.0.1",
                    ],
                )
            )
        return [measure(name, argv, runs) for name, argv in tools if shutil.which(argv[0])]
    finally:
        server.kill()
        server.wait()


NGINX_CONF = """
worker_processes 2;
pid {dir}/nginx.pid;
error_log {dir}/error.log crit;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
  server {{
{listens}
    ssl_certificate {cert}; ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    return 204;
  }}
}}
"""


def mass(workdir: Path, count: int, runs: int) -> list[dict[str, object]]:
    key, cert = make_cert(workdir)
    ports = [free_port() for _ in range(count)]
    listens = "\n".join(f"    listen 127.0.0.1:{p} ssl;" for p in ports)
    conf = workdir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=workdir, listens=listens, cert=cert, key=key))
    server = subprocess.Popen(
        ["nginx", "-c", str(conf), "-g", "daemon off; user root;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for port in ports:
            wait_listening(port)
        targets = workdir / "targets.txt"
        targets.write_text("".join(f"127.0.0.1:{p}\n" for p in ports))
        tools = [
            (
                f"probe x{count}",
                probe_command(
                    [
                        "scan",
                        "-f",
                        str(targets),
                        "--no-progress",
                        "--json",
                        str(workdir / "mass.json"),
                    ]
                ),
            ),
            (
                f"probe x{count} --no-groups",
                probe_command(
                    [
                        "scan",
                        "-f",
                        str(targets),
                        "--no-progress",
                        "--no-groups",
                        "--json",
                        str(workdir / "mass.json"),
                    ]
                ),
            ),
            (
                f"sslyze x{count}",
                [sys.executable, "-m", "sslyze", *SSLYZE_FULL_GRADE, "--targets_in", str(targets)],
            ),
        ]
        return [measure(name, argv, runs) for name, argv in tools]
    finally:
        stop_nginx(server)


# What probe's --deep asks sslyze for (probe.checks.tls_deep), as sslyze CLI options.
SSLYZE_DEEP_ONLY = [
    "--heartbleed",
    "--openssl_ccs",
    "--robot",
    "--reneg",
    "--fallback",
    "--resum",
    "--resum_attempts",
    "2",
    "--early_data",
]


def deep(workdir: Path, runs: int) -> list[dict[str, object]]:
    key, cert = make_cert(workdir)
    port = free_port()
    server = subprocess.Popen(
        ["openssl", "s_server", "-accept", str(port), "-key", str(key), "-cert", str(cert),
         "-no_tls1", "-no_tls1_1", "-www", "-quiet"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_listening(port)
        target = f"127.0.0.1:{port}"
        out = str(workdir / "deep.json")
        base = ["scan", target, "--no-progress", "--no-groups", "--json", out]
        tools = [
            ("probe --no-groups", probe_command(base)),
            ("probe --no-groups --deep", probe_command([*base, "--deep"])),
            ("sslyze deep commands", [sys.executable, "-m", "sslyze", *SSLYZE_DEEP_ONLY, target]),
            ("sslyze full default", [sys.executable, "-m", "sslyze", target]),
        ]
        return [measure(name, argv, runs) for name, argv in tools]
    finally:
        server.kill()
        server.wait()


HTTPS_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log crit;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
  server {{
    listen 127.0.0.1:{tls} ssl;
    server_name localhost;
    ssl_certificate {cert}; ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;
    return 204;
  }}
  server {{
    listen 127.0.0.1:{http};
    server_name localhost;
    return 301 https://$host:{tls}$request_uri;
  }}
}}
"""


def https(workdir: Path, runs: int) -> list[dict[str, object]]:
    key, cert = make_cert(workdir)
    tls_port, http_port = free_port(), free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(
        HTTPS_CONF.format(dir=workdir, tls=tls_port, http=http_port, cert=cert, key=key)
    )
    server = subprocess.Popen(
        ["nginx", "-c", str(conf), "-g", "daemon off; user root;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_listening(tls_port)
        wait_listening(http_port)
        out = str(workdir / "https.json")
        common = ["--no-progress", "--no-groups", "--ca-file", str(cert), "--json", out]
        https_target = ["scan", f"https://127.0.0.1:{tls_port}", "--http-port", str(http_port)]
        tools = [
            ("probe https:// (HSTS+80)", probe_command([*https_target, *common])),
            ("probe tls://", probe_command(["scan", f"tls://127.0.0.1:{tls_port}", *common])),
        ]
        return [measure(name, argv, runs) for name, argv in tools]
    finally:
        stop_nginx(server)


def wan(workdir: Path, runs: int, rtt_ms: float) -> list[dict[str, object]]:
    """One nginx (2 workers) behind bench/delay_proxy.py, which adds ``rtt_ms`` of round-trip
    time: what a scan of a server across a network costs, where loopback hides it. The proxy
    opens one upstream connection per connection it accepts, so the kernel's count is halved."""
    key, cert = make_cert(workdir)
    tls_port, proxy_port = free_port(), free_port()
    listens = f"    listen 127.0.0.1:{tls_port} ssl;"
    conf = workdir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=workdir, listens=listens, cert=cert, key=key))
    server = subprocess.Popen(
        ["nginx", "-c", str(conf), "-g", "daemon off; user root;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    proxy = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "delay_proxy.py"), str(proxy_port),
         str(tls_port), str(rtt_ms)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_listening(tls_port)
        wait_listening(proxy_port)
        target = f"127.0.0.1:{proxy_port}"
        out = str(workdir / "wan.json")
        base = ["scan", target, "--no-progress", "--json", out, "--timeout", "10"]
        label = f"{rtt_ms:g} ms RTT:"
        tools = [
            (f"{label} probe --no-groups", probe_command([*base, "--no-groups"])),
            (f"{label} probe", probe_command(base)),
            (f"{label} probe --no-groups --deep", probe_command([*base, "--no-groups", "--deep"])),
            (f"{label} sslscan", ["sslscan", "--no-colour", target]),
            (f"{label} sslyze grade", [sys.executable, "-m", "sslyze", *SSLYZE_FULL_GRADE, target]),
            (f"{label} sslyze full default", [sys.executable, "-m", "sslyze", target]),
        ]
        rows = [measure(name, argv, runs) for name, argv in tools]
        for row in rows:
            row["connections"] = int(row["connections"]) // 2  # type: ignore[call-overload]
        return rows
    finally:
        proxy.kill()
        proxy.wait()
        stop_nginx(server)


CASES = ("single", "mass", "deep", "https", "wan")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per tool (median reported)")
    parser.add_argument(
        "--mass", type=int, default=25, help="endpoints in the mass case (0 skips it)"
    )
    parser.add_argument(
        "--only",
        default=",".join(CASES),
        help=f"comma-separated cases to run, of {', '.join(CASES)} (default: all)",
    )
    parser.add_argument(
        "--rtt-ms", type=float, default=20.0, help="round-trip time the wan case adds (ms)"
    )
    parser.add_argument("--in-namespace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    only = set(args.only.split(","))
    if only - set(CASES):
        parser.error(f"unknown case(s): {', '.join(sorted(only - set(CASES)))}")
    if not args.in_namespace:
        forwarded = ["--runs", str(args.runs), "--mass", str(args.mass), "--only", args.only,
                     "--rtt-ms", str(args.rtt_ms)]  # fmt: skip
        return rerun_in_namespace(__file__, forwarded)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    os.chdir(ROOT)
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="probe-bench-") as tmp:
        if "single" in only:
            rows += single_server(Path(tmp), args.runs)
        if args.mass and "mass" in only:
            mass_dir = Path(tmp) / "mass"
            mass_dir.mkdir()
            rows += mass(mass_dir, args.mass, max(1, args.runs // 2))
        for case, run in (("deep", deep), ("https", https)):
            if case in only:
                case_dir = Path(tmp) / case
                case_dir.mkdir()
                rows += run(case_dir, args.runs)
        if "wan" in only:
            wan_dir = Path(tmp) / "wan"
            wan_dir.mkdir()
            rows += wan(wan_dir, args.runs, args.rtt_ms)
    print(f"{'tool':<28} {'wall s (median)':>16} {'TCP connections':>16}")
    for row in rows:
        print(f"{row['tool']:<28} {row['wall_s']:>16.2f} {row['connections']:>16}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
