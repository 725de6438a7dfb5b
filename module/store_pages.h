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

/* The incoming handover's pages. */
u64 luo_store_pages(void);
int luo_store_claim(u64 page, u64 count);
void luo_store_release(u64 page, u64 count);
void *luo_store_page_addr(u64 page);
unsigned long luo_store_page_pfn(u64 page);
void *luo_store_v1_addr(u64 off);
bool luo_store_page_of(struct page *page, u64 *index);
bool luo_store_trusted(void);
u32 luo_store_sum(u64 page, u32 count);

/* The range as RAM (zero-copy), unless zerocopy=0. */
int luo_store_zerocopy(void);
void luo_store_count_restore(u64 given, u64 copied, s64 us, u32 tasks);
void luo_store_count_live_mismatch(void);
void luo_store_count_restore_alloc(s64 us);

/* Data pages before and inside the kexec. */
s64 luo_store_take(u64 max, u64 *count);
u32 luo_store_copy_now(struct page **src, u64 page, u32 count);
s64 luo_store_alloc_run(u64 max, u64 *count);
void luo_store_copy_pages(struct page **src, u64 page, u32 count,
			  __le32 *crc);
void luo_store_count_inplace(u64 pages);

#endif /* _LIVEUPDATE_STORE_PAGES_H */
