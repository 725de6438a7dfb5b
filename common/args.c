// SPDX-License-Identifier: GPL-2.0
/*
 * The values liveupdatectl and liveupdated take on their command lines
 * (common/args.h). No strtoull() leniency: no leading blanks or signs, and
 * every character must be used.
 */
#include "args.h"

#include <errno.h>
#include <stdbool.h>

static int digit(char c, unsigned int base)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (base == 16 && c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (base == 16 && c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The digits at *@s in @base; *@s moved past them. */
static int parse_digits(const char **s, unsigned int base, uint64_t *out)
{
	uint64_t v = 0;
	bool any = false;
	int d;

	while ((d = digit(**s, base)) >= 0) {
		if (v > (UINT64_MAX - (uint64_t)d) / base)
			return -ERANGE;
		v = v * base + (uint64_t)d;
		any = true;
		(*s)++;
	}
	if (!any)
		return -EINVAL;
	*out = v;
	return 0;
}

int lu_parse_size(const char *s, uint64_t *out)
{
	unsigned int base = 10, shift = 0;
	uint64_t v;
	int r;

	if (!s)
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	r = parse_digits(&s, base, &v);
	if (r)
		return r;
	switch (*s) {
	case 'K': case 'k': shift = 10; s++; break;
	case 'M': case 'm': shift = 20; s++; break;
	case 'G': case 'g': shift = 30; s++; break;
	case 'T': case 't': shift = 40; s++; break;
	}
	if (*s)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

int lu_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	uint64_t v;
	int r;

	if (!s)
		return -EINVAL;
	r = parse_digits(&s, 10, &v);
	if (r)
		return r;
	if (*s)
		return -EINVAL;
	if (v > max)
		return -ERANGE;
	*out = (unsigned long)v;
	return 0;
}
