"""FAKE pppd for the SSTP lab: a stand-in, not a PPP implementation.

Why a stand-in: sstpd (sorz/sstp-server) hands every SSTP call to a pppd process, and a real
pppd needs the ``ppp_generic`` kernel module and ``/dev/ppp``, which CI containers do not
have; nor could a real pppd be told to stop after its first LCP packet. What the probe
measures is only that first packet: the server's LCP Configure-Request and the
Authentication-Protocol option in it (RFC 1661 6.2), so this script sends exactly that and
nothing else.

How sstpd 0.6.0 runs it (``sstpd/sstp.py``), so how this script is invoked:

* once at sstpd start-up, ``<pppd> plugin sstp-pppd-plugin.so notty dryrun`` to probe for the
  crypto-binding plugin: this script exits 1 ("no such plugin"), so sstpd does not wait for
  PPP keys (exactly as with a pppd lacking ``sstp-pppd-plugin.so``);
* per call, after sending the Call Connect Ack,
  ``<pppd> notty file <options> 115200 <local>:<remote> [remotenumber <client ip>]`` with
  stdin and stdout as pipes (no pty in 0.6.0): sstpd writes the client's HDLC-framed PPP to
  stdin and reads pppd's from stdout, forwarding control frames (LCP...) to the client as
  SSTP data packets.

The authentication protocol comes from the ``file <options>`` argument, the same line a real
pppd would read: ``require-pap``, ``require-chap`` (CHAP with MD5), ``require-mschap``,
``require-mschap-v2`` or ``require-eap``; none of them (e.g. ``noauth``) means an LCP
Configure-Request without the option. The last such line wins.

It writes one HDLC-like framed (RFC 1662: 0x7E flags, 0x7D escaping of 0x7D, 0x7E and every
byte below 0x20 as for the default ACCM, FCS-16 of 4.1/C.2) LCP Configure-Request, then idles
reading stdin until EOF or until it is killed (sstpd terminates it when the client leaves).

Run it as ``python fake_pppd.py ...``; the lab (tests/lab/sstp.py) writes a small executable
wrapper that does so, because sstpd executes ``--pppd`` directly.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# RFC 1661 6.2 / RFC 1334 / RFC 1994 / RFC 2433 / RFC 2759 / RFC 3748: the data of LCP option
# 3 (Authentication-Protocol) for each pppd "require-*" option.
AUTH_OPTIONS: dict[str, bytes] = {
    "require-pap": b"\xc0\x23",  # PAP
    "require-chap": b"\xc2\x23\x05",  # CHAP, algorithm 5 = MD5
    "require-mschap": b"\xc2\x23\x80",  # CHAP, algorithm 0x80 = MS-CHAP
    "require-mschap-v2": b"\xc2\x23\x81",  # CHAP, algorithm 0x81 = MS-CHAPv2
    "require-eap": b"\xc2\x27",  # EAP
}
LCP_IDENTIFIER = 1
MAGIC_NUMBER = b"PROB"  # fixed, so the frames are reproducible (RFC 1661 6.4 allows any value)


def fcs16(data: bytes) -> int:
    """The PPP 16-bit FCS of RFC 1662 C.2 (reflected CRC-CCITT, init 0xFFFF), not yet
    complemented."""
    fcs = 0xFFFF
    for byte in data:
        fcs ^= byte
        for _ in range(8):
            fcs = (fcs >> 1) ^ 0x8408 if fcs & 1 else fcs >> 1
    return fcs


def hdlc_frame(frame: bytes) -> bytes:
    """RFC 1662 4.1 / 4.2: flag, escaped frame + complemented FCS (low byte first), flag."""
    fcs = fcs16(frame) ^ 0xFFFF
    raw = frame + bytes((fcs & 0xFF, fcs >> 8))
    out = bytearray(b"\x7e")
    for byte in raw:
        if byte < 0x20 or byte in (0x7D, 0x7E):
            out += bytes((0x7D, byte ^ 0x20))
        else:
            out.append(byte)
    out.append(0x7E)
    return bytes(out)


def lcp_configure_request(auth: bytes | None) -> bytes:
    """A PPP frame (address, control, protocol 0xC021) carrying an LCP Configure-Request
    (RFC 1661 5.1) with the options a pppd server sends first: ACCM (2), the
    Authentication-Protocol (3) when ``auth``, Magic-Number (5), PFC (7), ACFC (8)."""
    options = b"\x02\x06\x00\x00\x00\x00"
    if auth is not None:
        options += bytes((3, 2 + len(auth))) + auth
    options += b"\x05\x06" + MAGIC_NUMBER + b"\x07\x02" + b"\x08\x02"
    packet = bytes((1, LCP_IDENTIFIER)) + (4 + len(options)).to_bytes(2, "big") + options
    return b"\xff\x03\xc0\x21" + packet


def auth_from_options(path: Path) -> bytes | None:
    auth: bytes | None = None
    for line in path.read_text().splitlines():
        word = line.split("#", 1)[0].strip()
        if word in AUTH_OPTIONS:
            auth = AUTH_OPTIONS[word]
    return auth


def main(argv: list[str]) -> int:
    if "dryrun" in argv:
        print("fake_pppd: no plugin support (dryrun refused)", file=sys.stderr)
        return 1
    if "file" not in argv or argv.index("file") + 1 >= len(argv):
        print(f"fake_pppd: no 'file <options>' in {argv}", file=sys.stderr)
        return 2
    options = Path(argv[argv.index("file") + 1])
    auth = auth_from_options(options)
    print(
        f"fake_pppd: pid={os.getpid()} argv={argv} auth={auth.hex() if auth else None}",
        file=sys.stderr,
    )
    sys.stderr.flush()
    sys.stdout.buffer.write(hdlc_frame(lcp_configure_request(auth)))
    sys.stdout.buffer.flush()
    while os.read(0, 65536):  # the client's PPP frames: ignored, until EOF
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
