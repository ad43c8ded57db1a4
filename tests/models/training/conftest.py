"""Fixtures of the training tests."""
import pytest

from models.training import registry


@pytest.fixture()
def store(tmp_path):
    """MLflow pointed at a fresh SQLite store and artifact folder under tmp_path."""
    registry.configure_tracking(f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "artifacts")
    return tmp_path
