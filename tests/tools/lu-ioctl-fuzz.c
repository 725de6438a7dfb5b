// SPDX-License-Identifier: GPL-2.0
/*
 * lu-ioctl-fuzz: random ioctls on /dev/liveupdate and session fds.
 *
 *   lu-ioctl-fuzz SECONDS THREADS SEED [MAXCALLS]
 *
 * Opens /dev/liveupdate (the module must be loaded) and for SECONDS (or
 * MAXCALLS calls, default 5000000) runs THREADS threads that each call
 * ioctl() with:
 *   command words: the six real ones (type 0xBA), other numbers of type 0xBA,
 *     0xBA with direction/size bits, types 0xB0-0xBF other than 0xBA;
 *   fds: /dev/liveupdate (and dups of it), session fds (of any session),
 *     retrieved memfds, memfds, a pipe, /dev/null, closed and random numbers
 *     (never 0-2: the console);
 *   argument pointers: NULL, unmapped, a struct running into a PROT_NONE
 *     page, a read-only page, a kernel address, a valid buffer;
 *   size words: 0, short, exact, larger with zero or non-zero tail, huge;
 *   names (a few shared ones, so EEXIST happens, empty, 64 bytes without a
 *   NUL, random bytes), tokens, fds to preserve.
 * Fds the calls return go into a shared pool, from which threads also close
 * fds at random while others use them; now and then a thread forks a child
 * that makes calls on the inherited fds and exits.
 *
 * Then it closes everything and checks the device still works: open (EBUSY
 * retried for 5 s), CREATE_SESSION, PRESERVE_FD of a memfd, GET_NAME,
 * close. Prints the number of calls and a histogram of the results (ok or
 * errno). Exit 0 if the check passed and no call returned something other
 * than 0 or -1; whether the kernel log stayed clean is lu-klog-check's job.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/liveupdate.h>

#define DEV "/dev/liveupdate"
#define POOL 96
#define NERR 140		/* errno buckets; the last one: "other" */
#define MAX_THREADS 16
#define PAGE 4096

struct shared {			/* MAP_SHARED: children count here too */
	atomic_ulong calls;
	atomic_ulong ok;
	atomic_ulong bad_ret;	/* neither 0 nor -1 */
	atomic_ulong forks;
	atomic_ulong errs[NERR];
};

static struct shared *sh;
static int pool[POOL];		/* fds, -1 for none; read without the lock */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static int devfd = -1;
static unsigned long max_calls;
static struct timespec deadline;
static char *buf_rw;		/* 2 pages rw */
static char *buf_edge;		/* last 16 bytes of a rw page before PROT_NONE */
static char *buf_ro;		/* a read-only page holding a plausible struct */
static char *buf_unmapped;	/* a page that was unmapped */

static const unsigned int real_cmds[] = {
	LIVEUPDATE_IOCTL_CREATE_SESSION, LIVEUPDATE_IOCTL_RETRIEVE_SESSION,
	LIVEUPDATE_SESSION_PRESERVE_FD, LIVEUPDATE_SESSION_RETRIEVE_FD,
	LIVEUPDATE_SESSION_FINISH, LIVEUPDATE_SESSION_GET_NAME,
};

static const char *const names[] = {
	"fz0", "fz1", "fz2", "fz3", "fz-a-longer-session-name", "golden", "one",
};

static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static int expired(void)
{
	struct timespec now;

	if (atomic_load(&sh->calls) >= max_calls)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline.tv_sec ||
	       (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec);
}

/* Puts @fd in a random slot; what was there is closed. */
static void pool_put(uint64_t *s, int fd)
{
	int i = rnd(s) % POOL, old;

	pthread_mutex_lock(&pool_lock);
	old = pool[i];
	pool[i] = fd;
	pthread_mutex_unlock(&pool_lock);
	if (old >= 3 && old != devfd)
		close(old);
}

/* Closes a random slot's fd, maybe while another thread uses it. */
static void pool_close(uint64_t *s)
{
	int i = rnd(s) % POOL, old;

	pthread_mutex_lock(&pool_lock);
	old = pool[i];
	pool[i] = -1;
	pthread_mutex_unlock(&pool_lock);
	if (old >= 3 && old != devfd)
		close(old);
}

static int new_memfd(uint64_t *s)
{
	int fd = memfd_create("fz", MFD_ALLOW_SEALING);
	char b[64];

	if (fd < 0)
		return -1;
	memset(b, 'a' + rnd(s) % 26, sizeof(b));
	if (rnd(s) % 2 && write(fd, b, sizeof(b)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int pick_fd(uint64_t *s)
{
	switch (rnd(s) % 10) {
	case 0:
		return devfd;
	case 1:
		return -1;
	case 2:
		return 3 + rnd(s) % 300;	/* random, maybe closed */
	default:	/* a pool slot, preferably a used one */
		for (int i = 0; i < 8; i++) {
			int fd = pool[rnd(s) % POOL];

			if (fd >= 0)
				return fd;
		}
		return -1;
	}
}

static unsigned int pick_cmd(uint64_t *s)
{
	unsigned int r = rnd(s) % 100, nr = rnd(s) % 256;

	if (r < 70)
		return real_cmds[rnd(s) % 6];
	if (r < 80)
		return _IO(LIVEUPDATE_IOCTL_TYPE, nr);
	if (r < 90)	/* a real number with direction and size bits */
		return _IOC(rnd(s) % 4, LIVEUPDATE_IOCTL_TYPE,
			    real_cmds[rnd(s) % 6] & 0xff, rnd(s) % 128);
	return _IOC(rnd(s) % 4, 0xB0 + (1 + rnd(s) % 15 + 0xA) % 16, nr,
		    rnd(s) % 128);
}

static uint32_t pick_size(uint64_t *s, uint32_t exact)
{
	switch (rnd(s) % 10) {
	case 0:
		return 0;
	case 1:
		return rnd(s) % exact;
	case 2:
		return exact + 1 + rnd(s) % 64;
	case 3:
		return rnd(s) % 2 ? 0xffffffffu : PAGE + rnd(s) % PAGE;
	default:
		return exact;
	}
}

static void fill_name(uint64_t *s, uint8_t *name)
{
	memset(name, 0, LIVEUPDATE_SESSION_NAME_LENGTH);
	switch (rnd(s) % 8) {
	case 0:
		break;				/* empty */
	case 1:
		memset(name, 'n', LIVEUPDATE_SESSION_NAME_LENGTH);
		break;				/* no NUL */
	case 2:
		for (int i = 0; i < 1 + (int)(rnd(s) % 63); i++)
			name[i] = 1 + rnd(s) % 255;
		break;
	default:
		strcpy((char *)name, names[rnd(s) % (sizeof(names) / sizeof(names[0]))]);
	}
}

static uint64_t pick_token(uint64_t *s)
{
	static const uint64_t t[] = { 0, 1, 2, 3, 7, ~0ULL, 1ULL << 63 };

	return rnd(s) % 4 ? t[rnd(s) % 7] : rnd(s);
}

/* Fills @p (room for 2 pages) with an argument for @cmd; returns its size. */
static void fill_arg(uint64_t *s, char *p, unsigned int cmd, int child)
{
	union {
		struct liveupdate_ioctl_create_session cs;
		struct liveupdate_session_preserve_fd pf;
		struct liveupdate_session_finish fi;
		struct liveupdate_session_get_name gn;
	} u;
	uint32_t exact;

	memset(&u, 0, sizeof(u));
	switch (_IOC_NR(cmd)) {
	case LIVEUPDATE_CMD_CREATE_SESSION:
	case LIVEUPDATE_CMD_RETRIEVE_SESSION:
		exact = sizeof(u.cs);
		u.cs.fd = -1;
		fill_name(s, u.cs.name);
		break;
	case LIVEUPDATE_CMD_SESSION_PRESERVE_FD:
	case LIVEUPDATE_CMD_SESSION_RETRIEVE_FD:
		exact = sizeof(u.pf);
		u.pf.token = pick_token(s);
		u.pf.fd = -1;
		if (_IOC_NR(cmd) == LIVEUPDATE_CMD_SESSION_PRESERVE_FD) {
			u.pf.fd = pick_fd(s);
			if (!child && rnd(s) % 3 == 0) {	/* a fresh memfd */
				u.pf.fd = new_memfd(s);
				if (u.pf.fd >= 0)
					pool_put(s, u.pf.fd);
			}
		}
		break;
	case LIVEUPDATE_CMD_SESSION_GET_NAME:
		exact = sizeof(u.gn);
		u.gn.reserved = rnd(s) % 8 == 0;
		break;
	default:
		exact = sizeof(u.fi);
		u.fi.reserved = rnd(s) % 8 == 0;
		break;
	}
	u.cs.size = pick_size(s, exact);
	memset(p, 0, 2 * PAGE);
	memcpy(p, &u, sizeof(u));
	if (rnd(s) % 8 == 0)
		p[exact + rnd(s) % 64] = 1;	/* a non-zero tail */
}

static void count(long ret, int err)
{
	atomic_fetch_add(&sh->calls, 1);
	if (ret == 0)
		atomic_fetch_add(&sh->ok, 1);
	else if (ret != -1)
		atomic_fetch_add(&sh->bad_ret, 1);
	else
		atomic_fetch_add(&sh->errs[err > 0 && err < NERR - 1 ? err : NERR - 1], 1);
}

/* One call; harvests the fds it returns unless @child. */
static void one_call(uint64_t *s, char *local, int child)
{
	unsigned int cmd = pick_cmd(s);
	int fd = pick_fd(s), r = rnd(s) % 20, err;
	char *arg = local;
	long ret;

	fill_arg(s, local, cmd, child);
	if (r == 0)
		arg = NULL;
	else if (r == 1)
		arg = buf_unmapped;
	else if (r == 2)
		arg = buf_edge + rnd(s) % 16;
	else if (r == 3)
		arg = buf_ro;
	else if (r == 4)
		arg = (char *)0xffff888000000000ULL;
	else if (r == 5)
		arg = (char *)(uintptr_t)(rnd(s) & 0x7ffffffff000ULL);
	ret = ioctl(fd, cmd, arg);
	err = errno;
	count(ret, err);
	if (ret || arg != local || child)
		return;
	switch (cmd) {
	case LIVEUPDATE_IOCTL_CREATE_SESSION:
	case LIVEUPDATE_IOCTL_RETRIEVE_SESSION:
	case LIVEUPDATE_SESSION_RETRIEVE_FD: {
		int32_t nfd;

		memcpy(&nfd, local + 4, sizeof(nfd));
		if (nfd >= 3 && fcntl(nfd, F_GETFD) >= 0)
			pool_put(s, nfd);
		break;
	}
	}
}

/* A child: calls on the inherited fds, no locks, no malloc. */
static void child_run(uint64_t seed, char *local)
{
	uint64_t s = seed | 1;

	for (int i = 0; i < 300 && !expired(); i++)
		one_call(&s, local, 1);
	_exit(0);
}

static void *worker(void *argp)
{
	uint64_t s = (uintptr_t)argp * 0x9e3779b97f4a7c15ULL | 1;
	char *local = aligned_alloc(PAGE, 2 * PAGE);

	if (!local)
		return NULL;
	while (!expired()) {
		unsigned int r = rnd(&s) % 1000;

		if (r < 40) {
			pool_close(&s);
		} else if (r < 50) {
			int fd = new_memfd(&s);

			if (fd >= 0)
				pool_put(&s, fd);
		} else if (r < 53) {
			int fd = dup(devfd);

			if (fd >= 0)
				pool_put(&s, fd);
		} else if (r < 55) {
			/* a second open of the device: EBUSY */
			int fd = open(DEV, O_RDWR | O_CLOEXEC);

			count(fd >= 0 ? 0 : -1, errno);
			if (fd >= 0)
				pool_put(&s, fd);
		} else if (r == 55) {
			pid_t pid = fork();

			if (pid == 0)
				child_run(rnd(&s), local);
			if (pid > 0) {
				atomic_fetch_add(&sh->forks, 1);
				waitpid(pid, NULL, 0);
			}
		} else {
			one_call(&s, local, 0);
		}
	}
	free(local);
	return NULL;
}

static int open_dev(void)
{
	for (int i = 0; i < 50; i++) {
		int fd = open(DEV, O_RDWR | O_CLOEXEC);

		if (fd >= 0 || errno != EBUSY)
			return fd;
		usleep(100000);
	}
	return -1;
}

/* The device still works: open, create, preserve, get name, close. */
static int check_device(void)
{
	struct liveupdate_ioctl_create_session cs = { .size = sizeof(cs) };
	struct liveupdate_session_preserve_fd pf = { .size = sizeof(pf) };
	struct liveupdate_session_get_name gn = { .size = sizeof(gn) };
	uint64_t s = 12345;
	int fd, mfd, rc = 1;

	fd = open_dev();
	if (fd < 0) {
		printf("# check: open %s: %s\n", DEV, strerror(errno));
		return 1;
	}
	strcpy((char *)cs.name, "fz-check");
	if (ioctl(fd, LIVEUPDATE_IOCTL_CREATE_SESSION, &cs)) {
		printf("# check: CREATE_SESSION: %s\n", strerror(errno));
		goto out;
	}
	mfd = new_memfd(&s);
	pf.fd = mfd;
	pf.token = 1;
	if (mfd < 0 || ioctl(cs.fd, LIVEUPDATE_SESSION_PRESERVE_FD, &pf)) {
		printf("# check: PRESERVE_FD: %s\n", strerror(errno));
	} else if (ioctl(cs.fd, LIVEUPDATE_SESSION_GET_NAME, &gn) ||
		   strcmp((char *)gn.name, "fz-check")) {
		printf("# check: GET_NAME: %s\n", strerror(errno));
	} else {
		rc = 0;
	}
	if (mfd >= 0)
		close(mfd);
	close(cs.fd);
out:
	close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	pthread_t th[MAX_THREADS];
	unsigned long seconds, nthreads, seed;
	char *p;
	int rc;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: lu-ioctl-fuzz SECONDS THREADS SEED [MAXCALLS]\n");
		return 2;
	}
	seconds = strtoul(argv[1], NULL, 0);
	nthreads = strtoul(argv[2], NULL, 0);
	seed = strtoul(argv[3], NULL, 0);
	max_calls = argc > 4 ? strtoul(argv[4], NULL, 0) : 5000000;
	if (!nthreads || nthreads > MAX_THREADS) {
		fprintf(stderr, "lu-ioctl-fuzz: 1 to %d threads\n", MAX_THREADS);
		return 2;
	}

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	p = mmap(NULL, 6 * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || p == MAP_FAILED) {
		perror("lu-ioctl-fuzz: mmap");
		return 1;
	}
	buf_rw = p;				/* pages 0-1 */
	buf_edge = p + 3 * PAGE - 16;		/* end of page 2, page 3 none */
	buf_ro = p + 4 * PAGE;
	buf_unmapped = p + 5 * PAGE;
	munmap(buf_unmapped, PAGE);
	mprotect(p + 3 * PAGE, PAGE, PROT_NONE);
	memset(buf_edge, 0, 16);
	((uint32_t *)buf_edge)[0] = sizeof(struct liveupdate_ioctl_create_session);
	((uint32_t *)buf_ro)[0] = sizeof(struct liveupdate_ioctl_create_session);
	strcpy(buf_ro + 8, "fz-ro");
	mprotect(buf_ro, PAGE, PROT_READ);

	devfd = open_dev();
	if (devfd < 0) {
		printf("# open %s: %s\n", DEV, strerror(errno));
		return 1;
	}
	for (int i = 0; i < POOL; i++)
		pool[i] = -1;
	pool[0] = devfd;
	{
		int pfd[2];
		uint64_t s = seed | 1;

		if (!pipe(pfd)) {
			pool[1] = pfd[0];
			pool[2] = pfd[1];
		}
		pool[3] = open("/dev/null", O_RDWR | O_CLOEXEC);
		for (int i = 4; i < 8; i++)
			pool[i] = new_memfd(&s);
	}

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += seconds;
	for (unsigned long i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, worker,
				   (void *)(uintptr_t)(seed * 31 + i + 1))) {
			perror("lu-ioctl-fuzz: pthread_create");
			return 1;
		}
	for (unsigned long i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);

	for (int i = 0; i < POOL; i++)
		if (pool[i] >= 3 && pool[i] != devfd)
			close(pool[i]);
	close(devfd);

	printf("calls %lu (seed %lu, %lu threads, %lu s, %lu forks): ok %lu",
	       atomic_load(&sh->calls), seed, nthreads, seconds,
	       atomic_load(&sh->forks), atomic_load(&sh->ok));
	for (int e = 1; e < NERR; e++) {
		unsigned long n = atomic_load(&sh->errs[e]);

		if (n)
			printf(", %s %lu", e == NERR - 1 ? "other" : strerrorname_np(e), n);
	}
	printf("\n");
	rc = check_device();
	printf("device check after fuzzing: %s\n", rc ? "FAILED" : "ok");
	if (atomic_load(&sh->bad_ret)) {
		printf("# %lu calls returned neither 0 nor -1\n", atomic_load(&sh->bad_ret));
		rc = 1;
	}
	return rc;
}
