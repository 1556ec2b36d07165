/* Fault delays: a delayed request is suspended, kept in a list soonest first,
 * and resumed by one timer thread when its time comes (or at once when the
 * delays are ended or the server stops). */
#include "http_int.h"

#include "clock.h"

/* Suspends r until its fault's delay has passed (the timer thread resumes it). */
void http_delay_request(struct request *r)
{
	struct http *h = r->http;
	/* From when the request began, in ns: the whole delay is always served. */
	r->due_ns = (int64_t)r->start.tv_sec * 1000000000 + r->start.tv_nsec +
		    r->fault.delay_ms * 1000000;
	pthread_mutex_lock(&h->lock);
	atomic_fetch_add(&h->suspended, 1);
	http_request_enter(r, REQUEST_DELAYED);
	struct request **p = &h->delayed;
	while (*p && (*p)->due_ns <= r->due_ns)
		p = &(*p)->next_delayed;
	r->next_delayed = *p;
	*p = r;
	pthread_cond_signal(&h->timer_wake);
	MHD_suspend_connection(r->conn); /* under the lock: the timer cannot resume it first */
	pthread_mutex_unlock(&h->lock);
}

void http_end_delays(struct http *h)
{
	pthread_mutex_lock(&h->lock);
	/* All due now: the list stays in order, and the timer resumes each. */
	for (struct request *r = h->delayed; r; r = r->next_delayed)
		r->due_ns = 0;
	pthread_cond_signal(&h->timer_wake);
	pthread_mutex_unlock(&h->lock);
}

static void *timer_thread(void *arg)
{
	struct http *h = arg;
	pthread_mutex_lock(&h->lock);
	while (h->timer_running) {
		if (!h->delayed) {
			pthread_cond_wait(&h->timer_wake, &h->lock);
			continue;
		}
		int64_t wait = h->delayed->due_ns - clock_monotonic_ns();
		if (wait > 0 && !h->stopping) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += wait / 1000000000;
			until.tv_nsec += wait % 1000000000;
			if (until.tv_nsec >= 1000000000) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&h->timer_wake, &h->lock, &until);
			continue;
		}
		struct request *r = h->delayed;
		h->delayed = r->next_delayed;
		MHD_resume_connection(r->conn);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

int http_delay_start(struct http *h)
{
	h->timer_running = true;
	if (pthread_create(&h->timer, NULL, timer_thread, h)) {
		h->timer_running = false;
		return -1;
	}
	return 0;
}

void http_delay_wake(struct http *h)
{
	pthread_cond_signal(&h->timer_wake);
}

void http_delay_stop(struct http *h)
{
	if (!h->timer_running)
		return;
	pthread_mutex_lock(&h->lock);
	h->timer_running = false;
	pthread_cond_signal(&h->timer_wake);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->timer, NULL);
}
