"""Env-style credential names next to their values, in prose and YAML (generated, seeded samples)."""

from __future__ import annotations

from collections import Counter

import pytest

from safety import scrub
from safety.scrub import prefilter_available
from tests.safety.corpus import benign_lines
from tests.safety.envstyle_samples import BENIGN_PROSE, samples

pytestmark = pytest.mark.unit

ENGINES = [True, False] if prefilter_available() else [False]


@pytest.mark.parametrize("hs", ENGINES)
@pytest.mark.parametrize("seed", [13, 2026])
def test_recall_at_least_97_percent_in_prose_yaml_and_webhooks(hs: bool, seed: int) -> None:
    got = samples(600, seed=seed)
    missed = Counter(s.style for s in got if s.secret in scrub(s.text, use_hyperscan=hs).text)
    assert set(Counter(s.style for s in got)) == {"prose", "yaml", "webhook"}
    assert 1 - sum(missed.values()) / len(got) >= 0.97, missed


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("Authorization header for X_ACCESS_TOKEN is q8Zr2LmT4vWx9KpN", "q8Zr2LmT4vWx9KpN"),
        ("  DB_PASSWORD: Hk;9}pQ#zR2w!x", "Hk;9}pQ#zR2w!x"),
        ("- {name: S3_SECRET_KEY, value: 7Gd2kLq9ZxT4mWp1}", "7Gd2kLq9ZxT4mWp1"),
        ("ALERT_WEBHOOK=https://chat.ops.example:8443/hooks/Zr4kQ9mT2vLx8pW4nB7c", "Zr4kQ9mT2vLx8pW4nB7c"),
        ("set SMTP_PASS to Tr0ub4dor-and-3 in the unit", "Tr0ub4dor-and-3"),
    ],
)
def test_examples(line: str, secret: str) -> None:
    out = scrub(line)
    assert secret not in out.text and "[REDACTED:" in out.text


@pytest.mark.parametrize("line", BENIGN_PROSE)
def test_names_next_to_ordinary_words_are_left_alone(line: str) -> None:
    assert scrub(line).text == line


def test_benign_ops_lines_at_most_1_percent_altered() -> None:
    lines = benign_lines(20_000, seed=4242)
    altered = sum(scrub(line).text != line for line in lines)
    assert altered / len(lines) <= 0.01
