// SPDX-License-Identifier: GPL-2.0
/*
 * Test module for module/ram.c: ioctls on /dev/luo_ram_test that call its
 * API, so that tests/ram/lrt can check the result from userspace. Throwaway
 * harness, not part of the liveupdate module.
 */
#define pr_fmt(fmt) "luo_ram_test: " fmt

#include <linux/file.h>
#include <linux/highmem.h>
#include <linux/io.h>
#include <linux/ktime.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/shmem_fs.h>

#include "../../module/compat.h"
#include "../../module/ram.h"
#include "lrt.h"

static DEFINE_MUTEX(lrt_lock);

static long lrt_write(struct lrt_arg *a)
{
	u64 *p = memremap(a->addr, a->size, MEMREMAP_WB);
	u64 pfn, w, n = a->size / PAGE_SIZE;

	if (!p)
		return -ENOMEM;
	for (pfn = 0; pfn < n; pfn++) {
		for (w = 0; w < PAGE_SIZE / 8; w++)
			p[pfn * (PAGE_SIZE / 8) + w] =
				lrt_pattern(PHYS_PFN(a->addr) + pfn, w);
		cond_resched();
	}
	memunmap(p);
	return 0;
}

static long lrt_give(struct lrt_arg *a)
{
	unsigned long base = PHYS_PFN(a->addr) + a->first;
	struct file *file;
	ktime_t t0;
	u64 i;
	int fd, ret;

	file = luo_shmem_file_setup("memfd:lrt", a->nr * PAGE_SIZE);
	if (IS_ERR(file))
		return PTR_ERR(file);
	file->f_mode |= LUO_MEMFD_FMODE;
	t0 = ktime_get();
	for (i = 0; i < a->nr; i++) {
		ret = luo_ram_give(file, i, base + i, 0);
		if (ret) {
			pr_err("give of pfn %#llx at %llu: %d\n", base + i, i, ret);
			fput(file);
			return ret;
		}
		cond_resched();
	}
	a->ns = ktime_to_ns(ktime_sub(ktime_get(), t0));
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		fput(file);
		return fd;
	}
	fd_install(fd, file);
	a->fd = fd;
	return 0;
}

static long lrt_give1(struct lrt_arg *a)
{
	struct file *file = fget(a->fd);
	long ret;

	if (!file)
		return -EBADF;
	ret = luo_ram_give(file, a->nr, a->first, 0);
	fput(file);
	return ret;
}

/* How many of indexes [0, nr) hold range page first + index. */
static long lrt_check(struct lrt_arg *a)
{
	unsigned long base = PHYS_PFN(a->addr) + a->first;
	struct folio_batch fbatch;
	struct file *file = fget(a->fd);
	pgoff_t index = 0;
	unsigned int i;
	u64 ok = 0;

	if (!file)
		return -EBADF;
	folio_batch_init(&fbatch);
	while (filemap_get_folios(file->f_mapping, &index, a->nr - 1, &fbatch)) {
		for (i = 0; i < folio_batch_count(&fbatch); i++) {
			struct folio *f = fbatch.folios[i];

			if (!folio_test_large(f) && folio_pfn(f) == base + f->index)
				ok++;
		}
		folio_batch_release(&fbatch);
		cond_resched();
	}
	fput(file);
	a->nr = ok;
	return 0;
}

static long lrt_peek(struct lrt_arg *a)
{
	struct page *page = pfn_to_online_page(a->first);
	u64 *p;

	if (!page)
		return -ENXIO;
	p = kmap_local_page(page);
	a->val = *p;
	kunmap_local(p);
	return 0;
}

static long lrt_ioctl(struct file *f, unsigned int cmd, unsigned long uarg)
{
	struct lrt_arg a;
	ktime_t t0;
	long ret;

	if (copy_from_user(&a, (void __user *)uarg, sizeof(a)))
		return -EFAULT;
	guard(mutex)(&lrt_lock);
	t0 = ktime_get();
	switch (cmd) {
	case LRT_WRITE:
		ret = lrt_write(&a);
		break;
	case LRT_PROBE:
		ret = luo_ram_probe(a.addr, a.size);
		break;
	case LRT_ADD:
		ret = luo_ram_add(a.addr, a.size);
		break;
	case LRT_GIVE:
		ret = lrt_give(&a);
		break;
	case LRT_GIVE1:
		ret = lrt_give1(&a);
		break;
	case LRT_CHECK:
		ret = lrt_check(&a);
		break;
	case LRT_PEEK:
		ret = lrt_peek(&a);
		break;
	default:
		return -ENOTTY;
	}
	if (cmd != LRT_GIVE)
		a.ns = ktime_to_ns(ktime_sub(ktime_get(), t0));
	if (copy_to_user((void __user *)uarg, &a, sizeof(a)))
		return -EFAULT;
	return ret;
}

static const struct file_operations lrt_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = lrt_ioctl,
};

static struct miscdevice lrt_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "luo_ram_test",
	.fops = &lrt_fops,
};

static int __init lrt_init(void)
{
	return misc_register(&lrt_dev);
}

static void __exit lrt_exit(void)
{
	misc_deregister(&lrt_dev);
}

module_init(lrt_init);
module_exit(lrt_exit);
MODULE_DESCRIPTION("tests/ram: ioctls over module/ram.c");
MODULE_LICENSE("GPL");
