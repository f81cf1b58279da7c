"""Fixtures shared by the safety tests: a small inventory and a shell-decision helper."""

from __future__ import annotations

import os
import tempfile

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

from halops.calls import ToolCall
from safety.check import check
from safety.decision import Decision
from safety.inventory import Inventory

# Hypothesis keeps examples and a Unicode cache under .hypothesis/: not in the work tree.
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "halops-hypothesis"))
settings.register_profile("halops-safety", database=None)
settings.load_profile("halops-safety")

INVENTORY = {
    "hosts": {
        "web1": {
            "address": "10.0.0.5",
            "groups": ["web"],
            "ssh": {"user": "root", "key": "web1-key"},
            "bmc": {"address": "10.0.1.5", "user": "admin", "password": "web1-bmc"},
            "http": {"base_url": "http://web1:8080"},
        },
        "db1": {"address": "db1.internal.example", "ssh": {"key": "db1-key"}},
        "gpu3": {"address": "10.0.0.9"},
    }
}


@pytest.fixture(scope="session")
def inventory() -> Inventory:
    return Inventory.model_validate(INVENTORY)


def shell(command: str, inventory: Inventory) -> Decision:
    return check(ToolCall(tool="shell", arguments={"command": command}), inventory)


@pytest.fixture()
def decide(inventory: Inventory):  # noqa: ANN201
    return lambda command: shell(command, inventory)
