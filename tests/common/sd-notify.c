// SPDX-License-Identifier: GPL-2.0
/*
 * common/sd-notify.c on the host: the notify message and its fd as a
 * service manager receives them, and the passed-fd variables as systemd
 * sets them; and common/args.c, the size and count parser liveupdatectl and
 * liveupdated share. Runs as bin/lut-sd-notify-host, TAP names common/host/NAME.
 */
#include "harness.h"
#include "sd-notify.h"
#include "args.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

/* A datagram socket bound at @path ('@': abstract), as systemd's. */
static int manager_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return -errno;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = 0;
	unlink(path);
	if (bind(s, (struct sockaddr *)&sa, offsetof(struct sockaddr_un, sun_path) + len) < 0) {
		close(s);
		return -errno;
	}
	return s;
}

/* Receives one message: its text into @buf, its fd (or -1) returned. */
static int manager_recv(int s, char *buf, size_t len)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { buf, len - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	ssize_t n = recvmsg(s, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	int fd = -1;

	if (n < 0)
		return -errno;
	buf[n] = 0;
	c = CMSG_FIRSTHDR(&mh);
	if (c && c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

static void same_file(int a, int b)
{
	struct stat sa, sb;

	CHECK_EQ(fstat(a, &sa), 0);
	CHECK_EQ(fstat(b, &sb), 0);
	EXPECT_EQ(sa.st_dev, sb.st_dev);
	EXPECT_EQ(sa.st_ino, sb.st_ino);
}

static void notify_text(void)
{
	const char *path = lu_fmt("/tmp/lu-sd-notify-%d", getpid());
	int s = CHECK_OK(manager_socket(path));
	char buf[128];

	setenv("NOTIFY_SOCKET", path, 1);
	EXPECT_EQ(lu_notify("READY=1\nSTATUS=up", -1), 1);
	EXPECT_EQ(manager_recv(s, buf, sizeof(buf)), -1);
	EXPECT_STR(buf, "READY=1\nSTATUS=up");
	close(s);
	unlink(path);
	unsetenv("NOTIFY_SOCKET");
}

static void notify_fd(void)
{
	const char *path = lu_fmt("/tmp/lu-sd-notify-fd-%d", getpid());
	int s = CHECK_OK(manager_socket(path));
	int m = CHECK_OK(memfd_create("sd-notify", MFD_CLOEXEC)), got;
	char buf[128];

	setenv("NOTIFY_SOCKET", path, 1);
	EXPECT_EQ(lu_notify("FDSTORE=1\nFDNAME=ram", m), 1);
	got = manager_recv(s, buf, sizeof(buf));
	CHECK(got >= 0);
	EXPECT_STR(buf, "FDSTORE=1\nFDNAME=ram");
	same_file(got, m);
	close(got);
	close(m);
	close(s);
	unlink(path);
	unsetenv("NOTIFY_SOCKET");
}

static void notify_abstract(void)
{
	const char *path = lu_fmt("@lu-sd-notify-%d", getpid());
	int s = CHECK_OK(manager_socket(path));
	char buf[64];

	setenv("NOTIFY_SOCKET", path, 1);
	EXPECT_EQ(lu_notify("STOPPING=1", -1), 1);
	EXPECT_EQ(manager_recv(s, buf, sizeof(buf)), -1);
	EXPECT_STR(buf, "STOPPING=1");
	close(s);
	unsetenv("NOTIFY_SOCKET");
}

/*
 * Not under systemd: 0, nothing sent; an address that is not a socket's
 * (libsystemd: -EINVAL, -ENAMETOOLONG, where the hand-made sender said 0,
 * not under systemd) or a socket nobody binds: -errno.
 */
static void notify_nowhere(void)
{
	char longpath[200];

	unsetenv("NOTIFY_SOCKET");
	EXPECT_EQ(lu_notify("READY=1", -1), 0);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	EXPECT_EQ(lu_notify("READY=1", -1), -EINVAL);
	setenv("NOTIFY_SOCKET", "", 1);
	EXPECT_EQ(lu_notify("READY=1", -1), -EINVAL);
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = 0;
	setenv("NOTIFY_SOCKET", longpath, 1);
	EXPECT_EQ(lu_notify("READY=1", -1), -ENAMETOOLONG);
	setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1);
	EXPECT_EQ(lu_notify("READY=1", -1), -ENOENT);
	unsetenv("NOTIFY_SOCKET");
}

/* The three variables as systemd sets them for this process (@names NULL: none). */
static void passed(const char *pid, const char *nfds, const char *names)
{
	setenv("LISTEN_PID", pid ? pid : lu_fmt("%d", getpid()), 1);
	setenv("LISTEN_FDS", nfds, 1);
	if (names)
		setenv("LISTEN_FDNAMES", names, 1);
	else
		unsetenv("LISTEN_FDNAMES");
}

static int gone(void)
{
	return !getenv("LISTEN_PID") && !getenv("LISTEN_FDS") && !getenv("LISTEN_FDNAMES");
}

/*
 * fds 3, 4, 5 open (memfds without close-on-exec), as systemd passes them;
 * the test's own fds are above them.
 */
static void open_three(void)
{
	int m;

	for (int fd = LU_LISTEN_FDS_START; fd < LU_LISTEN_FDS_START + 3; fd++)
		CHECK(fcntl(fd, F_GETFD) < 0);	/* free before the test */
	m = CHECK_OK(fcntl(CHECK_OK(memfd_create("passed", MFD_CLOEXEC)), F_DUPFD_CLOEXEC, 64));
	for (int fd = LU_LISTEN_FDS_START; fd < LU_LISTEN_FDS_START + 3; fd++)
		CHECK_EQ(dup2(m, fd), fd);
	close(m);
}

static void close_three(void)
{
	for (int fd = LU_LISTEN_FDS_START; fd < LU_LISTEN_FDS_START + 3; fd++)
		close(fd);
}

static void listen_fds(void)
{
	char **names = (char **)1;

	open_three();
	passed(NULL, "3", "ram:state:");
	EXPECT_EQ(lu_listen_fds(&names), 3);
	CHECK(names);
	EXPECT_STR(names[0], "ram");
	EXPECT_STR(names[1], "state");
	EXPECT_STR(names[2], "");
	EXPECT(!names[3]);
	lu_listen_names_free(names);
	EXPECT(gone());
	/* libsystemd marks them close-on-exec (the callers did it themselves) */
	for (int fd = LU_LISTEN_FDS_START; fd < LU_LISTEN_FDS_START + 3; fd++)
		EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
	/* no names: "unknown" each (sd_listen_fds_with_names(3)) */
	passed(NULL, "2", NULL);
	EXPECT_EQ(lu_listen_fds(&names), 2);
	CHECK(names);
	EXPECT_STR(names[0], "unknown");
	EXPECT_STR(names[1], "unknown");
	EXPECT(!names[2]);
	lu_listen_names_free(names);
	/* more or fewer names than fds: none taken */
	passed(NULL, "3", "ram:state");
	EXPECT_EQ(lu_listen_fds(&names), 0);
	EXPECT(!names && gone());
	/* an fd that is not open (the hand-made reader counted it) */
	close(LU_LISTEN_FDS_START + 2);
	passed(NULL, "3", "a:b:c");
	EXPECT_EQ(lu_listen_fds(&names), 0);
	EXPECT(!names && gone());
	close_three();
	static const char *const bad[] = { "0", "-2", "100000", "x" };
	for (size_t i = 0; i < LU_ARRAY_SIZE(bad); i++) {
		passed(NULL, bad[i], NULL);
		names = (char **)1;
		EXPECT_EQ(lu_listen_fds(&names), 0);
		EXPECT(!names && gone());
	}
	/* meant for another process (a parent's, inherited), or for nobody */
	open_three();
	passed(lu_fmt("%d", getppid()), "3", "a:b:c");
	EXPECT_EQ(lu_listen_fds(&names), 0);
	EXPECT(!names && gone());
	passed(NULL, "3", "a:b:c");
	unsetenv("LISTEN_PID");
	EXPECT_EQ(lu_listen_fds(&names), 0);
	EXPECT(!names && gone());
	close_three();
}

/* Sizes: the accepted forms exactly, everything else refused with its errno. */
static void size_parse(void)
{
	static const struct { const char *s; int r; uint64_t v; } c[] = {
		{ "0", 0, 0 }, { "4096", 0, 4096 }, { "64M", 0, 64ull << 20 },
		{ "64m", 0, 64ull << 20 }, { "1K", 0, 1024 }, { "2G", 0, 2ull << 30 },
		{ "1T", 0, 1ull << 40 }, { "0x1000", 0, 4096 }, { "0X10M", 0, 16ull << 20 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", -ERANGE, 0 }, { "16777216T", -ERANGE, 0 },
		{ "", -EINVAL, 0 }, { "foo", -EINVAL, 0 }, { "12Q", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 }, { "+1", -EINVAL, 0 }, { " 1", -EINVAL, 0 },
		{ "1 ", -EINVAL, 0 }, { "1MB", -EINVAL, 0 }, { "0x", -EINVAL, 0 },
		{ "M", -EINVAL, 0 },
	};

	for (size_t i = 0; i < LU_ARRAY_SIZE(c); i++) {
		uint64_t v = 12345;

		EXPECT_EQ(lu_parse_size(c[i].s, &v), c[i].r);
		EXPECT_EQ(v, c[i].r ? 12345 : c[i].v);
	}
}

/* Counts: decimal digits up to the maximum. */
static void count_parse(void)
{
	unsigned long v = 7;

	EXPECT_EQ(lu_parse_uint("16", 100, &v), 0);
	EXPECT_EQ(v, 16);
	EXPECT_EQ(lu_parse_uint("100", 100, &v), 0);
	EXPECT_EQ(lu_parse_uint("101", 100, &v), -ERANGE);
	EXPECT_EQ(lu_parse_uint("foo", 100, &v), -EINVAL);
	EXPECT_EQ(lu_parse_uint("", 100, &v), -EINVAL);
	EXPECT_EQ(lu_parse_uint("-1", 100, &v), -EINVAL);
	EXPECT_EQ(lu_parse_uint("0x10", 100, &v), -EINVAL);
	EXPECT_EQ(lu_parse_uint("1K", 100, &v), -EINVAL);
	EXPECT_EQ(v, 100);
}

static const struct lu_test tests[] = {
	LU_TEST_D(size_parse,
		  "lu_parse_size: 22 inputs, each accepted with its exact value (K/M/G/T, 0x, up to UINT64_MAX) or refused with ERANGE/EINVAL, the output untouched then"),
	LU_TEST_D(count_parse,
		  "lu_parse_uint: decimal up to the maximum; 101 > 100 ERANGE; foo, empty, -1, 0x10, 1K EINVAL, the output untouched"),
	LU_TEST_D(notify_text,
		  "lu_notify to a path socket returns 1; the manager receives exactly the two lines READY=1, STATUS=up and no fd"),
	LU_TEST_D(notify_fd,
		  "lu_notify with an fd returns 1; the manager receives exactly the lines FDSTORE=1, FDNAME=ram and the same file (dev, inode)"),
	LU_TEST_D(notify_abstract,
		  "lu_notify to an abstract socket (@name) returns 1; the manager receives exactly STOPPING=1"),
	LU_TEST_D(notify_nowhere,
		  "lu_notify: 0 with NOTIFY_SOCKET unset; -EINVAL relative or empty; -ENAMETOOLONG too long; -ENOENT for a socket nobody binds"),
	LU_TEST_D(listen_fds,
		  "lu_listen_fds (libsystemd): 3 fds with names ram/state/empty, close-on-exec after; 'unknown' without names; 0 and all variables unset for a name-count mismatch, a closed fd, 0/-2/100000/x, another pid's or no LISTEN_PID"),
};

int main(int argc, char **argv)
{
	return lu_main("common/host", tests, LU_ARRAY_SIZE(tests), argc, argv);
}
