/* Invent's documented rate limit, emulated: at most N requests a minute per
 * client IP, counted in fixed windows of the emulator's clock, so advancing a
 * frozen clock by a minute refills the budget. Thread-safe. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct ratelimit;

struct ratelimit *ratelimit_new(unsigned per_minute);
void ratelimit_free(struct ratelimit *rl);

/* Counts one request from client at now_ms. Returns true if it is within the
 * limit; otherwise false with *retry_after_s the seconds until the budget refills. */
bool ratelimit_take(struct ratelimit *rl, const char *client, int64_t now_ms, int *retry_after_s);
