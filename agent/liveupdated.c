// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdated: the live update broker. /dev/liveupdate is root-only and has
 * one opener; this daemon lets any uid create and retrieve its own sessions
 * over a Unix socket, and holds the sessions it created until the kexec.
 *
 * - It opens /dev/liveupdate per request and closes it again: systemd (and
 *   anyone else) can open the device between requests.
 * - A session NAME of uid U is the kernel session "uU.NAME": no uid can name
 *   another's. NAME is 1..48 bytes of [A-Za-z0-9_-].
 * - Every session it creates stays open here (the client gets an fd of the
 *   same session), so it outlives the client. Under systemd it also goes to
 *   the service's fd store (FDSTORE=1, FDNAME=uU.NAME): with
 *   FileDescriptorStorePreserve=yes a broker restart loses nothing, and
 *   systemd 262 carries the sessions across the kexec and gives them back.
 * - Per uid at most --max-sessions held sessions (EDQUOT).
 *
 * The protocol is docs/broker.md: one request per connection on a
 * SOCK_SEQPACKET socket, "LU1 VERB [NAME]", answered "OK [...]" with the
 * session fd by SCM_RIGHTS, or "ERR ERRNO text".
 *
 * usage: liveupdated [--socket PATH] [--max-sessions N]
 * Socket activation (LISTEN_FDS) is used when present.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "liveupdate.h"

#define SD_LISTEN_FDS_START 3

struct held {
	char kname[LIVEUPDATE_NAME_MAX + 1];	/* "uUID.NAME" */
	uid_t uid;
	int fd;
	bool incoming;		/* handed back by systemd after a kexec */
};

static struct held *held;
static size_t nheld;
static unsigned int max_sessions = 16;

static void say(const char *fmt, ...)
{
	va_list ap;

	fputs("liveupdated: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char *errno_name(int err)
{
	static const struct { int err; const char *name; } t[] = {
		{ EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { EINVAL, "EINVAL" },
		{ EEXIST, "EEXIST" }, { EDQUOT, "EDQUOT" }, { EBUSY, "EBUSY" },
		{ ENOSPC, "ENOSPC" }, { EACCES, "EACCES" }, { ENOMEM, "ENOMEM" },
		{ EMFILE, "EMFILE" }, { ENAMETOOLONG, "ENAMETOOLONG" }, { EIO, "EIO" },
		{ ENODEV, "ENODEV" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].err == err)
			return t[i].name;
	return "EPROTO";
}

/* Puts @fd into @mh as SCM_RIGHTS (nothing if @fd < 0); @cbuf holds one int. */
static void attach_fd(struct msghdr *mh, char *cbuf, size_t len, int fd)
{
	struct cmsghdr *c;

	if (fd < 0)
		return;
	mh->msg_control = cbuf;
	mh->msg_controllen = len;
	c = CMSG_FIRSTHDR(mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
}

/* sd_notify() with an optional fd, without libsystemd. 1 sent, 0 no systemd. */
static int notify(const char *msg, int fd)
{
	const char *sock = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { (void *)msg, strlen(msg) };
	struct msghdr mh = { .msg_name = &sa, .msg_iov = &iov, .msg_iovlen = 1 };
	int s, r = 1;

	if (!sock || (sock[0] != '/' && sock[0] != '@') || strlen(sock) >= sizeof(sa.sun_path))
		return 0;
	memcpy(sa.sun_path, sock, strlen(sock));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = 0;
	mh.msg_namelen = offsetof(struct sockaddr_un, sun_path) + strlen(sock);
	attach_fd(&mh, cbuf, sizeof(cbuf), fd);
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (sendmsg(s, &mh, MSG_NOSIGNAL) < 0)
		r = -errno;
	close(s);
	return r;
}

static bool name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > LIVEUPDATE_AGENT_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static struct held *find_held(const char *kname, bool incoming)
{
	for (size_t i = 0; i < nheld; i++)
		if (held[i].incoming == incoming && !strcmp(held[i].kname, kname))
			return &held[i];
	return NULL;
}

static int add_held(const char *kname, uid_t uid, int fd, bool incoming)
{
	struct held *h = realloc(held, (nheld + 1) * sizeof(*held));

	if (!h)
		return -ENOMEM;
	held = h;
	snprintf(held[nheld].kname, sizeof(held[nheld].kname), "%s", kname);
	held[nheld].uid = uid;
	held[nheld].fd = fd;
	held[nheld].incoming = incoming;
	nheld++;
	return 0;
}

static void drop_held(struct held *h)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", h->kname);
	notify(msg, -1);
	close(h->fd);
	*h = held[--nheld];
}

static unsigned int count_outgoing(uid_t uid)
{
	unsigned int n = 0;

	for (size_t i = 0; i < nheld; i++)
		n += held[i].uid == uid && !held[i].incoming;
	return n;
}

/* Sends "OK..."/"ERR..." and, with OK, @fd. */
static void reply(int conn, int fd, const char *fmt, ...)
{
	char buf[512], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { buf, 0 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	iov.iov_len = strlen(buf);
	attach_fd(&mh, cbuf, sizeof(cbuf), fd);
	if (sendmsg(conn, &mh, MSG_NOSIGNAL) < 0)
		say("reply: %s", strerror(errno));
}

static void reply_err(int conn, int err, const char *what)
{
	reply(conn, -1, "ERR %s %s: %s", errno_name(err), what, strerror(err));
}

static void do_create(int conn, uid_t uid, const char *name, const char *kname)
{
	int dev, s, r;
	char msg[128];

	if (find_held(kname, false))
		return reply_err(conn, EEXIST, name);
	if (count_outgoing(uid) >= max_sessions)
		return reply(conn, -1, "ERR EDQUOT uid %u holds %u sessions, the limit",
			     (unsigned int)uid, max_sessions);
	dev = liveupdate_open(LIVEUPDATE_OPEN_WAIT);
	if (dev < 0)
		return reply_err(conn, -dev, LIVEUPDATE_DEVICE);
	s = liveupdate_create_session(dev, kname);
	close(dev);	/* never kept open between requests */
	if (s < 0)
		return reply_err(conn, -s, name);
	r = add_held(kname, uid, s, false);
	if (r < 0) {
		close(s);
		return reply_err(conn, -r, name);
	}
	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", kname);
	notify(msg, s);
	say("uid %u created %s", (unsigned int)uid, kname);
	reply(conn, s, "OK %s", name);
}

static void do_retrieve(int conn, uid_t uid, const char *name, const char *kname)
{
	struct held *h = find_held(kname, true);
	int dev, s;

	if (h) {	/* systemd gave it back after the kexec */
		reply(conn, h->fd, "OK %s", name);
		drop_held(h);
		return;
	}
	dev = liveupdate_open(LIVEUPDATE_OPEN_WAIT);
	if (dev < 0)
		return reply_err(conn, -dev, LIVEUPDATE_DEVICE);
	s = liveupdate_retrieve_session(dev, kname);
	close(dev);
	if (s < 0)
		return reply_err(conn, s == -EINVAL ? EBUSY : -s, name);
	say("uid %u retrieved %s", (unsigned int)uid, kname);
	reply(conn, s, "OK %s", name);
	close(s);
}

static void do_list(int conn, uid_t uid)
{
	char buf[480] = "OK";
	size_t len = 2;

	for (size_t i = 0; i < nheld; i++) {
		const char *shown = held[i].kname;

		if (uid != 0) {
			if (held[i].uid != uid)
				continue;
			shown = strchr(shown, '.') + 1;	/* the caller's own name */
		}
		if (len + strlen(shown) + 4 >= sizeof(buf))
			break;
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, " %s%s", shown,
					held[i].incoming ? "<" : ">");
	}
	reply(conn, -1, "%s", buf);
}

static void handle(int conn)
{
	struct timeval tv = { 5, 0 };
	char req[256], verb[16], name[LIVEUPDATE_AGENT_NAME_MAX + 2] = "";
	char kname[LIVEUPDATE_NAME_MAX + 1];
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	ssize_t n;
	int fields;

	/* a client that never sends must not stall the others */
	setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0)
		return;
	n = recv(conn, req, sizeof(req) - 1, 0);
	if (n <= 0)
		return;
	req[n] = 0;
	req[strcspn(req, "\n")] = 0;
	fields = sscanf(req, "LU1 %15s %49s", verb, name);
	if (fields < 1)
		return reply(conn, -1, "ERR EPROTO expected \"LU1 VERB [NAME]\"");
	if (!strcmp(verb, "PING"))
		return reply(conn, -1, "OK liveupdated 1");
	if (!strcmp(verb, "LIST"))
		return do_list(conn, cred.uid);
	if (fields < 2 || !name_ok(name))
		return reply(conn, -1, "ERR EINVAL a name is 1 to %d bytes of [A-Za-z0-9_-]",
			     LIVEUPDATE_AGENT_NAME_MAX);
	snprintf(kname, sizeof(kname), "u%u.%s", (unsigned int)cred.uid, name);
	if (!strcmp(verb, "CREATE"))
		return do_create(conn, cred.uid, name, kname);
	if (!strcmp(verb, "RETRIEVE"))
		return do_retrieve(conn, cred.uid, name, kname);
	if (!strcmp(verb, "RELEASE")) {
		struct held *h = find_held(kname, false);

		if (!h)
			return reply_err(conn, ENOENT, name);
		drop_held(h);
		return reply(conn, -1, "OK %s", name);
	}
	reply(conn, -1, "ERR EPROTO unknown verb %s", verb);
}

/* "u1000.db" -> uid 1000, or -1 if not one of ours. */
static long uid_of(const char *kname)
{
	char *end;
	long uid;

	if (kname[0] != 'u')
		return -1;
	uid = strtol(kname + 1, &end, 10);
	if (end == kname + 1 || *end != '.' || uid < 0 || !name_ok(end + 1))
		return -1;
	return uid;
}

/* Takes over the fds systemd passed: the socket and stored sessions. */
static int take_listen_fds(void)
{
	const char *pid = getenv("LISTEN_PID"), *nfds = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	int listener = -1, n;

	if (!pid || !nfds || atol(pid) != (long)getpid())
		return -1;
	n = atoi(nfds);
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i, acc = 0;
		socklen_t len = sizeof(acc);
		char kname[LIVEUPDATE_NAME_MAX + 1] = "";
		const char *p = names;

		fcntl(fd, F_SETFD, FD_CLOEXEC);
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) == 0 && acc) {
			listener = fd;
			continue;
		}
		/* the i-th name of LISTEN_FDNAMES */
		for (int k = 0; p && k < i; k++) {
			p = strchr(p, ':');
			if (p)
				p++;
		}
		if (p)
			snprintf(kname, sizeof(kname), "%.*s", (int)strcspn(p, ":"), p);
		if (uid_of(kname) < 0 || liveupdate_session_name(fd, kname) < 0) {
			say("ignoring passed fd %d (%s)", fd, kname[0] ? kname : "no name");
			close(fd);
			continue;
		}
		/* PRESERVE_FD of fd -1: EBADF on an outgoing session, EINVAL on an incoming one */
		add_held(kname, (uid_t)uid_of(kname), fd,
			 liveupdate_preserve_fd(fd, -1, 0) == -EINVAL);
		say("got %s back (%s)", kname, held[nheld - 1].incoming ? "incoming" : "outgoing");
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return listener;
}

static int make_listener(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path));
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	unlink(path);
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0666) < 0 ||
	    listen(s, 64) < 0) {
		int r = -errno;

		close(s);
		return r;
	}
	return s;
}

int main(int argc, char **argv)
{
	const char *path = getenv("LIVEUPDATED_SOCKET");
	int listener;

	if (!path || !*path)
		path = LIVEUPDATE_AGENT_SOCKET;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			path = argv[++i];
		} else if (!strcmp(argv[i], "--max-sessions") && i + 1 < argc) {
			max_sessions = (unsigned int)strtoul(argv[++i], NULL, 10);
		} else {
			fprintf(stderr, "usage: liveupdated [--socket PATH] [--max-sessions N]\n");
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	listener = take_listen_fds();
	if (listener < 0) {
		listener = make_listener(path);
		if (listener < 0) {
			say("cannot listen on %s: %s", path, strerror(-listener));
			return 1;
		}
	}
	say("ready on %s, %zu session(s) held, at most %u per uid", path, nheld, max_sessions);
	notify("READY=1", -1);
	for (;;) {
		int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);

		if (conn < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			say("accept: %s", strerror(errno));
			return 1;
		}
		handle(conn);
		close(conn);
	}
}
