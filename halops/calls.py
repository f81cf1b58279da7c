"""Tool calls as the model emits them, validated into typed arguments.

A `ToolCall` is what the agent parsed out of a `<tool_call>` block: a tool name and a JSON object.
`ToolCall.typed()` validates the arguments against the tool's schema; safety and the executors only
ever work on the typed form.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ToolName(StrEnum):
    SHELL = "shell"
    SSH = "ssh"
    IPMI = "ipmi"
    HTTP = "http"


class IpmiAction(StrEnum):
    POWER_STATUS = "power_status"
    POWER_ON = "power_on"
    POWER_OFF = "power_off"
    POWER_CYCLE = "power_cycle"
    POWER_RESET = "power_reset"
    CHASSIS_STATUS = "chassis_status"
    SENSORS = "sensors"
    SEL_LIST = "sel_list"
    SEL_CLEAR = "sel_clear"
    BOOT_DEVICE = "boot_device"
    IDENTIFY = "identify"


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ShellArgs(_Args):
    """Runs on the halops host itself."""

    command: str


class SshArgs(_Args):
    host: str
    command: str


class IpmiArgs(_Args):
    host: str
    action: IpmiAction
    value: str | None = Field(None, description="boot_device: pxe|disk|cdrom|bios; identify: on|off")


class HttpArgs(_Args):
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    url: str = Field(description="its host is an inventory name")
    headers: dict[str, str] | None = None
    body: str | dict[str, Any] | None = Field(None, description="a dict is sent as JSON")


ARG_MODELS: dict[ToolName, type[_Args]] = {
    ToolName.SHELL: ShellArgs,
    ToolName.SSH: SshArgs,
    ToolName.IPMI: IpmiArgs,
    ToolName.HTTP: HttpArgs,
}

TOOL_DESCRIPTIONS: dict[ToolName, str] = {
    ToolName.SHELL: "Run a read-only command on the halops host itself.",
    ToolName.SSH: "Run a command on an inventory host over SSH.",
    ToolName.IPMI: "Ask or control a host's BMC (power, sensors, event log).",
    ToolName.HTTP: "HTTP request to a service on an inventory host.",
}

TypedArgs = ShellArgs | SshArgs | IpmiArgs | HttpArgs


class ToolCall(BaseModel):
    """One call as the model wrote it: a tool name and its (not yet validated) arguments."""

    model_config = ConfigDict(extra="forbid")

    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)

    def typed(self) -> TypedArgs:
        """The arguments validated against the tool's schema.

        Raises `KeyError` for an unknown tool and `pydantic.ValidationError` for bad arguments.
        """
        return ARG_MODELS[ToolName(self.tool)].model_validate(self.arguments)


def _compact(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """A property schema without what the model does not need: titles, defaults, null branches.

    Every token of the schemas is in every prompt (and every training example), so they say only
    the type, the allowed values and what the field means.
    """
    if "$ref" in schema:
        ref = defs[schema["$ref"].rsplit("/", 1)[-1]]
        schema = {**ref, **{k: v for k, v in schema.items() if k != "$ref"}}
    out: dict[str, Any] = {}
    options = [o for o in schema.get("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:
        out.update(_compact(options[0], defs))
    elif options:
        out["anyOf"] = [_compact(o, defs) for o in options]
    for key in ("type", "enum", "additionalProperties"):
        if key in schema:
            value = schema[key]
            out[key] = _compact(value, defs) if isinstance(value, dict) else value
    if schema.get("description"):
        out["description"] = schema["description"]
    return out


def tool_schemas() -> list[dict[str, Any]]:
    """OpenAI-style function schemas of every tool, for the prompt's `<tools>` block."""
    out = []
    for name, model in ARG_MODELS.items():
        raw = model.model_json_schema()
        defs = raw.get("$defs", {})
        out.append(
            {
                "type": "function",
                "function": {
                    "name": name.value,
                    "description": TOOL_DESCRIPTIONS[name],
                    "parameters": {
                        "type": "object",
                        "properties": {k: _compact(v, defs) for k, v in raw["properties"].items()},
                        "required": raw.get("required", []),
                    },
                },
            }
        )
    return out
