"""Tonight's per-channel campaign lists (email, sms, app, call_center) from the chosen, contacted actions."""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from models.exports.columns import coerce_columns, is_missing, required_info, to_date
from models.exports.contract import load_export_contract
from models.golden.contactability import LANGUAGES

PLACE_COLUMNS = ("phone_country", "country", "time_zone", "language")  # golden contact fields, not personal


def build_export_lists(nba: pd.DataFrame, customers: pd.DataFrame, actions: dict, reasons: dict,
                       run_info: dict, lang: str = "en", *, contract: dict | None = None) -> dict[str, pd.DataFrame]:
    """One frame per contract list (email, sms, app, call_center) from tonight's chosen, contacted actions.

    Only the columns the contract declares for a list are kept: a list carries no other personal field.
    """
    contract = contract or load_export_contract()
    return lists_from_contacts(build_contact_rows(nba, customers, actions, reasons, run_info, lang, contract=contract),
                               contract)


def lists_from_contacts(contacts: pd.DataFrame, contract: dict) -> dict[str, pd.DataFrame]:
    """The contract's lists (their columns only, typed) from build_contact_rows' frame."""
    return {name: coerce_columns(contacts[contacts["list"] == name], spec["columns"], name)
            for name, spec in contract["lists"].items()}


def build_contact_rows(nba: pd.DataFrame, customers: pd.DataFrame, actions: dict, reasons: dict,
                       run_info: dict, lang: str = "en", *, contract: dict | None = None) -> pd.DataFrame:
    """Every contact of tonight with every field a list or an export profile may carry, one row per contact.

    Holdout rows, 'no_action' and rows without a channel are never contacted, so never exported. Texts
    (action name, offer, script hint) are in each customer's `language` (golden record), `lang` when unknown.
    Rows are ordered per list by expected value desc then customer_id and numbered as `priority`.
    """
    contract = contract or load_export_contract()
    if lang not in LANGUAGES:
        raise ValueError(f"Export language {lang!r} is not supported; use one of {', '.join(LANGUAGES)}.")
    rows = select_contact_rows(nba, {spec["channel"] for spec in contract["lists"].values()})
    customers = customers.assign(**{c: None for c in PLACE_COLUMNS if c not in customers.columns})
    people = unique_customers(customers, [*contract["personal_columns"], *PLACE_COLUMNS], "customers")
    wide = rows.merge(people, on="customer_id", how="left")
    wide["language"] = wide["language"].where(wide["language"].isin(LANGUAGES), lang)
    texts = pd.concat([localise_actions(actions, rows["action_id"].unique(), code).assign(language=code)
                       for code in LANGUAGES], ignore_index=True)
    wide = wide.merge(texts, on=["action_id", "language"], how="left")
    separator = contract.get("reasons_separator", "; ")
    wide["reasons"] = [separator.join(str(p) for p in _phrases(reasons.get(cid))) for cid in wide["customer_id"]]
    wide["campaign_id"] = str(required_info(run_info, "campaign_id"))
    wide["valid_until"] = to_date(required_info(run_info, "valid_until"), "run_info.valid_until")
    list_of = {spec["channel"]: name for name, spec in contract["lists"].items()}
    wide["list"] = wide["channel"].map(list_of)
    ordered = [order_rows(wide[wide["list"] == name]) for name in contract["lists"]]
    return pd.concat(ordered, ignore_index=True) if ordered else wide


def select_contact_rows(nba: pd.DataFrame, channels: set[str]) -> pd.DataFrame:
    """Chosen, non-holdout rows with a real action and channel; an unknown channel is an error."""
    needed = ["customer_id", "rank", "action_id", "channel", "expected_value", "chosen", "is_holdout"]
    missing = [c for c in needed if c not in nba.columns]
    if missing:
        raise ValueError(f"next_best_actions lacks column(s) {', '.join(missing)}.")
    chosen = nba["chosen"].astype("boolean").fillna(False) & ~nba["is_holdout"].astype("boolean").fillna(True)
    rows = nba.loc[chosen.to_numpy(bool) & (nba["action_id"] != "no_action").to_numpy() & nba["channel"].notna().to_numpy(),
                   ["customer_id", "rank", "action_id", "channel", "expected_value"]]
    unknown = sorted(set(rows["channel"]) - channels)
    if unknown:
        raise ValueError(f"next_best_actions.channel has value {unknown[0]!r}; exports know {', '.join(sorted(channels))}.")
    return rows.assign(customer_id=rows["customer_id"].astype(str)).reset_index(drop=True)


def unique_customers(customers: pd.DataFrame, columns: list[str], label: str) -> pd.DataFrame:
    """customer_id plus `columns`, with one row per customer (a duplicate would double a contact)."""
    missing = [c for c in ["customer_id", *columns] if c not in customers.columns]
    if missing:
        raise ValueError(f"{label} lacks column(s) {', '.join(missing)}.")
    people = customers[["customer_id", *columns]].assign(customer_id=customers["customer_id"].astype(str))
    duplicated = people["customer_id"][people["customer_id"].duplicated()]
    if len(duplicated):
        raise ValueError(f"{label} has customer_id {duplicated.iloc[0]!r} more than once.")
    return people


def localise_actions(actions: Mapping[str, Mapping], action_ids: Iterable[str], lang: str) -> pd.DataFrame:
    """action_id, action_name, offer, script_hint in `lang` (English when that text is missing)."""
    records = []
    for action_id in sorted(action_ids):
        if action_id not in actions:
            raise ValueError(f"Action {action_id!r} in next_best_actions is not in the action catalog.")
        action = actions[action_id]
        name = _localise(action.get("name"), lang)
        if not name:
            raise ValueError(f"Action {action_id!r} in the action catalog has no name.")
        records.append({"action_id": action_id, "action_name": name, "offer": _localise(action.get("offer"), lang),
                        "script_hint": _localise(action.get("script_hint"), lang)})
    return pd.DataFrame(records, columns=["action_id", "action_name", "offer", "script_hint"])


def order_list(rows: pd.DataFrame, columns: list[dict], name: str) -> pd.DataFrame:
    """Sort by expected value desc then customer_id, number the rows as `priority`, keep contract columns."""
    return coerce_columns(order_rows(rows), columns, name)


def order_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Sort by expected value (2 decimals) desc then customer_id, rank, action_id; number the rows as `priority`."""
    rows = rows.assign(expected_value=pd.to_numeric(rows["expected_value"]).round(2) + 0.0)
    rows = rows.sort_values(["expected_value", "customer_id", "rank", "action_id"],
                            ascending=[False, True, True, True], kind="mergesort")
    return rows.assign(priority=range(1, len(rows) + 1))


def _localise(value: Any, lang: str) -> str:
    if isinstance(value, Mapping):
        value = value.get(lang) or value.get("en")
    return "" if is_missing(value) else str(value)


def _phrases(value: Any) -> list:
    if value is None or isinstance(value, float) and math.isnan(value):
        return []
    return [value] if isinstance(value, str) else list(value)
