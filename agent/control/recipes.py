"""Training recipes by name, and validating a recipe plus overrides without loading torch.

Only recipes shipped in `trainer/configs/` (and the configured default recipe) can be chosen over
the API: a name, never a path, so a request cannot point the trainer at an arbitrary file. The
checks are the trainer's own (`load_recipe`); whether CUDA exists is answered from the device
nodes instead of torch, which the daemon must never load (the training process checks again).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from agent.server.errors import ApiError
from trainer.errors import TrainConfigError
from trainer.recipe_config import RecipeConfig, load_recipe

# What the API's overrides may not touch: the data comes from `training_file`.
FORBIDDEN_OVERRIDES = {"dataset_dir": "set by training_file, not by an override"}


def gpu_present() -> bool:
    return Path("/dev/nvidiactl").exists() or Path("/dev/nvidia0").exists()


def configs_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "trainer" / "configs"


def catalog(default_recipe: Path) -> dict[str, Path]:
    found = {p.stem: p for p in sorted(configs_dir().glob("*.yaml"))}
    found.setdefault(default_recipe.stem, default_recipe)
    return found


def describe(path: Path) -> dict[str, Any]:
    """name, description (the file's leading comment) and its values over the recipe defaults."""
    text = path.read_text()
    comment = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        comment.append(line.lstrip("#").strip())
    data = yaml.safe_load(text) or {}
    try:
        defaults = RecipeConfig.model_validate(data).model_dump(mode="json")
    except ValidationError:
        defaults = dict(data) if isinstance(data, dict) else {}
    defaults.pop("dataset_dir", None)
    return {"name": path.stem, "description": " ".join(comment), "defaults": defaults}


def resolve(name: str | None, default_recipe: Path) -> Path:
    known = catalog(default_recipe)
    if name is None:
        return default_recipe
    if name not in known:
        raise ApiError(
            400, f"unknown recipe {name!r}; known: {', '.join(sorted(known))}", code="unknown_recipe"
        )
    return known[name]


def overrides_of(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(k, str) for k in raw):
        raise ApiError(400, "overrides must be an object of key: value", code="invalid_overrides")
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}


def problems(
    recipe: Path, overrides: dict[str, str], dataset_dir: Path | None, *, check_dataset: bool
) -> tuple[RecipeConfig | None, list[dict[str, str]]]:
    """The validated config, or every problem as {key, message} (config None)."""
    found = [{"key": k, "message": why} for k, why in FORBIDDEN_OVERRIDES.items() if k in overrides]
    items = [f"{k}={v}" for k, v in overrides.items()]
    default = dataset_dir or Path("/nonexistent")
    try:
        cfg = load_recipe(recipe, items, dataset_default=default, has_cuda=gpu_present())
    except TrainConfigError as exc:
        found += [{"key": k, "message": m} for k, m in exc.problems if check_dataset or k != "dataset_dir"]
        return None, found
    if found:
        return None, found
    return cfg.model_copy(update={"dataset_dir": dataset_dir}), []
