// SPDX-License-Identifier: GPL-2.0
/*
 * Cross-kexec at scale: 2000 sessions, 500 files in one session, a 256 MiB
 * memfd verified by a 64-bit hash (needs a range of 512M: vm/run --range 512M
 * --mem 3G).
 */
#include "kx.h"

#include <sys/mman.h>

/* ---- 2000 sessions, each with one small memfd ---- */

#define NSESSIONS 2000

static const char *s2k_name(int i)
{
	return lu_fmt("kx-s2k-%04d", i);
}

static uint64_t s2k_size(int i)
{
	return 8 + i % 13;
}

static void sessions2000_stage1(void)
{
	static int fds[NSESSIONS];
	int dev;
	double t0 = lu_now();

	CHECK_EQ(lu_raise_nofile(NSESSIONS + 256), 0);
	dev = CHECK_OK(lu_open_dev());
	for (int i = 0; i < NSESSIONS; i++) {
		int m;

		fds[i] = lu_create_session(dev, s2k_name(i));
		if (fds[i] < 0)
			lu_diag("session %d", i);
		CHECK_OK(fds[i]);
		m = CHECK_OK(lu_memfd("kx-s2k", MFD_ALLOW_SEALING, s2k_size(i), 1000 + i));
		CHECK_EQ(lu_preserve_fd(fds[i], m, i), 0);
		close(m);
	}
	close(dev);
	lu_diag("2000 sessions preserved in %.2f s", lu_now() - t0);
	kx_hold(fds, NSESSIONS);
}

static void sessions2000_stage2(void)
{
	int dev;
	double t0 = lu_now();

	CHECK_EQ(lu_raise_nofile(NSESSIONS + 256), 0);
	dev = CHECK_OK(lu_open_dev());
	for (int i = 0; i < NSESSIONS; i++) {
		char name[LIVEUPDATE_SESSION_NAME_LENGTH];
		int s = lu_retrieve_session(dev, s2k_name(i));
		int m;

		if (s < 0)
			lu_diag("session %d", i);
		CHECK_OK(s);
		CHECK_EQ(lu_get_name(s, name), 0);
		CHECK_STR(name, s2k_name(i));
		CHECK_STR(lu_fd_link(s), lu_session_link(s2k_name(i)));
		m = lu_retrieve_fd(s, i);
		if (m < 0)
			lu_diag("session %d", i);
		CHECK_OK(m);
		CHECK_EQ(lu_fsize(m), s2k_size(i));
		CHECK_EQ(lu_compare(m, 0, s2k_size(i), 1000 + i), 0);
		CHECK_EQ(lu_retrieve_fd(s, i + 1), -ENOENT);
		close(m);
		close(s);
	}
	EXPECT_EQ(lu_retrieve_session(dev, s2k_name(0)), -ENOENT);
	EXPECT_EQ(lu_retrieve_session(dev, s2k_name(NSESSIONS - 1)), -ENOENT);
	EXPECT_EQ(lu_retrieve_session(dev, s2k_name(NSESSIONS)), -ENOENT);
	close(dev);
	lu_diag("2000 sessions retrieved in %.2f s", lu_now() - t0);
}

KX_SCENARIO(kx_sessions2000, "sessions2000",
	    { "stage1", sessions2000_stage1,
	      "2000 sessions kx-s2k-NNNN, each with one memfd of 8-20 bytes, preserve" },
	    { "stage2", sessions2000_stage2,
	      "all 2000 sessions come back by name (GET_NAME, link), each memfd with its size and bytes, no second token; then each session is ENOENT" });

/* ---- 500 files in one session ---- */

#define NFILES 500

static uint64_t f500_token(int i)
{
	return i * 0x9e3779b97f4a7c15ULL;	/* 0 for the first */
}

static uint64_t f500_size(int i)
{
	return (uint64_t)(i * 131) % 5000;	/* 0 for the first */
}

static void files500_stage1(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "kx-files500"));

	for (int i = 0; i < NFILES; i++) {
		int m = CHECK_OK(lu_memfd("kx-f500", MFD_ALLOW_SEALING, f500_size(i),
					  f500_token(i) ^ 0x5a));

		int r = lu_preserve_fd(s, m, f500_token(i));

		if (r)
			lu_diag("file %d", i);
		CHECK_EQ(r, 0);
		close(m);
	}
	close(dev);
	kx_hold(&s, 1);
}

static void files500_stage2(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_retrieve_session(dev, "kx-files500"));

	/* in reverse order, for a change */
	for (int i = NFILES - 1; i >= 0; i--) {
		int m = lu_retrieve_fd(s, f500_token(i));

		if (m < 0)
			lu_diag("file %d", i);
		CHECK_OK(m);
		CHECK_EQ(lu_fsize(m), f500_size(i));
		CHECK_EQ(lu_compare(m, 0, f500_size(i), f500_token(i) ^ 0x5a), 0);
		close(m);
	}
	EXPECT_EQ(lu_retrieve_fd(s, f500_token(NFILES)), -ENOENT);
	EXPECT_EQ(lu_retrieve_fd(s, 1), -ENOENT);
	EXPECT_EQ(lu_finish(s), 0);
	close(s);
	close(dev);
}

KX_SCENARIO(kx_files500, "files500",
	    { "stage1", files500_stage1,
	      "one session preserves 500 memfds (0 to 4999 bytes, 64-bit tokens, token 0 included)" },
	    { "stage2", files500_stage2,
	      "all 500 memfds come back (in reverse order) with their sizes and bytes; an unknown token and token 1 ENOENT; FINISH 0" });

/* ---- a 256 MiB memfd ---- */

#define BIG_SIZE	(256ULL << 20)
#define BIG_SEED	0xb16b16b16ULL
#define BIG_SPOTS	4096

struct big_meta {
	uint64_t size;
	uint64_t hash;
};

static void big_stage1(void)
{
	const char *lu_size = getenv("LU_SIZE");
	struct big_meta meta = { BIG_SIZE, LU_HASH_INIT };
	uint64_t *w, n = BIG_SIZE / 8;
	double t0 = lu_now();
	int dev, s, m, mm;

	if (!lu_size || strtoull(lu_size, NULL, 10) < BIG_SIZE + (1 << 20))
		lu__fail(1, __FILE__, __LINE__, "the range is too small for 256 MiB "
			 "(LU_SIZE=%s): run with --range 512M --mem 3G", lu_size ? lu_size : "unset");
	m = CHECK_OK(lu_memfd_sparse("kx-big", MFD_ALLOW_SEALING, BIG_SIZE));
	w = mmap(NULL, BIG_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	CHECK(w != MAP_FAILED);
	for (uint64_t i = 0; i < n; i++)
		w[i] = lu_word(BIG_SEED, i);
	meta.hash = lu_hash_words(LU_HASH_INIT, w, n);
	CHECK(munmap(w, BIG_SIZE) == 0);
	lu_diag("256 MiB filled and hashed in %.2f s: hash %016llx", lu_now() - t0,
		(unsigned long long)meta.hash);

	dev = CHECK_OK(lu_open_dev());
	s = CHECK_OK(lu_create_session(dev, "kx-big"));
	t0 = lu_now();
	CHECK_EQ(lu_preserve_fd(s, m, 1), 0);
	lu_diag("256 MiB preserved in %.2f s", lu_now() - t0);
	/* the hash travels in a second memfd of the same session */
	mm = CHECK_OK(lu_memfd_sparse("kx-big-meta", MFD_ALLOW_SEALING, sizeof(meta)));
	CHECK_EQ(lu_pwrite(mm, &meta, sizeof(meta), 0), sizeof(meta));
	CHECK_EQ(lu_add_seals(mm, F_SEAL_WRITE | F_SEAL_SEAL), 0);
	CHECK_EQ(lu_preserve_fd(s, mm, 2), 0);
	close(m);
	close(mm);
	close(dev);
	kx_hold(&s, 1);
}

static void big_stage2(void)
{
	struct big_meta meta;
	uint64_t *w, hash, n = BIG_SIZE / 8;
	double t0 = lu_now();
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_retrieve_session(dev, "kx-big"));
	int m, mm;

	mm = CHECK_OK(lu_retrieve_fd(s, 2));
	CHECK_EQ(lu_pread(mm, &meta, sizeof(meta), 0), sizeof(meta));
	CHECK_EQ(meta.size, BIG_SIZE);
	EXPECT_EQ(lu_seals(mm), F_SEAL_WRITE | F_SEAL_SEAL);
	t0 = lu_now();
	m = CHECK_OK(lu_retrieve_fd(s, 1));
	lu_diag("256 MiB retrieved in %.2f s", lu_now() - t0);
	CHECK_EQ(lu_fsize(m), BIG_SIZE);
	EXPECT_EQ(lu_accmode(m), O_RDWR);
	t0 = lu_now();
	w = mmap(NULL, BIG_SIZE, PROT_READ, MAP_SHARED, m, 0);
	CHECK(w != MAP_FAILED);
	hash = lu_hash_words(LU_HASH_INIT, w, n);
	lu_diag("256 MiB hashed in %.2f s: hash %016llx", lu_now() - t0,
		(unsigned long long)hash);
	EXPECT_EQ(hash, meta.hash);
	/* and spot checks against the generator itself */
	for (uint64_t k = 0; k < BIG_SPOTS; k++) {
		uint64_t i = lu_mix64(k) % n;

		if (w[i] != lu_word(BIG_SEED, i)) {
			lu_diag("word %llu differs", (unsigned long long)i);
			EXPECT_EQ(w[i], lu_word(BIG_SEED, i));
			break;
		}
	}
	EXPECT_EQ(w[0], lu_word(BIG_SEED, 0));
	EXPECT_EQ(w[n - 1], lu_word(BIG_SEED, n - 1));
	CHECK(munmap(w, BIG_SIZE) == 0);
	close(m);
	close(mm);
	close(s);
	close(dev);
}

KX_SCENARIO(kx_big, "big",
	    { "stage1", big_stage1,
	      "a 256 MiB memfd of generated words preserves with its 64-bit hash in a second, write-sealed memfd of the session" },
	    { "stage2", big_stage2,
	      "the 256 MiB memfd comes back O_RDWR at its size with the same hash, 4096 spot words and the first and last word as generated; the hash memfd keeps WRITE|SEAL" });
