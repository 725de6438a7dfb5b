// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdate: a preserved file's pages, outgoing: pin, extents, migrate,
 * serialize (pages.h; pages_in.c is the next kernel's side).
 */

/**
 * DOC: a preserved file's pages, outgoing
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
 * Hugetlb files (hugetlb.c): their pages are pinned, listed and copied at
 * the kexec as shmem pages are (a folio's first file page through
 * compat.h: 6.1 counts a hugetlb folio's index in huge pages), never
 * swapped or migrated.
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

#include <linux/file.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/swap.h>

#include "compat.h"
#include "handler.h"
#include "lock.h"
#include "pages.h"
#include "ram.h"
#include "store.h"
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
 * Per-page arrays of a file the user sized: past INT_MAX bytes (a 1 TiB
 * memfd's pins) kvmalloc() refuses, and must do so quietly (ENOMEM).
 */
#define LUO_PAGES_GFP	(GFP_KERNEL_ACCOUNT | __GFP_NOWARN)

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

/* Takes back the extent luo_extent_add() gave last (still zeroed). */
static void luo_extent_drop(struct luo_extents *x)
{
	if (x->w)
		x->w->off -= ALIGN(sizeof(struct luo_memfd_extent),
				   LUO_HANDOVER_ALIGN);
	else
		x->out->nr_pre--;
	x->nr--;
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
				e->crc = cpu_to_le32(luo_store_sum(x->page, x->count));
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
		/* Range pages: the commit's, or out of the reservation. */
		e = x->err ? NULL : luo_extent_add(x);
		page = !e ? -ENOSPC :
		       luo_store_copy_run(&x->src[i], x->count - i,
					  x->w ? NULL : x->reserved, &got,
					  &e->crc);
		if (page < 0) {
			if (e)
				luo_extent_drop(x);
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
	struct luo_store_span range = luo_store_span(0);
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
					   luo_span_page_of(&range, page, &rpage);
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
	struct luo_store_span range = luo_store_span(0);
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
				    !luo_span_page_of(&range, page, &rpage))
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
	struct luo_store_span range = luo_store_span(0);
	struct luo_extents x = { .out = o };
	u64 i, rpage, prev = 0;
	u64 n = 0;

	if (!o->npages || o->nr_pinned != o->npages)
		return;
	for (i = 0; i < o->npages; i++) {
		if (PageCompound(o->pinned[i]) ||
		    !luo_span_page_of(&range, o->pinned[i], &rpage))
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
		luo_span_page_of(&range, o->pinned[i], &rpage);
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
	struct luo_store_span range = luo_store_span(0);
	struct inode *inode = file_inode(file);
	u64 idx, used = 0, got = 0;
	s64 first = 0;

	/*
	 * A punchable file keeps its room: moving pages would not save any.
	 * Hugetlb pages cannot be replaced by range pages.
	 */
	if (!READ_ONCE(luo_migrate) || !o->npages || o->nr_pinned == o->npages ||
	    punchable || o->huge || luo_store_zerocopy())
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
			first = luo_store_take(min_t(u64, LUO_COPY_RUN,
						     o->npages - idx),
					       &got, reserved);
			if (first < 0)
				break;
			used = 0;
		}
		pfn = luo_span_pfn(&range, first + used);
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
		e[i].crc = cpu_to_le32(luo_store_sum(le32_to_cpu(e[i].page), c));
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

