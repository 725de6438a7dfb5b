#!/bin/sh
# liveupdate-dkms, dracut cmdline hook: loads the liveupdate module early
# when the command line names our range with liveupdate.addr= (modprobe
# applies liveupdate.addr=/liveupdate.size=; a memmap=SIZE$ADDR alone may be
# fenced-off bad RAM, not ours). modprobe.blacklist= is honoured.
case " $(cat /proc/cmdline) " in
*" liveupdate.addr="*)
	modprobe -b liveupdate || warn "liveupdate: the module did not load"
	;;
esac
