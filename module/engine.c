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
#include <linux/cgroup.h>
#include <linux/cred.h>
#include <linux/memcontrol.h>
#include <linux/module.h>
#include <linux/mutex.h>
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

/*
 * For tests only (tests/kexec/takeover.c, zc-workers): with
 * test_take_workers_first, the caller of a round takes no item before every
 * worker has run its first one to its end (or found none), so each worker
 * takes part whatever the scheduling; test_take_tasks reads what each task
 * of the last caller's round did, and as whom.
 */
static bool luo_test_workers_first;
module_param_named(test_take_workers_first, luo_test_workers_first, bool, 0600);
MODULE_PARM_DESC(test_take_workers_first, "For tests: at RETRIEVE_FD each worker runs its first item before the caller takes one");

/**
 * struct luo_engine_tally - what one task of a caller's round did
 * @items: items it took.
 * @err:   the first error an item gave it (0: none).
 * @a:     its share of &struct luo_engine_round.a (the take-over: pages
 *         given).
 * @b:     its share of &struct luo_engine_round.b (pages copied).
 * @uid:   its effective uid while it worked (init user namespace).
 * @memcg: the inode number of the memory cgroup its charges went to while
 *         it worked (0: none, memory cgroups disabled).
 */
struct luo_engine_tally {
	u32 items;
	int err;
	u64 a;
	u64 b;
	u32 uid;
	unsigned long memcg;
};

/* The last caller's round with items, for test_take_tasks. */
static DEFINE_MUTEX(luo_test_lock);
static struct luo_engine_tally luo_test_tally[LUO_TAKE_MAX];
static u32 luo_test_items, luo_test_tasks;

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
 * @workers_first: test_take_workers_first was set when the round started.
 * @first:   workers that have not finished their first item yet (with
 *           @workers_first; the caller waits for none left).
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
	bool workers_first;
	atomic_t first;
	atomic_t running;
	struct completion done;
	unsigned int nr_work;
	struct luo_engine_work {
		struct work_struct work;
		struct luo_engine *e;
		struct luo_engine_tally tally;
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

/* The memory cgroup this task's charges go to now: its inode number. */
static unsigned long luo_engine_memcg_ino(void)
{
#ifdef CONFIG_MEMCG
	struct mem_cgroup *memcg = get_mem_cgroup_from_mm(NULL);
	unsigned long ino = memcg ? cgroup_ino(memcg->css.cgroup) : 0;

	mem_cgroup_put(memcg);
	return ino;
#else
	return 0;
#endif
}

/* A worker finished its first item, or found none (test_take_workers_first). */
static void luo_engine_first_done(struct luo_engine *e)
{
	/* Fully ordered: the item's work before the caller's wake-up. */
	if (atomic_dec_and_test(&e->first))
		wake_up_var(&e->first);
}

/*
 * Takes items until none is left or the round stops; a caller's round
 * counts what this task did, and as whom, in @t.
 */
static void luo_engine_drain(struct luo_engine *e, struct luo_engine_tally *t,
			     bool worker)
{
	bool took = false, first = worker && e->workers_first;
	u64 a = 0, b = 0;
	int i, ret;

	if (e->killable) {
		t->uid = from_kuid_munged(&init_user_ns, current_euid());
		t->memcg = luo_engine_memcg_ino();
	}
	while (!luo_engine_stopped(e)) {
		i = atomic_inc_return(&e->next) - 1;
		if (i >= e->r->nr)
			break;
		if (!took) {
			took = true;
			atomic_inc(&e->tasks);
		}
		t->items++;
		ret = e->r->item(e, i, &a, &b);
		if (ret) {
			if (!t->err)
				t->err = ret;
			luo_engine_stop(e, ret);
		}
		if (first) {
			first = false;
			luo_engine_first_done(e);
		}
		cond_resched();
	}
	if (first)
		luo_engine_first_done(e);
	/* Once per task: the counters are not written per page by all CPUs. */
	atomic64_add(a, &e->a);
	atomic64_add(b, &e->b);
	t->a = a;
	t->b = b;
}

static void luo_engine_worker(struct work_struct *work)
{
	struct luo_engine_work *w = container_of(work, struct luo_engine_work, work);
	struct luo_engine *e = w->e;
	struct mem_cgroup *memcg = NULL;
	const struct cred *cred = NULL;

	/* A caller's round: as the caller (its memory cgroup may be none). */
	if (e->cred) {
		memcg = set_active_memcg(e->memcg);
		cred = override_creds(e->cred);
	}
	luo_engine_drain(e, &w->tally, true);
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

/* Keeps a caller's round's tallies for test_take_tasks. */
static void luo_engine_keep(const struct luo_engine *e,
			    const struct luo_engine_tally *caller)
{
	unsigned int i;

	guard(mutex)(&luo_test_lock);
	luo_test_items = e->r->nr;
	luo_test_tasks = e->nr_work + 1;
	luo_test_tally[0] = *caller;
	for (i = 0; i < e->nr_work; i++)
		luo_test_tally[i + 1] = e->work[i].tally;
}

static int luo_engine_tasks_get(char *buf, const struct kernel_param *kp)
{
	const struct luo_engine_tally *t;
	unsigned int i;
	int n;

	guard(mutex)(&luo_test_lock);
	n = sysfs_emit(buf, "items %u\ntasks %u\n", luo_test_items,
		       luo_test_tasks);
	for (i = 0; i < luo_test_tasks; i++) {
		t = &luo_test_tally[i];
		n += sysfs_emit_at(buf, n,
				   "task %u items %u a %llu b %llu err %d uid %u memcg %lu\n",
				   i, t->items, t->a, t->b, t->err, t->uid,
				   t->memcg);
	}
	return n;
}

static const struct kernel_param_ops luo_engine_tasks_ops = {
	.get = luo_engine_tasks_get,
};

module_param_cb(test_take_tasks, &luo_engine_tasks_ops, NULL, 0400);
MODULE_PARM_DESC(test_take_tasks, "For tests: what each task of the last round at RETRIEVE_FD did (task 0: the caller), and as whom");

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
	struct luo_engine_tally tally = { };
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
	e.workers_first = !all && READ_ONCE(luo_test_workers_first);
	atomic_set(&e.first, e.nr_work);
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
	/* test_take_workers_first: killed meanwhile, everyone stops. */
	if (e.workers_first &&
	    wait_var_event_killable(&e.first, !atomic_read(&e.first)))
		luo_engine_stop(&e, -EINTR);
	luo_engine_drain(&e, &tally, false);
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
	if (!all)
		luo_engine_keep(&e, &tally);
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
