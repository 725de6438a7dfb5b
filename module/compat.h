/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liveupdate: what differs between the kernels the module builds for
 * (Debian's 6.1, 6.12 and 7.x). Everything version-dependent lives here so
 * the layers above are written once.
 */
#ifndef _LIVEUPDATE_COMPAT_H
#define _LIVEUPDATE_COMPAT_H

#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <uapi/linux/fcntl.h>

/*
 * struct folio_batch: pagevec.h until 7.x renamed it folio_batch.h (Kbuild:
 * LUO_HAVE_FOLIO_BATCH_H when the headers have it).
 */
#ifdef LUO_HAVE_FOLIO_BATCH_H
#include <linux/folio_batch.h>
#else
#include <linux/pagevec.h>
#endif

/* F_SEAL_EXEC arrived in 6.3; older kernels store the bit but never act on it. */
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC	0x0020
#endif

/*
 * memfd_create() marks its files seekable and pread/pwrite-able. 6.5 dropped
 * FMODE_LSEEK (seekability now follows f_op->llseek).
 */
#ifdef FMODE_LSEEK
#define LUO_MEMFD_FMODE	(FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE)
#else
#define LUO_MEMFD_FMODE	(FMODE_PREAD | FMODE_PWRITE)
#endif

/*
 * shmem_file_setup() takes vma_flags_t, built with mk_vma_flags(), instead
 * of VM_* bits in 7.x (checked against Debian's 6.12 and 7.2 headers). The
 * _reserved variant commits the file's size at once (no VM_NORESERVE).
 */
#ifdef mk_vma_flags
#define luo_shmem_file_setup(name, size) \
	shmem_file_setup(name, size, mk_vma_flags(VMA_NORESERVE_BIT))
#define luo_shmem_file_setup_reserved(name, size) \
	shmem_file_setup(name, size, EMPTY_VMA_FLAGS)
#else
#define luo_shmem_file_setup(name, size) \
	shmem_file_setup(name, size, VM_NORESERVE)
#define luo_shmem_file_setup_reserved(name, size) \
	shmem_file_setup(name, size, 0)
#endif

/*
 * inode_operations.setattr takes a struct mnt_idmap * since 6.3, a struct
 * user_namespace * before. No macro marks the change: Kbuild looks for it
 * in the headers' fs.h and defines LUO_SETATTR_MNT_IDMAP.
 */
#ifdef LUO_SETATTR_MNT_IDMAP
#define LUO_IDMAP	struct mnt_idmap
#else
#define LUO_IDMAP	struct user_namespace
#endif

/* kzalloc_obj() arrived in 7.x; before, the same by sizeof. */
#ifndef kzalloc_obj
#define kzalloc_obj(P, GFP)	kzalloc(sizeof(P), GFP)
#endif

/*
 * Per-CPU workqueues say so with WQ_PERCPU (an enum: Kbuild defines
 * LUO_HAVE_WQ_PERCPU when workqueue.h has it; 6.12 and 7.x, which warn
 * about a workqueue with neither it nor WQ_UNBOUND); before, the default.
 */
#ifdef LUO_HAVE_WQ_PERCPU
#define LUO_WQ_PERCPU	WQ_PERCPU
#else
#define LUO_WQ_PERCPU	0
#endif

/* An upstream LUO in the kernel already owns /dev/liveupdate. */
#if IS_ENABLED(CONFIG_LIVEUPDATE)
#define LUO_KERNEL_HAS_LUO	1
#else
#define LUO_KERNEL_HAS_LUO	0
#endif

/* --- ram.c: the range as managed RAM --------------------------------- */

/*
 * The largest order the buddy allocator (and online_pages_range()) uses:
 * MAX_PAGE_ORDER (inclusive) since 6.8, MAX_ORDER - 1 before.
 */
#ifdef MAX_PAGE_ORDER
#define LUO_MAX_ORDER	MAX_PAGE_ORDER
#else
#define LUO_MAX_ORDER	(MAX_ORDER - 1)
#endif

/*
 * Swapping one page-cache folio for another: replace_page_cache_folio()
 * since 6.2, replace_page_cache_page() before. Kbuild defines
 * LUO_HAVE_REPLACE_PAGE_CACHE_FOLIO when the kernel exports it.
 */
static inline void luo_replace_page_cache(struct folio *old, struct folio *new)
{
#ifdef LUO_HAVE_REPLACE_PAGE_CACHE_FOLIO
	replace_page_cache_folio(old, new);
#else
	replace_page_cache_page(&old->page, &new->page);
#endif
}

/*
 * A locked, referenced, shmem-accounted folio at @index of shmem file
 * @file, allocated for a write that has not happened yet, or the folio
 * already there; *@fresh says which (a new order-0 folio is one nothing can
 * have written or mapped yet). Returns the folio or an ERR_PTR().
 *
 * shmem_get_folio() is exported since 6.x (Kbuild: LUO_HAVE_SHMEM_GET_FOLIO;
 * LUO_SHMEM_GET_FOLIO_WRITE_END when it takes the write end, 6.11+): with
 * SGP_WRITE it leaves a new folio not uptodate. 6.1 has two routes, chosen
 * by measurement (docs/zero-copy.md): fallocate() allocates the same folio,
 * but under the inode lock, which serialises CPUs restoring one file in
 * parallel (@parallel false: one task); the page cache read path does not
 * take it, but zeroes the folio once more than the allocator's
 * init_on_alloc does: shmem_read_mapping_page_gfp() allocates, accounts,
 * zeroes and marks it uptodate. Nothing else adds pages to a file being
 * restored and each index is given by one task, so a folio that was not
 * there just before that call is ours. On the fallocate() route the folio
 * can be swapped out before it is looked up: it is punched out again, so
 * that neither this call nor a later one finds it written.
 */
#ifndef LUO_HAVE_SHMEM_GET_FOLIO
/* Placeholders fallocate() made that swap-out took, before giving up. */
#define LUO_PLACEHOLDER_TRIES	3
bool luo_test_placeholder_out(struct address_space *mapping, pgoff_t index);
#endif

static inline struct folio *luo_shmem_new_folio(struct file *file,
						pgoff_t index, bool parallel,
						bool *fresh)
{
	struct folio *folio;
#ifdef LUO_HAVE_SHMEM_GET_FOLIO
	int err;

#ifdef LUO_SHMEM_GET_FOLIO_WRITE_END
	err = shmem_get_folio(file_inode(file), index, 0, &folio, SGP_WRITE);
#else
	err = shmem_get_folio(file_inode(file), index, &folio, SGP_WRITE);
#endif
	if (err)
		return ERR_PTR(err);
	*fresh = !folio_test_uptodate(folio) && !folio_mapped(folio);
	return folio;
#else
	struct address_space *mapping = file->f_mapping;
	struct page *page;
	int err;

	if (!parallel) {
		loff_t pos = (loff_t)index << PAGE_SHIFT;
		int tries;

		for (tries = 0; tries < LUO_PLACEHOLDER_TRIES; tries++) {
			err = vfs_fallocate(file, FALLOC_FL_KEEP_SIZE, pos,
					    PAGE_SIZE);
			if (err)
				return ERR_PTR(err);
			/* NULL until 6.3, an ERR_PTR() since. */
			folio = luo_test_placeholder_out(mapping, index) ? NULL :
				__filemap_get_folio(mapping, index, FGP_LOCK, 0);
			if (!IS_ERR_OR_NULL(folio)) {
				*fresh = !folio_test_uptodate(folio) &&
					 !folio_mapped(folio);
				return folio;
			}
			/*
			 * Swapped out since fallocate() made it: shmem zeroes
			 * a fallocated folio and marks it uptodate before it
			 * writes it out, so fallocate() would bring back a
			 * folio that looks written (EEXIST at every retry).
			 * Punch it out and allocate again.
			 */
			err = vfs_fallocate(file, FALLOC_FL_PUNCH_HOLE |
					    FALLOC_FL_KEEP_SIZE, pos, PAGE_SIZE);
			if (err)
				return ERR_PTR(err);
		}
		return ERR_PTR(-ENOMEM);
	}
	folio = __filemap_get_folio(mapping, index, FGP_LOCK, 0);
	if (!IS_ERR_OR_NULL(folio)) {
		*fresh = false;
		return folio;
	}
	page = shmem_read_mapping_page_gfp(mapping, index,
					   mapping_gfp_mask(mapping));
	if (IS_ERR(page))
		return ERR_CAST(page);
	folio = page_folio(page);
	folio_lock(folio);
	*fresh = folio->mapping == mapping && !folio_mapped(folio);
	return folio;
#endif
}

/*
 * A folio's first file page, in base pages. A hugetlb folio's index counts
 * huge pages until 6.7 (Kbuild: LUO_HUGETLB_INDEX_HUGE when pagemap.h's
 * folio_pgoff() converts it, through hugetlb_basepage_index(), which is
 * not exported), base pages since, as every other folio's.
 */
static inline pgoff_t luo_folio_pgoff(struct folio *folio)
{
#ifdef LUO_HUGETLB_INDEX_HUGE
	if (folio_test_hugetlb(folio))
		return folio->index << folio_order(folio);
#endif
	return folio->index;
}

/* The page cache index of huge page @h of a hugetlb file of @order pages. */
static inline pgoff_t luo_hugetlb_index(u64 h, unsigned int order)
{
#ifdef LUO_HUGETLB_INDEX_HUGE
	return h;
#else
	return h << order;
#endif
}

#endif /* _LIVEUPDATE_COMPAT_H */
