// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdate: the store's commit, inside the kexec: the metadata writer,
 * data pages taken and copied into the range (on engine.c), the header.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/crc32.h>
#include <linux/highmem.h>
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "data_sum.h"
#include "engine.h"
#include "handler.h"
#include "lock.h"
#include "ram.h"
#include "store.h"
#include "store_int.h"
#include "store_pages.h"

/* --- the commit ------------------------------------------------------- */

/* A run of pages to copy into the range, one extent's worth. */
struct luo_copy_job {
	struct list_head list;
	u64 page;
	u32 count;
	__le32 *crc;
	struct page *src[LUO_COPY_RUN];
};

static LIST_HEAD(luo_copy_jobs);
static DEFINE_SPINLOCK(luo_copy_lock);
/* Jobs queued (under luo_lock, in the commit). */
static u32 luo_copy_nr;
/* The highest page the copies have not taken yet (they go downward). */
static u64 luo_alloc_top;
static ktime_t luo_commit_start;

/**
 * luo_store_commit_begin() - start writing the handover, inside the kexec
 * @w: the metadata writer to fill.
 *
 * Invalidates the header, then takes the lowest free pages that hold the
 * metadata reserved. Caller holds luo_store_commit_lock() and luo_lock
 * until luo_store_commit_end().
 *
 * Invariant of the commit: the handover it writes names its metadata by
 * page number, never by an address difference, and the range keeps one
 * mapping from here to luo_store_commit_end() (no hot-add in between), so
 * the next boot finds the metadata where it was written whenever the first
 * open's hot-add ran.
 *
 * Return: 0, or -ENOSPC if no run of free pages is long enough (nothing
 * is handed over then; logged).
 */
int luo_store_commit_begin(struct luo_writer *w)
{
	struct luo_header_v2 *hdr = luo_store.base;
	u64 meta_pages, start;

	lockdep_assert_held(&luo_lock);
	lockdep_assert_held(&luo_store.ram_lock);
	if (READ_ONCE(luo_store.foreign)) {
		pr_err("the range is ordinary RAM since the failed hot-add: nothing handed over\n");
		return -EIO;
	}
	luo_commit_start = ktime_get();
	WRITE_ONCE(hdr->magic, 0);
	memset(&luo_store.out, 0, sizeof(luo_store.out));
	luo_alloc_top = luo_store.npages;
	meta_pages = DIV_ROUND_UP(luo_store.meta_reserved, LUO_PAGE_SIZE);
	guard(spinlock)(&luo_store.pages_lock);
	start = bitmap_find_next_zero_area(luo_store.taken, luo_store.npages, 1,
					   meta_pages ?: 1, 0);
	if (start >= luo_store.npages) {
		pr_err("no %llu consecutive free pages for the handover's metadata; nothing handed over\n",
		       meta_pages);
		return -ENOSPC;
	}
	luo_take(start, meta_pages ?: 1);
	w->page = start;
	w->base = luo_store.base + start * LUO_PAGE_SIZE;
	w->off = 0;
	w->size = luo_store.meta_reserved;
	return 0;
}

/**
 * luo_writer_add() - room for the next bytes of metadata
 * @w:   the writer.
 * @len: bytes; the next record starts aligned after them.
 *
 * Return: the zeroed room, or NULL if more than reserved is asked for.
 */
void *luo_writer_add(struct luo_writer *w, u64 len)
{
	u64 step = ALIGN(len, LUO_HANDOVER_ALIGN);
	void *p;

	if (step > w->size - w->off)
		return NULL;
	p = w->base + w->off;
	memset(p, 0, step);
	w->off += step;
	return p;
}

/*
 * Free pages to copy data into, during the commit: the highest free run of
 * at most @max, *@count set to its length (at least 1). Caller holds
 * luo_lock (in the commit). The first page of the run, or -ENOSPC.
 */
static s64 luo_alloc_run(u64 max, u64 *count)
{
	u64 end;

	guard(spinlock)(&luo_store.pages_lock);
	while (luo_alloc_top > 0 && test_bit(luo_alloc_top - 1, luo_store.taken))
		luo_alloc_top--;
	if (!luo_alloc_top)
		return -ENOSPC;
	end = luo_alloc_top;
	while (luo_alloc_top > 0 && end - luo_alloc_top < max &&
	       !test_bit(luo_alloc_top - 1, luo_store.taken))
		luo_alloc_top--;
	*count = end - luo_alloc_top;
	luo_take(luo_alloc_top, *count);
	return luo_alloc_top;
}

/*
 * One pass: each word is loaded once, stored and mixed into the checksum
 * (data_sum.h); a memcpy() then a checksum pass over the copy was several
 * times slower.
 */
static void luo_copy_one(struct page **src, u64 page, u32 count, __le32 *sum)
{
	struct luo_sum s;
	u32 i;

	luo_sum_init(&s);
	for (i = 0; i < count; i++) {
		void *to = luo_store.base + (page + i) * LUO_PAGE_SIZE, *from;

		/* Found with a memory error since it was listed: never read. */
		if (luo_page_hwpoison(src[i])) {
			memset(to, 0, LUO_PAGE_SIZE);
			luo_sum_add(&s, to, LUO_PAGE_SIZE);
			put_page(src[i]);
			continue;
		}
		from = kmap_local_page(src[i]);
		luo_sum_copy(&s, to, from, LUO_PAGE_SIZE);
		kunmap_local(from);
		put_page(src[i]);
	}
	*sum = cpu_to_le32(luo_sum_final(&s));
}

/**
 * luo_store_take() - turn reserved data pages into taken ones, before the kexec
 * @max:      at most this many.
 * @count:    set to how many consecutive pages were taken, at least 1.
 * @reserved: the caller's reservation, less *@count on success.
 *
 * For data a handler copies (or moves) into the range ahead of the kexec:
 * the highest free pages, out of what the outgoing sessions reserved (so
 * nothing reserved by anyone else is used up). The caller gives what it
 * did not use back with luo_store_release() and luo_store_reserve().
 *
 * Context: process context; takes luo_lock, so the caller does not hold it.
 * Return: the first page of the run, -ENOSPC, -EIO (the range is ordinary
 * RAM) or -EBUSY during the commit.
 */
s64 luo_store_take(u64 max, u64 *count, u64 *reserved)
{
	u64 end, top;

	guard(mutex)(&luo_lock);
	if (luo_store.committed)
		return -EBUSY;
	if (READ_ONCE(luo_store.foreign))
		return -EIO;
	max = min(max, luo_store.pages_reserved);
	if (!max)
		return -ENOSPC;
	guard(spinlock)(&luo_store.pages_lock);
	top = min(luo_store.take_top, luo_store.npages);
	while (top > 0 && test_bit(top - 1, luo_store.taken))
		top--;
	if (!top)
		return -ENOSPC;
	end = top;
	while (top > 0 && end - top < max && !test_bit(top - 1, luo_store.taken))
		top--;
	*count = end - top;
	luo_take(top, *count);
	/* Never the pages the reserved metadata needs consecutive. */
	if (!luo_meta_run_free(luo_store.meta_reserved)) {
		luo_untake(top, *count);
		return -ENOSPC;
	}
	luo_store.take_top = top;
	WRITE_ONCE(luo_store.pages_reserved, luo_store.pages_reserved - *count);
	*reserved -= *count;
	return top;
}

/*
 * Queues a copy into the range during the commit: the copies run in
 * luo_store_commit_end(), on every online CPU (engine.c). Without memory
 * for the queue entry the copy is made at once.
 */
static void luo_copy_queue(struct page **src, u64 page, u32 count,
			   __le32 *crc)
{
	struct luo_copy_job *job = kmalloc(sizeof(*job), GFP_KERNEL);

	luo_store.out.pages_copied += count;
	if (!job) {
		luo_copy_one(src, page, count, crc);
		return;
	}
	memcpy(job->src, src, count * sizeof(*src));
	job->page = page;
	job->count = count;
	job->crc = crc;
	luo_copy_nr++;
	guard(spinlock)(&luo_copy_lock);
	list_add_tail(&job->list, &luo_copy_jobs);
}

/**
 * luo_store_copy_run() - copy a run of pages into the range
 * @src:      up to @max pages, each with a reference the copy drops.
 * @max:      at most this many (at most %LUO_COPY_RUN).
 * @reserved: before the kexec, the caller's reservation the range pages
 *            come out of (luo_store_take()); NULL during the commit, which
 *            takes the highest free pages (caller holds luo_lock).
 * @count:    set to how many of @src were copied, at least 1.
 * @crc:      where the checksum (data_sum.h) of the copied bytes goes: at
 *            once before the kexec; during the commit once the queued copy
 *            ran (so in the metadata).
 *
 * Pages of @src past *@count are left to the caller (another run).
 *
 * Return: the first range page of the run, or -errno (no page taken and
 * no reference dropped): luo_store_take()'s errors, -ENOSPC in the commit.
 */
s64 luo_store_copy_run(struct page **src, u64 max, u64 *reserved, u64 *count,
		       __le32 *crc)
{
	s64 page;

	if (!reserved) {
		page = luo_alloc_run(max, count);
		if (page >= 0)
			luo_copy_queue(src, page, *count, crc);
		return page;
	}
	page = luo_store_take(max, count, reserved);
	if (page >= 0)
		luo_copy_one(src, page, *count, crc);
	return page;
}

/**
 * luo_store_count_inplace() - pages a file hands over where they are
 * @pages: how many.
 */
void luo_store_count_inplace(u64 pages)
{
	luo_store.out.pages_inplace += pages;
}

/*
 * The engine's item: the first queued copy (the queue is a list, so item
 * @i is whichever job comes next; there are as many items as jobs).
 */
static int luo_copy_item(struct luo_engine *e, u32 i, u64 *a, u64 *b)
{
	struct luo_copy_job *job;

	scoped_guard(spinlock, &luo_copy_lock) {
		job = list_first_entry_or_null(&luo_copy_jobs,
					       struct luo_copy_job, list);
		if (job)
			list_del(&job->list);
	}
	if (job) {
		luo_copy_one(job->src, job->page, job->count, job->crc);
		kfree(job);
	}
	return 0;
}

/* Runs the queued copies on every online CPU, this one included (engine.c). */
static void luo_copy_run(void)
{
	struct luo_engine_round r = {
		.item = luo_copy_item,
		.nr = luo_copy_nr,
		.cpus = LUO_ENGINE_ALL,
	};
	ktime_t start = ktime_get();

	if (list_empty(&luo_copy_jobs))
		return;
	luo_engine_run(&r);
	luo_copy_nr = 0;
	luo_store.out.copy_threads = r.threads;
	luo_store.out.copy_us = ktime_us_delta(ktime_get(), start);
}

/**
 * luo_store_commit_end() - finish the handover, inside the kexec
 * @w:           the writer the records went through.
 * @nr_sessions: session records written.
 * @nr_files:    file records written.
 *
 * Runs the queued copies, then writes the header: checksums, state, and the
 * magic last, which makes it valid.
 */
void luo_store_commit_end(struct luo_writer *w, u64 nr_sessions,
			  u64 nr_files)
{
	struct luo_header_v2 *hdr = luo_store.base;
	struct luo_header_v2 h = {};

	lockdep_assert_held(&luo_lock);
	lockdep_assert_held(&luo_store.ram_lock);
	if (luo_store.test_commit_delay_ms)
		msleep(luo_store.test_commit_delay_ms);
	luo_copy_run();

	h.version = cpu_to_le32(LUO_FORMAT_V2);
	h.header_size = cpu_to_le32(sizeof(h));
	h.page_size = cpu_to_le32(LUO_PAGE_SIZE);
	h.range_size = cpu_to_le64(luo_store.npages * LUO_PAGE_SIZE);
	h.meta_off = cpu_to_le64(w->page * LUO_PAGE_SIZE);
	h.meta_size = cpu_to_le64(w->off);
	h.nr_sessions = cpu_to_le64(nr_sessions);
	h.nr_files = cpu_to_le64(nr_files);
	h.sequence = cpu_to_le64(luo_store.sequence + 1);
	h.meta_crc = cpu_to_le32(crc32_le(~0U, w->base, w->off));
	h.pages_inplace = cpu_to_le64(luo_store.out.pages_inplace);
	h.pages_copied = cpu_to_le64(luo_store.out.pages_copied);
	h.copy_us = cpu_to_le32(min_t(s64, luo_store.out.copy_us, U32_MAX));
	h.copy_threads = cpu_to_le32(luo_store.out.copy_threads);
	h.commit_us = cpu_to_le32(min_t(s64, ktime_us_delta(ktime_get(),
							    luo_commit_start),
					U32_MAX));
	h.magic = cpu_to_le64(LUO_HANDOVER_MAGIC);
	h.header_crc = cpu_to_le32(luo_header_v2_crc(&h));
	h.state = cpu_to_le32(LUO_STATE_COMMITTED);
	h.magic = 0;
	memcpy(hdr, &h, sizeof(h));
	/* The magic makes it valid: everything else must be in RAM first. */
	wmb();
	WRITE_ONCE(hdr->magic, cpu_to_le64(LUO_HANDOVER_MAGIC));
	luo_store.committed = true;
	pr_info("handed over %llu sessions with %llu files: %llu pages left in place, %llu copied by %u CPUs in %lld us, %llu bytes of metadata\n",
		nr_sessions, nr_files, luo_store.out.pages_inplace,
		luo_store.out.pages_copied, luo_store.out.copy_threads, luo_store.out.copy_us,
		w->off);
}

