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

    command: str = Field(description="Shell command line to run on the halops host.")


class SshArgs(_Args):
    host: str = Field(description="Inventory name of the host.")
    command: str = Field(description="Shell command line to run on that host.")


class IpmiArgs(_Args):
    host: str = Field(description="Inventory name of the host whose BMC to use.")
    action: IpmiAction = Field(description="What to ask the BMC.")
    value: str | None = Field(
        None, description="Argument of the action (boot_device: pxe|disk|cdrom|bios; identify: on|off)."
    )


class HttpArgs(_Args):
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = Field(
        description="HTTP method."
    )
    url: str = Field(description="http(s) URL; the host may be an inventory name (http://web1:8080/x).")
    headers: dict[str, str] | None = Field(None, description="Extra request headers.")
    body: str | dict[str, Any] | None = Field(None, description="Request body; a dict is sent as JSON.")


ARG_MODELS: dict[ToolName, type[_Args]] = {
    ToolName.SHELL: ShellArgs,
    ToolName.SSH: SshArgs,
    ToolName.IPMI: IpmiArgs,
    ToolName.HTTP: HttpArgs,
}

TOOL_DESCRIPTIONS: dict[ToolName, str] = {
    ToolName.SHELL: "Run a read-only diagnostic command on the halops host itself.",
    ToolName.SSH: "Run a command on an inventory host over SSH.",
    ToolName.IPMI: "Query or control a host's BMC over IPMI (power, sensors, event log, boot device).",
    ToolName.HTTP: "Make an HTTP request to a service on an inventory host.",
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


def tool_schemas() -> list[dict[str, Any]]:
    """OpenAI-style function schemas of every tool, for the prompt's `<tools>` block."""
    return [
        {
            "type": "function",
            "function": {
                "name": name.value,
                "description": TOOL_DESCRIPTIONS[name],
                "parameters": model.model_json_schema(),
            },
        }
        for name, model in ARG_MODELS.items()
    ]
