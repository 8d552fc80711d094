"""The verdict of a capture analysis (``probe pcap``): findings and whether the profile passes.

Apart from :mod:`probe.grading.pcap_rules` so that defining these dataclasses costs nothing to
commands that never judge a capture.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from probe.pcap.analyze import FlowRef


@dataclass(frozen=True, slots=True)
class CaptureFinding:
    """A requirement's judgement of a capture (the JSON ``findings`` entries of ``probe pcap``).
    ``evidence`` is redacted: fingerprints, never the secret itself. ``protocol`` and ``flow``
    are None for a finding about a capture file rather than traffic."""

    id: str
    severity: str
    protocol: str | None
    flow: FlowRef | None
    message: str
    evidence: str | None
    rationale: str
    reference: str


@dataclass(frozen=True, slots=True)
class CaptureVerdict:
    findings: tuple[CaptureFinding, ...]
    passed: bool
