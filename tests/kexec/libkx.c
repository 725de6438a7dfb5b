// SPDX-License-Identifier: GPL-2.0
/*
 * libliveupdate across a kexec: stage1 preserves a buffer, a file's contents
 * and a manifest through the library; stage2 finds them by manifest name,
 * reads them back with liveupdate_retrieve_buffer() and finishes.
 */
#include "kx.h"
#include "libliveupdate.h"

#define LIBKX_SIZE 300001

static void libkx_stage1(void)
{
	int dev = CHECK_OK(liveupdate_open(LIVEUPDATE_OPEN_WAIT));
	int s = CHECK_OK(liveupdate_create_session(dev, "kx-lib"));
	int src = CHECK_OK(lu_memfd("kx-lib-src", 0, LIBKX_SIZE, 77));
	const struct liveupdate_manifest_entry e[] = {
		{ 0x10, "greeting" }, { 0xffffffffffffff01ULL, "blob" }, { 5, "empty" },
	};

	CHECK_EQ(liveupdate_preserve_buffer(s, 0x10, "hello, next kernel", 18), 0);
	CHECK_EQ(liveupdate_preserve_file(s, 0xffffffffffffff01ULL, src), 0);
	CHECK_EQ(liveupdate_preserve_buffer(s, 5, NULL, 0), 0);
	CHECK_EQ(liveupdate_manifest_write(s, e, LU_ARRAY_SIZE(e)), 0);
	close(src);
	close(dev);
	kx_hold(&s, 1);
}

static void libkx_stage2(void)
{
	int dev = CHECK_OK(liveupdate_open(LIVEUPDATE_OPEN_WAIT));
	int s = CHECK_OK(liveupdate_retrieve_session(dev, "kx-lib"));
	struct liveupdate_manifest_entry *e = NULL;
	char name[LIVEUPDATE_NAME_MAX + 1];
	size_t n = 0, len = 0;
	uint64_t tok = 0;
	void *buf = NULL;
	int src;

	CHECK_EQ(liveupdate_session_name(s, name), 0);
	EXPECT_STR(name, "kx-lib");
	CHECK_EQ(liveupdate_manifest_read(s, &e, &n), 0);
	CHECK_EQ(n, 3);
	CHECK_EQ(liveupdate_manifest_find(e, n, "greeting", &tok), 0);
	CHECK_EQ(liveupdate_retrieve_buffer(s, tok, &buf, &len), 0);
	EXPECT_EQ(len, 18);
	EXPECT(!memcmp(buf, "hello, next kernel", 18));
	free(buf);
	CHECK_EQ(liveupdate_manifest_find(e, n, "empty", &tok), 0);
	CHECK_EQ(liveupdate_retrieve_buffer(s, tok, &buf, &len), 0);
	EXPECT_EQ(len, 0);
	free(buf);
	CHECK_EQ(liveupdate_manifest_find(e, n, "blob", &tok), 0);
	EXPECT_EQ(tok, 0xffffffffffffff01ULL);
	CHECK_EQ(liveupdate_retrieve_buffer(s, tok, &buf, &len), 0);
	EXPECT_EQ(len, LIBKX_SIZE);
	src = CHECK_OK(liveupdate_memfd_from_buffer("kx-lib-check", buf, len));
	EXPECT_EQ(lu_compare(src, 0, LIBKX_SIZE, 77), 0);
	close(src);
	free(buf);
	free(e);
	EXPECT_EQ(liveupdate_finish(s), 0);
	EXPECT_EQ(liveupdate_retrieve_fd(s, 0x10), -ENOENT);
	close(s);
	close(dev);
}

KX_SCENARIO(kx_lib, "lib",
	    { "stage1", libkx_stage1,
	      "libliveupdate preserves an 18-byte buffer, an empty one, a file's contents under token 0xffffffffffffff01 and a manifest naming them" },
	    { "stage2", libkx_stage2,
	      "by manifest: 3 entries; 'greeting' is the 18 bytes, 'empty' 0 bytes, 'blob' the file's bytes under its token; liveupdate_finish 0, then the tokens ENOENT" });
