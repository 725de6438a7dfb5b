// SPDX-License-Identifier: GPL-2.0
/*
 * Zero-copy handover (tests/kexec/zerocopy.plan, a VM whose range is aligned
 * to the memory block size): memfds restored by taking their pages over live
 * in the range, and the next kexec copies none of them. The plan runs boot 1
 * (stage1: every memfd created and preserved, so copied by the first kexec),
 * then boots 2, 3, 4 (stage2: retrieved, checked, changed, preserved again,
 * while something tries to disturb the pages; check: the same, last time).
 *
 *   zc-big        ZC_BIG bytes, a marker page rewritten through mmap each boot
 *   zc-writer     from boot 2 on (pages in place), a child writes rounds of
 *                 counters through mmap until the machine stops; the next
 *                 boot finds what it wrote last: a prefix of round R and
 *                 the rest of round R-1 (a copy made while it writes would
 *                 not be one state, so boot 1 has no writer)
 *   zc-punch      a hole punched through an fd opened before PRESERVE_FD:
 *                 those pages arrive as zeros, the rest intact; the file
 *                 grown through that fd arrives at its frozen size; grown
 *                 to 1 TiB in boot 4, PRESERVE_FD gives ENOMEM (no WARN)
 *   zc-pressure   compaction, dropped caches and an anonymous-memory hog
 *                 between PRESERVE_FD and the kexec
 *   zc-fork       a forked child writes through its MAP_SHARED mapping after
 *                 the parent preserved the memfd
 *   zc-offline    offlining a memory block of the range is refused
 *   zc-status     last_handover: boot 2 restored everything by taking pages
 *                 over; from boot 3 on nothing was copied inside the kexec
 *   zc-migrate    migrate=1 in boot 1 (the range not RAM yet): PRESERVE_FD
 *                 moves a memfd written with write() into the range (its
 *                 page frames read back through /proc/self/pagemap), and
 *                 leaves one mapped by the process where it is, and the
 *                 page of a third that a pipe holds (splice); the first
 *                 kexec lists the moved pages in place and copies the rest
 *   zc-room       boot 2: pinned pages punched out and written anew through
 *                 an fd opened before PRESERVE_FD, while another file fills
 *                 the range: the kexec copies both, nothing lost (boot 3)
 *   zc-dio        boot 2: O_DIRECT reads from a loop device into the pages
 *                 (mapped) before and after PRESERVE_FD, a write out of
 *                 them; boot 3 finds the device's bytes (vm/run --kmods)
 *   zc-parallel   boot 2: the take-over runs on both vCPUs; a retriever in
 *                 an 8 MiB memory cgroup gets ENOMEM, one SIGKILLed in the
 *                 middle is cut short, and the next RETRIEVE_FD resumes:
 *                 every byte arrives, and each page is given exactly once
 *   zc-thp        retrieved (boot 2) under each shmem THP setting (always,
 *                 within_size, advise, force): same bytes and holes, no
 *                 error; the restored file is small pages whatever the
 *                 setting (every page taken over, none copied, no huge
 *                 folio: the direct route inserts order-0 folios)
 *   zc-fault      (a VM of its own) the hot-add fails after onlining
 *                 (test_ram_fault=1: its pages passed through the page
 *                 allocator): only checksummed data is restored, the rest
 *                 gives EIO; =2, the range stays ordinary RAM: nothing is
 *                 preserved (EIO) or handed over
 *   zc-fallback   (a VM whose range cannot be RAM) restored by copying, and
 *                 the module said why
 *   zc-sealed     (the same VM) a memfd write-sealed at PRESERVE_FD is copied
 *                 into the range then: its pages are taken at once, and the
 *                 kexec copies only the other memfd
 *   zc-commit     the first open's background hot-add against the kexec's
 *                 commit: each "race" boot opens the device for the first
 *                 time (the hot-add starts, test_ram_delay_ms later), and
 *                 preserves a memfd at once; the boot's kexec commits while
 *                 it waits test_commit_delay_ms in its middle. The plan
 *                 sweeps test_ram_delay_ms over the boots, so the hot-add
 *                 ends before, inside and after the commit; each next boot
 *                 must load the handover, the last one compares the bytes
 *                 (check-swapped, 6.1 with one vCPU: while one placeholder
 *                 of the take-over is found swapped out, test_give_swapped)
 */
#include "kx.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define ZC_BIG		(1024ULL * LU_MiB)
#define ZC_WRITER	(16ULL * LU_MiB)
#define ZC_PUNCH	LU_MiB
#define ZC_PRESSURE	(64ULL * LU_MiB)
#define ZC_FORK		(4ULL * LU_MiB)
#define ZC_PAGE		4096ULL
#define ZC_MIGRATE	(8ULL * LU_MiB)

/* The big memfd can be set smaller for a quick run: ZC_BIG_MIB=... */
static uint64_t zc_big(void)
{
	const char *v = getenv("ZC_BIG_MIB");

	return v && *v ? strtoull(v, NULL, 0) * LU_MiB : ZC_BIG;
}

/* A field of the module's last_handover, or -1. */
static long long lh(const char *key)
{
	return lu_param_field("last_handover", key);
}

/* "yes", "auto", "off" or "unavailable", from the space parameter. */
static const char *zerocopy_state(void)
{
	const char *text = lu_param("space"), *p = text ? strstr(text, "zerocopy ") : NULL;
	static char buf[32];

	if (!p)
		return "";
	snprintf(buf, sizeof(buf), "%s", p + 9);
	buf[strcspn(buf, "\n")] = 0;
	return buf;
}

/* A small text file's contents, or NULL. */
static const char *read_text(const char *path)
{
	static char buf[256];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return NULL;
	buf[n] = 0;
	return buf;
}

static int boot(void)
{
	return atoi(getenv("LU_STAGE") ?: "0");
}

/* Retrieves session @name's memfd @token, timing the RETRIEVE_FD. */
static int zc_retrieve(const char *name, uint64_t token, int *sess)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_retrieve_session(dev, name));
	double t0 = lu_now();
	int m = CHECK_OK(lu_retrieve_fd(s, token));

	lu_diag("%s: RETRIEVE_FD %.3f s", name, lu_now() - t0);
	close(dev);
	*sess = s;
	return m;
}

/* Preserves @m in a new session @name and holds it until the kexec. */
static void zc_preserve_hold(const char *name, int m, uint64_t token)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, name));

	CHECK_EQ(lu_preserve_fd(s, m, token), 0);
	close(dev);
	kx_hold(&s, 1);
}

static void *zc_map(int fd, uint64_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	CHECK(p != MAP_FAILED);
	return p;
}

/* --- zc-big: the big memfd, a marker page per boot ------------------------ */

static void big_stage1(void)
{
	int m = CHECK_OK(lu_memfd("zc-big", MFD_ALLOW_SEALING, zc_big(), 0xb1));

	zc_preserve_hold("zc-big", m, 1);
}

/* The last page holds "bN" of the boot that last wrote it. */
static void big_check_and_carry(int carry)
{
	uint64_t size = zc_big(), last = size - ZC_PAGE;
	int s, m = zc_retrieve("zc-big", 1, &s);
	char *p, want[8];
	double t0;

	EXPECT_EQ(lu_fsize(m), size);
	t0 = lu_now();
	EXPECT_EQ(lu_compare(m, 0, last, 0xb1), 0);
	lu_diag("zc-big: compared %llu MiB in %.2f s", (unsigned long long)(size / LU_MiB),
		lu_now() - t0);
	p = zc_map(m, size);
	if (boot() == 2)
		EXPECT_EQ(lu_compare(m, last, ZC_PAGE, 0xb1), 0);
	else
		EXPECT_STR(p + last, lu_fmt("b%d", boot() - 1));
	if (carry) {
		snprintf(want, sizeof(want), "b%d", boot());
		memcpy(p + last, want, strlen(want) + 1);
	}
	munmap(p, size);
	EXPECT(!strncmp(lu_fd_link(m) ?: "", "/memfd:zc-big", 13));
	close(s);
	if (carry)
		zc_preserve_hold("zc-big", m, 1);
	close(m);
}

static void big_stage2(void)
{
	big_check_and_carry(1);
}

static void big_check(void)
{
	big_check_and_carry(0);
}

KX_SCENARIO(kx_zc_big, "zc-big",
	    { "stage1", big_stage1,
	      "the big memfd (ZC_BIG bytes of a pattern) preserves in session zc-big; the first kexec copies it" },
	    { "stage2", big_stage2,
	      "taken over: size, every byte, the last page holding the previous boot's 'bN' marker (not in boot 2), the /proc link; the marker rewritten through mmap and the memfd preserved again" },
	    { "check", big_check,
	      "the last boot: size, every byte and the previous boot's marker, the /proc link" });

/* --- zc-writer: writes until the machine stops ---------------------------- */

#define SLOTS	(ZC_WRITER / 8)

/* A detached writer (like kx_hold's holder: no fd of ours kept open). */
static void writer_start(int m)
{
	uint64_t *slot = zc_map(m, ZC_WRITER);
	pid_t pid;
	int st;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		uint64_t round, i;

		setsid();
		if (fork())
			_exit(0);
		for (int fd = 0; fd < 4096; fd++)
			close(fd);
		signal(SIGHUP, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		alarm(0);
		for (round = slot[0] >> 32; ; round++)
			for (i = 0; i < SLOTS; i++)
				__atomic_store_n(&slot[i], (round + 1) << 32 | i,
						 __ATOMIC_RELAXED);
	}
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	munmap(slot, ZC_WRITER);
}

/* Rounds R (a prefix) and R-1 (the rest), R >= @min_round. */
static void writer_expect(int m, uint64_t min_round)
{
	uint64_t *slot = zc_map(m, ZC_WRITER), r = slot[0] >> 32, i = 0;

	while (i < SLOTS && slot[i] == (r << 32 | i))
		i++;
	if (i < SLOTS) {
		uint64_t split = i;

		while (i < SLOTS && slot[i] == ((r - 1) << 32 | i))
			i++;
		lu_diag("zc-writer: round %llu up to slot %llu, round %llu after",
			(unsigned long long)r, (unsigned long long)split,
			(unsigned long long)r - 1);
	} else {
		lu_diag("zc-writer: round %llu complete", (unsigned long long)r);
	}
	EXPECT_EQ(i, SLOTS);
	EXPECT(r >= min_round);
	munmap(slot, ZC_WRITER);
}

static void writer_stage1(void)
{
	int m = CHECK_OK(lu_memfd_sparse("zc-writer", 0, ZC_WRITER));
	uint64_t *slot = zc_map(m, ZC_WRITER);

	for (uint64_t i = 0; i < SLOTS; i++)	/* round 0, no holes */
		slot[i] = i;
	munmap(slot, ZC_WRITER);
	/* no writer yet: the first kexec copies, in parallel, not a snapshot */
	zc_preserve_hold("zc-writer", m, 2);
	close(m);
}

static void writer_stage2(void)
{
	int s, m = zc_retrieve("zc-writer", 2, &s);

	writer_expect(m, boot() == 2 ? 0 : 1);
	if (boot() == 2)
		EXPECT_EQ(*(uint64_t *)zc_map(m, ZC_PAGE) >> 32, 0);
	close(s);
	zc_preserve_hold("zc-writer", m, 2);
	writer_start(m);
	close(m);
}

static void writer_check(void)
{
	int s, m = zc_retrieve("zc-writer", 2, &s);

	writer_expect(m, 1);
	close(m);
	close(s);
}

KX_SCENARIO(kx_zc_writer, "zc-writer",
	    { "stage1", writer_stage1,
	      "the writer's memfd, round 0 in every slot, preserves (no writer in boot 1)" },
	    { "stage2", writer_stage2,
	      "every slot holds a prefix of round R and the rest of round R-1; preserved again, a detached child writes rounds of counters through mmap until the kexec" },
	    { "check", writer_check,
	      "the last boot: every slot a prefix of round R and the rest of round R-1" });

/* --- zc-punch: a hole through an fd opened before PRESERVE_FD -------------- */

static void punch_stage1(void)
{
	zc_preserve_hold("zc-punch", CHECK_OK(lu_memfd("zc-punch", 0, ZC_PUNCH, 0x9c)), 3);
}

/* Boot K >= 3 finds pages 1 .. K-2 punched by the boots before. */
static void punch_expect(int m)
{
	int b = boot();

	EXPECT_EQ(lu_fsize(m), ZC_PUNCH);
	EXPECT_EQ(lu_compare(m, 0, ZC_PAGE, 0x9c), 0);
	if (b >= 3)
		EXPECT_EQ(lu_compare(m, ZC_PAGE, (b - 2) * ZC_PAGE, LU_ZEROS), 0);
	EXPECT_EQ(lu_compare(m, (b - 1) * ZC_PAGE, ZC_PUNCH - (b - 1) * ZC_PAGE, 0x9c), 0);
}

static void punch_stage2(void)
{
	int s, m = zc_retrieve("zc-punch", 3, &s), early;

	punch_expect(m);
	close(s);
	/* opened before PRESERVE_FD: shmem's own operations, not frozen */
	early = CHECK_OK(open(lu_fmt("/proc/self/fd/%d", m), O_RDWR));
	zc_preserve_hold("zc-punch", m, 3);
	EXPECT_EQ(lu_fallocate(early, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       (boot() - 1) * ZC_PAGE, ZC_PAGE), 0);
	/* grows it through shmem's own write: the size frozen at PRESERVE_FD goes */
	EXPECT_EQ(lu_pwrite(early, "tail", 4, ZC_PUNCH), 4);
	EXPECT_EQ(lu_fsize(m), ZC_PUNCH + 4);
	close(early);
	close(m);
}

static void punch_check(void)
{
	int s, m = zc_retrieve("zc-punch", 3, &s), dev, s2;

	punch_expect(m);
	/*
	 * Pages in the range, then 1 TiB: PRESERVE_FD's per-page pin array
	 * would be 2 GiB, which kvmalloc() refuses; it must do so quietly
	 * (ENOMEM, no WARN in the log: chain/b4/kernel_log).
	 */
	close(s);	/* else m counts as retrieved, not preservable (EBUSY) */
	CHECK_EQ(lu_ftruncate(m, 1ULL << 40), 0);
	dev = CHECK_OK(lu_open_dev());
	s2 = CHECK_OK(lu_create_session(dev, "zc-punch-1t"));
	EXPECT_EQ(lu_preserve_fd(s2, m, 1), -ENOMEM);
	close(s2);
	close(dev);
	close(m);
}

KX_SCENARIO(kx_zc_punch, "zc-punch",
	    { "stage1", punch_stage1,
	      "the memfd zc-punch preserves (token 3)" },
	    { "stage2", punch_stage2,
	      "pages 1..K-2 punched by earlier boots arrive as zeros, the rest intact; preserved again, a punch and a write past the end through an fd opened before PRESERVE_FD succeed (size +4)" },
	    { "check", punch_check,
	      "the last boot: the punched pages zeros, the rest intact, the frozen size; grown to 1 TiB, PRESERVE_FD in a new session is ENOMEM" });

/* --- zc-pressure: compaction and reclaim before the kexec ---------------- */

static void pressure_stage1(void)
{
	zc_preserve_hold("zc-pressure",
			 CHECK_OK(lu_memfd("zc-pressure", 0, ZC_PRESSURE, 0x77)), 4);
}

/* Touches free memory (up to 1 GiB, all but 192 MiB), then lets it go. */
static void hog(void)
{
	long avail = sysconf(_SC_AVPHYS_PAGES) * sysconf(_SC_PAGESIZE);
	size_t len = avail > 256L << 20 ? (size_t)avail - (192UL << 20) : 0;

	if (len > 1UL << 30)
		len = 1UL << 30;
	char *p;

	if (!len)
		return;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	for (size_t i = 0; i < len; i += 4096)
		p[i] = 1;
	munmap(p, len);
	lu_diag("zc-pressure: touched %zu MiB", len >> 20);
}

static void pressure_stage2(void)
{
	int s, m = zc_retrieve("zc-pressure", 4, &s);

	EXPECT_EQ(lu_compare(m, 0, ZC_PRESSURE, 0x77), 0);
	close(s);
	zc_preserve_hold("zc-pressure", m, 4);
	close(m);
	EXPECT_EQ(lu_write_text("/proc/sys/vm/compact_memory", "1"), 0);
	EXPECT_EQ(lu_write_text("/proc/sys/vm/drop_caches", "3"), 0);
	hog();
	EXPECT_EQ(lu_write_text("/proc/sys/vm/compact_memory", "1"), 0);
}

static void pressure_check(void)
{
	int s, m = zc_retrieve("zc-pressure", 4, &s);

	EXPECT_EQ(lu_compare(m, 0, ZC_PRESSURE, 0x77), 0);
	close(m);
	close(s);
}

KX_SCENARIO(kx_zc_pressure, "zc-pressure",
	    { "stage1", pressure_stage1,
	      "the memfd zc-pressure preserves" },
	    { "stage2", pressure_stage2,
	      "every byte arrives; preserved again, then compaction, drop_caches and an anonymous-memory hog (writes to the vm files succeed) before the kexec" },
	    { "check", pressure_check,
	      "the last boot: every byte" });

/* --- zc-fork: a child's shared mapping writes after PRESERVE_FD ------------ */

static void fork_stage1(void)
{
	zc_preserve_hold("zc-fork", CHECK_OK(lu_memfd("zc-fork", 0, ZC_FORK, 0xf0)), 5);
}

static void fork_stage2(void)
{
	int s, m = zc_retrieve("zc-fork", 5, &s), pipefd[2], st;
	char *p = zc_map(m, ZC_FORK), c;
	pid_t pid;

	/* the child must not keep the session: it would keep m "retrieved" */
	close(s);
	if (boot() > 2)
		EXPECT_STR(p + ZC_PAGE, lu_fmt("child of b%d", boot() - 1));
	CHECK_EQ(pipe(pipefd), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		/* waits for the preserve, then writes through the inherited map */
		if (read(pipefd[0], &c, 1) != 1)
			_exit(1);
		snprintf(p + ZC_PAGE, 32, "child of b%d", boot());
		_exit(0);
	}
	close(pipefd[0]);
	zc_preserve_hold("zc-fork", m, 5);
	CHECK_EQ(write(pipefd[1], "x", 1), 1);
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	EXPECT(WIFEXITED(st) && !WEXITSTATUS(st));
	munmap(p, ZC_FORK);
	close(m);
}

/*
 * Boot 4's first restore, by an unprivileged process (nobody) holding the
 * session fd: the range becomes RAM all the same (the module writes
 * auto_online_blocks with its own credentials; old: EACCES, and zero-copy
 * was off for the boot). The first open started the hot-add on a kworker;
 * the restore waits for it, or makes it itself if it runs first.
 */
static void fork_check(void)
{
	int dev = CHECK_OK(lu_open_dev()), st;
	int s = CHECK_OK(lu_retrieve_session(dev, "zc-fork"));
	const char *state = zerocopy_state();
	pid_t pid;

	EXPECT(!strcmp(state, "auto") || !strcmp(state, "yes"));
	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		char *p, want[32];
		int m;

		if (setgid(65534) || setuid(65534))
			_exit(2);
		m = lu_retrieve_fd(s, 5);
		if (m < 0)
			_exit(3);
		p = mmap(NULL, ZC_FORK, PROT_READ, MAP_SHARED, m, 0);
		snprintf(want, sizeof(want), "child of b%d", boot() - 1);
		if (p == MAP_FAILED || strcmp(p + ZC_PAGE, want) ||
		    lu_compare(m, 0, ZC_PAGE, 0xf0))
			_exit(4);
		_exit(0);
	}
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	EXPECT(WIFEXITED(st));
	EXPECT_EQ(WEXITSTATUS(st), 0);
	EXPECT_STR(zerocopy_state(), "yes");
	close(s);
	close(dev);
}

KX_SCENARIO(kx_zc_fork, "zc-fork",
	    { "stage1", fork_stage1,
	      "the memfd zc-fork preserves (token 5)" },
	    { "stage2", fork_stage2,
	      "the page the previous boot's child wrote says 'child of bN'; preserved again, a forked child writes through its inherited MAP_SHARED mapping afterwards and exits 0" },
	    { "check", fork_check,
	      "an unprivileged retriever (nobody) restores it: the child's write and every byte, the retriever exits 0, zerocopy 'yes' after" });

/* --- zc-offline: the range's memory blocks cannot be offlined ------------- */

static void offline_check(void)
{
	unsigned long long addr = strtoull(getenv("LU_ADDR") ?: "0", NULL, 16);
	unsigned long long size = strtoull(getenv("LU_SIZE") ?: "0", NULL, 0);
	unsigned long long bs = strtoull(read_text("/sys/devices/system/memory/block_size_bytes") ?: "0",
					 NULL, 16);
	int tried = 0;

	CHECK(addr && size && bs);
	EXPECT_STR(zerocopy_state(), "yes");
	for (unsigned long long a = addr; a < addr + size; a += bs) {
		const char *state = lu_fmt("/sys/devices/system/memory/memory%llu/state", a / bs);
		int ret = lu_write_text(state, "offline");

		EXPECT(ret < 0);
		EXPECT_STR(read_text(state), "online\n");
		if (!tried++)
			lu_diag("offline %s: %s", state, strerror(-ret));
	}
	EXPECT_EQ(tried, (int)(size / bs));
}

KX_SCENARIO(kx_zc_offline, "zc-offline",
	    { "check", offline_check,
	      "zerocopy 'yes'; offlining each memory block of the range fails and the block stays 'online' (every block tried)" });

/* --- zc-migrate: migrate=1 moves a memfd into the range at PRESERVE_FD --- */

/* How many of @m's pages lie in the range (page frames from pagemap). */
static long long pages_in_range(int m, uint64_t size)
{
	uint64_t lo = strtoull(getenv("LU_ADDR") ?: "0", NULL, 16) / ZC_PAGE;
	uint64_t hi = lo + strtoull(getenv("LU_SIZE") ?: "0", NULL, 10) / ZC_PAGE;
	volatile unsigned char *p = mmap(NULL, size, PROT_READ, MAP_SHARED, m, 0);
	int pm = open("/proc/self/pagemap", O_RDONLY);
	long long in = 0;

	CHECK(p != MAP_FAILED && pm >= 0 && hi > lo);
	for (uint64_t off = 0; off < size; off += ZC_PAGE) {
		uint64_t e;

		(void)p[off];	/* fault it in: maps the page-cache page */
		CHECK_EQ(pread(pm, &e, sizeof(e), ((uintptr_t)p + off) / ZC_PAGE * sizeof(e)),
			 sizeof(e));
		CHECK(e >> 63);	/* present; root sees the frame */
		e &= (1ULL << 55) - 1;
		in += e >= lo && e < hi;
	}
	close(pm);
	munmap((void *)p, size);
	return in;
}

static void migrate_stage1(void)
{
	int moved = CHECK_OK(lu_memfd("zc-migrate", 0, ZC_MIGRATE, 0x3a));
	int mapped = CHECK_OK(lu_memfd("zc-migrate-mapped", 0, ZC_MIGRATE, 0x3b));
	int held = CHECK_OK(lu_memfd("zc-migrate-held", 0, ZC_MIGRATE, 0x3c));
	volatile unsigned char *map = zc_map(mapped, ZC_MIGRATE);
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "zc-migrate"));
	loff_t off5 = 5 * ZC_PAGE;
	int pipefd[2];

	for (uint64_t off = 0; off < ZC_MIGRATE; off += ZC_PAGE)
		(void)map[off];		/* mapped: in this process's page tables */
	/* page 5 of held: referenced by a pipe (splice), mapped by nobody */
	CHECK_EQ(pipe(pipefd), 0);
	CHECK_EQ(splice(held, &off5, pipefd[1], NULL, ZC_PAGE, 0), (ssize_t)ZC_PAGE);

	EXPECT_EQ(pages_in_range(moved, ZC_MIGRATE), 0);
	EXPECT_STR(zerocopy_state(), "auto");	/* not RAM yet in boot 1 */
	CHECK_EQ(lu_write_text(LU_PARAM_DIR "/migrate", "1"), 0);
	CHECK_EQ(lu_preserve_fd(s, moved, 1), 0);
	CHECK_EQ(lu_preserve_fd(s, mapped, 2), 0);
	CHECK_EQ(lu_preserve_fd(s, held, 3), 0);
	CHECK_EQ(lu_write_text(LU_PARAM_DIR "/migrate", "0"), 0);
	EXPECT_STR(zerocopy_state(), "yes");	/* the first migration added it */
	EXPECT_EQ(pages_in_range(moved, ZC_MIGRATE), ZC_MIGRATE / ZC_PAGE);
	EXPECT_EQ(lu_compare(moved, 0, ZC_MIGRATE, 0x3a), 0);
	EXPECT_EQ(pages_in_range(mapped, ZC_MIGRATE), 0);
	/* all but the page the pipe holds (old: that one moved too) */
	EXPECT_EQ(pages_in_range(held, ZC_MIGRATE), ZC_MIGRATE / ZC_PAGE - 1);
	close(pipefd[0]);
	close(pipefd[1]);
	close(held);
	munmap((void *)map, ZC_MIGRATE);
	close(dev);
	kx_hold(&s, 1);
}

static void migrate_check(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_retrieve_session(dev, "zc-migrate"));

	kx_expect_memfd(CHECK_OK(lu_retrieve_fd(s, 1)), ZC_MIGRATE, 0x3a);
	kx_expect_memfd(CHECK_OK(lu_retrieve_fd(s, 2)), ZC_MIGRATE, 0x3b);
	kx_expect_memfd(CHECK_OK(lu_retrieve_fd(s, 3)), ZC_MIGRATE, 0x3c);
	EXPECT_EQ(lu_finish(s), 0);
	close(s);
	close(dev);
}

KX_SCENARIO(kx_zc_migrate, "zc-migrate",
	    { "stage1", migrate_stage1,
	      "with migrate=1 (the range not RAM yet: zerocopy 'auto', then 'yes') PRESERVE_FD moves every page of a memfd written with write() into the range (pagemap), none of a mapped one, all but the page a pipe holds of a third" },
	    { "check", migrate_check,
	      "the three memfds arrive byte for byte; FINISH 0" });

/* --- zc-thp: retrieved under every shmem THP setting ---------------------- */

#define THP_SIZE	(6 * LU_MiB + ZC_PAGE)	/* three huge folios and a page */
#define THP_HOLE	(2 * LU_MiB + 64 * LU_KiB)	/* a hole inside the second */
#define THP_HOLE_LEN	(128 * LU_KiB)
#define THP_KNOB	"/sys/kernel/mm/transparent_hugepage/shmem_enabled"

static const char *const thp_modes[] = { "always", "within_size", "advise", "force" };

static void thp_stage1(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "zc-thp"));

	for (size_t i = 0; i < LU_ARRAY_SIZE(thp_modes); i++) {
		int m = CHECK_OK(lu_memfd(thp_modes[i], 0, THP_SIZE, 0x40 + i));

		CHECK_EQ(lu_fallocate(m, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      THP_HOLE, THP_HOLE_LEN), 0);
		CHECK_EQ(lu_preserve_fd(s, m, i + 1), 0);
		close(m);
	}
	close(dev);
	kx_hold(&s, 1);
}

/* The bracketed word of shmem_enabled ("always [never] ..."), or "". */
static const char *thp_mode(void)
{
	static char buf[32];
	const char *t = read_text(THP_KNOB), *a = t ? strchr(t, '[') : NULL;

	if (!a)
		return "";
	snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(a + 1, "]"), a + 1);
	return buf;
}

static void thp_check(void)
{
	uint64_t data = (THP_SIZE - THP_HOLE_LEN) / ZC_PAGE;
	char saved[32];
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_retrieve_session(dev, "zc-thp"));

	snprintf(saved, sizeof(saved), "%s", thp_mode());
	CHECK(*saved);
	for (size_t i = 0; i < LU_ARRAY_SIZE(thp_modes); i++) {
		long long given = lh("restore_pages_given"), copied = lh("restore_pages_copied");
		long long huge = lu_meminfo_kib("ShmemHugePages");
		int m;

		CHECK_EQ(lu_write_text(THP_KNOB, thp_modes[i]), 0);
		m = lu_retrieve_fd(s, i + 1);
		EXPECT_EQ(lu_write_text(THP_KNOB, saved), 0);
		if (m < 0)
			lu_diag("zc-thp: %s: RETRIEVE_FD %s", thp_modes[i], lu_errname(-m));
		CHECK(m >= 0);
		given = lh("restore_pages_given") - given;
		copied = lh("restore_pages_copied") - copied;
		huge = lu_meminfo_kib("ShmemHugePages") - huge;
		lu_diag("zc-thp: %s: %lld pages given, %lld copied, ShmemHugePages +%lld kB",
			thp_modes[i], given, copied, huge);
		EXPECT_EQ(lu_fsize(m), THP_SIZE);
		EXPECT_EQ(lu_compare(m, 0, THP_HOLE, 0x40 + i), 0);
		EXPECT_EQ(lu_compare(m, THP_HOLE, THP_HOLE_LEN, LU_ZEROS), 0);
		EXPECT_EQ(lu_compare(m, THP_HOLE + THP_HOLE_LEN,
				     THP_SIZE - THP_HOLE - THP_HOLE_LEN, 0x40 + i), 0);
		/*
		 * The direct route inserts the preserved pages themselves, order
		 * 0, whatever the setting: every data page taken over, none
		 * copied, no huge folio (khugepaged may collapse them later).
		 * The old route copied into the huge folios shmem made for
		 * "force" and "always".
		 */
		EXPECT_EQ(given, (long long)data);
		EXPECT_EQ(copied, 0);
		EXPECT_EQ(huge, 0);
		close(m);
	}
	EXPECT_STR(thp_mode(), saved);
	EXPECT_EQ(lu_finish(s), 0);
	close(s);
	close(dev);
}

KX_SCENARIO(kx_zc_thp, "zc-thp",
	    { "stage1", thp_stage1,
	      "one 6 MiB + 4 KiB memfd per shmem THP setting, a hole in the second 2 MiB, preserves" },
	    { "check", thp_check,
	      "retrieved under each shmem_enabled setting (always, within_size, advise, force): size, bytes and hole; every data page given, none copied, no huge folio; the setting restored; FINISH 0" });

/* --- zc-room: pinned pages punched out after PRESERVE_FD ----------------- */

#define ZC_ROOM		(8ULL * LU_MiB)
#define ROOM_COPIED	"/tmp/zc-room-copied"

static void room_stage1(void)
{
	zc_preserve_hold("zc-room", CHECK_OK(lu_memfd("zc-room", 0, ZC_ROOM, 0x5a)), 9);
}

/* Whether a new session would take a sparse memfd of @pages pages. */
static int room_fits(int dev, uint64_t pages)
{
	int s = CHECK_OK(lu_create_session(dev, "zc-room-probe"));
	int m = CHECK_OK(lu_memfd_sparse("zc-room-probe", 0, pages * ZC_PAGE));
	int ret = lu_preserve_fd(s, m, 1);

	close(m);
	close(s);
	CHECK(!ret || ret == -ENOSPC);
	return !ret;
}

/*
 * Boot 2: zc-room's pages were taken over, so they are pinned in the range
 * and need no copy; another file fills what room is left; then, through an
 * fd opened before PRESERVE_FD, every pinned page is punched out and
 * written anew. The kexec must copy those 2048 new pages, and the filler's,
 * without running out: zc-room's PRESERVE_FD reserved room for them (old:
 * it reserved none, and one of the two arrived as zeros).
 */
static void room_stage2(void)
{
	int s, m = zc_retrieve("zc-room", 9, &s), early, dev, sess[2], fill;
	uint64_t lo = 0, hi;

	EXPECT_EQ(lu_compare(m, 0, ZC_ROOM, 0x5a), 0);
	close(s);
	early = CHECK_OK(open(lu_fmt("/proc/self/fd/%d", m), O_RDWR));
	dev = CHECK_OK(lu_open_dev());
	sess[0] = CHECK_OK(lu_create_session(dev, "zc-room"));
	CHECK_EQ(lu_preserve_fd(sess[0], m, 9), 0);
	sess[1] = CHECK_OK(lu_create_session(dev, "zc-room-fill"));
	hi = lu_param_field("space", "free") / ZC_PAGE + 1;
	while (lo + 1 < hi) {		/* lo fits, hi does not */
		uint64_t mid = lo + (hi - lo) / 2;

		if (room_fits(dev, mid))
			lo = mid;
		else
			hi = mid;
	}
	fill = CHECK_OK(lu_memfd_sparse("zc-room-fill", 0, lo * ZC_PAGE));
	CHECK_EQ(lu_preserve_fd(sess[1], fill, 1), 0);
	CHECK_EQ(lu_fill(fill, 0, lo * ZC_PAGE, 0x5c), 0);
	lu_diag("zc-room: a filler of %llu pages; space left %lld bytes",
		(unsigned long long)lo, lu_param_field("space", "free"));
	EXPECT(lu_param_field("space", "free") < (long long)(2 * ZC_PAGE));
	EXPECT_EQ(lu_fallocate(early, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, ZC_ROOM), 0);
	EXPECT_EQ(lu_fill(early, 0, ZC_ROOM, 0x5b), 0);
	close(early);
	close(fill);
	close(m);
	close(dev);
	kx_hold(sess, 2);
}

static void room_check(void)
{
	int s, m = zc_retrieve("zc-room", 9, &s), s2, fill;
	long long size;

	EXPECT_EQ(lu_fsize(m), ZC_ROOM);
	EXPECT_EQ(lu_compare(m, 0, ZC_ROOM, 0x5b), 0);
	fill = zc_retrieve("zc-room-fill", 1, &s2);
	size = lu_fsize(fill);
	EXPECT(size > 0);
	EXPECT_EQ(lu_compare(fill, 0, size, 0x5c), 0);
	/* for zc-status: what that kexec had to copy */
	FILE *f = fopen(ROOM_COPIED, "w");

	CHECK(f);
	fprintf(f, "%lld\n", (long long)(ZC_ROOM / ZC_PAGE) + size / (long long)ZC_PAGE);
	CHECK_EQ(fclose(f), 0);
	close(fill);
	close(m);
	close(s2);
	close(s);
}

KX_SCENARIO(kx_zc_room, "zc-room",
	    { "stage1", room_stage1,
	      "the memfd zc-room preserves (token 9)" },
	    { "stage2", room_stage2,
	      "taken over and preserved again; a filler file takes the rest of the range (free < 2 pages); every pinned page punched and rewritten through an fd opened before PRESERVE_FD" },
	    { "check", room_check,
	      "zc-room has the rewritten bytes at its size, the filler all its bytes: the kexec had room for both copies" });

/* --- zc-dio: O_DIRECT into and out of a memfd's pages in the range ------- */

#define ZC_DIO		(4ULL * LU_MiB)
#define DIO_IMG		"/tmp/zc-dio.img"

static void dio_stage1(void)
{
	zc_preserve_hold("zc-dio", CHECK_OK(lu_memfd("zc-dio", 0, ZC_DIO, 0xd0)), 10);
}

/* /dev/loop0 on a file of the pattern @seed, opened O_DIRECT. */
static int dio_device(uint64_t seed)
{
	int img = CHECK_OK(open(DIO_IMG, O_RDWR | O_CREAT | O_TRUNC, 0600));

	CHECK_EQ(lu_fill(img, 0, ZC_DIO, seed), 0);
	close(img);
	CHECK_EQ(lu_system("lu-kmod loop && losetup /dev/loop0 " DIO_IMG), 0);
	return CHECK_OK(open("/dev/loop0", O_RDWR | O_DIRECT));
}

/*
 * Boot 2 (the pages taken over: pinned in the range once preserved): a
 * direct read from a block device into the first MiB through the memfd's
 * mapping before PRESERVE_FD, into the second MiB after it; a direct write
 * of the third MiB out to the device. The kexec lists the pages in place;
 * boot 3 finds what the device wrote into them.
 */
static void dio_stage2(void)
{
	int s, m = zc_retrieve("zc-dio", 10, &s), dev;
	char *p = zc_map(m, ZC_DIO), *back;

	close(s);
	dev = dio_device(0xd1);
	CHECK_EQ(pread(dev, p, LU_MiB, 0), (ssize_t)LU_MiB);
	zc_preserve_hold("zc-dio", m, 10);
	CHECK_EQ(pread(dev, p + LU_MiB, LU_MiB, LU_MiB), (ssize_t)LU_MiB);
	CHECK_EQ(pwrite(dev, p + 2 * LU_MiB, LU_MiB, 2 * LU_MiB), (ssize_t)LU_MiB);
	back = mmap(NULL, LU_MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(back != MAP_FAILED);
	CHECK_EQ(pread(dev, back, LU_MiB, 2 * LU_MiB), (ssize_t)LU_MiB);
	EXPECT(!memcmp(back, p + 2 * LU_MiB, LU_MiB));
	EXPECT_EQ(lu_compare(m, 0, 2 * LU_MiB, 0xd1), 0);
	munmap(back, LU_MiB);
	munmap(p, ZC_DIO);
	close(dev);
	close(m);
	EXPECT_EQ(lu_system("losetup -d /dev/loop0"), 0);
}

static void dio_check(void)
{
	int s, m = zc_retrieve("zc-dio", 10, &s);

	EXPECT_EQ(lu_fsize(m), ZC_DIO);
	EXPECT_EQ(lu_compare(m, 0, 2 * LU_MiB, 0xd1), 0);
	EXPECT_EQ(lu_compare(m, 2 * LU_MiB, 2 * LU_MiB, 0xd0), 0);
	close(m);
	close(s);
}

KX_SCENARIO(kx_zc_dio, "zc-dio",
	    { "stage1", dio_stage1,
	      "the memfd zc-dio preserves (token 10)" },
	    { "stage2", dio_stage2,
	      "O_DIRECT reads from a loop device into its first MiB (before PRESERVE_FD) and second MiB (after), an O_DIRECT write of the third MiB to the device reads back equal" },
	    { "check", dio_check,
	      "the first 2 MiB hold the device's bytes, the next 2 MiB the memfd's own" });

/* --- zc-parallel: a take-over on every CPU, stopped and resumed --------- */

#define ZC_PARALLEL	(64ULL * LU_MiB)
#define ZC_PAR_SEED	0x9a7a11e1ULL
#define ZC_PAR_CG	LU_CGROUP "/zc-parallel"

static void parallel_stage1(void)
{
	int m = CHECK_OK(lu_memfd("zc-parallel", 0, ZC_PARALLEL, ZC_PAR_SEED));

	zc_preserve_hold("zc-parallel", m, 1);
}

/* A child that retrieves token 1 of session fd @s; exits with the errno. */
static pid_t parallel_child(int s, int ready, const char *cgroup)
{
	pid_t pid;

	pid = kx_fork();
	if (pid)
		return pid;
	if (cgroup && lu_write_text(lu_fmt("%s/cgroup.procs", cgroup),
				    lu_fmt("%d", getpid())))
		_exit(100);
	if (ready >= 0 && write(ready, "+", 1) != 1)
		_exit(101);
	_exit(-lu_retrieve_fd(s, 1) & 0xff);
}

static void parallel_stage2(void)
{
	long long given0 = lh("restore_pages_given"), given;
	long long total0 = lu_meminfo_kib("MemTotal");
	int fails0 = lu_dmesg_count("restoring the memfd failed");
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_retrieve_session(dev, "zc-parallel"));
	int pipefd[2], status, m;
	pid_t pid;
	char c;

	close(dev);
	/* 1. too little memory for the file: ENOMEM, some pages given */
	if (lu_memcg_make(LU_CGROUP, ZC_PAR_CG) == 0 &&
	    lu_write_text(ZC_PAR_CG "/memory.max", "8M") == 0) {
		pid = parallel_child(s, -1, ZC_PAR_CG);
		CHECK_EQ(waitpid(pid, &status, 0), pid);
		EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == ENOMEM);
		if (WIFEXITED(status) && WEXITSTATUS(status))
			lu_diag("zc-parallel: in an 8 MiB memory cgroup: %s",
				lu_errname(WEXITSTATUS(status)));
		rmdir(ZC_PAR_CG);
	} else {
		lu_diag("zc-parallel: no memory cgroup: the ENOMEM case is not tried");
	}
	given = lh("restore_pages_given") - given0;
	lu_diag("zc-parallel: pages given before the kill: %lld", given);

	/* 2. killed in the middle of the take-over */
	CHECK_EQ(pipe(pipefd), 0);
	pid = parallel_child(s, pipefd[1], NULL);
	close(pipefd[1]);
	CHECK_EQ(read(pipefd[0], &c, 1), 1);
	close(pipefd[0]);
	/*
	 * at once: the direct take-over gives 64 MiB in a few tens of ms on
	 * two host threads, so the 30 ms this waited let it finish first
	 */
	CHECK_EQ(kill(pid, SIGKILL), 0);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	EXPECT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	lu_diag("zc-parallel: pages given after the kill: %lld",
		lh("restore_pages_given") - given0);
	EXPECT(lh("restore_pages_given") - given0 < (long long)(ZC_PARALLEL / ZC_PAGE));

	/* 3. the next retrieve resumes: each page given once, every byte there */
	m = CHECK_OK(lu_retrieve_fd(s, 1));
	kx_expect_memfd(m, ZC_PARALLEL, ZC_PAR_SEED);
	EXPECT_EQ(lh("restore_pages_given") - given0, (long long)(ZC_PARALLEL / ZC_PAGE));
	/*
	 * each unit is counted in the managed pages at once and what it did
	 * not give taken back: MemTotal grew by exactly the pages given
	 */
	EXPECT_EQ(lu_meminfo_kib("MemTotal") - total0, (long long)(ZC_PARALLEL / 1024));
	EXPECT(lu_dmesg_count("restoring the memfd failed") - fails0 >= 1);
	/* a 2-vCPU VM: the caller and one worker */
	EXPECT_EQ(lh("restore_threads"), 2);
	EXPECT_EQ(lu_finish(s), 0);
	close(m);
	close(s);
}

KX_SCENARIO(kx_zc_parallel, "zc-parallel",
	    { "stage1", parallel_stage1,
	      "the memfd zc-parallel preserves" },
	    { "stage2", parallel_stage2,
	      "a retriever in an 8 MiB memory cgroup exits ENOMEM; one SIGKILLed mid-take-over gave fewer than all pages; the next RETRIEVE_FD gives each page exactly once (restore_pages_given = the file's pages), MemTotal grows by the file, a failure logged, restore_threads 2, every byte; FINISH 0" });

/* --- zc-status: what each kexec copied ----------------------------------- */

static void status_check(void)
{
	long long pages = lh("pages_inplace") + lh("pages_copied");

	lu_diag("last_handover: %s", lu_param("last_handover"));
	EXPECT_STR(lu_param("handover_status") ?: "", "loaded\n");
	EXPECT(pages > 0);
	if (boot() == 2) {
		/*
		 * everything was new: copied by the first kexec, but zc-migrate's
		 * two files moved into the range at PRESERVE_FD (but the page a
		 * pipe held), listed in place; all of
		 * it taken over now
		 */
		EXPECT_EQ(lh("pages_inplace"), 2 * ZC_MIGRATE / ZC_PAGE - 1);
		/* zc-thp's too (the direct route; before, copied into huge folios) */
		EXPECT_EQ(lh("restore_pages_given"), lh("pages_copied") + lh("pages_inplace"));
		EXPECT_EQ(lh("restore_pages_copied"), 0);
	} else {
		/*
		 * nothing copied inside this kexec but zc-room's pages (boot 3:
		 * what its check found), all of it taken over again
		 */
		const char *room = read_text(ROOM_COPIED);

		EXPECT_EQ(lh("pages_copied"), boot() == 3 && room ? atoll(room) : 0);
		EXPECT_EQ(lh("restore_pages_given"), lh("pages_inplace") + lh("pages_copied"));
		EXPECT_EQ(lh("restore_pages_copied"), 0);
	}
	/*
	 * boots 2 and 3 checksummed in place: only zc-writer's pages change
	 * late. Boot 1 did not (nothing to mismatch in boot 2); in boot 3 the
	 * writer ran on while boot 2's commit took the checksums: some of its
	 * extents mismatch, at most one per page of it
	 */
	lu_diag("restore_live_mismatch %lld", lh("restore_live_mismatch"));
	if (boot() == 2) {
		EXPECT_EQ(lh("restore_live_mismatch"), 0);
	} else {
		EXPECT(lh("restore_live_mismatch") >= 1);
		EXPECT(lh("restore_live_mismatch") <= (long long)(ZC_WRITER / ZC_PAGE));
	}
	EXPECT_STR(zerocopy_state(), "yes");
}

KX_SCENARIO(kx_zc_status, "zc-status",
	    { "check", status_check,
	      "handover_status loaded, zerocopy yes; last_handover's counts: boot 2 gave every page (given = copied + in place, nothing copied at restore); from boot 3 on the kexec copied nothing (but zc-room's pages); restore_live_mismatch 0, or within the writer's pages where it wrote" });

/* --- zc-fallback: the range cannot be RAM: restored by copying ----------- */

static void fallback_stage1(void)
{
	zc_preserve_hold("zc-fallback",
			 CHECK_OK(lu_memfd("zc-fallback", 0, 16 * LU_MiB, 0xfa)), 6);
}

static void fallback_check(void)
{
	int s, m = zc_retrieve("zc-fallback", 6, &s);

	kx_expect_memfd(m, 16 * LU_MiB, 0xfa);
	EXPECT_EQ(lh("restore_pages_copied"), 16 * LU_MiB / ZC_PAGE);
	EXPECT_EQ(lh("restore_pages_given"), 0);
	EXPECT_STR(zerocopy_state(), "unavailable");
	EXPECT(lu_dmesg_match("liveupdate:", "zero-copy", 6, 1) > 0);
	close(m);
	close(s);
}

KX_SCENARIO(kx_zc_fallback, "zc-fallback",
	    { "stage1", fallback_stage1,
	      "a 16 MiB memfd preserves in a VM whose range cannot be RAM" },
	    { "check", fallback_check,
	      "restored by copying all 16 MiB (restore_pages_copied 4096, given 0), every byte; zerocopy 'unavailable' and a 'zero-copy' kernel log line" });

/* --- zc-fault: a failed hot-add (test_ram_fault=1, 2) ------------------- */

#define ZC_FAULT	(8ULL * LU_MiB)

/* RETRIEVE_FD of session @name's token 1: the fd, or -errno. */
static int fault_retrieve(int dev, const char *name)
{
	int s = lu_retrieve_session(dev, name), m;

	if (s < 0)
		return s;
	m = lu_retrieve_fd(s, 1);
	close(s);
	return m;
}

/* @m is @seed's bytes, or the retrieve gave EIO (never wrong bytes). */
static void fault_expect(const char *name, int m, uint64_t seed)
{
	lu_diag("zc-fault: %s: %s", name, m < 0 ? lu_errname(-m) : "restored");
	if (m < 0) {
		EXPECT_EQ(m, -EIO);
		return;
	}
	EXPECT_EQ(lu_fsize(m), ZC_FAULT);
	EXPECT_EQ(lu_compare(m, 0, ZC_FAULT, seed), 0);
	close(m);
}

/* Boot 1: two memfds, copied by the kexec (checksummed). */
static void fault_stage1(void)
{
	zc_preserve_hold("zc-fault-a", CHECK_OK(lu_memfd("zc-fault-a", 0, ZC_FAULT, 0xa1)), 1);
	zc_preserve_hold("zc-fault-b", CHECK_OK(lu_memfd("zc-fault-b", 0, ZC_FAULT, 0xb1)), 1);
}

/*
 * Boot 2: both taken over and preserved again, so the next kexec leaves
 * them in place without a checksum; a new one is copied (checksummed).
 */
static void fault_stage2(void)
{
	int dev = CHECK_OK(lu_open_dev()), a, b;

	a = CHECK_OK(fault_retrieve(dev, "zc-fault-a"));
	b = CHECK_OK(fault_retrieve(dev, "zc-fault-b"));
	close(dev);
	EXPECT_STR(zerocopy_state(), "yes");
	EXPECT_EQ(lu_compare(a, 0, ZC_FAULT, 0xa1), 0);
	EXPECT_EQ(lu_compare(b, 0, ZC_FAULT, 0xb1), 0);
	zc_preserve_hold("zc-fault-a", a, 1);
	zc_preserve_hold("zc-fault-b", b, 1);
	zc_preserve_hold("zc-fault-c", CHECK_OK(lu_memfd("zc-fault-c", 0, ZC_FAULT, 0xc1)), 1);
	close(a);
	close(b);
}

/*
 * Boot 3, test_ram_fault=1: the first retrieve's hot-add fails and is
 * undone. a and b (in place, no checksum): EIO, for good. c (checksummed):
 * its bytes, or EIO if the allocator wrote over them meanwhile. Outgoing
 * sessions still work: d goes to boot 4.
 */
static void fault_stage3(void)
{
	int dev = CHECK_OK(lu_open_dev()), m;

	fault_expect("c", fault_retrieve(dev, "zc-fault-c"), 0xc1);
	EXPECT_STR(zerocopy_state(), "unavailable");
	EXPECT(lu_dmesg_match("liveupdate:", "only checksummed incoming data", 3, 1) > 0);
	m = fault_retrieve(dev, "zc-fault-a");
	EXPECT_EQ(m, -EIO);
	m = fault_retrieve(dev, "zc-fault-b");
	EXPECT_EQ(m, -EIO);
	close(dev);
	zc_preserve_hold("zc-fault-d", CHECK_OK(lu_memfd("zc-fault-d", 0, ZC_FAULT, 0xd1)), 1);
}

/*
 * Boot 4, test_ram_fault=2: the range stays ordinary RAM. A session made
 * before the failure cannot be handed over; nothing can be preserved after.
 * With a test fault armed the first restore makes the hot-add, not a
 * background work at the first open: a second later it has not been tried.
 */
static void fault_stage4(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int early, m;

	sleep(1);
	EXPECT_STR(zerocopy_state(), "auto");
	early = CHECK_OK(lu_create_session(dev, "zc-fault-e"));
	m = CHECK_OK(lu_memfd("zc-fault-e", 0, ZC_FAULT, 0xe1));
	CHECK_EQ(lu_preserve_fd(early, m, 1), 0);
	fault_expect("d", fault_retrieve(dev, "zc-fault-d"), 0xd1);
	EXPECT_STR(zerocopy_state(), "unavailable");
	EXPECT(lu_dmesg_match("liveupdate:", "nothing can be handed over", 3, 1) > 0);
	EXPECT_EQ(lu_create_session(dev, "zc-fault-f"), -EIO);
	EXPECT_EQ(lu_preserve_fd(early, CHECK_OK(lu_memfd("zc-fault-f", 0, 4096, 1)), 2), -EIO);
	close(m);
	close(dev);
	kx_hold(&early, 1);
}

/* Boot 5: nothing came from boot 4, whose range was not the module's. */
static void fault_check(void)
{
	int dev = CHECK_OK(lu_open_dev());

	lu_diag("zc-fault: handover_status %s", lu_status());
	EXPECT_EQ(lu_retrieve_session(dev, "zc-fault-e"), -ENOENT);
	close(dev);
}

KX_SCENARIO(kx_zc_fault, "zc-fault",
	    { "stage1", fault_stage1,
	      "two memfds zc-fault-a and zc-fault-b preserve (the kexec copies them, checksummed)" },
	    { "stage2", fault_stage2,
	      "(test_ram_fault=1) both come back byte for byte, zerocopy 'yes'; zc-fault-c preserves" },
	    { "stage3", fault_stage3,
	      "zerocopy 'unavailable', 'only checksummed incoming data' logged; the unchecksummed file's RETRIEVE_FD EIO, never wrong bytes; zc-fault-d preserves" },
	    { "stage4", fault_stage4,
	      "(test_ram_fault=2) zerocopy 'auto' then 'unavailable' after a PRESERVE_FD, 'nothing can be handed over' logged; CREATE_SESSION and PRESERVE_FD EIO" },
	    { "check", fault_check,
	      "nothing came from the boot whose range was not the module's: zc-fault-e ENOENT" });

/* --- zc-sealed: copied at PRESERVE_FD, not inside the kexec --------------- */

#define ZC_SEALED	(16ULL * LU_MiB)

static void sealed_stage1(void)
{
	int m = CHECK_OK(lu_memfd("zc-sealed", MFD_ALLOW_SEALING, ZC_SEALED, 0x5e));
	long long taken0 = lu_param_field("space", "taken"), used0 = lu_param_field("space", "used");
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "zc-sealed"));

	CHECK_EQ(lu_add_seals(m, F_SEAL_WRITE), 0);
	CHECK_EQ(lu_preserve_fd(s, m, 7), 0);
	/* its 4096 pages taken now; only the metadata stays reserved:
	 * 72 + 16 + 32 + 16 ("memfd:zc-sealed") + 24 * 4097 */
	EXPECT_EQ(lu_param_field("space", "taken") - taken0, (long long)ZC_SEALED);
	EXPECT_EQ(lu_param_field("space", "used") - used0, 72 + 16 + 32 + 16 + 24 * 4097);
	close(m);
	close(dev);
	kx_hold(&s, 1);
}

static void sealed_check(void)
{
	int s, m = zc_retrieve("zc-sealed", 7, &s);

	kx_expect_memfd(m, ZC_SEALED, 0x5e);
	EXPECT_EQ(lu_seals(m), F_SEAL_WRITE);
	/* the kexec copied the other memfd (zc-fallback's) only */
	EXPECT_EQ(lh("pages_copied"), 16 * LU_MiB / ZC_PAGE);
	EXPECT_EQ(lh("pages_inplace"), ZC_SEALED / ZC_PAGE);
	EXPECT_EQ(lh("restore_pages_copied"), (16 * LU_MiB + ZC_SEALED) / ZC_PAGE);
	close(m);
	close(s);
}

KX_SCENARIO(kx_zc_sealed, "zc-sealed",
	    { "stage1", sealed_stage1,
	      "a write-sealed memfd preserves: its pages are taken into the range at once (space taken grows by its size, used by its metadata exactly)" },
	    { "check", sealed_check,
	      "it arrives write-sealed, byte for byte; the kexec copied only zc-fallback's 16 MiB and listed the sealed one's pages in place" });

/* --- zc-commit: the first open's hot-add against the commit --------------- */

#define ZC_COMMIT	(32ULL * LU_MiB)

static void commit_preserve(void)
{
	int m = CHECK_OK(lu_memfd("zc-commit", 0, ZC_COMMIT, 0xc0 + boot()));

	zc_preserve_hold(lu_fmt("zc-commit-b%d", boot()), m, 1);
	close(m);
}

static void commit_stage1(void)
{
	commit_preserve();
}

/*
 * The first open of this boot (the hot-add starts), the handover of the
 * last boot loaded whole, a new memfd preserved at once; nothing retrieved
 * (a restore would make the hot-add itself, before the kexec).
 */
static void commit_race(void)
{
	int dev = CHECK_OK(lu_open_dev());

	lu_diag("zc-commit: handover_status %s", lu_status());
	lu_diag("zc-commit: test_ram_delay_ms %s", lu_param("test_ram_delay_ms") ?: "?");
	EXPECT_STR(lu_param("handover_status") ?: "", "loaded\n");
	EXPECT_EQ(lh("sessions"), 1);
	EXPECT_EQ(lh("files"), 1);
	close(dev);
	commit_preserve();
}

/*
 * The last race boot's memfd, byte for byte. With @swapped (6.1,
 * zerocopy-fault.plan: loaded with test_give_swapped=1, one vCPU: a single
 * task takes the pages over) one placeholder of the take-over is found
 * swapped out between its fallocate() and its lookup: the restore goes on
 * (no ENOMEM, and no EEXIST for ever after one), and the hook did run.
 */
static void commit_check_how(int swapped)
{
	int dev = CHECK_OK(lu_open_dev()), s, m, tries = 0;

	EXPECT_STR(lu_param("handover_status") ?: "", "loaded\n");
	s = CHECK_OK(lu_retrieve_session(dev, lu_fmt("zc-commit-b%d", boot() - 1)));
	while ((m = lu_retrieve_fd(s, 1)) < 0 && tries++ < 3)
		lu_diag("zc-commit: RETRIEVE_FD: %s", strerror(-m));
	CHECK(m >= 0);
	EXPECT_EQ(tries, 0);
	if (swapped)
		EXPECT_STR(lu_param("test_give_swapped") ?: "", "0\n");
	EXPECT_EQ(lu_fsize(m), ZC_COMMIT);
	EXPECT_EQ(lu_compare(m, 0, ZC_COMMIT, 0xc0 + boot() - 1), 0);
	close(m);
	close(s);
	close(dev);
}

static void commit_check(void)
{
	commit_check_how(0);
}

static void commit_check_swapped(void)
{
	commit_check_how(1);
}

KX_SCENARIO(kx_zc_commit, "zc-commit",
	    { "stage1", commit_stage1,
	      "a memfd zc-commit preserves before the race boots" },
	    { "race", commit_race,
	      "the previous boot's handover is 'loaded' with 1 session and 1 file; this boot's first open starts the hot-add and a new memfd preserves at once while the plan sweeps test_ram_delay_ms against the commit's delay" },
	    { "check", commit_check,
	      "the last race boot's memfd arrives byte for byte (handover loaded)" },
	    { "check-swapped", commit_check_swapped,
	      "(test_give_swapped=1) the take-over finds a placeholder swapped out and goes on (no ENOMEM, no EEXIST): the memfd arrives byte for byte" });
