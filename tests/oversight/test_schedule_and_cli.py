"""The oversight check runs on the scheduler, and now from the command line."""

import json

from registry import clock
from tests.oversight.conftest import CHECKED_AT


def test_the_scheduler_runs_the_check(app, week):
    from registry.jobs import scheduled_jobs

    [job] = [job for job in scheduled_jobs(app) if job.name == "oversight-check"]
    assert job.interval == app.config["OVERSIGHT_CHECK_SECONDS"]
    clock.freeze(CHECKED_AT)
    assert job.run(app) == "3 new findings"
    assert job.run(app) == "0 new findings"


def test_the_command_line_runs_the_check_now(app, week):
    clock.freeze(CHECKED_AT)
    runner = app.test_cli_runner()
    done = runner.invoke(args=["oversight", "check", "--json"])
    assert done.exit_code == 0, done.output
    findings = json.loads(done.output)
    prober, enumerator = week["prober"].user.id, week["enumerator"].user.id
    assert sorted((f["user_id"], f["kind"]) for f in findings) == sorted(
        [(prober, "found_existing"), (prober, "no_episodes"), (enumerator, "no_episodes")]
    )
    assert {f["period_end"] for f in findings} == {CHECKED_AT.isoformat()}
    again = runner.invoke(args=["oversight", "check"])
    assert again.exit_code == 0 and "no new findings" in again.output
