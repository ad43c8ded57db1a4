"""The run summary's realised-lift section in plain language (en / es / pt): what the plan's past contacts earned
against the holdout, what each past plan was worth, and the latest month's KPI scorecard."""
from __future__ import annotations

import pandas as pd

TEXT = {
    "en": {
        "title": "## What past contacts earned (realised lift, measured against the holdout)",
        "none": "No past night's outcome window has closed yet: nothing to measure.",
        "latest": "Each contact made in {period} earned {net:+,.2f} after its cost compared with the held-out customers "
                  "the plan would have contacted (95 % interval {low:+,.2f} to {high:+,.2f}; {n:,} contacted, {m:,} held "
                  "out; within the window each contacted customer got {k:,.1f} of the plan's contacts, and each is "
                  "valued once): {total:+,.0f} in all. {verdict}",
        "paid": "The contacts paid off.", "lost": "The contacts lost money.",
        "unclear": "This is not distinguishable from zero yet.",
        "few": "Too few customers to judge.",
        "plan": "The plan of {night} expected {expected:+,.0f}; measured (doubly robust) {dr:+,.0f} "
                "(95 % interval {low:+,.0f} to {high:+,.0f}).",
        "card": "KPI scorecard of {month} (contacted vs holdout, 95 % intervals):",
        "headers": ["KPI", "contacted", "holdout", "difference"],
        "kpis": {"arpu": "ARPU", "cross_upsell_rate": "cross / up-sell rate", "churn_rate": "churn rate",
                 "retention_cost": "retention cost per customer", "nps": "NPS", "csat": "CSAT"},
    },
    "es": {
        "title": "## Lo que ganaron los contactos pasados (mejora realizada, medida frente al grupo de control)",
        "none": "Aún no se ha cerrado la ventana de resultados de ninguna noche pasada: no hay nada que medir.",
        "latest": "Cada contacto realizado en {period} aportó {net:+,.2f}, descontado su coste, frente a los clientes del "
                  "grupo de control a los que el plan habría contactado (intervalo del 95 %: {low:+,.2f} a {high:+,.2f}; "
                  "{n:,} contactados, {m:,} en control; en la ventana cada cliente contactado recibió {k:,.1f} contactos "
                  "del plan, y cada uno se valora una vez): {total:+,.0f} en total. {verdict}",
        "paid": "Los contactos fueron rentables.", "lost": "Los contactos perdieron dinero.",
        "unclear": "Todavía no se distingue de cero.", "few": "Demasiados pocos clientes para juzgar.",
        "plan": "El plan del {night} esperaba {expected:+,.0f}; medido (doblemente robusto) {dr:+,.0f} "
                "(intervalo del 95 %: {low:+,.0f} a {high:+,.0f}).",
        "card": "Cuadro de KPI de {month} (contactados frente a control, intervalos del 95 %):",
        "headers": ["KPI", "contactados", "control", "diferencia"],
        "kpis": {"arpu": "ARPU", "cross_upsell_rate": "tasa de venta cruzada / adicional", "churn_rate": "tasa de abandono",
                 "retention_cost": "coste de retención por cliente", "nps": "NPS", "csat": "CSAT"},
    },
    "pt": {
        "title": "## O que os contactos passados renderam (ganho realizado, medido contra o grupo de controlo)",
        "none": "Nenhuma janela de resultados de uma noite passada fechou ainda: nada a medir.",
        "latest": "Cada contacto feito em {period} rendeu {net:+,.2f}, descontado o seu custo, contra os clientes do "
                  "grupo de controlo que o plano teria contactado (intervalo de 95 %: {low:+,.2f} a {high:+,.2f}; "
                  "{n:,} contactados, {m:,} no controlo; na janela cada cliente contactado recebeu {k:,.1f} contactos "
                  "do plano, e cada um é valorizado uma vez): {total:+,.0f} no total. {verdict}",
        "paid": "Os contactos compensaram.", "lost": "Os contactos perderam dinheiro.",
        "unclear": "Ainda não se distingue de zero.", "few": "Clientes a menos para avaliar.",
        "plan": "O plano de {night} esperava {expected:+,.0f}; medido (duplamente robusto) {dr:+,.0f} "
                "(intervalo de 95 %: {low:+,.0f} a {high:+,.0f}).",
        "card": "Quadro de KPI de {month} (contactados contra controlo, intervalos de 95 %):",
        "headers": ["KPI", "contactados", "controlo", "diferença"],
        "kpis": {"arpu": "ARPU", "cross_upsell_rate": "taxa de venda cruzada / adicional", "churn_rate": "taxa de abandono",
                 "retention_cost": "custo de retenção por cliente", "nps": "NPS", "csat": "CSAT"},
    },
}


def realised_lift_section(lift: pd.DataFrame, plan_value: pd.DataFrame, scorecard: pd.DataFrame, lang: str) -> str:
    """Markdown: the latest settled period's overall net lift with its interval and a verdict, the latest plan's
    measured value against what it expected, and the latest month's scorecard."""
    text = TEXT.get(lang, TEXT["en"])
    lines = ["", text["title"], ""]
    overall = lift[lift["action_id"] == "(all)"] if len(lift) else lift
    if overall.empty:
        return "\n".join([*lines, text["none"], ""])
    row = overall.sort_values("period").iloc[-1]
    cost = row["contact_cost_per_contact"]
    low, high = row["lift_low"] - cost, row["lift_high"] - cost
    verdict = (text["few"] if not row["enough_customers"] else text["paid"] if low > 0 else
               text["lost"] if high < 0 else text["unclear"])
    lines.append(text["latest"].format(period=row["period"], net=row["net_lift_per_contact"], low=low, high=high,
                                       n=int(row["customers_contacted"]), m=int(row["customers_holdout"]),
                                       k=float(row.get("contacts_per_customer", 1.0)),  # a table measured by
                                       # code before the column (an exports step rerun alone after an upgrade)
                                       total=row["net_lift_total"], verdict=verdict))
    if len(plan_value):
        plan = plan_value.sort_values("night").iloc[-1]
        lines += ["", text["plan"].format(night=plan["night"], expected=plan["expected_value"], dr=plan["dr_value"],
                                          low=plan["dr_low"], high=plan["dr_high"])]
    if len(scorecard):
        month = scorecard["month"].max()
        card = scorecard[scorecard["month"] == month]
        table = pd.DataFrame({h: v for h, v in zip(text["headers"], (
            card["kpi"].map(text["kpis"]), _with_interval(card, "contacted"), _with_interval(card, "holdout"),
            _with_interval(card, "difference")))})
        lines += ["", text["card"].format(month=month), "", table.to_markdown(index=False)]
    return "\n".join(lines) + "\n"


def _with_interval(card: pd.DataFrame, column: str) -> pd.Series:
    """'value (low .. high)'; the value alone when one answer has no interval; '-' where there is no value."""
    return pd.Series([("-" if pd.isna(v) else f"{v:,.3g}" if pd.isna(lo) else f"{v:,.3g} ({lo:,.3g} .. {hi:,.3g})") for v, lo, hi in
                      zip(card[column], card[f"{column}_low"], card[f"{column}_high"])], index=card.index)
