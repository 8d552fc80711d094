"""Offline capture analysis (issue 5): flow table with bounded TCP reassembly, and content
classification of flows. Pure Python and sans-I/O: frames come from
:mod:`probe.codecs.pcap` and :mod:`probe.codecs.packet`."""

from __future__ import annotations

from probe.pcap.classify import Classification, classify
from probe.pcap.flows import Flow, FlowTable

__all__ = ["Classification", "Flow", "FlowTable", "classify"]
