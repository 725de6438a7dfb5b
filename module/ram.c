// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdate: the reserved range as RAM the module manages
 */

/**
 * DOC: the range as managed RAM
 *
 * Upstream LUO restores a memfd by putting the very pages the old kernel
 * used back into the new file's page cache; it can because KHO made the
 * new kernel's memblock keep them. A module on a stock kernel has a
 * ``memmap=SIZE$ADDR`` range instead, which the kernel never turns into
 * struct pages. This layer turns it into RAM that only the module hands
 * out, one page at a time, so that restoring a memfd is bookkeeping, not a
 * copy of its bytes.
 *
 * luo_ram_add() hot-adds the range with add_memory_driver_managed() as
 * ``System RAM (liveupdate)``, nested in the ``Reserved`` resource that
 * ``memmap=`` made. Driver-managed RAM is not in the firmware memory map
 * handed to the next kernel and kexec never places its segments there, so
 * the range stays reserved across the next kexec. The blocks are onlined
 * into a kernel zone (ZONE_NORMAL): 6.1 leaves hot-added memory offline by
 * default and 6.12/7.2 pick a zone by policy, so for the duration of the
 * add the default online type (``/sys/devices/system/memory/
 * auto_online_blocks``) is set to ``online_kernel`` and then put back; no
 * block may end up in ZONE_MOVABLE, which promises migratable pages (a
 * preserved file's pages in the range are held in place until the kexec).
 * During onlining an online-page callback (set_online_page_callback())
 * keeps every page of the range from the buddy allocator: each keeps the
 * state memmap init gave it, a reference count of 1 and PageReserved
 * (6.1) or PageOffline (6.8+), and is not counted in the zone's managed
 * pages. A memory notifier vetoes offlining any block of the range, and the
 * module stays pinned for the rest of the boot (see luo_ram_add()).
 *
 * luo_ram_insert() makes a kept page the page-cache page of a shmem file at
 * an index, directly (filemap_add_folio()), and luo_ram_account() does
 * shmem's bookkeeping for a run of such pages; see "The direct route"
 * below. That is the default; luo_ram_give() is the fallback route (a
 * CONFIG_DEBUG_VM kernel, a failed self-check; test_take_placeholder=1):
 * shmem allocates and accounts a placeholder folio there (inode
 * blocks, ``alloced``, the memory cgroup charge of the current task, the
 * vm_enough_memory commitment), exactly as for a write, and
 * replace_page_cache_folio() swaps the kept page in, moving the charge and
 * the NR_FILE_PAGES/NR_SHMEM statistics. The placeholder is freed; with
 * ``init_on_alloc=1`` (Debian's default) it was zeroed when allocated,
 * which is most of what a give costs. The data page itself is never
 * written. Once shmem frees a given page (truncate, unlink, swap-out) it
 * goes to the buddy allocator like any other page: it is then ordinary RAM
 * until the next boot, and must not be given again (luo_ram_give() refuses
 * pages that are no longer in the kept state, but the caller's own map of
 * which pfns hold data is what prevents handing out stale ones).
 *
 * luo_ram_migrate() is the same swap the other way round: a shmem file's
 * existing page is copied into a kept page, which then replaces it in the
 * page cache (the old page is freed), so a memfd preserved for the first
 * time can already live in the range. It moves only pages that cannot be
 * written while they are copied: locked, not mapped, not pinned for DMA.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/cleanup.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/ioport.h>
#include <linux/ktime.h>
#include <linux/memory.h>
#include <linux/memory_hotplug.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/mutex.h>
#include <linux/page-flags.h>
#include <linux/pagemap.h>
#include <linux/quotaops.h>
#include <linux/sched/task.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/vmstat.h>

#include "compat.h"
#include "ram.h"

#define LUO_RAM_RESOURCE	"System RAM (liveupdate)"

/*
 * For tests only (tests/kexec/zerocopy-fault.plan): 1 makes luo_ram_add()
 * treat its onlining as failed (as if a block had come online in
 * ZONE_MOVABLE) and undo it; 2 also skips the removal, as if it had failed:
 * the range stays ordinary System RAM. While set, the hot-add is not
 * started in the background at the first open but made by the first
 * restore, so that a test knows which of its calls comes before it.
 */
static int luo_ram_fault;
module_param_named(test_ram_fault, luo_ram_fault, int, 0600);
MODULE_PARM_DESC(test_ram_fault, "For tests: 1 fails the hot-add after onlining, 2 also its removal");

#ifndef LUO_HAVE_SHMEM_GET_FOLIO
/*
 * For tests only (tests/kexec/zerocopy-fault.plan, 6.1): the next this many
 * gives by a single task find their placeholder as swap-out and swap-in
 * leave it (zeroed, uptodate) and miss it at the lookup, as when it was
 * swapped out between fallocate() and the lookup (compat.h).
 */
static unsigned int luo_test_give_swapped;
module_param_named(test_give_swapped, luo_test_give_swapped, uint, 0600);
MODULE_PARM_DESC(test_give_swapped, "For tests (6.1): the next N single-task gives find their placeholder swapped out");

/**
 * luo_test_placeholder_out() - play swap-out on a new placeholder, for tests
 * @mapping: the file being restored.
 * @index:   the placeholder's index, just allocated by fallocate().
 *
 * Return: true if test_give_swapped asked for it: the folio at @index is
 * zeroed and marked uptodate (what shmem's writeout does to a fallocated
 * folio) and the caller is to act as if its lookup had missed it.
 */
bool luo_test_placeholder_out(struct address_space *mapping, pgoff_t index)
{
	unsigned int n = READ_ONCE(luo_test_give_swapped);
	struct folio *folio;

	if (!n || cmpxchg(&luo_test_give_swapped, n, n - 1) != n)
		return false;
	folio = __filemap_get_folio(mapping, index, FGP_LOCK, 0);
	if (IS_ERR_OR_NULL(folio))
		return true;
	if (!folio_test_uptodate(folio)) {
		clear_highpage(folio_page(folio, 0));
		folio_mark_uptodate(folio);
	}
	folio_unlock(folio);
	folio_put(folio);
	return true;
}
#endif

#define LUO_RAM_ONLINE_TYPE	"online_kernel"
#define LUO_RAM_AUTO_ONLINE	"devices/system/memory/auto_online_blocks"

/**
 * struct luo_ram - the managed range
 * @lock:       serialises luo_ram_probe() and luo_ram_add().
 * @start_pfn:  first pfn of the range; written before @added is set.
 * @nr_pages:   pages in the range; likewise.
 * @given:      one bit per page of the range, set while a give of it is
 *              under way or once it succeeded.
 * @added:      the range is online and kept (release/acquire with
 *              @start_pfn, @nr_pages and @given).
 * @allow_offline: the notifier lets the range go offline (undoing a failed
 *              luo_ram_add()).
 * @cb_start:   pfn range the online-page callback keeps: [cb_start, cb_end).
 * @cb_end:     see @cb_start.
 * @kept:       pages the callback kept.
 * @lost:       undoing a failed add handed kept pages to the page allocator:
 *              what they held may have been overwritten since.
 * @foreign:    and the range could not be removed again: it stays ordinary
 *              System RAM that others own, for the rest of the boot.
 */
static struct luo_ram {
	struct mutex lock;	/* see @lock above */
	unsigned long start_pfn;
	unsigned long nr_pages;
	unsigned long *given;
	bool added;
	bool allow_offline;
	unsigned long cb_start;
	unsigned long cb_end;
	atomic_long_t kept;
	bool lost;
	bool foreign;
} luo_ram = {
	.lock = __MUTEX_INITIALIZER(luo_ram.lock),
};

/*
 * The online-page callback: while luo_ram_add() onlines the range, keep
 * its pages; anything else onlined at the same time (another driver's
 * memory) goes to the buddy allocator as usual.
 */
static void luo_ram_online_page(struct page *page, unsigned int order)
{
	unsigned long pfn = page_to_pfn(page), i;
	unsigned long start = READ_ONCE(luo_ram.cb_start);
	unsigned long end = READ_ONCE(luo_ram.cb_end);

	if (pfn >= start && pfn + (1UL << order) <= end) {
		atomic_long_add(1L << order, &luo_ram.kept);
		return;
	}
	if (pfn + (1UL << order) <= start || pfn >= end) {
		generic_online_page(page, order);
		return;
	}
	/* Never with a block-aligned range; page by page to be safe. */
	for (i = 0; i < (1UL << order); i++) {
		if (pfn + i >= start && pfn + i < end)
			atomic_long_inc(&luo_ram.kept);
		else
			generic_online_page(page + i, 0);
	}
}

/* A page still as the callback kept it: memmap init's state, one reference. */
static bool luo_ram_page_kept(struct page *page)
{
	return page_ref_count(page) == 1 &&
	       (PageOffline(page) || PageReserved(page));
}

/*
 * Open a file of sysfs by its path below /sys, on a private kernel mount
 * and with the kernel's credentials: the caller's mount namespace may have
 * no /sys, or another file there (a container, a kernel thread after
 * switch_root), and the caller need not be root (the first restore may be
 * an unprivileged process's RETRIEVE_FD).
 */
static struct file *luo_sysfs_open(const char *path, int flags)
{
	struct file_system_type *type = get_fs_type("sysfs");
	const struct cred *kcred, *old;
	struct vfsmount *mnt;
	struct file *f;

	if (!type)
		return ERR_PTR(-ENODEV);
	mnt = kern_mount(type);
	if (IS_ERR(mnt))
		return ERR_CAST(mnt);
	kcred = prepare_kernel_cred(&init_task);
	if (!kcred) {
		kern_unmount(mnt);
		return ERR_PTR(-ENOMEM);
	}
	old = override_creds(kcred);
	f = file_open_root_mnt(mnt, path, flags, 0);
	revert_creds(old);
	put_cred(kcred);
	kern_unmount(mnt);
	return f;
}

/**
 * luo_sysfs_read() - read a small sysfs file, whoever the caller is
 * @path: its path below /sys, e.g. "kernel/kexec_loaded".
 * @buf:  filled with its text, NUL-terminated, whitespace trimmed.
 * @len:  size of @buf.
 *
 * Return: 0 or -errno.
 */
int luo_sysfs_read(const char *path, char *buf, size_t len)
{
	struct file *f = luo_sysfs_open(path, O_RDONLY);
	loff_t pos = 0;
	ssize_t n;

	if (IS_ERR(f))
		return PTR_ERR(f);
	n = kernel_read(f, buf, len - 1, &pos);
	fput(f);
	if (n < 0)
		return n;
	buf[n] = '\0';
	strim(buf);
	return 0;
}

static int luo_ram_sysfs_write(const char *path, const char *val)
{
	struct file *f = luo_sysfs_open(path, O_WRONLY);
	loff_t pos = 0;
	ssize_t n;

	if (IS_ERR(f))
		return PTR_ERR(f);
	n = kernel_write(f, val, strlen(val), &pos);
	fput(f);
	return n < 0 ? n : 0;
}

/* Another owner of the online-page callback (virtio-mem, a balloon)? */
static int luo_ram_callback_free(void)
{
	if (set_online_page_callback(luo_ram_online_page))
		return -EBUSY;
	restore_online_page_callback(luo_ram_online_page);
	return 0;
}

static int luo_ram_probe_locked(u64 addr, u64 size)
{
	u64 block = memory_block_size_bytes();
	struct range plug = mhp_get_pluggable_range(true);
	char buf[32];

	if (!size || addr + size < addr) {
		pr_err("ram: range %#llx+%#llx is empty or wraps\n", addr, size);
		return -EINVAL;
	}
	if (!IS_ALIGNED(addr, block) || !IS_ALIGNED(size, block)) {
		pr_err("ram: range %#llx-%#llx is not aligned to and sized in the memory block size %#llx (/sys/devices/system/memory/block_size_bytes); zero-copy restore needs a range that is\n",
		       addr, addr + size - 1, block);
		return -EINVAL;
	}
	if (addr < plug.start || addr + size - 1 > plug.end) {
		pr_err("ram: range %#llx-%#llx is outside what memory hotplug can add (%#llx-%#llx)\n",
		       addr, addr + size - 1, plug.start, plug.end);
		return -ERANGE;
	}
	if (region_intersects(addr, size, IORESOURCE_SYSTEM_RAM,
			      IORES_DESC_NONE) != REGION_DISJOINT) {
		pr_err("ram: range %#llx-%#llx already holds System RAM\n",
		       addr, addr + size - 1);
		return -EBUSY;
	}
	if (luo_sysfs_read(LUO_RAM_AUTO_ONLINE, buf, sizeof(buf))) {
		pr_err("ram: memory hotplug is unavailable (no /sys/" LUO_RAM_AUTO_ONLINE ")\n");
		return -EOPNOTSUPP;
	}
	if (luo_ram_callback_free()) {
		pr_err("ram: another driver owns the online-page callback (virtio-mem, a Hyper-V or Xen balloon); cannot keep the range's pages\n");
		return -EBUSY;
	}
	return 0;
}

/**
 * luo_ram_probe() - whether the range can be managed as RAM here
 * @addr: physical start of the range.
 * @size: its size in bytes.
 *
 * Checks, without adding anything, that the range is aligned to and sized
 * in the memory block size, lies where memory hotplug can add it, is not
 * System RAM already, that memory hotplug is there and that no other driver
 * (virtio-mem, a Hyper-V or Xen balloon) owns the online-page callback
 * (found by taking it and giving it back at once: pages onlined meanwhile
 * go to the buddy allocator as usual). Logs one line naming the reason if
 * not. A range this module already added probes fine.
 *
 * Context: process context, may sleep.
 * Return: 0, or -errno (-EINVAL, -ERANGE, -EBUSY, -EOPNOTSUPP).
 */
int luo_ram_probe(u64 addr, u64 size)
{
	guard(mutex)(&luo_ram.lock);
	if (luo_ram.added && PFN_PHYS(luo_ram.start_pfn) == addr &&
	    PFN_PHYS(luo_ram.nr_pages) == size)
		return 0;
	return luo_ram_probe_locked(addr, size);
}

static int luo_ram_notify(struct notifier_block *nb, unsigned long action,
			  void *data)
{
	const struct memory_notify *arg = data;
	unsigned long start = READ_ONCE(luo_ram.cb_start);
	unsigned long end = READ_ONCE(luo_ram.cb_end);

	if (action != MEM_GOING_OFFLINE || READ_ONCE(luo_ram.allow_offline))
		return NOTIFY_OK;
	if (arg->start_pfn >= end || arg->start_pfn + arg->nr_pages <= start)
		return NOTIFY_OK;
	pr_info_ratelimited("ram: refusing to offline %#llx-%#llx: it belongs to liveupdate until the next boot\n",
			    PFN_PHYS(arg->start_pfn),
			    PFN_PHYS(arg->start_pfn + arg->nr_pages) - 1);
	return notifier_from_errno(-EBUSY);
}

static struct notifier_block luo_ram_nb = {
	.notifier_call = luo_ram_notify,
};

/* Every block of the range online, in a zone other than ZONE_MOVABLE? */
static int luo_ram_check_online(u64 addr, u64 size)
{
	u64 block = memory_block_size_bytes(), a;
	struct page *page;

	for (a = addr; a < addr + size; a += block) {
		page = pfn_to_online_page(PHYS_PFN(a));
		if (!page) {
			pr_err("ram: memory block %llu (%#llx) did not come online\n",
			       a / block, a);
			return -EIO;
		}
		if (page_zonenum(page) == ZONE_MOVABLE) {
			pr_err("ram: memory block %llu (%#llx) came online in ZONE_MOVABLE\n",
			       a / block, a);
			return -EIO;
		}
	}
	if (atomic_long_read(&luo_ram.kept) != PHYS_PFN(size)) {
		pr_err("ram: kept %ld of the range's %lu pages\n",
		       atomic_long_read(&luo_ram.kept), (unsigned long)PHYS_PFN(size));
		return -EIO;
	}
	return 0;
}

/*
 * Undo a hot-add whose onlining went wrong: hand the kept pages of the
 * online blocks to the buddy allocator (as if no callback had kept them),
 * then offline and remove the whole range. Returns 0 if it is gone.
 */
static int luo_ram_undo(u64 addr, u64 size)
{
	unsigned long pfn, end = PHYS_PFN(addr + size);
	unsigned long step = 1UL << LUO_MAX_ORDER;
	int ret;

	for (pfn = PHYS_PFN(addr); pfn < end; pfn += step) {
		struct page *page = pfn_to_online_page(pfn);

		if (page && luo_ram_page_kept(page)) {
			WRITE_ONCE(luo_ram.lost, true);
			generic_online_page(page, LUO_MAX_ORDER);
		}
	}
	if (READ_ONCE(luo_ram_fault) == 2) {
		pr_err("ram: test_ram_fault=2: not removing the range\n");
		ret = -EBUSY;
	} else {
		WRITE_ONCE(luo_ram.allow_offline, true);
		ret = offline_and_remove_memory(addr, size);
		WRITE_ONCE(luo_ram.allow_offline, false);
	}
	if (ret)
		WRITE_ONCE(luo_ram.foreign, true);
	return ret;
}

/**
 * luo_ram_add() - hot-add the range as RAM that only this module hands out
 * @addr: physical start of the range (as for luo_ram_probe()).
 * @size: its size in bytes.
 *
 * Adds the whole range as driver-managed ``System RAM (liveupdate)``,
 * onlines it into a kernel zone (ZONE_NORMAL, never ZONE_MOVABLE) and keeps
 * every one of its pages from the buddy allocator, to be handed out with
 * luo_ram_give(). The default online type is ``online_kernel`` for the
 * duration of the call (another hot-add at the same moment would be onlined
 * that way too) and is put back afterwards, as is the default online-page
 * callback. A memory notifier refuses to offline any block of the range
 * from then on.
 *
 * The caller must have released its own request_mem_region() on the range
 * (a memremap() mapping may stay). The memory cannot be removed again once
 * pages are given out, and /proc/iomem points to the module's resource
 * name, so a successful add pins the module (__module_get()) for the rest
 * of the boot. Calling it again for the same range returns 0.
 *
 * Context: process context, may sleep; takes the memory hotplug locks.
 * Return: 0, or -errno with a log line; on failure nothing stays added
 * (if even the removal fails, which the log says, the range stays as
 * ordinary System RAM and the module pinned).
 */
int luo_ram_add(u64 addr, u64 size)
{
	unsigned long nr = PHYS_PFN(size);
	unsigned long *given;
	char saved[32];
	ktime_t t0;
	int ret, nid, undo;

	guard(mutex)(&luo_ram.lock);
	if (luo_ram.added) {
		if (PFN_PHYS(luo_ram.start_pfn) == addr &&
		    PFN_PHYS(luo_ram.nr_pages) == size)
			return 0;
		pr_err("ram: another range is already added\n");
		return -EBUSY;
	}
	ret = luo_ram_probe_locked(addr, size);
	if (ret)
		return ret;
	given = kvcalloc(BITS_TO_LONGS(nr), sizeof(long), GFP_KERNEL);
	if (!given)
		return -ENOMEM;
	ret = luo_sysfs_read(LUO_RAM_AUTO_ONLINE, saved, sizeof(saved));
	if (!ret)
		ret = luo_ram_sysfs_write(LUO_RAM_AUTO_ONLINE, LUO_RAM_ONLINE_TYPE);
	if (ret) {
		pr_err("ram: cannot set /sys/" LUO_RAM_AUTO_ONLINE " (%d)\n", ret);
		kvfree(given);
		return ret;
	}

	t0 = ktime_get();
	atomic_long_set(&luo_ram.kept, 0);
	WRITE_ONCE(luo_ram.cb_start, PHYS_PFN(addr));
	WRITE_ONCE(luo_ram.cb_end, PHYS_PFN(addr + size));
	ret = register_memory_notifier(&luo_ram_nb);
	if (ret)
		goto out_online;
	ret = set_online_page_callback(luo_ram_online_page);
	if (ret) {
		pr_err("ram: another driver took the online-page callback\n");
		goto out_notifier;
	}
	nid = memory_add_physaddr_to_nid(addr);
	ret = add_memory_driver_managed(nid, addr, size, LUO_RAM_RESOURCE,
					MHP_NONE);
	if (ret) {
		pr_err("ram: adding %#llx-%#llx as System RAM failed (%d)%s\n",
		       addr, addr + size - 1, ret,
		       ret == -EEXIST || ret == -EBUSY ?
		       ": still claimed in /proc/iomem?" : "");
		goto out_callback;
	}
	ret = luo_ram_check_online(addr, size);
	if (!ret && READ_ONCE(luo_ram_fault)) {
		pr_err("ram: test_ram_fault=%d: treating the onlining as failed\n",
		       READ_ONCE(luo_ram_fault));
		ret = -EIO;
	}
	if (ret) {
		undo = luo_ram_undo(addr, size);
		if (undo) {
			pr_err("ram: could not remove the range again (%d); it stays ordinary System RAM until reboot\n",
			       undo);
			__module_get(THIS_MODULE);
		}
		goto out_callback;
	}
	restore_online_page_callback(luo_ram_online_page);
	luo_ram_sysfs_write(LUO_RAM_AUTO_ONLINE, saved);

	luo_ram.start_pfn = PHYS_PFN(addr);
	luo_ram.nr_pages = nr;
	luo_ram.given = given;
	/* Publish: luo_ram_added() readers then see the fields above. */
	smp_store_release(&luo_ram.added, true);
	__module_get(THIS_MODULE);
	pr_info("ram: %#llx-%#llx added as " LUO_RAM_RESOURCE ", %lu pages kept, in %lld us\n",
		addr, addr + size - 1, nr,
		ktime_us_delta(ktime_get(), t0));
	return 0;

out_callback:
	restore_online_page_callback(luo_ram_online_page);
out_notifier:
	unregister_memory_notifier(&luo_ram_nb);
out_online:
	WRITE_ONCE(luo_ram.cb_start, 0);
	WRITE_ONCE(luo_ram.cb_end, 0);
	luo_ram_sysfs_write(LUO_RAM_AUTO_ONLINE, saved);
	kvfree(given);
	return ret;
}

/**
 * luo_ram_fault_armed() - whether test_ram_fault will fail the hot-add
 *
 * Return: true if a test asked for the hot-add to fail.
 */
bool luo_ram_fault_armed(void)
{
	return READ_ONCE(luo_ram_fault) != 0;
}

/**
 * luo_ram_lost() - whether a failed luo_ram_add() let the page allocator
 * have the range's pages
 * @foreign: set if the range also stays ordinary System RAM (its removal
 *           failed): nothing may be written to it any more in this boot.
 *
 * Return: true if what the range held may have been overwritten since.
 */
bool luo_ram_lost(bool *foreign)
{
	guard(mutex)(&luo_ram.lock);
	*foreign = luo_ram.foreign;
	return luo_ram.lost;
}

/**
 * luo_ram_added() - whether luo_ram_add() succeeded in this boot
 *
 * Return: true once the range is online and kept (until reboot).
 */
bool luo_ram_added(void)
{
	/* Pairs with luo_ram_add()'s release: the range's fields are valid. */
	return smp_load_acquire(&luo_ram.added);
}

/**
 * luo_ram_contains() - whether a pfn lies in the managed range
 * @pfn: page frame number.
 *
 * Return: true if luo_ram_add() succeeded and @pfn is one of its pages.
 */
bool luo_ram_contains(unsigned long pfn)
{
	return luo_ram_added() && pfn >= luo_ram.start_pfn &&
	       pfn - luo_ram.start_pfn < luo_ram.nr_pages;
}

/**
 * luo_ram_count() - count kept pages in their zone's managed pages, or
 * take that back
 * @pfn: first page, in the range.
 * @nr:  pages from @pfn: positive to count them, negative to take back.
 *
 * A given page is the kernel's RAM: luo_ram_give() adds it to its zone's
 * managed pages. A caller giving a run of pages can count them all at once
 * beforehand (one update of the zone's and the machine's counters instead
 * of one per page, which CPUs giving in parallel would contend on), give
 * them with @counted set, and take back the count of those it did not give.
 * Counted pages not given yet look like allocated memory meanwhile.
 *
 * Context: any.
 * Return: true if done; false if the pages are not all in the range and in
 * one zone (nothing was done: give them uncounted).
 */
bool luo_ram_count(unsigned long pfn, long nr)
{
	unsigned long last = pfn + abs(nr) - 1;

	if (!nr || !luo_ram_contains(pfn) || !luo_ram_contains(last) ||
	    page_zone(pfn_to_page(pfn)) != page_zone(pfn_to_page(last)))
		return false;
	adjust_managed_page_count(pfn_to_page(pfn), nr);
	return true;
}

/*
 * Kept page @page becomes an ordinary allocated page, as the allocator
 * would hand it out, and replaces @old (locked, in the page cache) there:
 * uptodate, swap-backed, dirty, on the LRU. replace_page_cache_*() moves
 * the memory cgroup charge and the page-cache statistics over.
 */
static void luo_ram_swap_in(struct folio *old, struct page *page, bool counted)
{
	struct folio *new;

	if (PageOffline(page))
		__ClearPageOffline(page);
	else
		ClearPageReserved(page);
	if (!counted)
		adjust_managed_page_count(page, 1);

	new = page_folio(page);
	__folio_set_locked(new);
	__folio_set_swapbacked(new);
	folio_mark_uptodate(new);
	luo_replace_page_cache(old, new);
	/* As shmem's own pages: only swap could hold a copy, so dirty. */
	folio_mark_dirty(new);
	folio_add_lru(new);
	folio_unlock(new);
	folio_put(new);		/* the page cache holds the only reference */
}

/*
 * Claims kept page @pfn for a give or a migration: its struct page, or
 * -EINVAL (not in the range) or -EBUSY (claimed before, or no longer
 * kept: its bit then stays set, so it is never touched again). The
 * caller clears the bit if it ends up not using the page.
 */
static struct page *luo_ram_claim(unsigned long pfn)
{
	struct page *page;

	if (!luo_ram_contains(pfn))
		return ERR_PTR(-EINVAL);
	if (test_and_set_bit(pfn - luo_ram.start_pfn, luo_ram.given))
		return ERR_PTR(-EBUSY);
	page = pfn_to_page(pfn);
	if (WARN_ON_ONCE(!luo_ram_page_kept(page)))
		return ERR_PTR(-EBUSY);
	return page;
}

/*
 * Copies kept page @page into large folio @folio (locked, in the page cache)
 * at file page @index. A folio shmem has just allocated for a write is not
 * uptodate: it is zeroed whole first, so the pages no handed-over page fills
 * (holes) read as zeros, then marked uptodate. Dirty, as a write leaves it.
 */
static void luo_ram_copy_into_large(struct folio *folio, pgoff_t index,
				    struct page *page)
{
	long i;

	if (!folio_test_uptodate(folio)) {
		for (i = 0; i < folio_nr_pages(folio); i++)
			clear_highpage(folio_page(folio, i));
		folio_mark_uptodate(folio);
	}
	copy_highpage(folio_page(folio, index - folio->index), page);
	folio_mark_dirty(folio);
}

/**
 * luo_ram_give() - make a kept page a shmem file's page-cache page through
 * a shmem placeholder (the fallback route, see luo_ram_direct())
 * @file:  shmem file (shmem_file_setup()), sized by the caller to cover
 *         @index; nothing may be at @index yet.
 * @index: page index in @file.
 * @pfn:   page of the range, kept and never given before in this boot.
 * @flags: %LUO_RAM_GIVE_COUNTED: the caller counted @pfn in its zone's
 *         managed pages already (luo_ram_count()), else the give does;
 *         %LUO_RAM_GIVE_PARALLEL: other tasks give pages of @file at the
 *         same time (on 6.1 that picks the placeholder's route, compat.h).
 *
 * Afterwards the page is @file's page at @index, its current contents the
 * file's contents there: uptodate, dirty, on the LRU, with shmem's own
 * accounting (i_blocks, alloced, the memory cgroup charge of the current
 * task) as if the data had been written. The page's 4 KiB are neither
 * zeroed nor copied; shmem allocates (and, with init_on_alloc, zeroes) a
 * placeholder page that is freed again. When shmem later frees the page it
 * goes to the buddy allocator for good.
 *
 * Where shmem answers with a large folio (any shmem_enabled setting but
 * "never" can: a module cannot split one or ask for order 0), the page
 * cannot replace a part of it: its bytes are copied into the folio's page
 * at @index instead (the rest of a new folio zeroed first, as a write
 * would leave it), and @pfn stays kept for the caller to release.
 *
 * Context: process context, may sleep. Gives of different pfns and indices
 * may run concurrently, on the same file too (shmem's own locking); no
 * other user of @file may add pages to it meanwhile.
 * Return: 0 (taken over); %LUO_RAM_COPIED (copied into a large folio,
 * @pfn still kept); -EINVAL if @pfn is not in the range; -EBUSY if it was
 * given already or is not kept; -EEXIST if @file has a page at @index;
 * -ENOMEM (or -ENOSPC) if shmem could not allocate or account the page
 * (memory cgroup limit, tmpfs size): the page then stays kept and can be
 * given again later.
 */
int luo_ram_give(struct file *file, pgoff_t index, unsigned long pfn,
		 unsigned int flags)
{
	bool counted = flags & LUO_RAM_GIVE_COUNTED;
	struct page *page = luo_ram_claim(pfn);
	struct folio *old;
	bool fresh;
	int ret;

	if (IS_ERR(page))
		return PTR_ERR(page);

	old = luo_shmem_new_folio(file, index, flags & LUO_RAM_GIVE_PARALLEL,
				  &fresh);
	if (IS_ERR(old)) {
		ret = PTR_ERR(old);
		goto out_keep;
	}
	if (folio_test_large(old)) {
		luo_ram_copy_into_large(old, index, page);
		folio_unlock(old);
		folio_put(old);
		ret = LUO_RAM_COPIED;
		goto out_keep;
	}
	if (!fresh) {
		ret = -EEXIST;
		folio_unlock(old);
		folio_put(old);
		goto out_keep;
	}

	luo_ram_swap_in(old, page, counted);
	folio_unlock(old);
	folio_put(old);		/* frees the placeholder */
	return 0;

out_keep:
	clear_bit(pfn - luo_ram.start_pfn, luo_ram.given);
	return ret;
}

/*
 * The direct route (the default): a kept page goes into the page cache with
 * filemap_add_folio() as a swap-backed, uptodate, dirty folio, which charges
 * the memory cgroup of the current task (or the active one), counts
 * NR_FILE_PAGES and puts it on the LRU; shmem's own bookkeeping, which
 * shmem_add_to_page_cache() and its callers would have done, is then done
 * once for a run of pages (luo_ram_account()): NR_SHMEM, the inode's
 * ``alloced`` and i_blocks, and the vm_enough_memory commitment, which a
 * commit holder (luo_ram_reserve()) took in the caller's context for the
 * whole take-over. No placeholder page is allocated or zeroed. When shmem
 * frees such a page (truncate, punch, swap-out, eviction) its recount
 * (shmem_recalc_inode()) finds the page in ``alloced`` and gives back its
 * blocks and commitment as for any page it allocated itself.
 *
 * filemap_add_folio() has a VM_BUG_ON() for a swap-backed folio, compiled in
 * with CONFIG_DEBUG_VM (off in Debian's kernels); such a kernel, or one on
 * which the self-check at first use (luo_ram_direct_check()) finds shmem
 * does not see the page as its own, takes the placeholder route
 * (luo_ram_give()), and says so once.
 */

static bool luo_test_take_placeholder;
module_param_named(test_take_placeholder, luo_test_take_placeholder, bool, 0600);
MODULE_PARM_DESC(test_take_placeholder, "For tests and benchmarks: take pages over through shmem placeholders (the fallback route)");

enum luo_ram_route {
	LUO_RAM_ROUTE_UNKNOWN,
	LUO_RAM_ROUTE_DIRECT,
	LUO_RAM_ROUTE_PLACEHOLDER,
};

static enum luo_ram_route luo_ram_route;

/*
 * shmem's block accounting for @nr pages of @file just added to its page
 * cache: ``alloced`` and i_blocks, under info->lock on 6.1; i_blocks through
 * the quota helpers since tmpfs has quotas (6.6; Kbuild: LUO_SHMEM_QUOTA),
 * as shmem_inode_acct_blocks() and shmem_recalc_inode() do. shmem's
 * internal mount, where memfds live, has no quota, so the allocation only
 * adds the bytes (NOFAIL: nothing to undo).
 */
static void luo_ram_acct_blocks(struct inode *inode, long nr)
{
	struct shmem_inode_info *info = SHMEM_I(inode);

#ifdef LUO_SHMEM_QUOTA
	__dquot_alloc_space(inode, (qsize_t)nr << PAGE_SHIFT, DQUOT_SPACE_NOFAIL);
	spin_lock(&info->lock);
	info->alloced += nr;
	spin_unlock(&info->lock);
#else
	spin_lock_irq(&info->lock);
	info->alloced += nr;
	inode->i_blocks += (blkcnt_t)nr << (PAGE_SHIFT - 9);
	spin_unlock_irq(&info->lock);
#endif
}

/**
 * luo_ram_account() - shmem's bookkeeping for a run of directly added pages
 * @file:  the shmem file.
 * @folio: one of the run's folios, charged to the same memory cgroup as
 *         the others (added by the same task); the caller's reference,
 *         which this drops.
 * @nr:    pages added with luo_ram_insert() since the last call.
 *
 * Context: process context.
 */
void luo_ram_account(struct file *file, struct folio *folio, long nr)
{
	lruvec_stat_mod_folio(folio, NR_SHMEM, nr);
	luo_ram_acct_blocks(file_inode(file), nr);
	folio_put(folio);
}

/*
 * Adds @folio (order 0, ours, locked by nobody) to shmem @mapping at
 * @index as shmem's own: swap-backed, uptodate, dirty (only swap could hold
 * a copy), on the LRU. On an error the folio is as it was.
 */
static int luo_ram_add_folio(struct address_space *mapping,
			     struct folio *folio, pgoff_t index)
{
	int ret;

	__folio_set_swapbacked(folio);
	folio_mark_uptodate(folio);
	ret = filemap_add_folio(mapping, folio, index, mapping_gfp_mask(mapping));
	if (ret) {
		folio_clear_uptodate(folio);
		__folio_clear_swapbacked(folio);
		return ret;
	}
	folio_mark_dirty(folio);
	folio_unlock(folio);
	return 0;
}

/**
 * luo_ram_insert() - make a kept page a shmem file's page, the direct way
 * @file:    shmem file (shmem_file_setup()) covering @index, nothing there.
 * @index:   page index in @file.
 * @pfn:     page of the range, kept and never given before in this boot.
 * @counted: the caller counted @pfn in its zone's managed pages already
 *           (luo_ram_count()), else this does.
 * @first:   NULL for the first page of a run: then set to its folio, with a
 *           reference for luo_ram_account().
 *
 * The memory cgroup charge, NR_FILE_PAGES and the LRU are done here; the
 * caller then calls luo_ram_account() once for the run. Only after
 * luo_ram_direct() said true.
 *
 * Context: process context, may sleep; inserts of different pfns and
 * indices may run concurrently, on the same file too.
 * Return: 0; -EINVAL, -EBUSY as luo_ram_give(); -EEXIST if @file has a
 * page at @index; -ENOMEM if the memory cgroup (or the machine) cannot
 * hold it: the page then stays kept and can be inserted again later.
 */
int luo_ram_insert(struct file *file, pgoff_t index, unsigned long pfn,
		   bool counted, struct folio **first)
{
	struct page *page = luo_ram_claim(pfn);
	bool offline;
	int ret;

	if (IS_ERR(page))
		return PTR_ERR(page);
	offline = PageOffline(page);
	if (offline)
		__ClearPageOffline(page);
	else
		ClearPageReserved(page);
	ret = luo_ram_add_folio(file->f_mapping, page_folio(page), index);
	if (ret) {
		/* Kept again, as the online callback left it. */
		if (offline)
			__SetPageOffline(page);
		else
			SetPageReserved(page);
		clear_bit(pfn - luo_ram.start_pfn, luo_ram.given);
		return ret;
	}
	if (!counted)
		adjust_managed_page_count(page, 1);
	if (!*first)
		*first = page_folio(page);	/* our reference, for the stats */
	else
		put_page(page);		/* the page cache holds the only one */
	return 0;
}

/**
 * luo_ram_reserve() - take the commitment of pages about to be inserted
 * @pages: how many.
 *
 * shmem commits a memfd's memory (vm_enough_memory, Committed_AS) page by
 * page as it allocates; luo_ram_insert() allocates nothing, so the
 * commitment is taken here, at once, in the caller's context, by a commit
 * holder: an unlinked shmem file without VM_NORESERVE, which commits its
 * size when made and gives back its size when freed. luo_ram_unreserve()
 * shrinks it by the pages inserted, whose commitment thus stays taken
 * until shmem frees them (and gives it back as for its own pages).
 *
 * Context: process context (the caller's).
 * Return: the holder, or an ERR_PTR() (-ENOMEM: no room to commit).
 */
struct file *luo_ram_reserve(u64 pages)
{
	return luo_shmem_file_setup_reserved("liveupdate-commit",
					     (loff_t)pages << PAGE_SHIFT);
}

/**
 * luo_ram_unreserve() - keep what was inserted, give back the rest
 * @holder: from luo_ram_reserve().
 * @used:   pages inserted meanwhile (at most those reserved).
 *
 * Context: process context (the caller's).
 */
void luo_ram_unreserve(struct file *holder, u64 used)
{
	struct inode *inode = file_inode(holder);
	u64 pages = i_size_read(inode) >> PAGE_SHIFT;

	/* The holder has no pages: its size is all that eviction reads. */
	i_size_write(inode, (loff_t)(pages - min(pages, used)) << PAGE_SHIFT);
	fput(holder);
}

/*
 * The self-check at first use: a page of our own goes into a private shmem
 * file by the direct route; shmem must find it, read it, count it as one
 * page of the file, and give all of it back when it truncates the file.
 * Returns NULL if the route behaves, else what did not; an ERR_PTR() if the
 * check could not run (no memory).
 */
static const char *luo_ram_direct_check(void)
{
	static const char pattern[] = "liveupdate";
	struct file *file, *holder;
	struct folio *folio, *found, *first = NULL;
	struct address_space *mapping;
	struct inode *inode;
	const char *bad = NULL;
	char buf[sizeof(pattern)];
	struct page *page;
	loff_t pos = 0;
	void *addr;
	int ret;

	file = luo_shmem_file_setup("liveupdate-check", PAGE_SIZE);
	if (IS_ERR(file))
		return ERR_CAST(file);
	holder = luo_ram_reserve(1);
	if (IS_ERR(holder)) {
		fput(file);
		return ERR_CAST(holder);
	}
	inode = file_inode(file);
	mapping = file->f_mapping;
	/* A caller's full memory cgroup: ENOMEM, not the OOM killer. */
	mapping_set_gfp_mask(mapping, mapping_gfp_mask(mapping) |
			     __GFP_NORETRY | __GFP_NOWARN);
	page = alloc_page(GFP_KERNEL | __GFP_NOWARN);
	if (!page) {
		bad = ERR_PTR(-ENOMEM);
		goto out;
	}
	addr = kmap_local_page(page);
	memcpy(addr, pattern, sizeof(pattern));
	kunmap_local(addr);
	folio = page_folio(page);
	ret = luo_ram_add_folio(mapping, folio, 0);
	if (ret) {
		put_page(page);
		bad = ERR_PTR(ret);
		goto out;
	}
	first = folio;		/* our reference */
	folio_get(first);
	luo_ram_account(file, folio, 1);
	found = filemap_get_folio(mapping, 0);
	if (IS_ERR_OR_NULL(found) || found != first)
		bad = "page cache lookup";
	if (!IS_ERR_OR_NULL(found))
		folio_put(found);
	if (!bad && (!folio_test_swapbacked(first) || !folio_test_uptodate(first) ||
		     !folio_test_dirty(first)))
		bad = "folio flags";
	if (!bad && (mapping->nrpages != 1 || SHMEM_I(inode)->alloced != 1 ||
		     inode->i_blocks != PAGE_SIZE >> 9))
		bad = "inode accounting";
	if (!bad && (kernel_read(file, buf, sizeof(buf), &pos) != sizeof(buf) ||
		     memcmp(buf, pattern, sizeof(pattern))))
		bad = "read";
	shmem_truncate_range(inode, 0, (loff_t)-1);
	if (!bad && (mapping->nrpages || SHMEM_I(inode)->alloced ||
		     inode->i_blocks))
		bad = "truncate";
	folio_put(first);
out:
	luo_ram_unreserve(holder, first ? 1 : 0);
	fput(file);
	return bad;
}

/**
 * luo_ram_direct() - whether take-overs use the direct route
 *
 * Decided at the first call (luo_ram_direct_check()), once for the boot;
 * the placeholder route is taken, and the log says why once, on a
 * CONFIG_DEBUG_VM kernel or when the self-check fails. With
 * test_take_placeholder set, false (nothing logged).
 *
 * Context: process context, may sleep.
 * Return: true to use luo_ram_insert(), false for luo_ram_give().
 */
bool luo_ram_direct(void)
{
	static DEFINE_MUTEX(lock);
	const char *bad;

	if (READ_ONCE(luo_test_take_placeholder))
		return false;
	if (READ_ONCE(luo_ram_route) != LUO_RAM_ROUTE_UNKNOWN)
		return READ_ONCE(luo_ram_route) == LUO_RAM_ROUTE_DIRECT;
	guard(mutex)(&lock);
	if (luo_ram_route != LUO_RAM_ROUTE_UNKNOWN)
		return luo_ram_route == LUO_RAM_ROUTE_DIRECT;
	if (IS_ENABLED(CONFIG_DEBUG_VM)) {
		pr_info("ram: CONFIG_DEBUG_VM kernel: pages are taken over through shmem placeholders\n");
		WRITE_ONCE(luo_ram_route, LUO_RAM_ROUTE_PLACEHOLDER);
		return false;
	}
	bad = luo_ram_direct_check();
	if (IS_ERR(bad))	/* could not run: try again next time */
		return false;
	if (bad) {
		pr_warn("ram: the direct page-cache route failed its self-check (%s): pages are taken over through shmem placeholders\n",
			bad);
		WRITE_ONCE(luo_ram_route, LUO_RAM_ROUTE_PLACEHOLDER);
		return false;
	}
	WRITE_ONCE(luo_ram_route, LUO_RAM_ROUTE_DIRECT);
	return true;
}

/**
 * luo_ram_migrate() - move a shmem file's page into a kept page
 * @file:  shmem file whose size does not change; the caller holds its inode
 *         lock, so no write() reaches the page meanwhile.
 * @index: page index in @file.
 * @pfn:   page of the range, kept and never given before in this boot.
 *
 * The file's page at @index is copied into the kept page, which then
 * replaces it in the page cache (as luo_ram_give() does), and the old page
 * is freed. Only a page nothing else can write to is moved: order 0,
 * uptodate, not under writeback, mapped by no process (a write through a
 * mapping could land on the old page after the copy; the page lock keeps
 * new mappings out while it is held) and not pinned for DMA (io_uring's
 * fixed buffers stay pinned after munmap()), held by nobody but the page
 * cache (its reference count is frozen for the copy, as migration does)
 * and has no memory error (reading it could be a machine check). Readers holding the old page (a
 * read() in progress, a pipe after splice()) keep the bytes it had.
 *
 * Context: process context, may sleep.
 * Return: 0; -ENOENT if @file has no page at @index; -EAGAIN if the page
 * cannot be moved now (the list above; @pfn stays kept); -EBUSY if @pfn was
 * given already or is not kept; -EINVAL if @pfn is not in the range.
 */
int luo_ram_migrate(struct file *file, pgoff_t index, unsigned long pfn)
{
	struct page *page = luo_ram_claim(pfn);
	struct folio *old;
	int ret;

	if (IS_ERR(page))
		return PTR_ERR(page);
	/* NULL until 6.3, an ERR_PTR() since. */
	old = __filemap_get_folio(file->f_mapping, index, FGP_LOCK, 0);
	if (IS_ERR_OR_NULL(old)) {
		ret = -ENOENT;
		goto out_keep;
	}
	if (folio_test_large(old) || !folio_test_uptodate(old) ||
	    folio_test_writeback(old) || folio_mapped(old) ||
	    folio_maybe_dma_pinned(old) || folio_test_hwpoison(old)) {
		folio_unlock(old);
		folio_put(old);
		ret = -EAGAIN;
		goto out_keep;
	}
	/*
	 * As migration does: only with no reference but the page cache's
	 * and ours (a write through any other, e.g. a pipe's or a 6.1
	 * direct I/O's, would land on the page discarded), frozen for the
	 * copy so that none is taken meanwhile. New lookups then wait for
	 * the page lock and find the new page.
	 */
	if (!folio_ref_freeze(old, 2)) {
		folio_unlock(old);
		folio_put(old);
		ret = -EAGAIN;
		goto out_keep;
	}
	copy_highpage(page, folio_page(old, 0));
	folio_ref_unfreeze(old, 2);
	luo_ram_swap_in(old, page, false);
	folio_unlock(old);
	folio_put(old);		/* the last reference, unless a reader has one */
	return 0;

out_keep:
	clear_bit(pfn - luo_ram.start_pfn, luo_ram.given);
	return ret;
}
