// SPDX-License-Identifier: GPL-2.0
/*
 * module/data_sum.h on the host: the data checksum of format 2 extents
 * (LUO_EXTENT_XXH64) is XXH64, seed 0, low 32 bits, whether the bytes are
 * copied and summed in one pass or summed in pieces. Runs as
 * bin/lut-data-sum-host, TAP names module/host/NAME.
 */
#include "harness.h"
#include "data_sum.h"

#define PAGE 4096

/*
 * Known answers from an independent XXH64 (Debian's xxhsum -H1, xxhash
 * 0.8.1) over the same bytes: v0 4096 zero bytes, v1 4096 bytes
 * (i * 7 + 3) & 255, v2 the 64 bytes 0..63, v3 12288 bytes
 * (i * 131 + i / 4096) & 255.
 */
static const struct {
	const char *name;
	size_t len;
	uint64_t xxh64;
} known[] = {
	{ "v0", PAGE, 0xac869b6f32d8bbdbULL },
	{ "v1", PAGE, 0x796398cd432797ccULL },
	{ "v2", 64, 0xf7c67301db6713f0ULL },
	{ "v3", 3 * PAGE, 0xb8922239fff3e601ULL },
};

static void fill(int which, unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = which == 0 ? 0 : which == 1 ? (unsigned char)(i * 7 + 3) :
		       which == 2 ? (unsigned char)i : (unsigned char)(i * 131 + i / PAGE);
}

static void known_answers(void)
{
	static unsigned char buf[3 * PAGE];

	for (int k = 0; k < (int)LU_ARRAY_SIZE(known); k++) {
		fill(k, buf, known[k].len);
		lu_diag("%s: %zu bytes", known[k].name, known[k].len);
		EXPECT_EQ(luo_sum(buf, known[k].len), (uint32_t)known[k].xxh64);
	}
}

/* luo_sum_copy(): the copy is exact and sums as luo_sum_add() does. */
static void copy_sums_what_it_copies(void)
{
	static unsigned char src[3 * PAGE], dst[3 * PAGE + 64];
	struct luo_sum s;

	fill(3, src, sizeof(src));
	memset(dst, 0xa5, sizeof(dst));
	luo_sum_init(&s);
	for (int i = 0; i < 3; i++)	/* page by page, as the commit does */
		luo_sum_copy(&s, dst + i * PAGE, src + i * PAGE, PAGE);
	EXPECT_EQ(luo_sum_final(&s), (uint32_t)known[3].xxh64);
	EXPECT(!memcmp(dst, src, sizeof(src)));
	for (size_t i = sizeof(src); i < sizeof(dst); i++)	/* nothing past it */
		EXPECT_EQ(dst[i], 0xa5);
	/* an unaligned destination and source copy alike */
	luo_sum_init(&s);
	luo_sum_copy(&s, dst + 8, src, PAGE);
	EXPECT(!memcmp(dst + 8, src, PAGE));
	EXPECT_EQ(luo_sum_final(&s), luo_sum(src, PAGE));
}

/* Summing in pieces of any block multiple gives the one-shot sum. */
static void pieces(void)
{
	static unsigned char buf[3 * PAGE];
	struct luo_sum s;
	size_t off = 0, step = 64;

	fill(3, buf, sizeof(buf));
	luo_sum_init(&s);
	while (off < sizeof(buf)) {
		size_t n = step < sizeof(buf) - off ? step : sizeof(buf) - off;

		luo_sum_add(&s, buf + off, n);
		off += n;
		step = step * 3 % PAGE + 64;	/* 64, 256, 832, ... */
	}
	EXPECT_EQ(s.len, sizeof(buf));
	EXPECT_EQ(luo_sum_final(&s), (uint32_t)known[3].xxh64);
}

/* Any single flipped bit, and two swapped words, change the sum. */
static void detects_changes(void)
{
	static unsigned char buf[PAGE];
	uint32_t good;
	unsigned char t[8];
	int missed = 0;

	fill(1, buf, sizeof(buf));
	good = luo_sum(buf, sizeof(buf));
	for (size_t bit = 0; bit < sizeof(buf) * 8; bit++) {
		buf[bit / 8] ^= (unsigned char)(1 << (bit % 8));
		missed += luo_sum(buf, sizeof(buf)) == good;
		buf[bit / 8] ^= (unsigned char)(1 << (bit % 8));
	}
	EXPECT_EQ(missed, 0);
	memcpy(t, buf, 8);
	memcpy(buf, buf + 8, 8);
	memcpy(buf + 8, t, 8);
	EXPECT(luo_sum(buf, sizeof(buf)) != good);
	/* the length counts: a page of zeros is not two */
	EXPECT(luo_sum((unsigned char[2 * PAGE]){ 0 }, 2 * PAGE) !=
	       luo_sum((unsigned char[PAGE]){ 0 }, PAGE));
}

static const struct lu_test tests[] = {
	LU_TEST_D(known_answers,
		  "luo_sum of 4 buffers equals the low 32 bits of an independent XXH64 (xxhsum -H1) over the same bytes"),
	LU_TEST_D(copy_sums_what_it_copies,
		  "luo_sum_copy page by page copies exactly (nothing past the end, unaligned too) and sums to the known answer"),
	LU_TEST_D(pieces,
		  "summing in pieces of growing block multiples gives the known one-shot sum and length"),
	LU_TEST_D(detects_changes,
		  "every single flipped bit of a page, two swapped words, and a different length change the sum"),
};

int main(int argc, char **argv)
{
	return lu_main("module/host", tests, LU_ARRAY_SIZE(tests), argc, argv);
}
