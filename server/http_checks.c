/* See http_checks.h. */
#include "http_checks.h"

#include <arpa/inet.h>
#include <netinet/in.h>
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

bool http_checks_cors_allows(const char *cors, const char *origin)
{
	if (!cors || !origin)
		return cors && !strcmp(cors, "*");
	if (!strcmp(cors, "*"))
		return true;
	size_t n = strlen(origin);
	for (const char *p = cors; *p; p += *p == ',') {
		size_t len = strcspn(p, ",");
		if (len == n && !strncasecmp(p, origin, n))
			return true;
		p += len;
	}
	return false;
}

/* The host of a Host header value, without its port: into out (size max). */
static void host_name(const char *host, char *out, size_t max)
{
	size_t len;
	if (*host == '[') {
		host++;
		len = strcspn(host, "]");
	} else {
		const char *colon = strrchr(host, ':');
		len = colon ? (size_t)(colon - host) : strlen(host);
	}
	if (len >= max)
		len = 0; /* too long to be any of ours */
	memcpy(out, host, len);
	out[len] = '\0';
}

static bool is_loopback(const char *name)
{
	size_t n = strlen(name);
	/* RFC 6761: browsers resolve localhost and *.localhost to loopback
	 * themselves, so no DNS answer can point them elsewhere. */
	if (!strcasecmp(name, "localhost") ||
	    (n > 10 && !strcasecmp(name + n - 10, ".localhost")))
		return true;
	unsigned char a[sizeof(struct in6_addr)];
	if (inet_pton(AF_INET, name, a) == 1)
		return a[0] == 127;
	return inet_pton(AF_INET6, name, a) == 1 && IN6_IS_ADDR_LOOPBACK((struct in6_addr *)a);
}

/* Origin is scheme "://" host, with host exactly the Host header's value. */
static bool same_origin(const char *origin, const char *host)
{
	const char *rest = !strncasecmp(origin, "http://", 7)	 ? origin + 7
			   : !strncasecmp(origin, "https://", 8) ? origin + 8
								 : NULL;
	return rest && host && !strcasecmp(rest, host);
}

enum http_checks_admin http_checks_admin_request(const char *host, const char *origin,
						 const char *sec_fetch_site, bool navigation,
						 const char *listen_host, bool check_host)
{
	if (!navigation && sec_fetch_site && !strcasecmp(sec_fetch_site, "cross-site"))
		return HTTP_CHECKS_ADMIN_CROSS_ORIGIN;
	if (origin && !same_origin(origin, host))
		return HTTP_CHECKS_ADMIN_CROSS_ORIGIN;
	if (check_host && host) {
		char name[256];
		host_name(host, name, sizeof name);
		if (!is_loopback(name) && !(listen_host && !strcasecmp(name, listen_host)))
			return HTTP_CHECKS_ADMIN_FOREIGN_HOST;
	}
	return HTTP_CHECKS_ADMIN_OK;
}

static bool v4_is_loopback(const struct in_addr *a)
{
	return (ntohl(a->s_addr) >> 24) == 127;
}

static bool v6_is_loopback(const struct in6_addr *a)
{
	if (IN6_IS_ADDR_LOOPBACK(a))
		return true;
	if (!IN6_IS_ADDR_V4MAPPED(a))
		return false;
	struct in_addr v4;
	memcpy(&v4.s_addr, &a->s6_addr[12], 4);
	return v4_is_loopback(&v4);
}

bool http_checks_addr_is_loopback(const struct sockaddr *sa)
{
	if (sa && sa->sa_family == AF_INET)
		return v4_is_loopback(&((const struct sockaddr_in *)(const void *)sa)->sin_addr);
	if (sa && sa->sa_family == AF_INET6)
		return v6_is_loopback(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
	return false;
}

bool http_checks_host_is_loopback(const char *host)
{
	struct in_addr v4;
	struct in6_addr v6;
	if (inet_pton(AF_INET, host, &v4) == 1)
		return v4_is_loopback(&v4);
	return inet_pton(AF_INET6, host, &v6) == 1 && v6_is_loopback(&v6);
}
