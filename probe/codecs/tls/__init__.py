"""Sans-I/O TLS codec for probing: ClientHello builders, the cipher suite table and readers
for a server's first flight (SSLv2 to TLS 1.3).

Nothing here performs I/O or draws randomness; callers pass in random bytes and feed in what
the socket returned.
"""

from probe.codecs.tls.constants import VERSION_LABEL, Version
from probe.codecs.tls.flight import (
    Alert,
    KeyExchange,
    ServerFlight,
    ServerFlightReader,
    ServerHello,
    Ssl2ServerFlight,
    Ssl2ServerHello,
    Ssl2ServerHelloReader,
)
from probe.codecs.tls.hello import build_client_hello, build_sslv2_client_hello
from probe.codecs.tls.suites import SSL2_CIPHERS, SUITES, CipherSuite, candidate_suites

__all__ = [
    "SSL2_CIPHERS",
    "SUITES",
    "VERSION_LABEL",
    "Alert",
    "CipherSuite",
    "KeyExchange",
    "ServerFlight",
    "ServerFlightReader",
    "ServerHello",
    "Ssl2ServerFlight",
    "Ssl2ServerHello",
    "Ssl2ServerHelloReader",
    "Version",
    "build_client_hello",
    "build_sslv2_client_hello",
    "candidate_suites",
]
