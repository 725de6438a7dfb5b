/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liveupdate: the store's page functions (store.c), for the data path
 * alone (pages_out.c, pages_in.c):
 * which range pages are taken, their addresses, the copies into the range
 * and what restoring counts. No handler includes this: a handler's pages
 * go through pages.h.
 */
#ifndef _LIVEUPDATE_STORE_PAGES_H
#define _LIVEUPDATE_STORE_PAGES_H

#include <linux/mm.h>
#include <linux/mm_types.h>
#include <linux/page-flags.h>
#include <linux/types.h>

#include "handover_format.h"

struct luo_memfd_extent;

/**
 * luo_page_hwpoison() - whether a page must not be read (a memory error)
 * @page: a page of a file, possibly a subpage of a huge folio.
 *
 * memory_failure() marks the page itself, except in a hugetlb folio: there
 * it marks the head (the whole folio: folio_test_hwpoison()) and keeps the
 * poisoned subpages on a list of its own, which modules cannot read. So
 * every page of a poisoned hugetlb folio counts as poisoned.
 *
 * Return: true if @page, or the hugetlb folio it is in, has a memory error.
 */
static inline bool luo_page_hwpoison(struct page *page)
{
	struct folio *folio = page_folio(page);

	return PageHWPoison(page) ||
	       (folio_test_hugetlb(folio) && folio_test_hwpoison(folio));
}

/* Pages one copy (and one extent) holds at most. */
#define LUO_COPY_RUN	64

/**
 * struct luo_store_span - where range pages lie, from one page to the end
 * @addr:  the kernel address of the first page; the pages follow it.
 * @phys:  its physical address.
 * @bytes: bytes from it to the end of the range.
 *
 * Read once for a whole run (luo_store_span()); the helpers below turn a
 * page of the run into an address, a page frame, or back.
 */
struct luo_store_span {
	void *addr;
	u64 phys;
	u64 bytes;
};

/* The address of page @i of span @s. */
static inline void *luo_span_addr(const struct luo_store_span *s, u64 i)
{
	return s->addr + i * LUO_PAGE_SIZE;
}

/* The page frame of page @i of span @s. */
static inline unsigned long luo_span_pfn(const struct luo_store_span *s,
					 u64 i)
{
	return PHYS_PFN(s->phys) + i;
}

/* Whether @page lies in span @s; *@index: which page of it, if so. */
static inline bool luo_span_page_of(const struct luo_store_span *s,
				    struct page *page, u64 *index)
{
	u64 pa = PFN_PHYS(page_to_pfn(page));

	if (pa < s->phys || pa - s->phys >= s->bytes)
		return false;
	*index = (pa - s->phys) / LUO_PAGE_SIZE;
	return true;
}

/**
 * struct luo_restore_count - what one restore call did, for last_handover
 * @given:         pages taken over in place.
 * @copied:        pages copied out of the range.
 * @us:            time the restore took.
 * @tasks:         tasks that took pages over at once (caller and workers).
 * @alloc_us:      of @us, the time spent allocating a hugetlb file's pages.
 * @live_mismatch: extents whose in-place checksum did not match because a
 *                 writer ran on (LUO_EXTENT_LIVE).
 */
struct luo_restore_count {
	u64 given, copied;
	s64 us, alloc_us;
	u32 tasks, live_mismatch;
};

/* The range, and the incoming handover's pages. */
struct luo_store_span luo_store_span(u64 page);
u64 luo_store_pages(void);
int luo_store_claim(const struct luo_memfd_extent *ext, u32 nr);
void luo_store_release(u64 page, u64 count);
bool luo_store_trusted(void);
u32 luo_store_sum(u64 page, u32 count);
void luo_store_count_restore(const struct luo_restore_count *c);

/* The range as RAM (zero-copy), unless zerocopy=0. */
int luo_store_zerocopy(void);

/* Data pages before and inside the kexec. */
s64 luo_store_take(u64 max, u64 *count, u64 *reserved);
s64 luo_store_copy_run(struct page **src, u64 max, u64 *reserved, u64 *count,
		       __le32 *crc);
void luo_store_count_inplace(u64 pages);

#endif /* _LIVEUPDATE_STORE_PAGES_H */
