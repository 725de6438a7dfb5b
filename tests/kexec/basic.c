// SPDX-License-Identifier: GPL-2.0
/*
 * Cross-kexec basics: handover_status per boot, one memfd, several sessions
 * (empty ones too), seals and file positions, FINISH by ioctl and by close,
 * the ioctl protocol on incoming sessions, the "sessions" parameter on both
 * sides.
 */
#include "kx.h"

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>

/* ---- status: stage "BEFORE-AFTER" (handover_status before/after open) ---- */

static void status_check(void)
{
	char before[32], after[32];
	const char *dash = strchr(kx_stage_arg, '-');
	int dev;

	CHECK(dash && dash - kx_stage_arg < 32 && strlen(dash + 1) < 32);
	memcpy(before, kx_stage_arg, dash - kx_stage_arg);
	before[dash - kx_stage_arg] = 0;
	strcpy(after, dash + 1);
	dev = kx_open_dev_status(before, after);
	close(dev);
	/* set once per boot */
	EXPECT_STR(lu_status(), after);
	dev = CHECK_OK(lu_open_dev());
	EXPECT_STR(lu_status(), after);
	close(dev);
}

KX_SCENARIO(kx_status, "status",
	    { "*", status_check,
	      "handover_status is BEFORE until /dev/liveupdate is first opened and AFTER once it is (stage BEFORE-AFTER), and stays AFTER on a second open" });

/* ---- one: a single memfd ---- */

#define ONE_SIZE	100003
#define ONE_SEED	0x0e
#define ONE_TOKEN	0x0123456789abcdefULL

static void one_stage1(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "kx-one"));
	int m = CHECK_OK(lu_memfd("kx-one", MFD_ALLOW_SEALING, ONE_SIZE, ONE_SEED));
	unsigned char *map;

	CHECK_EQ(lu_preserve_fd(s, m, ONE_TOKEN), 0);
	/* writes after preserving are carried over: write() and mmap */
	CHECK_EQ(lu_pwrite(m, "HELLO", 5, 5000), 5);
	map = mmap(NULL, ONE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	CHECK(map != MAP_FAILED);
	memcpy(map + 70000, "WORLD", 5);
	CHECK(munmap(map, ONE_SIZE) == 0);
	close(m);
	close(dev);
	kx_hold(&s, 1);
}

static void one_stage2(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_retrieve_session(dev, "kx-one"));
	char name[LIVEUPDATE_SESSION_NAME_LENGTH], buf[8];
	struct stat st1, st2;
	int fd, fd2, again;

	EXPECT_STR(lu_fd_link(s), lu_session_link("kx-one"));
	EXPECT_EQ(lu_cloexec(s), 1);
	CHECK_EQ(lu_get_name(s, name), 0);
	EXPECT_STR(name, "kx-one");

	fd = CHECK_OK(lu_retrieve_fd(s, ONE_TOKEN));
	EXPECT_EQ(lu_fsize(fd), ONE_SIZE);
	EXPECT_EQ(lu_compare(fd, 0, 5000, ONE_SEED), 0);
	CHECK_EQ(lu_pread(fd, buf, 5, 5000), 5);
	EXPECT(memcmp(buf, "HELLO", 5) == 0);
	EXPECT_EQ(lu_compare(fd, 5005, 70000 - 5005, ONE_SEED), 0);
	CHECK_EQ(lu_pread(fd, buf, 5, 70000), 5);
	EXPECT(memcmp(buf, "WORLD", 5) == 0);
	EXPECT_EQ(lu_compare(fd, 70005, ONE_SIZE - 70005, ONE_SEED), 0);
	EXPECT_EQ(lu_accmode(fd), O_RDWR);
	EXPECT_EQ(lu_cloexec(fd), 1);
	EXPECT(!strncmp(lu_fd_link(fd) ? lu_fd_link(fd) : "", "/memfd:", 7));
	EXPECT_EQ(lu_fpos(fd), 0);
	EXPECT_EQ(lu_seals(fd), 0);

	/* a second retrieve: a new fd of the same open file */
	fd2 = CHECK_OK(lu_retrieve_fd(s, ONE_TOKEN));
	EXPECT(fd2 != fd);
	CHECK(fstat(fd, &st1) == 0 && fstat(fd2, &st2) == 0);
	EXPECT_EQ(st1.st_ino, st2.st_ino);
	EXPECT_EQ(st1.st_dev, st2.st_dev);
	CHECK(lseek(fd, 777, SEEK_SET) == 777);
	EXPECT_EQ(lu_fpos(fd2), 777);
	EXPECT_EQ(lu_cloexec(fd2), 1);

	EXPECT_EQ(lu_retrieve_fd(s, ONE_TOKEN + 1), -ENOENT);
	EXPECT_EQ(lu_retrieve_fd(s, 0), -ENOENT);

	/* an ordinary memfd now: resizable, sealable */
	EXPECT_EQ(lu_ftruncate(fd, ONE_SIZE + 1000), 0);
	EXPECT_EQ(lu_pwrite(fd, "tail", 4, ONE_SIZE + 1000), 4);
	EXPECT_EQ(lu_fsize(fd2), ONE_SIZE + 1004);
	EXPECT_EQ(lu_add_seals(fd, F_SEAL_WRITE), 0);
	EXPECT_EQ(lu_seals(fd), F_SEAL_WRITE);
	EXPECT_EQ(lu_pwrite(fd, "x", 1, 0), -EPERM);

	/* as upstream: a retrieved file counts as preserved until FINISH */
	again = CHECK_OK(lu_create_session(dev, "kx-one-again"));
	EXPECT_EQ(lu_preserve_fd(again, fd, 1), -EBUSY);
	EXPECT_EQ(lu_preserve_fd(again, fd2, 1), -EBUSY);

	/* the files outlive the session */
	close(s);
	EXPECT_EQ(lu_preserve_fd(again, fd, 1), 0);
	close(again);
	close(dev);
	EXPECT_EQ(lu_compare(fd2, 0, 5000, ONE_SEED), 0);
	dev = CHECK_OK(lu_open_dev());
	EXPECT_EQ(lu_retrieve_session(dev, "kx-one"), -ENOENT);
	close(dev);
}

KX_SCENARIO(kx_one, "one",
	    { "stage1", one_stage1,
	      "a 100003-byte memfd preserves under token 0x0123456789abcdef; 'HELLO' written by pwrite and 'WORLD' through mmap after preserving" },
	    { "stage2", one_stage2,
	      "the session comes back (link, O_CLOEXEC, name); the memfd has its size, pattern, HELLO at 5000 and WORLD at 70000, O_RDWR, pos 0, no seals; a 2nd retrieve shares the open file; other tokens ENOENT; resizable, sealable; EBUSY in a new session until the old one is closed; the session is then ENOENT" });

/* ---- wronly: a memfd preserved through a write-only fd (upstream accepts it) ---- */

static void wronly_stage1(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "kx-wronly"));
	int m = CHECK_OK(lu_memfd("kx-wronly", MFD_ALLOW_SEALING, 70001, 0x77));
	int wo = open(lu_fmt("/proc/self/fd/%d", m), O_WRONLY);

	CHECK(wo >= 0);
	close(m);	/* only the write-only fd is left */
	CHECK_EQ(lu_preserve_fd(s, wo, 3), 0);
	CHECK_EQ(lu_pwrite(wo, "wo", 2, 100), 2);	/* written after preserving */
	close(wo);
	close(dev);
	kx_hold(&s, 1);
}

static void wronly_stage2(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_retrieve_session(dev, "kx-wronly"));
	int fd = CHECK_OK(lu_retrieve_fd(s, 3));
	char buf[2];

	EXPECT_EQ(lu_fsize(fd), 70001);
	EXPECT_EQ(lu_compare(fd, 0, 100, 0x77), 0);
	CHECK_EQ(lu_pread(fd, buf, 2, 100), 2);
	EXPECT(!memcmp(buf, "wo", 2));
	EXPECT_EQ(lu_compare(fd, 102, 70001 - 102, 0x77), 0);
	EXPECT_EQ(lu_accmode(fd), O_RDWR);
	close(fd);
	close(s);
	close(dev);
}

KX_SCENARIO(kx_wronly, "wronly",
	    { "stage1", wronly_stage1,
	      "a 70001-byte memfd preserves through an O_WRONLY fd (the only one left) and 'wo' written at 100 after preserving" },
	    { "stage2", wronly_stage2,
	      "the memfd comes back O_RDWR, 70001 bytes: the pattern with 'wo' at 100" });

/* ---- multi: several sessions, some empty ---- */

#define MULTI_LONG "kx-multi-long-name-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxEND"

struct multi_file { const char *session; uint64_t token, size, seed; int sparse; };

static const struct multi_file multi_files[] = {
	{ "kx-multi-1", 1, 1, 11, 0 },
	{ "kx-multi-2", 0, 0, 20, 0 },
	{ "kx-multi-2", 1, 4096, 21, 0 },
	{ "kx-multi-2", 2, 4097, 22, 0 },
	{ "kx-multi-2", 3, 1 << 20, LU_ZEROS, 1 },	/* holes + 3 bytes */
	{ MULTI_LONG, 42, 12345, 63, 0 },
};

static const char *const multi_sessions[] = {
	"kx-multi-empty-a", "kx-multi-1", "kx-multi-2", "kx-multi-empty-b", MULTI_LONG,
};

static void multi_stage1(void)
{
	int fds[LU_ARRAY_SIZE(multi_sessions)];
	int dev = CHECK_OK(lu_open_dev());
	int closed, m;

	_Static_assert(sizeof(MULTI_LONG) == 64, "63 characters");
	for (size_t i = 0; i < LU_ARRAY_SIZE(multi_sessions); i++)
		fds[i] = CHECK_OK(lu_create_session(dev, multi_sessions[i]));
	for (size_t i = 0; i < LU_ARRAY_SIZE(multi_files); i++) {
		const struct multi_file *f = &multi_files[i];
		size_t k;

		for (k = 0; strcmp(multi_sessions[k], f->session); k++)
			;
		if (f->sparse) {
			m = CHECK_OK(lu_memfd_sparse("kx-multi", MFD_ALLOW_SEALING, f->size));
			CHECK_EQ(lu_pwrite(m, "A", 1, 0), 1);
			CHECK_EQ(lu_pwrite(m, "B", 1, 300000), 1);
			CHECK_EQ(lu_pwrite(m, "Z", 1, f->size - 1), 1);
		} else {
			m = CHECK_OK(lu_memfd("kx-multi", MFD_ALLOW_SEALING, f->size, f->seed));
		}
		CHECK_EQ(lu_preserve_fd(fds[k], m, f->token), 0);
		close(m);
	}
	/* a session closed before the kexec carries nothing */
	closed = CHECK_OK(lu_create_session(dev, "kx-multi-closed"));
	m = CHECK_OK(lu_memfd("kx-multi", MFD_ALLOW_SEALING, 100, 1));
	CHECK_EQ(lu_preserve_fd(closed, m, 1), 0);
	close(closed);
	close(m);
	close(dev);
	kx_hold(fds, LU_ARRAY_SIZE(fds));
}

static void multi_stage2(void)
{
	int fds[LU_ARRAY_SIZE(multi_sessions)];
	int dev = CHECK_OK(lu_open_dev());
	char name[LIVEUPDATE_SESSION_NAME_LENGTH], c;

	EXPECT_EQ(lu_retrieve_session(dev, "kx-multi-closed"), -ENOENT);
	for (size_t i = 0; i < LU_ARRAY_SIZE(multi_sessions); i++) {
		fds[i] = lu_retrieve_session(dev, multi_sessions[i]);
		if (fds[i] < 0)
			lu_diag("session %s", multi_sessions[i]);
		CHECK_OK(fds[i]);
		EXPECT_SESSION_LINK(fds[i], multi_sessions[i]);
		CHECK_EQ(lu_get_name(fds[i], name), 0);
		EXPECT_STR(name, multi_sessions[i]);
	}
	for (size_t i = 0; i < LU_ARRAY_SIZE(multi_files); i++) {
		const struct multi_file *f = &multi_files[i];
		size_t k;
		int m;

		for (k = 0; strcmp(multi_sessions[k], f->session); k++)
			;
		m = lu_retrieve_fd(fds[k], f->token);
		if (m < 0)
			lu_diag("session %s token %llu", f->session, (unsigned long long)f->token);
		CHECK_OK(m);
		if (!f->sparse) {
			kx_expect_memfd(m, f->size, f->seed);
		} else {
			EXPECT_EQ(lu_fsize(m), f->size);
			EXPECT_EQ(lu_pread(m, &c, 1, 0), 1);
			EXPECT_EQ(c, 'A');
			EXPECT_EQ(lu_compare(m, 1, 300000 - 1, LU_ZEROS), 0);
			EXPECT_EQ(lu_pread(m, &c, 1, 300000), 1);
			EXPECT_EQ(c, 'B');
			EXPECT_EQ(lu_compare(m, 300001, f->size - 300002, LU_ZEROS), 0);
			EXPECT_EQ(lu_pread(m, &c, 1, f->size - 1), 1);
			EXPECT_EQ(c, 'Z');
		}
		close(m);
	}
	/* empty sessions: retrievable, nothing in them */
	EXPECT_EQ(lu_retrieve_fd(fds[0], 0), -ENOENT);
	EXPECT_EQ(lu_retrieve_fd(fds[0], 1), -ENOENT);
	EXPECT_EQ(lu_retrieve_fd(fds[3], 0), -ENOENT);
	/* files of one session are not visible in another */
	EXPECT_EQ(lu_retrieve_fd(fds[1], 2), -ENOENT);
	EXPECT_EQ(lu_finish(fds[0]), 0);
	EXPECT_EQ(lu_finish(fds[3]), 0);
	for (size_t i = 0; i < LU_ARRAY_SIZE(multi_sessions); i++)
		close(fds[i]);
	close(dev);
}

KX_SCENARIO(kx_multi, "multi",
	    { "stage1", multi_stage1,
	      "five sessions (two empty, one with a 63-character name) preserve six memfds (0 to 1 MiB, one sparse with 3 bytes); a sixth session, closed before the kexec, preserves one" },
	    { "stage2", multi_stage2,
	      "the closed session is ENOENT; the five come back by name (link, GET_NAME), every memfd by token with its size and bytes (the sparse one: A at 0, B at 300000, Z last, zeros between); empty sessions ENOENT for tokens 0, 1; a token of another session ENOENT; FINISH of the empty ones 0" });

/* ---- seals and file positions ---- */

struct seal_case {
	uint64_t token;
	unsigned int flags;		/* memfd_create */
	int seals;			/* added by the user */
	int expect;			/* F_GET_SEALS after the kexec */
	uint64_t size;
	long long pos_before;		/* set before preserving */
	long long pos_after;		/* set after preserving (-1: none) */
	int seals_after;		/* added by the user after preserving */
};

static const struct seal_case seal_cases[] = {
	{ 1, MFD_ALLOW_SEALING, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW,
	  F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW, 10000, 0, 4321, 0 },
	{ 2, MFD_ALLOW_SEALING, F_SEAL_SEAL | F_SEAL_WRITE,
	  F_SEAL_SEAL | F_SEAL_WRITE, 5000, 5000, -1, 0 },
	{ 3, MFD_ALLOW_SEALING, F_SEAL_FUTURE_WRITE, F_SEAL_FUTURE_WRITE, 3000, 1, -1, 0 },
	{ 4, 0, 0, F_SEAL_SEAL, 100, 0, -1, 0 },
	{ 5, MFD_ALLOW_SEALING, 0, 0, 4096, 0, 1000000, 0 },	/* beyond EOF */
	{ 6, MFD_ALLOW_SEALING, F_SEAL_SHRINK, F_SEAL_SHRINK, 777, 776, -1, 0 },
	{ 7, MFD_ALLOW_SEALING, F_SEAL_GROW, F_SEAL_GROW, 8192, 8000, 12, 0 },
	/* sealed while preserved: a seal is never taken away, here or next boot */
	{ 8, MFD_ALLOW_SEALING, 0, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL,
	  4000, 0, -1, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL },
};

static void seals_stage1(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "kx-seals"));

	for (size_t i = 0; i < LU_ARRAY_SIZE(seal_cases); i++) {
		const struct seal_case *c = &seal_cases[i];
		int m = CHECK_OK(lu_memfd("kx-seals", c->flags, c->size, c->token));

		if (c->seals)
			CHECK_EQ(lu_add_seals(m, c->seals), 0);
		CHECK(lseek(m, c->pos_before, SEEK_SET) == c->pos_before);
		CHECK_EQ(lu_preserve_fd(s, m, c->token), 0);
		/* the position is sampled at the kexec, not at preserve */
		if (c->pos_after >= 0)
			CHECK(lseek(m, c->pos_after, SEEK_SET) == c->pos_after);
		if (c->seals_after)
			CHECK_EQ(lu_add_seals(m, c->seals_after), 0);
		close(m);
	}
	close(dev);
	kx_hold(&s, 1);
}

static void seals_stage2(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_retrieve_session(dev, "kx-seals"));
	int fd[LU_ARRAY_SIZE(seal_cases) + 1];
	unsigned char *map;

	for (size_t i = 0; i < LU_ARRAY_SIZE(seal_cases); i++) {
		const struct seal_case *c = &seal_cases[i];
		long long pos = c->pos_after >= 0 ? c->pos_after : c->pos_before;

		fd[c->token] = CHECK_OK(lu_retrieve_fd(s, c->token));
		kx_expect_memfd(fd[c->token], c->size, c->token);
		if (lu_seals(fd[c->token]) != c->expect || lu_fpos(fd[c->token]) != pos)
			lu_diag("token %llu", (unsigned long long)c->token);
		EXPECT_EQ(lu_seals(fd[c->token]), c->expect);
		EXPECT_EQ(lu_fpos(fd[c->token]), pos);
	}
	/* 1: WRITE|SHRINK|GROW, can still be sealed */
	EXPECT_EQ(lu_pwrite(fd[1], "x", 1, 0), -EPERM);
	EXPECT_EQ(lu_ftruncate(fd[1], 100), -EPERM);
	EXPECT_EQ(lu_ftruncate(fd[1], 20000), -EPERM);
	EXPECT_EQ(lu_add_seals(fd[1], F_SEAL_SEAL), 0);
	EXPECT_EQ(lu_add_seals(fd[1], F_SEAL_FUTURE_WRITE), -EPERM);
	/* 2: SEAL|WRITE: no more seals */
	EXPECT_EQ(lu_add_seals(fd[2], F_SEAL_GROW), -EPERM);
	EXPECT_EQ(lu_pwrite(fd[2], "x", 1, 0), -EPERM);
	EXPECT_EQ(lu_ftruncate(fd[2], 6000), 0);
	/* 3: FUTURE_WRITE: no writes, no writable shared mapping */
	EXPECT_EQ(lu_pwrite(fd[3], "x", 1, 0), -EPERM);
	map = mmap(NULL, 3000, PROT_READ | PROT_WRITE, MAP_SHARED, fd[3], 0);
	EXPECT_EQ(map == MAP_FAILED ? -errno : 0, -EPERM);
	EXPECT_EQ(lu_add_seals(fd[3], F_SEAL_GROW), 0);
	/* 4: created without MFD_ALLOW_SEALING */
	EXPECT_EQ(lu_add_seals(fd[4], F_SEAL_WRITE), -EPERM);
	EXPECT_EQ(lu_ftruncate(fd[4], 200), 0);
	/* 5: nothing sealed: anything goes */
	EXPECT_EQ(lu_ftruncate(fd[5], 1), 0);
	EXPECT_EQ(lu_add_seals(fd[5], F_SEAL_WRITE), 0);
	EXPECT_EQ(lu_pwrite(fd[5], "x", 1, 0), -EPERM);
	/* 6: SHRINK */
	EXPECT_EQ(lu_ftruncate(fd[6], 100), -EPERM);
	EXPECT_EQ(lu_ftruncate(fd[6], 1000), 0);
	/* 7: GROW */
	EXPECT_EQ(lu_pwrite(fd[7], "x", 1, 8192), -EPERM);
	EXPECT_EQ(lu_ftruncate(fd[7], 100), 0);
	/* 8: SHRINK|GROW|SEAL, added after preserving */
	EXPECT_EQ(lu_ftruncate(fd[8], 0), -EPERM);
	EXPECT_EQ(lu_add_seals(fd[8], F_SEAL_WRITE), -EPERM);
	close(s);
	close(dev);
}

KX_SCENARIO(kx_seals, "seals",
	    { "stage1", seals_stage1,
	      "eight memfds with their seals (WRITE|SHRINK|GROW, SEAL|WRITE, FUTURE_WRITE, none without MFD_ALLOW_SEALING, SHRINK, GROW, SHRINK|GROW|SEAL added after preserving) and file positions set before and after preserving (one past EOF)" },
	    { "stage2", seals_stage2,
	      "each memfd's bytes, F_GET_SEALS and position (the one at the kexec) exactly as left; each seal enforced (writes, shrink, grow EPERM; FUTURE_WRITE refuses a shared writable mmap), unsealed ones still resizable and sealable, F_SEAL_SEAL refuses more seals" });

/* ---- finish: by ioctl, by close, with files never retrieved ---- */

static void finish_stage1(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s[3];

	s[0] = CHECK_OK(lu_create_session(dev, "kx-fin-ioctl"));
	s[1] = CHECK_OK(lu_create_session(dev, "kx-fin-close"));
	s[2] = CHECK_OK(lu_create_session(dev, "kx-fin-none"));
	for (uint64_t t = 1; t <= 3; t++) {
		CHECK_EQ(lu_preserve_fd(s[0], CHECK_OK(lu_memfd("kx-fin", 0, 1000 * t, t)), t), 0);
		CHECK_EQ(lu_preserve_fd(s[1], CHECK_OK(lu_memfd("kx-fin", 0, 1000 * t, 10 + t)), t), 0);
		CHECK_EQ(lu_preserve_fd(s[2], CHECK_OK(lu_memfd("kx-fin", 0, 1000 * t, 20 + t)), t), 0);
	}
	close(dev);
	kx_hold(s, 3);
}

static void finish_stage2(void)
{
	struct liveupdate_session_finish f;
	int dev = CHECK_OK(lu_open_dev());
	int s, fd1, fd3;

	/* FINISH by ioctl */
	s = CHECK_OK(lu_retrieve_session(dev, "kx-fin-ioctl"));
	fd1 = CHECK_OK(lu_retrieve_fd(s, 1));
	memset(&f, 0, sizeof(f));
	f.size = sizeof(f);
	f.reserved = 1;
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_FINISH, &f), -EINVAL);
	f.reserved = 0x80000000;
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_FINISH, &f), -EINVAL);
	/* that did not finish anything */
	fd3 = CHECK_OK(lu_retrieve_fd(s, 3));
	kx_expect_memfd(fd3, 3000, 3);
	EXPECT_EQ(lu_finish(s), 0);
	/* token 2 was never retrieved: discarded */
	EXPECT_EQ(lu_retrieve_fd(s, 2), -ENOENT);
	EXPECT_EQ(lu_retrieve_fd(s, 1), -ENOENT);
	EXPECT_EQ(lu_retrieve_fd(s, 3), -ENOENT);
	EXPECT_EQ(lu_finish(s), 0);
	EXPECT_EQ(lu_finish(s), 0);
	/* still retrieved (fd open): EINVAL, not ENOENT */
	EXPECT_EQ(lu_retrieve_session(dev, "kx-fin-ioctl"), -EINVAL);
	close(s);
	EXPECT_EQ(lu_retrieve_session(dev, "kx-fin-ioctl"), -ENOENT);
	/* retrieved files are ordinary memfds now */
	kx_expect_memfd(fd1, 1000, 1);
	EXPECT_EQ(lu_ftruncate(fd1, 5), 0);
	close(fd1);
	close(fd3);

	/* FINISH by close */
	s = CHECK_OK(lu_retrieve_session(dev, "kx-fin-close"));
	fd1 = CHECK_OK(lu_retrieve_fd(s, 1));
	close(s);
	EXPECT_EQ(lu_retrieve_session(dev, "kx-fin-close"), -ENOENT);
	kx_expect_memfd(fd1, 1000, 11);
	close(fd1);

	/* nothing retrieved, then closed */
	s = CHECK_OK(lu_retrieve_session(dev, "kx-fin-none"));
	close(s);
	EXPECT_EQ(lu_retrieve_session(dev, "kx-fin-none"), -ENOENT);
	close(dev);
}

KX_SCENARIO(kx_finish, "finish",
	    { "stage1", finish_stage1,
	      "three sessions (for FINISH by ioctl, by close, and with nothing retrieved), three memfds each of 1000, 2000, 3000 bytes" },
	    { "stage2", finish_stage2,
	      "FINISH with nonzero reserved fields EINVAL and finishes nothing; after FINISH every token (the never-retrieved one too) ENOENT, FINISH again 0, the session EINVAL while open then ENOENT; retrieved memfds keep their bytes and are resizable; a session closed after one or no retrieve is ENOENT" });

/* ---- proto: the ioctl protocol on an incoming session ---- */

static void proto_stage1(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "kx-proto"));

	CHECK_EQ(lu_preserve_fd(s, CHECK_OK(lu_memfd("kx-proto", 0, 700, 7)), 7), 0);
	CHECK_EQ(lu_preserve_fd(s, CHECK_OK(lu_memfd("kx-proto", 0, 800, 8)), 8), 0);
	CHECK_EQ(lu_preserve_fd(s, CHECK_OK(lu_memfd("kx-proto", 0, 900, 9)), 9), 0);
	close(dev);
	kx_hold(&s, 1);
}

static void proto_stage2(void)
{
	union {
		struct liveupdate_ioctl_retrieve_session rs;
		struct liveupdate_session_preserve_fd p;
		struct liveupdate_session_retrieve_fd r;
		struct liveupdate_session_finish f;
		struct liveupdate_session_get_name g;
		unsigned char raw[4096];
	} a;
	int dev = CHECK_OK(lu_open_dev());
	int s, m, out, fd;
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];

	/* RETRIEVE_SESSION size rules */
	memset(&a, 0, sizeof(a));
	a.rs.size = 71;
	strcpy((char *)a.rs.name, "kx-proto");
	EXPECT_EQ(lu_ioctl(dev, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &a), -EINVAL);
	a.rs.size = 80;
	a.raw[75] = 1;
	EXPECT_EQ(lu_ioctl(dev, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &a), -E2BIG);
	a.raw[75] = 0;
	a.rs.size = 4096;
	a.rs.fd = -1;
	CHECK_EQ(lu_ioctl(dev, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &a), 0);
	s = a.rs.fd;
	CHECK(s >= 0);
	EXPECT_EQ(lu_cloexec(s), 1);
	EXPECT_STR(lu_fd_link(s), lu_session_link("kx-proto"));
	/* already retrieved */
	EXPECT_EQ(lu_retrieve_session(dev, "kx-proto"), -EINVAL);

	/* GET_NAME works on incoming sessions; reserved must be zero */
	CHECK_EQ(lu_get_name(s, name), 0);
	EXPECT_STR(name, "kx-proto");
	memset(&a, 0, sizeof(a));
	a.g.size = sizeof(a.g);
	a.g.reserved = 0x1234;
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_GET_NAME, &a), -EINVAL);
	EXPECT_EQ(a.g.name[0], 0);

	/* an outgoing session may share the name of an incoming one */
	out = CHECK_OK(lu_create_session(dev, "kx-proto"));
	EXPECT_STR(lu_fd_link(out), lu_session_link("kx-proto"));

	/* PRESERVE_FD needs an outgoing session */
	m = CHECK_OK(lu_memfd("kx-proto-new", MFD_ALLOW_SEALING, 10, 1));
	EXPECT_EQ(lu_preserve_fd(s, m, 99), -EINVAL);
	EXPECT_EQ(lu_preserve_fd(s, m, 7), -EINVAL);
	EXPECT_EQ(lu_seals(m), 0);	/* untouched */
	EXPECT_EQ(lu_preserve_fd(out, m, 99), 0);
	close(out);

	/* dispatcher */
	memset(&a, 0, sizeof(a));
	a.r.size = sizeof(a.r);
	a.r.token = 7;
	EXPECT_EQ(lu_ioctl(s, _IO(0xBA, 0x44), &a), -EINVAL);
	EXPECT_EQ(lu_ioctl(s, _IO(0xBA, 0x01), &a), -EINVAL);
	EXPECT_EQ(lu_ioctl(s, _IOWR(0xBA, 0x41, struct liveupdate_session_retrieve_fd), &a), -ENOTTY);
	EXPECT_EQ(lu_ioctl(s, _IO(0xBB, 0x41), &a), -ENOTTY);
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_RETRIEVE_FD, NULL), -EFAULT);
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_FINISH, NULL), -EFAULT);

	/* RETRIEVE_FD size rules */
	memset(&a, 0, sizeof(a));
	a.r.size = 15;
	a.r.fd = -1;
	a.r.token = 7;
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_RETRIEVE_FD, &a), -EINVAL);
	a.r.size = 24;
	a.raw[20] = 1;
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_RETRIEVE_FD, &a), -E2BIG);
	EXPECT_EQ(a.r.fd, -1);
	a.raw[20] = 0;
	CHECK_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_RETRIEVE_FD, &a), 0);
	fd = a.r.fd;
	kx_expect_memfd(fd, 700, 7);
	for (int j = 16; j < 24; j++)
		EXPECT_EQ(a.raw[j], 0);
	close(fd);
	EXPECT_EQ(lu_retrieve_fd(s, 12345), -ENOENT);
	EXPECT_EQ(lu_retrieve_fd(s, UINT64_MAX), -ENOENT);

	/* FINISH size rules and reserved; none of these finishes */
	memset(&a, 0, sizeof(a));
	a.f.size = 7;
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_FINISH, &a), -EINVAL);
	a.f.size = 0;
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_FINISH, &a), -EINVAL);
	a.f.size = 16;
	a.raw[15] = 1;
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_FINISH, &a), -E2BIG);
	a.raw[15] = 0;
	a.f.reserved = 1;
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_FINISH, &a), -EINVAL);
	/* as upstream, RETRIEVE_FD reserves its fd first: EMFILE beats ENOENT */
	{
		struct rlimit old, low = { 64, 64 };
		int fds[64], n = 0;

		CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
		low.rlim_max = old.rlim_max;
		CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
		while (n < 64 && (fds[n] = dup(s)) >= 0)
			n++;
		EXPECT_EQ(lu_retrieve_fd(s, 8), -EMFILE);
		EXPECT_EQ(lu_retrieve_fd(s, 12345), -EMFILE);
		while (n)
			close(fds[--n]);
		CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
	}
	fd = CHECK_OK(lu_retrieve_fd(s, 8));
	kx_expect_memfd(fd, 800, 8);
	close(fd);
	/*
	 * A larger FINISH with a zero tail finishes; as upstream the reply is
	 * written back, so a read-only argument gives EFAULT after finishing.
	 */
	a.f.reserved = 0;
	{
		long pg = sysconf(_SC_PAGESIZE);
		void *ro = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		CHECK(ro != MAP_FAILED);
		memcpy(ro, &a, 64);
		CHECK(mprotect(ro, pg, PROT_READ) == 0);
		EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_FINISH, ro), -EFAULT);
		munmap(ro, pg);
	}
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_FINISH, &a), 0);
	EXPECT_EQ(lu_retrieve_fd(s, 9), -ENOENT);
	EXPECT_EQ(lu_finish(s), 0);
	/* PRESERVE_FD is still refused after FINISH */
	EXPECT_EQ(lu_preserve_fd(s, CHECK_OK(lu_memfd("x", 0, 1, 1)), 1), -EINVAL);
	close(s);
	EXPECT_EQ(lu_retrieve_session(dev, "kx-proto"), -ENOENT);
	close(dev);
}

KX_SCENARIO(kx_proto, "proto",
	    { "stage1", proto_stage1,
	      "session kx-proto with three memfds (700, 800, 900 bytes, tokens 7, 8, 9)" },
	    { "stage2", proto_stage2,
	      "on an incoming session: RETRIEVE_SESSION/RETRIEVE_FD/FINISH size rules (EINVAL, E2BIG, larger with zero tail ok), already retrieved EINVAL, GET_NAME reserved EINVAL, PRESERVE_FD EINVAL (also after FINISH), unknown ioctls EINVAL/ENOTTY, NULL EFAULT, EMFILE before ENOENT, FINISH into read-only memory EFAULT after finishing; an outgoing session of the same name works" });

/*
 * ---- sessions-param: the "sessions" parameter before and after a kexec ----
 * Its stage1 runs first in its boot and its stage2 first after the status
 * check in the next, so these are the first sessions listed.
 */

#define SP_OUT	"out 0 0 kx-sp-empty\n"		\
		"out 1 100 kx-sp\\040one\n"	\
		"out 2 4098 kx-sp\\ntwo\n"

static void sp_stage1(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s[3], m1, m2, m3;

	s[0] = CHECK_OK(lu_create_session(dev, "kx-sp-empty"));
	s[1] = CHECK_OK(lu_create_session(dev, "kx-sp one"));
	s[2] = CHECK_OK(lu_create_session(dev, "kx-sp\ntwo"));
	m1 = CHECK_OK(lu_memfd("kx-sp-1", MFD_ALLOW_SEALING, 100, 0x51));
	m2 = CHECK_OK(lu_memfd("kx-sp-2", MFD_ALLOW_SEALING, 1, 0x52));
	m3 = CHECK_OK(lu_memfd("kx-sp-3", MFD_ALLOW_SEALING, 4097, 0x53));
	CHECK_EQ(lu_preserve_fd(s[1], m1, 1), 0);
	CHECK_EQ(lu_preserve_fd(s[2], m2, 1), 0);
	CHECK_EQ(lu_preserve_fd(s[2], m3, 2), 0);
	EXPECT_STR(lu_param_page("sessions"), SP_OUT);
	close(m1);
	close(m2);
	close(m3);
	close(dev);
	kx_hold(s, 3);
}

/* @want must be the beginning of "sessions", which must end with "more N" */
static void sp_expect(const char *want)
{
	const char *got = lu_param_page("sessions");
	size_t len = strlen(got);

	if (strncmp(got, want, strlen(want))) {
		lu_diag("sessions begins:\n%.*s", (int)strlen(want) + 40, got);
		EXPECT_STR(lu_fmt("%.*s", (int)strlen(want), got), want);
	}
	/* the other scenarios' sessions (sessions2000) fill the page */
	EXPECT(len > 6 && strstr(got, "\nmore ") && got[len - 1] == '\n');
}

static void sp_stage2(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s1, s2, fd, out;

	sp_expect("in 0 0 unretrieved kx-sp-empty\n"
		  "in 1 100 unretrieved kx-sp\\040one\n"
		  "in 2 4098 unretrieved kx-sp\\ntwo\n");
	s2 = CHECK_OK(lu_retrieve_session(dev, "kx-sp\ntwo"));
	sp_expect("in 0 0 unretrieved kx-sp-empty\n"
		  "in 1 100 unretrieved kx-sp\\040one\n"
		  "in 2 4098 retrieved kx-sp\\ntwo\n");
	fd = CHECK_OK(lu_retrieve_fd(s2, 2));
	kx_expect_memfd(fd, 4097, 0x53);
	/* a retrieved file still counts until FINISH, at its handed-over size */
	CHECK_EQ(lu_ftruncate(fd, 10), 0);
	sp_expect("in 0 0 unretrieved kx-sp-empty\n"
		  "in 1 100 unretrieved kx-sp\\040one\n"
		  "in 2 4098 retrieved kx-sp\\ntwo\n");
	EXPECT_EQ(lu_finish(s2), 0);
	sp_expect("in 0 0 unretrieved kx-sp-empty\n"
		  "in 1 100 unretrieved kx-sp\\040one\n"
		  "in 0 0 finished kx-sp\\ntwo\n");
	/* outgoing sessions come first */
	out = CHECK_OK(lu_create_session(dev, "kx-sp-out"));
	CHECK_EQ(lu_preserve_fd(out, fd, 5), 0);
	sp_expect("out 1 10 kx-sp-out\n"
		  "in 0 0 unretrieved kx-sp-empty\n"
		  "in 1 100 unretrieved kx-sp\\040one\n"
		  "in 0 0 finished kx-sp\\ntwo\n");
	close(out);
	close(s2);
	s1 = CHECK_OK(lu_retrieve_session(dev, "kx-sp one"));
	close(s1);
	sp_expect("in 0 0 unretrieved kx-sp-empty\n");
	EXPECT(!strstr(lu_param_page("sessions"), "kx-sp\\040one"));
	EXPECT(!strstr(lu_param_page("sessions"), "kx-sp\\ntwo"));
	close(fd);
	close(dev);
}

KX_SCENARIO(kx_sessions_param, "sessions-param",
	    { "stage1", sp_stage1,
	      "the sessions parameter lists the outgoing sessions first, exactly (names escaped, counts and bytes), before the other scenarios' sessions" },
	    { "stage2", sp_stage2,
	      "the sessions parameter lists incoming sessions with their handed-over sizes (a retrieved file at its handed-over size until FINISH), outgoing ones first, escaped names gone once finished; the page ends with 'more N'" });
