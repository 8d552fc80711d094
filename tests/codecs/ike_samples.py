"""The recorded IKE datagrams of captures/ike (see its README.md and record.py).

Every ``.bin`` file there is one UDP payload: strongSwan 5.9.8's answers to requests built by
``probe.codecs.ike``, those requests, and ike-scan 1.9.5's own requests. ``NAT_T`` names the
ones that start with the RFC 3948 non-ESP marker (recorded on UDP 4500).
"""

from __future__ import annotations

from pathlib import Path

CAPTURES = Path(__file__).resolve().parents[2] / "captures" / "ike"

SAMPLES: dict[str, bytes] = {p.name: p.read_bytes() for p in sorted(CAPTURES.glob("*.bin"))}
NAT_T: frozenset[str] = frozenset(name for name in SAMPLES if name.endswith("_nat_t.bin"))
IKEV1: frozenset[str] = frozenset(
    name for name in SAMPLES if name.startswith(("ikev1_", "ikescan_main", "ikescan_aggr"))
)
IKEV2: frozenset[str] = frozenset(SAMPLES) - IKEV1
