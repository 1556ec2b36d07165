-- invent-mock's store, schema version 1 (PRAGMA user_version).
-- Later versions are schema/migrations/NNN-*.sql, applied in order by store.c
-- to new and existing databases alike; this file stays as version 1.
-- Timestamps are INTEGER milliseconds since the Unix epoch, UTC.

CREATE TABLE orgs (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  parent_id  TEXT REFERENCES orgs(id) ON DELETE CASCADE,
  origin     TEXT,            -- an isolated copy's fixture org; NULL for fixture orgs
  seq        INTEGER NOT NULL -- order of creation, so listings are stable
);

CREATE TABLE api_keys (
  key     TEXT PRIMARY KEY,
  org_id  TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE
);
CREATE INDEX api_keys_by_org ON api_keys(org_id);

CREATE TABLE segments (
  pk              INTEGER PRIMARY KEY,
  org_id          TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  id              TEXT NOT NULL,
  name            TEXT NOT NULL,
  color           TEXT NOT NULL,
  contacts_count  INTEGER NOT NULL DEFAULT 0,  -- kept exact by the triggers below
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  UNIQUE (org_id, id)
);

CREATE TABLE contacts (
  pk                    INTEGER PRIMARY KEY,
  org_id                TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  id                    TEXT NOT NULL,
  name                  TEXT,
  blocked               INTEGER NOT NULL DEFAULT 0 CHECK (blocked IN (0, 1)),
  unsubscribed          INTEGER NOT NULL DEFAULT 0 CHECK (unsubscribed IN (0, 1)),
  is_admin              INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
  ai_replies_disabled   INTEGER NOT NULL DEFAULT 0 CHECK (ai_replies_disabled IN (0, 1)),
  created_at            INTEGER NOT NULL,
  updated_at            INTEGER NOT NULL,
  blocked_at            INTEGER,
  unsubscribed_at       INTEGER,
  unsubscribe_reason    TEXT,
  unsubscribe_feedback  TEXT,
  UNIQUE (org_id, id),
  -- The *_at fields agree with their flags, whatever writes the row.
  CHECK ((blocked = 1) = (blocked_at IS NOT NULL)),
  CHECK ((unsubscribed = 1) = (unsubscribed_at IS NOT NULL))
);
-- Listing order: newest created_at first, then id.
CREATE INDEX contacts_by_org_created ON contacts(org_id, created_at DESC, id);

CREATE TABLE channels (
  pk             INTEGER PRIMARY KEY,
  contact_pk     INTEGER NOT NULL REFERENCES contacts(pk) ON DELETE CASCADE,
  org_id         TEXT NOT NULL,
  id             TEXT NOT NULL,
  type           TEXT NOT NULL,
  user_id        TEXT NOT NULL,
  avatar         TEXT,
  name           TEXT,
  username       TEXT,
  email          TEXT,
  phone          TEXT,
  country        TEXT,
  agent          TEXT,
  ip             TEXT,
  language       TEXT,
  platform_data  TEXT NOT NULL DEFAULT '{}',
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL,
  link           TEXT,
  UNIQUE (org_id, id)
);
CREATE INDEX channels_by_contact ON channels(contact_pk);

CREATE TABLE contact_segments (
  contact_pk  INTEGER NOT NULL REFERENCES contacts(pk) ON DELETE CASCADE,
  segment_pk  INTEGER NOT NULL REFERENCES segments(pk) ON DELETE CASCADE,
  PRIMARY KEY (contact_pk, segment_pk)
) WITHOUT ROWID;
CREATE INDEX contact_segments_by_segment ON contact_segments(segment_pk, contact_pk);

-- contacts_count is the true count in the same transaction as every change
-- (including rows removed by ON DELETE CASCADE), so reading it never needs COUNT(*).
CREATE TRIGGER contact_segments_count_add AFTER INSERT ON contact_segments BEGIN
  UPDATE segments SET contacts_count = contacts_count + 1 WHERE pk = NEW.segment_pk;
END;
CREATE TRIGGER contact_segments_count_remove AFTER DELETE ON contact_segments BEGIN
  UPDATE segments SET contacts_count = contacts_count - 1 WHERE pk = OLD.segment_pk;
END;
