// SPDX-License-Identifier: GPL-2.0
/*
 * What a memfd taken over at RETRIEVE_FD costs, as the kernel and its users
 * count it (tests/kexec/swap.plan: 2 vCPUs, zram swap, pages in the range).
 * The direct route (module/ram.c) inserts the preserved pages into the page
 * cache and does shmem's bookkeeping itself; every counter must be what a
 * file written with write() leaves, and come back when the file goes.
 *
 *   zc-acct   boot 1: three memfds preserved, a session each (a session
 *             holds its retrieved files until FINISH: "closed" below is
 *             the memfd closed and its session finished); the kexec copies
 *             them into the range; boot 2, in a memory cgroup of its own:
 *             - RETRIEVE_FD: st_blocks, /proc/meminfo Shmem and
 *               Committed_AS, memory.stat shmem rise by the file's size, as
 *               for the same file written with write(); memory.current by
 *               as much, within the charge batches; all back on close
 *             - a hole punched, then a truncate: each gives back exactly
 *               what it removed, the bytes around stay
 *             - a retriever in a memory cgroup that holds a part only (no
 *               swap yet): ENOMEM, the pages inserted charged there
 *               (memory.stat shmem); the next RETRIEVE_FD (the caller's
 *               cgroup) inserts the rest: each page once, every byte,
 *               every counter right, and back on close
 *             - MADV_PAGEOUT to zram and back through a forked child's
 *               shared mapping: st_blocks unchanged, the bytes (and the
 *               child's write) right, every counter back on close
 */
#include "kx.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define ACCT_SIZE	(32ULL * LU_MiB)
#define ACCT_PAGES	(ACCT_SIZE / 4096)
#define ACCT_CG		LU_CGROUP "/zc-acct"
#define ACCT_LIM	LU_CGROUP "/zc-acct-lim"
/* memory.current may differ by the per-CPU charge stocks (64 pages each) */
#define ACCT_SLACK	(2LL * 64 * 4096 * 4)

enum { ACCT_FILE = 1, ACCT_SWAP, ACCT_LIMIT };

static const uint64_t acct_seed[] = { 0, 0xac1, 0xac2, 0xac3 };

struct acct {
	long long shmem;	/* /proc/meminfo Shmem, bytes */
	long long committed;	/* Committed_AS, bytes */
	long long cg_shmem;	/* memory.stat shmem of ACCT_CG, bytes */
	long long cg_current;	/* memory.current of ACCT_CG, bytes */
};

/* /proc/meminfo's @key in bytes (negative: not there) */
#define meminfo_bytes(key) (lu_meminfo_kib(key) * 1024)

/*
 * The counters, folded: stat_refresh folds the per-CPU vmstat deltas into
 * Shmem (it may say EINVAL for a negative counter elsewhere: ignored);
 * Committed_AS is summed exactly by /proc/meminfo; memory.stat is flushed
 * whole by the kernel's periodic (2 s) flush, which the wait lets run.
 */
static struct acct snap(void)
{
	struct acct a;

	lu_write_text("/proc/sys/vm/stat_refresh", "1");
	usleep(2500 * 1000);
	lu_write_text("/proc/sys/vm/stat_refresh", "1");
	a.shmem = meminfo_bytes("Shmem");
	a.committed = meminfo_bytes("Committed_AS");
	a.cg_shmem = kx_memstat(ACCT_CG, "shmem");
	a.cg_current = lu_read_number(ACCT_CG "/memory.current");
	return a;
}

static long long blocks(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? -errno : (long long)st.st_blocks * 512;
}

static long long lh(const char *key)
{
	return lu_param_field("last_handover", key);
}

/* @b - @a is @bytes on every counter; memory.current within the slack. */
static void expect_delta(const char *what, const struct acct *a, const struct acct *b,
			 long long bytes)
{
	long long cur = b->cg_current - a->cg_current;

	lu_diag("zc-acct: %s: Shmem %+lld, Committed_AS %+lld, shmem %+lld, current %+lld (want %+lld)",
		what, b->shmem - a->shmem, b->committed - a->committed,
		b->cg_shmem - a->cg_shmem, cur, bytes);
	EXPECT_EQ(b->shmem - a->shmem, bytes);
	EXPECT_EQ(b->committed - a->committed, bytes);
	EXPECT_EQ(b->cg_shmem - a->cg_shmem, bytes);
	EXPECT(cur >= bytes - ACCT_SLACK && cur <= bytes + ACCT_SLACK);
}

/* One session per file: a session keeps its retrieved files until FINISH. */
static void acct_stage1(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s[ACCT_LIMIT];

	for (int t = ACCT_FILE; t <= ACCT_LIMIT; t++) {
		int m = CHECK_OK(lu_memfd("zc-acct", 0, ACCT_SIZE, acct_seed[t]));

		s[t - 1] = CHECK_OK(lu_create_session(dev, lu_fmt("zc-acct-%d", t)));
		CHECK_EQ(lu_preserve_fd(s[t - 1], m, t), 0);
		close(m);
	}
	close(dev);
	kx_hold(s, ACCT_LIMIT);
}

static int acct_session(int t)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_retrieve_session(dev, lu_fmt("zc-acct-%d", t)));

	close(dev);
	return s;
}

/* The file's last holders gone: the memfd and its session (FINISH). */
static void acct_close(int m, int s)
{
	close(m);
	EXPECT_EQ(lu_finish(s), 0);
	close(s);
}

/* RETRIEVE_FD against write(), then a punch and a truncate. */
static void acct_file(void)
{
	int s = acct_session(ACCT_FILE);
	long long given = lh("restore_pages_given");
	struct acct a0, a1, a2;
	int m, w;

	a0 = snap();
	m = CHECK_OK(lu_retrieve_fd(s, ACCT_FILE));
	a1 = snap();
	EXPECT_EQ(lh("restore_pages_given") - given, (long long)ACCT_PAGES);
	EXPECT_EQ(blocks(m), (long long)ACCT_SIZE);
	expect_delta("RETRIEVE_FD", &a0, &a1, ACCT_SIZE);

	w = CHECK_OK(lu_memfd("zc-acct-write", 0, ACCT_SIZE, acct_seed[ACCT_FILE]));
	a2 = snap();
	EXPECT_EQ(blocks(w), blocks(m));
	expect_delta("write()", &a1, &a2, ACCT_SIZE);
	close(w);
	a2 = snap();
	expect_delta("write() closed", &a1, &a2, 0);

	/* a hole of a quarter in the middle */
	EXPECT_EQ(lu_fallocate(m, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       ACCT_SIZE / 4, ACCT_SIZE / 4), 0);
	a2 = snap();
	EXPECT_EQ(blocks(m), (long long)(ACCT_SIZE * 3 / 4));
	expect_delta("punch", &a1, &a2, -(long long)ACCT_SIZE / 4);
	EXPECT_EQ(lu_compare(m, 0, ACCT_SIZE / 4, acct_seed[ACCT_FILE]), 0);
	EXPECT_EQ(lu_compare(m, ACCT_SIZE / 4, ACCT_SIZE / 4, LU_ZEROS), 0);
	/* lu_compare() compares at file offsets: the pattern's tail */
	EXPECT_EQ(lu_compare(m, ACCT_SIZE / 2, ACCT_SIZE / 2, acct_seed[ACCT_FILE]), 0);

	/* truncated to an eighth */
	EXPECT_EQ(lu_ftruncate(m, ACCT_SIZE / 8), 0);
	a2 = snap();
	EXPECT_EQ(blocks(m), (long long)(ACCT_SIZE / 8));
	expect_delta("truncate", &a0, &a2, ACCT_SIZE / 8);
	EXPECT_EQ(lu_compare(m, 0, ACCT_SIZE / 8, acct_seed[ACCT_FILE]), 0);

	acct_close(m, s);
	a2 = snap();
	expect_delta("closed", &a0, &a2, 0);
}

/* zram as swap, unless some swap is on already. */
static int acct_swap_on(void)
{
	if (meminfo_bytes("SwapTotal") > 0)
		return 0;
	if (lu_system("lu-kmod zram") ||
	    (lu_write_text("/sys/block/zram0/comp_algorithm", "lzo-rle") &&
	     lu_write_text("/sys/block/zram0/comp_algorithm", "lzo") &&
	     lu_write_text("/sys/block/zram0/comp_algorithm", "deflate")) ||
	    lu_write_text("/sys/block/zram0/disksize", "256M") ||
	    lu_system("mkswap /dev/zram0 >/dev/null && swapon /dev/zram0"))
		return -1;
	return 0;
}

/* MADV_PAGEOUT, then in again through a forked child's shared mapping. */
static void acct_swap(void)
{
	int s = acct_session(ACCT_SWAP);
	struct acct a0, a1, a2;
	long long swapfree;
	int m, st;
	char *p;
	pid_t pid;

	CHECK_EQ(acct_swap_on(), 0);
	a0 = snap();
	m = CHECK_OK(lu_retrieve_fd(s, ACCT_SWAP));
	a1 = snap();
	expect_delta("RETRIEVE_FD (swap)", &a0, &a1, ACCT_SIZE);
	p = mmap(NULL, ACCT_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	CHECK(p != MAP_FAILED);
	for (uint64_t off = 0; off < ACCT_SIZE; off += 4096)
		(void)*(volatile char *)(p + off);
	swapfree = meminfo_bytes("SwapFree");
	EXPECT_EQ(madvise(p, ACCT_SIZE, MADV_PAGEOUT), 0);
	a2 = snap();
	lu_diag("zc-acct: MADV_PAGEOUT: Shmem %+lld, SwapFree %+lld",
		a2.shmem - a1.shmem, meminfo_bytes("SwapFree") - swapfree);
	/* most pages went to swap; the file's blocks count them all the same */
	EXPECT(a1.shmem - a2.shmem >= (long long)ACCT_SIZE / 2);
	EXPECT(swapfree - meminfo_bytes("SwapFree") >= (long long)ACCT_SIZE / 2);
	EXPECT_EQ(blocks(m), (long long)ACCT_SIZE);
	EXPECT_EQ(a2.committed - a1.committed, 0);

	/* a child reads every page in through its copy of the mapping, writes one */
	pid = kx_fork();
	if (!pid) {
		char want[4096];

		for (uint64_t off = 0; off < ACCT_SIZE; off += 4096) {
			lu_pattern(want, off, sizeof(want), acct_seed[ACCT_SWAP]);
			if (memcmp(p + off, want, sizeof(want)))
				_exit(1);
		}
		strcpy(p + 4096, "child");
		_exit(0);
	}
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	EXPECT(WIFEXITED(st) && !WEXITSTATUS(st));
	EXPECT_STR(p + 4096, "child");
	EXPECT_EQ(lu_compare(m, 0, 4096, acct_seed[ACCT_SWAP]), 0);
	EXPECT_EQ(lu_compare(m, 2 * 4096, ACCT_SIZE - 2 * 4096, acct_seed[ACCT_SWAP]), 0);
	munmap(p, ACCT_SIZE);
	EXPECT_EQ(blocks(m), (long long)ACCT_SIZE);
	a2 = snap();
	expect_delta("swapped in", &a0, &a2, ACCT_SIZE);
	acct_close(m, s);
	a2 = snap();
	expect_delta("closed (swap)", &a0, &a2, 0);
	/*
	 * Swap slots freed go back through per-CPU caches first (6.1, 6.12:
	 * up to 64 slots a CPU, SWAP_SLOTS_CACHE_SIZE); nothing else swaps here
	 */
	lu_diag("zc-acct: SwapFree after close %+lld", meminfo_bytes("SwapFree") - swapfree);
	EXPECT(meminfo_bytes("SwapFree") <= swapfree);
	EXPECT(swapfree - meminfo_bytes("SwapFree") <= 64LL * 4096 * sysconf(_SC_NPROCESSORS_ONLN));
}

/* A memory cgroup that holds a part only stops the insert; the next resumes. */
static void acct_limit(void)
{
	int s = acct_session(ACCT_LIMIT);
	long long given = lh("restore_pages_given"), part, lim_shmem;
	struct acct a0, a1;
	int st, m;
	pid_t pid;

	a0 = snap();
	CHECK_EQ(lu_memcg_make(LU_CGROUP, ACCT_LIM), 0);
	CHECK_EQ(lu_write_text(ACCT_LIM "/memory.max", "12M"), 0);
	pid = kx_fork();
	if (!pid) {
		if (lu_write_text(ACCT_LIM "/cgroup.procs", lu_fmt("%d", getpid())))
			_exit(100);
		_exit(-lu_retrieve_fd(s, ACCT_LIMIT) & 0xff);
	}
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == ENOMEM);
	part = lh("restore_pages_given") - given;
	usleep(2500 * 1000);
	lim_shmem = kx_memstat(ACCT_LIM, "shmem");
	lu_diag("zc-acct: in a 12 MiB memory cgroup: %lld pages inserted, its shmem %lld",
		part, lim_shmem);
	EXPECT(part > 0 && part < (long long)ACCT_PAGES);
	EXPECT_EQ(lim_shmem, part * 4096);

	m = CHECK_OK(lu_retrieve_fd(s, ACCT_LIMIT));
	a1 = snap();
	EXPECT_EQ(lh("restore_pages_given") - given, (long long)ACCT_PAGES);
	EXPECT_EQ(lu_compare(m, 0, ACCT_SIZE, acct_seed[ACCT_LIMIT]), 0);
	EXPECT_EQ(blocks(m), (long long)ACCT_SIZE);
	lu_diag("zc-acct: after the resume: Shmem %+lld, Committed_AS %+lld, shmem %+lld",
		a1.shmem - a0.shmem, a1.committed - a0.committed, a1.cg_shmem - a0.cg_shmem);
	EXPECT_EQ(a1.shmem - a0.shmem, (long long)ACCT_SIZE);
	EXPECT_EQ(a1.committed - a0.committed, (long long)ACCT_SIZE);
	/* the rest charged to the caller's cgroup */
	EXPECT_EQ(a1.cg_shmem - a0.cg_shmem, (long long)ACCT_SIZE - part * 4096);
	acct_close(m, s);
	a1 = snap();
	EXPECT_EQ(a1.shmem, a0.shmem);
	EXPECT_EQ(a1.committed, a0.committed);
	EXPECT_EQ(a1.cg_shmem, a0.cg_shmem);
	EXPECT_EQ(kx_memstat(ACCT_LIM, "shmem"), 0);
	EXPECT_EQ(rmdir(ACCT_LIM), 0);
}

/* The limit first: with swap on, reclaim would make room for every page. */
static void acct_check(void)
{
	CHECK_EQ(lu_memcg_make(LU_CGROUP, ACCT_CG), 0);
	CHECK_EQ(lu_write_text(ACCT_CG "/cgroup.procs", lu_fmt("%d", getpid())), 0);
	acct_file();
	acct_limit();
	acct_swap();
}

KX_SCENARIO(kx_zc_acct, "zc-acct",
	    { "stage1", acct_stage1,
	      "three memfds preserve, a session each (the kexec copies them into the range)" },
	    { "check", acct_check,
	      "taken over at RETRIEVE_FD: st_blocks, Shmem, Committed_AS, memory.stat shmem and memory.current rise as for a file written with write() and come back on close; punch and truncate give back exactly; a partial ENOMEM retrieve resumes, each page once; swapped out and back, counters right" });
