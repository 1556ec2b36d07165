/* Regression replayer: runs a fuzz target's LLVMFuzzerTestOneInput over files,
 * without libFuzzer, so that the normal build (gcc, no sanitizer needed) and
 * its test suite replay every crash the fuzzers found (tests/fuzz/regressions/)
 * and the seed corpora.
 *
 *   fuzz_replay_TARGET PATH...
 *
 * Each PATH is a file or a directory, whose files (not starting with '.', and
 * not README*) run in name order. A directory that does not exist counts as
 * empty, since git keeps no empty folder. Exits 0 once every input ran: a bug
 * shows as a crash, an abort of the target, or a sanitizer report (in a
 * sanitized build), each of which ends the process non-zero. */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Weak, so a target may leave them out. */
#pragma weak LLVMFuzzerInitialize
#pragma weak fuzz_target_cleanup

static unsigned long n_run;

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 4096, len = 0;
	unsigned char *buf = malloc(cap);
	size_t n;
	while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap)
			buf = realloc(buf, cap *= 2);
	}
	int bad = !buf || ferror(f);
	fclose(f);
	if (bad) {
		fprintf(stderr, "replay: %s: cannot read\n", path);
		free(buf);
		return -1;
	}
	/* An exact-size copy, so ASan sees a read past the input's end. */
	unsigned char *exact = malloc(len ? len : 1);
	if (!exact) {
		free(buf);
		return -1;
	}
	memcpy(exact, buf, len);
	free(buf);
	fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	n_run++;
	return 0;
}

static int skip_name(const char *name)
{
	return name[0] == '.' || !strncmp(name, "README", 6);
}

static int run_path(const char *path)
{
	struct stat st;
	if (stat(path, &st)) {
		if (errno == ENOENT) {
			fprintf(stderr, "replay: %s: none (no such file or directory)\n", path);
			return 0;
		}
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path);
	struct dirent **names;
	int n = scandir(path, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	int rc = 0;
	for (int i = 0; i < n; i++) {
		if (!rc && !skip_name(names[i]->d_name)) {
			size_t len = strlen(path) + strlen(names[i]->d_name) + 2;
			char *p = malloc(len);
			if (!p) {
				rc = -1;
			} else {
				snprintf(p, len, "%s/%s", path, names[i]->d_name);
				struct stat fst;
				if (!stat(p, &fst) && S_ISREG(fst.st_mode))
					rc = run_file(p);
				free(p);
			}
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
		return 2;
	}
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	int rc = 0;
	for (int i = 1; i < argc && !rc; i++)
		rc = run_path(argv[i]);
	if (fuzz_target_cleanup)
		fuzz_target_cleanup();
	printf("replay: %lu input(s) ran%s\n", n_run, rc ? ", then an input could not be read" : "");
	return rc ? 1 : 0;
}
