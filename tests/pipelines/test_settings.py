"""Configuration merging, rejection of unknown keys, the typed settings, and paths that may not escape HOME."""
import datetime as dt

import pydantic
import pytest
import yaml

from pipelines import settings
from pipelines.lock import HomeBusyError, home_lock
from pipelines.resources import NbaHome


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
    assert settings.load_settings().as_dict() == yaml.safe_load(settings.DEFAULT_CONFIG.read_text(encoding="utf-8"))


def test_the_typed_settings_hold_the_override_with_the_fields_types(tmp_path):
    path = tmp_path / "night.yaml"
    path.write_text("decisions:\n  capacity_calls_per_night: 42\n  offer_budget_per_night: 300\n"
                    "partitions:\n  first_as_of_date: '2024-03-01'\n", encoding="utf-8")
    loaded = settings.load_settings(path)
    assert loaded.decisions.capacity_calls_per_night == 42 and type(loaded.decisions.capacity_calls_per_night) is int
    assert loaded.decisions.offer_budget_per_night == 300.0 and type(loaded.decisions.offer_budget_per_night) is float
    assert loaded.partitions.first_as_of_date == dt.date(2024, 3, 1)
    assert type(loaded.decisions.one_action_per_customer) is bool and type(loaded.currency) is str
    assert loaded.decisions.top_k == settings.load_settings().decisions.top_k  # the rest from default.yaml


def test_the_typed_settings_cannot_be_changed():
    loaded = settings.load_settings()
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        loaded.decisions.top_k = 5
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        loaded.schedule = None
    plain = loaded.as_dict()
    plain["decisions"]["levers"]["email_offer"] = 2.0
    assert loaded.decisions.levers == {}  # as_dict hands out a copy


def test_every_key_of_the_shipped_file_is_an_attribute():
    def walk(node, section, where):
        for key, value in node.items():
            fields = {field.alias or name: name for name, field in type(section).model_fields.items()}
            assert key in fields, f"{where}{key} has no field"
            attribute = getattr(section, fields[key])
            if isinstance(attribute, pydantic.BaseModel):
                walk(value, attribute, f"{where}{key}.")
            else:
                assert attribute == value, f"{where}{key}"
                seen.append(f"{where}{key}")

    seen = []
    shipped = yaml.safe_load(settings.DEFAULT_CONFIG.read_text(encoding="utf-8"))
    walk(shipped, settings.load_settings(), "")
    assert {key.split(".")[0] for key in seen} == set(shipped)
    assert {"seed", "decisions.contact_policy.cooldown_after_decline_days", "alerts.smtp.from", "paths"} <= set(seen)


def test_a_resource_reads_its_settings_once_from_its_config_file(tmp_path):
    path = tmp_path / "night.yaml"
    path.write_text("warehouse: {threads: 1}\n", encoding="utf-8")
    home = NbaHome(home_dir=str(tmp_path), config_path=str(path))
    assert home.settings().warehouse.threads == 1
    path.write_text("warehouse: {threads: 2}\n", encoding="utf-8")
    assert home.settings().warehouse.threads == 1  # one run, one configuration
    assert NbaHome(home_dir=str(tmp_path), config_path=str(path)).settings().warehouse.threads == 2


def test_an_amount_threshold_takes_cents_and_an_impossible_date_is_one_message(tmp_path):
    path = tmp_path / "night.yaml"
    path.write_text("decisions:\n  min_margin_value: 0.05\n", encoding="utf-8")
    assert settings.load_settings(path).decisions.min_margin_value == 0.05
    path.write_text("decisions:\n  min_margin_value: -1\n", encoding="utf-8")
    with pytest.raises(settings.ConfigError, match=r"'decisions.min_margin_value' must be at least 0, got -1"):
        settings.load_settings(path)
    path.write_text("partitions:\n  first_as_of_date: 2026-02-30\n", encoding="utf-8")
    with pytest.raises(settings.ConfigError, match=r"night.yaml: not valid YAML \(day is out of range for month\)"):
        settings.load_settings(path)
