"""Tests of an Invent client against invent-mock, one isolated org per test."""


def test_patch_blocks_contact(client, org):
    contact = client.update_contact(org["org_id"], "ct_ada", blocked=True)
    assert contact["id"] == "ct_ada"
    assert contact["blocked"] is True
    assert contact["blocked_at"] is not None
    assert contact["blocked_at"] == contact["updated_at"]


def test_journal_records_exactly_one_patch(client, org, admin):
    client.update_contact(org["org_id"], "ct_ada", blocked=True)
    assert admin.patch_count(method="PATCH", org_id=org["org_id"]) == 1


def test_client_retries_injected_503(client, org, admin):
    admin.call("POST", "/__admin/faults", {
        "method": "PATCH", "path": "/orgs/*/contacts/*", "org_id": org["org_id"],
        "status": 503, "times": 1,
    })
    contact = client.update_contact(org["org_id"], "ct_ada", blocked=True)
    assert contact["blocked"] is True
    assert client.last_attempts == 2
    # A faulted request is journaled with its org, as any other.
    assert admin.patch_count(method="PATCH", org_id=org["org_id"]) == 2
    assert admin.patch_count(method="PATCH", org_id=org["org_id"], status=503) == 1


def test_blocked_at_under_frozen_clock(client, org, admin):
    admin.call("POST", "/__admin/clock", {"frozen_at": "2030-01-01T00:00:00Z"})
    try:
        contact = client.update_contact(org["org_id"], "ct_ada", blocked=True)
        assert contact["blocked_at"] == "2030-01-01T00:00:00.000Z"
        assert contact["updated_at"] == "2030-01-01T00:00:00.000Z"
    finally:
        admin.call("POST", "/__admin/clock", {"mode": "real"})
