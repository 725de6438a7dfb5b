// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/liveupdate: the device node, single opener, handover_status in a boot
 * without a handover, session names, EEXIST, RETRIEVE_SESSION ENOENT, 2000
 * sessions, FD_CLOEXEC and the /proc/self/fd text of session fds, sessions
 * outliving the device fd, the introspection parameters.
 */
#include "harness.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

static void dev_node(void)
{
	struct stat st;
	int dev;

	CHECK(stat(LU_DEV, &st) == 0);
	CHECK(S_ISCHR(st.st_mode));
	dev = CHECK_OK(lu_open_dev());
	CHECK(fstat(dev, &st) == 0);
	CHECK(S_ISCHR(st.st_mode));
	close(dev);
}

static void single_opener(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int fd, status;
	pid_t pid;

	fd = open(LU_DEV, O_RDWR);
	EXPECT_EQ(fd < 0 ? -errno : fd, -EBUSY);
	fd = open(LU_DEV, O_RDONLY);
	EXPECT_EQ(fd < 0 ? -errno : fd, -EBUSY);
	/* also from another process */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int r = open(LU_DEV, O_RDWR);

		_exit(r < 0 && errno == EBUSY ? 0 : 1);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* a dup is not a second open: it works */
	fd = dup(dev);
	CHECK(fd >= 0);
	close(dev);
	/* the open file is still open through the dup */
	dev = open(LU_DEV, O_RDWR);
	EXPECT_EQ(dev < 0 ? -errno : 0, -EBUSY);
	close(fd);
	/* closed for real: opens again */
	dev = CHECK_OK(lu_open_dev());
	close(dev);
	dev = CHECK_OK(lu_open_dev());
	close(dev);
}

/* the module VM is a fresh boot: nothing was handed over */
static void status_none(void)
{
	struct stat st;
	int dev, fd;

	CHECK(stat(LU_STATUS_PATH, &st) == 0);
	EXPECT_EQ(st.st_mode & 0777, 0444);
	EXPECT_STR(lu_status(), "none");
	dev = CHECK_OK(lu_open_dev());
	EXPECT_STR(lu_status(), "none");
	close(dev);
	EXPECT_STR(lu_status(), "none");
	fd = open(LU_STATUS_PATH, O_WRONLY);
	EXPECT_EQ(fd < 0 ? -errno : fd, -EACCES);
}

static void check_name(int s, const char *name)
{
	char got[LIVEUPDATE_SESSION_NAME_LENGTH];

	EXPECT_SESSION_LINK(s, name);
	CHECK_EQ(lu_get_name(s, got), 0);
	EXPECT_STR(got, name);
}

static void name_valid(void)
{
	char n63[64];
	int dev = CHECK_OK(lu_open_dev());
	int s1, s63, sp;

	memset(n63, 'n', 63);
	memcpy(n63, "lu-63-", 6);
	n63[62] = 'Z';
	n63[63] = 0;
	s1 = CHECK_OK(lu_create_session(dev, "a"));
	check_name(s1, "a");
	s63 = CHECK_OK(lu_create_session(dev, n63));
	check_name(s63, n63);
	sp = CHECK_OK(lu_create_session(dev, "lu name with spaces"));
	check_name(sp, "lu name with spaces");
	close(sp);
	/* 38 bytes: the longest whose link text fits 6.1's 64-byte buffer */
	sp = CHECK_OK(lu_create_session(dev, "lu-38-bytes-long-name-xxxxxxxxxxxxxxxZ"));
	check_name(sp, "lu-38-bytes-long-name-xxxxxxxxxxxxxxxZ");
	EXPECT_STR(lu_fd_link(sp), "anon_inode:[luo_session] lu-38-bytes-long-name-xxxxxxxxxxxxxxxZ");
	close(s1);
	close(s63);
	close(sp);
	close(dev);
}

static void name_invalid(void)
{
	struct liveupdate_ioctl_create_session a;
	int dev = CHECK_OK(lu_open_dev());

	/* empty */
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.fd = -1;
	EXPECT_EQ(lu_ioctl(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, &a), -EINVAL);
	EXPECT_EQ(a.fd, -1);
	/* 64 bytes, no NUL */
	memset(a.name, 'x', sizeof(a.name));
	EXPECT_EQ(lu_ioctl(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, &a), -EINVAL);
	EXPECT_EQ(a.fd, -1);
	/* 63 bytes and a NUL: fine */
	a.name[63] = 0;
	CHECK_EQ(lu_ioctl(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, &a), 0);
	CHECK(a.fd >= 0);
	check_name(a.fd, (char *)a.name);
	close(a.fd);
	close(dev);
}

static void name_exists(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s1 = CHECK_OK(lu_create_session(dev, "lu-dup"));
	int other = CHECK_OK(lu_create_session(dev, "lu-dup-2"));
	int s2;

	EXPECT_EQ(lu_create_session(dev, "lu-dup"), -EEXIST);
	EXPECT_EQ(lu_create_session(dev, "lu-dup-2"), -EEXIST);
	/* closing the session frees the name */
	close(s1);
	s2 = CHECK_OK(lu_create_session(dev, "lu-dup"));
	check_name(s2, "lu-dup");
	EXPECT_EQ(lu_create_session(dev, "lu-dup"), -EEXIST);
	close(s2);
	close(other);
	close(dev);
}

static void retrieve_enoent(void)
{
	struct liveupdate_ioctl_retrieve_session a;
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "lu-outgoing"));

	/* no incoming session in a boot without handover */
	EXPECT_EQ(lu_retrieve_session(dev, "lu-nothing"), -ENOENT);
	EXPECT_EQ(lu_retrieve_session(dev, "a"), -ENOENT);
	/* outgoing sessions cannot be retrieved */
	EXPECT_EQ(lu_retrieve_session(dev, "lu-outgoing"), -ENOENT);
	/* as upstream (a plain lookup): an empty or unterminated name is ENOENT */
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.fd = -1;
	EXPECT_EQ(lu_ioctl(dev, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &a), -ENOENT);
	memset(a.name, 'x', sizeof(a.name));
	EXPECT_EQ(lu_ioctl(dev, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &a), -ENOENT);
	EXPECT_EQ(a.fd, -1);
	close(s);
	close(dev);
}

static void session_fd_flags(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "lu-flags"));
	struct stat st;

	EXPECT_EQ(lu_cloexec(s), 1);
	EXPECT_STR(lu_fd_link(s), "anon_inode:[luo_session] lu-flags");
	CHECK(fstat(s, &st) == 0);
	close(s);
	close(dev);
}

#define MANY 2000

static void sessions_2000(void)
{
	static int fds[MANY];
	int dev, s;
	double t0 = lu_now();

	CHECK_EQ(lu_raise_nofile(MANY + 256), 0);
	dev = CHECK_OK(lu_open_dev());
	for (int i = 0; i < MANY; i++) {
		const char *name = lu_fmt("lu-many-%04d", i);

		fds[i] = lu_create_session(dev, name);
		if (fds[i] < 0) {
			lu_diag("creating session %d of %d", i, MANY);
			CHECK_OK(fds[i]);
		}
	}
	for (int i = 0; i < MANY; i++) {
		const char *name = lu_fmt("lu-many-%04d", i);
		char got[LIVEUPDATE_SESSION_NAME_LENGTH];

		CHECK_STR(lu_fd_link(fds[i]), lu_session_link(name));
		CHECK_EQ(lu_get_name(fds[i], got), 0);
		CHECK_STR(got, name);
		CHECK_EQ(lu_cloexec(fds[i]), 1);
	}
	EXPECT_EQ(lu_create_session(dev, "lu-many-0000"), -EEXIST);
	EXPECT_EQ(lu_create_session(dev, "lu-many-1999"), -EEXIST);
	{
		/*
		 * "sessions" holds one page less 32 bytes of lines: 193 of
		 * these 21-byte lines, then how many are not shown.
		 */
		static char want[4096];
		int n = 0;

		for (int i = 0; i < 193; i++)
			n += snprintf(want + n, sizeof(want) - n,
				      "out 0 0 lu-many-%04d\n", i);
		snprintf(want + n, sizeof(want) - n, "more %d\n", MANY - 193);
		EXPECT_STR(lu_param_page("sessions"), want);
	}
	for (int i = 0; i < MANY; i++)
		close(fds[i]);
	s = CHECK_OK(lu_create_session(dev, "lu-many-0000"));
	close(s);
	close(dev);
	lu_diag("2000 sessions in %.2f s", lu_now() - t0);
}

static void close_dev_keeps_sessions(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "lu-keep"));
	int m1 = CHECK_OK(lu_memfd("lu-keep-1", MFD_ALLOW_SEALING, 100, 1));
	int m2 = CHECK_OK(lu_memfd("lu-keep-2", MFD_ALLOW_SEALING, 100, 2));

	CHECK_EQ(lu_preserve_fd(s, m1, 1), 0);
	close(dev);
	/* the session fd works on its own */
	check_name(s, "lu-keep");
	EXPECT_EQ(lu_preserve_fd(s, m2, 2), 0);
	EXPECT_EQ(lu_preserve_fd(s, m1, 3), -EBUSY);
	/* and the session still exists for the device */
	dev = CHECK_OK(lu_open_dev());
	EXPECT_EQ(lu_create_session(dev, "lu-keep"), -EEXIST);
	close(dev);
	close(s);
	dev = CHECK_OK(lu_open_dev());
	s = CHECK_OK(lu_create_session(dev, "lu-keep"));
	/* closing the session released the files */
	EXPECT_EQ(lu_preserve_fd(s, m1, 1), 0);
	EXPECT_EQ(lu_preserve_fd(s, m2, 2), 0);
	close(s);
	close(dev);
}

/* a session fd passed to another process (fork) is the same session */
static void session_shared_by_fork(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "lu-fork"));
	int m = CHECK_OK(lu_memfd("lu-fork", MFD_ALLOW_SEALING, 100, 1));
	int status;
	pid_t pid;

	close(dev);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(lu_preserve_fd(s, m, 9) == 0 ? 0 : 1);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* the child's exit closed only its copy */
	EXPECT_EQ(lu_preserve_fd(s, m, 10), -EBUSY);
	EXPECT_EQ(lu_preserve_fd(s, CHECK_OK(lu_memfd("x", 0, 1, 1)), 9), -EEXIST);
	close(s);
}

/*
 * Introspection: "space" counts what outgoing sessions reserved (72 per
 * session; a memfd of P pages named "memfd:NAME": 16 + 32 + the name
 * rounded up to 8 + 24 * (P + 1) bytes of metadata and P pages), the whole
 * pages left, the range, the pages held (the header), and zero-copy's
 * state; "last_handover" says there was none. Both root-only.
 */
static void introspection(void)
{
	unsigned long long size = strtoull(lu_param("size") ?: "0", NULL, 0);
	int dev = CHECK_OK(lu_open_dev());
	int s, m;
	struct stat st;

	CHECK(size > 0);
	CHECK(stat(LU_PARAM_DIR "/space", &st) == 0);
	EXPECT_EQ(st.st_mode & 0777, 0400);
	CHECK(stat(LU_PARAM_DIR "/last_handover", &st) == 0);
	EXPECT_EQ(st.st_mode & 0777, 0400);
#define SPACE(used, freep) lu_fmt("used %llu\nfree %llu\nsize %llu\ntaken 4096\nzerocopy auto\n", \
				    (unsigned long long)(used), \
				    (size / 4096 - 1 - (freep)) * 4096ULL, size)
	EXPECT_STR(lu_param("space"), SPACE(0, 0));
	s = CHECK_OK(lu_create_session(dev, "lu-introspect"));
	EXPECT_STR(lu_param("space"), SPACE(72, 1));
	/* "memfd:lu-introspect" is 19 bytes: 16 + 32 + 24 + 24 * 2 = 120 */
	m = CHECK_OK(lu_memfd("lu-introspect", MFD_ALLOW_SEALING, 100, 1));
	CHECK_EQ(lu_preserve_fd(s, m, 1), 0);
	EXPECT_STR(lu_param("space"), SPACE(72 + 120 + 4096, 2));
	close(s);
	EXPECT_STR(lu_param("space"), SPACE(0, 0));
#undef SPACE
	EXPECT_STR(lu_param("last_handover"), "status none\n");
	close(m);
	close(dev);
}

/*
 * Introspection: "sessions" lists the outgoing sessions in creation order,
 * "out FILES BYTES NAME", the name escaped into one word (space, backslash,
 * whitespace and bytes outside printable ASCII); closing a session takes
 * its line away. Root-only.
 */
static void introspection_sessions(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s0, s1, s2, s3, m1, m2, m3;
	struct stat st;

	CHECK(stat(LU_PARAM_DIR "/sessions", &st) == 0);
	EXPECT_EQ(st.st_mode & 0777, 0400);
	EXPECT_STR(lu_param_page("sessions"), "");
	s0 = CHECK_OK(lu_create_session(dev, "lu-sess-empty"));
	EXPECT_STR(lu_param_page("sessions"), "out 0 0 lu-sess-empty\n");
	s1 = CHECK_OK(lu_create_session(dev, "lu-sess one"));
	m1 = CHECK_OK(lu_memfd("lu-sess-1", MFD_ALLOW_SEALING, 100, 1));
	CHECK_EQ(lu_preserve_fd(s1, m1, 7), 0);
	s2 = CHECK_OK(lu_create_session(dev, "lu-sess\ntwo"));
	m2 = CHECK_OK(lu_memfd("lu-sess-2", MFD_ALLOW_SEALING, 1, 2));
	m3 = CHECK_OK(lu_memfd("lu-sess-3", MFD_ALLOW_SEALING, 4097, 3));
	CHECK_EQ(lu_preserve_fd(s2, m2, 0), 0);
	CHECK_EQ(lu_preserve_fd(s2, m3, ~0ULL), 0);
	s3 = CHECK_OK(lu_create_session(dev, "x\\y\t\"z\x7f\x80\xff\a\x1b"));
	EXPECT_STR(lu_param_page("sessions"),
		   "out 0 0 lu-sess-empty\n"
		   "out 1 100 lu-sess\\040one\n"
		   "out 2 4098 lu-sess\\ntwo\n"
		   "out 0 0 x\\\\y\\t\"z\\177\\200\\377\\a\\e\n");
	close(s1);
	close(s3);
	EXPECT_STR(lu_param_page("sessions"),
		   "out 0 0 lu-sess-empty\n"
		   "out 2 4098 lu-sess\\ntwo\n");
	close(s0);
	close(s2);
	EXPECT_STR(lu_param_page("sessions"), "");
	close(m1);
	close(m2);
	close(m3);
	close(dev);
}

static const struct lu_test tests[] = {
	LU_TEST_D(dev_node,
		  "/dev/liveupdate is a character device, and opens as one"),
	LU_TEST_D(introspection,
		  "parameters space and last_handover are 0400; space says exactly used/free/size/taken/zerocopy before, with a session (72 B), with a 100-byte memfd (+120+4096), after close; last_handover 'status none'"),
	LU_TEST_D(introspection_sessions,
		  "parameter sessions (0400) lists outgoing sessions in creation order as exactly 'out FILES BYTES NAME', names escaped into one word; closing a session removes its line"),
	LU_TEST_D(status_none,
		  "handover_status is 0444 and says 'none' before, during and after an open in a fresh boot; opening it for writing is EACCES"),
	LU_TEST_D(single_opener,
		  "a second open (O_RDWR, O_RDONLY, another process) is EBUSY; a dup keeps it open (still EBUSY); after the last close it opens again"),
	LU_TEST_D(name_valid,
		  "names of 1, 63 bytes, with spaces and of 38 bytes are accepted; GET_NAME and the fd's link text give them back exactly"),
	LU_TEST_D(name_invalid,
		  "CREATE_SESSION with an empty name or 64 bytes without NUL is EINVAL (fd stays -1); 63 bytes and a NUL works"),
	LU_TEST_D(name_exists,
		  "a taken name is EEXIST; closing the session frees its name"),
	LU_TEST_D(retrieve_enoent,
		  "RETRIEVE_SESSION is ENOENT without a handover, for an outgoing session's name, an empty and an unterminated name (fd stays -1)"),
	LU_TEST_D(session_fd_flags,
		  "a session fd has FD_CLOEXEC and the link text 'anon_inode:[luo_session] NAME'"),
	LU_TEST_D(sessions_2000,
		  "2000 sessions: each with its link, name and FD_CLOEXEC; names EEXIST; parameter sessions shows exactly the first 193 and 'more 1807'; names free after close"),
	LU_TEST_D(close_dev_keeps_sessions,
		  "closing the device fd keeps the session: it preserves more files (a preserved one EBUSY), its name stays EEXIST; closing the session releases its files"),
	LU_TEST_D(session_shared_by_fork,
		  "a session fd used by a forked child is the same session: the child's PRESERVE_FD shows in the parent (EBUSY for the file, EEXIST for the token)"),
};

int main(int argc, char **argv)
{
	return lu_main("module/device", tests, LU_ARRAY_SIZE(tests), argc, argv);
}
