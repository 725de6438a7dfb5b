// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdate: the base of the shmem-like file handlers (memfd.c, hugetlb.c).
 */

/**
 * DOC: shmem-like files
 *
 * memfd.c (shmem) and hugetlb.c (hugetlbfs) keep files of an in-memory
 * filesystem the same way; this base does it for both, and each handler
 * says what differs in its struct luo_shm_kind.
 *
 * While preserved the size is frozen, so the space reserved for the data at
 * PRESERVE_FD time stays right. Upstream has an inode flag for this that
 * shmem checks; stock kernels lack it, and the seals are the user's (a peer
 * may rely on them: the module never changes them). Instead the inode's
 * operations are switched to a copy of the filesystem's, made from the
 * first file of the kind preserved (modules cannot name its tables), whose
 * setattr (ftruncate, truncate) refuses any other size with EPERM. A kind
 * may switch the file operations as well (memfd.c: write and fallocate).
 *
 * Carried over: contents (holes stay holes), size, file position (sampled
 * at kexec), seals, and the name /proc shows ("memfd:NAME"). The pages go
 * through pages.h. Restore, at the first RETRIEVE_FD: a new file of the
 * same name and size (the kind makes it), pages_in.c fills it, and it gets the
 * seals and position. A restore stopped by a signal or a memory limit
 * resumes at the next RETRIEVE_FD.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/srcu.h>
#include <linux/string.h>
#include <linux/workqueue.h>

#include "handover_format.h"
#include "shmem_like.h"

#define LUO_SHM_SEALS		(F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | \
				 F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | \
				 F_SEAL_EXEC)

/* Callers inside luo_shm_setattr(), which unload waits for. */
DEFINE_STATIC_SRCU(luo_shm_srcu);
/* Runs unpreserves that found the inode lock busy (luo_shm_unpreserve()). */
static struct workqueue_struct *luo_shm_wq;

/**
 * struct luo_shm_out - an outgoing shmem-like file's state
 * @kind:       its handler.
 * @pages:      its pages (pages_out.c).
 * @reader:     a private read-only file of the inode, when the user's
 *              file cannot read (the commit may have to read swapped
 *              pages back), or NULL.
 * @punchable:  another file of the inode, opened for writing before
 *              PRESERVE_FD (any file, for a huge kind), can punch pinned
 *              pages out: room is reserved for every page.
 * @unpreserve: an unpreserve left to a worker (the inode lock was busy).
 * @file:       the file, held by that worker.
 */
struct luo_shm_out {
	struct luo_shm_kind *kind;
	struct luo_pages_out pages;
	struct file *reader;
	bool punchable;
	struct work_struct unpreserve;
	struct file *file;
};

static struct luo_shm_kind *luo_shm_kind(const struct luo_file_args *args)
{
	return container_of(args->handler, struct luo_shm_kind, handler);
}

/**
 * luo_shm_frozen() - whether an inode of a kind is preserved
 * @k:     the kind.
 * @inode: an inode of its filesystem.
 *
 * Return: true exactly while @inode has the kind's frozen inode operations.
 */
bool luo_shm_frozen(const struct luo_shm_kind *k, struct inode *inode)
{
	/* Pairs with the release in luo_shm_make_frozen_ops(). */
	const struct inode_operations *frozen = smp_load_acquire(&k->frozen_iops);

	return frozen && READ_ONCE(inode->i_op) == frozen;
}

/**
 * luo_shm_setattr() - the frozen inode operations' setattr
 * @k:      the kind whose copy was called.
 * @idmap:  as the filesystem's setattr.
 * @dentry: as the filesystem's setattr.
 * @attr:   as the filesystem's setattr.
 *
 * Return: -EPERM for another size of a preserved inode, else what the
 * filesystem's own setattr returns.
 */
int luo_shm_setattr(struct luo_shm_kind *k, LUO_IDMAP *idmap,
		    struct dentry *dentry, struct iattr *attr)
{
	struct inode *inode = d_inode(dentry);
	int idx, ret;

	idx = srcu_read_lock(&luo_shm_srcu);
	/* The caller holds i_rwsem: the size is stable. */
	if ((attr->ia_valid & ATTR_SIZE) && luo_shm_frozen(k, inode) &&
	    attr->ia_size != i_size_read(inode))
		ret = -EPERM;
	else
		ret = k->orig_iops->setattr(idmap, dentry, attr);
	srcu_read_unlock(&luo_shm_srcu, idx);
	return ret;
}

/* Makes the copies from the first file of the kind preserved. */
static int luo_shm_make_frozen_ops(struct luo_shm_kind *k, struct file *file)
{
	int (**setattr)(LUO_IDMAP *idmap, struct dentry *dentry,
			struct iattr *attr);
	static DEFINE_MUTEX(lock);
	struct inode *inode = file_inode(file);
	void *frozen;
	int ret;

	guard(mutex)(&lock);
	if (k->frozen_iops)
		return 0;
	if (!luo_shm_wq) {
		luo_shm_wq = alloc_workqueue("liveupdate_unpreserve", WQ_UNBOUND, 0);
		if (!luo_shm_wq)
			return -ENOMEM;
	}
	/* A copy made to be patched: written through its member's address. */
	frozen = kmemdup(inode->i_op, sizeof(*inode->i_op), GFP_KERNEL);
	if (!frozen)
		return -ENOMEM;
	ret = k->setup ? k->setup(file) : 0;
	if (ret) {
		kfree(frozen);
		return ret;
	}
	setattr = frozen + offsetof(typeof(*inode->i_op), setattr);
	*setattr = k->setattr;
	k->orig_iops = inode->i_op;
	/* Lockless readers see the copy only once it and the table are set. */
	smp_store_release(&k->frozen_iops, frozen);
	return 0;
}

/**
 * luo_shm_exit() - free what the base allocated for a kind, at module unload
 * @k: the kind.
 *
 * No file uses a copied file operations table any more: each holds a module
 * reference. No inode uses the copied inode operations: every preserved file
 * was unpreserved before the module could go. But a task may have loaded
 * the copy's setattr pointer just before its inode was unpreserved, and be
 * about to enter the kind's setattr (module text), be inside it (the
 * filesystem's setattr may sleep) or be leaving it. A tasks-RCU grace period
 * ends only once every task has passed a voluntary context switch or user
 * mode, which no task does between loading the pointer and srcu_read_lock(),
 * nor after srcu_read_unlock(); the SRCU grace period covers what lies
 * between.
 *
 * Context: module unload (the kind's handler's exit).
 */
void luo_shm_exit(struct luo_shm_kind *k)
{
	/* Each pending unpreserve holds a file, so the module: none is left. */
	if (luo_shm_wq) {
		destroy_workqueue(luo_shm_wq);
		luo_shm_wq = NULL;
	}
	if (!k->frozen_iops)
		return;
	synchronize_rcu_tasks();
	synchronize_srcu(&luo_shm_srcu);
	synchronize_rcu_tasks();
	kfree(k->frozen_iops);
	k->frozen_iops = NULL;
}

/* The name /proc shows ("memfd:NAME"); others are not carried. */
static u32 luo_shm_name(struct file *file, const char **name)
{
	const struct qstr *q = &file->f_path.dentry->d_name;

	*name = q->name;
	if (q->len < 6 || memcmp(q->name, "memfd:", 6))
		return 0;
	return min_t(u32, q->len, LUO_MEMFD_NAME_MAX);
}

/* Metadata a payload takes at most: header, name, an extent a page. */
static u64 luo_shm_meta(size_t hdr, u64 size, struct file *file)
{
	const char *name;

	return hdr + ALIGN(luo_shm_name(file, &name), LUO_HANDOVER_ALIGN) +
	       (DIV_ROUND_UP(size, LUO_PAGE_SIZE) + 1) *
	       sizeof(struct luo_memfd_extent);
}

/**
 * luo_shm_preserve() - the base's preserve
 * @args: the file.
 *
 * Freezes the size under the inode lock, pins the pages already in the
 * range (pages_out.c) and reserves room for the payload and the data.
 *
 * Return: 0, or -ENOMEM, -EBUSY (an unpreserve of the inode is still under
 * way), -EOPNOTSUPP (not the filesystem's own tables, or a seal the module
 * does not know), -EINTR, pages_out.c's error.
 */
static int luo_shm_preserve(struct luo_file_args *args)
{
	struct luo_shm_kind *k = luo_shm_kind(args);
	struct file *file = args->file;
	struct inode *inode = file_inode(file);
	struct file *reader __free(fput) = NULL;
	struct luo_shm_out *o __free(kfree) = NULL;
	int ret;

	o = kzalloc_obj(*o, GFP_KERNEL_ACCOUNT);
	if (!o)
		return -ENOMEM;
	/*
	 * The commit may read swapped-out bytes with kernel_read(). As
	 * upstream, a write-only fd is accepted: a private read-only file of
	 * the same inode (no permission check: the caller holds the file)
	 * reads them.
	 */
	if (!k->huge && !(file->f_mode & FMODE_READ)) {
		reader = dentry_open(&file->f_path, O_RDONLY | O_LARGEFILE,
				     file->f_cred);
		if (IS_ERR(reader))
			return PTR_ERR(no_free_ptr(reader));
	}
	ret = luo_shm_make_frozen_ops(k, file);
	if (ret)
		return ret;
	/* Still frozen: an unpreserve waits for the inode lock (a worker). */
	if (luo_shm_frozen(k, inode))
		return -EBUSY;
	/* Only the filesystem's own tables can be redirected. */
	if (inode->i_op != k->orig_iops ||
	    (k->frozen_fops && ((file->f_op != k->orig_fops &&
				 file->f_op != k->frozen_fops) ||
				inode->i_fop != k->orig_fops)))
		return -EOPNOTSUPP;

	/*
	 * Killable: a writer stalled on user memory can hold the lock for
	 * ever (inode_lock_killable() is not in every kernel we build for).
	 */
	if (down_write_killable(&inode->i_rwsem))
		return -EINTR;
	if (*k->seals(inode) & ~LUO_SHM_SEALS) {
		inode_unlock(inode);
		return -EOPNOTSUPP;
	}
	args->size = i_size_read(inode);
	/* Pins the pages already in the range; refuses a poisoned page. */
	ret = luo_pages_preserve(&o->pages, inode->i_mapping, args->size,
				 k->seals(inode), k->huge);
	if (ret) {
		inode_unlock(inode);
		return ret;
	}
	/* Under the lock truncate and write take: the size is now final. */
	WRITE_ONCE(inode->i_op, k->frozen_iops);
	if (k->frozen_fops)
		WRITE_ONCE(inode->i_fop, k->frozen_fops);
	/*
	 * Files of the inode opened from now on get the frozen operations.
	 * One opened for writing before (it takes write access before it
	 * reads i_fop, so it is counted here) keeps the filesystem's: it can
	 * punch pinned pages out and write new ones in their place, which the
	 * kexec then copies. memfd_create()'s own file does not count (a
	 * pseudo file: no FMODE_WRITER); one opened through /proc/self/fd
	 * does. Any fd of a huge kind can punch holes (its fallocate is the
	 * filesystem's): room for all.
	 */
	if (k->huge) {
		o->punchable = true;
	} else {
		/* i_fop is switched before i_writecount is read. */
		smp_mb();
		o->punchable = atomic_read(&inode->i_writecount) >
			       !!(file->f_mode & FMODE_WRITER);
	}
	inode_unlock(inode);

	/* For good: the copy passes through once the inode is unpreserved. */
	if (k->frozen_fops && file->f_op == k->orig_fops) {
		__module_get(THIS_MODULE);
		WRITE_ONCE(file->f_op, k->frozen_fops);
	}
	args->pages = luo_pages_room(&o->pages, o->punchable);
	args->meta = luo_shm_meta(k->ser_size, args->size, file);
	o->kind = k;
	o->reader = no_free_ptr(reader);
	args->priv = no_free_ptr(o);
	return 0;
}

/**
 * luo_shm_prepare() - move page work out of the kexec (pages_out.c: migrate=1,
 * precopy, a write-sealed file's copy)
 * @args: the file.
 */
static void luo_shm_prepare(struct luo_file_args *args)
{
	struct luo_shm_out *o = args->priv;

	luo_pages_prepare(&o->pages, args->file, o->punchable, &args->pages);
}

/* Lets the inode go (its lock held, dropped here) and frees @o. */
static void luo_shm_release_out(struct inode *inode, struct luo_shm_out *o)
{
	struct luo_shm_kind *k = o->kind;

	if (k->frozen_fops)
		WRITE_ONCE(inode->i_fop, k->orig_fops);
	WRITE_ONCE(inode->i_op, k->orig_iops);
	luo_pages_unpreserve(&o->pages, inode->i_mapping);
	inode_unlock(inode);
	if (o->reader)
		fput(o->reader);
	if (o->file)
		fput(o->file);
	kfree(o);
}

static void luo_shm_unpreserve_work(struct work_struct *work)
{
	struct luo_shm_out *o = container_of(work, struct luo_shm_out,
					     unpreserve);
	struct inode *inode = file_inode(o->file);

	inode_lock(inode);
	luo_shm_release_out(inode, o);
}

/**
 * luo_shm_unpreserve() - the base's unpreserve
 * @args: the file.
 *
 * Closing a session (or a PRESERVE_FD that failed late) must not wait for
 * the inode lock: a writer stalled on user memory (userfaultfd, FUSE) can
 * hold shmem's for ever, and close() cannot be interrupted. When the lock
 * is busy a worker lets the inode go once it is free; meanwhile the size
 * stays frozen and PRESERVE_FD of the inode gives EBUSY. hugetlbfs never
 * holds the inode lock across user memory: a huge kind waits for it.
 */
static void luo_shm_unpreserve(struct luo_file_args *args)
{
	struct inode *inode = file_inode(args->file);
	struct luo_shm_out *o = args->priv;

	args->priv = NULL;
	if (o->kind->huge) {
		inode_lock(inode);
		luo_shm_release_out(inode, o);
		return;
	}
	if (inode_trylock(inode)) {
		luo_shm_release_out(inode, o);
		return;
	}
	o->file = get_file(args->file);
	INIT_WORK(&o->unpreserve, luo_shm_unpreserve_work);
	queue_work(luo_shm_wq, &o->unpreserve);
}

/**
 * luo_shm_serialize() - the base's serialize: header, name, extents
 * @args: the file.
 * @w:    the commit's writer.
 *
 * Context: inside the kexec.
 * Return: 0, or -ENOSPC (the metadata is full), pages_out.c's error.
 */
static int luo_shm_serialize(struct luo_file_args *args, struct luo_writer *w)
{
	struct luo_shm_kind *k = luo_shm_kind(args);
	struct luo_shm_out *o = args->priv;
	struct file *file = args->file;
	struct inode *inode = file_inode(file);
	/* As frozen at PRESERVE_FD (an fd opened before can still grow it). */
	struct luo_shm_hdr h = { .size = args->size };
	const char *name;
	void *ser;
	char *np;
	int ret;

	h.name_len = luo_shm_name(file, &name);
	ser = luo_writer_add(w, k->ser_size);
	np = ser ? luo_writer_add(w, h.name_len) : NULL;
	if (!ser || (h.name_len && !np))
		return -ENOSPC;
	memcpy(np, name, h.name_len);
	h.pos = READ_ONCE(file->f_pos);
	h.seals = *k->seals(inode);
	/* The extents follow. */
	ret = luo_pages_serialize(&o->pages, o->reader ?: file, w,
				  &h.nr_extents);
	if (ret)
		return ret;
	k->fill(ser, &h, inode);
	return 0;
}

/* --- the next kernel ---------------------------------------------------- */

/**
 * luo_shm_load() - the base's load: copy, check and claim a payload
 * @args:    the file.
 * @payload: the payload in the handover.
 * @size:    its bytes.
 *
 * Return: 0, or -ENOMEM, or the check's error (nothing claimed).
 */
static int luo_shm_load(struct luo_file_args *args, const void *payload, u32 size)
{
	struct luo_shm_kind *k = luo_shm_kind(args);
	struct luo_shm_in *in __free(kfree) = kzalloc_obj(*in, GFP_KERNEL_ACCOUNT);
	void *copy __free(kfree) = NULL;
	int ret;

	if (!in)
		return -ENOMEM;
	copy = kmemdup(payload, size, GFP_KERNEL_ACCOUNT);
	if (!copy)
		return -ENOMEM;
	if (k->huge)
		ret = luo_hugetlb_parse(copy, size, luo_pages_range(), &in->m,
					&in->shift);
	else
		ret = luo_memfd_parse(copy, size, luo_pages_range(), &in->m);
	if (!ret)
		ret = luo_pages_load(&in->pages, in->m.ext, in->m.nr_extents,
				     in->m.size,
				     k->huge ? in->shift - PAGE_SHIFT : 0);
	if (ret)
		return ret;
	in->payload = no_free_ptr(copy);
	args->size = in->m.size;
	args->priv = no_free_ptr(in);
	return 0;
}

/**
 * luo_shm_restore_name() - the name a restored file gets
 * @name: set to "memfd:NAME" as carried, or "memfd:" if none was.
 * @m:    the checked payload.
 */
void luo_shm_restore_name(char name[LUO_MEMFD_NAME_MAX + 1],
			  const struct luo_memfd_payload *m)
{
	strscpy(name, "memfd:", LUO_MEMFD_NAME_MAX + 1);
	if (m->name_len) {
		memcpy(name, m->name, m->name_len);
		name[m->name_len] = 0;
	}
}

/**
 * luo_shm_retrieve() - the base's retrieve: a new file, filled by pages_in.c
 * @args: the file.
 *
 * Return: the restored file, or ERR_PTR: the kind's or pages_in.c's error
 * (-EIO: damaged data).
 */
static struct file *luo_shm_retrieve(struct luo_file_args *args)
{
	struct luo_shm_kind *k = luo_shm_kind(args);
	struct luo_shm_in *in = args->priv;
	struct file *file;
	int ret;

	/* Where an interrupted restore stopped, or a new file. */
	file = in->file ?: k->new_file(in);
	in->file = NULL;
	if (IS_ERR(file))
		return file;
	ret = luo_pages_restore(&in->pages, file);
	if (ret) {
		/*
		 * Resumable (a signal, a memory limit; pages given stay
		 * given): kept for the next call, which goes on. Else a copy
		 * starts over in a new file (huge pages go back to the pool).
		 */
		if (luo_pages_resumable(&in->pages))
			in->file = file;
		else
			fput(file);
		return ERR_PTR(ret);
	}
	/* Sealing stays allowed unless the user had F_SEAL_SEAL. */
	*k->seals(file_inode(file)) = in->m.seals;
	file->f_pos = in->m.pos;
	return file;
}

/**
 * luo_shm_drop() - the base's drop: forget what load kept
 * @args: the file.
 */
static void luo_shm_drop(struct luo_file_args *args)
{
	struct luo_shm_in *in = args->priv;

	if (!in)
		return;
	luo_pages_drop(&in->pages);
	if (in->file)
		fput(in->file);
	kfree(in->payload);
	kfree(in);
	args->priv = NULL;
}

/**
 * luo_shm_register() - register a shmem-like handler (module init)
 * @k: the kind: its handler's type, name, can_preserve (load_v1 and exit
 *     if it has them) and what differs; the base's operations are set here.
 *
 * Return: luo_file_register_handler()'s.
 */
int luo_shm_register(struct luo_shm_kind *k)
{
	struct luo_file_handler *h = &k->handler;

	h->preserve = luo_shm_preserve;
	h->prepare = luo_shm_prepare;
	h->unpreserve = luo_shm_unpreserve;
	h->serialize = luo_shm_serialize;
	h->load = luo_shm_load;
	h->retrieve = luo_shm_retrieve;
	h->drop = luo_shm_drop;
	return luo_file_register_handler(h);
}
