// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdate: the file handlers the module registers, one line each.
 */

#include <linux/kernel.h>

#include "handler.h"

/* Asked in this order whether they take a file (file.c). */
static int (*const luo_handler_registers[])(void) = {
	luo_memfd_register,
	luo_hugetlb_register,
};

/**
 * luo_handlers_init() - register every file handler, at module init
 *
 * Return: 0, or the first registration's error (those made stay
 * registered: luo_file_exit() lets them go).
 */
int luo_handlers_init(void)
{
	int i, ret;

	for (i = 0; i < ARRAY_SIZE(luo_handler_registers); i++) {
		ret = luo_handler_registers[i]();
		if (ret)
			return ret;
	}
	return 0;
}
