"""HTTP/1.1 pieces of the HTTPS-enforcement check, sans-I/O.

* :func:`build_request`: a minimal GET with a Host field (RFC 9112 3.2).
* :class:`HttpHeadReader`: a reader for ``probe.net.stream.exchange`` that is done once the
  response head has arrived. The head parser is SSTP's (:func:`probe.codecs.sstp.parse_http_head`:
  capped at :data:`MAX_HTTP_HEAD` bytes, strict about framing, control characters and
  conflicting Content-Length values); the body is never read.
* :func:`parse_hsts` / :func:`hsts_from_headers`: the Strict-Transport-Security field (RFC 6797
  6.1, 8.1).
* :func:`resolve_redirect`: where a 301/302/303/307/308 Location points, as a :class:`Url`.

Every byte is hostile: nothing here raises anything but :class:`DecodeError` (or ValueError
for bad arguments of the builder, which come from probe itself).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from probe.codecs.errors import DecodeError
from probe.codecs.sstp import MAX_HTTP_HEAD, HttpAnswer, parse_http_head

__all__ = [
    "MAX_HTTP_HEAD",
    "MAX_LOCATION",
    "REDIRECT_STATUSES",
    "HstsPolicy",
    "HttpAnswer",
    "HttpHeadReader",
    "Url",
    "build_request",
    "hsts_from_headers",
    "parse_hsts",
    "resolve_redirect",
]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})  # RFC 9110 15.4
MAX_LOCATION = 2048  # longer Location values are not followed
MAX_AGE_CAP = 10**18 - 1  # larger max-age values are reported as this (still "forever")
DEFAULT_PORTS = {"http": 80, "https": 443}
USER_AGENT = "probe (encryption-in-transit scanner)"

_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_PATH_RE = re.compile(r"/[\x21-\x7e]*")  # origin-form, visible ASCII only
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")


@dataclass(frozen=True)
class Url:
    """An absolute http(s) URL split into what a request needs."""

    scheme: str  # "http" or "https"
    host: str  # lower case, no brackets, no trailing dot
    port: int
    path: str  # origin-form: path and query, at least "/"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if DEFAULT_PORTS.get(self.scheme) == self.port else f":{self.port}"
        return f"{self.scheme}://{host}{port}{self.path}"

    @property
    def host_field(self) -> str:
        """The Host field value for a request to this URL (RFC 9110 7.2)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if DEFAULT_PORTS.get(self.scheme) == self.port else f"{host}:{self.port}"


def normalise_host(host: str) -> str:
    """Lower case, no brackets, no trailing dot; IP literals in their compressed form."""
    host = host.strip("[]").rstrip(".").lower()
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def same_host(a: str, b: str) -> bool:
    return normalise_host(a) == normalise_host(b)


def build_request(url: Url, method: str = "GET") -> bytes:
    """A request for ``url`` that asks the server to close after answering."""
    if not _PATH_RE.fullmatch(url.path):
        raise ValueError(f"bad request path {url.path!r}")
    if _CONTROL_OR_SPACE.search(url.host) or not url.host or not method.isalpha():
        raise ValueError(f"bad host {url.host!r} or method {method!r}")
    lines = (
        f"{method} {url.path} HTTP/1.1",
        f"Host: {url.host_field}",
        f"User-Agent: {USER_AGENT}",
        "Accept: */*",
        "Connection: close",
    )
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


class HttpHeadReader:
    """Collects bytes until the response head is complete (a ``ResponseReader``).

    ``feed`` raises :class:`DecodeError` as soon as the bytes cannot be an HTTP response, or
    no head end arrives within :data:`MAX_HTTP_HEAD` bytes. ``answer`` is None until done."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.answer: HttpAnswer | None = None

    def feed(self, data: bytes) -> None:
        if self.answer is not None:
            return
        room = MAX_HTTP_HEAD + 4 - len(self._buffer)
        self._buffer += data[: max(0, room)]
        parsed = parse_http_head(bytes(self._buffer))
        if parsed is not None:
            self.answer = parsed[0]

    @property
    def done(self) -> bool:
        return self.answer is not None

    @property
    def received(self) -> int:
        return len(self._buffer)


# --- Strict-Transport-Security (RFC 6797 6.1) ---------------------------------------------


@dataclass(frozen=True)
class HstsPolicy:
    max_age: int  # seconds; 0 tells the browser to forget the host (RFC 6797 6.1.1)
    include_subdomains: bool
    preload: bool  # not in RFC 6797: the hstspreload.org opt-in


def _token(value: str, pos: int) -> tuple[str, int]:
    end = pos
    while end < len(value) and value[end] in _TOKEN_CHARS:
        end += 1
    return value[pos:end], end


def _quoted(value: str, pos: int) -> tuple[str, int]:
    """A quoted-string starting at ``value[pos] == '"'`` (RFC 9110 5.6.4)."""
    out: list[str] = []
    pos += 1
    while pos < len(value):
        ch = value[pos]
        if ch == '"':
            return "".join(out), pos + 1
        if ch == "\\":
            pos += 1
            if pos >= len(value):
                break
            ch = value[pos]
        if ch != "\t" and (ch < " " or ch == "\x7f"):
            raise DecodeError("control character in a quoted HSTS value")
        out.append(ch)
        pos += 1
    raise DecodeError("unterminated quoted string in the HSTS field")


def _skip_ows(value: str, pos: int) -> int:
    while pos < len(value) and value[pos] in " \t":
        pos += 1
    return pos


def _directives(value: str) -> dict[str, str | None]:
    """directive *( ";" [ directive ] ), names lower-cased; a repeated name is an error."""
    found: dict[str, str | None] = {}
    pos = 0
    while True:
        pos = _skip_ows(value, pos)
        if pos < len(value) and value[pos] != ";":
            name, pos = _token(value, pos)
            if not name:
                raise DecodeError(f"bad HSTS directive at {value[pos : pos + 20]!r}")
            arg: str | None = None
            pos = _skip_ows(value, pos)
            if pos < len(value) and value[pos] == "=":
                pos = _skip_ows(value, pos + 1)
                if pos < len(value) and value[pos] == '"':
                    arg, pos = _quoted(value, pos)
                else:
                    arg, pos = _token(value, pos)
                    if not arg:
                        raise DecodeError(f"HSTS directive {name!r} has an empty value")
                pos = _skip_ows(value, pos)
            key = name.lower()
            if key in found:
                raise DecodeError(f"HSTS directive {key!r} appears more than once")
            found[key] = arg
        if pos >= len(value):
            return found
        if value[pos] != ";":
            raise DecodeError(f"unexpected {value[pos : pos + 20]!r} in the HSTS field")
        pos += 1


def parse_hsts(value: str) -> HstsPolicy:
    """Parse one Strict-Transport-Security value; DecodeError when a browser must ignore it.

    RFC 6797 6.1: directive names are case-insensitive, values may be quoted, a directive may
    appear at most once, ``max-age`` is required and is 1*DIGIT, ``includeSubDomains`` takes
    no value; unknown directives are ignored (``preload`` is recorded, whatever its value).
    """
    directives = _directives(value)
    if "max-age" not in directives:
        raise DecodeError("the HSTS field has no max-age")
    age = directives["max-age"]
    if age is None or not age or not age.isascii() or not age.isdigit():
        raise DecodeError(f"HSTS max-age {age!r} is not a number of seconds")
    digits = age.lstrip("0") or "0"
    max_age = MAX_AGE_CAP if len(digits) > len(str(MAX_AGE_CAP)) else min(int(digits), MAX_AGE_CAP)
    if directives.get("includesubdomains", None) is not None:
        raise DecodeError("HSTS includeSubDomains takes no value")
    return HstsPolicy(
        max_age=max_age,
        include_subdomains="includesubdomains" in directives,
        preload="preload" in directives,
    )


def hsts_from_headers(
    headers: Sequence[tuple[str, str]],
) -> tuple[HstsPolicy | None, str | None, str | None]:
    """(policy, raw value, problem) of the first Strict-Transport-Security field: RFC 6797 8.1
    says only the first one counts. (None, None, None) when there is none; (None, raw, why)
    when it is invalid and a browser ignores it."""
    for name, value in headers:
        if name.lower() == "strict-transport-security":
            try:
                return parse_hsts(value), value, None
            except DecodeError as exc:
                return None, value, str(exc)
    return None, None, None


# --- redirects ----------------------------------------------------------------------------


_USERINFO = re.compile(r"(?<=//)[^/?#@]*@")


def shown_location(location: str, limit: int = 80) -> str:
    """A Location value as it may appear in any output: query strings and user information
    can carry secrets (an Azure SAS token, a password), so they are cut out."""
    text = _USERINFO.sub("***@", location.split("#", 1)[0])
    if "?" in text:
        text = text.split("?", 1)[0] + "?***"
    return text[:limit]


def resolve_redirect(base: Url, location: str) -> Url:
    """The absolute http(s) URL a Location value names, relative to ``base`` (RFC 9110 10.2.2).

    DecodeError for anything not to follow: too long, control characters or spaces, another
    scheme, user info, a bad port or host."""
    if len(location) > MAX_LOCATION:
        raise DecodeError(f"Location longer than {MAX_LOCATION} characters")
    if not location or _CONTROL_OR_SPACE.search(location) or not location.isascii():
        raise DecodeError(f"unusable Location {shown_location(location)!r}")
    try:
        parts = urlsplit(urljoin(str(base), location))
        port = parts.port
        hostname = parts.hostname
    except ValueError as exc:
        raise DecodeError(f"bad Location {shown_location(location)!r}: {exc}") from None
    if port == 0:
        raise DecodeError("Location names port 0")
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise DecodeError(f"Location scheme {scheme!r} is not http or https")
    if parts.username is not None or parts.password is not None:
        raise DecodeError("Location carries user information")
    if not hostname:
        raise DecodeError(f"Location {shown_location(location)!r} has no host")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    if not _PATH_RE.fullmatch(path):
        raise DecodeError(f"bad Location path {shown_location(path)!r}")
    return Url(
        scheme=scheme,
        host=normalise_host(hostname),
        port=port if port is not None else DEFAULT_PORTS[scheme],
        path=path,
    )
