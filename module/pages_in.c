// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdate: a preserved file's pages, incoming: claim, verify, take over
 * or copy (pages.h; pages_out.c is the previous kernel's side).
 */

/**
 * DOC: a preserved file's pages, incoming
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
 * Hugetlb files (hugetlb.c) are never taken over. Restoring one: the
 * caller allocates the huge pages that held data, one by one with
 * fallocate() (charged to it and its hugetlb cgroup; a short pool: ENOMEM;
 * hugetlbfs zeroes each), while the workers copy the extents into those
 * already allocated, checksummed in the copy pass; a failure starts over
 * into a new file.
 *
 * The parallel rounds run on the data path's one engine (engine.c).
 *
 * Locking: none for the restore, which the caller serialises (the incoming
 * session's mutex).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/crc32.h>
#include <linux/file.h>
#include <linux/ktime.h>
#include <linux/pagemap.h>
#include <linux/shmem_fs.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "compat.h"
#include "data_sum.h"
#include "engine.h"
#include "lock.h"
#include "pages.h"
#include "ram.h"
#include "store.h"
#include "store_pages.h"

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

static u64 luo_pages_count(u64 size)
{
	return DIV_ROUND_UP(size, LUO_PAGE_SIZE);
}

/* The file's kind, for the log. */
static const char *luo_pages_in_what(const struct luo_pages_in *in)
{
	return in->huge_order ? "hugetlb memfd" : "memfd";
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
	in->huge_order = huge_order;
	in->ext = ext;
	in->nr_extents = nr;
	in->size = size;
	if (luo_store_claim(ext, nr)) {
		in->nr_extents = 0;
		return -EADDRINUSE;
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
	in->v1 = luo_store_span(0).addr + off;
}

/* --- restore ------------------------------------------------------------ */

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
	struct luo_store_span run;

	if (flags & LUO_EXTENT_XXH64)
		return luo_store_sum(le32_to_cpu(e->page), le32_to_cpu(e->count)) ==
		       le32_to_cpu(e->crc);
	if (!(flags & LUO_EXTENT_CRC))
		return true;
	run = luo_store_span(le32_to_cpu(e->page));
	for (i = 0; i < le32_to_cpu(e->count); i++) {
		crc = crc32_le(crc, luo_span_addr(&run, i), LUO_PAGE_SIZE);
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
	luo_store_count_restore(&(struct luo_restore_count){ .live_mismatch = 1 });
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
 * Copies the range page at @from into @addr, the new file's page at byte
 * @off, the checksum in the same pass; the bytes past the file's size are
 * zeroed, as shmem keeps them.
 */
static void luo_pages_copy_page(const struct luo_pages_in *in,
				struct luo_sum *sum, void *addr,
				const void *from, u64 off)
{
	luo_sum_copy(sum, addr, from, LUO_PAGE_SIZE);
	if (in->size - off < LUO_PAGE_SIZE)
		memset(addr + (in->size - off), 0,
		       LUO_PAGE_SIZE - (in->size - off));
}

/* A copied extent's verdict: 0 if @sum (or its crc32) matches. */
static int luo_pages_copied_ok(const struct luo_pages_in *in,
			       const struct luo_memfd_extent *e,
			       struct luo_sum *sum)
{
	if (le32_to_cpu(e->flags) & LUO_EXTENT_XXH64 ?
	    luo_sum_final(sum) == le32_to_cpu(e->crc) : luo_pages_extent_ok(e))
		return 0;
	return luo_pages_mismatch(in, e);
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
	u64 index = le64_to_cpu(e->index);
	struct luo_store_span run = luo_store_span(le32_to_cpu(e->page));
	u32 count = le32_to_cpu(e->count), i;
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
		luo_pages_copy_page(in, &sum, addr, luo_span_addr(&run, i), off);
		kunmap_local(addr);
		folio_mark_dirty(page_folio(to));
		put_page(to);
		if (fatal_signal_pending(current))
			return -EINTR;
		if (!((i + 1) % 256))
			cond_resched();
	}
	return luo_pages_copied_ok(in, e, &sum);
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
 * struct luo_take - what a take-over round works on (its engine context)
 * @in:     the incoming file.
 * @file:   the new file.
 * @job:    what this round does with each entry of @todo.
 * @direct: gives take the direct route (luo_ram_direct()).
 * @todo:   extents to check or copy, or units to give.
 */
struct luo_take {
	struct luo_pages_in *in;
	struct file *file;
	enum luo_take_job job;
	bool direct;
	u32 *todo;
};

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
static int luo_take_unit_direct(struct luo_engine *en, struct luo_take *t,
				struct luo_take_unit *u, bool counted, u64 *given)
{
	const struct luo_memfd_extent *e = &t->in->ext[u->ext];
	u64 index = le64_to_cpu(e->index) + u->first;
	struct luo_store_span run = luo_store_span(le32_to_cpu(e->page) +
						   u->first);
	unsigned long first = luo_span_pfn(&run, u->done);
	u32 left = u->count - u->done, n = 0;
	struct folio *folio = NULL;
	int ret = 0;

	for (; u->done < u->count; u->done++) {
		if (luo_engine_stopped(en)) {
			ret = -EINTR;
			break;
		}
		ret = luo_ram_insert(t->file, index + u->done,
				     luo_span_pfn(&run, u->done),
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
static int luo_take_unit(struct luo_engine *en, struct luo_take *t,
			 struct luo_take_unit *u, u64 *given, u64 *copied)
{
	const struct luo_memfd_extent *e = &t->in->ext[u->ext];
	u64 index = le64_to_cpu(e->index) + u->first;
	u64 page = le32_to_cpu(e->page) + u->first;
	struct luo_store_span run = luo_store_span(page);
	unsigned long first = luo_span_pfn(&run, u->done);
	u32 left = u->count - u->done, swapped = 0;
	bool counted;
	int ret = 0;

	counted = luo_ram_count(first, left);
	if (t->direct)
		return luo_take_unit_direct(en, t, u, counted, given);
	for (; u->done < u->count; u->done++) {
		if (luo_engine_stopped(en)) {
			ret = -EINTR;
			break;
		}
		ret = luo_ram_give(t->file, index + u->done,
				   luo_span_pfn(&run, u->done),
				   (counted ? LUO_RAM_GIVE_COUNTED : 0) |
				   (luo_engine_parallel(en) ?
				    LUO_RAM_GIVE_PARALLEL : 0));
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
static int luo_take_copy(struct luo_engine *en, struct luo_take *t, u32 ext,
			 u64 *copied)
{
	struct luo_pages_in *in = t->in;
	const struct luo_memfd_extent *e = &in->ext[ext];
	u64 index = le64_to_cpu(e->index);
	struct luo_store_span run = luo_store_span(le32_to_cpu(e->page));
	u32 count = le32_to_cpu(e->count), i;
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

		if (luo_engine_stopped(en))
			return -EINTR;
		/*
		 * Published by the caller once allocated (the lead); pairs
		 * with luo_pages_huge_one()'s release: the folio whole.
		 */
		folio = luo_engine_await(en, (void *const *)slot);
		if (!folio)
			return -EINTR;
		addr = kmap_local_page(folio_page(folio, idx & mask));
		luo_pages_copy_page(in, &sum, addr, luo_span_addr(&run, i), off);
		kunmap_local(addr);
		if (!((i + 1) % 256))
			cond_resched();
	}
	*copied += count;
	return luo_pages_copied_ok(in, e, &sum);
}

/* The engine's item @i: entry @i of @todo, as the round's job says. */
static int luo_take_item(struct luo_engine *en, u32 i, u64 *given, u64 *copied)
{
	struct luo_take *t = luo_engine_ctx(en);
	int ret;

	if (t->job == LUO_TAKE_CHECK)
		return luo_take_check(t, t->todo[i]);
	if (t->job == LUO_TAKE_GIVE)
		return luo_take_unit(en, t, &t->in->units[t->todo[i]], given,
				     copied);
	ret = luo_take_copy(en, t, t->todo[i], copied);
	/* Kept if a signal stops the round (resumed). */
	if (!ret)
		set_bit(t->todo[i], t->in->huge_done);
	return ret;
}

/*
 * One round over @todo (checks, gives or copies) on the caller and its
 * workers (engine.c); with @lead, the caller first runs it while the
 * workers start (they wait for what it publishes), then joins them.
 * Returns 0, or the first error (-EINTR if the caller was killed).
 */
static int luo_take_round(struct luo_pages_in *in, struct file *file,
			  enum luo_take_job job, u32 *todo, u32 nr, u64 *given,
			  u64 *copied, u32 *tasks,
			  int (*lead)(struct luo_engine *en))
{
	struct luo_take t = {
		.in = in,
		.file = file,
		.job = job,
		.direct = job == LUO_TAKE_GIVE && in->direct,
		.todo = todo,
	};
	struct luo_engine_round r = {
		.item = luo_take_item,
		.lead = lead,
		.ctx = &t,
		.nr = nr,
		.cpus = LUO_ENGINE_CALLER,
	};
	int ret = luo_engine_run(&r);

	*given += r.a;
	*copied += r.b;
	*tasks = max_t(u32, *tasks, r.tasks);
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
	/* Pairs with luo_engine_await() in luo_take_copy(). */
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
static int luo_pages_huge_lead(struct luo_engine *en)
{
	struct luo_take *t = luo_engine_ctx(en);
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
			if (luo_engine_stopped(en))
				break;
			/* Allocated by an interrupted call before. */
			if (in->folios[h])
				continue;
			ret = luo_pages_huge_one(in, t->file, h);
			luo_engine_publish(en);
		}
		next = max(next, last + 1);
	}
	luo_store_count_restore(&(struct luo_restore_count){
		.alloc_us = ktime_us_delta(ktime_get(), start) });
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
			    !luo_store_zerocopy();
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
	luo_store_count_restore(&(struct luo_restore_count){
		.given = given, .copied = copied, .tasks = tasks,
		.us = ktime_us_delta(ktime_get(), start) });
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
