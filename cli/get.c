// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdatectl get.
 * main(), the verbs' table and what they share: liveupdatectl.c, liveupdatectl.h.
 */
#include "liveupdatectl.h"

/* ---- get ------------------------------------------------------------------------ */

/*
 * The invariant (docs/crash.md, "liveupdatectl get"): after a crash of get
 * at any point, every entry of the session is either still retrievable by
 * a later get, or delivered, complete, where it was asked to go; never
 * neither. So:
 *  - the destination is checked (and its temporary file made) before the
 *    session is retrieved;
 *  - the session is never held by this process alone: without the broker a
 *    keeper process (__keep ... get, "@liveupdatectl-get") retrieves it and
 *    hands us a copy of its fd; with the broker, the broker keeps its copy
 *    until we say it was delivered (liveupdate_agent_retrieve_end());
 *  - a file is written to a temporary file in the destination's directory,
 *    fsync()ed and renamed over the destination: never a half-written one;
 *  - FINISH only once everything asked for was delivered and everything the
 *    manifest names was asked for (--all, or its only entry), or --finish
 *    was given; otherwise the session stays held (retrieving a file again
 *    gives the same file), and a later get takes it from its keeper.
 */

/* A retrieved session and who else holds it while we work on it. */
struct held {
	int fd;			/* our copy of the session fd */
	pid_t keeper;		/* the keeper's pid (direct), 0 if none */
	int pidfd;		/* its pidfd, -1 */
	int child;		/* 1 if we forked it (reap it) */
	int handle;		/* the broker's handle, -1 */
};

/* Sends @r (a result) and, if @fd >= 0, @fd over the Unix socket @sock. */
static void send_result(int sock, int r, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c;
	struct iovec iov = { &r, sizeof(r) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		memset(&c, 0, sizeof(c));
		m.msg_control = c.buf;
		m.msg_controllen = sizeof(c.buf);
		CMSG_FIRSTHDR(&m)->cmsg_level = SOL_SOCKET;
		CMSG_FIRSTHDR(&m)->cmsg_type = SCM_RIGHTS;
		CMSG_FIRSTHDR(&m)->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(CMSG_FIRSTHDR(&m)), &fd, sizeof(int));
	}
	/* MSG_NOSIGNAL: the receiver may be gone; we must live on regardless */
	(void)sendmsg(sock, &m, MSG_NOSIGNAL);
}

/* Waits up to 30 s for send_result()'s message: its result, *@fd the fd. */
static int recv_result(int sock, int *fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c;
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	int r = -ECHILD, n;
	struct iovec iov = { &r, sizeof(r) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
			    .msg_controllen = sizeof(c.buf) };
	struct cmsghdr *h;
	ssize_t got;

	*fd = -1;
	do
		n = poll(&pfd, 1, 30000);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -ETIMEDOUT;
	got = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	for (h = got > 0 ? CMSG_FIRSTHDR(&m) : NULL; h; h = CMSG_NXTHDR(&m, h))
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS)
			memcpy(fd, CMSG_DATA(h), sizeof(int));
	if (got != sizeof(r))
		return -ECHILD;
	if (r >= 0 && *fd < 0)
		return -EPROTO;
	return r;
}

/*
 * Runs the keeper in this (forked) process with the session at fd 3 and
 * the parent's socket at fd 4: re-executed as "@liveupdatectl-get __keep 3
 * 4 get" (cmd_keep()), under systemd in a scope of its own as hold --detach
 * does, so that stopping the caller's unit does not close the session.
 * Never returns: if no exec works it keeps the session here.
 */
static void keeper_exec(int session, int sock, const char *name)
{
	char self[PATH_MAX], unit[64], desc[128];
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int s = fcntl(session, F_DUPFD_CLOEXEC, 10), o = fcntl(sock, F_DUPFD_CLOEXEC, 10);
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	setsid();
	signal(SIGPIPE, SIG_IGN);	/* stays ignored across exec */
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	if (s >= 0 && o >= 0 && dup2(s, 3) == 3 && dup2(o, 4) == 4 && n > 0) {
		self[n] = 0;
		close_range(5, ~0U, 0);
		snprintf(unit, sizeof(unit), "liveupdate-get-%d.scope", (int)getpid());
		snprintf(desc, sizeof(desc), "liveupdatectl get %s", name);
		if (exists("/run/systemd/system")) {
			char *argv[] = { "systemd-run", "--quiet", "--scope", "--collect", "--unit",
					 unit, "--description", desc, "-p", "DefaultDependencies=no",
					 "--", self, "__keep", "3", "4", "get", NULL };

			execvp(argv[0], argv);
		}
		{
			char *argv[] = { KEEPER_GET, "__keep", "3", "4", "get", NULL };

			execv(self, argv);
		}
	}
	for (;;)		/* the session must not be closed by us */
		pause();
}

/*
 * Retrieves incoming session @name without ever being its only holder: a
 * forked keeper does RETRIEVE_SESSION on @dev, sends us a copy of the fd
 * and keeps its own. Return: 0 and @h filled, or -errno (the keeper's
 * RETRIEVE_SESSION error: -ENOENT none, -EINVAL already retrieved).
 */
static int keeper_retrieve(int dev, const char *name, struct held *h)
{
	char buf[4];
	int sv[2], r, fd;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (pid == 0) {
		int s;

		close(sv[0]);
		s = liveupdate_retrieve_session(dev, name);
		close(dev);	/* the next opener need not wait for our exec */
		send_result(sv[1], s, s);
		if (s < 0)
			_exit(1);
		keeper_exec(s, sv[1], name);
	}
	close(sv[1]);
	h->keeper = pid;
	h->child = 1;
	h->pidfd = sys_pidfd_open(pid);
	lu_crash_point("get:forked-keeper");
	r = recv_result(sv[0], &fd);
	if (r < 0) {
		close(sv[0]);
		if (fd >= 0)
			close(fd);
		/* timed out: if it gets the session after all, it keeps it */
		if (r != -ETIMEDOUT)
			waitpid(pid, NULL, 0);
		h->keeper = 0;
		h->child = 0;
		if (h->pidfd >= 0)
			close(h->pidfd);
		h->pidfd = -1;
		return r;
	}
	h->fd = fd;
	lu_crash_point("get:got-session");
	/* the keeper runs once it says so; if it never does, it still holds it */
	{
		struct pollfd pfd = { .fd = sv[0], .events = POLLIN };

		do
			r = poll(&pfd, 1, 30000);
		while (r < 0 && errno == EINTR);
		if (r <= 0 || read(sv[0], buf, 1) != 1)
			fprintf(stderr, "%s: the keeper of session \"%s\" (pid %d) did not "
				"report; it holds the session all the same\n", prog, name, (int)pid);
	}
	close(sv[0]);
	lu_crash_point("get:keeper-started");
	return 0;
}

/*
 * Finds the keeper an earlier get left holding incoming session @name
 * (a process "@liveupdatectl-get __keep FD ... get") and takes a copy of its
 * fd (pidfd_getfd(), Linux 5.6+, root). 0 and @h filled, or -ENOENT.
 */
static int keeper_find(const char *name, struct held *h)
{
	DIR *procs = opendir("/proc");
	struct dirent *p;
	int found = -ENOENT;

	if (!procs)
		return -errno;
	while (found < 0 && (p = readdir(procs))) {
		char path[64], cmd[256], got[LIVEUPDATE_NAME_MAX + 1];
		pid_t pid = (pid_t)strtol(p->d_name, NULL, 10);
		ssize_t n;
		int f, pidfd, fd;

		if (pid <= 0 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
		f = open(path, O_RDONLY | O_CLOEXEC);
		if (f < 0)
			continue;
		n = read(f, cmd, sizeof(cmd) - 1);
		close(f);
		if (n <= 0)
			continue;
		cmd[n] = 0;
		/* argv: KEEPER_GET, __keep, FD, OKFD, get */
		if (strcmp(cmd, KEEPER_GET) || (size_t)n < sizeof(KEEPER_GET) + 7 ||
		    strcmp(cmd + sizeof(KEEPER_GET), "__keep"))
			continue;
		fd = atoi(cmd + sizeof(KEEPER_GET) + 7);
		pidfd = sys_pidfd_open(pid);
		if (pidfd < 0)
			continue;
		f = sys_pidfd_getfd(pidfd, fd);
		if (f >= 0 && liveupdate_session_name(f, got) == 0 && !strcmp(got, name)) {
			h->fd = f;
			h->keeper = pid;
			h->pidfd = pidfd;
			h->child = 0;
			found = 0;
			break;
		}
		if (f >= 0)
			close(f);
		close(pidfd);
	}
	closedir(procs);
	return found;
}

/* The state the module lists for incoming session @name, "" if not listed. */
static const char *incoming_state(const char *name, char *state, size_t len)
{
	static char sess[65536];
	const char *p = sess;
	unsigned long long more;
	struct sess_line l;
	char n[LIVEUPDATE_NAME_MAX + 1];

	state[0] = 0;
	if (read_sessions(sess, sizeof(sess)) != 1)
		return state;
	while (*p)
		if (sess_parse(&p, &l, &more) > 0 && l.in) {
			sess_unescape(l.name, n, sizeof(n));
			if (!strcmp(n, name))
				snprintf(state, len, "%s", l.state);
		}
	return state;
}

/* Ends the keeper once its session is finished (the fd it holds is then harmless). */
static void keeper_end(struct held *h)
{
	if (h->pidfd >= 0)
		sys_pidfd_send_signal(h->pidfd, SIGKILL);
	if (h->child)
		waitpid(h->keeper, NULL, 0);
}

/*
 * Our session for @name, held by someone else too (a keeper, or the
 * broker). Prints why not and returns an exit code otherwise (> 0).
 */
static int get_acquire(const char *name, int broker, struct held *h)
{
	char state[16];
	int dev, r;

	*h = (struct held){ .fd = -1, .pidfd = -1, .handle = -1 };
	if (broker) {
		r = liveupdate_agent_retrieve_begin(name, &h->handle);
		if (r >= 0) {
			h->fd = r;
			lu_crash_point("get:got-session");
			return 0;
		}
		h->handle = -1;
		switch (r) {
		case -ENOENT:
			return fail(r, "no incoming session \"%s\"", name);
		case -ETIMEDOUT:
			fprintf(stderr, "%s: the broker did not answer in time ($LIVEUPDATED_TIMEOUT): "
				"it may still be retrieving session \"%s\", which it keeps; try "
				"again\n", prog, name);
			return EXIT_BUSY;
		case -EBUSY:
			fprintf(stderr, "%s: session \"%s\" is being handed to another client of "
				"the broker right now (or was retrieved from the device by another "
				"program); try again\n", prog, name);
			return EXIT_BUSY;
		case -EMFILE:
			return fail(r, "cannot receive session \"%s\" from the broker, which keeps "
				    "it", name);
		default:
			return fail(r, "the broker cannot retrieve session \"%s\"", name);
		}
	}
	dev = open_device();
	if (dev < 0)
		return -dev;
	lu_crash_point("get:opened-device");
	r = keeper_retrieve(dev, name, h);
	close(dev);
	if (r == 0)
		return 0;
	if (r != -EINVAL && r != -EBUSY)	/* EINVAL: retrieved already */
		return fail(r, r == -ENOENT ? "no incoming session \"%s\"" :
			    "cannot retrieve session \"%s\"", name);
	r = keeper_find(name, h);
	incoming_state(name, state, sizeof(state));
	if (r == 0 && strcmp(state, "finished")) {
		lu_crash_point("get:got-session");
		return 0;
	}
	if (r == 0) {	/* an earlier get was killed after FINISH, before ending it */
		close(h->fd);
		h->fd = -1;
		keeper_end(h);
		close(h->pidfd);
		h->pidfd = -1;
	}
	if (!strcmp(state, "finished"))
		return fail(-ENOENT, "session \"%s\" was finished already", name);
	if (!strcmp(state, "retrieved")) {
		fprintf(stderr, "%s: session \"%s\" is held by another program that "
			"retrieved it (no liveupdatectl get keeper)\n", prog, name);
		return EXIT_BUSY;
	}
	/* not in the module's list (past its first page), or not the module */
	return fail(-ENOENT, "session \"%s\" was retrieved already (finished, or held by "
		    "another program)", name);
}

/*
 * Lets go of our copy: with @finish after FINISH, the keeper goes (or the
 * broker drops its copy); without, they keep holding the session.
 */
static void get_release(struct held *h, const char *name, int finished)
{
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	if (h->handle >= 0) {
		/* finished: the broker drops its copy; else it keeps it */
		int r = liveupdate_agent_retrieve_end(h->handle, finished);

		if (r < 0 && !finished)
			fprintf(stderr, "%s: the broker did not confirm that it keeps session "
				"\"%s\" (%s); it keeps it unless told otherwise\n", prog, name,
				strerror(-r));
	}
	if (finished) {
		keeper_end(h);
	} else if (h->keeper) {
		fprintf(stderr, "%s: session \"%s\" stays retrievable (held by pid %d)\n", prog,
			name, (int)h->keeper);
	} else if (h->handle >= 0) {
		fprintf(stderr, "%s: session \"%s\" stays retrievable (the broker keeps it)\n",
			prog, name);
	}
	h->handle = -1;
	if (h->pidfd >= 0)
		close(h->pidfd);
	h->pidfd = -1;
	lu_crash_point("get:released");
}

/* A destination file: written to a temporary file beside it, then renamed. */
struct dest {
	char path[PATH_MAX];	/* where it goes */
	char tmp[PATH_MAX];	/* the temporary file, "" if none */
	char dir[PATH_MAX];
	int fd;
};

/*
 * Makes the temporary file for @path (in its directory, so that rename()
 * replaces @path in one step): proves the directory exists and is writable.
 */
static int dest_open(struct dest *d, const char *path)
{
	char tmp[PATH_MAX];
	struct stat st;
	mode_t mask;

	snprintf(d->path, sizeof(d->path), "%s", path);
	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(d->dir, sizeof(d->dir), "%s", dirname(tmp));
	d->fd = -1;
	d->tmp[0] = 0;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return -EISDIR;
	if (stat(d->dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	snprintf(tmp, sizeof(tmp), "%s", path);
	if ((size_t)snprintf(d->tmp, sizeof(d->tmp), "%s/.%s.lu-get-XXXXXX", d->dir,
			     basename(tmp)) >= sizeof(d->tmp))
		return -ENAMETOOLONG;
	d->fd = mkostemp(d->tmp, O_CLOEXEC);
	if (d->fd < 0) {
		d->tmp[0] = 0;
		return -errno;
	}
	mask = umask(0);
	umask(mask);
	if (fchmod(d->fd, 0666 & ~mask) < 0)
		return -errno;
	return 0;
}

/* Drops the temporary file (the destination is untouched). */
static void dest_abort(struct dest *d)
{
	if (d->fd >= 0)
		close(d->fd);
	if (d->tmp[0])
		unlink(d->tmp);
	d->fd = -1;
	d->tmp[0] = 0;
}

/* Writes @len bytes of @buf to the temporary file, syncs it and renames it into place. */
static int dest_commit(struct dest *d, const void *buf, size_t len)
{
	int dfd, r = 0;

	for (size_t done = 0; done < len;) {
		ssize_t n = write(d->fd, (const char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	lu_crash_point("get:wrote-temp");
	if (fsync(d->fd) < 0)
		return -errno;
	lu_crash_point("get:synced-temp");
	if (rename(d->tmp, d->path) < 0)
		return -errno;
	d->tmp[0] = 0;
	lu_crash_point("get:renamed");
	close(d->fd);
	d->fd = -1;
	dfd = open(d->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (fsync(dfd) < 0)
			r = -errno;
		close(dfd);
	}
	return r;
}

static int write_stdout(const void *buf, size_t len)
{
	if (len && fwrite(buf, 1, len, stdout) != len)
		return -EIO;
	return fflush(stdout) ? -errno : 0;
}

/* An entry: a manifest name, else a token number. */
static int resolve(const struct liveupdate_manifest_entry *e, size_t n, const char *arg,
		   uint64_t *token)
{
	char *end;

	if (!liveupdate_manifest_find(e, n, arg, token))
		return 0;
	errno = 0;
	*token = strtoull(arg, &end, 0);
	if (!*arg || *end || errno || arg[0] == '-')
		return -ENOENT;
	return 0;
}

int cmd_get(int argc, char **argv)
{
	struct liveupdate_manifest_entry *e = NULL;
	const char *name, *entry = NULL, *out = NULL, *dir = NULL;
	int finish = 0, delivered_all = 0, broker, r;
	struct dest d = { .fd = -1 };
	struct held h = { .fd = -1, .pidfd = -1, .handle = -1 };
	size_t n = 0, len;
	uint64_t token;
	void *buf;

	static const struct option opts[] = {
		{ "finish", no_argument, NULL, 'f' },
		{ "all", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' }, {}
	};
	int c, npos;

	while ((c = next_opt(argc, argv, ":h", opts)) != -1) {
		switch (c) {
		case 'f': finish = 1; break;
		case 'a': dir = optarg; break;
		default: return OPT_DONE(c);
		}
	}
	npos = argc - optind;
	if (npos < 1)
		return usage_error("missing NAME (the session's name)");
	name = argv[optind];
	if (dir && npos > 1)
		return usage_error("unexpected argument \"%s\" (--all DIR takes every entry)",
				   argv[optind + 1]);
	if (!dir && npos == 1 && !finish)
		return usage_error("missing ENTRY (or --all DIR) for session \"%s\"", name);
	if (npos > 3)
		return usage_error("unexpected argument \"%s\"", argv[optind + 3]);
	if (!dir && npos >= 2) {
		entry = argv[optind + 1];
		out = npos == 3 ? argv[optind + 2] : NULL;
	}
	/* the destination first: nothing is retrieved for a place we cannot write */
	if (dir) {
		char probe[PATH_MAX];

		snprintf(probe, sizeof(probe), "%s/probe", dir);
		r = dest_open(&d, probe);
		dest_abort(&d);
		if (r < 0)
			return fail(r, "%s", dir), EXIT_FAILED;
	} else if (out) {
		r = dest_open(&d, out);
		if (r < 0) {
			dest_abort(&d);
			return fail(r, "%s", out), EXIT_FAILED;
		}
	}
	lu_crash_point("get:checked-destination");
	broker = broker_up();
	if (broker < 0) {
		dest_abort(&d);
		return fail(broker, "cannot reach the broker for session \"%s\"", name);
	}
	r = get_acquire(name, broker, &h);
	if (r) {
		dest_abort(&d);
		return r;
	}
	r = liveupdate_manifest_read(h.fd, &e, &n);
	lu_crash_point("get:read-manifest");
	if (r < 0 && (dir || r != -ENOENT)) {
		r = fail(r, "session \"%s\": reading its manifest", name);
		goto out;
	}
	if (dir) {
		for (size_t i = 0; i < n; i++) {
			char path[PATH_MAX];

			/* the manifest is the session maker's: no way out of DIR */
			if (strchr(e[i].name, '/') || !strcmp(e[i].name, ".") ||
			    !strcmp(e[i].name, "..")) {
				r = fail(-EINVAL, "session \"%s\": entry name \"%s\" is not a "
					 "file name", name, e[i].name);
				goto out;
			}
			snprintf(path, sizeof(path), "%s/%s", dir, e[i].name);
			r = dest_open(&d, path);
			if (r < 0) {
				r = fail(r, "%s", path);
				goto out;
			}
			r = liveupdate_retrieve_buffer(h.fd, e[i].token, &buf, &len);
			if (r < 0) {
				r = fail(r, "session \"%s\", entry %s", name, e[i].name);
				goto out;
			}
			lu_crash_point("get:retrieved-entry");
			r = dest_commit(&d, buf, len);
			free(buf);
			if (r < 0) {
				r = fail(r, "%s", path);
				goto out;
			}
			printf("%" PRIu64 "\t%s\t%s\n", e[i].token, e[i].name, path);
			fflush(stdout);
		}
		delivered_all = 1;
	} else if (entry) {
		if (resolve(e, n, entry, &token)) {
			r = fail(-ENOENT, "session \"%s\" has no entry \"%s\"", name, entry);
			goto out;
		}
		r = liveupdate_retrieve_buffer(h.fd, token, &buf, &len);
		if (r < 0) {
			r = fail(r, "session \"%s\", entry %s", name, entry);
			goto out;
		}
		lu_crash_point("get:retrieved-entry");
		r = out ? dest_commit(&d, buf, len) : write_stdout(buf, len);
		free(buf);
		if (r < 0) {
			r = fail(r, "%s", out ? out : "stdout");
			goto out;
		}
		/* the manifest's only entry: everything it holds was delivered */
		delivered_all = n == 1 && e[0].token == token;
	}
	if (delivered_all || finish) {
		r = liveupdate_finish(h.fd);
		if (r < 0) {
			r = fail(r, "finishing session \"%s\"", name);
			goto out;
		}
		lu_crash_point("get:finished");
		get_release(&h, name, 1);
	} else {
		get_release(&h, name, 0);
	}
	r = EXIT_DONE;
out:
	if (h.fd >= 0)		/* failed: the keeper or the broker keeps it */
		get_release(&h, name, 0);
	dest_abort(&d);
	free(e);
	return r;
}
