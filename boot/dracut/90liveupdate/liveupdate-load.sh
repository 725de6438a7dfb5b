#!/bin/sh
# liveupdate-dkms, dracut cmdline hook: loads the liveupdate module early
# (modprobe applies liveupdate.addr=/liveupdate.size= from the command line;
# without them the module reads memmap=SIZE$ADDR). modprobe.blacklist= is
# honoured.
case " $(cat /proc/cmdline) " in
*" memmap="*'$'* | *" liveupdate.addr="*)
	modprobe -b liveupdate || warn "liveupdate: the module did not load"
	;;
esac
