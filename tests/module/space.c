// SPDX-License-Identifier: GPL-2.0
/*
 * Space accounting, exact (format 2, docs/design.md "Space"). The module is
 * reloaded with size=1M (needs every liveupdate fd closed, and lu-load in
 * PATH, as in the VM bench): N = 256 pages, page 0 the header. Outgoing
 * sessions reserve metadata bytes - 72 per session, and per memfd of P pages
 * named "memfd:NAME" 16 + 32 + (6 + strlen(NAME)) rounded up to 8 +
 * 24 * (P + 1) - and data pages: P per memfd (none of which lie in the range
 * here). Something fits when ceil(metadata / 4096) + data pages <= N - 1.
 * CREATE_SESSION or PRESERVE_FD that does not fit: ENOSPC and nothing
 * changes. Closing a session gives its space back. The last test reloads
 * the default size.
 */
#include "harness.h"

#define C	(1024ULL * 1024)
#define PG	4096ULL
#define NPAGES	(C / PG)
#define SES	72ULL
#define R8(x)	(((x) + 7) & ~7ULL)

static uint64_t pages_of(uint64_t size)
{
	return (size + PG - 1) / PG;
}

static uint64_t file_meta(uint64_t size, const char *name)
{
	return 16 + 32 + R8(6 + strlen(name)) + 24 * (pages_of(size) + 1);
}

static int fits(uint64_t meta, uint64_t pages)
{
	return (meta + PG - 1) / PG + pages <= NPAGES - 1;
}

/* The largest memfd named @name that fits next to @meta and @pages. */
static uint64_t largest(uint64_t meta, uint64_t pages, const char *name)
{
	uint64_t p = 0;

	while (fits(meta + file_meta((p + 1) * PG, name), pages + p + 1))
		p++;
	return p;
}

static void reload(const char *params)
{
	CHECK(lu_module_loaded());
	CHECK_EQ(lu_system("rmmod liveupdate"), 0);
	CHECK(!lu_module_loaded());
	CHECK_EQ(lu_system(lu_fmt("lu-load %s", params)), 0);
	CHECK(lu_module_loaded());
	CHECK(access(LU_DEV, F_OK) == 0);
}

static unsigned long long size_param(void)
{
	char buf[64] = "";
	int fd = open(LU_PARAM_DIR "/size", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return strtoull(buf, NULL, 0);
}

/* `lu-load size=1M`: the range's address comes from memmap= as usual. */
static void reload_1m(void)
{
	CHECK(lu_module_loaded());
	CHECK_EQ(lu_system("rmmod liveupdate"), 0);
	CHECK_EQ(lu_system("lu-load size=1M"), 0);
	CHECK(lu_module_loaded());
	CHECK(access(LU_DEV, F_OK) == 0);
	EXPECT_EQ(size_param(), C);
}

static void exact_fit(void)
{
	uint64_t p = largest(SES, 0, "lu-sp-big");
	int dev = CHECK_OK(lu_open_dev());
	int big = CHECK_OK(lu_memfd_sparse("lu-sp-big", MFD_ALLOW_SEALING, p * PG));
	int over = CHECK_OK(lu_memfd_sparse("lu-sp-bi+", MFD_ALLOW_SEALING, p * PG + 1));
	int under = CHECK_OK(lu_memfd_sparse("lu-sp-bi-", MFD_ALLOW_SEALING, (p - 1) * PG + 1));
	uint64_t meta = SES + file_meta(p * PG, "lu-sp-big");
	uint64_t slack = (meta + PG - 1) / PG * PG - meta;
	int one = CHECK_OK(lu_memfd("lu-sp-one", MFD_ALLOW_SEALING, 1, 1));

	lu_diag("1 MiB range: a %llu-page memfd fits next to a session, %llu bytes of metadata slack",
		(unsigned long long)p, (unsigned long long)slack);
	CHECK_EQ(p, 253);
	for (int round = 0; round < 3; round++) {
		int s = CHECK_OK(lu_create_session(dev, "lu-sp-a"));
		char name[LIVEUPDATE_SESSION_NAME_LENGTH];

		/* one page more than fits */
		EXPECT_EQ(lu_preserve_fd(s, over, 1), -ENOSPC);
		CHECK_EQ(lu_preserve_fd(s, big, 1), 0);
		/* full: no page left, so no data page for one more byte */
		EXPECT_EQ(lu_preserve_fd(s, one, 2), -ENOSPC);
		EXPECT_EQ(lu_get_name(s, name), 0);
		EXPECT_EQ(lu_seals(one), 0);	/* not frozen */
		close(s);
		/* the space came back, big was unpreserved */
		s = CHECK_OK(lu_create_session(dev, "lu-sp-b"));
		CHECK_EQ(lu_preserve_fd(s, under, 1), 0);	/* same pages as big */
		EXPECT_EQ(lu_preserve_fd(s, one, 2), -ENOSPC);
		close(s);
	}
	close(big);
	close(over);
	close(under);
	close(one);
	close(dev);
}

/* The metadata's last page has room for whole sessions, not one more. */
static void metadata_slack(void)
{
	uint64_t p = largest(SES, 0, "lu-sp-big");
	uint64_t meta = SES + file_meta(p * PG, "lu-sp-big");
	uint64_t slack = (meta + PG - 1) / PG * PG - meta, k = slack / SES, i;
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "lu-sp-s"));
	int big = CHECK_OK(lu_memfd_sparse("lu-sp-big", MFD_ALLOW_SEALING, p * PG));
	int *x = calloc(k + 1, sizeof(int));

	CHECK(x);
	CHECK(k > 0);
	CHECK_EQ(lu_preserve_fd(s, big, 1), 0);
	for (i = 0; i < k; i++)
		x[i] = CHECK_OK(lu_create_session(dev, lu_fmt("lu-sp-x%llu", (unsigned long long)i)));
	EXPECT_EQ(lu_create_session(dev, "lu-sp-xx"), -ENOSPC);
	/* closing one gives its 72 bytes back: exactly one more session */
	close(x[0]);
	x[0] = CHECK_OK(lu_create_session(dev, "lu-sp-xx"));
	EXPECT_EQ(lu_create_session(dev, "lu-sp-xy"), -ENOSPC);
	for (i = 0; i < k; i++)
		close(x[i]);
	free(x);
	close(s);
	close(big);
	close(dev);
}

static void enospc_changes_nothing(void)
{
	uint64_t p = largest(SES, 0, "lu-sp-n");
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "lu-sp-n"));
	int f = CHECK_OK(lu_memfd_sparse("lu-sp-n", MFD_ALLOW_SEALING, (p - 1) * PG));
	int m = CHECK_OK(lu_memfd("lu-sp-m", MFD_ALLOW_SEALING, PG + 1, 9));
	int n = CHECK_OK(lu_memfd("lu-sp-8", MFD_ALLOW_SEALING, 8, 8));
	int s2;

	/* one data page left: m needs two */
	CHECK(fits(SES + file_meta((p - 1) * PG, "lu-sp-n") + file_meta(8, "lu-sp-8"), p));
	CHECK(!fits(SES + file_meta((p - 1) * PG, "lu-sp-n") + file_meta(PG + 1, "lu-sp-m"), p + 1));
	CHECK_EQ(lu_preserve_fd(s, f, 1), 0);
	CHECK_EQ(lu_add_seals(m, F_SEAL_SHRINK), 0);
	EXPECT_EQ(lu_preserve_fd(s, m, 5), -ENOSPC);
	/* m is untouched: seals as before, size not frozen, preservable */
	EXPECT_EQ(lu_seals(m), F_SEAL_SHRINK);
	EXPECT_EQ(lu_ftruncate(m, 100 + PG), 0);
	EXPECT_EQ(lu_ftruncate(m, 9), -EPERM);	/* the user's own SHRINK seal */
	EXPECT_EQ(lu_fsize(m), 100 + PG);
	/* token 5 was not taken: a one-page file fits under it exactly */
	EXPECT_EQ(lu_preserve_fd(s, n, 5), 0);
	EXPECT_EQ(lu_preserve_fd(s, CHECK_OK(lu_memfd("f1", 0, 1, 1)), 6), -ENOSPC);
	close(s);
	/* the failed preserve did not freeze m; it can be preserved now */
	s2 = CHECK_OK(lu_create_session(dev, "lu-sp-n2"));
	EXPECT_EQ(lu_preserve_fd(s2, m, 5), 0);
	EXPECT_EQ(lu_seals(m), F_SEAL_SHRINK);
	EXPECT_EQ(lu_ftruncate(m, 200 + PG), -EPERM);	/* frozen, not sealed */
	close(s2);
	EXPECT_EQ(lu_seals(m), F_SEAL_SHRINK);
	close(dev);
}

static void session_capacity(void)
{
	uint64_t fit = (NPAGES - 1) * PG / SES;	/* 14506, 48 bytes left over */
	int *fds = calloc(fit, sizeof(int));
	int dev, last;
	double t0 = lu_now();

	CHECK(fds);
	CHECK_EQ(lu_raise_nofile(fit + 256), 0);
	dev = CHECK_OK(lu_open_dev());
	for (uint64_t i = 0; i < fit; i++) {
		fds[i] = lu_create_session(dev, lu_fmt("lu-sp-%05llu", (unsigned long long)i));
		if (fds[i] < 0) {
			lu_diag("session %llu of %llu", (unsigned long long)i,
				(unsigned long long)fit);
			CHECK_OK(fds[i]);
		}
	}
	EXPECT_EQ(lu_create_session(dev, "lu-sp-last"), -ENOSPC);
	EXPECT_EQ(lu_preserve_fd(fds[0], CHECK_OK(lu_memfd("f0", 0, 0, 1)), 1), -ENOSPC);
	close(fds[fit - 1]);
	last = CHECK_OK(lu_create_session(dev, "lu-sp-last"));
	EXPECT_EQ(lu_create_session(dev, "lu-sp-last2"), -ENOSPC);
	close(last);
	/* 72 + 48 bytes: an empty memfd named "f0" takes 16 + 32 + 8 + 24 = 80 */
	EXPECT_EQ(lu_preserve_fd(fds[0], CHECK_OK(lu_memfd("f0", 0, 0, 1)), 1), 0);
	EXPECT_EQ(lu_preserve_fd(fds[0], CHECK_OK(lu_memfd("f1", 0, 0, 1)), 2), -ENOSPC);
	for (uint64_t i = 0; i + 1 < fit; i++)
		close(fds[i]);
	close(dev);
	lu_diag("%llu sessions in %.2f s", (unsigned long long)fit, lu_now() - t0);
}

/* Preserves a new write-sealed memfd of @pages pages: copied at once. */
static void preserve_sealed(int s, const char *name, uint64_t pages)
{
	int m = CHECK_OK(lu_memfd(name, MFD_ALLOW_SEALING, pages * PG, pages));

	CHECK_EQ(lu_add_seals(m, F_SEAL_WRITE), 0);
	CHECK_EQ(lu_preserve_fd(s, m, 1), 0);
	close(m);
}

/*
 * The kexec writes the metadata to consecutive free pages, so PRESERVE_FD
 * must refuse metadata that no run of free pages holds, even with enough
 * free pages in all. Write-sealed memfds are copied at PRESERVE_FD into the
 * highest free pages: a (120 pages) into 136..255, b (8) into 128..135, c
 * (124) into 4..127. Closing b's session frees 128..135: 11 pages are free
 * (1..3 and 128..135), the longest run is 8. Empty memfds (80 bytes of
 * metadata each, no data) then fit until the metadata needs a ninth page.
 */
static void metadata_needs_a_run(void)
{
	uint64_t meta = 3 * SES + file_meta(120 * PG, "a") + file_meta(124 * PG, "c");
	uint64_t want = (8 * PG - meta) / file_meta(0, "e"), k;
	int dev = CHECK_OK(lu_open_dev());
	int sa = CHECK_OK(lu_create_session(dev, "lu-sp-ra"));
	int sb = CHECK_OK(lu_create_session(dev, "lu-sp-rb"));
	int sc = CHECK_OK(lu_create_session(dev, "lu-sp-rc"));
	int sd, ret = 0;

	preserve_sealed(sa, "a", 120);
	preserve_sealed(sb, "b", 8);
	preserve_sealed(sc, "c", 124);
	EXPECT_EQ(lu_param_field("space", "taken"), (long long)((1 + 120 + 8 + 124) * PG));
	close(sb);
	EXPECT_EQ(lu_param_field("space", "taken"), (long long)((1 + 120 + 124) * PG));
	sd = CHECK_OK(lu_create_session(dev, "lu-sp-rd"));
	for (k = 0; k < NPAGES * PG / file_meta(0, "e"); k++) {
		int e = CHECK_OK(lu_memfd("e", 0, 0, 1));

		ret = lu_preserve_fd(sd, e, k + 1);
		close(e);
		if (ret)
			break;
	}
	lu_diag("%llu empty memfds fit next to 2 precopied ones (counting free pages alone: %llu)",
		(unsigned long long)k,
		(unsigned long long)((11 * PG - meta) / file_meta(0, "e")));
	EXPECT_EQ(ret, -ENOSPC);
	EXPECT_EQ(k, want);
	close(sd);
	close(sc);
	close(sa);
	EXPECT_EQ(lu_param_field("space", "taken"), (long long)PG);
	close(dev);
}

static void reload_default(void)
{
	reload("");
}

static const struct lu_test tests[] = {
	LU_TEST_D(reload_1m,
		  "rmmod and lu-load size=1M reload the module; the size parameter reads exactly 1 MiB"),
	LU_TEST_D(exact_fit,
		  "1 MiB range: a 253-page memfd fits next to a session, one byte more is ENOSPC, then a 1-byte memfd is ENOSPC and stays unsealed; closing gives the space back (3 rounds)"),
	LU_TEST_D(metadata_slack,
		  "the metadata's last page takes exactly slack/72 more sessions, then ENOSPC; closing one allows exactly one more"),
	LU_TEST_D(enospc_changes_nothing,
		  "a PRESERVE_FD refused with ENOSPC leaves the memfd's seals, size and freedom as they were and its token free; it preserves later"),
	LU_TEST_D(session_capacity,
		  "exactly 14506 empty sessions fit in 1 MiB, the next ENOSPC; the 48 bytes left plus a freed session hold one 80-byte memfd, no second"),
	LU_TEST_D(metadata_needs_a_run,
		  "PRESERVE_FD refuses metadata no run of free pages holds: with 11 free pages in runs of 3 and 8, empty memfds fit exactly until an 8-page run is full; taken back to 4096 after"),
	LU_TEST_D(reload_default,
		  "rmmod and lu-load with no parameters reload the module with its default size"),
};

int main(int argc, char **argv)
{
	return lu_main("module/space", tests, LU_ARRAY_SIZE(tests), argc, argv);
}
