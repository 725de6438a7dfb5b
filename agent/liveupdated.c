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
 * - Every session it creates stays open here and only here: the client
 *   never gets an outgoing session's fd. It passes each file to preserve
 *   (PRESERVE, the fd by SCM_RIGHTS) and the broker does PRESERVE_FD, so it
 *   sees the size of everything a uid preserves. Under systemd the session
 *   also goes to the service's fd store (FDSTORE=1, FDNAME=uU.NAME): with
 *   FileDescriptorStorePreserve=yes a broker restart loses nothing, and
 *   systemd 262 carries the sessions across the kexec and gives them back.
 * - Per uid at most --max-sessions held sessions and --max-bytes bytes of
 *   preserved files in them (EDQUOT). The byte counts of held sessions are
 *   kept in $RUNTIME_DIRECTORY/held, so that they survive a restart too.
 *
 * The protocol is docs/broker.md: one request per connection on a
 * SOCK_SEQPACKET socket, "LU1 VERB [NAME [TOKEN]]", answered "OK [...]"
 * (RETRIEVE with the session fd by SCM_RIGHTS), or "ERR ERRNO text".
 *
 * usage: liveupdated [--config FILE] [--socket PATH] [--max-sessions N] [--max-files N]
 *                    [--max-bytes SIZE] [--root-max-bytes SIZE]
 *        liveupdated --help | --version
 * Socket activation (LISTEN_FDS) is used when present. The limits can also be
 * set in /etc/liveupdate/liveupdated.conf (--config: another file), "KEY =
 * VALUE" lines read by common/conf.c; the command line wins over the file,
 * and a bad line stops the broker (exit 2) naming the file, line and key.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
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

#include <systemd/sd-login.h>

#include "libliveupdate.h"
#include "sd-notify.h"
#include "crash-point.h"
#include "fnv1a.h"
#include "args.h"
#include "conf.h"


/*
 * A held session. The list and every field are under @lock; a request that
 * uses @fd outside the lock (a PRESERVE_FD, which can wait on the client's
 * file) counts itself in @users, and a session released meanwhile is only
 * marked @gone: its fd is closed when the last user is done.
 */
struct held {
	struct held *next;
	char kname[LIVEUPDATE_NAME_MAX + 1];	/* "uUID.NAME" */
	uid_t uid;
	uid_t owner;		/* whose limits it counts against: owner_of() */
	int fd;			/* -1 while CREATE makes it */
	bool incoming;		/* handed back by systemd after a kexec */
	bool gone;		/* released, closed when @users drops to 0 */
	bool handing;		/* incoming: being handed out on a connection */
	unsigned int users;
	uint64_t bytes;		/* sizes of the files preserved through PRESERVE */
	unsigned int files;	/* files preserved through PRESERVE */
	uint64_t pending;	/* sizes (and FILE_COST each) of the PRESERVEs in flight */
	unsigned int pending_files;
};

/* Connections served at once, in all and per uid: a slow client takes one. */
#define MAX_CONNS	64
#define MAX_CONNS_UID	8

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* The device has one opener: the broker's own requests take turns. */
static pthread_mutex_t dev_lock = PTHREAD_MUTEX_INITIALIZER;
static struct held *held;
static struct { uid_t uid; unsigned int n; } conns[MAX_CONNS];
static unsigned int nconns;
static unsigned int max_sessions = 16;
static uint64_t max_bytes = 64ull << 20;	/* 0: no limit */
/* root could preserve through the device itself: no byte limit by default */
static uint64_t root_max_bytes;
static unsigned int max_files = 256;		/* per owner */
/*
 * What one preserved file costs on top of its size: an empty file is not
 * free (the module's per-file state, the handover's entry, the file and
 * inode it pins): a page.
 */
#define FILE_COST	4096u
static const char *subuid_path = "/etc/subuid";
static const char *passwd_path = "/etc/passwd";
static char state_path[4096];			/* "" without $RUNTIME_DIRECTORY */

/* A request's answer, sent after the lock is dropped; @fd goes with it. */
struct answer {
	char text[512];
	int fd;			/* closed after sending, -1 for none */
};

/* One line on stderr (the journal), in one write: threads do not interleave. */
static void say(const char *fmt, ...)
{
	char line[640];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	dprintf(2, "liveupdated: %.*s", n, line);
}

static const char *errno_name(int err)
{
	static const struct { int err; const char *name; } t[] = {
		{ EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { EINVAL, "EINVAL" },
		{ EEXIST, "EEXIST" }, { EDQUOT, "EDQUOT" }, { EBUSY, "EBUSY" },
		{ ENOSPC, "ENOSPC" }, { EACCES, "EACCES" }, { ENOMEM, "ENOMEM" },
		{ EMFILE, "EMFILE" }, { ENAMETOOLONG, "ENAMETOOLONG" }, { EIO, "EIO" },
		{ ENODEV, "ENODEV" }, { EBADF, "EBADF" }, { EAGAIN, "EAGAIN" },
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

/* Caller holds @lock. */
static struct held *find_held(const char *kname, bool incoming)
{
	for (struct held *h = held; h; h = h->next)
		if (!h->gone && h->incoming == incoming && !strcmp(h->kname, kname))
			return h;
	return NULL;
}

/* Caller holds @lock. */
static struct held *add_held(const char *kname, uid_t uid, int fd, bool incoming)
{
	struct held *h = calloc(1, sizeof(*h)), **p;

	if (!h)
		return NULL;
	snprintf(h->kname, sizeof(h->kname), "%s", kname);
	h->uid = uid;
	h->owner = uid;
	h->fd = fd;
	h->incoming = incoming;
	/* at the tail: LIST shows the sessions in the order they were made */
	for (p = &held; *p; p = &(*p)->next)
		;
	*p = h;
	return h;
}

/* Unlinks, closes and frees @h. Caller holds @lock. */
static void free_held(struct held *h)
{
	for (struct held **p = &held; *p; p = &(*p)->next) {
		if (*p == h) {
			*p = h->next;
			break;
		}
	}
	if (h->fd >= 0)
		close(h->fd);
	free(h);
}

/*
 * Writes "KNAME BYTES" per held outgoing session to the state file (a new
 * file renamed over the old one), so that a restarted broker knows how much
 * each uid holds. Under systemd only ($RUNTIME_DIRECTORY): without it the
 * sessions die with the broker anyway. Caller holds @lock.
 */
static void save_state(void)
{
	char tmp[sizeof(state_path) + 8];
	FILE *f;

	if (!state_path[0])
		return;
	snprintf(tmp, sizeof(tmp), "%s.new", state_path);
	f = fopen(tmp, "we");
	if (!f) {
		say("%s: %s", tmp, strerror(errno));
		return;
	}
	for (struct held *h = held; h; h = h->next)
		if (!h->gone && !h->incoming && h->fd >= 0)
			fprintf(f, "%s %" PRIu64 " %u %u\n", h->kname, h->bytes, h->files,
				(unsigned int)h->owner);
	if (fclose(f) != 0 || rename(tmp, state_path) < 0)
		say("%s: %s", state_path, strerror(errno));
}

/*
 * The byte count the state file has for @kname, or -1; *@files and *@owner
 * get its files and owner (left alone if the line has none).
 */
static int64_t saved_bytes(const char *kname, unsigned int *files, uid_t *owner)
{
	char line[160], name[LIVEUPDATE_NAME_MAX + 1];
	unsigned int nf, o;
	uint64_t bytes;
	int64_t r = -1;
	FILE *f;

	if (!state_path[0] || !(f = fopen(state_path, "re")))
		return -1;
	while (fgets(line, sizeof(line), f)) {
		int k = sscanf(line, "%63s %" SCNu64 " %u %u", name, &bytes, &nf, &o);

		if (k < 2 || strcmp(name, kname))
			continue;
		r = (int64_t)bytes;
		if (k == 4) {
			*files = nf;
			*owner = (uid_t)o;
		}
	}
	fclose(f);
	return r;
}

/* Releases @h: out of the fd store now, closed once unused. Caller holds @lock. */
static void drop_held(struct held *h)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", h->kname);
	lu_notify(msg, -1);
	h->gone = true;
	if (!h->users)
		free_held(h);
	save_state();
}

/* A request is done with @h's fd. Caller holds @lock. */
static void put_held(struct held *h)
{
	if (!--h->users && h->gone)
		free_held(h);
}

/* Outgoing sessions held for @owner. Caller holds @lock. */
static unsigned int count_outgoing(uid_t owner)
{
	unsigned int n = 0;

	for (struct held *h = held; h; h = h->next)
		n += !h->gone && h->owner == owner && !h->incoming;
	return n;
}

/*
 * Bytes held and being preserved for @owner, FILE_COST per file included.
 * Caller holds @lock.
 */
static uint64_t bytes_of(uid_t owner)
{
	uint64_t n = 0;

	for (struct held *h = held; h; h = h->next)
		if (!h->gone && h->owner == owner && !h->incoming)
			n += h->bytes + (uint64_t)h->files * FILE_COST + h->pending;
	return n;
}

/* Files held and being preserved for @owner. Caller holds @lock. */
static unsigned int files_of(uid_t owner)
{
	unsigned int n = 0;

	for (struct held *h = held; h; h = h->next)
		if (!h->gone && h->owner == owner && !h->incoming)
			n += h->files + h->pending_files;
	return n;
}

/* The uid of user @name from /etc/passwd (no NSS: static builds), or -1. */
static long passwd_uid(const char *name)
{
	char line[512];
	long r = -1;
	FILE *f = fopen(passwd_path, "re");

	if (!f)
		return -1;
	while (r < 0 && fgets(line, sizeof(line), f)) {
		char *u = strchr(line, ':'), *p, *end;

		if (!u || (size_t)(u - line) != strlen(name) || strncmp(line, name, strlen(name)))
			continue;
		p = strchr(u + 1, ':');
		if (!p)
			continue;
		r = strtol(p + 1, &end, 10);
		if (end == p + 1 || *end != ':')
			r = -1;
	}
	fclose(f);
	return r;
}

/*
 * Whose limits a client of @uid (process @pid) counts against:
 *  - root is root;
 *  - a uid in a subordinate range of /etc/subuid ("OWNER:START:COUNT",
 *    OWNER a name or a uid) counts against OWNER: the 65536 uids of a
 *    rootless container are one user, not 65536;
 *  - else a process of a login session (its /proc/PID/loginuid set, not
 *    root's) counts against the login user, whatever uid it runs as;
 *  - else the uid itself (a system service).
 */
static uid_t owner_of(uid_t uid, pid_t pid)
{
	char line[512], path[64];
	unsigned long start, count, lu;
	FILE *f;

	if (uid == 0)
		return 0;
	f = fopen(subuid_path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		char who[256], *end;
		long o;

		if (sscanf(line, "%255[^:\n]:%lu:%lu", who, &start, &count) != 3 ||
		    uid < start || uid - start >= count)
			continue;
		o = strtol(who, &end, 10);
		if (end == who || *end)
			o = passwd_uid(who);
		if (o >= 0) {
			fclose(f);
			return (uid_t)o;
		}
	}
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/loginuid", (int)pid);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%lu", &lu) == 1 && lu != 0 && lu < (unsigned long)(uid_t)-1) {
			fclose(f);
			return (uid_t)lu;
		}
		fclose(f);
	}
	return uid;
}

static void answer(struct answer *a, int fd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->text, sizeof(a->text), fmt, ap);
	va_end(ap);
	a->fd = fd;
}

static void answer_err(struct answer *a, int err, const char *what)
{
	answer(a, -1, "ERR %s %s: %s", errno_name(err), what, strerror(err));
}

/* Sends "OK..."/"ERR..." and, with it, @fd (if >= 0). */
static void reply(int conn, int fd, const char *text)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { (void *)text, strlen(text) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	attach_fd(&mh, cbuf, sizeof(cbuf), fd);
	if (sendmsg(conn, &mh, MSG_NOSIGNAL) < 0)
		say("reply: %s", strerror(errno));
}

/*
 * Whose sessions a client's are (docs/broker.md, "Names"), as the prefix of
 * its kernel names, into @key (at least 16 bytes): a process of a system
 * service (its unit, libsystemd's sd_pid_get_unit(), a *.service, and not
 * in a user's slice: sd_pid_get_owner_uid() fails) is bound to that unit:
 * "s" and 12 hex digits of a hash (FNV-1a, 48 bits) of the unit name, the
 * same in every boot, whatever uid the unit runs as (a DynamicUser= uid, a
 * recycled one). Anyone else (a login session, a user's own services, a
 * scope, no systemd) is bound to the uid: "u" and the uid. @unit gets the
 * unit name or "" (for the log).
 */
static void key_of(uid_t uid, pid_t pid, char *key, size_t len, char *unit, size_t ulen)
{
	char *u = NULL;
	uid_t owner;
	size_t n;

	snprintf(key, len, "u%u", (unsigned int)uid);
	unit[0] = 0;
	/* user-UID.slice: a login session, user@UID.service and its services */
	if (sd_pid_get_owner_uid(pid, &owner) >= 0 || sd_pid_get_unit(pid, &u) < 0)
		return;
	n = strlen(u);
	if (n > 8 && !strcmp(u + n - 8, ".service")) {
		uint64_t hash = lu_fnv1a64(LU_FNV1A64_START, u, n);

		snprintf(key, len, "s%012" PRIx64, (uint64_t)(hash & 0xffffffffffffull));
		snprintf(unit, ulen, "%s", u);
	}
	free(u);
}

/* The device, opened for one request (the broker's requests take turns). */
static int open_device(void)
{
	int dev;

	pthread_mutex_lock(&dev_lock);
	dev = liveupdate_open(LIVEUPDATE_OPEN_WAIT);
	if (dev < 0)
		pthread_mutex_unlock(&dev_lock);
	return dev;
}

static void close_device(int dev)
{
	close(dev);
	pthread_mutex_unlock(&dev_lock);
}

/*
 * A new session held here. The name is taken (a placeholder with fd -1)
 * before the device is asked, so that two CREATEs of one name cannot both
 * succeed and the session limit counts it.
 */
static void do_create(struct answer *a, uid_t uid, uid_t owner, const char *name,
		      const char *kname)
{
	struct held *h;
	char msg[128];
	int dev, s;

	pthread_mutex_lock(&lock);
	if (find_held(kname, false)) {
		pthread_mutex_unlock(&lock);
		return answer_err(a, EEXIST, name);
	}
	if (count_outgoing(owner) >= max_sessions) {
		pthread_mutex_unlock(&lock);
		return answer(a, -1, "ERR EDQUOT uid %u holds %u sessions, the limit",
			      (unsigned int)owner, max_sessions);
	}
	h = add_held(kname, uid, -1, false);
	if (h) {
		h->users = 1;
		h->owner = owner;
	}
	pthread_mutex_unlock(&lock);
	if (!h)
		return answer_err(a, ENOMEM, name);
	dev = open_device();
	s = dev < 0 ? dev : liveupdate_create_session(dev, kname);
	if (dev >= 0)
		close_device(dev);	/* never kept open between requests */
	pthread_mutex_lock(&lock);
	if (s >= 0 && h->gone) {	/* released while being made */
		close(s);
		s = -ENOENT;
	}
	if (s < 0) {
		h->gone = true;
		put_held(h);
		pthread_mutex_unlock(&lock);
		return answer_err(a, -s, dev < 0 ? LIVEUPDATE_DEVICE : name);
	}
	h->fd = s;
	h->users--;
	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", kname);
	lu_notify(msg, s);
	save_state();
	pthread_mutex_unlock(&lock);
	say("uid %u created %s", (unsigned int)uid, kname);
	answer(a, -1, "OK %s", name);	/* the session fd stays here */
}

/*
 * PRESERVE_FD of the client's @fd in its held session (docs/broker.md,
 * "Limits" and "The broker's PRESERVE"). Counted against the owner's
 * --max-bytes and --max-files: the file's size plus FILE_COST, reserved as
 * pending before the PRESERVE_FD (which runs without the lock: the client's
 * file can make it wait, and only this request waits).
 *
 * The size that counts is the one PRESERVE_FD froze (the module refuses any
 * size change of a preserved memfd), read after it: the client still holds
 * a writable fd and can grow the file between the check and the preserve.
 * If it did and the owner is now past its limit, the preserve has to be
 * undone, and there is no undoing one file: upstream's uAPI has no
 * unpreserve, a file preserved in one session cannot be preserved in
 * another (EBUSY), and unpreserving it to move it unfreezes its size again.
 * So the broker releases that whole session (every file in it unpreserved)
 * and answers EDQUOT: only the client that raced its own file loses, only
 * its own session, and nothing past the limit stays preserved.
 *
 * Invariant: a crash at any step leaves the file either preserved in the
 * session (counted, or counted once the state is saved; a restart reads the
 * state file) or not preserved and still the client's: never half.
 */
static void do_preserve(struct answer *a, uid_t uid, uid_t owner, const char *name,
			const char *kname, const char *tok, int fd)
{
	uint64_t token, have, size, after, reserved, total, limit;
	bool grew_over = false;
	char who[64] = "";
	struct held *h;
	struct stat st;
	char *end;
	int r;

	lu_crash_point("preserve:request");
	errno = 0;
	token = strtoull(tok, &end, 0);
	if (!*tok || *end || errno || tok[0] == '-')
		return answer(a, -1, "ERR EINVAL a token is a number (decimal or 0x hex)");
	if (fd < 0)
		return answer(a, -1, "ERR EBADF PRESERVE needs the file's fd (SCM_RIGHTS)");
	/*
	 * Only shmem files (memfds, O_TMPFILE tmpfs files) answer F_GET_SEALS:
	 * asked first, it keeps the broker from an fstat() that a FUSE file
	 * could stall.
	 */
	if (fcntl(fd, F_GET_SEALS) < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return answer(a, -1, "ERR EINVAL not a memfd (a shmem file)");
	size = (uint64_t)st.st_size;
	if (owner != uid)
		snprintf(who, sizeof(who), " (for uid %u)", (unsigned int)uid);
	pthread_mutex_lock(&lock);
	h = find_held(kname, false);
	if (!h || h->fd < 0) {
		pthread_mutex_unlock(&lock);
		return answer_err(a, h ? EBUSY : ENOENT, name);
	}
	if (files_of(owner) >= max_files) {
		pthread_mutex_unlock(&lock);
		return answer(a, -1, "ERR EDQUOT uid %u%s holds %u files, the limit",
			      (unsigned int)owner, who, max_files);
	}
	have = bytes_of(owner);
	reserved = size > UINT64_MAX - FILE_COST ? UINT64_MAX : size + FILE_COST;
	limit = owner == 0 ? root_max_bytes : max_bytes;
	if (limit && reserved > limit - (have < limit ? have : limit)) {
		pthread_mutex_unlock(&lock);
		return answer(a, -1, "ERR EDQUOT uid %u%s would hold %" PRIu64
			      " bytes, the limit is %" PRIu64, (unsigned int)owner, who,
			      have + reserved, limit);
	}
	h->pending += reserved;
	h->pending_files++;
	h->users++;
	pthread_mutex_unlock(&lock);
	lu_crash_point("preserve:reserved");

	r = liveupdate_preserve_fd(h->fd, token, fd);
	lu_crash_point("preserve:preserved");
	after = size;
	if (r == 0 && fstat(fd, &st) == 0)	/* frozen now */
		after = (uint64_t)st.st_size;

	pthread_mutex_lock(&lock);
	h->pending -= reserved;
	h->pending_files--;
	if (r == 0 && !h->gone) {
		have = bytes_of(owner);
		if (after > size && limit &&
		    (have >= limit || after + FILE_COST > limit - have)) {
			grew_over = true;	/* no unpreserve: the session goes */
			total = have + after + FILE_COST;
			drop_held(h);
		} else {
			h->bytes += after;
			h->files++;
			save_state();
		}
	}
	if (!grew_over)
		total = bytes_of(owner);
	put_held(h);
	pthread_mutex_unlock(&lock);
	lu_crash_point("preserve:counted");
	if (r < 0)
		return answer_err(a, -r, name);
	if (grew_over) {
		say("uid %u%s: a file grew from %" PRIu64 " to %" PRIu64
		    " bytes during PRESERVE, past the limit: %s released", (unsigned int)owner,
		    who, size, after, kname);
		return answer(a, -1, "ERR EDQUOT uid %u%s would hold %" PRIu64
			      " bytes, the limit is %" PRIu64 ": the file grew during PRESERVE,"
			      " session %s released", (unsigned int)owner, who, total, limit,
			      name);
	}
	say("uid %u%s preserved %" PRIu64 " bytes in %s under %" PRIu64 " (%" PRIu64 " in all)",
	    (unsigned int)owner, who, after, kname, token, total);
	answer(a, -1, "OK %s %" PRIu64, name, token);
}

/*
 * RETRIEVE, with the client's confirmation (docs/broker.md, "The broker's
 * RETRIEVE"). Invariant: after a crash of the broker or the client at any
 * step, the session is either still held here (retrievable again) or in the
 * client's hands after it confirmed, never neither. So:
 *   1. the incoming session becomes a held one of ours first (from systemd's
 *      hand-back, or retrieved from the device and put in the fd store at
 *      once), marked as being handed out: another RETRIEVE of it on another
 *      connection gets EBUSY, not a second copy; other sessions' RETRIEVEs
 *      go on (the wait is this session's only);
 *   2. "OK NAME" goes out with a copy of the fd; ours stays;
 *   3. the client answers on the same connection: "LU1 HAVE" (it holds the
 *      fd: ours is closed, out of the fd store, and only then "OK", so that
 *      a client that finishes and closes it and asks again finds it gone:
 *      ENOENT, not EBUSY) or "LU1 KEEP" (given back: ours stays); a
 *      connection that ends without either (a client killed, timed out, or
 *      whose fd table was full: MSG_CTRUNC) leaves it here as well.
 * The confirmation is waited for without a timeout: the connection is the
 * client's for as long as it lives (a client delivering files takes its
 * time), and only this session waits on it.
 */
static void do_retrieve(int conn, uid_t uid, const char *name, const char *kname)
{
	char msg[128], buf[64], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { msg, 0 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct timeval forever = { 0, 0 };
	struct answer a = { "", -1 };
	bool have = false, keep = false;
	struct held *h;
	ssize_t n = 0;
	int dev, s;

	lu_crash_point("retrieve:request");
	pthread_mutex_lock(&lock);
	h = find_held(kname, true);
	if (h && h->handing) {
		pthread_mutex_unlock(&lock);
		answer(&a, -1, "ERR EBUSY %s is being handed out on another connection", name);
		return reply(conn, -1, a.text);
	}
	if (!h) {	/* not handed back by systemd: from the device, claimed first */
		h = add_held(kname, uid, -1, true);
		if (!h) {
			pthread_mutex_unlock(&lock);
			answer_err(&a, ENOMEM, name);
			return reply(conn, -1, a.text);
		}
	}
	h->handing = true;
	h->users++;
	pthread_mutex_unlock(&lock);

	if (h->fd < 0) {
		dev = open_device();
		s = dev < 0 ? dev : liveupdate_retrieve_session(dev, kname);
		if (dev >= 0)
			close_device(dev);
		lu_crash_point("retrieve:from-device");
		pthread_mutex_lock(&lock);
		if (s < 0) {
			h->gone = true;
			put_held(h);
			pthread_mutex_unlock(&lock);
			if (dev < 0)
				answer_err(&a, -dev, LIVEUPDATE_DEVICE);
			else
				answer_err(&a, s == -EINVAL ? EBUSY : -s, name);
			return reply(conn, -1, a.text);
		}
		h->fd = s;
		/* in the fd store before it goes anywhere: a broker restart keeps it */
		snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", kname);
		lu_notify(msg, s);
		pthread_mutex_unlock(&lock);
		say("uid %u retrieved %s from the device", (unsigned int)uid, kname);
		lu_crash_point("retrieve:stored");
	}

	/* 2. the session goes out; our copy stays */
	iov.iov_len = (size_t)snprintf(msg, sizeof(msg), "OK %s", name);
	attach_fd(&mh, cbuf, sizeof(cbuf), h->fd);
	if (sendmsg(conn, &mh, MSG_NOSIGNAL) < 0) {
		say("uid %u: %s not sent (%s): kept", (unsigned int)uid, kname, strerror(errno));
	} else {
		lu_crash_point("retrieve:sent");
		/* 3. the client's word, for as long as the connection lives */
		setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &forever, sizeof(forever));
		do {
			n = recv(conn, buf, sizeof(buf) - 1, 0);
		} while (n < 0 && errno == EINTR);
		if (n > 0) {
			buf[n] = 0;
			buf[strcspn(buf, "\n")] = 0;
			have = !strcmp(buf, "LU1 HAVE");
			keep = !strcmp(buf, "LU1 KEEP");
		}
		lu_crash_point("retrieve:answered");
	}

	pthread_mutex_lock(&lock);
	h->handing = false;
	if (have) {	/* the client holds it: ours goes, before the "OK" */
		snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", h->kname);
		lu_notify(msg, -1);
		h->gone = true;
	}
	put_held(h);
	pthread_mutex_unlock(&lock);
	if (have) {
		lu_crash_point("retrieve:dropped");
		say("uid %u took %s", (unsigned int)uid, kname);
		return reply(conn, -1, "OK");
	}
	say("uid %u left %s here (%s)", (unsigned int)uid, kname,
	    keep ? "given back" : "no confirmation");
	if (keep)
		reply(conn, -1, "OK");
	else if (n > 0)
		reply(conn, -1, "ERR EPROTO expected \"LU1 HAVE\" or \"LU1 KEEP\"");
}

static void do_list(struct answer *a, uid_t uid, const char *key)
{
	size_t len = 2, klen = strlen(key);

	strcpy(a->text, "OK");
	a->fd = -1;
	pthread_mutex_lock(&lock);
	for (struct held *h = held; h; h = h->next) {
		const char *shown = h->kname;

		if (h->gone || h->fd < 0)
			continue;
		if (uid != 0) {
			if (strncmp(h->kname, key, klen) || h->kname[klen] != '.')
				continue;
			shown = strchr(shown, '.') + 1;	/* the caller's own name */
		}
		if (len + strlen(shown) + 4 >= 480)
			break;
		len += (size_t)snprintf(a->text + len, sizeof(a->text) - len, " %s%s", shown,
					h->incoming ? "<" : ">");
	}
	pthread_mutex_unlock(&lock);
}

static void do_release(struct answer *a, const char *name, const char *kname)
{
	struct held *h;

	pthread_mutex_lock(&lock);
	h = find_held(kname, false);
	if (h)
		drop_held(h);
	pthread_mutex_unlock(&lock);
	if (!h)
		return answer_err(a, ENOENT, name);
	answer(a, -1, "OK %s", name);
}

static void handle_request(int conn, struct answer *a, const struct ucred *c, const char *req,
			   int fd)
{
	char verb[16], name[LIVEUPDATE_AGENT_NAME_MAX + 2] = "", tok[32] = "";
	char kname[LIVEUPDATE_NAME_MAX + 1], key[16], unit[256];
	int fields;

	fields = sscanf(req, "LU1 %15s %49s %31s", verb, name, tok);
	if (fields < 1)
		return answer(a, -1, "ERR EPROTO expected \"LU1 VERB [NAME [TOKEN]]\"");
	if (!strcmp(verb, "PING"))
		return answer(a, -1, "OK liveupdated 1");
	key_of(c->uid, c->pid, key, sizeof(key), unit, sizeof(unit));
	if (!strcmp(verb, "LIST"))
		return do_list(a, c->uid, key);
	if (fields < 2 || !name_ok(name))
		return answer(a, -1, "ERR EINVAL a name is 1 to %d bytes of [A-Za-z0-9_-]",
			      LIVEUPDATE_AGENT_NAME_MAX);
	snprintf(kname, sizeof(kname), "%s.%s", key, name);
	if (unit[0] && (!strcmp(verb, "CREATE") || !strcmp(verb, "RETRIEVE")))
		say("uid %u of %s: %s is %s", (unsigned int)c->uid, unit, name, kname);
	if (!strcmp(verb, "CREATE"))
		return do_create(a, c->uid, owner_of(c->uid, c->pid), name, kname);
	if (!strcmp(verb, "RETRIEVE")) {
		do_retrieve(conn, c->uid, name, kname);	/* it talks to @conn itself */
		a->text[0] = 0;
		return;
	}
	if (!strcmp(verb, "PRESERVE"))
		return do_preserve(a, c->uid, owner_of(c->uid, c->pid), name, kname, tok, fd);
	if (!strcmp(verb, "RELEASE"))
		return do_release(a, name, kname);
	answer(a, -1, "ERR EPROTO unknown verb %s", verb);
}

/* One connection: one request, one answer. */
static void handle(int conn, const struct ucred *cred)
{
	struct timeval tv = { 5, 0 };
	char req[256];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} cbuf;
	struct iovec iov = { req, sizeof(req) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf) };
	struct answer a = { "", -1 };
	ssize_t n;
	int fd = -1;

	/* a client that never sends, or never reads, is dropped after 5 s */
	setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return;
	/* the first fd passed is the request's (PRESERVE); others are closed */
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t k = 0; k < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); k++) {
			int f;

			memcpy(&f, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
			if (fd < 0)
				fd = f;
			else
				close(f);
		}
	}
	req[n] = 0;
	req[strcspn(req, "\n")] = 0;
	handle_request(conn, &a, cred, req, fd);
	if (fd >= 0)
		close(fd);
	if (a.text[0])
		reply(conn, a.fd, a.text);
	if (a.fd >= 0)
		close(a.fd);
}

/* Counts a connection of @uid in; false if it is one too many. */
static bool conn_enter(uid_t uid)
{
	unsigned int i, free_slot = MAX_CONNS;
	bool ok = false;

	pthread_mutex_lock(&lock);
	for (i = 0; i < MAX_CONNS; i++) {
		if (conns[i].n && conns[i].uid == uid)
			break;
		if (!conns[i].n && free_slot == MAX_CONNS)
			free_slot = i;
	}
	if (i == MAX_CONNS)
		i = free_slot;
	if (nconns < MAX_CONNS && i < MAX_CONNS && conns[i].n < MAX_CONNS_UID) {
		conns[i].uid = uid;
		conns[i].n++;
		nconns++;
		ok = true;
	}
	pthread_mutex_unlock(&lock);
	return ok;
}

static void conn_leave(uid_t uid)
{
	pthread_mutex_lock(&lock);
	for (unsigned int i = 0; i < MAX_CONNS; i++) {
		if (conns[i].n && conns[i].uid == uid) {
			conns[i].n--;
			nconns--;
			break;
		}
	}
	pthread_mutex_unlock(&lock);
}

struct conn {
	int fd;
	struct ucred cred;
};

/*
 * STATUS= for "systemctl status liveupdated": what the broker holds now
 * (outgoing: the files preserved through it, counted as the limits count
 * them; incoming: handed back after a kexec, not yet retrieved).
 */
static void notify_status(void)
{
	unsigned int out = 0, in = 0, files = 0;
	uint64_t bytes = 0;
	char msg[192];

	pthread_mutex_lock(&lock);
	for (struct held *h = held; h; h = h->next) {
		if (h->gone || h->fd < 0)
			continue;
		if (h->incoming) {
			in++;
		} else {
			out++;
			files += h->files;
			bytes += h->bytes;
		}
	}
	pthread_mutex_unlock(&lock);
	snprintf(msg, sizeof(msg), "STATUS=holding %u outgoing session(s) with %u file(s), "
		 "%" PRIu64 " bytes; %u incoming", out, files, bytes, in);
	lu_notify(msg, -1);
}

static void *conn_thread(void *arg)
{
	struct conn *c = arg;

	handle(c->fd, &c->cred);
	notify_status();
	close(c->fd);
	conn_leave(c->cred.uid);
	free(c);
	return NULL;
}

/*
 * Serves @fd in a thread of its own, so that a client that is slow to send,
 * or whose file makes PRESERVE_FD wait, holds up only itself: at most
 * MAX_CONNS at once, MAX_CONNS_UID of one uid (the others get EAGAIN).
 */
static void serve(int fd)
{
	struct conn *c = malloc(sizeof(*c));
	socklen_t clen = sizeof(c->cred);
	pthread_attr_t attr;
	pthread_t t;
	int r = -1;

	if (!c || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &clen) < 0) {
		free(c);
		close(fd);
		return;
	}
	c->fd = fd;
	if (!conn_enter(c->cred.uid)) {
		send(fd, "ERR EAGAIN too many connections", 31, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		free(c);
		return;
	}
	if (pthread_attr_init(&attr) == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, 256 << 10);
		r = pthread_create(&t, &attr, conn_thread, c);
		pthread_attr_destroy(&attr);
	}
	if (r != 0) {
		send(fd, "ERR EAGAIN no thread", 20, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		conn_leave(c->cred.uid);
		free(c);
	}
}

/* Sessions held (at start-up, before any thread). */
static unsigned int count_held(void)
{
	unsigned int n = 0;

	for (struct held *h = held; h; h = h->next)
		n++;
	return n;
}

/*
 * "u1000.db" -> uid 1000; "s0123456789ab.db" (a unit's) -> -2 (no uid);
 * -1 if not one of ours.
 */
static long uid_of(const char *kname)
{
	char *end;
	long uid;

	if (kname[0] == 's') {
		for (int i = 1; i <= 12; i++)
			if (!strchr("0123456789abcdef", kname[i]) || !kname[i])
				return -1;
		return kname[13] == '.' && name_ok(kname + 14) ? -2 : -1;
	}
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
	char **names;
	int listener = -1, n = lu_listen_fds(&names);

	if (!n)
		return -1;
	for (int i = 0; i < n; i++) {
		int fd = LU_LISTEN_FDS_START + i, acc = 0;
		socklen_t len = sizeof(acc);
		char kname[LIVEUPDATE_NAME_MAX + 1];
		struct held *h;
		int64_t b;

		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) == 0 && acc) {
			listener = fd;
			continue;
		}
		snprintf(kname, sizeof(kname), "%s", names[i]);
		if (uid_of(kname) == -1 || liveupdate_session_name(fd, kname) < 0) {
			say("ignoring passed fd %d (%s)", fd, kname[0] ? kname : "no name");
			close(fd);
			continue;
		}
		/* PRESERVE_FD of fd -1: EBADF on an outgoing session, EINVAL on an incoming one */
		/* a unit's session: its owner comes from the state file */
		h = add_held(kname, uid_of(kname) >= 0 ? (uid_t)uid_of(kname) : (uid_t)-1, fd,
			     liveupdate_preserve_fd(fd, 0, -1) == -EINVAL);
		if (!h) {
			close(fd);
			continue;
		}
		if (h->incoming) {
			say("got %s back (incoming)", kname);
			continue;
		}
		/* an outgoing session again (a restart): what it holds, from the state file */
		h->owner = h->uid;
		b = saved_bytes(kname, &h->files, &h->owner);
		h->bytes = b > 0 ? (uint64_t)b : 0;
		if (b < 0)
			say("got %s back (outgoing, bytes unknown: counted as 0)", kname);
		else
			say("got %s back (outgoing, %" PRIu64 " bytes)", kname, h->bytes);
	}
	lu_listen_names_free(names);
	save_state();
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

/* The limits, read before the command line's are applied (liveupdated(8)). */
#define CONFIG_PATH "/etc/liveupdate/liveupdated.conf"

/* The configuration file's keys: each is also an option (--KEY). */
enum { KEY_SESSIONS, KEY_FILES, KEY_BYTES, KEY_ROOT_BYTES, NKEYS };
static const char *const conf_keys[NKEYS] = {
	"max-sessions", "max-files", "max-bytes", "root-max-bytes",
};

struct conf_state {
	unsigned int cli;		/* 1 << KEY_*: set on the command line */
	unsigned int line[NKEYS];	/* where the file set it (0: not yet) */
};

/* lu_conf_fn for liveupdated.conf: the same rules as the options. */
static int conf_setting(void *ctx, const char *key, const char *val, unsigned int line,
			char *err, size_t len)
{
	struct conf_state *st = ctx;
	unsigned long n = 0;
	uint64_t b = 0;
	int k, r;

	for (k = 0; k < NKEYS && strcmp(key, conf_keys[k]); k++)
		;
	if (k == NKEYS) {
		snprintf(err, len, "unknown key \"%s\" (max-sessions, max-files, max-bytes, "
			 "root-max-bytes)", key);
		return -EINVAL;
	}
	if (st->line[k]) {
		snprintf(err, len, "%s: set again (first on line %u)", key, st->line[k]);
		return -EINVAL;
	}
	st->line[k] = line;
	if (k == KEY_SESSIONS || k == KEY_FILES) {
		r = lu_parse_uint(val, UINT_MAX, &n);
		if (r) {
			snprintf(err, len, "%s: \"%s\" is not a %s", key, val,
				 r == -ERANGE ? "count up to 4294967295" : "number");
			return r;
		}
	} else {
		r = lu_parse_size(val, &b);
		if (r) {
			snprintf(err, len, "%s: \"%s\" is not a size%s", key, val,
				 r == -ERANGE ? " up to 2^64-1" : "");
			return r;
		}
	}
	if (st->cli & (1u << k))
		return 0;
	switch (k) {
	case KEY_SESSIONS:
		max_sessions = (unsigned int)n;
		break;
	case KEY_FILES:
		max_files = (unsigned int)n;
		break;
	case KEY_BYTES:
		max_bytes = b;
		break;
	default:
		root_max_bytes = b;
		break;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: liveupdated [--config FILE] [--socket PATH] [--max-sessions N] "
		"[--max-files N]\n"
		"                   [--max-bytes SIZE] [--root-max-bytes SIZE]\n"
		"       liveupdated --help | --version\n"
		"SIZE: bytes, or with K, M, G or T (powers of 1024); 0 for no byte limit\n"
		"(--root-max-bytes, root's own: 0 by default). FILE: the limits as KEY = VALUE\n"
		"lines (" CONFIG_PATH " if it exists); options win over it.\n");
}

/* A usage error: says which word was wrong, exit 2. */
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("liveupdated: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr);
	return 2;
}

/* --max-sessions and --max-files: counts up to UINT_MAX. */
static int parse_count(const char *opt, const char *arg, unsigned int *v)
{
	unsigned long n;
	int r = lu_parse_uint(arg, UINT_MAX, &n);

	if (r)
		return usage_error("%s: \"%s\" is not a %s", opt, arg,
				   r == -ERANGE ? "count up to 4294967295" : "number");
	*v = (unsigned int)n;
	return 0;
}

/* --max-bytes and --root-max-bytes: sizes (common/args.c's rules). */
static int parse_bytes(const char *opt, const char *arg, uint64_t *v)
{
	int r = lu_parse_size(arg, v);

	if (r)
		return usage_error("%s: \"%s\" is not a size%s", opt, arg,
				   r == -ERANGE ? " up to 2^64-1" : "");
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = getenv("LIVEUPDATED_SOCKET"), *rt = getenv("RUNTIME_DIRECTORY");
	const char *config = NULL;
	struct conf_state conf = { 0 };
	char err[640];
	int listener;

	if (!path || !*path)
		path = LIVEUPDATE_AGENT_SOCKET;
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "max-sessions", required_argument, NULL, 'S' },
		{ "max-files", required_argument, NULL, 'F' },
		{ "max-bytes", required_argument, NULL, 'B' },
		{ "root-max-bytes", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{}
	};
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 's':
			path = optarg;
			break;
		case 'S':
			if ((r = parse_count("--max-sessions", optarg, &max_sessions)))
				return r;
			conf.cli |= 1u << KEY_SESSIONS;
			break;
		case 'F':
			if ((r = parse_count("--max-files", optarg, &max_files)))
				return r;
			conf.cli |= 1u << KEY_FILES;
			break;
		case 'B':
			if ((r = parse_bytes("--max-bytes", optarg, &max_bytes)))
				return r;
			conf.cli |= 1u << KEY_BYTES;
			break;
		case 'R':
			if ((r = parse_bytes("--root-max-bytes", optarg, &root_max_bytes)))
				return r;
			conf.cli |= 1u << KEY_ROOT_BYTES;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("liveupdated %s\n", LU_VERSION);
			return 0;
		case ':':
			return usage_error("option %s needs a value", argv[optind - 1]);
		default:
			if (optopt)
				return usage_error("unknown option -%c", optopt);
			return usage_error("unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument \"%s\"", argv[optind]);
	/* the default file may be absent (the built-in limits); a named one not */
	r = lu_conf_read(config ? config : CONFIG_PATH, conf_setting, &conf, err, sizeof(err));
	if (r && !(r == -ENOENT && !config)) {
		fprintf(stderr, "liveupdated: %s\n", err);
		return 2;
	}
	/* systemd's RuntimeDirectory= (a list: the first one) */
	if (rt && *rt)
		snprintf(state_path, sizeof(state_path), "%.*s/held", (int)strcspn(rt, ":"), rt);
	signal(SIGPIPE, SIG_IGN);
	listener = take_listen_fds();
	if (listener < 0) {
		listener = make_listener(path);
		if (listener < 0) {
			say("cannot listen on %s: %s", path, strerror(-listener));
			return 1;
		}
	}
	{
		char ub[32] = "no byte limit", rb[32] = "no byte limit";

		if (max_bytes)
			snprintf(ub, sizeof(ub), "%" PRIu64 " bytes", max_bytes);
		if (root_max_bytes)
			snprintf(rb, sizeof(rb), "%" PRIu64 " bytes", root_max_bytes);
		say("ready on %s, %u session(s) held, at most %u sessions, %u files and %s per "
		    "user, root %s%s%s", path, count_held(), max_sessions, max_files, ub, rb,
		    config || r == 0 ? ", limits from " : "",
		    config || r == 0 ? (config ? config : CONFIG_PATH) : "");
	}
	lu_notify("READY=1", -1);
	notify_status();
	for (;;) {
		int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);

		if (conn < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			say("accept: %s", strerror(errno));
			return 1;
		}
		serve(conn);
	}
}
