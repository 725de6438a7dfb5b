/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * liveupdate: the checksum of memfd data in a format 2 handover
 * (LUO_EXTENT_XXH64): the low 32 bits of XXH64, seed 0, over the extent's
 * pages in order. Plain C on <linux/types.h>, so the kernel module and the
 * userspace tools share it.
 *
 * Why not crc32 (LUO_EXTENT_CRC, still read): the kernel's crc32_le() walks
 * tables a byte lane at a time and, in the commit, made copying five to
 * eight times slower than the copy alone. XXH64's four independent 64-bit
 * lanes (a multiply, a rotate, a multiply per word) run as fast as the copy
 * when fused with it (luo_sum_copy(): each word is loaded once, stored and
 * mixed). It catches corruption as well as a crc of the same width would,
 * except that a crc is guaranteed to catch any burst of up to 32 bits; a
 * hash only with probability 1 - 2^-32. Neither is proof against an
 * attacker: the range is only as trusted as the machine's RAM.
 *
 * Lengths given to luo_sum_add() and luo_sum_copy() are multiples of
 * LUO_SUM_BLOCK (pages always are).
 */
#ifndef _LIVEUPDATE_DATA_SUM_H
#define _LIVEUPDATE_DATA_SUM_H

#include <linux/types.h>

#define LUO_SUM_BLOCK	64

/* XXH64's primes. */
#define LUO_SUM_P1	0x9E3779B185EBCA87ULL
#define LUO_SUM_P2	0xC2B2AE3D27D4EB4FULL
#define LUO_SUM_P3	0x165667B19E3779F9ULL
#define LUO_SUM_P4	0x85EBCA77C2B2AE63ULL

/**
 * struct luo_sum - a checksum under way
 * @v:   the four lanes.
 * @len: bytes added so far.
 */
struct luo_sum {
	__u64 v[4];
	__u64 len;
};

static inline __u64 luo_sum_rotl(__u64 x, unsigned int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline __u64 luo_sum_round(__u64 acc, __u64 word)
{
	return luo_sum_rotl(acc + word * LUO_SUM_P2, 31) * LUO_SUM_P1;
}

static inline __u64 luo_sum_load(const unsigned char *p)
{
	__u64 w;

	__builtin_memcpy(&w, p, sizeof(w));	/* little-endian machines */
	return w;
}

static inline void luo_sum_store(unsigned char *p, __u64 w)
{
	__builtin_memcpy(p, &w, sizeof(w));
}

static inline void luo_sum_init(struct luo_sum *s)
{
	s->v[0] = LUO_SUM_P1 + LUO_SUM_P2;
	s->v[1] = LUO_SUM_P2;
	s->v[2] = 0;
	s->v[3] = 0 - LUO_SUM_P1;
	s->len = 0;
}

/*
 * Copies @len bytes from @src to @dst and adds them to @s in one pass: each
 * word is loaded once, then stored and mixed. Written out word by word with
 * the lanes in locals: an array of words or of lanes here ran at half the
 * speed under QEMU.
 */
static inline void luo_sum_copy(struct luo_sum *s, void *dst, const void *src,
				__u64 len)
{
	const unsigned char *p = src;
	unsigned char *d = dst;
	__u64 a = s->v[0], b = s->v[1], c = s->v[2], e = s->v[3];
	__u64 off;

	for (off = 0; off + LUO_SUM_BLOCK <= len; off += LUO_SUM_BLOCK) {
		__u64 w0 = luo_sum_load(p + off), w1 = luo_sum_load(p + off + 8);
		__u64 w2 = luo_sum_load(p + off + 16), w3 = luo_sum_load(p + off + 24);
		__u64 w4 = luo_sum_load(p + off + 32), w5 = luo_sum_load(p + off + 40);
		__u64 w6 = luo_sum_load(p + off + 48), w7 = luo_sum_load(p + off + 56);

		luo_sum_store(d + off, w0);
		luo_sum_store(d + off + 8, w1);
		luo_sum_store(d + off + 16, w2);
		luo_sum_store(d + off + 24, w3);
		luo_sum_store(d + off + 32, w4);
		luo_sum_store(d + off + 40, w5);
		luo_sum_store(d + off + 48, w6);
		luo_sum_store(d + off + 56, w7);
		a = luo_sum_round(a, w0);
		b = luo_sum_round(b, w1);
		c = luo_sum_round(c, w2);
		e = luo_sum_round(e, w3);
		a = luo_sum_round(a, w4);
		b = luo_sum_round(b, w5);
		c = luo_sum_round(c, w6);
		e = luo_sum_round(e, w7);
	}
	s->v[0] = a;
	s->v[1] = b;
	s->v[2] = c;
	s->v[3] = e;
	s->len += off;
}

/* Adds @len bytes at @src to @s. */
static inline void luo_sum_add(struct luo_sum *s, const void *src, __u64 len)
{
	const unsigned char *p = src;
	__u64 a = s->v[0], b = s->v[1], c = s->v[2], e = s->v[3];
	__u64 off;

	for (off = 0; off + LUO_SUM_BLOCK <= len; off += LUO_SUM_BLOCK) {
		a = luo_sum_round(a, luo_sum_load(p + off));
		b = luo_sum_round(b, luo_sum_load(p + off + 8));
		c = luo_sum_round(c, luo_sum_load(p + off + 16));
		e = luo_sum_round(e, luo_sum_load(p + off + 24));
		a = luo_sum_round(a, luo_sum_load(p + off + 32));
		b = luo_sum_round(b, luo_sum_load(p + off + 40));
		c = luo_sum_round(c, luo_sum_load(p + off + 48));
		e = luo_sum_round(e, luo_sum_load(p + off + 56));
	}
	s->v[0] = a;
	s->v[1] = b;
	s->v[2] = c;
	s->v[3] = e;
	s->len += off;
}

static inline __u64 luo_sum_merge(__u64 h, __u64 lane)
{
	return (h ^ luo_sum_round(0, lane)) * LUO_SUM_P1 + LUO_SUM_P4;
}

/* The checksum of what was added: XXH64's finish, low 32 bits. */
static inline __u32 luo_sum_final(const struct luo_sum *s)
{
	__u64 h;

	if (!s->len)	/* XXH64 of nothing; never stored (no empty extent) */
		return 0x51d8e999;
	h = luo_sum_rotl(s->v[0], 1) + luo_sum_rotl(s->v[1], 7) +
	    luo_sum_rotl(s->v[2], 12) + luo_sum_rotl(s->v[3], 18);
	h = luo_sum_merge(h, s->v[0]);
	h = luo_sum_merge(h, s->v[1]);
	h = luo_sum_merge(h, s->v[2]);
	h = luo_sum_merge(h, s->v[3]);
	h += s->len;
	h ^= h >> 33;
	h *= LUO_SUM_P2;
	h ^= h >> 29;
	h *= LUO_SUM_P3;
	h ^= h >> 32;
	return (__u32)h;
}

/* The checksum of @len bytes (a multiple of LUO_SUM_BLOCK). */
static inline __u32 luo_sum(const void *p, __u64 len)
{
	struct luo_sum s;

	luo_sum_init(&s);
	luo_sum_add(&s, p, len);
	return luo_sum_final(&s);
}

#endif /* _LIVEUPDATE_DATA_SUM_H */
