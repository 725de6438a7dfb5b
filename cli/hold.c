// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdatectl hold, and the __keep helper process.
 * main(), the verbs' table and what they share: liveupdatectl.c, liveupdatectl.h.
 */
#include "liveupdatectl.h"

/* ---- hold ---------------------------------------------------------------------- */

/* 1 if the broker (liveupdated) answers: sessions then go through it; 0 none. */
int broker_up(void)
{
	/* < 0: a broker is there but does not answer; callers say so, never go around it */
	return liveupdate_agent_available();
}

/* A manifest name from a path: its basename, unsafe bytes replaced by '_'. */
static void entry_name(const char *path, char name[LIVEUPDATE_NAME_MAX + 1])
{
	char tmp[PATH_MAX];
	const char *base;
	size_t i;

	snprintf(tmp, sizeof(tmp), "%s", path);
	base = basename(tmp);
	for (i = 0; base[i] && i < LIVEUPDATE_NAME_MAX; i++)
		name[i] = (base[i] > ' ' && base[i] < 0x7f) ? base[i] : '_';
	name[i] = 0;
	if (!i)
		strcpy(name, "file");
}

/*
 * Hands @fd to systemd's fd store (sd_notify FDSTORE=1 with FDNAME), when
 * running in a service: systemd 262 carries a LUO session fd stored with
 * FileDescriptorStorePreserve=yes across the kexec. 1 if stored, 0 if not
 * in a service, -errno.
 */
static int store_in_systemd(int fd, const char *name)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
	return lu_notify(msg, fd);
}

/*
 * Keeps @session open until the kexec in a holder process (cmd_keep()):
 * under systemd in a scope of its own that the shutdown never stops
 * (systemd-run --scope -p DefaultDependencies=no: no Conflicts=shutdown.target,
 * in system.slice), named "@liveupdatectl-hold" so that systemd-shutdown's
 * last SIGTERM/SIGKILL spares it; without systemd a background process.
 * Return: the holder's pid once it holds the session, or -errno.
 */
static int hold_detached(int session, const char *name)
{
	char self[PATH_MAX], unit[64], desc[128], buf[4];
	struct pollfd pfd;
	int ok[2], r;
	ssize_t n;
	pid_t pid;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return n < 0 ? -errno : -ENOENT;
	self[n] = 0;
	if (pipe2(ok, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(ok[0]);
		close(ok[1]);
		return r;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		int s = fcntl(session, F_DUPFD_CLOEXEC, 10), o = fcntl(ok[1], F_DUPFD_CLOEXEC, 10);

		setsid();
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		/* the session at fd 3, the "started" pipe at fd 4, nothing else */
		if (s < 0 || o < 0 || dup2(s, 3) < 0 || dup2(o, 4) < 0)
			_exit(127);
		close_range(5, ~0U, 0);	/* every other fd, however high */
		snprintf(unit, sizeof(unit), "liveupdate-hold-%d.scope", (int)getpid());
		snprintf(desc, sizeof(desc), "liveupdatectl hold %s", name);
		if (exists("/run/systemd/system")) {
			char *argv[] = { "systemd-run", "--quiet", "--scope", "--collect", "--unit",
					 unit, "--description", desc, "-p", "DefaultDependencies=no",
					 "--", self, "__keep", "3", "4", NULL };

			execvp(argv[0], argv);
		} else {
			char *argv[] = { self, "__keep", "3", "4", NULL };

			execv(self, argv);
		}
		_exit(127);
	}
	close(ok[1]);
	lu_crash_point("hold:forked-holder");
	pfd.fd = ok[0];
	pfd.events = POLLIN;
	do
		r = poll(&pfd, 1, 30000);
	while (r < 0 && errno == EINTR);
	n = r > 0 ? read(ok[0], buf, sizeof(buf)) : 0;
	close(ok[0]);
	if (n != 1) {	/* systemd-run failed, or the holder did not start */
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -ECHILD;
	}
	lu_crash_point("hold:holder-started");
	return (int)pid;
}

/*
 * The holder hold --detach starts, with the session at @argv[1] and the
 * "started" pipe at @argv[2]: it re-executes itself as "@liveupdatectl-hold"
 * (see holder_fate()), reports, and waits for the kexec.
 */
int cmd_keep(int argc, char **argv, const char *arg0)
{
	char self[PATH_MAX];
	ssize_t n;
	int ok;

	if (argc != 3 && !(argc == 4 && !strcmp(argv[3], "get")))
		return usage(stderr), EXIT_USAGE;
	if (arg0[0] != '@') {
		char *args[] = { argc == 4 ? KEEPER_GET : "@liveupdatectl-hold", "__keep",
				 argv[1], argv[2], argv[3], NULL };

		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0)
			return EXIT_FAILED;
		self[n] = 0;
		execv(self, args);
		return EXIT_FAILED;
	}
	ok = atoi(argv[2]);
	if (fcntl(atoi(argv[1]), F_GETFD) < 0)
		return EXIT_FAILED;
	/*
	 * Whoever started us may be gone (killed): we hold the session all the
	 * same, so no SIGPIPE, and a failed report is no reason to let go.
	 */
	signal(SIGPIPE, SIG_IGN);
	(void)!write(ok, "1", 1);
	close(ok);
	for (;;)
		pause();
}

/*
 * Preserves a sealed copy of @fd (or, with @fd < 0, the manifest of @e and
 * @n) under @token: in @s, or through the broker (@s < 0) in its session
 * @name, which counts the bytes against the caller's limit.
 */
static int hold_put(int s, const char *name, uint64_t token, int fd,
		    const struct liveupdate_manifest_entry *e, size_t n)
{
	int m, r;

	if (s >= 0)
		return fd >= 0 ? liveupdate_preserve_file(s, token, fd)
			       : liveupdate_manifest_write(s, e, n);
	m = fd >= 0 ? liveupdate_memfd_from_fd("liveupdate", fd) : liveupdate_manifest_memfd(e, n);
	if (m < 0)
		return m;
	r = liveupdate_agent_preserve_fd(name, token, m);
	close(m);
	return r;
}

int cmd_hold(int argc, char **argv)
{
	struct liveupdate_manifest_entry *e;
	int detach = 0, first = 1, dev, s, r, nfiles, broker;
	const char *name;

	static const struct option opts[] = {
		{ "detach", no_argument, NULL, 'd' }, { "help", no_argument, NULL, 'h' }, {}
	};
	int c;

	/* '+': options before NAME only; FILEs are taken as they are */
	while ((c = next_opt(argc, argv, "+:h", opts)) != -1) {
		if (c < 0)
			return OPT_DONE(c);
		detach = 1;
	}
	first = optind;
	if (argc - first < 1)
		return usage_error("missing NAME (the session's name)");
	if (argc - first < 2)
		return usage_error("missing FILE (what session \"%s\" is to hold)", argv[first]);
	name = argv[first];
	nfiles = argc - first - 1;
	if (strlen(name) == 0 || strlen(name) > LIVEUPDATE_NAME_MAX)
		return fprintf(stderr, "%s: a session name is 1 to %d bytes\n", prog,
			       LIVEUPDATE_NAME_MAX), EXIT_USAGE;
	broker = broker_up();
	if (broker < 0)
		return fail(broker, "cannot reach the broker for session \"%s\"", name);
	if (!broker && !detach && !getenv("NOTIFY_SOCKET")) {
		fprintf(stderr, "%s: nothing would hold session \"%s\" until the kexec: run this "
			"in a systemd service with FileDescriptorStorePreserve=yes, or pass "
			"--detach to keep it in a background process\n", prog, name);
		return EXIT_USAGE;
	}
	e = calloc((size_t)nfiles, sizeof(*e));
	if (!e)
		return fail(-ENOMEM, "hold");
	if (broker) {
		s = liveupdate_agent_create_session(name);	/* the broker holds it */
		if (s == 0)
			s = -1;
	} else {
		dev = open_device();
		if (dev < 0) {
			free(e);
			return -dev;
		}
		s = liveupdate_create_session(dev, name);
		close(dev);
	}
	lu_crash_point("hold:created-session");
	if (s < -1) {
		free(e);
		return fail(s, "cannot create session \"%s\"", name);
	}
	for (int i = 0; i < nfiles; i++) {
		const char *path = argv[first + 1 + i];
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			r = fail(-errno, "%s", path);
			goto out;
		}
		e[i].token = (uint64_t)i + 1;
		entry_name(path, e[i].name);
		for (int j = 0; j < i; j++)
			if (!strcmp(e[j].name, e[i].name))
				snprintf(e[i].name, sizeof(e[i].name), "file%d", i + 1);
		r = hold_put(s, name, e[i].token, fd, NULL, 0);
		close(fd);
		if (r < 0) {
			r = fail(r, "cannot preserve %s", path);
			goto out;
		}
		lu_crash_point("hold:preserved-file");
	}
	r = hold_put(s, name, LIVEUPDATE_MANIFEST_TOKEN, -1, e, (size_t)nfiles);
	if (r < 0) {
		r = fail(r, "cannot write the manifest");
		goto out;
	}
	lu_crash_point("hold:wrote-manifest");
	for (int i = 0; i < nfiles; i++)
		printf("%" PRIu64 "\t%s\t%s\n", e[i].token, e[i].name, argv[first + 1 + i]);
	fflush(stdout);
	if (broker) {
		fprintf(stderr, "%s: session \"%s\" is held by liveupdated\n", prog, name);
	} else if (detach) {
		r = hold_detached(s, name);
		if (r < 0) {
			r = fail(r, "cannot start the holder");
			goto out;
		}
		fprintf(stderr, "%s: session \"%s\" held by pid %d until the kexec\n", prog, name, r);
	} else {
		r = store_in_systemd(s, name);
		if (r <= 0) {
			r = fail(r ? r : -ENOTCONN, "cannot hand session \"%s\" to systemd", name);
			goto out;
		}
		fprintf(stderr, "%s: session \"%s\" is in the service's fd store\n", prog, name);
	}
	lu_crash_point("hold:handed-over");
	r = EXIT_DONE;
out:
	if (s >= 0) {
		close(s);
	} else if (r != EXIT_DONE) {	/* the broker drops what it holds of it */
		(void)liveupdate_agent_release_session(name);
	}
	free(e);
	return r;
}
