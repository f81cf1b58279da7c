"""Settings plumbing: one `halops.toml`, overridden by `HALOPS_*` environment variables.

Every section is a pydantic model whose fields carry descriptions (the README's config reference is
generated from them). Each package defines its own sections; the composition root
(`agent.cli.settings.Settings`) composes them under `RootSettings`. Nothing here runs at import
time: callers build settings with `read_settings()` and pass them (or the section they need) down.

Precedence, highest first: environment (`HALOPS_<SECTION>__<FIELD>`, `HALOPS_DATA_DIR`), the config
file, the defaults.
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from halops.errors import ConfigError

SYSTEM_CONFIG = Path("/etc/halops/halops.toml")
# The parsed config file, visible to the settings source only while read_settings() builds settings.
_FILE_DATA: ContextVar[dict[str, Any] | None] = ContextVar("halops_config_file", default=None)
CONFIG_ENV = "HALOPS_CONFIG"


def user_config_path(env: dict[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "halops" / "halops.toml"


def default_data_dir() -> Path:
    # A system install (root, systemd) keeps state in /var/lib; a user install in XDG data home.
    if os.geteuid() == 0:
        return Path("/var/lib/halops")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "halops"


class Section(BaseModel):
    """Base for config sections: unknown keys are errors, so a typo never silently does nothing."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


class RootSettings(BaseSettings):
    """The root of the settings tree: the data dir and how the tree is read.

    Subclasses add the sections as fields (`llm: LlmSettings = ...`). Packages that are handed the
    whole tree (eval, trainer) take a `RootSettings` and read their sections by name.
    """

    model_config = SettingsConfigDict(
        env_prefix="HALOPS_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where models, the vector store, SQLite databases, datasets and logs live. "
        "Default /var/lib/halops for root, else $XDG_DATA_HOME/halops.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Explicit kwargs (tests, code) > environment > the config file > defaults.
        return (init_settings, env_settings, _FileSource(settings_cls))

    # Derived locations: one place decides the data dir layout.
    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"


class _FileSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ returns the whole file at once

    def __call__(self) -> dict[str, Any]:
        return _FILE_DATA.get() or {}


def resolve_config_path(explicit: Path | None, env: dict[str, str] | None = None) -> Path | None:
    """The config file to read: --config, else $HALOPS_CONFIG, else the first of /etc, per-user."""
    env = os.environ if env is None else env
    if explicit is not None:
        return explicit
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    for candidate in (SYSTEM_CONFIG, user_config_path(env)):
        if candidate.is_file():
            return candidate
    return None


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}", [("(file)", f"{path} does not exist")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML", [("(file)", str(exc))]) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}", [("(file)", str(exc))]) from None


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(root)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown setting"
        out.append((key, msg))
    return out


S = TypeVar("S", bound=RootSettings)


def read_settings(cls: type[S], config: Path | None = None, env: dict[str, str] | None = None) -> S:
    """Read the config file (see `resolve_config_path`) and the environment into a `cls`.

    Raises `ConfigError` listing every problem at once, each with its dotted key.
    """
    path = resolve_config_path(config, env)
    data = read_config_file(path) if path is not None else {}
    token = _FILE_DATA.set(data)
    try:
        return cls()
    except ValidationError as exc:
        problems = _problems(exc)
        where = f" in {path}" if path else ""
        raise ConfigError(f"{len(problems)} problem(s) in the configuration{where}", problems) from None
    finally:
        _FILE_DATA.reset(token)


def masked_dump(settings: BaseModel) -> dict[str, Any]:
    """The effective settings as plain data, secrets replaced by asterisks, unset values dropped."""
    return settings.model_dump(mode="json", exclude_none=True)
