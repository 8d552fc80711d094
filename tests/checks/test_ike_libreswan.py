"""probe's IKE check against libreswan 4.10 (tests/lab/libreswan.py), the second IKE
implementation beside strongSwan (tests/checks/test_ike_check.py).

pluto runs in a private network namespace, so probe runs there too, as a user would run it:
``python3 -m probe scan ike://127.0.0.2 --json - --timeout 2``, one subprocess per
configuration, and the tests read the JSON ``ike`` object. The expected facts are the lab's
(``LibreswanLab.expected``), each checked with ike-scan or pluto's own listing in
tests/lab_tests/test_libreswan_lab.py.

pluto never answers IKEv1 Main Mode here (see the lab's docstring); from a responder that
answers IKEv2, probe reads that silence as "no IKEv1 Main Mode", so nothing is incomplete.
"""

from __future__ import annotations

import json
import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.lab.libreswan import LIBRESWAN_CONFIGS, LibreswanLab

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
AGGRESSIVE_CONFIGS = [n for n, c in LIBRESWAN_CONFIGS.items() if c.expected["aggressive_mode"]]
KINDS = (("encryption", "encryption"), ("prf", "prf"), ("integrity", "integrity"))


@dataclass(frozen=True)
class Scan:
    name: str
    expected: dict[str, Any]
    target: dict[str, Any]  # the JSON target object
    log: str  # pluto's log of the exchanges, for failure messages

    @property
    def ike(self) -> dict[str, Any]:
        ike = self.target["ike"]
        assert isinstance(ike, dict), self.target
        return ike

    def why(self) -> str:
        return (
            f"{json.dumps(self.ike, indent=1)}\n--- pluto log ({self.name}) ---\n{self.log[-6000:]}"
        )


def _scan(lab: LibreswanLab) -> Scan:
    argv = [sys.executable, "-m", "probe", "scan", f"ike://{lab.host}", "--json", "-"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = lab.run([*argv, "--timeout", "2"], timeout=120, cwd=ROOT, env=env)
    # 0: passes the profile, 1: some requirement failed; anything else is an error
    assert done.returncode in (0, 1), f"{done.returncode}\n{done.stdout}\n{done.stderr}"
    report = json.loads(done.stdout)
    (target,) = report["targets"]
    return Scan(lab.name, dict(lab.expected), target, lab.exchanges())


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Scan]:
    """One lab per configuration, each scanned once; the labs run side by side, each in its
    own namespace, so the scans' silences (about 5 s each) overlap."""
    root = tmp_path_factory.mktemp("ike-libreswan")
    labs = [LibreswanLab(root / name, name) for name in LIBRESWAN_CONFIGS]
    try:
        for lab in labs:
            lab.start()
        with ThreadPoolExecutor(len(labs)) as pool:
            results = {scan.name: scan for scan in pool.map(_scan, labs)}
    finally:
        for lab in labs:
            lab.close()
    return results


def _suite(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if item is None:
        return None
    return {
        "encryption": item["encryption"],
        "prf": item["prf"],
        "integrity": item["integrity"],
        "group": item["dh_group"],
    }


@pytest.mark.parametrize("name", list(LIBRESWAN_CONFIGS))
def test_scan_completes(scans: dict[str, Scan], name: str) -> None:
    scan = scans[name]
    assert scan.target["status"] == "completed", scan.target["error"]
    assert scan.target["error"] is None
    # pluto drops Main Mode it has no connection for; probe reads that silence, from a
    # responder that answers IKEv2, as "no IKEv1", not as a failed measurement.
    assert scan.ike["incomplete"] == {}, scan.why()


@pytest.mark.parametrize("name", list(LIBRESWAN_CONFIGS))
def test_ike_versions(scans: dict[str, Scan], name: str) -> None:
    scan = scans[name]
    # IKEv1-only configurations answer IKEv2 too: with NO_PROPOSAL_CHOSEN
    assert scan.ike["ikev2"] is True, scan.why()
    assert scan.ike["ikev1"] is (scan.expected["ike_version"] == 1), scan.why()


def test_ikev2_enumeration_matches_the_configuration(scans: dict[str, Scan]) -> None:
    scan = scans["ikev2-psk"]
    expected, ike = scan.expected, scan.ike
    accepted = ike["ikev2_accepted"]
    for kind, key in KINDS:
        assert set(accepted[kind]) == set(expected[key]), scan.why()
    assert set(accepted["dh_groups"]) == set(expected["groups"]), scan.why()
    assert ike["accepted"] == accepted  # nothing over IKEv1
    assert _suite(ike["ikev2_preferred"]) == expected["preferred"], scan.why()
    assert ike["ikev1_accepted"]["encryption"] == []
    assert ike["ikev1_transforms"] == []
    assert ike["certificate_requests"] is False
    assert "IKEV2_FRAGMENTATION_SUPPORTED" in ike["notifies"]
    assert ike["nat_t"] is True
    assert ike["probes"] <= 30  # the budget for a full IKEv2 enumeration


@pytest.mark.parametrize("name", AGGRESSIVE_CONFIGS)
def test_ikev2_accepts_nothing_on_an_ikev1_only_responder(
    scans: dict[str, Scan], name: str
) -> None:
    scan = scans[name]
    assert scan.expected["ikev2_answer"] == "NO_PROPOSAL_CHOSEN"
    assert scan.ike["ikev2_accepted"]["encryption"] == [], scan.why()
    assert scan.ike["ikev2_preferred"] is None
    assert scan.ike["nat_t"] is True  # answered (NO_PROPOSAL_CHOSEN) on 4500 too


@pytest.mark.parametrize("name", list(LIBRESWAN_CONFIGS))
def test_aggressive_mode_psk(scans: dict[str, Scan], name: str) -> None:
    scan = scans[name]
    ike = scan.ike
    if not scan.expected["aggressive_mode"]:
        # pluto drops IKEv1 here: no hash, and nothing to tell it from a filter
        assert ike["aggressive_mode_psk"] is not True, scan.why()
        return
    assert ike["aggressive_mode_psk"] is True, scan.why()
    evidence = ike["aggressive_mode_evidence"]
    assert "HASH_R" in evidence, evidence
    assert scan.expected["aggressive_auth"] in evidence, evidence
    assert not re.search(r"[0-9a-fA-F]{12,}", evidence)  # prose, never the hash


@pytest.mark.parametrize("name", AGGRESSIVE_CONFIGS)
def test_aggressive_mode_suite_is_among_the_ikev1_algorithms(
    scans: dict[str, Scan], name: str
) -> None:
    """The suite pluto chose in its Aggressive Mode answer is an IKEv1 suite it accepts; Main
    Mode is silent, so that answer is the only place to learn it from."""
    scan = scans[name]
    (suite,) = scan.expected["proposals"]
    for accepted in (scan.ike["ikev1_accepted"], scan.ike["accepted"]):
        for kind, key in KINDS:
            assert suite[key] in accepted[kind], scan.why()
        assert suite["group"] in accepted["dh_groups"], scan.why()


@pytest.mark.parametrize("name", list(LIBRESWAN_CONFIGS))
def test_grading(scans: dict[str, Scan], name: str) -> None:
    scan = scans[name]
    ids = {f["id"] for f in scan.target["findings"]}
    assert scan.target["passed"] is False  # every configuration here has a weakness
    if scan.expected["ike_version"] == 2:
        assert "IKE-WEAK-ALGORITHMS" in ids, ids  # SHA-1 and MODP-1536
        assert "IKE-NO-IKEV1" not in ids
        assert "IKE-NO-AGGRESSIVE-PSK" not in ids
    else:
        assert {"IKE-NO-IKEV1", "IKE-NO-AGGRESSIVE-PSK", "IKE-WEAK-ALGORITHMS"} <= ids, ids
