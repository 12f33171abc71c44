from tests.episodes.conftest import TODAY, moment


def test_open_and_dose(client, methadone_episode):
    headers, ref = methadone_episode
    answer = client.post(
        f"/api/v1/episodes/{ref}/events",
        headers=headers,
        json={
            "type": "dose",
            "occurred_at": moment(TODAY),
            "payload": {"medication": "methadone", "amount": 20, "unit": "mg"},
        },
    )
    assert answer.status_code == 201, answer.json
    answer = client.get(f"/api/v1/episodes/{ref}", headers=headers)
    assert answer.status_code == 200, answer.json
    print(answer.json)
    answer = client.get("/api/v1/episodes", headers=headers)
    assert answer.status_code == 200, answer.json
    print(answer.json)
