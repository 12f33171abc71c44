"""An override reason that holds an identifier is refused before anything is written."""

from registry.api.free_text import REFUSED
from tests.episodes.test_scenario import ADMITTED, dose


def test_an_override_reason_with_an_iin_is_refused_and_nothing_is_written(
    client, session, clinician, patient, open_episode
):
    headers = clinician()
    ref = open_episode(headers, patient(headers), admitted_on=ADMITTED.isoformat()).json["id"]
    before = client.get(f"/api/v1/episodes/{ref}", headers=headers).json
    refused = dose(client, headers, ref, 0, 500, override_reason="per IIN 850315301235")
    assert refused.status_code == 422
    assert refused.json["errors"] == {"override_reason": [REFUSED]}
    assert "850315301235" not in refused.get_data(as_text=True)
    after = client.get(f"/api/v1/episodes/{ref}", headers=headers).json
    assert after["timeline"] == before["timeline"]
