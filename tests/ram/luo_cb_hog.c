// SPDX-License-Identifier: GPL-2.0
/* A second owner of the online-page callback, as virtio-mem or a balloon is. */
#include <linux/memory_hotplug.h>
#include <linux/module.h>

static void hog_online_page(struct page *page, unsigned int order)
{
	generic_online_page(page, order);
}

static int __init hog_init(void)
{
	return set_online_page_callback(hog_online_page);
}

static void __exit hog_exit(void)
{
	restore_online_page_callback(hog_online_page);
}

module_init(hog_init);
module_exit(hog_exit);
MODULE_DESCRIPTION("tests/ram: a second owner of the online-page callback");
MODULE_LICENSE("GPL");
