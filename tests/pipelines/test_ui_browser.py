"""End to end in a browser: after one night, `nba ui` shows the asset graph and the numbers the night wrote.

Drives Debian's Chromium (never a Playwright-downloaded browser) headless against `nba ui` on a free port,
and saves screenshots to test-artifacts/ for a person to look at.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import AS_OF, query

CHROMIUM = shutil.which("chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
GROUPS = ("raw", "validated", "golden", "features", "models", "scores", "decisions", "exports")
STARTUP_SECONDS = 120  # dagster dev answers after ~6 s on an idle machine; far longer when the cores are busy
STOP_SECONDS = 30

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y "
                                                          "chromium; .ci/run does it); the browser test needs it")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_ui(home: Path, log: Path) -> Iterator[str]:
    """Start `nba ui` on HOME in its own process group, yield its URL once it answers, always stop the whole group."""
    port = free_port()
    nba = Path(sys.executable).with_name("nba")
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(nba), "ui", "--home", str(home), "--port", str(port)], stdout=out,
                                stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[2],
                                start_new_session=True)
    try:
        yield wait_until_answering(f"http://127.0.0.1:{port}", proc, log)
    finally:
        stop_group(proc)


def wait_until_answering(url: str, proc: subprocess.Popen, log: Path) -> str:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"nba ui exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{url}/server_info", timeout=2) as response:
                if response.status == 200:
                    return url
        time.sleep(0.5)
    pytest.fail(f"nba ui did not answer within {STARTUP_SECONDS} s:\n{log.read_text(errors='replace')[-3000:]}")


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to `nba ui` and all it started (dagster dev, webserver, daemon, code server); SIGKILL if it lingers.

    The group is signalled, not only `nba ui`: a SIGTERM to `nba ui` alone leaves `dagster dev` running.
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=STOP_SECONDS)
    while time.monotonic() < deadline and group_alive(proc.pid):
        time.sleep(0.2)
    if group_alive(proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _launch(playwright):
    """Debian's Chromium, headless, with nothing that reaches the network."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
              "--no-first-run"])


def _new_page(browser):
    """A page the size of the screenshots, waiting up to 60 s (a loaded machine renders slowly)."""
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.set_default_timeout(60_000)
    return page


def test_the_ui_shows_the_asset_graph_and_a_nights_metadata(nightly_home, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    rows_in = query(nightly_home, "SELECT rows_in FROM staging_log WHERE extract = 'purchases'")[0][0]
    quarantined = query(nightly_home, "SELECT count(*) FROM quarantine WHERE extract = 'purchases'")[0][0]
    with running_ui(nightly_home, tmp_path / "nba_ui.log") as url, sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            page = _new_page(browser)
            # A first visit to an instance shows "Join the Dagster community"; dismiss it whenever it covers the page.
            page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda skip: skip.click())

            page.goto(f"{url}/asset-groups")
            expect(page.get_by_text("Global asset lineage")).to_be_visible()
            for group in GROUPS:  # listed in the sidebar and drawn in the graph
                expect(page.get_by_text(group, exact=True).last).to_be_visible()
                assert page.get_by_text(group, exact=True).count() >= 2, group
            for group in ("validated", "models"):  # expand two groups to show their assets
                page.get_by_text(group, exact=True).last.click()
            page.reload()  # the expanded groups are kept; a fresh layout fits them on screen
            for asset in ("customers", "purchases", "interactions", "churn_model", "upsell_model", "clv_model"):
                expect(page.get_by_text(asset, exact=True).last).to_be_visible()
            page.screenshot(path=ARTIFACTS / "ui_asset_graph.png")

            page.goto(f"{url}/assets/validated/purchases")
            for key, value in (("rows_in", rows_in), ("rows_quarantined", quarantined)):
                row = page.locator("tr", has=page.get_by_text(key, exact=True))
                expect(row).to_be_visible()
                shown = row.locator("td").last.inner_text().strip().replace(",", "")
                assert shown == str(value), (key, value, row.inner_text())
            expect(page.get_by_text("quarantined_by_rule", exact=True)).to_be_visible()
            page.screenshot(path=ARTIFACTS / "ui_asset_metadata.png", full_page=True)
        finally:
            browser.close()


PAGE_MS = 60_000  # an expect() waits 5 s by default; the pages take longer when the cores are busy
UNMATCHED_ID = "newsletter_q3"  # the marketing tool's own id for the catalog's content_newsletter


@pytest.fixture(scope="module")
def unmatched_night(tmp_path_factory, small_world, fast_config) -> Path:
    """HOME after one night on the small world (which has quarantined rows) whose content_newsletter campaign rows
    carry the tool's own action id, which the catalog does not know."""
    import pandas as pd

    from pipelines.runner import run_nightly

    landing = tmp_path_factory.mktemp("unmatched_landing")
    for source in small_world.iterdir():
        if source.is_file():
            shutil.copy2(source, landing / source.name)
    interactions = pd.read_csv(landing / "interactions.csv", dtype=str, keep_default_na=False)
    renamed = interactions["type"].isin(["campaign", "campaign_control"]) & (interactions["action_id"] == "content_newsletter")
    interactions.loc[renamed, "action_id"] = UNMATCHED_ID
    interactions.to_csv(landing / "interactions.csv", index=False)
    home = tmp_path_factory.mktemp("unmatched_home") / "home"
    outcome = run_nightly(home, landing, AS_OF, fast_config)
    assert outcome.success, outcome.message
    return home


def test_the_analysts_morning_the_run_the_plans_value_and_the_learning_health_without_knowing_where_to_click(
        unmatched_night, tmp_path):
    """On a night with quarantines and an unmatched campaign id: the Overview timeline and the job's runs list the
    run of `nba run`, the decisions page shows the plan's value with currency and horizon at once, and the response
    model's learning_health check names the unmatched id; screenshots in test-artifacts/."""
    from playwright.sync_api import expect, sync_playwright

    from pipelines.runner import dagster_instance

    ARTIFACTS.mkdir(exist_ok=True)
    import dagster as dg

    instance = dagster_instance(unmatched_night)
    (run,) = instance.get_runs()
    assert query(unmatched_night, "SELECT count(*) FROM quarantine WHERE rule <> 'not_yet_known'")[0][0] > 0
    (health,) = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey(["models", "response_model"]), "learning_health"), limit=1)
    evaluation = health.event.dagster_event.event_specific_data
    unmatched_rows = evaluation.metadata["unmatched_campaign_rows"].value
    assert not evaluation.passed and unmatched_rows > 0 and f"| {UNMATCHED_ID} | {unmatched_rows:,} |" in \
        evaluation.metadata["unmatched_campaign_actions"].value
    with running_ui(unmatched_night, tmp_path / "nba_ui.log") as url, sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            page = _new_page(browser)

            page.goto(f"{url}/overview/activity/timeline")
            expect(page.get_by_text("nightly_nba", exact=True).first).to_be_visible(timeout=PAGE_MS)
            expect(page.get_by_text("No runs", exact=False)).to_have_count(0)
            expect(page.get_by_role("button", name="Skip")).to_have_count(0)  # the nux pop-up is off
            page.screenshot(path=ARTIFACTS / "ui_overview_timeline.png")

            page.goto(f"{url}/locations/nba/jobs/nightly_nba/runs")
            expect(page.get_by_text(run.run_id[:8], exact=True)).to_be_visible(timeout=PAGE_MS)
            expect(page.get_by_text(f"partition: {AS_OF.isoformat()}", exact=False).first).to_be_visible(timeout=PAGE_MS)
            page.screenshot(path=ARTIFACTS / "ui_job_runs.png")

            page.goto(f"{url}/assets/decisions/next_best_actions")
            row = page.locator("tr", has=page.get_by_text("plan_value", exact=True))
            expect(row).to_be_visible(timeout=PAGE_MS)
            expect(row).to_contain_text(" EUR over ", timeout=PAGE_MS)
            expect(row).to_contain_text(" days after the contact", timeout=PAGE_MS)
            for key in ("plan_contacts", "exploration_contacts", "holdout_customers", "calls_used", "offer_budget_used"):
                expect(page.locator("tr", has=page.get_by_text(key, exact=True))).to_be_visible(timeout=PAGE_MS)
            page.screenshot(path=ARTIFACTS / "ui_decisions_at_a_glance.png")

            page.goto(f"{url}/assets/models/response_model?view=checks")
            page.get_by_text("learning_health", exact=True).first.click()
            expect(page.get_by_text(f"{unmatched_rows:,} randomised campaign rows name action id '{UNMATCHED_ID}'",
                                    exact=False).first).to_be_visible(timeout=PAGE_MS)
            expect(page.get_by_text(AS_OF.isoformat(), exact=True).first).to_be_visible(timeout=PAGE_MS)  # the check's partition
            page.screenshot(path=ARTIFACTS / "ui_learning_health_check.png", full_page=True)
        finally:
            browser.close()
