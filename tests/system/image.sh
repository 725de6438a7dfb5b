# shellcheck shell=bash
# The Debian images of the system test, built on the host with debootstrap
# and cached under build/system/. Sourced by tests/system/run; expects LU_REPO.
# SYS_SUITE (LU_SYS_SUITE: sid, trixie or bookworm) says which; TAG below is
# SUITE-TOOL.
#
#   build/system/base-TAG/    debootstrap of SUITE: systemd, dkms, kexec-tools, the
#                             initramfs TOOL (initramfs-tools or dracut), the
#                             suite's stock cloud kernel with its headers and
#                             compiler; for the upgrade also sid: trixie's 6.12
#                             with its headers (installed with dpkg -i from
#                             trixie's archive), bookworm with LU_SYS_BACKPORTS=1:
#                             bookworm-backports' 6.12.
#                             Made once (a few minutes); its stamp says from what.
#   build/system/root-TAG/    a copy of base-TAG/ with the project's packages
#                             (built in a chroot of the same suite) installed by
#                             apt install ./*.deb inside it: DKMS builds the
#                             module there and the initramfs is made there by
#                             the initramfs tool. Remade when a package source
#                             changes. The test's own files (tests/system/guest)
#                             are installed on top, again (without remaking the
#                             rest) when they change.
#   build/system/disk-TAG.raw root-TAG/ as an ext4 file system (mkfs.ext4 -d); QEMU
#                             boots it with snapshot=on: it is never changed.
#   build/system/boot-TAG/    the kernels and initramfs images of root-TAG/, for
#                             QEMU's -kernel/-initrd.

# shellcheck source=vm/kernels.sh
. "$LU_REPO/vm/kernels.sh"
# shellcheck source=vm/qemu.sh
. "$LU_REPO/vm/qemu.sh"	# lu_qemu: the launcher vm/run uses too

SYS_DIR=$LU_REPO/build/system
SYS_SUITE=${LU_SYS_SUITE:-sid}
# The initramfs tool: each suite's first choice for its kernel packages
# (sid: dracut; bookworm, trixie: initramfs-tools); LU_SYS_INITRAMFS for the
# other (each has its own base).
# What the suite's -backports adds for an upgrade boot (bookworm: 6.12 with
# LU_SYS_BACKPORTS=1; trixie-backports has 7.3, a kernel the module is not
# ported to: none).
# QEMU for tests/qemu (a VM kept across the kexec: liveupdate-vm) in every
# image: sid's and trixie's own (11.1, 10.0), bookworm-backports' on bookworm
# (bookworm's own 7.2 has no cpr-reboot; SYS_BPO_PKGS come from -backports).
SYS_BACKPORTS='' SYS_EXTRA_PKGS=qemu-system-x86 SYS_BPO_PKGS=''
case $SYS_SUITE in
sid) SYS_INITRAMFS=${LU_SYS_INITRAMFS:-dracut} SYS_GCC=gcc-14 ;;
trixie) SYS_INITRAMFS=${LU_SYS_INITRAMFS:-initramfs-tools} SYS_GCC=gcc-14 ;;
bookworm) SYS_INITRAMFS=${LU_SYS_INITRAMFS:-initramfs-tools} SYS_GCC=gcc-12
	SYS_EXTRA_PKGS='' SYS_BPO_PKGS=qemu-system-x86
	# LU_SYS_BACKPORTS=1: also bookworm-backports' 6.12 (gcc-12), the upgrade
	# a bookworm user makes. Off by default: under bookworm's QEMU 7.2 (TCG,
	# -cpu max) 6.12.95+deb12 crashes right after SLUB's cmpxchg16b, cold
	# booted as well as kexec'd, module or not (vm/README.md); with it on,
	# tests/system/run boots -cpu max,-cx16, where it passes.
	[[ ${LU_SYS_BACKPORTS:-0} == 1 ]] && SYS_BACKPORTS="linux-image-cloud-amd64 linux-headers-cloud-amd64" ;;
*) echo "system: unknown suite $SYS_SUITE (sid, trixie, bookworm)" >&2; exit 2 ;;
esac
SYS_TAG=$SYS_SUITE-$SYS_INITRAMFS
SYS_BASE=$SYS_DIR/base-$SYS_TAG
SYS_ROOT=$SYS_DIR/root-$SYS_TAG
SYS_DISK=$SYS_DIR/disk-$SYS_TAG.raw
SYS_BOOT=$SYS_DIR/boot-$SYS_TAG
# What base-TAG/ is made of (a change remakes it): debootstrap's packages,
# then what apt installs in it (apt, unlike
# debootstrap, takes the initramfs tool already there for the kernel's
# "dracut | initramfs-tools" dependency).
SYS_BOOTSTRAP_PKGS=systemd-sysv,udev,kmod,procps,util-linux,e2fsprogs,zstd,kexec-tools,$SYS_INITRAMFS
# The packages' run-time dependencies beyond systemd (libjson-c5,
# linux-base: debian/control) are here too: the image's package lists are
# dropped, so the later apt install of the .debs finds them only in the base
# (trixie's base had no libjson-c5; bookworm's got it with QEMU).
SYS_APT_PKGS="linux-image-cloud-amd64 linux-headers-cloud-amd64 dkms $SYS_GCC make libjson-c5 linux-base${SYS_EXTRA_PKGS:+ $SYS_EXTRA_PKGS}"
SYS_BASE_VERSION=2

sys_die() { echo "system: $*" >&2; exit 1; }
sys_note() { [[ ${LU_QUIET:-0} == 1 ]] || echo "system: $*" >&2; }

# Unmounts what sys_chroot mounted in DIR, if an interrupted run left it:
# never rm -rf a tree with the host's /dev bound into it.
sys_unmount() {
	local m
	for m in dev/pts dev sys proc; do
		mountpoint -q "$1/$m" 2>/dev/null && umount -l "$1/$m"
	done
	return 0
}

# Runs a command in DIR with /proc, /sys and /dev mounted, in a mount
# namespace of its own: the mounts go away with the command, even when it is
# killed, so no tree under build/ is ever left with the host's /dev bound into
# it (an rm -rf of such a tree empties the host's devtmpfs).
sys_chroot() {
	local dir=$1
	shift
	LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
	unshare --mount --propagation private -- /bin/sh -ec '
		dir=$1
		shift
		mount -t proc proc "$dir/proc"
		mount -t sysfs sys "$dir/sys"
		mount --bind /dev "$dir/dev"
		mount -t devpts devpts "$dir/dev/pts" -o newinstance,ptmxmode=0666 2>/dev/null || true
		exec chroot "$dir" "$@"' sys_chroot "$dir" "$@"
}

sys_base_stamp() {
	local k=''
	# sid's kernels are pinned by lu_kver; a stable suite takes its newest
	[[ $SYS_SUITE == sid ]] && k="$(lu_kver sid) $(lu_kver trixie)"
	echo "v$SYS_BASE_VERSION $SYS_SUITE $SYS_BOOTSTRAP_PKGS $SYS_APT_PKGS${SYS_BACKPORTS:+ backports: $SYS_BACKPORTS}${SYS_BPO_PKGS:+ bpo: $SYS_BPO_PKGS} $k"
}

# build/system/base-TAG/, made once.
sys_base() {
	local stamp log=$SYS_BASE.log
	stamp=$(sys_base_stamp)
	[[ -f $SYS_BASE/.stamp && $(cat "$SYS_BASE/.stamp") == "$stamp" ]] && return 0
	command -v debootstrap >/dev/null ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
	sys_note "debootstrap $SYS_SUITE into $SYS_BASE (several minutes, once; log: $log)"
	sys_unmount "$SYS_BASE"
	rm -rf "$SYS_BASE"
	mkdir -p "$SYS_DIR"
	: >"$log"
	# kexec-tools: the image's own reboot must stay a reboot; the test kexecs
	# with the package's helper.
	# its own mount namespace: the /proc and /sys debootstrap mounts in the
	# target die with it, even when it is killed (then rm -rf stays safe)
	unshare --mount --propagation private -- debootstrap --variant=minbase --include="$SYS_BOOTSTRAP_PKGS" "$SYS_SUITE" "$SYS_BASE" \
		"$(lu_mirror)" >>"$log" 2>&1 || sys_die "debootstrap failed (log: $log)"
	# A stable suite as installed: with its -updates and -security suites
	# (bookworm's main has an older 6.1 point release than its security
	# updates), from the mirrors the host's own sources name.
	if [[ $SYS_SUITE != sid ]]; then
		sys_sources "$SYS_BASE"
		sys_chroot "$SYS_BASE" sh -c 'apt-get update -q && apt-get -y -q full-upgrade' >>"$log" 2>&1 ||
			sys_die "apt-get upgrade failed (log: $log)"
	fi
	# shellcheck disable=SC2086
	sys_chroot "$SYS_BASE" apt-get install -y -q --no-install-recommends $SYS_APT_PKGS \
		>>"$log" 2>&1 || sys_die "installing the kernel failed (log: $log)"
	# bookworm: also bookworm-backports' 6.12 (built with bookworm's gcc-12),
	# the kernel a bookworm user upgrades to: the test's upgrade boot.
	if [[ -n $SYS_BACKPORTS$SYS_BPO_PKGS ]]; then
		# shellcheck disable=SC2086
		sys_chroot "$SYS_BASE" apt-get install -y -q --no-install-recommends \
			-t "$SYS_SUITE-backports" $SYS_BACKPORTS $SYS_BPO_PKGS >>"$log" 2>&1 ||
			sys_die "installing from $SYS_SUITE-backports failed (log: $log)"
	fi
	# sid: trixie's 6.12 too, installed like any kernel package (its
	# postinst makes the initramfs with initramfs-tools), for the upgrade.
	[[ $SYS_SUITE == sid ]] && sys_base_trixie_kernel "$log"
	sys_configure "$SYS_BASE"
	rm -rf "$SYS_BASE"/var/cache/apt/archives/*.deb "$SYS_BASE"/var/lib/apt/lists/*
	echo "$stamp" >"$SYS_BASE/.stamp"
}

# DIR/etc/apt/sources.list.d/debian.sources for SYS_SUITE, -updates and
# -security, with the URIs of the host's /etc/apt/sources.list.d/debian.sources
# (the first one for the archive, the one that ends in -security for that).
sys_sources() {
	local dir=$1 main sec bpo=$SYS_BACKPORTS$SYS_BPO_PKGS
	main=$(lu_mirror)
	sec=$(awk '/^URIs:/ && $2 ~ /-security\/?$/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
	rm -f "$dir/etc/apt/sources.list"
	{
		printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates%s\nComponents: main\n' "$main" "$SYS_SUITE" \
			"$SYS_SUITE" "${bpo:+ $SYS_SUITE-backports}"
		printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
		[[ -z $sec ]] || printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$sec" "$SYS_SUITE"
	} >"$dir/etc/apt/sources.list.d/debian.sources"
}

sys_base_trixie_kernel() {
	local log=$1 tkver debs
	tkver=$(lu_kver trixie)
	debs=$SYS_BASE/tmp/trixie
	lu_kdownload trixie "$debs" "linux-image-$tkver" "linux-headers-$tkver" \
		"linux-headers-${tkver%-cloud-amd64}-common" "linux-kbuild-${tkver%-cloud-amd64}"
	sys_chroot "$SYS_BASE" sh -c 'dpkg -i /tmp/trixie/*.deb' >>"$log" 2>&1 ||
		sys_die "installing trixie's kernel failed (log: $log)"
	rm -rf "$debs"
}

# What makes the image quick to boot under TCG and usable by the test.
sys_configure() {
	local r=$1 u
	echo "lu-$SYS_SUITE" >"$r/etc/hostname"
	printf '/dev/vda / ext4 rw,noatime 0 1\n' >"$r/etc/fstab"
	echo 'LOAD_KEXEC=false' >"$r/etc/default/kexec"
	# No root password: the console is the test's only door.
	chroot "$r" passwd -d root >/dev/null
	for u in getty@tty1.service serial-getty@ttyS0.service systemd-timesyncd.service \
		apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service \
		fstrim.timer dpkg-db-backup.timer man-db.timer systemd-networkd-wait-online.service \
		kexec-load.service kexec.service; do
		ln -sf /dev/null "$r/etc/systemd/system/$u"
	done
	ln -sf /usr/lib/systemd/system/multi-user.target "$r/etc/systemd/system/default.target"
}

# ---- the package ------------------------------------------------------------

SYS_PKGCHROOT=$SYS_DIR/pkgchroot-$SYS_SUITE
SYS_DEBS=$SYS_DIR/debs-$SYS_SUITE

# A chroot of the suite with Debian's packaging tools (the shared module
# build chroot is left alone), made once: the packages are built where they
# are installed, against that suite's libc and debhelper.
sys_pkgchroot() {
	local log=$SYS_PKGCHROOT.log pkgs=build-essential,dpkg-dev,debhelper,dh-dkms,libjson-c-dev,libsystemd-dev
	[[ -f $SYS_PKGCHROOT/.stamp && $(cat "$SYS_PKGCHROOT/.stamp") == "$pkgs" ]] && return 0
	sys_note "debootstrap $SYS_SUITE with $pkgs into $SYS_PKGCHROOT (once; log: $log)"
	sys_unmount "$SYS_PKGCHROOT"
	rm -rf "$SYS_PKGCHROOT"
	mkdir -p "$SYS_DIR"
	# its own mount namespace: the /proc and /sys debootstrap mounts in the
	# target die with it, even when it is killed (then rm -rf stays safe)
	unshare --mount --propagation private -- debootstrap --variant=minbase --include="$pkgs" "$SYS_SUITE" "$SYS_PKGCHROOT" "$(lu_mirror)" \
		>"$log" 2>&1 || sys_die "debootstrap of the packaging chroot failed (log: $log)"
	echo "$pkgs" >"$SYS_PKGCHROOT/.stamp"
}

# dpkg-buildpackage -b -us -uc of the working tree (tracked and new files) in
# the suite's chroot; the .debs land in build/system/debs-SUITE/. Prints
# their paths.
sys_build_debs() {
	local src=$SYS_PKGCHROOT/build/liveupdate log=$SYS_DIR/dpkg-buildpackage-$SYS_SUITE.log
	sys_pkgchroot
	rm -rf "$SYS_PKGCHROOT/build"
	mkdir -p "$src" "$SYS_DEBS"
	(cd "$LU_REPO" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$src")
	sys_chroot "$SYS_PKGCHROOT" sh -c 'cd /build/liveupdate && dpkg-buildpackage -b -us -uc' \
		>"$log" 2>&1 || { tail -n 30 "$log" >&2; sys_die "dpkg-buildpackage failed (log: $log)"; }
	rm -f "$SYS_DEBS"/*.deb
	cp "$SYS_PKGCHROOT"/build/*.deb "$SYS_DEBS/"
	ls "$SYS_DEBS"/*.deb
}

# ---- the image the VMs boot -------------------------------------------------

SYS_KEY_FILE=$SYS_DIR/root-$SYS_TAG.key
SYS_FILES_KEY_FILE=$SYS_DIR/root-$SYS_TAG.files.key

# What the installed packages are made from: a change remakes the root.
# debian/tests/ is in no package (tests/package/autopkgtest runs it against
# the packages made here): a change there remakes nothing, so a seeded
# defect in it (tests/mutants) runs against the shared image as it is.
sys_root_key() {
	(cd "$LU_REPO" && git ls-files -co --exclude-standard -z debian boot tools module include vmm common \
		agent cli lib Makefile COPYING LICENSES ':!debian/tests' |
		sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1 | sed "s/\$/ $(sys_base_stamp | sha256sum | cut -c1-16)/"
}

# What the test's own files are made from: a change reinstalls them.
sys_files_key() {
	(cd "$LU_REPO" && git ls-files -co --exclude-standard -z tests/system tests/qemu |
		sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1
}

# The test's services and its driver for the suite (lu-sys on sid, lu-hold
# on the others), into root-TAG/; the broker and liveupdatectl come from the
# packages.
sys_install_files() {
	local g=$LU_REPO/tests/system/guest driver=lu-hold
	[[ $SYS_SUITE == sid ]] && driver=lu-sys
	install -d "$SYS_ROOT/usr/local/lib/lu-sys"
	gcc -static -O2 -Wall -Wextra -Werror -o "$SYS_ROOT/usr/local/lib/lu-sys/lu-fdstore" \
		"$g/lu-fdstore.c" || sys_die "building lu-fdstore failed"
	gcc -static -O2 -Wall -Wextra -Werror -o "$SYS_ROOT/usr/local/lib/lu-sys/lu-connect" \
		"$g/lu-connect.c" || sys_die "building lu-connect failed"
	install -m 755 "$g/lu-client" "$SYS_ROOT/usr/local/lib/lu-sys/"
	install -m 755 "$g/$driver" "$SYS_ROOT/usr/local/lib/lu-sys/driver"
	install -m 644 "$g/lu-fdstore.service" "$g/lu-sys.service" "$g/lu-client.service" \
		"$SYS_ROOT/etc/systemd/system/"
	ln -sf /etc/systemd/system/lu-sys.service "$SYS_ROOT/etc/systemd/system/multi-user.target.wants/lu-sys.service"
	sys_install_qemu_files
	# PID 1 logs at debug level in the test: journald must not drop its
	# messages (the restore lines the test looks for among them).
	mkdir -p "$SYS_ROOT/etc/systemd/journald.conf.d"
	printf '[Journal]\nStorage=persistent\nRateLimitIntervalSec=0\n' \
		>"$SYS_ROOT/etc/systemd/journald.conf.d/lu.conf"
}

# tests/qemu's files (every suite: lu-qemu.service runs only with lu.qemu): its driver, the counter guest (built here), the
# two VMs' liveupdate-vm configurations and a drop-in that copies
# liveupdate-vm's lines to the console. liveupdate-vm comes from its package.
sys_install_qemu_files() {
	local q=$LU_REPO/tests/qemu d=$SYS_ROOT/usr/local/lib/lu-qemu
	install -d "$d" "$SYS_ROOT/etc/liveupdate/vm" "$SYS_ROOT/etc/systemd/system/liveupdate-vm@.service.d"
	make -s -C "$q/guest" O="$SYS_DIR/lu-guest" >/dev/null || sys_die "building the counter guest failed"
	install -m 644 "$SYS_DIR/lu-guest/lu-guest.elf" "$d/"
	install -m 755 "$q/image/lu-qemu" "$d/driver"
	install -m 644 "$q/image/small.conf" "$q/image/big.conf" "$SYS_ROOT/etc/liveupdate/vm/"
	install -m 644 "$q/image/liveupdate-vm-console.conf" \
		"$SYS_ROOT/etc/systemd/system/liveupdate-vm@.service.d/console.conf"
	install -m 644 "$q/image/lu-qemu.service" "$SYS_ROOT/etc/systemd/system/"
	ln -sf /etc/systemd/system/lu-qemu.service "$SYS_ROOT/etc/systemd/system/multi-user.target.wants/lu-qemu.service"
}

# disk-TAG.raw and boot-TAG/ from root-TAG/.
sys_make_disk() {
	local log=$SYS_DIR/install-$SYS_TAG.log
	rm -rf "$SYS_BOOT"
	mkdir -p "$SYS_BOOT"
	cp "$SYS_ROOT"/boot/vmlinuz-* "$SYS_ROOT"/boot/initrd.img-* "$SYS_BOOT/"
	sys_note "making $SYS_DISK (mkfs.ext4 -d)"
	rm -f "$SYS_DISK"
	mkfs.ext4 -q -F -L lu-sys -d "$SYS_ROOT" "$SYS_DISK" 6G >>"$log" 2>&1 ||
		sys_die "mkfs.ext4 failed (log: $log)"
}

# build/system/root-TAG/, disk-TAG.raw and boot-TAG/: the packages built,
# installed in a copy of the base with apt, and the test's own files added.
# Under a lock: tests/system and tests/qemu share the sid image, and the
# runner may start both at once (the second waits, then finds it made).
sys_image() {
	local lock rc
	mkdir -p "$SYS_DIR"
	exec {lock}>"$SYS_DIR/.lock-$SYS_TAG"
	flock "$lock"
	sys_image_locked
	rc=$?
	exec {lock}>&-
	return $rc
}

sys_image_locked() {
	local key fkey log=$SYS_DIR/install-$SYS_TAG.log debs
	sys_base
	key=$(sys_root_key) fkey=$(sys_files_key)
	if [[ -s $SYS_DISK && -d $SYS_ROOT && -f $SYS_KEY_FILE && $(cat "$SYS_KEY_FILE") == "$key" ]]; then
		if [[ -f $SYS_FILES_KEY_FILE && $(cat "$SYS_FILES_KEY_FILE") == "$fkey" ]]; then
			sys_note "image up to date ($SYS_DISK)"
			return 0
		fi
		sys_note "packages up to date; installing the test's files again"
		rm -f "$SYS_FILES_KEY_FILE"
		sys_install_files
		sys_make_disk
		echo "$fkey" >"$SYS_FILES_KEY_FILE"
		return 0
	fi
	rm -f "$SYS_KEY_FILE" "$SYS_FILES_KEY_FILE"
	sys_note "building the packages (dpkg-buildpackage -b in the $SYS_SUITE chroot)"
	mapfile -t debs < <(sys_build_debs)
	((${#debs[@]})) || sys_die "no package built"
	sys_note "installing ${debs[*]##*/} in a copy of the image (apt install; DKMS, the initramfs tool)"
	sys_unmount "$SYS_ROOT"
	rm -rf "$SYS_ROOT"
	cp -a "$SYS_BASE" "$SYS_ROOT"
	mkdir -p "$SYS_ROOT/tmp/debs"
	cp "${debs[@]}" "$SYS_ROOT/tmp/debs/"
	rm -f "$SYS_ROOT"/tmp/debs/*-dbgsym_*.deb	# what a user installs: no debug symbols
	# kexec-tools as a fresh unattended install configures it (the base
	# turned its reboot handling off for its own boots): bookworm's
	# debconf default load_kexec=true, its services unmasked. The test
	# reboots at the end and checks that a plain reboot stays a reboot.
	rm -f "$SYS_ROOT/etc/default/kexec" "$SYS_ROOT/etc/systemd/system/kexec-load.service" \
		"$SYS_ROOT/etc/systemd/system/kexec.service"
	sys_chroot "$SYS_ROOT" sh -c '{ echo "RESET kexec-tools/load_kexec" | debconf-communicate || true; } &&
		DEBIAN_FRONTEND=noninteractive dpkg-reconfigure kexec-tools' >"$log" 2>&1 ||
		{ tail -n 30 "$log" >&2; sys_die "dpkg-reconfigure kexec-tools failed (log: $log)"; }
	# As a user would: apt install of the local files (their dependencies
	# are in the base already; its package lists are dropped).
	sys_chroot "$SYS_ROOT" sh -c 'apt-get install -y --no-install-recommends /tmp/debs/*.deb' \
		>>"$log" 2>&1 || { tail -n 30 "$log" >&2; sys_die "apt install failed (log: $log)"; }
	rm -rf "$SYS_ROOT/tmp/debs"
	sys_install_files
	sys_make_disk
	echo "$key" >"$SYS_KEY_FILE"
	echo "$fkey" >"$SYS_FILES_KEY_FILE"
}
