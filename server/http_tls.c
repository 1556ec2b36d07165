/* HTTPS with libmicrohttpd's own TLS (GnuTLS, linked by Debian's
 * libmicrohttpd: no dependency of ours): the certificate and key read into
 * memory, checked enough to say what is wrong in one line, and what GnuTLS says
 * when it refuses them at start. */
#include "http_int.h"

#include "config.h"
#include "xalloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A PEM certificate chain or key is a few KiB; a file far larger is not one. */
enum { TLS_FILE_MAX = 1 << 20 };

/* Reads a PEM file whole; *out is NUL-terminated (libmicrohttpd takes C
 * strings). what names it in messages ("certificate", "key"). */
static int read_pem(const char *path, const char *what, char **out, struct error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return error_set(err, 0, "TLS %s %s: %s", what, path, strerror(errno));
	char *buf = xmalloc(TLS_FILE_MAX + 1);
	size_t n = fread(buf, 1, TLS_FILE_MAX + 1, f);
	int read_error = ferror(f) ? errno : 0;
	fclose(f);
	if (read_error || n > TLS_FILE_MAX) {
		free(buf);
		return read_error ? error_set(err, 0, "TLS %s %s: %s", what, path, strerror(read_error))
				  : error_set(err, 0, "TLS %s %s: larger than %d bytes, not a PEM file",
					      what, path, TLS_FILE_MAX);
	}
	buf[n] = '\0';
	/* GnuTLS would call a DER file or an empty one a "Base64 decoding error". */
	if (n != strlen(buf) || !strstr(buf, "-----BEGIN ")) {
		free(buf);
		return error_set(err, 0, "TLS %s %s: not a PEM file (no \"-----BEGIN\" line)", what, path);
	}
	*out = buf;
	return 0;
}

int http_tls_load(struct http *h, const struct config *cfg, struct error *err)
{
	if (!cfg->tls_cert)
		return 0;
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		return error_set(err, 0, "--tls-cert: this libmicrohttpd was built without TLS support");
	if (read_pem(cfg->tls_cert, "certificate", &h->tls_cert, err) ||
	    read_pem(cfg->tls_key, "key", &h->tls_key, err))
		return -1;
	return 0;
}

/* libmicrohttpd's error log. Only what it says while the daemon starts is kept
 * (why GnuTLS refused the certificate); after that, a client's failed
 * handshake (plain HTTP to the TLS port, say) is the client's business. */
void http_tls_log(void *cls, const char *fmt, va_list ap)
{
	struct http *h = cls;
	if (!atomic_load(&h->tls_starting))
		return;
	size_t used = strlen(h->tls_log);
	if (used + 1 < sizeof h->tls_log)
		vsnprintf(h->tls_log + used, sizeof h->tls_log - used, fmt, ap);
}

bool http_tls_start_failed(struct http *h, const struct config *cfg, struct error *err)
{
	/* One line: libmicrohttpd's messages end in newlines, and there may be two. */
	for (char *p = h->tls_log; *p; p++)
		if (*p == '\n')
			*p = p[1] ? ' ' : '\0';
	if (!strstr(h->tls_log, "TLS") && !strstr(h->tls_log, "certificate") &&
	    !strstr(h->tls_log, "key"))
		return false;
	error_set(err, 0, "TLS certificate %s and key %s cannot be used: %s", cfg->tls_cert,
		  cfg->tls_key, h->tls_log);
	return true;
}

void http_tls_cleanup(struct http *h)
{
	free(h->tls_cert);
	free(h->tls_key);
}
