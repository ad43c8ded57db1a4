"""Data Docs for a night's validation: static HTML pages under HOME/data_docs/<as_of>/, linked from the assets.

One page per suite result (every expectation in suite order, in Great Expectations' own words from its
prescriptive renderer, with the night's parameters filled in, unexpected counts and example values), an
index per night and an index of nights. GX's own site builder is not used: it needs a file-backed context
holding GX's result objects (validate_table returns a plain SuiteResult from an ephemeral context), copies
~4 MB of static files per site, names pages by run timestamp, and its pages load Bootstrap, jQuery and
fonts from public CDNs: offline they render unstyled, online third-party scripts run beside extract values.
These pages have inline CSS, no scripts and no external URLs, and the same results give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from string import Template
from typing import Any, Iterator

import great_expectations as gx
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

from data_contracts.gx_adapter import ExpectationOutcome, SuiteResult
from models.atomic import write_text_atomically

INDEX = "index.html"
STATUSES = ("passed", "quarantined", "failed")  # from best to worst
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1200px;
padding:0 1rem;color:#1f2933;line-height:1.4}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem}
.sub{color:#52606d;margin-top:0}nav{margin-bottom:1rem;font-size:.9rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border:1px solid #d9e2ec;padding:.35rem .5rem;
text-align:left;vertical-align:top}th{background:#f0f4f8}
tr.failed td{background:#fff5f5}tr.quarantined td{background:#fffaeb}
span.passed{color:#0b7a34;font-weight:600}span.quarantined{color:#a15c07;font-weight:600}
span.failed{color:#c81e1e;font-weight:600}.num{text-align:right}
.param{font-family:ui-monospace,monospace;background:#f0f4f8;padding:0 .2rem;border-radius:3px}
code,pre{font-family:ui-monospace,monospace;font-size:.85rem}pre{white-space:pre-wrap;margin:.3rem 0 0}
.note{color:#52606d;font-size:.85rem}dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}
dt{color:#52606d}dd{margin:0}
"""


def build_data_docs(
    docs_root: Path,
    as_of: dt.date,
    validations: Sequence[tuple[dict, SuiteResult]],
    *,
    parameters: Mapping[str, Any] | None = None,
    intake: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """Write a page per (suite dict, SuiteResult) for the night `as_of`, rebuild the indexes; return the night's index.

    Pages written earlier that night (other suites) stay listed, so each validated asset can add its own.
    `intake` (by suite name: rows_in, rows_accepted, rows_quarantined, rows_not_yet_known, quarantined_by_rule)
    makes the page reconcile with the intake: every quarantined row under its rule, whether staging caught it
    while typing or deduplicating (before GX saw the rows) or the suite did, and a suite with quarantined rows
    never reads "passed".
    """
    night_dir = Path(docs_root) / as_of.isoformat()
    night_dir.mkdir(parents=True, exist_ok=True)
    with _locked(Path(docs_root)):
        for suite, result in validations:
            name, counts = _page_stem(result), (intake or {}).get(result.suite)
            write_text_atomically(night_dir / f"{name}.html",
                                  render_suite_page(suite, result, as_of, parameters or {}, counts))
            write_text_atomically(night_dir / f"{name}.json", _summary_json(result, counts))
        write_text_atomically(night_dir / INDEX, render_night_index(as_of, _read_summaries(night_dir)))
        nights = {d.name: _read_summaries(d) for d in Path(docs_root).iterdir() if _is_night(d)}
        write_text_atomically(Path(docs_root) / INDEX, render_nights_index(nights))
    return night_dir / INDEX


def render_suite_page(suite: dict, result: SuiteResult, as_of: dt.date, parameters: Mapping[str, Any],
                      intake: Mapping[str, Any] | None = None) -> str:
    """The HTML page of one suite's result: overview, the intake reconciliation (when given), the night's
    parameters, then every expectation."""
    specs = suite.get("expectations", [])
    if [s["type"] for s in specs] != [o.expectation_type for o in result.expectations]:
        raise ValueError(f"the result of suite '{result.suite}' on {result.table} does not follow the suite's "
                         f"expectations ({len(result.expectations)} results for {len(specs)} expectations).")
    failed = [o for o in result.expectations if not o.success]
    rows = "".join(_expectation_row(i, spec, outcome, parameters)
                   for i, (spec, outcome) in enumerate(zip(specs, result.expectations), start=1))
    meta = suite.get("meta") or {}
    params = "".join(f"<dt>{_e(k)}</dt><dd>{_e(_format(v))}</dd>" for k, v in sorted(parameters.items()))
    body = (
        f'<nav><a href="{INDEX}">{_e(as_of.isoformat())}</a> · <a href="../{INDEX}">all nights</a></nav>'
        f"<h1>{_e(result.table)}: suite {_e(result.suite)} {_badge(page_status(result, intake))}</h1>"
        f'<p class="sub">Validation of the night of {_e(as_of.isoformat())}</p>'
        f"<dl><dt>rows validated</dt><dd>{result.row_count:,}</dd>"
        f"<dt>expectations</dt><dd>{len(result.expectations)} evaluated, {len(failed)} did not hold</dd>"
        f"<dt>unexpected values</dt><dd>{sum(o.unexpected_count for o in failed):,} (summed over expectations)</dd>"
        f"<dt>suite file</dt><dd><code>{_e(meta.get('path', ''))}</code></dd></dl>"
        f'<p class="note">{_e(meta.get("description", ""))}</p>'
        + (render_intake(suite, intake) if intake else "")
        + (f"<h2>Parameters of this night</h2><dl>{params}</dl>" if params else "")
        + "<h2>Expectations</h2><p class=\"note\"><b>quarantined</b>: the expectation has a rule, so the rows "
        "breaking it were kept out of the validated table and stored in the warehouse table <code>quarantine</code> "
        "under that rule (a row breaking several rules is quarantined once, under the first); the run goes on. "
        "<b>failed</b>: an expectation about the whole extract did not hold, which stops the run. "
        "% is of the non-null values for column expectations. <b>examples</b>: the values of the first rows "
        "quarantined under the rule (as delivered when unreadable or missing, else as typed).</p>"
        "<table><thead><tr><th>#</th><th>status</th><th>expectation</th><th>column</th><th>rule</th>"
        '<th class="num">unexpected</th><th class="num">%</th><th>examples</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )
    return _page(f"{result.table} — {as_of.isoformat()}", body)


def render_intake(suite: dict, intake: Mapping[str, Any]) -> str:
    """The intake reconciliation: rows in = accepted + quarantined + not yet known, and the quarantined rows per
    rule with where they were caught (the suite's rule-level expectations, or staging before GX: unreadable values,
    exact duplicates, and other rules GX never sees)."""
    suite_rules = {(e.get("meta") or {}).get("rule") for e in suite.get("expectations", [])} - {None}
    by_rule = dict(sorted((intake.get("quarantined_by_rule") or {}).items()))
    rows = "".join(f'<tr class="quarantined"><td>{_e(rule)}</td><td class="num">{int(n):,}</td><td>'
                   + ("Great Expectations suite" if rule in suite_rules else "staging, before GX (typing or "
                      "deduplication)") + "</td></tr>" for rule, n in by_rule.items())
    return (
        "<h2>Intake reconciliation</h2>"
        f"<dl><dt>rows in</dt><dd>{int(intake['rows_in']):,}</dd><dt>accepted</dt><dd>{int(intake['rows_accepted']):,}</dd>"
        f"<dt>quarantined</dt><dd>{int(intake['rows_quarantined']):,}</dd>"
        f"<dt>not yet known</dt><dd>{int(intake.get('rows_not_yet_known', 0)):,}</dd></dl>"
        '<p class="note">Rows in = accepted + quarantined + not yet known. Each quarantined row is counted once, under '
        "the first rule it broke; the expectations below count every row breaking each rule GX evaluates.</p>"
        + (f'<table><thead><tr><th>rule</th><th class="num">rows quarantined</th><th>caught by</th></tr></thead>'
           f"<tbody>{rows}</tbody></table>" if rows else "")
    )


def page_status(result: SuiteResult, intake: Mapping[str, Any] | None) -> str:
    """The suite's status, at least "quarantined" when the intake set rows aside (caught before GX or by it)."""
    quarantined = bool(intake and int(intake.get("rows_quarantined", 0)))
    return _worst([suite_status(result.expectations), "quarantined" if quarantined else "passed"])


def render_night_index(as_of: dt.date, summaries: Sequence[dict]) -> str:
    """The index of one night: one row per suite page with its status and counts."""
    rows = "".join(
        f'<tr class="{s["status"]}"><td><a href="{_e(s["page"])}">{_e(s["table"])}</a></td>'
        f'<td>{_e(s["suite"])}</td><td>{_badge(s["status"])}</td><td class="num">{s["row_count"]:,}</td>'
        f'<td class="num">{s["failed"]} / {s["evaluated"]}</td><td class="num">{s["unexpected_values"]:,}</td></tr>'
        for s in summaries)
    body = (f'<nav><a href="../{INDEX}">all nights</a></nav><h1>Data Docs — night of {_e(as_of.isoformat())}</h1>'
            '<table><thead><tr><th>table</th><th>suite</th><th>status</th><th class="num">rows validated</th>'
            '<th class="num">did not hold / expectations</th><th class="num">unexpected values</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>")
    return _page(f"Data Docs {as_of.isoformat()}", body)


def render_nights_index(nights: Mapping[str, Sequence[dict]]) -> str:
    """The index of all nights, newest first: each night's worst status and its suites per status."""
    rows = "".join(
        f'<tr><td><a href="{_e(night)}/{INDEX}">{_e(night)}</a></td>'
        f'<td>{_badge(_worst(s["status"] for s in summaries))}</td><td>'
        + ", ".join(f"{n} {status}" for status in STATUSES if (n := sum(s["status"] == status for s in summaries)))
        + "</td></tr>"
        for night, summaries in sorted(nights.items(), reverse=True))
    body = ("<h1>Data Docs — validation by night</h1><table><thead><tr><th>night</th><th>status</th>"
            f"<th>suites</th></tr></thead><tbody>{rows}</tbody></table>")
    return _page("Data Docs", body)


def suite_status(outcomes: Iterable[ExpectationOutcome]) -> str:
    """passed; quarantined (only expectations with a rule failed: their rows were set aside); or failed.

    An expectation with a rule is row-level (data_contracts.row_expectations): staging quarantines the rows that
    break it and the run goes on. One without a rule is about the whole extract: its failing stops the run.
    """
    return _worst("passed" if o.success else "quarantined" if o.rule else "failed" for o in outcomes)


def describe_expectation(spec: dict, parameters: Mapping[str, Any]) -> str:
    """HTML sentence for one expectation from GX's prescriptive renderer, the night's parameters filled in."""
    kwargs = {k: _resolve(v, parameters) for k, v in spec["kwargs"].items()}
    expectation = ExpectationConfiguration(type=spec["type"], kwargs=kwargs, meta=spec.get("meta")).to_domain_obj()
    expectation.render()
    value = next((rc.to_json_dict()["value"] for rc in expectation.rendered_content or []
                  if rc.name == "atomic.prescriptive.summary"), {})
    values = {k: p["value"] for k, p in (value.get("params") or {}).items()}
    if "template" in value:
        return Template(_e(value["template"])).safe_substitute(
            {k: f'<span class="param">{_e(_format(v))}</span>' for k, v in values.items()})
    if "code_block" in value:
        code = Template(value["code_block"]["code_template_str"]).safe_substitute(
            {k: _format(v) for k, v in values.items()})
        return f"No row may be returned by:<pre>{_e(code)}</pre>"
    return f"{_e(spec['type'])} <code>{_e(json.dumps(kwargs, default=_format, sort_keys=True))}</code>"


def _expectation_row(number: int, spec: dict, outcome: ExpectationOutcome, parameters: Mapping[str, Any]) -> str:
    note = (spec.get("meta") or {}).get("description")
    examples = ", ".join(f"<code>{_e(_format(x))}</code>" for x in outcome.examples)
    status = suite_status([outcome])
    return (f'<tr class="{status}"><td class="num">{number}</td>'
            f"<td>{_badge(status)}</td><td>{describe_expectation(spec, parameters)}"
            + (f'<div class="note">{_e(note)}</div>' if note else "")
            + f"</td><td>{_e(outcome.column or '')}</td><td>{_e(outcome.rule or '')}</td>"
            f'<td class="num">{outcome.unexpected_count:,}</td><td class="num">{outcome.unexpected_percent:.3f}</td>'
            f"<td>{examples}</td></tr>")


def _resolve(value: Any, parameters: Mapping[str, Any]) -> Any:
    """Replace a {"$PARAMETER": name} kwarg by the night's value when it is known."""
    if isinstance(value, dict) and set(value) == {"$PARAMETER"} and value["$PARAMETER"] in parameters:
        return parameters[value["$PARAMETER"]]
    return value


def _format(value: Any) -> str:
    """A value as an analyst reads it: 1900.0 -> 1900, midnight datetimes as dates, unknown parameters named."""
    if isinstance(value, dict) and set(value) == {"$PARAMETER"}:
        return f"parameter {value['$PARAMETER']}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ", ".join(_format(v) for v in value)
    return str(value)


def _summary_json(result: SuiteResult, intake: Mapping[str, Any] | None = None) -> str:
    """The result as JSON beside its page (machine-readable; the indexes are built from these)."""
    failed = [o for o in result.expectations if not o.success]
    summary = {**asdict(result), "status": page_status(result, intake), "page": f"{_page_stem(result)}.html",
               "evaluated": len(result.expectations), "failed": len(failed),
               "unexpected_values": sum(o.unexpected_count for o in failed),
               **({"intake": dict(intake)} if intake else {})}
    return json.dumps(summary, default=_format, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _read_summaries(night_dir: Path) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(night_dir.glob("*.json"))]


def _is_night(path: Path) -> bool:
    return path.is_dir() and re.fullmatch(r"\d{4}-\d{2}-\d{2}", path.name) is not None


def _page_stem(result: SuiteResult) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", result.suite)


def _worst(statuses: Iterable[str]) -> str:
    return max(statuses, key=STATUSES.index, default="passed")


def _badge(status: str) -> str:
    return f'<span class="{status}">{status}</span>'


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f'<meta name="generator" content="nba data_contracts.data_docs (great_expectations {gx.__version__})">'
            f"<style>{STYLE}</style></head><body>{body}</body></html>\n")


@contextmanager
def _locked(docs_root: Path) -> Iterator[None]:
    """One writer at a time, so suites validated in parallel processes all end up in the night's index."""
    with open(docs_root / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
