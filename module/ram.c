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
 * Handing the kept pages out to shmem files is ram_give.c's.
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

/**
 * luo_ram_claim() - claim a kept page for a give or a migration
 * @pfn: its page frame number.
 *
 * Return: its struct page, or -EINVAL (not in the range) or -EBUSY
 * (claimed before, or no longer kept: its bit then stays set, so it is
 * never touched again). The caller calls luo_ram_unclaim() if it ends up
 * not using the page.
 */
struct page *luo_ram_claim(unsigned long pfn)
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

/**
 * luo_ram_unclaim() - give a claimed page back unused
 * @pfn: a page luo_ram_claim() returned, still in the kept state.
 */
void luo_ram_unclaim(unsigned long pfn)
{
	clear_bit(pfn - luo_ram.start_pfn, luo_ram.given);
}
