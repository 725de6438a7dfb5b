/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liveupdate: the store's own state (store.c), shared with its commit
 * (store_commit.c) and nobody else. What each means is said where store.c
 * defines it.
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

extern u64 luo_addr, luo_size, luo_npages, luo_sequence;
extern void *luo_base;
extern unsigned long *luo_taken;
extern spinlock_t luo_pages_lock;
extern u64 luo_take_top, luo_meta_reserved, luo_pages_reserved;
extern bool luo_committed, luo_foreign;
extern struct luo_store_out luo_out;
extern struct mutex luo_ram_lock;
extern unsigned int luo_test_commit_delay_ms;

bool luo_take(u64 page, u64 count);
void luo_untake(u64 page, u64 count);
bool luo_meta_run_free(u64 meta);

#endif /* _LIVEUPDATE_STORE_INT_H */
