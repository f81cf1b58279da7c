"""The scrubber: what it redacts, what it leaves alone, and that streaming equals one-shot."""

from __future__ import annotations

import base64
import json
import random
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safety import Scrubber, scrub
from safety.scrub import prefilter_available
from safety.secret_rules import VENDOR_RULES
from tests.safety.corpus import corpus
from tests.safety.regex_sampler import Sampler

pytestmark = pytest.mark.unit

ENGINES = [pytest.param(True, id="hyperscan"), pytest.param(False, id="python")]
if not prefilter_available():
    ENGINES = [pytest.param(False, id="python")]

SECRET_LINES = [
    ("export AWS_ACCESS_KEY_ID=AKIAQ4EXAMPLEKEY7ZZZ", "AKIAQ4EXAMPLEKEY7ZZZ"),
    (
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
    ),
    ("GITHUB_TOKEN=ghp_R2d2C3poBB8Luke1Leia2Han3Chewie4Yoda5", "ghp_R2d2C3poBB8Luke1Leia2Han3Chewie4Yoda5"),
    (
        "remote: https://oauth2:glpat-Zx81QkLmN0pQrStUvWxY@gitlab.example.com/x.git",
        "glpat-Zx81QkLmN0pQrStUvWxY",
    ),
    (
        "SLACK_BOT_TOKEN: xoxb-2345678901-2345678901234-AbCdEfGhIjKlMnOpQrStUvWx",
        "xoxb-2345678901-2345678901234-AbCdEfGhIjKlMnOpQrStUvWx",
    ),
    ('stripe.api_key = "sk_live_51HaBcDeFgHiJkLmNoPqRsTuV"', "sk_live_51HaBcDeFgHiJkLmNoPqRsTuV"),
    ("key=AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"),
    (
        "jwt eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"
        ".SflKxwRJSMeKKF2QT4fwpMeJf36",
        "SflKxwRJSMeKKF2QT4fwpMeJf36",
    ),
    ("password=Tr0ub4dor&3x", "Tr0ub4dor&3x"),
    ("DB_PASSWORD: 'correct horse battery staple'", "correct horse battery staple"),
    ('{"api_key": "q8Xv2Lm9Rt4Yp7Ws", "user": "alice"}', "q8Xv2Lm9Rt4Yp7Ws"),
    ("Authorization: Bearer mF_9.B5f-4.1JqMx8zRt2Ln", "mF_9.B5f-4.1JqMx8zRt2Ln"),
    ("authorization: Basic YWRtaW46c2VjcmV0cGFzcw==", "YWRtaW46c2VjcmV0cGFzcw=="),
    ("X-API-Key: 7d3f9a1c2b4e6f8a0c1d3e5f7a9b2c4d", "7d3f9a1c2b4e6f8a0c1d3e5f7a9b2c4d"),
    ("DATABASE_URL=postgres://app:Sup3r-S3cret@db1:5432/app", "Sup3r-S3cret"),
    ("ipmitool -I lanplus -H 10.0.1.5 -U admin -P Bmc!Pass99 power status", "Bmc!Pass99"),
    ("mysql -u root -pHunter2xyz -e 'select 1'", "Hunter2xyz"),
    ("curl -u deploy:d3pl0yPw https://web1/api", "d3pl0yPw"),
    ("mytool --password=SecretValue42 --verbose", "SecretValue42"),
    ("<password>xmlS3cret!</password>", "xmlS3cret!"),
    ('<add key="ClearTextPassword" value="nuGetPw123" />', "nuGetPw123"),
    ("DATADOG_API_KEY=3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c", "3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"),
    (
        "vault: hvs.CAESIJlU8zQ5fM0wU2Xk9v1hYpT3bR7eN4cL6gD8sA0qW2zE",
        "hvs.CAESIJlU8zQ5fM0wU2Xk9v1hYpT3bR7eN4cL6gD8sA0qW2zE",
    ),
]

BENIGN = [
    "Failed password for invalid user admin from 10.0.0.1 port 22 ssh2",
    "Accepted publickey for root from 10.0.0.7 port 51234 ssh2: ED25519 "
    "SHA256:pgi9el+OuOjSXXMUHyQ2pqaWkwfV6Wf3gV/O116cFBI",
    "auth: ok",
    "password=required",
    "token_type: bearer",
    "password_expiry_days=90",
    "secret_name: db-creds",
    "key_length=4096",
    "apiVersion: apps/v1",
    "ghcr.io/example/api:2024.11.3",
    "token expired, retrying",
    "Authorization: none",
    "passwd: files systemd",
    "PasswordAuthentication no",
    "AuthorizedKeysFile .ssh/authorized_keys",
    "commit 8b1118b376c313ed420e5133ba91307817ed52c2",
    '"trace_id": "7a085a368932ff2b2d409dd311ca8719"',
    "InvocationID=3c4f0f5a8e2d4b0c9a1e7f6d5c4b3a29",
    "https://web1:8080/api/v1/items?page=2",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEx1pTq9yZ3V7fN0kL2mQ8rS4tU6vW9xY1zA3bC5dE7f alice@laptop",
    "password: ${DB_PASSWORD}",
    "api_key: <your key here>",
    "token=$TOKEN",
    "secret: '********'",
    "-----BEGIN CERTIFICATE-----",
    "MIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ",
]


@pytest.mark.parametrize("hs", ENGINES)
@pytest.mark.parametrize(("line", "secret"), SECRET_LINES, ids=[s[0][:40] for s in SECRET_LINES])
def test_redacts(line: str, secret: str, hs: bool) -> None:
    out = scrub(line, use_hyperscan=hs)
    assert secret not in out.text
    assert "[REDACTED:" in out.text
    assert out.findings and secret not in repr(out.findings)


@pytest.mark.parametrize("hs", ENGINES)
@pytest.mark.parametrize("line", BENIGN)
def test_leaves_ordinary_values(line: str, hs: bool) -> None:
    out = scrub(line, use_hyperscan=hs)
    assert out.text is line and out.findings == []


@pytest.mark.parametrize("rule", VENDOR_RULES, ids=lambda r: r.kind + ":" + r.pattern[:20])
def test_every_vendor_rule_matches_its_own_format(rule) -> None:  # noqa: ANN001
    sampler = Sampler(random.Random(hash(rule.pattern) & 0xFFFF))
    hits = 0
    # Some shapes only count at the end of a line or before a known host.
    suffix = "@gems.contribsys.com/" if rule.kind == "contribsys-credentials" else ""
    for _ in range(10):
        token = sampler.sample(rule.pattern)
        hits += token not in scrub(f"value {token}{suffix}").text
    assert hits >= 8


@pytest.mark.parametrize("hs", ENGINES)
def test_known_secrets_in_every_encoding(hs: bool) -> None:
    secret = "pa:ss/w0rd+ü"
    raw = f"login ok with {secret} done"
    for offset in range(3):  # base64 output depends on where the secret sits
        blob = base64.b64encode(("x" * offset + "user:" + secret).encode()).decode()
        raw += f"\nAuthorization-ish {blob}"
    raw += f"\nurl https://h/?p={quote(secret, safe='')}\njson {json.dumps({'p': secret})}"
    raw += f"\nurlsafe {base64.urlsafe_b64encode(('zz' + secret).encode()).decode()}"
    out = scrub(raw, [secret], use_hyperscan=hs)
    assert secret not in out.text
    assert quote(secret, safe="") not in out.text
    assert "cGE6c3Mv" not in out.text  # no base64 run holding the secret survives
    assert out.text.count("\n") == raw.count("\n")
    assert {f.kind for f in out.findings} == {"known-secret"}


def test_short_known_secrets_are_not_redacted_everywhere() -> None:
    assert scrub("root logged in", ["root"]).text == "root logged in"
    assert scrub("root logged in", ["root"], min_known_length=3).text == "[REDACTED:known-secret] logged in"


def test_multiline_known_secret_is_searched_per_line() -> None:
    key = "line-one-secret-AAAA\nline-two-secret-BBBB"
    out = scrub("a line-two-secret-BBBB b", [key]).text
    assert out == "a [REDACTED:known-secret] b"


PEM = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACDRxkFwq9Z6uZtR\n-----END OPENSSH PRIVATE KEY-----\n"
)


@pytest.mark.parametrize("hs", ENGINES)
def test_private_key_blocks(hs: bool) -> None:
    text = "before\n" + PEM + "after password=\n"
    out = scrub(text, use_hyperscan=hs)
    assert "b3BlbnNzaC1rZXkt" not in out.text and "QyNTUxOQ" not in out.text
    assert out.text.count("\n") == text.count("\n")
    assert out.text.startswith("before\n-----BEGIN OPENSSH PRIVATE KEY-----\n[REDACTED:private-key]\n")
    assert [(f.kind, f.count) for f in out.findings] == [("private-key", 1)]
    one_line = json.dumps({"key": PEM})
    out = scrub(one_line, use_hyperscan=hs)
    assert "b3BlbnNzaC1rZXkt" not in out.text and out.text.count("[REDACTED:private-key]") == 1


def test_public_material_is_kept() -> None:
    cert = "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkq\n-----END CERTIFICATE-----\n"
    assert scrub(cert).text is cert


@pytest.mark.parametrize("hs", ENGINES)
def test_idempotent_and_byte_identical(hs: bool) -> None:
    text = corpus(200_000, seed=3, secrets=[s for s, _ in SECRET_LINES] + [PEM.strip()], every=40)
    once = scrub(text, ["bmc-pass-123"], use_hyperscan=hs)
    assert once.findings
    twice = scrub(once.text, ["bmc-pass-123"], use_hyperscan=hs)
    assert twice.text == once.text and twice.findings == []
    clean = corpus(100_000, seed=5)
    assert scrub(clean, use_hyperscan=hs).text is clean
    odd = "caf\u00e9 \udcff\udcfe bytes\r\nwindows line\r\n\x00nul"
    assert scrub(odd, use_hyperscan=hs).text is odd


def test_engines_agree() -> None:
    if not prefilter_available():
        pytest.skip("hyperscan not installed")
    text = corpus(300_000, seed=9, secrets=[s for s, _ in SECRET_LINES] + [PEM.strip()], every=25)
    a = scrub(text, ["known-secret-1"], use_hyperscan=True)
    b = scrub(text, ["known-secret-1"], use_hyperscan=False)
    assert a == b


STREAM_TEXT = (
    "start\n" + "\n".join(s for s, _ in SECRET_LINES) + "\n" + PEM + "tail password=Zz9Yy8Xx7 no newline"
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM_TEXT)), max_size=12))
def test_streaming_equals_one_shot(cuts: list[int]) -> None:
    expected = scrub(STREAM_TEXT, ["Bmc!Pass99"]).text
    s = Scrubber(["Bmc!Pass99"])
    points = sorted(set(cuts))
    parts = [STREAM_TEXT[a:b] for a, b in zip([0, *points], [*points, len(STREAM_TEXT)], strict=True)]
    assert "".join(s.feed(p) for p in parts) + s.finish() == expected
    assert s.findings == scrub(STREAM_TEXT, ["Bmc!Pass99"]).findings


def test_stream_holds_partial_lines_only() -> None:
    s = Scrubber()
    assert s.feed("password=Hunt") == ""
    assert s.feed("er2xyz\nnext") == "password=[REDACTED:password]\n"
    assert s.finish() == "next"


def test_many_secret_sets_and_threads() -> None:
    # Engines and their hyperscan databases come and go (caches evict them); each scan must use
    # scratch space made for its own database, per thread.
    import gc
    import threading

    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(120):
                secret = f"sekrit-{n}-{i}-value"
                out = scrub(f"a {secret} b password=Hunter2xyz", [secret])
                assert secret not in out.text and "Hunter2xyz" not in out.text
                if i % 40 == 0:
                    gc.collect()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@pytest.mark.unit
@pytest.mark.parametrize(
    "text",
    [
        "Co-Authored-By: Claude <noreply@anthropic.com>",  # authorship, not authentication
        "const csrfToken = getToken();",  # code computing a token
        "token = fetch_token(cfg)",
    ],
)
def test_ordinary_text_from_real_sessions_is_left_alone(text):
    # Seen in real Claude Code sessions: redacting these damaged training data.
    assert scrub(text).text == text


@pytest.mark.unit
def test_a_literal_token_after_the_same_names_is_still_redacted():
    assert "[REDACTED:" in scrub("token = abcDEF123456ghiJKL").text
