"""The libreswan lab starts pluto in its own namespace, answers there, really has the facts
recorded in ``expected``, and leaves nothing behind.

The oracles are pluto itself (``whack --status`` lists the algorithms it loaded; its log says
why it ignored an offer) and ike-scan 1.9.5, run in the lab's network namespace. ike-scan sends
only its one default IKEv2 proposal, so the strong IKEv2 suite rests on pluto's own listing.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab.libreswan import (
    CLIENT_ADDRESS,
    LAB_PSK,
    LIBRESWAN_CONFIGS,
    PEER_ID,
    ROOT_ENV,
    SERVER_ADDRESS,
    LibreswanConfig,
    LibreswanLab,
    ike_scan,
    namespace_processes,
)
from tests.lab.servers import LabError, require_binary
from tests.lab.strongswan import ipv4_addresses, udp_listeners

AGGRESSIVE_CONFIGS = [n for n, c in LIBRESWAN_CONFIGS.items() if c.expected["aggressive_mode"]]
SILENCE_MS = 600  # how long a probe waits before calling it silence
V1_ENCRYPTION = {"AES-CBC-128": "7/128", "AES-CBC-256": "7/256", "3DES": "5"}
V1_HASH = {"PRF-HMAC-SHA1": "2", "PRF-HMAC-SHA2-256": "4", "PRF-HMAC-MD5": "1"}
V1_AUTH = {"PSK": "1", "XAUTH-PSK": "65001"}
GROUP_NUMBER = {"MODP-1536": "5", "MODP-2048": "14"}


def v1_trans(suite: dict[str, Any], auth: str = "PSK") -> str:
    enc, hash_ = V1_ENCRYPTION[suite["encryption"]], V1_HASH[suite["prf"]]
    return f"--trans={enc},{hash_},{V1_AUTH[auth]},{GROUP_NUMBER[suite['group']]}"


def aggressive(lab: LibreswanLab, *trans: str, **kwargs: Any) -> Any:
    group = GROUP_NUMBER[lab.expected["proposals"][0]["group"]]
    return ike_scan(lab, "-A", f"--id={PEER_ID}", f"--dhgroup={group}", *trans, **kwargs)


@pytest.fixture(scope="module")
def labs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, LibreswanLab]]:
    root = tmp_path_factory.mktemp("libreswan")
    started: dict[str, LibreswanLab] = {}
    try:
        for name in LIBRESWAN_CONFIGS:
            started[name] = LibreswanLab(root / name, name).start()
        yield started
    finally:
        for lab in started.values():
            lab.close()


@pytest.mark.parametrize("name", list(LIBRESWAN_CONFIGS))
def test_pluto_runs_alone_in_its_namespace_with_the_configured_algorithms(
    labs: dict[str, LibreswanLab], name: str
) -> None:
    lab = labs[name]
    assert lab.ike_algorithms() == lab.expected["pluto_algorithms"], lab.status()
    assert lab.netns is not None and lab.netns != os.readlink("/proc/self/ns/net")
    status = lab.status()
    assert f"interface lo UDP {SERVER_ADDRESS}:500" in status
    assert f"interface lo UDP {SERVER_ADDRESS}:4500" in status
    assert f"{CLIENT_ADDRESS}:" not in status.split("config setup")[0]  # not listening there
    # nothing of pluto's in the main namespace: no socket, no address
    for port in (500, 4500):
        assert not any("pluto" in line for line in udp_listeners(port))
    assert SERVER_ADDRESS not in ipv4_addresses()


def test_ikev2_psk_answers_ike_scan(labs: dict[str, LibreswanLab]) -> None:
    lab = labs["ikev2-psk"]
    default = ike_scan(lab, "--ikev2")
    assert default.kind == "notify", default.output
    assert default.notify == lab.expected["ike_scan_default"]["answer"]
    retry = ike_scan(lab, "--ikev2", "--dhgroup=5")  # the group pluto asked for
    assert retry.kind == "ikev2", retry.output
    weak = lab.expected["ike_scan_retry"]["suite"]
    assert weak == lab.expected["proposals"][1]
    assert retry.sa == {
        "Encr": "AES_CBC",
        "KeyLength": "128",
        "Prf": "HMAC_SHA1",
        "Integ": "HMAC_SHA1_96",
        "DH_Group": "5:modp1536",
    }
    # the client spoke from 127.0.0.1, which pluto does not hold (see the lab's docstring)
    assert f'"ikev2-psk"[2] {CLIENT_ADDRESS} #2: sent IKE_SA_INIT reply' in lab.log_text()


def test_ikev2_psk_answers_on_the_nat_t_port(labs: dict[str, LibreswanLab]) -> None:
    answer = ike_scan(labs["ikev2-psk"], "--ikev2", "--dhgroup=5", nat_t=True)
    assert answer.kind == "ikev2", answer.output


@pytest.mark.parametrize("name", list(LIBRESWAN_CONFIGS))
def test_ikev1_main_mode_is_never_answered(labs: dict[str, LibreswanLab], name: str) -> None:
    lab = labs[name]
    suite = lab.expected["proposals"][-1]
    answer = ike_scan(lab, v1_trans(suite), timeout_ms=SILENCE_MS)
    assert answer.kind is None and not lab.expected["main_mode"], answer.output
    assert "initial Main Mode message received but no connection has been authorized" in (
        lab.log_text()
    )


@pytest.mark.parametrize("name", AGGRESSIVE_CONFIGS)
def test_ikev2_to_an_ikev1_only_responder(labs: dict[str, LibreswanLab], name: str) -> None:
    answer = ike_scan(labs[name], "--ikev2", "--dhgroup=14")
    assert answer.kind == "notify" and answer.notify == "NO_PROPOSAL_CHOSEN", answer.output
    assert labs[name].expected["ikev2_answer"] == "NO_PROPOSAL_CHOSEN"


@pytest.mark.parametrize("name", AGGRESSIVE_CONFIGS)
def test_aggressive_mode_gives_away_the_psk_hash(
    labs: dict[str, LibreswanLab], name: str, tmp_path: Path
) -> None:
    lab = labs[name]
    expected = lab.expected
    suite = expected["proposals"][0]
    params = tmp_path / "psk-params"
    answer = aggressive(lab, v1_trans(suite, expected["aggressive_auth"]), f"--pskcrack={params}")
    assert answer.kind == "aggressive" and expected["aggressive_mode"], answer.output
    assert answer.sa["Enc"] == "AES" and answer.sa["KeyLength"] == "128", answer.sa
    assert answer.sa["Hash"] == "SHA1" and answer.sa["Group"] == "14:modp2048", answer.sa
    assert answer.sa["Auth"] == expected["aggressive_auth"].replace("-", "_")
    assert "Hash(20 bytes)" in answer.payloads, answer.output
    assert f"ID(Type=ID_FQDN, Value={expected['local_id']})" in answer.payloads
    vendors = [p.split("(", 1)[1].rstrip(")") for p in answer.payloads if p.startswith("VID=")]
    assert vendors == expected["vendor_ids"], answer.output
    # HASH_R is the PSK's: a dictionary attack finds it offline
    words = tmp_path / "words"
    words.write_text(f"password\nvpnsecret\n{expected['psk']}\n")
    cracked = subprocess.run(
        [require_binary("psk-crack"), "-d", str(words), str(params)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert f'key "{LAB_PSK}" matches' in cracked.stdout, cracked.stdout + cracked.stderr


@pytest.mark.parametrize("name", AGGRESSIVE_CONFIGS)
def test_aggressive_mode_matches_the_offered_auth_methods(
    labs: dict[str, LibreswanLab], name: str
) -> None:
    """pluto picks the connection by every auth method in the offer (XAUTH or not, exactly)."""
    lab = labs[name]
    suite = lab.expected["proposals"][0]
    mine = lab.expected["aggressive_auth"]
    other = "PSK" if mine == "XAUTH-PSK" else "XAUTH-PSK"
    alone = aggressive(lab, v1_trans(suite, other), timeout_ms=SILENCE_MS)
    assert alone.kind == lab.expected["other_auth_answer"], alone.output
    both = aggressive(
        lab, v1_trans(suite, "PSK"), v1_trans(suite, "XAUTH-PSK"), timeout_ms=SILENCE_MS
    )
    expected = lab.expected["mixed_auth_answer"]
    assert both.kind == ("aggressive" if expected == "handshake" else expected), both.output
    ignored = "initial Aggressive Mode message from 127.0.0.1:"
    assert ignored in lab.log_text()
    assert "but no (wildcard) connection has been configured with authby PSK" in lab.log_text()


@pytest.mark.parametrize("name", AGGRESSIVE_CONFIGS)
def test_aggressive_mode_answers_only_the_configured_peer_id(
    labs: dict[str, LibreswanLab], name: str
) -> None:
    lab = labs[name]
    suite = lab.expected["proposals"][0]
    answer = ike_scan(
        lab, "-A", "--id=someone@else.invalid", "--dhgroup=14",
        v1_trans(suite, lab.expected["aggressive_auth"]), timeout_ms=SILENCE_MS,
    )  # fmt: skip
    assert answer.kind == lab.expected["other_id_answer"], answer.output
    right = aggressive(lab, v1_trans(suite, lab.expected["aggressive_auth"]))
    assert right.kind == "aggressive", right.output  # the same offer with the right ID


def test_refused_algorithm_fails_loudly(tmp_path: Path) -> None:
    """Debian's pluto has no MODP-1024 (DH group 2): the lab says so instead of starting a
    responder without the connection."""
    base = LIBRESWAN_CONFIGS["ikev2-psk"]
    config = LibreswanConfig(
        "modp1024", "refused", 2, "aes128-sha1;modp1024", base.options, base.expected
    )
    with pytest.raises(LabError, match="modp1024' is not supported"):
        LibreswanLab(tmp_path / "lab", config).start()


def test_missing_pluto_fails_loudly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ROOT_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(LabError, match=r"pluto is not installed.*install-test-deps"):
        LibreswanLab(tmp_path / "lab", "ikev2-psk").start()


def _tree(path: Path) -> dict[str, str]:
    """Every file under ``path`` with a digest of its content (empty when it does not exist)."""
    if not path.exists():
        return {}
    if path.is_file():
        return {str(path): hashlib.sha256(path.read_bytes()).hexdigest()}
    found = {}
    for entry in sorted(path.rglob("*")):
        found[str(entry)] = (
            hashlib.sha256(entry.read_bytes()).hexdigest() if entry.is_file() else "dir"
        )
    return found


def test_close_leaves_nothing_behind(tmp_path: Path) -> None:
    watched = [Path(p) for p in ("/run/pluto", "/etc/ipsec.d", "/etc/ipsec.conf")]
    watched += [Path("/etc/ipsec.secrets"), Path("/var/lib/ipsec")]
    before = {str(p): _tree(p) for p in watched}
    mounts_before = Path("/proc/self/mounts").read_text()
    lab = LibreswanLab(tmp_path / "lab", "ikev2-psk")
    with lab:
        pid, netns = lab.pid, lab.netns
        assert pid is not None and netns is not None
        assert namespace_processes(netns) == [pid]
        answer = ike_scan(lab, "--ikev2", "--dhgroup=5")
        assert answer.kind == "ikev2", answer.output
    assert lab.pid is None
    with pytest.raises(ProcessLookupError):  # stopped and reaped
        os.kill(pid, 0)
    assert namespace_processes(netns) == []  # the namespaces went with pluto
    assert {str(p): _tree(p) for p in watched} == before
    assert Path("/proc/self/mounts").read_text() == mounts_before
    assert "Pluto is shutting down" in lab.log_text()  # SIGTERM, a clean stop
    assert not lab.ctl.exists()
    for port in (500, 4500):
        assert not any("pluto" in line for line in udp_listeners(port))
    assert SERVER_ADDRESS not in ipv4_addresses()
    with pytest.raises(LabError, match="pluto is not running"):
        lab.run(["true"])
