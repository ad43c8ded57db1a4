"""The one resource every asset uses: where this installation keeps its warehouse, models and exports."""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import datetime as dt
import functools
from pathlib import Path
from typing import Iterator

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from pipelines import settings
from pipelines.config_schema import Settings


LANDING_RECORD = "landing.txt"


class NbaHome(dg.ConfigurableResource):
    """An installation's HOME (warehouse, MLflow store, exports) plus its landing folder and config file.

    `landing_dir` is either the folder holding tonight's extracts, or a root holding one dated
    sub-folder per night (`<landing_dir>/<YYYY-MM-DD>/`), as the landing sensor expects.
    """

    home_dir: str
    landing_dir: str = ""
    config_path: str = ""
    mlflow_tracking_uri: str = ""
    _settings: Settings | None = PrivateAttr(default=None)

    @property
    def root(self) -> Path:
        """The home folder, resolved."""
        return Path(self.home_dir).expanduser().resolve()

    @property
    def warehouse_path(self) -> Path:
        return self.root / "warehouse" / "nba.duckdb"

    @property
    def exports_root(self) -> Path:
        return settings.resolve_inside(self.root, self.settings().paths.get("exports", "exports"), "paths.exports")

    @property
    def gx_docs_dir(self) -> Path:
        return self.root / "data_docs"

    def tracking_uri(self) -> str:
        """Remote MLflow when configured (NBA_MLFLOW_TRACKING_URI via the resource), else SQLite under HOME."""
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{self.root / 'mlflow' / 'mlflow.db'}"

    def artifact_root(self) -> Path:
        return self.root / "mlflow" / "artifacts"

    def configure_tracking(self) -> None:
        """Point MLflow (process-global state) at this home's store and check that it can be read: the one
        place that configures tracking, called by the runners before a night and by every asset that logs,
        gates or loads a model (in a multiprocess run each step is its own process)."""
        from models.training import registry  # imports MLflow: only when a model is touched

        registry.configure_tracking(self.tracking_uri(), self.artifact_root())

    def settings(self) -> Settings:
        """The run configuration (the shipped defaults merged with `config_path`), loaded and validated once per
        resource instance: a run's steps read one configuration even if the file changes meanwhile."""
        if self._settings is None:
            self._settings = settings.load_settings(self.config_path or None)
        return self._settings

    def catalog_path(self) -> Path:
        configured = self.settings().paths.get("action_catalog")
        if not configured:
            return settings.DEFAULT_CATALOG
        base = Path(self.config_path).parent if self.config_path else Path.cwd()
        return (base / configured).resolve()

    def suppression_path(self) -> Path | None:
        """Optional erasure / suppression list: config paths.suppression_list, else landing suppression.csv."""
        configured = self.settings().paths.get("suppression_list")
        if configured:
            base = Path(self.config_path).parent if self.config_path else Path.cwd()
            return (base / configured).resolve()
        return None

    def night_settings_dir(self, as_of: dt.date | str) -> Path:
        """HOME/runs/<as-of>/: the configuration and action catalog that night ran with."""
        return self.root / "runs" / str(as_of)

    def record_night_settings(self, as_of: dt.date) -> Path:
        """Write the merged config (config.yaml) and a copy of the action catalog (catalog.yaml) to
        `night_settings_dir(as_of)`, so `nba explain` / `nba evaluate` read what the night used without being
        told again. The recorded config names the copy as its catalog and the suppression list by absolute path."""
        import yaml

        from models.atomic import write_text_atomically

        folder = self.night_settings_dir(as_of)
        folder.mkdir(parents=True, exist_ok=True)
        config = self.settings().as_dict()
        suppression = self.suppression_path()
        config["paths"] = {**config["paths"], "action_catalog": "catalog.yaml",
                           **({"suppression_list": str(suppression)} if suppression else {})}
        write_text_atomically(folder / "catalog.yaml", self.catalog_path().read_text(encoding="utf-8"))
        write_text_atomically(folder / "config.yaml", yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
        if self.landing_dir:  # what `nba ui` started without --landing gives the runs and backfills it launches
            write_text_atomically(folder / LANDING_RECORD, str(Path(self.landing_dir).expanduser().resolve()) + "\n")
        return folder

    def recorded_landing(self) -> str:
        """The landing root the latest recorded night ran on ("" when no night recorded one)."""
        records = sorted((self.root / "runs").glob(f"*/{LANDING_RECORD}"))
        return records[-1].read_text(encoding="utf-8").strip() if records else ""

    def landing_for(self, as_of: dt.date) -> Path:
        """The folder holding the extracts for `as_of`: a dated sub-folder if present, else the folder itself."""
        if not self.landing_dir:
            raise settings.ConfigError("no landing folder configured (nba run --landing DIR or NBA_LANDING)")
        root = Path(self.landing_dir).expanduser().resolve()
        dated = root / as_of.isoformat()
        return dated if dated.is_dir() else root

    def extracts_date(self, as_of: dt.date) -> dt.date:
        """The date tonight's extracts were delivered: `as_of` for its dated landing sub-folder, else today
        (UTC). Later than `as_of` means a backfill on later extracts, whose records dated after `as_of` are
        not yet known that night (models/ingest/staging.py); a record dated after this date is in the future."""
        if self.landing_for(as_of).name == as_of.isoformat():
            return as_of
        return max(as_of, dt.datetime.now(dt.timezone.utc).date())

    @contextlib.contextmanager
    def warehouse(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the DuckDB warehouse; each asset opens, writes in transactions and closes."""
        self.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
        limits = self.settings().warehouse
        release_free_memory()  # a night runs its assets in one process: start each from the smallest footprint
        con = duckdb.connect(str(self.warehouse_path), read_only=read_only)
        try:
            con.execute("SET preserve_insertion_order = true")
            con.execute(f"SET memory_limit = '{limits.memory_limit}'")
            con.execute(f"SET threads = {limits.threads}")
            yield con
        finally:
            con.close()


def release_free_memory() -> None:
    """Hand the C heap's free pages back to the OS (glibc `malloc_trim`; a no-op elsewhere).

    The in-process night runs about twenty assets one after another; what earlier ones freed (pandas frames,
    XGBoost matrices) otherwise stays in the process's resident size and adds to the next one's peak.
    No `gc.collect()`: with Dagster, GX and MLflow loaded a full collection takes 0.2-0.7 s per call.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim():
    """glibc's `malloc_trim`, looked up once (`find_library` runs `ldconfig`), or None."""
    libc = ctypes.util.find_library("c")
    return getattr(ctypes.CDLL(libc), "malloc_trim", None) if libc else None
