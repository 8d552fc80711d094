"""The JSON report's documented key order (docs/json-output.md: "Key order is stable").

Written out here, apart from probe/report/json_doc.py, so the tests hold the producer to the
contract; shared by the report unit tests and the end-to-end CLI tests.
"""

TOP_KEYS = ["schema_version", "profile", "summary", "targets"]
TARGET_KEYS = [
    "target",
    "host",
    "port",
    "check",
    "server_name",
    "status",
    "error",
    "passed",
    "findings",
    "duration_seconds",
    "tls",
    "smb",
]
TLS_KEYS = [
    "versions",
    "cipher_suites",
    "server_preference",
    "certificates",
    "key_exchange",
    "suite_facts",
    "connections",
    "incomplete",
]
CERT_KEYS = [
    "key_type",
    "key_bits",
    "curve",
    "signature_algorithm",
    "signature_hash",
    "not_before",
    "not_after",
    "days_to_expiry",
    "subject",
    "issuer",
    "san",
    "name_matches",
    "self_signed",
    "trusted",
    "trust_error",
    "chain_length",
    "chain_weak_signatures",
    "sha256_fingerprint",
    "served_with",
]
FINDING_KEYS = ["id", "severity", "message", "evidence", "rationale", "reference"]
SMB_KEYS = [
    "smb1",
    "dialects",
    "preferred_dialect",
    "ciphers",
    "preferred_cipher",
    "encryption_context",
    "encryption_capability",
    "signing_enabled",
    "signing_required",
    "signing_algorithms",
    "signing_algorithm",
    "encryption_required",
    "encryption_required_evidence",
    "server_guid",
    "system_time",
    "max_read",
    "max_write",
    "max_transact",
    "guest_access",
    "guest_evidence",
    "auth",
    "connections",
    "incomplete",
]
