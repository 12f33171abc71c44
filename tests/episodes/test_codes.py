"""The code lists of registry/episodes/codes.yaml, as loaded and as served."""

from registry.episodes.codes import raw_codes


def _keys_without_value(node, path=""):
    if isinstance(node, dict):
        for key, value in node.items():
            if value is None:
                yield f"{path}/{key}"
            yield from _keys_without_value(value, f"{path}/{key}")


def test_no_label_is_cut_at_a_comma():
    # In a YAML flow mapping an unquoted comma ends the value: "сам, семья" became "сам".
    assert list(_keys_without_value(raw_codes())) == []


def test_labels_with_commas_are_served_whole(client):
    tdi = client.get("/api/v1/codes").json["tdi"]
    codes = {c["code"]: c["label"] for c in tdi["referral_source"]["codes"]}
    assert codes["self_family_friends"] == {
        "ru": "сам, семья или друзья",
        "kk": "өзі, отбасы немесе достары",
        "en": "self-referral, family or friends",
    }
