# tests/ram, boot 2 (after the kexec): the checks, one "@@RAM PASS|FAIL NAME" line each
set -u
A=$((LU_ADDR)) S=$LU_SIZE NR=${LRT_PAGES:-65536}
pass() { echo "@@RAM PASS $*"; }
fail() { echo "@@RAM FAIL $*"; }
log_has() { dmesg | grep -q "$1"; }
log_line() { dmesg | grep "$1" | tail -1 | sed 's/^\[[^]]*\] //'; }

insmod /opt/lu/luo_ram_test.ko || fail insmod
BS=$((0x$(cat /sys/devices/system/memory/block_size_bytes)))
FIRST=$((A / BS)) N=$((S / BS))
echo "@@RAM INFO kernel $(uname -r) block $BS range $LU_ADDR+$S blocks memory$FIRST..memory$((FIRST + N - 1)) cmdline: $(cat /proc/cmdline)"

if lrt probe $((A + BS / 2)) "$BS"; then
	fail probe-unaligned "accepted"
elif log_has "not aligned to and sized in the memory block size"; then
	pass probe-unaligned "$(log_line 'not aligned')"
else
	fail probe-unaligned "no log line"
fi

insmod /opt/lu/luo_cb_hog.ko || fail insmod-hog
if lrt probe "$A" "$S"; then
	fail callback-owner "accepted while luo_cb_hog owns the callback"
elif log_has "another driver owns the online-page callback"; then
	pass callback-owner "$(log_line 'another driver owns')"
else
	fail callback-owner "no log line"
fi
rmmod luo_cb_hog || fail rmmod-hog

if lrt probe "$A" "$S"; then pass probe "range accepted"; else fail probe "refused"; fi
grep -q 'System RAM (liveupdate)' /proc/iomem && fail iomem-before "already added"
lrt add
log_line 'added as System RAM'
grep -i -B1 -A1 'liveupdate' /proc/iomem
if grep -q 'System RAM (liveupdate)' /proc/iomem; then pass iomem "$(grep 'liveupdate' /proc/iomem | tr -s ' ')"; else fail iomem "no resource"; fi
lrt add && pass add-again "same range: 0"

bad=0 info=
i=$FIRST
while [ $i -lt $((FIRST + N)) ]; do
	st=$(cat /sys/devices/system/memory/memory$i/state)
	z=$(cat /sys/devices/system/memory/memory$i/valid_zones)
	info="$info memory$i=$st/$z"
	[ "$st" = online ] && [ "$z" != Movable ] || bad=1
	i=$((i + 1))
done
if [ $bad = 0 ]; then pass online-normal "$info"; else fail online-normal "$info"; fi
echo "@@RAM INFO auto_online_blocks=$(cat /sys/devices/system/memory/auto_online_blocks) after the add"

if echo offline >/sys/devices/system/memory/memory$FIRST/state 2>/tmp/err; then
	fail offline-veto "memory$FIRST went offline"
elif [ "$(cat /sys/devices/system/memory/memory$FIRST/state)" = online ]; then
	pass offline-veto "refused: $(cat /tmp/err | sed 's/.*: //')"
else
	fail offline-veto "write failed but state $(cat /sys/devices/system/memory/memory$FIRST/state)"
fi

lrt zc "$NR"

if rmmod luo_ram_test 2>/dev/null; then fail module-pinned "unloaded"; else pass module-pinned "rmmod refused"; fi

sync
if dmesg | grep -E -q 'WARNING:|BUG:|Bad page|Call Trace|bad_page|shmem.*leak|nonzero'; then
	fail dmesg-clean "$(dmesg | grep -E 'WARNING:|BUG:|Bad page|Call Trace' | head -3 | tr '\n' '|')"
else
	pass dmesg-clean "no WARN/BUG/Bad page/Call Trace"
fi
dmesg | grep -E 'liveupdate|luo_ram' | tail -20
exit 0
