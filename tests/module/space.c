// SPDX-License-Identifier: GPL-2.0
/*
 * Space accounting, exact. The module is reloaded with size=1M (needs every
 * liveupdate fd closed, and lu-load in PATH, as in the VM bench). Capacity C
 * is the module's size; reserved = 72 (header) + 72 per session + for each
 * preserved file 48 + its size rounded up to 8. CREATE_SESSION or
 * PRESERVE_FD that does not fit: ENOSPC and nothing changes. Closing a
 * session gives its space back. The last test reloads the default size.
 */
#include "harness.h"

#define C	(1024ULL * 1024)
#define HDR	72ULL
#define SES	72ULL
#define FILEREC	48ULL
#define R8(x)	(((x) + 7) & ~7ULL)

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
	int dev = CHECK_OK(lu_open_dev());
	int big = CHECK_OK(lu_memfd_sparse("lu-sp-big", MFD_ALLOW_SEALING, C - HDR - SES - FILEREC));
	int one = CHECK_OK(lu_memfd("lu-sp-one", MFD_ALLOW_SEALING, 1, 1));
	int zero = CHECK_OK(lu_memfd("lu-sp-zero", MFD_ALLOW_SEALING, 0, 1));

	for (int round = 0; round < 3; round++) {
		int s = CHECK_OK(lu_create_session(dev, "lu-sp-a"));
		char name[LIVEUPDATE_SESSION_NAME_LENGTH];

		CHECK_EQ(lu_preserve_fd(s, big, 1), 0);
		/* full: nothing more fits */
		EXPECT_EQ(lu_preserve_fd(s, one, 2), -ENOSPC);
		EXPECT_EQ(lu_preserve_fd(s, zero, 3), -ENOSPC);
		EXPECT_EQ(lu_create_session(dev, "lu-sp-b"), -ENOSPC);
		EXPECT_EQ(lu_get_name(s, name), 0);
		EXPECT_EQ(lu_seals(one), 0);	/* not frozen */
		close(s);
		/* the space came back, big was unpreserved */
		s = CHECK_OK(lu_create_session(dev, "lu-sp-b"));
		CHECK_EQ(lu_preserve_fd(s, big, 1), 0);
		close(s);
	}
	close(big);
	/* rounding to 8: 7 bytes less still takes the same room, 1 more does not fit */
	{
		int s = CHECK_OK(lu_create_session(dev, "lu-sp-c"));
		int over = CHECK_OK(lu_memfd_sparse("lu-sp-over", MFD_ALLOW_SEALING,
						    C - HDR - SES - FILEREC + 1));
		int under = CHECK_OK(lu_memfd_sparse("lu-sp-under", MFD_ALLOW_SEALING,
						     C - HDR - SES - FILEREC - 7));

		EXPECT_EQ(lu_preserve_fd(s, over, 1), -ENOSPC);
		EXPECT_EQ(lu_preserve_fd(s, under, 1), 0);
		EXPECT_EQ(lu_preserve_fd(s, zero, 2), -ENOSPC);
		EXPECT_EQ(lu_preserve_fd(s, over, 2), -ENOSPC);
		close(s);
	}
	close(dev);
}

static void rounding_and_sessions(void)
{
	/* leave 3 * 72 + 64 = 280 bytes after one session and one file */
	uint64_t left = 3 * SES + 64;
	uint64_t size = C - HDR - SES - FILEREC - left - 7;	/* rounds up by 7 */
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "lu-sp-r"));
	int a = CHECK_OK(lu_memfd_sparse("lu-sp-r", MFD_ALLOW_SEALING, size));
	int x[4];

	CHECK_EQ(R8(size), C - HDR - SES - FILEREC - left);
	CHECK_EQ(lu_preserve_fd(s, a, 1), 0);
	for (int i = 0; i < 3; i++)
		x[i] = CHECK_OK(lu_create_session(dev, lu_fmt("lu-sp-x%d", i)));
	/* 64 left */
	EXPECT_EQ(lu_create_session(dev, "lu-sp-x3"), -ENOSPC);
	EXPECT_EQ(lu_preserve_fd(s, CHECK_OK(lu_memfd("f17", 0, 17, 1)), 2), -ENOSPC);
	EXPECT_EQ(lu_preserve_fd(x[0], CHECK_OK(lu_memfd("f17", 0, 17, 1)), 2), -ENOSPC);
	CHECK_EQ(lu_preserve_fd(s, CHECK_OK(lu_memfd("f16", 0, 16, 1)), 2), 0);
	/* 0 left */
	EXPECT_EQ(lu_preserve_fd(s, CHECK_OK(lu_memfd("f0", 0, 0, 1)), 3), -ENOSPC);
	EXPECT_EQ(lu_preserve_fd(x[1], CHECK_OK(lu_memfd("f0", 0, 0, 1)), 3), -ENOSPC);
	/* closing an empty session gives back 72 */
	close(x[1]);
	CHECK_EQ(lu_preserve_fd(x[2], CHECK_OK(lu_memfd("f0", 0, 0, 1)), 3), 0);
	/* 24 left */
	EXPECT_EQ(lu_create_session(dev, "lu-sp-x1"), -ENOSPC);
	EXPECT_EQ(lu_preserve_fd(s, CHECK_OK(lu_memfd("f1", 0, 1, 1)), 4), -ENOSPC);
	/* closing x2 gives back 72 + 48 = 120: one session (72) + a file of 48 */
	close(x[2]);
	x[3] = CHECK_OK(lu_create_session(dev, "lu-sp-x3"));
	/* 24 + 120 - 72 = 72 left: one file of 17..24 bytes */
	CHECK_EQ(lu_preserve_fd(x[3], CHECK_OK(lu_memfd("f24", 0, 24, 1)), 1), 0);
	EXPECT_EQ(lu_preserve_fd(x[3], CHECK_OK(lu_memfd("f0", 0, 0, 1)), 2), -ENOSPC);
	close(x[0]);
	close(x[3]);
	close(s);
	/* everything back */
	s = CHECK_OK(lu_create_session(dev, "lu-sp-r"));
	CHECK_EQ(lu_preserve_fd(s, CHECK_OK(lu_memfd_sparse("full", 0, C - HDR - SES - FILEREC)), 1), 0);
	close(s);
	close(dev);
}

static void enospc_changes_nothing(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "lu-sp-n"));
	/* leaves 56 */
	int f = CHECK_OK(lu_memfd_sparse("lu-sp-n", MFD_ALLOW_SEALING, C - HDR - SES - FILEREC - 56));
	int m = CHECK_OK(lu_memfd("lu-sp-m", MFD_ALLOW_SEALING, 9, 9));
	int n = CHECK_OK(lu_memfd("lu-sp-8", MFD_ALLOW_SEALING, 8, 8));
	int s2;

	CHECK_EQ(lu_preserve_fd(s, f, 1), 0);
	CHECK_EQ(lu_add_seals(m, F_SEAL_SHRINK), 0);
	EXPECT_EQ(lu_preserve_fd(s, m, 5), -ENOSPC);
	/* m is untouched: seals as before, size not frozen, preservable */
	EXPECT_EQ(lu_seals(m), F_SEAL_SHRINK);
	EXPECT_EQ(lu_ftruncate(m, 100), 0);
	EXPECT_EQ(lu_ftruncate(m, 9), -EPERM);	/* the user's own SHRINK seal */
	EXPECT_EQ(lu_fsize(m), 100);
	/* token 5 was not taken: an 8-byte file (56) fits under it exactly */
	EXPECT_EQ(lu_preserve_fd(s, n, 5), 0);
	EXPECT_EQ(lu_create_session(dev, "lu-sp-n2"), -ENOSPC);
	EXPECT_EQ(lu_preserve_fd(s, CHECK_OK(lu_memfd("f0", 0, 0, 1)), 6), -ENOSPC);
	close(s);
	/* the failed create did not take the name; m can be preserved */
	s2 = CHECK_OK(lu_create_session(dev, "lu-sp-n2"));
	EXPECT_EQ(lu_preserve_fd(s2, m, 5), 0);
	EXPECT_EQ(lu_seals(m), F_SEAL_SHRINK);
	EXPECT_EQ(lu_ftruncate(m, 200), -EPERM);	/* frozen, not sealed */
	close(s2);
	EXPECT_EQ(lu_seals(m), F_SEAL_SHRINK);
	close(dev);
}

static void session_capacity(void)
{
	uint64_t fit = (C - HDR) / SES;	/* 14562, 40 bytes left over */
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
	/* 72 + 40: a file record of 48 + 64 */
	EXPECT_EQ(lu_preserve_fd(fds[0], CHECK_OK(lu_memfd("f64", 0, 64, 1)), 1), 0);
	EXPECT_EQ(lu_preserve_fd(fds[0], CHECK_OK(lu_memfd("f0", 0, 0, 1)), 2), -ENOSPC);
	for (uint64_t i = 0; i + 1 < fit; i++)
		close(fds[i]);
	close(dev);
	lu_diag("%llu sessions in %.2f s", (unsigned long long)fit, lu_now() - t0);
}

static void reload_default(void)
{
	reload("");
}

static const struct lu_test tests[] = {
	LU_TEST(reload_1m),
	LU_TEST(exact_fit),
	LU_TEST(rounding_and_sessions),
	LU_TEST(enospc_changes_nothing),
	LU_TEST(session_capacity),
	LU_TEST(reload_default),
};

int main(int argc, char **argv)
{
	return lu_main("module/space", tests, LU_ARRAY_SIZE(tests), argc, argv);
}
