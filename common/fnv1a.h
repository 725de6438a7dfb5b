/* SPDX-License-Identifier: GPL-2.0 */
/*
 * FNV-1a, 64 bits: a stable, dependency-free hash where a value must be the
 * same in every boot and every build (the broker's unit keys, liveupdate-vm's
 * state record). Not for anything an attacker chooses to collide.
 */
#ifndef LIVEUPDATE_FNV1A_H
#define LIVEUPDATE_FNV1A_H

#include <stddef.h>
#include <stdint.h>

#define LU_FNV1A64_START 0xcbf29ce484222325ULL

/* @h hashed on over @n bytes at @p (start with LU_FNV1A64_START). */
static inline uint64_t lu_fnv1a64(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

#endif
