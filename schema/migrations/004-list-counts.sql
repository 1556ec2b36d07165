-- Version 4: counts kept by triggers answer pagination-count for the flag
-- filters (status, unsubscribed, exclude_admins), alone or with a segment,
-- whatever the org's size (server/store_list.c). They are kept in step by the
-- triggers below, including rows removed by ON DELETE CASCADE.

-- The four flags as one number, for the counts (STORE_FLAG_* in store_list.c).
ALTER TABLE contacts ADD COLUMN flags INTEGER
  GENERATED ALWAYS AS (blocked | (unsubscribed << 1) | (is_admin << 2) | (ai_replies_disabled << 3))
  VIRTUAL;

-- Contacts per org and flag combination (at most 16 rows an org).
CREATE TABLE contact_counts (
  org_id  TEXT NOT NULL,
  flags   INTEGER NOT NULL,
  n       INTEGER NOT NULL,
  PRIMARY KEY (org_id, flags)
) WITHOUT ROWID;

-- Members per segment and flag combination.
CREATE TABLE segment_counts (
  segment_pk  INTEGER NOT NULL,
  flags       INTEGER NOT NULL,
  n           INTEGER NOT NULL,
  PRIMARY KEY (segment_pk, flags)
) WITHOUT ROWID;

INSERT INTO contact_counts (org_id, flags, n)
  SELECT org_id, flags, count(*) FROM contacts GROUP BY org_id, flags;
INSERT INTO segment_counts (segment_pk, flags, n)
  SELECT cs.segment_pk, c.flags, count(*) FROM contact_segments cs
  JOIN contacts c ON c.pk = cs.contact_pk GROUP BY cs.segment_pk, c.flags;

CREATE TRIGGER contacts_counts_insert AFTER INSERT ON contacts BEGIN
  INSERT INTO contact_counts (org_id, flags, n) VALUES (NEW.org_id, NEW.flags, 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
-- BEFORE: a contact's memberships are gone by the time its AFTER DELETE
-- trigger runs (ON DELETE CASCADE runs first), and so is the contact row when
-- the membership's own trigger runs, which then leaves the counts alone.
CREATE TRIGGER contacts_counts_delete BEFORE DELETE ON contacts BEGIN
  UPDATE contact_counts SET n = n - 1 WHERE org_id = OLD.org_id AND flags = OLD.flags;
  UPDATE segment_counts SET n = n - 1 WHERE flags = OLD.flags
    AND segment_pk IN (SELECT segment_pk FROM contact_segments WHERE contact_pk = OLD.pk);
END;
CREATE TRIGGER contacts_counts_update
  AFTER UPDATE OF blocked, unsubscribed, is_admin, ai_replies_disabled ON contacts
  WHEN OLD.flags <> NEW.flags BEGIN
  UPDATE contact_counts SET n = n - 1 WHERE org_id = OLD.org_id AND flags = OLD.flags;
  INSERT INTO contact_counts (org_id, flags, n) VALUES (NEW.org_id, NEW.flags, 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
  UPDATE segment_counts SET n = n - 1 WHERE flags = OLD.flags
    AND segment_pk IN (SELECT segment_pk FROM contact_segments WHERE contact_pk = NEW.pk);
  INSERT INTO segment_counts (segment_pk, flags, n)
    SELECT segment_pk, NEW.flags, 1 FROM contact_segments WHERE contact_pk = NEW.pk
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER contact_segments_counts_insert AFTER INSERT ON contact_segments BEGIN
  INSERT INTO segment_counts (segment_pk, flags, n)
    SELECT NEW.segment_pk, flags, 1 FROM contacts WHERE pk = NEW.contact_pk
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER contact_segments_counts_delete AFTER DELETE ON contact_segments BEGIN
  UPDATE segment_counts SET n = n - 1 WHERE segment_pk = OLD.segment_pk
    AND flags = (SELECT flags FROM contacts WHERE pk = OLD.contact_pk);
END;
CREATE TRIGGER segments_counts_delete AFTER DELETE ON segments BEGIN
  DELETE FROM segment_counts WHERE segment_pk = OLD.pk;
END;
CREATE TRIGGER orgs_counts_delete AFTER DELETE ON orgs BEGIN
  DELETE FROM contact_counts WHERE org_id = OLD.id;
END;

-- status=AI_REPLIES_DISABLED reads its contacts in list order, as the other
-- status filters do (migration 002).
CREATE INDEX contacts_ai_replies_disabled ON contacts(org_id, created_at DESC, id)
  WHERE ai_replies_disabled = 1;
