// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdate: a preserved file's pages, for the file handlers.
 */

/**
 * DOC: a preserved file's pages
 *
 * What KHO's folio calls are to upstream's handlers, this is to ours: a
 * handler hands its file's pages (a shmem page cache) over with a few calls
 * (pages.h) and never sees the store, its reservations or luo_lock.
 *
 * Pinning: at PRESERVE_FD the file's pages that already lie in the range
 * (a file restored by taking its pages over) are pinned there: a reference
 * stops migration (compaction, NUMA balancing) and the mapping is made
 * unevictable, so they are neither swapped nor moved until the kexec. Only
 * the other pages need room in the range. A page the kernel found a memory
 * error in refuses the file (EIO, as upstream: reading it inside the kexec
 * would be a machine check).
 *
 * Extents: one builder (struct luo_extents) makes every extent list, in
 * file-page order: runs of pages left in place and runs of up to
 * LUO_COPY_RUN pages copied. It runs at PRESERVE_FD for a file pinned whole
 * (its pages where they are: the commit then only checks that each pinned
 * page is still the file's, without a walk of its page cache), for a
 * write-sealed file (precopy: nothing can change it any more, so it is
 * copied into the range then, out of its own reservation), and inside the
 * kexec for everything else: the commit copies pages on every CPU and
 * checksums them while copied. Data left in place is checksummed only with
 * checksum_inplace=1: that costs reading every byte inside the kexec and
 * again at restore.
 *
 * Migration (migrate=1, off by default): without it a file's first kexec
 * copies it into the range, inside the kexec. With it, PRESERVE_FD moves
 * the file's pages into free range pages (making the range RAM first, if
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
 *
 * Restore, at the first RETRIEVE_FD: the handler's new file gets the
 * handed-over pages themselves as its page cache when the range could be
 * made RAM (ram.c; zerocopy=1, the default; each checksummed extent
 * verified before its first page is given), or a copy of them otherwise
 * (each extent checksummed in the copy pass). A checksum that does not
 * match fails the restore with EIO, for good, except over pages left in
 * place that a process could still write while the old kernel stopped
 * (LUO_EXTENT_LIVE: counted in last_handover, bytes delivered). Where
 * shmem answers a give with a large folio (a shmem THP setting), the pages
 * of that folio are copied into it instead. Taking over runs on every CPU
 * the caller may use (take_threads caps it): the caller and a worker per
 * other CPU verify the checksummed extents, then give units of
 * LUO_TAKE_UNIT pages, the workers charging the caller's memory cgroup
 * under its credentials. The range became RAM in the background from the
 * first open (store.c), so the first restore waits for that only if it has
 * not finished. A restore stopped by a signal or a memory limit resumes at
 * the next call (taking over: where each unit stopped; copying: from the
 * start, into a new file).
 *
 * Hugetlb files (hugetlb.c): their pages are pinned, listed and copied at
 * the kexec as shmem pages are (a folio's first file page through
 * compat.h: 6.1 counts a hugetlb folio's index in huge pages), never
 * swapped, migrated or taken over. Restoring one: the caller allocates the
 * huge pages that held data, one by one with fallocate() (charged to it and
 * its hugetlb cgroup; a short pool: ENOMEM; hugetlbfs zeroes each), while
 * the workers copy the extents into those already allocated, checksummed in
 * the copy pass; a failure starts over into a new file.
 *
 * Data checksums are XXH64 (data_sum.h, LUO_EXTENT_XXH64); extents with a
 * crc32 (LUO_EXTENT_CRC), as the first format 2 modules wrote, are read.
 *
 * Locking: luo_lock only around the store's reservation (taking pages out
 * of it, giving them back); the inode lock of the file for pinning (the
 * caller holds it) and for migration; none for the restore, which the
 * caller serialises (the incoming session's mutex).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/completion.h>
#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/crc32.h>
#include <linux/cred.h>
#include <linux/memcontrol.h>
#include <linux/sched/mm.h>
#include <linux/file.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/shmem_fs.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/swap.h>
#include <linux/wait_bit.h>
#include <linux/workqueue.h>

#include "data_sum.h"
#include "internal.h"
#include "pages.h"
#include "ram.h"
#include "store_pages.h"

/* Checksum data handed over in place too (costs a read of it, twice). */
static bool luo_crc_inplace;
module_param_named(checksum_inplace, luo_crc_inplace, bool, 0644);
MODULE_PARM_DESC(checksum_inplace, "Checksum memfd data handed over in place, not only copied data (default N)");

/* Move files into the range at PRESERVE_FD (see DOC: Migration). */
static bool luo_migrate;
module_param_named(migrate, luo_migrate, bool, 0644);
MODULE_PARM_DESC(migrate, "Move a memfd's pages into the range at PRESERVE_FD, so that no kexec copies them; makes the range RAM for the rest of the boot (default N)");

/*
 * Zero-copy: "auto" (the default) takes pages over where the range can be
 * RAM, "off" never. Set only at load; the store shows it in "space".
 */
static bool luo_zerocopy = true;

static int luo_param_set_zerocopy(const char *val, const struct kernel_param *kp)
{
	int ret = param_set_bool(val, kp);

	if (!ret)
		luo_store_set_zerocopy(luo_zerocopy);
	return ret;
}

static const struct kernel_param_ops luo_zerocopy_ops = {
	.flags = KERNEL_PARAM_OPS_FL_NOARG,
	.set = luo_param_set_zerocopy,
	.get = param_get_bool,
};

module_param_cb(zerocopy, &luo_zerocopy_ops, &luo_zerocopy, 0444);
__MODULE_PARM_TYPE(zerocopy, "bool");
MODULE_PARM_DESC(zerocopy, "Restore memfds by taking their pages over when the range can be RAM (default Y)");

/*
 * Restoring works in steps of this much: between them it reschedules and
 * stops if the caller was killed (the bytes stay in the range for a retry).
 */
#define LUO_PAGES_STEP		SZ_1M

/*
 * Per-page arrays of a file the user sized: past INT_MAX bytes (a 1 TiB
 * memfd's pins) kvmalloc() refuses, and must do so quietly (ENOMEM).
 */
#define LUO_PAGES_GFP	(GFP_KERNEL_ACCOUNT | __GFP_NOWARN)

static u32 luo_pages_sum(u64 page, u32 count);

static u64 luo_pages_count(u64 size)
{
	return DIV_ROUND_UP(size, LUO_PAGE_SIZE);
}

/* A folio's first file page (compat.h: hugetlb's index differs on 6.1). */
static u64 luo_folio_first(struct folio *folio)
{
	return luo_folio_pgoff(folio);
}

/* The file's kind, for the log. */
static const char *luo_pages_what(const struct luo_pages_out *o)
{
	return o->huge ? "hugetlb memfd" : "memfd";
}

static const char *luo_pages_in_what(const struct luo_pages_in *in)
{
	return in->huge_order ? "hugetlb memfd" : "memfd";
}

/* The range as RAM, unless zero-copy is off. */
static int luo_pages_ram(void)
{
	if (!READ_ONCE(luo_zerocopy)) {
		pr_info_once("zero-copy is off (zerocopy=0): memfds are restored by copying\n");
		return -EPERM;
	}
	return luo_store_ram();
}

/* --- extents ------------------------------------------------------------ */

/**
 * struct luo_extents - builds an extent list in file-page order
 * @out:           the file.
 * @w:             the commit's writer: extents go to the metadata and
 *                 copies are queued for every CPU; NULL: extents go to
 *                 out->pre (room for @cap) and copies are made at once.
 * @reserved:      without @w: the reservation copies take pages out of.
 * @cap:           without @w: extents out->pre has room for.
 * @nr:            extents made.
 * @copy:          the open run is one to copy.
 * @index:         its first file page.
 * @count:         its pages; 0: no open run.
 * @page:          in place: its first range page.
 * @inplace_flags: of a checksummed extent left in place.
 * @err:           the first error; the list is incomplete.
 * @src:           the open copy run's pages (%LUO_COPY_RUN), each with a
 *                 reference; NULL if every page is in place.
 */
struct luo_extents {
	struct luo_pages_out *out;
	struct luo_writer *w;
	u64 *reserved;
	u64 cap;
	u32 nr;
	bool copy;
	u64 index;
	u32 count;
	u64 page;
	u32 inplace_flags;
	int err;
	struct page **src;
};

static struct luo_memfd_extent *luo_extent_add(struct luo_extents *x)
{
	struct luo_pages_out *o = x->out;
	struct luo_memfd_extent *e = NULL;

	if (x->w)
		e = luo_writer_add(x->w, sizeof(*e));
	else if (o->nr_pre < x->cap)
		e = &o->pre[o->nr_pre++];
	if (e)
		x->nr++;
	else
		x->err = -ENOSPC;
	return e;
}

/* Range pages for a copy run: the commit's, or out of the reservation. */
static s64 luo_extents_alloc(struct luo_extents *x, u64 max, u64 *got)
{
	s64 page;

	if (x->w)
		return luo_store_alloc_run(max, got);
	guard(mutex)(&luo_lock);
	page = luo_store_take(max, got);
	if (page >= 0)
		*x->reserved -= *got;
	return page;
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
				e->crc = cpu_to_le32(luo_pages_sum(x->page, x->count));
				e->flags = cpu_to_le32(x->inplace_flags);
			}
			/* A list made early is counted when the commit uses it. */
			if (x->w)
				luo_store_count_inplace(x->count);
		}
		x->count = 0;
		return;
	}
	i = 0;
	while (i < x->count) {
		page = x->err ? -ENOSPC : luo_extents_alloc(x, x->count - i, &got);
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
		if (x->w)
			luo_store_copy_pages(&x->src[i], page, got_pages, &e->crc);
		else
			e->crc = cpu_to_le32(luo_store_copy_now(&x->src[i], page,
								got_pages));
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
static void luo_extents_gap(struct luo_extents *x, struct file *file,
			    u64 from, u64 to)
{
	struct page *page;
	u64 idx;

	/* Hugetlb pages are never swapped: a gap is a hole. */
	if (from >= to || x->out->huge ||
	    !READ_ONCE(SHMEM_I(file_inode(file))->swapped))
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

/*
 * Adds every page of the file's page cache to @x: in place if pinned in
 * the range, else to copy. The commit (x->w) reads swapped-out pages back
 * and hands poisoned ones over as holes; a precopy reads nothing back and
 * stops at the first error (a poisoned page: -EIO). Returns the pages of
 * the folios seen.
 */
static u64 luo_extents_walk(struct luo_extents *x, struct file *file)
{
	struct luo_pages_out *o = x->out;
	struct folio_batch fbatch;
	pgoff_t index = 0;
	u64 next = 0, seen = 0, rpage;

	folio_batch_init(&fbatch);
	while ((x->w || !x->err) && o->npages &&
	       filemap_get_folios(file->f_mapping, &index, o->npages - 1,
				  &fbatch)) {
		unsigned int i, j;

		for (i = 0; (x->w || !x->err) && i < folio_batch_count(&fbatch); i++) {
			struct folio *folio = fbatch.folios[i];
			u64 first = luo_folio_first(folio);

			seen += folio_nr_pages(folio);
			if (x->w)
				luo_extents_gap(x, file, next, first);
			for (j = 0; j < folio_nr_pages(folio); j++) {
				struct page *page = folio_page(folio, j);
				u64 idx = first + j;
				bool in_place;

				if (idx >= o->npages)
					break;
				next = idx + 1;
				if (luo_page_hwpoison(page) && !x->w) {
					/* Left to the commit, which skips it. */
					x->err = -EIO;
					break;
				}
				/* Never read (a machine check): a hole, said. */
				if (luo_page_hwpoison(page)) {
					/* Once per huge page: all of it is. */
					if (!j || !folio_test_hugetlb(folio))
						pr_err("%s page %llu has a memory error; handed over as zeros%s\n",
						       luo_pages_what(o), idx,
						       folio_test_hugetlb(folio) ?
						       " with the rest of its huge page" : "");
					continue;
				}
				/* In place only if pinned: it cannot move. */
				in_place = o->pinned && o->pinned[idx] == page &&
					   luo_store_page_of(page, &rpage);
				luo_extents_add(x, idx, page, in_place, rpage);
				if (x->err && !x->w)
					break;
			}
		}
		folio_batch_release(&fbatch);
		cond_resched();
	}
	if (x->w)
		luo_extents_gap(x, file, next, o->npages);
	luo_extents_flush(x);
	return seen;
}

/* --- preserve ----------------------------------------------------------- */

/* Pins the file's pages that lie in the range; -EIO for a poisoned one. */
static int luo_pages_pin(struct luo_pages_out *o, struct address_space *mapping)
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
				u64 idx = luo_folio_first(folio) + j;

				if (idx >= o->npages ||
				    !luo_store_page_of(page, &rpage))
					continue;
				if (!o->pinned) {
					o->pinned = kvcalloc(o->npages,
							     sizeof(*o->pinned),
							     LUO_PAGES_GFP);
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

/* Lets go of the pins and gives the pages back to reclaim. */
static void luo_pages_unpin(struct luo_pages_out *o,
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

/* Pinned pages stay where they are: neither reclaimed nor swapped. */
static void luo_pages_set_unevictable(struct luo_pages_out *o,
				      struct address_space *mapping)
{
	if (o->nr_pinned && !mapping_unevictable(mapping)) {
		mapping_set_unevictable(mapping);
		o->unevictable = true;
	}
}

/*
 * A file whose every page is pinned in the range (restored by taking its
 * pages over) needs no walk of its page cache inside the kexec: its extents
 * are made now, from the pins, and the commit only checks that each pinned
 * page is still the file's page at its index (luo_pages_still_pinned()).
 * Without memory for the list the commit walks the page cache as usual.
 */
static void luo_pages_plan_inplace(struct luo_pages_out *o)
{
	struct luo_extents x = { .out = o };
	u64 i, rpage, prev = 0;
	u64 n = 0;

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
	o->pre = kvcalloc(n, sizeof(*o->pre), LUO_PAGES_GFP);
	if (!o->pre)
		return;
	/* Every page in place: the builder needs no copy run (x.src). */
	x.cap = n;
	for (i = 0; i < o->npages; i++) {
		luo_store_page_of(o->pinned[i], &rpage);
		luo_extents_add(&x, i, o->pinned[i], true, rpage);
	}
	luo_extents_flush(&x);
	o->verify = true;
}

/**
 * luo_pages_preserve() - start preserving a file's pages
 * @out:     zeroed by the caller; filled here.
 * @mapping: the file's page cache (shmem or hugetlbfs).
 * @size:    the file's size, frozen from now on.
 * @seals:   the inode's seals (read until luo_pages_unpreserve()).
 * @huge:    a hugetlbfs file.
 *
 * Pins the pages that already lie in the range (they are handed over where
 * they are, and make the mapping unevictable), and lists them as extents
 * at once if they are all of the file's pages. Refuses a file with a page
 * the kernel found a memory error in, as upstream. On an error nothing is
 * left to undo.
 *
 * Context: process context; the caller holds the inode's lock (i_rwsem),
 * not luo_lock.
 * Return: 0, -EIO (a poisoned page), or -ENOMEM.
 */
int luo_pages_preserve(struct luo_pages_out *out,
		       struct address_space *mapping, u64 size,
		       const unsigned int *seals, bool huge)
{
	int ret;

	out->seals = seals;
	out->huge = huge;
	out->size = size;
	out->npages = luo_pages_count(size);
	ret = luo_pages_pin(out, mapping);
	if (ret) {
		luo_pages_unpin(out, mapping);
		return ret;
	}
	luo_pages_set_unevictable(out, mapping);
	luo_pages_plan_inplace(out);
	return 0;
}

/**
 * luo_pages_room() - data pages a preserved file must reserve in the range
 * @out:       from luo_pages_preserve().
 * @punchable: another file of the inode, opened for writing before
 *             PRESERVE_FD, can punch pinned pages out (fallocate()).
 *
 * Pinned pages need no room, unless they can be punched: then room for
 * every page, or the copies the kexec makes of pages written in their
 * place would use room others reserved.
 *
 * Context: any.
 * Return: the pages to pass to luo_store_reserve().
 */
u64 luo_pages_room(const struct luo_pages_out *out, bool punchable)
{
	return punchable ? out->npages : out->npages - out->nr_pinned;
}

/* Gives a run luo_store_take() gave back, as far as it was not used. */
static void luo_pages_untake(u64 *reserved, u64 page, u64 count)
{
	if (!count)
		return;
	guard(mutex)(&luo_lock);
	luo_store_release(page, count);
	if (!luo_store_reserve(0, count))
		*reserved += count;
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
static void luo_pages_migrate(struct luo_pages_out *o, struct file *file,
			      bool punchable, u64 *reserved)
{
	struct inode *inode = file_inode(file);
	u64 idx, used = 0, got = 0;
	s64 first = 0;

	/*
	 * A punchable file keeps its room: moving pages would not save any.
	 * Hugetlb pages cannot be replaced by range pages.
	 */
	if (!READ_ONCE(luo_migrate) || !o->npages || o->nr_pinned == o->npages ||
	    punchable || o->huge || luo_pages_ram())
		return;
	if (down_write_killable(&inode->i_rwsem))
		return;
	if (!o->pinned)
		o->pinned = kvcalloc(o->npages, sizeof(*o->pinned),
				     LUO_PAGES_GFP);
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
					*reserved -= got;
			}
			if (first < 0)
				break;
			used = 0;
		}
		pfn = luo_store_page_pfn(first + used);
		ret = luo_ram_migrate(file, idx, pfn);
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
		luo_pages_untake(reserved, first + used, got - used);
	luo_pages_set_unevictable(o, inode->i_mapping);
	inode_unlock(inode);
}

/* Gives back the pages a precopy took. */
static void luo_pages_pre_free(struct luo_pages_out *o)
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

/**
 * luo_pages_prepare() - move a preserved file's page work out of the kexec
 * @out:       from luo_pages_preserve().
 * @file:      the preserved file.
 * @punchable: as for luo_pages_room().
 * @reserved:  the data pages the file reserved; what is copied into the
 *             range now comes out of it (and goes back on failure).
 *
 * With migrate=1 the file's pages move into the range (see DOC:
 * Migration). Then a file write-sealed by now cannot change any more (no
 * write, no writable mapping, no hole punched): its pages are copied into
 * the range at once rather than inside the kexec. All or nothing: on any
 * trouble (no memory, swapped pages, a page swapped out during the walk,
 * the kexec starting) the commit copies it as usual.
 *
 * Context: process context, after the space was reserved and before the
 * commit can see the file; takes the inode's lock and luo_lock, so the
 * caller holds neither.
 */
void luo_pages_prepare(struct luo_pages_out *out, struct file *file,
		       bool punchable, u64 *reserved)
{
	struct inode *inode = file_inode(file);
	struct page *run[LUO_COPY_RUN];
	struct luo_extents x = { .out = out, .reserved = reserved, .src = run };
	u64 seen;

	luo_pages_migrate(out, file, punchable, reserved);
	if (!out->pre)
		luo_pages_plan_inplace(out);
	/* out->pre already: every page is in place, nothing to copy. */
	if (!(READ_ONCE(*out->seals) & F_SEAL_WRITE) || !out->npages ||
	    out->pre || (!out->huge && READ_ONCE(SHMEM_I(inode)->swapped)))
		return;
	out->pre = kvcalloc(out->npages, sizeof(*out->pre), LUO_PAGES_GFP);
	if (!out->pre)
		return;
	x.cap = out->npages;
	seen = luo_extents_walk(&x, file);
	/*
	 * The walk skips swap entries: a page swapped out before the walk
	 * reached it would be missed and read as zeros. The file cannot gain
	 * pages, so the walk saw every page only if it saw as many as shmem
	 * counts (resident and swapped); else the commit copies it, reading
	 * swapped pages back. Hugetlb pages are never swapped.
	 */
	if (!x.err && !out->huge &&
	    (seen != READ_ONCE(SHMEM_I(inode)->alloced) ||
	     READ_ONCE(SHMEM_I(inode)->swapped)))
		x.err = -EAGAIN;
	if (x.err) {
		u64 taken = 0;
		u32 i;

		/* Back into the reservation what the precopy took: it fits. */
		scoped_guard(mutex, &luo_lock) {
			for (i = 0; i < out->nr_pre; i++) {
				if (!(le32_to_cpu(out->pre[i].flags) & LUO_EXTENT_SUMMED))
					continue;
				luo_store_release(le32_to_cpu(out->pre[i].page),
						  le32_to_cpu(out->pre[i].count));
				taken += le32_to_cpu(out->pre[i].count);
			}
			if (!luo_store_reserve(0, taken))
				*reserved += taken;
		}
		kvfree(out->pre);
		out->pre = NULL;
		out->nr_pre = 0;
	}
}

/**
 * luo_pages_unpreserve() - undo luo_pages_preserve() and luo_pages_prepare()
 * @out:     the file's pages; empty afterwards.
 * @mapping: the file's page cache.
 *
 * Lets go of the pins (the mapping evictable again, if preserve made it
 * unevictable) and gives back the range pages a precopy or migration took.
 * The caller gives back the reservation.
 *
 * Context: process context; the caller holds the inode's lock.
 */
void luo_pages_unpreserve(struct luo_pages_out *out,
			  struct address_space *mapping)
{
	luo_pages_unpin(out, mapping);
	luo_pages_pre_free(out);
}

/* --- the commit ---------------------------------------------------------- */

/*
 * The flags of an extent left in place: none without checksum_inplace=1;
 * else XXH64, and LUO_EXTENT_LIVE unless the file is write-sealed (only
 * then can nothing write its pages while the machine stops: a mismatch
 * found at restore is then damage, else most likely a late write).
 */
static u32 luo_pages_inplace_flags(const struct luo_pages_out *o)
{
	if (!READ_ONCE(luo_crc_inplace))
		return 0;
	if (READ_ONCE(*o->seals) & F_SEAL_WRITE)
		return LUO_EXTENT_XXH64;
	return LUO_EXTENT_XXH64 | LUO_EXTENT_LIVE;
}

/*
 * Whether every page pinned at PRESERVE_FD is still the file's, in place,
 * and readable (no memory error found in it since).
 */
static bool luo_pages_still_pinned(struct luo_pages_out *o,
				   struct address_space *mapping)
{
	u64 i;

	for (i = 0; i < o->npages; i++) {
		struct folio *folio = page_folio(o->pinned[i]);

		if (READ_ONCE(folio->mapping) != mapping ||
		    READ_ONCE(folio->index) != i ||
		    luo_page_hwpoison(o->pinned[i]))
			return false;
	}
	return true;
}

/* Writes the extents made before the kexec, checksummed if asked. */
static int luo_pages_serialize_pre(struct luo_pages_out *o,
				   struct luo_writer *w, u32 inplace_flags)
{
	struct luo_memfd_extent *e;
	u32 i;

	e = luo_writer_add(w, (u64)o->nr_pre * sizeof(*e));
	if (!e && o->nr_pre)
		return -ENOSPC;
	memcpy(e, o->pre, (u64)o->nr_pre * sizeof(*e));
	for (i = 0; i < o->nr_pre; i++) {
		u32 c = le32_to_cpu(e[i].count);

		luo_store_count_inplace(c);
		if (!inplace_flags || le32_to_cpu(e[i].flags) & LUO_EXTENT_SUMMED)
			continue;
		e[i].crc = cpu_to_le32(luo_pages_sum(le32_to_cpu(e[i].page), c));
		e[i].flags = cpu_to_le32(inplace_flags);
	}
	return 0;
}

/**
 * luo_pages_serialize() - write a preserved file's extents, inside the kexec
 * @out:        from luo_pages_preserve() (and luo_pages_prepare()).
 * @file:       a readable file of the inode (it may read swapped pages
 *              back).
 * @w:          the metadata writer; the extents follow what the handler
 *              wrote so far.
 * @nr_extents: set to the number of extents written.
 *
 * Pinned pages still in the file are listed where they are (from the list
 * made before the kexec, if it is still right); every other page is queued
 * to be copied into free range pages by every CPU in
 * luo_store_commit_end(). Pages that cannot be handed over (no room, a
 * swapped page that cannot be read back, a memory error) are left out:
 * they read as zeros in the next kernel (logged).
 *
 * Context: the kexec's commit; the caller holds luo_lock.
 * Return: 0, -ENOSPC (the writer is full), or -ENOMEM.
 */
int luo_pages_serialize(struct luo_pages_out *out, struct file *file,
			struct luo_writer *w, u32 *nr_extents)
{
	struct inode *inode = file_inode(file);
	struct luo_extents x = { .out = out, .w = w };
	int ret;

	lockdep_assert_held(&luo_lock);
	x.inplace_flags = luo_pages_inplace_flags(out);
	if (out->pre && (!out->verify ||
			 luo_pages_still_pinned(out, inode->i_mapping))) {
		ret = luo_pages_serialize_pre(out, w, x.inplace_flags);
		if (!ret)
			*nr_extents = out->nr_pre;
		return ret;
	}
	x.src = kmalloc_array(LUO_COPY_RUN, sizeof(*x.src), GFP_KERNEL);
	if (!x.src)
		return -ENOMEM;
	luo_extents_walk(&x, file);
	*nr_extents = x.nr;
	if (x.err)
		pr_err("%s of %llu bytes: not all of its pages could be handed over (%d); the missing ones read as zeros\n",
		       luo_pages_what(out), out->size, x.err);
	kfree(x.src);
	return 0;
}

/* --- load --------------------------------------------------------------- */

static void luo_pages_release_from(struct luo_pages_in *in, u32 first)
{
	u32 i;

	for (i = first; i < in->nr_extents; i++)
		luo_store_release(le32_to_cpu(in->ext[i].page),
				  le32_to_cpu(in->ext[i].count));
}

/*
 * Format 1: the range pages the file's data fills whole are free again once
 * it is restored or dropped (its data shares its first and last page with
 * its neighbours' data or the metadata, which stay taken for the boot).
 */
static void luo_pages_release_v1(struct luo_pages_in *in)
{
	u64 first = DIV_ROUND_UP(in->v1_off, LUO_PAGE_SIZE);
	u64 end = (in->v1_off + in->size) / LUO_PAGE_SIZE;

	if (end > first)
		luo_store_release(first, end - first);
}

/**
 * luo_pages_range() - the range an incoming handover's extents must lie in
 *
 * Context: any, once the handover was checked.
 * Return: its writer's range size in pages (never more than this boot's).
 */
u64 luo_pages_range(void)
{
	return luo_store_pages();
}

/**
 * luo_pages_load() - claim an incoming file's pages
 * @in:   zeroed by the caller; filled here.
 * @ext:  the file's extents, checked (ordered, inside the file and the
 *        range); they must stay where they are until luo_pages_drop().
 * @nr:   extents in @ext.
 * @size: the file's size.
 * @huge_order: a hugetlbfs file: the order of its huge pages; 0: shmem.
 *
 * Marks the extents' range pages taken, so that no other file and no new
 * handover can use them until they are restored or dropped.
 *
 * Context: process context, building the incoming sessions.
 * Return: 0, or -EADDRINUSE if a page is the header's, the metadata's or
 * another file's (nothing stays claimed then).
 */
int luo_pages_load(struct luo_pages_in *in,
		   const struct luo_memfd_extent *ext, u32 nr, u64 size,
		   unsigned int huge_order)
{
	u32 i;

	in->huge_order = huge_order;
	in->ext = ext;
	in->nr_extents = nr;
	in->size = size;
	for (i = 0; i < nr; i++) {
		if (luo_store_claim(le32_to_cpu(ext[i].page),
				    le32_to_cpu(ext[i].count))) {
			in->nr_extents = i;
			luo_pages_release_from(in, 0);
			return -EADDRINUSE;
		}
	}
	return 0;
}

/**
 * luo_pages_load_v1() - an incoming format 1 file's data
 * @in:   zeroed by the caller; filled here.
 * @off:  where its bytes start in the range, checked.
 * @size: the file's size.
 *
 * Format 1 data was checked whole when the handover was loaded, and its
 * pages were taken with the metadata.
 *
 * Context: process context, building the incoming sessions.
 */
void luo_pages_load_v1(struct luo_pages_in *in, u64 off, u64 size)
{
	in->size = size;
	in->v1_off = off;
	in->v1 = luo_store_v1_addr(off);
}

/* --- restore ------------------------------------------------------------ */

/* The checksum (data_sum.h) of @count range pages from @page. */
static u32 luo_pages_sum(u64 page, u32 count)
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

/*
 * Writes @data into @file at @off, leaving all-zero pages as holes (format
 * 1 keeps holes as zeros). -EINTR if the caller was killed meanwhile.
 */
static int luo_pages_fill(struct file *file, const u8 *data, u64 off0,
			  u64 size)
{
	u64 off = 0, step = 0;

	while (off < size) {
		u64 end = off;
		loff_t pos;

		if (off >= step) {
			step = off + LUO_PAGES_STEP;
			cond_resched();
			if (fatal_signal_pending(current))
				return -EINTR;
		}
		while (end < size && end - off < LUO_PAGES_STEP) {
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

static bool luo_pages_extent_ok(const struct luo_memfd_extent *e)
{
	u32 flags = le32_to_cpu(e->flags), crc = ~0U, i;

	if (flags & LUO_EXTENT_XXH64)
		return luo_pages_sum(le32_to_cpu(e->page), le32_to_cpu(e->count)) ==
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
static int luo_pages_mismatch(const struct luo_pages_in *in,
			      const struct luo_memfd_extent *e)
{
	/* Not after a failed hot-add: the mismatch may be the allocator's. */
	if (!(le32_to_cpu(e->flags) & LUO_EXTENT_LIVE) || !luo_store_trusted())
		return -EIO;
	luo_store_count_live_mismatch();
	pr_info_ratelimited("%s pages %llu+%u changed after their checksum while the previous kernel stopped (a writer ran until the kexec); delivered as they are\n",
			    luo_pages_in_what(in), le64_to_cpu(e->index),
			    le32_to_cpu(e->count));
	return 0;
}

/*
 * Whether an extent's data may be copied out: after a failed hot-add gave
 * the range to the page allocator for a while, only a checksum vouches for
 * it (false, with a log line: the caller gives EIO).
 */
static bool luo_extent_vouched(const struct luo_pages_in *in,
			       const struct luo_memfd_extent *e)
{
	if (luo_store_trusted() || (le32_to_cpu(e->flags) & LUO_EXTENT_SUMMED))
		return true;
	pr_err_ratelimited("%s pages %llu+%u have no checksum and the range was the page allocator's for a while: not restored\n",
			   luo_pages_in_what(in), le64_to_cpu(e->index),
			   le32_to_cpu(e->count));
	return false;
}

/*
 * Restores one extent by copying its pages into the file's page cache, the
 * checksum computed in the same pass (a mismatch: luo_pages_mismatch()).
 * The bytes of the last page past the file's size are zeroed, as shmem
 * keeps them. -EINTR if the caller was killed meanwhile.
 */
static int luo_pages_copy_extent(struct luo_pages_in *in, struct file *file,
				 const struct luo_memfd_extent *e)
{
	u64 index = le64_to_cpu(e->index), page = le32_to_cpu(e->page);
	u32 count = le32_to_cpu(e->count), flags = le32_to_cpu(e->flags), i;
	gfp_t gfp = mapping_gfp_mask(file->f_mapping);
	struct luo_sum sum;

	if (!luo_extent_vouched(in, e))
		return -EIO;
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
		if (in->size - off < LUO_PAGE_SIZE)
			memset(addr + (in->size - off), 0,
			       LUO_PAGE_SIZE - (in->size - off));
		kunmap_local(addr);
		folio_mark_dirty(page_folio(to));
		put_page(to);
		if (fatal_signal_pending(current))
			return -EINTR;
		if (!((i + 1) % 256))
			cond_resched();
	}
	if (flags & LUO_EXTENT_XXH64 ? luo_sum_final(&sum) == le32_to_cpu(e->crc) :
	    luo_pages_extent_ok(e))
		return 0;
	return luo_pages_mismatch(in, e);
}

/*
 * Taking over runs on every CPU the caller may use: the caller and one
 * worker per other allowed online CPU (up to take_threads) take units of
 * LUO_TAKE_UNIT pages from a shared cursor. By the direct route
 * (luo_ram_direct()) a page costs a page-cache insert, a memory cgroup
 * charge and an LRU add, and shmem's bookkeeping is done once per unit; by
 * the placeholder route about as much as a copy of the page (shmem
 * allocates, zeroes and charges a placeholder). The workers charge what they
 * allocate to the caller's memory cgroup and account it under the caller's
 * credentials, as if the caller had done it; they do not run in its CPU
 * cgroup. A fatal signal to the caller, or an error in any task, stops
 * everyone after the page at hand; the units record how far they got, so
 * the next RETRIEVE_FD resumes exactly there.
 */

/**
 * struct luo_take_unit - a piece of an extent one CPU takes over at a time
 * @ext:   the extent.
 * @first: its first page in the extent.
 * @count: pages.
 * @done:  pages handled so far (given, or copied into a large folio); only
 *         the task that took the unit writes it.
 */
struct luo_take_unit {
	u32 ext;
	u32 first;
	u32 count;
	u32 done;
};

#define LUO_TAKE_UNIT		512
#define LUO_TAKE_MAX		64

static unsigned int luo_take_threads;
module_param_named(take_threads, luo_take_threads, uint, 0644);
MODULE_PARM_DESC(take_threads, "CPUs that take a memfd's pages over at RETRIEVE_FD, the caller's included (default 0: every CPU the caller may run on, up to 64)");

/* Runs the workers of parallel take-overs (luo_take_round()). */
static struct workqueue_struct *luo_take_wq;

/*
 * A round's job: verify extents' checksums, give units of pages (taking
 * over), or copy extents into a hugetlb file's pages (checksummed in the
 * same pass).
 */
enum luo_take_job {
	LUO_TAKE_CHECK,
	LUO_TAKE_GIVE,
	LUO_TAKE_COPY,
};

/**
 * struct luo_take - one round of a parallel take-over or copy
 * @in:      the incoming file.
 * @file:    the new memfd.
 * @caller:  the task that called RETRIEVE_FD.
 * @memcg:   its memory cgroup (a reference), charged by the workers.
 * @cred:    its credentials (a reference), the workers' meanwhile.
 * @job:     what this round does with each entry of @todo.
 * @parallel: workers take entries too.
 * @direct:  gives take the direct route (luo_ram_direct()).
 * @todo:    extents to check, or units to give.
 * @nr_todo: entries in @todo.
 * @next:    the next entry of @todo to take.
 * @stop:    set on the first error or signal: everyone stops.
 * @err:     that error.
 * @given:   pages given.
 * @copied:  pages copied into a large folio.
 * @tasks:   tasks (the caller, workers) that took at least one entry.
 * @running: workers not finished yet.
 * @done:    completed by the last worker.
 * @work:    one per worker.
 */
struct luo_take {
	struct luo_pages_in *in;
	struct file *file;
	struct task_struct *caller;
	struct mem_cgroup *memcg;
	const struct cred *cred;
	enum luo_take_job job;
	bool parallel;
	bool direct;
	u32 *todo;
	u32 nr_todo;
	atomic_t next;
	atomic_t stop;
	atomic_t err;
	atomic64_t given;
	atomic64_t copied;
	atomic_t tasks;
	atomic_t running;
	struct completion done;
	struct luo_take_work {
		struct work_struct work;
		struct luo_take *t;
	} work[];
};

/* Stops the round with @err (the first error wins); wakes waiting copiers. */
static void luo_take_stop(struct luo_take *t, int err)
{
	atomic_cmpxchg(&t->err, 0, err);
	atomic_set(&t->stop, 1);
	/* The store before the waiters' check (wake_up_var() has no barrier). */
	smp_mb();
	wake_up_var(&t->stop);
}

static bool luo_take_stopped(struct luo_take *t)
{
	if (current == t->caller && fatal_signal_pending(current))
		luo_take_stop(t, -EINTR);
	return atomic_read(&t->stop);
}

/* Verifies extent @ext's checksum before any of its pages is the file's. */
static int luo_take_check(struct luo_take *t, u32 ext)
{
	const struct luo_memfd_extent *e = &t->in->ext[ext];

	if (!luo_pages_extent_ok(e) && luo_pages_mismatch(t->in, e))
		return -EIO;
	set_bit(ext, t->in->checked);
	return 0;
}

/*
 * Takes the rest of unit @u over by the direct route (luo_ram_insert()),
 * shmem's bookkeeping done once for the pages inserted; the unit's pages
 * were counted in the managed pages if @counted, and what was not inserted
 * is taken back from there.
 */
static int luo_take_unit_direct(struct luo_take *t, struct luo_take_unit *u,
				bool counted, u64 *given)
{
	const struct luo_memfd_extent *e = &t->in->ext[u->ext];
	u64 index = le64_to_cpu(e->index) + u->first;
	u64 page = le32_to_cpu(e->page) + u->first;
	unsigned long first = luo_store_page_pfn(page + u->done);
	u32 left = u->count - u->done, n = 0;
	struct folio *folio = NULL;
	int ret = 0;

	for (; u->done < u->count; u->done++) {
		if (luo_take_stopped(t)) {
			ret = -EINTR;
			break;
		}
		ret = luo_ram_insert(t->file, index + u->done,
				     luo_store_page_pfn(page + u->done),
				     counted, &folio);
		if (ret)
			break;
		n++;
		if (!((u->done + 1) % 64))
			cond_resched();
	}
	if (n)
		luo_ram_account(t->file, folio, n);
	if (counted && n < left)
		luo_ram_count(first, -(long)(left - n));
	*given += n;
	return ret;
}

/*
 * Takes unit @u's pages over as the file's page cache: no copy, but where
 * shmem put a large folio (a shmem THP setting), whose pages are copied
 * into it and released. The pages are counted in their zone's managed
 * pages once for the unit (luo_ram_count()).
 */
static int luo_take_unit(struct luo_take *t, struct luo_take_unit *u,
			 u64 *given, u64 *copied)
{
	const struct luo_memfd_extent *e = &t->in->ext[u->ext];
	u64 index = le64_to_cpu(e->index) + u->first;
	u64 page = le32_to_cpu(e->page) + u->first;
	unsigned long first = luo_store_page_pfn(page + u->done);
	u32 left = u->count - u->done, swapped = 0;
	bool counted;
	int ret = 0;

	counted = luo_ram_count(first, left);
	if (t->direct)
		return luo_take_unit_direct(t, u, counted, given);
	for (; u->done < u->count; u->done++) {
		if (luo_take_stopped(t)) {
			ret = -EINTR;
			break;
		}
		ret = luo_ram_give(t->file, index + u->done,
				   luo_store_page_pfn(page + u->done),
				   (counted ? LUO_RAM_GIVE_COUNTED : 0) |
				   (t->parallel ? LUO_RAM_GIVE_PARALLEL : 0));
		if (ret < 0)
			break;
		if (ret == LUO_RAM_COPIED) {
			luo_store_release(page + u->done, 1);
			(*copied)++;
		} else {
			(*given)++;
			swapped++;
		}
		if (!((u->done + 1) % 64))
			cond_resched();
	}
	/* The pages not swapped in: fewer than counted, from the same pfn. */
	if (counted && swapped < left)
		luo_ram_count(first, -(long)(left - swapped));
	return ret < 0 ? ret : 0;
}

/*
 * Copies extent @ext into the hugetlb file's pages, the checksum computed in
 * the same pass; the bytes of the last page past the file's size are
 * zeroed. Waits for each huge page until the caller allocated it
 * (luo_pages_huge_lead()); allocates nothing, so any CPU may do it.
 */
static int luo_take_copy(struct luo_take *t, u32 ext, u64 *copied)
{
	struct luo_pages_in *in = t->in;
	const struct luo_memfd_extent *e = &in->ext[ext];
	u64 index = le64_to_cpu(e->index), page = le32_to_cpu(e->page);
	u32 count = le32_to_cpu(e->count), flags = le32_to_cpu(e->flags), i;
	u64 mask = (1ULL << in->huge_order) - 1;
	struct luo_sum sum;

	if (!luo_extent_vouched(in, e))
		return -EIO;
	luo_sum_init(&sum);
	for (i = 0; i < count; i++) {
		u64 idx = index + i, off = idx * LUO_PAGE_SIZE;
		struct folio **slot = &in->folios[idx >> in->huge_order];
		struct folio *folio;
		void *addr;

		if (luo_take_stopped(t))
			return -EINTR;
		/* Published by the caller once allocated (the lead). */
		wait_var_event(&t->stop, smp_load_acquire(slot) ||
			       atomic_read(&t->stop));
		/* Pairs with luo_pages_huge_one()'s release: the folio whole. */
		folio = smp_load_acquire(slot);
		if (!folio)
			return -EINTR;
		addr = kmap_local_page(folio_page(folio, idx & mask));
		luo_sum_copy(&sum, addr, luo_store_page_addr(page + i),
			     LUO_PAGE_SIZE);
		if (in->size - off < LUO_PAGE_SIZE)
			memset(addr + (in->size - off), 0,
			       LUO_PAGE_SIZE - (in->size - off));
		kunmap_local(addr);
		if (!((i + 1) % 256))
			cond_resched();
	}
	*copied += count;
	if (flags & LUO_EXTENT_XXH64 ? luo_sum_final(&sum) == le32_to_cpu(e->crc) :
	    luo_pages_extent_ok(e))
		return 0;
	return luo_pages_mismatch(in, e);
}

/* Takes entries of @todo until none is left or the round stops. */
static void luo_take_drain(struct luo_take *t)
{
	u64 given = 0, copied = 0;
	bool took = false;
	int i, ret;

	while (!luo_take_stopped(t)) {
		i = atomic_inc_return(&t->next) - 1;
		if (i >= t->nr_todo)
			break;
		if (!took) {
			took = true;
			atomic_inc(&t->tasks);
		}
		if (t->job == LUO_TAKE_CHECK) {
			ret = luo_take_check(t, t->todo[i]);
		} else if (t->job == LUO_TAKE_COPY) {
			ret = luo_take_copy(t, t->todo[i], &copied);
			/* Kept if a signal stops the round (resumed). */
			if (!ret)
				set_bit(t->todo[i], t->in->huge_done);
		} else {
			ret = luo_take_unit(t, &t->in->units[t->todo[i]],
					    &given, &copied);
		}
		if (ret)
			luo_take_stop(t, ret);
	}
	/* Once per task: the counters are not written per page by all CPUs. */
	atomic64_add(given, &t->given);
	atomic64_add(copied, &t->copied);
}

static void luo_take_worker(struct work_struct *work)
{
	struct luo_take *t = container_of(work, struct luo_take_work, work)->t;
	struct mem_cgroup *memcg = set_active_memcg(t->memcg);
	const struct cred *cred = override_creds(t->cred);

	luo_take_drain(t);
	revert_creds(cred);
	set_active_memcg(memcg);
	if (atomic_dec_and_test(&t->running))
		complete(&t->done);
}

/* How many workers a round of @nr entries gets, and on which CPUs. */
static unsigned int luo_take_cpus(struct cpumask *cpus, u32 nr)
{
	unsigned int max = READ_ONCE(luo_take_threads) ?: LUO_TAKE_MAX;

	max = min3(max, (unsigned int)LUO_TAKE_MAX, nr) - 1;
	cpumask_and(cpus, current->cpus_ptr, cpu_online_mask);
	cpumask_clear_cpu(raw_smp_processor_id(), cpus);
	return min(max, cpumask_weight(cpus));
}

/**
 * luo_pages_exit() - free what pages.c allocated, at module unload
 *
 * Each take-over waits for its workers before it returns, so none runs.
 *
 * Context: module unload.
 */
void luo_pages_exit(void)
{
	if (luo_take_wq)
		destroy_workqueue(luo_take_wq);
}

static struct workqueue_struct *luo_take_queue(void)
{
	static DEFINE_MUTEX(lock);

	guard(mutex)(&lock);
	if (!luo_take_wq)
		luo_take_wq = alloc_workqueue("liveupdate_take",
					      LUO_WQ_PERCPU | WQ_CPU_INTENSIVE, 0);
	return luo_take_wq;
}

/*
 * One round over @todo (checks, gives or copies) on the caller and its
 * workers; with @lead, the caller first runs it while the workers start
 * (they wait for what it prepares), then joins them. Returns 0, or the
 * first error (-EINTR if the caller was killed).
 */
static int luo_take_round(struct luo_pages_in *in, struct file *file,
			  enum luo_take_job job, u32 *todo, u32 nr, u64 *given,
			  u64 *copied, u32 *tasks, int (*lead)(struct luo_take *t))
{
	struct luo_take *t __free(kfree) = NULL;
	cpumask_var_t cpus;
	unsigned int n = 0, cpu, i = 0;
	int ret;

	if (!nr)
		return 0;
	if (!zalloc_cpumask_var(&cpus, GFP_KERNEL))
		return -ENOMEM;
	n = luo_take_cpus(cpus, nr);
	if (n && !luo_take_queue())
		n = 0;
	t = kzalloc(struct_size(t, work, n), GFP_KERNEL_ACCOUNT);
	if (!t) {
		free_cpumask_var(cpus);
		return -ENOMEM;
	}
	t->in = in;
	t->file = file;
	t->caller = current;
	t->job = job;
	t->parallel = n;
	t->direct = job == LUO_TAKE_GIVE && in->direct;
	t->todo = todo;
	t->nr_todo = nr;
	init_completion(&t->done);
	if (n) {
		t->memcg = get_mem_cgroup_from_mm(NULL);
		t->cred = get_current_cred();
		atomic_set(&t->running, n);
		cpus_read_lock();
		for_each_cpu(cpu, cpus) {
			if (i == n)
				break;
			t->work[i].t = t;
			INIT_WORK(&t->work[i].work, luo_take_worker);
			queue_work_on(cpu, luo_take_wq, &t->work[i].work);
			i++;
		}
		cpus_read_unlock();
	}
	free_cpumask_var(cpus);
	if (lead) {
		ret = lead(t);
		if (ret)
			luo_take_stop(t, ret);
	}
	luo_take_drain(t);
	if (n) {
		/* Killed while waiting: the workers stop after their page. */
		if (wait_for_completion_killable(&t->done)) {
			luo_take_stop(t, -EINTR);
			wait_for_completion(&t->done);
		}
		put_cred(t->cred);
		mem_cgroup_put(t->memcg);
	}
	*given += atomic64_read(&t->given);
	*copied += atomic64_read(&t->copied);
	*tasks = max_t(u32, *tasks, atomic_read(&t->tasks));
	ret = atomic_read(&t->err);
	return ret;
}

/* Cuts the extents into units, once per file. */
static int luo_take_plan(struct luo_pages_in *in)
{
	u32 i, first, count, n = 0;
	u64 nr = 0;

	for (i = 0; i < in->nr_extents; i++)
		nr += DIV_ROUND_UP(le32_to_cpu(in->ext[i].count), LUO_TAKE_UNIT);
	if (nr > U32_MAX)
		return -E2BIG;
	in->checked = bitmap_zalloc(in->nr_extents, GFP_KERNEL_ACCOUNT);
	if (!in->checked)
		return -ENOMEM;
	in->units = kvcalloc(nr, sizeof(*in->units), LUO_PAGES_GFP);
	if (!in->units) {
		bitmap_free(in->checked);
		in->checked = NULL;
		return -ENOMEM;
	}
	for (i = 0; i < in->nr_extents; i++) {
		count = le32_to_cpu(in->ext[i].count);
		for (first = 0; first < count; first += LUO_TAKE_UNIT) {
			in->units[n].ext = i;
			in->units[n].first = first;
			in->units[n].count = min_t(u32, count - first, LUO_TAKE_UNIT);
			n++;
		}
		if (!(le32_to_cpu(in->ext[i].flags) &
		      (LUO_EXTENT_XXH64 | LUO_EXTENT_CRC)))
			set_bit(i, in->checked);
	}
	in->nr_units = n;
	return 0;
}

/*
 * Takes the file's pages over: first every checksummed extent is verified
 * (no page of a damaged file becomes the file's), then the units are given.
 * Both rounds run in parallel; resumable.
 */
static int luo_take_over(struct luo_pages_in *in, struct file *file,
			 u64 *given, u64 *copied, u32 *tasks)
{
	u32 i, nr = 0, *todo;
	int ret;

	if (!in->units) {
		ret = luo_take_plan(in);
		if (ret)
			return ret;
	}
	todo = kvmalloc_array(max(in->nr_units, in->nr_extents), sizeof(*todo),
			      LUO_PAGES_GFP);
	if (!todo)
		return -ENOMEM;
	for (i = 0; i < in->nr_extents; i++)
		if (!test_bit(i, in->checked))
			todo[nr++] = i;
	ret = luo_take_round(in, file, LUO_TAKE_CHECK, todo, nr, given, copied,
			     tasks, NULL);
	if (!ret) {
		u64 left = 0, before = *given;
		struct file *holder = NULL;

		for (nr = 0, i = 0; i < in->nr_units; i++) {
			if (in->units[i].done < in->units[i].count) {
				todo[nr++] = i;
				left += in->units[i].count - in->units[i].done;
			}
		}
		in->direct = nr && luo_ram_direct();
		if (in->direct) {
			holder = luo_ram_reserve(left);
			if (IS_ERR(holder))
				ret = PTR_ERR(holder);
		}
		if (!ret)
			ret = luo_take_round(in, file, LUO_TAKE_GIVE, todo, nr,
					     given, copied, tasks, NULL);
		if (!IS_ERR_OR_NULL(holder))
			luo_ram_unreserve(holder, *given - before);
	}
	kvfree(todo);
	return ret;
}

/* Range pages of a take-over that were not given: back to the store. */
static void luo_take_release(struct luo_pages_in *in)
{
	const struct luo_memfd_extent *e;
	struct luo_take_unit *u;
	u32 i;

	for (i = 0; i < in->nr_units; i++) {
		u = &in->units[i];
		e = &in->ext[u->ext];
		if (u->done < u->count)
			luo_store_release(le32_to_cpu(e->page) + u->first + u->done,
					  u->count - u->done);
	}
}

/*
 * Allocates huge page @h of the hugetlb file and publishes its folio for the
 * copiers. -ENOMEM for a pool (or a hugetlb cgroup) too short: hugetlbfs
 * says ENOSPC.
 */
static int luo_pages_huge_one(struct luo_pages_in *in, struct file *file, u64 h)
{
	unsigned int shift = in->huge_order + PAGE_SHIFT;
	pgoff_t index = luo_hugetlb_index(h, in->huge_order), end = index;
	struct folio_batch fbatch;
	int ret;

	ret = vfs_fallocate(file, FALLOC_FL_KEEP_SIZE, h << shift, 1ULL << shift);
	if (ret)
		return ret == -ENOSPC ? -ENOMEM : ret;
	folio_batch_init(&fbatch);
	if (!filemap_get_folios(file->f_mapping, &index, end, &fbatch))
		return -ENOMEM;
	folio_get(fbatch.folios[0]);
	/* Pairs with luo_take_copy()'s acquire. */
	smp_store_release(&in->folios[h], fbatch.folios[0]);
	folio_batch_release(&fbatch);
	return 0;
}

/*
 * The lead of a hugetlb restore, on the caller's CPU: the huge pages that
 * hold data are allocated from the pool one by one, in file order, each
 * published as soon as it is there, so the workers copy into it while the
 * next one is allocated (and zeroed: hugetlbfs does, under the inode lock,
 * which makes the allocation serial anyway). In the caller's context, so
 * charged to it and its hugetlb cgroup; a short pool fails cleanly, with
 * ENOMEM, rather than with a SIGBUS at a fault.
 */
static int luo_pages_huge_lead(struct luo_take *t)
{
	struct luo_pages_in *in = t->in;
	ktime_t start = ktime_get();
	u64 h, last, next = 0;
	int ret = 0;
	u32 i;

	for (i = 0; !ret && i < in->nr_extents; i++) {
		const struct luo_memfd_extent *e = &in->ext[i];

		h = max(next, le64_to_cpu(e->index) >> in->huge_order);
		last = (le64_to_cpu(e->index) + le32_to_cpu(e->count) - 1) >>
		       in->huge_order;
		for (; !ret && h <= last; h++) {
			if (luo_take_stopped(t))
				break;
			/* Allocated by an interrupted call before. */
			if (in->folios[h])
				continue;
			ret = luo_pages_huge_one(in, t->file, h);
			/* The folio published before the waiters' check. */
			smp_mb();
			wake_up_var(&t->stop);
		}
		next = max(next, last + 1);
	}
	luo_store_count_restore_alloc(ktime_us_delta(ktime_get(), start));
	return ret;
}

static void luo_pages_huge_put(struct luo_pages_in *in)
{
	u64 i, nr;

	bitmap_free(in->huge_done);
	in->huge_done = NULL;
	if (!in->folios)
		return;
	nr = DIV_ROUND_UP(in->size, 1ULL << (in->huge_order + PAGE_SHIFT));
	for (i = 0; i < nr; i++)
		if (in->folios[i])
			folio_put(in->folios[i]);
	kvfree(in->folios);
	in->folios = NULL;
}

/*
 * Restores a hugetlb file: the caller allocates its huge pages while the
 * workers copy every extent into those already there, then the caller
 * copies too. hugetlbfs gives up allocating at any signal (EINTR): the
 * huge pages allocated and the extents copied so far are kept, and the
 * next call, into the same file (luo_pages_resumable()), allocates and
 * copies only the rest, so a caller that gets a signal every few
 * milliseconds still finishes. Any other failure starts over into a new
 * file (the huge pages go back to the pool).
 */
static int luo_pages_restore_huge(struct luo_pages_in *in, struct file *file,
				  u64 *copied, u32 *tasks)
{
	u64 given = 0, nr;
	u32 i, n = 0, *todo;
	int ret;

	nr = DIV_ROUND_UP(in->size, 1ULL << (in->huge_order + PAGE_SHIFT));
	if (!in->folios)
		in->folios = kvcalloc(nr, sizeof(*in->folios), LUO_PAGES_GFP);
	if (!in->huge_done)
		in->huge_done = bitmap_zalloc(in->nr_extents, LUO_PAGES_GFP);
	todo = kvmalloc_array(in->nr_extents, sizeof(*todo), LUO_PAGES_GFP);
	ret = -ENOMEM;
	if (in->folios && in->huge_done && todo) {
		for (i = 0; i < in->nr_extents; i++)
			if (!test_bit(i, in->huge_done))
				todo[n++] = i;
		ret = luo_take_round(in, file, LUO_TAKE_COPY, todo, n, &given,
				     copied, tasks, luo_pages_huge_lead);
	}
	kvfree(todo);
	if (ret != -EINTR)
		luo_pages_huge_put(in);
	return ret;
}

/* Restores the extents into @file: taking over (resumable), or copying. */
static int luo_pages_restore_extents(struct luo_pages_in *in, struct file *file,
				     u64 *given, u64 *copied, u32 *tasks)
{
	u32 i;
	int ret;

	if (in->given)
		return luo_take_over(in, file, given, copied, tasks);
	if (in->huge_order)
		return luo_pages_restore_huge(in, file, copied, tasks);
	for (i = in->next_ext; i < in->nr_extents; i++) {
		/* One pass: copied and checked. */
		ret = luo_pages_copy_extent(in, file, &in->ext[i]);
		if (ret)
			return ret;
		*copied += le32_to_cpu(in->ext[i].count);
		in->next_ext = i + 1;
		cond_resched();
	}
	return 0;
}

/**
 * luo_pages_restore() - put an incoming file's pages into its new file
 * @in:   from luo_pages_load() or luo_pages_load_v1().
 * @file: the new file, of the handed-over size: empty at the first call,
 *        and at every call after luo_pages_resumable() said false.
 *
 * Where the range can be RAM (zerocopy=1) the extents' pages become the
 * file's page cache, each checksummed extent verified before its first
 * page is given; otherwise they are copied, checksummed in the same pass.
 * Allocations give up rather than OOM-kill anyone (ENOMEM). A call that
 * fails resumes at the next one: taking over, where it stopped (pages
 * given stay the file's), copying, from the start into a new file. What it
 * took is counted in last_handover. Once done, the range pages not given
 * are free again.
 *
 * Context: process context, may sleep for long (reschedules, stops on a
 * fatal signal; waits for its workers, which stop after the page at hand);
 * the caller serialises calls for @in (the incoming session's mutex) and
 * holds no luo_lock.
 * Return: 0; -EINTR (killed), -ENOMEM (the memory cgroup or the machine
 * is full), another error from shmem: try again later; -EIO (damaged
 * data: a checksum mismatch, or data no checksum vouches for after a
 * failed hot-add): final, the caller drops @in.
 */
int luo_pages_restore(struct luo_pages_in *in, struct file *file)
{
	ktime_t start = ktime_get();
	u64 given = 0, copied = 0;
	u32 tasks = 1;
	gfp_t gfp;
	int ret;

	if (!in->started) {
		in->started = true;
		in->given = in->nr_extents && !in->v1 && !in->huge_order &&
			    !luo_pages_ram();
	}
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
		ret = luo_pages_fill(file, in->v1, 0, in->size);
		if (!ret)
			copied = luo_pages_count(in->size);
	} else {
		ret = luo_pages_restore_extents(in, file, &given, &copied,
						&tasks);
	}
	mapping_set_gfp_mask(file->f_mapping, gfp);
	luo_store_count_restore(given, copied, ktime_us_delta(ktime_get(), start),
				tasks);
	if (ret) {
		/*
		 * A copy starts over; pages given stay given, so resume; so
		 * does a hugetlb copy a signal interrupted.
		 */
		if (!in->given && !(in->huge_order && ret == -EINTR)) {
			in->started = false;
			in->next_ext = 0;
		}
		return ret;
	}
	if (in->v1)
		luo_pages_release_v1(in);
	else if (!in->given)
		luo_pages_release_from(in, 0);
	in->done = true;
	in->started = false;
	return 0;
}

/**
 * luo_pages_resumable() - whether a failed restore goes on in the same file
 * @in: after luo_pages_restore() failed.
 *
 * Context: as luo_pages_restore().
 * Return: true if the next luo_pages_restore() continues into the same
 * file (pages were given to it, or a signal interrupted a hugetlb copy);
 * false if it starts over: the caller drops its file and makes a new one.
 */
bool luo_pages_resumable(const struct luo_pages_in *in)
{
	return in->started;
}

/**
 * luo_pages_drop() - forget an incoming file's pages
 * @in: from luo_pages_load() or luo_pages_load_v1(), restored or not.
 *
 * The range pages not given to a file are free again; pages already given
 * belong to their file (and then to the kernel).
 *
 * Context: process context; the caller serialises it with
 * luo_pages_restore().
 */
void luo_pages_drop(struct luo_pages_in *in)
{
	if (!in->done && in->v1)
		luo_pages_release_v1(in);
	if (!in->done && !in->v1) {
		/* Pages already given belong to the file (and then the kernel). */
		if (in->units)
			luo_take_release(in);
		else
			luo_pages_release_from(in, 0);
	}
	luo_pages_huge_put(in);
	kvfree(in->units);
	in->units = NULL;
	bitmap_free(in->checked);
	in->checked = NULL;
}
