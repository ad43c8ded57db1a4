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


@pytest.mark.parametrize("override, message", [
    ("decisions:\n  capacity_calls_per_night: lots\n", "'decisions.capacity_calls_per_night' must be a whole number, got 'lots'"),
    ("training:\n  retrain_every_days: 7.5\n", "'training.retrain_every_days' must be a whole number, got 7.5"),
    ("decisions:\n  one_action_per_customer: 1\n", "'decisions.one_action_per_customer' must be true or false, got 1"),
    ("decisions:\n  holdout_share: 1.5\n", "'decisions.holdout_share' must be between 0 and 1, got 1.5"),
    ("training:\n  churn_horizon_days: 0\n", "'training.churn_horizon_days' must be at least 1, got 0"),
    ("language: fr\n", "'language' must be one of en, es, pt, got 'fr'"),
    ("currency: euro\n", "'currency' must be a three-letter ISO 4217 code such as EUR, got 'euro'"),
    ("feedback:\n  lift_period: month\n", "'feedback.lift_period' must be one of night, week, got 'month'"),
    ("feedback:\n  lift_confidence: 1.2\n", "'feedback.lift_confidence' must be between 0.5 and 0.999, got 1.2"),
    ("ingest: 3\n", "'ingest' must be a mapping, got 3"),
])
def test_wrong_types_and_impossible_values_are_named_with_file_key_and_value(tmp_path, override, message):
    path = tmp_path / "night.yaml"
    path.write_text(override, encoding="utf-8")
    with pytest.raises(settings.ConfigError) as caught:
        settings.load_config(path)
    assert str(caught.value) == f"{path}: {message}"


def test_a_number_may_be_written_as_a_whole_number_and_the_shipped_defaults_pass(tmp_path):
    path = tmp_path / "night.yaml"
    path.write_text("decisions:\n  offer_budget_per_night: 300\n  margin_rate: 1\n", encoding="utf-8")
    assert settings.load_config(path)["decisions"]["offer_budget_per_night"] == 300
    settings.check_values(settings.load_config())
