"""Settings: file + environment + defaults, every problem reported with its key."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.main import app, main
from agent.cli.settings import Settings, load_settings
from agent.config_reference import BEGIN, END, render
from halops.errors import ConfigError
from halops.settings import resolve_config_path

pytestmark = pytest.mark.unit
README = Path(__file__).resolve().parents[2] / "README.md"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "halops.toml"
    path.write_text(text)
    return path


def test_defaults_need_no_file(monkeypatch, tmp_path):
    monkeypatch.delenv("HALOPS_DATA_DIR")
    settings = load_settings(None, env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert settings.server.port == 8081
    assert settings.llm.base_url == "http://127.0.0.1:8081/v1"


def test_environment_overrides_file(monkeypatch, tmp_path):
    cfg = write(tmp_path, '[llm]\nbase_url = "http://file:1/v1"\nread_timeout_s = 7\n')
    monkeypatch.setenv("HALOPS_LLM__BASE_URL", "http://env:2/v1")
    monkeypatch.setenv("HALOPS_DATA_DIR", str(tmp_path / "data"))
    settings = load_settings(cfg)
    assert settings.llm.base_url == "http://env:2/v1"  # env wins
    assert settings.llm.read_timeout_s == 7  # the file still fills the rest of the section
    assert settings.data_dir == tmp_path / "data"
    assert settings.models_dir == tmp_path / "data" / "models"


def test_config_path_resolution(tmp_path):
    explicit = tmp_path / "a.toml"
    assert resolve_config_path(explicit, env={"HALOPS_CONFIG": "/x.toml"}) == explicit
    assert resolve_config_path(None, env={"HALOPS_CONFIG": "/x.toml"}) == Path("/x.toml")
    user = tmp_path / "halops" / "halops.toml"
    user.parent.mkdir()
    user.write_text("")
    found = resolve_config_path(None, env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert found in (Path("/etc/halops/halops.toml"), user)


def test_every_problem_is_listed_with_its_key(tmp_path):
    cfg = write(
        tmp_path,
        '[llm]\nbase_url = "localhost:8081"\nread_timeout_s = -1\ntypo_field = 3\n'
        "[server]\nport = 99999\n[nosuchsection]\nx = 1\n",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    keys = {key for key, _ in info.value.problems}
    assert keys == {"llm.base_url", "llm.read_timeout_s", "llm.typo_field", "server.port", "nosuchsection"}
    assert dict(info.value.problems)["llm.typo_field"] == "unknown setting"


def test_bad_environment_value_is_reported_with_its_key(monkeypatch):
    monkeypatch.setenv("HALOPS_SERVER__PORT", "eighty")
    with pytest.raises(ConfigError) as info:
        load_settings(None)
    assert [k for k, _ in info.value.problems] == ["server.port"]


@pytest.mark.parametrize(
    "text, needle",
    [("[llm\nbase_url = 1", "line 1"), ('data_dir = "x"\ndata_dir = "y"', "overwrite")],
)
def test_malformed_toml_is_a_config_error(tmp_path, text, needle):
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    key, message = info.value.problems[0]
    assert key == "(file)" and needle in message


def test_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")


def test_config_check_cli_lists_each_error_and_exits_2(tmp_path, capsys):
    cfg = write(tmp_path, '[llm]\nbase_url = "ftp://x"\n[server]\nn_ctx = 10\nmodel_path = "/no/such.gguf"\n')
    code = main(["config", "check", "--config", str(cfg)])
    err = capsys.readouterr().err
    assert code == 2
    assert "llm.base_url" in err and "server.n_ctx" in err
    assert "Traceback" not in err


def test_config_check_reports_semantic_problems(tmp_path, capsys):
    cfg = write(tmp_path, '[server]\nmodel_path = "/no/such.gguf"\nhost = "0.0.0.0"\n')
    assert main(["config", "check", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "server.model_path" in err and "server.host" in err


def test_config_check_flags_a_wildcard_agent_without_allowed_hosts(tmp_path, capsys):
    cfg = write(tmp_path, '[agent]\nhost = "0.0.0.0"\n')
    assert main(["config", "check", "--config", str(cfg)]) == 2
    assert "agent.allowed_hosts" in capsys.readouterr().err
    cfg = write(tmp_path, '[agent]\nhost = "0.0.0.0"\nallowed_hosts = ["ops.example"]\n')
    assert main(["config", "check", "--config", str(cfg)]) == 0


def test_config_check_ok(tmp_path, capsys):
    assert main(["config", "check", "--config", str(write(tmp_path, "[llm]\nmax_tokens = 64\n"))]) == 0
    assert "configuration OK" in capsys.readouterr().out


def test_config_show_masks_secrets(tmp_path):
    cfg = write(tmp_path, '[llm]\napi_key = "sk-very-secret-value-123"\n')
    result = CliRunner().invoke(app, ["config", "show", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    assert "sk-very-secret-value-123" not in result.output
    assert "**********" in result.output
    # Also as a root option before the sub-command.
    result = CliRunner().invoke(app, ["--config", str(cfg), "config", "show", "--json"])
    assert result.exit_code == 0 and "sk-very-secret" not in result.output


def test_no_settings_read_at_import_time(monkeypatch):
    # Settings() must be built explicitly; importing the CLI reads nothing.
    monkeypatch.setenv("HALOPS_SERVER__PORT", "not-a-port")
    import importlib

    import agent.cli.main as cli_main

    importlib.reload(cli_main)  # would raise if anything validated settings on import


def test_every_setting_is_described():
    from agent.config_reference import rows

    missing = [key for key, _t, _d, desc in rows(Settings) if not desc]
    assert missing == []


def test_readme_config_reference_is_current():
    text = README.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    assert text[start:end] == render(), (
        "README config reference is stale: run `halops config reference --write README.md`"
    )
