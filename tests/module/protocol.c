// SPDX-License-Identifier: GPL-2.0
/*
 * The ioctl protocol: command numbers, struct layouts, the dispatcher's
 * errors (EINVAL nr outside the table, ENOTTY wrong command word, EFAULT,
 * EINVAL size too small, E2BIG non-zero tail, larger size with a zero tail
 * accepted and only min(size, kernel size) bytes written back).
 */
#include "harness.h"

#include <assert.h>
#include <sys/mman.h>
#include <sys/resource.h>

static_assert(sizeof(struct liveupdate_ioctl_create_session) == 72, "create size");
static_assert(sizeof(struct liveupdate_ioctl_retrieve_session) == 72, "retrieve size");
static_assert(sizeof(struct liveupdate_session_preserve_fd) == 16, "preserve size");
static_assert(sizeof(struct liveupdate_session_retrieve_fd) == 16, "retrieve_fd size");
static_assert(sizeof(struct liveupdate_session_finish) == 8, "finish size");
static_assert(sizeof(struct liveupdate_session_get_name) == 72, "get_name size");

/* a buffer big enough for any argument plus a tail */
union arg {
	struct liveupdate_ioctl_create_session create;
	struct liveupdate_session_preserve_fd preserve;
	struct liveupdate_session_retrieve_fd retrieve_fd;
	struct liveupdate_session_finish finish;
	struct liveupdate_session_get_name get_name;
	unsigned char raw[8192];
};

static void create_arg(union arg *a, const char *name, __u32 size)
{
	memset(a, 0, sizeof(*a));
	a->create.size = size;
	a->create.fd = -1;
	strcpy((char *)a->create.name, name);
}

/* a session that exists? (create it: EEXIST if it did) */
static int session_exists(int dev, const char *name)
{
	int s = lu_create_session(dev, name);

	if (s >= 0) {
		close(s);
		return 0;
	}
	return s == -EEXIST ? 1 : s;
}

static void ioctl_numbers(void)
{
	CHECK_EQ(LIVEUPDATE_IOCTL_TYPE, 0xBA);
	CHECK_EQ(LIVEUPDATE_SESSION_NAME_LENGTH, 64);
	CHECK_EQ(LIVEUPDATE_IOCTL_CREATE_SESSION, 0xBA00);
	CHECK_EQ(LIVEUPDATE_IOCTL_RETRIEVE_SESSION, 0xBA01);
	CHECK_EQ(LIVEUPDATE_SESSION_PRESERVE_FD, 0xBA40);
	CHECK_EQ(LIVEUPDATE_SESSION_RETRIEVE_FD, 0xBA41);
	CHECK_EQ(LIVEUPDATE_SESSION_FINISH, 0xBA42);
	CHECK_EQ(LIVEUPDATE_SESSION_GET_NAME, 0xBA43);
	CHECK_EQ(offsetof(struct liveupdate_ioctl_create_session, fd), 4);
	CHECK_EQ(offsetof(struct liveupdate_ioctl_create_session, name), 8);
	CHECK_EQ(offsetof(struct liveupdate_ioctl_retrieve_session, fd), 4);
	CHECK_EQ(offsetof(struct liveupdate_ioctl_retrieve_session, name), 8);
	CHECK_EQ(offsetof(struct liveupdate_session_preserve_fd, fd), 4);
	CHECK_EQ(offsetof(struct liveupdate_session_preserve_fd, token), 8);
	CHECK_EQ(offsetof(struct liveupdate_session_retrieve_fd, fd), 4);
	CHECK_EQ(offsetof(struct liveupdate_session_retrieve_fd, token), 8);
	CHECK_EQ(offsetof(struct liveupdate_session_finish, reserved), 4);
	CHECK_EQ(offsetof(struct liveupdate_session_get_name, reserved), 4);
	CHECK_EQ(offsetof(struct liveupdate_session_get_name, name), 8);
}

static void dev_nr_outside_table(void)
{
	static const unsigned int nrs[] = { 0x02, 0x03, 0x3f, 0x40, 0x41, 0x42, 0x43, 0x80, 0xff };
	union arg a;
	int dev = CHECK_OK(lu_open_dev());

	for (size_t i = 0; i < LU_ARRAY_SIZE(nrs); i++) {
		create_arg(&a, "lu-proto-nr", sizeof(a.create));
		EXPECT_EQ(lu_ioctl(dev, _IO(0xBA, nrs[i]), &a), -EINVAL);
	}
	CHECK_EQ(session_exists(dev, "lu-proto-nr"), 0);
	close(dev);
}

static void dev_wrong_command_word(void)
{
	const unsigned long cmds[] = {
		_IO(0xBB, 0x00),
		_IO(0x00, 0x00),
		_IO(0xBB, 0x01),
		_IOW(0xBA, 0x00, struct liveupdate_ioctl_create_session),
		_IOWR(0xBA, 0x00, struct liveupdate_ioctl_create_session),
		_IOR(0xBA, 0x01, struct liveupdate_ioctl_retrieve_session),
		_IOW(0xBA, 0x01, __u32),
	};
	union arg a;
	int dev = CHECK_OK(lu_open_dev());

	for (size_t i = 0; i < LU_ARRAY_SIZE(cmds); i++) {
		create_arg(&a, "lu-proto-cmd", sizeof(a.create));
		EXPECT_EQ(lu_ioctl(dev, cmds[i], &a), -ENOTTY);
		/* as upstream: the size word is read before the word is checked */
		EXPECT_EQ(lu_ioctl(dev, cmds[i], NULL), -EFAULT);
	}
	CHECK_EQ(session_exists(dev, "lu-proto-cmd"), 0);
	close(dev);
}

/* a page followed by an unmapped page */
static unsigned char *guard_page(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	unsigned char *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(p != MAP_FAILED);
	CHECK(munmap(p + pg, pg) == 0);
	return p;
}

static void dev_fault(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	unsigned char *p = guard_page();
	int dev = CHECK_OK(lu_open_dev());
	struct liveupdate_ioctl_create_session *c;

	/* reading size faults */
	EXPECT_EQ(lu_ioctl(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, NULL), -EFAULT);
	EXPECT_EQ(lu_ioctl(dev, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, NULL), -EFAULT);
	EXPECT_EQ(lu_ioctl(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, p + pg), -EFAULT);
	EXPECT_EQ(lu_ioctl(dev, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, p + pg), -EFAULT);
	/* size readable, the rest of the struct is not */
	c = (void *)(p + pg - 8);
	c->size = sizeof(*c);
	c->fd = -1;
	EXPECT_EQ(lu_ioctl(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, c), -EFAULT);
	EXPECT_EQ(lu_ioctl(dev, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, c), -EFAULT);
	close(dev);
}

static void dev_size_too_small(void)
{
	static const __u32 sizes[] = { 0, 1, 4, 8, 9, 40, 71 };
	union arg a;
	int dev = CHECK_OK(lu_open_dev());

	for (size_t i = 0; i < LU_ARRAY_SIZE(sizes); i++) {
		create_arg(&a, "lu-proto-small", sizes[i]);
		EXPECT_EQ(lu_ioctl(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, &a), -EINVAL);
		EXPECT_EQ(a.create.fd, -1);
		create_arg(&a, "lu-proto-small", sizes[i]);
		EXPECT_EQ(lu_ioctl(dev, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &a), -EINVAL);
	}
	CHECK_EQ(session_exists(dev, "lu-proto-small"), 0);
	close(dev);
}

static void dev_size_larger_zero_tail(void)
{
	static const __u32 sizes[] = { 73, 76, 80, 4096, 8192 };
	union arg a;
	int dev = CHECK_OK(lu_open_dev());

	for (size_t i = 0; i < LU_ARRAY_SIZE(sizes); i++) {
		const char *name = lu_fmt("lu-proto-big-%u", sizes[i]);

		create_arg(&a, name, sizes[i]);
		CHECK_EQ(lu_ioctl(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, &a), 0);
		CHECK(a.create.fd >= 0);
		EXPECT_STR(lu_fd_link(a.create.fd), lu_session_link(name));
		/* nothing written past the kernel's struct */
		for (size_t j = sizeof(a.create); j < sizes[i]; j++)
			if (a.raw[j]) {
				EXPECT_EQ(a.raw[j], 0);
				break;
			}
		close(a.create.fd);
		/* retrieve accepts it too (and then finds nothing) */
		create_arg(&a, name, sizes[i]);
		EXPECT_EQ(lu_ioctl(dev, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &a), -ENOENT);
	}
	close(dev);
}

static void dev_size_larger_nonzero_tail(void)
{
	static const struct { __u32 size, at; } cases[] = {
		{ 73, 72 }, { 80, 72 }, { 80, 79 }, { 4096, 4095 }, { 8192, 100 },
	};
	union arg a;
	int dev = CHECK_OK(lu_open_dev());

	for (size_t i = 0; i < LU_ARRAY_SIZE(cases); i++) {
		create_arg(&a, "lu-proto-tail", cases[i].size);
		a.raw[cases[i].at] = 0x5a;
		EXPECT_EQ(lu_ioctl(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, &a), -E2BIG);
		EXPECT_EQ(a.create.fd, -1);
		create_arg(&a, "lu-proto-tail", cases[i].size);
		a.raw[cases[i].at] = 0x5a;
		EXPECT_EQ(lu_ioctl(dev, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &a), -E2BIG);
	}
	CHECK_EQ(session_exists(dev, "lu-proto-tail"), 0);
	close(dev);
}

/* an outgoing session and a memfd to play with */
static int new_session(int *dev, const char *name)
{
	*dev = CHECK_OK(lu_open_dev());
	return CHECK_OK(lu_create_session(*dev, name));
}

static void session_nr_outside_table(void)
{
	static const unsigned int nrs[] = { 0x00, 0x01, 0x02, 0x3f, 0x44, 0x45, 0x80, 0xff };
	union arg a;
	int dev, s = new_session(&dev, "lu-proto-snr");
	int m = CHECK_OK(lu_memfd("lu-proto", MFD_ALLOW_SEALING, 10, 1));

	for (size_t i = 0; i < LU_ARRAY_SIZE(nrs); i++) {
		memset(&a, 0, sizeof(a));
		a.preserve.size = sizeof(a.preserve);
		a.preserve.fd = m;
		a.preserve.token = 1;
		EXPECT_EQ(lu_ioctl(s, _IO(0xBA, nrs[i]), &a), -EINVAL);
	}
	/* nothing was preserved */
	CHECK_EQ(lu_preserve_fd(s, m, 1), 0);
	close(s);
	close(dev);
}

static void session_wrong_command_word(void)
{
	const unsigned long cmds[] = {
		_IO(0xBB, 0x40),
		_IO(0x00, 0x40),
		_IOW(0xBA, 0x40, struct liveupdate_session_preserve_fd),
		_IOWR(0xBA, 0x40, struct liveupdate_session_preserve_fd),
		_IOR(0xBA, 0x43, struct liveupdate_session_get_name),
		_IO(0xBB, 0x43),
	};
	union arg a;
	int dev, s = new_session(&dev, "lu-proto-scmd");
	int m = CHECK_OK(lu_memfd("lu-proto", MFD_ALLOW_SEALING, 10, 1));

	for (size_t i = 0; i < LU_ARRAY_SIZE(cmds); i++) {
		memset(&a, 0, sizeof(a));
		a.preserve.size = sizeof(a.preserve);
		a.preserve.fd = m;
		a.preserve.token = 1;
		EXPECT_EQ(lu_ioctl(s, cmds[i], &a), -ENOTTY);
		EXPECT_EQ(lu_ioctl(s, cmds[i], NULL), -EFAULT);
	}
	/* as upstream: neither seekable nor readable */
	errno = 0;
	EXPECT_EQ(lseek(s, 0, SEEK_SET) < 0 ? -errno : 0, -ESPIPE);
	EXPECT_EQ(lseek(s, 10, SEEK_CUR) < 0 ? -errno : 0, -ESPIPE);
	CHECK_EQ(lu_preserve_fd(s, m, 1), 0);
	close(s);
	close(dev);
}

static void session_fault(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	unsigned char *p = guard_page();
	int dev, s = new_session(&dev, "lu-proto-sfault");
	int m = CHECK_OK(lu_memfd("lu-proto", MFD_ALLOW_SEALING, 10, 1));
	struct liveupdate_session_preserve_fd *pr;
	struct liveupdate_session_get_name *gn;

	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_PRESERVE_FD, NULL), -EFAULT);
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_GET_NAME, NULL), -EFAULT);
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_PRESERVE_FD, p + pg), -EFAULT);
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_GET_NAME, p + pg), -EFAULT);
	/* the size is read before the session kind is looked at */
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_RETRIEVE_FD, NULL), -EFAULT);
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_FINISH, NULL), -EFAULT);
	/* size readable, the rest is not */
	pr = (void *)(p + pg - 8);
	pr->size = sizeof(*pr);
	pr->fd = m;
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_PRESERVE_FD, pr), -EFAULT);
	gn = (void *)(p + pg - 8);
	gn->size = sizeof(*gn);
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_GET_NAME, gn), -EFAULT);
	/* nothing was preserved */
	CHECK_EQ(lu_preserve_fd(s, m, 0), 0);
	close(s);
	close(dev);
}

static void session_size_too_small(void)
{
	union arg a;
	int dev, s = new_session(&dev, "lu-proto-ssmall");
	int m = CHECK_OK(lu_memfd("lu-proto", MFD_ALLOW_SEALING, 10, 1));

	for (__u32 size = 0; size < 16; size += (size < 8 ? 4 : 7)) {
		memset(&a, 0, sizeof(a));
		a.preserve.size = size;
		a.preserve.fd = m;
		a.preserve.token = 5;
		EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_PRESERVE_FD, &a), -EINVAL);
	}
	for (__u32 size = 0; size < 72; size += 71) {
		memset(&a, 0, sizeof(a));
		a.get_name.size = size;
		EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_GET_NAME, &a), -EINVAL);
		EXPECT_EQ(a.get_name.name[0], 0);
	}
	memset(&a, 0, sizeof(a));
	a.get_name.size = 8;
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_GET_NAME, &a), -EINVAL);
	/* nothing was preserved under token 5 */
	CHECK_EQ(lu_preserve_fd(s, m, 5), 0);
	close(s);
	close(dev);
}

static void session_size_larger(void)
{
	union arg a;
	int dev, s = new_session(&dev, "lu-proto-sbig");
	int m1 = CHECK_OK(lu_memfd("lu-proto", MFD_ALLOW_SEALING, 10, 1));
	int m2 = CHECK_OK(lu_memfd("lu-proto", MFD_ALLOW_SEALING, 10, 2));

	/* non-zero tail: E2BIG, nothing preserved */
	memset(&a, 0, sizeof(a));
	a.preserve.size = 24;
	a.preserve.fd = m1;
	a.preserve.token = 1;
	a.raw[23] = 1;
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_PRESERVE_FD, &a), -E2BIG);
	a.raw[23] = 0;
	a.raw[16] = 0x80;
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_PRESERVE_FD, &a), -E2BIG);
	/* zero tail: accepted */
	a.raw[16] = 0;
	CHECK_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_PRESERVE_FD, &a), 0);
	memset(&a, 0, sizeof(a));
	a.preserve.size = 4096;
	a.preserve.fd = m2;
	a.preserve.token = 2;
	CHECK_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_PRESERVE_FD, &a), 0);
	/* both are preserved now */
	EXPECT_EQ(lu_preserve_fd(s, m1, 3), -EBUSY);
	EXPECT_EQ(lu_preserve_fd(s, m2, 4), -EBUSY);

	/* GET_NAME */
	memset(&a, 0, sizeof(a));
	a.get_name.size = 80;
	a.raw[79] = 7;
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_GET_NAME, &a), -E2BIG);
	memset(&a, 0, sizeof(a));
	a.get_name.size = 80;
	CHECK_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_GET_NAME, &a), 0);
	EXPECT_STR((char *)a.get_name.name, "lu-proto-sbig");
	for (int j = 72; j < 80; j++)
		EXPECT_EQ(a.raw[j], 0);
	memset(&a, 0, sizeof(a));
	a.get_name.size = 4096;
	CHECK_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_GET_NAME, &a), 0);
	EXPECT_STR((char *)a.get_name.name, "lu-proto-sbig");
	close(s);
	close(dev);
}

/*
 * As upstream, the calls that return an fd reserve it first: with a full
 * fd table EMFILE wins over EEXIST, EINVAL and ENOENT.
 */
static void emfile_first(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "lu-emfile"));
	int m = CHECK_OK(lu_memfd("lu-emfile", MFD_ALLOW_SEALING, 10, 1));
	struct rlimit old, low = { 64, 64 };
	int fds[64], n = 0;

	CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
	low.rlim_max = old.rlim_max;
	CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
	while (n < 64) {
		int fd = dup(dev);

		if (fd < 0)
			break;
		fds[n++] = fd;
	}
	CHECK_EQ(errno, EMFILE);
	EXPECT_EQ(lu_create_session(dev, "lu-emfile"), -EMFILE);	/* not EEXIST */
	EXPECT_EQ(lu_create_session(dev, ""), -EMFILE);		/* not EINVAL */
	EXPECT_EQ(lu_retrieve_session(dev, "lu-nothing"), -EMFILE);	/* not ENOENT */
	/* PRESERVE_FD returns no fd: it works */
	EXPECT_EQ(lu_preserve_fd(s, m, 1), 0);
	while (n)
		close(fds[--n]);
	CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
	EXPECT_EQ(lu_create_session(dev, "lu-emfile"), -EEXIST);
	EXPECT_EQ(lu_retrieve_session(dev, "lu-nothing"), -ENOENT);
	close(m);
	close(s);
	close(dev);
}

/*
 * As upstream, PRESERVE_FD writes its reply back: an argument that can be
 * read but not written gives EFAULT, and the file is preserved all the same.
 */
static void preserve_reply_fault(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "lu-proto-ro"));
	int m = CHECK_OK(lu_memfd("lu-proto-ro", MFD_ALLOW_SEALING, 10, 1));
	struct liveupdate_session_preserve_fd *a;

	a = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(a != MAP_FAILED);
	a->size = sizeof(*a);
	a->fd = m;
	a->token = 7;
	CHECK(mprotect(a, pg, PROT_READ) == 0);
	EXPECT_EQ(lu_ioctl(s, LIVEUPDATE_SESSION_PRESERVE_FD, a), -EFAULT);
	/* preserved: the token is taken, the file is busy */
	EXPECT_EQ(lu_preserve_fd(s, m, 7), -EEXIST);
	EXPECT_EQ(lu_preserve_fd(s, m, 8), -EBUSY);
	EXPECT_EQ(lu_ftruncate(m, 100), -EPERM);
	munmap(a, pg);
	close(m);
	close(s);
	close(dev);
}

static const struct lu_test tests[] = {
	LU_TEST_D(ioctl_numbers,
		  "the uAPI's type 0xBA, name length 64, the six command words 0xBA00/01/40-43 and every struct field's offset"),
	LU_TEST_D(dev_nr_outside_table,
		  "device ioctls with nr 0x02, 0x03, 0x3f-0x43, 0x80, 0xff are EINVAL and create nothing"),
	LU_TEST_D(dev_wrong_command_word,
		  "7 wrong command words (type, direction, size) are ENOTTY, EFAULT with a NULL argument (size read first), and create nothing"),
	LU_TEST_D(dev_fault,
		  "CREATE/RETRIEVE_SESSION with NULL, an unmapped size, or a struct running into an unmapped page are EFAULT"),
	LU_TEST_D(dev_size_too_small,
		  "sizes 0-71 are EINVAL for CREATE (fd stays -1) and RETRIEVE_SESSION; nothing created"),
	LU_TEST_D(dev_size_larger_zero_tail,
		  "sizes 73-8192 with a zero tail: CREATE works with nothing written past 72 bytes; RETRIEVE accepts them (ENOENT)"),
	LU_TEST_D(dev_size_larger_nonzero_tail,
		  "a non-zero byte in the tail (5 places) is E2BIG for CREATE (fd -1) and RETRIEVE; nothing created"),
	LU_TEST_D(session_nr_outside_table,
		  "session ioctls with nr outside 0x40-0x43 are EINVAL and preserve nothing"),
	LU_TEST_D(session_wrong_command_word,
		  "6 wrong session command words are ENOTTY (EFAULT with NULL); a session fd does not seek (ESPIPE); nothing preserved"),
	LU_TEST_D(session_fault,
		  "session ioctls with NULL, unmapped or half-mapped arguments are EFAULT (RETRIEVE_FD, FINISH too); nothing preserved"),
	LU_TEST_D(session_size_too_small,
		  "PRESERVE_FD sizes 0-15 and GET_NAME sizes 0, 8, 71 are EINVAL; name untouched, token free"),
	LU_TEST_D(session_size_larger,
		  "larger arguments: a non-zero tail E2BIG, a zero tail accepted (PRESERVE_FD 24, 4096; GET_NAME 80, 4096, nothing written past 72)"),
	LU_TEST_D(emfile_first,
		  "with a full fd table CREATE and RETRIEVE_SESSION are EMFILE before EEXIST, EINVAL, ENOENT; PRESERVE_FD works"),
	LU_TEST_D(preserve_reply_fault,
		  "PRESERVE_FD on a read-only argument is EFAULT yet preserved (as upstream): token EEXIST, file EBUSY, size frozen"),
};

int main(int argc, char **argv)
{
	return lu_main("module/protocol", tests, LU_ARRAY_SIZE(tests), argc, argv);
}
