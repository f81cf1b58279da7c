"""A GBNF grammar for the model's replies, built from the tool schemas.

A reply is either prose (anything that does not open with `<`), or one or more `<tool_call>` blocks
in exactly the form the agent parses and the trainer teaches:

    <tool_call>
    {"name": "ssh", "arguments": {"host": "web1", "command": "df -h"}}
    </tool_call>

The tool name is one of the schemas' names and the arguments follow that tool's schema (required
properties in schema order, then the optional ones, `json.dumps` spacing), so with the grammar on,
no call can fail to parse or name a host as a tool. llama.cpp applies it while sampling (the
embedded server and `llama-server` both take a `grammar` field); nothing here imports llama.cpp.

Only the JSON-schema subset the tool argument models use is supported: string (with enum),
integer, number, boolean, object with properties, `anyOf` with null (optional), and free-form
objects/values. Anything else falls back to a generic JSON value, which still parses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

MAX_CALLS = 3  # calls in one reply; more is a model looping, not a plan

_BASE_RULES = r"""
ws ::= [ ]?
string ::= "\"" char* "\""
nonempty-string ::= "\"" char+ "\""
char ::= [^"\\\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F])
integer ::= "-"? [0-9]+
number ::= "-"? [0-9]+ ("." [0-9]+)? ([eE] [-+]? [0-9]+)?
boolean ::= "true" | "false"
null ::= "null"
value ::= string | number | boolean | null | object | array
object ::= "{" ws ( string ": " value (", " string ": " value)* )? ws "}"
array ::= "[" ws ( value (", " value)* )? ws "]"
string-map ::= "{" ( string ": " string (", " string ": " string)* )? "}"
answer ::= [^<] [^\x00]*
""".strip()


def _literal(text: str) -> str:
    """A GBNF string literal matching `text` exactly."""
    return json.dumps(text)


def _rule_name(*parts: str) -> str:
    return "-".join(re.sub(r"[^a-z0-9]+", "-", p.lower()).strip("-") for p in parts)


def _value_rule(schema: dict[str, Any]) -> str:
    """The right-hand side for one property's schema."""
    if "enum" in schema:
        return " | ".join(_literal(json.dumps(v)) for v in schema["enum"])
    options = schema.get("anyOf")
    if options:
        # Optional properties are left out when null, so only the non-null branches matter here.
        branches = [_value_rule(o) for o in options if o.get("type") != "null"]
        return " | ".join(f"( {b} )" for b in branches) if branches else "value"
    kind = schema.get("type")
    if kind == "string":
        return "nonempty-string" if schema.get("minLength", 1) > 0 else "string"
    if kind == "integer":
        return "integer"
    if kind == "number":
        return "number"
    if kind == "boolean":
        return "boolean"
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra.get("type") == "string":
            return "string-map"
        return "object"
    return "value"


def _arguments_rule(params: dict[str, Any]) -> str:
    """`{"a": .., "b": ..}`: required properties in order, each optional one may be left out."""
    props: dict[str, Any] = params.get("properties", {})
    required = [p for p in params.get("required", []) if p in props]
    optional = [p for p in props if p not in required]
    pieces: list[str] = []
    for i, name in enumerate(required):
        sep = "" if i == 0 else '", " '
        pieces.append(f"{sep}{_literal(json.dumps(name) + ': ')} ( {_value_rule(props[name])} )")
    for name in optional:
        if pieces:
            pieces.append(f'( ", " {_literal(json.dumps(name) + ": ")} ( {_value_rule(props[name])} ) )?')
        else:  # no required property: the first optional one has no comma before it
            pieces.append(f"( {_literal(json.dumps(name) + ': ')} ( {_value_rule(props[name])} ) )?")
    return '"{" ' + " ".join(pieces) + ' "}"'


def tool_grammar(tools: Sequence[dict[str, Any]]) -> str:
    """GBNF accepting prose, or 1..MAX_CALLS well-formed calls of the given tools."""
    if not tools:
        raise ValueError("a tool grammar needs at least one tool")
    lines = [
        "root ::= answer | calls",
        "calls ::= call" + ' ( "\\n" call )?' * (MAX_CALLS - 1),
        'call ::= "<tool_call>\\n{\\"name\\": " ( '
        + " | ".join(_rule_name("call", t["function"]["name"]) for t in tools)
        + ' ) "}\\n</tool_call>"',
    ]
    for tool in tools:
        fn = tool["function"]
        name = fn["name"]
        lines.append(
            f"{_rule_name('call', name)} ::= "
            f"{_literal(json.dumps(name) + ', ' + json.dumps('arguments') + ': ')}"
            f" {_rule_name('args', name)}"
        )
        lines.append(f"{_rule_name('args', name)} ::= {_arguments_rule(fn.get('parameters') or {})}")
    return "\n".join(lines) + "\n" + _BASE_RULES + "\n"
