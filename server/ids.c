/* See ids.h. xoshiro256** (Blackman and Vigna) seeded through splitmix64: small,
 * fast, and the same sequence on every platform for the same seed. */
#include "ids.h"

#include "xalloc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

struct ids {
	pthread_mutex_t lock;
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t next(uint64_t s[4])
{
	uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

struct ids *ids_new(bool seeded, uint64_t seed)
{
	struct ids *ids = xcalloc(1, sizeof *ids);
	pthread_mutex_init(&ids->lock, NULL);
	if (!seeded && getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec;
	}
	for (int i = 0; i < 4; i++)
		ids->s[i] = splitmix64(&seed);
	return ids;
}

void ids_free(struct ids *ids)
{
	if (!ids)
		return;
	pthread_mutex_destroy(&ids->lock);
	free(ids);
}

void ids_generate(struct ids *ids, const char *prefix, char out[IDS_MAX])
{
	static const char alphabet[] =
		"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	size_t n = strlen(prefix);
	if (n > IDS_MAX - IDS_RANDOM_LEN - 1)
		n = IDS_MAX - IDS_RANDOM_LEN - 1;
	memcpy(out, prefix, n);
	pthread_mutex_lock(&ids->lock);
	for (int i = 0; i < IDS_RANDOM_LEN; i++) {
		/* Rejection sampling keeps every character equally likely. */
		uint64_t r;
		do
			r = next(ids->s) >> 58; /* 6 bits */
		while (r >= 62);
		out[n + (size_t)i] = alphabet[r];
	}
	pthread_mutex_unlock(&ids->lock);
	out[n + IDS_RANDOM_LEN] = '\0';
}
