/* The one clock every timestamp comes from: real time, or frozen at an instant
 * (tests), plus the RFC 3339 text form of the API. Thread-safe. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* "2024-05-01T09:30:00.000Z" plus NUL. */
enum { CLOCK_TEXT_SIZE = 25 };

struct clock;

/* A clock in real mode. Never NULL; free with clock_free(). */
struct clock *clock_new(void);
void clock_free(struct clock *c);

/* Now, in milliseconds since the Unix epoch, UTC. */
int64_t clock_now_ms(struct clock *c);
/* Stops the clock at ms; clock_now_ms() answers ms until changed. */
void clock_freeze(struct clock *c, int64_t ms);
/* Moves the clock forward by ms >= 0 (frozen: the frozen instant; real: an offset). */
void clock_advance(struct clock *c, int64_t ms);
/* Back to real time with no offset. */
void clock_set_real(struct clock *c);
bool clock_is_frozen(struct clock *c);

/* Writes ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (CLOCK_TEXT_SIZE bytes). */
void clock_format(int64_t ms, char out[CLOCK_TEXT_SIZE]);
/* Writes ms as an HTTP date, "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 5.6.7),
 * into out (at least 30 bytes). */
void clock_http_date(int64_t ms, char out[30]);

/* The machine's monotonic clock in nanoseconds, for durations and deadlines
 * (never the emulator's time). */
int64_t clock_monotonic_ns(void);

/* Parses an RFC 3339 date-time ("2024-05-01T09:30:00Z", optional fraction,
 * "Z" or "+hh:mm"/"-hh:mm"); fractions below a millisecond are truncated.
 * Returns 0 and writes *out, or -1 if s is not such a date-time (*out untouched). */
int clock_parse(const char *s, int64_t *out);
