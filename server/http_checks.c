/* See http_checks.h. */
#include "http_checks.h"

#include <string.h>
#include <strings.h>

/* libmicrohttpd 0.9.75 lets ambiguous framing through, so the check is ours:
 * otherwise what follows such a request on the connection could be read as a
 * request of its own (request smuggling). */
bool http_checks_framing_ok(unsigned n_content_length, unsigned n_transfer_encoding,
			    const char *transfer_encoding)
{
	if (n_content_length > 1 || n_transfer_encoding > 1)
		return false;
	return !n_transfer_encoding ||
	       (!n_content_length && transfer_encoding && !strcasecmp(transfer_encoding, "chunked"));
}

/* [decided] application/json, any case, with parameters; a charset other than
 * utf-8 is refused since the body is parsed as UTF-8. */
bool http_checks_content_type_is_json(const char *ct)
{
	if (!ct)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, "application/json", 16))
		return false;
	const char *p = ct + 16;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return true;
	if (*p != ';')
		return false;
	for (p++; *p; p += strcspn(p, ";"), p += *p == ';') {
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, "charset=", 8))
			continue;
		const char *v = p + 8;
		bool quoted = *v == '"';
		v += quoted;
		if (strncasecmp(v, "utf-8", 5))
			return false;
		v += 5 + (quoted && v[5] == '"');
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v != '\0' && *v != ';')
			return false;
	}
	return true;
}
