// SPDX-License-Identifier: GPL-2.0
/*
 * The configuration file reader (common/conf.h): "KEY = VALUE" lines,
 * comments and blank lines; every other line is an error that names the
 * file and the line.
 */
#include "conf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static char *trim(char *s)
{
	size_t n;

	while (blank(*s))
		s++;
	n = strlen(s);
	while (n && blank(s[n - 1]))
		s[--n] = 0;
	return s;
}

static bool key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* One line (no newline) of @path: 0, or -errno with @msg set. */
static int conf_line(char *text, unsigned int line, lu_conf_fn fn, void *ctx, char *msg,
		     size_t len)
{
	char *key = trim(text), *eq, *val;

	if (!*key || *key == '#' || *key == ';')
		return 0;
	eq = strchr(key, '=');
	if (!eq) {
		snprintf(msg, len, "\"%s\" is not KEY = VALUE", key);
		return -EINVAL;
	}
	*eq = 0;
	val = trim(eq + 1);
	key = trim(key);
	if (!*key) {
		snprintf(msg, len, "no key before '='");
		return -EINVAL;
	}
	for (const char *c = key; *c; c++) {
		if (!key_char(*c)) {
			snprintf(msg, len, "\"%s\" is not a key (letters, digits, '-' and '_')", key);
			return -EINVAL;
		}
	}
	return fn(ctx, key, val, line, msg, len);
}

int lu_conf_read(const char *path, lu_conf_fn fn, void *ctx, char *err, size_t len)
{
	char *text = NULL, msg[512];
	unsigned int line = 0;
	size_t cap = 0;
	ssize_t n;
	FILE *f = fopen(path, "re");
	int r = 0;

	if (!f) {
		r = -errno;
		snprintf(err, len, "%s: %s", path, strerror(-r));
		return r;
	}
	while ((n = getline(&text, &cap, f)) >= 0) {
		line++;
		msg[0] = 0;
		if (n && text[n - 1] == '\n')
			text[--n] = 0;
		if (n > LU_CONF_LINE_MAX) {
			snprintf(msg, sizeof(msg), "longer than %d bytes", LU_CONF_LINE_MAX);
			r = -EINVAL;
		} else if (memchr(text, 0, (size_t)n)) {
			snprintf(msg, sizeof(msg), "a NUL byte");
			r = -EINVAL;
		} else {
			r = conf_line(text, line, fn, ctx, msg, sizeof(msg));
		}
		if (r)
			break;
	}
	if (!r && ferror(f)) {
		r = -EIO;
		snprintf(err, len, "%s: read error", path);
	} else if (r) {
		snprintf(err, len, "%s:%u: %s", path, line, msg);
	}
	free(text);
	fclose(f);
	return r;
}
