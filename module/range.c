// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdate: which RAM range holds the handover.
 */

/**
 * DOC: The reserved range
 *
 * The handover lives in RAM that every kernel of the chain leaves alone
 * because its command line has memmap=SIZE$ADDR: the firmware said RAM, the
 * kernel marked it "Reserved" in /proc/iomem and never uses it.
 *
 * The range is named by the addr= and size= module parameters or, when they
 * are not given, by liveupdate.addr= and liveupdate.size= on the kernel
 * command line (also where insmod, which does not read the command line,
 * loads the module). What is not named comes from the memmap=SIZE$ADDR entry
 * holding addr, or, without an address, from the only memmap=SIZE$ADDR entry
 * there is: the same syntax also excludes bad RAM, so with two entries the
 * address must be given. Whatever was named, the range must then lie inside
 * one memmap=SIZE$ADDR entry, be RAM in the firmware's memory map
 * (/sys/firmware/memmap, which memmap= does not change: memmap= also
 * "reserves" PCI holes and addresses past the end of RAM), lie inside one
 * "Reserved" resource of /proc/iomem (so this kernel does not use it) and
 * not overlap System RAM. Anything else refuses the load with a message
 * that says what to fix.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/fs.h>
#include <linux/ioport.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "compat.h"
#include "range.h"

/* A range parameter: its value and whether it was given at all. */
struct luo_range_param {
	unsigned long long val;
	bool given;
};

static struct luo_range_param luo_addr_param, luo_size_param;

static int luo_param_set_range(const char *val, const struct kernel_param *kp)
{
	struct luo_range_param *p = kp->arg;
	unsigned long long v;
	char *end;

	v = memparse(val, &end);
	if (end == val || (*end && *end != '\n'))
		return -EINVAL;
	p->val = v;
	p->given = true;
	return 0;
}

static int luo_param_get_range(char *buf, const struct kernel_param *kp)
{
	const struct luo_range_param *p = kp->arg;

	return sysfs_emit(buf, "%llu\n", p->val);
}

static const struct kernel_param_ops luo_range_ops = {
	.set = luo_param_set_range,
	.get = luo_param_get_range,
};

module_param_cb(addr, &luo_range_ops, &luo_addr_param, 0444);
MODULE_PARM_DESC(addr, "Physical address of the reserved range (default: liveupdate.addr= on the command line, else the only memmap=SIZE$ADDR)");
module_param_cb(size, &luo_range_ops, &luo_size_param, 0444);
MODULE_PARM_DESC(size, "Size of the reserved range, K/M/G suffixes allowed (default: liveupdate.size=, else up to the end of its memmap=SIZE$ADDR)");

#define LUO_MAX_MEMMAP	16

/* What the kernel command line says about the range. */
struct luo_cmdline {
	u64 memmap_addr[LUO_MAX_MEMMAP];
	u64 memmap_size[LUO_MAX_MEMMAP];
	unsigned int nr_memmap;
	struct luo_range_param addr, size;
};

/* "liveupdate.addr=" or "liveupdate.size=": false if it does not parse. */
static bool luo_cmdline_param(const char *val, struct luo_range_param *p)
{
	char *end;

	p->val = memparse(val, &end);
	p->given = true;
	return end != val && !*end;
}

static void luo_cmdline_memmap(char *val, struct luo_cmdline *c)
{
	char *entry;

	while ((entry = strsep(&val, ","))) {
		unsigned long long size, addr;
		char *q;

		size = memparse(entry, &q);
		if (q == entry || *q != '$')
			continue;	/* another kind of memmap= */
		addr = memparse(q + 1, &q);
		if (*q)
			continue;
		if (c->nr_memmap < LUO_MAX_MEMMAP) {
			c->memmap_addr[c->nr_memmap] = addr;
			c->memmap_size[c->nr_memmap] = size;
		}
		c->nr_memmap++;
	}
}

/**
 * luo_read_file() - read a small proc or sysfs file
 * @path: its path.
 * @buf:  where to put it, NUL-terminated.
 * @len:  size of @buf.
 *
 * Return: 0, or -errno.
 */
int luo_read_file(const char *path, char *buf, size_t len)
{
	struct file *f;
	loff_t pos = 0;
	ssize_t n;

	f = filp_open(path, O_RDONLY, 0);
	if (IS_ERR(f))
		return PTR_ERR(f);
	n = kernel_read(f, buf, len - 1, &pos);
	fput(f);
	if (n < 0)
		return n;
	buf[n] = 0;
	return 0;
}

static int luo_cmdline_read(struct luo_cmdline *c)
{
	char *buf __free(kfree) = kzalloc(PAGE_SIZE, GFP_KERNEL);
	char *p, *tok;
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = luo_read_file("/proc/cmdline", buf, PAGE_SIZE);
	if (ret)
		return ret;

	p = buf;
	while ((tok = strsep(&p, "\t\n "))) {
		if (!strncmp(tok, "memmap=", 7)) {
			luo_cmdline_memmap(tok + 7, c);
		} else if (!strncmp(tok, "liveupdate.addr=", 16)) {
			if (!luo_cmdline_param(tok + 16, &c->addr)) {
				pr_err("cannot read liveupdate.addr=%s on the command line\n",
				       tok + 16);
				return -EINVAL;
			}
		} else if (!strncmp(tok, "liveupdate.size=", 16)) {
			if (!luo_cmdline_param(tok + 16, &c->size)) {
				pr_err("cannot read liveupdate.size=%s on the command line\n",
				       tok + 16);
				return -EINVAL;
			}
		}
	}
	if (c->nr_memmap > LUO_MAX_MEMMAP) {
		pr_err("%u memmap=SIZE$ADDR entries on the command line; at most %u are looked at\n",
		       c->nr_memmap, LUO_MAX_MEMMAP);
		return -EINVAL;
	}
	return 0;
}

/* The memmap= entry holding @addr, or -1 (-2 if several do). */
static int luo_memmap_holding(const struct luo_cmdline *c, u64 addr)
{
	int i, found = -1;

	for (i = 0; i < c->nr_memmap; i++) {
		if (addr < c->memmap_addr[i] ||
		    addr - c->memmap_addr[i] >= c->memmap_size[i])
			continue;
		if (found >= 0)
			return -2;
		found = i;
	}
	return found;
}

#define LUO_MAX_FIRMWARE_MAP	1024

/* One entry of /sys/firmware/memmap: 0, -ENOENT past the last, -errno. */
static int luo_firmware_entry(int i, u64 *start, u64 *end, bool *ram)
{
	char path[48], buf[32];
	int ret;

	snprintf(path, sizeof(path), "/sys/firmware/memmap/%d/start", i);
	ret = luo_read_file(path, buf, sizeof(buf));
	if (ret)
		return ret;
	ret = kstrtoull(strim(buf), 0, start);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "/sys/firmware/memmap/%d/end", i);
	ret = luo_read_file(path, buf, sizeof(buf));
	if (ret)
		return ret;
	ret = kstrtoull(strim(buf), 0, end);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "/sys/firmware/memmap/%d/type", i);
	ret = luo_read_file(path, buf, sizeof(buf));
	if (ret)
		return ret;
	*ram = !strcmp(strim(buf), "System RAM");
	return 0;
}

/*
 * Whether the firmware's memory map (before memmap= changed it; kexec hands
 * the same map on) says all of the range is RAM. memmap=SIZE$ADDR also
 * "reserves" addresses that are no RAM at all (past the end of RAM, PCI
 * holes): only this tells them apart.
 *
 * Return: 1 (RAM), 0 (not all RAM), -errno (no firmware map to ask).
 */
static int luo_range_firmware_ram(u64 addr, u64 size)
{
	u64 *start __free(kfree) = kcalloc(LUO_MAX_FIRMWARE_MAP, sizeof(u64),
					  GFP_KERNEL);
	u64 *end __free(kfree) = kcalloc(LUO_MAX_FIRMWARE_MAP, sizeof(u64),
					GFP_KERNEL);
	u64 cur = addr, last = addr + size - 1;
	int i, n, ret;
	bool ram, moved;

	if (!start || !end)
		return -ENOMEM;
	/* Only the RAM entries matter. */
	for (i = 0, n = 0; i < LUO_MAX_FIRMWARE_MAP; i++) {
		ret = luo_firmware_entry(i, &start[n], &end[n], &ram);
		if (ret == -ENOENT && i)
			break;
		if (ret)
			return ret;
		if (ram)
			n++;
	}
	/* Walk from addr through RAM entries that touch or overlap. */
	do {
		moved = false;
		for (i = 0; i < n; i++) {
			if (start[i] > cur || end[i] < cur)
				continue;
			if (end[i] >= last)
				return 1;
			cur = end[i] + 1;
			moved = true;
		}
	} while (moved);
	return 0;
}

struct luo_reserved_walk {
	u64 start, end;
	bool inside;
};

/* Called with each Reserved resource's part inside the range. */
static int luo_reserved_part(struct resource *res, void *arg)
{
	struct luo_reserved_walk *w = arg;

	/* One resource covers all of it: the part is the whole range. */
	if (res->start == w->start && res->end == w->end) {
		w->inside = true;
		return 1;
	}
	return 0;
}

static bool luo_range_reserved(u64 addr, u64 size)
{
	struct luo_reserved_walk w = {
		.start = addr,
		.end = addr + size - 1,
	};

	walk_iomem_res_desc(IORES_DESC_RESERVED, IORESOURCE_MEM, w.start, w.end,
			    &w, luo_reserved_part);
	return w.inside;
}

/**
 * luo_range_find() - decide which RAM range holds the handover
 * @addr_out: its physical address.
 * @size_out: its size.
 *
 * Also sets the addr and size parameters to what was chosen.
 *
 * Return: 0, or -EINVAL (logged with what to fix), -ENOMEM.
 */
int luo_range_find(u64 *addr_out, u64 *size_out)
{
	struct luo_cmdline *c __free(kfree) = kzalloc(sizeof(*c), GFP_KERNEL);
	struct luo_range_param addr, size;
	u64 m_addr, m_size;
	int m, ret;

	if (!c)
		return -ENOMEM;
	ret = luo_cmdline_read(c);
	if (ret)
		return ret;
	/* Module parameters first, then the command line. */
	addr = luo_addr_param.given ? luo_addr_param : c->addr;
	size = luo_size_param.given ? luo_size_param : c->size;

	if (addr.given && !addr.val) {
		pr_err("addr=0 names no range: give the physical address of the memmap=SIZE$ADDR range\n");
		return -EINVAL;
	}
	if (addr.given && !PAGE_ALIGNED(addr.val)) {
		pr_err("addr=%#llx is not a multiple of the page size (%lu)\n",
		       addr.val, PAGE_SIZE);
		return -EINVAL;
	}
	if (size.given && (!size.val || !PAGE_ALIGNED(size.val))) {
		pr_err("size=%llu is not a non-zero multiple of the page size (%lu)\n",
		       size.val, PAGE_SIZE);
		return -EINVAL;
	}
	if (addr.given && size.given && addr.val + size.val - 1 < addr.val) {
		pr_err("addr=%#llx size=%#llx wraps around the end of the address space\n",
		       addr.val, size.val);
		return -EINVAL;
	}

	if (!c->nr_memmap) {
		pr_err("no reserved range: boot with memmap=SIZE$ADDR on the command line of every kernel\n");
		return -EINVAL;
	}
	if (addr.given) {
		m = luo_memmap_holding(c, addr.val);
		if (m == -1) {
			pr_err("addr=%#llx is in no memmap=SIZE$ADDR range of the command line: reserve the range with memmap= first\n",
			       addr.val);
			return -EINVAL;
		}
		if (m == -2) {
			pr_err("addr=%#llx is in more than one memmap=SIZE$ADDR range; give ranges that do not overlap\n",
			       addr.val);
			return -EINVAL;
		}
	} else {
		if (c->nr_memmap > 1) {
			pr_err("%u memmap=SIZE$ADDR ranges on the command line (one may exclude bad RAM): say which holds the handover with liveupdate.addr= (or addr=)\n",
			       c->nr_memmap);
			return -EINVAL;
		}
		m = 0;
		addr.val = c->memmap_addr[0];
	}
	m_addr = c->memmap_addr[m];
	m_size = c->memmap_size[m];
	if (m_addr + m_size - 1 < m_addr) {
		pr_err("memmap=%llu$%#llx wraps around the end of the address space\n",
		       m_size, m_addr);
		return -EINVAL;
	}
	if (!size.given)
		size.val = m_addr + m_size - addr.val;
	if (!PAGE_ALIGNED(addr.val) || !PAGE_ALIGNED(size.val)) {
		pr_err("memmap=%llu$%#llx is not page-aligned: give addr= and size= in pages inside it\n",
		       m_size, m_addr);
		return -EINVAL;
	}
	if (size.val > m_addr + m_size - addr.val) {
		pr_err("range %#llx+%#llx ends past its memmap=%llu$%#llx\n",
		       addr.val, size.val, m_size, m_addr);
		return -EINVAL;
	}
	ret = luo_range_firmware_ram(addr.val, size.val);
	if (ret < 0) {
		pr_err("cannot read the firmware memory map (/sys/firmware/memmap: %d) to check that range %#llx+%#llx is RAM\n",
		       ret, addr.val, size.val);
		return -EINVAL;
	}
	if (!ret) {
		pr_err("range %#llx+%#llx is not all RAM in the firmware memory map (/sys/firmware/memmap): past the end of RAM or in a hole; memmap=%llu$%#llx must cover RAM that the firmware lists as \"System RAM\"\n",
		       addr.val, size.val, m_size, m_addr);
		return -EINVAL;
	}
	if (!luo_range_reserved(addr.val, size.val)) {
		pr_err("range %#llx+%#llx is not inside one \"Reserved\" range of /proc/iomem: this kernel did not reserve it (is memmap=%llu$%#llx on its command line?)\n",
		       addr.val, size.val, m_size, m_addr);
		return -EINVAL;
	}
	if (region_intersects(addr.val, size.val, IORESOURCE_SYSTEM_RAM,
			      IORES_DESC_NONE) != REGION_DISJOINT) {
		pr_err("range %#llx+%#llx overlaps System RAM\n", addr.val,
		       size.val);
		return -EINVAL;
	}

	luo_addr_param.val = addr.val;
	luo_size_param.val = size.val;
	*addr_out = addr.val;
	*size_out = size.val;
	return 0;
}
