// SPDX-License-Identifier: GPL-2.0
/*
 * PRESERVE_FD of hugetlb memfds (module/hugetlb.c) in one boot: accepted
 * (before the handler: ENOENT), the size frozen (ftruncate to another size:
 * EPERM, through a reopened fd too; the same size: 0) and free again once
 * the session is closed, the seals untouched; EBUSY twice; a linked
 * hugetlbfs file ENOENT and an O_TMPFILE one accepted; room reserved for
 * the whole size (ENOSPC past the range) and given back.
 */
#include "harness.h"

#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#ifndef MFD_HUGETLB
#define MFD_HUGETLB	0x0004U
#endif
#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC	0x958458f6
#endif

#define HP	(2ULL * LU_MiB)
#define POOL	"/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"

/* at least @n free 2 MiB pages (the module VM reserves none at boot) */
static void pool(long long n)
{
	long long nr = lu_read_number(POOL);
	long long free = lu_read_number("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");

	if (nr < 0)
		SKIP("no 2 MiB hugetlb pages on this kernel");
	if (free < n)
		CHECK_EQ(lu_write_text(POOL, lu_fmt("%lld", nr + n - free)), 0);
	if (lu_read_number("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages") < n)
		SKIP("cannot get %lld free 2 MiB pages", n);
}

/* a 2 MiB-page memfd of @size, its first @touched bytes written (pattern @seed) */
static int huge_memfd(const char *name, unsigned int flags, uint64_t size,
		      uint64_t touched, uint64_t seed)
{
	int m = memfd_create(name, MFD_HUGETLB | flags);
	void *p;

	CHECK(m >= 0);
	CHECK_EQ(ftruncate(m, (off_t)size), 0);
	if (touched) {
		p = mmap(NULL, touched, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
		CHECK(p != MAP_FAILED);
		lu_pattern(p, 0, touched, seed);
		CHECK_EQ(munmap(p, touched), 0);
	}
	return m;
}

static void preserve_frozen(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "lu-h-frozen"));
	int m, r;

	pool(2);
	m = huge_memfd("lu-h-frozen", MFD_ALLOW_SEALING, 2 * HP, 2 * HP, 5);
	EXPECT_EQ(lu_preserve_fd(s, m, 1), 0);
	EXPECT_EQ(lu_ftruncate(m, 4 * HP), -EPERM);
	EXPECT_EQ(lu_ftruncate(m, HP), -EPERM);
	EXPECT_EQ(lu_ftruncate(m, 0), -EPERM);
	EXPECT_EQ(lu_ftruncate(m, 2 * HP), 0);	/* same size */
	/* frozen through every fd of the inode */
	r = open(lu_fmt("/proc/self/fd/%d", m), O_RDWR);
	CHECK(r >= 0);
	EXPECT_EQ(lu_ftruncate(r, 4 * HP), -EPERM);
	/* the seals are the user's */
	EXPECT_EQ(lu_seals(m), 0);
	EXPECT_EQ(lu_fsize(m), 2 * HP);
	EXPECT_EQ(lu_compare(m, 0, 2 * HP, 5), 0);
	/* preserved once only, in any session */
	EXPECT_EQ(lu_preserve_fd(s, m, 2), -EBUSY);
	close(s);
	/* the session closed: the size is free again */
	EXPECT_EQ(lu_ftruncate(r, 4 * HP), 0);
	EXPECT_EQ(lu_ftruncate(m, HP), 0);
	EXPECT_EQ(lu_fsize(m), HP);
	EXPECT_EQ(lu_compare(m, 0, HP, 5), 0);
	close(r);
	close(m);
	close(dev);
}

static void preserve_busy_across_sessions(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s1 = CHECK_OK(lu_create_session(dev, "lu-h-busy1"));
	int s2 = CHECK_OK(lu_create_session(dev, "lu-h-busy2"));
	int m = huge_memfd("lu-h-busy", 0, HP, 0, 0);

	EXPECT_EQ(lu_preserve_fd(s1, m, 1), 0);
	EXPECT_EQ(lu_preserve_fd(s2, m, 1), -EBUSY);
	/* without MFD_ALLOW_SEALING: F_SEAL_SEAL, untouched */
	EXPECT_EQ(lu_seals(m), F_SEAL_SEAL);
	close(s1);
	EXPECT_EQ(lu_preserve_fd(s2, m, 1), 0);
	close(s2);
	close(m);
	close(dev);
}

static void preserve_hugetlbfs_files(void)
{
	static char dir[] = "/tmp/lu-hugetlbfs-XXXXXX";
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "lu-h-fs"));
	struct statfs sf;
	int f, t;

	CHECK(mkdtemp(dir));
	if (mount("lu-hugetlbfs", dir, "hugetlbfs", 0, "pagesize=2M")) {
		rmdir(dir);
		SKIP("mount hugetlbfs: %s", strerror(errno));
	}
	f = open(lu_fmt("%s/linked", dir), O_RDWR | O_CREAT, 0600);
	CHECK(f >= 0);
	CHECK(fstatfs(f, &sf) == 0 && sf.f_type == HUGETLBFS_MAGIC);
	CHECK_EQ(ftruncate(f, HP), 0);
	/* a linked file: no handler takes it */
	EXPECT_EQ(lu_preserve_fd(s, f, 1), -ENOENT);
	/* an unnamed one (O_TMPFILE) is an unlinked hugetlbfs file: accepted */
	t = open(dir, O_TMPFILE | O_RDWR, 0600);
	CHECK(t >= 0);
	CHECK_EQ(ftruncate(t, HP), 0);
	EXPECT_EQ(lu_preserve_fd(s, t, 2), 0);
	close(s);
	close(t);
	close(f);
	unlink(lu_fmt("%s/linked", dir));
	EXPECT_EQ(umount(dir), 0);
	rmdir(dir);
	close(dev);
}

/* room for the whole size, holes too: hugetlb pages never lie in the range */
static void preserve_room(void)
{
	int dev = CHECK_OK(lu_open_dev());
	long long free0 = lu_param_field("space", "free");
	int s = CHECK_OK(lu_create_session(dev, "lu-h-room"));
	uint64_t big;
	int m, small;

	CHECK(free0 > 0);
	big = ((uint64_t)free0 / HP + 1) * HP;
	m = huge_memfd("lu-h-room", 0, big, 0, 0);
	EXPECT_EQ(lu_preserve_fd(s, m, 1), -ENOSPC);
	small = huge_memfd("lu-h-room-small", 0, HP, 0, 0);
	EXPECT_EQ(lu_preserve_fd(s, small, 1), 0);
	EXPECT(lu_param_field("space", "free") <= free0 - (long long)HP);
	close(s);
	EXPECT_EQ(lu_param_field("space", "free"), free0);
	close(small);
	close(m);
	close(dev);
}

static const struct lu_test tests[] = {
	LU_TEST_D(preserve_frozen,
		  "a 4 MiB hugetlb memfd preserves; ftruncate to another size EPERM (same size 0, a reopened fd too), user's seals, bytes kept, EBUSY again; resizable after close"),
	LU_TEST_D(preserve_busy_across_sessions,
		  "a preserved hugetlb memfd is EBUSY in another session, F_SEAL_SEAL untouched; after the first session closes the other takes it"),
	LU_TEST_D(preserve_hugetlbfs_files,
		  "a linked hugetlbfs file is ENOENT; an O_TMPFILE one preserves"),
	LU_TEST_D(preserve_room,
		  "a hugetlb memfd one 2 MiB page larger than the free space is ENOSPC (holes count); 2 MiB takes >= 2 MiB of space, given back exactly on close"),
};

int main(int argc, char **argv)
{
	return lu_main("module/hugetlb", tests, LU_ARRAY_SIZE(tests), argc, argv);
}
