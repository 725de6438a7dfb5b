/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * liveupdate: the Live Update Orchestrator (LUO) userspace interface.
 *
 * Layouts and numbers are identical to upstream Linux 7.2's header of the
 * same name, so a program built against either header works with either the
 * upstream kernel or the liveupdate module.
 *
 * Every ioctl is _IO(LIVEUPDATE_IOCTL_TYPE, nr): the size lives in the
 * argument itself. Each argument struct starts with a __u32 @size that the
 * caller sets to sizeof(struct). The kernel accepts a smaller @size as long as
 * it covers every field the command needs, and a larger one as long as the
 * bytes it does not know are zero (E2BIG otherwise). Outputs are written back
 * for min(@size, kernel size) bytes.
 */
#ifndef _UAPI_LINUX_LIVEUPDATE_H
#define _UAPI_LINUX_LIVEUPDATE_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define LIVEUPDATE_IOCTL_TYPE		0xBA

/* Maximum session name length, including the terminating NUL. */
#define LIVEUPDATE_SESSION_NAME_LENGTH	64

/* Commands on /dev/liveupdate. */
enum {
	LIVEUPDATE_CMD_BASE = 0x00,
	LIVEUPDATE_CMD_CREATE_SESSION = LIVEUPDATE_CMD_BASE,
	LIVEUPDATE_CMD_RETRIEVE_SESSION = 0x01,
};

/* Commands on a session file descriptor. */
enum {
	LIVEUPDATE_CMD_SESSION_BASE = 0x40,
	LIVEUPDATE_CMD_SESSION_PRESERVE_FD = LIVEUPDATE_CMD_SESSION_BASE,
	LIVEUPDATE_CMD_SESSION_RETRIEVE_FD = 0x41,
	LIVEUPDATE_CMD_SESSION_FINISH = 0x42,
	LIVEUPDATE_CMD_SESSION_GET_NAME = 0x43,
};

/**
 * struct liveupdate_ioctl_create_session - LIVEUPDATE_IOCTL_CREATE_SESSION
 * @size: sizeof(struct liveupdate_ioctl_create_session).
 * @fd:   Output: the new outgoing session's fd (close-on-exec).
 * @name: Input: 1..63 bytes followed by a NUL.
 *
 * The session lives exactly as long as its fd: closing it drops everything
 * preserved in it. EEXIST if an outgoing session of that name exists.
 */
struct liveupdate_ioctl_create_session {
	__u32 size;
	__s32 fd;
	__u8 name[LIVEUPDATE_SESSION_NAME_LENGTH];
};

#define LIVEUPDATE_IOCTL_CREATE_SESSION \
	_IO(LIVEUPDATE_IOCTL_TYPE, LIVEUPDATE_CMD_CREATE_SESSION)

/**
 * struct liveupdate_ioctl_retrieve_session - LIVEUPDATE_IOCTL_RETRIEVE_SESSION
 * @size: sizeof(struct liveupdate_ioctl_retrieve_session).
 * @fd:   Output: the incoming session's fd (close-on-exec).
 * @name: Input: the name the previous kernel's session had.
 *
 * ENOENT if no incoming session has that name, EINVAL if it was already
 * retrieved. Closing the returned fd finishes the session.
 */
struct liveupdate_ioctl_retrieve_session {
	__u32 size;
	__s32 fd;
	__u8 name[LIVEUPDATE_SESSION_NAME_LENGTH];
};

#define LIVEUPDATE_IOCTL_RETRIEVE_SESSION \
	_IO(LIVEUPDATE_IOCTL_TYPE, LIVEUPDATE_CMD_RETRIEVE_SESSION)

/**
 * struct liveupdate_session_preserve_fd - LIVEUPDATE_SESSION_PRESERVE_FD
 * @size:  sizeof(struct liveupdate_session_preserve_fd).
 * @fd:    Input: the file to preserve (a memfd).
 * @token: Input: any 64-bit value unique within the session.
 *
 * Outgoing sessions only. EEXIST for a token in use, EBADF for a bad fd,
 * ENOENT if no handler supports the file, EBUSY if the file is already
 * preserved in any session, ENOSPC if the handover cannot hold it.
 */
struct liveupdate_session_preserve_fd {
	__u32 size;
	__s32 fd;
	__aligned_u64 token;
};

#define LIVEUPDATE_SESSION_PRESERVE_FD \
	_IO(LIVEUPDATE_IOCTL_TYPE, LIVEUPDATE_CMD_SESSION_PRESERVE_FD)

/**
 * struct liveupdate_session_retrieve_fd - LIVEUPDATE_SESSION_RETRIEVE_FD
 * @size:  sizeof(struct liveupdate_session_retrieve_fd).
 * @fd:    Output: a new fd (close-on-exec) for the preserved file.
 * @token: Input: the token the file was preserved under.
 *
 * Retrieved incoming sessions only. ENOENT for an unknown token.
 */
struct liveupdate_session_retrieve_fd {
	__u32 size;
	__s32 fd;
	__aligned_u64 token;
};

#define LIVEUPDATE_SESSION_RETRIEVE_FD \
	_IO(LIVEUPDATE_IOCTL_TYPE, LIVEUPDATE_CMD_SESSION_RETRIEVE_FD)

/**
 * struct liveupdate_session_finish - LIVEUPDATE_SESSION_FINISH
 * @size:     sizeof(struct liveupdate_session_finish).
 * @reserved: Must be zero.
 *
 * Retrieved incoming sessions only: ends the handover, discarding files that
 * were never retrieved. Finishing again returns 0.
 */
struct liveupdate_session_finish {
	__u32 size;
	__u32 reserved;
};

#define LIVEUPDATE_SESSION_FINISH \
	_IO(LIVEUPDATE_IOCTL_TYPE, LIVEUPDATE_CMD_SESSION_FINISH)

/**
 * struct liveupdate_session_get_name - LIVEUPDATE_SESSION_GET_NAME
 * @size:     sizeof(struct liveupdate_session_get_name).
 * @reserved: Ignored.
 * @name:     Output: the session's NUL-terminated name.
 */
struct liveupdate_session_get_name {
	__u32 size;
	__u32 reserved;
	__u8 name[LIVEUPDATE_SESSION_NAME_LENGTH];
};

#define LIVEUPDATE_SESSION_GET_NAME \
	_IO(LIVEUPDATE_IOCTL_TYPE, LIVEUPDATE_CMD_SESSION_GET_NAME)

#endif /* _UAPI_LINUX_LIVEUPDATE_H */
