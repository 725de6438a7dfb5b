/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liveupdate: preserved files (file.c) for the sessions (session.c): the
 * core's record of a file and what a session asks of its files; the
 * handlers see handler.h only. Layers: docs/design.md.
 */
#ifndef _LIVEUPDATE_FILE_H
#define _LIVEUPDATE_FILE_H

#include <linux/fs.h>
#include <linux/list.h>
#include <linux/rbtree.h>
#include <linux/types.h>

#include "handler.h"
#include "handover_check.h"
#include "store.h"

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

#endif /* _LIVEUPDATE_FILE_H */
