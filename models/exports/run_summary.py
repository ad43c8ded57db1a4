"""The night's run summary (markdown, in the configured language), written for a marketing manager first: what
tonight's plan is, what it is worth and over which horizon, who is held out and who is explored, what changed since
last night and what needs attention; then the details an analyst checks (intake, models, constraints, policies)."""
from __future__ import annotations

import pandas as pd

from models.decisions.night_glance import horizon_text
from models.exports.run_summary_texts import TEXTS

OFFER_TEXT = {"en": "{pct}% off", "es": "{pct}% de descuento", "pt": "{pct}% de desconto"}


def offer_text(offer_cost_share: float, lang: str) -> str:
    """Human text of a catalog offer (empty when the action carries none)."""
    if not offer_cost_share:
        return ""
    return OFFER_TEXT.get(lang, OFFER_TEXT["en"]).format(pct=round(offer_cost_share * 100))


QUARANTINE_JUMP = 2.0          # tonight's quarantine share over last night's that counts as "above its usual share"
QUARANTINE_MIN_POINTS = 0.005  # ... when it is also at least half a percentage point higher (small extracts are noisy)


def _table(frame: pd.DataFrame, texts: dict) -> str:
    return frame.to_markdown(index=False) if len(frame) else texts["none"]


def _money(value: float) -> str:
    return f"{value:,.2f}"


def render_run_summary(as_of: str, run_id: str, intake: pd.DataFrame, models: pd.DataFrame, summary: dict,
                       language: str = "en", drifted: dict[str, float] | None = None) -> str:
    """The night's markdown (beside the exports and on the exports asset page) in `language` (en, es, pt);
    `drifted`: column -> PSI of tonight's drift warnings."""
    texts = TEXTS.get(language, TEXTS["en"])
    lines = [texts["title"].format(as_of=as_of), "", texts["run"].format(run=run_id), ""]
    lines += attention_lines(attention_items(summary, models, intake, texts, drifted), texts)
    lines += plan_lines(summary, texts)
    lines += change_lines(summary, texts)
    lines += [texts["intake"], "", _table(intake, texts), "", *_not_yet_known_note(intake, texts),
              texts["models"], "", _table(models, texts), ""]
    lines += constraint_lines(summary, texts)
    lines += policy_lines(summary.get("policy_selection"), texts)
    return "\n".join(lines) + "\n"


def attention_items(summary: dict, models: pd.DataFrame, intake: pd.DataFrame, texts: dict,
                    drifted: dict[str, float] | None = None) -> list[str]:
    """What a manager must know before trusting tonight's plan: campaign ids that match no catalog action (with
    their row counts), values resting on catalog priors only, targets scored by a rule baseline, extracts whose
    quarantined share jumped above last night's, and scores or features that drifted since last night."""
    unmatched = summary.get("unmatched_campaign_actions") or {}
    items = [texts["unmatched"].format(rows=f"{n:,}", action=a) for a, n in sorted(unmatched.items())]
    if summary.get("values_learned") is False:
        items.append(texts["priors_only"])
    rules = models[models["baseline_rule"] != ""] if "baseline_rule" in models else models.iloc[0:0]
    items += [texts["baseline"].format(target=t, rule=r) for t, r in zip(rules["target"], rules["baseline_rule"])]
    previous = ((summary.get("previous_night") or {}).get("quarantine_share")) or {}
    for extract, share in quarantine_shares(intake).items():
        before = previous.get(extract)
        if before is not None and share > QUARANTINE_JUMP * before and share - before >= QUARANTINE_MIN_POINTS:
            items.append(texts["quarantine_up"].format(share=f"{share:.1%}", extract=extract, previous=f"{before:.1%}"))
    if drifted:
        items.append(texts["drift"].format(columns=", ".join(f"{c} (PSI {p:.2f})" for c, p in sorted(drifted.items()))))
    return items


def quarantine_shares(intake: pd.DataFrame) -> dict[str, float]:
    """Quarantined share of the rows in, per extract (what the next night compares with)."""
    return {str(e): (float(q) / float(n) if n else 0.0)
            for e, n, q in zip(intake["extract"], intake["rows_in"], intake["quarantined"])}


def attention_lines(items: list[str] | None, texts: dict | None = None) -> list[str]:
    """The "needs attention" section (only when something does)."""
    texts = texts or TEXTS["en"]
    return [texts["attention"], "", *(f"- {item}" for item in items), ""] if items else []


def plan_lines(summary: dict, texts: dict) -> list[str]:
    """Tonight's plan: its contacts and value (currency, horizon), apart from the holdout and the exploration."""
    contacts = pd.DataFrame(summary.get("contacts") or [], columns=["action_id", "channel", "plan", "exploration",
                                                                  "holdout", "plan_value", "horizon_days"])
    currency, planned = summary.get("currency", ""), int(contacts["plan"].sum())
    withheld, explored = int(contacts["holdout"].sum()), int(summary.get("exploration_size", 0))
    lines = [texts["plan"], ""]
    lines.append(texts["plan_line"].format(contacts=f"{planned:,}", value=_money(summary.get("plan_value", 0)),
                                           currency=currency,
                                           horizon=horizon_text(summary.get("value_horizon_days", []), texts["days"]))
                 if planned else texts["plan_none"])
    lines += ["", texts["holdout_line"].format(holdout=f"{summary.get('holdout_size', 0):,}", withheld=f"{withheld:,}"),
              "", texts["exploration_line"].format(explored=f"{explored:,}",
                                                   contacted=f"{int(contacts['exploration'].sum()):,}"), "",
              texts["calls_line"].format(calls=f"{summary.get('calls_used', 0):,}",
                                         capacity=f"{summary.get('capacity_calls', 0):,}",
                                         spend=_money(summary.get("offer_spend_expected", 0)),
                                         budget=_money(summary.get("offer_budget", 0)), currency=currency),
              "", texts["contacts_table"].format(currency=currency), "", _table(contacts, texts), ""]
    return lines


def change_lines(summary: dict, texts: dict) -> list[str]:
    """What changed since the previous night the home ran: value, contacts, policy, model versions."""
    previous, currency = summary.get("previous_night"), summary.get("currency", "")
    lines = [texts["changes"], ""]
    if not previous:
        return lines + [texts["first_night"], ""]
    planned = sum(int(c["plan"]) for c in summary.get("contacts") or [])
    lines += [texts["change_value"].format(value=_money(summary.get("plan_value", 0)), currency=currency,
                                           previous=_money(previous.get("plan_value", 0))),
              texts["change_contacts"].format(contacts=f"{planned:,}", previous=f"{previous.get('plan_contacts', 0):,}")]
    policy = (summary.get("policy_selection") or {}).get("winner")
    if policy != previous.get("policy"):
        lines.append(texts["change_policy"].format(previous=previous.get("policy"), policy=policy))
    versions, before = summary.get("model_versions") or {}, previous.get("model_versions") or {}
    changed = [f"{t} v{before.get(t, '-')} → v{v}" for t, v in sorted(versions.items()) if before.get(t) != v]
    if changed:
        lines.append(texts["change_models"].format(models=", ".join(changed)))
    if policy == previous.get("policy") and not changed:
        lines.append(texts["change_none"])
    return lines + [""]


def _not_yet_known_note(intake: pd.DataFrame, texts: dict) -> list[str]:
    """A line when rows were set aside as dated after the as-of date (a backfill on later extracts)."""
    total = int(intake["not_yet_known"].sum()) if "not_yet_known" in intake else 0
    return [texts["not_yet_known"].format(rows=f"{total:,}"), ""] if total else []


def constraint_lines(summary: dict, texts: dict) -> list[str]:
    """What each binding limit cost, the shadow prices, the solver's gap and what thresholds held back."""
    costs = summary.get("constraint_costs", {})
    lines = [texts["costs"], ""]
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
    held = summary.get("contact_rules_held_back") or {}
    if held.get("customers"):
        reasons = ", ".join(f"{reason}: {count:,}" for reason, count in sorted(held.get("by_reason", {}).items()))
        lines.append(texts["contact_rules"].format(customers=f"{held['customers']:,}", value=f"{held['value']:,.2f}",
                                                   reasons=reasons))
    return lines


def policy_lines(selection: dict | None, texts: dict | None = None) -> list[str]:
    """The policy selection section: every candidate's value on held-out randomised contacts and the winner."""
    texts = texts or TEXTS["en"]
    if not selection:
        return []
    lines = ["", texts["policy"], "", texts["deployed"].format(winner=selection["winner"], reason=selection["reason"])]
    if selection.get("candidates"):
        lines += ["", texts["candidates"], "", policy_table(selection)]
    if line := evidence_line(selection, texts):
        lines += ["", line]
    return lines


def evidence_line(selection: dict | None, texts: dict | None = None) -> str:
    """What would let a more promising simple policy be shown (policy_selection.evidence_needed), "" when none."""
    evidence = (selection or {}).get("evidence_needed")
    if not evidence:
        return ""
    return (texts or TEXTS["en"])["evidence"].format(
        policy=evidence["policy"], action=evidence["action_id"], value=f"{evidence['value']:,.2f}",
        se=f"{evidence['se']:,.2f}", rows=f"{evidence['rows']:,}", more=f"{evidence['more_rows']:,}",
        factor=f"{evidence['factor']:,.1f}")


def policy_table(selection: dict) -> str:
    """Markdown table of the candidate policies' estimates (the run summary and the decisions asset page)."""
    return _table(pd.DataFrame(selection.get("candidates", [])), TEXTS["en"])
