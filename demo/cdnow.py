"""A real public purchase log as a test bed: CDNOW (23,570 customers who first bought in Q1 1997, every CD
purchase to June 1998), shipped inside the `lifetimes` package, so nothing is downloaded.

`write_landing` turns the log into the input contract as a new user would deliver it: customers (id, first
purchase date as signup date; a placeholder e-mail address with e-mail consent so that the e-mail list has
someone to contact) and purchases (one order per log line). `measure` compares a night's CLV, and a BG/NBD +
Gamma-Gamma fitted on the same history alone, with what each customer really spent over the next
`horizon_days` (39 weeks, the rest of the log, by default).

    python -m demo.cdnow --out DIR [--every N]     # writes DIR/landing, runs 1997-10-01 in DIR/home, prints figures
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd

AS_OF = dt.date(1997, 10, 1)
HORIZON_DAYS = 273  # 39 weeks: 1997-10-01 .. 1998-06-30, the end of the log
CONFIG = f"""seed: 7
training:
  clv_horizon_days: {HORIZON_DAYS}   # the horizon the figures are measured on
"""


def cdnow_path() -> Path:
    """CDNOW_master.txt inside the installed lifetimes package (located without importing lifetimes.datasets,
    which needs pkg_resources)."""
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the lifetimes package is not installed: it ships the CDNOW log")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "CDNOW_master.txt"


def read_log(path: Path | None = None) -> pd.DataFrame:
    """(customer_id, date, quantity, amount) of every line of the log."""
    log = pd.read_csv(path or cdnow_path(), sep=r"\s+", skiprows=1, header=None,
                      names=["customer_id", "date", "quantity", "amount"], dtype={"customer_id": str, "date": str})
    log["date"] = pd.to_datetime(log["date"], format="%Y%m%d")
    return log


def write_landing(out: Path, every: int = 1) -> Path:
    """Write customers.csv and purchases.csv of the log (every `every`-th customer) into `out`; return it."""
    log = read_log()
    ids = np.sort(log["customer_id"].unique())[::every]
    log = log[log["customer_id"].isin(ids)].reset_index(drop=True)
    out.mkdir(parents=True, exist_ok=True)
    first = log.groupby("customer_id", as_index=False)["date"].min()
    pd.DataFrame({"customer_id": first["customer_id"], "signup_date": first["date"].dt.strftime("%Y-%m-%d"),
                  "email": "c" + first["customer_id"] + "@cdnow.example", "consent_email": "true"}
                 ).to_csv(out / "customers.csv", index=False)
    pd.DataFrame({"order_id": [f"o{i}" for i in range(len(log))], "customer_id": log["customer_id"],
                  "order_ts": log["date"].dt.strftime("%Y-%m-%d"), "amount": log["amount"].round(2),
                  "quantity": log["quantity"]}).to_csv(out / "purchases.csv", index=False)
    return out


def realised_revenue(ids: pd.Series, start: dt.date, horizon_days: int, log: pd.DataFrame | None = None) -> np.ndarray:
    """What each customer of `ids` spent in [start, start + horizon_days) according to the log."""
    log = read_log() if log is None else log
    window = log[(log["date"] >= pd.Timestamp(start)) & (log["date"] < pd.Timestamp(start + dt.timedelta(horizon_days)))]
    return window.groupby("customer_id")["amount"].sum().reindex(ids.astype(str), fill_value=0.0).to_numpy(float)


def measure(home: Path, as_of: dt.date = AS_OF, horizon_days: int = HORIZON_DAYS) -> dict[str, dict[str, float]]:
    """The night's CLV and BG/NBD + Gamma-Gamma alone (fitted on the warehouse's history before `as_of`) against
    realised revenue over `horizon_days`: Spearman, top-decile revenue capture, total percent error."""
    import duckdb

    from models.features.btyd import fit_btyd_at
    from models.training.evaluation import regressor_metrics

    with duckdb.connect(str(home / "warehouse" / "nba.duckdb"), read_only=True) as con:
        scores = con.execute("SELECT customer_id, clv FROM customer_scores ORDER BY customer_id").df()
        horizon = con.execute("SELECT max(clv_horizon_days) FROM customer_scores").fetchone()[0]
        fit, inputs = fit_btyd_at(con, as_of)
    realised = realised_revenue(scores["customer_id"], as_of, horizon_days)
    inputs = inputs.set_index("customer_id").loc[scores["customer_id"]]
    figures = {"night_clv": regressor_metrics(realised, scores["clv"].to_numpy(float) * horizon_days / horizon),
               "bg_nbd_gamma_gamma": regressor_metrics(realised, fit.revenue(inputs, horizon_days))}
    for name in figures:
        figures[name] = {k: round(v, 4) for k, v in figures[name].items()}
    figures["realised_total"] = {"revenue": round(float(realised.sum()), 2), "customers": float(len(realised))}
    return figures


def main(argv: list[str] | None = None) -> int:
    from pipelines.runner import run_nightly

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--every", type=int, default=1, help="keep every N-th customer (1: the whole log)")
    args = parser.parse_args(argv)
    landing = write_landing(args.out / "landing", args.every)
    config = args.out / "cdnow_config.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    outcome = run_nightly(args.out / "home", landing, AS_OF, config)
    if not outcome.success:
        print(f"the night failed: {outcome.message}")
        return 1
    print(json.dumps(measure(args.out / "home"), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
