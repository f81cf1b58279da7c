"""`halops bootstrap`: from the bundled SmolLM2 to a model that uses halops's tools, on this box.

synth episodes → LoRA (the bootstrap recipe, CPU) → merge → one GGUF → the eval gate → active.
Or, unless `--rebuild`, the shipped adapter (`trainer/artifacts/bootstrap/`, built by this same
recipe and pinned by sha256) replaces the first two steps. Each step leaves its output under
`<data_dir>/bootstrap/` and is skipped when that output is there, so an interrupted bootstrap
resumes where it stopped (training from its last checkpoint), and a finished one is a no-op.
Nothing here touches the network except the one-time download of llama.cpp's converter script
from PyPI, which `halops convert` already needs.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainer.errors import TrainerError

RECIPE = Path(__file__).with_name("configs") / "smollm2-135m-bootstrap.yaml"
SHIPPED = Path(__file__).with_name("artifacts") / "bootstrap"
SHIPPED_PIN = SHIPPED.parent / "bootstrap.sha256"
QUANT = "Q8_0"  # a 135M model loses too much at 4 bits; Q8_0 keeps the fine-tune's behaviour
Say = Callable[[str], None]


@dataclass
class Steps:
    """Where each step's output lives; a step whose output exists is done."""

    root: Path

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def adapter(self) -> Path:
        return self.root / "adapter"

    @property
    def merged(self) -> Path:
        return self.root / "merged"

    @property
    def gguf_dir(self) -> Path:
        return self.root / "gguf"

    def read(self) -> dict[str, Any]:
        try:
            return json.loads(self.state.read_text())
        except (OSError, ValueError):
            return {}

    def write(self, **values: Any) -> None:
        state = {**self.read(), **values}
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.state.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2, default=str) + "\n")
        tmp.replace(self.state)


@dataclass
class BootstrapResult:
    version: int | None
    deployed: bool
    skipped: list[str] = field(default_factory=list)
    gate: Any = None
    source: str = ""


def tree_digest(folder: Path) -> str:
    """sha256 over a folder's files (names and bytes, sorted): the pin of the shipped adapter."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def shipped_adapter() -> Path | None:
    """The shipped adapter if present and intact; a mismatch is an error, never silently used."""
    if not (SHIPPED / "adapter_config.json").is_file() or not SHIPPED_PIN.is_file():
        return None
    want = SHIPPED_PIN.read_text().split()[0]
    got = tree_digest(SHIPPED)
    if got != want:
        raise TrainerError(
            f"shipped adapter {SHIPPED} does not match its pin ({got[:12]} != {want[:12]}); "
            "run `halops bootstrap --rebuild` to train one here"
        )
    return SHIPPED


def bootstrap(
    settings: Any,
    *,
    rebuild: bool = False,
    episodes: int | None = None,
    overrides: tuple[str, ...] = (),
    say: Say = lambda _m: None,
    on_train: Callable[[Any], None] | None = None,
    on_case: Callable[[Any], None] | None = None,
) -> BootstrapResult:
    from eval.gate import deploy
    from halops.llm.models import ModelStore

    steps = Steps(settings.data_dir / "bootstrap")
    state = steps.read()
    store = ModelStore(settings.models_dir)
    store.ensure_default()
    done = state.get("version")
    same_mode = not rebuild or state.get("source") == "rebuild"
    if done is not None and same_mode and store.active_version() == done:
        say(f"already bootstrapped: version {done} is active")
        return BootstrapResult(done, True, skipped=["all"], source=state.get("source", ""))
    if rebuild and state.get("source") not in (None, "rebuild"):
        shutil.rmtree(steps.root, ignore_errors=True)  # switching from the shipped adapter: start clean
    result = BootstrapResult(None, False)

    shipped = None if rebuild else shipped_adapter()
    if shipped is not None:
        result.source = "shipped"
        steps.write(source=result.source)
        say(f"adapter: shipped ({shipped}, sha256-pinned)")
        adapter = _install_shipped(settings, steps, shipped)
    else:
        result.source = "rebuild" if rebuild else "trained"
        steps.write(source=result.source)  # before training, so a rerun resumes instead of wiping
        adapter = _train(settings, steps, episodes, overrides, say, on_train, result)
    steps.write(adapter=str(adapter))

    gguf = _export(settings, steps, adapter, say, result)
    say(f"gate: scoring {gguf.name} against version {store.active_version()}")
    source = {"kind": "bootstrap", "detail": result.source, "job_id": steps.read().get("job_id")}
    gate = deploy(settings, gguf, on_case=on_case, source=source, actor="bootstrap")
    result.gate, result.version, result.deployed = gate, gate.version, gate.deployed
    provenance = {
        "source": f"bootstrap ({result.source})",
        "recipe": str(RECIPE.name),
        "adapter": str(adapter),
        "adapter_sha256": tree_digest(shipped or adapter),
        "job_id": steps.read().get("job_id"),
        "data_seed": settings.data.seed,
        "quant": QUANT,
        "deployed": gate.deployed,
    }
    (store.version_path(gate.version).parent / "PROVENANCE.json").write_text(
        json.dumps(provenance, indent=2) + "\n"
    )
    if gate.deployed:
        steps.write(version=gate.version)
    return result


def _install_shipped(settings: Any, steps: Steps, shipped: Path) -> Path:
    """The shipped adapter, made mergeable here: beside this machine's copy of the base model.

    The artifact holds only what the recipe learned (adapter weights in fp16, its config and
    recipe); the base (the bundled GGUF, dequantized once) and its tokenizer come from this install.
    """
    from halops.llm.models import bundled_model
    from trainer.recipe import BASE_FILE, materialize_base
    from trainer.runner import WorkDirs

    if (steps.adapter / BASE_FILE).is_file() and (steps.adapter / "adapter_config.json").is_file():
        return steps.adapter
    work = WorkDirs(settings.trainer.resolve_work_dir(settings.data_dir))
    base_dir = materialize_base(bundled_model(), work.base_cache)
    tmp = steps.adapter.with_name(".adapter.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(shipped, tmp)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"):
        if (base_dir / name).is_file():
            shutil.copy(base_dir / name, tmp / name)
    (tmp / BASE_FILE).write_text(json.dumps({"base_dir": str(base_dir), "base_model": "bundled"}))
    shutil.rmtree(steps.adapter, ignore_errors=True)
    tmp.rename(steps.adapter)
    return steps.adapter


def ship(adapter: Path, dest: Path = SHIPPED, pin: Path = SHIPPED_PIN) -> str:
    """Copy a trained adapter into the repo as the shipped artifact (fp16 weights) and pin it.

    Used by the maintainers after a `--rebuild` that passed the gate (bench/ship_bootstrap.py);
    returns the pin.
    """
    import torch
    from safetensors.torch import load_file, save_file

    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in ("adapter_config.json", "recipe.yaml"):
        shutil.copy(adapter / name, tmp / name)
    weights = load_file(str(adapter / "adapter_model.safetensors"))
    save_file({k: v.to(torch.float16) for k, v in weights.items()}, str(tmp / "adapter_model.safetensors"))
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    digest = tree_digest(dest)
    pin.write_text(f"{digest}  {dest.name}/\n")
    return digest


def _train(settings, steps: Steps, episodes, overrides, say, on_train, result) -> Path:
    from trainer.data.synth import run as synth
    from trainer.jobs import JobStore
    from trainer.recipe import finished_adapter
    from trainer.recipe_config import load_recipe
    from trainer.runner import WorkDirs, run_job

    if (steps.data / "report.json").is_file():
        result.skipped.append("data")
    else:
        n = episodes or settings.data.synth_episodes
        say(f"data: {n} synth episodes")
        synth.run(settings, episodes=n, out=steps.data)
    cfg = load_recipe(RECIPE, list(overrides), dataset_default=steps.data)
    work = WorkDirs(settings.trainer.resolve_work_dir(settings.data_dir))
    state = steps.read()
    job_id = state.get("job_id")
    if job_id:
        job = JobStore(work.db).get(job_id)
        adapter = finished_adapter(Path(job.output_dir)) if job.output_dir else None
        if job.status == "completed" and adapter:
            result.skipped.append("train")
            return adapter
        say(f"train: resuming job {job_id} from its last checkpoint")
        job = run_job(work, None, resume_id=job_id, on_created=on_train)
    else:
        say(f"train: {cfg.name}, {cfg.max_steps} steps")

        def created(j: Any) -> None:
            steps.write(job_id=j.id)
            if on_train:
                on_train(j)

        job = run_job(work, cfg, on_created=created)
    if job.status != "completed":
        raise TrainerError(
            f"bootstrap training job {job.id} ended {job.status}: {job.error or 'see its log'}"
        )
    adapter = finished_adapter(Path(job.output_dir))
    if adapter is None:
        raise TrainerError(f"job {job.id} completed without an adapter")
    return adapter


def _export(settings, steps: Steps, adapter: Path, say, result) -> Path:
    from trainer import export

    gguf = steps.gguf_dir / f"model-{QUANT}.gguf"
    if gguf.is_file() and steps.read().get("gguf_from") == str(adapter):
        result.skipped.append("convert")
        return gguf
    say("merge: adapter → base")
    merged = export.merge(adapter, steps.merged)
    say(f"convert: GGUF {QUANT} (must answer a question)")
    work_tools = Path(settings.trainer.resolve_work_dir(settings.data_dir)) / "tools"
    converted = export.convert(
        merged,
        steps.gguf_dir,
        work_tools,
        settings.trainer.llama_cpp_python_version,
        settings.trainer.smoke_prompt,
        quants=(QUANT,),
    )
    shutil.rmtree(steps.merged, ignore_errors=True)  # 0.5 GB of fp16 weights the GGUF now holds
    (steps.gguf_dir / "model-f16.gguf").unlink(missing_ok=True)
    steps.write(gguf_from=str(adapter))
    return Path(converted["files"][QUANT])
