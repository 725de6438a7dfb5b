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
 * PRESERVE_FD time stays right. Stock kernels lack upstream's in-kernel flag
 * for this, so the handler adds F_SEAL_GROW and F_SEAL_SHRINK itself (visible
 * in F_GET_SEALS meanwhile) and, on unpreserve, removes exactly the ones it
 * added. fallocate on the preserved file is refused with EPERM in every mode,
 * as upstream: the file's operations are switched to a copy of shmem's whose
 * fallocate says no, and switched back on unpreserve.
 *
 * At kexec the bytes are copied into the handover with kernel_read(); in the
 * next kernel a new memfd is built from them when the handover is loaded.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/falloc.h>
#include <linux/mman.h>
#include <linux/rcupdate.h>
#include <linux/shmem_fs.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "internal.h"

#define LUO_MEMFD_SEALS		(F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | \
				 F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | \
				 F_SEAL_EXEC)
#define LUO_MEMFD_FREEZE	(F_SEAL_GROW | F_SEAL_SHRINK)

/* Largest single kernel_read()/kernel_write(), well below MAX_RW_COUNT. */
#define LUO_MEMFD_CHUNK		SZ_64M
/*
 * Restoring works in steps of this much: between them it reschedules and
 * stops if the caller was killed (the bytes stay in the range for a retry).
 */
#define LUO_MEMFD_STEP		SZ_1M

/*
 * shmem's file operations, and a copy of them that refuses fallocate. Made
 * from the first memfd preserved (all shmem files share one table), since
 * modules cannot name shmem's table.
 */
static const struct file_operations *luo_shmem_fops;
static const struct file_operations *luo_memfd_frozen_fops;

static long luo_memfd_fallocate(struct file *file, int mode, loff_t offset,
				loff_t len)
{
	/* As shmem: a mode it does not support is refused before the freeze. */
	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE))
		return -EOPNOTSUPP;
	return -EPERM;
}

static int luo_memfd_block_fallocate(struct file *file)
{
	if (!luo_shmem_fops) {
		/* checkpatch asks for const here; a patched copy cannot be. */
		void *copy = kmemdup(file->f_op, sizeof(*file->f_op),
				     GFP_KERNEL);

		if (!copy)
			return -ENOMEM;
		((struct file_operations *)copy)->fallocate = luo_memfd_fallocate;
		luo_memfd_frozen_fops = copy;
		luo_shmem_fops = file->f_op;
	}
	if (file->f_op == luo_shmem_fops)
		WRITE_ONCE(file->f_op, luo_memfd_frozen_fops);
	return 0;
}

static void luo_memfd_allow_fallocate(struct file *file)
{
	if (file->f_op == luo_memfd_frozen_fops)
		WRITE_ONCE(file->f_op, luo_shmem_fops);
}

/**
 * luo_memfd_exit() - free what the handler allocated, at module unload
 *
 * No file uses the copied operations any more: every preserved file was
 * unpreserved before the module could go. But a task may have loaded the
 * copy's fallocate pointer just before its file was unpreserved and still
 * be about to run (or be preempted in) luo_memfd_fallocate(), which is
 * module text. Neither holds a module reference. A tasks-RCU grace period
 * ends only once every task has passed a voluntary context switch or user
 * mode, which no task does between loading that pointer and returning from
 * the function: after it, nobody is there.
 */
void luo_memfd_exit(void)
{
	if (!luo_memfd_frozen_fops)
		return;
	synchronize_rcu_tasks();
	kfree(luo_memfd_frozen_fops);
}

static bool luo_memfd_can_preserve(struct file *file)
{
	struct inode *inode = file_inode(file);

	return shmem_file(file) && S_ISREG(inode->i_mode) && !inode->i_nlink;
}

static int luo_memfd_preserve(struct luo_file *lf)
{
	struct inode *inode = file_inode(lf->file);
	struct shmem_inode_info *info = SHMEM_I(inode);
	unsigned int added;
	int ret;

	/* The bytes are read with kernel_read() at kexec. */
	if (!(lf->file->f_mode & FMODE_READ))
		return -EBADF;
	ret = luo_memfd_block_fallocate(lf->file);
	if (ret)
		return ret;

	inode_lock(inode);
	if (info->seals & ~LUO_MEMFD_SEALS) {
		inode_unlock(inode);
		luo_memfd_allow_fallocate(lf->file);
		return -EOPNOTSUPP;
	}
	added = LUO_MEMFD_FREEZE & ~info->seals;
	info->seals |= added;
	/* Sampled under the lock that truncate and write take: now final. */
	lf->data_size = i_size_read(inode);
	inode_unlock(inode);

	lf->priv = added;
	return 0;
}

static void luo_memfd_unpreserve(struct luo_file *lf)
{
	struct inode *inode = file_inode(lf->file);

	luo_memfd_allow_fallocate(lf->file);
	inode_lock(inode);
	SHMEM_I(inode)->seals &= ~(unsigned int)lf->priv;
	inode_unlock(inode);
}

static int luo_memfd_save(struct luo_file *lf, void *dst,
			  struct luo_ser_file *ser)
{
	struct inode *inode = file_inode(lf->file);
	loff_t pos = 0;

	while (pos < lf->data_size) {
		size_t chunk = min_t(u64, lf->data_size - pos, LUO_MEMFD_CHUNK);
		ssize_t n = kernel_read(lf->file, dst + pos, chunk, &pos);

		if (n < 0)
			return n;
		if (!n)
			return -EIO;
	}
	ser->seals = cpu_to_le32(SHMEM_I(inode)->seals & ~(unsigned int)lf->priv);
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
	int ret;

	/* As memfd_create(): unnamed, sized, seekable, large-file. */
	file = luo_shmem_file_setup("memfd:", size);
	if (IS_ERR(file))
		return file;
	file->f_mode |= LUO_MEMFD_FMODE;
	file->f_flags |= O_LARGEFILE;

	ret = luo_memfd_fill(file, data, size);
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
