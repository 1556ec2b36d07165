/* Generated ids: a prefix and 22 base-62 characters ("ct_4Xb..."). Random by
 * default; reproducible from a seed, so a frozen-clock run is byte-identical. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { IDS_RANDOM_LEN = 22, IDS_MAX = 48 /* prefix + random part + NUL fits */ };

struct ids;

/* With seeded, ids follow from seed alone; otherwise from the OS's randomness.
 * Never NULL; free with ids_free(). Thread-safe. */
struct ids *ids_new(bool seeded, uint64_t seed);
void ids_free(struct ids *ids);

/* Writes prefix followed by 22 base-62 characters into out (IDS_MAX bytes);
 * the prefix must be shorter than IDS_MAX - IDS_RANDOM_LEN. */
void ids_generate(struct ids *ids, const char *prefix, char out[IDS_MAX]);
