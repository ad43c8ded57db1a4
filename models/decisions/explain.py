"""Plain-language explanations of the night's decisions, from the decision audit (en, es, pt).

explain_customer: why each catalog action was or was not chosen for one customer, for a person
answering "why did (didn't) we contact this customer?". policy_reason: a short phrase for the call
centre list saying why tonight's action was chosen; call_list_reasons: the call list's reasons (the churn
model's two strongest and the policy reason).
"""
from __future__ import annotations

import math
from typing import Any, Callable

import pandas as pd

from models.decisions.catalog import CHANNELS, Catalog
from models.scoring.reasons import explain_customers

LANGUAGES = ("en", "es", "pt")

CHANNEL_NAMES = {
    "en": {"email": "email", "sms": "SMS", "phone": "phone call", "app": "app notification"},
    "es": {"email": "correo electrónico", "sms": "SMS", "phone": "llamada", "app": "notificación de la app"},
    "pt": {"email": "e-mail", "sms": "SMS", "phone": "ligação", "app": "notificação do app"},
}

TEXT = {
    "en": {
        "title": "Customer {customer}: decision for tonight",
        "chosen": "Chosen: {action} by {channel} (expected value {value}).",
        "explored": "This option was drawn at random to learn what works (exploration).",
        "nothing": "Chosen: no action tonight.",
        "others": "Why not the other options:",
        "not_eligible": "not eligible: {rule} does not hold",
        "not_suitable": "not suitable now: {rule} does not hold",
        "unranked": "not considered",
    },
    "es": {
        "title": "Cliente {customer}: decisión para esta noche",
        "chosen": "Elegida: {action} por {channel} (valor esperado {value}).",
        "explored": "Esta opción se eligió al azar para aprender qué funciona (exploración).",
        "nothing": "Elegida: ninguna acción esta noche.",
        "others": "Por qué no las demás opciones:",
        "not_eligible": "no elegible: no se cumple {rule}",
        "not_suitable": "no adecuada ahora: no se cumple {rule}",
        "unranked": "no considerada",
    },
    "pt": {
        "title": "Cliente {customer}: decisão para esta noite",
        "chosen": "Escolhida: {action} por {channel} (valor esperado {value}).",
        "explored": "Esta opção foi sorteada para aprender o que funciona (exploração).",
        "nothing": "Escolhida: nenhuma ação esta noite.",
        "others": "Por que não as outras opções:",
        "not_eligible": "não elegível: {rule} não se cumpre",
        "not_suitable": "não adequada agora: {rule} não se cumpre",
        "unranked": "não considerada",
    },
}

SUPPRESSION_TEXT = {
    "en": {"erased": "the customer's data was erased on request", "do_not_contact": "the customer asked not to be contacted",
           "no_consent": "no consent for {channel}", "unreachable": "no usable contact details for {channel}",
           "frequency_cap_7d": "already contacted by {channel} as often as allowed in the last 7 days",
           "frequency_cap_30d": "already contacted by {channel} as often as allowed in the last 30 days",
           "cooldown_after_decline": "declined an offer recently (waiting period)",
           "holdout": "in the control group, which is not contacted"},
    "es": {"erased": "los datos del cliente se borraron a petición suya", "do_not_contact": "el cliente pidió no ser contactado",
           "no_consent": "sin consentimiento para {channel}", "unreachable": "sin datos de contacto válidos para {channel}",
           "frequency_cap_7d": "ya se le contactó por {channel} todas las veces permitidas en los últimos 7 días",
           "frequency_cap_30d": "ya se le contactó por {channel} todas las veces permitidas en los últimos 30 días",
           "cooldown_after_decline": "rechazó una oferta hace poco (periodo de espera)",
           "holdout": "en el grupo de control, que no se contacta"},
    "pt": {"erased": "os dados do cliente foram apagados a pedido", "do_not_contact": "o cliente pediu para não ser contatado",
           "no_consent": "sem consentimento para {channel}", "unreachable": "sem dados de contato válidos para {channel}",
           "frequency_cap_7d": "já foi contatado por {channel} o máximo permitido nos últimos 7 dias",
           "frequency_cap_30d": "já foi contatado por {channel} o máximo permitido nos últimos 30 dias",
           "cooldown_after_decline": "recusou uma oferta recentemente (período de espera)",
           "holdout": "no grupo de controle, que não é contatado"},
}

NOT_CHOSEN_TEXT = {
    "en": {"lower_value": "lower expected value ({value})", "below_margin": "expected value {value} is too low to be worth a contact",
           "capacity": "no call-centre slot left tonight", "budget": "tonight's offer budget is used up",
           "action_cap": "this action reached its volume limit for tonight",
           "one_action_per_customer": "only one action per customer per night, and another is worth more ({value} here)",
           "holdout": "in the control group, which is not contacted",
           "exploration": "an option drawn at random was sent instead (exploration)"},
    "es": {"lower_value": "menor valor esperado ({value})", "below_margin": "valor esperado {value} demasiado bajo para justificar un contacto",
           "capacity": "no quedan huecos en el call center esta noche", "budget": "el presupuesto de ofertas de esta noche está agotado",
           "action_cap": "esta acción alcanzó su límite de volumen esta noche",
           "one_action_per_customer": "solo una acción por cliente y noche, y otra vale más (aquí {value})",
           "holdout": "en el grupo de control, que no se contacta",
           "exploration": "se envió en su lugar una opción elegida al azar (exploración)"},
    "pt": {"lower_value": "menor valor esperado ({value})", "below_margin": "valor esperado {value} baixo demais para justificar um contato",
           "capacity": "não há vagas no call center esta noite", "budget": "o orçamento de ofertas desta noite acabou",
           "action_cap": "esta ação atingiu seu limite de volume esta noite",
           "one_action_per_customer": "apenas uma ação por cliente por noite, e outra vale mais ({value} aqui)",
           "holdout": "no grupo de controle, que não é contatado",
           "exploration": "uma opção sorteada foi enviada no lugar (exploração)"},
}

POLICY_REASON_TEXT = {
    "en": {"best": "{action}: highest expected value tonight ({value})", "explore": "{action}: drawn at random to learn what works"},
    "es": {"best": "{action}: el mayor valor esperado esta noche ({value})", "explore": "{action}: elegida al azar para aprender qué funciona"},
    "pt": {"best": "{action}: maior valor esperado esta noite ({value})", "explore": "{action}: sorteada para aprender o que funciona"},
}


def _check_language(lang: str) -> None:
    if lang not in LANGUAGES:
        raise ValueError(f"language '{lang}' is not supported; use one of {', '.join(LANGUAGES)}")


def format_value(value: float, lang: str) -> str:
    """Money-like number with two decimals, decimal comma in es/pt."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    text = f"{value:,.2f}"
    return text if lang == "en" else text.replace(",", " ").replace(".", ",").replace(" ", ".")


def describe_option(row: pd.Series, lang: str) -> str:
    """Why one (action, channel) row of the audit was not chosen, in `lang`."""
    channel = CHANNEL_NAMES[lang][row["channel"]]
    if not row["eligible"]:
        kind, _, clause = str(row["ineligible_rule"]).partition(": ")
        return TEXT[lang]["not_suitable" if kind == "suitability" else "not_eligible"].format(rule=clause or kind)
    if row["suppressed"]:
        reason = str(row["suppression_reason"])
        for prefix in ("no_consent", "unreachable"):
            if reason.startswith(prefix + "_"):
                return SUPPRESSION_TEXT[lang][prefix].format(channel=channel)
        return SUPPRESSION_TEXT[lang][reason].format(channel=channel)
    if pd.isna(row["not_chosen_reason"]):
        return TEXT[lang]["unranked"]
    return NOT_CHOSEN_TEXT[lang][str(row["not_chosen_reason"])].format(value=format_value(row["expected_value"], lang))


def explain_customer(audit: pd.DataFrame, catalog: Catalog, customer_id: str, lang: str = "en") -> str:
    """Plain-language text of why each catalog action was or wasn't chosen for `customer_id`."""
    _check_language(lang)
    rows = audit[audit["customer_id"] == customer_id]
    if rows.empty:
        raise ValueError(f"customer '{customer_id}' is not in the decision audit")
    lines = [TEXT[lang]["title"].format(customer=customer_id)]
    chosen = rows[rows["chosen"].astype(bool)]
    for _, row in chosen.iterrows():
        lines.append(TEXT[lang]["chosen"].format(action=catalog.action(str(row["action_id"])).name(lang),
                                                 channel=CHANNEL_NAMES[lang][row["channel"]],
                                                 value=format_value(row["expected_value"], lang)))
    if chosen.empty:
        lines.append(TEXT[lang]["nothing"])
    if (rows["not_chosen_reason"].astype(object) == "exploration").any():
        lines.append(TEXT[lang]["explored"])
    others = rows[~rows["chosen"].astype(bool)]
    if not others.empty:
        lines.append(TEXT[lang]["others"])
    for action in catalog.ordered_actions():
        mine = others[others["action_id"].astype(str) == action.id]
        if mine.empty:
            continue
        reasons = [(CHANNEL_NAMES[lang][row["channel"]], describe_option(row, lang)) for _, row in
                   mine.sort_values("channel", key=lambda s: s.astype(str).map(CHANNELS.index)).iterrows()]
        if len({text for _, text in reasons}) == 1:
            channels = ", ".join(name for name, _ in reasons)
            lines.append(f"- {action.name(lang)} ({channels}): {reasons[0][1]}.")
        else:
            lines.extend(f"- {action.name(lang)} ({name}): {text}." for name, text in reasons)
    return "\n".join(lines)


def policy_reason(action_id: str, expected_value: float, catalog: Catalog, lang: str = "en", *,
                  is_exploration: bool = False) -> str:
    """Short phrase for the call centre list: why tonight's action was chosen for the customer."""
    _check_language(lang)
    name = catalog.action(action_id).name(lang)
    key = "explore" if is_exploration else "best"
    return POLICY_REASON_TEXT[lang][key].format(action=name, value=format_value(expected_value, lang))


def call_list_reasons(next_best_actions: pd.DataFrame, features: pd.DataFrame, load_churn_model: Callable[[], Any],
                      catalog: Catalog, lang: str) -> pd.DataFrame:
    """For tonight's call list only (it is small): two reasons from the churn model's own per-feature
    contributions plus the policy reason (why this action, what it is worth); customer_id, reasons.
    The churn model is loaded (`load_churn_model()`) only when somebody is called."""
    called = next_best_actions.loc[next_best_actions["chosen"] & (next_best_actions["channel"] == "phone")].set_index("customer_id")
    subset = features[features["customer_id"].isin(set(called.index))]
    if subset.empty:
        return pd.DataFrame({"customer_id": pd.Series(dtype=str), "reasons": pd.Series(dtype=object)})
    reasons = explain_customers(load_churn_model(), subset.reset_index(drop=True), lang, max_reasons=2)
    reasons["reasons"] = [
        [*model_reasons, policy_reason(called.at[cid, "action_id"], float(called.at[cid, "expected_value"]), catalog,
                                       lang, is_exploration=bool(called.at[cid, "is_exploration"]))]
        for cid, model_reasons in zip(reasons["customer_id"], reasons["reasons"])]
    return reasons
