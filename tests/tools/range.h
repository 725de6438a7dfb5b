/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Access to the reserved handover range through /dev/mem (only possible
 * while the liveupdate module is not loaded: once loaded it claims the range
 * busy), and the handover layout of module/handover_format.h.
 */
#ifndef LU_TEST_RANGE_H
#define LU_TEST_RANGE_H

#include <stddef.h>
#include <stdint.h>

#include "handover_format.h"

struct lu_range {
	int fd;
	uint64_t addr;	/* physical address */
	uint64_t size;	/* bytes */
};

/*
 * Opens /dev/mem for the range at @addr/@size, or (when 0) at $LU_ADDR
 * (hex) / $LU_SIZE (decimal bytes). 0 or -errno.
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
/* the header crc (header_crc and state read as zero) */
uint32_t lu_header_crc(const struct luo_handover_header *h);

/* a record found in the metadata */
struct lu_found_file {
	int is_session;			/* a session record (f is unset) */
	uint64_t rec_off;		/* offset of the record in the range */
	unsigned int session;		/* index of its session */
	char session_name[64];
	unsigned int session_files;	/* its nr_files */
	struct luo_ser_file f;		/* the file record, host-endian (x86) */
};

/*
 * Walks the metadata: calls @fn for every session record and then each of
 * its file records (stops when @fn returns non-zero, and returns that
 * value). 0 when walked, -errno (-EBADMSG for records out of bounds).
 */
int lu_range_walk(const struct lu_range *r, const struct luo_handover_header *h,
		  int (*fn)(const struct lu_found_file *ff, void *arg), void *arg);

const char *lu_state_name(uint32_t state);

#endif /* LU_TEST_RANGE_H */
