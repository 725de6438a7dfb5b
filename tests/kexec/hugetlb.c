// SPDX-License-Identifier: GPL-2.0
/*
 * Hugetlb memfds (MFD_HUGETLB) across the kexec (module/hugetlb.c;
 * tests/kexec/hugetlb.plan: the VM reserves the pools on the kernel
 * command line, hugepagesz=2M hugepages=160 and, for hugetlb-1g,
 * hugepagesz=1G hugepages=1).
 *
 *   hugetlb      boot 1: a 2 MiB-page memfd of 256 MiB written through
 *                mmap, its position set; a write-sealed one of 8 MiB
 *                (copied at PRESERVE_FD); a shmem memfd of 16 MiB, all in
 *                one session; while preserved, ftruncate() of the first
 *                gives EPERM. Boot 2: in a hugetlb cgroup limited to 64
 *                pages, RETRIEVE_FD gives ENOMEM, nothing charged; with
 *                the limit lifted and the 2 MiB pool shrunk to 64
 *                free pages, RETRIEVE_FD gives ENOMEM and the pool is
 *                whole again; grown back, the retrieve succeeds and takes
 *                exactly 128 huge pages, charged to the caller's cgroup;
 *                every byte, size, position, seals, st_blksize, the /proc
 *                link, the mapping's page size (smaps), F_ADD_SEALS, the
 *                sealed and the shmem file.
 *   hugetlb-damaged  see below.
 *   hugetlb-1g   boot 1: a 1 GiB-page memfd of 1 GiB written through mmap;
 *                boot 2: retrieved into the one 1 GiB page of the pool,
 *                every byte, st_blksize, the mapping's page size.
 *   hugetlb-signal  boot 2: two 2 MiB-page memfds (128 and 32 MiB);
 *                boot 3: retrieved while SIGALRM arrives every 2 ms
 *                (hugetlbfs allocates interruptibly): RETRIEVE_FD called
 *                again after each EINTR finishes within 3000 calls (each
 *                goes on where the last stopped), and libliveupdate's
 *                liveupdate_retrieve_fd() returns the second; every byte.
 *   hugetlb-poison  boot 2: a 2 MiB-page memfd of 3 huge pages, preserved,
 *                then a memory error in a subpage (not the first) of its
 *                second huge page (MADV_HWPOISON, by a child; SKIP on 6.1,
 *                which has no memory error handling); boot 3: that huge
 *                page arrives as zeros (hugetlb marks the whole folio, and
 *                no byte of it is read), the others intact.
 */
#include "kx.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#ifndef MFD_HUGETLB
#define MFD_HUGETLB	0x0004U
#endif
#ifndef MFD_HUGE_SHIFT
#define MFD_HUGE_SHIFT	26
#endif
#define HT_MFD_2MB	(21U << MFD_HUGE_SHIFT)
#define HT_MFD_1GB	(30U << MFD_HUGE_SHIFT)

#define HT_2M		(2ULL * LU_MiB)
#define HT_1G		(1024ULL * LU_MiB)
#define HT_BIG		(256ULL * LU_MiB)
#define HT_SEALED	(8ULL * LU_MiB)
#define HT_SHMEM	(16ULL * LU_MiB)
#define HT_POS		(3 * 4096 + 5)
#define HT_SEALS	(F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK)
#define HT_CG		LU_CGROUP "/kx-hugetlb"

/* /sys/kernel/mm/hugepages/hugepages-NkB/FIELD of pages of @size bytes */
static long long ht_pool(uint64_t size, const char *field)
{
	return lu_read_number(lu_fmt("/sys/kernel/mm/hugepages/hugepages-%llukB/%s",
				     (unsigned long long)(size >> 10), field));
}

static int ht_pool_set(uint64_t size, long long nr)
{
	return lu_write_text(lu_fmt("/sys/kernel/mm/hugepages/hugepages-%llukB/nr_hugepages",
				    (unsigned long long)(size >> 10)),
			     lu_fmt("%lld", nr));
}

/* A hugetlb memfd of @size with huge pages of @page bytes, written through mmap. */
static int ht_make(const char *name, unsigned int flags, uint64_t page,
		   uint64_t size, uint64_t seed)
{
	int fd = memfd_create(name, MFD_HUGETLB | flags |
			      (page == HT_1G ? HT_MFD_1GB : HT_MFD_2MB));
	void *p;

	CHECK(fd >= 0);
	CHECK_EQ(ftruncate(fd, (off_t)size), 0);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	lu_pattern(p, 0, size, seed);
	CHECK_EQ(munmap(p, size), 0);
	return fd;
}

/* KernelPageSize of the mapping at @addr, in kB (/proc/self/smaps), or -1. */
static long long ht_kernel_page_kb(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[256];
	int in = 0;
	long long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		/* a mapping's first line: "LO-HI perms ..." */
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			continue;
		}
		if (in && sscanf(line, "KernelPageSize: %lld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/*
 * A retrieved hugetlb memfd: mapped again, every byte of pattern @seed,
 * through huge pages of @page bytes; no huge page allocated by the mapping
 * (the restore allocated them all).
 */
static void ht_expect(int fd, uint64_t page, uint64_t size, uint64_t seed)
{
	static unsigned char want[1 << 16];
	long long free_before = ht_pool(page, "free_hugepages");
	struct stat st;
	unsigned char *p;
	uint64_t off;
	long long bad = 0;

	CHECK_EQ(fstat(fd, &st), 0);
	EXPECT_EQ(st.st_size, size);
	EXPECT_EQ(st.st_blksize, page);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	for (off = 0; off < size && !bad; off += sizeof(want)) {
		lu_pattern(want, off, sizeof(want), seed);
		if (memcmp(p + off, want, sizeof(want)))
			for (size_t i = 0; i < sizeof(want); i++)
				if (p[off + i] != want[i]) {
					bad = 1 + off + i;
					break;
				}
	}
	if (bad)
		lu_diag("hugetlb: differs at byte %lld", bad - 1);
	EXPECT_EQ(bad, 0);
	EXPECT_EQ(ht_kernel_page_kb(p), page >> 10);
	EXPECT_EQ(ht_pool(page, "free_hugepages"), free_before);
	CHECK_EQ(munmap(p, size), 0);
	/* read() works too (hugetlbfs has read_iter, no write_iter) */
	EXPECT_EQ(lu_compare(fd, size - LU_MiB, LU_MiB, seed), 0);
}

static void ht_stage1(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "hugetlb"));
	int big, sealed, sh;

	big = ht_make("ht-big", MFD_ALLOW_SEALING, HT_2M, HT_BIG, 0x2a);
	CHECK_EQ(lseek(big, HT_POS, SEEK_SET), HT_POS);
	sealed = ht_make("ht-sealed", MFD_ALLOW_SEALING, HT_2M, HT_SEALED, 0x2b);
	CHECK_EQ(lu_add_seals(sealed, HT_SEALS), 0);
	sh = CHECK_OK(lu_memfd("ht-shmem", 0, HT_SHMEM, 0x2c));
	EXPECT_EQ(lu_preserve_fd(s, big, 1), 0);
	EXPECT_EQ(lu_preserve_fd(s, sealed, 2), 0);
	EXPECT_EQ(lu_preserve_fd(s, sh, 3), 0);
	/* the size is frozen while preserved (no seal of the user's says so) */
	EXPECT_EQ(lu_ftruncate(big, HT_BIG + HT_2M), -EPERM);
	EXPECT_EQ(lu_ftruncate(big, HT_BIG - HT_2M), -EPERM);
	EXPECT_EQ(lu_ftruncate(big, HT_BIG), 0);
	EXPECT_EQ(lu_seals(big), 0);
	/* preserved once only */
	EXPECT_EQ(lu_preserve_fd(s, big, 4), -EBUSY);
	close(big);
	close(sealed);
	close(sh);
	close(dev);
	kx_hold(&s, 1);
}

static void ht_check(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_retrieve_session(dev, "hugetlb"));
	long long nr = ht_pool(HT_2M, "nr_hugepages");
	long long free0 = ht_pool(HT_2M, "free_hugepages");
	long long need = HT_BIG / HT_2M;
	int big, sealed, sh;

	lu_diag("hugetlb: 2 MiB pool %lld pages, %lld free", nr, free0);
	CHECK(free0 >= need + (long long)(HT_SEALED / HT_2M));
	/*
	 * The restore is charged to the caller's hugetlb cgroup: under a
	 * limit of 64 pages, ENOMEM and nothing left charged or taken.
	 */
	CHECK_EQ(lu_memcg_make(LU_CGROUP, HT_CG), 0);
	CHECK_EQ(lu_write_text(LU_CGROUP "/cgroup.subtree_control", "+hugetlb"), 0);
	CHECK_EQ(lu_write_text(HT_CG "/cgroup.procs", lu_fmt("%d", getpid())), 0);
	CHECK_EQ(lu_write_text(HT_CG "/hugetlb.2MB.max", lu_fmt("%llu", 64 * HT_2M)), 0);
	EXPECT_EQ(lu_retrieve_fd(s, 1), -ENOMEM);
	EXPECT_EQ(lu_read_number(HT_CG "/hugetlb.2MB.current"), 0);
	EXPECT_EQ(ht_pool(HT_2M, "free_hugepages"), free0);
	CHECK_EQ(lu_write_text(HT_CG "/hugetlb.2MB.max", "max"), 0);
	/* a pool too short: ENOMEM, and the pages taken go back */
	CHECK_EQ(ht_pool_set(HT_2M, nr - free0 + 64), 0);
	CHECK_EQ(ht_pool(HT_2M, "free_hugepages"), 64);
	EXPECT_EQ(lu_retrieve_fd(s, 1), -ENOMEM);
	EXPECT_EQ(ht_pool(HT_2M, "free_hugepages"), 64);
	/* grown again: the retry gets every byte */
	CHECK_EQ(ht_pool_set(HT_2M, nr), 0);
	CHECK_EQ(ht_pool(HT_2M, "free_hugepages"), free0);
	big = lu_retrieve_fd(s, 1);
	CHECK(big >= 0);
	EXPECT_EQ(ht_pool(HT_2M, "free_hugepages"), free0 - need);
	EXPECT_EQ(lu_read_number(HT_CG "/hugetlb.2MB.current"), need * (long long)HT_2M);
	EXPECT_EQ(lu_fpos(big), HT_POS);
	EXPECT_EQ(lu_seals(big), 0);
	EXPECT_STR(lu_fd_link(big), "/memfd:ht-big (deleted)");
	ht_expect(big, HT_2M, HT_BIG, 0x2a);
	/* a second retrieve is the same file */
	EXPECT_EQ(ht_pool(HT_2M, "free_hugepages"), free0 - need);
	/* sealing goes on as on a memfd_create(MFD_ALLOW_SEALING) one */
	EXPECT_EQ(lu_add_seals(big, F_SEAL_WRITE), 0);
	EXPECT_EQ(lu_seals(big), F_SEAL_WRITE);

	sealed = CHECK_OK(lu_retrieve_fd(s, 2));
	EXPECT_EQ(lu_seals(sealed), HT_SEALS);
	EXPECT_EQ(lu_fsize(sealed), HT_SEALED);
	EXPECT_EQ(lu_compare(sealed, 0, HT_SEALED, 0x2b), 0);
	EXPECT_EQ(lu_ftruncate(sealed, HT_SEALED + HT_2M), -EPERM);
	EXPECT_EQ(ht_pool(HT_2M, "free_hugepages"),
		  free0 - need - (long long)(HT_SEALED / HT_2M));

	sh = CHECK_OK(lu_retrieve_fd(s, 3));
	kx_expect_memfd(sh, HT_SHMEM, 0x2c);
	EXPECT_EQ(lu_finish(s), 0);
	close(big);
	close(sealed);
	close(sh);
	/* closed: the huge pages are the pool's again */
	EXPECT_EQ(ht_pool(HT_2M, "free_hugepages"), free0);
	close(s);
	close(dev);
}

KX_SCENARIO(kx_hugetlb, "hugetlb",
	    { "stage1", ht_stage1,
	      "a 256 MiB 2 MiB-page memfd (position set), a write-sealed 8 MiB one and a 16 MiB shmem memfd preserve in one session; ftruncate of the first to another size EPERM, the same size 0; preserving it twice EBUSY" },
	    { "check", ht_check,
	      "RETRIEVE_FD ENOMEM under a 64-page hugetlb cgroup limit (nothing charged) and with 64 free pages (pool whole again); then exactly 128 huge pages taken and charged, every byte, size, position, seals, st_blksize, link, smaps page size; the sealed and shmem files; the pool whole again after close" });

static void ht1g_stage1(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "hugetlb-1g"));
	int m;

	CHECK_EQ(ht_pool(HT_1G, "free_hugepages"), 1);
	m = ht_make("ht-1g", 0, HT_1G, HT_1G, 0x1b);
	EXPECT_EQ(lu_preserve_fd(s, m, 1), 0);
	close(m);
	close(dev);
	kx_hold(&s, 1);
}

static void ht1g_check(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_retrieve_session(dev, "hugetlb-1g"));
	int m;

	CHECK_EQ(ht_pool(HT_1G, "free_hugepages"), 1);
	m = CHECK_OK(lu_retrieve_fd(s, 1));
	EXPECT_EQ(ht_pool(HT_1G, "free_hugepages"), 0);
	/* without MFD_ALLOW_SEALING: F_SEAL_SEAL, as memfd_create() leaves it */
	EXPECT_EQ(lu_seals(m), F_SEAL_SEAL);
	EXPECT_STR(lu_fd_link(m), "/memfd:ht-1g (deleted)");
	ht_expect(m, HT_1G, HT_1G, 0x1b);
	EXPECT_EQ(lu_finish(s), 0);
	close(m);
	EXPECT_EQ(ht_pool(HT_1G, "free_hugepages"), 1);
	close(s);
	close(dev);
}

KX_SCENARIO(kx_hugetlb_1g, "hugetlb-1g",
	    { "stage1", ht1g_stage1,
	      "a 1 GiB-page memfd of 1 GiB, written through mmap, preserves (the pool has 1 free 1 GiB page)" },
	    { "check", ht1g_check,
	      "retrieved into the one 1 GiB page (0 free, 1 again after close): every byte, F_SEAL_SEAL, link, st_blksize and smaps page size 1 GiB" });

/*
 * hugetlb-damaged: boot 2 preserves a 2 MiB-page memfd of 4 MiB alone;
 * boot 3 starts with lu-poke data-byte (a byte of its copy flipped). Its
 * RETRIEVE_FD gives EIO, every time, with a "checksum" kernel log line;
 * the huge pages the restore took are the pool's again.
 */
static void htd_prep(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "hugetlb-damaged"));
	int m = ht_make("ht-damaged", 0, HT_2M, 2 * HT_2M, 0x2d);

	EXPECT_EQ(lu_preserve_fd(s, m, 1), 0);
	close(m);
	close(dev);
	kx_hold(&s, 1);
}

static void htd_check(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_retrieve_session(dev, "hugetlb-damaged"));
	long long free0 = ht_pool(HT_2M, "free_hugepages");

	EXPECT_EQ(lu_retrieve_fd(s, 1), -EIO);
	EXPECT_EQ(lu_retrieve_fd(s, 1), -EIO);
	EXPECT_EQ(ht_pool(HT_2M, "free_hugepages"), free0);
	EXPECT(lu_dmesg_match("liveupdate:", "checksum", 7, 1) >= 1);
	EXPECT_EQ(lu_finish(s), 0);
	close(s);
	close(dev);
}

KX_SCENARIO(kx_hugetlb_damaged, "hugetlb-damaged",
	    { "prep", htd_prep,
	      "a 4 MiB 2 MiB-page memfd preserves alone (the next boot flips a byte of its copy)" },
	    { "check", htd_check,
	      "RETRIEVE_FD EIO twice, the pool's free pages as before, a 'checksum' kernel log line; FINISH 0" });

/* --- hugetlb-signal: a restore under a signal every 2 ms ------------------- */

#define HTS_A		(128ULL * LU_MiB)
#define HTS_B		(32ULL * LU_MiB)
#define HTS_TRIES	3000

static volatile sig_atomic_t hts_alarms;

static void hts_alarm(int sig)
{
	(void)sig;
	hts_alarms++;
}

static void hts_prep(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "hugetlb-signal"));
	int a = ht_make("hts-a", 0, HT_2M, HTS_A, 0x5a);
	int b = ht_make("hts-b", 0, HT_2M, HTS_B, 0x5b);

	EXPECT_EQ(lu_preserve_fd(s, a, 1), 0);
	EXPECT_EQ(lu_preserve_fd(s, b, 2), 0);
	close(a);
	close(b);
	close(dev);
	kx_hold(&s, 1);
}

static void hts_timer(long us)
{
	struct itimerval it = { { 0, us }, { 0, us } };

	CHECK_EQ(setitimer(ITIMER_REAL, &it, NULL), 0);
}

static void hts_check(void)
{
	struct sigaction sa = { .sa_handler = hts_alarm };	/* no SA_RESTART */
	struct liveupdate_session_retrieve_fd r;
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_retrieve_session(dev, "hugetlb-signal"));
	int tries = 0, ret, b;

	CHECK_EQ(sigaction(SIGALRM, &sa, NULL), 0);
	hts_timer(2000);
	do {
		memset(&r, 0, sizeof(r));
		r.size = sizeof(r);
		r.token = 1;
		ret = lu_ioctl(s, LIVEUPDATE_SESSION_RETRIEVE_FD, &r);
	} while (ret == -EINTR && ++tries < HTS_TRIES);
	hts_timer(0);
	lu_diag("hugetlb-signal: RETRIEVE_FD returned %d after %d EINTRs, %d signals",
		ret, tries, (int)hts_alarms);
	CHECK_EQ(ret, 0);
	ht_expect(r.fd, HT_2M, HTS_A, 0x5a);
	close(r.fd);
	/* the library tries again by itself */
	hts_alarms = 0;
	hts_timer(2000);
	b = lu_retrieve_fd(s, 2);
	hts_timer(0);
	lu_diag("hugetlb-signal: liveupdate_retrieve_fd() returned %d, %d signals",
		b, (int)hts_alarms);
	CHECK(b >= 0);
	ht_expect(b, HT_2M, HTS_B, 0x5b);
	close(b);
	EXPECT_EQ(lu_finish(s), 0);
	close(s);
	close(dev);
}

KX_SCENARIO(kx_hugetlb_signal, "hugetlb-signal",
	    { "prep", hts_prep,
	      "two 2 MiB-page memfds (128 and 32 MiB) preserve" },
	    { "check", hts_check,
	      "under SIGALRM every 2 ms RETRIEVE_FD, called again after each EINTR, succeeds within 3000 calls; liveupdate_retrieve_fd() retries by itself; every byte of both" });

/* --- hugetlb-poison: a memory error in a huge page's subpage ------------- */

#define HTP_SIZE	(3 * HT_2M)
/* the subpage poisoned: in the second huge page, not its first */
#define HTP_OFF		(HT_2M + 5 * 4096)

static void htp_prep(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "hugetlb-poison"));
	int m = ht_make("htp", 0, HT_2M, HTP_SIZE, 0x9a), st;
	pid_t pid;

	/* after PRESERVE_FD, which refuses a poisoned file (EIO) */
	CHECK_EQ(lu_preserve_fd(s, m, 1), 0);
	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		char *p = mmap(NULL, HTP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);

		if (p == MAP_FAILED)
			_exit(2);
		if (madvise(p + HTP_OFF, 4096, MADV_HWPOISON))
			_exit(errno == EINVAL ? 3 : 4);
		_exit(0);
	}
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 3) {
		close(m);
		close(s);
		close(dev);
		SKIP("no memory error handling in this kernel (MADV_HWPOISON: EINVAL)");
	}
	/* poisoned: the child exited, or was killed for mapping the page */
	CHECK((WIFEXITED(st) && !WEXITSTATUS(st)) ||
	      (WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS));
	close(m);
	close(dev);
	kx_hold(&s, 1);
}

static void htp_check(void)
{
	const char *prev = getenv("LU_PREV_KERNEL");
	int dev = CHECK_OK(lu_open_dev());
	int s = lu_retrieve_session(dev, "hugetlb-poison"), m;

	if (s == -ENOENT && prev && !strcmp(prev, "6.1")) {
		close(dev);
		SKIP("boot 2 (6.1) had no memory error handling");
	}
	CHECK(s >= 0);
	m = CHECK_OK(lu_retrieve_fd(s, 1));
	EXPECT_EQ(lu_fsize(m), HTP_SIZE);
	EXPECT_EQ(lu_compare(m, 0, HT_2M, 0x9a), 0);
	EXPECT_EQ(lu_compare(m, HT_2M, HT_2M, LU_ZEROS), 0);
	EXPECT_EQ(lu_compare(m, 2 * HT_2M, HT_2M, 0x9a), 0);
	close(m);
	EXPECT_EQ(lu_finish(s), 0);
	close(s);
	close(dev);
}

KX_SCENARIO(kx_hugetlb_poison, "hugetlb-poison",
	    { "prep", htp_prep,
	      "a 3-huge-page memfd preserves, then a subpage of its second huge page gets a memory error (MADV_HWPOISON; SKIP where the kernel has no memory error handling)" },
	    { "check", htp_check,
	      "the file comes back at its size: the second huge page all zeros, the first and third intact" });
