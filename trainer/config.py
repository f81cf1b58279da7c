"""Settings of the trainer (section `[trainer]`).

Only where things live and the default recipe belong here; the knobs of one training run are in the
recipe YAML (`trainer/recipe_config.py`) so a run is reproducible from its job's stored config.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator


class TrainerSettings(BaseModel):
    """Fine-tuning jobs: where runs, the job store and the llama.cpp converter live."""

    model_config = ConfigDict(extra="forbid")

    work_dir: Path | None = Field(
        None,
        description="Runs, job store, lock and converter cache. Empty: <data_dir>/trainer.",
    )
    default_recipe: Path = Field(
        Path(__file__).parent / "configs" / "smollm2-135m-cpu.yaml",
        description="Recipe used by `halops train` when no --recipe is given.",
    )
    llama_cpp_python_version: str = Field(
        "0.3.36",
        description="llama-cpp-python source distribution whose vendored convert_hf_to_gguf.py is used.",
    )
    smoke_prompt: str = Field(
        "Which command shows disk usage per filesystem?",
        description="Question asked of a converted GGUF before `halops convert` reports success.",
    )
    schedule: str = Field(
        "Sun *-*-* 03:00:00",
        description=(
            "When halops-trainer.timer starts `halops retrain`: one systemd OnCalendar= expression "
            "(`man systemd.time`, e.g. `daily`, `Sat *-*-* 01:30`); checked by `systemd-analyze "
            "calendar` and applied by `halops systemd install`."
        ),
    )

    @field_validator("schedule")
    @classmethod
    def _one_line(cls, value: str) -> str:
        # The full check needs systemd-analyze; it runs when the timer is rendered, not at load time.
        value = value.strip()
        if not value or any(c in value for c in "\n\r\0"):
            raise ValueError("expected one systemd OnCalendar= expression on one line")
        return value

    def resolve_work_dir(self, data_dir: Path) -> Path:
        return self.work_dir or data_dir / "trainer"
