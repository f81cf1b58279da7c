"""Settings of the data pipeline (section `[data]`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class DataSettings(BaseModel):
    """The training data pipeline (filled in by the data issue)."""

    model_config = ConfigDict(extra="forbid")
