// SPDX-License-Identifier: GPL-2.0
/*
 * lu-bench: the guest half of vm/bench. Carries one memfd of random-looking
 * bytes through two kexecs and times what userspace and the module see.
 *
 *   lu-bench save MIB HASHFILE [hugetlb]
 *                               boot 1: fill a MIB MiB memfd (hugetlb: made
 *                               with MFD_HUGETLB, the default huge page
 *                               size), write its hash to HASHFILE, preserve
 *                               it (session "bench", token 1), hold the
 *                               session in a child until the kexec.
 *   lu-bench carry HASHFILE     boot 2: retrieve it, time that, check its
 *                               hash, preserve it again and hold it.
 *   lu-bench load HASHFILE      last boot: retrieve it, time that, check it.
 *
 * Every command first measures this boot's memcpy bandwidth (a 256 MiB
 * buffer, best of 3; one thread, then one thread per online CPU on its own
 * slice), and prints the module's last_handover and space parameters. All
 * figures are "@@B bK.KEY VALUE" lines (K: $LU_STAGE) for vm/bench; times
 * from clock_gettime(CLOCK_MONOTONIC). A hash mismatch or a failed call
 * prints "lu-bench: FAIL ..." and exits 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "libliveupdate.h"

#define SESSION		"bench"
#define TOKEN		1
#define MiB		(1024UL * 1024)
#define MEMCPY_LEN	(256 * MiB)
#define MEMCPY_ROUNDS	3
#define READ_CHUNK	(4 * MiB)
#define PARAMS		"/sys/module/liveupdate/parameters/"

static int stage;

static _Noreturn void die(const char *call)
{
	fprintf(stderr, "lu-bench: FAIL %s: %s\n", call, strerror(errno));
	exit(1);
}

static _Noreturn void die_r(int r, const char *call)
{
	errno = -r;
	die(call);
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* One "@@B bK.KEY VALUE" line, written at once. */
__attribute__((format(printf, 2, 3)))
static void out(const char *key, const char *fmt, ...)
{
	char val[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	printf("@@B b%d.%s %s\n", stage, key, val);
	fflush(stdout);
}

/* FNV-1a over 64-bit words, continued from @h. */
static uint64_t hash(uint64_t h, const uint64_t *p, size_t words)
{
	for (size_t i = 0; i < words; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

#define HASH_INIT	0xcbf29ce484222325ULL

/* --- memcpy bandwidth -------------------------------------------------- */

struct mc {
	char *dst;
	const char *src;
	size_t len;
	int cpu;
	pthread_barrier_t *start;
	double t0, t1;
};

static void *mc_run(void *arg)
{
	struct mc *m = arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(m->cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);	/* best effort */
	pthread_barrier_wait(m->start);
	m->t0 = now_ms();
	memcpy(m->dst, m->src, m->len);
	m->t1 = now_ms();
	return NULL;
}

/* Best of MEMCPY_ROUNDS of MEMCPY_LEN bytes split over @n threads, in ms. */
static double mc_time(char *dst, const char *src, int n)
{
	double best = 1e30;

	for (int r = 0; r < MEMCPY_ROUNDS; r++) {
		pthread_t th[n];
		struct mc m[n];
		pthread_barrier_t start;
		double t0 = 1e30, t1 = 0;
		size_t slice = MEMCPY_LEN / (size_t)n;

		pthread_barrier_init(&start, NULL, (unsigned int)n);
		for (int i = 0; i < n; i++) {
			m[i] = (struct mc){ dst + i * slice, src + i * slice,
					    i == n - 1 ? MEMCPY_LEN - i * slice : slice,
					    i, &start, 0, 0 };
			errno = pthread_create(&th[i], NULL, mc_run, &m[i]);
			if (errno)
				die("pthread_create");
		}
		for (int i = 0; i < n; i++) {
			pthread_join(th[i], NULL);
			t0 = m[i].t0 < t0 ? m[i].t0 : t0;
			t1 = m[i].t1 > t1 ? m[i].t1 : t1;
		}
		pthread_barrier_destroy(&start);
		best = t1 - t0 < best ? t1 - t0 : best;
	}
	return best;
}

static void memcpy_bench(void)
{
	int n = (int)sysconf(_SC_NPROCESSORS_ONLN);
	char *src, *dst;
	double t1, tn;
	static volatile char sink;

	if (n < 1)
		n = 1;
	src = mmap(NULL, MEMCPY_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	dst = mmap(NULL, MEMCPY_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED || dst == MAP_FAILED)
		die("mmap memcpy buffers");
	memset(src, 0x5a, MEMCPY_LEN);	/* fault everything in first */
	memset(dst, 0xa5, MEMCPY_LEN);
	t1 = mc_time(dst, src, 1);
	tn = mc_time(dst, src, n);
	sink = dst[MEMCPY_LEN - 1];
	(void)sink;
	out("cpus", "%d", n);
	out("memcpy1_ms", "%.3f", t1);
	out("memcpy1_mibs", "%.1f", MEMCPY_LEN / MiB / (t1 / 1e3));
	out("memcpyn_ms", "%.3f", tn);
	out("memcpyn_mibs", "%.1f", MEMCPY_LEN / MiB / (tn / 1e3));
	munmap(src, MEMCPY_LEN);
	munmap(dst, MEMCPY_LEN);
}

/* --- the module's counters --------------------------------------------- */

/* Prints parameter @name's "key value" lines as bK.PREFIX.key. */
static void param(const char *name, const char *prefix)
{
	char path[128], buf[2048], key[160], *line, *save = NULL;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), PARAMS "%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		die(path);
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		die(path);
	close(fd);
	buf[n] = 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');

		if (!sp)
			continue;
		*sp = 0;
		snprintf(key, sizeof(key), "%s.%s", prefix, line);
		out(key, "%s", sp + 1);
	}
}

/* --- the memfd ---------------------------------------------------------- */

/* Reads all of @fd with pread into one buffer; returns ms, hash in @h. */
static double read_all(int fd, size_t len, uint64_t *h)
{
	uint64_t *buf = malloc(READ_CHUNK);
	double t = now_ms();

	if (!buf)
		die("malloc");
	if (h)
		*h = HASH_INIT;
	for (size_t off = 0; off < len;) {
		size_t want = len - off < READ_CHUNK ? len - off : READ_CHUNK;
		ssize_t n = pread(fd, buf, want, (off_t)off);

		if (n <= 0 || n % 8) {
			errno = n < 0 ? errno : EIO;
			die("pread");
		}
		if (h)
			*h = hash(*h, buf, (size_t)n / 8);
		off += (size_t)n;
	}
	t = now_ms() - t;
	free(buf);
	return t;
}

static void write_hash(const char *hashfile, uint64_t h)
{
	FILE *f = fopen(hashfile, "w");

	if (!f || fprintf(f, "%016" PRIx64 "\n", h) < 0 || fclose(f))
		die(hashfile);
}

static void check_hash(const char *hashfile, uint64_t h)
{
	char want[32] = "", got[32];
	FILE *f = fopen(hashfile, "r");

	if (!f || !fgets(want, sizeof(want), f))
		die(hashfile);
	fclose(f);
	want[strcspn(want, "\n")] = 0;
	snprintf(got, sizeof(got), "%016" PRIx64, h);
	if (strcmp(want, got)) {
		fprintf(stderr, "lu-bench: FAIL data corrupt in boot %d: hash %s, want %s\n",
			stage, got, want);
		printf("@@B b%d.hash_ok 0\n", stage);
		exit(1);
	}
	out("hash_ok", "1");
	out("hash", "%s", got);
}

/* Preserves @mfd in a new session and keeps it open in a child until the kexec. */
static void preserve_hold(int dev, int mfd)
{
	double t;
	pid_t pid;
	int s, r;

	s = liveupdate_create_session(dev, SESSION);
	if (s < 0)
		die_r(s, "CREATE_SESSION");
	t = now_ms();
	r = liveupdate_preserve_fd(s, TOKEN, mfd);
	if (r < 0)
		die_r(r, "PRESERVE_FD");
	out("preserve_ms", "%.3f", now_ms() - t);
	param("space", "space");
	close(dev);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0)
		for (;;)
			pause();
}

static int save(size_t mib, const char *hashfile, unsigned int flags)
{
	size_t len = mib * MiB, words = len / 8;
	uint64_t *p, x = 0x9e3779b97f4a7c15ULL, h;
	double t;
	int dev, mfd;

	memcpy_bench();
	dev = liveupdate_open(0);
	if (dev < 0)
		die_r(dev, "open /dev/liveupdate");
	mfd = memfd_create("bench", flags);
	if (mfd < 0 || ftruncate(mfd, (off_t)len) < 0)
		die("memfd");
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (p == MAP_FAILED)
		die("mmap");
	t = now_ms();
	for (size_t i = 0; i < words; i++) {	/* xorshift64: no zero pages */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = x;
	}
	out("fill_ms", "%.3f", now_ms() - t);
	h = hash(HASH_INIT, p, words);
	munmap(p, len);
	/* The bytes read back through the fd are the ones generated. */
	out("read_ms", "%.3f", read_all(mfd, len, NULL));
	{
		uint64_t back;

		read_all(mfd, len, &back);
		if (back != h) {
			fprintf(stderr, "lu-bench: FAIL memfd reads back differently in boot 1\n");
			exit(1);
		}
	}
	write_hash(hashfile, h);
	out("hash_ok", "1");
	out("hash", "%016" PRIx64, h);
	out("bytes", "%zu", len);
	preserve_hold(dev, mfd);
	return 0;
}

static int load(const char *hashfile, int carry)
{
	double t;
	int dev, s, fd;
	off_t len;
	uint64_t h;

	memcpy_bench();
	t = now_ms();
	dev = liveupdate_open(0);
	if (dev < 0)
		die_r(dev, "open /dev/liveupdate");
	out("first_open_ms", "%.3f", now_ms() - t);

	t = now_ms();
	s = liveupdate_retrieve_session(dev, SESSION);
	if (s < 0)
		die_r(s, "RETRIEVE_SESSION");
	out("retrieve_session_ms", "%.3f", now_ms() - t);
	t = now_ms();
	fd = liveupdate_retrieve_fd(s, TOKEN);
	if (fd < 0)
		die_r(fd, "RETRIEVE_FD");
	out("retrieve_fd_ms", "%.3f", now_ms() - t);

	len = lseek(fd, 0, SEEK_END);
	if (len <= 0)
		die("lseek");
	out("bytes", "%lld", (long long)len);
	out("read_ms", "%.3f", read_all(fd, (size_t)len, NULL));
	param("last_handover", "lh");
	param("space", "space_in");
	read_all(fd, (size_t)len, &h);
	check_hash(hashfile, h);
	if (carry) {
		close(s);
		preserve_hold(dev, fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *st = getenv("LU_STAGE");

	stage = st ? atoi(st) : 0;
	if ((argc == 4 || (argc == 5 && !strcmp(argv[4], "hugetlb"))) &&
	    !strcmp(argv[1], "save")) {
		char *end;
		unsigned long mib = strtoul(argv[2], &end, 10);

		if (*end || !mib || mib > 65536 || (argc == 5 && mib % 2)) {
			fprintf(stderr, "lu-bench: MIB must be 1..65536 (hugetlb: even)\n");
			return 2;
		}
		return save(mib, argv[3], argc == 5 ? MFD_HUGETLB : 0);
	}
	if (argc == 3 && !strcmp(argv[1], "carry"))
		return load(argv[2], 1);
	if (argc == 3 && !strcmp(argv[1], "load"))
		return load(argv[2], 0);
	fprintf(stderr, "usage: lu-bench save MIB HASHFILE [hugetlb] | carry HASHFILE | load HASHFILE\n");
	return 2;
}
