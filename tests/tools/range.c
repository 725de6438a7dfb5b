// SPDX-License-Identifier: GPL-2.0
/* /dev/mem access to the handover range: see range.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "range.h"

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
	if (!addr || !size)
		return -EINVAL;
	r->addr = addr;
	r->size = size;
	r->fd = open("/dev/mem", (writable ? O_RDWR : O_RDONLY) | O_SYNC | O_CLOEXEC);
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

int lu_range_walk(const struct lu_range *r, const struct luo_handover_header *h,
		  int (*fn)(const struct lu_found_file *ff, void *arg), void *arg)
{
	uint64_t off = h->header_size, end;
	struct lu_found_file ff;

	if (h->header_size > r->size || h->meta_size > r->size - h->header_size)
		return -EBADMSG;
	end = h->header_size + h->meta_size;
	for (uint64_t s = 0; s < h->nr_sessions; s++) {
		struct luo_ser_session ses;
		int ret;

		if (off + sizeof(ses) > end)
			return -EBADMSG;
		ret = lu_range_read(r, off, &ses, sizeof(ses));
		if (ret)
			return ret;
		memset(&ff, 0, sizeof(ff));
		ff.is_session = 1;
		ff.rec_off = off;
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
			if (off + sizeof(ff.f) > end)
				return -EBADMSG;
			ret = lu_range_read(r, off, &ff.f, sizeof(ff.f));
			if (ret)
				return ret;
			ff.rec_off = off;
			ret = fn(&ff, arg);
			if (ret)
				return ret;
			off += sizeof(ff.f);
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
