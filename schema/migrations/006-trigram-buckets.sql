-- Version 6: the trigram index of migration 005 by buckets of 64 contacts.
-- A row per contact and trigram made a load of 100,000 contacts insert
-- millions of rows, one b-tree insert each (README, Performance). A row per
-- trigram and bucket of 64 contacts (pk >> 6), its contacts as the bits of one
-- integer (bit pk & 63), is several times fewer rows, and intersecting two
-- trigrams is an AND per bucket. Trigrams are as in 005: 3 bytes of one text,
-- ASCII letters lowercased (LIKE's rule without ICU), b0 << 16 | b1 << 8 | b2.
DROP TRIGGER contacts_trigrams_insert;
DROP TRIGGER contacts_trigrams_update;
DROP TRIGGER contacts_trigrams_delete;
DROP TRIGGER channels_trigrams_insert;
DROP TRIGGER channels_trigrams_update;
DROP TRIGGER channels_trigrams_delete;
DROP VIEW contact_trigrams_made;
DROP TABLE contact_trigrams;

CREATE TABLE contact_trigrams (
  tri     INTEGER NOT NULL,
  bucket  INTEGER NOT NULL,  -- contact pk >> 6
  bits    INTEGER NOT NULL,  -- bit pk & 63 set: that contact holds the trigram
  PRIMARY KEY (tri, bucket)
) WITHOUT ROWID;

-- What the index holds, made from the rows: the contacts whose name or any
-- channel's name, username, email, phone or user_id holds each trigram (the
-- sum of distinct bits is their OR). It fills the index here, for the rows
-- already there; store_integrity_check() compares the two. A bulk load fills
-- it in C (store_trigram_fill), since this view sorts every contact's every
-- trigram first: seconds for 100,000 contacts.
CREATE VIEW contact_trigrams_made (tri, bucket, bits) AS
  SELECT tri, pk >> 6, sum(1 << (pk & 63)) FROM (
    SELECT j.value AS tri, c.pk AS pk FROM contacts c, json_each(trigrams(c.name)) j
    UNION
    SELECT j.value, ch.contact_pk FROM channels ch,
      json_each(trigrams(ch.name, ch.username, ch.email, ch.phone, ch.user_id)) j)
  GROUP BY tri, pk >> 6;

INSERT INTO contact_trigrams (tri, bucket, bits) SELECT tri, bucket, bits FROM contact_trigrams_made;

-- A text added sets its contact's bit for its trigrams. A text removed or
-- changed clears the bit for the trigrams it loses that none of the contact's
-- other texts hold, and a bucket left with no bit is deleted. A name change
-- touches only the trigrams it gains or loses. A contact's delete clears its
-- name's, and ON DELETE CASCADE its channels' (the contact row is gone by then).
CREATE TRIGGER contacts_trigrams_insert AFTER INSERT ON contacts WHEN NEW.name IS NOT NULL BEGIN
  INSERT INTO contact_trigrams (tri, bucket, bits)
    SELECT value, NEW.pk >> 6, 1 << (NEW.pk & 63) FROM json_each(trigrams(NEW.name)) WHERE true
    ON CONFLICT DO UPDATE SET bits = bits | excluded.bits;
END;
CREATE TRIGGER contacts_trigrams_update AFTER UPDATE OF name ON contacts
  WHEN OLD.name IS NOT NEW.name BEGIN
  INSERT INTO contact_trigrams (tri, bucket, bits)
    SELECT value, NEW.pk >> 6, 1 << (NEW.pk & 63) FROM (
      SELECT value FROM json_each(trigrams(NEW.name))
      EXCEPT SELECT value FROM json_each(trigrams(OLD.name))) WHERE true
    ON CONFLICT DO UPDATE SET bits = bits | excluded.bits;
  UPDATE contact_trigrams SET bits = bits & ~(1 << (OLD.pk & 63))
    WHERE bucket = OLD.pk >> 6 AND tri IN (
      SELECT value FROM json_each(trigrams(OLD.name))
      EXCEPT SELECT value FROM json_each(trigrams(NEW.name))
      EXCEPT SELECT j.value FROM channels ch,
        json_each(trigrams(ch.name, ch.username, ch.email, ch.phone, ch.user_id)) j
        WHERE ch.contact_pk = OLD.pk);
  DELETE FROM contact_trigrams WHERE bucket = OLD.pk >> 6 AND bits = 0
    AND tri IN (SELECT value FROM json_each(trigrams(OLD.name)));
END;
CREATE TRIGGER contacts_trigrams_delete AFTER DELETE ON contacts WHEN OLD.name IS NOT NULL BEGIN
  UPDATE contact_trigrams SET bits = bits & ~(1 << (OLD.pk & 63))
    WHERE bucket = OLD.pk >> 6 AND tri IN (
      SELECT value FROM json_each(trigrams(OLD.name))
      EXCEPT SELECT j.value FROM channels ch,
        json_each(trigrams(ch.name, ch.username, ch.email, ch.phone, ch.user_id)) j
        WHERE ch.contact_pk = OLD.pk);
  DELETE FROM contact_trigrams WHERE bucket = OLD.pk >> 6 AND bits = 0
    AND tri IN (SELECT value FROM json_each(trigrams(OLD.name)));
END;
CREATE TRIGGER channels_trigrams_insert AFTER INSERT ON channels BEGIN
  INSERT INTO contact_trigrams (tri, bucket, bits)
    SELECT value, NEW.contact_pk >> 6, 1 << (NEW.contact_pk & 63)
    FROM json_each(trigrams(NEW.name, NEW.username, NEW.email, NEW.phone, NEW.user_id)) WHERE true
    ON CONFLICT DO UPDATE SET bits = bits | excluded.bits;
END;
CREATE TRIGGER channels_trigrams_delete AFTER DELETE ON channels BEGIN
  UPDATE contact_trigrams SET bits = bits & ~(1 << (OLD.contact_pk & 63))
    WHERE bucket = OLD.contact_pk >> 6 AND tri IN (
      SELECT value FROM json_each(trigrams(OLD.name, OLD.username, OLD.email, OLD.phone, OLD.user_id))
      EXCEPT SELECT value FROM json_each(trigrams((SELECT name FROM contacts WHERE pk = OLD.contact_pk)))
      EXCEPT SELECT j.value FROM channels ch,
        json_each(trigrams(ch.name, ch.username, ch.email, ch.phone, ch.user_id)) j
        WHERE ch.contact_pk = OLD.contact_pk);
  DELETE FROM contact_trigrams WHERE bucket = OLD.contact_pk >> 6 AND bits = 0 AND tri IN (
    SELECT value FROM json_each(trigrams(OLD.name, OLD.username, OLD.email, OLD.phone, OLD.user_id)));
END;
-- The API never changes a channel's texts; this keeps the index true if it ever does.
CREATE TRIGGER channels_trigrams_update
  AFTER UPDATE OF contact_pk, name, username, email, phone, user_id ON channels BEGIN
  UPDATE contact_trigrams SET bits = bits & ~(1 << (OLD.contact_pk & 63))
    WHERE bucket = OLD.contact_pk >> 6 AND tri IN (
      SELECT value FROM json_each(trigrams(OLD.name, OLD.username, OLD.email, OLD.phone, OLD.user_id))
      EXCEPT SELECT value FROM json_each(trigrams((SELECT name FROM contacts WHERE pk = OLD.contact_pk)))
      EXCEPT SELECT j.value FROM channels ch,
        json_each(trigrams(ch.name, ch.username, ch.email, ch.phone, ch.user_id)) j
        WHERE ch.contact_pk = OLD.contact_pk);
  DELETE FROM contact_trigrams WHERE bucket = OLD.contact_pk >> 6 AND bits = 0 AND tri IN (
    SELECT value FROM json_each(trigrams(OLD.name, OLD.username, OLD.email, OLD.phone, OLD.user_id)));
  INSERT INTO contact_trigrams (tri, bucket, bits)
    SELECT value, NEW.contact_pk >> 6, 1 << (NEW.contact_pk & 63)
    FROM json_each(trigrams(NEW.name, NEW.username, NEW.email, NEW.phone, NEW.user_id)) WHERE true
    ON CONFLICT DO UPDATE SET bits = bits | excluded.bits;
END;
