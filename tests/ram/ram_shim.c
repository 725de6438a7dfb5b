// SPDX-License-Identifier: GPL-2.0
/* module/ram.c and ram_give.c, built into the test module as they are */
#include "../../module/ram.c"
#include "../../module/ram_give.c"
