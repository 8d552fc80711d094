"""Result types shared by every layer: targets, statuses, facts and findings.

Checks produce facts (what an endpoint accepts); profiles turn facts into findings. Everything
here is a frozen dataclass so results can be passed between tasks and threads safely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Status(StrEnum):
    """Whether a check ran to the end. An error still carries the facts gathered before it."""

    COMPLETED = "completed"
    ERROR = "error"


class ErrorReason(StrEnum):
    """Why a check could not complete. One shared taxonomy for every check."""

    DNS = "dns"  # the name did not resolve
    REFUSED = "refused"  # TCP RST to our SYN
    UNREACHABLE = "unreachable"  # no route, host down
    TIMEOUT = "timeout"  # connect or read took longer than --timeout
    RESET = "reset"  # the peer reset an established connection
    NOT_TLS = "not_tls"  # the peer answered, but not with TLS
    NOT_SMB = "not_smb"  # the peer answered, but not with SMB
    NOT_SSTP = "not_sstp"  # the peer answered (HTTP or TLS), but not as an SSTP server
    NO_ANSWER = "no_answer"  # UDP: nothing came back, not even an ICMP error (filtered?)
    PROTOCOL_ERROR = "protocol_error"  # the peer's bytes broke the protocol
    CANCELLED = "cancelled"  # the user stopped the scan
    INTERNAL = "internal"  # a bug in probe; the message says where


# Labels used in JSON and tables, in ascending order of age.
TLS_VERSION_LABELS: tuple[str, ...] = ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")
# CertificateFacts.trust_stores keys: the system store, the public stores sslyze ships
# (probe.trust.PUBLIC_STORES) and "custom" (--ca-file). Here, not in probe.trust, so that
# validating a profile does not import OpenSSL.
TRUST_STORE_NAMES: tuple[str, ...] = (
    "system", "mozilla", "apple", "android", "microsoft", "java", "custom",
)  # fmt: skip


@dataclass(frozen=True)
class Target:
    """One endpoint to scan, as parsed from the command line or a file."""

    given: str  # the text the user wrote, kept for the report
    host: str  # DNS name or IP address literal (no brackets)
    port: int
    check: str  # "tls", "smb", "ike" or "sstp"
    server_name: str | None = None  # SNI and the name a certificate must match; None for IPs
    # The scheme the user wrote ("https", "tls", ...), None for a bare host. The TLS check
    # measures HTTPS enforcement (HSTS, plain HTTP) for "https" and for bare hosts on 443.
    scheme: str | None = None

    @property
    def expects_https(self) -> bool:
        """HTTPS enforcement (HSTS, the plain-HTTP side) is measured for https:// targets and
        bare hosts on port 443."""
        if self.check != "tls":
            return False
        return self.scheme == "https" or (self.scheme is None and self.port == 443)


@dataclass(frozen=True)
class ErrorInfo:
    reason: ErrorReason
    message: str


@dataclass(frozen=True)
class CertificateFacts:
    """One certificate chain as served, described by its leaf (and what we learnt of the chain)."""

    key_type: str  # "RSA", "EC", "Ed25519", "Ed448", "DSA"
    key_bits: int  # RSA modulus bits, EC field size, 256 for Ed25519
    curve: str | None  # "secp256r1" for EC keys
    signature_algorithm: str  # e.g. "sha256WithRSAEncryption"
    signature_hash: str | None  # "sha256", "sha1", "md5", None for Ed25519
    not_before: datetime
    not_after: datetime
    days_to_expiry: int  # negative once expired; computed against an injected "now"
    subject: str  # RFC 4514 string
    issuer: str
    san: tuple[str, ...]  # DNS names and IP addresses from subjectAltName
    name_matches: bool | None  # None when no name was asked for
    self_signed: bool
    trusted: bool  # the served chain verifies against the trust store
    trust_error: str | None  # why not, when trusted is False
    chain_length: int  # certificates served, leaf included
    chain_weak_signatures: tuple[str, ...]  # SHA-1/MD5-signed certificates in the chain (not roots)
    sha256_fingerprint: str  # hex
    served_with: tuple[str, ...]  # how we saw it: e.g. ("TLSv1.2 RSA",), ("TLSv1.3",)
    # Issue 6, certificates and trust in depth. Defaults describe "not measured".
    # One verdict per trust store: "system", "mozilla", "apple", "android", "microsoft", "java"
    # (sslyze's bundled stores) and "custom" (--ca-file); a store that could not load is absent.
    trust_stores: Mapping[str, bool] = field(default_factory=dict)
    # Each served certificate after the leaf issued the one before it (RFC 8446 4.4.2, RFC 5246
    # 7.4.2); stray extra certificates at the end do not count against it.
    chain_in_order: bool = True
    # Served certificates plus a store's anchor form a path (no intermediate missing). None: no
    # store could be consulted.
    chain_complete: bool | None = None
    must_staple: bool = False  # TLS Feature extension with status_request (RFC 7633)
    sct_count: int = 0  # embedded SCTs (RFC 6962 3.3); delivery by TLS extension or OCSP unseen
    key_usage: tuple[str, ...] = ()  # RFC 5280 4.2.1.3 names, e.g. "digitalSignature"; () absent
    extended_key_usage: tuple[str, ...] = ()  # "serverAuth", ... or dotted OIDs; () absent
    # The EKU allows TLS server authentication; an absent EKU allows any purpose (RFC 5280
    # 4.2.1.12). None: the extension could not be read.
    server_auth: bool | None = True
    validity_days: int = 0  # notBefore to notAfter, both inclusive (CA/B BR 1.6.1), rounded down
    # Longer than the CA/Browser Forum Baseline Requirements allowed on its notBefore date
    # (BR 6.3.2). A fact for every certificate; it matters only for publicly trusted ones.
    exceeds_validity_limit: bool = False


@dataclass(frozen=True)
class KeyExchangeParams:
    """What a server chose for an ephemeral key exchange (from ServerKeyExchange or key_share)."""

    kind: str  # "ECDHE", "DHE"
    group: str | None  # IANA group name ("x25519", "secp256r1", "ffdhe2048") when named
    bits: int  # DH prime bits, or the curve's size


@dataclass(frozen=True)
class HstsFacts:
    """A valid Strict-Transport-Security field (RFC 6797 6.1), the first one the server sent."""

    max_age: int  # seconds
    include_subdomains: bool
    preload: bool  # the hstspreload.org opt-in directive


@dataclass(frozen=True)
class ResumptionFacts:
    """--deep only (probe.checks.tls_deep): session resumption and 0-RTT as sslyze measured them.
    Session IDs and tickets are TLS 1.2 mechanisms (sslyze resumes over TLS 1.2, each attempt
    a fresh session then its resumption); attempts 0: not measured (a TLS 1.3-only server, or
    the scan command failed: incomplete["deep resumption"] says why)."""

    # Successful session-ID resumptions (tickets disabled). sslyze closes without close_notify,
    # after which OpenSSL 3 servers (unless they ignore an unexpected EOF) drop the session.
    session_id_resumed: int
    session_id_attempts: int
    ticket_resumed: int  # successful RFC 5077 ticket resumptions
    ticket_attempts: int
    # TLS 1.3 0-RTT: the server accepted early data on a resumed session (RFC 8446 2.3: it
    # can be replayed). False also without TLS 1.3; None when the measurement failed.
    early_data: bool | None

    @property
    def session_id(self) -> bool | None:
        return None if self.session_id_attempts == 0 else self.session_id_resumed > 0

    @property
    def tickets(self) -> bool | None:
        return None if self.ticket_attempts == 0 else self.ticket_resumed > 0


@dataclass(frozen=True)
class TlsExtensionFacts:
    """Optional TLS 1.0-1.2 features, read from the extensions the server echoed to probe's
    hellos (issue 6). None: could not be told. TLS 1.3 has these built in or sends them
    encrypted (EncryptedExtensions, Certificate entries), so a TLS 1.3-only server has none.
    """

    version: str  # the version of the ServerHello they come from, e.g. "TLSv1.2"
    secure_renegotiation: bool | None  # echoed renegotiation_info (RFC 5746 3.6)
    secure_renegotiation_scsv: bool | None  # answered the SCSV with it (RFC 5746 3.6)
    extended_master_secret: bool | None  # RFC 7627
    encrypt_then_mac: bool | None  # RFC 7366 (only meaningful for CBC suites)
    session_tickets: bool | None  # echoed SessionTicket (RFC 5077 3.2)
    # A non-empty session ID in answer to a hello without SessionTicket: the session is
    # cached, resumption likely (not attempted: that needs a full handshake).
    session_id: bool | None
    ocsp_stapling: bool | None  # echoed status_request and stapled a response (RFC 6066 8)
    # From one more hello: the method chosen when DEFLATE and null were offered ("null": no
    # compression; anything else: CRIME exposure), and the protocol selected when h2 and
    # http/1.1 were offered. compression None: that hello went unanswered, so alpn is unknown.
    compression: str | None
    alpn: str | None  # None: no protocol selected (or not measured, see compression)


@dataclass(frozen=True)
class TlsFacts:
    """Everything the TLS check measured on one endpoint. Keys are TLS_VERSION_LABELS."""

    versions: Mapping[str, bool]  # every label present; False also when not measured (see errors)
    cipher_suites: Mapping[str, tuple[str, ...]]  # accepted suites by IANA name, per version
    server_preference: Mapping[str, bool | None]  # None: fewer than two suites, cannot tell
    certificates: tuple[CertificateFacts, ...]
    key_exchange: Mapping[str, KeyExchangeParams]  # per suite name, what the server chose
    connections: int  # TCP connections this check opened
    # Versions whose measurement failed (e.g. a timeout on that probe): label -> reason.
    incomplete: Mapping[str, str] = field(default_factory=dict)
    # Key-exchange groups the server accepts by IANA name, per version label: "TLSv1.3", and
    # the newest of TLSv1.2/1.1/1.0 it accepts (ECDHE curves, then RFC 7919 groups). In the
    # server's order when groups_server_preference is True, else in probe's offer order
    # (strongest first). A label is present when that version was measured; () when the
    # server negotiates no named group there (e.g. DHE with its own prime only).
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    groups_server_preference: Mapping[str, bool | None] = field(default_factory=dict)
    preferred_group: str | None = None  # its pick when offered every group (TLS 1.3 first)
    prefers_post_quantum: bool | None = None  # that TLS 1.3 pick is a PQ group; None: no 1.3
    dh_common_prime: str | None = None  # the smallest DHE prime is a published one: its name
    # HTTPS enforcement (probe.checks.https), measured for https:// targets and bare hosts on
    # 443 only. https_status: the status of the answer to "GET /" over TLS; None when not
    # measured (then hsts is None too, and incomplete says why when it was attempted).
    https_status: int | None = None
    hsts: HstsFacts | None = None  # None: no valid header (or not measured)
    hsts_header: str | None = None  # the first header as sent (capped), when there is one
    hsts_problem: str | None = None  # why a browser ignores that header, when it does
    # The plain-HTTP side (port 80 or --http-port): "redirect_https" (to https on the same
    # host), "refused" (nothing listens), "no_answer" (connect timed out: filtered),
    # "rejected" (an HTTP 4xx/5xx answer, no redirect), "content" (served over plain HTTP),
    # "redirect_other_host" (not followed), "error" (an answer that is not usable HTTP, or a
    # redirect loop: incomplete says why); None when not measured.
    http_plain: str | None = None
    # True: redirects to https on the same host; False: answers over plain HTTP without doing
    # so; None: not measured, or nothing answered over plain HTTP.
    http_redirects_to_https: bool | None = None
    http_location: str | None = None  # the last redirect target seen on the plain side
    # Extended master secret, renegotiation indication, encrypt-then-MAC, tickets, session
    # IDs, OCSP stapling, compression and ALPN from TLS 1.0-1.2 answers; None when no TLS
    # 1.0-1.2 ServerHello was read (e.g. a TLS 1.3-only server).
    extensions: TlsExtensionFacts | None = None
    # --deep only (probe.checks.tls_deep): sslyze's verdicts by name, True when exposed, None
    # when it could not tell (incomplete["deep ..."] says why); empty when not run.
    deep_vulnerabilities: Mapping[str, bool | None] = field(default_factory=dict)
    # --deep only: session resumption and 0-RTT facts (None: not run, or sslyze could not
    # connect: incomplete["deep"] says why).
    resumption: ResumptionFacts | None = None

    @property
    def accepted_groups(self) -> tuple[str, ...]:
        """Every accepted group once: TLS 1.3's in its order, then the older versions' others."""
        seen: dict[str, None] = {}
        for label in ("TLSv1.3", *(v for v in self.groups if v != "TLSv1.3")):
            for name in self.groups.get(label, ()):
                seen.setdefault(name, None)
        return tuple(seen)


@dataclass(frozen=True)
class ShareFacts:
    """One requested share, as the authenticated (or guest) session saw it."""

    encrypt_data: bool | None  # ShareFlags ENCRYPT_DATA; None when the tree connect failed
    accessible: bool  # TREE_CONNECT succeeded
    error: str | None  # e.g. "STATUS_ACCESS_DENIED", "STATUS_BAD_NETWORK_NAME"


@dataclass(frozen=True)
class SmbAuthFacts:
    """What a login told. None means "could not be told" (or, for ``authenticated``, that no
    credentials were given; ``auth_error`` then says why when a login was attempted)."""

    authenticated: bool | None  # the credentials were accepted as themselves (not as guest)
    auth_error: str | None  # finding-free error text, never the password
    # SessionFlags ENCRYPT_DATA as the server sent it. A guest session has no key, so cannot
    # be encrypted whatever this says (Samba 4.17 with "desired" sets it on guest sessions).
    session_encrypt_data: bool | None
    session_is_guest: bool | None  # the server turned the login into a guest session
    shares: Mapping[str, ShareFacts] = field(default_factory=dict)  # the requested share only


@dataclass(frozen=True)
class SmbFacts:
    """What the SMB check measured without credentials. None means "could not be told"."""

    smb1: bool | None  # the server accepts an SMB1 "NT LM 0.12" negotiate
    dialects: tuple[str, ...]  # SMB2/3 dialects accepted, one offer each ("2.0.2" .. "3.1.1")
    preferred_dialect: str | None  # what it picks when offered every dialect
    ciphers: tuple[str, ...]  # SMB 3.1.1 ciphers accepted, one offer each ("AES-128-GCM", ...)
    preferred_cipher: str | None  # what it picks when offered every cipher
    # For 3.1.1 offered with every cipher: "cipher" (it chose one), "no_common_cipher" (an
    # encryption context naming none), "no_context" (it answered without one).
    encryption_context: str | None
    # CAP_ENCRYPTION in the answers to 3.0/3.0.2 offers that ask for it (SMB 3.0 encryption,
    # AES-128-CCM); None when neither dialect is accepted.
    encryption_capability: bool | None
    signing_enabled: bool | None
    signing_required: bool | None
    signing_algorithms: tuple[str, ...]  # 3.1.1 signing algorithms accepted, one offer each
    signing_algorithm: str | None  # the 3.1.1 signing algorithm it chose when offered all
    # Server-wide encryption enforcement, told without credentials: a client that did not
    # negotiate encryption is refused at SESSION_SETUP (ACCESS_DENIED) -> True.
    encryption_required: bool | None
    encryption_required_evidence: str | None  # the status that decided it
    server_guid: str | None
    system_time: str | None  # ISO 8601 UTC, from the negotiate response
    max_read: int | None
    max_write: int | None
    max_transact: int | None
    connections: int
    incomplete: Mapping[str, str] = field(default_factory=dict)
    # A login with a random non-existent user and password got a session (guest access).
    guest_access: bool | None = None
    guest_evidence: str | None = None
    auth: SmbAuthFacts | None = None  # only when credentials were given


@dataclass(frozen=True)
class IkeAlgorithms:
    """Transform names an IKE responder accepted, per kind (probe.codecs.ike_constants names)."""

    encryption: tuple[str, ...] = ()
    prf: tuple[str, ...] = ()
    integrity: tuple[str, ...] = ()
    dh_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class IkeSuite:
    """One suite an IKE responder chose: what it picks when offered everything, strongest first."""

    encryption: str
    prf: str | None  # IKEv1 has no separate PRF: None
    integrity: str | None  # None for AEAD ciphers
    dh_group: str
    auth: str | None = None  # IKEv1 authentication method ("PSK", "RSA-SIG"); None in IKEv2


@dataclass(frozen=True)
class IkeFacts:
    """What the IKE check measured on one responder. None means "could not be told"."""

    ikev2: bool | None  # answered IKEv2 at all (even if nothing offered was acceptable)
    ikev1: bool | None  # answered IKEv1 Main Mode at all
    aggressive_mode_psk: bool | None  # an Aggressive Mode PSK offer got a reply carrying HASH_R
    aggressive_mode_evidence: str | None  # what that reply held (never the hash itself)
    accepted: IkeAlgorithms  # union over both versions: what the endpoint accepts
    ikev2_accepted: IkeAlgorithms
    ikev1_accepted: IkeAlgorithms
    ikev1_transforms: tuple[IkeSuite, ...]  # IKEv1 transform sets seen accepted
    ikev2_preferred: IkeSuite | None  # its pick when offered every candidate strongest-first
    ikev1_preferred: IkeSuite | None
    notifies: tuple[str, ...]  # status notifies seen in IKEv2 answers (e.g. fragmentation)
    vendor_ids: tuple[str, ...]  # hex, as sent
    vendors: tuple[str, ...]  # names of the vendor IDs we recognise
    certificate_requests: bool  # the responder asked for certificates (CERTREQ)
    cookie_challenge: bool  # it demanded a COOKIE round trip (RFC 7296 2.6)
    nat_t: bool | None  # answered on the NAT-T port with the non-ESP marker; None: not tried
    probes: int  # IKE requests sent (retransmissions not counted; a COOKIE resend is one)
    datagrams: int  # datagrams sent, retransmissions included
    incomplete: Mapping[str, str] = field(default_factory=dict)
    ikev2_offers: int = 0  # IKE_SA_INIT offers of the IKEv2 enumeration (COOKIE resends aside)


@dataclass(frozen=True)
class SstpFacts:
    """What the SSTP check measured on one listener."""

    sstp: bool  # answered the SSTP_DUPLEX_POST as an SSTP server
    over_tls: bool | None  # it spoke SSTP inside TLS; None when TLS could not be tried
    plain_http: bool | None  # it answered SSTP over plain TCP (no TLS at all)
    hash_protocols: tuple[str, ...]  # crypto-binding hashes the Call Connect Ack offered
    server: str | None  # the HTTP Server banner
    http_status: int | None  # status of the answer to SSTP_DUPLEX_POST over TLS
    call_connect: str | None  # "ack", "nak", "abort" or None (not reached)
    auth_protocol: str | None  # from the server's first PPP LCP Configure-Request
    connections: int  # TCP connections of the SSTP exchanges (the TLS grade counts its own)
    incomplete: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StartTlsFacts:
    """The plaintext upgrade of a STARTTLS target (smtp://, imap://, ...: probe.codecs.starttls).

    When ``offered`` is False the server speaks only plaintext and ``tls`` stays None."""

    protocol: str  # the dialog: "smtp" (also for submission), "imap", "pop3", "ftp", ...
    offered: bool  # the server accepted the upgrade command
    advertised: bool | None  # it announced the upgrade; None: the protocol has no announcement
    reply: str  # its answer to the upgrade command, printable and capped


@dataclass(frozen=True)
class Finding:
    """A profile requirement that the measured facts do not meet."""

    id: str
    severity: str  # "critical", "high", "medium", "low", "info"
    message: str
    evidence: str | None = None
    rationale: str | None = None
    reference: str | None = None


@dataclass(frozen=True)
class GradeCap:
    """One letter-grade rule the facts met (docs/grading.md): the best grade it allows."""

    rule: str  # stable id, e.g. "tls10_tls11"
    cap: str  # "A", "A-", "B", "C" or "F"; "T" (trust) and "M" (name) replace the letter
    message: str  # the rule as it applies here, for humans
    evidence: str | None = None


@dataclass(frozen=True)
class TargetResult:
    """One target's outcome: status, facts, and (after grading) findings."""

    target: Target
    status: Status
    error: ErrorInfo | None
    tls: TlsFacts | None
    duration_seconds: float
    findings: tuple[Finding, ...] = ()
    passed: bool = False
    smb: SmbFacts | None = None
    ike: IkeFacts | None = None
    sstp: SstpFacts | None = None
    starttls: StartTlsFacts | None = None  # STARTTLS targets: the upgrade (tls: what followed)
    # SSL Labs-style letter grade of the TLS facts (probe.grading.letter); None when there are
    # none, or they are incomplete. Caps: every rule that limits it, most severe first.
    grade: str | None = None
    grade_caps: tuple[GradeCap, ...] = ()

    @property
    def facts(self) -> TlsFacts | SmbFacts | IkeFacts | SstpFacts | None:
        """The main facts of the check that ran (an SSTP target also has ``tls``)."""
        for facts in (self.sstp, self.ike, self.smb, self.tls):
            if facts is not None:
                return facts
        return None

    @property
    def incomplete(self) -> dict[str, str]:
        """What could not be measured, across every kind of facts this target has. Keys of
        the facts that ride along with the main ones (an SSTP target's TLS) get a prefix."""
        out: dict[str, str] = {}
        main = self.facts
        for kind, facts in (("sstp", self.sstp), ("ike", self.ike), ("smb", self.smb),
                            ("tls", self.tls)):  # fmt: skip
            if facts is None:
                continue
            prefix = "" if facts is main else f"{kind} "
            for what, why in facts.incomplete.items():
                out[prefix + what] = why
        return out
