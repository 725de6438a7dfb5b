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
#include <linux/sort.h>
#include <linux/string.h>

#include "internal.h"

enum luo_status {
	LUO_STATUS_NONE,	/* nothing handed over */
	LUO_STATUS_PENDING,	/* committed, not loaded yet */
	LUO_STATUS_LOADED,
	LUO_STATUS_CONSUMED,	/* an earlier boot loaded it already */
	LUO_STATUS_CORRUPT,
	LUO_STATUS_VERSION,	/* another format version */
};

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

static u32 luo_header_crc(const struct luo_handover_header *hdr)
{
	struct luo_handover_header tmp = *hdr;

	tmp.header_crc = 0;
	tmp.state = 0;
	return crc32_le(~0U, (const u8 *)&tmp, sizeof(tmp));
}

/* What a check found: the status to report and, if refused, why. */
struct luo_verdict {
	enum luo_status status;
	const char *why;
};

static bool luo_refuse(struct luo_verdict *v, const char *why)
{
	v->status = LUO_STATUS_CORRUPT;
	v->why = why;
	return false;
}

/* The same, for functions that return 1 for "refused". */
static int luo_reject(struct luo_verdict *v, const char *why)
{
	luo_refuse(v, why);
	return 1;
}

/* One file's data: where it is in the range, for the overlap check. */
struct luo_extent {
	u64 off;
	u64 size;
};

/*
 * A handover being loaded: the header and the metadata are copied out of the
 * range once and only these copies are checked and used, so nothing can
 * change between check and use. Only file data is read in place.
 */
struct luo_image {
	struct luo_handover_header hdr;
	void *meta;		/* meta_size bytes, kvmalloc()ed */
	struct luo_extent *ext;	/* nr_files, kvmalloc()ed */
	u64 meta_size;
	u64 used;
	u64 nr_sessions;
	u64 nr_files;
};

static void luo_image_free(struct luo_image *img)
{
	kvfree(img->meta);
	kvfree(img->ext);
	img->meta = NULL;
	img->ext = NULL;
}

static int luo_extent_cmp(const void *a, const void *b)
{
	const struct luo_extent *x = a, *y = b;

	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	return 0;
}

/*
 * crc32_le of a file's data in the range, in steps that reschedule: a file
 * can be gigabytes.
 */
static u32 luo_data_crc(const void *data, u64 size)
{
	u32 crc = ~0U;
	u64 off, len;

	for (off = 0; off < size; off += len) {
		len = min_t(u64, size - off, SZ_1M);
		crc = crc32_le(crc, data + off, len);
		cond_resched();
	}
	return crc;
}

/* Checks one file record; @data_start is where data may begin. */
static bool luo_check_file(const struct luo_ser_file *f, u64 data_start,
			   u64 used, struct luo_verdict *v)
{
	const struct luo_file_handler *h;
	u64 off = le64_to_cpu(f->data_off);
	u64 size = le64_to_cpu(f->size);

	h = luo_file_handler_by_type(le32_to_cpu(f->type));
	if (!h)
		return luo_refuse(v, "unknown file type");
	if (f->reserved)
		return luo_refuse(v, "non-zero reserved field in a file record");
	if (h->validate(f))
		return luo_refuse(v, "invalid file record");
	if (off < data_start || off > used || size > used - off)
		return luo_refuse(v, "file data outside the handover");
	return true;
}

/*
 * No two files' data overlap, so together they are never larger than the
 * handover: a restore can never make more than the range out of it. @ext
 * holds the files with data (empty ones take no bytes).
 */
static bool luo_check_extents(struct luo_extent *ext, u64 n,
			      struct luo_verdict *v)
{
	u64 i;

	sort(ext, n, sizeof(*ext), luo_extent_cmp, NULL);
	for (i = 1; i < n; i++) {
		if (ext[i - 1].size > ext[i].off - ext[i - 1].off)
			return luo_refuse(v, "the data of two files overlap");
	}
	return true;
}

/* Copies the header out of the range and checks it. */
static bool luo_check_header(struct luo_image *img, struct luo_verdict *v)
{
	const struct luo_handover_header *hdr = &img->hdr;
	u32 version;

	memcpy(&img->hdr, luo_base, sizeof(img->hdr));
	version = le32_to_cpu(hdr->version);
	if (version != LUO_HANDOVER_VERSION) {
		v->status = LUO_STATUS_VERSION;
		v->why = "format version not supported";
		pr_err("handover format version %u is not supported (this module reads version %u)\n",
		       version, LUO_HANDOVER_VERSION);
		return false;
	}
	if (le32_to_cpu(hdr->header_size) != sizeof(*hdr))
		return luo_refuse(v, "header size mismatch");
	if (luo_header_crc(hdr) != le32_to_cpu(hdr->header_crc))
		return luo_refuse(v, "header checksum mismatch");

	img->used = le64_to_cpu(hdr->used_size);
	img->meta_size = le64_to_cpu(hdr->meta_size);
	img->nr_sessions = le64_to_cpu(hdr->nr_sessions);
	img->nr_files = le64_to_cpu(hdr->nr_files);
	if (img->used < sizeof(*hdr) || img->used > luo_size)
		return luo_refuse(v, "handover larger than the range");
	if (img->meta_size > img->used - sizeof(*hdr))
		return luo_refuse(v, "metadata outside the handover");
	/* The metadata is exactly the records: this bounds every count. */
	if (img->nr_sessions > img->meta_size / sizeof(struct luo_ser_session) ||
	    img->nr_files > img->meta_size / sizeof(struct luo_ser_file) ||
	    img->nr_sessions * sizeof(struct luo_ser_session) +
	    img->nr_files * sizeof(struct luo_ser_file) != img->meta_size)
		return luo_refuse(v, "metadata size does not match its records");
	return true;
}

/*
 * Everything but uniqueness of names and tokens, which the build checks.
 * The caller frees @img whatever the result.
 *
 * Return: 0, 1 if refused (see @v), or -ENOMEM.
 */
static int luo_handover_check(struct luo_image *img, struct luo_verdict *v)
{
	struct luo_extent *ext;
	u64 meta_end, off, s, i, seen = 0, nr_ext = 0;

	if (!luo_check_header(img, v))
		return 1;
	meta_end = sizeof(img->hdr) + img->meta_size;

	img->meta = kvmalloc(img->meta_size ?: 1, GFP_KERNEL_ACCOUNT);
	img->ext = kvmalloc_array(img->nr_files ?: 1, sizeof(*img->ext),
				  GFP_KERNEL_ACCOUNT);
	if (!img->meta || !img->ext)
		return -ENOMEM;
	ext = img->ext;
	memcpy(img->meta, luo_base + sizeof(img->hdr), img->meta_size);
	if (crc32_le(~0U, img->meta, img->meta_size) !=
	    le32_to_cpu(img->hdr.meta_crc))
		return luo_reject(v, "metadata checksum mismatch");

	/* Offsets below are into the metadata copy. */
	off = 0;
	for (s = 0; s < img->nr_sessions; s++) {
		const struct luo_ser_session *ss = img->meta + off;
		size_t len;
		u32 n;

		if (img->meta_size - off < sizeof(*ss))
			return luo_reject(v, "session record outside the metadata");
		len = strnlen(ss->name, sizeof(ss->name));
		if (!len || len == sizeof(ss->name))
			return luo_reject(v, "bad session name");
		if (ss->reserved)
			return luo_reject(v, "non-zero reserved field in a session record");
		off += sizeof(*ss);
		n = le32_to_cpu(ss->nr_files);
		if (n > (img->meta_size - off) / sizeof(struct luo_ser_file) ||
		    n > img->nr_files - seen)
			return luo_reject(v, "file records outside the metadata");
		for (i = 0; i < n; i++) {
			const struct luo_ser_file *f = img->meta + off;

			if (!luo_check_file(f, meta_end, img->used, v))
				return 1;
			if (f->size) {
				ext[nr_ext].off = le64_to_cpu(f->data_off);
				ext[nr_ext].size = le64_to_cpu(f->size);
				nr_ext++;
			}
			off += sizeof(*f);
		}
		seen += n;
		cond_resched();
	}
	if (off != img->meta_size)
		return luo_reject(v, "metadata size does not match its records");
	if (seen != img->nr_files)
		return luo_reject(v, "file count does not match its records");
	if (!luo_check_extents(ext, nr_ext, v))
		return 1;

	/* Only now, with every byte read at most once, the data checksums. */
	off = 0;
	for (s = 0; s < img->nr_sessions; s++) {
		const struct luo_ser_session *ss = img->meta + off;

		off += sizeof(*ss);
		for (i = 0; i < le32_to_cpu(ss->nr_files); i++) {
			const struct luo_ser_file *f = img->meta + off;

			if (luo_data_crc(luo_base + le64_to_cpu(f->data_off),
					 le64_to_cpu(f->size)) !=
			    le32_to_cpu(f->data_crc))
				return luo_reject(v, "file data checksum mismatch");
			off += sizeof(*f);
		}
	}
	return 0;
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
	ret = luo_handover_check(&img, &v);
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
