"""The `[trainer]` settings section."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from trainer.config import TrainerSettings
from trainer.recipe_config import RecipeConfig

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("model", [TrainerSettings, RecipeConfig])
def test_every_field_is_described(model: type) -> None:
    for name, field in model.model_fields.items():
        assert field.description, f"{model.__name__}.{name} has no description"


def test_defaults_and_unknown_keys(tmp_path: Path) -> None:
    settings = TrainerSettings()
    assert settings.resolve_work_dir(tmp_path) == tmp_path / "trainer"
    assert settings.default_recipe.name == "smollm2-135m-cpu.yaml" and settings.default_recipe.exists()
    assert TrainerSettings(work_dir=tmp_path / "w").resolve_work_dir(tmp_path) == tmp_path / "w"
    with pytest.raises(ValidationError):
        TrainerSettings(bogus=1)
