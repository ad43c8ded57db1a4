"""The night's run summary (markdown): what came in, what the models did, what was decided and what it cost."""
from __future__ import annotations

import pandas as pd

OFFER_TEXT = {"en": "{pct}% off", "es": "{pct}% de descuento", "pt": "{pct}% de desconto"}


def offer_text(offer_cost_share: float, lang: str) -> str:
    """Human text of a catalog offer (empty when the action carries none)."""
    if not offer_cost_share:
        return ""
    return OFFER_TEXT.get(lang, OFFER_TEXT["en"]).format(pct=round(offer_cost_share * 100))


def actions_by_channel(next_best_actions: pd.DataFrame) -> pd.DataFrame:
    """Customers per chosen action and channel ('-' for no channel)."""
    chosen = next_best_actions[next_best_actions["chosen"]]
    return chosen.fillna({"channel": "-"}).groupby(["action_id", "channel"]).size().reset_index(name="customers")


def _table(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False) if len(frame) else "_(none)_"


def _not_yet_known_note(intake: pd.DataFrame) -> list[str]:
    """A line when rows were set aside as dated after the as-of date (a backfill on later extracts)."""
    total = int(intake["not_yet_known"].sum()) if "not_yet_known" in intake else 0
    if not total:
        return []
    return [f"- {total:,} rows are dated after the as-of date (a backfill on later extracts): set aside as not yet "
            "known tonight (rule `not_yet_known`), not counted as bad rows.", ""]


def _baseline_note(models: pd.DataFrame) -> list[str]:
    """A warning per target scored by its rule baseline instead of a model (flagged in the manifest too)."""
    rules = models[models["baseline_rule"] != ""] if "baseline_rule" in models else models.iloc[0:0]
    return [f"- **Baseline scoring**: {t} is scored by the {r} rule, not a trained model (no model beat it)."
            for t, r in zip(rules["target"], rules["baseline_rule"])] + ([""] if len(rules) else [])


def render_run_summary(as_of: str, run_id: str, intake: pd.DataFrame, models: pd.DataFrame,
                       actions: pd.DataFrame, summary: dict) -> str:
    """Markdown for analysts and managers: intake reconciliation, models, actions, value, control, constraints."""
    costs = summary.get("constraint_costs", {})
    lines = [
        f"# Nightly NBA run — as of {as_of}", "", f"Run `{run_id}`.", "",
        *attention_lines(summary.get("needs_attention")),
        "## Intake (rows in = accepted + quarantined + not yet known)", "", _table(intake), "",
        *_not_yet_known_note(intake),
        "## Models scoring tonight", "", _table(models), "", *_baseline_note(models),
        "## Actions chosen (by action and channel)", "", _table(actions), "",
        "## Value and control", "",
        f"- Expected incremental value of tonight's plan: {summary.get('total_expected_value', 0):,.2f}",
        f"- Universal holdout (no action, recorded): {summary.get('holdout_size', 0):,} customers",
        f"- Exploration (random eligible action, probability recorded): {summary.get('exploration_size', 0):,} customers",
        f"- Calls used: {summary.get('calls_used', 0):,} of {summary.get('capacity_calls', 0):,}; expected offer spend "
        f"{summary.get('offer_spend_expected', 0):,.2f} of {summary.get('offer_budget', 0):,.2f}",
        "", "## What the constraints cost (value left on the table)", "",
    ]
    lines += [f"- {name}: {value:,.2f}" for name, value in sorted(costs.items())] or ["- none binding"]
    lines.append(f"- one more call slot is worth about {summary.get('shadow_price_call', 0):,.2f} tonight "
                 f"(shadow price); one more unit of offer budget {summary.get('shadow_price_budget_unit', 0):,.4f}")
    solver = summary.get("solver", {})
    if solver:
        lines.append(f"- solver: {solver.get('method')}, gap to the dual bound {solver.get('gap', 0):.2e}")
    removed = summary.get("threshold_removed") or {}
    if removed.get("customers"):
        lines.append(f"- thresholds (value lower bound at {summary.get('option_confidence', 0):.0%} confidence, minimum "
                     f"value {summary.get('min_margin_value', 0):,.2f}) left {removed['customers']:,} customers without "
                     f"an action whose best option was estimated at {removed['value']:,.2f} in all")
    lines += policy_lines(summary.get("policy_selection"))
    return "\n".join(lines) + "\n"


def attention_lines(items: list[str] | None) -> list[str]:
    """The "needs attention" section (only when something does)."""
    return ["## Needs attention", "", *(f"- {item}" for item in items), ""] if items else []


def policy_lines(selection: dict | None) -> list[str]:
    """The policy selection section: every candidate's value on held-out randomised contacts and the winner."""
    if not selection:
        return []
    lines = ["", "## Which policy drives tonight's plan", "", f"Deployed: **{selection['winner']}** — {selection['reason']}."]
    if selection.get("candidates"):
        lines += ["", "Estimated incremental value of each candidate over tonight's customers (doubly robust, on "
                  "randomised contacts):", "", policy_table(selection)]
    return lines


def policy_table(selection: dict) -> str:
    """Markdown table of the candidate policies' estimates (the run summary and the decisions asset page)."""
    return _table(pd.DataFrame(selection.get("candidates", [])))
