"""The engine state stored on an episode: used while it holds, rebuilt when it does not."""

import pytest

from registry import clock
from registry.episodes.models import Episode, EpisodeEvent
from registry.extensions import db
from tests.episodes.test_scenario import ADMITTED, day, dose, event, freeze_on


def _opened(client, clinician, patient, open_episode):
    headers = clinician()
    opened = open_episode(headers, patient(headers), admitted_on=ADMITTED.isoformat())
    assert opened.status_code == 201, opened.json
    ref = opened.json["id"]
    for kind in ("screen", "review", "assessment"):
        payload = {"results": {"opioids": "positive"}} if kind == "screen" else None
        assert event(client, headers, ref, kind, 0, payload).status_code == 201
    for n, amount in ((0, 30), (1, 30), (4, 40)):
        assert dose(client, headers, ref, n, amount).status_code == 201
    return headers, ref


def _episode(ref: str) -> Episode:
    db.session.expire_all()
    return db.session.execute(db.select(Episode).where(Episode.ref == ref)).scalar_one()


def _newest_event_n(episode: Episode) -> int:
    return db.session.execute(
        db.select(db.func.max(EpisodeEvent.n)).where(EpisodeEvent.episode_id == episode.id)
    ).scalar()


def test_each_event_leaves_the_state_after_the_newest_event(
    client, clinician, patient, open_episode
):
    _, ref = _opened(client, clinician, patient, open_episode)
    episode = _episode(ref)
    assert episode.engine_state_event_n == _newest_event_n(episode)
    assert episode.engine_state["state"]["tracks"]["methadone"][:2] == [day(4).toordinal(), 40]


def test_a_valid_stored_state_decides_without_the_history(client, clinician, patient, open_episode):
    headers, ref = _opened(client, clinician, patient, open_episode)
    episode = _episode(ref)
    # Make the stored state say the doses were 40 mg on day 1 and 50 mg on day 4: 55 mg on day 5
    # is then within every limit, while the stored history (30, 30, 40 mg) would refuse it as
    # 15 mg more than the day before.
    track = [day(4).toordinal(), 50, 40, [[day(1).toordinal(), 40]], day(1).toordinal(), None]
    state = {**episode.engine_state["state"], "tracks": {"methadone": track}}
    episode.engine_state = {**episode.engine_state, "state": state}
    db.session.flush()
    answer = dose(client, headers, ref, 5, 55)
    assert answer.status_code == 201, answer.json["violations"]


def test_a_stale_stored_state_is_rebuilt_from_the_history(client, clinician, patient, open_episode):
    headers, ref = _opened(client, clinician, patient, open_episode)
    episode = _episode(ref)
    # Another path stores an event without updating the state: day 5, 50 mg.
    db.session.add(
        EpisodeEvent(
            episode_id=episode.id,
            n=_newest_event_n(episode) + 1,
            type="dose",
            occurred_at=clock.now(),
            day=day(5),
            payload={"medication": "methadone", "amount": 50, "unit": "mg"},
            violations=[],
            recorded_by=None,
            recorded_at=clock.now(),
        )
    )
    db.session.flush()
    # 61 mg on day 6 is 11 above day 5's 50 mg: refused only if day 5 is taken into account.
    refused = dose(client, headers, ref, 6, 61)
    assert refused.status_code == 422, refused.json
    assert "methadone.induction.max_increase_per_day" in refused.json["errors"]["payload.amount"]


def test_a_backdated_event_refolds_and_stores_the_whole_history(
    client, clinician, patient, open_episode
):
    headers, ref = _opened(client, clinician, patient, open_episode)
    assert dose(client, headers, ref, 2, 30).status_code == 201  # before day 4's dose
    episode = _episode(ref)
    assert episode.engine_state_event_n == _newest_event_n(episode)
    assert episode.engine_state["last_day"] == day(4).toordinal()
    freeze_on(20)
    # The state still knows day 4 was the last dosing day: 51 mg on day 5 is 11 mg too many.
    refused = dose(client, headers, ref, 5, 51)
    assert refused.status_code == 422, refused.json


def test_the_newest_event_is_found_without_reading_the_episodes_events(app, session):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL plans from statistics; the same index serves it")
    from registry.episodes.services import _EPISODE_TO_CHECK, _NEWEST_EVENT

    for statement in (_NEWEST_EVENT, _EPISODE_TO_CHECK):
        compiled = statement.compile(dialect=db.engine.dialect)
        parameters = (None,) * len(compiled.positiontup)
        plan = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", parameters)
        plan = plan.all()
        lookups = [row[-1] for row in plan if "episode_events" in row[-1]]
        # Under (episode_id, day, n) max(n) read every event of the episode (a methadone
        # programme adds one a day); under (episode_id, n) it is the index's last entry.
        assert lookups, plan
        assert all("ix_episode_events_episode_n" in step for step in lookups), plan
