// SPDX-License-Identifier: GPL-2.0
/* module/ram.c, built into the test module as it is */
#include "../../module/ram.c"
