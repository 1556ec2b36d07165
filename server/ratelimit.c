/* See ratelimit.h. Clients are few (a test suite on one machine), so a short
 * array searched linearly is enough; entries of past windows are reused. */
#include "ratelimit.h"

#include "xalloc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { RATELIMIT_CLIENT_MAX = 64 }; /* INET6_ADDRSTRLEN and then some */

struct client {
	char addr[RATELIMIT_CLIENT_MAX];
	int64_t window; /* minute number */
	unsigned count;
};

struct ratelimit {
	pthread_mutex_t lock;
	unsigned per_minute;
	struct client *clients;
	size_t n, cap;
};

struct ratelimit *ratelimit_new(unsigned per_minute)
{
	struct ratelimit *rl = xcalloc(1, sizeof *rl);
	pthread_mutex_init(&rl->lock, NULL);
	rl->per_minute = per_minute;
	return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->lock);
	free(rl->clients);
	free(rl);
}

bool ratelimit_take(struct ratelimit *rl, const char *client, int64_t now_ms, int *retry_after_s)
{
	int64_t window = now_ms >= 0 ? now_ms / 60000 : -1 - (-now_ms - 1) / 60000;
	pthread_mutex_lock(&rl->lock);
	struct client *c = NULL, *stale = NULL;
	for (size_t i = 0; i < rl->n && !c; i++) {
		if (!strcmp(rl->clients[i].addr, client))
			c = &rl->clients[i];
		else if (rl->clients[i].window != window)
			stale = &rl->clients[i];
	}
	if (!c) {
		if (!stale) {
			if (rl->n == rl->cap) {
				rl->cap = rl->cap ? 2 * rl->cap : 8;
				rl->clients = xrealloc(rl->clients, rl->cap * sizeof *rl->clients);
			}
			stale = &rl->clients[rl->n++];
		}
		c = stale;
		memset(c, 0, sizeof *c);
		strncpy(c->addr, client, sizeof c->addr - 1);
		c->window = window;
	}
	if (c->window != window) {
		c->window = window;
		c->count = 0;
	}
	bool ok = c->count < rl->per_minute;
	if (ok)
		c->count++;
	pthread_mutex_unlock(&rl->lock);
	if (!ok) {
		int64_t left_ms = (window + 1) * 60000 - now_ms;
		*retry_after_s = (int)((left_ms + 999) / 1000);
	}
	return ok;
}
