/* A minimal test harness: each test file holds a table of named cases; meson
 * runs the binary once per case (tests/list_cases.py reads the names), so every
 * behaviour is its own line in `meson test`. A failed check exits at once. */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct test_case {
	const char *name;
	void (*fn)(void);
};

#define TEST_CASE(name, fn) {name, fn}

#define CHECK(cond)                                                                    \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			exit(1);                                                       \
		}                                                                      \
	} while (0)

#define CHECK_INT_EQ(a, b)                                                              \
	do {                                                                            \
		long long a_ = (long long)(a), b_ = (long long)(b);                     \
		if (a_ != b_) {                                                         \
			fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, \
				__LINE__, #a, a_, #b, b_);                              \
			exit(1);                                                        \
		}                                                                       \
	} while (0)

#define CHECK_STR_EQ(a, b)                                                               \
	do {                                                                             \
		const char *a_ = (a), *b_ = (b);                                         \
		if (!a_ || !b_ || strcmp(a_, b_)) {                                      \
			fprintf(stderr, "%s:%d: %s\n  got:      %s\n  expected: %s\n", __FILE__, \
				__LINE__, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)");   \
			exit(1);                                                         \
		}                                                                        \
	} while (0)

#define CHECK_NULL(a) CHECK((a) == NULL)

/* A fresh path for a temporary file that does not exist yet (free() it). */
static inline char *test_temp_path(void)
{
	static int n;
	char *p = malloc(128);
	snprintf(p, 128, "/tmp/invent-mock-test-%d-%d.db", (int)getpid(), n++);
	return p;
}

/* Runs the case named argv[1], or every case when there is none. */
static inline int test_main(int argc, char **argv, const struct test_case *cases, size_t n)
{
	int ran = 0;
	for (size_t i = 0; i < n; i++) {
		if (argc > 1 && strcmp(argv[1], cases[i].name))
			continue;
		cases[i].fn();
		ran++;
	}
	if (!ran) {
		fprintf(stderr, "no test case named %s\n", argc > 1 ? argv[1] : "(any)");
		return 1;
	}
	return 0;
}

#define TEST_MAIN(cases)                                                              \
	int main(int argc, char **argv)                                               \
	{                                                                             \
		return test_main(argc, argv, cases, sizeof(cases) / sizeof((cases)[0])); \
	}
