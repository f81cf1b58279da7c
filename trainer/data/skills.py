"""Strategy C: question/answer pairs from skill documents (`<skills_dir>/*/SKILL.md`).

A skill is YAML front matter (`name`, `description`) and a markdown body. Without a model at hand
the questions are templated and the answers are the operator's own text: what the skill is for
(its description and opening paragraph), and one pair per section with substance. `augment`
can ask a model for more varied pairs from the same documents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n?", re.DOTALL)
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
MIN_SECTION_CHARS = 80


@dataclass(frozen=True)
class Skill:
    name: str
    description: str
    intro: str
    sections: list[tuple[str, str]]  # (heading, body)
    path: Path


@dataclass(frozen=True)
class QA:
    question: str
    answer: str
    key: str  # stable id part


def find(skills_dir: Path) -> list[Path]:
    root = skills_dir.expanduser()
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("*/SKILL.md") if p.is_file())


def parse(path: Path) -> Skill:
    text = path.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
    meta: dict = {}
    match = _FRONT.match(text)
    if match:
        try:
            loaded = yaml.safe_load(match.group(1))
        except yaml.YAMLError:
            loaded = None
        meta = loaded if isinstance(loaded, dict) else {}
        text = text[match.end() :]
    name = str(meta.get("name") or path.parent.name).strip()
    description = " ".join(str(meta.get("description") or "").split())
    intro_lines: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    in_fence = False
    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        if heading and len(heading.group(1)) >= 2:
            sections.append((heading.group(2).strip(), []))
        elif heading:  # the document title
            continue
        elif sections:
            sections[-1][1].append(line)
        else:
            intro_lines.append(line)
    intro = "\n".join(intro_lines).strip().split("\n\n")[0].strip()
    return Skill(
        name=name,
        description=description,
        intro=intro,
        sections=[(h, "\n".join(b).strip()) for h, b in sections],
        path=path,
    )


def pairs(skill: Skill) -> list[QA]:
    out = []
    about = "\n\n".join(p for p in (skill.description, skill.intro) if p)
    if about:
        out.append(QA(f"What is the {skill.name} skill for, and when should I use it?", about, "about"))
    for i, (heading, body) in enumerate(skill.sections):
        if len(body) < MIN_SECTION_CHARS:
            continue
        question = f'In the {skill.name} skill, what does the section "{heading}" say?'
        out.append(QA(question, f"## {heading}\n\n{body}", f"section-{i}"))
    return out
