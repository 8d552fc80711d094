"""scripts/install-test-deps.sh installs every binary the lab requires."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "install-test-deps.sh"
LAB = ROOT / "tests" / "lab"

# Binaries the lab and its tests run, beyond what require_binary() names.
EXTRA_BINARIES = {"ss", "gnutls-cli"}


def _packages() -> list[str]:
    text = SCRIPT.read_text()
    block = re.search(r"^packages=\(\n(.*?)^\)", text, re.M | re.S)
    assert block, "packages=( ... ) list not found"
    return block.group(1).split()


def _required_binaries() -> set[str]:
    names: set[str] = set(EXTRA_BINARIES)
    for path in LAB.glob("*.py"):
        names |= set(re.findall(r'require_binary\("([^"]+)"\)', path.read_text()))
    return names


def test_script_is_executable_bash_with_strict_mode() -> None:
    text = SCRIPT.read_text()
    assert SCRIPT.stat().st_mode & 0o111
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert "apt-get update" in text
    assert '-m pip install "${pip_flags[@]}" -e ".[test]"' in text
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


def test_every_required_binary_comes_from_a_listed_package() -> None:
    packages = set(_packages())
    binaries = _required_binaries()
    assert {"openssl", "nginx", "gnutls-serv", "unshare"} <= binaries
    for binary in sorted(binaries):
        path = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/sbin")
        assert path, f"{binary} is not installed: run {SCRIPT.name}"
        real = str(Path(path).resolve())
        owners: set[str] = set()
        for candidate in {path, real, real.replace("/usr/", "/", 1)}:
            result = subprocess.run(
                ["dpkg-query", "-S", candidate], capture_output=True, text=True, check=False
            )
            owners |= {
                name.split(":")[0].strip()
                for line in result.stdout.splitlines()
                for name in line.split(": ")[0].split(",")
            }
        # nginx-light ships no binary of its own: nginx-core/nginx does, as its dependency.
        if binary == "nginx":
            assert "nginx-light" in packages or "nginx" in packages
            continue
        assert owners & packages, f"{binary} ({real}) comes from {owners}, not in {packages}"
