#!/bin/sh
# liveupdate-dkms: /init of a systemd initramfs made by dracut. Loads the
# liveupdate module (modprobe applies liveupdate.addr=/liveupdate.size=; -b
# honours modprobe.blacklist=) when the command line names our range
# (liveupdate.addr=; a memmap=SIZE$ADDR alone may be fenced-off bad RAM), then
# becomes systemd, keeping PID 1: systemd finds /dev/liveupdate when it starts
# and restores the fd stores handed over across the kexec.
# The module reads /proc/cmdline, /proc/iomem and the firmware memory map
# in /sys/firmware/memmap to check the range: mount both for it, and leave
# the mounts to systemd afterwards.
mounted= sysmounted=
if [ ! -r /proc/cmdline ]; then
	mount -t proc proc /proc && mounted=1
fi
if [ ! -d /sys/firmware ]; then
	mount -t sysfs sysfs /sys && sysmounted=1
fi
read -r cmdline </proc/cmdline
case " $cmdline " in
*" liveupdate.addr="*)
	modprobe -b liveupdate || echo "liveupdate: the module did not load" >/dev/kmsg
	;;
esac
[ -n "$sysmounted" ] && umount /sys
[ -n "$mounted" ] && umount /proc
exec @SYSTEMD@ "$@"
