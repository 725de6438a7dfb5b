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
 * While preserved the size is frozen (shmem_like.c, the base this handler
 * shares with hugetlb.c): the inode's operations and file operations are
 * switched to copies of shmem's, made from the first memfd preserved
 * (modules cannot name shmem's tables):
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
 * Pages: pages.h keeps them (pinning those already in the range, the
 * extents, migrate=1, the copy or zero-copy restore): this handler only
 * tells it the file's page cache and size, and when.
 *
 * Restore, at the first RETRIEVE_FD: a new memfd of the same name and size
 * is made, pages_in.c fills it, and it gets the seals and position. A restore
 * stopped by a signal or a memory limit resumes at the next RETRIEVE_FD.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/falloc.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/uio.h>

#include "handover_format.h"
#include "shmem_like.h"

static struct luo_shm_kind luo_memfd_kind;

/* checkpatch wants ops tables const; a copy made to be patched cannot be. */
static struct file_operations *luo_memfd_fops;

static int luo_memfd_setattr(LUO_IDMAP *idmap, struct dentry *dentry,
			     struct iattr *attr)
{
	return luo_shm_setattr(&luo_memfd_kind, idmap, dentry, attr);
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
	const struct file_operations *shmem = luo_memfd_kind.orig_fops;
	struct inode *inode = file_inode(iocb->ki_filp);
	size_t count = iov_iter_count(from), cut, chunk;
	loff_t size, pos, first_end, end;
	ssize_t ret;

	if (!count || !luo_shm_frozen(&luo_memfd_kind, inode))
		return shmem->write_iter(iocb, from);
	/* Nothing changes the size of a frozen inode. */
	size = i_size_read(inode);
	pos = iocb->ki_flags & IOCB_APPEND ? size : iocb->ki_pos;
	if (pos + count <= size)
		return shmem->write_iter(iocb, from);
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
	ret = shmem->write_iter(iocb, from);
	iov_iter_reexpand(from, iov_iter_count(from) + cut);
	return ret;
}

static long luo_memfd_fallocate(struct file *file, int mode, loff_t offset,
				loff_t len)
{
	if (luo_shm_frozen(&luo_memfd_kind, file_inode(file))) {
		/* As shmem: a mode it does not support is refused first. */
		if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE))
			return -EOPNOTSUPP;
		return -EPERM;
	}
	return luo_memfd_kind.orig_fops->fallocate(file, mode, offset, len);
}

/* The copy of shmem's file operations, from the first memfd preserved. */
static int luo_memfd_setup(struct file *file)
{
	luo_memfd_fops = kmemdup(file->f_op, sizeof(*file->f_op), GFP_KERNEL);
	if (!luo_memfd_fops)
		return -ENOMEM;
	/* A file with the copy pins the module (taken at open or preserve). */
	luo_memfd_fops->owner = THIS_MODULE;
	luo_memfd_fops->write_iter = luo_memfd_write_iter;
	luo_memfd_fops->fallocate = luo_memfd_fallocate;
	luo_memfd_probe_grow_chunk();
	luo_memfd_kind.orig_fops = file->f_op;
	luo_memfd_kind.frozen_fops = luo_memfd_fops;
	return 0;
}

static void luo_memfd_exit(void)
{
	luo_shm_exit(&luo_memfd_kind);
	kfree(luo_memfd_fops);
}

static bool luo_memfd_can_preserve(struct file *file)
{
	struct inode *inode = file_inode(file);

	return shmem_file(file) && S_ISREG(inode->i_mode) && !inode->i_nlink;
}

static unsigned int *luo_memfd_seals(struct inode *inode)
{
	return &SHMEM_I(inode)->seals;
}

static void luo_memfd_fill(void *ser, const struct luo_shm_hdr *h,
			   struct inode *inode)
{
	struct luo_memfd_ser *ms = ser;

	ms->size = cpu_to_le64(h->size);
	ms->pos = cpu_to_le64(h->pos);
	ms->seals = cpu_to_le32(h->seals);
	ms->name_len = cpu_to_le32(h->name_len);
	ms->nr_extents = cpu_to_le32(h->nr_extents);
}

/* --- the next kernel ---------------------------------------------------- */

/* Format 1 (shmem memfds only): the record and its data in the range. */
static int luo_memfd_load_v1(struct luo_file_args *args,
			     const struct luo_ser_file *f)
{
	struct luo_shm_in *in = kzalloc_obj(*in, GFP_KERNEL_ACCOUNT);

	if (!in)
		return -ENOMEM;
	in->m.size = le64_to_cpu(f->size);
	in->m.pos = le64_to_cpu(f->pos);
	in->m.seals = le32_to_cpu(f->seals);
	luo_pages_load_v1(&in->pages, le64_to_cpu(f->data_off), in->m.size);
	args->size = in->m.size;
	args->priv = in;
	return 0;
}

/* A new memfd as memfd_create() makes it: named, sized, seekable. */
static struct file *luo_memfd_new(const struct luo_shm_in *in)
{
	char name[LUO_MEMFD_NAME_MAX + 1];
	struct file *file;

	luo_shm_restore_name(name, &in->m);
	file = luo_shmem_file_setup(name, in->m.size);
	if (IS_ERR(file))
		return file;
	file->f_mode |= LUO_MEMFD_FMODE;
	file->f_flags |= O_LARGEFILE;
	return file;
}

static struct luo_shm_kind luo_memfd_kind = {
	.handler = {
		.type		= LUO_FILE_TYPE_MEMFD,
		.name		= "memfd",
		.can_preserve	= luo_memfd_can_preserve,
		.load_v1	= luo_memfd_load_v1,
		.exit		= luo_memfd_exit,
	},
	.ser_size	= sizeof(struct luo_memfd_ser),
	.fill		= luo_memfd_fill,
	.seals		= luo_memfd_seals,
	.new_file	= luo_memfd_new,
	.setattr	= luo_memfd_setattr,
	.setup		= luo_memfd_setup,
};

/**
 * luo_memfd_register() - register the memfd handler (module init)
 *
 * Return: luo_shm_register()'s.
 */
int luo_memfd_register(void)
{
	return luo_shm_register(&luo_memfd_kind);
}
