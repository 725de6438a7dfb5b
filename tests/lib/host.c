// SPDX-License-Identifier: GPL-2.0
/*
 * libliveupdate on the host (no /dev/liveupdate needed): sealed memfd
 * helpers, the manifest parser, argument checks before any ioctl. Runs as
 * bin/lut-lib-host, TAP names lib/host/NAME.
 */
#include "harness.h"
#include "libliveupdate.h"

#include <signal.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#define SEALS (F_SEAL_SEAL | F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK)

static void memfd_from_buffer(void)
{
	char big[70000];
	int fd;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7);
	fd = CHECK_OK(liveupdate_memfd_from_buffer("lib-buf", big, sizeof(big)));
	EXPECT_EQ(lu_fsize(fd), sizeof(big));
	EXPECT_EQ(lu_seals(fd), SEALS);
	EXPECT_EQ(lu_fpos(fd), 0);
	EXPECT_EQ(lu_cloexec(fd), 1);
	EXPECT_STR(lu_fd_link(fd), "/memfd:lib-buf (deleted)");
	{
		char back[sizeof(big)];

		CHECK_EQ(lu_pread(fd, back, sizeof(back), 0), (long long)sizeof(back));
		EXPECT(!memcmp(back, big, sizeof(big)));
	}
	EXPECT_EQ(lu_pwrite(fd, "x", 1, 0), -EPERM);
	EXPECT_EQ(lu_ftruncate(fd, 1), -EPERM);
	close(fd);
	/* empty */
	fd = CHECK_OK(liveupdate_memfd_from_buffer(NULL, NULL, 0));
	EXPECT_EQ(lu_fsize(fd), 0);
	EXPECT_EQ(lu_seals(fd), SEALS);
	close(fd);
	EXPECT_EQ(liveupdate_memfd_from_buffer("x", NULL, 1), -EINVAL);
}

static void memfd_from_fd(void)
{
	int src = CHECK_OK(lu_memfd("lib-src", 0, 200000, 9));
	int fd;

	/* what is left to read: from the source's position on */
	CHECK(lseek(src, 1000, SEEK_SET) == 1000);
	fd = CHECK_OK(liveupdate_memfd_from_fd("lib-copy", src));
	EXPECT_EQ(lu_fsize(fd), 199000);
	EXPECT_EQ(lu_seals(fd), SEALS);
	{
		static char a[199000], b[199000];

		CHECK_EQ(lu_pread(fd, a, sizeof(a), 0), (long long)sizeof(a));
		CHECK_EQ(lu_pread(src, b, sizeof(b), 1000), (long long)sizeof(b));
		EXPECT(!memcmp(a, b, sizeof(a)));
	}
	close(fd);
	close(src);
	EXPECT_EQ(liveupdate_memfd_from_fd("x", -1), -EBADF);
}

static void manifest_parse(void)
{
	static const char good[] = "liveupdate-manifest 1\n1 config\nffffffffffffffff state.db\nA0 x\n";
	struct liveupdate_manifest_entry *e = NULL;
	uint64_t tok = 0;
	size_t n = 0;

	CHECK_EQ(liveupdate_manifest_parse(good, strlen(good), &e, &n), 0);
	CHECK_EQ(n, 3);
	EXPECT_EQ(e[0].token, 1);
	EXPECT_STR(e[0].name, "config");
	EXPECT_EQ(e[1].token, UINT64_MAX);
	EXPECT_STR(e[1].name, "state.db");
	EXPECT_EQ(e[2].token, 0xa0);
	EXPECT_EQ(liveupdate_manifest_find(e, n, "state.db", &tok), 0);
	EXPECT_EQ(tok, UINT64_MAX);
	EXPECT_EQ(liveupdate_manifest_find(e, n, "nope", &tok), -ENOENT);
	free(e);
	/* no entries */
	CHECK_EQ(liveupdate_manifest_parse("liveupdate-manifest 1\n", 22, &e, &n), 0);
	EXPECT_EQ(n, 0);
	free(e);
}

static void manifest_parse_bad(void)
{
	static const char *const bad[] = {
		"",
		"liveupdate-manifest 2\n1 a\n",
		"liveupdate-manifest 1\n1 a",			/* no final newline */
		"liveupdate-manifest 1\n0 zero\n",		/* token 0 is the manifest */
		"liveupdate-manifest 1\n1\n",
		"liveupdate-manifest 1\n1 \n",
		"liveupdate-manifest 1\n 1 a\n",
		"liveupdate-manifest 1\n1  a\n",		/* a space in the name */
		"liveupdate-manifest 1\nx1 a\n",
		"liveupdate-manifest 1\n10000000000000000 a\n",	/* 17 hex digits */
		"liveupdate-manifest 1\n1 a\n1 b\n",		/* duplicate token */
		"liveupdate-manifest 1\n1 a\n2 a\n",		/* duplicate name */
		"liveupdate-manifest 1\n1 a\tb\n",
		"liveupdate-manifest 1\n1 0123456789012345678901234567890123456789012345678901234567890123\n",
	};
	struct liveupdate_manifest_entry *e = NULL;
	size_t n = 0;

	for (size_t i = 0; i < LU_ARRAY_SIZE(bad); i++) {
		int r = liveupdate_manifest_parse(bad[i], strlen(bad[i]), &e, &n);

		if (r != -EBADMSG)
			lu_diag("case %zu", i);
		EXPECT_EQ(r, -EBADMSG);
	}
	/* a NUL inside a name */
	EXPECT_EQ(liveupdate_manifest_parse("liveupdate-manifest 1\n1 a\0b\n", 28, &e, &n), -EBADMSG);
	EXPECT_EQ(liveupdate_manifest_parse(NULL, 0, &e, &n), -EINVAL);
}

static void args_before_ioctl(void)
{
	char n64[65];

	memset(n64, 'n', 64);
	n64[64] = 0;
	/* names that cannot fit the uAPI field never reach the kernel */
	EXPECT_EQ(liveupdate_create_session(-1, n64), -ENAMETOOLONG);
	EXPECT_EQ(liveupdate_retrieve_session(-1, n64), -ENAMETOOLONG);
	EXPECT_EQ(liveupdate_create_session(-1, NULL), -EINVAL);
	/* everything else is the kernel's to judge: here a bad fd */
	EXPECT_EQ(liveupdate_create_session(-1, "x"), -EBADF);
	EXPECT_EQ(liveupdate_preserve_fd(-1, 1, 0), -EBADF);
	EXPECT_EQ(liveupdate_finish(-1), -EBADF);
	EXPECT_EQ(liveupdate_open(0x100), -EINVAL);
	/* not a session: the kernel's ENOTTY comes back as it is */
	{
		int p[2];

		CHECK(pipe(p) == 0);
		EXPECT_EQ(liveupdate_finish(p[0]), -ENOTTY);
		EXPECT_EQ(liveupdate_retrieve_fd(p[0], 1), -ENOTTY);
		close(p[0]);
		close(p[1]);
	}
}

static void available(void)
{
	struct stat st;
	int have = stat(LIVEUPDATE_DEVICE, &st) == 0;

	EXPECT_EQ(liveupdate_available(), have);
	if (!have)
		EXPECT_EQ(liveupdate_open(0), -ENOENT);
}

/* Without a broker: 0, not an error; names checked before any connect */
static void agent_absent(void)
{
	char n49[50];

	memset(n49, 'n', 49);
	n49[49] = 0;
	setenv("LIVEUPDATED_SOCKET", "/nonexistent/liveupdated.sock", 1);
	EXPECT_EQ(liveupdate_agent_available(), 0);
	/* "no broker" is not "no such session" (-ENOENT) */
	EXPECT_EQ(liveupdate_agent_create_session("db"), -ECONNREFUSED);
	EXPECT_EQ(liveupdate_agent_release_session("db"), -ECONNREFUSED);
	EXPECT_EQ(liveupdate_agent_retrieve_session("db"), -ECONNREFUSED);
	EXPECT_EQ(liveupdate_agent_release_session(""), -EINVAL);
	EXPECT_EQ(liveupdate_agent_release_session(NULL), -EINVAL);
	EXPECT_EQ(liveupdate_agent_release_session(n49), -ENAMETOOLONG);
	EXPECT_EQ(liveupdate_agent_preserve_fd("db", 1, -1), -EBADF);
}

/*
 * A broker that takes connections and never answers: every broker call
 * gives up after $LIVEUPDATED_TIMEOUT seconds with -ETIMEDOUT, in recv()
 * (the listener has a free slot) and in connect() (its backlog is full).
 */
static void agent_timeout(void)
{
	char dir[] = "/tmp/lut-lib-host.XXXXXX", path[sizeof(dir) + 16];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int l, status;
	pid_t pid;

	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sock", dir);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	l = CHECK_OK(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
	CHECK(bind(l, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(listen(l, 0) == 0);
	setenv("LIVEUPDATED_SOCKET", path, 1);
	setenv("LIVEUPDATED_TIMEOUT", "1", 1);
	/* the listener's only slot: a connection accepted at once, never answered */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int c;

		prctl(PR_SET_PDEATHSIG, SIGKILL);	/* not past the test */
		c = accept(l, NULL, NULL);
		(void)c;
		pause();
		_exit(0);
	}
	EXPECT_EQ(liveupdate_agent_create_session("db"), -ETIMEDOUT);	/* recv() */
	kill(pid, SIGKILL);
	CHECK(waitpid(pid, &status, 0) == pid);
	/* nobody accepts now: one pending connection fills backlog 0 */
	EXPECT_EQ(liveupdate_agent_create_session("db"), -ETIMEDOUT);	/* recv() */
	EXPECT_EQ(liveupdate_agent_create_session("db"), -ETIMEDOUT);	/* connect() */
	EXPECT_EQ(liveupdate_agent_available(), -ETIMEDOUT);	/* a broker, not answering */
	close(l);
	unlink(path);
	rmdir(dir);
}

/*
 * A stand-in broker for one RETRIEVE: answers "OK db" with a pipe's read end
 * and writes what came next on the connection ("LU1 HAVE", "LU1 KEEP", or
 * "EOF" when the client closed without a word) into @out. The real broker's
 * side is tests/kexec/agent.c's (it needs the device).
 */
static pid_t fake_broker(const char *path, int out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int l = CHECK_OK(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
	pid_t pid;

	memcpy(sa.sun_path, path, strlen(path) + 1);
	unlink(path);
	CHECK(bind(l, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(listen(l, 1) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int))];
		} cbuf;
		struct iovec iov = { "OK db", 5 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		char req[64];
		int conn, p[2];
		ssize_t n;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		conn = accept(l, NULL, NULL);
		if (conn < 0 || pipe(p) < 0 || recv(conn, req, sizeof(req), 0) <= 0)
			_exit(1);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &p[0], sizeof(int));
		if (sendmsg(conn, &mh, MSG_NOSIGNAL) < 0)
			_exit(1);
		n = recv(conn, req, sizeof(req) - 1, 0);
		if (n > 0) {
			if (write(out, req, (size_t)n) != n)
				_exit(1);
			(void)send(conn, "OK db", 5, MSG_NOSIGNAL);
		} else if (write(out, "EOF", 3) != 3) {
			_exit(1);
		}
		_exit(0);
	}
	close(l);
	return pid;
}

/* What the stand-in broker heard after its "OK" + fd, with @fn as the client. */
static void retrieve_with(const char *want, int (*fn)(void))
{
	char dir[] = "/tmp/lut-lib-host.XXXXXX", path[sizeof(dir) + 16], got[64];
	int p[2], status;
	ssize_t n;
	pid_t pid;

	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sock", dir);
	setenv("LIVEUPDATED_SOCKET", path, 1);
	setenv("LIVEUPDATED_TIMEOUT", "5", 1);
	CHECK(pipe(p) == 0);
	pid = fake_broker(path, p[1]);
	close(p[1]);
	EXPECT_EQ(fn(), 0);
	n = read(p[0], got, sizeof(got) - 1);
	got[n > 0 ? n : 0] = 0;
	EXPECT_STR(got, want);
	close(p[0]);
	CHECK(waitpid(pid, &status, 0) == pid);
	unlink(path);
	rmdir(dir);
}

static int confirm_have(void)
{
	int h, fd = liveupdate_agent_retrieve_begin("db", &h);

	if (fd < 0)
		return fd;
	EXPECT_EQ(lu_cloexec(h), 1);
	EXPECT_EQ(lu_cloexec(fd), 1);
	close(fd);
	return liveupdate_agent_retrieve_end(h, 1);
}

static int confirm_keep(void)
{
	int h, fd = liveupdate_agent_retrieve_begin("db", &h);

	if (fd < 0)
		return fd;
	close(fd);
	return liveupdate_agent_retrieve_end(h, 0);
}

static int confirm_none(void)
{
	int h, fd = liveupdate_agent_retrieve_begin("db", &h);

	if (fd < 0)
		return fd;
	close(fd);
	close(h);	/* a caller killed before its end() */
	return 0;
}

static int session_once(void)
{
	int fd = liveupdate_agent_retrieve_session("db");

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/* A full fd table: the fd cannot arrive (MSG_CTRUNC), nothing confirmed. */
static int ctrunc(void)
{
	struct rlimit rl;
	int h = 7, r, spare[4096], n = 0;

	/* the connection takes one fd; the session fd finds none free */
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	rl.rlim_cur = 64;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	for (;;) {
		int fd = dup(0);

		if (fd < 0)
			break;
		spare[n++] = fd;
	}
	close(spare[--n]);	/* one free: the socket */
	r = liveupdate_agent_retrieve_begin("db", &h);
	while (n)
		close(spare[--n]);
	EXPECT_EQ(h, -1);
	return r == -EMFILE ? 0 : r;
}

/*
 * RETRIEVE's confirmation (docs/broker.md): the broker hears HAVE after a
 * delivered session, KEEP after a given-back one, nothing at all from a
 * caller killed before its end() or whose fd table was full.
 */
static void agent_retrieve_confirm(void)
{
	retrieve_with("LU1 HAVE", confirm_have);
	retrieve_with("LU1 KEEP", confirm_keep);
	retrieve_with("EOF", confirm_none);
	retrieve_with("LU1 HAVE", session_once);
	retrieve_with("EOF", ctrunc);
}

/*
 * Failures come back as -errno and errno itself is left as it was: here
 * EXDEV, which none of these calls could set.
 */
static void errno_untouched(void)
{
	char name[LIVEUPDATE_NAME_MAX + 1];
	void *buf = NULL;
	size_t len = 0;
	struct liveupdate_manifest_entry *e = NULL;
	int fd;

#define KEEPS(call, want) do {			\
		errno = EXDEV;			\
		EXPECT_EQ(call, want);		\
		EXPECT_EQ(errno, EXDEV);	\
	} while (0)
	setenv("LIVEUPDATED_SOCKET", "/nonexistent/liveupdated.sock", 1);
	if (!liveupdate_available())
		KEEPS(liveupdate_open(0), -ENOENT);
	KEEPS(liveupdate_available(), liveupdate_available());
	KEEPS(liveupdate_create_session(-1, "x"), -EBADF);
	KEEPS(liveupdate_retrieve_session(-1, "x"), -EBADF);
	KEEPS(liveupdate_preserve_fd(-1, 1, 0), -EBADF);
	KEEPS(liveupdate_retrieve_fd(-1, 1), -EBADF);
	KEEPS(liveupdate_finish(-1), -EBADF);
	KEEPS(liveupdate_session_name(-1, name), -EBADF);
	KEEPS(liveupdate_memfd_from_fd("x", -1), -EBADF);
	KEEPS(liveupdate_preserve_buffer(-1, 1, "x", 1), -EBADF);
	KEEPS(liveupdate_preserve_file(-1, 1, -1), -EBADF);
	KEEPS(liveupdate_retrieve_buffer(-1, 1, &buf, &len), -EBADF);
	KEEPS(liveupdate_manifest_write(-1, NULL, 0), -EBADF);
	KEEPS(liveupdate_manifest_read(-1, &e, &len), -EBADF);
	KEEPS(liveupdate_manifest_parse("x", 1, &e, &len), -EBADMSG);
	KEEPS(liveupdate_agent_available(), 0);
	KEEPS(liveupdate_agent_create_session("db"), -ECONNREFUSED);
	KEEPS(liveupdate_agent_preserve_fd("db", 1, 0), -ECONNREFUSED);
	KEEPS(liveupdate_agent_retrieve_session("db"), -ECONNREFUSED);
	KEEPS(liveupdate_agent_retrieve_end(-1, 1), -EBADF);
	KEEPS(liveupdate_agent_release_session("db"), -ECONNREFUSED);
	/* and on success */
	errno = EXDEV;
	fd = CHECK_OK(liveupdate_memfd_from_buffer("x", "abc", 3));
	EXPECT_EQ(errno, EXDEV);
	close(fd);
	errno = EXDEV;
	fd = CHECK_OK(liveupdate_manifest_memfd(NULL, 0));
	EXPECT_EQ(errno, EXDEV);
	close(fd);
#undef KEEPS
}

/* Arguments the library can judge itself, before any syscall */
static void bad_args(void)
{
	void *buf = NULL;
	size_t len = 0;

	EXPECT_EQ(liveupdate_session_name(-1, NULL), -EINVAL);
	EXPECT_EQ(liveupdate_retrieve_buffer(-1, 1, NULL, &len), -EINVAL);
	EXPECT_EQ(liveupdate_retrieve_buffer(-1, 1, &buf, NULL), -EINVAL);
	/* broker names are [A-Za-z0-9_-]: a space would split the request */
	setenv("LIVEUPDATED_SOCKET", "/nonexistent/liveupdated.sock", 1);
	EXPECT_EQ(liveupdate_agent_create_session("a 1"), -EINVAL);
	EXPECT_EQ(liveupdate_agent_create_session("../x"), -EINVAL);
	EXPECT_EQ(liveupdate_agent_preserve_fd("a b", 1, 0), -EINVAL);
	EXPECT_EQ(liveupdate_agent_retrieve_session("a\n"), -EINVAL);
	EXPECT_EQ(liveupdate_agent_release_session("a.b"), -EINVAL);
	EXPECT_EQ(liveupdate_agent_create_session("Az09_-"), -ECONNREFUSED);	/* fine, no broker */
	{
		int h = 7;

		EXPECT_EQ(liveupdate_agent_retrieve_begin("a b", &h), -EINVAL);
		EXPECT_EQ(h, -1);
		EXPECT_EQ(liveupdate_agent_retrieve_begin("db", NULL), -EINVAL);
		EXPECT_EQ(liveupdate_agent_retrieve_end(-1, 0), -EBADF);
	}
}

/*
 * ioctl() of this program (the library's calls resolve to it): while
 * eintr_left is set, fails that many calls with EINTR and counts them, as a
 * kernel that a signal interrupts every time would; otherwise the system
 * call.
 */
static long eintr_left, eintr_calls;

int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (eintr_left) {
		eintr_left--;
		eintr_calls++;
		errno = EINTR;
		return -1;
	}
	return (int)syscall(SYS_ioctl, fd, request, arg);
}

/*
 * An ioctl interrupted by signals again and again: the library tries 1000
 * times in a row, then gives -EINTR (before: for ever); fewer EINTRs are
 * retried through.
 */
static void eintr_bounded(void)
{
	int fd = CHECK_OK(open("/dev/null", O_RDONLY | O_CLOEXEC));

	eintr_calls = 0;
	eintr_left = 5000;
	EXPECT_EQ(liveupdate_retrieve_fd(fd, 1), -EINTR);
	EXPECT_EQ(eintr_calls, 1000);
	eintr_calls = 0;
	eintr_left = 999;
	/* the 1000th call reaches /dev/null: not a LUO fd */
	EXPECT_EQ(liveupdate_retrieve_fd(fd, 1), -ENOTTY);
	EXPECT_EQ(eintr_calls, 999);
	eintr_left = 0;
	close(fd);
}

/* liveupdate_version(): the package's version (debian/changelog). */
static void version(void)
{
	CHECK(strcmp(LU_VERSION, "unknown"));
	EXPECT_EQ(strcmp(liveupdate_version(), LU_VERSION), 0);
}

/*
 * liveupdate_agent_set_socket() and _set_timeout() win over the environment
 * and give it back when reset: a listener that never answers, named only by
 * the call, gives -ETIMEDOUT after the call's 1 s; reset, the environment's
 * nonexistent socket gives "no broker" again.
 */
static void agent_set_socket_timeout(void)
{
	char dir[] = "/tmp/lut-lib-host.XXXXXX", path[sizeof(dir) + 16], longp[200];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int l;

	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sock", dir);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	l = CHECK_OK(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
	CHECK(bind(l, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(listen(l, 4) == 0);	/* connections wait in the backlog, unanswered */
	setenv("LIVEUPDATED_SOCKET", "/nonexistent/liveupdated.sock", 1);
	setenv("LIVEUPDATED_TIMEOUT", "3600", 1);
	EXPECT_EQ(liveupdate_agent_set_socket(""), -EINVAL);
	memset(longp, 'x', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = 0;
	EXPECT_EQ(liveupdate_agent_set_socket(longp), -ENAMETOOLONG);
	EXPECT_EQ(liveupdate_agent_set_timeout(86400 * 365 + 1), -EINVAL);
	EXPECT_EQ(liveupdate_agent_available(), 0);		/* the environment's */
	EXPECT_EQ(liveupdate_agent_set_socket(path), 0);
	EXPECT_EQ(liveupdate_agent_set_timeout(1), 0);
	EXPECT_EQ(liveupdate_agent_create_session("db"), -ETIMEDOUT);
	EXPECT_EQ(liveupdate_agent_set_socket(NULL), 0);
	EXPECT_EQ(liveupdate_agent_set_timeout(0), 0);
	EXPECT_EQ(liveupdate_agent_create_session("db"), -ECONNREFUSED);
	close(l);
	unlink(path);
	rmdir(dir);
}

static const struct lu_test tests[] = {
	LU_TEST_D(version,
		  "liveupdate_version() is the package's version (LU_VERSION, not 'unknown')"),
	LU_TEST_D(agent_set_socket_timeout,
		  "set_socket/set_timeout refuse '', a too-long path, > 1 year; set, they win over the environment (-ETIMEDOUT after 1 s); reset, the environment's socket again (-ECONNREFUSED)"),
	LU_TEST_D(eintr_bounded,
		  "an ioctl failing with EINTR is retried 1000 times, then -EINTR; 999 EINTRs are retried through to the real call (-ENOTTY)"),
	LU_TEST_D(memfd_from_buffer,
		  "memfd_from_buffer: exactly the 70000 bytes, all four seals, offset 0, FD_CLOEXEC, named memfd:NAME; writes and truncation EPERM; empty works; NULL with length 1 EINVAL"),
	LU_TEST_D(memfd_from_fd,
		  "memfd_from_fd copies from the source's offset on (199000 bytes, same bytes), sealed; a bad fd is EBADF"),
	LU_TEST_D(manifest_parse,
		  "a good manifest parses to exactly its 3 entries (hex tokens up to UINT64_MAX); find gives a token or -ENOENT; no entries is fine"),
	LU_TEST_D(manifest_parse_bad,
		  "15 malformed manifests (version, final newline, token 0, spaces, 17 hex digits, duplicates, tab, 64-byte name, NUL) are -EBADMSG; NULL is -EINVAL"),
	LU_TEST_D(args_before_ioctl,
		  "names past the uAPI field are -ENAMETOOLONG and NULL -EINVAL before any ioctl; a bad fd -EBADF; bad open flags -EINVAL; a pipe's ENOTTY comes back as it is"),
	LU_TEST_D(available,
		  "liveupdate_available() says whether /dev/liveupdate exists; without it liveupdate_open is -ENOENT"),
	LU_TEST_D(agent_absent,
		  "without a broker agent_available is 0 and calls are -ECONNREFUSED (not -ENOENT); empty, NULL, 49-byte names and a bad fd refused first"),
	LU_TEST_D(agent_timeout,
		  "a broker that never answers: -ETIMEDOUT after LIVEUPDATED_TIMEOUT in recv() and in connect() (full backlog), agent_available too"),
	LU_TEST_D(agent_retrieve_confirm,
		  "the broker hears exactly LU1 HAVE after a delivered session, LU1 KEEP after one given back, nothing from a caller gone before end() or with a full fd table (-EMFILE)"),
	LU_TEST_D(errno_untouched,
		  "18 failing calls (19 without the device) return -errno and leave errno as it was (EXDEV); so do available(), agent_available() and two successful calls"),
	LU_TEST_D(bad_args,
		  "arguments the library judges itself: NULL outputs -EINVAL; broker names outside [A-Za-z0-9_-] -EINVAL (handle -1); a valid one reaches the (absent) broker"),
};

int main(int argc, char **argv)
{
	return lu_main("lib/host", tests, LU_ARRAY_SIZE(tests), argc, argv);
}
