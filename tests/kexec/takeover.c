// SPDX-License-Identifier: GPL-2.0
/*
 * The take-over's workers (module/pages.c): what they do on the caller's
 * behalf, and how many there are. Runs in the zero-copy chain
 * (tests/kexec/zerocopy.plan: 2 vCPUs on two host threads, multi-threaded
 * TCG), where RETRIEVE_FD takes the pages over on both vCPUs.
 *
 *   zc-workers  boot 1 preserves a 16 MiB memfd and a 4 MiB one with the
 *               same bytes (the first kexec copies them into the range).
 *               Boot 2, its first restores, with test_take_workers_first=1
 *               (the caller takes no unit before the worker has run its
 *               first to the end: the worker always takes part) and
 *               test_take_tasks (what each task of the last round did, as
 *               which uid, charging which memory cgroup) read after each:
 *               creds: an unprivileged retriever (uid 65534, no
 *               CAP_SYS_ADMIN) under strict overcommit, with the admin
 *               reserve larger than what is left, by the placeholder route
 *               (test_take_placeholder=1: shmem commits each page as the
 *               task that gives it): every give must fail (64 tries, each
 *               with the errno a plain memfd's write gets: ENOSPC on 6.1,
 *               6.12 and 7.2; not a page given), the worker's first unit
 *               too: it ran as uid 65534 and got ENOSPC. A worker running
 *               with the kernel's credentials (CAP_SYS_ADMIN, which may use
 *               the reserve) gives its unit.
 *               charge: then root in a fresh memory cgroup retrieves it:
 *               the worker gave pages (a unit or more), caller and
 *               worker charged that cgroup (its inode number), the two
 *               gave the whole file, and the cgroup is charged all of it
 *               (memory.current grew by at least 16 MiB, less than 1 MiB
 *               more). A worker charging the root cgroup leaves its share
 *               out.
 *               one: the 4 MiB memfd with take_threads=1 (written at run
 *               time): one task, the caller, gave its 1024 pages; its
 *               bytes are the 16 MiB file's first 4 MiB, byte for byte.
 *               all (end of boot 2, take_threads 0): restore_threads 2.
 *               one (end of boot 3, loaded with take_threads=1): pages
 *               were taken over in this boot (zc-big's 1 GiB), all by the
 *               caller alone: restore_threads 1, and the boot's last round
 *               had one task, which took every item.
 */
#include "kx.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define ZW_SIZE		(16ULL * LU_MiB)
#define ZW_ONE_SIZE	(4ULL * LU_MiB)
#define ZW_PAGE		4096
#define ZW_UNIT		512	/* LUO_TAKE_UNIT: the pages a task takes at once */
#define ZW_MAX_TASKS	64
#define ZW_SEED		0x3c0e7e25ULL
#define ZW_CG		LU_CGROUP "/zc-workers"
#define ZW_TRIES	64

static long long zw_lh(const char *key)
{
	return lu_param_field("last_handover", key);
}

/* One task of test_take_tasks' round (task 0: the caller). */
struct zw_task {
	long long items, a, err, uid, memcg;
};

/*
 * Reads test_take_tasks: the last RETRIEVE_FD round's items (*items) and
 * its tasks into @t. Returns how many tasks, or -1 if the text is not what
 * the module writes (the "tasks" line and the task lines disagree, too).
 */
static int zw_tasks(struct zw_task *t, long long *items)
{
	const char *p = lu_param_page("test_take_tasks");
	long long want = -1, b;
	int n = 0, k, used;

	*items = -1;
	if (!p || sscanf(p, "items %lld\ntasks %lld\n%n", items, &want, &used) != 2)
		return -1;
	for (p += used; *p; p = strchr(p, '\n') + 1) {
		if (n == ZW_MAX_TASKS || !strchr(p, '\n') ||
		    sscanf(p, "task %d items %lld a %lld b %lld err %lld uid %lld memcg %lld",
			   &k, &t[n].items, &t[n].a, &b, &t[n].err, &t[n].uid,
			   &t[n].memcg) != 7 || k != n)
			return -1;
		n++;
	}
	for (k = 0; k < n; k++)
		lu_diag("zc-workers: round of %lld items: task %d items %lld given %lld err %lld uid %lld memcg %lld",
			*items, k, t[k].items, t[k].a, t[k].err, t[k].uid, t[k].memcg);
	return n == want ? n : -1;
}

static int zw_set_param(const char *name, const char *val)
{
	return lu_write_text(lu_fmt(LU_PARAM_DIR "/%s", name), val);
}

static void zw_stage1(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "zc-workers"));
	int m = CHECK_OK(lu_memfd("zc-workers", 0, ZW_SIZE, ZW_SEED));
	int one = CHECK_OK(lu_memfd("zc-workers-one", 0, ZW_ONE_SIZE, ZW_SEED));

	CHECK_EQ(lu_preserve_fd(s, m, 1), 0);
	CHECK_EQ(lu_preserve_fd(s, one, 2), 0);
	close(one);
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
	long long given0 = zw_lh("restore_pages_given"), committed, items;
	struct zw_task t[ZW_MAX_TASKS];
	int status, set, n;
	pid_t pid;

	CHECK(mode >= 0 && kb >= 0 && ratio >= 0 && admin >= 0);
	committed = lu_meminfo_kib("Committed_AS");
	CHECK(committed > 0);
	/* shmem commits each page as the task that gives it */
	CHECK_EQ(zw_set_param("test_take_placeholder", "1"), 0);
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
	EXPECT_EQ(zw_set_param("test_take_placeholder", "0"), 0);
	CHECK_EQ(set, 0);
	CHECK(pid > 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		lu_diag("zc-workers: the unprivileged retriever: %s",
			WIFEXITED(status) ? lu_fmt("exit %d", WEXITSTATUS(status)) : "killed");
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* the workers were refused as the caller was: nothing given */
	EXPECT_EQ(zw_lh("restore_pages_given") - given0, 0);
	/*
	 * The last try's round: the worker went first, as uid 65534, and its
	 * first unit got the caller's errno; then the round stopped.
	 */
	n = zw_tasks(t, &items);
	CHECK_EQ(n, 2);
	EXPECT(items >= (long long)(ZW_SIZE / ZW_PAGE / ZW_UNIT));	/* units */
	EXPECT_EQ(t[0].uid, 65534);
	EXPECT_EQ(t[1].uid, 65534);
	EXPECT_EQ(t[1].items, 1);
	EXPECT_EQ(t[1].err, -ENOSPC);
	EXPECT_EQ(t[0].a + t[1].a, 0);
}

/* Root retrieves it in a fresh memory cgroup: charged the whole file. */
static int zw_charge(int s)
{
	struct zw_task t[ZW_MAX_TASKS];
	long long cur0, cur, items;
	struct stat cg;
	int m, n;

	CHECK_EQ(lu_memcg_make(LU_CGROUP, ZW_CG), 0);
	CHECK_EQ(stat(ZW_CG, &cg), 0);
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
	/*
	 * The worker gave a unit or more, charged to this cgroup (not the
	 * root, inode 1) as root; the two tasks gave the whole file.
	 */
	n = zw_tasks(t, &items);
	CHECK_EQ(n, 2);
	lu_diag("zc-workers: the cgroup's inode %llu", (unsigned long long)cg.st_ino);
	EXPECT(items >= (long long)(ZW_SIZE / ZW_PAGE / ZW_UNIT));	/* units */
	EXPECT(t[1].items >= 1 && t[1].a > 0);
	EXPECT_EQ(t[1].err, 0);
	EXPECT_EQ(t[0].a + t[1].a, ZW_SIZE / ZW_PAGE);
	EXPECT_EQ(t[0].memcg, (long long)cg.st_ino);
	EXPECT_EQ(t[1].memcg, (long long)cg.st_ino);
	EXPECT_EQ(t[0].uid, 0);
	EXPECT_EQ(t[1].uid, 0);
	return m;
}

/*
 * The 4 MiB memfd with take_threads=1: the caller alone gives its 1024
 * pages, and they are the bytes two tasks gave the 16 MiB file (@m).
 */
static void zw_one_task(int s, int m)
{
	static char a[1 << 16], b[1 << 16];
	struct zw_task t[ZW_MAX_TASKS];
	long long items, off;
	int one, n;

	CHECK_EQ(zw_set_param("take_threads", "1"), 0);
	one = lu_retrieve_fd(s, 2);
	n = zw_tasks(t, &items);
	EXPECT_EQ(zw_set_param("take_threads", "0"), 0);
	CHECK_OK(one);
	CHECK_EQ(n, 1);
	EXPECT(items >= (long long)(ZW_ONE_SIZE / ZW_PAGE / ZW_UNIT));
	EXPECT_EQ(t[0].items, items);
	EXPECT_EQ(t[0].a, ZW_ONE_SIZE / ZW_PAGE);
	kx_expect_memfd(one, ZW_ONE_SIZE, ZW_SEED);
	for (off = 0; off < (long long)ZW_ONE_SIZE; off += sizeof(a)) {
		if (pread(one, a, sizeof(a), off) != sizeof(a) ||
		    pread(m, b, sizeof(b), off) != sizeof(b) ||
		    memcmp(a, b, sizeof(a)))
			break;
	}
	EXPECT_EQ(off, (long long)ZW_ONE_SIZE);
	close(one);
}

static void zw_stage2(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_retrieve_session(dev, "zc-workers"));
	int m;

	close(dev);
	CHECK_EQ(zw_lh("restore_threads"), 0);	/* nothing restored yet */
	CHECK_EQ(zw_set_param("test_take_workers_first", "1"), 0);
	zw_creds(s);
	m = zw_charge(s);
	EXPECT_EQ(zw_set_param("test_take_workers_first", "0"), 0);
	kx_expect_memfd(m, ZW_SIZE, ZW_SEED);
	zw_one_task(s, m);
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
	struct zw_task t[ZW_MAX_TASKS];
	long long items;

	EXPECT_STR(lu_param("take_threads") ?: "", "1\n");
	EXPECT(zw_lh("restore_pages_given") > 0);
	EXPECT_EQ(zw_lh("restore_threads"), 1);
	/* the boot's last round: one task, which took every item */
	EXPECT_EQ(zw_tasks(t, &items), 1);
	EXPECT(items > 0 && t[0].items == items);
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
