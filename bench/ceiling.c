/* mhd-ceiling: what libmicrohttpd alone costs in invent-mock's shape, for bench/run.sh.
 *
 * invent-mock answers a PATCH only after the transaction holding it committed,
 * so its HTTP thread suspends every request and the store thread resumes it
 * with the answer (see server/store_thread.c). This program keeps exactly that shape
 * (libmicrohttpd's internal epoll thread, MHD_suspend_connection(), a second
 * thread that takes every queued request at once and calls
 * MHD_resume_connection() for each) and does no work at all in between: the
 * answer is a fixed body read from a file, the bytes of a real PATCH answer.
 * Its figures bound what any server of this shape on this libmicrohttpd can
 * reach on the machine; bench/run.sh measures them in the same run as
 * invent-mock's. (The connection memory is invent-mock's default too:
 * libmicrohttpd zeroes all of it between two requests of a connection.)
 *
 *   mhd-ceiling BODY_FILE      prints {"event":"ready","port":N} and serves
 *                              on 127.0.0.1, a free port, until SIGTERM or SIGINT.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pending {
	struct MHD_Connection *conn;
	struct pending *next;
	bool answered; /* set by the resumer before it resumes conn */
};

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_nonempty = PTHREAD_COND_INITIALIZER;
static struct pending *queue, **queue_end = &queue; /* in arrival order, as the store's */

static char *body;
static size_t body_len;

/* The store thread's loop, minus the store. */
static void *resumer(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&queue_lock);
	for (;;) {
		while (queue == NULL)
			pthread_cond_wait(&queue_nonempty, &queue_lock);
		struct pending *batch = queue;
		queue = NULL;
		queue_end = &queue;
		pthread_mutex_unlock(&queue_lock);
		while (batch != NULL) {
			struct pending *next = batch->next; /* batch may be freed once resumed */
			batch->answered = true;
			MHD_resume_connection(batch->conn);
			batch = next;
		}
		pthread_mutex_lock(&queue_lock);
	}
	return NULL; /* not reached */
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	(void)cls, (void)url, (void)method, (void)version, (void)upload;
	struct pending *p = *req_cls;
	if (p == NULL) {
		p = calloc(1, sizeof *p);
		if (p == NULL)
			return MHD_NO;
		p->conn = conn;
		*req_cls = p;
		return MHD_YES;
	}
	if (*upload_size != 0) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (!p->answered) {
		/* Suspend before queueing, so the resume can never come first. */
		MHD_suspend_connection(conn);
		pthread_mutex_lock(&queue_lock);
		p->next = NULL;
		*queue_end = p;
		queue_end = &p->next;
		pthread_cond_signal(&queue_nonempty);
		pthread_mutex_unlock(&queue_lock);
		return MHD_YES;
	}
	struct MHD_Response *res =
		MHD_create_response_from_buffer(body_len, body, MHD_RESPMEM_PERSISTENT);
	if (res == NULL)
		return MHD_NO;
	MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	enum MHD_Result queued = MHD_queue_response(conn, MHD_HTTP_OK, res);
	MHD_destroy_response(res);
	return queued;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode why)
{
	(void)cls, (void)conn, (void)why;
	free(*req_cls);
	*req_cls = NULL;
}

static bool read_body(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return false;
	static char buf[1 << 16];
	body_len = fread(buf, 1, sizeof buf, f);
	bool ok = !ferror(f) && feof(f) && body_len > 0;
	fclose(f);
	body = buf;
	return ok;
}

int main(int argc, char **argv)
{
	if (argc != 2 || !read_body(argv[1])) {
		fprintf(stderr, "usage: mhd-ceiling BODY_FILE (a readable file of 1 byte to 64 KiB)\n");
		return 2;
	}
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	/* Blocked before any thread starts, so only sigwait() below sees them. */
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	pthread_t thread;
	if (pthread_create(&thread, NULL, resumer, NULL) != 0)
		return 1;
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_TURBO | MHD_ALLOW_SUSPEND_RESUME, 0,
		NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &addr,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "mhd-ceiling: cannot start libmicrohttpd\n");
		return 1;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("{\"event\":\"ready\",\"port\":%u}\n", info != NULL ? (unsigned)info->port : 0u);
	fflush(stdout);

	int sig;
	sigwait(&sigs, &sig);
	/* No orderly stop: libmicrohttpd aborts when stopped with requests still
	 * suspended, and a benchmark's stand-in has nothing to keep. */
	_exit(0);
}
