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
 * Pages: at PRESERVE_FD the file's pages that already lie in the range (a
 * memfd restored by taking its pages over) are pinned there: a reference
 * stops migration (compaction, NUMA balancing) and the mapping is made
 * unevictable, so they are neither swapped nor moved until the kexec. Only
 * the other pages need room in the range. At kexec the pinned pages still
 * in the file are listed where they are (nothing copied; a write through
 * mmap that lands before the machine stops is handed over; a file pinned
 * whole is listed from extents made at PRESERVE_FD, after checking that
 * each pinned page is still the file's, without a walk), the others are
 * copied into free range pages on every CPU, and checksummed while copied.
 * Data left in place is checksummed only with checksum_inplace=1: that
 * costs reading every byte inside the kexec and again at restore.
 *
 * Restore, at the first RETRIEVE_FD: a new memfd of the same name, size,
 * seals and position is built: its page cache is the handed-over pages
 * themselves when the range could be made RAM (ram.c; each checksummed
 * extent verified before its first page is given), or a copy of them
 * otherwise (each extent checksummed in the copy pass). A checksum that
 * does not match fails the retrieve with EIO, for good, except over pages
 * left in place that a process could still write while the old kernel
 * stopped (LUO_EXTENT_LIVE: counted in last_handover, bytes delivered).
 * Where shmem answers a give with a large folio (a shmem THP setting), the
 * pages of that folio are copied into it instead. A restore stopped
 * by a signal or a memory limit resumes at the next RETRIEVE_FD (taking
 * over: where it stopped; copying: from the start).
 *
 * Data checksums are XXH64 (data_sum.h, LUO_EXTENT_XXH64); extents with a
 * crc32 (LUO_EXTENT_CRC), as the first format 2 modules wrote, are read.
 *
 * Migration (migrate=1, off by default): without it a memfd's first kexec
 * copies it into the range, inside the kexec. With it, PRESERVE_FD moves
 * the memfd's pages into free range pages (making the range RAM first, if
 * it is not yet: the module then stays loaded until reboot), one page at a
 * time under the page lock: a copy, then the range page replaces the old
 * one in the page cache. Moved pages are pinned like pages a restore took
 * over, so even the first kexec lists them in place. A page that a process
 * maps, or that is pinned for DMA, could be written while it is copied:
 * it stays where it is and the kexec copies it (so does a swapped-out
 * page). The cost moves to PRESERVE_FD: a copy of the data plus the page
 * cache replacement, per page; the inode lock is held meanwhile, so the
 * file's writers wait (a fatal signal stops the migration; the rest is
 * copied at the kexec).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/crc32.h>
#include <linux/file.h>
#include <linux/ktime.h>
#include <linux/swap.h>
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
#include <linux/workqueue.h>

#include "data_sum.h"
#include "internal.h"
#include "memfd_check.h"
#include "ram.h"

/* Checksum data handed over in place too (costs a read of it, twice). */
static bool luo_crc_inplace;
module_param_named(checksum_inplace, luo_crc_inplace, bool, 0644);
MODULE_PARM_DESC(checksum_inplace, "Checksum memfd data handed over in place, not only copied data (default N)");

/* Move memfds into the range at PRESERVE_FD (see DOC: Migration). */
static bool luo_migrate;
module_param_named(migrate, luo_migrate, bool, 0644);
MODULE_PARM_DESC(migrate, "Move a memfd's pages into the range at PRESERVE_FD, so that no kexec copies them; makes the range RAM for the rest of the boot (default N)");

#define LUO_MEMFD_SEALS		(F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | \
				 F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | \
				 F_SEAL_EXEC)

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
 * @reader:       a private read-only file of the inode, when the user's
 *                file cannot read (the commit may have to read swapped
 *                pages back), or NULL.
 * @pinned:       for each file page, the page pinned in the range, or
 *                NULL; NULL when none is.
 * @npages:       file pages (the size is frozen).
 * @nr_pinned:    pages pinned.
 * @unevictable:  the mapping was made unevictable here.
 * @pre:          extents made before the kexec, or NULL (the commit walks
 *                the page cache then): a write-sealed memfd's, made at
 *                PRESERVE_FD (its pages copied into the range then, and
 *                those already there), or, for a file whose every page is
 *                pinned in the range, its pages where they are.
 * @nr_pre:       extents in @pre.
 * @verify:       @pre lists pinned pages of a file that can still lose them
 *                (a hole punched through an fd opened before PRESERVE_FD):
 *                the commit checks each is still the file's before using it.
 * @punchable:    another file of the inode, opened for writing before
 *                PRESERVE_FD, can punch pinned pages out: room is reserved
 *                for every page.
 * @unpreserve:   an unpreserve left to a worker (the inode lock was busy).
 * @file:         the file, held by that worker.
 */
struct luo_memfd_out {
	struct file *reader;
	struct page **pinned;
	u64 npages;
	u64 nr_pinned;
	bool unevictable;
	struct luo_memfd_extent *pre;
	u32 nr_pre;
	bool verify;
	bool punchable;
	struct work_struct unpreserve;
	struct file *file;
};

/**
 * struct luo_memfd_in - an incoming memfd, from its payload
 * @m:        the checked payload (pointers into @payload).
 * @payload:  a copy of the payload.
 * @v1:       format 1: its data in the range, else NULL.
 * @v1_off:   format 1: the data's offset in the range.
 * @file:     a restore under way, resumed at the next retrieve.
 * @next_ext: the first extent not yet restored.
 * @ext_done: pages of that extent already given (a resumed restore).
 * @given:    the restore takes pages over (fixed at its start).
 * @done:     restored; the range pages are given or released.
 */
struct luo_memfd_in {
	struct luo_memfd_payload m;
	void *payload;
	const void *v1;
	u64 v1_off;
	struct file *file;
	u32 next_ext;
	u32 ext_done;
	bool given;
	bool done;
};

/*
 * Per-page arrays of a file the user sized: past INT_MAX bytes (a 1 TiB
 * memfd's pins) kvmalloc() refuses, and must do so quietly (ENOMEM).
 */
#define LUO_MEMFD_GFP	(GFP_KERNEL_ACCOUNT | __GFP_NOWARN)

static u64 luo_memfd_pages(u64 size)
{
	return DIV_ROUND_UP(size, LUO_PAGE_SIZE);
}

/* Metadata a memfd's payload takes at most: every page its own extent. */
static u64 luo_memfd_meta(u64 npages, u32 name_len)
{
	return sizeof(struct luo_memfd_ser) + ALIGN(name_len, LUO_HANDOVER_ALIGN) +
	       (npages + 1) * sizeof(struct luo_memfd_extent);
}

/* The name /proc shows ("memfd:NAME"); others are not carried. */
static u32 luo_memfd_name(struct file *file, const char **name)
{
	const struct qstr *q = &file->f_path.dentry->d_name;

	*name = q->name;
	if (q->len < 6 || memcmp(q->name, "memfd:", 6))
		return 0;
	return min_t(u32, q->len, LUO_MEMFD_NAME_MAX);
}

/*
 * Pins the file's pages that lie in the range, and refuses a file with a
 * page the kernel found a memory error in (-EIO, as upstream: reading it
 * inside the kexec would be a machine check); caller holds i_rwsem.
 */
static int luo_memfd_pin(struct luo_memfd_out *o, struct address_space *mapping)
{
	bool ram = luo_ram_added();
	struct folio_batch fbatch;
	pgoff_t index = 0;
	u64 rpage;
	int ret = 0;

	/*
	 * Until the range is RAM no page can lie in it, and without memory
	 * error handling no page is marked poisoned: PRESERVE_FD stays O(1).
	 */
	if (!o->npages || (!ram && !IS_ENABLED(CONFIG_MEMORY_FAILURE)))
		return 0;
	folio_batch_init(&fbatch);
	while (!ret && filemap_get_folios(mapping, &index, o->npages - 1,
					  &fbatch)) {
		unsigned int i, j;

		for (i = 0; !ret && i < folio_batch_count(&fbatch); i++) {
			struct folio *folio = fbatch.folios[i];

			/* The second flag is page 1's: large folios only. */
			if (folio_test_hwpoison(folio) ||
			    (folio_test_large(folio) &&
			     folio_test_has_hwpoisoned(folio))) {
				ret = -EIO;
				break;
			}
			for (j = 0; ram && j < folio_nr_pages(folio); j++) {
				struct page *page = folio_page(folio, j);
				u64 idx = folio->index + j;

				if (idx >= o->npages ||
				    !luo_store_page_of(page, &rpage))
					continue;
				if (!o->pinned) {
					o->pinned = kvcalloc(o->npages,
							     sizeof(*o->pinned),
							     LUO_MEMFD_GFP);
					if (!o->pinned) {
						ret = -ENOMEM;
						break;
					}
				}
				get_page(page);
				o->pinned[idx] = page;
				o->nr_pinned++;
			}
			if (ret)
				break;
		}
		folio_batch_release(&fbatch);
		cond_resched();
	}
	return ret;
}

/* Appends an extent to @pre (room for it was made). */
static void luo_memfd_pre_add(struct luo_memfd_out *o, u64 index, u64 page,
			      u32 count, u32 crc, bool copied)
{
	struct luo_memfd_extent *e = &o->pre[o->nr_pre++];

	e->index = cpu_to_le64(index);
	e->page = cpu_to_le32(page);
	e->count = cpu_to_le32(count);
	e->crc = cpu_to_le32(crc);
	e->flags = cpu_to_le32(copied ? LUO_EXTENT_XXH64 : 0);
}

/*
 * A file whose every page is pinned in the range (restored by taking its
 * pages over) needs no walk of its page cache inside the kexec: its extents
 * are made now, from the pins, and the commit only checks that each pinned
 * page is still the file's page at its index (luo_memfd_still_pinned()).
 * Without memory for the list the commit walks the page cache as usual.
 */
static void luo_memfd_plan_inplace(struct luo_memfd_out *o)
{
	u64 i, rpage, prev = 0, first = 0, first_page = 0;
	u32 n = 0;

	if (!o->npages || o->nr_pinned != o->npages)
		return;
	for (i = 0; i < o->npages; i++) {
		if (PageCompound(o->pinned[i]) ||
		    !luo_store_page_of(o->pinned[i], &rpage))
			return;
		if (!i || rpage != prev + 1)
			n++;
		prev = rpage;
	}
	o->pre = kvcalloc(n, sizeof(*o->pre), LUO_MEMFD_GFP);
	if (!o->pre)
		return;
	/* Pinned pages are distinct range pages: a run fits in a u32. */
	for (i = 0; i < o->npages; i++) {
		luo_store_page_of(o->pinned[i], &rpage);
		if (i && rpage != prev + 1) {
			luo_memfd_pre_add(o, first, first_page, i - first, 0, false);
			first = i;
		}
		if (first == i)
			first_page = rpage;
		prev = rpage;
	}
	luo_memfd_pre_add(o, first, first_page, i - first, 0, false);
	o->verify = true;
}

/*
 * Whether every page pinned at PRESERVE_FD is still the file's, in place,
 * and readable (no memory error found in it since).
 */
static bool luo_memfd_still_pinned(struct luo_memfd_out *o,
				   struct address_space *mapping)
{
	u64 i;

	for (i = 0; i < o->npages; i++) {
		struct folio *folio = page_folio(o->pinned[i]);

		if (READ_ONCE(folio->mapping) != mapping ||
		    READ_ONCE(folio->index) != i || PageHWPoison(o->pinned[i]))
			return false;
	}
	return true;
}

/* Lets go of the pins and gives the pages back to reclaim. */
static void luo_memfd_unpin(struct luo_memfd_out *o,
			    struct address_space *mapping)
{
	struct folio_batch fbatch;
	pgoff_t index = 0;
	u64 i;

	if (o->pinned) {
		for (i = 0; i < o->npages; i++)
			if (o->pinned[i])
				put_page(o->pinned[i]);
		kvfree(o->pinned);
		o->pinned = NULL;
	}
	if (!o->unevictable)
		return;
	mapping_clear_unevictable(mapping);
	/* As SHM_UNLOCK: move the pages back where reclaim sees them. */
	folio_batch_init(&fbatch);
	while (filemap_get_folios(mapping, &index, ULONG_MAX, &fbatch)) {
		check_move_unevictable_folios(&fbatch);
		folio_batch_release(&fbatch);
		cond_resched();
	}
}

static int luo_memfd_preserve(struct luo_file *lf)
{
	struct file *file = lf->file;
	struct inode *inode = file_inode(file);
	struct file *reader __free(fput) = NULL;
	struct luo_memfd_out *o __free(kfree) = NULL;
	const char *name;
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
	o->npages = luo_memfd_pages(lf->size);
	ret = luo_memfd_pin(o, inode->i_mapping);
	if (ret) {
		luo_memfd_unpin(o, inode->i_mapping);
		inode_unlock(inode);
		return ret;
	}
	if (o->nr_pinned && !mapping_unevictable(inode->i_mapping)) {
		mapping_set_unevictable(inode->i_mapping);
		o->unevictable = true;
	}
	luo_memfd_plan_inplace(o);
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
	/*
	 * Pinned pages need no room, unless they can be punched: then room
	 * for every page, or the copies would use room others reserved.
	 */
	lf->pages = o->punchable ? o->npages : o->npages - o->nr_pinned;
	lf->meta = luo_memfd_meta(o->npages, luo_memfd_name(file, &name));
	o->reader = no_free_ptr(reader);
	lf->priv = no_free_ptr(o);
	return 0;
}

/* Gives back the pages a precopy took. */
static void luo_memfd_pre_free(struct luo_memfd_out *o)
{
	u32 i;

	for (i = 0; i < o->nr_pre; i++)
		if (le32_to_cpu(o->pre[i].flags) & LUO_EXTENT_SUMMED)
			luo_store_release(le32_to_cpu(o->pre[i].page),
					  le32_to_cpu(o->pre[i].count));
	kvfree(o->pre);
	o->pre = NULL;
	o->nr_pre = 0;
}

/* Copies a run of file pages into pages taken out of lf's reservation. */
static int luo_memfd_pre_run(struct luo_file *lf, struct page **src, u64 index,
			     u32 n)
{
	struct luo_memfd_out *o = lf->priv;
	u32 i = 0;

	while (i < n) {
		u64 got;
		s64 page;

		scoped_guard(mutex, &luo_lock) {
			page = luo_store_take(n - i, &got);
			if (page >= 0)
				lf->pages -= got;
		}
		if (page < 0) {
			for (; i < n; i++)
				put_page(src[i]);
			return page;
		}
		luo_memfd_pre_add(o, index + i, page, got,
				  luo_store_copy_now(&src[i], page, got), true);
		i += got;
	}
	return 0;
}

/* Gives a run luo_store_take() gave back, as far as it was not used. */
static void luo_memfd_untake(struct luo_file *lf, u64 page, u64 count)
{
	if (!count)
		return;
	guard(mutex)(&luo_lock);
	luo_store_release(page, count);
	if (!luo_store_reserve(0, count))
		lf->pages += count;
}

/*
 * With migrate=1: the file's pages outside the range are moved into free
 * range pages now (ram.c's luo_ram_migrate(): a copy, then the range page
 * replaces the old one in the page cache) and pinned there like pages a
 * restore gave, so the kexec lists them in place. Pages that cannot move
 * now (mapped, pinned for DMA, swapped out; holes have nothing to move) are
 * left to the commit, which copies them. Stops early, leaving the rest to
 * the commit, on a fatal signal.
 */
static void luo_memfd_migrate(struct luo_file *lf)
{
	struct luo_memfd_out *o = lf->priv;
	struct inode *inode = file_inode(lf->file);
	u64 idx, used = 0, got = 0;
	s64 first = 0;

	/* A punchable file keeps its room: moving pages would not save any. */
	if (!READ_ONCE(luo_migrate) || !o->npages || o->nr_pinned == o->npages ||
	    o->punchable || luo_store_ram())
		return;
	if (down_write_killable(&inode->i_rwsem))
		return;
	if (!o->pinned)
		o->pinned = kvcalloc(o->npages, sizeof(*o->pinned),
				     LUO_MEMFD_GFP);
	for (idx = 0; o->pinned && idx < o->npages; idx++) {
		unsigned long pfn;
		int ret;

		if (o->pinned[idx])
			continue;
		if (used == got) {
			scoped_guard(mutex, &luo_lock) {
				first = luo_store_take(min_t(u64, LUO_COPY_RUN,
							     o->npages - idx), &got);
				if (first >= 0)
					lf->pages -= got;
			}
			if (first < 0)
				break;
			used = 0;
		}
		pfn = luo_store_page_pfn(first + used);
		ret = luo_ram_migrate(lf->file, idx, pfn);
		if (ret == -EBUSY || ret == -EINVAL)
			used++;		/* not a kept page: never hand it out */
		if (ret)
			continue;
		get_page(pfn_to_page(pfn));
		o->pinned[idx] = pfn_to_page(pfn);
		o->nr_pinned++;
		used++;
		if (fatal_signal_pending(current))
			break;
		cond_resched();
	}
	if (first >= 0)
		luo_memfd_untake(lf, first + used, got - used);
	if (o->nr_pinned && !mapping_unevictable(inode->i_mapping)) {
		mapping_set_unevictable(inode->i_mapping);
		o->unevictable = true;
	}
	inode_unlock(inode);
}

/*
 * A memfd write-sealed at PRESERVE_FD cannot change any more (no write, no
 * writable mapping, no hole punched): its pages are copied into the range
 * now rather than inside the kexec. All or nothing: on any trouble (no
 * memory, swapped pages, a page swapped out during the walk, the kexec
 * starting) the commit copies it as usual.
 */
static void luo_memfd_prepare(struct luo_file *lf)
{
	struct luo_memfd_out *o = lf->priv;
	struct inode *inode = file_inode(lf->file);
	struct page *run[LUO_COPY_RUN];
	struct folio_batch fbatch;
	u64 first = 0, rpage, pinned_first = 0, pinned_page = 0;
	u32 n = 0, pinned_n = 0;
	pgoff_t index = 0;
	u64 seen = 0;
	int ret = 0;

	luo_memfd_migrate(lf);
	if (!o->pre)
		luo_memfd_plan_inplace(o);
	/* o->pre already: every page is in place, nothing to copy. */
	if (!(SHMEM_I(inode)->seals & F_SEAL_WRITE) || !o->npages || o->pre ||
	    READ_ONCE(SHMEM_I(inode)->swapped))
		return;
	o->pre = kvcalloc(o->npages, sizeof(*o->pre), LUO_MEMFD_GFP);
	if (!o->pre)
		return;
	folio_batch_init(&fbatch);
	while (!ret && filemap_get_folios(inode->i_mapping, &index,
					  o->npages - 1, &fbatch)) {
		unsigned int i, j;

		for (i = 0; !ret && i < folio_batch_count(&fbatch); i++) {
			struct folio *folio = fbatch.folios[i];

			seen += folio_nr_pages(folio);
			for (j = 0; !ret && j < folio_nr_pages(folio); j++) {
				struct page *page = folio_page(folio, j);
				u64 idx = folio->index + j;

				if (idx >= o->npages)
					break;
				/* Left to the commit, which skips it. */
				if (PageHWPoison(page)) {
					ret = -EIO;
					break;
				}
				if (o->pinned && o->pinned[idx] == page &&
				    luo_store_page_of(page, &rpage)) {
					if (n) {
						ret = luo_memfd_pre_run(lf, run, first, n);
						n = 0;
					}
					if (pinned_n && (idx != pinned_first + pinned_n ||
							 rpage != pinned_page + pinned_n)) {
						luo_memfd_pre_add(o, pinned_first, pinned_page,
								  pinned_n, 0, false);
						pinned_n = 0;
					}
					if (!pinned_n) {
						pinned_first = idx;
						pinned_page = rpage;
					}
					pinned_n++;
					continue;
				}
				if (pinned_n) {
					luo_memfd_pre_add(o, pinned_first, pinned_page,
							  pinned_n, 0, false);
					pinned_n = 0;
				}
				if (n && (idx != first + n || n == LUO_COPY_RUN)) {
					ret = luo_memfd_pre_run(lf, run, first, n);
					n = 0;
				}
				if (!n)
					first = idx;
				get_page(page);
				run[n++] = page;
			}
		}
		folio_batch_release(&fbatch);
		cond_resched();
	}
	if (!ret && n)
		ret = luo_memfd_pre_run(lf, run, first, n);
	else
		while (n)
			put_page(run[--n]);
	if (!ret && pinned_n)
		luo_memfd_pre_add(o, pinned_first, pinned_page, pinned_n, 0, false);
	/*
	 * The walk skips swap entries: a page swapped out before the walk
	 * reached it would be missed and read as zeros. The file cannot gain
	 * pages, so the walk saw every page only if it saw as many as shmem
	 * counts (resident and swapped); else the commit copies it, reading
	 * swapped pages back.
	 */
	if (!ret && (seen != READ_ONCE(SHMEM_I(inode)->alloced) ||
		     READ_ONCE(SHMEM_I(inode)->swapped)))
		ret = -EAGAIN;
	if (ret) {
		u64 taken = 0;
		u32 i;

		/* Back into the reservation what the precopy took: it fits. */
		scoped_guard(mutex, &luo_lock) {
			for (i = 0; i < o->nr_pre; i++) {
				if (!(le32_to_cpu(o->pre[i].flags) & LUO_EXTENT_SUMMED))
					continue;
				luo_store_release(le32_to_cpu(o->pre[i].page),
						  le32_to_cpu(o->pre[i].count));
				taken += le32_to_cpu(o->pre[i].count);
			}
			if (!luo_store_reserve(0, taken))
				lf->pages += taken;
		}
		kvfree(o->pre);
		o->pre = NULL;
		o->nr_pre = 0;
	}
}

/* Lets the inode go (its lock held, dropped here) and frees @o. */
static void luo_memfd_release_out(struct inode *inode, struct luo_memfd_out *o)
{
	WRITE_ONCE(inode->i_fop, luo_shmem_fops);
	WRITE_ONCE(inode->i_op, luo_shmem_iops);
	luo_memfd_unpin(o, inode->i_mapping);
	inode_unlock(inode);
	luo_memfd_pre_free(o);
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

/* The checksum (data_sum.h) of @count range pages from @page. */
static u32 luo_memfd_sum(u64 page, u32 count)
{
	struct luo_sum sum;
	u32 i;

	luo_sum_init(&sum);
	for (i = 0; i < count; i++) {
		luo_sum_add(&sum, luo_store_page_addr(page + i), LUO_PAGE_SIZE);
		if (!((i + 1) % 1024))
			cond_resched();
	}
	return luo_sum_final(&sum);
}

/* --- the commit: a file's pages as extents ----------------------------- */

/*
 * The flags of an extent left in place: none without checksum_inplace=1;
 * else XXH64, and LUO_EXTENT_LIVE unless the file is write-sealed (only
 * then can nothing write its pages while the machine stops: a mismatch
 * found at restore is then damage, else most likely a late write).
 */
static u32 luo_memfd_inplace_flags(struct inode *inode)
{
	if (!READ_ONCE(luo_crc_inplace))
		return 0;
	if (SHMEM_I(inode)->seals & F_SEAL_WRITE)
		return LUO_EXTENT_XXH64;
	return LUO_EXTENT_XXH64 | LUO_EXTENT_LIVE;
}

/*
 * Builds the extent list in file-page order: runs of pages left in place,
 * and runs of up to LUO_COPY_RUN pages to copy.
 */
struct luo_extents {
	struct luo_writer *w;
	u32 nr;
	bool copy;		/* the open run is one to copy */
	u64 index;		/* its first file page */
	u32 count;		/* its pages; 0: no open run */
	u64 page;		/* in place: its first range page */
	u32 inplace_flags;	/* of a checksummed extent left in place */
	int err;
	struct page *src[LUO_COPY_RUN];
};

static struct luo_memfd_extent *luo_extent_add(struct luo_extents *x)
{
	struct luo_memfd_extent *e = luo_writer_add(x->w, sizeof(*e));

	if (e)
		x->nr++;
	else
		x->err = -ENOSPC;
	return e;
}

static void luo_extents_flush(struct luo_extents *x)
{
	struct luo_memfd_extent *e;
	u32 i, got_pages;
	s64 page;
	u64 got;

	if (!x->count)
		return;
	if (!x->copy) {
		e = luo_extent_add(x);
		if (e) {
			e->index = cpu_to_le64(x->index);
			e->page = cpu_to_le32(x->page);
			e->count = cpu_to_le32(x->count);
			if (x->inplace_flags) {
				e->crc = cpu_to_le32(luo_memfd_sum(x->page, x->count));
				e->flags = cpu_to_le32(x->inplace_flags);
			}
			luo_store_count_inplace(x->count);
		}
		x->count = 0;
		return;
	}
	i = 0;
	while (i < x->count) {
		page = x->err ? -ENOSPC : luo_store_alloc_run(x->count - i, &got);
		e = page < 0 ? NULL : luo_extent_add(x);
		if (!e) {
			x->err = -ENOSPC;
			for (; i < x->count; i++)
				put_page(x->src[i]);
			break;
		}
		got_pages = got;
		e->index = cpu_to_le64(x->index + i);
		e->page = cpu_to_le32(page);
		e->count = cpu_to_le32(got_pages);
		e->flags = cpu_to_le32(LUO_EXTENT_XXH64);
		luo_store_copy_pages(&x->src[i], page, got_pages, &e->crc);
		i += got_pages;
	}
	x->count = 0;
}

/* Adds file page @idx, found at @page, in place (@rpage) or to copy. */
static void luo_extents_add(struct luo_extents *x, u64 idx, struct page *page,
			    bool in_place, u64 rpage)
{
	if (x->count &&
	    (x->copy == in_place || idx != x->index + x->count ||
	     (in_place && (rpage != x->page + x->count || x->count == U32_MAX)) ||
	     (!in_place && x->count == LUO_COPY_RUN)))
		luo_extents_flush(x);
	if (!x->count) {
		x->copy = !in_place;
		x->index = idx;
		x->page = rpage;
	}
	if (!in_place) {
		get_page(page);
		x->src[x->count] = page;
	}
	x->count++;
}

/*
 * File pages not in the page cache between @from and @to: holes, or
 * swapped out. Only in a file with swapped pages are they read (which
 * brings them back) and the non-zero ones copied.
 */
static void luo_memfd_gap(struct luo_extents *x, struct file *file,
			  u64 from, u64 to)
{
	struct page *page;
	u64 idx;

	if (from >= to || !READ_ONCE(SHMEM_I(file_inode(file))->swapped))
		return;
	for (idx = from; idx < to; idx++) {
		page = shmem_read_mapping_page_gfp(file->f_mapping, idx,
						   GFP_KERNEL | __GFP_NOWARN);
		if (IS_ERR(page)) {
			x->err = PTR_ERR(page);
			continue;
		}
		if (memchr_inv(page_address(page), 0, PAGE_SIZE))
			luo_extents_add(x, idx, page, false, 0);
		put_page(page);
		cond_resched();
	}
}

static int luo_memfd_serialize(struct luo_file *lf, struct luo_writer *w)
{
	struct luo_memfd_out *o = lf->priv;
	struct file *file = o->reader ?: lf->file;
	struct inode *inode = file_inode(lf->file);
	struct luo_extents *x;
	struct folio_batch fbatch;
	struct luo_memfd_ser *ms;
	pgoff_t index = 0;
	u64 next = 0, rpage;
	const char *name;
	u32 name_len;
	char *np;

	x = kzalloc_obj(*x, GFP_KERNEL);
	if (!x)
		return -ENOMEM;
	x->w = w;
	name_len = luo_memfd_name(lf->file, &name);
	ms = luo_writer_add(w, sizeof(*ms));
	np = ms ? luo_writer_add(w, name_len) : NULL;
	if (!ms || (name_len && !np)) {
		kfree(x);
		return -ENOSPC;
	}
	memcpy(np, name, name_len);
	/* As frozen at PRESERVE_FD (an fd opened before can still grow it). */
	ms->size = cpu_to_le64(lf->size);
	ms->pos = cpu_to_le64(READ_ONCE(lf->file->f_pos));
	ms->seals = cpu_to_le32(SHMEM_I(inode)->seals);
	ms->name_len = cpu_to_le32(name_len);
	x->inplace_flags = luo_memfd_inplace_flags(inode);

	if (o->pre && (!o->verify ||
		       luo_memfd_still_pinned(o, inode->i_mapping))) {
		struct luo_memfd_extent *e;
		u32 i;

		e = luo_writer_add(w, (u64)o->nr_pre * sizeof(*e));
		if (!e && o->nr_pre) {
			kfree(x);
			return -ENOSPC;
		}
		memcpy(e, o->pre, (u64)o->nr_pre * sizeof(*e));
		for (i = 0; i < o->nr_pre; i++) {
			u32 c = le32_to_cpu(e[i].count);

			luo_store_count_inplace(c);
			if (!x->inplace_flags || le32_to_cpu(e[i].flags) & LUO_EXTENT_SUMMED)
				continue;
			e[i].crc = cpu_to_le32(luo_memfd_sum(le32_to_cpu(e[i].page), c));
			e[i].flags = cpu_to_le32(x->inplace_flags);
		}
		ms->nr_extents = cpu_to_le32(o->nr_pre);
		kfree(x);
		return 0;
	}

	folio_batch_init(&fbatch);
	while (o->npages &&
	       filemap_get_folios(inode->i_mapping, &index, o->npages - 1,
				  &fbatch)) {
		unsigned int i, j;

		for (i = 0; i < folio_batch_count(&fbatch); i++) {
			struct folio *folio = fbatch.folios[i];

			luo_memfd_gap(x, file, next, folio->index);
			for (j = 0; j < folio_nr_pages(folio); j++) {
				struct page *page = folio_page(folio, j);
				u64 idx = folio->index + j;
				bool in_place;

				if (idx >= o->npages)
					break;
				next = idx + 1;
				/* Never read (a machine check): a hole, said. */
				if (PageHWPoison(page)) {
					pr_err("memfd page %llu has a memory error; handed over as zeros\n",
					       idx);
					continue;
				}
				/* In place only if pinned: it cannot move. */
				in_place = o->pinned && o->pinned[idx] == page &&
					   luo_store_page_of(page, &rpage);
				luo_extents_add(x, idx, page, in_place, rpage);
			}
		}
		folio_batch_release(&fbatch);
		cond_resched();
	}
	luo_memfd_gap(x, file, next, o->npages);
	luo_extents_flush(x);
	ms->nr_extents = cpu_to_le32(x->nr);
	if (x->err)
		pr_err("memfd of %llu bytes: not all of its pages could be handed over (%d); the missing ones read as zeros\n",
		       lf->size, x->err);
	kfree(x);
	return 0;
}

/* --- the next kernel ---------------------------------------------------- */

static void luo_memfd_release_from(struct luo_memfd_in *in, u32 first)
{
	u32 i;

	for (i = first; i < in->m.nr_extents; i++)
		luo_store_release(le32_to_cpu(in->m.ext[i].page),
				  le32_to_cpu(in->m.ext[i].count));
}

/*
 * Format 1: the range pages the file's data fills whole are free again once
 * it is restored or dropped (its data shares its first and last page with
 * its neighbours' data or the metadata, which stay taken for the boot).
 */
static void luo_memfd_release_v1(struct luo_memfd_in *in)
{
	u64 first = DIV_ROUND_UP(in->v1_off, LUO_PAGE_SIZE);
	u64 end = (in->v1_off + in->m.size) / LUO_PAGE_SIZE;

	if (end > first)
		luo_store_release(first, end - first);
}

static int luo_memfd_load(struct luo_file *lf, const void *payload, u32 size)
{
	struct luo_memfd_in *in;
	u32 i;
	int ret;

	in = kzalloc_obj(*in, GFP_KERNEL_ACCOUNT);
	if (!in)
		return -ENOMEM;
	in->payload = kmemdup(payload, size, GFP_KERNEL_ACCOUNT);
	if (!in->payload) {
		kfree(in);
		return -ENOMEM;
	}
	ret = luo_memfd_parse(in->payload, size, luo_store_pages(), &in->m);
	for (i = 0; !ret && i < in->m.nr_extents; i++) {
		ret = luo_store_claim(le32_to_cpu(in->m.ext[i].page),
				      le32_to_cpu(in->m.ext[i].count));
		if (ret) {
			in->m.nr_extents = i;
			luo_memfd_release_from(in, 0);
			ret = -EADDRINUSE;
		}
	}
	if (ret) {
		kfree(in->payload);
		kfree(in);
		return ret;
	}
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
	in->v1_off = le64_to_cpu(f->data_off);
	in->v1 = luo_store_v1_addr(in->v1_off);
	lf->size = in->m.size;
	lf->priv = in;
	return 0;
}

/*
 * Writes @data into @file at @off, leaving all-zero pages as holes (format
 * 1 keeps holes as zeros). -EINTR if the caller was killed meanwhile.
 */
static int luo_memfd_fill(struct file *file, const u8 *data, u64 off0,
			  u64 size)
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
		for (pos = off0 + off; pos < off0 + end; ) {
			ssize_t n = kernel_write(file, data + pos - off0,
						 off0 + end - pos, &pos);

			if (n < 0)
				return n;
			if (!n)
				return -EIO;
		}
		off = end;
	}
	return 0;
}

static bool luo_memfd_extent_ok(const struct luo_memfd_extent *e)
{
	u32 flags = le32_to_cpu(e->flags), crc = ~0U, i;

	if (flags & LUO_EXTENT_XXH64)
		return luo_memfd_sum(le32_to_cpu(e->page), le32_to_cpu(e->count)) ==
		       le32_to_cpu(e->crc);
	if (!(flags & LUO_EXTENT_CRC))
		return true;
	for (i = 0; i < le32_to_cpu(e->count); i++) {
		crc = crc32_le(crc, luo_store_page_addr(le32_to_cpu(e->page) + i),
			       LUO_PAGE_SIZE);
		if (!(i % 256))
			cond_resched();
	}
	return crc == le32_to_cpu(e->crc);
}

/*
 * What a checksum mismatch of extent @e means: damage (-EIO: the caller
 * drops the file), or, for a LUO_EXTENT_LIVE extent, a write that landed
 * after the checksum while the old kernel stopped: counted, logged, and
 * the bytes delivered (0).
 */
static int luo_memfd_mismatch(const struct luo_memfd_extent *e)
{
	/* Not after a failed hot-add: the mismatch may be the allocator's. */
	if (!(le32_to_cpu(e->flags) & LUO_EXTENT_LIVE) || !luo_store_trusted())
		return -EIO;
	luo_store_count_live_mismatch();
	pr_info_ratelimited("memfd pages %llu+%u changed after their checksum while the previous kernel stopped (a writer ran until the kexec); delivered as they are\n",
			    le64_to_cpu(e->index), le32_to_cpu(e->count));
	return 0;
}

/*
 * Restores one extent by copying its pages into the file's page cache, the
 * checksum computed in the same pass (a mismatch: luo_memfd_mismatch()).
 * The bytes of the last page past the file's size are zeroed, as shmem
 * keeps them. -EINTR if the caller was killed meanwhile.
 */
static int luo_memfd_copy_extent(struct luo_memfd_in *in, struct file *file,
				 const struct luo_memfd_extent *e)
{
	u64 index = le64_to_cpu(e->index), page = le32_to_cpu(e->page);
	u32 count = le32_to_cpu(e->count), flags = le32_to_cpu(e->flags), i;
	gfp_t gfp = mapping_gfp_mask(file->f_mapping);
	struct luo_sum sum;

	/* Nothing vouches for it after a failed hot-add. */
	if (!luo_store_trusted() && !(flags & LUO_EXTENT_SUMMED)) {
		pr_err_ratelimited("memfd pages %llu+%u have no checksum and the range was the page allocator's for a while: not restored\n",
				   index, count);
		return -EIO;
	}
	luo_sum_init(&sum);
	for (i = 0; i < count; i++) {
		u64 off = (index + i) * LUO_PAGE_SIZE;
		struct page *to;
		void *addr;

		to = shmem_read_mapping_page_gfp(file->f_mapping, index + i, gfp);
		if (IS_ERR(to))
			return PTR_ERR(to);
		addr = kmap_local_page(to);
		luo_sum_copy(&sum, addr, luo_store_page_addr(page + i),
			     LUO_PAGE_SIZE);
		if (in->m.size - off < LUO_PAGE_SIZE)
			memset(addr + (in->m.size - off), 0,
			       LUO_PAGE_SIZE - (in->m.size - off));
		kunmap_local(addr);
		folio_mark_dirty(page_folio(to));
		put_page(to);
		if (fatal_signal_pending(current))
			return -EINTR;
		if (!((i + 1) % 256))
			cond_resched();
	}
	if (flags & LUO_EXTENT_XXH64 ? luo_sum_final(&sum) == le32_to_cpu(e->crc) :
	    luo_memfd_extent_ok(e))
		return 0;
	return luo_memfd_mismatch(e);
}

/*
 * Takes an extent's pages over as the file's page cache: no copy, but where
 * shmem put a large folio (a shmem THP setting), whose pages are copied
 * into it and released. @done counts the extent's pages handled so far
 * (given or copied), @copied those copied.
 */
static int luo_memfd_give_extent(struct file *file,
				 const struct luo_memfd_extent *e, u32 *done,
				 u64 *copied)
{
	u64 index = le64_to_cpu(e->index);
	u64 page = le32_to_cpu(e->page);
	u32 i;
	int ret;

	for (i = *done; i < le32_to_cpu(e->count); i++) {
		ret = luo_ram_give(file, index + i, luo_store_page_pfn(page + i));
		if (ret < 0)
			return ret;
		if (ret == LUO_RAM_COPIED) {
			luo_store_release(page + i, 1);
			(*copied)++;
		}
		(*done)++;
		if (fatal_signal_pending(current))
			return -EINTR;
	}
	return 0;
}

/* A new memfd as memfd_create() makes it: named, sized, seekable. */
static struct file *luo_memfd_new(struct luo_memfd_in *in)
{
	char name[LUO_MEMFD_NAME_MAX + 1] = "memfd:";
	struct file *file;

	if (in->m.name_len) {
		memcpy(name, in->m.name, in->m.name_len);
		name[in->m.name_len] = 0;
	}
	file = luo_shmem_file_setup(name, in->m.size);
	if (IS_ERR(file))
		return file;
	file->f_mode |= LUO_MEMFD_FMODE;
	file->f_flags |= O_LARGEFILE;
	return file;
}

/* Restores the extents from in->next_ext on; resumable. */
static int luo_memfd_restore(struct luo_memfd_in *in, u64 *given, u64 *copied)
{
	u32 i;
	int ret;

	for (i = in->next_ext; i < in->m.nr_extents; i++) {
		const struct luo_memfd_extent *e = &in->m.ext[i];
		u32 n = in->ext_done;

		if (in->given) {
			/* Checked before any page of it is the file's. */
			if (!n && !luo_memfd_extent_ok(e) && luo_memfd_mismatch(e))
				return -EIO;
			u64 c = 0;

			ret = luo_memfd_give_extent(in->file, e, &n, &c);
			*given += n - in->ext_done - c;
			*copied += c;
			in->ext_done = n;
		} else {
			/* One pass: copied and checked. */
			ret = luo_memfd_copy_extent(in, in->file, e);
			if (!ret)
				*copied += le32_to_cpu(e->count);
		}
		if (ret)
			return ret;
		in->ext_done = 0;
		in->next_ext = i + 1;
		cond_resched();
	}
	return 0;
}

static struct file *luo_memfd_retrieve(struct luo_file *lf)
{
	struct luo_memfd_in *in = lf->priv;
	ktime_t start = ktime_get();
	u64 given = 0, copied = 0;
	struct file *file;
	gfp_t gfp;
	int ret;

	if (!in->file) {
		file = luo_memfd_new(in);
		if (IS_ERR(file))
			return file;
		in->file = file;
		in->given = in->m.nr_extents && !in->v1 && !luo_store_ram();
	}
	file = in->file;
	/*
	 * Pages the caller's memory cgroup (or the machine) cannot hold fail
	 * the restore with ENOMEM, to be resumed; they never OOM-kill anyone.
	 */
	gfp = mapping_gfp_mask(file->f_mapping);
	mapping_set_gfp_mask(file->f_mapping, gfp | __GFP_NORETRY | __GFP_NOWARN);
	if (in->v1 && !luo_store_trusted()) {
		/* Checked at load only: the range was the allocator's since. */
		ret = -EIO;
	} else if (in->v1) {
		ret = luo_memfd_fill(file, in->v1, 0, in->m.size);
		if (!ret)
			copied = luo_memfd_pages(in->m.size);
	} else {
		ret = luo_memfd_restore(in, &given, &copied);
	}
	mapping_set_gfp_mask(file->f_mapping, gfp);
	luo_store_count_restore(given, copied, ktime_us_delta(ktime_get(), start));
	if (ret) {
		/* A copy starts over; pages given stay given, so resume. */
		if (!in->given) {
			in->file = NULL;
			in->next_ext = 0;
			fput(file);
		}
		return ERR_PTR(ret);
	}
	if (in->v1)
		luo_memfd_release_v1(in);
	else if (!in->given)
		luo_memfd_release_from(in, 0);
	in->done = true;
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
	if (!in->done && in->v1)
		luo_memfd_release_v1(in);
	if (!in->done && !in->v1) {
		u32 first = in->given ? in->next_ext : 0;

		/* Pages already given belong to the file (and then the kernel). */
		if (in->given && in->ext_done && first < in->m.nr_extents) {
			const struct luo_memfd_extent *e = &in->m.ext[first];

			luo_store_release(le32_to_cpu(e->page) + in->ext_done,
					  le32_to_cpu(e->count) - in->ext_done);
			first++;
		}
		luo_memfd_release_from(in, first);
	}
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
