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

#include <signal.h>
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
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct iovec iov = { (void *)req, strlen(req) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	int s, r = 0;
	ssize_t n;

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

static void agent_start(void)
{
	pid_t pid;

	setenv("LIVEUPDATED_SOCKET", AGENT_SOCK, 1);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int log = open("/tmp/liveupdated.log", O_WRONLY | O_CREAT | O_APPEND, 0600);

		setsid();
		dup2(log, 2);
		dup2(log, 1);
		for (int fd = 3; fd < 1024; fd++)
			close(fd);	/* the harness's report pipe too */
		execl(AGENT_BIN, "liveupdated", "--max-sessions", "3", "--max-bytes", "32K",
		      (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 250; i++) {
		if (liveupdate_agent_available() == 1)
			return;
		usleep(20000);
	}
	CHECK(!"the broker did not answer PING within 5 s");
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
	/* --max-bytes 32K: 11001 + 20000 fit, 2000 more do not */
	big = CHECK_OK(lu_memfd("agent-big", MFD_ALLOW_SEALING, 20000, 7));
	small = CHECK_OK(lu_memfd("agent-small", MFD_ALLOW_SEALING, 2000, 8));
	EXPECT_EQ(liveupdate_agent_preserve_fd("x2", 1, big), 0);
	EXPECT_EQ(agent_call_fd("LU1 PRESERVE x1 1", small, reply, sizeof(reply), NULL),
		  -EDQUOT);
	EXPECT_STR(reply, "ERR EDQUOT uid 1001 would hold 33001 bytes, the limit is 32768");
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
	EXPECT_EQ(liveupdate_agent_preserve_fd("x1", 1, small), 0);	/* 13001 bytes */
	close(big);
	close(small);
	small = CHECK_OK(lu_memfd("agent-tiny", MFD_ALLOW_SEALING, 10, 9));
	EXPECT_EQ(liveupdate_agent_preserve_fd("x1", 1, small), -EEXIST);	/* the kernel's */
	close(small);
	EXPECT_EQ(agent_call("LU1 LIST", reply, sizeof(reply), NULL), 0);
	EXPECT_STR(reply, "OK db> x1> x3>");
}

static void agent_stage1(void)
{
	char reply[256];

	agent_start();
	as_uid(1000, uid1000_stage1);
	as_uid(1001, uid1001_stage1);
	/* root sees every uid's sessions by their kernel names */
	EXPECT_EQ(agent_call("LU1 LIST", reply, sizeof(reply), NULL), 0);
	EXPECT_STR(reply, "OK u1000.db> u1001.db> u1001.x1> u1001.x3>");
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

static void uid1001_stage2(void)
{
	int s, fd;

	expect_own(1001);
	s = CHECK_OK(liveupdate_agent_retrieve_session("x1"));
	fd = CHECK_OK(liveupdate_retrieve_fd(s, 1));	/* the 2000 bytes that fitted */
	EXPECT_EQ(lu_fsize(fd), 2000);
	EXPECT_EQ(lu_compare(fd, 0, 2000, 8), 0);
	close(fd);
	close(s);
	EXPECT_EQ(liveupdate_agent_retrieve_session("x2"), -ENOENT);	/* released */
}

static void uid1002_stage2(void)
{
	EXPECT_EQ(liveupdate_agent_retrieve_session("db"), -ENOENT);
	EXPECT_EQ(liveupdate_open(0), -EACCES);
}

static void agent_stage2(void)
{
	agent_start();
	as_uid(1002, uid1002_stage2);	/* first: others' sessions still there */
	as_uid(1001, uid1001_stage2);
	as_uid(1000, uid1000_stage2);
}

KX_SCENARIO(kx_agent, "agent", { "stage1", agent_stage1 }, { "stage2", agent_stage2 });
