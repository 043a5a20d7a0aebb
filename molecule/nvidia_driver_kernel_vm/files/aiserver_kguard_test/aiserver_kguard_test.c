// SPDX-License-Identifier: GPL-2.0
/*
 * aiserver.gpu test bed (molecule/nvidia_driver_kernel_vm): a real out-of-tree kernel
 * module that DKMS builds like the NVIDIA driver's, in seconds instead of ~10 minutes
 * under TCG. It does nothing; the kernel guard checks that `modinfo -k KERNEL` finds it.
 */
#include <linux/init.h>
#include <linux/module.h>

static int __init aiserver_kguard_test_init(void)
{
	return 0;
}

static void __exit aiserver_kguard_test_exit(void)
{
}

module_init(aiserver_kguard_test_init);
module_exit(aiserver_kguard_test_exit);
MODULE_LICENSE("GPL");
MODULE_VERSION("1.0");
MODULE_DESCRIPTION("aiserver.gpu test bed: a DKMS module for the kernel guard's scenario");
