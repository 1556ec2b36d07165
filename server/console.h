/* The web console: its page, style sheet and script (server/ui/, compiled into
 * the binary) under /__admin/ui/, and the redirect of a browser's GET / to it. */
#pragma once

struct request;

/* GET /__admin/ui and GET /__admin/ui/{file}: the console's files, each with its
 * Content-Type, an ETag (If-None-Match answers 304) and Cache-Control: no-cache,
 * so a new binary's files are never served from a stale cache. An unknown file
 * is the 404 of an unknown path. No admin token: the page has to load to ask
 * for it; every call it makes needs the token. */
void console_file(struct request *r);

/* GET /: 302 to /__admin/ui/ when Accept names text/html (a browser); else the
 * 404 "Cannot GET /" every other client got before the console existed. */
void console_root(struct request *r);
