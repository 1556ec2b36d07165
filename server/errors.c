/* See errors.h. */
#include "errors.h"

#include "json_strict.h"
#include "store.h"
#include "xalloc.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int error_set(struct error *err, int status, const char *fmt, ...)
{
	if (!err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	err->status = status;
	err->code = 0;
	return -1;
}

int error_set_code(struct error *err, int code, const char *detail)
{
	assert(code != 0);
	if (!err)
		return -1;
	snprintf(err->msg, sizeof err->msg, "%s", detail ? detail : "");
	err->status = 0;
	err->code = code;
	return -1;
}

/* The API's answer to each store error: the wordings the API has always given
 * (README: the API's error table, the admin API), asserted one by one in
 * test_store.c (store@error-answers) and through HTTP by the contract tests. */
void error_from_store(struct error *err)
{
	if (!err || !err->code)
		return;
	char detail[ERROR_MSG_MAX];
	memcpy(detail, err->msg, sizeof detail);
	int code = err->code & ~STORE_ERR_IN_EXPORT;
	bool in_export = err->code & STORE_ERR_IN_EXPORT;
	switch (code) {
	case STORE_ERR_CONTACT_NOT_FOUND:
		error_set(err, 404, "Contact not found");
		return;
	case STORE_ERR_SEGMENT_NOT_FOUND:
		error_set(err, 404, "Segment not found");
		return;
	case STORE_ERR_ORG_NOT_FOUND:
		error_set(err, 404, "Org not found");
		return;
	case STORE_ERR_UNKNOWN_SEGMENT:
		error_set(err, 400, "segment %.256s does not exist in this org", detail);
		return;
	case STORE_ERR_NOT_FIXTURE_ORG:
		error_set(err, 400, "Org %.256s is not a fixture org", detail);
		return;
	case STORE_ERR_FIXTURE_ORG:
		error_set(err, 400, "Org %.256s is a fixture org and cannot be deleted", detail);
		return;
	case STORE_ERR_READ_ONLY:
		error_set(err, 503, "The database is unavailable (read-only)");
		return;
	}
	int status = code == STORE_ERR_FULL ? 507 : code == STORE_ERR_UNAVAILABLE ? 503 : 500;
	const char *what = in_export		 ? "Cannot copy the state to export"
			   : status == 507	 ? "Insufficient storage: the database disk is full"
			   : status == 503	 ? "The database is unavailable"
						 : "Database error";
	error_set(err, status, "%s (%s)", what, detail);
}

/* [decided] The contract's phrases, and for every other status (an injected
 * fault may use any from 400 to 599) the one Node's http.STATUS_CODES gives,
 * which is what a NestJS API puts in its envelope; a status Node has none for
 * takes its class's. */
const char *error_reason_phrase(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 302: return "Found";	 /* the console's redirect of GET / */
	case 304: return "Not Modified"; /* the console's files, revalidated */
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 418: return "I'm a Teapot";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Entity";
	case 423: return "Locked";
	case 424: return "Failed Dependency";
	case 425: return "Too Early";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 451: return "Unavailable For Legal Reasons";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 506: return "Variant Also Negotiates";
	case 507: return "Insufficient Storage";
	case 508: return "Loop Detected";
	case 509: return "Bandwidth Limit Exceeded";
	case 510: return "Not Extended";
	case 511: return "Network Authentication Required";
	default: return status >= 500 ? "Internal Server Error" : "Bad Request";
	}
}

/* libmicrohttpd 0.9.75 writes its own table's phrase in the status line (413
 * "Content Too Large", RFC 9110's), so a 413 said one thing there and another
 * in its envelope. It has no option for a phrase of the caller's, but it looks
 * its table up through these two exported functions, called by way of its PLT:
 * defining them here puts the contract's phrase in every status line. Statuses
 * below 400 that this table does not list (none is ever sent) keep length 0,
 * which libmicrohttpd writes as "Non-Standard Status". */
const char *MHD_get_reason_phrase_for(unsigned int code)
{
	return error_reason_phrase((int)code);
}

size_t MHD_get_reason_phrase_len_for(unsigned int code)
{
	if (code < 400 && code != 100 && code != 200 && code != 201 && code != 204 && code != 302 &&
	    code != 304)
		return 0;
	return strlen(error_reason_phrase((int)code));
}

char *error_envelope(int status, const char *message, size_t *len)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "statusCode", status);
	cJSON_AddStringToObject(o, "error", error_reason_phrase(status));
	/* Messages may quote the request (a path, a query value): its bytes that
	 * are not UTF-8 read as U+FFFD, so every answer is UTF-8. */
	char *fixed = json_utf8_fix(message);
	cJSON_AddStringToObject(o, "message", fixed ? fixed : message);
	free(fixed);
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (len)
		*len = strlen(s);
	return s;
}
