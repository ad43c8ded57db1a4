"""Exports retention: the newest N published nights stay with their versions and run summaries; older nights'
entries go; the last good night, a night being written and files of no night are never touched."""
import json
import os

from models.exports.retention import delete_old_exports, model_versions_in_use, plan_exports_retention


def publish(root, night: str, versions: dict | None = None, summary: bool = True) -> None:
    """A published night as the publisher leaves it: a hidden version folder, the <night> link, the run summary."""
    version = root / f".{night}.vabc{night[-2:]}"
    version.mkdir(parents=True)
    (version / "email.csv").write_text("customer_id\n1\n", encoding="utf-8")
    (version / "manifest.json").write_text(json.dumps({"model_versions": versions or {}}), encoding="utf-8")
    os.symlink(version.name, root / night)
    if summary:
        (root / f"run_summary_{night}.md").write_text("# summary\n", encoding="utf-8")


def test_the_newest_nights_stay_older_ones_go_with_their_versions_and_summaries(tmp_path):
    root = tmp_path / "exports"
    for night in ("2026-10-29", "2026-10-30", "2026-10-31", "2026-11-01"):
        publish(root, night, {"churn": night[-1]})
    (root / ".2026-10-28.vcrashed").mkdir()           # leftover of a crashed older night: goes
    (root / ".2026-11-02.vwriting").mkdir()           # tonight, being written: stays
    (root / "README.txt").write_text("mine", encoding="utf-8")  # not a night's: stays

    plan = plan_exports_retention(root, nights_to_keep=2)
    assert plan.kept_nights == ("2026-11-01", "2026-10-31")
    assert sorted(p.name for p in plan.deletions) == [
        ".2026-10-28.vcrashed", ".2026-10-29.vabc29", ".2026-10-30.vabc30", "2026-10-29", "2026-10-30",
        "run_summary_2026-10-29.md", "run_summary_2026-10-30.md"]
    assert model_versions_in_use(root, plan.kept_nights) == {"churn": {"1"}}

    delete_old_exports(plan)
    assert sorted(p.name for p in root.iterdir()) == [
        ".2026-10-31.vabc31", ".2026-11-01.vabc01", ".2026-11-02.vwriting", "2026-10-31", "2026-11-01",
        "README.txt", "run_summary_2026-10-31.md", "run_summary_2026-11-01.md"]
    assert (root / "2026-11-01" / "email.csv").read_text(encoding="utf-8") == "customer_id\n1\n"
    assert plan_exports_retention(root, nights_to_keep=2).deletions == ()  # nothing more to do


def test_the_last_good_night_is_kept_and_zero_keeps_everything(tmp_path):
    root = tmp_path / "exports"
    publish(root, "2026-10-31")
    publish(root, "2026-11-01")
    assert plan_exports_retention(root, nights_to_keep=0).deletions == ()
    plan = plan_exports_retention(root, nights_to_keep=1)
    assert plan.kept_nights == ("2026-11-01",)
    assert "2026-11-01" not in {p.name for p in plan.deletions} and len(plan.deletions) == 3
    assert plan_exports_retention(tmp_path / "nowhere", nights_to_keep=1).kept_nights == ()
