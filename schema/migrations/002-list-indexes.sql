-- Version 2: indexes for GET /orgs/{org_id}/contacts on large data sets.
-- Filters that name one value (email, user_id, segment_id) start from these
-- instead of scanning the org's contacts; the status filters read a partial
-- index already in list order. Query plans: tests/test_store.c.
CREATE INDEX channels_by_email ON channels(org_id, email COLLATE NOCASE);
CREATE INDEX channels_by_user_id ON channels(org_id, user_id COLLATE NOCASE);
CREATE INDEX contacts_blocked ON contacts(org_id, created_at DESC, id) WHERE blocked = 1;
CREATE INDEX contacts_unsubscribed ON contacts(org_id, created_at DESC, id) WHERE unsubscribed = 1;
