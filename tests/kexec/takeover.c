// SPDX-License-Identifier: GPL-2.0
/*
 * The take-over's workers (module/pages.c): what they do on the caller's
 * behalf, and how many there are. Runs in the zero-copy chain
 * (tests/kexec/zerocopy.plan: 2 vCPUs on two host threads, multi-threaded
 * TCG), where RETRIEVE_FD takes the pages over on both vCPUs.
 *
 *   zc-workers  boot 1 preserves a 16 MiB memfd (the first kexec copies it
 *               into the range). Boot 2, its first restore:
 *               creds: an unprivileged retriever (uid 65534, no
 *               CAP_SYS_ADMIN) under strict overcommit, with the admin
 *               reserve larger than what is left: every give must fail
 *               (64 tries, each with the errno a plain memfd's write
 *               gets: ENOSPC on 6.1, 6.12 and 7.2; not a page given).
 *               A worker running with the kernel's credentials
 *               (CAP_SYS_ADMIN, which may use the reserve) gives pages.
 *               charge: then root in a fresh memory cgroup retrieves it:
 *               the cgroup is charged the whole file (memory.current
 *               grew by at least 16 MiB, less than 1 MiB more), with both
 *               vCPUs taking part (restore_threads 2). A worker charging
 *               the root cgroup leaves its share out.
 *               all (end of boot 2, take_threads 0): restore_threads 2.
 *               one (end of boot 3, loaded with take_threads=1): pages
 *               were taken over in this boot (zc-big's 1 GiB), all by the
 *               caller alone: restore_threads 1.
 */
#include "kx.h"

#include <sys/mman.h>
#include <sys/wait.h>

#define ZW_SIZE		(16ULL * LU_MiB)
#define ZW_SEED		0x3c0e7e25ULL
#define ZW_CG		LU_CGROUP "/zc-workers"
#define ZW_TRIES	64

static long long zw_lh(const char *key)
{
	return lu_param_field("last_handover", key);
}

static void zw_stage1(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "zc-workers"));
	int m = CHECK_OK(lu_memfd("zc-workers", 0, ZW_SIZE, ZW_SEED));

	CHECK_EQ(lu_preserve_fd(s, m, 1), 0);
	close(m);
	close(dev);
	kx_hold(&s, 1);
}

/* A /proc/sys/vm file's number, or -errno. */
static long long zw_vm(const char *name)
{
	return lu_read_number(lu_fmt("/proc/sys/vm/%s", name));
}

static int zw_set_vm(const char *name, long long v)
{
	return lu_write_text(lu_fmt("/proc/sys/vm/%s", name), lu_fmt("%lld", v));
}

/*
 * Strict overcommit that leaves room for root (CAP_SYS_ADMIN) only: the
 * commit limit is what is committed now plus 4x the file, the admin
 * reserve 8x the file. A child drops to uid 65534, asks a plain memfd what
 * a page costs it (a write fails: ENOSPC on 6.1, 6.12 and 7.2) and
 * retrieves ZW_TRIES times: each must fail with that errno (exit 0), or its
 * exit is the first other errno (100 + try for a success; 98: the plain
 * write did not fail).
 */
static void zw_creds(int s)
{
	long long mode = zw_vm("overcommit_memory"), kb = zw_vm("overcommit_kbytes");
	long long ratio = zw_vm("overcommit_ratio"), admin = zw_vm("admin_reserve_kbytes");
	long long given0 = zw_lh("restore_pages_given"), committed;
	int status, set;
	pid_t pid;

	CHECK(mode >= 0 && kb >= 0 && ratio >= 0 && admin >= 0);
	committed = lu_meminfo_kib("Committed_AS");
	CHECK(committed > 0);
	set = zw_set_vm("admin_reserve_kbytes", 8 * ZW_SIZE / 1024) ||
	      zw_set_vm("overcommit_kbytes", committed + 4 * ZW_SIZE / 1024) ||
	      zw_set_vm("overcommit_memory", 2);
	pid = set ? -1 : kx_fork();
	if (!pid) {
		char page[4096] = { 1 };
		int i, r, want, plain;

		if (setgid(65534) || setuid(65534))
			_exit(99);
		/* what shmem says to this caller (ENOSPC on 6.1, 6.12, 7.2) */
		plain = memfd_create("zc-workers-plain", 0);
		if (plain < 0)
			_exit(97);
		if (pwrite(plain, page, sizeof(page), 0) >= 0)
			_exit(98);
		want = errno;
		for (i = 0; i < ZW_TRIES; i++) {
			r = lu_retrieve_fd(s, 1);
			if (r >= 0)
				_exit(100 + i);
			if (r != -want)
				_exit(-r & 0x7f);
		}
		_exit(0);
	}
	if (pid > 0)
		CHECK_EQ(waitpid(pid, &status, 0), pid);
	/* as it was, before any verdict: the rest of the boot needs it */
	EXPECT_EQ(zw_set_vm("overcommit_memory", mode), 0);
	if (kb)
		EXPECT_EQ(zw_set_vm("overcommit_kbytes", kb), 0);
	else
		EXPECT_EQ(zw_set_vm("overcommit_ratio", ratio), 0);
	EXPECT_EQ(zw_set_vm("admin_reserve_kbytes", admin), 0);
	CHECK_EQ(set, 0);
	CHECK(pid > 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		lu_diag("zc-workers: the unprivileged retriever: %s",
			WIFEXITED(status) ? lu_fmt("exit %d", WEXITSTATUS(status)) : "killed");
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* the workers were refused as the caller was: nothing given */
	EXPECT_EQ(zw_lh("restore_pages_given") - given0, 0);
}

/* Root retrieves it in a fresh memory cgroup: charged the whole file. */
static int zw_charge(int s)
{
	long long cur0, cur;
	int m;

	CHECK_EQ(lu_memcg_make(LU_CGROUP, ZW_CG), 0);
	CHECK_EQ(lu_write_text(ZW_CG "/cgroup.procs", lu_fmt("%d", getpid())), 0);
	cur0 = lu_read_number(ZW_CG "/memory.current");
	m = lu_retrieve_fd(s, 1);
	cur = lu_read_number(ZW_CG "/memory.current");
	EXPECT_EQ(lu_write_text(LU_CGROUP "/cgroup.procs", lu_fmt("%d", getpid())), 0);
	CHECK_OK(m);
	lu_diag("zc-workers: memory.current %lld -> %lld (file %llu)", cur0, cur,
		(unsigned long long)ZW_SIZE);
	/* every page charged here, the workers' too; some slab, a charge batch */
	EXPECT(cur0 >= 0 && cur - cur0 >= (long long)ZW_SIZE);
	EXPECT(cur - cur0 < (long long)(ZW_SIZE + LU_MiB));
	/* both vCPUs took part (this is the boot's first take-over) */
	EXPECT_EQ(zw_lh("restore_threads"), 2);
	return m;
}

static void zw_stage2(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_retrieve_session(dev, "zc-workers"));
	int m;

	close(dev);
	CHECK_EQ(zw_lh("restore_threads"), 0);	/* nothing restored yet */
	zw_creds(s);
	m = zw_charge(s);
	kx_expect_memfd(m, ZW_SIZE, ZW_SEED);
	EXPECT_EQ(lu_finish(s), 0);
	close(m);
	close(s);
	/* its pages stay charged until freed: the cgroup is removed empty */
	rmdir(ZW_CG);
}

/* take_threads 0 (default) on 2 vCPUs: the boot's take-overs used both. */
static void zw_all(void)
{
	EXPECT_STR(lu_param("take_threads") ?: "", "0\n");
	EXPECT(zw_lh("restore_pages_given") > 0);
	EXPECT_EQ(zw_lh("restore_threads"), 2);
}

/* take_threads=1 (the plan's load): the caller alone, every time. */
static void zw_one(void)
{
	EXPECT_STR(lu_param("take_threads") ?: "", "1\n");
	EXPECT(zw_lh("restore_pages_given") > 0);
	EXPECT_EQ(zw_lh("restore_threads"), 1);
}

KX_SCENARIO(kx_zc_workers, "zc-workers",
	    { "stage1", zw_stage1,
	      "a 16 MiB memfd preserves (the first kexec copies it)" },
	    { "stage2", zw_stage2,
	      "an unprivileged retriever under strict overcommit gets the errno a plain memfd write gets, every give refused (64 tries, 0 pages given); root in a fresh memory cgroup is charged >= 16 MiB and < 17 MiB, restore_threads 2; FINISH 0" },
	    { "all", zw_all,
	      "take_threads 0: pages were given this boot and restore_threads is 2" },
	    { "one", zw_one,
	      "take_threads=1: pages were given this boot, all by the caller (restore_threads 1)" });
