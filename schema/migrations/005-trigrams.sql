-- Version 5: a trigram index for the substring filters of GET
-- /orgs/{org_id}/contacts (name, search, username). A filter of 3 bytes or more
-- takes its candidates from here, then checks each with the same LIKE as before
-- (server/store_list.c), so answers are the same; the index only narrows.
--
-- One row per contact and distinct trigram of any of its searchable texts: its
-- name, and each channel's name, username, email, phone and user_id. A
-- trigram is 3 consecutive bytes of one text, ASCII letters lowercased, as one
-- integer (b0 << 16 | b1 << 8 | b2): bytes, so that any UTF-8 text works, and
-- ASCII-only folding, which is LIKE's rule without ICU. trigrams() is the
-- application's function (server/store_trigram.c): a JSON array of the
-- distinct trigrams of its arguments, so every connection that writes contacts
-- or channels must have it (the server's do; the sqlite3 shell does not).
CREATE TABLE contact_trigrams (
  tri         INTEGER NOT NULL,
  contact_pk  INTEGER NOT NULL,
  n           INTEGER NOT NULL,  -- how many of its texts hold it: the name, each channel
  PRIMARY KEY (tri, contact_pk)
) WITHOUT ROWID;

-- What the index holds, made from the rows: a channel's five fields count as
-- one text, so n is the number of the contact's name and channels that hold
-- the trigram, which is what the triggers below keep. The index is not filled
-- here: migration 006, which always follows, replaces this table and fills its
-- own from the rows.
CREATE VIEW contact_trigrams_made (tri, contact_pk, n) AS
  SELECT tri, contact_pk, count(*) FROM (
    SELECT j.value AS tri, c.pk AS contact_pk FROM contacts c, json_each(trigrams(c.name)) j
    UNION ALL
    SELECT j.value, ch.contact_pk FROM channels ch,
      json_each(trigrams(ch.name, ch.username, ch.email, ch.phone, ch.user_id)) j)
  GROUP BY tri, contact_pk;

-- Each text adds itself (n + 1) and takes itself away (n - 1, the row deleted
-- at 0); a contact's delete removes its name's share and ON DELETE CASCADE its
-- channels'. A name change touches only the trigrams it gains or loses.
CREATE TRIGGER contacts_trigrams_insert AFTER INSERT ON contacts WHEN NEW.name IS NOT NULL BEGIN
  INSERT INTO contact_trigrams (tri, contact_pk, n)
    SELECT value, NEW.pk, 1 FROM json_each(trigrams(NEW.name)) WHERE true
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER contacts_trigrams_update AFTER UPDATE OF name ON contacts
  WHEN OLD.name IS NOT NEW.name BEGIN
  DELETE FROM contact_trigrams WHERE contact_pk = OLD.pk AND n = 1 AND tri IN
    (SELECT value FROM json_each(trigrams(OLD.name))
     EXCEPT SELECT value FROM json_each(trigrams(NEW.name)));
  UPDATE contact_trigrams SET n = n - 1 WHERE contact_pk = OLD.pk AND tri IN
    (SELECT value FROM json_each(trigrams(OLD.name))
     EXCEPT SELECT value FROM json_each(trigrams(NEW.name)));
  INSERT INTO contact_trigrams (tri, contact_pk, n)
    SELECT value, NEW.pk, 1 FROM (SELECT value FROM json_each(trigrams(NEW.name))
                                  EXCEPT SELECT value FROM json_each(trigrams(OLD.name)))
    WHERE true ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER contacts_trigrams_delete AFTER DELETE ON contacts WHEN OLD.name IS NOT NULL BEGIN
  DELETE FROM contact_trigrams WHERE contact_pk = OLD.pk AND n = 1 AND tri IN
    (SELECT value FROM json_each(trigrams(OLD.name)));
  UPDATE contact_trigrams SET n = n - 1 WHERE contact_pk = OLD.pk AND tri IN
    (SELECT value FROM json_each(trigrams(OLD.name)));
END;
CREATE TRIGGER channels_trigrams_insert AFTER INSERT ON channels BEGIN
  INSERT INTO contact_trigrams (tri, contact_pk, n)
    SELECT value, NEW.contact_pk, 1
    FROM json_each(trigrams(NEW.name, NEW.username, NEW.email, NEW.phone, NEW.user_id)) WHERE true
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
-- The API never changes a channel's texts; this keeps the index true if it ever does.
CREATE TRIGGER channels_trigrams_update
  AFTER UPDATE OF contact_pk, name, username, email, phone, user_id ON channels BEGIN
  DELETE FROM contact_trigrams WHERE contact_pk = OLD.contact_pk AND n = 1 AND tri IN
    (SELECT value FROM json_each(trigrams(OLD.name, OLD.username, OLD.email, OLD.phone, OLD.user_id)));
  UPDATE contact_trigrams SET n = n - 1 WHERE contact_pk = OLD.contact_pk AND tri IN
    (SELECT value FROM json_each(trigrams(OLD.name, OLD.username, OLD.email, OLD.phone, OLD.user_id)));
  INSERT INTO contact_trigrams (tri, contact_pk, n)
    SELECT value, NEW.contact_pk, 1
    FROM json_each(trigrams(NEW.name, NEW.username, NEW.email, NEW.phone, NEW.user_id)) WHERE true
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER channels_trigrams_delete AFTER DELETE ON channels BEGIN
  DELETE FROM contact_trigrams WHERE contact_pk = OLD.contact_pk AND n = 1 AND tri IN
    (SELECT value FROM json_each(trigrams(OLD.name, OLD.username, OLD.email, OLD.phone, OLD.user_id)));
  UPDATE contact_trigrams SET n = n - 1 WHERE contact_pk = OLD.contact_pk AND tri IN
    (SELECT value FROM json_each(trigrams(OLD.name, OLD.username, OLD.email, OLD.phone, OLD.user_id)));
END;
