"""Per-customer reasons from the model itself: SHAP contributions turned into short phrases (en/es/pt).

Exact TreeSHAP (`pred_contribs`) costs about a millisecond per row for a production-sized model, so it
is computed only for the rows asked for (the call list); above `exact_max_rows` rows the much cheaper
`approx_contribs` (Saabas) is used instead. Only features that push the score up become reasons,
strongest first, each rendered from the feature's template in reason_phrases.yaml with its value.
Contributions are on the booster's margin; the calibrator is monotone, so their direction holds.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import yaml

from models.training.train import to_dmatrix

PHRASES_PATH = Path(__file__).parent / "reason_phrases.yaml"
LANGUAGES = ("en", "es", "pt")
FORMATS = ("int", "money", "decimal", "percent")
EXACT_MAX_ROWS = 20_000
SEPARATORS = {"en": (",", "."), "es": (".", ","), "pt": (".", ",")}  # (thousands, decimal)


def load_reason_phrases(path: str | Path = PHRASES_PATH) -> dict[str, dict | None]:
    """Templates per feature: {feature: {"format", "skip_values"?, "en"|"es"|"pt": str | {zero?, one?, other}}}.

    A feature mapped to null is never used as a reason.
    """
    path = Path(path)
    try:
        phrases = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    for feature, entry in phrases.items():
        if entry is None:
            continue
        if entry.get("format", "int") not in FORMATS:
            raise ValueError(f"{path}: {feature}.format '{entry.get('format')}' is not one of {', '.join(FORMATS)}")
        for language in LANGUAGES:
            template = entry.get(language)
            if not (isinstance(template, str) or (isinstance(template, dict) and "other" in template)):
                raise ValueError(f"{path}: {feature}.{language} must be a template or a mapping with 'other'")
    return phrases


def check_language(language: str) -> str:
    """Return `language` if reasons can be written in it, else raise naming it."""
    if language not in LANGUAGES:
        raise ValueError(f"reason language '{language}' is not one of {', '.join(LANGUAGES)}")
    return language


def format_value(value: float, kind: str, language: str) -> str:
    """`value` as text in `language`: int and money rounded half up, decimal with one digit, percent of 1."""
    thousands, decimal = SEPARATORS[language]
    shown = value * 100 if kind == "percent" else value
    text = f"{shown:,.1f}" if kind == "decimal" else f"{int(math.copysign(math.floor(abs(shown) + 0.5), shown)):,d}"
    text = text.replace(",", "\0").replace(".", decimal).replace("\0", thousands)
    return text + ("%" if kind == "percent" else "")


def render_reason(feature: str, value: Any, language: str, phrases: Mapping[str, dict | None]) -> str | None:
    """The reason phrase for `feature` at `value` in `language`; None without a template or a real value."""
    check_language(language)
    entry = phrases.get(feature)
    value = _plain(value)
    if entry is None or value is None or value in entry.get("skip_values", ()):
        return None
    text = format_value(value, entry.get("format", "int"), language)
    template = entry[language]
    if isinstance(template, dict):
        template = template.get({"0": "zero", "1": "one"}.get(text, "other"), template["other"])
    return template.format(value=text)


def compute_contributions(model: Any, X: pd.DataFrame, *, exact: bool = True) -> pd.DataFrame:
    """Per-row, per-feature contributions to the booster's margin (bias column dropped)."""
    matrix = to_dmatrix(X, model.feature_names, n_threads=model.n_threads)
    values = model.booster.predict(matrix, pred_contribs=True, approx_contribs=not exact)
    return pd.DataFrame(values[:, :-1], columns=model.feature_names, index=X.index)


def explain_customers(model: Any, X: pd.DataFrame, language: str = "en", *, phrases: Mapping | None = None,
                      max_reasons: int = 3, exact_max_rows: int = EXACT_MAX_ROWS) -> pd.DataFrame:
    """`customer_reasons` rows (customer_id, reasons): up to `max_reasons` phrases for features raising the score.

    Pass only the customers that need reasons (e.g. the call list): cost grows with the row count.
    """
    phrases = load_reason_phrases() if phrases is None else phrases
    check_language(language)
    contributions = compute_contributions(model, X, exact=len(X) <= exact_max_rows).to_numpy()
    names = np.array(model.feature_names)
    values = X[model.feature_names].to_numpy(dtype=object)
    reasons = []
    for row, contribution in enumerate(contributions):
        order = np.argsort(-contribution, kind="mergesort")
        found: list[str] = []
        for j in order[contribution[order] > 0]:
            phrase = render_reason(str(names[j]), values[row, j], language, phrases)
            if phrase:
                found.append(phrase)
            if len(found) == max_reasons:
                break
        reasons.append(found)
    return pd.DataFrame({"customer_id": X["customer_id"].to_numpy(), "reasons": reasons})


def _plain(value: Any) -> float | None:
    """A feature value as a float (None for missing), whatever pandas dtype it came in."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value
