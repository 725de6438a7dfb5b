// SPDX-License-Identifier: GPL-2.0
/*
 * lu-bench: the guest half of vm/bench. Carries one memfd of random-looking
 * bytes across a kexec and times what userspace sees.
 *
 *   lu-bench save MIB HASHFILE  preserve a MIB MiB memfd (session "bench",
 *                               token 1), write its hash to HASHFILE, keep
 *                               the session open in a child until the kexec.
 *   lu-bench load HASHFILE      time the first open of /dev/liveupdate (it
 *                               checks the handover) and the retrieve of the
 *                               memfd (it restores it), compare its hash.
 *
 * Prints "@@B key value" lines for vm/bench. Failures exit 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "liveupdate.h"

#define SESSION "bench"

static _Noreturn void die(const char *call)
{
	fprintf(stderr, "lu-bench: %s: %s\n", call, strerror(errno));
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

static uint64_t hash(const uint64_t *p, size_t words)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < words; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static int save(size_t mib, const char *hashfile)
{
	size_t len = mib << 20, words = len / 8;
	uint64_t *p, x = 0x9e3779b97f4a7c15ULL;
	double t;
	FILE *f;
	int dev, mfd, s, r;

	dev = liveupdate_open(0);
	if (dev < 0)
		die_r(dev, "open /dev/liveupdate");
	s = liveupdate_create_session(dev, SESSION);
	if (s < 0)
		die_r(s, "CREATE_SESSION");
	mfd = memfd_create("bench", 0);
	if (mfd < 0 || ftruncate(mfd, (off_t)len) < 0)
		die("memfd");
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (p == MAP_FAILED)
		die("mmap");
	for (size_t i = 0; i < words; i++) {	/* xorshift64: no zero pages */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = x;
	}
	f = fopen(hashfile, "w");
	if (!f || fprintf(f, "%016" PRIx64 "\n", hash(p, words)) < 0 || fclose(f))
		die(hashfile);
	munmap(p, len);

	t = now_ms();
	r = liveupdate_preserve_fd(s, mfd, 1);
	if (r < 0)
		die_r(r, "PRESERVE_FD");
	printf("@@B preserve_ms %.3f\n", now_ms() - t);
	printf("@@B bytes %zu\n", len);
	fflush(stdout);

	close(dev);
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0)
		for (;;)
			pause();
	return 0;
}

static int load(const char *hashfile)
{
	char want[32] = "", got[32];
	int s, fd;
	uint64_t *p;
	double t;
	off_t len;
	FILE *f;
	int dev;

	t = now_ms();
	dev = liveupdate_open(0);
	if (dev < 0)
		die_r(dev, "open /dev/liveupdate");
	printf("@@B first_open_ms %.3f\n", now_ms() - t);

	t = now_ms();
	s = liveupdate_retrieve_session(dev, SESSION);
	if (s < 0)
		die_r(s, "RETRIEVE_SESSION");
	fd = liveupdate_retrieve_fd(s, 1);
	if (fd < 0)
		die_r(fd, "RETRIEVE_FD");
	printf("@@B retrieve_ms %.3f\n", now_ms() - t);

	len = lseek(fd, 0, SEEK_END);
	if (len <= 0)
		die("lseek");
	p = mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap");
	snprintf(got, sizeof(got), "%016" PRIx64, hash(p, (size_t)len / 8));
	f = fopen(hashfile, "r");
	if (!f || !fgets(want, sizeof(want), f))
		die(hashfile);
	fclose(f);
	want[strcspn(want, "\n")] = 0;
	if (strcmp(want, got)) {
		fprintf(stderr, "lu-bench: hash %s, want %s\n", got, want);
		return 1;
	}
	printf("@@B verified %s\n", got);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "save")) {
		char *end;
		unsigned long mib = strtoul(argv[2], &end, 10);

		if (*end || !mib || mib > 65536) {
			fprintf(stderr, "lu-bench: MIB must be 1..65536\n");
			return 2;
		}
		return save(mib, argv[3]);
	}
	if (argc == 3 && !strcmp(argv[1], "load"))
		return load(argv[2]);
	fprintf(stderr, "usage: lu-bench save MIB HASHFILE | lu-bench load HASHFILE\n");
	return 2;
}
