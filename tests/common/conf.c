// SPDX-License-Identifier: GPL-2.0
/*
 * common/conf.c on the host: the configuration file reader every program
 * uses (liveupdated.conf), with each setting it hands on and each refusal's
 * exact message (file and line). Runs as bin/lut-conf-host, TAP names
 * conf/host/NAME.
 */
#include "harness.h"
#include "conf.h"

#include <fcntl.h>
#include <stdlib.h>

static char dir[] = "/tmp/lut-conf-XXXXXX";
static char path[64];

/* Writes @len bytes of @text as the file to read. */
static void put(const char *text, size_t len)
{
	int fd;

	if (!path[0]) {
		CHECK(mkdtemp(dir) != NULL);
		snprintf(path, sizeof(path), "%s/c.conf", dir);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, text, len), (ssize_t)len);
	close(fd);
}

/* What the callback saw: "key=value@line;" for each, or its refusal. */
struct seen {
	char log[2048];
	const char *refuse;	/* this key is refused with -ERANGE, "no" */
};

static int record(void *ctx, const char *key, const char *value, unsigned int line, char *err,
		  size_t len)
{
	struct seen *s = ctx;
	size_t n = strlen(s->log);

	if (s->refuse && !strcmp(key, s->refuse)) {
		snprintf(err, len, "%s: no", key);
		return -ERANGE;
	}
	snprintf(s->log + n, sizeof(s->log) - n, "%s=%s@%u;", key, value, line);
	return 0;
}

/* Reads @text; returns the result, the log in @log, the message in @err. */
static int read_text(const char *text, size_t len, struct seen *s, char *err, size_t errlen)
{
	put(text, len);
	s->log[0] = 0;
	err[0] = 0;
	return lu_conf_read(path, record, s, err, errlen);
}

static void settings(void)
{
	static const char text[] =
		"# a comment\n"
		"\n"
		"   ; another comment\n"
		"max-sessions=4\n"
		"  max_bytes   =  64M  \n"
		"\tempty =\n"
		"with-eq = a=b # not a comment\n"
		"last = no newline";
	struct seen s = { 0 };
	char err[256];

	EXPECT_EQ(read_text(text, sizeof(text) - 1, &s, err, sizeof(err)), 0);
	EXPECT_STR(s.log, "max-sessions=4@4;max_bytes=64M@5;empty=@6;with-eq=a=b # not a comment@7;"
		   "last=no newline@8;");
	EXPECT_STR(err, "");
	/* an empty file: nothing */
	EXPECT_EQ(read_text("", 0, &s, err, sizeof(err)), 0);
	EXPECT_STR(s.log, "");
	/* CRLF line ends */
	EXPECT_EQ(read_text("a = 1\r\nb=2\r\n", 12, &s, err, sizeof(err)), 0);
	EXPECT_STR(s.log, "a=1@1;b=2@2;");
}

static void refusals(void)
{
	static const struct {
		const char *text;
		int r;
		const char *msg;	/* after "PATH:" */
		const char *log;	/* what was handed on before */
	} c[] = {
		{ "a = 1\nno equals sign\n", -EINVAL, "2: \"no equals sign\" is not KEY = VALUE",
		  "a=1@1;" },
		{ "[Broker]\nmax-files = 2\n", -EINVAL, "1: \"[Broker]\" is not KEY = VALUE", "" },
		{ "  = 5\n", -EINVAL, "1: no key before '='", "" },
		{ "max sessions = 5\n", -EINVAL,
		  "1: \"max sessions\" is not a key (letters, digits, '-' and '_')", "" },
		{ "a.b = 5\n", -EINVAL, "1: \"a.b\" is not a key (letters, digits, '-' and '_')", "" },
		{ "a = 1\n\nrefused = 3\nb = 4\n", -ERANGE, "3: refused: no", "a=1@1;" },
	};
	struct seen s = { .refuse = "refused" };
	char err[256], want[256];

	for (size_t i = 0; i < LU_ARRAY_SIZE(c); i++) {
		EXPECT_EQ(read_text(c[i].text, strlen(c[i].text), &s, err, sizeof(err)), c[i].r);
		snprintf(want, sizeof(want), "%s:%s", path, c[i].msg);
		EXPECT_STR(err, want);
		EXPECT_STR(s.log, c[i].log);
	}
}

/* A NUL byte, a line of 1024 bytes (1023 is the most), a file not there. */
static void bad_bytes(void)
{
	struct seen s = { 0 };
	char err[256], want[256], line[1100];

	EXPECT_EQ(read_text("a = 1\nb = x\0y\n", 14, &s, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: a NUL byte", path);
	EXPECT_STR(err, want);
	EXPECT_STR(s.log, "a=1@1;");

	memset(line, 'x', sizeof(line));
	memcpy(line, "k = ", 4);
	line[1023] = '\n';
	EXPECT_EQ(read_text(line, 1024, &s, err, sizeof(err)), 0);
	EXPECT_EQ(strlen(s.log), 2 + 1019 + 3);	/* "k=", 1019 x, "@1;" */
	line[1023] = 'x';
	line[1024] = '\n';
	EXPECT_EQ(read_text(line, 1025, &s, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:1: longer than 1023 bytes", path);
	EXPECT_STR(err, want);
	EXPECT_STR(s.log, "");

	snprintf(want, sizeof(want), "%s/none.conf", dir);
	EXPECT_EQ(lu_conf_read(want, record, &s, err, sizeof(err)), -ENOENT);
	strcat(want, ": No such file or directory");
	EXPECT_STR(err, want);
	unlink(path);
	rmdir(dir);
}

static const struct lu_test tests[] = {
	LU_TEST_D(settings,
		  "comments (#, ;), blank lines, blanks around key and value, an empty value, '=' in a value, CRLF and a last line without newline: exactly the settings with their line numbers"),
	LU_TEST_D(refusals,
		  "no '=', a [section], no key, a blank or '.' in a key: -EINVAL and exactly 'PATH:LINE: ...'; a refusal of the caller stops there with its errno and message"),
	LU_TEST_D(bad_bytes,
		  "a NUL byte: -EINVAL 'PATH:2: a NUL byte'; 1023 bytes read, 1024 'longer than 1023 bytes'; a missing file -ENOENT 'PATH: No such file or directory'"),
};

int main(int argc, char **argv)
{
	return lu_main("conf/host", tests, LU_ARRAY_SIZE(tests), argc, argv);
}
