"""Folding stored events skips overdue notices but must reach the same state as applying them."""

from registry.protocols import EpisodeState, compile_protocol
from registry.protocols.shipped import shipped_documents
from tests.protocols.conftest import ADMISSION, compliant_events, dose


def _snapshot(state: EpisodeState) -> tuple:
    tracks = {name: (t.day, t.total, t.prev, list(t.window)) for name, t in state.tracks.items()}
    return (state.stage.id, state.stage_since, state.alarm, dict(state.last), tracks)


def test_fold_matches_event_by_event_application():
    methadone_compiled = compile_protocol(shipped_documents()["methadone_oat"])
    # Screens stop after day 0, so most events come after a deadline and carry notices.
    events = compliant_events(200, skip=frozenset({"screen", "review"}))
    events += [dose(200, 500), dose(200, 10)]  # overridden doses fold in as well
    folded = EpisodeState(methadone_compiled, ADMISSION).fold(events)
    applied = EpisodeState(methadone_compiled, ADMISSION)
    notices = 0
    for event in events:
        notices += len(applied.apply(event, force=True))
    assert notices > 100
    assert _snapshot(folded) == _snapshot(applied)
