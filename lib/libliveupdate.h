/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libliveupdate: the Live Update Orchestrator's /dev/liveupdate from C.
 *
 * Works the same on kernels with LUO built in (7.2+) and on stock kernels
 * with the liveupdate module: the ABI is upstream's. Every call returns a
 * non-negative value on success and -errno on failure (systemd style),
 * never -1 with errno set: errno itself is left as it was (each call
 * restores it before returning). File descriptors returned are O_CLOEXEC.
 * Thread-safe: no global state.
 */
#ifndef LIBLIVEUPDATE_H
#define LIBLIVEUPDATE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest session name, without the NUL (the uAPI's 64 bytes minus one). */
#define LIVEUPDATE_NAME_MAX	63

/* liveupdate_open() flags */
#define LIVEUPDATE_OPEN_WAIT	0x1u	/* retry EBUSY for up to 5 s */

/* The device node this library uses (for messages). */
#define LIVEUPDATE_DEVICE	"/dev/liveupdate"

/* 1 if /dev/liveupdate exists, 0 if not (live update unavailable). */
int liveupdate_available(void);

/*
 * Opens /dev/liveupdate (one opener at a time: -EBUSY while another holds
 * it; with LIVEUPDATE_OPEN_WAIT retried with back-off for up to 5 s).
 * -ENOENT without the device. Returns the fd.
 */
int liveupdate_open(unsigned int flags);

/* Creates an outgoing session; returns its fd. -EEXIST, -ENOSPC, -EINVAL. */
int liveupdate_create_session(int dev, const char *name);

/* Retrieves an incoming session by name; returns its fd. -ENOENT, -EINVAL. */
int liveupdate_retrieve_session(int dev, const char *name);

/*
 * Preserves @fd in an outgoing session under @token. Every preserve call
 * takes the token before the file: (session, token, fd or data).
 */
int liveupdate_preserve_fd(int session, uint64_t token, int fd);

/* Retrieves the file preserved under @token; returns a new fd. */
int liveupdate_retrieve_fd(int session, uint64_t token);

/* Ends an incoming session: files not retrieved are dropped. */
int liveupdate_finish(int session);

/* Writes the session's name (NUL-terminated) into @name. -EINVAL if NULL. */
int liveupdate_session_name(int session, char name[LIVEUPDATE_NAME_MAX + 1]);

/*
 * Helpers for the common jobs. A "sealed memfd" is a memfd holding the
 * bytes with F_SEAL_SEAL | F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK: what
 * the receiver gets cannot change under it.
 */

/* A sealed memfd holding @len bytes of @buf; returns its fd. */
int liveupdate_memfd_from_buffer(const char *name, const void *buf, size_t len);

/* A sealed memfd holding what is left to read from @fd; returns its fd. */
int liveupdate_memfd_from_fd(const char *name, int fd);

/* Preserves @len bytes of @buf as a sealed memfd under @token. */
int liveupdate_preserve_buffer(int session, uint64_t token, const void *buf,
			       size_t len);

/* Preserves a sealed copy of the contents of @fd under @token. */
int liveupdate_preserve_file(int session, uint64_t token, int fd);

/*
 * Retrieves the file under @token and reads all of it into a malloc()ed
 * buffer (*@buf, free() it; *@len bytes, plus a NUL not counted).
 */
int liveupdate_retrieve_buffer(int session, uint64_t token, void **buf,
			       size_t *len);

/*
 * The manifest convention: token 0 of a session holds a sealed memfd that
 * names the other tokens, so that a receiver can find them without knowing
 * them in advance. Its text is "liveupdate-manifest 1\n" followed by one
 * "TOKEN NAME\n" line per entry (TOKEN in hex, NAME of printable
 * non-space bytes, at most LIVEUPDATE_NAME_MAX).
 */
#define LIVEUPDATE_MANIFEST_TOKEN	0

struct liveupdate_manifest_entry {
	uint64_t token;
	char name[LIVEUPDATE_NAME_MAX + 1];
};

/* A sealed memfd holding the manifest text of @n entries; returns its fd. */
int liveupdate_manifest_memfd(const struct liveupdate_manifest_entry *entries,
			      size_t n);

/* Preserves the manifest of @n entries under token 0. -EINVAL on a bad entry. */
int liveupdate_manifest_write(int session,
			      const struct liveupdate_manifest_entry *entries,
			      size_t n);

/*
 * Retrieves and parses token 0: *@entries (free() it) and *@n. -ENOENT
 * without a manifest, -EBADMSG if it does not parse.
 */
int liveupdate_manifest_read(int session,
			     struct liveupdate_manifest_entry **entries,
			     size_t *n);

/* Parses a manifest text (used by liveupdate_manifest_read()). */
int liveupdate_manifest_parse(const char *text, size_t len,
			      struct liveupdate_manifest_entry **entries,
			      size_t *n);

/* Looks up @name in a manifest; returns its token via *@token, or -ENOENT. */
int liveupdate_manifest_find(const struct liveupdate_manifest_entry *entries,
			     size_t n, const char *name, uint64_t *token);

/*
 * The broker, liveupdated(8): unprivileged programs use sessions through it
 * over a Unix socket instead of opening /dev/liveupdate (root-only, one
 * opener). Names are the caller's own (1 to LIVEUPDATE_AGENT_NAME_MAX bytes
 * of [A-Za-z0-9_-], else -EINVAL or -ENAMETOOLONG before any request); the broker keeps them apart per uid and holds every
 * session it created until the kexec. It does not hand out outgoing
 * sessions: files go in with liveupdate_agent_preserve_fd(), so that it can
 * count them against the uid's byte limit. The socket is $LIVEUPDATED_SOCKET
 * or LIVEUPDATE_AGENT_SOCKET.
 *
 * Every broker call returns -ECONNREFUSED when there is no broker (no
 * socket, or nobody listening on it), and gives up with -ETIMEDOUT when connecting, sending or
 * waiting for the reply takes longer than $LIVEUPDATED_TIMEOUT seconds (a
 * whole number, 1 or more; other values are ignored), by default
 * LIVEUPDATE_AGENT_TIMEOUT: a broker that accepts and never answers cannot
 * block the caller for ever.
 */
#define LIVEUPDATE_AGENT_SOCKET		"/run/liveupdated.sock"
/* 30 s: the first request socket-activates the broker, which a loaded
 * machine (an emulated one: the tests) can take seconds to start. */
#define LIVEUPDATE_AGENT_TIMEOUT	30	/* seconds */
#define LIVEUPDATE_AGENT_NAME_MAX	48

/* A new outgoing session of the caller's, held by the broker. 0, -EEXIST, -EDQUOT. */
int liveupdate_agent_create_session(const char *name);

/*
 * Preserves @fd (a memfd) under @token in the caller's outgoing session
 * @name. 0, -ENOENT (no such session), -EDQUOT (the uid's byte limit),
 * -EEXIST (token taken), -EINVAL (not a regular file), the kernel's errors.
 */
int liveupdate_agent_preserve_fd(const char *name, uint64_t token, int fd);

/*
 * The caller's incoming session @name, handed over with a confirmation
 * (docs/broker.md, "The broker's RETRIEVE"): returns the incoming session
 * fd (>= 0) or -errno; the broker keeps its own copy of the session until
 * liveupdate_agent_retrieve_end(*@handle, ...); a crash of the caller before
 * that leaves the session retrievable again through the broker. *@handle is
 * an fd (the connection), close-on-exec. -ENOENT (no such session),
 * -EBUSY (being handed out on another connection right now, or retrieved
 * from the device by someone else), -ECONNREFUSED (no broker), -ETIMEDOUT,
 * -EMFILE (the session fd could not be received: the broker keeps it).
 */
int liveupdate_agent_retrieve_begin(const char *name, int *handle);

/*
 * Ends a liveupdate_agent_retrieve_begin(). @delivered != 0: the broker
 * drops its copy (the caller now owns the session; closing the caller's fd
 * then finishes it as before); 0: the broker keeps it (the caller must not
 * have FINISHed it) and the caller should close its fd. Closes @handle.
 * Returns 0 or -errno (-ECONNRESET, -ETIMEDOUT: the broker did not confirm;
 * it may still hold its copy).
 */
int liveupdate_agent_retrieve_end(int handle, int delivered);

/*
 * The caller's incoming session @name; returns its fd: begin + end(1) right
 * after the fd arrived. The errors of liveupdate_agent_retrieve_begin().
 */
int liveupdate_agent_retrieve_session(const char *name);

/*
 * Has the broker drop the caller's session @name that it holds (what was
 * preserved in it goes with it). 0, -ENOENT.
 */
int liveupdate_agent_release_session(const char *name);

/*
 * 1 if the broker answers on its socket, 0 if there is none (no socket, or
 * nobody listening on it: the other broker calls return -ECONNREFUSED
 * then, never -ENOENT, which means "no such session"), -errno for
 * anything else (-EACCES, -ETIMEDOUT: a broker is there but does not
 * serve this caller).
 */
int liveupdate_agent_available(void);

/*
 * The broker's socket for this process's later broker calls, instead of
 * $LIVEUPDATED_SOCKET or LIVEUPDATE_AGENT_SOCKET; NULL goes back to those.
 * 0, -EINVAL (empty), -ENAMETOOLONG (longer than a socket address holds).
 * (LIBLIVEUPDATE_1.2)
 */
int liveupdate_agent_set_socket(const char *path);

/*
 * How long a broker call waits (connecting, sending, for the reply) before
 * -ETIMEDOUT, in seconds, instead of $LIVEUPDATED_TIMEOUT or
 * LIVEUPDATE_AGENT_TIMEOUT; 0 goes back to those. 0, -EINVAL (more than a
 * year). (LIBLIVEUPDATE_1.2)
 */
int liveupdate_agent_set_timeout(unsigned int seconds);

/*
 * The library's version, the package's ("0.2"): a static string.
 * (LIBLIVEUPDATE_1.2)
 */
const char *liveupdate_version(void);

#ifdef __cplusplus
}
#endif

#endif /* LIBLIVEUPDATE_H */
