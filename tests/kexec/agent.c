// SPDX-License-Identifier: GPL-2.0
/*
 * The broker (agent/liveupdated) across a kexec, without systemd: stage1
 * starts it, and unprivileged uids 1000, 1001 and 1002 create sessions
 * through it, preserve memfds through it (PRESERVE: they never get an
 * outgoing session's fd) and hit its rules (per-uid names, the session and
 * byte limits, no direct /dev/liveupdate); the broker holds the sessions
 * until the kexec.
 * stage2 starts a new broker; each uid gets back exactly its own bytes and
 * nobody else's. The broker is /opt/lu/liveupdated (vm/run --file).
 */
#include "kx.h"
#include "libliveupdate.h"

#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#define AGENT_SOCK	"/tmp/liveupdated.sock"
#define AGENT_BIN	"/opt/lu/liveupdated"

/*
 * The protocol itself (docs/broker.md), which libliveupdate keeps to
 * itself: sends @req (with @send_fd unless negative), the reply line into
 * @reply; *@fdp (unless NULL) gets a passed fd or -1. 0 for "OK ...",
 * -ERRNO of "ERR ERRNO ...", -EPROTO for anything else, -errno of the socket.
 */
static int agent_call_fd(const char *req, int send_fd, char *reply, size_t len, int *fdp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = AGENT_SOCK };
	const char *sock = getenv("LIVEUPDATED_SOCKET");	/* agent_start_on()'s */
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct iovec iov = { (void *)req, strlen(req) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	int s, r = 0;
	ssize_t n;

	if (sock && strlen(sock) < sizeof(sa.sun_path))
		strcpy(sa.sun_path, sock);
	if (fdp)
		*fdp = -1;
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		goto out;
	}
	if (send_fd >= 0) {
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = sizeof(cbuf.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &send_fd, sizeof(int));
	}
	if (sendmsg(s, &mh, MSG_NOSIGNAL) < 0) {
		r = -errno;
		goto out;
	}
	iov = (struct iovec){ reply, len - 1 };
	mh = (struct msghdr){ .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf) };
	n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0) {
		r = -errno;
		goto out;
	}
	reply[n] = 0;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		int fd;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
		if (fdp && *fdp < 0)
			*fdp = fd;
		else
			close(fd);
	}
	if (!strncmp(reply, "OK", 2) && (!reply[2] || reply[2] == ' '))
		goto out;
	r = -EPROTO;
	if (!strncmp(reply, "ERR ", 4))
		for (int e = 1; e < 134; e++) {
			const char *name = strerrorname_np(e);
			size_t l = name ? strlen(name) : 0;

			if (l && !strncmp(reply + 4, name, l) && (!reply[4 + l] || reply[4 + l] == ' ')) {
				r = -e;
				break;
			}
		}
out:
	close(s);
	return r;
}

static int agent_call(const char *req, char *reply, size_t len, int *fdp)
{
	return agent_call_fd(req, -1, reply, len, fdp);
}

static pid_t agent_pid;

/*
 * Starts the broker on @sock with --max-sessions 3 --max-bytes 40K (root too:
 * --root-max-bytes 40K; root has no byte limit by default) and, if given,
 * --max-files @files.
 */
static void agent_start_on(const char *sock, const char *files)
{
	pid_t pid;

	setenv("LIVEUPDATED_SOCKET", sock, 1);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int log = open("/tmp/liveupdated.log", O_WRONLY | O_CREAT | O_APPEND, 0600);

		setsid();
		dup2(log, 2);
		dup2(log, 1);
		for (int fd = 3; fd < 1024; fd++)
			close(fd);	/* the harness's report pipe too */
		if (files)
			execl(AGENT_BIN, "liveupdated", "--max-sessions", "3", "--max-bytes", "40K",
			      "--root-max-bytes", "40K", "--max-files", files, (char *)NULL);
		else
			execl(AGENT_BIN, "liveupdated", "--max-sessions", "3", "--max-bytes", "40K",
			      "--root-max-bytes", "40K", (char *)NULL);
		_exit(127);
	}
	agent_pid = pid;
	for (int i = 0; i < 250; i++) {
		if (liveupdate_agent_available() == 1)
			return;
		usleep(20000);
	}
	CHECK(!"the broker did not answer PING within 5 s");
}

static void agent_start(void)
{
	agent_start_on(AGENT_SOCK, NULL);
}

/* Runs @fn as @uid in a child; its EXPECTs count for the calling test. */
static void as_uid(uid_t uid, void (*fn)(void))
{
	int status;
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		if (setgid(uid) || setuid(uid))
			_exit(3);
		fn();
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A memfd of 10000 + @seed bytes of pattern @seed, preserved in "db" under token 1. */
static void preserve_seed(uint64_t seed)
{
	int m = CHECK_OK(lu_memfd("agent", MFD_ALLOW_SEALING, 10000 + seed, seed));

	EXPECT_EQ(liveupdate_agent_preserve_fd("db", 1, m), 0);
	close(m);
}

static void uid1000_stage1(void)
{
	char reply[256];
	int fd = 0;

	EXPECT_EQ(liveupdate_open(0), -EACCES);	/* the device is root's */
	/* no outgoing session fd for the client: the broker holds it */
	EXPECT_EQ(agent_call("LU1 CREATE db", reply, sizeof(reply), &fd), 0);
	EXPECT_STR(reply, "OK db");
	EXPECT_EQ(fd, -1);
	preserve_seed(1000);
	EXPECT_EQ(liveupdate_agent_create_session("db"), -EEXIST);
	EXPECT_EQ(agent_call("LU1 CREATE ../u1001.db", reply, sizeof(reply), NULL),
		  -EINVAL);
	EXPECT_EQ(agent_call("LU1 CREATE u1001.db", reply, sizeof(reply), NULL),
		  -EINVAL);
	EXPECT_EQ(agent_call("HELLO", reply, sizeof(reply), NULL), -EPROTO);
	EXPECT_EQ(agent_call("LU1 LIST", reply, sizeof(reply), NULL), 0);
	EXPECT_STR(reply, "OK db>");
}

static void uid1001_stage1(void)
{
	char reply[256];
	int big, small, p[2];

	EXPECT_EQ(liveupdate_agent_create_session("db"), 0);	/* its own "db" */
	preserve_seed(1001);					/* 11001 bytes */
	EXPECT_EQ(liveupdate_agent_retrieve_session("db"), -ENOENT);	/* none came in */
	EXPECT_EQ(liveupdate_agent_create_session("x1"), 0);
	EXPECT_EQ(liveupdate_agent_create_session("x2"), 0);
	EXPECT_EQ(liveupdate_agent_create_session("x3"), -EDQUOT);	/* 3 per uid */
	/* --max-bytes 40K, 4096 per file on top: 11001 + 20000 fit, 2000 more do not */
	big = CHECK_OK(lu_memfd("agent-big", MFD_ALLOW_SEALING, 20000, 7));
	small = CHECK_OK(lu_memfd("agent-small", MFD_ALLOW_SEALING, 2000, 8));
	EXPECT_EQ(liveupdate_agent_preserve_fd("x2", 1, big), 0);
	EXPECT_EQ(agent_call_fd("LU1 PRESERVE x1 1", small, reply, sizeof(reply), NULL),
		  -EDQUOT);
	EXPECT_STR(reply, "ERR EDQUOT uid 1001 would hold 45289 bytes, the limit is 40960");
	EXPECT_EQ(liveupdate_agent_preserve_fd("x1", 1, small), -EDQUOT);
	/* the broker's other refusals */
	EXPECT_EQ(agent_call("LU1 PRESERVE x1 1", reply, sizeof(reply), NULL), -EBADF);
	EXPECT_STR(reply, "ERR EBADF PRESERVE needs the file's fd (SCM_RIGHTS)");
	EXPECT_EQ(liveupdate_agent_preserve_fd("x9", 1, small), -ENOENT);
	EXPECT_EQ(agent_call_fd("LU1 PRESERVE u1000.db 2", small, reply, sizeof(reply),
					   NULL), -EINVAL);
	EXPECT_EQ(agent_call_fd("LU1 PRESERVE x1 -1", small, reply, sizeof(reply),
					   NULL), -EINVAL);
	CHECK(pipe(p) == 0);
	EXPECT_EQ(liveupdate_agent_preserve_fd("x1", 1, p[0]), -EINVAL);	/* not a memfd */
	close(p[0]);
	close(p[1]);
	/* releasing x2 gives its session and its 20000 bytes back */
	EXPECT_EQ(liveupdate_agent_release_session("x2"), 0);
	EXPECT_EQ(liveupdate_agent_release_session("x2"), -ENOENT);
	EXPECT_EQ(liveupdate_agent_create_session("x3"), 0);	/* room again */
	EXPECT_EQ(liveupdate_agent_preserve_fd("x1", 1, small), 0);	/* 21193 bytes */
	close(big);
	close(small);
	small = CHECK_OK(lu_memfd("agent-tiny", MFD_ALLOW_SEALING, 10, 9));
	EXPECT_EQ(liveupdate_agent_preserve_fd("x1", 1, small), -EEXIST);	/* the kernel's */
	close(small);
	EXPECT_EQ(agent_call("LU1 LIST", reply, sizeof(reply), NULL), 0);
	EXPECT_STR(reply, "OK db> x1> x3>");
}

/*
 * Issue 26, limits that hold: empty files are not free. 4096 per file:
 * 10 empty files fill --max-bytes 40K, the 11th is refused (the old
 * broker counted them as 0: 300 of them passed).
 */
static void uid1005_empty_files(void)
{
	unsigned int ok = 0;
	int r = 0;

	EXPECT_EQ(liveupdate_agent_create_session("many"), 0);
	for (uint64_t t = 1; t <= 300; t++) {
		int m = CHECK_OK(lu_memfd("empty", MFD_ALLOW_SEALING, 0, 0));

		r = liveupdate_agent_preserve_fd("many", t, m);
		close(m);
		if (r < 0)
			break;
		ok++;
	}
	EXPECT_EQ(ok, 10);
	EXPECT_EQ(r, -EDQUOT);
	EXPECT_EQ(liveupdate_agent_release_session("many"), 0);
}

/* A file of 30000 bytes into a new session @name of the calling uid. */
static int preserve_30000(const char *name, char *reply, size_t len)
{
	char req[64];
	int m, r;

	EXPECT_EQ(liveupdate_agent_create_session(name), 0);
	m = CHECK_OK(lu_memfd("sub", MFD_ALLOW_SEALING, 30000, 5));
	snprintf(req, sizeof(req), "LU1 PRESERVE %s 1", name);
	r = agent_call_fd(req, m, reply, len, NULL);
	close(m);
	return r;
}

static void uid1003_own(void)
{
	char reply[256];

	EXPECT_EQ(preserve_30000("a", reply, sizeof(reply)), 0);	/* 34096 of 40960 */
}

/* a subuid of 1003 (/etc/subuid): 1003's limits, not a fresh uid's */
static void subuid_of_1003(void)
{
	char reply[256];

	EXPECT_EQ(preserve_30000("b", reply, sizeof(reply)), -EDQUOT);
	EXPECT_STR(reply, "ERR EDQUOT uid 1003 (for uid 200007) would hold 68192 bytes,"
		   " the limit is 40960");
	EXPECT_EQ(liveupdate_agent_release_session("b"), 0);
}

/* uid 1006 in 1003's login session (/proc/self/loginuid 1003): 1003's limits */
static void login_of_1003(void)
{
	char reply[256];

	EXPECT_EQ(preserve_30000("c", reply, sizeof(reply)), -EDQUOT);
	EXPECT_STR(reply, "ERR EDQUOT uid 1003 (for uid 1006) would hold 68192 bytes,"
		   " the limit is 40960");
	EXPECT_EQ(liveupdate_agent_release_session("c"), 0);
}

/*
 * The stalled writer: 4096 bytes at 36864, from a page not there yet. The
 * size the broker sees meanwhile is 0 (6.1) or already 36864 (7.2 sets it
 * to the offset before it copies); either fits 40K with 4096 for the file,
 * 40960 once the write is through does not.
 */
static int write_at_36k(struct lu_stall *st)
{
	return (int)pwrite(st->fd, st->page, 4096, 36864);
}

/* Some thread of the broker is in state D (PRESERVE_FD waiting for the inode lock). */
static bool broker_blocked(void)
{
	char path[300], buf[512];
	struct dirent *d;
	bool found = false;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)agent_pid);
	dir = opendir(path);
	while (dir && !found && (d = readdir(dir))) {
		FILE *f;
		char *p;
		size_t n;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)agent_pid, d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = 0;
		p = strrchr(buf, ')');
		found = p && p[1] && p[2] == 'D';
	}
	if (dir)
		closedir(dir);
	return found;
}

/*
 * Issue 26, limits that hold: a file that grows between the broker's check
 * and its PRESERVE_FD. Root's write of 4096 bytes at 36864 into an empty
 * memfd stalls (userfaultfd) holding the file's inode lock; the broker
 * checks the size (fits under --max-bytes 40K) and its PRESERVE_FD waits
 * for that lock; then the write goes through (40960) and the preserve
 * freezes that size. The old broker read the size before and kept the
 * file past the limit; now it is refused, and the session released (there
 * is no unpreserving one file).
 */
static void grow_during_preserve(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = AGENT_SOCK };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct iovec iov = { "LU1 PRESERVE grow 1", 19 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	struct lu_stall st;
	char reply[256];
	int m, conn, r;
	ssize_t n;

	EXPECT_EQ(liveupdate_agent_create_session("grow"), 0);
	m = CHECK_OK(lu_memfd("grow", 0, 0, 0));
	r = lu_stall_missing_start(&st, m, write_at_36k, 10);
	if (r) {
		lu_diag("the write did not stall (%s): grow-during-preserve not tried", lu_val(r));
		lu_stall_end(&st);
		close(m);
		return;
	}
	conn = CHECK_OK(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
	CHECK(connect(conn, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &m, sizeof(int));
	CHECK(sendmsg(conn, &mh, 0) == 19);
	for (int i = 0; i < 500 && !broker_blocked(); i++)
		usleep(10000);
	EXPECT(broker_blocked());	/* checked the size (0), waiting in PRESERVE_FD */
	EXPECT_EQ(lu_stall_end(&st), 4096);
	n = recv(conn, reply, sizeof(reply) - 1, 0);
	CHECK(n > 0);
	reply[n] = 0;
	close(conn);
	EXPECT_STR(reply, "ERR EDQUOT uid 0 would hold 45056 bytes, the limit is 40960:"
		   " the file grew during PRESERVE, session grow released");
	EXPECT_EQ(lu_fsize(m), 40960);
	EXPECT_EQ(lu_ftruncate(m, 1), 0);	/* not preserved any more */
	close(m);
	EXPECT_EQ(liveupdate_agent_release_session("grow"), -ENOENT);
}

/* After every bypass, root's 4 MiB still goes into the range. */
static void root_after_bypasses(void)
{
	int dev = CHECK_OK(liveupdate_open(LIVEUPDATE_OPEN_WAIT));
	int s = CHECK_OK(liveupdate_create_session(dev, "root-after"));
	int m = CHECK_OK(lu_memfd("root", MFD_ALLOW_SEALING, 4 << 20, 3));

	close(dev);
	EXPECT_EQ(liveupdate_preserve_fd(s, 1, m), 0);
	close(m);
	close(s);	/* released: not carried */
}

static void limit_bypasses(void)
{
	int f = open("/etc/subuid", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int lu;

	CHECK(f >= 0);
	CHECK(write(f, "1003:200000:65536\n", 18) == 18);
	close(f);
	as_uid(1005, uid1005_empty_files);
	as_uid(1003, uid1003_own);
	as_uid(200007, subuid_of_1003);
	lu = open("/proc/self/loginuid", O_RDONLY);
	if (lu >= 0) {
		pid_t pid;
		int status;

		close(lu);
		pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			lu = open("/proc/self/loginuid", O_WRONLY);
			if (lu < 0 || write(lu, "1003", 4) != 4)
				_exit(4);
			close(lu);
			if (setgid(1006) || setuid(1006))
				_exit(3);
			login_of_1003();
			_exit(0);
		}
		CHECK(waitpid(pid, &status, 0) == pid);
		EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	} else {
		lu_diag("no /proc/self/loginuid (no audit): the login-user case is not tried");
	}
	grow_during_preserve();
	root_after_bypasses();
	unlink("/etc/subuid");
}

/*
 * Issue 26: a session is bound to what survives the kexec. A process of a
 * system service (its cgroup a *.service under system.slice) is bound to
 * the unit, not to its uid (a DynamicUser= uid, a recycled one): these run
 * in stand-in cgroups (cgroup2 mounted here, no systemd).
 */
static void in_unit(const char *unit)
{
	char path[256];
	int fd;

	if (access("/sys/fs/cgroup/cgroup.procs", F_OK) != 0)
		CHECK(mount("none", "/sys/fs/cgroup", "cgroup2", 0, NULL) == 0);
	mkdir("/sys/fs/cgroup/system.slice", 0755);
	snprintf(path, sizeof(path), "/sys/fs/cgroup/system.slice/%s", unit);
	mkdir(path, 0755);
	if (!unit[0])
		snprintf(path, sizeof(path), "/sys/fs/cgroup");
	strcat(path, "/cgroup.procs");
	fd = open(path, O_WRONLY);
	CHECK(fd >= 0);
	CHECK(dprintf(fd, "%d\n", (int)getpid()) > 0);
	close(fd);
}

/* Runs @fn as @uid in @unit ("": the root cgroup, no unit). */
static void as_uid_in(uid_t uid, const char *unit, void (*fn)(void))
{
	int status;
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		in_unit(unit);
		if (setgid(uid) || setuid(uid))
			_exit(3);
		fn();
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (unit[0]) {
		char path[256];

		snprintf(path, sizeof(path), "/sys/fs/cgroup/system.slice/%s", unit);
		rmdir(path);
	}
}

static void unit_a_stage1(void)
{
	char reply[256];
	int m = CHECK_OK(lu_memfd("unit", MFD_ALLOW_SEALING, 5000, 10));

	EXPECT_EQ(liveupdate_agent_create_session("svc"), 0);
	EXPECT_EQ(liveupdate_agent_preserve_fd("svc", 1, m), 0);
	close(m);
	EXPECT_EQ(agent_call("LU1 LIST", reply, sizeof(reply), NULL), 0);
	EXPECT_STR(reply, "OK svc>");
}

/* the same uid outside the unit: not its session */
static void uid1010_no_unit(void)
{
	char reply[256];

	EXPECT_EQ(agent_call("LU1 LIST", reply, sizeof(reply), NULL), 0);
	EXPECT_STR(reply, "OK");
	EXPECT_EQ(liveupdate_agent_release_session("svc"), -ENOENT);
}

static void agent_stage1(void)
{
	char reply[256];

	agent_start();
	as_uid(1000, uid1000_stage1);
	as_uid(1001, uid1001_stage1);
	limit_bypasses();
	/* root sees every uid's sessions by their kernel names */
	EXPECT_EQ(agent_call("LU1 LIST", reply, sizeof(reply), NULL), 0);
	EXPECT_STR(reply, "OK u1000.db> u1001.db> u1001.x1> u1001.x3> u1003.a>");
	as_uid_in(1010, "lu-a.service", unit_a_stage1);
	as_uid_in(1010, "", uid1010_no_unit);
}

static void expect_own(uint64_t seed)
{
	int s = CHECK_OK(liveupdate_agent_retrieve_session("db"));
	int fd = CHECK_OK(liveupdate_retrieve_fd(s, 1));

	EXPECT_EQ(lu_fsize(fd), 10000 + seed);
	EXPECT_EQ(lu_compare(fd, 0, 10000 + seed, seed), 0);
	EXPECT_EQ(liveupdate_finish(s), 0);
	close(fd);
	close(s);
	EXPECT_EQ(liveupdate_agent_retrieve_session("db"), -ENOENT);
}

static void uid1000_stage2(void)
{
	expect_own(1000);
}

/* RETRIEVE of @name until it is not being handed out (a gone client's) */
static int retrieve_settled(const char *name)
{
	int r = -EBUSY;

	for (int i = 0; i < 250 && r == -EBUSY; i++) {
		r = liveupdate_agent_retrieve_session(name);
		if (r == -EBUSY)
			usleep(20000);
	}
	return r;
}

/* "LU1 RETRIEVE x1" on a connection closed at once, never read */
static void retrieve_and_vanish(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = AGENT_SOCK };
	int c = CHECK_OK(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));

	CHECK(connect(c, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(send(c, "LU1 RETRIEVE x1", 15, 0) == 15);
	close(c);
}

/* "LU1 RETRIEVE x1" answered into no control buffer: the fd is dropped (MSG_CTRUNC) */
static void retrieve_truncated(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = AGENT_SOCK };
	int c = CHECK_OK(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
	char reply[64];
	struct iovec iov = { reply, sizeof(reply) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	CHECK(connect(c, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(send(c, "LU1 RETRIEVE x1", 15, 0) == 15);
	n = recvmsg(c, &mh, 0);
	CHECK(n > 0);
	reply[n] = 0;
	EXPECT_STR(reply, "OK x1");
	EXPECT(mh.msg_flags & MSG_CTRUNC);
	close(c);
}

/*
 * Issue 26, serious defect 3: the broker keeps its copy of a session until
 * the client confirms it holds it. A client gone before it read the reply,
 * one that dropped the fd (MSG_CTRUNC), one killed between begin and end,
 * one that gave it back: x1 is retrievable again after each, with its 2000
 * bytes; a second connection meanwhile gets EBUSY, another session is not
 * held up. The old broker closed its copy at the send: the first retry got
 * ENOENT, the session and its bytes gone.
 */
static void uid1001_stage2(void)
{
	int s, fd, h, h2 = -1, status;
	pid_t pid;

	expect_own(1001);
	/* 1. the client vanishes before reading: x1 stays */
	retrieve_and_vanish();
	h = -1;
	s = -EBUSY;
	for (int i = 0; i < 250 && s == -EBUSY; i++) {
		s = liveupdate_agent_retrieve_begin("x1", &h);
		if (s == -EBUSY)
			usleep(20000);
	}
	EXPECT(s >= 0);		/* the old broker: -ENOENT, x1 lost */
	if (s < 0)
		return;
	/* 2. while handed out: another connection gets EBUSY, "db" of 1001 is gone */
	EXPECT_EQ(liveupdate_agent_retrieve_begin("x1", &h2), -EBUSY);
	EXPECT_EQ(liveupdate_agent_retrieve_session("x2"), -ENOENT);	/* released */
	/* 3. given back: kept */
	close(s);
	EXPECT_EQ(liveupdate_agent_retrieve_end(h, 0), 0);
	/* 4. the fd dropped on arrival (MSG_CTRUNC): kept */
	retrieve_truncated();
	/* 5. a client killed between begin and end: kept */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int h3;

		_exit(liveupdate_agent_retrieve_begin("x1", &h3) >= 0 ? 0 : 1);	/* no end */
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* 6. delivered: every byte there, and gone from the broker */
	s = retrieve_settled("x1");
	CHECK(s >= 0);
	fd = CHECK_OK(liveupdate_retrieve_fd(s, 1));	/* the 2000 bytes that fitted */
	EXPECT_EQ(lu_fsize(fd), 2000);
	EXPECT_EQ(lu_compare(fd, 0, 2000, 8), 0);
	EXPECT_EQ(liveupdate_finish(s), 0);
	close(fd);
	close(s);
	EXPECT_EQ(liveupdate_agent_retrieve_session("x1"), -ENOENT);
}

static void uid1002_stage2(void)
{
	EXPECT_EQ(liveupdate_agent_retrieve_session("db"), -ENOENT);
	EXPECT_EQ(liveupdate_open(0), -EACCES);
}

/* another unit with lu-a's old uid (recycled): not its session */
static void unit_b_stage2(void)
{
	EXPECT_EQ(liveupdate_agent_retrieve_session("svc"), -ENOENT);	/* the old broker: lu-a's */
}

/* lu-a.service again, under another dynamic uid: its bytes */
static void unit_a_stage2(void)
{
	int s = CHECK_OK(liveupdate_agent_retrieve_session("svc"));	/* the old broker: -ENOENT */
	int fd = CHECK_OK(liveupdate_retrieve_fd(s, 1));

	EXPECT_EQ(lu_fsize(fd), 5000);
	EXPECT_EQ(lu_compare(fd, 0, 5000, 10), 0);
	EXPECT_EQ(liveupdate_finish(s), 0);
	close(fd);
	close(s);
}

/*
 * --max-files 4: the 5th empty file is refused by count; an empty file is
 * not free either (4096 each): next to 36000 bytes it does not fit 40K.
 */
static void uid1008_files(void)
{
	char reply[256];
	int m, r = 0, ok = 0;

	EXPECT_EQ(liveupdate_agent_create_session("f"), 0);
	for (uint64_t t = 1; t <= 300 && r == 0; t++) {
		char req[64];

		m = CHECK_OK(lu_memfd("empty", MFD_ALLOW_SEALING, 0, 0));
		snprintf(req, sizeof(req), "LU1 PRESERVE f %llu", (unsigned long long)t);
		r = agent_call_fd(req, m, reply, sizeof(reply), NULL);
		close(m);
		ok += r == 0;
	}
	EXPECT_EQ(ok, 4);
	EXPECT_STR(reply, "ERR EDQUOT uid 1008 holds 4 files, the limit");
	EXPECT_EQ(liveupdate_agent_release_session("f"), 0);
	EXPECT_EQ(liveupdate_agent_create_session("g"), 0);
	m = CHECK_OK(lu_memfd("big", MFD_ALLOW_SEALING, 36000, 4));
	EXPECT_EQ(liveupdate_agent_preserve_fd("g", 1, m), 0);		/* 40096 */
	close(m);
	m = CHECK_OK(lu_memfd("empty", MFD_ALLOW_SEALING, 0, 0));
	EXPECT_EQ(agent_call_fd("LU1 PRESERVE g 2", m, reply, sizeof(reply), NULL), -EDQUOT);
	EXPECT_STR(reply, "ERR EDQUOT uid 1008 would hold 44192 bytes, the limit is 40960");
	close(m);
	EXPECT_EQ(liveupdate_agent_release_session("g"), 0);
}

static void agent_stage2(void)
{
	agent_start();
	as_uid(1002, uid1002_stage2);	/* first: others' sessions still there */
	as_uid(1001, uid1001_stage2);
	as_uid(1000, uid1000_stage2);
	as_uid_in(1010, "lu-b.service", unit_b_stage2);
	as_uid_in(1010, "", unit_b_stage2);
	as_uid_in(1011, "lu-a.service", unit_a_stage2);
	/* a broker of its own, with a file limit */
	agent_start_on("/tmp/liveupdated-files.sock", "4");
	as_uid(1008, uid1008_files);
	kill(agent_pid, SIGKILL);
	setenv("LIVEUPDATED_SOCKET", AGENT_SOCK, 1);
}

KX_SCENARIO(kx_agent, "agent",
	    { "stage1", agent_stage1,
	      "the broker (liveupdated) serves uids 1000-1002: sessions and PRESERVE through it, per-uid names, the session and byte limits, no direct /dev/liveupdate; it holds the sessions to the kexec" },
	    { "stage2", agent_stage2,
	      "a new broker gives each uid back exactly its own sessions' bytes and refuses other uids' sessions" });
