// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdate: preserved files inside a session.
 */

/**
 * DOC: Preserved files
 *
 * PRESERVE_FD puts a file into an outgoing session under a 64-bit token that
 * is unique within the session. A handler for the file's type (only memfd
 * today) freezes whatever must not change until the kexec and tells how many
 * bytes the file needs in the handover; that space is reserved at once, so a
 * full range fails here with ENOSPC rather than losing data at kexec. The
 * session holds a reference on the file until it is unpreserved (session
 * closed) or handed over.
 *
 * A file (more exactly its inode) can be preserved once across all sessions;
 * a second attempt gives EBUSY.
 *
 * In the next kernel a handed-over file is restored from the reserved range
 * at its first RETRIEVE_FD; later calls return new fds of the same file. If
 * restoring fails (the caller got a signal, its memory cgroup is full), the
 * call returns the error and the bytes stay in the range: the next
 * RETRIEVE_FD, from this process or another, tries again. Until the session
 * is finished nothing else is written to the range before the kexec.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/hash.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "handover_check.h"
#include "internal.h"

static const struct luo_file_handler *const luo_file_handlers[] = {
	&luo_memfd_handler,
};

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
		if (file_inode(cur->file) == inode)
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

static struct luo_file *luo_file_find(struct luo_session *session, u64 token)
{
	struct rb_node *n = session->files.rb_node;

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
static int luo_file_insert(struct luo_session *session, struct luo_file *lf)
{
	struct rb_node **link = &session->files.rb_node, *parent = NULL;

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
	rb_insert_color(&lf->node, &session->files);
	return 0;
}

static const struct luo_file_handler *luo_file_find_handler(struct file *file)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(luo_file_handlers); i++)
		if (luo_file_handlers[i]->can_preserve(file))
			return luo_file_handlers[i];
	return NULL;
}

/**
 * luo_file_handler_by_type() - the handler for a handover file type
 * @type: %LUO_FILE_TYPE_*.
 *
 * Return: the handler, or NULL if this module does not know @type.
 */
const struct luo_file_handler *luo_file_handler_by_type(u32 type)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(luo_file_handlers); i++)
		if (luo_file_handlers[i]->type == type)
			return luo_file_handlers[i];
	return NULL;
}

/**
 * luo_file_validate_record() - whether a file record suits its handler
 * @f: the record, in a copy of the handover's metadata.
 *
 * Return: 0, -ENOENT if no handler takes its type, or the handler's error.
 */
int luo_file_validate_record(const struct luo_ser_file *f)
{
	const struct luo_file_handler *h;

	h = luo_file_handler_by_type(le32_to_cpu(f->type));
	if (!h)
		return -ENOENT;
	return h->validate(f);
}

/**
 * luo_file_preserve() - LIVEUPDATE_SESSION_PRESERVE_FD
 * @session: an outgoing session.
 * @token:   the user's token.
 * @fd:      the file to preserve.
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
int luo_file_preserve(struct luo_session *session, u64 token, int fd)
{
	struct file *file __free(fput) = NULL;
	const struct luo_file_handler *handler;
	struct luo_file *lf;
	int ret;

	lockdep_assert_not_held(&luo_lock);
	/* Kernel memory on behalf of the caller: charged to its cgroup. */
	lf = kzalloc_obj(*lf, GFP_KERNEL_ACCOUNT);
	if (!lf)
		return -ENOMEM;

	scoped_guard(mutex, &luo_lock) {
		ret = -EEXIST;
		if (luo_file_find(session, token))
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
		lf->file = file;
		ret = -EBUSY;
		if (!luo_preserved_claim(lf, file_inode(file)))
			break;
		lf->token = token;
		lf->handler = handler;
		luo_file_insert(session, lf);
		ret = 0;
	}
	if (ret) {
		kfree(lf);
		return ret;
	}

	ret = handler->preserve(lf);
	if (!ret) {
		lf->reserved = luo_file_cost(lf->data_size);
		scoped_guard(mutex, &luo_lock) {
			ret = luo_handover_reserve(lf->reserved);
			if (!ret) {
				list_add_tail(&lf->list, &session->file_list);
				session->nr_files++;
			}
		}
		if (!ret) {
			lf->file = no_free_ptr(file);
			return 0;
		}
		handler->unpreserve(lf);
	}
	scoped_guard(mutex, &luo_lock) {
		rb_erase(&lf->node, &session->files);
		luo_preserved_drop(lf);
	}
	kfree(lf);
	return ret;
}

/* Forgets one outgoing file; the caller unpreserved it and holds luo_lock. */
static void luo_file_forget(struct luo_session *session, struct luo_file *lf)
{
	luo_preserved_drop(lf);
	luo_handover_unreserve(lf->reserved);
	rb_erase(&lf->node, &session->files);
	list_del(&lf->list);
	session->nr_files--;
}

/**
 * luo_file_unpreserve_all() - undo every PRESERVE_FD of an outgoing session
 * @session: the session, about to be freed.
 *
 * Caller holds luo_lock.
 */
void luo_file_unpreserve_all(struct luo_session *session)
{
	struct luo_file *lf, *tmp;

	list_for_each_entry_safe(lf, tmp, &session->file_list, list) {
		lf->handler->unpreserve(lf);
		luo_file_forget(session, lf);
		fput(lf->file);
		kfree(lf);
	}
}

/**
 * luo_file_unpreserve_all_unlocked() - the same for a session nobody can reach
 * @session: an outgoing session already taken off the outgoing list (so the
 *           commit and PRESERVE_FD cannot see it), about to be freed.
 *
 * A session can hold tens of thousands of files: luo_lock is taken only
 * around each file's bookkeeping, and the loop reschedules. Each file is
 * unpreserved before it leaves the preserved-inode hash, so no other
 * session can preserve its inode until its operations are shmem's again.
 */
void luo_file_unpreserve_all_unlocked(struct luo_session *session)
{
	struct luo_file *lf, *tmp;

	lockdep_assert_not_held(&luo_lock);
	list_for_each_entry_safe(lf, tmp, &session->file_list, list) {
		lf->handler->unpreserve(lf);
		scoped_guard(mutex, &luo_lock)
			luo_file_forget(session, lf);
		fput(lf->file);
		kfree(lf);
		cond_resched();
	}
}

/**
 * luo_file_retrieve() - the file behind a token, for LIVEUPDATE_SESSION_RETRIEVE_FD
 * @session:  a retrieved incoming session that is not finished.
 * @token:    the token the file was preserved under.
 *
 * Restores the file at the first call. A failure is not remembered: the
 * next call tries again.
 *
 * Caller holds session->mutex.
 *
 * Return: the file with a new reference the caller owns, ERR_PTR(-ENOENT)
 * (unknown token), or the error restoring the file gave.
 */
struct file *luo_file_retrieve(struct luo_session *session, u64 token)
{
	struct luo_file *lf = luo_file_find(session, token);
	struct file *file;

	lockdep_assert_held(&session->mutex);
	if (!lf)
		return ERR_PTR(-ENOENT);
	if (!lf->file) {
		file = lf->handler->restore(&lf->ser, lf->data);
		if (IS_ERR(file)) {
			pr_warn("session '%s' token %llu: restoring the %s failed (%ld); it stays in the handover for the next retrieve\n",
				session->name, lf->token, lf->handler->name,
				PTR_ERR(file));
			return file;
		}
		lf->file = file;
	}
	/*
	 * As upstream: a retrieved file counts as preserved until its session
	 * is finished, so preserving it again before that gives EBUSY. The
	 * first retrieve adds it, before any fd of it exists.
	 */
	if (!hash_hashed(&lf->hnode))
		luo_preserved_claim(lf, file_inode(lf->file));
	return get_file(lf->file);
}

/**
 * luo_file_drop_all() - forget an incoming session's files
 * @session: the session; files already retrieved live on in their fds.
 *
 * Caller holds luo_lock.
 */
void luo_file_drop_all(struct luo_session *session)
{
	struct luo_file *lf, *tmp;

	list_for_each_entry_safe(lf, tmp, &session->file_list, list) {
		luo_preserved_drop(lf);
		rb_erase(&lf->node, &session->files);
		list_del(&lf->list);
		if (lf->file)
			fput(lf->file);
		kfree(lf);
		cond_resched();
	}
	session->nr_files = 0;
}

/**
 * luo_file_add_incoming() - record one handed-over file in its session
 * @session: the incoming session.
 * @ser:     the validated file record.
 * @data:    its validated data, in the reserved range.
 *
 * Nothing is restored yet: that happens at the file's first retrieve.
 *
 * Caller holds luo_lock.
 *
 * Return: 0, or -ENOMEM / -EEXIST (the token is taken) / -EINVAL.
 */
int luo_file_add_incoming(struct luo_session *session,
			  const struct luo_ser_file *ser, const void *data)
{
	const struct luo_file_handler *handler;
	struct luo_file *lf;
	int ret;

	handler = luo_file_handler_by_type(le32_to_cpu(ser->type));
	if (!handler)
		return -EINVAL;
	/* Charged to the opener that loads the handover. */
	lf = kzalloc_obj(*lf, GFP_KERNEL_ACCOUNT);
	if (!lf)
		return -ENOMEM;
	lf->token = le64_to_cpu(ser->token);
	lf->handler = handler;
	lf->ser = *ser;
	lf->data = data;

	ret = luo_file_insert(session, lf);
	if (ret) {
		kfree(lf);
		return ret;
	}
	list_add_tail(&lf->list, &session->file_list);
	session->nr_files++;
	return 0;
}
