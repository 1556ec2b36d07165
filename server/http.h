/* HTTP: the libmicrohttpd daemon, started and stopped with the app. Handlers
 * see requests through http_request.h; the files of the layer are listed in
 * http_int.h. */
#pragma once

#include "errors.h"

struct app;
struct http;

/* Starts listening on config host:port with the app's handlers.
 * Returns 0 and *out, or -1 with err (address unusable, port in use). */
int http_start(struct app *app, struct http **out, struct error *err);
/* The bound port. */
unsigned http_port(const struct http *h);
/* Stops accepting connections, waits (up to a few seconds) for requests in
 * flight to be answered, then closes every connection. NULL is fine. */
void http_stop(struct http *h);

/* Ends every fault delay in progress: each of those requests goes on at once,
 * as its rule says (an error, a drop, or its normal answer). */
void http_end_delays(struct http *h);
