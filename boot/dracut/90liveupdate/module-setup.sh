#!/bin/bash
# dracut module of liveupdate-dkms: puts liveupdate.ko into the initramfs and
# loads it before the first PID 1 starts.
#
# systemd looks for /dev/liveupdate once, when it starts up (not again after
# switch_root, where it deserializes its state instead). In a systemd
# initramfs that start-up is the initramfs's own /init = systemd, before any
# hook or service could load a module. So there /init becomes a small script
# (liveupdate-init.sh) that loads the module and then execs systemd as the
# same PID 1. Without systemd in the initramfs, the cmdline hook loads it,
# which is still long before the real root's init starts.

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
	local init
	inst_multiple modprobe mount umount
	inst_hook cmdline 01 "$moddir/liveupdate-load.sh"
	# 00systemd made /init a link to systemd; 99base adds its own /init only
	# without systemd, after us.
	init=$(readlink "$initdir/init" 2>/dev/null) || return 0
	case $init in
	*/systemd) ;;
	*) return 0 ;;
	esac
	[[ $init == /* ]] || init=/$init
	rm -f "$initdir/init"
	sed "s|@SYSTEMD@|$init|" "$moddir/liveupdate-init.sh" >"$initdir/init"
	chmod 755 "$initdir/init"
}
