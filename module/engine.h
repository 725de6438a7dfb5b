/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liveupdate: the parallel engine (engine.c), the one the data path runs
 * its rounds on: the take-over at RETRIEVE_FD (pages_in.c: checks, gives,
 * hugetlb copies) and the copy into the range inside the kexec (store.c).
 *
 * A round hands items 0..nr-1 out one at a time to the calling task and to
 * workers on other CPUs until none is left or the round stops (the first
 * error, or the caller's fatal signal); an optional lead runs on the
 * caller first, while the workers start.
 */
#ifndef _LIVEUPDATE_ENGINE_H
#define _LIVEUPDATE_ENGINE_H

#include <linux/types.h>

struct luo_engine;

/**
 * enum luo_engine_cpus - where a round's workers run and as whom
 * @LUO_ENGINE_CALLER: on the CPUs the calling task may use (take_threads,
 *	at most 64 tasks), under its memory cgroup and credentials; its fatal
 *	signal stops the round (RETRIEVE_FD).
 * @LUO_ENGINE_ALL: on every online CPU, as the kernel, to the end (inside
 *	the kexec); without memory for the workers the caller does it all.
 */
enum luo_engine_cpus {
	LUO_ENGINE_CALLER,
	LUO_ENGINE_ALL,
};

/**
 * struct luo_engine_round - one round's work and what it counted
 * @item:    handles item @i; adds what it did to @a and @b (the user's two
 *           counters: pages given and copied, say); 0 or an error, which
 *           stops the round.
 * @lead:    optional: runs on the caller before it takes items too.
 * @ctx:     the user's, for @item and @lead (luo_engine_ctx()).
 * @nr:      items.
 * @cpus:    where (enum luo_engine_cpus).
 * @a:       out: the sum of every task's @a.
 * @b:       out: the sum of every task's @b.
 * @tasks:   out: tasks that took at least one item.
 * @threads: out: tasks the round ran on (the caller and its workers).
 */
struct luo_engine_round {
	int (*item)(struct luo_engine *e, u32 i, u64 *a, u64 *b);
	int (*lead)(struct luo_engine *e);
	void *ctx;
	u32 nr;
	enum luo_engine_cpus cpus;
	u64 a;
	u64 b;
	u32 tasks;
	u32 threads;
};

int luo_engine_run(struct luo_engine_round *r);
void *luo_engine_ctx(const struct luo_engine *e);
bool luo_engine_parallel(const struct luo_engine *e);
bool luo_engine_stopped(struct luo_engine *e);
void *luo_engine_await(struct luo_engine *e, void *const *slot);
void luo_engine_publish(struct luo_engine *e);
void luo_engine_exit(void);

#endif /* _LIVEUPDATE_ENGINE_H */
