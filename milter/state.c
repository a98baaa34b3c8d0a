/*
 * state.c - what the daemon's threads share: the configuration in force
 * (swapped by a reload, taken by reference at each MAIL FROM so that a
 * message finishes with the snapshot it started with) and the number of
 * messages in flight (so that a stop can let them finish).
 */
#include "config.h"

#include <pthread.h>
#include <time.h>

#include "milter.h"

static pthread_mutex_t conf_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct conf *conf_current;

static pthread_mutex_t inflight_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t inflight_cond = PTHREAD_COND_INITIALIZER;
static int inflight;

void
milter_set_conf(struct conf *c)
{
	struct conf *old;

	pthread_mutex_lock(&conf_mutex);
	old = conf_current;
	conf_current = c;
	pthread_mutex_unlock(&conf_mutex);
	conf_unref(old);
}

struct conf *
milter_get_conf(void)
{
	struct conf *c;

	pthread_mutex_lock(&conf_mutex);
	c = conf_ref(conf_current);
	pthread_mutex_unlock(&conf_mutex);
	return c;
}

void
milter_inflight_add(int delta)
{
	pthread_mutex_lock(&inflight_lock);
	inflight += delta;
	if (inflight == 0)
		pthread_cond_broadcast(&inflight_cond);
	pthread_mutex_unlock(&inflight_lock);
}

int
milter_wait_idle(int seconds)
{
	struct timespec until;
	int left;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += seconds;
	pthread_mutex_lock(&inflight_lock);
	while (inflight > 0 && pthread_cond_timedwait(&inflight_cond, &inflight_lock, &until) == 0)
		;
	left = inflight;
	pthread_mutex_unlock(&inflight_lock);
	return left;
}

int
milter_inflight_count(void)
{
	int n;

	pthread_mutex_lock(&inflight_lock);
	n = inflight;
	pthread_mutex_unlock(&inflight_lock);
	return n;
}
