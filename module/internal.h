/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liveupdate: definitions shared by the module's layers. Each layer calls
 * only the layers below it:
 *
 *   device.c    core: /dev/liveupdate and its ioctls, module init, the
 *               kexec hook; asks the sessions to serialize, installs fds
 *   session.c   sessions, their fds and ioctls; asks their files
 *   file.c      preserved files, the handler registry (handler.h: the
 *               handler API); asks the registered handlers, names none
 *   handlers.c  the handlers registered at module init, one line each
 *   memfd.c, hugetlb.c
 *               the memfd and hugetlb memfd handlers, side by side: what
 *               differs between the two
 *   shmem_like.c
 *               their shared base (shmem_like.h); pages go through pages.h
 *   pages_out.c, pages_in.c
 *               a preserved file's pages (pages.h), one file a direction:
 *               outgoing pins, extents, precopy, migration, serialize;
 *               incoming claim, verify, take over or copy; the store's
 *               page functions (store_pages.h) are for them alone
 *   store_commit.c
 *               the store's commit: metadata writer, the kexec's page
 *               copies, the header (store_int.h: the store's state)
 *   store.c     the store: the range's pages, space, status, the hot-add;
 *               calls nobody above
 *   engine.c    the one parallel engine (engine.h): the take-over's rounds
 *               and the kexec's copy
 *   ram_give.c  the managed range's pages given to shmem files (zero-copy)
 *   ram.c       the range as RAM the module manages: hot-add, claims
 *   range.c     which range: parameters, memmap=, firmware map, iomem
 *   ucmd.c      ioctl argument plumbing (used by device.c and session.c)
 *   handover_check.c, memfd_check.c
 *               pure checks of a handover and of a memfd's payload (also
 *               built as userspace C for the fuzz target)
 *   compat.h    differences between the kernel versions we build for
 *
 * One mutex, luo_lock, serialises outgoing sessions and files, the commit at
 * kexec and building incoming sessions. None of them is hot, and one lock
 * keeps the kexec path trivially consistent. It is never held across a copy
 * to or from user memory (which userfaultfd can stall for ever): ioctl
 * arguments are copied in before it is taken and replies are written after
 * it is dropped.
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
#include "handler.h"
#include "handover_check.h"

extern struct mutex luo_lock;

/* --- ucmd.c: ioctl argument plumbing ----------------------------------- */

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
int luo_ucmd_install_fd(struct luo_ucmd *ucmd, size_t ksize, s32 *fd_field,
			struct file *file);

/* --- store.c: the store ------------------------------------------------ */

/**
 * struct luo_writer - the commit's metadata cursor
 * @page: the metadata area's first range page (what the header names).
 * @base: the metadata area, in the range's mapping at the commit's start.
 * @off:  bytes written.
 * @size: bytes the area has.
 */
struct luo_writer {
	u64 page;
	void *base;
	u64 off;
	u64 size;
};

int luo_store_init(void);
void luo_store_exit(void);
enum luo_status luo_store_status(void);
int luo_store_check(struct luo_image *img, struct luo_verdict *v);
void luo_store_loaded(const struct luo_image *img, s64 check_us,
		      s64 build_us, u64 nr_sessions, u64 nr_files);
void luo_store_refused(enum luo_status status, const char *why);

bool luo_store_committed(void);

struct kernel_param;
int luo_param_set_readonly(const char *val, const struct kernel_param *kp);

int luo_store_reserve(u64 meta, u64 pages);
void luo_store_unreserve(u64 meta, u64 pages);

void luo_store_commit_lock(void);
void luo_store_commit_unlock(void);
int luo_store_commit_begin(struct luo_writer *w);
void luo_store_commit_end(struct luo_writer *w, u64 nr_sessions,
			  u64 nr_files);

/* Metadata a session record takes. */
static inline u64 luo_session_cost(void)
{
	return sizeof(struct luo_ser_session);
}

/* --- file.c and the handlers ------------------------------------------- */

/**
 * struct luo_file - one file in a session (the core's; a handler sees @args)
 * @node:       entry in the session's files tree.
 * @list:       entry in the session's file_list.
 * @hnode:      outgoing: entry in the preserved-inode hash (EBUSY check).
 * @token:      the user's token.
 * @error:      incoming: a final restore error (-EIO), or 0.
 * @args:       what the handler's operations see: its handler, the file
 *              (outgoing: the user's; incoming: the restored one, NULL
 *              until the first RETRIEVE_FD restores it), the reserved
 *              space, the size and the handler's state.
 */
struct luo_file {
	struct rb_node node;
	struct list_head list;
	struct hlist_node hnode;
	u64 token;
	int error;
	struct luo_file_args args;
};

int luo_file_preserve(struct list_head *files, struct rb_root *tokens,
		      u64 token, int fd);
struct file *luo_file_retrieve(struct rb_root *tokens, u64 token,
			       const char *session);
void luo_file_unpreserve(struct luo_file *lf);
void luo_file_unpreserve_all_unlocked(struct list_head *files);
void luo_file_drop_all(struct list_head *files, struct rb_root *tokens);
int luo_file_load(struct list_head *files, struct rb_root *tokens,
		  const struct luo_record *r);
int luo_file_serialize(struct luo_file *lf, struct luo_writer *w);
void luo_file_count(const struct list_head *files, u64 *nr, u64 *bytes);
void luo_file_exit(void);

/* --- session.c --------------------------------------------------------- */

struct file *luo_session_create(const char *name);
struct file *luo_session_retrieve(const char *name);
void luo_session_unretrieve(struct file *file);
int luo_session_build_incoming(const struct luo_image *img,
			       struct luo_verdict *v, u64 *nr_s, u64 *nr_f);
void luo_session_drop_incoming(void);
void luo_session_serialize_all(struct luo_writer *w, u64 *nr_s, u64 *nr_f);

/* --- range.c, ram.c ---------------------------------------------------- */

int luo_range_find(u64 *addr, u64 *size);
int luo_read_file(const char *path, char *buf, size_t len);

#endif /* _LIVEUPDATE_INTERNAL_H */
