// SPDX-License-Identifier: GPL-2.0
/*
 * Crash points (crash-point.h). Read the environment once; afterwards a
 * point that is not asked for costs one atomic load.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crash-point.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const char *only;
static const char *log_path;
static unsigned long kill_at;		/* 0: never */
static bool armed;
static atomic_ulong counted;

static void crash_point_init(void)
{
	const char *at = getenv("LU_CRASH_AT");
	char *end;

	only = getenv("LU_CRASH_ONLY");
	log_path = getenv("LU_CRASH_LOG");
	if (at && *at) {
		errno = 0;
		kill_at = strtoul(at, &end, 10);
		if (errno || *end)
			kill_at = 0;
	}
	armed = kill_at || (log_path && *log_path);
}

void lu_crash_point(const char *name)
{
	unsigned long n;
	int saved = errno;

	pthread_once(&once, crash_point_init);
	if (!armed || (only && strncmp(name, only, strlen(only))))
		return;
	n = atomic_fetch_add(&counted, 1) + 1;
	if (log_path && *log_path) {
		int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

		if (fd >= 0) {
			dprintf(fd, "%d %lu %s\n", (int)getpid(), n, name);
			close(fd);
		}
	}
	if (n == kill_at) {
		kill(getpid(), SIGKILL);
		for (;;)
			pause();	/* SIGKILL cannot be caught: never returns */
	}
	errno = saved;
}
