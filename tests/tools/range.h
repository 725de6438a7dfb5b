/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Access to the reserved handover range through /dev/mem (only possible
 * while the liveupdate module is not loaded: once loaded it claims the range
 * busy), and the handover layouts of module/handover_format.h (format 1 and
 * format 2, told apart by the header's version field) and
 * module/memfd_format.h. Nothing here trusts the range: every walk checks
 * its bounds and says what it could not follow.
 */
#ifndef LU_TEST_RANGE_H
#define LU_TEST_RANGE_H

#include <stddef.h>
#include <stdint.h>

#include "handover_format.h"
#include "memfd_format.h"

struct lu_range {
	int fd;
	uint64_t addr;	/* physical address */
	uint64_t size;	/* bytes */
};

/*
 * Opens /dev/mem for the range at @addr/@size, or (when 0) at $LU_ADDR
 * (hex) / $LU_SIZE (decimal bytes). 0 or -errno. $LU_MEM names a file to
 * use instead of /dev/mem (physical address = file offset), for trying the
 * tools on the host.
 */
int lu_range_open(struct lu_range *r, uint64_t addr, uint64_t size, int writable);
void lu_range_close(struct lu_range *r);
/* 0 or -errno (-ERANGE outside the range, -EIO on a short transfer) */
int lu_range_read(const struct lu_range *r, uint64_t off, void *buf, size_t len);
int lu_range_write(const struct lu_range *r, uint64_t off, const void *buf, size_t len);

/* the kernel's crc32_le(): reflected 0xedb88320, no inversion */
uint32_t lu_crc32_le(uint32_t crc, const void *p, size_t len);

/* the format's checksum: crc32_le seeded with ~0, result not inverted */
uint32_t lu_crc(const void *p, size_t len);
/* the header crcs (header_crc and state read as zero), format 1 and 2 */
uint32_t lu_header_crc(const struct luo_handover_header *h);
uint32_t lu_header_v2_crc(const struct luo_header_v2 *h);

/* The first bytes of the range: a header of either format. */
union lu_header {
	struct {		/* the five fields every version starts with */
		uint64_t magic;
		uint32_t version;
		uint32_t header_size;
		uint32_t state;
		uint32_t header_crc;
	} c;
	struct luo_handover_header v1;
	struct luo_header_v2 v2;
};

/*
 * A handover found in the range: its header and where its metadata is,
 * whatever the format (fields host-endian, x86).
 */
struct lu_handover {
	union lu_header h;
	uint32_t fmt;		/* LUO_FORMAT_V1 or LUO_FORMAT_V2 */
	uint64_t hsize;		/* sizeof the header struct of that format */
	uint64_t meta_off;	/* v1: the header's size; v2: meta_off */
	uint64_t meta_size;
	uint64_t nr_sessions;
	uint64_t nr_files;
	uint64_t end;		/* v1: used_size; v2: range_size */
	unsigned char *meta;	/* lu_handover_read(): a copy of the metadata */
};

/*
 * Reads the header. 0 for a handover of format 1 or 2 (any state, crc not
 * checked), -ENOENT without the magic, -EPROTONOSUPPORT for another version,
 * -errno if unreadable.
 */
int lu_handover_header(const struct lu_range *r, struct lu_handover *ho);
/*
 * lu_handover_header(), then a copy of the metadata into ho->meta (free it
 * with lu_handover_free()): -EBADMSG if the metadata is not inside the range.
 */
int lu_handover_read(const struct lu_range *r, struct lu_handover *ho);
void lu_handover_free(struct lu_handover *ho);
/* the header crc as the handover's format computes it */
uint32_t lu_handover_header_crc(const struct lu_handover *ho);
/* writes ho->h (hsize bytes) at the start of the range */
int lu_handover_write_header(const struct lu_range *r, const struct lu_handover *ho);

/* a record found in the metadata */
struct lu_found_file {
	int is_session;			/* a session record (the rest is unset) */
	uint64_t rec_off;		/* offset of the record in the range */
	unsigned int session;		/* index of its session */
	char session_name[64];
	unsigned int session_files;	/* its nr_files */
	/* a file record, either format */
	unsigned int index;		/* files before it in the metadata */
	uint64_t token;
	uint32_t type;
	/* format 1: the record (size, pos, seals, data_off, data_crc) */
	struct luo_ser_file f;
	/* format 2 */
	uint32_t payload_size;
	uint64_t payload_off;		/* offset of the payload in the range */
	const unsigned char *payload;	/* in ho->meta */
	int memfd;			/* 1: a memfd payload whose sizes add up */
	struct luo_memfd_ser ms;	/* memfd: its fixed part */
	const char *name;		/* memfd: ms.name_len bytes, no NUL */
	const struct luo_memfd_extent *ext;	/* memfd: ms.nr_extents, in ho->meta */
	uint64_t ext_off;		/* memfd: offset of ext[0] in the range */
};

/*
 * Walks the metadata copy of lu_handover_read(): calls @fn for every
 * session record and then each of its file records (stops when @fn returns
 * non-zero, and returns that value). 0 when walked, -EBADMSG for records
 * out of bounds.
 */
int lu_handover_walk(const struct lu_handover *ho,
		     int (*fn)(const struct lu_found_file *ff, void *arg), void *arg);

/* A format 2 extent's range bytes: page * LUO_PAGE_SIZE, count pages. */
static inline uint64_t lu_extent_off(const struct luo_memfd_extent *e)
{
	return (uint64_t)e->page * LUO_PAGE_SIZE;
}

static inline uint64_t lu_extent_len(const struct luo_memfd_extent *e)
{
	return (uint64_t)e->count * LUO_PAGE_SIZE;
}

/*
 * crc32 (the format's) of @len range bytes at @off, read in pieces: 0 or
 * -errno (-ERANGE outside the range).
 */
int lu_range_crc(const struct lu_range *r, uint64_t off, uint64_t len, uint32_t *crc);
/*
 * The checksum an extent's @flags name (LUO_EXTENT_XXH64: data_sum.h;
 * otherwise crc32) of @len range bytes at @off: as lu_range_crc().
 */
int lu_range_sum(const struct lu_range *r, uint64_t off, uint64_t len, uint32_t flags,
		 uint32_t *sum);
/* The same of @len bytes in memory (a multiple of LUO_SUM_BLOCK for XXH64). */
uint32_t lu_extent_sum(uint32_t flags, const void *p, size_t len);

const char *lu_state_name(uint32_t state);

#endif /* LU_TEST_RANGE_H */
