// SPDX-License-Identifier: GPL-2.0
/*
 * lrt: the guest side of tests/ram. Talks to /dev/luo_ram_test and prints
 * "@@RAM PASS|FAIL NAME detail" per check and "@@RAM TIME ..." figures.
 *   lrt write             fill the range ($LU_ADDR, $LU_SIZE) with the pattern
 *   lrt probe ADDR SIZE   luo_ram_probe(); prints its return value
 *   lrt add               luo_ram_add() of the whole range
 *   lrt zc NR             give NR pages to a new shmem file, check, use, drop it
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lrt.h"

static int dev;
static int failed;

static void check(int ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#include <stdarg.h>
static void check(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("@@RAM %s %s ", ok ? "PASS" : "FAIL", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	failed |= !ok;
}

static long meminfo(const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':')
			v = strtol(line + strlen(key) + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;	/* kB */
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int call(unsigned long cmd, struct lrt_arg *a)
{
	return ioctl(dev, cmd, a) ? -errno : 0;
}

static void env_range(struct lrt_arg *a)
{
	a->addr = strtoull(getenv("LU_ADDR"), NULL, 16);
	a->size = strtoull(getenv("LU_SIZE"), NULL, 0);
}

static void compact(void)
{
	int fd = open("/proc/sys/vm/compact_memory", O_WRONLY);

	if (fd >= 0) {
		if (write(fd, "1", 1) != 1)
			perror("compact_memory");
		close(fd);
	}
}

static int zc(unsigned long nr)
{
	struct lrt_arg a = { 0 }, b;
	unsigned long base, i, w, bad = 0;
	long total0 = meminfo("MemTotal"), shmem0 = meminfo("Shmem");
	long total1, shmem1, shmem2;
	unsigned long long *m;
	struct stat st;
	double t0;
	int rc, fd;

	env_range(&a);
	base = a.addr / 4096;
	a.first = 0;
	a.nr = nr;
	rc = call(LRT_GIVE, &a);
	check(!rc, "give", "%lu pages rc=%d", nr, rc);
	if (rc)
		return 1;
	printf("@@RAM TIME give_pages=%lu give_ms=%.1f us_per_page=%.2f\n", nr,
	       a.ns / 1e6, a.ns / 1e3 / nr);
	fd = a.fd;
	b = a;
	b.nr = nr;
	call(LRT_CHECK, &b);
	check(b.nr == nr, "in-place", "%llu of %lu indexes hold their range page", b.nr, nr);

	fstat(fd, &st);
	check(st.st_size == (off_t)nr * 4096 && st.st_blocks == (blkcnt_t)nr * 8,
	      "i_blocks", "size=%lld blocks=%lld", (long long)st.st_size,
	      (long long)st.st_blocks);
	total1 = meminfo("MemTotal");
	shmem1 = meminfo("Shmem");
	check(total1 - total0 == (long)nr * 4 && shmem1 - shmem0 >= (long)nr * 4 - 1024,
	      "meminfo", "MemTotal +%ld kB, Shmem +%ld kB", total1 - total0, shmem1 - shmem0);

	t0 = now();
	m = mmap(NULL, nr * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		check(0, "mmap", "errno %d", errno);
		return 1;
	}
	for (i = 0; i < nr; i++)
		for (w = 0; w < 512; w++)
			bad += m[i * 512 + w] != lrt_pattern(base + i, w);
	check(!bad, "pattern", "%lu bad words in %lu MiB, read in %.2f s", bad, nr / 256, now() - t0);

	/* write through the mapping; the range pages change */
	for (i = 0; i < nr; i++)
		m[i * 512] = ~lrt_pattern(base + i, 0);
	bad = 0;
	for (i = 0; i < nr; i += nr / 16) {
		b = a;
		b.first = base + i;
		if (call(LRT_PEEK, &b) || b.val != ~lrt_pattern(base + i, 0))
			bad++;
	}
	check(!bad, "write-in-place", "%lu of 16 sampled range pages lack the mmap write", bad);
	{
		unsigned long long v;

		bad = 0;
		for (i = 0; i < nr; i += 97)
			if (pread(fd, &v, 8, i * 4096) != 8 || v != ~lrt_pattern(base + i, 0))
				bad++;
		check(!bad, "pread", "%lu mismatches", bad);
	}

	/* misuse is refused */
	b = a;
	b.first = base;		/* pfn given already */
	b.nr = 0;
	rc = call(LRT_GIVE1, &b);
	check(rc == -EBUSY, "give-twice", "rc=%d (want %d)", rc, -EBUSY);
	b.first = base + nr;	/* a kept pfn, but index 0 is taken */
	rc = call(LRT_GIVE1, &b);
	check(rc == -EEXIST, "give-occupied", "rc=%d (want %d)", rc, -EEXIST);

	compact();
	b = a;
	b.nr = nr;
	call(LRT_CHECK, &b);
	printf("@@RAM INFO %llu of %lu pages in place after compact_memory\n", b.nr, nr);

	munmap(m, nr * 4096);
	rc = ftruncate(fd, 0);
	shmem2 = meminfo("Shmem");
	check(!rc && shmem1 - shmem2 >= (long)nr * 4 - 1024, "truncate",
	      "rc=%d Shmem -%ld kB", rc, shmem1 - shmem2);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct lrt_arg a = { 0 };
	int rc;

	dev = open("/dev/luo_ram_test", O_RDWR);
	if (dev < 0 || argc < 2) {
		perror("lrt: /dev/luo_ram_test");
		return 2;
	}
	if (!strcmp(argv[1], "write")) {
		env_range(&a);
		rc = call(LRT_WRITE, &a);
		printf("@@RAM TIME write_ms=%.1f rc=%d\n", a.ns / 1e6, rc);
		return !!rc;
	}
	if (!strcmp(argv[1], "probe") && argc == 4) {
		a.addr = strtoull(argv[2], NULL, 0);
		a.size = strtoull(argv[3], NULL, 0);
		rc = call(LRT_PROBE, &a);
		printf("probe %#llx+%#llx: %d\n", a.addr, a.size, rc);
		return !!rc;
	}
	if (!strcmp(argv[1], "add")) {
		env_range(&a);
		rc = call(LRT_ADD, &a);
		check(!rc, "add", "rc=%d", rc);
		printf("@@RAM TIME add_ms=%.1f\n", a.ns / 1e6);
		return !!rc;
	}
	if (!strcmp(argv[1], "zc") && argc == 3) {
		zc(strtoul(argv[2], NULL, 0));
		return failed;
	}
	fprintf(stderr, "lrt: unknown command\n");
	return 2;
}
