/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liveupdate: the store's own state (store.c), shared with its commit
 * (store_commit.c) and nobody else: one struct, struct luo_store.
 */
#ifndef _LIVEUPDATE_STORE_INT_H
#define _LIVEUPDATE_STORE_INT_H

#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>

/**
 * struct luo_store_out - the commit in this boot, for the log and the bench
 * @pages_inplace: data pages handed over where they are.
 * @pages_copied:  data pages copied into the range.
 * @copy_threads:  tasks the copy ran on.
 * @copy_us:       how long the copy took.
 */
struct luo_store_out {
	u64 pages_inplace, pages_copied;
	u32 copy_threads;
	s64 copy_us;
};

/**
 * struct luo_store - the store's state, shared by store.c and store_commit.c
 * @addr:           the range's physical address (range.c chose it).
 * @size:           its size in bytes.
 * @npages:         its size in %LUO_PAGE_SIZE pages.
 * @base:           where it is mapped; changes only under @ram_lock (the
 *                  hot-add), and a first mapping is never undone.
 * @sequence:       the loaded handover's sequence number (the commit writes
 *                  one more).
 * @taken:          taken pages, a bitmap: the header, incoming files' data,
 *                  pages given to restored memfds, the commit's pages.
 * @pages_lock:     guards @taken, the count of it and the restore counters.
 * @take_top:       the highest page luo_store_take() may look at (it goes
 *                  downward).
 * @meta_reserved:  metadata bytes the outgoing sessions reserved.
 * @pages_reserved: data pages the outgoing sessions reserved.
 * @committed:      the kexec is under way: the handover is written, nothing
 *                  more fits in.
 * @foreign:        a failed hot-add could not take the range back: it is RAM
 *                  that others own, nothing is written to it again (no
 *                  reservation, no commit).
 * @out:            the commit in this boot, for the log and the bench.
 * @ram_lock:       serialises the hot-add (luo_store_ram()) with itself and
 *                  with the commit: @base, the region and the hot-add's
 *                  result change only under it, and the commit holds it from
 *                  luo_store_commit_begin() to luo_store_commit_end()
 *                  (luo_store_commit_lock()). Taken before luo_lock.
 * @test_commit_delay_ms: for tests only: the commit waits this long between
 *                  taking its metadata pages and writing the header.
 *
 * Reservations and the commit are under luo_lock, except the bitmap claims
 * of an incoming session's files, which take @pages_lock.
 */
struct luo_store {
	u64 addr, size, npages;
	void *base;
	u64 sequence;
	unsigned long *taken;
	spinlock_t pages_lock;	/* @taken, the restore counters */
	u64 take_top, meta_reserved, pages_reserved;
	bool committed, foreign;
	struct luo_store_out out;
	struct mutex ram_lock;	/* the hot-add against the commit */
	unsigned int test_commit_delay_ms;
};

extern struct luo_store luo_store;

bool luo_take(u64 page, u64 count);
void luo_untake(u64 page, u64 count);
bool luo_meta_run_free(u64 meta);

#endif /* _LIVEUPDATE_STORE_INT_H */
