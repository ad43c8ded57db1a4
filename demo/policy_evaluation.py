"""Tonight's plan and simple baselines judged against the generator's ground truth.

Every policy contacts only people the plan could contact (consent for the channel, not do-not-contact,
not suppressed) and respects the same call capacity. The true value of contacting person i with action
a on channel c is (p_treated − p_control) × value_if_converted − cost_per_contact[c] − p_treated × offer
cost, with the offer cost = offer_cost_share × the person's true expected order value.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

CHANNEL_CONSENT = {"email": "consent_email", "sms": "consent_sms", "phone": "consent_phone", "app": "consent_app"}


def true_option_values(catalog, customers: pd.DataFrame, action_truth: pd.DataFrame,
                       customers_truth: pd.DataFrame, suppressed: set[str]) -> pd.DataFrame:
    """Every contactable (customer, action, channel) with its true incremental value."""
    allowed = customers[~customers["do_not_contact"].fillna(True).astype(bool)
                        & ~customers["customer_id"].isin(suppressed)]
    truth = action_truth.merge(customers_truth[["person_id", "expected_order_value"]], on="person_id")
    rows = []
    for action in catalog.actions:
        part = truth[truth["action_id"] == action.id]
        for channel in action.channels:
            people = allowed.loc[allowed[CHANNEL_CONSENT[channel]].fillna(False).astype(bool), ["customer_id"]]
            joined = people.merge(part, left_on="customer_id", right_on="person_id")
            value = ((joined["p_treated"] - joined["p_control"]) * joined["value_if_converted"]
                     - action.cost_per_contact[channel]
                     - joined["p_treated"] * action.offer_cost_share * joined["expected_order_value"])
            rows.append(pd.DataFrame({"customer_id": joined["customer_id"], "action_id": action.id,
                                      "channel": channel, "true_value": value.to_numpy()}))
    return pd.concat(rows, ignore_index=True)


def _with_capacity(picks: pd.DataFrame, capacity_calls: int) -> pd.DataFrame:
    """One option per customer (the first listed) and at most `capacity_calls` phone contacts, in order."""
    picks = picks.drop_duplicates("customer_id", keep="first")
    is_call = (picks["channel"] == "phone").to_numpy()
    keep = ~is_call | (np.cumsum(is_call) <= capacity_calls)
    return picks[keep]


def evaluate_policies(plan: pd.DataFrame, options: pd.DataFrame, scores: pd.DataFrame, capacity_calls: int,
                      seed: int, retention_action_ids: list[str]) -> pd.DataFrame:
    """True total value of the plan and of the baselines, each contacting as many people as the plan."""
    keys = ["customer_id", "action_id", "channel"]
    chosen = plan[plan["chosen"] & (plan["action_id"] != "no_action")][keys]
    n = len(chosen)
    results = {"plan (tonight)": chosen.merge(options, on=keys, how="left")["true_value"].fillna(0).sum(),
               "no action": 0.0}
    best_single = -np.inf
    for action_id, group in options.groupby("action_id"):
        group = group.sort_values(["channel"], key=lambda c: c.map({"email": 0, "app": 1, "sms": 2, "phone": 3}),
                                  kind="mergesort")
        picks = _with_capacity(group.sort_values("customer_id", kind="mergesort"), capacity_calls).head(n)
        best_single = max(best_single, picks["true_value"].sum())
    results["single best action for everyone"] = best_single if np.isfinite(best_single) else 0.0
    risk = options[options["action_id"].isin(retention_action_ids)].merge(
        scores[["customer_id", "churn_probability"]], on="customer_id")
    risk = risk.sort_values(["churn_probability", "customer_id"], ascending=[False, True], kind="mergesort")
    results["highest churn risk first"] = _with_capacity(risk, capacity_calls).head(n)["true_value"].sum()
    rng = np.random.default_rng(seed)
    shuffled = options.iloc[rng.permutation(len(options))]
    results["random"] = _with_capacity(shuffled, capacity_calls).head(n)["true_value"].sum()
    frame = pd.DataFrame({"policy": list(results), "true_incremental_value": [float(v) for v in results.values()]})
    frame["contacts"] = n
    return frame
