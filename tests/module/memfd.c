// SPDX-License-Identifier: GPL-2.0
/*
 * A preserved memfd: its size is frozen (ftruncate to another size, write
 * past EOF, fallocate in any mode: EPERM; ftruncate to the same size: 0),
 * writes inside it and through mmap work, F_GET_SEALS shows GROW|SHRINK on
 * top of the user's seals while preserved and exactly the user's seals after
 * the session is closed.
 */
#include "harness.h"

#include <sys/mman.h>
#include <sys/wait.h>
#include <signal.h>

#define SZ 8192

static int preserved_memfd(int *dev, int *s, const char *name, unsigned int flags)
{
	int m;

	*dev = CHECK_OK(lu_open_dev());
	*s = CHECK_OK(lu_create_session(*dev, name));
	m = CHECK_OK(lu_memfd(name, flags, SZ, 42));
	CHECK_EQ(lu_preserve_fd(*s, m, 1), 0);
	return m;
}

static void ftruncate_eperm(void)
{
	int dev, s, m = preserved_memfd(&dev, &s, "lu-m-trunc", MFD_ALLOW_SEALING);

	EXPECT_EQ(lu_ftruncate(m, SZ / 2), -EPERM);
	EXPECT_EQ(lu_ftruncate(m, 0), -EPERM);
	EXPECT_EQ(lu_ftruncate(m, SZ - 1), -EPERM);
	EXPECT_EQ(lu_ftruncate(m, SZ + 1), -EPERM);
	EXPECT_EQ(lu_ftruncate(m, 2 * SZ), -EPERM);
	EXPECT_EQ(lu_ftruncate(m, SZ), 0);	/* same size */
	EXPECT_EQ(lu_fsize(m), SZ);
	EXPECT_EQ(lu_compare(m, 0, SZ, 42), 0);
	/* still frozen once /dev/liveupdate is closed */
	close(dev);
	EXPECT_EQ(lu_ftruncate(m, SZ / 2), -EPERM);
	EXPECT_EQ(lu_ftruncate(m, SZ * 2), -EPERM);
	EXPECT_EQ(lu_fsize(m), SZ);
	/* unfrozen when the session goes */
	close(s);
	EXPECT_EQ(lu_ftruncate(m, SZ / 2), 0);
	EXPECT_EQ(lu_ftruncate(m, SZ * 2), 0);
	EXPECT_EQ(lu_fsize(m), SZ * 2);
}

static void write_past_eof_eperm(void)
{
	int dev, s, m = preserved_memfd(&dev, &s, "lu-m-write", MFD_ALLOW_SEALING);
	char buf[16] = "0123456789abcdef";
	long long want;
	int probe;

	EXPECT_EQ(lu_pwrite(m, buf, 1, SZ), -EPERM);
	EXPECT_EQ(lu_pwrite(m, buf, 16, SZ + 4096), -EPERM);
	CHECK(lseek(m, SZ, SEEK_SET) == SZ);
	errno = 0;
	EXPECT_EQ(write(m, buf, 8) < 0 ? -errno : 0, -EPERM);
	CHECK(lseek(m, 0, SEEK_END) == SZ);
	EXPECT_EQ(write(m, buf, 1) < 0 ? -errno : 0, -EPERM);
	EXPECT_EQ(lu_fsize(m), SZ);
	EXPECT_EQ(lu_compare(m, 0, SZ, 42), 0);
	/*
	 * A write that starts inside and ends past EOF, across a page end:
	 * exactly what this kernel does with a user's F_SEAL_GROW (6.1 writes
	 * the part up to EOF and returns that short count, 6.12 and 7.2 refuse
	 * it with EPERM): probed on a plain memfd.
	 */
	probe = CHECK_OK(lu_memfd("lu-m-probe", MFD_ALLOW_SEALING, SZ, 42));
	CHECK_EQ(lu_add_seals(probe, F_SEAL_GROW), 0);
	want = lu_pwrite(probe, buf, 4, SZ - 2);
	CHECK(want == 2 || want == -EPERM);
	close(probe);
	lu_diag("this kernel answers a write across EOF with %s", lu_val(want));
	EXPECT_EQ(lu_pwrite(m, buf, 4, SZ - 2), want);
	EXPECT_EQ(lu_fsize(m), SZ);
	EXPECT_EQ(lu_compare(m, 0, SZ - 2, 42), 0);
	close(s);
	/* unfrozen */
	EXPECT_EQ(lu_pwrite(m, buf, 4, SZ - 2), 4);
	EXPECT_EQ(lu_fsize(m), SZ + 2);
	close(dev);
}

/* a size that is not a page multiple: the crossing write is one chunk */
static void write_past_eof_unaligned(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "lu-m-write5000"));
	int m = CHECK_OK(lu_memfd("lu-m-write5000", MFD_ALLOW_SEALING, 5000, 5));

	CHECK_EQ(lu_preserve_fd(s, m, 1), 0);
	EXPECT_EQ(lu_pwrite(m, "abcd", 4, 4998), -EPERM);
	EXPECT_EQ(lu_pwrite(m, "abcd", 4, 5000), -EPERM);
	EXPECT_EQ(lu_pwrite(m, "abcd", 2, 4998), 2);	/* up to EOF: fine */
	EXPECT_EQ(lu_fsize(m), 5000);
	EXPECT_EQ(lu_ftruncate(m, 4096), -EPERM);
	EXPECT_EQ(lu_ftruncate(m, 8192), -EPERM);
	close(s);
	close(dev);
}

static void fallocate_eperm(void)
{
	static const struct { int mode; uint64_t off, len; } cases[] = {
		{ 0, 0, 4096 },					/* inside */
		{ 0, 100, 10 },
		{ 0, SZ - 1, 2 },
		{ 0, SZ, 4096 },				/* beyond */
		{ FALLOC_FL_KEEP_SIZE, 0, SZ },
		{ FALLOC_FL_KEEP_SIZE, SZ, 4096 },
		{ FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096 },
		{ FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 4096 },
		{ FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 10, 20 },
	};
	int dev, s, m = preserved_memfd(&dev, &s, "lu-m-falloc", MFD_ALLOW_SEALING);

	for (size_t i = 0; i < LU_ARRAY_SIZE(cases); i++) {
		int r = lu_fallocate(m, cases[i].mode, cases[i].off, cases[i].len);

		if (r != -EPERM)
			lu_diag("fallocate(mode %#x, %llu, %llu)", cases[i].mode,
				(unsigned long long)cases[i].off,
				(unsigned long long)cases[i].len);
		EXPECT_EQ(r, -EPERM);
	}
	EXPECT_EQ(lu_fsize(m), SZ);
	EXPECT_EQ(lu_compare(m, 0, SZ, 42), 0);
	/* a mode shmem does not support: EOPNOTSUPP before the freeze, as upstream */
	EXPECT_EQ(lu_fallocate(m, FALLOC_FL_ZERO_RANGE, 0, 4096), -EOPNOTSUPP);
	EXPECT_EQ(lu_fallocate(m, FALLOC_FL_COLLAPSE_RANGE, 0, 4096), -EOPNOTSUPP);
	EXPECT_EQ(lu_fallocate(m, FALLOC_FL_INSERT_RANGE, 0, 4096), -EOPNOTSUPP);
	close(s);
	/* allowed again */
	EXPECT_EQ(lu_fallocate(m, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096), 0);
	EXPECT_EQ(lu_compare(m, 0, 4096, LU_ZEROS), 0);
	EXPECT_EQ(lu_fallocate(m, 0, SZ, 4096), 0);
	EXPECT_EQ(lu_fsize(m), SZ + 4096);
	close(dev);
}

static void writes_inside(void)
{
	int dev, s, m = preserved_memfd(&dev, &s, "lu-m-inside", MFD_ALLOW_SEALING);
	char buf[SZ], want[SZ];
	unsigned char *map;

	lu_pattern(want, 0, SZ, 42);
	/* pwrite inside, up to the last byte */
	EXPECT_EQ(lu_pwrite(m, "hello", 5, 100), 5);
	memcpy(want + 100, "hello", 5);
	EXPECT_EQ(lu_pwrite(m, "end!", 4, SZ - 4), 4);
	memcpy(want + SZ - 4, "end!", 4);
	/* write() at the file position */
	CHECK(lseek(m, 5000, SEEK_SET) == 5000);
	EXPECT_EQ(write(m, "pos", 3), 3);
	memcpy(want + 5000, "pos", 3);
	EXPECT_EQ(lu_fpos(m), 5003);
	/* through a shared mapping */
	map = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	CHECK(map != MAP_FAILED);
	memcpy(map + 4000, "mapped", 6);
	memcpy(want + 4000, "mapped", 6);
	map[SZ - 5] = 'X';
	want[SZ - 5] = 'X';
	CHECK(msync(map, SZ, MS_SYNC) == 0);
	EXPECT_EQ(map[100], 'h');
	CHECK(munmap(map, SZ) == 0);
	EXPECT_EQ(lu_fsize(m), SZ);
	CHECK_EQ(lu_pread(m, buf, SZ, 0), SZ);
	EXPECT(memcmp(buf, want, SZ) == 0);
	close(s);
	close(dev);
}

static void seals_while_preserved(void)
{
	static const struct {
		unsigned int flags;	/* memfd_create flags */
		int user;		/* seals added by the user */
		int before;		/* F_GET_SEALS before preserving */
	} cases[] = {
		{ MFD_ALLOW_SEALING, 0, 0 },
		{ MFD_ALLOW_SEALING, F_SEAL_SHRINK, F_SEAL_SHRINK },
		{ MFD_ALLOW_SEALING, F_SEAL_GROW, F_SEAL_GROW },
		{ MFD_ALLOW_SEALING, F_SEAL_GROW | F_SEAL_SHRINK, F_SEAL_GROW | F_SEAL_SHRINK },
		{ MFD_ALLOW_SEALING, F_SEAL_WRITE, F_SEAL_WRITE },
		{ MFD_ALLOW_SEALING, F_SEAL_FUTURE_WRITE, F_SEAL_FUTURE_WRITE },
		{ MFD_ALLOW_SEALING, F_SEAL_SEAL | F_SEAL_WRITE, F_SEAL_SEAL | F_SEAL_WRITE },
		{ MFD_ALLOW_SEALING, F_SEAL_SEAL, F_SEAL_SEAL },
		{ 0, 0, F_SEAL_SEAL },		/* sealing not allowed */
	};
	int dev = CHECK_OK(lu_open_dev());

	for (size_t i = 0; i < LU_ARRAY_SIZE(cases); i++) {
		int s = CHECK_OK(lu_create_session(dev, lu_fmt("lu-m-seals-%zu", i)));
		int m = CHECK_OK(lu_memfd("lu-m-seals", cases[i].flags, SZ, i));

		if (cases[i].user)
			CHECK_EQ(lu_add_seals(m, cases[i].user), 0);
		CHECK_EQ(lu_seals(m), cases[i].before);
		CHECK_EQ(lu_preserve_fd(s, m, 1), 0);
		/* as upstream: the size freeze is not a seal */
		if (lu_seals(m) != cases[i].before)
			lu_diag("case %zu: user seals %#x", i, cases[i].before);
		EXPECT_EQ(lu_seals(m), cases[i].before);
		EXPECT_EQ(lu_ftruncate(m, SZ + 4096), -EPERM);
		close(s);
		if (lu_seals(m) != cases[i].before)
			lu_diag("case %zu: user seals %#x", i, cases[i].before);
		EXPECT_EQ(lu_seals(m), cases[i].before);
		/* the size is unfrozen unless the user froze it */
		EXPECT_EQ(lu_ftruncate(m, SZ + 4096),
			  cases[i].before & F_SEAL_GROW ? -EPERM : 0);
		close(m);
	}
	close(dev);
}

/*
 * Seals are only ever added: what the user seals while the file is
 * preserved stays after unpreserve, also the seals the size freeze would
 * have needed (F_SEAL_SHRINK, F_SEAL_GROW) and everything once F_SEAL_SEAL
 * is set. A peer that checked SHRINK|SEAL before mapping may rely on it.
 */
static void seals_added_while_preserved(void)
{
	static const int added[] = {
		F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_SHRINK | F_SEAL_GROW,
		F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, F_SEAL_SEAL,
		F_SEAL_WRITE | F_SEAL_SEAL,
	};
	int dev = CHECK_OK(lu_open_dev());

	for (size_t i = 0; i < LU_ARRAY_SIZE(added); i++) {
		int s = CHECK_OK(lu_create_session(dev, lu_fmt("lu-m-added-%zu", i)));
		int m = CHECK_OK(lu_memfd("lu-m-added", MFD_ALLOW_SEALING, SZ, i));

		CHECK_EQ(lu_preserve_fd(s, m, 1), 0);
		CHECK_EQ(lu_add_seals(m, added[i]), 0);
		EXPECT_EQ(lu_seals(m), added[i]);
		close(s);
		if (lu_seals(m) != added[i])
			lu_diag("case %zu: added %#x while preserved", i, added[i]);
		EXPECT_EQ(lu_seals(m), added[i]);
		EXPECT_EQ(lu_ftruncate(m, 0), added[i] & F_SEAL_SHRINK ? -EPERM : 0);
		if (added[i] & F_SEAL_SEAL)
			EXPECT_EQ(lu_add_seals(m, F_SEAL_FUTURE_WRITE), -EPERM);
		close(m);
	}
	close(dev);
}

/*
 * Unpreserving changes no seal: a user's F_SEAL_SHRINK survives any number
 * of preserve/unpreserve rounds.
 */
static void seals_restored_twice(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int m = CHECK_OK(lu_memfd("lu-m-twice", MFD_ALLOW_SEALING, SZ, 1));

	CHECK_EQ(lu_add_seals(m, F_SEAL_SHRINK), 0);
	for (int round = 0; round < 3; round++) {
		int s = CHECK_OK(lu_create_session(dev, "lu-m-twice"));

		CHECK_EQ(lu_preserve_fd(s, m, round), 0);
		EXPECT_EQ(lu_seals(m), F_SEAL_SHRINK);
		close(s);
		EXPECT_EQ(lu_seals(m), F_SEAL_SHRINK);
	}
	EXPECT_EQ(lu_ftruncate(m, SZ * 2), 0);
	EXPECT_EQ(lu_ftruncate(m, SZ), -EPERM);
	close(dev);
}

/*
 * The size freeze is the inode's: a file opened on it through /proc/self/fd
 * while preserved refuses truncation, growing writes and fallocate too, and
 * one opened before preserving refuses truncation. After unpreserve all of
 * it works through both.
 */
static void frozen_through_reopen(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "lu-m-reopen"));
	int m = CHECK_OK(lu_memfd("lu-m-reopen", MFD_ALLOW_SEALING, SZ, 3));
	const char *path = lu_fmt("/proc/self/fd/%d", m);
	int before = open(path, O_RDWR), after;
	char b = 1;

	CHECK(before >= 0);
	CHECK_EQ(lu_preserve_fd(s, m, 1), 0);
	after = open(path, O_RDWR);
	CHECK(after >= 0);
	EXPECT_EQ(lu_ftruncate(before, SZ / 2), -EPERM);
	EXPECT_EQ(lu_ftruncate(after, SZ * 2), -EPERM);
	EXPECT_EQ(lu_pwrite(after, &b, 1, SZ), -EPERM);
	EXPECT_EQ(lu_fallocate(after, 0, 0, 4096), -EPERM);
	EXPECT_EQ(lu_fallocate(after, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096),
		  -EPERM);
	EXPECT_EQ(lu_pwrite(after, &b, 1, 0), 1);
	EXPECT_EQ(lu_fsize(m), SZ);
	EXPECT_EQ(lu_seals(after), 0);
	close(s);
	EXPECT_EQ(lu_pwrite(after, &b, 1, SZ), 1);
	EXPECT_EQ(lu_fallocate(after, 0, 0, SZ * 2), 0);
	EXPECT_EQ(lu_ftruncate(before, SZ), 0);
	EXPECT_EQ(lu_fsize(m), SZ);
	close(after);
	close(before);
	close(m);
	close(dev);
}

static void mmap_after_preserve(void)
{
	int dev, s, m = preserved_memfd(&dev, &s, "lu-m-mmap", MFD_ALLOW_SEALING);
	unsigned char *map;

	/* a new writable shared mapping still works */
	map = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	CHECK(map != MAP_FAILED);
	map[0] ^= 0xff;
	map[0] ^= 0xff;
	CHECK(munmap(map, SZ) == 0);
	EXPECT_EQ(lu_compare(m, 0, SZ, 42), 0);
	close(s);
	close(dev);
}

/*
 * A memfd with a page the kernel found a memory error in (MADV_HWPOISON;
 * needs CONFIG_MEMORY_FAILURE, which Debian's 6.1 lacks: SKIP there):
 * PRESERVE_FD gives EIO, as upstream (the kexec would read the page), and
 * leaves the file as it was: not frozen, the token free. The injection
 * kills the task that maps the page (SIGBUS), so a child does it.
 */
static void hwpoison_eio(void)
{
	const uint64_t size = 16 * 4096;
	int m = CHECK_OK(lu_memfd("lu-hwpoison", 0, size, 3)), dev, s, ok, st;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);

		if (p == MAP_FAILED)
			_exit(2);
		if (madvise(p + 3 * 4096, 4096, MADV_HWPOISON))
			_exit(errno == EINVAL ? 3 : 4);
		_exit(0);
	}
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 3) {
		close(m);
		SKIP("no memory error handling in this kernel (MADV_HWPOISON: EINVAL)");
	}
	/* poisoned: the child exited, or was killed for mapping the page */
	CHECK((WIFEXITED(st) && !WEXITSTATUS(st)) || (WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS));
	dev = CHECK_OK(lu_open_dev());
	s = CHECK_OK(lu_create_session(dev, "lu-hwpoison"));
	EXPECT_EQ(lu_preserve_fd(s, m, 1), -EIO);
	EXPECT_EQ(lu_ftruncate(m, size + 4096), 0);	/* not frozen */
	ok = CHECK_OK(lu_memfd("lu-hwpoison-ok", 0, 4096, 4));
	EXPECT_EQ(lu_preserve_fd(s, ok, 1), 0);
	close(ok);
	close(s);
	close(m);
	close(dev);
}

static const struct lu_test tests[] = {
	LU_TEST_D(ftruncate_eperm,
		  "a preserved memfd's ftruncate to any other size is EPERM (same size 0), bytes unchanged, also after the device closes; after the session closes it resizes"),
	LU_TEST_D(write_past_eof_eperm,
		  "writes at or past EOF (pwrite, write at the position) are EPERM, size and bytes unchanged; one across EOF as a GROW-sealed memfd on this kernel; after close it grows"),
	LU_TEST_D(write_past_eof_unaligned,
		  "5000-byte memfd: a write across or at EOF is EPERM, up to EOF works; truncation EPERM"),
	LU_TEST_D(fallocate_eperm,
		  "9 fallocate cases (inside, beyond, KEEP_SIZE, PUNCH_HOLE) are EPERM; ZERO, COLLAPSE, INSERT_RANGE EOPNOTSUPP as upstream; after close punch and grow work"),
	LU_TEST_D(writes_inside,
		  "pwrite, write at the position and a shared mapping write inside a preserved memfd; the bytes are exactly those, size unchanged"),
	LU_TEST_D(mmap_after_preserve,
		  "a new writable shared mapping of a preserved memfd works; the bytes are unchanged"),
	LU_TEST_D(seals_while_preserved,
		  "for 9 seal sets F_GET_SEALS shows exactly the user's seals while preserved and after (the freeze is not a seal); growth then as the user's seals say"),
	LU_TEST_D(seals_added_while_preserved,
		  "seals the user adds while preserved (SHRINK, GROW, SEAL, WRITE) are exactly there after the session closes, and enforced"),
	LU_TEST_D(frozen_through_reopen,
		  "the freeze is the inode's: fds opened before and after preserving refuse truncation, growing writes, fallocate; inside writes work; all works after close"),
	LU_TEST_D(seals_restored_twice,
		  "a user's F_SEAL_SHRINK is exactly the seal set through 3 preserve/close rounds, and still enforced"),
	LU_TEST_D(hwpoison_eio,
		  "a memfd with a poisoned page: PRESERVE_FD is EIO, the file not frozen, the token free (skips without memory error handling: 6.1)"),
};

int main(int argc, char **argv)
{
	return lu_main("module/memfd", tests, LU_ARRAY_SIZE(tests), argc, argv);
}
