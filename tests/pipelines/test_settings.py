"""Configuration merging, rejection of unknown keys, and paths that may not escape HOME."""
import pytest

from pipelines import settings
from pipelines.lock import HomeBusyError, home_lock


def test_override_merges_nested_keys_and_keeps_the_rest(tmp_path):
    path = tmp_path / "night.yaml"
    path.write_text("decisions:\n  capacity_calls_per_night: 42\n", encoding="utf-8")
    config = settings.load_config(path)
    assert config["decisions"]["capacity_calls_per_night"] == 42
    assert config["decisions"]["top_k"] == settings.load_config()["decisions"]["top_k"]


def test_unknown_key_is_named_with_the_file(tmp_path):
    path = tmp_path / "night.yaml"
    path.write_text("decisions:\n  capacity_calls_per_nite: 42\n", encoding="utf-8")
    with pytest.raises(settings.ConfigError, match=r"night.yaml: unknown configuration key 'decisions.capacity_calls_per_nite'"):
        settings.load_config(path)


def test_malformed_yaml_is_reported(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("decisions: [unclosed\n", encoding="utf-8")
    with pytest.raises(settings.ConfigError, match="bad.yaml: not valid YAML"):
        settings.load_config(path)


@pytest.mark.parametrize("relative", ["../outside", "/etc", "exports/../../x"])
def test_paths_cannot_escape_their_root(tmp_path, relative):
    with pytest.raises(settings.ConfigError, match="escapes its root"):
        settings.resolve_inside(tmp_path, relative, "paths.exports")
    assert settings.resolve_inside(tmp_path, "exports/sub", "paths.exports") == (tmp_path / "exports" / "sub").resolve()


def test_second_run_on_the_same_home_refuses_at_once(tmp_path):
    with home_lock(tmp_path, "first"):
        with pytest.raises(HomeBusyError, match="another nba run is using this home"):
            with home_lock(tmp_path, "second"):
                pass
    with home_lock(tmp_path, "third"):
        pass
