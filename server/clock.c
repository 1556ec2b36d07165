/* See clock.h. Civil-date arithmetic after Howard Hinnant's days_from_civil, so
 * neither timegm() nor the TZ environment is involved. */
#include "clock.h"

#include "xalloc.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct clock {
	pthread_mutex_t lock;
	bool frozen;
	int64_t frozen_ms; /* the instant, when frozen */
	int64_t offset_ms; /* added to real time, when not frozen */
};

struct clock *clock_new(void)
{
	struct clock *c = xcalloc(1, sizeof *c);
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

void clock_free(struct clock *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static int64_t real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_now_ms(struct clock *c)
{
	pthread_mutex_lock(&c->lock);
	int64_t now = c->frozen ? c->frozen_ms : real_ms() + c->offset_ms;
	pthread_mutex_unlock(&c->lock);
	return now;
}

void clock_freeze(struct clock *c, int64_t ms)
{
	pthread_mutex_lock(&c->lock);
	c->frozen = true;
	c->frozen_ms = ms;
	pthread_mutex_unlock(&c->lock);
}

void clock_advance(struct clock *c, int64_t ms)
{
	pthread_mutex_lock(&c->lock);
	if (c->frozen)
		c->frozen_ms += ms;
	else
		c->offset_ms += ms;
	pthread_mutex_unlock(&c->lock);
}

void clock_set_real(struct clock *c)
{
	pthread_mutex_lock(&c->lock);
	c->frozen = false;
	c->offset_ms = 0;
	pthread_mutex_unlock(&c->lock);
}

bool clock_is_frozen(struct clock *c)
{
	pthread_mutex_lock(&c->lock);
	bool f = c->frozen;
	pthread_mutex_unlock(&c->lock);
	return f;
}

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

void clock_format(int64_t ms, char out[CLOCK_TEXT_SIZE])
{
	int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
	int64_t rem = ms - days * 86400000;
	int y, mo, d;
	civil_from_days(days, &y, &mo, &d);
	/* Years outside 0..9999 do not fit the fixed width; clamp the text rather
	 * than overflow (clock_parse never produces them). */
	if (y < 0)
		y = 0;
	if (y > 9999)
		y = 9999;
	/* Written digit by digit: this runs several times for every contact rendered,
	 * and snprintf was a visible share of a PATCH's cost. */
	static const char digits10[] = "0123456789";
	/* Two digits each: century, year, month, day, hour, minute, second, and the
	 * separator written before each. */
	int parts[] = {y / 100, y % 100, mo, d, (int)(rem / 3600000), (int)(rem / 60000 % 60),
		       (int)(rem / 1000 % 60)};
	const char before[] = {0, 0, '-', '-', 'T', ':', ':'};
	char *o = out;
	for (int i = 0; i < 7; i++) {
		if (before[i])
			*o++ = before[i];
		*o++ = digits10[parts[i] / 10];
		*o++ = digits10[parts[i] % 10];
	}
	*o++ = '.';
	int frac = (int)(rem % 1000);
	*o++ = digits10[frac / 100];
	*o++ = digits10[frac / 10 % 10];
	*o++ = digits10[frac % 10];
	*o++ = 'Z';
	*o = '\0';
}

void clock_http_date(int64_t ms, char out[30])
{
	static const char *const days[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	int64_t day = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
	int64_t rem = (ms - day * 86400000) / 1000;
	int y, mo, d;
	civil_from_days(day, &y, &mo, &d);
	/* 1970-01-01 was a Thursday. */
	int wd = (int)(((day % 7) + 7) % 7);
	snprintf(out, 30, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[wd], d % 100, months[(mo - 1) % 12],
		 y % 10000, (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int clock_parse(const char *s, int64_t *out)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const char *p = s;
	int y, mo, d, h, mi, sec, ms = 0;
	if (!s || digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
	    digits(&p, 2, &d))
		return -1;
	if (*p != 'T' && *p != 't')
		return -1;
	p++;
	if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
	    digits(&p, 2, &sec))
		return -1;
	if (*p == '.') {
		p++;
		int n = 0;
		for (; isdigit((unsigned char)*p); p++, n++)
			if (n < 3)
				ms = ms * 10 + (*p - '0');
		if (n == 0)
			return -1;
		/* "5" is 500 ms and "05" 50 ms. */
		for (; n < 3; n++)
			ms *= 10;
	}
	int off_min = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, oh, om;
		if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
			return -1;
		off_min = sign * (oh * 60 + om);
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59)
		return -1;
	if (d > mdays[mo - 1] + (mo == 2 && is_leap(y)))
		return -1;
	int64_t days = days_from_civil(y, mo, d);
	*out = ((days * 24 + h) * 60 + mi) * 60000LL + sec * 1000LL + ms - off_min * 60000LL;
	return 0;
}

int64_t clock_monotonic_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}
