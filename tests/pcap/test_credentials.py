"""probe.pcap.credentials and probe.pcap.secrets: credentials per protocol on hand-built
flows, secrets in payloads, false positives on random and compressed bytes, and redaction."""

from __future__ import annotations

import base64
import json
import random
import zlib
from dataclasses import fields
from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st
from test_flows import CREDS, handshake, one_byte_segments

from probe.pcap.classify import Classification, classify
from probe.pcap.credentials import find_credentials, scan_flow
from probe.pcap.flows import Flow, FlowTable
from probe.pcap.redact import Secret
from probe.pcap.secrets import find_secrets, luhn_valid


def flow(client: bytes, server: bytes = b"", *, port: int = 40000) -> Flow:
    return Flow(
        client=("10.0.0.1", 50000), server=("10.0.0.2", port), transport="tcp", packets=2,
        packets_to_server=1, packets_to_client=1, bytes_to_server=len(client),
        bytes_to_client=len(server), first_ns=0, last_ns=1, client_prefix=client,
        server_prefix=server,
    )  # fmt: skip


def creds(client: bytes, server: bytes = b"", *, port: int = 40000) -> list[Secret]:
    f = flow(client, server, port=port)
    return find_credentials(f, classify(f))


def leaks(secret: Secret, raw: str | bytes) -> bool:
    text = raw.decode() if isinstance(raw, bytes) else raw
    values = [repr(secret), str(secret)] + [str(getattr(secret, f.name)) for f in fields(secret)]
    return any(text in value for value in values)


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


# --- credentials -------------------------------------------------------------------------


def test_http_basic() -> None:
    request = (b"GET /private HTTP/1.1\r\nHost: h\r\nAuthorization: Basic "
               + b64(b"alice:pa:ss-W0rd!") + b"\r\n\r\n")  # fmt: skip
    (secret,) = creds(request, port=8081)
    assert (secret.kind, secret.protocol, secret.direction, secret.user) == (
        "http-basic", "http", "client", "alice")  # fmt: skip
    assert secret.fingerprint.startswith("http-basic:len=11:p..!:")
    assert request[secret.offset :].startswith(b64(b"alice:pa:ss-W0rd!"))
    assert not leaks(secret, "pa:ss-W0rd!")


def test_http_bearer_and_proxy_basic() -> None:
    token = "mF_9.B5f-4.1JqM"
    request = (f"GET / HTTP/1.1\r\nauthorization: bearer {token}\r\n"
               "Proxy-Authorization: Basic " + b64(b"bob:Pr0xyPass").decode()
               + "\r\n\r\n").encode()  # fmt: skip
    found = creds(request)
    assert [(s.kind, s.user) for s in found] == [("http-bearer", None), ("http-basic", "bob")]
    assert not leaks(found[0], token) and not leaks(found[1], "Pr0xyPass")


def test_http_form_password() -> None:
    body = b"username=carol&password=S%40fe+Pass9&remember=1"
    request = (b"POST /login HTTP/1.1\r\nHost: h\r\n"
               b"Content-Type: application/x-www-form-urlencoded\r\n"
               b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
               + b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n")  # fmt: skip
    (secret,) = creds(request)
    assert (secret.kind, secret.user) == ("http-form-password", "carol")
    assert secret.fingerprint.startswith("http-form-password:len=10:S..9:")
    assert request[secret.offset :].startswith(b"password=")
    assert not leaks(secret, "S@fe Pass9") and not leaks(secret, "S%40fe+Pass9")


def test_form_fields_outside_a_form_body_are_ignored() -> None:
    request = (b"POST /api HTTP/1.1\r\nContent-Type: application/json\r\n\r\n"
               b"password=NotAForm123")  # fmt: skip
    assert creds(request) == []


def test_ftp_user_pass_and_guest() -> None:
    found = creds(b"USER alice\r\nPASS s3cret\r\nUSER anonymous\r\nPASS me@x.test\r\n",
                  b"220 FTP ready\r\n", port=21)  # fmt: skip
    (secret,) = found
    assert (secret.kind, secret.protocol, secret.user, secret.offset) == (
        "ftp-password", "ftp", "alice", 17)  # fmt: skip
    assert not leaks(secret, "s3cret")


def test_one_byte_per_segment_credential_after_reassembly() -> None:
    table = FlowTable()
    handshake(table)
    for i, packet in enumerate(reversed(one_byte_segments(1000))):
        table.add(packet, 10 + i)
    (reassembled,) = table.finish()
    assert reassembled.client_prefix == CREDS
    (secret,) = find_credentials(reassembled, classify(reassembled))
    assert (secret.kind, secret.user) == ("ftp-password", "alice")
    assert not leaks(secret, "s3cret")


def test_pop3_user_pass() -> None:
    (secret,) = creds(b"USER dave\r\nPASS p0p-Secret\r\nSTAT\r\n", b"+OK POP3 ready\r\n")
    assert (secret.kind, secret.protocol, secret.user) == ("pop3-password", "pop3", "dave")
    assert not leaks(secret, "p0p-Secret")


def test_smtp_auth_plain_inline_and_two_step() -> None:
    inline = b64(b"\0erin\0Pl4in-Pass")
    two_step = b64(b"admin\0frank\0Tw0-Step-Pass")
    client = (b"EHLO me\r\nAUTH PLAIN " + inline + b"\r\nRSET\r\nAUTH PLAIN\r\n"
              + two_step + b"\r\nQUIT\r\n")  # fmt: skip
    server = b"220 mail ESMTP\r\n250 AUTH PLAIN LOGIN\r\n235 ok\r\n250 ok\r\n334 \r\n235 ok\r\n"
    found = creds(client, server)
    assert [(s.kind, s.user) for s in found] == [
        ("smtp-auth-plain", "erin"), ("smtp-auth-plain", "frank")]  # fmt: skip
    assert client[found[0].offset :].startswith(inline)
    assert not leaks(found[0], "Pl4in-Pass") and not leaks(found[1], "Tw0-Step-Pass")


def test_smtp_auth_login() -> None:
    client = (b"EHLO me\r\nAUTH LOGIN\r\n" + b64(b"grace") + b"\r\n" + b64(b"L0gin-Pass!")
              + b"\r\nAUTH LOGIN " + b64(b"heidi") + b"\r\n" + b64(b"Init1al-Resp")
              + b"\r\nAUTH LOGIN\r\n*\r\n")  # fmt: skip
    server = b"220 mail ESMTP\r\n250 ok\r\n334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 ok\r\n"
    found = creds(client, server)
    assert [(s.kind, s.user) for s in found] == [
        ("smtp-auth-login", "grace"), ("smtp-auth-login", "heidi")]  # fmt: skip
    assert not leaks(found[0], "L0gin-Pass!") and not leaks(found[1], "Init1al-Resp")


def test_imap_login_atoms_quoted_and_literals() -> None:
    client = (b'a1 LOGIN ivan Atom-Pass1\r\na2 login "judy q" "qu\\"oted pass"\r\n'
              b"a3 LOGIN {5}\r\nmallo {11+}\r\nLit{er}al-P\r\n")  # fmt: skip
    found = creds(client, b"* OK IMAP4rev1 ready\r\n")
    assert [(s.kind, s.user) for s in found] == [
        ("imap-login", "ivan"), ("imap-login", "judy q"), ("imap-login", "mallo")]  # fmt: skip
    for secret, raw in zip(found, ["Atom-Pass1", 'qu"oted pass', "Lit{er}al-P"], strict=True):
        assert not leaks(secret, raw)
    assert found[1].fingerprint.startswith("imap-login:len=12:q..s:")


def test_encrypted_or_unknown_flows_yield_nothing() -> None:
    f = flow(b"USER alice\r\nPASS s3cret\r\n", port=21)
    assert find_credentials(f, Classification("tls", True)) == []
    assert find_credentials(f, Classification("unknown", None)) == []
    assert scan_flow(f, Classification("tls", True)) == []


def test_user_is_sanitised_and_capped() -> None:
    (secret,) = creds(b"USER \x1b[2J" + b"u" * 300 + b"\r\nPASS pw12345678\r\n", port=21)
    assert secret.user == "[2J" + "u" * 61


def test_overlong_lines_are_not_considered() -> None:
    assert creds(b"USER alice\r\nPASS " + b"x" * 5000 + b"\r\n", port=21) == []


# --- secrets -----------------------------------------------------------------------------

AWS_ID, AWS_KEY = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ACCOUNT_KEY = base64.b64encode(bytes(range(7, 71))).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


JWT = ".".join([b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()),
                b64url(b'{"sub":"1234567890","name":"John Doe"}'),
                b64url(bytes(range(32)))])  # fmt: skip


def secrets_in(text: str | bytes) -> list[Secret]:
    data = text.encode() if isinstance(text, str) else text
    return find_secrets(data, protocol="http", direction="server")


def test_aws_key_paired_with_secret() -> None:
    (secret,) = secrets_in(f"aws_access_key_id={AWS_ID}\naws_secret_access_key={AWS_KEY}\n")
    assert secret.kind == "aws-access-key" and secret.direction == "server"
    assert str(secret.detail["secret_key"]).startswith("aws-secret-key:len=40:w..Y:")
    assert secret.detail["temporary"] is False
    assert not leaks(secret, AWS_ID) and not leaks(secret, AWS_KEY)
    (alone,) = secrets_in("Credential=ASIAY34FZKBOKMUTVV7A/20240101/us-east-1/s3/aws4_request")
    assert "secret_key" not in alone.detail and alone.detail["temporary"] is True
    assert secrets_in(f"X{AWS_ID}") == [] and secrets_in("AKIAAAAAAAAAAAAAAAAA") == []


def test_jwt_needs_a_json_header_with_alg() -> None:
    (secret,) = secrets_in(f"Authorization: Bearer {JWT}\r\n")
    assert (secret.kind, secret.detail["alg"], secret.detail["signed"]) == ("jwt", "HS256", True)
    assert not leaks(secret, JWT) and not leaks(secret, JWT.split(".")[2])
    no_alg = b64url(b'{"typ":"JWT","kid":"k"}') + "." + JWT.split(".", 1)[1]
    assert secrets_in(no_alg) == []
    assert secrets_in("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")[0].detail["signed"] is False


def test_private_key_blocks() -> None:
    body = base64.encodebytes(bytes(range(256)) * 2).decode()
    pem = f"-----BEGIN RSA PRIVATE KEY-----\n{body}-----END RSA PRIVATE KEY-----\n"
    (secret,) = secrets_in("key: " + pem)
    assert secret.kind == "private-key" and secret.offset == 5
    assert secret.detail == {"label": "RSA", "encrypted": False, "complete": True}
    assert not leaks(secret, body.split("\n")[1])
    cut = "-----BEGIN ENCRYPTED PRIVATE KEY-----\n" + body[:200]
    (partial,) = secrets_in(cut)
    assert partial.detail["complete"] is False and partial.detail["encrypted"] is True
    assert secrets_in("-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----") == []


def test_azure_connection_string() -> None:
    text = ("DefaultEndpointsProtocol=http;AccountName=probeacct;AccountKey="
            f"{ACCOUNT_KEY};EndpointSuffix=core.windows.net")  # fmt: skip
    (secret,) = secrets_in(text)
    assert (secret.kind, secret.user, secret.allows_http) == ("azure-storage-key", "probeacct",
                                                              True)  # fmt: skip
    assert not leaks(secret, ACCOUNT_KEY)
    assert secrets_in("AccountKey=" + "A" * 86 + "==") == []  # not random: no mixed classes
    assert secrets_in("AccountKey=" + ACCOUNT_KEY[:-4] + "==") == []  # not 64 bytes


def sas(extra: str) -> str:
    sig = quote(base64.b64encode(bytes(range(100, 132))).decode(), safe="")
    return f"GET /c/b.txt?sv=2022-11-02&ss=b&srt=o&sp=r&se=2030-01-01T00:00:00Z{extra}&sig={sig}"


def test_sas_with_and_without_spr() -> None:
    raw_sig = base64.b64encode(bytes(range(100, 132))).decode()
    for extra, allows_http in [("&spr=https", False), ("&spr=https%2Chttp", True),
                               ("&spr=https,http", True), ("", True)]:  # fmt: skip
        (secret,) = secrets_in(sas(extra) + " HTTP/1.1\r\n")
        assert secret.kind == "azure-sas" and secret.allows_http is allows_http, extra
        assert secret.detail["sp"] == "r" and secret.detail["sv"] == "2022-11-02"
        assert not leaks(secret, raw_sig) and not leaks(secret, quote(raw_sig, safe=""))
    assert secrets_in("?sv=2022-11-02&sig=short") == []
    assert secrets_in("?sig=" + quote(raw_sig, safe="")) == []  # no sv: not a SAS


def test_card_numbers_luhn_and_issuer() -> None:
    valid = ["4111 1111 1111 1111", "5555-5555-5555-4444", "378282246310005",
             "6011111111111117", "2223000048400011"]  # fmt: skip
    for number in valid:
        (secret,) = secrets_in(f'{{"pan": "{number}"}}')
        digits = number.replace(" ", "").replace("-", "")
        assert secret.kind == "card-number" and luhn_valid(digits)
        assert secret.fingerprint.startswith(f"card-number:{digits[:6]}..{digits[-4:]}:")
        assert not leaks(secret, digits) and not leaks(secret, number)
    invalid = ["4111 1111 1111 1112", "1234567812345670",  # bad Luhn; no issuer prefix
               "37828224631000", "4111-1111 1111-1111",  # wrong Amex length; mixed separators
               "24111111111111111", "0.4111111111111111", "id4111111111111111"]  # fmt: skip
    for number in invalid:
        assert secrets_in(number) == [], number


# --- false positives ---------------------------------------------------------------------


def compressed_text(size: int) -> bytes:
    rng = random.Random(5)
    words = ["the", "flow", "password", "key", "token", "account", "4111", "2024", "sig",
             "AKIA", "eyJ", "BEGIN", "secret", "user", "=", "&", "-", "1", "22", "333"]  # fmt: skip
    out = bytearray()
    while len(out) < size:
        text = " ".join(rng.choice(words) + str(rng.randrange(10**6)) for _ in range(50_000))
        out += zlib.compress(text.encode(), 6)
    return bytes(out[:size])


def test_false_positives_on_random_and_compressed_bytes() -> None:
    samples = {"random": random.Random(7).randbytes(1 << 20), "zlib": compressed_text(1 << 20)}
    for name, data in samples.items():
        found = find_secrets(data, protocol="unknown", direction="client")
        assert found == [], (name, [s.kind for s in found])
        for protocol in ("http", "ftp", "smtp", "pop3", "imap"):
            f = flow(data[:4096])
            assert find_credentials(f, Classification(protocol, False)) == []


# --- never raise, never leak -------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4096), st.sampled_from(["http", "ftp", "smtp", "pop3", "imap"]))
def test_arbitrary_bytes_never_raise(data: bytes, protocol: str) -> None:
    f = flow(data, data[::-1])
    for secret in scan_flow(f, Classification(protocol, False)):
        assert secret.direction in ("client", "server") and 0 <= secret.offset <= len(data)


PASSWORD = st.text("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!#$%",
                   min_size=10, max_size=40).filter(lambda p: not p.islower())  # fmt: skip
# FTP guest names (probe.pcap.credentials.FTP_GUESTS) are not credentials by design.
USER = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=20).filter(
    lambda user: user not in ("anonymous", "ftp")
)


@settings(max_examples=100, deadline=None)
@given(USER, PASSWORD, st.binary(max_size=64).filter(lambda b: b"\n" not in b))
def test_constructed_credentials_found_and_never_leaked(user: str, password: str,
                                                        noise: bytes) -> None:  # fmt: skip
    cases = [
        (b"GET / HTTP/1.1\r\nAuthorization: Basic "
         + b64(f"{user}:{password}".encode()) + b"\r\n\r\n", "http", "http-basic"),
        (f"USER {user}\r\nPASS {password}\r\n".encode(), "ftp", "ftp-password"),
        (b"AUTH PLAIN " + b64(f"\0{user}\0{password}".encode()) + b"\r\n", "smtp",
         "smtp-auth-plain"),
        (b"AUTH LOGIN\r\n" + b64(user.encode()) + b"\r\n" + b64(password.encode()) + b"\r\n",
         "smtp", "smtp-auth-login"),
        (f'a1 LOGIN {user} "{password}"\r\n'.encode(), "imap", "imap-login"),
    ]  # fmt: skip
    for client, protocol, kind in cases:
        f = flow(noise + b"\r\n" + client)
        found = scan_flow(f, Classification(protocol, False))
        assert [(s.kind, s.user) for s in found if s.kind == kind] == [(kind, user)]
        for secret in found:
            assert not leaks(secret, password)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=512), st.binary(max_size=512))
def test_embedded_secrets_found_and_never_leaked(before: bytes, after: bytes) -> None:
    embedded = {"jwt": JWT, "azure-storage-key": ACCOUNT_KEY, "aws-access-key": AWS_ID}
    data = (before + b" " + JWT.encode() + b" AccountKey=" + ACCOUNT_KEY.encode() + b"; "
            + AWS_ID.encode() + b" " + after)  # fmt: skip
    found = find_secrets(data, protocol="http", direction="client")
    assert {s.kind for s in found} >= set(embedded)
    for secret in found:
        for raw in embedded.values():
            assert not leaks(secret, raw)
