// SPDX-License-Identifier: GPL-2.0
/* /dev/mem access to the handover range: see range.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "range.h"
#include "data_sum.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int lu_range_open(struct lu_range *r, uint64_t addr, uint64_t size, int writable)
{
	const char *e;

	if (!addr && (e = getenv("LU_ADDR")))
		addr = strtoull(e, NULL, 16);
	if (!size && (e = getenv("LU_SIZE")))
		size = strtoull(e, NULL, 10);
	/* $LU_MEM: a file standing in for /dev/mem (tests of the tools on the host) */
	e = getenv("LU_MEM");
	if ((!addr && !(e && *e)) || !size)
		return -EINVAL;
	r->addr = addr;
	r->size = size;
	r->fd = open(e && *e ? e : "/dev/mem",
		     (writable ? O_RDWR : O_RDONLY) | O_SYNC | O_CLOEXEC);
	return r->fd < 0 ? -errno : 0;
}

void lu_range_close(struct lu_range *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

static int lu_range_io(const struct lu_range *r, uint64_t off, void *buf,
		       size_t len, int write)
{
	unsigned char *p = buf;

	if (off > r->size || len > r->size - off)
		return -ERANGE;
	while (len) {
		ssize_t n = write ? pwrite(r->fd, p, len, (off_t)(r->addr + off))
				  : pread(r->fd, p, len, (off_t)(r->addr + off));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

int lu_range_read(const struct lu_range *r, uint64_t off, void *buf, size_t len)
{
	return lu_range_io(r, off, buf, len, 0);
}

int lu_range_write(const struct lu_range *r, uint64_t off, const void *buf, size_t len)
{
	return lu_range_io(r, off, (void *)buf, len, 1);
}

uint32_t lu_crc32_le(uint32_t crc, const void *p, size_t len)
{
	static uint32_t table[256];
	const unsigned char *b = p;

	if (!table[1]) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? (c >> 1) ^ 0xedb88320U : c >> 1;
			table[i] = c;
		}
	}
	while (len--)
		crc = (crc >> 8) ^ table[(crc ^ *b++) & 0xff];
	return crc;
}

uint32_t lu_crc(const void *p, size_t len)
{
	return lu_crc32_le(~0U, p, len);
}

uint32_t lu_header_crc(const struct luo_handover_header *h)
{
	struct luo_handover_header c = *h;

	c.header_crc = 0;
	c.state = 0;
	return lu_crc(&c, sizeof(c));
}

uint32_t lu_header_v2_crc(const struct luo_header_v2 *h)
{
	struct luo_header_v2 c = *h;

	c.header_crc = 0;
	c.state = 0;
	return lu_crc(&c, sizeof(c));
}

int lu_handover_header(const struct lu_range *r, struct lu_handover *ho)
{
	int ret;

	memset(ho, 0, sizeof(*ho));
	ret = lu_range_read(r, 0, &ho->h, r->size < sizeof(ho->h) ? r->size : sizeof(ho->h));
	if (ret)
		return ret;
	if (ho->h.c.magic != LUO_HANDOVER_MAGIC)
		return -ENOENT;
	ho->fmt = ho->h.c.version;
	if (ho->fmt == LUO_FORMAT_V1) {
		ho->hsize = sizeof(ho->h.v1);
		ho->meta_off = ho->h.v1.header_size;
		ho->meta_size = ho->h.v1.meta_size;
		ho->nr_sessions = ho->h.v1.nr_sessions;
		ho->nr_files = ho->h.v1.nr_files;
		ho->end = ho->h.v1.used_size;
		return 0;
	}
	if (ho->fmt == LUO_FORMAT_V2) {
		ho->hsize = sizeof(ho->h.v2);
		ho->meta_off = ho->h.v2.meta_off;
		ho->meta_size = ho->h.v2.meta_size;
		ho->nr_sessions = ho->h.v2.nr_sessions;
		ho->nr_files = ho->h.v2.nr_files;
		ho->end = ho->h.v2.range_size;
		return 0;
	}
	ho->fmt = 0;
	ho->hsize = sizeof(ho->h.c);
	return -EPROTONOSUPPORT;
}

int lu_handover_read(const struct lu_range *r, struct lu_handover *ho)
{
	int ret = lu_handover_header(r, ho);

	if (ret)
		return ret;
	if (ho->meta_off > r->size || ho->meta_size > r->size - ho->meta_off)
		return -EBADMSG;
	ho->meta = malloc(ho->meta_size + 1);
	if (!ho->meta)
		return -ENOMEM;
	ret = lu_range_read(r, ho->meta_off, ho->meta, ho->meta_size);
	if (ret) {
		free(ho->meta);
		ho->meta = NULL;
	}
	return ret;
}

void lu_handover_free(struct lu_handover *ho)
{
	free(ho->meta);
	ho->meta = NULL;
}

uint32_t lu_handover_header_crc(const struct lu_handover *ho)
{
	return ho->fmt == LUO_FORMAT_V2 ? lu_header_v2_crc(&ho->h.v2)
					: lu_header_crc(&ho->h.v1);
}

int lu_handover_write_header(const struct lu_range *r, const struct lu_handover *ho)
{
	return lu_range_write(r, 0, &ho->h, ho->hsize ? ho->hsize : sizeof(ho->h));
}

int lu_range_crc(const struct lu_range *r, uint64_t off, uint64_t len, uint32_t *crc)
{
	static unsigned char buf[1 << 16];
	uint32_t c = ~0U;

	if (off > r->size || len > r->size - off)
		return -ERANGE;
	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);
		int ret = lu_range_read(r, off, buf, n);

		if (ret)
			return ret;
		c = lu_crc32_le(c, buf, n);
		off += n;
		len -= n;
	}
	*crc = c;
	return 0;
}

int lu_range_sum(const struct lu_range *r, uint64_t off, uint64_t len, uint32_t flags,
		 uint32_t *sum)
{
	static unsigned char buf[1 << 16];
	struct luo_sum s;

	if (!(flags & LUO_EXTENT_XXH64))
		return lu_range_crc(r, off, len, sum);
	if (off > r->size || len > r->size - off)
		return -ERANGE;
	luo_sum_init(&s);
	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);
		int ret = lu_range_read(r, off, buf, n);

		if (ret)
			return ret;
		luo_sum_add(&s, buf, n);
		off += n;
		len -= n;
	}
	*sum = luo_sum_final(&s);
	return 0;
}

uint32_t lu_extent_sum(uint32_t flags, const void *p, size_t len)
{
	return flags & LUO_EXTENT_XXH64 ? luo_sum(p, len) : lu_crc(p, len);
}

/*
 * A format 2 memfd or hugetlb payload (the same but for its fixed part:
 * ff->ms gets the hugetlb one's fields, page_shift as flags): sets
 * ff->memfd when its sizes add up.
 */
static void parse_memfd(struct lu_found_file *ff)
{
	uint64_t need, fixed = sizeof(ff->ms);

	ff->memfd = 0;
	if (ff->type == LUO_FILE_TYPE_HUGETLB) {
		struct luo_hugetlb_ser hs;

		fixed = sizeof(hs);
		if (ff->payload_size < fixed)
			return;
		memcpy(&hs, ff->payload, sizeof(hs));
		ff->ms.size = hs.size;
		ff->ms.pos = hs.pos;
		ff->ms.seals = hs.seals;
		ff->ms.flags = hs.page_shift;
		ff->ms.name_len = hs.name_len;
		ff->ms.nr_extents = hs.nr_extents;
	} else if (ff->type != LUO_FILE_TYPE_MEMFD || ff->payload_size < sizeof(ff->ms)) {
		return;
	} else {
		memcpy(&ff->ms, ff->payload, sizeof(ff->ms));
	}
	need = fixed + ((uint64_t)ff->ms.name_len + LUO_HANDOVER_ALIGN - 1) /
	       LUO_HANDOVER_ALIGN * LUO_HANDOVER_ALIGN +
	       (uint64_t)ff->ms.nr_extents * sizeof(struct luo_memfd_extent);
	if (need != ff->payload_size)
		return;
	ff->name = (const char *)ff->payload + fixed;
	ff->ext = (const void *)(ff->payload + ff->payload_size -
				 (uint64_t)ff->ms.nr_extents * sizeof(*ff->ext));
	ff->ext_off = ff->payload_off + ((const unsigned char *)ff->ext - ff->payload);
	ff->f.size = ff->ms.size;
	ff->f.pos = ff->ms.pos;
	ff->f.seals = ff->ms.seals;
	ff->memfd = 1;
}

int lu_handover_walk(const struct lu_handover *ho,
		     int (*fn)(const struct lu_found_file *ff, void *arg), void *arg)
{
	uint64_t off = 0, end = ho->meta_size;
	const unsigned char *m = ho->meta;
	struct lu_found_file ff;
	unsigned int index = 0;

	if (!m)
		return -EBADMSG;
	for (uint64_t s = 0; s < ho->nr_sessions; s++) {
		struct luo_ser_session ses;
		int ret;

		if (end - off < sizeof(ses))
			return -EBADMSG;
		memcpy(&ses, m + off, sizeof(ses));
		memset(&ff, 0, sizeof(ff));
		ff.is_session = 1;
		ff.rec_off = ho->meta_off + off;
		ff.session = (unsigned int)s;
		memcpy(ff.session_name, ses.name, sizeof(ses.name));
		ff.session_name[63] = 0;
		ff.session_files = ses.nr_files;
		ret = fn(&ff, arg);
		if (ret)
			return ret;
		off += sizeof(ses);
		ff.is_session = 0;
		for (uint32_t i = 0; i < ses.nr_files; i++) {
			ff.rec_off = ho->meta_off + off;
			ff.index = index++;
			if (ho->fmt == LUO_FORMAT_V1) {
				if (end - off < sizeof(ff.f))
					return -EBADMSG;
				memcpy(&ff.f, m + off, sizeof(ff.f));
				ff.token = ff.f.token;
				ff.type = ff.f.type;
				off += sizeof(ff.f);
			} else {
				struct luo_ser_file_v2 f2;

				if (end - off < sizeof(f2))
					return -EBADMSG;
				memcpy(&f2, m + off, sizeof(f2));
				off += sizeof(f2);
				memset(&ff.f, 0, sizeof(ff.f));
				ff.token = f2.token;
				ff.type = f2.type;
				ff.payload_size = f2.payload_size;
				if (ff.payload_size > end - off)
					return -EBADMSG;
				ff.payload = m + off;
				ff.payload_off = ho->meta_off + off;
				ff.name = NULL;
				ff.ext = NULL;
				parse_memfd(&ff);
				off += ff.payload_size;
				/* the padding to the next record, if there is one */
				uint64_t pad = (LUO_HANDOVER_ALIGN - ff.payload_size % LUO_HANDOVER_ALIGN) %
					       LUO_HANDOVER_ALIGN;
				off += pad < end - off ? pad : end - off;
			}
			ret = fn(&ff, arg);
			if (ret)
				return ret;
		}
	}
	return 0;
}

const char *lu_state_name(uint32_t state)
{
	switch (state) {
	case LUO_STATE_COMMITTED: return "committed";
	case LUO_STATE_CLAIMED: return "claimed";
	default: return "other";
	}
}
