"""The oversight check runs on the scheduler, and now from the command line."""

import json

from registry import clock
from tests.oversight.conftest import CHECKED_AT, refused


def test_the_scheduler_runs_the_check(app, clinician):
    from registry.jobs import scheduled_jobs

    [job] = [job for job in scheduled_jobs(app) if job.name == "oversight-check"]
    assert job.interval == app.config["OVERSIGHT_CHECK_SECONDS"]
    refused(clinician().user.id, 1)
    refused(clinician().user.id, 3)
    clock.freeze(CHECKED_AT)
    assert job.run(app) == "2 new findings"
    assert job.run(app) == "0 new findings"


def test_the_command_line_runs_the_check_now(app, clinician):
    user = clinician().user
    refused(user.id, 3)
    clock.freeze(CHECKED_AT)
    runner = app.test_cli_runner()
    done = runner.invoke(args=["oversight", "check", "--json"])
    assert done.exit_code == 0, done.output
    [finding] = json.loads(done.output)
    assert finding == {
        "id": finding["id"],
        "kind": "limit_reached",
        "user_id": user.id,
        "clinic_id": user.clinic_id,
        "period_start": "2026-02-26T05:00:00+00:00",
        "period_end": CHECKED_AT.isoformat(),
        "count": 3,
        "total": 0,
        "pool_count": None,
        "pool_total": None,
    }
    again = runner.invoke(args=["oversight", "check"])
    assert again.exit_code == 0 and again.output == "no new findings\n"
