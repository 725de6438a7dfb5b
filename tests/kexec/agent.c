// SPDX-License-Identifier: GPL-2.0
/*
 * The broker (agent/liveupdated) across a kexec, without systemd: stage1
 * starts it, and unprivileged uids 1000, 1001 and 1002 create sessions
 * through it, preserve memfds and hit its rules (per-uid names, the limit,
 * no direct /dev/liveupdate); the broker holds the sessions until the kexec.
 * stage2 starts a new broker; each uid gets back exactly its own bytes and
 * nobody else's. The broker is /opt/lu/liveupdated (vm/run --file).
 */
#include "kx.h"
#include "liveupdate.h"

#include <signal.h>
#include <sys/wait.h>

#define AGENT_SOCK	"/tmp/liveupdated.sock"
#define AGENT_BIN	"/opt/lu/liveupdated"

static void agent_start(void)
{
	pid_t pid;
	char reply[64];

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
		execl(AGENT_BIN, "liveupdated", "--max-sessions", "3", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 250; i++) {
		if (!liveupdate_agent_call("LU1 PING", reply, sizeof(reply), NULL))
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

static void preserve_seed(int s, uint64_t seed)
{
	int m = CHECK_OK(lu_memfd("agent", MFD_ALLOW_SEALING, 10000 + seed, seed));

	EXPECT_EQ(liveupdate_preserve_fd(s, m, 1), 0);
	close(m);
}

static void uid1000_stage1(void)
{
	char reply[256];
	int s;

	EXPECT_EQ(liveupdate_open(0), -EACCES);	/* the device is root's */
	s = CHECK_OK(liveupdate_agent_create_session("db"));
	preserve_seed(s, 1000);
	close(s);	/* the broker holds it */
	EXPECT_EQ(liveupdate_agent_create_session("db"), -EEXIST);
	EXPECT_EQ(liveupdate_agent_call("LU1 CREATE ../u1001.db", reply, sizeof(reply), NULL),
		  -EINVAL);
	EXPECT_EQ(liveupdate_agent_call("LU1 CREATE u1001.db", reply, sizeof(reply), NULL),
		  -EINVAL);
	EXPECT_EQ(liveupdate_agent_call("HELLO", reply, sizeof(reply), NULL), -EPROTO);
	EXPECT_EQ(liveupdate_agent_call("LU1 LIST", reply, sizeof(reply), NULL), 0);
	EXPECT_STR(reply, "OK db>");
}

static void uid1001_stage1(void)
{
	char reply[256];
	int s = CHECK_OK(liveupdate_agent_create_session("db"));	/* its own "db" */

	preserve_seed(s, 1001);
	close(s);
	EXPECT_EQ(liveupdate_agent_retrieve_session("db"), -ENOENT);	/* none came in */
	close(CHECK_OK(liveupdate_agent_create_session("x1")));
	close(CHECK_OK(liveupdate_agent_create_session("x2")));
	EXPECT_EQ(liveupdate_agent_create_session("x3"), -EDQUOT);	/* 3 per uid */
	EXPECT_EQ(liveupdate_agent_call("LU1 RELEASE x2", reply, sizeof(reply), NULL), 0);
	close(CHECK_OK(liveupdate_agent_create_session("x3")));	/* room again */
	EXPECT_EQ(liveupdate_agent_call("LU1 LIST", reply, sizeof(reply), NULL), 0);
	EXPECT_STR(reply, "OK db> x1> x3>");
}

static void agent_stage1(void)
{
	char reply[256];

	agent_start();
	as_uid(1000, uid1000_stage1);
	as_uid(1001, uid1001_stage1);
	/* root sees every uid's sessions by their kernel names */
	EXPECT_EQ(liveupdate_agent_call("LU1 LIST", reply, sizeof(reply), NULL), 0);
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
	expect_own(1001);
	close(CHECK_OK(liveupdate_agent_retrieve_session("x1")));
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
