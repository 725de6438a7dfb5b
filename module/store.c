// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdate: the handover store in the reserved RAM range.
 */

/**
 * DOC: Handover store
 *
 * Without Kexec HandOver the only memory both kernels leave alone is a range
 * the firmware map marks reserved: boot every kernel with memmap=SIZE$ADDR.
 * range.c decides which range (and refuses anything but reserved RAM); the
 * store claims it so /dev/mem cannot touch it, and manages it as pages.
 *
 * Pages: a bitmap says which of the range's pages are taken: page 0 (the
 * header), the pages an incoming handover's files still need, pages given
 * to restored memfds (for the rest of the boot: a page shmem frees goes to
 * the page allocator, and the store never hands it out again), and during
 * the commit the metadata and the copies. The commit puts the metadata at
 * the lowest free pages and copies data into the highest ones, so the two
 * never fragment each other.
 *
 * Space: every session record, file record and file's data page needs room.
 * It is reserved when the session is created or the file preserved (ENOSPC
 * there), so the kexec itself never runs out of space. Data already in the
 * range (a restored memfd's pages, kept in place) needs none.
 *
 * Commit: the core calls luo_store_commit_begin() inside
 * reboot(LINUX_REBOOT_CMD_KEXEC), the sessions and their files write their
 * records through the writer and queue page copies, and
 * luo_store_commit_end() runs the copies on every online CPU (the reboot
 * notifier runs before the other CPUs are stopped), then writes checksums,
 * state, and the magic last. A plain reboot or power-off writes nothing.
 *
 * Load: at module load a committed handover is marked claimed, so no later
 * boot can load it a second time (a warm reboot keeps RAM). At the first
 * open of /dev/liveupdate the core has it checked (luo_store_check(): the
 * header and the metadata, copied out first) and builds the incoming
 * sessions; each file's data is checked and restored at its first
 * RETRIEVE_FD (pages_in.c), by taking its pages over when the range can be
 * RAM (ram.c) and by copying otherwise. A handover that fails any check is
 * reported in the kernel log and yields no incoming sessions; the
 * handover_status parameter tells what happened.
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
#include "lock.h"
#include "memfd_format.h"
#include "ram.h"
#include "range.h"
#include "store.h"
#include "store_int.h"
#include "store_pages.h"

static const char *const luo_status_names[] = {
	[LUO_STATUS_NONE]	= "none",
	[LUO_STATUS_PENDING]	= "pending",
	[LUO_STATUS_LOADED]	= "loaded",
	[LUO_STATUS_CONSUMED]	= "consumed",
	[LUO_STATUS_CORRUPT]	= "corrupt",
	[LUO_STATUS_VERSION]	= "version",
};

/* The store's state shared with store_commit.c (store_int.h). */
struct luo_store luo_store = {
	.pages_lock = __SPIN_LOCK_UNLOCKED(luo_store.pages_lock),
	.take_top = U64_MAX,
	.ram_lock = __MUTEX_INITIALIZER(luo_store.ram_lock),
};

static enum luo_status luo_status;
static bool luo_region_held;

/* How many pages luo_store.taken marks (under luo_store.pages_lock). */
static u64 luo_nr_taken;
/* Pages of the range the handover being loaded was written for. */
static u64 luo_in_pages;
/*
 * A failed hot-add let the page allocator have the range's pages before
 * taking them back (ram.c): incoming data may have been overwritten, so
 * only data with a checksum is restored from then on (luo_store_trusted()).
 * If the range could not be taken back: luo_store.foreign.
 */
static bool luo_untrusted;

/*
 * Zero-copy: "auto" (the default) takes pages over where the range can be
 * RAM, "off" never (luo_store_zerocopy()). Set only at load; "space"
 * shows it.
 */
static bool luo_zerocopy = true;
module_param_named(zerocopy, luo_zerocopy, bool, 0444);
MODULE_PARM_DESC(zerocopy, "Restore memfds by taking their pages over when the range can be RAM (default Y)");

/**
 * luo_param_set_readonly() - the set of every introspection parameter
 * @val: ignored.
 * @kp:  ignored.
 *
 * Return: -EPERM: they are read-only, for root too.
 */
int luo_param_set_readonly(const char *val, const struct kernel_param *kp)
{
	return -EPERM;
}

/* World-readable: never waits for a lock anyone else can hold. */
static int luo_param_get_status(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n", luo_status_names[READ_ONCE(luo_status)]);
}

static const struct kernel_param_ops luo_status_ops = {
	.set = luo_param_set_readonly,
	.get = luo_param_get_status,
};

module_param_cb(handover_status, &luo_status_ops, NULL, 0444);
MODULE_PARM_DESC(handover_status,
		 "What the previous kernel handed over: none, pending, loaded, consumed, corrupt, version");

/*
 * Introspection, root-only: the space the handover takes now, what the last
 * handover carried and what restoring it cost so far. Read without a lock
 * (single words, READ_ONCE), so a read never waits; the fields of
 * last_handover are set once per boot, the restore counters grow.
 */
static struct {
	u64 sessions, files, bytes, version;
	u32 write_us, copy_us, copy_threads;
	u64 pages_inplace, pages_copied;
	s64 check_us, build_us;
	u64 restore_given, restore_copied, restore_live_mismatch;
	s64 restore_us, restore_alloc_us;
	u32 restore_threads;
} luo_last;

/* Zero-copy: not tried yet, in use, or why not (luo_store_ram()). */
static int luo_ram_result = 1;

/*
 * used:  metadata bytes and data pages (as bytes) the outgoing sessions
 *        reserved;
 * free:  whole pages still free for more (the metadata rounded up);
 * taken: pages held apart from reservations: the header, incoming files'
 *        data, pages given to restored memfds.
 */
static int luo_param_get_space(char *buf, const struct kernel_param *kp)
{
	u64 taken = READ_ONCE(luo_nr_taken), meta = READ_ONCE(luo_store.meta_reserved);
	u64 pages = READ_ONCE(luo_store.pages_reserved);
	u64 need = DIV_ROUND_UP(meta, LUO_PAGE_SIZE) + pages + taken;
	int ram = READ_ONCE(luo_ram_result);

	return sysfs_emit(buf, "used %llu\nfree %llu\nsize %llu\ntaken %llu\nzerocopy %s\n",
			  meta + pages * LUO_PAGE_SIZE,
			  need < luo_store.npages ? (luo_store.npages - need) * LUO_PAGE_SIZE : 0,
			  luo_store.size, taken * LUO_PAGE_SIZE,
			  ram > 0 ? (luo_zerocopy ? "auto" : "off") :
			  ram == 0 ? "yes" : luo_zerocopy ? "unavailable" : "off");
}

static const struct kernel_param_ops luo_space_ops = {
	.set = luo_param_set_readonly,
	.get = luo_param_get_space,
};

module_param_cb(space, &luo_space_ops, NULL, 0400);
MODULE_PARM_DESC(space, "Handover bytes reserved by the outgoing sessions (used), left (free), and the range");

static int luo_param_get_last(char *buf, const struct kernel_param *kp)
{
	enum luo_status status = READ_ONCE(luo_status);
	int n;

	if (status != LUO_STATUS_LOADED)
		return sysfs_emit(buf, "status %s\n", luo_status_names[status]);
	/* Pairs with the smp_wmb() before the status became "loaded". */
	smp_rmb();
	n = sysfs_emit(buf, "status loaded\nsessions %llu\nfiles %llu\nbytes %llu\n",
		       luo_last.sessions, luo_last.files, luo_last.bytes);
	n += sysfs_emit_at(buf, n, "write_us %u\ncheck_us %lld\nbuild_us %lld\nformat %llu\n",
			   luo_last.write_us, luo_last.check_us,
			   luo_last.build_us, luo_last.version);
	n += sysfs_emit_at(buf, n, "pages_inplace %llu\npages_copied %llu\n",
			   luo_last.pages_inplace, luo_last.pages_copied);
	n += sysfs_emit_at(buf, n, "copy_us %u\ncopy_threads %u\n",
			   luo_last.copy_us, luo_last.copy_threads);
	n += sysfs_emit_at(buf, n, "restore_pages_given %llu\nrestore_pages_copied %llu\n",
			   READ_ONCE(luo_last.restore_given),
			   READ_ONCE(luo_last.restore_copied));
	n += sysfs_emit_at(buf, n, "restore_us %lld\nrestore_threads %u\n",
			   READ_ONCE(luo_last.restore_us),
			   READ_ONCE(luo_last.restore_threads));
	n += sysfs_emit_at(buf, n, "restore_live_mismatch %llu\n",
			   READ_ONCE(luo_last.restore_live_mismatch));
	n += sysfs_emit_at(buf, n, "restore_alloc_us %lld\n",
			   READ_ONCE(luo_last.restore_alloc_us));
	return n;
}

static const struct kernel_param_ops luo_last_ops = {
	.set = luo_param_set_readonly,
	.get = luo_param_get_last,
};

module_param_cb(last_handover, &luo_last_ops, NULL, 0400);
MODULE_PARM_DESC(last_handover, "What the last handover carried and what it took");

static void luo_set_status(enum luo_status status)
{
	WRITE_ONCE(luo_status, status);
}

/**
 * luo_store_status() - what the previous kernel handed over, so far
 *
 * Return: %LUO_STATUS_*.
 */
enum luo_status luo_store_status(void)
{
	return READ_ONCE(luo_status);
}

/* Marks a committed handover as taken by this boot. */
static void luo_handover_claim(void)
{
	struct luo_handover_header *hdr = luo_store.base;

	if (le64_to_cpu(hdr->magic) != LUO_HANDOVER_MAGIC) {
		pr_info("no handover in the reserved range\n");
		luo_set_status(LUO_STATUS_NONE);
		return;
	}
	/* The sequence is where both formats keep it... */
	luo_store.sequence = le32_to_cpu(hdr->version) == LUO_FORMAT_V2 ?
		le64_to_cpu(((struct luo_header_v2 *)hdr)->sequence) :
		le64_to_cpu(hdr->sequence);
	switch (le32_to_cpu(hdr->state)) {
	case LUO_STATE_COMMITTED:
		hdr->state = cpu_to_le32(LUO_STATE_CLAIMED);
		luo_set_status(LUO_STATUS_PENDING);
		break;
	case LUO_STATE_CLAIMED:
		pr_warn("the handover in the reserved range was already loaded by an earlier boot; ignoring it\n");
		luo_set_status(LUO_STATUS_CONSUMED);
		break;
	default:
		pr_err("handover state %#x is unknown; ignoring it\n",
		       le32_to_cpu(hdr->state));
		luo_set_status(LUO_STATUS_CORRUPT);
		break;
	}
}

/**
 * luo_take() - mark range pages taken
 * @page:  the first.
 * @count: pages.
 *
 * The caller locks (see luo_store.taken).
 * Return: true, or false if one of them was taken already or lies outside
 * the range (then nothing changed).
 */
bool luo_take(u64 page, u64 count)
{
	u64 i;

	if (page >= luo_store.npages || count > luo_store.npages - page)
		return false;
	for (i = page; i < page + count; i++) {
		if (test_bit(i, luo_store.taken)) {
			while (i-- > page)
				clear_bit(i, luo_store.taken);
			return false;
		}
	}
	bitmap_set(luo_store.taken, page, count);
	luo_nr_taken += count;
	return true;
}

/**
 * luo_untake() - mark range pages free again
 * @page:  the first.
 * @count: pages.
 *
 * The caller locks (see luo_store.taken).
 */
void luo_untake(u64 page, u64 count)
{
	bitmap_clear(luo_store.taken, page, count);
	luo_nr_taken -= count;
}

/**
 * luo_store_check() - check the pending handover before anything is used
 * @img: filled with copies of its header and metadata.
 * @v:   the verdict, if refused.
 *
 * Takes the pages the header and metadata occupy (format 1: everything it
 * uses); the files' loads claim their data pages. The caller frees @img
 * whatever the result and, on success, calls luo_store_loaded() once the
 * sessions are built or luo_store_refused().
 *
 * Return: 0, 1 if refused or nothing is pending (see @v), or -ENOMEM.
 */
int luo_store_check(struct luo_image *img, struct luo_verdict *v)
{
	u64 first, count;
	int ret;

	if (READ_ONCE(luo_status) != LUO_STATUS_PENDING) {
		v->status = READ_ONCE(luo_status);
		return 1;
	}
	ret = luo_handover_check(luo_store.base, luo_store.size, img, v);
	if (ret)
		return ret;
	luo_in_pages = min(luo_store.npages, img->used / LUO_PAGE_SIZE);
	if (img->version == LUO_FORMAT_V1) {
		first = 1;
		count = DIV_ROUND_UP(img->used, LUO_PAGE_SIZE) - 1;
	} else {
		first = img->meta_off / LUO_PAGE_SIZE;
		count = DIV_ROUND_UP(img->meta_size, LUO_PAGE_SIZE);
	}
	/* Claims of an earlier attempt that ran out of memory are gone. */
	guard(spinlock)(&luo_store.pages_lock);
	bitmap_zero(luo_store.taken, luo_store.npages);
	luo_nr_taken = 0;
	luo_take(0, 1);
	if (count && !luo_take(first, count)) {
		luo_refuse(v, "metadata overlaps the header");
		return 1;
	}
	return 0;
}

static void luo_store_ram_work(struct work_struct *work);
/* The hot-add started at the first open (luo_store_loaded()). */
static DECLARE_WORK(luo_ram_work, luo_store_ram_work);
/* The commit ran: no hot-add from then on (under luo_store.ram_lock). */
static bool luo_ram_closed;

/*
 * For tests only (tests/kexec/zerocopy.plan, zc-commit): the background
 * hot-add waits test_ram_delay_ms before it starts, counted from the first
 * open or, with test_ram_at_kexec, from the start of the kexec's commit
 * (at most a minute for it); the commit waits test_commit_delay_ms between
 * taking its metadata pages and writing the header. So a chain can put the
 * hot-add anywhere around the kexec, whatever the boot's own timing.
 */
static unsigned int luo_test_ram_delay_ms;
static bool luo_test_ram_at_kexec, luo_test_kexec_started;
static DECLARE_WAIT_QUEUE_HEAD(luo_test_kexec_wq);
module_param_named(test_ram_delay_ms, luo_test_ram_delay_ms, uint, 0600);
MODULE_PARM_DESC(test_ram_delay_ms, "For tests: the first open's hot-add waits this long (ms)");
module_param_named(test_ram_at_kexec, luo_test_ram_at_kexec, bool, 0600);
MODULE_PARM_DESC(test_ram_at_kexec, "For tests: test_ram_delay_ms counts from the kexec's commit");
module_param_named(test_commit_delay_ms, luo_store.test_commit_delay_ms, uint, 0600);
MODULE_PARM_DESC(test_commit_delay_ms, "For tests: the commit waits this long in its middle (ms)");

/**
 * luo_store_loaded() - the incoming sessions are built
 * @img:         the checked image.
 * @check_us:    time the check took.
 * @build_us:    time building took.
 * @nr_sessions: incoming sessions.
 * @nr_files:    their files.
 *
 * The metadata pages are free again (it was copied out); the figures go to
 * last_handover.
 */
void luo_store_loaded(const struct luo_image *img, s64 check_us,
		      s64 build_us, u64 nr_sessions, u64 nr_files)
{
	if (img->version == LUO_FORMAT_V2 && img->meta_size) {
		guard(spinlock)(&luo_store.pages_lock);
		luo_untake(img->meta_off / LUO_PAGE_SIZE,
			   DIV_ROUND_UP(img->meta_size, LUO_PAGE_SIZE));
	}
	luo_last.sessions = nr_sessions;
	luo_last.files = nr_files;
	luo_last.bytes = img->version == LUO_FORMAT_V1 ? img->used :
		img->meta_size + le64_to_cpu(img->hdr2.pages_inplace +
					     img->hdr2.pages_copied) * LUO_PAGE_SIZE;
	luo_last.version = img->version;
	luo_last.write_us = img->commit_us;
	luo_last.check_us = check_us;
	luo_last.build_us = build_us;
	if (img->version == LUO_FORMAT_V2) {
		luo_last.pages_inplace = le64_to_cpu(img->hdr2.pages_inplace);
		luo_last.pages_copied = le64_to_cpu(img->hdr2.pages_copied);
		luo_last.copy_us = le32_to_cpu(img->hdr2.copy_us);
		luo_last.copy_threads = le32_to_cpu(img->hdr2.copy_threads);
	}
	pr_info("loaded %llu incoming sessions with %llu files (format %u; %llu pages were left in place, %llu copied): written in %u us, checked in %lld us, built in %lld us\n",
		nr_sessions, nr_files, img->version, luo_last.pages_inplace,
		luo_last.pages_copied, luo_last.write_us, check_us, build_us);
	/* The figures above are published by the status change. */
	smp_wmb();
	luo_set_status(LUO_STATUS_LOADED);
	/*
	 * Pages to take over: make the range RAM now, in the background, so
	 * that the first RETRIEVE_FD waits for the hot-add only if it has not
	 * finished yet. It charges nobody (the memmap is the kernel's). The
	 * work holds a module reference until it is done (no unload under
	 * it; luo_store_exit() waits for its last instructions); the commit
	 * cancels it or waits for it (luo_store_commit_lock()). Not with a
	 * test fault armed: the first restore makes the hot-add then.
	 */
	if (img->version == LUO_FORMAT_V2 && READ_ONCE(luo_zerocopy) &&
	    luo_last.pages_inplace + luo_last.pages_copied &&
	    !luo_ram_fault_armed() &&
	    try_module_get(THIS_MODULE) && !schedule_work(&luo_ram_work))
		module_put(THIS_MODULE);
}

/**
 * luo_store_refused() - the pending handover cannot be used
 * @status: %LUO_STATUS_CORRUPT or %LUO_STATUS_VERSION.
 * @why:    for the log (corrupt only).
 */
void luo_store_refused(enum luo_status status, const char *why)
{
	if (status == LUO_STATUS_CORRUPT)
		pr_err("handover is corrupt (%s); ignoring it\n", why);
	scoped_guard(spinlock, &luo_store.pages_lock) {
		bitmap_zero(luo_store.taken, luo_store.npages);
		luo_nr_taken = 0;
		luo_take(0, 1);
	}
	luo_set_status(status);
}

/**
 * luo_store_count_restore() - account a restore call, for last_handover
 * @c: what it did.
 */
void luo_store_count_restore(const struct luo_restore_count *c)
{
	guard(spinlock)(&luo_store.pages_lock);
	WRITE_ONCE(luo_last.restore_threads,
		   max(luo_last.restore_threads, c->tasks));
	WRITE_ONCE(luo_last.restore_given, luo_last.restore_given + c->given);
	WRITE_ONCE(luo_last.restore_copied, luo_last.restore_copied + c->copied);
	WRITE_ONCE(luo_last.restore_us, luo_last.restore_us + c->us);
	WRITE_ONCE(luo_last.restore_alloc_us,
		   luo_last.restore_alloc_us + c->alloc_us);
	WRITE_ONCE(luo_last.restore_live_mismatch,
		   luo_last.restore_live_mismatch + c->live_mismatch);
}

/**
 * luo_store_pages() - how many pages the loaded handover's range has
 *
 * Its writer's range, never more than this boot's: no page list may name
 * a page beyond it.
 *
 * Return: the range size in %LUO_PAGE_SIZE pages.
 */
u64 luo_store_pages(void)
{
	return luo_in_pages;
}

/**
 * luo_store_claim() - an incoming file's data occupies its extents' pages
 * @ext: the file's extents.
 * @nr:  how many.
 *
 * All or nothing: on failure no page of @ext stays claimed.
 *
 * Return: 0, or -EINVAL if a page is outside the range or already claimed
 * (by the header, the metadata or another file).
 */
int luo_store_claim(const struct luo_memfd_extent *ext, u32 nr)
{
	u32 i, j;

	guard(spinlock)(&luo_store.pages_lock);
	for (i = 0; i < nr; i++) {
		if (luo_take(le32_to_cpu(ext[i].page),
			     le32_to_cpu(ext[i].count)))
			continue;
		for (j = 0; j < i; j++) {
			luo_untake(le32_to_cpu(ext[j].page),
				   le32_to_cpu(ext[j].count));
			luo_store.take_top = U64_MAX;
		}
		return -EINVAL;
	}
	return 0;
}

/**
 * luo_store_release() - pages an incoming file no longer needs
 * @page:  first range page, as claimed.
 * @count: pages.
 *
 * Only for pages that never left the module (copied out, or dropped); pages
 * given to a file stay taken for the rest of the boot.
 */
void luo_store_release(u64 page, u64 count)
{
	guard(spinlock)(&luo_store.pages_lock);
	luo_untake(page, count);
	luo_store.take_top = U64_MAX;
}

/**
 * luo_store_span() - where the range lies from a page to its end
 * @page: range page.
 *
 * One call for a whole run: store_pages.h's luo_span_*() turn its pages
 * into addresses and page frames. The address stays valid for the boot
 * (the first mapping of the range is never undone).
 *
 * Return: the span from @page.
 */
struct luo_store_span luo_store_span(u64 page)
{
	struct luo_store_span s = {
		.addr = luo_store.base + page * LUO_PAGE_SIZE,
		.phys = luo_store.addr + page * LUO_PAGE_SIZE,
		.bytes = luo_store.size - min(luo_store.size, page * LUO_PAGE_SIZE),
	};

	return s;
}

static void luo_store_ram_failed(void)
{
	bool foreign;

	if (!luo_ram_lost(&foreign))
		return;
	/* Read without a lock; the commit checks again under luo_lock. */
	WRITE_ONCE(luo_store.foreign, foreign);
	WRITE_ONCE(luo_untrusted, true);
	pr_err("the failed hot-add gave the range's pages to the page allocator: only checksummed incoming data is restored (the rest: EIO)\n");
	if (foreign)
		pr_err("the range stays ordinary RAM, so nothing can be handed over in this boot (EIO)\n");
}

/**
 * luo_store_trusted() - whether incoming data without a checksum can be used
 *
 * Return: false once a failed hot-add gave the range's pages to the page
 * allocator (they may have been overwritten): only data a checksum
 * vouches for is restored then.
 */
bool luo_store_trusted(void)
{
	return !READ_ONCE(luo_untrusted);
}

/**
 * luo_store_ram() - make the range RAM the module manages, once
 *
 * Zero-copy restore needs the range's pages to be real pages. The first
 * call hot-adds the range (ram.c); later calls say how that went. The
 * module stays loaded from then on. Not called with zerocopy=0
 * (luo_store_zerocopy() keeps that switch).
 *
 * The first open starts it in the background (luo_store_loaded()), so it
 * can be under way when the kexec commits. Invariant: the hot-add and the
 * commit never overlap. Both hold luo_store.ram_lock throughout, so the commit
 * sees one mapping of the range (luo_store.base) from its first address to its
 * last, and a hot-add never starts once the commit ran (-EBUSY: the range
 * stays as it is until the kexec). Incoming data is not touched either
 * way: the hot-add keeps every page of the range as it is.
 *
 * Context: process context, may sleep; takes luo_store.ram_lock, never luo_lock.
 * Return: 0 if the range is RAM, or -errno (zero-copy impossible; the
 * reason was logged once): the caller copies instead.
 */
static int luo_store_ram(void)
{
	void *base;
	int ret;

	guard(mutex)(&luo_store.ram_lock);
	if (luo_ram_result <= 0)
		return luo_ram_result;
	if (luo_ram_closed)
		return -EBUSY;
	ret = luo_ram_probe(luo_store.addr, luo_store.size);
	if (ret) {
		WRITE_ONCE(luo_ram_result, ret);
		return ret;
	}
	/* ram.c needs the range not busy; the mapping may stay meanwhile. */
	release_mem_region(luo_store.addr, luo_store.size);
	luo_region_held = false;
	ret = luo_ram_add(luo_store.addr, luo_store.size);
	if (ret) {
		luo_store_ram_failed();
		if (request_mem_region(luo_store.addr, luo_store.size, "liveupdate handover"))
			luo_region_held = true;
		WRITE_ONCE(luo_ram_result, ret);
		return ret;
	}
	/*
	 * Now RAM: map it through the direct map like any other. The first
	 * mapping stays (the module never unloads from here on): addresses
	 * computed from it live on (format 1 data of incoming files, a
	 * precopy or restore running on another CPU).
	 */
	base = memremap(luo_store.addr, luo_store.size, MEMREMAP_WB);
	if (base)
		WRITE_ONCE(luo_store.base, base);
	__module_get(THIS_MODULE);
	WRITE_ONCE(luo_ram_result, 0);
	return 0;
}

/**
 * luo_store_zerocopy() - the range as RAM, unless zero-copy is off
 *
 * Context: as luo_store_ram().
 * Return: 0 if the range is RAM, -EPERM with zerocopy=0 (logged once), or
 * luo_store_ram()'s error: the caller copies instead.
 */
int luo_store_zerocopy(void)
{
	if (!READ_ONCE(luo_zerocopy)) {
		pr_info_once("zero-copy is off (zerocopy=0): memfds are restored by copying\n");
		return -EPERM;
	}
	return luo_store_ram();
}

/**
 * luo_store_sum() - the checksum of a run of range pages
 * @page:  its first page.
 * @count: pages.
 *
 * Return: the checksum (data_sum.h) of the @count pages from @page.
 */
u32 luo_store_sum(u64 page, u32 count)
{
	void *addr = luo_store.base + page * LUO_PAGE_SIZE;
	struct luo_sum sum;
	u32 i;

	luo_sum_init(&sum);
	for (i = 0; i < count; i++) {
		luo_sum_add(&sum, addr + (u64)i * LUO_PAGE_SIZE, LUO_PAGE_SIZE);
		if (!((i + 1) % 1024))
			cond_resched();
	}
	return luo_sum_final(&sum);
}

/*
 * The background hot-add. It holds the module reference luo_store_loaded()
 * took, so the module cannot be unloaded while it waits or adds; the
 * instructions that run after module_put() are waited for by
 * luo_store_exit() (flush_work()).
 */
static void luo_store_ram_work(struct work_struct *work)
{
	unsigned int delay = READ_ONCE(luo_test_ram_delay_ms);

	if (READ_ONCE(luo_test_ram_at_kexec))
		wait_event_timeout(luo_test_kexec_wq,
				   READ_ONCE(luo_test_kexec_started), 60 * HZ);
	if (delay)
		msleep(delay);
	luo_store_ram();
	module_put(THIS_MODULE);
}

/**
 * luo_store_commit_lock() - keep the hot-add out of the commit
 *
 * The commit calls it before it takes luo_lock, and luo_store_commit_unlock()
 * after it let go of it. A hot-add the first open queued but that has not
 * started yet is cancelled; one under way (in the background or in a
 * restore) is waited for; none starts from then on, in this boot.
 *
 * Context: the kexec's reboot notifier, process context; may sleep.
 */
void luo_store_commit_lock(void)
	__acquires(&luo_store.ram_lock)
{
	WRITE_ONCE(luo_test_kexec_started, true);
	wake_up(&luo_test_kexec_wq);
	/* For the log only (racy): the sweep shows where the hot-add was. */
	if (work_busy(&luo_ram_work) & WORK_BUSY_RUNNING)
		pr_info("the kexec waits for the hot-add under way\n");
	/* A cancelled work drops the reference it held. */
	if (cancel_work_sync(&luo_ram_work)) {
		pr_info("the kexec cancelled the hot-add the first open queued\n");
		module_put(THIS_MODULE);
	}
	mutex_lock(&luo_store.ram_lock);
	luo_ram_closed = true;
}

/**
 * luo_store_commit_unlock() - the commit is done (see luo_store_commit_lock())
 */
void luo_store_commit_unlock(void)
	__releases(&luo_store.ram_lock)
{
	mutex_unlock(&luo_store.ram_lock);
}

/**
 * luo_meta_run_free() - whether the metadata still fits
 * @meta: bytes of metadata.
 *
 * Whether @meta bytes find the consecutive free pages the commit writes
 * them to (luo_store_commit_begin()). Counting free pages is not enough:
 * pages taken by incoming files or by a precopy can leave the free ones
 * scattered. Caller holds luo_lock or luo_store.pages_lock.
 *
 * Return: true if such a run is free.
 */
bool luo_meta_run_free(u64 meta)
{
	u64 n = DIV_ROUND_UP(meta, LUO_PAGE_SIZE) ?: 1;

	return bitmap_find_next_zero_area(luo_store.taken, luo_store.npages, 1, n, 0) <
	       luo_store.npages;
}

/**
 * luo_store_committed() - whether this boot's handover has been written
 *
 * Caller holds luo_lock (the commit holds it from start to end).
 *
 * Return: true from the end of the commit on, for the rest of the boot.
 */
bool luo_store_committed(void)
{
	lockdep_assert_held(&luo_lock);
	return luo_store.committed;
}

/**
 * luo_store_reserve() - reserve handover space for a record and its data
 * @meta:  metadata bytes.
 * @pages: data pages.
 *
 * Caller holds luo_lock.
 *
 * Return: 0, -ENOSPC if the range cannot hold it, or -EBUSY once the
 * handover was written for a kexec that is under way.
 */
int luo_store_reserve(u64 meta, u64 pages)
{
	u64 have, need;

	lockdep_assert_held(&luo_lock);
	if (luo_store.committed)
		return -EBUSY;
	if (READ_ONCE(luo_store.foreign))
		return -EIO;
	have = luo_store.npages - READ_ONCE(luo_nr_taken);
	need = DIV_ROUND_UP(luo_store.meta_reserved + meta, LUO_PAGE_SIZE) +
	       luo_store.pages_reserved;
	if (pages > have || need > have - pages)
		return -ENOSPC;
	if (meta) {
		guard(spinlock)(&luo_store.pages_lock);
		if (!luo_meta_run_free(luo_store.meta_reserved + meta))
			return -ENOSPC;
	}
	WRITE_ONCE(luo_store.meta_reserved, luo_store.meta_reserved + meta);
	WRITE_ONCE(luo_store.pages_reserved, luo_store.pages_reserved + pages);
	return 0;
}

/**
 * luo_store_unreserve() - give back what luo_store_reserve() took
 * @meta:  metadata bytes.
 * @pages: data pages.
 *
 * Caller holds luo_lock.
 */
void luo_store_unreserve(u64 meta, u64 pages)
{
	lockdep_assert_held(&luo_lock);
	WRITE_ONCE(luo_store.meta_reserved, luo_store.meta_reserved - meta);
	WRITE_ONCE(luo_store.pages_reserved, luo_store.pages_reserved - pages);
}

/**
 * luo_store_init() - take the reserved range at module load
 *
 * Return: 0, or -EINVAL (no usable range), -EBUSY, -ENOMEM.
 */
int luo_store_init(void)
{
	int ret;

	ret = luo_range_find(&luo_store.addr, &luo_store.size);
	if (ret)
		return ret;
	luo_store.npages = luo_store.size / LUO_PAGE_SIZE;
	if (luo_store.npages < 2 || luo_store.npages > U32_MAX) {
		pr_err("range %#llx+%#llx: the size must be 2 to 2^32 pages\n",
		       luo_store.addr, luo_store.size);
		return -EINVAL;
	}
	luo_store.taken = bitmap_zalloc(luo_store.npages, GFP_KERNEL);
	if (!luo_store.taken)
		return -ENOMEM;
	luo_take(0, 1);
	if (!request_mem_region(luo_store.addr, luo_store.size, "liveupdate handover")) {
		pr_err("range %#llx+%#llx is in use\n", luo_store.addr, luo_store.size);
		ret = -EBUSY;
		goto err_free;
	}
	luo_region_held = true;
	luo_store.base = memremap(luo_store.addr, luo_store.size, MEMREMAP_WB);
	if (!luo_store.base) {
		ret = -ENOMEM;
		goto err_release;
	}
	luo_handover_claim();
	pr_info("handover range %#llx+%#llx (%s)\n", luo_store.addr, luo_store.size,
		luo_status_names[luo_status]);
	return 0;

err_release:
	release_mem_region(luo_store.addr, luo_store.size);
err_free:
	bitmap_free(luo_store.taken);
	return ret;
}

/**
 * luo_store_exit() - let go of the range at module unload
 *
 * Never reached once the range became RAM (luo_store_ram() pins the
 * module). The first open's hot-add holds a module reference until its
 * last call, so it is not queued or running any more when this runs, but
 * may still be returning from that call into this module's text: wait for
 * it to return.
 */
void luo_store_exit(void)
{
	flush_work(&luo_ram_work);
	memunmap(luo_store.base);
	if (luo_region_held)
		release_mem_region(luo_store.addr, luo_store.size);
	bitmap_free(luo_store.taken);
}
