"""Data settings, skill documents (strategy C) and the optional augment stage."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from halops.llm.client import LLMClient
from halops.llm.config import LlmSettings
from tests.data.helpers import settings_for
from trainer.data import augment, skills
from trainer.data.config import DEFAULT_WEIGHTS, DataSettings
from trainer.data.stages import Layout
from trainer.data.tokens import load_counter

pytestmark = pytest.mark.unit


def test_defaults_match_the_design():
    ds = DataSettings()
    assert (ds.tier_a, ds.tier_b, ds.dedup_threshold, ds.dedup_num_perm) == (0.7, 0.4, 0.85, 128)
    assert ds.split_ratios == (0.90, 0.05, 0.05)
    assert ds.sources == [Path("~/.claude/projects")] and ds.skills_dir == Path("~/.claude/skills")
    assert ds.augment_base_url is None
    assert DataSettings(weights={"domain": 1.0}).weights == {**DEFAULT_WEIGHTS, "domain": 1.0}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"weights": {"vibes": 1.0}}, "unknown quality dimension"),
        ({"tier_a": 0.3, "tier_b": 0.5}, "tier_b"),
        ({"dedup_bands": 7}, "divide"),
        ({"split_ratios": (0.8, 0.1, 0.05)}, "adding up to 1"),
        ({"subagent_tiers": ["Z"]}, "unknown tier"),
        ({"no_such_knob": 1}, "Extra inputs"),
    ],
)
def test_bad_settings_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        DataSettings(**fields)


SKILL = """---
name: cert-renewal
description: Renew TLS certificates with certbot before they expire.
---
# Certificates

Certificates from Let's Encrypt last 90 days.

## Check expiry

Run `certbot certificates` and look at the VALID line of each certificate; anything under 30 days
needs attention today.

```bash
# ## not a heading inside a fence
certbot certificates
```

## Short
too short to teach anything
"""


def test_skill_documents_become_question_answer_pairs(tmp_path: Path):
    path = tmp_path / "cert-renewal" / "SKILL.md"
    path.parent.mkdir()
    path.write_text(SKILL)
    (tmp_path / "not-a-skill").mkdir()
    assert skills.find(tmp_path) == [path]
    doc = skills.parse(path)
    assert doc.name == "cert-renewal" and doc.intro == "Certificates from Let's Encrypt last 90 days."
    assert [h for h, _ in doc.sections] == ["Check expiry", "Short"]
    pairs = skills.pairs(doc)
    assert [p.key for p in pairs] == ["about", "section-0"]
    assert "certbot" in pairs[0].answer and "# ## not a heading" in pairs[1].answer


def test_augment_is_skipped_when_no_endpoint_is_set(tmp_path: Path):
    result = augment.run(Layout(tmp_path), DataSettings(), "Be careful.")
    assert result.status == "skipped" and "augment_base_url" in result.note


def test_augment_asks_the_endpoint_and_tolerates_bad_replies(tmp_path: Path, tokenizer_json: Path):
    skills_dir = tmp_path / "skills"
    for name, reply in (
        ("good", 'sure: [{"question": "How do I renew?", "answer": "certbot renew"}]'),
        ("bad", "I cannot do that"),
    ):
        (skills_dir / name).mkdir(parents=True)
        (skills_dir / name / "SKILL.md").write_text(f"---\nname: {name}\ndescription: {reply}\n---\nbody\n")
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        prompt = body["messages"][0]["content"]
        content = (
            "sure: " + json.dumps([{"question": "How do I renew?", "answer": "certbot renew"}] * 9)
            if "name: good" in prompt
            else "I cannot do that"
        )
        return httpx.Response(
            200, json={"choices": [{"message": {"content": content}, "finish_reason": "stop"}]}
        )

    client = LLMClient(LlmSettings(base_url="http://augment.test/v1"), transport=httpx.MockTransport(handler))
    settings = settings_for(
        tmp_path,
        tokenizer_json,
        skills_dir=skills_dir,
        augment_base_url="http://augment.test/v1",
        augment_per_skill=3,
    )
    layout = Layout(settings.data_dir)
    result = augment.run(layout, settings.data, "Be careful.", client=client)
    assert result.status == "ran" and result.counts == {"skills": 2, "examples": 3, "redacted": 0}
    assert all(b["temperature"] == 0.0 for b in seen) and len(seen) == 2
    rows = [json.loads(x) for x in (layout.folder("augment") / augment.OUTPUT).read_text().splitlines()]
    assert [r["id"] for r in rows] == ["C:augment:good:1", "C:augment:good:2", "C:augment:good:3"]
    assert rows[0]["metadata"]["source"] == "augment" and rows[0]["messages"][2]["content"] == "certbot renew"
    stats = json.loads((layout.folder("augment") / "stats.json").read_text())
    assert stats["unusable_replies"] == 1


def test_tokenizer_cache_is_reused(tmp_path: Path, tokenizer_json: Path):
    counter = load_counter(tokenizer_json, tmp_path)
    # The chat template's markers are single special tokens of SmolLM2's vocabulary.
    assert counter.count(["<|im_start|>", "<|im_start|>user\nhello<|im_end|>\n", "df -h"]) == [1, 6, 3]
    assert counter.count_one("df -h") == 3
