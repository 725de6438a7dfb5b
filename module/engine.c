// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdate: the parallel engine of the data path.
 */

/**
 * DOC: parallel engine
 *
 * One engine runs every parallel round of the data path (engine.h): the
 * take-over at RETRIEVE_FD (pages_in.c) and the copy into the range inside
 * the kexec (store.c). A round's items are handed out one at a time
 * (an atomic counter) to the caller and a worker per other CPU; each task
 * keeps its counters and adds them once at the end, so no counter is
 * written per page by all CPUs. The first error stops everyone (they stop
 * after the item, or the page, at hand) and is the round's result.
 *
 * At RETRIEVE_FD (%LUO_ENGINE_CALLER) the workers run on the CPUs the
 * caller may use (take_threads caps them), charge the caller's memory
 * cgroup under its credentials, and a fatal signal to the caller stops the
 * round (its waits are killable; the workers are waited for still). Inside
 * the kexec (%LUO_ENGINE_ALL) every online CPU copies, on the high-priority
 * system workqueue, and nothing stops the round.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/cred.h>
#include <linux/memcontrol.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/wait_bit.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "engine.h"

#define LUO_TAKE_MAX		64

static unsigned int luo_take_threads;
module_param_named(take_threads, luo_take_threads, uint, 0644);
MODULE_PARM_DESC(take_threads, "CPUs that take a memfd's pages over at RETRIEVE_FD, the caller's included (default 0: every CPU the caller may run on, up to 64)");

/* Runs the workers of the caller's rounds. */
static struct workqueue_struct *luo_take_wq;

/**
 * struct luo_engine - one round under way
 * @r:       the round.
 * @caller:  the task that runs it.
 * @memcg:   %LUO_ENGINE_CALLER: its memory cgroup (a reference), charged
 *           by the workers.
 * @cred:    %LUO_ENGINE_CALLER: its credentials (a reference), the
 *           workers' meanwhile; NULL inside the kexec.
 * @killable: %LUO_ENGINE_CALLER: the caller's fatal signal stops the round.
 * @parallel: workers take items too.
 * @next:    the next item to take.
 * @stop:    set on the first error or signal: everyone stops.
 * @err:     that error.
 * @a:       the tasks' first counters, added once per task.
 * @b:       the second.
 * @tasks:   tasks that took at least one item.
 * @running: workers not finished yet.
 * @done:    completed by the last worker.
 * @nr_work: workers.
 * @work:    one per worker.
 */
struct luo_engine {
	struct luo_engine_round *r;
	struct task_struct *caller;
	struct mem_cgroup *memcg;
	const struct cred *cred;
	bool killable;
	bool parallel;
	atomic_t next;
	atomic_t stop;
	atomic_t err;
	atomic64_t a;
	atomic64_t b;
	atomic_t tasks;
	atomic_t running;
	struct completion done;
	unsigned int nr_work;
	struct luo_engine_work {
		struct work_struct work;
		struct luo_engine *e;
	} *work;
};

/**
 * luo_engine_ctx() - the round's user context
 * @e: the round.
 *
 * Return: &struct luo_engine_round.ctx.
 */
void *luo_engine_ctx(const struct luo_engine *e)
{
	return e->r->ctx;
}

/**
 * luo_engine_parallel() - whether workers take items too
 * @e: the round.
 *
 * Return: true if the round has workers besides the caller.
 */
bool luo_engine_parallel(const struct luo_engine *e)
{
	return e->parallel;
}

/* Stops the round with @err (the first error wins); wakes the waiters. */
static void luo_engine_stop(struct luo_engine *e, int err)
{
	atomic_cmpxchg(&e->err, 0, err);
	atomic_set(&e->stop, 1);
	/* The store before the waiters' check (wake_up_var() has no barrier). */
	smp_mb();
	wake_up_var(&e->stop);
}

/**
 * luo_engine_stopped() - whether the round stopped (an error, or the caller
 * was killed: checked here, on the caller)
 * @e: the round.
 *
 * Return: true if every task should stop after what it has at hand.
 */
bool luo_engine_stopped(struct luo_engine *e)
{
	if (e->killable && current == e->caller && fatal_signal_pending(current))
		luo_engine_stop(e, -EINTR);
	return atomic_read(&e->stop);
}

/**
 * luo_engine_await() - wait until another task published a pointer
 * @e:    the round.
 * @slot: where it is published (smp_store_release(), then
 *        luo_engine_publish()).
 *
 * Return: the pointer, or NULL if the round stopped first.
 */
void *luo_engine_await(struct luo_engine *e, void *const *slot)
{
	/* Pairs with the publisher's release: what it points to, whole. */
	wait_var_event(&e->stop, smp_load_acquire(slot) ||
		       atomic_read(&e->stop));
	/* The same pairing, for the caller's copy: NULL if stopped first. */
	return smp_load_acquire(slot);
}

/**
 * luo_engine_publish() - wake the tasks in luo_engine_await()
 * @e: the round.
 */
void luo_engine_publish(struct luo_engine *e)
{
	/* The pointer published before the waiters' check. */
	smp_mb();
	wake_up_var(&e->stop);
}

/* Takes items until none is left or the round stops. */
static void luo_engine_drain(struct luo_engine *e)
{
	u64 a = 0, b = 0;
	bool took = false;
	int i, ret;

	while (!luo_engine_stopped(e)) {
		i = atomic_inc_return(&e->next) - 1;
		if (i >= e->r->nr)
			break;
		if (!took) {
			took = true;
			atomic_inc(&e->tasks);
		}
		ret = e->r->item(e, i, &a, &b);
		if (ret)
			luo_engine_stop(e, ret);
		cond_resched();
	}
	/* Once per task: the counters are not written per page by all CPUs. */
	atomic64_add(a, &e->a);
	atomic64_add(b, &e->b);
}

static void luo_engine_worker(struct work_struct *work)
{
	struct luo_engine *e = container_of(work, struct luo_engine_work, work)->e;
	struct mem_cgroup *memcg = NULL;
	const struct cred *cred = NULL;

	/* A caller's round: as the caller (its memory cgroup may be none). */
	if (e->cred) {
		memcg = set_active_memcg(e->memcg);
		cred = override_creds(e->cred);
	}
	luo_engine_drain(e);
	if (e->cred) {
		revert_creds(cred);
		set_active_memcg(memcg);
	}
	if (atomic_dec_and_test(&e->running))
		complete(&e->done);
}

/* How many workers a caller's round of @nr items gets, and on which CPUs. */
static unsigned int luo_engine_caller_cpus(struct cpumask *cpus, u32 nr)
{
	unsigned int max = READ_ONCE(luo_take_threads) ?: LUO_TAKE_MAX;

	max = min3(max, (unsigned int)LUO_TAKE_MAX, nr) - 1;
	cpumask_and(cpus, current->cpus_ptr, cpu_online_mask);
	cpumask_clear_cpu(raw_smp_processor_id(), cpus);
	return min(max, cpumask_weight(cpus));
}

static struct workqueue_struct *luo_engine_queue(void)
{
	static DEFINE_MUTEX(lock);

	guard(mutex)(&lock);
	if (!luo_take_wq)
		luo_take_wq = alloc_workqueue("liveupdate_take",
					      LUO_WQ_PERCPU | WQ_CPU_INTENSIVE, 0);
	return luo_take_wq;
}

/* Every online CPU but this one (inside the kexec). */
static unsigned int luo_engine_all_cpus(struct cpumask *cpus)
{
	unsigned int me = get_cpu();

	put_cpu();
	cpumask_copy(cpus, cpu_online_mask);
	cpumask_clear_cpu(me, cpus);
	return cpumask_weight(cpus);
}

/* Queues a worker on each CPU of @cpus, up to e->nr_work. */
static void luo_engine_start(struct luo_engine *e, const struct cpumask *cpus,
			     struct workqueue_struct *wq)
{
	unsigned int cpu, i = 0;

	atomic_set(&e->running, e->nr_work);
	for_each_cpu(cpu, cpus) {
		if (i == e->nr_work)
			break;
		e->work[i].e = e;
		INIT_WORK(&e->work[i].work, luo_engine_worker);
		queue_work_on(cpu, wq, &e->work[i].work);
		i++;
	}
}

/**
 * luo_engine_run() - run one round on the caller and its workers
 * @r: the round: @item, @lead, @ctx, @nr and @cpus in; the counters out.
 *
 * With @r->lead, the caller first runs it while the workers start (they
 * may wait for what it publishes), then takes items too. Returns once
 * every worker is done.
 *
 * Context: process context, may sleep; %LUO_ENGINE_ALL: inside the kexec.
 * Return: 0, or the first error an item or the lead gave (-EINTR if the
 * caller was killed), or -ENOMEM (%LUO_ENGINE_CALLER: no memory for the
 * workers).
 */
int luo_engine_run(struct luo_engine_round *r)
{
	struct luo_engine e = { .r = r, .caller = current };
	struct workqueue_struct *wq = system_highpri_wq;
	bool all = r->cpus == LUO_ENGINE_ALL;
	cpumask_var_t cpus;

	r->tasks = 0;
	r->threads = 1;
	if (!r->nr)
		return 0;
	if (!zalloc_cpumask_var(&cpus, GFP_KERNEL)) {
		if (!all)
			return -ENOMEM;
	} else if (all) {
		e.nr_work = luo_engine_all_cpus(cpus);
	} else {
		e.nr_work = luo_engine_caller_cpus(cpus, r->nr);
		wq = luo_engine_queue();
		if (!wq)
			e.nr_work = 0;
	}
	if (e.nr_work) {
		e.work = kcalloc(e.nr_work, sizeof(*e.work),
				 all ? GFP_KERNEL : GFP_KERNEL_ACCOUNT);
		if (!e.work && !all) {
			free_cpumask_var(cpus);
			return -ENOMEM;
		}
		if (!e.work)
			e.nr_work = 0;
	}
	e.killable = !all;
	e.parallel = e.nr_work;
	init_completion(&e.done);
	if (e.nr_work) {
		if (all) {
			luo_engine_start(&e, cpus, wq);
		} else {
			e.memcg = get_mem_cgroup_from_mm(NULL);
			e.cred = get_current_cred();
			cpus_read_lock();
			luo_engine_start(&e, cpus, wq);
			cpus_read_unlock();
		}
	}
	free_cpumask_var(cpus);
	if (r->lead) {
		int ret = r->lead(&e);

		if (ret)
			luo_engine_stop(&e, ret);
	}
	luo_engine_drain(&e);
	if (e.nr_work) {
		/* Killed while waiting: the workers stop after their page. */
		if (all) {
			wait_for_completion(&e.done);
		} else if (wait_for_completion_killable(&e.done)) {
			luo_engine_stop(&e, -EINTR);
			wait_for_completion(&e.done);
		}
		if (e.cred) {
			put_cred(e.cred);
			mem_cgroup_put(e.memcg);
		}
	}
	kfree(e.work);
	r->a = atomic64_read(&e.a);
	r->b = atomic64_read(&e.b);
	r->tasks = atomic_read(&e.tasks);
	r->threads = e.nr_work + 1;
	return atomic_read(&e.err);
}

/**
 * luo_engine_exit() - free what the engine allocated, at module unload
 *
 * Each round waits for its workers before it returns, so none runs.
 *
 * Context: module unload.
 */
void luo_engine_exit(void)
{
	if (luo_take_wq)
		destroy_workqueue(luo_take_wq);
}
