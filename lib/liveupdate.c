// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libliveupdate: thin, -errno returning wrappers around the /dev/liveupdate
 * ioctls (upstream Linux 7.2 uAPI), plus helpers for sealed memfds and the
 * token-0 manifest. See libliveupdate.h and liveupdate(3).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "libliveupdate.h"
#include "crash-point.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/liveupdate.h>

#define LU_EXPORT __attribute__((visibility("default")))

/* free() on scope exit, systemd's _cleanup_free_ */
static inline void lu_freep(void *p)
{
	free(*(void **)p);
}

#define _cleanup_free_ __attribute__((cleanup(lu_freep)))

/* close() on scope exit unless the fd was handed out (set to -1) */
static inline void lu_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;

		close(*fd);
		errno = saved;
	}
}

#define _cleanup_close_ __attribute__((cleanup(lu_closep)))

/*
 * The header promises that errno is left alone: every exported function
 * starts with LU_KEEP_ERRNO, which restores errno as the function returns
 * (after the return value, which may read it, has been computed).
 */
static inline void lu_errno_restore(const int *saved)
{
	errno = *saved;
}

#define LU_KEEP_ERRNO \
	const int _lu_saved_errno __attribute__((cleanup(lu_errno_restore), unused)) = errno

static int lu_take_fd(int *fd)
{
	int r = *fd;

	*fd = -1;
	return r;
}

/*
 * How often an ioctl a signal interrupted is tried again before -EINTR goes
 * back to the caller. The module keeps what an interrupted RETRIEVE_FD did
 * (a hugetlb restore goes on where it stopped), so each try gets further;
 * the bound only keeps a caller from spinning for ever against a kernel that
 * makes no progress between signals.
 */
#define LU_EINTR_TRIES 1000

static int lu_ioctl(int fd, unsigned long cmd, void *arg)
{
	int r, tries = 0;

	do {
		r = ioctl(fd, cmd, arg);
	} while (r < 0 && errno == EINTR && ++tries < LU_EINTR_TRIES);
	return r < 0 ? -errno : r;
}

/* Copies @name into a uAPI name field: 1..63 bytes. */
static int lu_put_name(__u8 field[LIVEUPDATE_SESSION_NAME_LENGTH], const char *name)
{
	size_t len;

	if (!name)
		return -EINVAL;
	len = strlen(name);
	if (len > LIVEUPDATE_NAME_MAX)
		return -ENAMETOOLONG;
	memset(field, 0, LIVEUPDATE_SESSION_NAME_LENGTH);
	memcpy(field, name, len);
	return 0;
}

LU_EXPORT int liveupdate_available(void)
{
	LU_KEEP_ERRNO;
	struct stat st;

	return stat(LIVEUPDATE_DEVICE, &st) == 0 && S_ISCHR(st.st_mode);
}

LU_EXPORT int liveupdate_open(unsigned int flags)
{
	LU_KEEP_ERRNO;
	/* back-off 10 ms doubling to 640 ms: 5.1 s in all */
	long wait_ms = 10, waited = 0;
	int fd;

	if (flags & ~LIVEUPDATE_OPEN_WAIT)
		return -EINVAL;
	for (;;) {
		fd = open(LIVEUPDATE_DEVICE, O_RDWR | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno != EBUSY || !(flags & LIVEUPDATE_OPEN_WAIT) || waited >= 5000)
			return -errno;
		nanosleep(&(struct timespec){ .tv_nsec = wait_ms * 1000000L }, NULL);
		waited += wait_ms;
		if (wait_ms < 640)
			wait_ms *= 2;
	}
}

LU_EXPORT int liveupdate_create_session(int dev, const char *name)
{
	LU_KEEP_ERRNO;
	struct liveupdate_ioctl_create_session a = { .size = sizeof(a), .fd = -1 };
	int r = lu_put_name(a.name, name);

	if (r < 0)
		return r;
	r = lu_ioctl(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, &a);
	return r < 0 ? r : a.fd;
}

LU_EXPORT int liveupdate_retrieve_session(int dev, const char *name)
{
	LU_KEEP_ERRNO;
	struct liveupdate_ioctl_retrieve_session a = { .size = sizeof(a), .fd = -1 };
	int r = lu_put_name(a.name, name);

	if (r < 0)
		return r;
	r = lu_ioctl(dev, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &a);
	return r < 0 ? r : a.fd;
}

LU_EXPORT int liveupdate_preserve_fd(int session, uint64_t token, int fd)
{
	LU_KEEP_ERRNO;
	struct liveupdate_session_preserve_fd a = {
		.size = sizeof(a), .fd = fd, .token = token,
	};
	int r = lu_ioctl(session, LIVEUPDATE_SESSION_PRESERVE_FD, &a);

	return r < 0 ? r : 0;
}

LU_EXPORT int liveupdate_retrieve_fd(int session, uint64_t token)
{
	LU_KEEP_ERRNO;
	struct liveupdate_session_retrieve_fd a = {
		.size = sizeof(a), .fd = -1, .token = token,
	};
	int r = lu_ioctl(session, LIVEUPDATE_SESSION_RETRIEVE_FD, &a);

	return r < 0 ? r : a.fd;
}

LU_EXPORT int liveupdate_finish(int session)
{
	LU_KEEP_ERRNO;
	struct liveupdate_session_finish a = { .size = sizeof(a) };
	int r = lu_ioctl(session, LIVEUPDATE_SESSION_FINISH, &a);

	return r < 0 ? r : 0;
}

LU_EXPORT int liveupdate_session_name(int session, char name[LIVEUPDATE_NAME_MAX + 1])
{
	LU_KEEP_ERRNO;
	struct liveupdate_session_get_name a = { .size = sizeof(a) };
	int r;

	if (!name)
		return -EINVAL;
	r = lu_ioctl(session, LIVEUPDATE_SESSION_GET_NAME, &a);
	if (r < 0)
		return r;
	memcpy(name, a.name, LIVEUPDATE_NAME_MAX);
	name[LIVEUPDATE_NAME_MAX] = 0;
	return 0;
}

/* ---- sealed memfds ---------------------------------------------------- */

#define LU_SEALS (F_SEAL_SEAL | F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK)

static int lu_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;	/* no progress: would loop for ever */
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int lu_memfd_new(const char *name)
{
	int fd = memfd_create(name ? name : "liveupdate", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	return fd < 0 ? -errno : fd;
}

/* Seals @fd and rewinds it, so that a reader starts at byte 0. */
static int lu_memfd_seal(int fd)
{
	if (fcntl(fd, F_ADD_SEALS, LU_SEALS) < 0)
		return -errno;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	return 0;
}

LU_EXPORT int liveupdate_memfd_from_buffer(const char *name, const void *buf, size_t len)
{
	LU_KEEP_ERRNO;
	_cleanup_close_ int fd = lu_memfd_new(name);
	int r;

	if (fd < 0)
		return fd;
	if (!buf && len)
		return -EINVAL;
	r = lu_write_all(fd, buf, len);
	if (r < 0)
		return r;
	r = lu_memfd_seal(fd);
	return r < 0 ? r : lu_take_fd(&fd);
}

LU_EXPORT int liveupdate_memfd_from_fd(const char *name, int src)
{
	LU_KEEP_ERRNO;
	_cleanup_close_ int fd = lu_memfd_new(name);
	char buf[65536];
	int r;

	if (fd < 0)
		return fd;
	for (;;) {
		ssize_t n = read(src, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		r = lu_write_all(fd, buf, (size_t)n);
		if (r < 0)
			return r;
	}
	r = lu_memfd_seal(fd);
	return r < 0 ? r : lu_take_fd(&fd);
}

LU_EXPORT int liveupdate_preserve_buffer(int session, uint64_t token, const void *buf,
					 size_t len)
{
	LU_KEEP_ERRNO;
	_cleanup_close_ int fd = liveupdate_memfd_from_buffer("liveupdate", buf, len);

	if (fd < 0)
		return fd;
	return liveupdate_preserve_fd(session, token, fd);
}

LU_EXPORT int liveupdate_preserve_file(int session, uint64_t token, int src)
{
	LU_KEEP_ERRNO;
	_cleanup_close_ int fd = liveupdate_memfd_from_fd("liveupdate", src);

	if (fd < 0)
		return fd;
	return liveupdate_preserve_fd(session, token, fd);
}

LU_EXPORT int liveupdate_retrieve_buffer(int session, uint64_t token, void **bufp,
					 size_t *lenp)
{
	LU_KEEP_ERRNO;
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t len, done = 0;

	if (!bufp || !lenp)
		return -EINVAL;	/* before the retrieve, not after it */
	fd = liveupdate_retrieve_fd(session, token);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size >= SIZE_MAX)
		return -EFBIG;
	len = (size_t)st.st_size;
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	/* pread: the fd's position is the preserved one, not ours to move */
	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;	/* shrank under us: cannot with sealed memfds */
		done += (size_t)n;
	}
	buf[len] = 0;
	*bufp = buf;
	buf = NULL;
	*lenp = len;
	return 0;
}

/* ---- the manifest --------------------------------------------------------- */

#define LU_MANIFEST_MAGIC "liveupdate-manifest 1\n"

static int lu_manifest_name_ok(const char *name)
{
	size_t len = strnlen(name, LIVEUPDATE_NAME_MAX + 1);

	if (len == 0 || len > LIVEUPDATE_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isgraph((unsigned char)name[i]))
			return 0;
	return 1;
}

LU_EXPORT int liveupdate_manifest_memfd(const struct liveupdate_manifest_entry *e, size_t n)
{
	LU_KEEP_ERRNO;
	_cleanup_free_ char *text = NULL;
	size_t cap, len;

	if (!e && n)
		return -EINVAL;
	if (n > (SIZE_MAX - sizeof(LU_MANIFEST_MAGIC)) / (17 + LIVEUPDATE_NAME_MAX + 1))
		return -E2BIG;
	cap = sizeof(LU_MANIFEST_MAGIC) + n * (17 + LIVEUPDATE_NAME_MAX + 1) + 1;
	text = malloc(cap);
	if (!text)
		return -ENOMEM;
	len = (size_t)snprintf(text, cap, "%s", LU_MANIFEST_MAGIC);
	for (size_t i = 0; i < n; i++) {
		if (e[i].token == LIVEUPDATE_MANIFEST_TOKEN || !lu_manifest_name_ok(e[i].name))
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (e[j].token == e[i].token || !strcmp(e[j].name, e[i].name))
				return -EINVAL;
		len += (size_t)snprintf(text + len, cap - len, "%" PRIx64 " %s\n",
					e[i].token, e[i].name);
	}
	return liveupdate_memfd_from_buffer("liveupdate-manifest", text, len);
}

LU_EXPORT int liveupdate_manifest_write(int session,
					const struct liveupdate_manifest_entry *e, size_t n)
{
	LU_KEEP_ERRNO;
	_cleanup_close_ int fd = liveupdate_manifest_memfd(e, n);

	if (fd < 0)
		return fd;
	return liveupdate_preserve_fd(session, LIVEUPDATE_MANIFEST_TOKEN, fd);
}

LU_EXPORT int liveupdate_manifest_parse(const char *text, size_t len,
					struct liveupdate_manifest_entry **entries,
					size_t *np)
{
	LU_KEEP_ERRNO;
	_cleanup_free_ struct liveupdate_manifest_entry *e = NULL;
	size_t n = 0, off, magic = strlen(LU_MANIFEST_MAGIC);

	if (!text || !entries || !np)
		return -EINVAL;
	if (len < magic || memcmp(text, LU_MANIFEST_MAGIC, magic))
		return -EBADMSG;
	for (off = magic; off < len; ) {
		const char *line = text + off, *nl = memchr(line, '\n', len - off);
		struct liveupdate_manifest_entry *grown;
		size_t l, hex = 0, nlen;
		uint64_t token = 0;

		if (!nl)
			return -EBADMSG;
		l = (size_t)(nl - line);
		while (hex < l && isxdigit((unsigned char)line[hex])) {
			if (hex == 16)
				return -EBADMSG;
			token = token << 4 | (uint64_t)(isdigit((unsigned char)line[hex]) ?
				line[hex] - '0' : (tolower((unsigned char)line[hex]) - 'a' + 10));
			hex++;
		}
		if (hex == 0 || hex >= l || line[hex] != ' ')
			return -EBADMSG;
		nlen = l - hex - 1;
		if (nlen == 0 || nlen > LIVEUPDATE_NAME_MAX || token == LIVEUPDATE_MANIFEST_TOKEN)
			return -EBADMSG;
		grown = realloc(e, (n + 1) * sizeof(*e));
		if (!grown)
			return -ENOMEM;
		e = grown;
		e[n].token = token;
		memcpy(e[n].name, line + hex + 1, nlen);
		e[n].name[nlen] = 0;
		if (!lu_manifest_name_ok(e[n].name) || strlen(e[n].name) != nlen)
			return -EBADMSG;
		for (size_t j = 0; j < n; j++)
			if (e[j].token == token || !strcmp(e[j].name, e[n].name))
				return -EBADMSG;
		n++;
		off += l + 1;
	}
	*entries = e;
	e = NULL;
	*np = n;
	return 0;
}

LU_EXPORT int liveupdate_manifest_read(int session,
				       struct liveupdate_manifest_entry **entries,
				       size_t *n)
{
	LU_KEEP_ERRNO;
	_cleanup_free_ void *text = NULL;
	size_t len;
	int r = liveupdate_retrieve_buffer(session, LIVEUPDATE_MANIFEST_TOKEN, &text, &len);

	if (r < 0)
		return r;
	return liveupdate_manifest_parse(text, len, entries, n);
}

LU_EXPORT int liveupdate_manifest_find(const struct liveupdate_manifest_entry *e, size_t n,
				       const char *name, uint64_t *token)
{
	LU_KEEP_ERRNO;
	if ((!e && n) || !name)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(e[i].name, name)) {
			if (token)
				*token = e[i].token;
			return 0;
		}
	return -ENOENT;
}

/* ---- the broker (liveupdated) ------------------------------------------------ */

static const struct { const char *name; int err; } lu_errnos[] = {
	{ "EPERM", EPERM }, { "ENOENT", ENOENT }, { "EINVAL", EINVAL },
	{ "EEXIST", EEXIST }, { "EDQUOT", EDQUOT }, { "EBUSY", EBUSY },
	{ "ENOSPC", ENOSPC }, { "EACCES", EACCES }, { "EPROTO", EPROTO },
	{ "ENOMEM", ENOMEM }, { "EMFILE", EMFILE }, { "ENAMETOOLONG", ENAMETOOLONG },
	{ "EIO", EIO }, { "ENODEV", ENODEV }, { "EBADF", EBADF },
};

static int lu_errno_of(const char *name)
{
	for (size_t i = 0; i < sizeof(lu_errnos) / sizeof(lu_errnos[0]); i++)
		if (!strncmp(name, lu_errnos[i].name, strlen(lu_errnos[i].name)) &&
		    (name[strlen(lu_errnos[i].name)] == ' ' || !name[strlen(lu_errnos[i].name)]))
			return lu_errnos[i].err;
	return EPROTO;
}

/* debian/changelog's version, from the Makefile */
#ifndef LU_VERSION
#define LU_VERSION "unknown"
#endif

LU_EXPORT const char *liveupdate_version(void)
{
	return LU_VERSION;
}

/* What liveupdate_agent_set_socket() and _set_timeout() set ("", 0: unset). */
static pthread_mutex_t lu_agent_lock = PTHREAD_MUTEX_INITIALIZER;
static char lu_agent_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static unsigned int lu_agent_seconds;

LU_EXPORT int liveupdate_agent_set_socket(const char *path)
{
	if (path && !*path)
		return -EINVAL;
	if (path && strlen(path) >= sizeof(lu_agent_path))
		return -ENAMETOOLONG;
	pthread_mutex_lock(&lu_agent_lock);
	snprintf(lu_agent_path, sizeof(lu_agent_path), "%s", path ? path : "");
	pthread_mutex_unlock(&lu_agent_lock);
	return 0;
}

LU_EXPORT int liveupdate_agent_set_timeout(unsigned int seconds)
{
	if (seconds > 86400 * 365)
		return -EINVAL;
	pthread_mutex_lock(&lu_agent_lock);
	lu_agent_seconds = seconds;
	pthread_mutex_unlock(&lu_agent_lock);
	return 0;
}

/*
 * liveupdate_agent_set_timeout()'s, else $LIVEUPDATED_TIMEOUT: whole
 * seconds, 1 or more (anything else is ignored), else the default.
 */
static time_t lu_agent_timeout(void)
{
	const char *v = getenv("LIVEUPDATED_TIMEOUT");
	unsigned int set;
	char *end;
	long t;

	pthread_mutex_lock(&lu_agent_lock);
	set = lu_agent_seconds;
	pthread_mutex_unlock(&lu_agent_lock);
	if (set)
		return (time_t)set;
	if (!v || !*v)
		return LIVEUPDATE_AGENT_TIMEOUT;
	errno = 0;
	t = strtol(v, &end, 10);
	if (errno || *end || t < 1 || t > 86400 * 365)
		return LIVEUPDATE_AGENT_TIMEOUT;
	return (time_t)t;
}

/* a send, receive or connect that ran into SO_SNDTIMEO/SO_RCVTIMEO */
static int lu_sock_err(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK ? -ETIMEDOUT : -err;
}

/*
 * One request of the broker's protocol (docs/broker.md), internal: sends
 * @request (with @send_fd by SCM_RIGHTS unless it is negative) and reads the
 * reply line into @reply (NUL-terminated, @len bytes at most); *@fdp gets a
 * passed fd or -1. With @connp, an "OK" leaves the connection open and in
 * *@connp (RETRIEVE's confirmation goes on it); else it is closed. 0 for
 * "OK ...", -errno of "ERR ERRNO ...", -EPROTO for anything else, -EMFILE
 * for an "OK" whose fd did not arrive (MSG_CTRUNC: the caller's fd table is
 * full), -ECONNREFUSED when there is no broker (no socket, nobody listening:
 * never -ENOENT, which is "no such session"), or -errno of the socket.
 */
static int lu_agent_call_conn(const char *request, int send_fd, char *reply, size_t len,
			      int *fdp, int *connp)
{
	const char *path = getenv("LIVEUPDATED_SOCKET");
	char set_path[sizeof(lu_agent_path)];
	struct timeval tv = { .tv_sec = lu_agent_timeout() };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	union {		/* aligned for struct cmsghdr, which a char[] is not */
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct iovec iov;
	struct msghdr mh = { 0 };
	struct cmsghdr *c;
	_cleanup_close_ int s = -1;
	bool truncated;
	ssize_t n;

	if (fdp)
		*fdp = -1;
	if (connp)
		*connp = -1;
	if (!request || !reply || len < 2)
		return -EINVAL;
	pthread_mutex_lock(&lu_agent_lock);
	memcpy(set_path, lu_agent_path, sizeof(set_path));
	pthread_mutex_unlock(&lu_agent_lock);
	if (set_path[0])
		path = set_path;
	else if (!path || !*path)
		path = LIVEUPDATE_AGENT_SOCKET;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path));
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	/* before connect(): for AF_UNIX it waits on a full backlog for SO_SNDTIMEO */
	if (setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		/* no socket, or nobody listening on it: no broker */
		if (errno == ENOENT || errno == ECONNREFUSED || errno == ENOTDIR)
			return -ECONNREFUSED;
		return lu_sock_err(errno);
	}
	iov.iov_base = (void *)request;
	iov.iov_len = strlen(request);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (send_fd >= 0) {
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = sizeof(cbuf.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &send_fd, sizeof(int));
	}
	if (sendmsg(s, &mh, MSG_NOSIGNAL) < 0)
		return lu_sock_err(errno);
	mh = (struct msghdr){ 0 };
	iov.iov_base = reply;
	iov.iov_len = len - 1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf.buf;
	mh.msg_controllen = sizeof(cbuf.buf);
	do {
		n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return lu_sock_err(errno);
	if (n == 0)
		return -ECONNRESET;	/* the broker went away without a reply */
	reply[n] = 0;
	truncated = mh.msg_flags & MSG_CTRUNC;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int fd;

			memcpy(&fd, CMSG_DATA(c), sizeof(int));
			if (fdp && *fdp < 0)
				*fdp = fd;
			else
				close(fd);
		}
	}
	if (!strncmp(reply, "OK", 2) && (reply[2] == 0 || reply[2] == ' ' || reply[2] == '\n')) {
		if (truncated) {
			/*
			 * The fd did not arrive (a full fd table): nothing
			 * is confirmed, the broker keeps the session.
			 */
			if (fdp && *fdp >= 0) {
				close(*fdp);
				*fdp = -1;
			}
			return -EMFILE;
		}
		if (connp) {
			*connp = s;
			s = -1;
		}
		return 0;
	}
	if (fdp && *fdp >= 0) {
		close(*fdp);
		*fdp = -1;
	}
	if (!strncmp(reply, "ERR ", 4))
		return -lu_errno_of(reply + 4);
	return -EPROTO;
}

static int lu_agent_call_fd(const char *request, int send_fd, char *reply, size_t len,
			    int *fdp)
{
	return lu_agent_call_conn(request, send_fd, reply, len, fdp, NULL);
}

static int lu_agent_call(const char *request, char *reply, size_t len, int *fdp)
{
	return lu_agent_call_fd(request, -1, reply, len, fdp);
}

LU_EXPORT int liveupdate_agent_available(void)
{
	LU_KEEP_ERRNO;
	char reply[64];
	int r = lu_agent_call("LU1 PING", reply, sizeof(reply), NULL);

	if (r == 0)
		return 1;
	if (r == -ECONNREFUSED)	/* no socket, or nobody listening on it */
		return 0;
	return r;
}

/* 1..LIVEUPDATE_AGENT_NAME_MAX bytes of [A-Za-z0-9_-], as the broker wants */
static int lu_agent_name_ok(const char *name)
{
	if (!name || !*name)
		return -EINVAL;
	if (strlen(name) > LIVEUPDATE_AGENT_NAME_MAX)
		return -ENAMETOOLONG;
	/* a space would split the request line: "LU1 CREATE a 1" */
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
			return -EINVAL;
	return 0;
}

/* "LU1 VERB NAME", answered with a plain "OK": 0 or -errno. */
static int lu_agent_named(const char *verb, const char *name)
{
	char req[128], reply[256];
	int r = lu_agent_name_ok(name);

	if (r < 0)
		return r;
	snprintf(req, sizeof(req), "LU1 %s %s", verb, name);
	return lu_agent_call(req, reply, sizeof(reply), NULL);
}

LU_EXPORT int liveupdate_agent_create_session(const char *name)
{
	LU_KEEP_ERRNO;
	return lu_agent_named("CREATE", name);
}

LU_EXPORT int liveupdate_agent_preserve_fd(const char *name, uint64_t token, int fd)
{
	LU_KEEP_ERRNO;
	char req[128], reply[256];
	int r = lu_agent_name_ok(name);

	if (r < 0)
		return r;
	if (fd < 0)
		return -EBADF;
	snprintf(req, sizeof(req), "LU1 PRESERVE %s %" PRIu64, name, token);
	return lu_agent_call_fd(req, fd, reply, sizeof(reply), NULL);
}

/*
 * RETRIEVE (docs/broker.md): the broker sends the session with its "OK" and
 * keeps its own copy until this connection confirms (HAVE: it drops it) or
 * gives it back (KEEP), or ends without either (a killed caller: it keeps
 * it). The connection is the handle.
 */
LU_EXPORT int liveupdate_agent_retrieve_begin(const char *name, int *handle)
{
	LU_KEEP_ERRNO;
	char req[128], reply[256];
	int fd = -1, conn = -1, r;

	if (!handle)
		return -EINVAL;
	*handle = -1;
	r = lu_agent_name_ok(name);
	if (r < 0)
		return r;
	lu_crash_point("agent-retrieve:begin");
	snprintf(req, sizeof(req), "LU1 RETRIEVE %s", name);
	r = lu_agent_call_conn(req, -1, reply, sizeof(reply), &fd, &conn);
	if (r < 0)
		return r;
	if (fd < 0) {
		close(conn);
		return -EPROTO;
	}
	lu_crash_point("agent-retrieve:received");
	*handle = conn;
	return fd;
}

LU_EXPORT int liveupdate_agent_retrieve_end(int handle, int delivered)
{
	LU_KEEP_ERRNO;
	const char *msg = delivered ? "LU1 HAVE" : "LU1 KEEP";
	char reply[256];
	ssize_t n;
	int r = 0;

	if (handle < 0)
		return -EBADF;
	if (send(handle, msg, strlen(msg), MSG_NOSIGNAL) < 0) {
		r = lu_sock_err(errno);
		goto out;
	}
	lu_crash_point("agent-retrieve:confirmed");
	do {
		n = recv(handle, reply, sizeof(reply) - 1, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		r = lu_sock_err(errno);
		goto out;
	}
	if (n == 0) {
		r = -ECONNRESET;
		goto out;
	}
	reply[n] = 0;
	if (!strncmp(reply, "OK", 2) && (reply[2] == 0 || reply[2] == ' '))
		r = 0;
	else if (!strncmp(reply, "ERR ", 4))
		r = -lu_errno_of(reply + 4);
	else
		r = -EPROTO;
out:
	close(handle);
	return r;
}

/*
 * begin + end(delivered) at once: the broker drops its copy only after the
 * fd is here. If the confirmation fails (the broker went away), the caller
 * holds the session all the same: its fd is returned.
 */
LU_EXPORT int liveupdate_agent_retrieve_session(const char *name)
{
	LU_KEEP_ERRNO;
	int h, fd = liveupdate_agent_retrieve_begin(name, &h);

	if (fd < 0)
		return fd;
	(void)liveupdate_agent_retrieve_end(h, 1);
	return fd;
}

LU_EXPORT int liveupdate_agent_release_session(const char *name)
{
	LU_KEEP_ERRNO;
	return lu_agent_named("RELEASE", name);
}
