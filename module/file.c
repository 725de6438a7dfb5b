// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdate: preserved files inside a session.
 */

/**
 * DOC: Preserved files
 *
 * PRESERVE_FD puts a file into an outgoing session under a 64-bit token that
 * is unique within the session. A registered handler for the file's type
 * (handlers.c: memfd and hugetlb today) freezes whatever must not change until the kexec and tells
 * how many bytes the file needs in the handover; that space is reserved at once, so a
 * full range fails here with ENOSPC rather than losing data at kexec. The
 * session holds a reference on the file until it is unpreserved (session
 * closed) or handed over.
 *
 * A file (more exactly its inode) can be preserved once across all sessions;
 * a second attempt gives EBUSY.
 *
 * At kexec each file's record is the common part (token, handler type,
 * payload size) and a payload only its handler reads.
 *
 * In the next kernel a handed-over file is restored from the reserved range
 * at its first RETRIEVE_FD; later calls return new fds of the same file. If
 * restoring fails (the caller got a signal, its memory cgroup is full), the
 * call returns the error and the data stays in the range: the next
 * RETRIEVE_FD, from this process or another, tries again. Data that fails
 * its checksum is final: EIO, now and later.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/hash.h>
#include <linux/hashtable.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "compat.h"
#include "file.h"
#include "lock.h"
#include "store.h"

/* Registered handlers (luo_file_register_handler()), asked in order. */
static LIST_HEAD(luo_file_handlers);

#define LUO_PRESERVED_HASH_BITS	8

/*
 * Inodes preserved in any outgoing session, and retrieved incoming files
 * whose session is not finished (as upstream): the EBUSY rule. A leaf lock,
 * since outgoing files change under luo_lock and incoming ones under their
 * session's mutex.
 */
static DEFINE_HASHTABLE(luo_preserved, LUO_PRESERVED_HASH_BITS);
static DEFINE_SPINLOCK(luo_preserved_lock);

/* Adds @lf for @inode unless the inode is there already: true if added. */
static bool luo_preserved_claim(struct luo_file *lf, struct inode *inode)
{
	struct luo_file *cur;

	guard(spinlock)(&luo_preserved_lock);
	hash_for_each_possible(luo_preserved, cur, hnode, (unsigned long)inode)
		if (file_inode(cur->args.file) == inode)
			return false;
	hash_add(luo_preserved, &lf->hnode, (unsigned long)inode);
	return true;
}

static void luo_preserved_drop(struct luo_file *lf)
{
	guard(spinlock)(&luo_preserved_lock);
	if (hash_hashed(&lf->hnode))
		hlist_del_init(&lf->hnode);
}

static struct luo_file *luo_file_find(struct rb_root *tokens, u64 token)
{
	struct rb_node *n = tokens->rb_node;

	while (n) {
		struct luo_file *lf = rb_entry(n, struct luo_file, node);

		if (token < lf->token)
			n = n->rb_left;
		else if (token > lf->token)
			n = n->rb_right;
		else
			return lf;
	}
	return NULL;
}

/* Adds @lf under its token: 0, or -EEXIST if the token is taken. */
static int luo_file_insert(struct rb_root *tokens, struct luo_file *lf)
{
	struct rb_node **link = &tokens->rb_node, *parent = NULL;

	while (*link) {
		struct luo_file *cur = rb_entry(*link, struct luo_file, node);

		parent = *link;
		if (lf->token < cur->token)
			link = &parent->rb_left;
		else if (lf->token > cur->token)
			link = &parent->rb_right;
		else
			return -EEXIST;
	}
	rb_link_node(&lf->node, parent, link);
	rb_insert_color(&lf->node, tokens);
	return 0;
}

static struct luo_file_handler *luo_file_find_handler(struct file *file)
{
	struct luo_file_handler *h;

	list_for_each_entry(h, &luo_file_handlers, list)
		if (h->can_preserve(file))
			return h;
	return NULL;
}

static struct luo_file_handler *luo_file_handler_by_type(u32 type)
{
	struct luo_file_handler *h;

	list_for_each_entry(h, &luo_file_handlers, list)
		if (h->type == type)
			return h;
	return NULL;
}

/**
 * luo_file_register_handler() - make a file type preservable
 * @h: the handler's ops table; it stays registered until module unload.
 *
 * Context: module init, before /dev/liveupdate exists (the list is not
 * locked: nothing reads it yet).
 * Return: 0, or -EINVAL (an operation missing) or -EEXIST (its type is
 * registered already).
 */
int luo_file_register_handler(struct luo_file_handler *h)
{
	if (!h->can_preserve || !h->preserve || !h->unpreserve ||
	    !h->serialize || !h->load || !h->retrieve || !h->drop)
		return -EINVAL;
	if (luo_file_handler_by_type(h->type))
		return -EEXIST;
	list_add_tail(&h->list, &luo_file_handlers);
	return 0;
}

/* Metadata a file's common record takes (its payload is the handler's). */
static u64 luo_file_record_cost(void)
{
	return sizeof(struct luo_ser_file_v2);
}

/**
 * luo_file_preserve() - LIVEUPDATE_SESSION_PRESERVE_FD
 * @files:  an outgoing session's file list (preservation order).
 * @tokens: the same session's files by token.
 * @token:  the user's token.
 * @fd:     the file to preserve.
 *
 * Takes luo_lock to claim the token and the inode, and again to reserve the
 * space, but not around the handler's preserve: that waits for the file's
 * inode lock, which a writer stalled on user memory (userfaultfd) can hold
 * for as long as it likes. Meanwhile the claimed token and inode give
 * EEXIST and EBUSY, and the commit does not see the file (it is not on the
 * session's list yet).
 *
 * Return: 0, or -EEXIST (token in use), -EBADF, -ENOENT (no handler),
 * -EBUSY (already preserved), -ENOSPC (handover full), a handler's error
 * (-EINTR if killed while waiting), -ENOMEM.
 */
int luo_file_preserve(struct list_head *files, struct rb_root *tokens,
		      u64 token, int fd)
{
	struct file *file __free(fput) = NULL;
	struct luo_file_handler *handler;
	struct luo_file *lf;
	int ret;

	lockdep_assert_not_held(&luo_lock);
	/* Kernel memory on behalf of the caller: charged to its cgroup. */
	lf = kzalloc_obj(*lf, GFP_KERNEL_ACCOUNT);
	if (!lf)
		return -ENOMEM;

	scoped_guard(mutex, &luo_lock) {
		ret = -EEXIST;
		if (luo_file_find(tokens, token))
			break;
		ret = -EBADF;
		file = fget(fd);
		if (!file)
			break;
		ret = -ENOENT;
		handler = luo_file_find_handler(file);
		if (!handler)
			break;
		/* Claim the inode and the token. */
		lf->args.file = file;
		ret = -EBUSY;
		if (!luo_preserved_claim(lf, file_inode(file)))
			break;
		lf->token = token;
		lf->args.handler = handler;
		luo_file_insert(tokens, lf);
		ret = 0;
	}
	if (ret) {
		kfree(lf);
		return ret;
	}

	ret = handler->preserve(&lf->args);
	if (!ret) {
		lf->args.meta += luo_file_record_cost();
		scoped_guard(mutex, &luo_lock)
			ret = luo_store_reserve(lf->args.meta, lf->args.pages);
		if (!ret) {
			/* Work that may move out of the kexec, before the commit sees it. */
			if (handler->prepare)
				handler->prepare(&lf->args);
			scoped_guard(mutex, &luo_lock) {
				/*
				 * The commit ran meanwhile: it did not see this
				 * file, so say so rather than 0.
				 */
				if (luo_store_committed()) {
					luo_store_unreserve(lf->args.meta, lf->args.pages);
					ret = -EBUSY;
				} else {
					list_add_tail(&lf->list, files);
				}
			}
			if (!ret) {
				lf->args.file = no_free_ptr(file);
				return 0;
			}
		}
		handler->unpreserve(&lf->args);
	}
	scoped_guard(mutex, &luo_lock) {
		rb_erase(&lf->node, tokens);
		luo_preserved_drop(lf);
	}
	kfree(lf);
	return ret;
}

/**
 * luo_file_unpreserve() - undo one PRESERVE_FD, for a session being freed
 * @lf: the file, already off its session's list and tree, so nothing else
 *      can reach it.
 *
 * Unpreserved before it leaves the preserved-inode hash, so no other
 * session can preserve its inode until the handler let go of it.
 */
void luo_file_unpreserve(struct luo_file *lf)
{
	lockdep_assert_not_held(&luo_lock);
	lf->args.handler->unpreserve(&lf->args);
	scoped_guard(mutex, &luo_lock) {
		luo_preserved_drop(lf);
		luo_store_unreserve(lf->args.meta, lf->args.pages);
	}
	fput(lf->args.file);
	kfree(lf);
}

/**
 * luo_file_unpreserve_all_unlocked() - undo every PRESERVE_FD of a session
 * @files: the file list of an outgoing session already taken off the
 *         outgoing list (so the commit and PRESERVE_FD cannot see it).
 *
 * A session can hold tens of thousands of files: luo_lock is taken only
 * around each file's bookkeeping, and the loop reschedules.
 */
void luo_file_unpreserve_all_unlocked(struct list_head *files)
{
	struct luo_file *lf, *tmp;

	list_for_each_entry_safe(lf, tmp, files, list) {
		list_del(&lf->list);
		luo_file_unpreserve(lf);
		cond_resched();
	}
}

/**
 * luo_file_serialize() - write one outgoing file's record, inside the kexec
 * @lf: the file.
 * @w:  the metadata writer.
 *
 * Caller holds luo_lock.
 *
 * Return: 0, or the handler's error: the file is not handed over and the
 * writer is where it was.
 */
int luo_file_serialize(struct luo_file *lf, struct luo_writer *w)
{
	struct luo_ser_file_v2 *rec;
	u64 start = w->off;
	int ret;

	lockdep_assert_held(&luo_lock);
	rec = luo_writer_add(w, sizeof(*rec));
	if (!rec)
		return -ENOSPC;
	ret = lf->args.handler->serialize(&lf->args, w);
	if (ret) {
		w->off = start;
		return ret;
	}
	rec->token = cpu_to_le64(lf->token);
	rec->type = cpu_to_le32(lf->args.handler->type);
	rec->payload_size = cpu_to_le32(w->off - start - sizeof(*rec));
	return 0;
}

/**
 * luo_file_count() - how many files a session holds and their bytes
 * @files: an outgoing session's file list (caller holds luo_lock), or an
 *         incoming one's (caller holds its session's mutex).
 * @nr:    set to the number of files.
 * @bytes: set to the sum of their sizes (&struct luo_file.size).
 */
void luo_file_count(const struct list_head *files, u64 *nr, u64 *bytes)
{
	const struct luo_file *lf;

	*nr = 0;
	*bytes = 0;
	list_for_each_entry(lf, files, list) {
		(*nr)++;
		*bytes += lf->args.size;
	}
}

/**
 * luo_file_retrieve() - the file behind a token, for LIVEUPDATE_SESSION_RETRIEVE_FD
 * @tokens:  a retrieved, unfinished incoming session's files by token.
 * @token:   the token the file was preserved under.
 * @session: the session's name, for the log.
 *
 * Restores the file at the first call. A failure is not remembered, but
 * for damaged data (-EIO): the next call tries again.
 *
 * Caller holds the session's mutex.
 *
 * Return: the file with a new reference the caller owns, ERR_PTR(-ENOENT)
 * (unknown token), or the error restoring the file gave.
 */
struct file *luo_file_retrieve(struct rb_root *tokens, u64 token,
			       const char *session)
{
	struct luo_file *lf = luo_file_find(tokens, token);
	struct file *file;

	if (!lf)
		return ERR_PTR(-ENOENT);
	if (lf->error)
		return ERR_PTR(lf->error);
	if (!lf->args.file) {
		file = lf->args.handler->retrieve(&lf->args);
		if (IS_ERR(file)) {
			if (PTR_ERR(file) == -EIO) {
				pr_err("session '%s' token %llu: the %s's data in the handover is damaged (checksum mismatch); it cannot be restored\n",
				       session, lf->token, lf->args.handler->name);
				lf->error = -EIO;
				lf->args.handler->drop(&lf->args);
			} else {
				pr_warn("session '%s' token %llu: restoring the %s failed (%ld); it stays in the handover for the next retrieve\n",
					session, lf->token, lf->args.handler->name,
					PTR_ERR(file));
			}
			return file;
		}
		lf->args.file = file;
	}
	/*
	 * As upstream: a retrieved file counts as preserved until its session
	 * is finished, so preserving it again before that gives EBUSY. The
	 * first retrieve adds it, before any fd of it exists.
	 */
	if (!hash_hashed(&lf->hnode))
		luo_preserved_claim(lf, file_inode(lf->args.file));
	return get_file(lf->args.file);
}

/**
 * luo_file_drop_all() - forget an incoming session's files
 * @files:  its file list.
 * @tokens: its files by token.
 *
 * Files already retrieved live on in their fds; the range pages of files
 * never retrieved are free again.
 */
void luo_file_drop_all(struct list_head *files, struct rb_root *tokens)
{
	struct luo_file *lf, *tmp;

	list_for_each_entry_safe(lf, tmp, files, list) {
		luo_preserved_drop(lf);
		rb_erase(&lf->node, tokens);
		list_del(&lf->list);
		if (!lf->error)
			lf->args.handler->drop(&lf->args);
		if (lf->args.file)
			fput(lf->args.file);
		kfree(lf);
		cond_resched();
	}
}

/**
 * luo_file_load() - record one handed-over file in its session
 * @files:  the incoming session's file list.
 * @tokens: its files by token.
 * @r:      the file's record, from a checked image.
 *
 * The handler checks its payload and claims its pages; nothing is restored
 * yet: that happens at the file's first retrieve.
 *
 * Caller holds luo_lock.
 *
 * Return: 0, or -ENOMEM, -EEXIST (the token is taken), -EINVAL (unknown
 * type or a payload its handler refuses).
 */
int luo_file_load(struct list_head *files, struct rb_root *tokens,
		  const struct luo_record *r)
{
	struct luo_file_handler *handler;
	struct luo_file *lf;
	int ret;

	handler = luo_file_handler_by_type(r->type);
	if (!handler)
		return -EINVAL;
	/* Charged to the opener that loads the handover. */
	lf = kzalloc_obj(*lf, GFP_KERNEL_ACCOUNT);
	if (!lf)
		return -ENOMEM;
	lf->token = r->token;
	lf->args.handler = handler;
	if (luo_file_find(tokens, lf->token)) {
		kfree(lf);
		return -EEXIST;
	}
	if (r->v1)
		ret = handler->load_v1 ? handler->load_v1(&lf->args, r->v1) :
					 -EINVAL;
	else
		ret = handler->load(&lf->args, r->payload, r->payload_size);
	if (ret) {
		kfree(lf);
		return ret;
	}
	luo_file_insert(tokens, lf);
	list_add_tail(&lf->list, files);
	return 0;
}

/**
 * luo_file_exit() - at module unload, after every file is gone: each
 * registered handler frees what it allocated and is let go
 */
void luo_file_exit(void)
{
	struct luo_file_handler *h, *tmp;

	list_for_each_entry_safe(h, tmp, &luo_file_handlers, list) {
		list_del(&h->list);
		if (h->exit)
			h->exit();
	}
}
