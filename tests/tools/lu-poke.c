// SPDX-License-Identifier: GPL-2.0
/*
 * lu-poke: look at or damage the handover in the reserved range, through
 * /dev/mem, before the liveupdate module is loaded (it claims the range busy
 * once loaded). The range is $LU_ADDR (hex) / $LU_SIZE (bytes) unless
 * --addr/--size are given.
 *
 *   lu-poke show [--data]   header, state, crc check, sessions and files
 *                           (--data also checks every file's data_crc);
 *                           exit 1 if a crc or a bound is wrong
 *   lu-poke state           prints committed | claimed | other | none
 *   lu-poke data-byte [N]   flips one data byte of the N-th non-empty file
 *                           (default 0); the header and metadata stay valid
 *   lu-poke overlap         points the second non-empty file's data into the
 *                           first's (size cut to fit, data, metadata and
 *                           header crcs fixed: only the overlap is wrong)
 *   lu-poke version V       sets the format version to V and fixes the
 *                           header crc (so only the version is wrong)
 *   lu-poke garbage [SEED]  random bytes over every header field except
 *                           magic, version and state (still reads as a
 *                           committed handover of this version)
 *   lu-poke wipe [SEED]     random bytes over the whole header (magic too)
 *   lu-poke clear           zeroes the header
 *   lu-poke image FILE      writes FILE (a handover image) at the start of
 *                           the range, whatever is there
 *   lu-poke dump            writes the committed handover (its used_size
 *                           bytes from the start of the range) to stdout
 *
 * Damaging commands first check that a committed, valid header is there and
 * fail otherwise. Exit 0 on success, 1 on failure, 2 on bad usage.
 */
#include "range.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct lu_range range = { .fd = -1 };
static struct luo_handover_header hdr;

static int die(const char *fmt, const char *arg)
{
	fprintf(stderr, "lu-poke: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return 1;
}

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static int read_header(void)
{
	int r = lu_range_read(&range, 0, &hdr, sizeof(hdr));

	if (r)
		return die("reading the header: %s", strerror(-r));
	return 0;
}

static int write_header(void)
{
	int r = lu_range_write(&range, 0, &hdr, sizeof(hdr));

	if (r)
		return die("writing the header: %s", strerror(-r));
	return 0;
}

/* a committed header of our version with a good crc: 0, else -1 */
static int valid_header(void)
{
	if (hdr.magic != LUO_HANDOVER_MAGIC)
		return -die("%s: no handover magic in the range", "refusing");
	if (hdr.version != LUO_HANDOVER_VERSION)
		return -die("%s: handover version is not ours", "refusing");
	if (hdr.state != LUO_STATE_COMMITTED)
		return -die("refusing: state is %s, not committed", lu_state_name(hdr.state));
	if (lu_header_crc(&hdr) != hdr.header_crc)
		return -die("%s: header crc does not match", "refusing");
	return 0;
}

struct show_ctx {
	int data;
	int crc_ok;
	unsigned int lines;
	unsigned int bad;
	uint64_t files;
	uint64_t meta_end;	/* end of the last record */
};

static int show_one(const struct lu_found_file *ff, void *arg)
{
	struct show_ctx *c = arg;
	const char *dcrc = "";

	c->meta_end = ff->rec_off + (ff->is_session ? sizeof(struct luo_ser_session)
						    : sizeof(struct luo_ser_file));
	if (ff->is_session) {
		if (c->lines++ < 40)
			printf("session %u \"%s\" files=%u\n", ff->session,
			       ff->session_name, ff->session_files);
		return 0;
	}
	c->files++;
	if (ff->f.data_off + ff->f.size > hdr.used_size || ff->f.data_off % LUO_HANDOVER_ALIGN ||
	    ff->f.data_off < (uint64_t)hdr.header_size + hdr.meta_size) {
		printf("  file token=%#" PRIx64 ": data %#" PRIx64 "+%" PRIu64
		       " outside the data area or misaligned\n", (uint64_t)ff->f.token,
		       (uint64_t)ff->f.data_off, (uint64_t)ff->f.size);
		c->bad++;
	}
	if (c->data && c->crc_ok) {
		uint64_t left = ff->f.size, off = ff->f.data_off;
		uint32_t crc = ~0U;
		static unsigned char buf[1 << 16];

		if (off > range.size || left > range.size - off) {
			dcrc = " data OUT OF RANGE";
			c->bad++;
		} else {
			while (left) {
				size_t n = left < sizeof(buf) ? left : sizeof(buf);

				if (lu_range_read(&range, off, buf, n))
					break;
				crc = lu_crc32_le(crc, buf, n);
				off += n;
				left -= n;
			}
			dcrc = crc == ff->f.data_crc ? " data_crc ok" : " data_crc BAD";
			c->bad += crc != ff->f.data_crc;
		}
	}
	if (c->lines++ < 40)
		printf("  file token=%#" PRIx64 " type=%u seals=%#x size=%" PRIu64
		       " pos=%" PRIu64 " data_off=%#" PRIx64 "%s\n",
		       (uint64_t)ff->f.token, ff->f.type, ff->f.seals,
		       (uint64_t)ff->f.size, (uint64_t)ff->f.pos,
		       (uint64_t)ff->f.data_off, dcrc);
	return 0;
}

static int cmd_show(int data)
{
	struct show_ctx c = { .data = data };
	int r;

	printf("range addr=%#" PRIx64 " size=%" PRIu64 "\n", range.addr, range.size);
	if (hdr.magic != LUO_HANDOVER_MAGIC) {
		printf("no handover (magic %#" PRIx64 ")\n", (uint64_t)hdr.magic);
		return 0;
	}
	c.crc_ok = lu_header_crc(&hdr) == hdr.header_crc;
	printf("magic ok version=%u header_size=%u state=%s (%#x) header_crc=%#x (%s)\n",
	       hdr.version, hdr.header_size, lu_state_name(hdr.state), hdr.state,
	       hdr.header_crc,
	       c.crc_ok ? "ok" : "BAD");
	printf("used_size=%" PRIu64 " meta_size=%" PRIu64 " nr_sessions=%" PRIu64
	       " nr_files=%" PRIu64 " meta_crc=%#x sequence=%" PRIu64 "\n",
	       (uint64_t)hdr.used_size, (uint64_t)hdr.meta_size,
	       (uint64_t)hdr.nr_sessions, (uint64_t)hdr.nr_files, hdr.meta_crc,
	       (uint64_t)hdr.sequence);
	if (!c.crc_ok)
		return 1;
	if (hdr.header_size <= range.size && hdr.meta_size <= range.size - hdr.header_size) {
		unsigned char *meta = malloc(hdr.meta_size + 1);

		if (!meta || lu_range_read(&range, hdr.header_size, meta, hdr.meta_size)) {
			printf("metadata unreadable\n");
			c.bad++;
		} else if (lu_crc(meta, hdr.meta_size) != hdr.meta_crc) {
			printf("meta_crc BAD\n");
			c.bad++;
		} else {
			printf("meta_crc ok\n");
		}
		free(meta);
	} else {
		printf("metadata OUT OF RANGE\n");
		c.bad++;
	}
	r = lu_range_walk(&range, &hdr, show_one, &c);
	if (c.lines > 40)
		printf("... %u more records\n", c.lines - 40);
	if (r)
		return die("walking the metadata: %s", strerror(-r));
	if (c.files != hdr.nr_files) {
		printf("%" PRIu64 " file records, header says %" PRIu64 "\n", c.files,
		       (uint64_t)hdr.nr_files);
		c.bad++;
	}
	if (hdr.nr_sessions && c.meta_end != (uint64_t)hdr.header_size + hdr.meta_size) {
		printf("records end at %#" PRIx64 ", metadata at %#" PRIx64 "\n", c.meta_end,
		       (uint64_t)(hdr.header_size + hdr.meta_size));
		c.bad++;
	}
	if (hdr.used_size > range.size) {
		printf("used_size beyond the range\n");
		c.bad++;
	}
	if (c.bad)
		printf("%u problem(s)\n", c.bad);
	return c.bad ? 1 : 0;
}

struct find_ctx {
	unsigned int want, seen;
	struct lu_found_file found;
	int ok;
};

static int find_nonempty(const struct lu_found_file *ff, void *arg)
{
	struct find_ctx *c = arg;

	if (ff->is_session || ff->f.size == 0)
		return 0;
	if (c->seen++ == c->want) {
		c->found = *ff;
		c->ok = 1;
		return 1;
	}
	return 0;
}

static int cmd_data_byte(unsigned int n)
{
	struct find_ctx c = { .want = n };
	uint64_t off;
	unsigned char b;
	int r;

	if (valid_header() < 0)
		return 1;
	r = lu_range_walk(&range, &hdr, find_nonempty, &c);
	if (r < 0)
		return die("walking the metadata: %s", strerror(-r));
	if (!c.ok)
		return die("%s: no such non-empty file in the handover", "refusing");
	off = c.found.f.data_off + c.found.f.size / 2;
	if (off >= range.size)
		return die("%s: data offset outside the range", "refusing");
	if (lu_range_read(&range, off, &b, 1))
		return die("%s: reading the data byte", "failed");
	b ^= 0xff;
	if (lu_range_write(&range, off, &b, 1))
		return die("%s: writing the data byte", "failed");
	printf("lu-poke: flipped the byte at range offset %#" PRIx64
	       " (session \"%s\", token %#" PRIx64 ", size %" PRIu64 ")\n",
	       off, c.found.session_name, (uint64_t)c.found.f.token,
	       (uint64_t)c.found.f.size);
	return 0;
}

static int cmd_overlap(void)
{
	struct find_ctx a = { .want = 0 }, b = { .want = 1 };
	struct luo_ser_file f;
	unsigned char *buf;
	int r;

	if (valid_header() < 0)
		return 1;
	r = lu_range_walk(&range, &hdr, find_nonempty, &a);
	if (r >= 0)
		r = lu_range_walk(&range, &hdr, find_nonempty, &b);
	if (r < 0)
		return die("walking the metadata: %s", strerror(-r));
	if (!a.ok || !b.ok)
		return die("%s: fewer than two non-empty files in the handover", "refusing");
	f = b.found.f;
	/* starts 8 bytes into the first file's data: they overlap */
	f.data_off = a.found.f.data_off + (a.found.f.size > 8 ? 8 : 0);
	if (f.size > a.found.f.data_off + a.found.f.size - f.data_off)
		f.size = a.found.f.data_off + a.found.f.size - f.data_off;
	buf = malloc(f.size > hdr.meta_size ? f.size : hdr.meta_size);
	if (!buf || lu_range_read(&range, f.data_off, buf, f.size))
		return die("%s: reading the data", "failed");
	f.data_crc = lu_crc(buf, f.size);
	if (lu_range_write(&range, b.found.rec_off, &f, sizeof(f)) ||
	    lu_range_read(&range, hdr.header_size, buf, hdr.meta_size))
		return die("%s: rewriting the file record", "failed");
	hdr.meta_crc = lu_crc(buf, hdr.meta_size);
	hdr.header_crc = lu_header_crc(&hdr);
	free(buf);
	if (write_header())
		return 1;
	printf("lu-poke: token %#" PRIx64 " now has data %#" PRIx64 "+%" PRIu64
	       ", inside token %#" PRIx64 "'s %#" PRIx64 "+%" PRIu64 " (crcs fixed)\n",
	       (uint64_t)f.token, (uint64_t)f.data_off, (uint64_t)f.size,
	       (uint64_t)a.found.f.token, (uint64_t)a.found.f.data_off,
	       (uint64_t)a.found.f.size);
	return 0;
}

static int cmd_version(uint32_t v)
{
	if (valid_header() < 0)
		return 1;
	hdr.version = v;
	hdr.header_crc = lu_header_crc(&hdr);
	if (write_header())
		return 1;
	printf("lu-poke: version set to %u (header crc fixed)\n", v);
	return 0;
}

static int cmd_garbage(uint64_t seed, int all)
{
	struct luo_handover_header g;
	unsigned char *p = (unsigned char *)&g;

	if (!all && valid_header() < 0)
		return 1;
	for (size_t i = 0; i < sizeof(g); i++)
		p[i] = (unsigned char)mix64(seed + i);
	if (!all) {
		g.magic = hdr.magic;
		g.version = hdr.version;
		g.state = hdr.state;
	}
	hdr = g;
	if (write_header())
		return 1;
	printf("lu-poke: %s\n", all ? "garbage over the whole header"
				    : "garbage over the header (magic, version, state kept)");
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: lu-poke [--addr 0xADDR] [--size BYTES] COMMAND\n"
		"  show [--data] | state | data-byte [N] | overlap | version V\n"
		"  | garbage [SEED]\n"
		"  | wipe [SEED] | clear\n");
}

static int cmd_image(const char *path)
{
	static unsigned char buf[1 << 16];
	uint64_t off = 0;
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return die("cannot open %s", path);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (lu_range_write(&range, off, buf, n)) {
			fclose(f);
			return die("%s does not fit the range", path);
		}
		off += n;
	}
	fclose(f);
	printf("lu-poke: wrote %" PRIu64 " bytes of %s into the range\n", off, path);
	return 0;
}

static int cmd_dump(void)
{
	static unsigned char buf[1 << 16];
	uint64_t off = 0, len;

	if (valid_header() < 0)
		return 1;
	len = hdr.used_size;
	while (off < len) {
		size_t n = len - off < sizeof(buf) ? len - off : sizeof(buf);

		if (lu_range_read(&range, off, buf, n))
			return die("%s: reading the range", "failed");
		if (fwrite(buf, 1, n, stdout) != n)
			return die("%s: writing stdout", "failed");
		off += n;
	}
	return fflush(stdout) ? 1 : 0;
}

int main(int argc, char **argv)
{
	uint64_t addr = 0, size = 0;
	const char *cmd;
	int i = 1, r, writable;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while (i + 1 < argc && !strncmp(argv[i], "--", 2)) {
		if (!strcmp(argv[i], "--addr"))
			addr = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--size"))
			size = strtoull(argv[i + 1], NULL, 0);
		else
			break;
		i += 2;
	}
	if (i >= argc) {
		usage();
		return 2;
	}
	cmd = argv[i++];
	writable = strcmp(cmd, "show") && strcmp(cmd, "state");
	r = lu_range_open(&range, addr, size, writable);
	if (r == -EINVAL) {
		fprintf(stderr, "lu-poke: no range: set LU_ADDR/LU_SIZE or --addr/--size\n");
		return 2;
	}
	if (r)
		return die("opening /dev/mem: %s", strerror(-r));
	if (read_header())
		return 1;

	if (!strcmp(cmd, "show"))
		return cmd_show(i < argc && !strcmp(argv[i], "--data"));
	if (!strcmp(cmd, "state")) {
		puts(hdr.magic == LUO_HANDOVER_MAGIC ? lu_state_name(hdr.state) : "none");
		return 0;
	}
	if (!strcmp(cmd, "data-byte"))
		return cmd_data_byte(i < argc ? (unsigned int)strtoul(argv[i], NULL, 0) : 0);
	if (!strcmp(cmd, "overlap"))
		return cmd_overlap();
	if (!strcmp(cmd, "version") && i < argc)
		return cmd_version((uint32_t)strtoul(argv[i], NULL, 0));
	if (!strcmp(cmd, "garbage"))
		return cmd_garbage(i < argc ? strtoull(argv[i], NULL, 0) : 1, 0);
	if (!strcmp(cmd, "wipe"))
		return cmd_garbage(i < argc ? strtoull(argv[i], NULL, 0) : 1, 1);
	if (!strcmp(cmd, "image") && i < argc)
		return cmd_image(argv[i]);
	if (!strcmp(cmd, "dump"))
		return cmd_dump();
	if (!strcmp(cmd, "clear")) {
		memset(&hdr, 0, sizeof(hdr));
		return write_header();
	}
	usage();
	return 2;
}
