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
 * store claims it so /dev/mem cannot touch it.
 *
 * Space: every session record, file record and file's data needs room in the
 * range. It is reserved when the session is created or the file preserved
 * (ENOSPC there), so the kexec itself never runs out of space.
 *
 * Commit: the reboot notifier runs inside reboot(LINUX_REBOOT_CMD_KEXEC)
 * with the string "kexec reboot" (and a kexec image loaded: RESTART2 can pass
 * the same string); only then are the outgoing sessions written: magic
 * cleared first, then data, metadata, checksums, state, and the magic last.
 * A plain reboot or power-off writes nothing.
 *
 * Load: at module load a committed handover is marked claimed, so no later
 * boot can load it a second time (a warm reboot keeps RAM). At the first
 * open of /dev/liveupdate it is validated completely (version, checksums,
 * every count, offset and length against the range) before any of it is
 * used, and the incoming sessions are built; each file is restored from the
 * range at its first RETRIEVE_FD (file.c). A handover that fails any check
 * is reported in the kernel log and yields no incoming sessions; the
 * handover_status parameter tells what happened.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/crc32.h>
#include <linux/file.h>
#include <linux/io.h>
#include <linux/ktime.h>
#include <linux/ioport.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/reboot.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "handover_check.h"
#include "internal.h"

static const char *const luo_status_names[] = {
	[LUO_STATUS_NONE]	= "none",
	[LUO_STATUS_PENDING]	= "pending",
	[LUO_STATUS_LOADED]	= "loaded",
	[LUO_STATUS_CONSUMED]	= "consumed",
	[LUO_STATUS_CORRUPT]	= "corrupt",
	[LUO_STATUS_VERSION]	= "version",
};

/* The range (range.c chose it). */
static u64 luo_addr;
static u64 luo_size;
static enum luo_status luo_status;

static void *luo_base;
static struct resource *luo_res;
static u64 luo_reserved;
static u64 luo_sequence;
/* The kexec is under way: the handover is written, nothing more fits in. */
static bool luo_committed;

static int luo_param_set_readonly(const char *val, const struct kernel_param *kp)
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
 * Introspection, root-only: the space the handover takes now and what the
 * last handover carried. Read without a lock (single words, READ_ONCE), so
 * a read never waits; the fields of last_handover are set once per boot.
 */
static struct {
	u64 sessions, files, bytes;
	u32 write_us;
	s64 check_us, build_us;
} luo_last;

static int luo_param_get_space(char *buf, const struct kernel_param *kp)
{
	u64 used = READ_ONCE(luo_reserved), size = READ_ONCE(luo_size);

	return sysfs_emit(buf, "used %llu\nfree %llu\n", used,
			  size > used ? size - used : 0);
}

static const struct kernel_param_ops luo_space_ops = {
	.set = luo_param_set_readonly,
	.get = luo_param_get_space,
};

module_param_cb(space, &luo_space_ops, NULL, 0400);
MODULE_PARM_DESC(space, "Handover bytes reserved by the outgoing sessions (used) and left (free)");

static int luo_param_get_last(char *buf, const struct kernel_param *kp)
{
	enum luo_status status = READ_ONCE(luo_status);

	if (status != LUO_STATUS_LOADED)
		return sysfs_emit(buf, "status %s\n", luo_status_names[status]);
	/* Pairs with the smp_wmb() before the status became "loaded". */
	smp_rmb();
	return sysfs_emit(buf, "status loaded\nsessions %llu\nfiles %llu\nbytes %llu\nwrite_us %u\ncheck_us %lld\nbuild_us %lld\n",
			  luo_last.sessions, luo_last.files, luo_last.bytes,
			  luo_last.write_us, luo_last.check_us,
			  luo_last.build_us);
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

/* Marks a committed handover as taken by this boot. */
static void luo_handover_claim(void)
{
	struct luo_handover_header *hdr = luo_base;

	if (le64_to_cpu(hdr->magic) != LUO_HANDOVER_MAGIC) {
		pr_info("no handover in the reserved range\n");
		luo_set_status(LUO_STATUS_NONE);
		return;
	}
	luo_sequence = le64_to_cpu(hdr->sequence);
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

/* Builds the incoming sessions from a checked handover's metadata copy. */
static int luo_handover_build(const struct luo_image *img,
			      struct luo_verdict *v, u64 *nr_s, u64 *nr_f)
{
	u64 s, off = 0;
	int ret;

	lockdep_assert_held(&luo_lock);
	for (s = 0; s < img->nr_sessions; s++) {
		const struct luo_ser_session *ss = img->meta + off;
		struct luo_session *session;
		u32 i, n = le32_to_cpu(ss->nr_files);

		session = luo_session_add_incoming(ss->name);
		if (IS_ERR(session)) {
			ret = PTR_ERR(session);
			if (ret == -EEXIST)
				luo_refuse(v, "two sessions have the same name");
			return ret;
		}
		off += sizeof(*ss);
		for (i = 0; i < n; i++) {
			const struct luo_ser_file *f = img->meta + off;

			ret = luo_file_add_incoming(session, f, luo_base +
						    le64_to_cpu(f->data_off));
			if (ret) {
				if (ret == -EEXIST)
					luo_refuse(v, "two files of a session have the same token");
				return ret;
			}
			off += sizeof(*f);
			(*nr_f)++;
		}
		(*nr_s)++;
		cond_resched();
	}
	return 0;
}

/**
 * luo_handover_load() - load what the previous kernel handed over
 *
 * Called at every open of /dev/liveupdate, never twice at once (the device
 * serialises its opens); does its work once per boot. Checks the handover
 * and builds the incoming sessions; their files are restored later, one by
 * one, at RETRIEVE_FD. Only building the sessions takes luo_lock.
 *
 * Return: 0 (also when there was nothing, or nothing valid), or -ENOMEM if
 * the sessions could not be built; the handover stays pending and the next
 * call tries again.
 */
int luo_handover_load(void)
{
	struct luo_verdict v = { .status = LUO_STATUS_LOADED };
	struct luo_image img = {};
	u64 nr_s = 0, nr_f = 0;
	ktime_t start, checked;
	int ret;

	if (READ_ONCE(luo_status) != LUO_STATUS_PENDING)
		return 0;

	start = ktime_get();
	ret = luo_handover_check(luo_base, luo_size, &img, &v);
	if (ret) {
		luo_image_free(&img);
		if (ret < 0) {
			pr_err("cannot load the handover (%d); the next open of /dev/liveupdate tries again\n",
			       ret);
			return ret;
		}
		if (v.status == LUO_STATUS_CORRUPT)
			pr_err("handover is corrupt (%s); ignoring it\n", v.why);
		luo_set_status(v.status);
		return 0;
	}

	checked = ktime_get();
	scoped_guard(mutex, &luo_lock) {
		ret = luo_handover_build(&img, &v, &nr_s, &nr_f);
		if (ret)
			luo_session_drop_incoming();
	}
	luo_image_free(&img);
	if (ret) {
		if (v.status == LUO_STATUS_CORRUPT) {
			pr_err("handover is corrupt (%s); ignoring it\n", v.why);
			luo_set_status(LUO_STATUS_CORRUPT);
			return 0;
		}
		pr_err("cannot load the handover (%d); the next open of /dev/liveupdate tries again\n",
		       ret);
		return ret;
	}
	luo_last.sessions = nr_s;
	luo_last.files = nr_f;
	luo_last.bytes = img.used;
	luo_last.write_us = le32_to_cpu(img.hdr.commit_us);
	luo_last.check_us = ktime_us_delta(checked, start);
	luo_last.build_us = ktime_us_delta(ktime_get(), checked);
	pr_info("loaded %llu incoming sessions with %llu files, %llu bytes: written in %u us, checked in %lld us, built in %lld us\n",
		nr_s, nr_f, img.used, luo_last.write_us, luo_last.check_us,
		luo_last.build_us);
	/* The figures above are published by the status change. */
	smp_wmb();
	luo_set_status(LUO_STATUS_LOADED);
	return 0;
}

/**
 * luo_handover_reserve() - reserve handover space for a record
 * @bytes: how much.
 *
 * Caller holds luo_lock.
 *
 * Return: 0, -ENOSPC if the range cannot hold it, or -EBUSY once the
 * handover was written for a kexec that is under way.
 */
int luo_handover_reserve(u64 bytes)
{
	if (luo_committed)
		return -EBUSY;
	if (bytes > luo_size - luo_reserved)
		return -ENOSPC;
	luo_reserved += bytes;
	return 0;
}

/**
 * luo_handover_unreserve() - give back what luo_handover_reserve() took
 * @bytes: how much.
 *
 * Caller holds luo_lock.
 */
void luo_handover_unreserve(u64 bytes)
{
	luo_reserved -= bytes;
}

/* Writes one outgoing session; returns where its data ends. */
static u64 luo_commit_session(struct luo_session *s, u64 *meta_off,
			      u64 data_off, u64 *nr_files)
{
	struct luo_ser_session ss = {};
	u64 session_off = *meta_off;
	struct luo_file *lf;
	u32 n = 0;

	*meta_off += sizeof(ss);
	list_for_each_entry(lf, &s->file_list, list) {
		struct luo_ser_file f = {};
		int ret;

		/* Space was reserved at PRESERVE_FD; never write past the range. */
		if (ALIGN(lf->data_size, LUO_HANDOVER_ALIGN) > luo_size - data_off) {
			pr_err("session '%s' token %llu: no room left; not handed over\n",
			       s->name, lf->token);
			continue;
		}
		f.token = cpu_to_le64(lf->token);
		f.type = cpu_to_le32(lf->handler->type);
		ret = lf->handler->save(lf, luo_base + data_off, &f);
		if (ret) {
			pr_err("session '%s' token %llu: saving the %s failed (%d); not handed over\n",
			       s->name, lf->token, lf->handler->name, ret);
			continue;
		}
		f.size = cpu_to_le64(lf->data_size);
		f.data_off = cpu_to_le64(data_off);
		f.data_crc = cpu_to_le32(luo_data_crc(luo_base + data_off,
						      lf->data_size));
		memcpy(luo_base + *meta_off, &f, sizeof(f));
		*meta_off += sizeof(f);
		data_off += ALIGN(lf->data_size, LUO_HANDOVER_ALIGN);
		n++;
		cond_resched();
	}
	strscpy_pad(ss.name, s->name, sizeof(ss.name));
	ss.nr_files = cpu_to_le32(n);
	memcpy(luo_base + session_off, &ss, sizeof(ss));
	*nr_files += n;
	return data_off;
}

/* Inside reboot(LINUX_REBOOT_CMD_KEXEC): hand the outgoing sessions over. */
static void luo_handover_commit(void)
{
	struct luo_handover_header *hdr = luo_base;
	struct luo_handover_header h = {};
	u64 meta_off, meta_max, data_off, nr_sessions = 0, nr_files = 0;
	struct luo_session *s;
	ktime_t start = ktime_get();

	guard(mutex)(&luo_lock);
	WRITE_ONCE(hdr->magic, 0);

	meta_max = 0;
	list_for_each_entry(s, &luo_outgoing, list)
		meta_max += sizeof(struct luo_ser_session) +
			    s->nr_files * sizeof(struct luo_ser_file);

	meta_off = sizeof(h);
	data_off = sizeof(h) + meta_max;
	list_for_each_entry(s, &luo_outgoing, list) {
		data_off = luo_commit_session(s, &meta_off, data_off, &nr_files);
		nr_sessions++;
	}

	h.version = cpu_to_le32(LUO_HANDOVER_VERSION);
	h.header_size = cpu_to_le32(sizeof(h));
	h.used_size = cpu_to_le64(data_off);
	h.meta_size = cpu_to_le64(meta_off - sizeof(h));
	h.nr_sessions = cpu_to_le64(nr_sessions);
	h.nr_files = cpu_to_le64(nr_files);
	h.sequence = cpu_to_le64(luo_sequence + 1);
	h.meta_crc = cpu_to_le32(crc32_le(~0U, luo_base + sizeof(h),
					  meta_off - sizeof(h)));
	h.commit_us = cpu_to_le32(min_t(s64, ktime_us_delta(ktime_get(), start),
					U32_MAX));
	h.magic = cpu_to_le64(LUO_HANDOVER_MAGIC);
	h.header_crc = cpu_to_le32(luo_header_crc(&h));
	h.state = cpu_to_le32(LUO_STATE_COMMITTED);
	h.magic = 0;
	memcpy(hdr, &h, sizeof(h));
	/* The magic makes it valid: everything else must be in RAM first. */
	wmb();
	WRITE_ONCE(hdr->magic, cpu_to_le64(LUO_HANDOVER_MAGIC));
	luo_committed = true;
	pr_info("handed over %llu sessions with %llu files (%llu bytes)\n",
		nr_sessions, nr_files, data_off);
}

/*
 * Whether a kexec image is loaded. kernel_kexec() refuses to run without
 * one, but reboot(LINUX_REBOOT_CMD_RESTART2, "kexec reboot") passes the
 * same string to a plain firmware restart. Unknown counts as loaded.
 */
static bool luo_kexec_loaded(void)
{
	char buf[8];

	if (luo_read_file("/sys/kernel/kexec_loaded", buf, sizeof(buf)))
		return true;
	return buf[0] != '0';
}

static int luo_reboot_notify(struct notifier_block *nb, unsigned long code,
			     void *cmd)
{
	/* kernel_kexec() passes this exact string, with an image loaded. */
	if (code != SYS_RESTART || !cmd || strcmp(cmd, "kexec reboot"))
		return NOTIFY_DONE;
	if (!luo_kexec_loaded()) {
		pr_warn("restart called \"kexec reboot\" without a kexec image loaded: not a kexec, nothing handed over\n");
		return NOTIFY_DONE;
	}
	luo_handover_commit();
	return NOTIFY_DONE;
}

static struct notifier_block luo_reboot_nb = {
	.notifier_call = luo_reboot_notify,
};

/**
 * luo_handover_init() - take the reserved range at module load
 *
 * Return: 0, or -EINVAL (no usable range), -EBUSY, -ENOMEM.
 */
int luo_handover_init(void)
{
	int ret;

	ret = luo_range_find(&luo_addr, &luo_size);
	if (ret)
		return ret;
	luo_res = request_mem_region(luo_addr, luo_size, "liveupdate handover");
	if (!luo_res) {
		pr_err("range %#llx+%#llx is in use\n", luo_addr, luo_size);
		return -EBUSY;
	}
	luo_base = memremap(luo_addr, luo_size, MEMREMAP_WB);
	if (!luo_base) {
		ret = -ENOMEM;
		goto err_release;
	}

	luo_reserved = sizeof(struct luo_handover_header);
	luo_handover_claim();

	ret = register_reboot_notifier(&luo_reboot_nb);
	if (ret)
		goto err_unmap;
	pr_info("handover range %#llx+%#llx (%s)\n", luo_addr, luo_size,
		luo_status_names[luo_status]);
	return 0;

err_unmap:
	memunmap(luo_base);
err_release:
	release_mem_region(luo_addr, luo_size);
	return ret;
}

/**
 * luo_handover_exit() - let go of the range at module unload
 */
void luo_handover_exit(void)
{
	unregister_reboot_notifier(&luo_reboot_nb);
	memunmap(luo_base);
	release_mem_region(luo_addr, luo_size);
}
