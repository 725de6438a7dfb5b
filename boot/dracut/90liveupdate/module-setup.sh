#!/bin/bash
# dracut module of liveupdate-dkms: puts liveupdate.ko into the initramfs and
# loads it from the cmdline hook, before the real root's PID 1 starts.

check() {
	# Only where DKMS built the module for this kernel.
	modinfo -k "$kernel" liveupdate >/dev/null 2>&1 || return 1
	return 0
}

depends() {
	return 0
}

installkernel() {
	hostonly='' instmods liveupdate
}

install() {
	inst_hook cmdline 01 "$moddir/liveupdate-load.sh"
}
