// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdate: the memfd file handler.
 */

/**
 * DOC: memfd handler
 *
 * Accepts unlinked shmem files: memfd_create() and O_TMPFILE on tmpfs.
 * Linked tmpfs files are refused (ENOENT), as upstream; hugetlb memfds are
 * hugetlb.c's.
 *
 * Carried over: contents (holes stay holes), size, file position (sampled at
 * kexec) and seals. Not carried: name, inode number, owner, mode.
 *
 * While preserved the size is frozen, so the space reserved for the data at
 * PRESERVE_FD time stays right. Upstream has an inode flag for this that
 * shmem checks; stock kernels lack it, and the seals are the user's (a peer
 * may rely on them: the module never changes them). Instead the inode's
 * operations and file operations are switched to copies of shmem's, made
 * from the first memfd preserved (modules cannot name shmem's tables):
 *
 *  - setattr (ftruncate, truncate) refuses any other size with EPERM;
 *  - write_iter refuses to grow the file with EPERM, chunk by chunk as
 *    shmem does under F_SEAL_GROW on the running kernel (a write across EOF
 *    writes up to the last chunk boundary it can and returns that short
 *    count; the chunk is the mapping's largest folio);
 *  - fallocate refuses every mode with EPERM (EOPNOTSUPP for a mode shmem
 *    does not support), as upstream.
 *
 * The preserved file, and every file opened on the inode while it is
 * preserved (through /proc/self/fd), uses the copied file operations, which
 * pass everything through to shmem once the inode is no longer preserved
 * (its inode operations are shmem's again then). Such a file holds a
 * reference on the module, so the module code it points to stays. Files of
 * the inode opened before PRESERVE_FD (other than the preserved file and its
 * dups) keep shmem's file operations: through them only the size change by
 * truncation is refused.
 *
 * Pages: pages.c keeps them (pinning those already in the range, the
 * extents, migrate=1, the copy or zero-copy restore): this handler only
 * tells it the file's page cache and size, and when.
 *
 * Restore, at the first RETRIEVE_FD: a new memfd of the same name and size
 * is made, pages.c fills it, and it gets the seals and position. A restore
 * stopped by a signal or a memory limit resumes at the next RETRIEVE_FD.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/falloc.h>
#include <linux/mman.h>
#include <linux/pagemap.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/srcu.h>
#include <linux/string.h>
#include <linux/uio.h>
#include <linux/workqueue.h>

#include "memfd.h"

#define LUO_MEMFD_SEALS		(F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | \
				 F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | \
				 F_SEAL_EXEC)

/*
 * shmem's operations and the copies that freeze the size. Set once, under
 * luo_lock, at the first PRESERVE_FD of a memfd; freed at module unload.
 */
static const struct file_operations *luo_shmem_fops;
static const struct inode_operations *luo_shmem_iops;
/* checkpatch wants ops tables const; a copy made to be patched cannot be. */
static struct { struct file_operations f; struct inode_operations i; } *luo_frozen;
/* Runs unpreserves that found the inode lock busy (luo_memfd_unpreserve()). */
static struct workqueue_struct *luo_memfd_wq;

/* The inode is preserved exactly while it has the frozen inode operations. */
static bool luo_memfd_frozen(struct inode *inode)
{
	return READ_ONCE(inode->i_op) == &luo_frozen->i;
}

/* Callers inside luo_memfd_setattr(), which unload waits for. */
DEFINE_STATIC_SRCU(luo_memfd_srcu);

static int luo_memfd_setattr(LUO_IDMAP *idmap, struct dentry *dentry,
			     struct iattr *attr)
{
	struct inode *inode = d_inode(dentry);
	int idx, ret;

	idx = srcu_read_lock(&luo_memfd_srcu);
	/* The caller holds i_rwsem: the size is stable. */
	if ((attr->ia_valid & ATTR_SIZE) && luo_memfd_frozen(inode) &&
	    attr->ia_size != i_size_read(inode))
		ret = -EPERM;
	else
		ret = luo_shmem_iops->setattr(idmap, dentry, attr);
	srcu_read_unlock(&luo_memfd_srcu, idx);
	return ret;
}

/*
 * How this kernel writes a grow-sealed shmem file across EOF: in chunks of
 * the mapping's largest folio, refusing the chunk that would grow it (6.12,
 * 7.2: 0 here, use mapping_max_folio_size()), or page by page (6.1:
 * PAGE_SIZE). Asked of the kernel itself once, on a private shmem file.
 */
static size_t luo_grow_chunk;

static void luo_memfd_probe_grow_chunk(void)
{
	struct file *f = luo_shmem_file_setup("luo-probe", 2 * PAGE_SIZE);
	loff_t pos = 2 * PAGE_SIZE - 2;
	char buf[4] = { 0 };
	ssize_t n;

	luo_grow_chunk = PAGE_SIZE;
	if (IS_ERR(f))
		return;
	/* Our own file: its seals are ours to set. */
	SHMEM_I(file_inode(f))->seals |= F_SEAL_GROW;
	n = kernel_write(f, buf, sizeof(buf), &pos);
	if (n == -EPERM)
		luo_grow_chunk = 0;
	fput(f);
}

static ssize_t luo_memfd_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct inode *inode = file_inode(iocb->ki_filp);
	size_t count = iov_iter_count(from), cut, chunk;
	loff_t size, pos, first_end, end;
	ssize_t ret;

	if (!count || !luo_memfd_frozen(inode))
		return luo_shmem_fops->write_iter(iocb, from);
	/* Nothing changes the size of a frozen inode. */
	size = i_size_read(inode);
	pos = iocb->ki_flags & IOCB_APPEND ? size : iocb->ki_pos;
	if (pos + count <= size)
		return luo_shmem_fops->write_iter(iocb, from);
	/*
	 * As shmem under F_SEAL_GROW on this kernel: the write goes in chunks
	 * (luo_grow_chunk), the first up to a chunk boundary, and the first
	 * chunk that would grow the file is refused.
	 */
	chunk = luo_grow_chunk ?: mapping_max_folio_size(inode->i_mapping);
	first_end = min_t(loff_t, round_down(pos, chunk) + chunk, pos + count);
	if (first_end > size)
		return -EPERM;
	end = max_t(loff_t, first_end, round_down(size, chunk));
	cut = count - (end - pos);
	iov_iter_truncate(from, end - pos);
	ret = luo_shmem_fops->write_iter(iocb, from);
	iov_iter_reexpand(from, iov_iter_count(from) + cut);
	return ret;
}

static long luo_memfd_fallocate(struct file *file, int mode, loff_t offset,
				loff_t len)
{
	if (luo_memfd_frozen(file_inode(file))) {
		/* As shmem: a mode it does not support is refused first. */
		if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE))
			return -EOPNOTSUPP;
		return -EPERM;
	}
	return luo_shmem_fops->fallocate(file, mode, offset, len);
}

/* Makes the copies from the first memfd preserved. */
static int luo_memfd_make_frozen_ops(struct file *file)
{
	static DEFINE_MUTEX(lock);
	struct inode *inode = file_inode(file);
	typeof(luo_frozen) frozen;

	guard(mutex)(&lock);
	if (luo_frozen)
		return 0;
	if (!luo_memfd_wq) {
		luo_memfd_wq = alloc_workqueue("liveupdate_unpreserve", WQ_UNBOUND, 0);
		if (!luo_memfd_wq)
			return -ENOMEM;
	}
	frozen = kzalloc_obj(*frozen, GFP_KERNEL);
	if (!frozen)
		return -ENOMEM;
	frozen->f = *file->f_op;
	frozen->i = *inode->i_op;
	/* A file with the copy pins the module (taken at open or below). */
	frozen->f.owner = THIS_MODULE;
	frozen->f.write_iter = luo_memfd_write_iter;
	frozen->f.fallocate = luo_memfd_fallocate;
	frozen->i.setattr = luo_memfd_setattr;
	luo_memfd_probe_grow_chunk();
	luo_shmem_fops = file->f_op;
	luo_shmem_iops = inode->i_op;
	luo_frozen = frozen;
	return 0;
}

/**
 * luo_memfd_exit() - free what the handler allocated, at module unload
 *
 * No file uses the copied file operations any more: each holds a module
 * reference. No inode uses the copied inode operations: every preserved file
 * was unpreserved before the module could go. But a task may have loaded
 * the copy's setattr pointer just before its inode was unpreserved, and be
 * about to enter luo_memfd_setattr() (module text), be inside it (shmem's
 * setattr may sleep) or be leaving it. A tasks-RCU grace period ends only
 * once every task has passed a voluntary context switch or user mode, which
 * no task does between loading the pointer and srcu_read_lock(), nor after
 * srcu_read_unlock(); the SRCU grace period covers what lies between.
 */
void luo_memfd_exit(void)
{
	/* Each pending unpreserve holds a file, so the module: none is left. */
	if (luo_memfd_wq)
		destroy_workqueue(luo_memfd_wq);
	luo_pages_exit();
	if (!luo_frozen)
		return;
	synchronize_rcu_tasks();
	synchronize_srcu(&luo_memfd_srcu);
	synchronize_rcu_tasks();
	kfree(luo_frozen);
}

static bool luo_memfd_can_preserve(struct file *file)
{
	struct inode *inode = file_inode(file);

	return shmem_file(file) && S_ISREG(inode->i_mode) && !inode->i_nlink;
}

/**
 * struct luo_memfd_out - an outgoing memfd's state
 * @pages:      its pages (pages.c).
 * @reader:     a private read-only file of the inode, when the user's
 *              file cannot read (the commit may have to read swapped
 *              pages back), or NULL.
 * @punchable:  another file of the inode, opened for writing before
 *              PRESERVE_FD, can punch pinned pages out: room is reserved
 *              for every page.
 * @unpreserve: an unpreserve left to a worker (the inode lock was busy).
 * @file:       the file, held by that worker.
 */
struct luo_memfd_out {
	struct luo_pages_out pages;
	struct file *reader;
	bool punchable;
	struct work_struct unpreserve;
	struct file *file;
};

/**
 * struct luo_memfd_in - an incoming memfd, from its payload
 * @m:       the checked payload (pointers into @payload).
 * @payload: a copy of the payload.
 * @file:    a restore under way, resumed at the next retrieve.
 * @pages:   its pages (pages.c).
 */
struct luo_memfd_in {
	struct luo_memfd_payload m;
	void *payload;
	struct file *file;
	struct luo_pages_in pages;
};

/* The name /proc shows ("memfd:NAME"); others are not carried. */
static u32 luo_memfd_name(struct file *file, const char **name)
{
	const struct qstr *q = &file->f_path.dentry->d_name;

	*name = q->name;
	if (q->len < 6 || memcmp(q->name, "memfd:", 6))
		return 0;
	return min_t(u32, q->len, LUO_MEMFD_NAME_MAX);
}

/**
 * luo_memfd_meta() - metadata a memfd-type payload takes at most
 * @hdr:  the handler's header size.
 * @size: the file's size, frozen at PRESERVE_FD.
 * @file: the file, whose name is carried.
 *
 * Return: bytes for the header, the name and an extent for every page.
 */
u64 luo_memfd_meta(size_t hdr, u64 size, struct file *file)
{
	const char *name;

	return hdr + ALIGN(luo_memfd_name(file, &name), LUO_HANDOVER_ALIGN) +
	       (DIV_ROUND_UP(size, LUO_PAGE_SIZE) + 1) *
	       sizeof(struct luo_memfd_extent);
}

/**
 * luo_memfd_ser_add() - start a memfd-type payload: its header and name
 * @w:        the commit's writer.
 * @hdr:      the handler's header size (struct luo_memfd_ser or
 *            struct luo_hugetlb_ser).
 * @file:     the preserved file, whose name is carried.
 * @name_len: set to the bytes of name written after the header.
 *
 * Context: inside the kexec (a handler's serialize).
 * Return: the zeroed header, to be filled in, or NULL if the metadata is
 * full.
 */
void *luo_memfd_ser_add(struct luo_writer *w, size_t hdr, struct file *file,
			u32 *name_len)
{
	const char *name;
	void *h;
	char *np;

	*name_len = luo_memfd_name(file, &name);
	h = luo_writer_add(w, hdr);
	np = h ? luo_writer_add(w, *name_len) : NULL;
	if (!h || (*name_len && !np))
		return NULL;
	memcpy(np, name, *name_len);
	return h;
}

/**
 * luo_memfd_payload_load() - copy, check and claim a memfd-type payload
 * @payload: the payload in the handover.
 * @size:    its bytes.
 * @m:       set to the checked payload, pointing into the returned copy.
 * @shift:   NULL for a shmem memfd's payload; else a hugetlb memfd's, and
 *           set to log2 of its huge page size.
 * @pages:   its pages, claimed (luo_pages_load()).
 *
 * Return: the copy (kfree() it once @m is no longer used), or ERR_PTR:
 * -ENOMEM, or the check's error (nothing claimed).
 */
void *luo_memfd_payload_load(const void *payload, u32 size,
			     struct luo_memfd_payload *m, u32 *shift,
			     struct luo_pages_in *pages)
{
	void *copy __free(kfree) = kmemdup(payload, size, GFP_KERNEL_ACCOUNT);
	int ret;

	if (!copy)
		return ERR_PTR(-ENOMEM);
	if (shift)
		ret = luo_hugetlb_parse(copy, size, luo_pages_range(), m, shift);
	else
		ret = luo_memfd_parse(copy, size, luo_pages_range(), m);
	if (!ret)
		ret = luo_pages_load(pages, m->ext, m->nr_extents, m->size,
				     shift ? *shift - PAGE_SHIFT : 0);
	return ret ? ERR_PTR(ret) : no_free_ptr(copy);
}

/**
 * luo_memfd_restore_name() - the name a restored memfd gets
 * @name: set to "memfd:NAME" as carried, or "memfd:" if none was.
 * @m:    the checked payload.
 */
void luo_memfd_restore_name(char name[LUO_MEMFD_NAME_MAX + 1],
			    const struct luo_memfd_payload *m)
{
	strscpy(name, "memfd:", LUO_MEMFD_NAME_MAX + 1);
	if (m->name_len) {
		memcpy(name, m->name, m->name_len);
		name[m->name_len] = 0;
	}
}

static int luo_memfd_preserve(struct luo_file *lf)
{
	struct file *file = lf->file;
	struct inode *inode = file_inode(file);
	struct file *reader __free(fput) = NULL;
	struct luo_memfd_out *o __free(kfree) = NULL;
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
	if (!(file->f_mode & FMODE_READ)) {
		reader = dentry_open(&file->f_path, O_RDONLY | O_LARGEFILE,
				     file->f_cred);
		if (IS_ERR(reader))
			return PTR_ERR(no_free_ptr(reader));
	}
	ret = luo_memfd_make_frozen_ops(file);
	if (ret)
		return ret;
	/* Still frozen: an unpreserve waits for the inode lock (a worker). */
	if (READ_ONCE(inode->i_op) == &luo_frozen->i)
		return -EBUSY;
	/* Only shmem's own tables can be redirected. */
	if ((file->f_op != luo_shmem_fops && file->f_op != &luo_frozen->f) ||
	    inode->i_op != luo_shmem_iops || inode->i_fop != luo_shmem_fops)
		return -EOPNOTSUPP;

	/*
	 * Killable: a writer stalled on user memory can hold the lock for
	 * ever (inode_lock_killable() is not in every kernel we build for).
	 */
	if (down_write_killable(&inode->i_rwsem))
		return -EINTR;
	if (SHMEM_I(inode)->seals & ~LUO_MEMFD_SEALS) {
		inode_unlock(inode);
		return -EOPNOTSUPP;
	}
	lf->size = i_size_read(inode);
	/* Pins the pages already in the range; refuses a poisoned page. */
	ret = luo_pages_preserve(&o->pages, inode->i_mapping, lf->size,
				 &SHMEM_I(inode)->seals, false);
	if (ret) {
		inode_unlock(inode);
		return ret;
	}
	/* Under the lock truncate and write take: the size is now final. */
	WRITE_ONCE(inode->i_op, &luo_frozen->i);
	WRITE_ONCE(inode->i_fop, &luo_frozen->f);
	/*
	 * Files of the inode opened from now on get the frozen operations,
	 * which refuse fallocate(). One opened for writing before (it takes
	 * write access before it reads i_fop, so it is counted here) keeps
	 * shmem's: it can punch pinned pages out and write new ones in their
	 * place, which the kexec then copies. memfd_create()'s own file does
	 * not count (a pseudo file: no FMODE_WRITER); one opened through
	 * /proc/self/fd does.
	 */
	smp_mb();
	o->punchable = atomic_read(&inode->i_writecount) >
		       !!(file->f_mode & FMODE_WRITER);
	inode_unlock(inode);

	/* For good: the copy passes through once the inode is unpreserved. */
	if (file->f_op == luo_shmem_fops) {
		__module_get(THIS_MODULE);
		WRITE_ONCE(file->f_op, &luo_frozen->f);
	}
	lf->pages = luo_pages_room(&o->pages, o->punchable);
	lf->meta = luo_memfd_meta(sizeof(struct luo_memfd_ser), lf->size, file);
	o->reader = no_free_ptr(reader);
	lf->priv = no_free_ptr(o);
	return 0;
}

/* Moves page work out of the kexec (pages.c: migrate=1, precopy). */
static void luo_memfd_prepare(struct luo_file *lf)
{
	struct luo_memfd_out *o = lf->priv;

	luo_pages_prepare(&o->pages, lf->file, o->punchable, &lf->pages);
}

/* Lets the inode go (its lock held, dropped here) and frees @o. */
static void luo_memfd_release_out(struct inode *inode, struct luo_memfd_out *o)
{
	WRITE_ONCE(inode->i_fop, luo_shmem_fops);
	WRITE_ONCE(inode->i_op, luo_shmem_iops);
	luo_pages_unpreserve(&o->pages, inode->i_mapping);
	inode_unlock(inode);
	if (o->reader)
		fput(o->reader);
	if (o->file)
		fput(o->file);
	kfree(o);
}

static void luo_memfd_unpreserve_work(struct work_struct *work)
{
	struct luo_memfd_out *o = container_of(work, struct luo_memfd_out,
					       unpreserve);
	struct inode *inode = file_inode(o->file);

	inode_lock(inode);
	luo_memfd_release_out(inode, o);
}

/*
 * Closing a session (or a PRESERVE_FD that failed late) must not wait for
 * the inode lock: a writer stalled on user memory (userfaultfd, FUSE) can
 * hold it for ever, and close() cannot be interrupted. When the lock is
 * busy a worker lets the inode go once it is free; meanwhile the size
 * stays frozen and PRESERVE_FD of the inode gives EBUSY.
 */
static void luo_memfd_unpreserve(struct luo_file *lf)
{
	struct inode *inode = file_inode(lf->file);
	struct luo_memfd_out *o = lf->priv;

	lf->priv = NULL;
	if (inode_trylock(inode)) {
		luo_memfd_release_out(inode, o);
		return;
	}
	o->file = get_file(lf->file);
	INIT_WORK(&o->unpreserve, luo_memfd_unpreserve_work);
	queue_work(luo_memfd_wq, &o->unpreserve);
}

static int luo_memfd_serialize(struct luo_file *lf, struct luo_writer *w)
{
	struct luo_memfd_out *o = lf->priv;
	struct inode *inode = file_inode(lf->file);
	struct luo_memfd_ser *ms;
	u32 name_len, nr;
	int ret;

	ms = luo_memfd_ser_add(w, sizeof(*ms), lf->file, &name_len);
	if (!ms)
		return -ENOSPC;
	/* As frozen at PRESERVE_FD (an fd opened before can still grow it). */
	ms->size = cpu_to_le64(lf->size);
	ms->pos = cpu_to_le64(READ_ONCE(lf->file->f_pos));
	ms->seals = cpu_to_le32(SHMEM_I(inode)->seals);
	ms->name_len = cpu_to_le32(name_len);
	/* The extents follow. */
	ret = luo_pages_serialize(&o->pages, o->reader ?: lf->file, w, &nr);
	if (ret)
		return ret;
	ms->nr_extents = cpu_to_le32(nr);
	return 0;
}

/* --- the next kernel ---------------------------------------------------- */

static int luo_memfd_load(struct luo_file *lf, const void *payload, u32 size)
{
	struct luo_memfd_in *in = kzalloc_obj(*in, GFP_KERNEL_ACCOUNT);
	void *copy;

	if (!in)
		return -ENOMEM;
	copy = luo_memfd_payload_load(payload, size, &in->m, NULL, &in->pages);
	if (IS_ERR(copy)) {
		kfree(in);
		return PTR_ERR(copy);
	}
	in->payload = copy;
	lf->size = in->m.size;
	lf->priv = in;
	return 0;
}

static int luo_memfd_load_v1(struct luo_file *lf, const struct luo_ser_file *f)
{
	struct luo_memfd_in *in = kzalloc_obj(*in, GFP_KERNEL_ACCOUNT);

	if (!in)
		return -ENOMEM;
	in->m.size = le64_to_cpu(f->size);
	in->m.pos = le64_to_cpu(f->pos);
	in->m.seals = le32_to_cpu(f->seals);
	luo_pages_load_v1(&in->pages, le64_to_cpu(f->data_off), in->m.size);
	lf->size = in->m.size;
	lf->priv = in;
	return 0;
}

/* A new memfd as memfd_create() makes it: named, sized, seekable. */
static struct file *luo_memfd_new(struct luo_memfd_in *in)
{
	char name[LUO_MEMFD_NAME_MAX + 1];
	struct file *file;

	luo_memfd_restore_name(name, &in->m);
	file = luo_shmem_file_setup(name, in->m.size);
	if (IS_ERR(file))
		return file;
	file->f_mode |= LUO_MEMFD_FMODE;
	file->f_flags |= O_LARGEFILE;
	return file;
}

static struct file *luo_memfd_retrieve(struct luo_file *lf)
{
	struct luo_memfd_in *in = lf->priv;
	struct file *file;
	int ret;

	if (!in->file) {
		file = luo_memfd_new(in);
		if (IS_ERR(file))
			return file;
		in->file = file;
	}
	file = in->file;
	ret = luo_pages_restore(&in->pages, file);
	if (ret) {
		/* A copy starts over in a new file; pages given stay given. */
		if (!luo_pages_resumable(&in->pages)) {
			in->file = NULL;
			fput(file);
		}
		return ERR_PTR(ret);
	}
	in->file = NULL;
	/* Sealing stays allowed unless the user had F_SEAL_SEAL. */
	SHMEM_I(file_inode(file))->seals = in->m.seals;
	file->f_pos = in->m.pos;
	return file;
}

static void luo_memfd_drop(struct luo_file *lf)
{
	struct luo_memfd_in *in = lf->priv;

	if (!in)
		return;
	luo_pages_drop(&in->pages);
	if (in->file)
		fput(in->file);
	kfree(in->payload);
	kfree(in);
	lf->priv = NULL;
}

const struct luo_file_handler luo_memfd_handler = {
	.type		= LUO_FILE_TYPE_MEMFD,
	.name		= "memfd",
	.can_preserve	= luo_memfd_can_preserve,
	.preserve	= luo_memfd_preserve,
	.prepare	= luo_memfd_prepare,
	.unpreserve	= luo_memfd_unpreserve,
	.serialize	= luo_memfd_serialize,
	.load		= luo_memfd_load,
	.load_v1	= luo_memfd_load_v1,
	.retrieve	= luo_memfd_retrieve,
	.drop		= luo_memfd_drop,
};
