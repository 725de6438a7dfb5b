/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liveupdate: definitions shared by the module's layers.
 *
 *   device.c    /dev/liveupdate, ioctl argument plumbing, module init
 *   session.c   sessions and their fds
 *   file.c      preserved files inside a session, the handler registry
 *   memfd.c     the memfd file handler
 *   handover.c  the reserved RAM range: space accounting, commit at
 *               kexec, validation and load in the next kernel
 *   range.c     which range: parameters, memmap=, /proc/iomem checks
 *   compat.h    differences between the kernel versions we build for
 *
 * One mutex, luo_lock, serialises every session and file operation and the
 * commit at kexec. None of them is hot, and one lock keeps the kexec path
 * trivially consistent. It is never held across a copy to or from user
 * memory (which userfaultfd can stall for ever): ioctl arguments are copied
 * in before it is taken and replies are written after it is dropped.
 */
#ifndef _LIVEUPDATE_INTERNAL_H
#define _LIVEUPDATE_INTERNAL_H

#include <linux/fs.h>
#include <linux/hashtable.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/rbtree.h>
#include <uapi/linux/liveupdate.h>

#include "compat.h"
#include "handover_format.h"

extern struct mutex luo_lock;

/* --- device.c: ioctl argument plumbing ------------------------------- */

/**
 * struct luo_ucmd - one ioctl call's argument
 * @ubuf:  the user pointer.
 * @usize: the size userspace announced in the first u32.
 * @cmd:   kernel copy of the argument.
 * @fd:    an fd reserved for the reply (luo_ucmd_reserve_fd()), or -1; the
 *         dispatcher releases it if the handler did not install it.
 */
struct luo_ucmd {
	void __user *ubuf;
	u32 usize;
	void *cmd;
	int fd;
};

int luo_ucmd_get_size(struct luo_ucmd *ucmd, unsigned long arg);
int luo_ucmd_copy_in(struct luo_ucmd *ucmd, size_t ksize, size_t min_size);
int luo_ucmd_respond(struct luo_ucmd *ucmd, size_t ksize);
int luo_ucmd_reserve_fd(struct luo_ucmd *ucmd);
void luo_ucmd_release_fd(struct luo_ucmd *ucmd);
int luo_install_fd(struct luo_ucmd *ucmd, size_t ksize, s32 *fd_field,
		   struct file *file);

/* --- session.c ------------------------------------------------------- */

/**
 * struct luo_session - a named group of preserved files
 * @name:      NUL-terminated name.
 * @hnode:     entry in the outgoing or incoming name hash.
 * @list:      entry in the outgoing or incoming list (creation order).
 * @files:     struct luo_file by token (an rbtree: no memory per token
 *             beyond the file's own node, however sparse the tokens).
 * @file_list: the same files in preservation order.
 * @nr_files:  number of files.
 * @reserved:  outgoing: handover bytes reserved for the session record.
 * @incoming:  came from the previous kernel.
 * @retrieved: incoming: an fd for it exists (or existed and leaked).
 * @finished:  incoming: FINISH succeeded; no file can be retrieved.
 * @mutex:     incoming: serialises its files' retrieval (and restoring),
 *             FINISH and close, without luo_lock: restoring a big file
 *             takes seconds.
 */
struct luo_session {
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	struct hlist_node hnode;
	struct list_head list;
	struct mutex mutex;	/* see @mutex above */
	struct rb_root files;
	struct list_head file_list;
	unsigned long nr_files;
	u64 reserved;
	bool incoming;
	bool retrieved;
	bool finished;
};

extern struct list_head luo_outgoing;

int luo_session_create(struct luo_ucmd *ucmd);
int luo_session_retrieve(struct luo_ucmd *ucmd);
struct luo_session *luo_session_add_incoming(const char *name);
void luo_session_drop_incoming(void);

/* --- file.c ---------------------------------------------------------- */

struct luo_file;

/**
 * struct luo_file_handler - what a file type must provide
 * @type:         %LUO_FILE_TYPE_* stored in the handover.
 * @name:         for log messages.
 * @can_preserve: whether @file is of this type.
 * @preserve:     start preserving: freeze what must not change and set
 *                lf->data_size. Everything that can fail fails here.
 * @unpreserve:   undo @preserve exactly.
 * @validate:     in the next kernel: check the type fields of a handed-over
 *                record (0 or -EINVAL) before anything is restored.
 * @save:         inside the kexec: copy the file's bytes to @dst (room for
 *                lf->data_size bytes) and fill @ser's type fields.
 * @restore:      in the next kernel: build a file from @ser and @data.
 *                May fail for a while (a signal, a memory cgroup's limit):
 *                it is called again at the next retrieve.
 */
struct luo_file_handler {
	u32 type;
	const char *name;
	bool (*can_preserve)(struct file *file);
	int (*preserve)(struct luo_file *lf);
	void (*unpreserve)(struct luo_file *lf);
	int (*validate)(const struct luo_ser_file *ser);
	int (*save)(struct luo_file *lf, void *dst, struct luo_ser_file *ser);
	struct file *(*restore)(const struct luo_ser_file *ser,
				const void *data);
};

/**
 * struct luo_file - one file in a session
 * @node:       entry in the session's files tree.
 * @list:       entry in the session's file_list.
 * @hnode:      outgoing: entry in the preserved-inode hash (EBUSY check).
 * @token:      the user's token.
 * @handler:    the file type's handler.
 * @file:       outgoing: the user's file; incoming: the restored file,
 *              NULL until the first RETRIEVE_FD restores it.
 * @ser:        incoming: the file's handover record.
 * @data:       incoming: its data, in the reserved range.
 * @data_size:  outgoing: bytes the file's data takes in the handover.
 * @reserved:   outgoing: handover bytes reserved for this file.
 * @priv:       handler state.
 */
struct luo_file {
	struct rb_node node;
	struct list_head list;
	struct hlist_node hnode;
	u64 token;
	const struct luo_file_handler *handler;
	struct file *file;
	struct luo_ser_file ser;
	const void *data;
	u64 data_size;
	u64 reserved;
	unsigned long priv;
};

int luo_file_preserve(struct luo_session *session, u64 token, int fd);
struct file *luo_file_retrieve(struct luo_session *session, u64 token);
void luo_file_unpreserve_all(struct luo_session *session);
void luo_file_unpreserve_all_unlocked(struct luo_session *session);
void luo_file_drop_all(struct luo_session *session);
int luo_file_add_incoming(struct luo_session *session,
			  const struct luo_ser_file *ser, const void *data);
const struct luo_file_handler *luo_file_handler_by_type(u32 type);

extern const struct luo_file_handler luo_memfd_handler;
void luo_memfd_exit(void);

/* --- range.c --------------------------------------------------------- */

int luo_range_find(u64 *addr, u64 *size);
int luo_read_file(const char *path, char *buf, size_t len);

/* --- handover.c ------------------------------------------------------ */

int luo_handover_init(void);
void luo_handover_exit(void);
int luo_handover_load(void);
int luo_handover_reserve(u64 bytes);
void luo_handover_unreserve(u64 bytes);

/* Handover bytes a session record and a file record (plus data) take. */
static inline u64 luo_session_cost(void)
{
	return sizeof(struct luo_ser_session);
}

static inline u64 luo_file_cost(u64 data_size)
{
	return sizeof(struct luo_ser_file) + ALIGN(data_size, LUO_HANDOVER_ALIGN);
}

#endif /* _LIVEUPDATE_INTERNAL_H */
