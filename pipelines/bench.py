"""`nba bench`: generate a world, run the nightly job, report per-stage time, rows and memory."""


def add_commands(sub) -> None:
    """Registered by pipelines.cli; the benchmark itself is being written."""
