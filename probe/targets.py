"""Turn what the user typed (arguments, files, stdin) into Targets.

Accepted forms: ``host``, ``host:port``, ``[v6]:port``, a bare IPv6 literal, ``scheme://host[:port]``
and CIDR blocks (``10.0.0.0/28``, ``2001:db8::/120``). The scheme chooses the check; a bare
host means TLS on 443. Parsing is pure: no DNS, no I/O beyond reading the given lines.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from probe.model import Target

# scheme -> (check, default port)
SCHEMES: dict[str, tuple[str, int]] = {
    "tls": ("tls", 443),
    "https": ("tls", 443),
    "smb": ("smb", 445),
    "ike": ("ike", 500),  # ike://host:4500 speaks NAT-T (non-ESP marker) on that port
    "sstp": ("sstp", 443),
    # STARTTLS: the TLS check, after the protocol's upgrade dialog (probe.codecs.starttls).
    "smtp": ("tls", 25),
    "submission": ("tls", 587),
    "imap": ("tls", 143),
    "pop3": ("tls", 110),
    "ftp": ("tls", 21),
    "ldap": ("tls", 389),
    "xmpp": ("tls", 5222),
    "postgres": ("tls", 5432),
    "mysql": ("tls", 3306),
    # Implicit TLS: plain TLS targets on the protocols' own ports.
    "smtps": ("tls", 465),
    "imaps": ("tls", 993),
    "pop3s": ("tls", 995),
    "ldaps": ("tls", 636),
    "ftps": ("tls", 990),
}
DEFAULT_SCHEME = "tls"

# A /16 of IPv4 is already 65536 endpoints; anything larger is almost surely a typo.
MAX_CIDR_ADDRESSES = 65536


class TargetError(ValueError):
    """A target that cannot be parsed; the message says why."""


@dataclass(frozen=True)
class BadTarget:
    """A line that could not be parsed, kept so the CLI can name it and carry on."""

    source: str  # "argument 2" or "hosts.txt:14"
    text: str
    reason: str


def _valid_hostname(host: str) -> bool:
    if not host or len(host) > 253:
        return False
    labels = host.rstrip(".").split(".")
    for label in labels:
        if not label or len(label) > 63:
            return False
        if label.startswith("-") or label.endswith("-"):
            return False
        # Allow IDNA U-labels (non-ASCII) and underscores (seen in real internal names).
        if not all(ch.isalnum() or ch in "-_" for ch in label):
            return False
    return True


def _parse_port(text: str, given: str) -> int:
    if not text.isdigit():
        raise TargetError(f"port {text!r} is not a number")
    port = int(text)
    if not 1 <= port <= 65535:
        raise TargetError(f"port {port} is out of range 1-65535")
    return port


def _server_name(host: str) -> str | None:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        name = host.rstrip(".").lower()
        try:  # SNI carries A-labels (RFC 6066 3)
            return name.encode("idna").decode("ascii")
        except UnicodeError:
            return name
    return None


def _split_host_port(rest: str, given: str) -> tuple[str, str | None]:
    """Split ``host[:port]``, ``[v6][:port]`` or a bare IPv6 literal."""
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise TargetError("missing ']' after IPv6 address")
        host = rest[1:end]
        tail = rest[end + 1 :]
        if tail and not tail.startswith(":"):
            raise TargetError(f"unexpected text {tail!r} after ']'")
        return host, (tail[1:] if tail else None)
    if rest.count(":") > 1:  # a bare IPv6 literal: no port possible
        return rest, None
    if ":" in rest:
        host, port = rest.split(":", 1)
        return host, port
    return rest, None


def parse_target(text: str, *, max_cidr: int = MAX_CIDR_ADDRESSES) -> list[Target]:
    """Parse one target. A CIDR block expands to one Target per host address."""
    given = text.strip()
    if not given:
        raise TargetError("empty target")
    if any(ch.isspace() for ch in given):
        raise TargetError("whitespace inside a target")
    scheme = DEFAULT_SCHEME
    written: str | None = None  # Target.scheme: what the user wrote, None for a bare host
    rest = given
    if "://" in given:
        scheme, rest = given.split("://", 1)
        scheme = scheme.lower()
        if scheme not in SCHEMES:
            known = ", ".join(sorted(SCHEMES))
            raise TargetError(f"unknown scheme {scheme!r} (known: {known})")
        rest = rest.rstrip("/")
        written = scheme
    check, default_port = SCHEMES[scheme]
    if "/" in rest:
        return _expand_cidr(given, rest, check, default_port, max_cidr, written)
    host, port_text = _split_host_port(rest, given)
    port = _parse_port(port_text, given) if port_text is not None else default_port
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if not _valid_hostname(host):
            raise TargetError(f"{host!r} is not a valid host name or IP address") from None
        return [
            Target(
                given=given,
                host=host.lower(),
                port=port,
                check=check,
                server_name=_server_name(host),
                scheme=written,
            )
        ]
    return [
        Target(
            given=given, host=str(address), port=port, check=check, server_name=None, scheme=written
        )
    ]


def _expand_cidr(
    given: str, rest: str, check: str, default_port: int, max_cidr: int, scheme: str | None
) -> list[Target]:
    network_text, port_text = rest, None
    # "10.0.0.0/30:8443" and "[2001:db8::/126]:443" carry a port after the block.
    if rest.startswith("["):
        network_text, port_text = _split_host_port(rest, given)
    elif rest.count(":") == 1:
        network_text, port_text = rest.split(":", 1)
    port = _parse_port(port_text, given) if port_text is not None else default_port
    try:
        network = ipaddress.ip_network(network_text, strict=False)
    except ValueError as exc:
        raise TargetError(f"bad CIDR block: {exc}") from None
    if network.num_addresses > max_cidr:
        raise TargetError(
            f"CIDR block {network} has {network.num_addresses} addresses; the cap is {max_cidr}"
            " (split it, or raise --max-cidr)"
        )
    hosts = list(network.hosts()) or [network.network_address]
    return [
        Target(given=given, host=str(h), port=port, check=check, server_name=None, scheme=scheme)
        for h in hosts
    ]


def iter_lines(lines: Iterable[str], source: str) -> Iterator[tuple[str, str]]:
    """Yield (where, text) for each meaningful line: ``#`` comments and blank lines are skipped."""
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if text:
            yield f"{source}:{number}", text


def collect_targets(
    items: Iterable[tuple[str, str]], *, max_cidr: int = MAX_CIDR_ADDRESSES
) -> tuple[list[Target], list[BadTarget]]:
    """Parse (where, text) pairs; duplicates (same check, host and port) are kept once."""
    seen: set[tuple[str, str, int]] = set()
    targets: list[Target] = []
    bad: list[BadTarget] = []
    for where, text in items:
        try:
            parsed = parse_target(text, max_cidr=max_cidr)
        except TargetError as exc:
            bad.append(BadTarget(source=where, text=text, reason=str(exc)))
            continue
        for target in parsed:
            key = (target.check, target.host, target.port)
            if key not in seen:
                seen.add(key)
                targets.append(target)
    return targets, bad
