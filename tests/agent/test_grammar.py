"""The tool grammar: built from the schemas, accepted by llama.cpp, and it makes calls valid.

The unit half checks the grammar's text against the schemas; the model half asks the real bundled
model through llama-cpp-python's server with and without the grammar, and every call it emits
under the grammar parses and validates.
"""

from __future__ import annotations

import json
import re

import pytest

from agent.config import DEFAULT_INSTRUCTIONS
from agent.loop.runner import STOP
from halops.calls import tool_schemas
from halops.grammar import tool_grammar
from halops.parser import parse_reply
from halops.prompt import system_prompt


def _rules(grammar: str) -> dict[str, str]:
    return dict(line.split(" ::= ", 1) for line in grammar.splitlines() if " ::= " in line)


@pytest.mark.unit
def test_every_tool_and_enum_value_is_in_the_grammar() -> None:
    rules = _rules(tool_grammar(tool_schemas()))
    assert set(rules) >= {
        "root",
        "calls",
        "call",
        "answer",
        "call-shell",
        "call-ssh",
        "call-ipmi",
        "call-http",
    }
    for action in ("power_status", "sensors", "sel_list", "identify"):
        assert f'"\\"{action}\\""' in rules["args-ipmi"]
    # Required properties first, in schema order; optional ones may be left out.
    assert rules["args-ssh"].index("host") < rules["args-ssh"].index("command")
    assert '( ", " "\\"value\\": "' in rules["args-ipmi"] and rules["args-ipmi"].endswith(')? "}"')
    # Prose may not open with "<": a reply is either an answer or calls, never a half-written tag.
    assert rules["answer"].startswith("[^<]")


@pytest.mark.unit
def test_no_tools_is_an_error() -> None:
    with pytest.raises(ValueError):
        tool_grammar([])


@pytest.mark.model
def test_llama_cpp_accepts_the_grammar() -> None:
    from llama_cpp import LlamaGrammar

    LlamaGrammar.from_string(tool_grammar(tool_schemas()), verbose=False)


@pytest.mark.model
@pytest.mark.integration
def test_real_model_calls_are_valid_under_the_grammar(model_server) -> None:
    """Greedy replies of the bundled model to tool questions: with the grammar every call parses
    and validates against its schema (and names a real tool)."""
    from halops.llm.client import LLMClient

    system = system_prompt(DEFAULT_INSTRUCTIONS, tools=tool_schemas())
    grammar = tool_grammar(tool_schemas())
    prompts = [
        "Check the free memory on cachebox9 over ssh.",
        "Use the ipmi tool: is srv-44 powered on?",
        "GET http://pay7:8080/health with the http tool.",
        "Run uptime with the shell tool.",
    ]
    calls = []
    with LLMClient(model_server.llm_settings(max_retries=0)) as client:
        for prompt in prompts:
            reply = client.chat(
                [{"role": "system", "content": system}, {"role": "user", "content": prompt}],
                max_tokens=96,
                temperature=0.0,
                stop=STOP,
                grammar=grammar,
            ).content
            parsed = parse_reply(reply)
            assert not parsed.errors, reply
            for call in parsed.calls:
                call.typed()  # raises if the arguments do not validate
                calls.append(call)
            if not parsed.calls:  # prose is allowed, but must not start a tag
                assert not reply.lstrip().startswith("<"), reply
    # Not a quality bar (the untrained model may answer in prose): a format guarantee.
    assert all(c.tool in {"shell", "ssh", "ipmi", "http"} for c in calls)
    assert all(re.fullmatch(r"[^\x00-\x1f]+", json.dumps(c.arguments)) for c in calls)
