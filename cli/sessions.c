// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdatectl check --sessions: held sessions and the shutdown (who holds
 * a session, whether it survives until reboot()).
 * main(), the verbs' table and what they share: liveupdatectl.c, liveupdatectl.h.
 */
#include "liveupdatectl.h"

#include <systemd/sd-login.h>

/* ---- held sessions and the shutdown ------------------------------------------- */

/*
 * Runs @argv (PATH searched) with stdout into @out (NUL-terminated, at most
 * @len - 1 bytes), stderr to /dev/null. Its exit status, or -errno.
 */
int run_capture(char *const argv[], char *out, size_t len)
{
	size_t n = 0;
	int p[2], st;
	pid_t pid;

	out[0] = 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		dup2(p[1], 1);
		if (null >= 0)
			dup2(null, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		ssize_t r = read(p[0], out + n, len - 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || (n += (size_t)r) == len - 1)
			break;
	}
	out[n] = 0;
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/*
 * The version of the systemd that is PID 1: 0 if PID 1 is not systemd (no
 * /run/systemd/system), -1 if it cannot be told.
 */
static int systemd_version(void)
{
	char *argv[] = { "systemctl", "--version", NULL };
	char out[256];
	int v;

	if (!exists("/run/systemd/system"))
		return 0;
	if (run_capture(argv, out, sizeof(out)) != 0 || sscanf(out, "systemd %d", &v) != 1)
		return -1;
	return v;
}

/*
 * The systemd unit process @pid runs in, "" if none: libsystemd's
 * sd_pid_get_unit() (the system unit: a service, a scope, a user's
 * user@UID.service for the user's own services; a delegated service's
 * sub-cgroups count as the service). Under LIVEUPDATECTL_ROOT (the tests'
 * fake roots, whose processes are not real) the fake /proc/PID/cgroup's
 * "0::" line names it: its last component.
 */
static void unit_of(pid_t pid, char *unit, size_t len)
{
	char path[64], line[1024], *u = NULL;
	FILE *f;

	unit[0] = 0;
	if (!getenv("LIVEUPDATECTL_ROOT")) {
		if (sd_pid_get_unit(pid, &u) >= 0)
			snprintf(unit, len, "%s", u);
		free(u);
		return;
	}
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(rooted(path), "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *slash = strrchr(line, '/');

		line[strcspn(line, "\n")] = 0;
		if (slash && !strncmp(line, "0::", 3)) {
			snprintf(unit, len, "%s", slash + 1);
			break;
		}
	}
	fclose(f);
}

enum { FATE_LOST, FATE_UNKNOWN, FATE_KEPT };

/*
 * What "systemctl kexec" (systemd version @sd; 0: no systemd, which
 * liveupdate-kexec does without) does to process @pid holding a session:
 * FATE_KEPT if it still holds it at reboot(), FATE_LOST if it is stopped or
 * killed first, FATE_UNKNOWN if that cannot be told. @why says which rule.
 *
 * PID 1 carries its fd stores through LUO from systemd 262 on. Other
 * processes live through the shutdown only if their unit is never stopped
 * (no Conflicts=shutdown.target, in a slice that stays, system.slice or
 * -.slice) and systemd-shutdown's final SIGTERM/SIGKILL spares them: root
 * processes whose argv[0] starts with '@' (systemd's ROOT_STORAGE_DAEMONS
 * rule, in every systemd we support).
 */
int holder_fate(pid_t pid, int sd, char *why, size_t len)
{
	char path[64], arg0[64] = "", unit[256], out[1024];
	struct stat st;
	FILE *f;

	if (sd == 0)
		return snprintf(why, len, "no systemd: liveupdate-kexec kexecs with it running"),
		       FATE_KEPT;
	if (pid == 1) {
		if (sd < 0)
			return snprintf(why, len, "PID 1, systemd version unknown"), FATE_UNKNOWN;
		snprintf(why, len, "PID 1 (a service's fd store): systemd %d %s", sd,
			 sd >= 262 ? "carries it" : "closes it (it carries sessions from 262 on)");
		return sd >= 262 ? FATE_KEPT : FATE_LOST;
	}
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	f = fopen(rooted(path), "re");
	if (f) {
		if (!fgets(arg0, sizeof(arg0), f))
			arg0[0] = 0;
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	unit_of(pid, unit, sizeof(unit));
	if (stat(rooted(path), &st) == 0 && st.st_uid != 0)
		return snprintf(why, len, "%s in %s runs as uid %u: systemd-shutdown kills it",
				arg0, unit[0] ? unit : "no unit", (unsigned int)st.st_uid), FATE_LOST;
	if (arg0[0] != '@')
		return snprintf(why, len, "%s in %s: systemd stops or kills it before the kexec",
				arg0, unit[0] ? unit : "no unit"), FATE_LOST;
	if (!unit[0])
		return snprintf(why, len, "%s in no unit", arg0), FATE_UNKNOWN;
	{
		char *argv[] = { "systemctl", "show", "-p", "Conflicts", "-p", "Slice", "--",
				 unit, NULL };
		const char *slice;

		if (run_capture(argv, out, sizeof(out)) != 0 || !(slice = strstr(out, "Slice=")))
			return snprintf(why, len, "%s in %s: systemctl show failed", arg0, unit),
			       FATE_UNKNOWN;
		slice += 6;
		if (strstr(out, "shutdown.target"))
			return snprintf(why, len, "%s in %s, which conflicts with shutdown.target",
					arg0, unit), FATE_LOST;
		if (strncmp(slice, "system.slice\n", 13) && strncmp(slice, "-.slice\n", 8))
			return snprintf(why, len, "%s in %s, in %.*s, which is stopped", arg0, unit,
					(int)strcspn(slice, "\n"), slice), FATE_LOST;
	}
	return snprintf(why, len, "%s in %s, which stays", arg0, unit), FATE_KEPT;
}

int sys_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

int sys_pidfd_getfd(int pidfd, int fd)
{
	return (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
}

int sys_pidfd_send_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/*
 * Whether fd @fd of process @pid is outgoing session @name itself, not just
 * any session of that name (an incoming session can have the same name) and
 * whatever /proc shows of its name (6.1 and 6.12 cannot readlink a session
 * named with 39 bytes or more: ENAMETOOLONG). Root on the real /proc only:
 * pidfd_getfd(), GET_NAME, and with the module a PRESERVE_FD that cannot
 * succeed (a non-zero byte past the struct): the module refuses it with
 * E2BIG for an outgoing session, with EINVAL for an incoming one before
 * reading it (a kernel with LUO built in: the exact name only). 1 yes, 0
 * no, -1 cannot tell (then the link's name decides).
 */
static int holds_outgoing(pid_t pid, int fd, const char *name)
{
	struct {
		struct liveupdate_session_preserve_fd a;
		uint64_t tail;
	} probe = { { .size = sizeof(probe), .fd = -1 }, 1 };
	char got[LIVEUPDATE_NAME_MAX + 1];
	int pidfd, f, r = -1;

	if (getenv("LIVEUPDATECTL_ROOT") || geteuid() != 0)
		return -1;
	pidfd = sys_pidfd_open(pid);
	if (pidfd < 0)
		return -1;
	f = sys_pidfd_getfd(pidfd, fd);
	close(pidfd);
	if (f < 0)
		return -1;
	if (liveupdate_session_name(f, got) < 0) {
		r = 0;		/* not a session */
	} else if (strcmp(got, name)) {
		r = 0;
	} else if (!exists(PARAM_DIR)) {
		r = 1;		/* the probe is the module's order of checks; the name is exact */
	} else if (ioctl(f, LIVEUPDATE_SESSION_PRESERVE_FD, &probe) < 0) {
		r = errno == E2BIG ? 1 : errno == EINVAL ? 0 : -1;
	}
	close(f);
	return r;
}

/*
 * Whether outgoing session @name lives through the shutdown of a kexec: the
 * best fate among the processes holding an fd of it (as root: that very
 * session, holds_outgoing(); else its /proc/PID/fd link is
 * "anon_inode:[luo_session] NAME"), @why that holder's.
 */
static int session_fate(const char *name, int sd, char *why, size_t len)
{
	char want[300], link[300], path[PATH_MAX], w[512];
	DIR *procs = opendir(rooted("/proc"));
	struct dirent *p;
	int best = -1, holders = 0;

	snprintf(why, len, "no process holds it (in another PID namespace?)");
	if (!procs)
		return FATE_UNKNOWN;
	snprintf(want, sizeof(want), "anon_inode:[luo_session] %s", name);
	while ((p = readdir(procs))) {
		DIR *fds;
		struct dirent *f;
		pid_t pid = (pid_t)strtol(p->d_name, NULL, 10);
		int held = 0;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
		fds = opendir(rooted(path));
		if (!fds)
			continue;
		while (!held && (f = readdir(fds))) {
			ssize_t n;
			int is;

			snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)pid, f->d_name);
			n = readlink(rooted(path), link, sizeof(link) - 1);
			if (n > 0)
				link[n] = 0;
			if (n > 0 ? !strncmp(link, "anon_inode:[luo_session]", 24) :
				    errno == ENAMETOOLONG) {
				is = holds_outgoing(pid, atoi(f->d_name), name);
				held = is >= 0 ? is : n > 0 && !strcmp(link, want);
			}
		}
		closedir(fds);
		if (held) {
			int fate = holder_fate(pid, sd, w, sizeof(w));

			holders++;
			if (fate > best) {
				best = fate;
				snprintf(why, len, "pid %d, %s", (int)pid, w);
			}
		}
	}
	closedir(procs);
	return holders ? best : FATE_UNKNOWN;
}

/*
 * A check line per outgoing session: is it still open at the kexec?
 * Return: how many would be lost (FAIL).
 */
int check_sessions(struct check_count *n, const struct status *st)
{
	const char *p = st->sess;
	struct sess_line l;
	unsigned long long more = 0;
	char name[LIVEUPDATE_NAME_MAX + 1], what[1200], why[768];
	int sd = systemd_version(), lost = 0;

	if (st->sessions != 1) {
		if (st->device)
			check_line(n, "sessions", CHECK_UNKNOWN, "the outgoing sessions are held until the kexec",
				   st->sessions ? "the module stayed busy" :
				   "cannot read " PARAM_DIR "/sessions (root only)");
		return 0;
	}
	while (*p) {
		int fate;

		if (sess_parse(&p, &l, &more) <= 0 || l.in)
			continue;
		sess_unescape(l.name, name, sizeof(name));
		fate = session_fate(name, sd, why, sizeof(why));
		snprintf(what, sizeof(what), "session %s is held until the kexec%s%s%s", l.name,
			 fate == FATE_KEPT ? " (" : "", fate == FATE_KEPT ? why : "",
			 fate == FATE_KEPT ? ")" : "");
		if (fate == FATE_LOST)
			lost++;
		check_line_s(n, "session", name, fate == FATE_KEPT ? CHECK_OK : fate == FATE_LOST ? CHECK_FAIL :
			   CHECK_UNKNOWN, what, "%s%s", why, fate == FATE_LOST ?
			   "; hold it through liveupdated (liveupdatectl hold does when it runs) "
			   "or with liveupdatectl hold --detach" : "");
	}
	return lost;
}

/* 1 if @cmdline has a word starting with @prefix. */
