// SPDX-License-Identifier: GPL-2.0
/*
 * One memfd carried through every boot of a chain of kexecs, the way a
 * service manager carries its fd store: each boot retrieves it, checks it,
 * appends a line naming its own kernel and preserves the same fd again in a
 * new outgoing session. The memfd holds a fixed 1 MiB + 1 pattern followed by
 * the trail "b1 6.1\nb2 6.12\n...", so each boot checks the bytes and that
 * the trail names every earlier boot in order, the last one being
 * LU_PREV_KERNEL. The test name is the whole chain, e.g.
 * matrix/chain/6.1->6.12->7.2->6.1.
 *   lu-kexec trail start    the first boot
 *   lu-kexec trail carry    a middle boot (check, append, preserve again)
 *   lu-kexec trail end      the last boot (check)
 */
#include "kx.h"

#define TRAIL_SESSION	"kx-trail"
#define TRAIL_TOKEN	0x7261696cULL
#define TRAIL_SEED	0x7a
#define TRAIL_DATA	(LU_MiB + 1)
#define TRAIL_MAX	4096

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/* Appends "bK KERNEL\n" for this boot and preserves @m; holds the session. */
static void trail_append_and_preserve(int m)
{
	const char *line = lu_fmt("b%s %s\n", env("LU_STAGE"), env("LU_KERNEL"));
	long long size = CHECK_OK(lu_fsize(m));
	int dev, s;

	CHECK_EQ(lu_pwrite(m, line, strlen(line), size), (long long)strlen(line));
	dev = CHECK_OK(lu_open_dev());
	s = CHECK_OK(lu_create_session(dev, TRAIL_SESSION));
	CHECK_EQ(lu_preserve_fd(s, m, TRAIL_TOKEN), 0);
	close(m);
	close(dev);
	kx_hold(&s, 1);
}

/*
 * Retrieves the memfd, checks pattern and trail, and returns it. The trail
 * must be "b1 K1\n" ... "b(N-1) K(N-1)\n" with N this boot and K(N-1) the
 * previous boot's kernel.
 */
static int trail_retrieve(void)
{
	char trail[TRAIL_MAX + 1], want[32];
	int dev, s, m, boot = atoi(env("LU_STAGE") ?: "0"), n = 0;
	const char *prev = env("LU_PREV_KERNEL"), *p, *chain;
	long long size, tlen;

	CHECK(boot >= 2 && prev);
	dev = CHECK_OK(lu_open_dev());
	s = CHECK_OK(lu_retrieve_session(dev, TRAIL_SESSION));
	m = CHECK_OK(lu_retrieve_fd(s, TRAIL_TOKEN));
	EXPECT_EQ(lu_finish(s), 0);
	close(s);
	close(dev);

	size = CHECK_OK(lu_fsize(m));
	CHECK(size > (long long)TRAIL_DATA);
	tlen = size - TRAIL_DATA;
	CHECK(tlen <= TRAIL_MAX);
	EXPECT_EQ(lu_compare(m, 0, TRAIL_DATA, TRAIL_SEED), 0);
	CHECK_EQ(lu_pread(m, trail, tlen, TRAIL_DATA), tlen);
	trail[tlen] = 0;

	/* every line numbered in order; build "K1->K2->..." for the name */
	chain = "";
	for (p = trail; *p; n++) {
		const char *nl = strchr(p, '\n');
		char kern[16];

		CHECK(nl);
		snprintf(want, sizeof(want), "b%d ", n + 1);
		CHECK(!strncmp(p, want, strlen(want)));
		CHECK(nl - p - strlen(want) < sizeof(kern));
		memcpy(kern, p + strlen(want), nl - p - strlen(want));
		kern[nl - p - strlen(want)] = 0;
		chain = lu_fmt("%s%s%s", chain, *chain ? "->" : "", kern);
		if (nl[1] == 0)
			EXPECT_STR(kern, prev);
		p = nl + 1;
	}
	EXPECT_EQ(n, boot - 1);
	lu_diag("chain so far: %s->%s", chain, env("LU_KERNEL"));
	return m;
}

static void trail_start(void)
{
	int m = CHECK_OK(lu_memfd("kx-trail", MFD_ALLOW_SEALING, TRAIL_DATA, TRAIL_SEED));

	CHECK(lseek(m, 0, SEEK_END) == (off_t)TRAIL_DATA);
	trail_append_and_preserve(m);
}

static void trail_carry(void)
{
	trail_append_and_preserve(trail_retrieve());
}

static void trail_end(void)
{
	close(trail_retrieve());
}

KX_SCENARIO(kx_trail, "trail",
	    { "start", trail_start,
	      "a memfd of the 1 MiB + 1 pattern and the line 'b1 KERNEL' preserves in session kx-trail" },
	    { "carry", trail_carry,
	      "the trail memfd comes back with the pattern and one line per earlier boot in order (the last LU_PREV_KERNEL); this boot's line appended, it preserves again" },
	    { "end", trail_end,
	      "the trail memfd comes back with the pattern and one line per earlier boot in order, the last LU_PREV_KERNEL" });
