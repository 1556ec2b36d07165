/* See watch.h. */
#include "watch.h"

#include "app.h"
#include "fixtures.h"
#include "snapshot.h"
#include "store.h"
#include "xalloc.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

/* [decided] A change is read once the file has been quiet this long: an editor's
 * save is a burst of events (truncate, writes, close; or write a temporary,
 * rename), and reading in the middle of it would see half a file. A save that
 * takes longer is read early, refused, and read again at its end. */
enum { WATCH_QUIET_MS = 100 };

struct watch {
	struct app *app;
	char *path, *dir, *name; /* the file; its directory and base name */
	int inotify, stop;	  /* stop: an eventfd that ends the thread */
	pthread_t thread;
	char last_hash[17];	  /* of the last version taken: a save of the same bytes changes nothing */

	pthread_mutex_t lock;	  /* guards error and the job's completion below */
	pthread_cond_t done_cond;
	char error[ERROR_MSG_MAX]; /* "" when the last version seen was taken */
	bool job_done;
	struct store_job job;
	struct snapshot *snap;
};

static void set_error(struct watch *w, const char *msg)
{
	pthread_mutex_lock(&w->lock);
	snprintf(w->error, sizeof w->error, "%s", msg);
	pthread_mutex_unlock(&w->lock);
}

bool watch_error(struct watch *w, char *out, size_t size)
{
	if (!w)
		return false;
	pthread_mutex_lock(&w->lock);
	bool any = w->error[0];
	snprintf(out, size, "%s", w->error);
	pthread_mutex_unlock(&w->lock);
	return any;
}

static int job_run(struct store *s, void *arg, struct error *err)
{
	struct watch *w = arg;
	return snapshot_install(s, w->snap, err);
}

static void job_committed(void *arg)
{
	struct watch *w = arg;
	snapshot_publish(w->app, w->snap);
	/* Here, on the store thread before it serves anything else: a client
	 * that reads the new state then never reads the old error in health. */
	set_error(w, "");
}

static void job_done(void *arg, int rc, const struct error *err)
{
	(void)rc;
	(void)err;
	struct watch *w = arg;
	pthread_mutex_lock(&w->lock);
	w->job_done = true;
	pthread_cond_signal(&w->done_cond);
	pthread_mutex_unlock(&w->lock);
}

/* One version of the file: taken whole, or refused with nothing changed. */
static void reload(struct watch *w)
{
	struct error err = {0};
	char *text = NULL;
	size_t len = 0;
	if (fixture_read_file(w->path, &text, &len, &err)) {
		/* Gone between a rename's two steps, or deleted: the next save says. */
		goto refused;
	}
	if (snapshot_prepare(w->app, text, len, w->path, true, &w->snap, &err)) {
		free(text);
		goto refused;
	}
	free(text);
	if (!strcmp(snapshot_hash(w->snap), w->last_hash)) {
		snapshot_free(w->snap);
		w->snap = NULL;
		set_error(w, "");
		return;
	}
	w->job = (struct store_job){.run = job_run,
				    .committed = job_committed,
				    .done = job_done,
				    .arg = w,
				    .alone = true};
	w->job_done = false;
	store_submit(w->app->store, &w->job);
	pthread_mutex_lock(&w->lock);
	while (!w->job_done)
		pthread_cond_wait(&w->done_cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
	if (w->job.rc) {
		snapshot_free(w->snap);
		w->snap = NULL;
		err = w->job.err;
		goto refused;
	}
	memcpy(w->last_hash, snapshot_hash(w->snap), sizeof w->last_hash);
	fprintf(stderr, "invent-mock: %s changed: loaded it (hash %s, %lld orgs, %lld contacts)\n",
		w->path, w->last_hash, (long long)snapshot_orgs(w->snap),
		(long long)snapshot_contacts(w->snap));
	snapshot_free(w->snap);
	w->snap = NULL;
	return;
refused:
	error_from_store(&err);
	fprintf(stderr, "invent-mock: %s (keeping the state loaded before)\n", err.msg);
	set_error(w, err.msg);
}

/* Whether the events in buf[0..n) touch the watched name. */
static bool names_file(const struct watch *w, const char *buf, ssize_t n)
{
	bool hit = false;
	for (const char *p = buf; p < buf + n;) {
		const struct inotify_event *ev = (const struct inotify_event *)(const void *)p;
		/* After an overflow any event may be lost: read the file to be sure. */
		if ((ev->len && !strcmp(ev->name, w->name)) || (ev->mask & IN_Q_OVERFLOW))
			hit = true;
		p += sizeof *ev + ev->len;
	}
	return hit;
}

static void *watch_thread(void *arg)
{
	struct watch *w = arg;
	_Alignas(struct inotify_event) char buf[16 * (sizeof(struct inotify_event) + NAME_MAX + 1)];
	bool pending = false;
	for (;;) {
		struct pollfd fds[2] = {{.fd = w->inotify, .events = POLLIN},
					{.fd = w->stop, .events = POLLIN}};
		int rc = poll(fds, 2, pending ? WATCH_QUIET_MS : -1);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0 || fds[1].revents)
			break;
		if (rc == 0) { /* quiet since the last event: the save is over */
			pending = false;
			reload(w);
			continue;
		}
		ssize_t n = read(w->inotify, buf, sizeof buf);
		if (n > 0 && names_file(w, buf, n))
			pending = true;
	}
	return NULL;
}

int watch_start(struct app *app, const char *path, struct watch **out, struct error *err)
{
	struct watch *w = xcalloc(1, sizeof *w);
	w->app = app;
	w->path = xstrdup(path);
	w->inotify = w->stop = -1;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->done_cond, NULL);
	memcpy(w->last_hash, app->fixture->hash, sizeof w->last_hash);
	const char *slash = strrchr(path, '/');
	w->dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
	w->name = xstrdup(slash ? slash + 1 : path);
	/* The directory, not the file: a save by rename replaces the file's inode,
	 * and a watch on the old one would hear nothing more. */
	w->inotify = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	w->stop = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->inotify < 0 || w->stop < 0 ||
	    inotify_add_watch(w->inotify, w->dir,
			      IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO | IN_CREATE | IN_DELETE) < 0) {
		error_set(err, 0, "--watch: cannot watch %s: %s", w->dir, strerror(errno));
		goto fail;
	}
	if (pthread_create(&w->thread, NULL, watch_thread, w)) {
		error_set(err, 0, "--watch: cannot start its thread");
		goto fail;
	}
	*out = w;
	return 0;
fail:
	if (w->inotify >= 0)
		close(w->inotify);
	if (w->stop >= 0)
		close(w->stop);
	w->inotify = w->stop = -1;
	watch_free(w);
	return -1;
}

void watch_free(struct watch *w)
{
	if (!w)
		return;
	if (w->stop >= 0) {
		uint64_t one = 1;
		if (write(w->stop, &one, sizeof one) < 0)
			perror("invent-mock: --watch stop");
		pthread_join(w->thread, NULL);
		close(w->stop);
		close(w->inotify);
	}
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->done_cond);
	free(w->path);
	free(w->dir);
	free(w->name);
	free(w);
}
