// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdate: the managed range's pages handed out to shmem files
 */

/**
 * DOC: giving the range's pages
 *
 * luo_ram_insert() makes a kept page the page-cache page of a shmem file at
 * an index, directly (filemap_add_folio()), and luo_ram_account() does
 * shmem's bookkeeping for a run of such pages; see "The direct route"
 * below. That is the default; luo_ram_give() is the fallback route (a
 * CONFIG_DEBUG_VM kernel, a failed self-check; test_take_placeholder=1):
 * shmem allocates and accounts a placeholder folio there (inode
 * blocks, ``alloced``, the memory cgroup charge of the current task, the
 * vm_enough_memory commitment), exactly as for a write, and
 * replace_page_cache_folio() swaps the kept page in, moving the charge and
 * the NR_FILE_PAGES/NR_SHMEM statistics. The placeholder is freed; with
 * ``init_on_alloc=1`` (Debian's default) it was zeroed when allocated,
 * which is most of what a give costs. The data page itself is never
 * written. Once shmem frees a given page (truncate, unlink, swap-out) it
 * goes to the buddy allocator like any other page: it is then ordinary RAM
 * until the next boot, and must not be given again (luo_ram_give() refuses
 * pages that are no longer in the kept state, but the caller's own map of
 * which pfns hold data is what prevents handing out stale ones).
 *
 * luo_ram_migrate() is the same swap the other way round: a shmem file's
 * existing page is copied into a kept page, which then replaces it in the
 * page cache (the old page is freed), so a memfd preserved for the first
 * time can already live in the range. It moves only pages that cannot be
 * written while they are copied: locked, not mapped, not pinned for DMA.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/cleanup.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/ioport.h>
#include <linux/ktime.h>
#include <linux/memory.h>
#include <linux/memory_hotplug.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/mutex.h>
#include <linux/page-flags.h>
#include <linux/pagemap.h>
#include <linux/quotaops.h>
#include <linux/sched/task.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/vmstat.h>

#include "compat.h"
#include "ram.h"

/*
 * Kept page @page becomes an ordinary allocated page, as the allocator
 * would hand it out, and replaces @old (locked, in the page cache) there:
 * uptodate, swap-backed, dirty, on the LRU. replace_page_cache_*() moves
 * the memory cgroup charge and the page-cache statistics over.
 */
static void luo_ram_swap_in(struct folio *old, struct page *page, bool counted)
{
	struct folio *new;

	if (PageOffline(page))
		__ClearPageOffline(page);
	else
		ClearPageReserved(page);
	if (!counted)
		adjust_managed_page_count(page, 1);

	new = page_folio(page);
	__folio_set_locked(new);
	__folio_set_swapbacked(new);
	folio_mark_uptodate(new);
	luo_replace_page_cache(old, new);
	/* As shmem's own pages: only swap could hold a copy, so dirty. */
	folio_mark_dirty(new);
	folio_add_lru(new);
	folio_unlock(new);
	folio_put(new);		/* the page cache holds the only reference */
}

/*
 * Copies kept page @page into large folio @folio (locked, in the page cache)
 * at file page @index. A folio shmem has just allocated for a write is not
 * uptodate: it is zeroed whole first, so the pages no handed-over page fills
 * (holes) read as zeros, then marked uptodate. Dirty, as a write leaves it.
 */
static void luo_ram_copy_into_large(struct folio *folio, pgoff_t index,
				    struct page *page)
{
	long i;

	if (!folio_test_uptodate(folio)) {
		for (i = 0; i < folio_nr_pages(folio); i++)
			clear_highpage(folio_page(folio, i));
		folio_mark_uptodate(folio);
	}
	copy_highpage(folio_page(folio, index - folio->index), page);
	folio_mark_dirty(folio);
}

/**
 * luo_ram_give() - make a kept page a shmem file's page-cache page through
 * a shmem placeholder (the fallback route, see luo_ram_direct())
 * @file:  shmem file (shmem_file_setup()), sized by the caller to cover
 *         @index; nothing may be at @index yet.
 * @index: page index in @file.
 * @pfn:   page of the range, kept and never given before in this boot.
 * @flags: %LUO_RAM_GIVE_COUNTED: the caller counted @pfn in its zone's
 *         managed pages already (luo_ram_count()), else the give does;
 *         %LUO_RAM_GIVE_PARALLEL: other tasks give pages of @file at the
 *         same time (on 6.1 that picks the placeholder's route, compat.h).
 *
 * Afterwards the page is @file's page at @index, its current contents the
 * file's contents there: uptodate, dirty, on the LRU, with shmem's own
 * accounting (i_blocks, alloced, the memory cgroup charge of the current
 * task) as if the data had been written. The page's 4 KiB are neither
 * zeroed nor copied; shmem allocates (and, with init_on_alloc, zeroes) a
 * placeholder page that is freed again. When shmem later frees the page it
 * goes to the buddy allocator for good.
 *
 * Where shmem answers with a large folio (any shmem_enabled setting but
 * "never" can: a module cannot split one or ask for order 0), the page
 * cannot replace a part of it: its bytes are copied into the folio's page
 * at @index instead (the rest of a new folio zeroed first, as a write
 * would leave it), and @pfn stays kept for the caller to release.
 *
 * Context: process context, may sleep. Gives of different pfns and indices
 * may run concurrently, on the same file too (shmem's own locking); no
 * other user of @file may add pages to it meanwhile.
 * Return: 0 (taken over); %LUO_RAM_COPIED (copied into a large folio,
 * @pfn still kept); -EINVAL if @pfn is not in the range; -EBUSY if it was
 * given already or is not kept; -EEXIST if @file has a page at @index;
 * -ENOMEM (or -ENOSPC) if shmem could not allocate or account the page
 * (memory cgroup limit, tmpfs size): the page then stays kept and can be
 * given again later.
 */
int luo_ram_give(struct file *file, pgoff_t index, unsigned long pfn,
		 unsigned int flags)
{
	bool counted = flags & LUO_RAM_GIVE_COUNTED;
	struct page *page = luo_ram_claim(pfn);
	struct folio *old;
	bool fresh;
	int ret;

	if (IS_ERR(page))
		return PTR_ERR(page);

	old = luo_shmem_new_folio(file, index, flags & LUO_RAM_GIVE_PARALLEL,
				  &fresh);
	if (IS_ERR(old)) {
		ret = PTR_ERR(old);
		goto out_keep;
	}
	if (folio_test_large(old)) {
		luo_ram_copy_into_large(old, index, page);
		folio_unlock(old);
		folio_put(old);
		ret = LUO_RAM_COPIED;
		goto out_keep;
	}
	if (!fresh) {
		ret = -EEXIST;
		folio_unlock(old);
		folio_put(old);
		goto out_keep;
	}

	luo_ram_swap_in(old, page, counted);
	folio_unlock(old);
	folio_put(old);		/* frees the placeholder */
	return 0;

out_keep:
	luo_ram_unclaim(pfn);
	return ret;
}

/*
 * The direct route (the default): a kept page goes into the page cache with
 * filemap_add_folio() as a swap-backed, uptodate, dirty folio, which charges
 * the memory cgroup of the current task (or the active one), counts
 * NR_FILE_PAGES and puts it on the LRU; shmem's own bookkeeping, which
 * shmem_add_to_page_cache() and its callers would have done, is then done
 * once for a run of pages (luo_ram_account()): NR_SHMEM, the inode's
 * ``alloced`` and i_blocks, and the vm_enough_memory commitment, which a
 * commit holder (luo_ram_reserve()) took in the caller's context for the
 * whole take-over. No placeholder page is allocated or zeroed. When shmem
 * frees such a page (truncate, punch, swap-out, eviction) its recount
 * (shmem_recalc_inode()) finds the page in ``alloced`` and gives back its
 * blocks and commitment as for any page it allocated itself.
 *
 * filemap_add_folio() has a VM_BUG_ON() for a swap-backed folio, compiled in
 * with CONFIG_DEBUG_VM (off in Debian's kernels); such a kernel, or one on
 * which the self-check at first use (luo_ram_direct_check()) finds shmem
 * does not see the page as its own, takes the placeholder route
 * (luo_ram_give()), and says so once.
 */

static bool luo_test_take_placeholder;
module_param_named(test_take_placeholder, luo_test_take_placeholder, bool, 0600);
MODULE_PARM_DESC(test_take_placeholder, "For tests and benchmarks: take pages over through shmem placeholders (the fallback route)");

enum luo_ram_route {
	LUO_RAM_ROUTE_UNKNOWN,
	LUO_RAM_ROUTE_DIRECT,
	LUO_RAM_ROUTE_PLACEHOLDER,
};

static enum luo_ram_route luo_ram_route;

/*
 * shmem's block accounting for @nr pages of @file just added to its page
 * cache: ``alloced`` and i_blocks, under info->lock on 6.1; i_blocks through
 * the quota helpers since tmpfs has quotas (6.6; Kbuild: LUO_SHMEM_QUOTA),
 * as shmem_inode_acct_blocks() and shmem_recalc_inode() do. shmem's
 * internal mount, where memfds live, has no quota, so the allocation only
 * adds the bytes (NOFAIL: nothing to undo).
 */
static void luo_ram_acct_blocks(struct inode *inode, long nr)
{
	struct shmem_inode_info *info = SHMEM_I(inode);

#ifdef LUO_SHMEM_QUOTA
	__dquot_alloc_space(inode, (qsize_t)nr << PAGE_SHIFT, DQUOT_SPACE_NOFAIL);
	spin_lock(&info->lock);
	info->alloced += nr;
	spin_unlock(&info->lock);
#else
	spin_lock_irq(&info->lock);
	info->alloced += nr;
	inode->i_blocks += (blkcnt_t)nr << (PAGE_SHIFT - 9);
	spin_unlock_irq(&info->lock);
#endif
}

/**
 * luo_ram_account() - shmem's bookkeeping for a run of directly added pages
 * @file:  the shmem file.
 * @folio: one of the run's folios, charged to the same memory cgroup as
 *         the others (added by the same task); the caller's reference,
 *         which this drops.
 * @nr:    pages added with luo_ram_insert() since the last call.
 *
 * Context: process context.
 */
void luo_ram_account(struct file *file, struct folio *folio, long nr)
{
	lruvec_stat_mod_folio(folio, NR_SHMEM, nr);
	luo_ram_acct_blocks(file_inode(file), nr);
	folio_put(folio);
}

/*
 * Adds @folio (order 0, ours, locked by nobody) to shmem @mapping at
 * @index as shmem's own: swap-backed, uptodate, dirty (only swap could hold
 * a copy), on the LRU. On an error the folio is as it was.
 */
static int luo_ram_add_folio(struct address_space *mapping,
			     struct folio *folio, pgoff_t index)
{
	int ret;

	__folio_set_swapbacked(folio);
	folio_mark_uptodate(folio);
	ret = filemap_add_folio(mapping, folio, index, mapping_gfp_mask(mapping));
	if (ret) {
		folio_clear_uptodate(folio);
		__folio_clear_swapbacked(folio);
		return ret;
	}
	folio_mark_dirty(folio);
	folio_unlock(folio);
	return 0;
}

/**
 * luo_ram_insert() - make a kept page a shmem file's page, the direct way
 * @file:    shmem file (shmem_file_setup()) covering @index, nothing there.
 * @index:   page index in @file.
 * @pfn:     page of the range, kept and never given before in this boot.
 * @counted: the caller counted @pfn in its zone's managed pages already
 *           (luo_ram_count()), else this does.
 * @first:   NULL for the first page of a run: then set to its folio, with a
 *           reference for luo_ram_account().
 *
 * The memory cgroup charge, NR_FILE_PAGES and the LRU are done here; the
 * caller then calls luo_ram_account() once for the run. Only after
 * luo_ram_direct() said true.
 *
 * Context: process context, may sleep; inserts of different pfns and
 * indices may run concurrently, on the same file too.
 * Return: 0; -EINVAL, -EBUSY as luo_ram_give(); -EEXIST if @file has a
 * page at @index; -ENOMEM if the memory cgroup (or the machine) cannot
 * hold it: the page then stays kept and can be inserted again later.
 */
int luo_ram_insert(struct file *file, pgoff_t index, unsigned long pfn,
		   bool counted, struct folio **first)
{
	struct page *page = luo_ram_claim(pfn);
	bool offline;
	int ret;

	if (IS_ERR(page))
		return PTR_ERR(page);
	offline = PageOffline(page);
	if (offline)
		__ClearPageOffline(page);
	else
		ClearPageReserved(page);
	ret = luo_ram_add_folio(file->f_mapping, page_folio(page), index);
	if (ret) {
		/* Kept again, as the online callback left it. */
		if (offline)
			__SetPageOffline(page);
		else
			SetPageReserved(page);
		luo_ram_unclaim(pfn);
		return ret;
	}
	if (!counted)
		adjust_managed_page_count(page, 1);
	if (!*first)
		*first = page_folio(page);	/* our reference, for the stats */
	else
		put_page(page);		/* the page cache holds the only one */
	return 0;
}

/**
 * luo_ram_reserve() - take the commitment of pages about to be inserted
 * @pages: how many.
 *
 * shmem commits a memfd's memory (vm_enough_memory, Committed_AS) page by
 * page as it allocates; luo_ram_insert() allocates nothing, so the
 * commitment is taken here, at once, in the caller's context, by a commit
 * holder: an unlinked shmem file without VM_NORESERVE, which commits its
 * size when made and gives back its size when freed. luo_ram_unreserve()
 * shrinks it by the pages inserted, whose commitment thus stays taken
 * until shmem frees them (and gives it back as for its own pages).
 *
 * Context: process context (the caller's).
 * Return: the holder, or an ERR_PTR() (-ENOMEM: no room to commit).
 */
struct file *luo_ram_reserve(u64 pages)
{
	return luo_shmem_file_setup_reserved("liveupdate-commit",
					     (loff_t)pages << PAGE_SHIFT);
}

/**
 * luo_ram_unreserve() - keep what was inserted, give back the rest
 * @holder: from luo_ram_reserve().
 * @used:   pages inserted meanwhile (at most those reserved).
 *
 * Context: process context (the caller's).
 */
void luo_ram_unreserve(struct file *holder, u64 used)
{
	struct inode *inode = file_inode(holder);
	u64 pages = i_size_read(inode) >> PAGE_SHIFT;

	/* The holder has no pages: its size is all that eviction reads. */
	i_size_write(inode, (loff_t)(pages - min(pages, used)) << PAGE_SHIFT);
	fput(holder);
}

/*
 * The self-check at first use: a page of our own goes into a private shmem
 * file by the direct route; shmem must find it, read it, count it as one
 * page of the file, and give all of it back when it truncates the file.
 * Returns NULL if the route behaves, else what did not; an ERR_PTR() if the
 * check could not run (no memory).
 */
static const char *luo_ram_direct_check(void)
{
	static const char pattern[] = "liveupdate";
	struct file *file, *holder;
	struct folio *folio, *found, *first = NULL;
	struct address_space *mapping;
	struct inode *inode;
	const char *bad = NULL;
	char buf[sizeof(pattern)];
	struct page *page;
	loff_t pos = 0;
	void *addr;
	int ret;

	file = luo_shmem_file_setup("liveupdate-check", PAGE_SIZE);
	if (IS_ERR(file))
		return ERR_CAST(file);
	holder = luo_ram_reserve(1);
	if (IS_ERR(holder)) {
		fput(file);
		return ERR_CAST(holder);
	}
	inode = file_inode(file);
	mapping = file->f_mapping;
	/* A caller's full memory cgroup: ENOMEM, not the OOM killer. */
	mapping_set_gfp_mask(mapping, mapping_gfp_mask(mapping) |
			     __GFP_NORETRY | __GFP_NOWARN);
	page = alloc_page(GFP_KERNEL | __GFP_NOWARN);
	if (!page) {
		bad = ERR_PTR(-ENOMEM);
		goto out;
	}
	addr = kmap_local_page(page);
	memcpy(addr, pattern, sizeof(pattern));
	kunmap_local(addr);
	folio = page_folio(page);
	ret = luo_ram_add_folio(mapping, folio, 0);
	if (ret) {
		put_page(page);
		bad = ERR_PTR(ret);
		goto out;
	}
	first = folio;		/* our reference */
	folio_get(first);
	luo_ram_account(file, folio, 1);
	found = filemap_get_folio(mapping, 0);
	if (IS_ERR_OR_NULL(found) || found != first)
		bad = "page cache lookup";
	if (!IS_ERR_OR_NULL(found))
		folio_put(found);
	if (!bad && (!folio_test_swapbacked(first) || !folio_test_uptodate(first) ||
		     !folio_test_dirty(first)))
		bad = "folio flags";
	if (!bad && (mapping->nrpages != 1 || SHMEM_I(inode)->alloced != 1 ||
		     inode->i_blocks != PAGE_SIZE >> 9))
		bad = "inode accounting";
	if (!bad && (kernel_read(file, buf, sizeof(buf), &pos) != sizeof(buf) ||
		     memcmp(buf, pattern, sizeof(pattern))))
		bad = "read";
	shmem_truncate_range(inode, 0, (loff_t)-1);
	if (!bad && (mapping->nrpages || SHMEM_I(inode)->alloced ||
		     inode->i_blocks))
		bad = "truncate";
	folio_put(first);
out:
	luo_ram_unreserve(holder, first ? 1 : 0);
	fput(file);
	return bad;
}

/**
 * luo_ram_direct() - whether take-overs use the direct route
 *
 * Decided at the first call (luo_ram_direct_check()), once for the boot;
 * the placeholder route is taken, and the log says why once, on a
 * CONFIG_DEBUG_VM kernel or when the self-check fails. With
 * test_take_placeholder set, false (nothing logged).
 *
 * Context: process context, may sleep.
 * Return: true to use luo_ram_insert(), false for luo_ram_give().
 */
bool luo_ram_direct(void)
{
	static DEFINE_MUTEX(lock);
	const char *bad;

	if (READ_ONCE(luo_test_take_placeholder))
		return false;
	if (READ_ONCE(luo_ram_route) != LUO_RAM_ROUTE_UNKNOWN)
		return READ_ONCE(luo_ram_route) == LUO_RAM_ROUTE_DIRECT;
	guard(mutex)(&lock);
	if (luo_ram_route != LUO_RAM_ROUTE_UNKNOWN)
		return luo_ram_route == LUO_RAM_ROUTE_DIRECT;
	if (IS_ENABLED(CONFIG_DEBUG_VM)) {
		pr_info("ram: CONFIG_DEBUG_VM kernel: pages are taken over through shmem placeholders\n");
		WRITE_ONCE(luo_ram_route, LUO_RAM_ROUTE_PLACEHOLDER);
		return false;
	}
	bad = luo_ram_direct_check();
	if (IS_ERR(bad))	/* could not run: try again next time */
		return false;
	if (bad) {
		pr_warn("ram: the direct page-cache route failed its self-check (%s): pages are taken over through shmem placeholders\n",
			bad);
		WRITE_ONCE(luo_ram_route, LUO_RAM_ROUTE_PLACEHOLDER);
		return false;
	}
	WRITE_ONCE(luo_ram_route, LUO_RAM_ROUTE_DIRECT);
	return true;
}

/**
 * luo_ram_migrate() - move a shmem file's page into a kept page
 * @file:  shmem file whose size does not change; the caller holds its inode
 *         lock, so no write() reaches the page meanwhile.
 * @index: page index in @file.
 * @pfn:   page of the range, kept and never given before in this boot.
 *
 * The file's page at @index is copied into the kept page, which then
 * replaces it in the page cache (as luo_ram_give() does), and the old page
 * is freed. Only a page nothing else can write to is moved: order 0,
 * uptodate, not under writeback, mapped by no process (a write through a
 * mapping could land on the old page after the copy; the page lock keeps
 * new mappings out while it is held) and not pinned for DMA (io_uring's
 * fixed buffers stay pinned after munmap()), held by nobody but the page
 * cache (its reference count is frozen for the copy, as migration does)
 * and has no memory error (reading it could be a machine check). Readers holding the old page (a
 * read() in progress, a pipe after splice()) keep the bytes it had.
 *
 * Context: process context, may sleep.
 * Return: 0; -ENOENT if @file has no page at @index; -EAGAIN if the page
 * cannot be moved now (the list above; @pfn stays kept); -EBUSY if @pfn was
 * given already or is not kept; -EINVAL if @pfn is not in the range.
 */
int luo_ram_migrate(struct file *file, pgoff_t index, unsigned long pfn)
{
	struct page *page = luo_ram_claim(pfn);
	struct folio *old;
	int ret;

	if (IS_ERR(page))
		return PTR_ERR(page);
	/* NULL until 6.3, an ERR_PTR() since. */
	old = __filemap_get_folio(file->f_mapping, index, FGP_LOCK, 0);
	if (IS_ERR_OR_NULL(old)) {
		ret = -ENOENT;
		goto out_keep;
	}
	if (folio_test_large(old) || !folio_test_uptodate(old) ||
	    folio_test_writeback(old) || folio_mapped(old) ||
	    folio_maybe_dma_pinned(old) || folio_test_hwpoison(old)) {
		folio_unlock(old);
		folio_put(old);
		ret = -EAGAIN;
		goto out_keep;
	}
	/*
	 * As migration does: only with no reference but the page cache's
	 * and ours (a write through any other, e.g. a pipe's or a 6.1
	 * direct I/O's, would land on the page discarded), frozen for the
	 * copy so that none is taken meanwhile. New lookups then wait for
	 * the page lock and find the new page.
	 */
	if (!folio_ref_freeze(old, 2)) {
		folio_unlock(old);
		folio_put(old);
		ret = -EAGAIN;
		goto out_keep;
	}
	copy_highpage(page, folio_page(old, 0));
	folio_ref_unfreeze(old, 2);
	luo_ram_swap_in(old, page, false);
	folio_unlock(old);
	folio_put(old);		/* the last reference, unless a reader has one */
	return 0;

out_keep:
	luo_ram_unclaim(pfn);
	return ret;
}
