// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdate: the memfd file handler.
 */

/**
 * DOC: memfd handler
 *
 * Accepts unlinked shmem files: memfd_create() and O_TMPFILE on tmpfs.
 * Hugetlb memfds and linked tmpfs files are refused (ENOENT), as upstream.
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
 * At kexec the bytes are copied into the handover with kernel_read(); in the
 * next kernel a new memfd is built from them at its first RETRIEVE_FD.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/falloc.h>
#include <linux/mman.h>
#include <linux/pagemap.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/shmem_fs.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/srcu.h>
#include <linux/string.h>
#include <linux/uio.h>

#include "internal.h"

#define LUO_MEMFD_SEALS		(F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | \
				 F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | \
				 F_SEAL_EXEC)

/* Largest single kernel_read()/kernel_write(), well below MAX_RW_COUNT. */
#define LUO_MEMFD_CHUNK		SZ_64M
/*
 * Restoring works in steps of this much: between them it reschedules and
 * stops if the caller was killed (the bytes stay in the range for a retry).
 */
#define LUO_MEMFD_STEP		SZ_1M

/*
 * shmem's operations and the copies that freeze the size. Set once, under
 * luo_lock, at the first PRESERVE_FD of a memfd; freed at module unload.
 */
static const struct file_operations *luo_shmem_fops;
static const struct inode_operations *luo_shmem_iops;
/* checkpatch wants ops tables const; a copy made to be patched cannot be. */
static struct { struct file_operations f; struct inode_operations i; } *luo_frozen;

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

static int luo_memfd_preserve(struct luo_file *lf)
{
	struct file *file = lf->file;
	struct inode *inode = file_inode(file);
	struct file *reader __free(fput) = NULL;
	int ret;

	/*
	 * The bytes are read with kernel_read() at kexec. As upstream, a
	 * write-only fd is accepted: a private read-only file of the same
	 * inode (no permission check: the caller holds the file) reads them.
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
	/* Under the lock truncate and write take: the size is now final. */
	WRITE_ONCE(inode->i_op, &luo_frozen->i);
	WRITE_ONCE(inode->i_fop, &luo_frozen->f);
	lf->data_size = i_size_read(inode);
	inode_unlock(inode);

	/* For good: the copy passes through once the inode is unpreserved. */
	if (file->f_op == luo_shmem_fops) {
		__module_get(THIS_MODULE);
		WRITE_ONCE(file->f_op, &luo_frozen->f);
	}
	lf->priv = (unsigned long)no_free_ptr(reader);
	return 0;
}

/* What save reads through: the file itself, or its private reader. */
static struct file *luo_memfd_reader(struct luo_file *lf)
{
	return lf->priv ? (struct file *)lf->priv : lf->file;
}

static void luo_memfd_unpreserve(struct luo_file *lf)
{
	struct inode *inode = file_inode(lf->file);

	inode_lock(inode);
	WRITE_ONCE(inode->i_fop, luo_shmem_fops);
	WRITE_ONCE(inode->i_op, luo_shmem_iops);
	inode_unlock(inode);
	if (lf->priv)
		fput((struct file *)lf->priv);
	lf->priv = 0;
}

static int luo_memfd_save(struct luo_file *lf, void *dst,
			  struct luo_ser_file *ser)
{
	struct inode *inode = file_inode(lf->file);
	loff_t pos = 0;

	while (pos < lf->data_size) {
		size_t chunk = min_t(u64, lf->data_size - pos, LUO_MEMFD_CHUNK);
		ssize_t n = kernel_read(luo_memfd_reader(lf), dst + pos, chunk,
					&pos);

		if (n < 0)
			return n;
		if (!n)
			return -EIO;
	}
	ser->seals = cpu_to_le32(SHMEM_I(inode)->seals);
	ser->pos = cpu_to_le64(READ_ONCE(lf->file->f_pos));
	return 0;
}

/*
 * Writes @data into @file, leaving all-zero pages as holes. -EINTR if the
 * caller was killed meanwhile.
 */
static int luo_memfd_fill(struct file *file, const u8 *data, u64 size)
{
	u64 off = 0, step = 0;

	while (off < size) {
		u64 end = off;
		loff_t pos;

		if (off >= step) {
			step = off + LUO_MEMFD_STEP;
			cond_resched();
			if (fatal_signal_pending(current))
				return -EINTR;
		}
		while (end < size && end - off < LUO_MEMFD_STEP) {
			u64 len = min_t(u64, size - end, PAGE_SIZE);

			if (!memchr_inv(data + end, 0, len))
				break;
			end += len;
		}
		if (end == off) {
			off += min_t(u64, size - off, PAGE_SIZE);
			continue;
		}
		for (pos = off; pos < end; ) {
			ssize_t n = kernel_write(file, data + pos, end - pos, &pos);

			if (n < 0)
				return n;
			if (!n)
				return -EIO;
		}
		off = end;
	}
	return 0;
}

static struct file *luo_memfd_restore(const struct luo_ser_file *ser,
				      const void *data)
{
	u64 size = le64_to_cpu(ser->size);
	struct file *file;
	gfp_t gfp;
	int ret;

	/* As memfd_create(): unnamed, sized, seekable, large-file. */
	file = luo_shmem_file_setup("memfd:", size);
	if (IS_ERR(file))
		return file;
	file->f_mode |= LUO_MEMFD_FMODE;
	file->f_flags |= O_LARGEFILE;

	/*
	 * Pages the caller's memory cgroup (or the machine) cannot hold fail
	 * the restore with ENOMEM, to be retried; they never OOM-kill anyone.
	 */
	gfp = mapping_gfp_mask(file->f_mapping);
	mapping_set_gfp_mask(file->f_mapping, gfp | __GFP_NORETRY | __GFP_NOWARN);
	ret = luo_memfd_fill(file, data, size);
	mapping_set_gfp_mask(file->f_mapping, gfp);
	if (ret) {
		fput(file);
		return ERR_PTR(ret);
	}
	/* Sealing stays allowed unless the user had F_SEAL_SEAL. */
	SHMEM_I(file_inode(file))->seals = le32_to_cpu(ser->seals);
	file->f_pos = le64_to_cpu(ser->pos);
	return file;
}

static int luo_memfd_validate(const struct luo_ser_file *ser)
{
	if (le32_to_cpu(ser->seals) & ~LUO_MEMFD_SEALS)
		return -EINVAL;
	if (le64_to_cpu(ser->size) > MAX_LFS_FILESIZE ||
	    le64_to_cpu(ser->pos) > MAX_LFS_FILESIZE)
		return -EINVAL;
	return 0;
}

const struct luo_file_handler luo_memfd_handler = {
	.type		= LUO_FILE_TYPE_MEMFD,
	.name		= "memfd",
	.can_preserve	= luo_memfd_can_preserve,
	.preserve	= luo_memfd_preserve,
	.unpreserve	= luo_memfd_unpreserve,
	.validate	= luo_memfd_validate,
	.save		= luo_memfd_save,
	.restore	= luo_memfd_restore,
};
