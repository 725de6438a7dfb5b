// SPDX-License-Identifier: GPL-2.0
/*
 * Session lifetime across kexecs: an incoming session never retrieved is gone
 * after the next kexec (3 boots); a range filled exactly to its capacity
 * (module loaded with size=1M) still carries everything that was accepted,
 * and what got ENOSPC is not there.
 */
#include "kx.h"

/* ---- unretrieved ---- */

static void unretrieved_stage1(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s[2];

	s[0] = CHECK_OK(lu_create_session(dev, "kx-nr-a"));
	s[1] = CHECK_OK(lu_create_session(dev, "kx-nr-b"));
	CHECK_EQ(lu_preserve_fd(s[0], CHECK_OK(lu_memfd("kx-nr", 0, 3000, 0xa)), 1), 0);
	CHECK_EQ(lu_preserve_fd(s[1], CHECK_OK(lu_memfd("kx-nr", 0, 3000, 0xb)), 1), 0);
	close(dev);
	kx_hold(s, 2);
}

static void unretrieved_stage2(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_retrieve_session(dev, "kx-nr-a"));
	int c;

	kx_expect_memfd(CHECK_OK(lu_retrieve_fd(s, 1)), 3000, 0xa);
	close(s);
	/* kx-nr-b is left alone; kx-nr-c is carried to the next boot */
	c = CHECK_OK(lu_create_session(dev, "kx-nr-c"));
	CHECK_EQ(lu_preserve_fd(c, CHECK_OK(lu_memfd("kx-nr", 0, 3000, 0xc)), 1), 0);
	close(dev);
	kx_hold(&c, 1);
}

static void unretrieved_stage3(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s;

	EXPECT_EQ(lu_retrieve_session(dev, "kx-nr-b"), -ENOENT);
	EXPECT_EQ(lu_retrieve_session(dev, "kx-nr-a"), -ENOENT);
	s = CHECK_OK(lu_retrieve_session(dev, "kx-nr-c"));
	kx_expect_memfd(CHECK_OK(lu_retrieve_fd(s, 1)), 3000, 0xc);
	close(s);
	close(dev);
}

KX_SCENARIO(kx_unretrieved, "unretrieved",
	    { "stage1", unretrieved_stage1,
	      "two sessions kx-nr-a and kx-nr-b, one 3000-byte memfd each" },
	    { "stage2", unretrieved_stage2,
	      "kx-nr-a comes back with its bytes; kx-nr-b is left unretrieved; a new session kx-nr-c is preserved" },
	    { "stage3", unretrieved_stage3,
	      "after the next kexec the unretrieved kx-nr-b and the finished kx-nr-a are ENOENT, kx-nr-c comes back" });

/*
 * ---- nospc: stage1 runs with the module loaded with size=1M ----
 * 256 pages, one the header's. A session (72 bytes) and a memfd
 * "memfd:kx-nospc" of 253 pages (16 + 32 + 16 + 24 * 254 bytes of
 * metadata: 2 pages) take all 255; the metadata's last page still has room
 * for an empty session, not for a page of data.
 */
#define NOSPC_BIG	(252ULL * 4096 + 1)
#define NOSPC_SEED	0x70

static void nospc_stage1(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "kx-nospc"));
	int big = CHECK_OK(lu_memfd("kx-nospc", MFD_ALLOW_SEALING, NOSPC_BIG, NOSPC_SEED));
	int one = CHECK_OK(lu_memfd("kx-nospc-1", MFD_ALLOW_SEALING, 1, 1));
	char size[64];
	int fd = open(LU_PARAM_DIR "/size", O_RDONLY);

	if (fd >= 0) {
		ssize_t n = read(fd, size, sizeof(size) - 1);

		size[n > 0 ? n : 0] = 0;
		lu_diag("module size parameter: %s", strtok(size, "\n") ? size : "");
		close(fd);
	}
	int s2;

	CHECK_EQ(lu_preserve_fd(s, big, 1), 0);
	EXPECT_EQ(lu_preserve_fd(s, one, 2), -ENOSPC);
	s2 = CHECK_OK(lu_create_session(dev, "kx-nospc-2"));
	EXPECT_EQ(lu_preserve_fd(s2, one, 2), -ENOSPC);
	close(big);
	close(one);
	close(dev);
	{
		int held[2] = { s, s2 };

		kx_hold(held, 2);
	}
}

static void nospc_stage2(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_retrieve_session(dev, "kx-nospc"));

	kx_expect_memfd(CHECK_OK(lu_retrieve_fd(s, 1)), NOSPC_BIG, NOSPC_SEED);
	EXPECT_EQ(lu_retrieve_fd(s, 2), -ENOENT);
	close(s);
	s = CHECK_OK(lu_retrieve_session(dev, "kx-nospc-2"));
	EXPECT_EQ(lu_retrieve_fd(s, 2), -ENOENT);
	close(s);
	close(dev);
}

KX_SCENARIO(kx_nospc, "nospc",
	    { "stage1", nospc_stage1,
	      "loaded with size=1M: a 253-page memfd fills the range; a 1-byte memfd is ENOSPC in its session and in a new (empty) one" },
	    { "stage2", nospc_stage2,
	      "the 253-page memfd comes back byte for byte; the ENOSPC file is ENOENT in both sessions" });
