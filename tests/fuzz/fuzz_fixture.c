/* Fuzz target: the fixture loader (server/fixtures.c) on arbitrary bytes.
 * Every input must parse or be refused with a message; never crash or leak. */
#include "fuzz.h"

#include "fixtures.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	xalloc_install_cjson_hooks();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* fixture_parse wants text[len] == '\0'; the fuzzer's buffer has no room for it. */
	char *text = xmalloc(size + 1);
	if (size)
		memcpy(text, data, size);
	text[size] = '\0';
	struct fixture *f = NULL;
	struct error err = {0};
	if (fixture_parse(text, size, "fuzz.json", 0, &f, &err) == 0) {
		if (!f)
			abort(); /* success must give a fixture */
		/* Walk what the lookup walks, so a half-built result shows under ASan. */
		for (size_t i = 0; i < f->n_orgs; i++)
			if (fixture_find_org(f, f->orgs[i].id) == NULL)
				abort();
	} else if (f != NULL || err.msg[0] == '\0') {
		abort(); /* failure must give no fixture and a reason */
	}
	fixture_free(f);
	free(text);
	return 0;
}
