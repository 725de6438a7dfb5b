// SPDX-License-Identifier: GPL-2.0
/*
 * Outgoing session fds: PRESERVE_FD rules (EEXIST token, EBADF, ENOENT for
 * unsupported files, EBUSY for a file preserved anywhere), closing a session
 * unpreserves, 500 files, GET_NAME, ops of the other session kind.
 */
#include "harness.h"

#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif

static int open_session(int *dev, const char *name)
{
	*dev = CHECK_OK(lu_open_dev());
	return CHECK_OK(lu_create_session(*dev, name));
}

static void preserve_memfd(void)
{
	int dev, s = open_session(&dev, "lu-s-basic");
	int m = CHECK_OK(lu_memfd("lu-s-basic", MFD_ALLOW_SEALING, 4096, 1));
	int m0 = CHECK_OK(lu_memfd("lu-s-basic0", MFD_ALLOW_SEALING, 0, 1));
	int mc = CHECK_OK(lu_memfd("lu-s-basicc", MFD_CLOEXEC, 1, 1));

	EXPECT_EQ(lu_preserve_fd(s, m, 1), 0);
	EXPECT_EQ(lu_preserve_fd(s, m0, 2), 0);	/* empty memfd */
	EXPECT_EQ(lu_preserve_fd(s, mc, 3), 0);	/* no sealing allowed */
	/* the contents are untouched by preserving */
	EXPECT_EQ(lu_compare(m, 0, 4096, 1), 0);
	EXPECT_EQ(lu_fsize(m), 4096);
	EXPECT_EQ(lu_fsize(m0), 0);
	close(s);
	close(dev);
}

static void token_eexist(void)
{
	static const uint64_t tokens[] = { 1, 0, UINT64_MAX, 0x8000000000000000ULL };
	int dev, s = open_session(&dev, "lu-s-token");

	for (size_t i = 0; i < LU_ARRAY_SIZE(tokens); i++) {
		int a = CHECK_OK(lu_memfd("lu-s-a", MFD_ALLOW_SEALING, 8, i));
		int b = CHECK_OK(lu_memfd("lu-s-b", MFD_ALLOW_SEALING, 8, i));

		CHECK_EQ(lu_preserve_fd(s, a, tokens[i]), 0);
		EXPECT_EQ(lu_preserve_fd(s, b, tokens[i]), -EEXIST);
		/* b was not preserved: it takes another token */
		EXPECT_EQ(lu_preserve_fd(s, b, tokens[i] ^ 0x5555), 0);
		close(a);
		close(b);
	}
	close(s);
	close(dev);
}

static void token_per_session(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s1 = CHECK_OK(lu_create_session(dev, "lu-s-tok1"));
	int s2 = CHECK_OK(lu_create_session(dev, "lu-s-tok2"));
	int a = CHECK_OK(lu_memfd("lu-s-a", MFD_ALLOW_SEALING, 8, 1));
	int b = CHECK_OK(lu_memfd("lu-s-b", MFD_ALLOW_SEALING, 8, 2));

	/* tokens are per session */
	EXPECT_EQ(lu_preserve_fd(s1, a, 7), 0);
	EXPECT_EQ(lu_preserve_fd(s2, b, 7), 0);
	close(s1);
	close(s2);
	close(dev);
}

static void preserve_ebadf(void)
{
	int dev, s = open_session(&dev, "lu-s-badf");
	int m = CHECK_OK(lu_memfd("lu-s-badf", MFD_ALLOW_SEALING, 8, 1));
	int closed = dup(m);

	CHECK(closed >= 0);
	close(closed);
	EXPECT_EQ(lu_preserve_fd(s, -1, 1), -EBADF);
	EXPECT_EQ(lu_preserve_fd(s, -100, 1), -EBADF);
	EXPECT_EQ(lu_preserve_fd(s, closed, 1), -EBADF);
	EXPECT_EQ(lu_preserve_fd(s, 1000000, 1), -EBADF);
	/* token 1 is still free */
	EXPECT_EQ(lu_preserve_fd(s, m, 1), 0);
	close(s);
	close(dev);
}

static void preserve_unsupported(void)
{
	int dev, s = open_session(&dev, "lu-s-unsup");
	int other = CHECK_OK(lu_create_session(dev, "lu-s-unsup-other"));
	int null = open("/dev/null", O_RDWR);
	int zero = open("/dev/zero", O_RDONLY);
	int root = open("/", O_RDONLY | O_DIRECTORY);
	int proc = open("/proc/self/status", O_RDONLY);
	int pfd[2], sv[2];

	CHECK(null >= 0 && zero >= 0 && root >= 0 && proc >= 0);
	CHECK(pipe(pfd) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	EXPECT_EQ(lu_preserve_fd(s, null, 1), -ENOENT);
	EXPECT_EQ(lu_preserve_fd(s, zero, 2), -ENOENT);
	EXPECT_EQ(lu_preserve_fd(s, root, 3), -ENOENT);
	EXPECT_EQ(lu_preserve_fd(s, proc, 4), -ENOENT);
	EXPECT_EQ(lu_preserve_fd(s, pfd[0], 5), -ENOENT);
	EXPECT_EQ(lu_preserve_fd(s, pfd[1], 6), -ENOENT);
	EXPECT_EQ(lu_preserve_fd(s, sv[0], 7), -ENOENT);
	EXPECT_EQ(lu_preserve_fd(s, dev, 8), -ENOENT);	/* /dev/liveupdate */
	EXPECT_EQ(lu_preserve_fd(s, other, 9), -ENOENT);	/* a session fd */
	EXPECT_EQ(lu_preserve_fd(s, s, 10), -ENOENT);	/* itself */
	/* the tokens were not taken */
	for (uint64_t t = 1; t <= 10; t++)
		EXPECT_EQ(lu_preserve_fd(s, CHECK_OK(lu_memfd("x", 0, 1, t)), t), 0);
	close(s);
	close(other);
	close(dev);
}

static void preserve_hugetlb(void)
{
	int dev, s = open_session(&dev, "lu-s-huge");
	int h = memfd_create("lu-s-huge", MFD_HUGETLB | MFD_ALLOW_SEALING);

	if (h < 0)
		SKIP("memfd_create(MFD_HUGETLB) failed: %s", lu_errname(errno));
	/* ENOENT before module/hugetlb.c (no handler); tests/module/hugetlb.c */
	EXPECT_EQ(lu_preserve_fd(s, h, 1), 0);
	close(h);
	close(s);
	close(dev);
}

/* a private tmpfs mount (falls back to /dev/shm or /tmp when it is tmpfs) */
static const char *tmpfs_dir(void)
{
	static char dir[] = "/tmp/lu-tmpfs-XXXXXX";
	static const char *const fallbacks[] = { "/dev/shm", "/tmp", "/run" };
	struct statfs sf;

	if (mkdtemp(dir) && mount("lu-tmpfs", dir, "tmpfs", 0, "size=16m") == 0)
		return dir;
	for (size_t i = 0; i < LU_ARRAY_SIZE(fallbacks); i++)
		if (statfs(fallbacks[i], &sf) == 0 && sf.f_type == TMPFS_MAGIC)
			return fallbacks[i];
	return NULL;
}

static void preserve_linked_tmpfs(void)
{
	int dev, s = open_session(&dev, "lu-s-tmpfs");
	const char *dir = tmpfs_dir();
	const char *path;
	struct statfs sf;
	int f, t;

	if (!dir)
		SKIP("no tmpfs mount available");
	path = lu_fmt("%s/lu-linked-file", dir);
	f = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(f >= 0);
	CHECK(fstatfs(f, &sf) == 0 && sf.f_type == TMPFS_MAGIC);
	CHECK_EQ(lu_fill(f, 0, 5000, 3), 0);
	EXPECT_EQ(lu_preserve_fd(s, f, 1), -ENOENT);
	/* an unnamed tmpfs file (O_TMPFILE) is an unlinked shmem file: accepted */
	t = open(dir, O_TMPFILE | O_RDWR, 0600);
	if (t < 0) {
		lu_diag("O_TMPFILE on %s: %s", dir, strerror(errno));
	} else {
		CHECK_EQ(lu_fill(t, 0, 5000, 4), 0);
		EXPECT_EQ(lu_preserve_fd(s, t, 1), 0);
		close(t);
	}
	close(f);
	close(s);
	close(dev);
	unlink(path);
	if (!strncmp(dir, "/tmp/lu-tmpfs-", 14)) {
		umount2(dir, MNT_DETACH);
		rmdir(dir);
	}
}

static void double_preservation(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s1 = CHECK_OK(lu_create_session(dev, "lu-s-dbl1"));
	int s2 = CHECK_OK(lu_create_session(dev, "lu-s-dbl2"));
	int m = CHECK_OK(lu_memfd("lu-s-dbl", MFD_ALLOW_SEALING, 100, 1));
	int d = dup(m);

	CHECK(d >= 0);
	CHECK_EQ(lu_preserve_fd(s1, m, 1), 0);
	/* same session, any token, also through a dup of the fd */
	EXPECT_EQ(lu_preserve_fd(s1, m, 2), -EBUSY);
	EXPECT_EQ(lu_preserve_fd(s1, m, 0), -EBUSY);
	EXPECT_EQ(lu_preserve_fd(s1, d, 3), -EBUSY);
	/* another session, any token (also the same one) */
	EXPECT_EQ(lu_preserve_fd(s2, m, 1), -EBUSY);
	EXPECT_EQ(lu_preserve_fd(s2, m, 2), -EBUSY);
	EXPECT_EQ(lu_preserve_fd(s2, d, 4), -EBUSY);
	/* the failed attempts took no token */
	EXPECT_EQ(lu_preserve_fd(s1, CHECK_OK(lu_memfd("x", 0, 1, 1)), 2), 0);
	EXPECT_EQ(lu_preserve_fd(s2, CHECK_OK(lu_memfd("x", 0, 1, 1)), 1), 0);
	close(s1);
	close(s2);
	close(dev);
}

static void close_unpreserves(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s1 = CHECK_OK(lu_create_session(dev, "lu-s-close1"));
	int m = CHECK_OK(lu_memfd("lu-s-close", MFD_ALLOW_SEALING, 100, 1));
	int s2;

	CHECK_EQ(lu_preserve_fd(s1, m, 1), 0);
	close(s1);
	/* preserved again elsewhere */
	s2 = CHECK_OK(lu_create_session(dev, "lu-s-close2"));
	EXPECT_EQ(lu_preserve_fd(s2, m, 1), 0);
	close(s2);
	/* and in a new session of the first name */
	s1 = CHECK_OK(lu_create_session(dev, "lu-s-close1"));
	EXPECT_EQ(lu_preserve_fd(s1, m, 77), 0);
	EXPECT_EQ(lu_compare(m, 0, 100, 1), 0);
	close(s1);
	close(dev);
}

#define NFILES 500

static void files_500(void)
{
	int dev, s = open_session(&dev, "lu-s-500");
	static int fds[NFILES];
	double t0 = lu_now();

	for (int i = 0; i < NFILES; i++) {
		fds[i] = lu_memfd("lu-s-500", MFD_ALLOW_SEALING, (i * 37) % 3000, i);
		if (fds[i] < 0)
			CHECK_OK(fds[i]);
		CHECK_EQ(lu_preserve_fd(s, fds[i], 1000 + i), 0);
		/* the session holds the file: the fd can go */
		if (i % 2)
			close(fds[i]);
	}
	for (int i = 0; i < NFILES; i += 2)
		CHECK_EQ(lu_preserve_fd(s, fds[i], 5000 + i), -EBUSY);
	int fresh = CHECK_OK(lu_memfd("lu-s-500-fresh", MFD_ALLOW_SEALING, 1, 1));

	for (int i = 0; i < NFILES; i++)
		CHECK_EQ(lu_preserve_fd(s, fresh, 1000 + i), -EEXIST);
	CHECK_EQ(lu_preserve_fd(s, fresh, 999), 0);
	close(s);
	/* everything was released: the kept fds can be preserved again */
	s = CHECK_OK(lu_create_session(dev, "lu-s-500"));
	for (int i = 0; i < NFILES; i += 2)
		CHECK_EQ(lu_preserve_fd(s, fds[i], i), 0);
	close(s);
	close(dev);
	lu_diag("500 files in %.2f s", lu_now() - t0);
}

/*
 * Kernel memory per preserved file stays small with random 64-bit tokens
 * (an index keyed by token must not grow a path of nodes per token): the
 * slab growth from preserving 4000 empty memfds (created beforehand) under
 * random tokens, divided by 4000, is below 1 KiB. Closing the session
 * releases them.
 */
#define NSPARSE 4000

static void sparse_tokens(void)
{
	static int fds[NSPARSE];
	long long before, after;
	double t0;
	int dev, s;

	CHECK_EQ(lu_raise_nofile(NSPARSE + 256), 0);
	s = open_session(&dev, "lu-s-sparse");
	for (int i = 0; i < NSPARSE; i++)
		fds[i] = CHECK_OK(lu_memfd_sparse("lu-s-sparse", 0, 0));
	before = lu_meminfo_kib("Slab");
	CHECK(before > 0);
	for (int i = 0; i < NSPARSE; i++)
		CHECK_EQ(lu_preserve_fd(s, fds[i], lu_mix64(i + 1)), 0);
	after = lu_meminfo_kib("Slab");
	lu_diag("slab per preserved file with random tokens: %lld bytes",
		(after - before) * 1024 / NSPARSE);
	EXPECT((after - before) * 1024 / NSPARSE < 1024);
	/* every token is there, and only those */
	EXPECT_EQ(lu_preserve_fd(s, fds[0], lu_mix64(NSPARSE + 1)), -EBUSY);
	EXPECT_EQ(lu_preserve_fd(s, fds[0], lu_mix64(1)), -EEXIST);
	t0 = lu_now();
	close(s);
	lu_diag("closing the session of %d files took %.2f s", NSPARSE, lu_now() - t0);
	s = CHECK_OK(lu_create_session(dev, "lu-s-sparse"));
	for (int i = 0; i < NSPARSE; i += 97)
		EXPECT_EQ(lu_preserve_fd(s, fds[i], i), 0);
	close(s);
	for (int i = 0; i < NSPARSE; i++)
		close(fds[i]);
	close(dev);
}

/*
 * What the module allocates for a caller is charged to the caller's memory
 * cgroup: in a cgroup of its own, preserving 4000 memfds (created before)
 * raises memory.current by at least 100 bytes per file.
 */
static void memcg_charged(void)
{
	static int fds[NSPARSE];
	const char *cg = LU_CGROUP, *child = LU_CGROUP "/lu-s-memcg";
	long long before, after;
	int dev, s;

	if (lu_memcg_make(cg, child))
		SKIP("no cgroup2 memory controller");
	CHECK_EQ(lu_write_text(lu_fmt("%s/cgroup.procs", child), lu_fmt("%d", getpid())), 0);
	CHECK_EQ(lu_raise_nofile(NSPARSE + 256), 0);
	s = open_session(&dev, "lu-s-memcg");
	for (int i = 0; i < NSPARSE; i++)
		fds[i] = CHECK_OK(lu_memfd_sparse("lu-s-memcg", 0, 0));
	before = lu_read_number(lu_fmt("%s/memory.current", child));
	CHECK(before > 0);
	for (int i = 0; i < NSPARSE; i++)
		CHECK_EQ(lu_preserve_fd(s, fds[i], lu_mix64(i + 7)), 0);
	after = lu_read_number(lu_fmt("%s/memory.current", child));
	lu_diag("memory.current grew by %lld bytes per preserved file",
		(after - before) / NSPARSE);
	EXPECT((after - before) / NSPARSE >= 100);
	close(s);
	for (int i = 0; i < NSPARSE; i++)
		close(fds[i]);
	close(dev);
	/* leave the cgroup so that it can go */
	lu_write_text(lu_fmt("%s/cgroup.procs", cg), lu_fmt("%d", getpid()));
	rmdir(child);
}

static void get_name(void)
{
	struct liveupdate_session_get_name a;
	int dev, s = open_session(&dev, "lu-s-name"), s2;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	CHECK_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_GET_NAME, &a), 0);
	EXPECT_STR((char *)a.name, "lu-s-name");
	/* reserved must be zero (upstream: EINVAL), name is left alone */
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.reserved = 0xdeadbeef;
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_GET_NAME, &a), -EINVAL);
	EXPECT_EQ(a.name[0], 0);
	a.reserved = 1;
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_GET_NAME, &a), -EINVAL);
	/*
	 * The name and its NUL; the bytes after them are the caller's, as
	 * upstream 7.2.13 (measured: it strscpy()s into the copied-in
	 * argument and copies the whole struct back). A name of 15 bytes
	 * ends at a word boundary: strscpy() copies a word at a time and
	 * zeroes the rest of the word the NUL is in.
	 */
	s2 = CHECK_OK(lu_create_session(dev, "lu-s-name-tail1"));
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	memset(a.name, 'q', sizeof(a.name) - 1);
	CHECK_EQ(lu_ioctl(s2, LIVEUPDATE_SESSION_GET_NAME, &a), 0);
	EXPECT_STR((char *)a.name, "lu-s-name-tail1");
	for (size_t i = strlen("lu-s-name-tail1") + 1; i < sizeof(a.name) - 1; i++)
		EXPECT_EQ(a.name[i], 'q');
	EXPECT_EQ(a.name[sizeof(a.name) - 1], 0);
	close(s2);
	/* after the device was closed too */
	close(dev);
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	CHECK_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_GET_NAME, &a), 0);
	EXPECT_STR((char *)a.name, "lu-s-name");
	close(s);
}

/* RETRIEVE_FD and FINISH need an incoming session */
static void wrong_kind_outgoing(void)
{
	struct liveupdate_session_retrieve_fd r;
	struct liveupdate_session_finish f;
	int dev, s = open_session(&dev, "lu-s-kind");
	int m = CHECK_OK(lu_memfd("lu-s-kind", MFD_ALLOW_SEALING, 8, 1));

	CHECK_EQ(lu_preserve_fd(s, m, 1), 0);
	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.fd = -1;
	r.token = 1;
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_RETRIEVE_FD, &r), -EINVAL);
	EXPECT_EQ(r.fd, -1);
	r.token = 2;
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_RETRIEVE_FD, &r), -EINVAL);
	memset(&f, 0, sizeof(f));
	f.size = sizeof(f);
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_FINISH, &f), -EINVAL);
	/* the session is unchanged */
	EXPECT_EQ(lu_preserve_fd(s, m, 2), -EBUSY);
	EXPECT_EQ(lu_preserve_fd(s, CHECK_OK(lu_memfd("x", 0, 1, 1)), 1), -EEXIST);
	close(s);
	close(dev);
}

/* As upstream: a write-only fd of a memfd can be preserved (its bytes too). */
static void preserve_write_only(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "lu-s-wronly"));
	int m = CHECK_OK(lu_memfd("lu-s-wronly", MFD_ALLOW_SEALING, 5000, 5));
	int wo = open(lu_fmt("/proc/self/fd/%d", m), O_WRONLY | O_CLOEXEC);

	CHECK(wo >= 0);
	EXPECT_EQ(lu_accmode(wo), O_WRONLY);
	EXPECT_EQ(lu_preserve_fd(s, wo, 1), 0);
	EXPECT_EQ(lu_preserve_fd(s, m, 2), -EBUSY);
	EXPECT_EQ(lu_ftruncate(wo, 1), -EPERM);	/* frozen like any other */
	close(s);
	EXPECT_EQ(lu_ftruncate(wo, 1), 0);
	close(wo);
	close(m);
	close(dev);
}

static const struct lu_test tests[] = {
	LU_TEST_D(preserve_memfd,
		  "PRESERVE_FD takes a 4096-byte, an empty and a sealing-less memfd; their bytes and sizes are unchanged by it"),
	LU_TEST_D(preserve_write_only,
		  "a write-only fd of a memfd preserves (the file then EBUSY through its other fd); truncation is EPERM while preserved, allowed after close"),
	LU_TEST_D(token_eexist,
		  "tokens 1, 0, UINT64_MAX, 1<<63: a second file under a taken token is EEXIST and takes another token afterwards"),
	LU_TEST_D(token_per_session,
		  "the same token in two sessions is fine"),
	LU_TEST_D(preserve_ebadf,
		  "fds -1, -100, a closed one, 1000000 are EBADF; the token stays free"),
	LU_TEST_D(preserve_unsupported,
		  "/dev/null, /dev/zero, a directory, a proc file, pipe ends, a socket, /dev/liveupdate, session fds (another, itself) are ENOENT; none takes its token"),
	LU_TEST_D(preserve_hugetlb,
		  "a hugetlb memfd preserves (skips only without MFD_HUGETLB)"),
	LU_TEST_D(preserve_linked_tmpfs,
		  "a linked tmpfs file is ENOENT; an O_TMPFILE one (unlinked shmem) preserves"),
	LU_TEST_D(double_preservation,
		  "a preserved file is EBUSY in the same and another session, under any token, through a dup too; failed attempts take no token"),
	LU_TEST_D(close_unpreserves,
		  "closing a session releases its file: it preserves again in another session and in a new one of the same name, its bytes unchanged"),
	LU_TEST_D(files_500,
		  "500 memfds in one session (half their fds closed): each EBUSY again, each token EEXIST; after close all preserve again"),
	LU_TEST_D(sparse_tokens,
		  "4000 memfds under random 64-bit tokens cost < 1 KiB of slab each; every token there (EEXIST), the file EBUSY; closing releases them"),
	LU_TEST_D(memcg_charged,
		  "in a cgroup of its own, preserving 4000 memfds raises memory.current by >= 100 bytes per file"),
	LU_TEST_D(get_name,
		  "GET_NAME gives the name; reserved != 0 is EINVAL with name untouched; bytes after the NUL are the caller's (as upstream); works after the device is closed"),
	LU_TEST_D(wrong_kind_outgoing,
		  "RETRIEVE_FD and FINISH on an outgoing session are EINVAL (fd stays -1); the session is unchanged"),
};

int main(int argc, char **argv)
{
	return lu_main("module/session", tests, LU_ARRAY_SIZE(tests), argc, argv);
}
