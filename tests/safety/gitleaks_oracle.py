"""Secret samples generated from gitleaks' rule set (a test oracle; none of it ships in halops)."""

from __future__ import annotations

import math
import random
import re
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tests.safety.regex_sampler import Sampler, to_python

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "secrets"
GITLEAKS_TOML = FIXTURES / "gitleaks.toml"


@dataclass(frozen=True)
class Sample:
    rule: str
    text: str  # the line as it would appear in output
    secret: str  # what gitleaks would report


def _entropy(s: str) -> float:
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values()) if n else 0.0


def load() -> dict:
    return tomllib.loads(GITLEAKS_TOML.read_text(encoding="utf-8"))


def _allowed(secret: str, match: str, line: str, lists: list[dict]) -> bool:
    for allow in lists:
        target = {"match": match, "line": line}.get(allow.get("regexTarget", "secret"), secret)
        hits = []
        if allow.get("regexes"):
            hits.append(any(re.search(to_python(rx), target) for rx in allow["regexes"]))
        if allow.get("stopwords"):
            hits.append(any(w.lower() in secret.lower() for w in allow["stopwords"]))
        if allow.get("paths") and not allow.get("regexes") and not allow.get("stopwords"):
            continue
        if hits and (all(hits) if allow.get("condition") == "AND" else any(hits)):
            return True
    return False


def samples(per_rule: int = 20, seed: int = 1234) -> list[Sample]:
    """`per_rule` accepted samples for every gitleaks rule that has a content regex."""
    config = load()
    global_allow = config.get("allowlist", {})
    global_lists = [
        {"regexes": global_allow.get("regexes", []), "stopwords": global_allow.get("stopwords", [])}
    ]
    rng = random.Random(seed)
    sampler = Sampler(rng)
    out: list[Sample] = []
    for rule in config["rules"]:
        if "regex" not in rule:
            continue  # path-only rules (pkcs12 files) have nothing to find in text
        pattern = to_python(rule["regex"])
        compiled = re.compile(pattern)
        accepted = 0
        for _ in range(per_rule * 50):
            text = sampler.sample(pattern)
            m = compiled.search(text)
            if m is None:
                continue
            group = rule.get("secretGroup")
            secret = m.group(group) if group else next((g for g in m.groups() if g), m.group(0))
            if _entropy(secret) < rule.get("entropy", 0):
                continue
            if _allowed(secret, m.group(0), text, rule.get("allowlists", []) + global_lists):
                continue
            out.append(Sample(rule["id"], text, secret))
            accepted += 1
            if accepted == per_rule:
                break
    return out
