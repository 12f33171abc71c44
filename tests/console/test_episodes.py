"""Clinicians' episode pages: open with the TDI form, check then record events, discharge."""

import re

import pytest
from sqlalchemy import func, select

from registry.episodes.examples import ADMISSION_EXAMPLE
from registry.episodes.models import Episode, EpisodeEvent
from registry.patients.services import register_anonymous
from tests.console.conftest import csrf, signed_in


@pytest.fixture()
def clinician(client, session, staff, make_clinic):
    """Sign a clinician in; return (CSRF token, a patient's pseudonym at the clinic)."""
    from registry.protocols.lifecycle import install_shipped_protocols

    install_shipped_protocols()
    clinic = make_clinic()
    token = signed_in(client, staff("clinician", clinic=clinic))
    return token, register_anonymous(clinic.id).pseudonym


def admission_form(token: str, **changes) -> dict:
    form = {f"admission.{k}": str(v) for k, v in ADMISSION_EXAMPLE.items()}
    form.update(csrf_token=token, protocol="methadone_oat", diagnosis="F11.2")
    form.update(changes)
    return form


def opened(client, token, pseudonym) -> str:
    page = client.get(f"/console/patients/{pseudonym}/episodes/new?lang=en")
    form = admission_form(
        csrf(page),
        admitted_on=re.search(
            r'name="admitted_on" value="([^"]+)"', page.get_data(as_text=True)
        ).group(1),
    )
    answer = client.post(f"/console/patients/{pseudonym}/episodes/new", data=form)
    assert answer.status_code == 302, answer.get_data(as_text=True)[-3000:]
    return answer.location.split("/console/episodes/")[1].split("?")[0]


def dose(token, amount, **extra) -> dict:
    body = {"csrf_token": token, "type": "dose", "medication": "methadone", "unit": "mg"}
    return {**body, "amount": str(amount), **extra}


def _events(session, ref) -> int:
    episode = session.execute(select(Episode).where(Episode.ref == ref)).scalar_one()
    return session.execute(
        select(func.count()).select_from(EpisodeEvent).where(EpisodeEvent.episode_id == episode.id)
    ).scalar_one()


def test_the_admission_form_shows_labels_and_not_known_everywhere(client, clinician):
    _token, pseudonym = clinician
    page = client.get(f"/console/patients/{pseudonym}/episodes/new?lang=en")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Usual route of administration" in text and ">inject<" in text  # labels, not codes
    selects = re.findall(r'<select id="admission-[^"]+".*?</select>', text, re.S)
    assert len(selects) > 10 and all('value="99"' in s for s in selects)
    russian = client.get(f"/console/patients/{pseudonym}/episodes/new?lang=ru")
    assert "Способ употребления" in russian.get_data(as_text=True)  # the code list's label
    assert "Открыть эпизод" in russian.get_data(as_text=True)  # the console's catalogue
    kazakh = client.get(f"/console/patients/{pseudonym}/episodes/new?lang=kk")
    assert "Эпизод ашу" in kazakh.get_data(as_text=True)


def test_a_refused_admission_names_the_item_and_keeps_no_partial_episode(
    client, session, clinician
):
    token, pseudonym = clinician
    form = admission_form(token, admitted_on="2020-01-01", **{"admission.birth_year": "1850"})
    answer = client.post(f"/console/patients/{pseudonym}/episodes/new", data=form)
    assert answer.status_code == 422
    assert "Check this: Year of birth." in answer.get_data(as_text=True)
    assert session.execute(select(func.count()).select_from(Episode)).scalar_one() == 0


def test_a_dose_is_checked_before_it_is_recorded(client, session, clinician):
    token, pseudonym = clinician
    ref = opened(client, token, pseudonym)
    checked = client.post(f"/console/episodes/{ref}/events", data=dose(token, 30))
    assert checked.status_code == 200
    assert "Allowed: no rule is broken" in checked.get_data(as_text=True)
    assert _events(session, ref) == 0  # shown, not saved
    recorded = client.post(f"/console/episodes/{ref}/events", data=dose(token, 30, action="record"))
    assert recorded.status_code == 302 and _events(session, ref) == 1
    refused = client.post(f"/console/episodes/{ref}/events", data=dose(token, 15))
    text = refused.get_data(as_text=True)
    assert "The protocol refuses this event" in text and "first_day_max" in text
    assert 'name="override_reason"' in text and _events(session, ref) == 1
    blocked = client.post(f"/console/episodes/{ref}/events", data=dose(token, 15, action="record"))
    assert blocked.status_code == 422 and _events(session, ref) == 1
    overridden = client.post(
        f"/console/episodes/{ref}/events",
        data=dose(token, 15, action="record", override_reason="split_dose"),
    )
    assert overridden.status_code == 302 and _events(session, ref) == 2
    page = client.get(overridden.location)
    text = page.get_data(as_text=True)
    assert "Departure recorded: split daily dose" in text
    assert "15.0 mg · methadone" in text and "Induction" in text  # labels, not codes


def test_visits_screens_and_assessments_are_recorded(client, session, clinician):
    token, pseudonym = clinician
    ref = opened(client, token, pseudonym)
    forms = [
        {"type": "visit"},
        {"type": "screen", "screen.opioids": "positive", "screen.cocaine": "negative"},
        {
            "type": "assessment",
            "timepoint": "start",
            "days_used.opiates": "20",
            "physical_health": "9",
        },
    ]
    for n, form in enumerate(forms, start=1):
        body = {"csrf_token": token, "action": "record", **form}
        answer = client.post(f"/console/episodes/{ref}/events", data=body)
        assert answer.status_code == 302, answer.get_data(as_text=True)[-2000:]
        assert _events(session, ref) == n
    early = {"csrf_token": token, "type": "visit", "occurred_at": "2001-02-03T09:30"}
    answer = client.post(f"/console/episodes/{ref}/events", data=early)
    assert answer.status_code == 422 and "Check this: When." in answer.get_data(as_text=True)
    bad = {"csrf_token": token, "type": "screen", "screen.opioids": "maybe"}
    answer = client.post(f"/console/episodes/{ref}/events", data=bad)
    assert answer.status_code == 422 and "Check this: Screen results." in answer.get_data(
        as_text=True
    )


def test_discharge_takes_a_coded_reason_and_the_exit_assessment(client, session, clinician):
    token, pseudonym = clinician
    ref = opened(client, token, pseudonym)
    page = client.get(f"/console/episodes/{ref}/discharge?lang=en")
    assert page.status_code == 200 and "Exit assessment" in page.get_data(as_text=True)
    data = {"csrf_token": token, "reason": "completed"}
    refused = client.post(f"/console/episodes/{ref}/discharge", data=data)
    assert refused.status_code == 422
    assert "The protocol refuses this discharge" in refused.get_data(as_text=True)
    exit_ = {"exit.days_used.opiates": "0", "exit.physical_health": "15"}
    done = client.post(f"/console/episodes/{ref}/discharge", data={**data, **exit_})
    assert done.status_code == 302, done.get_data(as_text=True)[-2000:]
    episode = session.execute(select(Episode).where(Episode.ref == ref)).scalar_one()
    assert episode.status == "discharged" and episode.discharge_reason == "completed"
    again = client.post(f"/console/episodes/{ref}/events", data=dose(token, 5))
    assert again.status_code == 409


def test_the_compliance_list_puts_overdue_episodes_first(client, session, clinician):
    from datetime import timedelta

    from registry import clock

    token, pseudonym = clinician
    ref = opened(client, token, pseudonym)
    late = session.execute(select(Episode).where(Episode.ref == ref)).scalar_one()
    late.overdue_after = clock.now().date() - timedelta(days=3)
    session.flush()
    page = client.get("/console/compliance?lang=en")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "overdue by 3 days" in text
    assert text.index(ref) < text.index("</tbody>")


def test_a_password_is_changed_with_the_current_one(client, staff):
    from tests.console.conftest import PASSWORD, sign_in

    who = staff("analyst")
    signed_in(client, who)
    page = client.get("/console/account/password?lang=en")
    new = "another long password here"
    body = {"csrf_token": csrf(page), "password": new, "password_again": new}
    wrong = client.post("/console/account/password", data={**body, "current_password": "nope"})
    assert wrong.status_code == 422 and "not your current password" in wrong.get_data(as_text=True)
    done = client.post("/console/account/password", data={**body, "current_password": PASSWORD})
    assert done.status_code == 200 and "password is changed" in done.get_data(as_text=True)
    client.post("/console/sign-out", data={"csrf_token": csrf(done)})
    assert sign_in(client, who, password=new).status_code == 302


def test_an_unknown_console_address_gets_a_console_page(client, staff):
    signed_in(client, staff("analyst"))
    answer = client.get("/console/no-such-page?lang=en")
    assert answer.status_code == 404 and answer.mimetype == "text/html"
    assert "This page does not exist" in answer.get_data(as_text=True)
    assert "Sign out" in answer.get_data(as_text=True)  # the console's menu
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.mimetype == "application/problem+json"
