"""MACsec frames (IEEE 802.1AE, EtherType 0x88E5) are encrypted at layer 2: counted in the
summary as encrypted bytes under "macsec", never as "not IP", and never as flows. No MACsec
device exists here (the kernel has no macsec module loaded), so the frames are built by hand
to the standard's layout: SecTAG (TCI/AN, SL, PN, optional SCI), secure data, ICV."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from probe.codecs.packet import LINKTYPE_LINUX_SLL2, decode_fields, is_macsec
from probe.pcap.analyze import analyze
from tests.pcap.pcap_writer import conversation, write_pcap

MACS = bytes.fromhex("020000000002") + bytes.fromhex("020000000001")


def macsec_frame(payload_len: int = 60, vlan: int | None = None) -> bytes:
    # 802.1AE 9.3: TCI/AN with SC (0x20) and E|C (0x0C), SL 0, PN, SCI (8); then data and ICV.
    sectag = bytes([0x2C, 0x00]) + (7).to_bytes(4, "big") + bytes.fromhex("0200000000010001")
    body = sectag + bytes(range(256))[:payload_len] + bytes(16)
    tag = b"" if vlan is None else b"\x81\x00" + vlan.to_bytes(2, "big")
    return MACS + tag + b"\x88\xe5" + body


def test_frames_are_recognised_with_and_without_vlan_tags() -> None:
    for frame in (macsec_frame(), macsec_frame(vlan=42)):
        assert decode_fields(1, frame) is None
        assert is_macsec(1, frame)
    arp = MACS + b"\x08\x06" + bytes(28)
    assert not is_macsec(1, arp)
    sll2 = b"\x88\xe5" + bytes(18) + macsec_frame()[14:]
    assert is_macsec(LINKTYPE_LINUX_SLL2, sll2)
    assert not is_macsec(101, macsec_frame())  # raw IP link type: no EtherType at all


def test_summary_counts_macsec_as_encrypted_bytes(tmp_path: Path) -> None:
    frames = [(1_000_000 + i, macsec_frame(80)) for i in range(3)]
    http = conversation(
        ("10.0.0.1", 40000), ("10.0.0.2", 80), [(True, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")]
    )
    capture = write_pcap(tmp_path / "mixed.pcap", [*frames, *http])
    summary = analyze([capture]).summary
    [macsec] = [p for p in summary.by_protocol if p.protocol == "macsec"]
    assert (macsec.encrypted, macsec.flows, macsec.packets) == (True, 0, 3)
    assert macsec.bytes == sum(len(f) for _, f in frames)
    assert summary.encrypted_bytes == macsec.bytes  # the HTTP flow is cleartext
    assert summary.cleartext_bytes > 0
    assert summary.ignored.not_ip == 0
    assert all(p.protocol != "macsec" for p in analyze([capture]).flows)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.sampled_from([1, 113, LINKTYPE_LINUX_SLL2, 101]))
def test_hostile_frames_never_raise(data: bytes, link_type: int) -> None:
    assert is_macsec(link_type, data) in (True, False)
