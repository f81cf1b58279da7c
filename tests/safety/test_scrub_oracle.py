"""The scrubber against public oracles: gitleaks' rule set and detect-secrets' test data.

Neither ships in halops: samples are generated from gitleaks' regexes here, in the test, and the
detect-secrets files are read in place from ../shared/fixtures/secrets/.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from safety import scrub
from tests.safety import gitleaks_oracle
from tests.safety.corpus import benign_lines

pytestmark = pytest.mark.unit

DS = gitleaks_oracle.FIXTURES / "detect-secrets"

needs_fixtures = pytest.mark.skipif(
    not gitleaks_oracle.GITLEAKS_TOML.exists(), reason="../shared/fixtures/secrets is not checked out"
)


@pytest.fixture(scope="module")
def samples() -> list[gitleaks_oracle.Sample]:
    return gitleaks_oracle.samples(per_rule=10, seed=2026)


@needs_fixtures
def test_gitleaks_recall_at_least_95_percent(samples) -> None:
    per_rule: dict[str, list[bool]] = defaultdict(list)
    for s in samples:
        per_rule[s.rule].append(s.secret not in scrub(s.text).text)
    total = [ok for oks in per_rule.values() for ok in oks]
    recall = sum(total) / len(total)
    assert len(per_rule) >= 220  # every rule with a content regex produced samples
    assert recall >= 0.95, sorted((sum(v) / len(v), k) for k, v in per_rule.items())[:10]
    # No rule family is left out entirely, except those that are deliberately not ours:
    # sourcegraph's bare 40-hex alternative would redact every git commit id.
    weak = {k for k, v in per_rule.items() if sum(v) / len(v) < 0.5}
    assert weak <= {"freemius-secret-key", "curl-auth-user", "nytimes-access-token"}, weak


@needs_fixtures
def test_findings_never_contain_the_secret(samples) -> None:
    for s in samples[::7]:
        out = scrub(s.text)
        assert all(s.secret not in f.kind for f in out.findings)


def test_benign_ops_lines_at_most_2_percent_altered() -> None:
    lines = benign_lines(20_000, seed=99)
    altered = sum(scrub(line).text != line for line in lines)
    assert altered / len(lines) <= 0.02


@needs_fixtures
@pytest.mark.parametrize(
    ("name", "secrets"),
    [
        (
            "each_secret.py",
            [
                "c2VjcmV0IG1lc3NhZ2Ugc28geW91J2xsIG5ldmVyIGd1ZXNzIG15IHBhc3N3b3Jk",
                "8b1118b376c313ed420e5133ba91307817ed52c2",
                "whywouldyouusehttpforpasswords",
                "AKIAIOSFODNN7EXAMPLE",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            ],
        ),
        (
            "config.ini",
            [
                "123456789a1234",
                "23456789a1",
                "12345678901234",
                "real_secret_which_isnt_an_i_d = vh987tyw9ehy8ghis7vwyhiwbwitefy7w3ASDGYDGUASDG",
            ],
        ),
        ("config.md", ["ToCynx5Se4e2PtoZxEhW7lUJcOX15c54"]),
        ("config.yaml", ["AKIATESTTESTTESTTEST", "allowlisted_api_key: 'ToCynx5Se4e2PtoZxEhW7lUJcOX15c54'"]),
        ("files/private_key", ["somethingSuperRandomAndSecretHereThatShouldNeverBeShared"]),
        ("short_files/first_line.php", ["notHighEnoughEntropy"]),
    ],
)
def test_detect_secrets_fixtures(name: str, secrets: list[str]) -> None:
    text = (DS / name).read_text(encoding="utf-8")
    out = scrub(text)
    for secret in secrets:
        assert secret not in out.text, secret
    assert out.text.count("\n") == text.count("\n")
    assert scrub(out.text).text == out.text


@needs_fixtures
def test_ids_are_not_secrets() -> None:
    ini = scrub((DS / "config.ini").read_text(encoding="utf-8")).text
    assert "foreign_key_id = vh987tyw9ehy8ghis7vwyhiwbwitefy7w3ASDGYDGUASDG" in ini
    yml = scrub((DS / "config.yaml").read_text(encoding="utf-8")).text
    assert "uuid_should_be_ignored: '203db13e-70c7-462b-9a3d-bf32640cb0be'" in yml


@needs_fixtures
@pytest.mark.parametrize("name", ["files/file_with_no_secrets.py", "only_comments.yaml", "sample.diff"])
def test_detect_secrets_clean_files_untouched(name: str) -> None:
    text = (DS / name).read_text(encoding="utf-8")
    assert scrub(text).text == text


@needs_fixtures
def test_known_secret_catches_what_names_cannot() -> None:
    # `mimi=` carries no credential name: only a known secret (or a vendor shape) finds it.
    text = Path(DS / "config.env").read_text(encoding="utf-8")
    value = text.split("=", 1)[1].strip()
    assert value in scrub(text).text
    assert value not in scrub(text, [value]).text
