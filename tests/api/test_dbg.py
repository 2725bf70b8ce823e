from tests.api.conftest import Api


def test_dbg(api: Api) -> None:
    for body in [
        "null",
        "[]",
        "{}",
        "1",
        '"x"',
        '{"type": "batch"}',
        '{"type": "batch", "payload": {"items": [{"type":"payments","payload":1}]}}',
        "\x00",
    ]:
        r = api.client.post(
            "/api/v1/envelopes/import",
            data=body,
            headers={"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"},
            csrf=False,
        )
        print(repr(body), r.status_code, r.get_data(as_text=True)[:300])
