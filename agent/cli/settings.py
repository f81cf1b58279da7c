"""The root of the settings tree: every package's section, composed by the composition root.

Only the console script's entry (`agent.cli`) knows every package; this is where their sections
meet. Everything else receives the built `Settings` (or one section of it) from here.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from agent.config import ServiceSettings
from eval.config import EvalSettings
from halops.settings import read_settings
from trainer.config import TrainerSettings
from trainer.data.config import DataSettings


class Settings(ServiceSettings):
    """All of halops' settings. Build with `load_settings()`; never instantiate at import time."""

    data: DataSettings = Field(default_factory=DataSettings, description="Training data pipeline.")
    trainer: TrainerSettings = Field(default_factory=TrainerSettings, description="Fine-tuning.")
    eval: EvalSettings = Field(default_factory=EvalSettings, description="Model eval and the deploy gate.")


def load_settings(config: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Read the config file and the environment into `Settings` (see `halops.settings`).

    Raises `ConfigError` listing every problem at once, each with its dotted key.
    """
    return read_settings(Settings, config, env)
