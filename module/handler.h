/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liveupdate: the file handler API, what a file type's handler sees of the
 * core (file.c) and may call, as upstream's liveupdate_register_file_handler().
 *
 * A handler is one file: an ops table (struct luo_file_handler), a
 * registration function that hands it to luo_file_register_handler(), and
 * one line naming that function in handlers.c (module init registers them
 * in that order). file.c names no handler: it asks the registered ones.
 * A handler's operations see a file as struct luo_file_args, never the
 * core's struct luo_file; what they may call is declared here and in
 * pages.h (a file's pages), shmem_like.h (the base of shmem-like files).
 */
#ifndef _LIVEUPDATE_HANDLER_H
#define _LIVEUPDATE_HANDLER_H

#include <linux/fs.h>
#include <linux/list.h>
#include <linux/types.h>

struct luo_file_handler;
struct luo_ser_file;
struct luo_writer;

/**
 * struct luo_file_args - what a handler's operations see of a file
 * @handler: the handler (for a shared base: container_of() its own table).
 * @file:    outgoing: the user's file; incoming: unset.
 * @meta:    outgoing: metadata bytes the payload takes at most (set by
 *           @preserve; the core adds its record's).
 * @pages:   outgoing: data pages to reserve (set by @preserve, lowered by
 *           @prepare).
 * @size:    bytes of data, for introspection: the size frozen at preserve,
 *           or the one in the handover. Set by @preserve and @load.
 * @priv:    the handler's state.
 */
struct luo_file_args {
	struct luo_file_handler *handler;
	struct file *file;
	u64 meta;
	u64 pages;
	u64 size;
	void *priv;
};

/**
 * struct luo_file_handler - what a file type must provide
 * @type:         %LUO_FILE_TYPE_* stored in the handover.
 * @name:         for log messages.
 * @can_preserve: whether @file is of this type.
 * @preserve:     start preserving: freeze what must not change and set
 *                meta, pages and size. Everything that can fail fails here.
 * @prepare:      optional, after the space was reserved and before the
 *                commit can see the file, no lock held: move work out of
 *                the kexec.
 * @unpreserve:   undo @preserve (and @prepare) exactly.
 * @serialize:    inside the kexec: write the payload with luo_writer_add()
 *                and put the data in the range. An error drops the file
 *                (logged), never the handover.
 * @load:         in the next kernel: check a format 2 payload, claim its
 *                pages, keep what restoring needs in priv and set size.
 * @load_v1:      optional: the same for a format 1 record and its data
 *                (format 1 carried only shmem memfds; without it such a
 *                record is refused with -EINVAL).
 * @retrieve:     build the file from what @load kept. May fail for a while
 *                (a signal, a memory cgroup's limit): it is called again at
 *                the next retrieve. -EIO (damaged data) is final.
 * @drop:         forget what @load kept, giving back unused range pages.
 * @exit:         optional, at module unload once every file is gone: free
 *                what the handler allocated.
 * @list:         the core's: entry in the registered handlers.
 */
struct luo_file_handler {
	u32 type;
	const char *name;
	bool (*can_preserve)(struct file *file);
	int (*preserve)(struct luo_file_args *args);
	void (*prepare)(struct luo_file_args *args);
	void (*unpreserve)(struct luo_file_args *args);
	int (*serialize)(struct luo_file_args *args, struct luo_writer *w);
	int (*load)(struct luo_file_args *args, const void *payload, u32 size);
	int (*load_v1)(struct luo_file_args *args,
		       const struct luo_ser_file *ser);
	struct file *(*retrieve)(struct luo_file_args *args);
	void (*drop)(struct luo_file_args *args);
	void (*exit)(void);
	struct list_head list;
};

/* file.c: the registry. */
int luo_file_register_handler(struct luo_file_handler *h);

/* store.c: the commit's metadata, for @serialize. */
void *luo_writer_add(struct luo_writer *w, u64 len);

/*
 * The handlers' registration functions, which handlers.c calls at module
 * init: a new handler adds its line here and there.
 */
int luo_memfd_register(void);
int luo_hugetlb_register(void);

/* handlers.c: registers every handler (module init). */
int luo_handlers_init(void);

#endif /* _LIVEUPDATE_HANDLER_H */
