-- Version 3: which fixture file the data was loaded from, so a start with a
-- different file is told apart from one with the same (server/app.c decides
-- what follows). One row once fixtures are loaded; none in a database made
-- before version 3.
CREATE TABLE fixture (
  hash    TEXT NOT NULL,  -- FNV-1a 64 of the file's bytes, as fixtures.h computes it
  source  TEXT NOT NULL   -- the file name given, or the built-in demo's
);
