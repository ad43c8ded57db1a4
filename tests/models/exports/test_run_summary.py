"""The run summary a marketing manager reads: the plan apart from its exploration and holdout, its value with
currency and horizon, what changed since last night and what needs attention, in en, es and pt."""
import pandas as pd
import pytest

from models.exports.run_summary import render_run_summary
from models.exports.run_summary_texts import TEXTS

INTAKE = pd.DataFrame({"extract": ["customers", "purchases"], "rows_in": [1000, 10_000], "accepted": [999, 9_000],
                       "quarantined": [1, 1_000], "not_yet_known": [0, 0]})
MODELS = pd.DataFrame({"target": ["churn", "response"], "version": ["2", "1"], "trained_as_of": ["2026-11-02"] * 2,
                       "reason": ["candidate v2 scores 0.8", "learned nothing"], "baseline_rule": ["", ""]})
CONTACTS = [
    {"action_id": "content_newsletter", "channel": "email", "plan": 120, "exploration": 94, "holdout": 7,
     "plan_value": 40.5, "horizon_days": 30},
    {"action_id": "retention_offer", "channel": "phone", "plan": 25, "exploration": 3, "holdout": 2,
     "plan_value": 310.25, "horizon_days": 90},
]
SUMMARY = {
    "contacts": CONTACTS, "currency": "EUR", "value_horizon_days": [30, 90], "plan_value": 350.75, "total_expected_value": 352.0,
    "holdout_size": 999, "exploration_size": 110, "calls_used": 28, "capacity_calls": 30,
    "offer_spend_expected": 120.0, "offer_budget": 300.0,
    "unmatched_campaign_actions": {"mens_email": 18_532, "spring_promo": 12}, "values_learned": False,
    "policy_selection": {"winner": "learned", "reason": "its lower bound beats every simple policy", "candidates": []},
    "model_versions": {"churn": "2", "response": "1"},
    "previous_night": {"as_of": "2026-11-01", "plan_value": 300.0, "plan_contacts": 150,
                       "policy": "all:content_newsletter", "model_versions": {"churn": "1", "response": "1"},
                       "quarantine_share": {"customers": 0.001, "purchases": 0.02}},
}


def render(language: str) -> str:
    return render_run_summary("2026-11-02", "run-1", INTAKE, MODELS, SUMMARY, language, {"churn_probability": 0.312})


def section(markdown: str, heading: str) -> str:
    """The text of one `## heading` section."""
    start = markdown.index(heading)
    end = markdown.find("\n## ", start + len(heading))
    return markdown[start:end if end > 0 else None]


def test_the_plan_is_reported_apart_from_exploration_and_holdout_with_currency_and_horizon():
    text = render("en")
    plan = section(text, "## The plan")
    assert ("Tonight's plan contacts **145** customers; it is expected to be worth **350.75 EUR** of incremental net "
            "margin over the **30–90 days** after the contact") in plan
    assert "**Held out:** 999 customers get no action on purpose (the universal holdout); 9 of them would have been " \
           "contacted" in plan
    assert "**Explored:** 110 customers get a random permitted option instead of the plan's" in plan
    assert "97 of them are contacted. They are not part of the plan" in plan
    rows = [line for line in plan.splitlines() if line.startswith("| content_newsletter")]
    assert [cell.strip() for cell in rows[0].strip("|").split("|")] == ["content_newsletter", "email", "120", "94",
                                                                      "7", "40.5", "30"]
    assert "Calls used: 28 of 30; expected offer spend 120.00 of 300.00 EUR." in plan
    assert "Actions chosen" not in text  # the old table that mixed exploration into the plan is gone


def test_needs_attention_names_the_unmatched_ids_the_prior_fallback_and_a_quarantine_jump():
    attention = section(render("en"), "## Needs attention")
    assert "- 18,532 randomised campaign rows name action id 'mens_email', which is not in the action catalog" in attention
    assert "- 12 randomised campaign rows name action id 'spring_promo'" in attention
    assert "every action's value comes from its catalog prior" in attention
    assert "10.0% of the purchases rows were quarantined tonight (last night 2.0%)" in attention
    assert "customers rows" not in attention  # 0.1 % both nights: usual
    assert "- drift since last night in churn_probability (PSI 0.31)" in attention


def test_what_changed_since_last_night():
    changes = section(render("en"), "## What changed since last night")
    assert "- Plan value: 350.75 EUR (last night 300.00 EUR)." in changes
    assert "- Customers contacted by the plan: 145 (last night 150)." in changes
    assert "from **all:content_newsletter** to **learned**" in changes and "churn v1 → v2" in changes
    assert "response" not in changes.split("New model versions")[1]  # unchanged versions are not listed
    first = render_run_summary("2026-11-02", "run-1", INTAKE, MODELS, {**SUMMARY, "previous_night": None}, "en")
    assert "This is the first night" in section(first, "## What changed since last night")


@pytest.mark.parametrize("language, plan_heading, attention_heading, plan_words, held_words, explored_words", [
    ("es", "## El plan", "## Requiere atención", "El plan de esta noche contacta a **145** clientes",
     "**Grupo de control:** 999 clientes", "**Exploración:** 110 clientes"),
    ("pt", "## O plano", "## Requer atenção", "O plano desta noite contacta **145** clientes",
     "**Grupo de controlo:** 999 clientes", "**Exploração:** 110 clientes"),
])
def test_the_summary_reads_in_spanish_and_portuguese(language, plan_heading, attention_heading, plan_words,
                                                      held_words, explored_words):
    text = render(language)
    plan, attention = section(text, plan_heading), section(text, attention_heading)
    assert plan_words in plan and "**350.75 EUR**" in plan
    assert f"**30–90 {'días' if language == 'es' else 'dias'}**" in plan
    assert held_words in plan and explored_words in plan and ("97 de ellos" if language == "es" else "97 deles") in plan
    assert "'mens_email'" in attention and "18,532" in attention
    assert "Tonight" not in text and "Needs attention" not in text and "last night" not in text


def test_every_language_has_every_sentence():
    assert set(TEXTS["es"]) == set(TEXTS["en"]) == set(TEXTS["pt"])
