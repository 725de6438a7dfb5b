// SPDX-License-Identifier: GPL-2.0
/*
 * A write-sealed memfd is copied into the range at PRESERVE_FD (the
 * precopy). Its walk of the page cache skips swapped-out pages: one swapped
 * out while the walk runs must not arrive as zeros (tests/kexec/swap.plan,
 * a VM with zram swap: vm/run --kmods).
 *
 *   swap-sealed   boot 1: SWAP_FILES memfds of SWAP_SIZE, each charged to a
 *                 memory cgroup of its own, written from the last page down
 *                 (so reclaim takes the pages the walk reaches last),
 *                 sealed, and preserved while a process asks that cgroup
 *                 for reclaim in a loop; boot 2: every byte of each
 */
#include "kx.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define SWAP_SIZE	(64ULL * LU_MiB)
#define SWAP_FILES	4
#define SWAP_CG		LU_CGROUP "/kx-swap"	/* one child per file: kx-swap/N */

/* zram as swap: lu-kmod, a compressor this kernel has built in, swapon. */
static void swap_on(void)
{
	static const char *const algs[] = { "deflate", "lz4", "lzo-rle", "lzo" };
	size_t i;

	CHECK_EQ(lu_system("lu-kmod zram"), 0);
	for (i = 0; i < LU_ARRAY_SIZE(algs); i++)
		if (!lu_write_text("/sys/block/zram0/comp_algorithm", algs[i]))
			break;
	CHECK(i < LU_ARRAY_SIZE(algs));
	CHECK_EQ(lu_write_text("/sys/block/zram0/disksize", "1G"), 0);
	CHECK_EQ(lu_system("mkswap /dev/zram0 >/dev/null && swapon /dev/zram0"), 0);
	lu_diag("swap-sealed: zram swap on (%s)", algs[i]);
}

/* Cgroup @cg's swap use in bytes (memory.swap.current), or -1. */
static long long swap_current(const char *cg)
{
	char buf[32] = "";
	int fd = open(lu_fmt("%s/memory.swap.current", cg), O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtoll(buf, NULL, 10) : -1;
}

/* A reclaimer of cgroup @cg, waiting on @go until the parent writes. */
static pid_t reclaimer(const char *cg, int go)
{
	char path[128];
	pid_t pid;
	char c;

	pid = kx_fork();
	if (pid)
		return pid;
	snprintf(path, sizeof(path), "%s/memory.reclaim", cg);
	if (read(go, &c, 1) != 1)
		_exit(1);
	for (;;)
		lu_write_text(path, "8M");
}

/*
 * Each file in a memory cgroup of its own, so that the reclaim finds only
 * its pages (the LRU's oldest: its last pages, written first), while the
 * precopy walks it from the first page up.
 */
static void sealed_stage1(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "swap-sealed"));
	long long swapped = 0;

	swap_on();
	CHECK_EQ(lu_memcg_make(LU_CGROUP, SWAP_CG), 0);
	CHECK_EQ(lu_write_text(SWAP_CG "/cgroup.subtree_control", "+memory"), 0);
	for (int i = 0; i < SWAP_FILES; i++) {
		char cg[64];
		int m, go[2], st;
		pid_t pid;

		snprintf(cg, sizeof(cg), "%s/%d", SWAP_CG, i);
		CHECK(!mkdir(cg, 0755) || errno == EEXIST);
		CHECK_EQ(lu_write_text(lu_fmt("%s/cgroup.procs", cg), lu_fmt("%d", getpid())), 0);
		m = CHECK_OK(lu_memfd_sparse("swap-sealed", MFD_ALLOW_SEALING, SWAP_SIZE));
		for (uint64_t off = SWAP_SIZE; off; off -= LU_MiB)
			CHECK_EQ(lu_fill(m, off - LU_MiB, LU_MiB, 0x50 + i), 0);
		CHECK_EQ(lu_add_seals(m, F_SEAL_WRITE), 0);
		CHECK_EQ(pipe(go), 0);
		pid = reclaimer(cg, go[0]);
		CHECK_EQ(write(go[1], "x", 1), 1);
		EXPECT_EQ(lu_preserve_fd(s, m, i + 1), 0);
		kill(pid, SIGKILL);
		CHECK_EQ(waitpid(pid, &st, 0), pid);
		close(go[0]);
		close(go[1]);
		close(m);
		swapped += swap_current(cg);
		lu_diag("swap-sealed: file %d preserved; its cgroup's swap %lld kB", i,
			swap_current(cg) / 1024);
	}
	/* the reclaim did swap the files out (else the test saw nothing) */
	EXPECT(swapped > 0);
	close(dev);
	kx_hold(&s, 1);
}

static void sealed_check(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_retrieve_session(dev, "swap-sealed"));

	for (int i = 0; i < SWAP_FILES; i++) {
		int m = CHECK_OK(lu_retrieve_fd(s, i + 1));
		long long bad = lu_compare(m, 0, SWAP_SIZE, 0x50 + i);

		if (bad)
			lu_diag("swap-sealed: file %d differs at byte %lld", i, bad - 1);
		EXPECT_EQ(bad, 0);
		EXPECT_EQ(lu_seals(m), F_SEAL_WRITE);
		close(m);
	}
	EXPECT_EQ(lu_finish(s), 0);
	close(s);
	close(dev);
}

KX_SCENARIO(kx_swap_sealed, "swap-sealed",
	    { "stage1", sealed_stage1,
	      "write-sealed memfds, each in a memory cgroup reclaimed in a loop, are copied into the range at PRESERVE_FD" },
	    { "check", sealed_check,
	      "every byte of each arrives (no swapped-out page as zeros)" });
