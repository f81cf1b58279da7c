"""Recipe config: design defaults, overrides, and every problem reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.trainer.toolcall_data import write_dataset
from trainer.errors import TrainConfigError
from trainer.recipe_config import RecipeConfig, check_recipe, load_recipe, parse_overrides

CONFIGS = Path(__file__).resolve().parents[2] / "trainer" / "configs"
pytestmark = pytest.mark.unit


def test_defaults_are_the_designs_values() -> None:
    cfg = RecipeConfig()
    assert (cfg.lora.r, cfg.lora.alpha, cfg.lora.dropout) == (16, 32, 0.05)
    assert set(cfg.lora.target_modules) == {
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    }
    assert (cfg.lr_scheduler, cfg.learning_rate, cfg.epochs) == ("cosine", 2e-4, 3.0)


def test_overrides_parse_as_yaml_and_reach_nested_keys() -> None:
    assert parse_overrides(["epochs=1", "learning_rate=1e-4", "lora.r=8", "packing=true", "name=x"]) == {
        "epochs": 1,
        "learning_rate": 1e-4,
        "lora": {"r": 8},
        "packing": True,
        "name": "x",
    }
    with pytest.raises(TrainConfigError) as err:
        parse_overrides(["epochs"])
    assert err.value.problems == [("epochs", "expected key=value")]


def test_every_field_problem_is_listed_at_once(tmp_path: Path) -> None:
    with pytest.raises(TrainConfigError) as err:
        load_recipe(None, ["lora.r=0", "batch_size=-1", "optimizer=sgd", "bogus=1"], dataset_default=tmp_path)
    keys = {k for k, _ in err.value.problems}
    assert {"lora.r", "batch_size", "optimizer", "bogus"} <= keys
    assert f"{len(err.value.problems)} problems" in str(err.value)
    assert ("dataset_dir", f"{tmp_path}/train.jsonl is missing") in err.value.problems  # cross-field too


def test_cross_field_problems_are_listed_at_once_before_any_model_loads(tmp_path: Path) -> None:
    overrides = [
        "device=cpu",
        "use_liger=true",
        "optimizer=paged_adamw_8bit",
        "compute_dtype=bf16",
        "base_model=/nope/model",
        "eval_steps=10",
        "save_steps=15",
    ]
    with pytest.raises(TrainConfigError) as err:
        load_recipe(None, overrides, dataset_default=tmp_path / "missing")
    keys = [k for k, _ in err.value.problems]
    assert {"use_liger", "optimizer", "compute_dtype", "base_model", "save_steps", "dataset_dir"} <= set(keys)
    assert keys.count("dataset_dir") == 2  # train.jsonl and val.jsonl


def test_cuda_request_without_cuda_is_a_config_problem() -> None:
    cfg = RecipeConfig(device="cuda")
    assert ("device", "cuda requested but torch sees no CUDA device") in check_recipe(cfg, has_cuda=False)


def test_shipped_cpu_recipe_validates(tmp_path: Path) -> None:
    ds = write_dataset(tmp_path / "ds")
    cfg = load_recipe(CONFIGS / "smollm2-135m-cpu.yaml", [], dataset_default=ds)
    assert cfg.device == "cpu" and cfg.quantization == "none" and cfg.dataset_dir == ds


def test_shipped_7b_recipe_is_the_qlora_recipe_and_valid_on_a_cuda_machine(tmp_path: Path) -> None:
    import yaml

    data = yaml.safe_load((CONFIGS / "qwen2.5-7b-qlora-8gb.yaml").read_text())
    model_dir = tmp_path / "qwen"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    data.update(
        compute_dtype="bf16", base_model=str(model_dir), dataset_dir=str(write_dataset(tmp_path / "ds"))
    )
    cfg = RecipeConfig.model_validate(data)
    assert (cfg.quantization, cfg.double_quant, cfg.optimizer) == ("nf4", True, "paged_adamw_8bit")
    assert cfg.use_liger and cfg.gradient_checkpointing and cfg.max_seq_len == 2048
    assert check_recipe(cfg, has_cuda=True) == []
    assert {k for k, _ in check_recipe(cfg, has_cuda=False)} == {"device"}
    # Pointed at the CPU, the CUDA-only options are listed together.
    cpu = cfg.model_copy(update={"device": "cpu"})
    assert {k for k, _ in check_recipe(cpu, has_cuda=False)} == {"use_liger", "optimizer", "compute_dtype"}


def test_unreadable_recipe_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(TrainConfigError, match="not a mapping"):
        load_recipe(bad, [], dataset_default=tmp_path)


def test_skip_layers_leaves_the_bottom_layers_without_adapters() -> None:
    from trainer.errors import TrainerError
    from trainer.recipe import lora_config

    assert lora_config(RecipeConfig(lora={"skip_layers": 10}), 30).layers_to_transform == list(range(10, 30))
    assert lora_config(RecipeConfig(), 30).layers_to_transform is None
    with pytest.raises(TrainerError, match="leaves no layer to adapt"):
        lora_config(RecipeConfig(lora={"skip_layers": 30}), 30)
    with pytest.raises(ValidationError):
        RecipeConfig(lora={"skip_layers": -1})


def test_tool_choice_weight_needs_the_prefix_engine() -> None:
    keys = {k for k, _ in check_recipe(RecipeConfig(engine="trl", tool_choice_weight=5.0), has_cuda=False)}
    assert "tool_choice_weight" in keys
    prefix = RecipeConfig(engine="prefix", device="cpu", tool_choice_weight=5.0)
    assert "tool_choice_weight" not in {k for k, _ in check_recipe(prefix, has_cuda=False)}
    with pytest.raises(ValidationError):
        RecipeConfig(tool_choice_weight=0.5)  # below 1 would train the choice less than the rest
