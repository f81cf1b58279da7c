"""Settings of the trainer (section `[trainer]`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class TrainerSettings(BaseModel):
    """Fine-tuning jobs (filled in by the trainer issue)."""

    model_config = ConfigDict(extra="forbid")
