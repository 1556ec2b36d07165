/* See urlcode.h. */
#include "urlcode.h"

#include "xalloc.h"

#include <stdlib.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *urlcode_decode(const char *s, size_t n, bool query)
{
	char *out = xmalloc(n + 1), *o = out;
	for (size_t i = 0; i < n; i++) {
		if (query && s[i] == '+') {
			*o++ = ' ';
			continue;
		}
		int h = -1, l = -1;
		if (s[i] == '%' && i + 2 < n) {
			h = hexval(s[i + 1]);
			l = hexval(s[i + 2]);
		}
		bool good = h >= 0 && l >= 0 && (h | l);
		if (s[i] == '%' && good) {
			*o++ = (char)(h * 16 + l);
			i += 2;
		} else if (s[i] == '%' && !query) {
			free(out);
			return NULL;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}
