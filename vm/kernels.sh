# shellcheck shell=bash
# Debian's stock cloud kernels: which ones the project supports, where their
# images come from, and the module built for each. Sourced by vm/lib.sh and
# module/build-for; expects LU_REPO (the repository root).
#
#   bookworm | 6.1    Debian 12's kernel, the host's own suite: image from the
#                     host's APT sources, module built on the host (gcc-12)
#   trixie   | 6.12   Debian 13 } image and headers through a private APT
#   sid      | 7.2    unstable  } configuration per suite, module built in a
#                                 debootstrap chroot of sid (gcc-14, gcc-16)
#
# Nothing foreign is installed on the host: packages are downloaded and
# unpacked under build/. Everything is cached:
#   build/apt/SUITE/            private APT state (lists refreshed only when
#                               missing, or with LU_APT_REFRESH=1)
#   build/kernels/SUITE.kver    the suite's kernel version (same rule)
#   build/kernels/KVER/vmlinuz  the kernel image
#   build/module/KVER/          liveupdate.ko, its build log, and a stamp of
#                               the sources it was built from: a rebuild
#                               happens only when a module source changed
#   build/chroot/sid/           the build chroot, created once

LU_KSUITES=(bookworm trixie sid)
LU_KBUILD=$LU_REPO/build
LU_CHROOT=$LU_KBUILD/chroot/sid

lu_kdie() { echo "kernels: $*" >&2; exit 1; }
lu_knote() { [[ ${LU_QUIET:-0} == 1 ]] || echo "kernels: $*" >&2; }

# bookworm|6.1, trixie|6.12, sid|unstable|7.2 -> the suite name.
lu_ksuite() {
	case $1 in
	bookworm | 6.1) echo bookworm ;;
	trixie | 6.12) echo trixie ;;
	sid | unstable | 7.2) echo sid ;;
	bpo | bookworm-backports) echo bookworm-backports ;;
	*) lu_kdie "unknown kernel '$1' (want bookworm|6.1, trixie|6.12, sid|7.2 or bpo)" ;;
	esac
}

# 6.12.117+deb13-cloud-amd64 -> 6.12 (what tests and tables call a kernel).
lu_kshort() {
	local v=${1%%[-+]*}
	echo "${v%.*}"
}

lu_mirror() {
	awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources
}

# apt-get/apt-cache with SUITE's private configuration (not for bookworm,
# which is the host's own). Usage: lu_kapt SUITE apt-get|apt-cache ARGS...
lu_kapt() {
	local suite=$1 tool=$2 dir=$LU_KBUILD/apt/$1
	shift 2
	"$tool" -o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
		-o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" \
		-o Dir::State::status=/dev/null -o Acquire::Check-Valid-Until=false \
		-o APT::Sandbox::User=root "$@"
}

lu_kapt_lists() {
	local suite=$1 dir=$LU_KBUILD/apt/$1
	if [[ -s $dir/sources.list && ${LU_APT_REFRESH:-0} != 1 ]] &&
		compgen -G "$dir/lists/*_Packages*" >/dev/null; then
		return 0
	fi
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	echo "deb $(lu_mirror) $suite main" >"$dir/sources.list"
	lu_knote "refreshing the $suite package lists"
	lu_kapt "$suite" apt-get update -qq >/dev/null || lu_kdie "apt-get update ($suite) failed"
}

# The suite's cloud kernel version, e.g. 7.2.13+deb14-cloud-amd64.
lu_kver() {
	local suite=$1 cache=$LU_KBUILD/kernels/$1.kver dep
	if [[ $suite == bookworm ]]; then
		dep=$(dpkg-query -W -f='${Depends}' linux-headers-cloud-amd64 2>/dev/null) ||
			lu_kdie "linux-headers-cloud-amd64 is not installed (vm/deps.sh)"
		dep=${dep%%[ ,]*}
		[[ $dep == linux-headers-*-cloud-amd64 ]] ||
			lu_kdie "unexpected dependency of linux-headers-cloud-amd64: $dep"
		echo "${dep#linux-headers-}"
		return 0
	fi
	if [[ -s $cache && ${LU_APT_REFRESH:-0} != 1 ]]; then
		cat "$cache"
		return 0
	fi
	lu_kapt_lists "$suite"
	dep=$(lu_kapt "$suite" apt-cache depends linux-headers-cloud-amd64 |
		awk '/Depends: linux-headers-[0-9]/ { print $2; exit }')
	[[ $dep == linux-headers-*-cloud-amd64 ]] || lu_kdie "no cloud kernel headers in $suite"
	mkdir -p "$LU_KBUILD/kernels"
	echo "${dep#linux-headers-}" >"$cache"
	cat "$cache"
}

# Downloads PACKAGE... of SUITE into DIR (host APT for bookworm).
lu_kdownload() {
	local suite=$1 dir=$2
	shift 2
	mkdir -p "$dir"
	if [[ $suite == bookworm ]]; then
		apt-cache show "$@" >/dev/null 2>&1 || apt-get update -qq
		# apt prints the mirror it used: keep that out of every file.
		(cd "$dir" && apt-get download -qq -o APT::Sandbox::User=root "$@") >/dev/null 2>&1
	else
		lu_kapt_lists "$suite"
		(cd "$dir" && lu_kapt "$suite" apt-get download -qq "$@") >/dev/null 2>&1
	fi || lu_kdie "downloading $* ($suite) failed"
}

# Path of SUITE's vmlinuz, extracted once. sid splits the image package:
# the vmlinuz is in linux-binary-KVER, under usr/lib/modules/KVER/.
lu_kimage() {
	local suite=$1 kver dir pkg tmp f
	kver=$(lu_kver "$suite")
	dir=$LU_KBUILD/kernels/$kver
	if [[ ! -s $dir/vmlinuz ]]; then
		pkg=linux-image-$kver
		[[ $suite == sid ]] && pkg=linux-binary-$kver
		lu_knote "fetching $pkg"
		tmp=$dir/tmp
		rm -rf "$tmp"
		lu_kdownload "$suite" "$tmp" "$pkg"
		dpkg -x "$tmp"/"$pkg"_*.deb "$tmp/root"
		for f in "$tmp/root/boot/vmlinuz-$kver" "$tmp/root/usr/lib/modules/$kver/vmlinuz"; do
			[[ -s $f ]] && cp "$f" "$dir/vmlinuz"
		done
		rm -rf "$tmp"
		[[ -s $dir/vmlinuz ]] || lu_kdie "no vmlinuz in $pkg"
	fi
	echo "$dir/vmlinuz"
}

# Extra modules of SUITE's kernel, for tests that need swap (zram) or a
# block device (loop): decompressed into $LU_KBUILD/kernels/KVER/kmod/, with
# NAME.deps listing in load order the modules NAME needs and NAME itself
# (what is built in is left out). Fetched once. Prints the directory.
lu_kmods() {
	local suite=$1 kver dir tmp pkg m
	kver=$(lu_kver "$suite")
	dir=$LU_KBUILD/kernels/$kver/kmod
	if [[ ! -e $dir/.done ]]; then
		pkg=linux-image-$kver
		[[ $suite == sid ]] && pkg=linux-modules-$kver
		lu_knote "fetching $pkg (zram, loop)"
		tmp=$LU_KBUILD/kernels/$kver/kmod.tmp
		rm -rf "$tmp" "$dir"
		mkdir -p "$dir"
		lu_kdownload "$suite" "$tmp" "$pkg"
		dpkg -x "$tmp"/"$pkg"_*.deb "$tmp/root"
		for m in zram loop; do lu_kmod_take "$tmp/root" "$dir" "$m" >"$dir/$m.deps"; done
		rm -rf "$tmp"
		touch "$dir/.done"
	fi
	echo "$dir"
}

# Copies module M from the unpacked package TREE into DIR (decompressed),
# after the modules it needs (its .modinfo depends=), and prints their
# names in load order; a module not in TREE is built in and left out.
lu_kmod_take() {
	local tree=$1 dir=$2 m=$3 f d
	f=$(find "$tree" \( -name "$m.ko" -o -name "$m.ko.xz" -o -name "${m//_/-}.ko" \
		-o -name "${m//_/-}.ko.xz" \) | head -n 1)
	[[ -n $f ]] || return 0
	case $f in
	*.xz) xz -dc "$f" >"$dir/$m.ko" ;;
	*) cp "$f" "$dir/$m.ko" ;;
	esac
	for d in $(strings "$dir/$m.ko" | sed -n 's/^depends=//p' | tr ',' ' '); do
		lu_kmod_take "$tree" "$dir" "$d"
	done
	echo "$m"
}

# What the module is built from: a change here means a rebuild.
lu_module_stamp() {
	local kver=$1
	(cd "$LU_REPO" && cat module/Kbuild module/Makefile module/*.[ch] include/uapi/linux/*.h) |
		sha256sum | cut -d' ' -f1 | sed "s/\$/ $kver/"
}

lu_chroot_ensure() {
	[[ -x $LU_CHROOT/usr/bin/make ]] && return 0
	command -v debootstrap >/dev/null ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
	lu_knote "debootstrap sid into $LU_CHROOT (a minute or two, once)"
	# Into a temporary directory, renamed when complete: an interrupted run
	# never leaves a half chroot that looks usable.
	rm -rf "$LU_CHROOT" "$LU_CHROOT.tmp"
	mkdir -p "$(dirname "$LU_CHROOT")"
	# its own mount namespace: the /proc and /sys debootstrap mounts in the
	# target die with it, even when it is killed (then rm -rf stays safe)
	unshare --mount --propagation private -- debootstrap --variant=minbase \
		--include=make,gcc-14,gcc-16,libc6-dev,pahole,libelf1t64,libssl3t64,zlib1g \
		sid "$LU_CHROOT.tmp" "$(lu_mirror)" >"$LU_KBUILD/chroot/debootstrap.log" 2>&1 ||
		lu_kdie "debootstrap failed (log: $LU_KBUILD/chroot/debootstrap.log)"
	mv "$LU_CHROOT.tmp" "$LU_CHROOT"
}

# Unpacks SUITE's headers, common headers and kbuild into the chroot, once.
lu_chroot_headers() {
	local suite=$1 kver=$2 kbase=${2%-cloud-amd64} tmp
	[[ -f $LU_CHROOT/usr/src/linux-headers-$kver/.config ]] && return 0
	tmp=$LU_KBUILD/apt/$suite/debs
	rm -rf "$tmp"
	lu_kdownload "$suite" "$tmp" "linux-headers-$kver" "linux-headers-$kbase-common" \
		"linux-kbuild-$kbase"
	for f in "$tmp"/*.deb; do dpkg -x "$f" "$LU_CHROOT"; done
	rm -rf "$tmp"
}

# bookworm-backports' kernels are built with bookworm's gcc-12: the module is
# built on the host, with the headers, common headers and kbuild unpacked
# under build/kernels/KVER/hdr/ and overlaid on /usr in a private mount
# namespace (the host's /usr is not changed).
lu_bpo_make() {
	local kver=$1 src=$2 log=$3 kbase=${1%-cloud-amd64} hdr tmp f
	hdr=$LU_KBUILD/kernels/$kver/hdr
	if [[ ! -f $hdr/usr/src/linux-headers-$kver/.config ]]; then
		tmp=$LU_KBUILD/kernels/$kver/debs
		rm -rf "$tmp" "$hdr"
		lu_kdownload bookworm-backports "$tmp" "linux-headers-$kver" \
			"linux-headers-$kbase-common" "linux-kbuild-$kbase"
		for f in "$tmp"/*.deb; do dpkg -x "$f" "$hdr"; done
		rm -rf "$tmp"
	fi
	unshare -m bash -c 'mount -t overlay overlay -o "lowerdir=$1/usr:/usr" /usr &&
		make -C "$2/module" KDIR="/usr/src/linux-headers-$3" CC=gcc-12 CONFIG_DEBUG_INFO_BTF_MODULES=' _ \
		"$hdr" "$src" "$kver" >"$log" 2>&1
}

# Runs make for the module in DIR (a copy of module/ and include/) against
# KDIR, in the chroot (bookworm: on the host). Output to the log.
lu_module_make() {
	local suite=$1 kver=$2 src=$3 log=$4 kdir cc bdir
	if [[ $suite == bookworm ]]; then
		kdir=/usr/src/linux-headers-$kver
		[[ -d $kdir ]] || lu_kdie "no kernel headers at $kdir (vm/deps.sh)"
		make -C "$src/module" KDIR="$kdir" >"$log" 2>&1
		return
	fi
	if [[ $suite == bookworm-backports ]]; then
		lu_bpo_make "$kver" "$src" "$log"
		return
	fi
	lu_chroot_ensure
	lu_chroot_headers "$suite" "$kver"
	kdir=/usr/src/linux-headers-$kver
	# The headers' compiler: "x86_64-linux-gnu-gcc-16 (Debian ...)" -> gcc-16
	cc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="[^ ]*-\(gcc-[0-9]*\) .*/\1/p' "$LU_CHROOT$kdir/.config")
	[[ -n $cc ]] || lu_kdie "cannot tell the compiler of $kver"
	# One build folder per source tree: clones sharing the chroot (build/chroot
	# linked from another clone) never build in each other's folder.
	bdir=/build/$kver-$(printf %s "$src" | md5sum | cut -c1-8)
	rm -rf "$LU_CHROOT$bdir"
	mkdir -p "$LU_CHROOT/build"
	cp -r "$src" "$LU_CHROOT$bdir"
	(
		# objtool needs /proc; the lock keeps two builds from unmounting it
		# under each other.
		flock 9
		mountpoint -q "$LU_CHROOT/proc" || mount -t proc proc "$LU_CHROOT/proc"
		chroot "$LU_CHROOT" make -C "$bdir/module" KDIR="$kdir" CC="$cc" >"$log" 2>&1
		rc=$?
		umount "$LU_CHROOT/proc" 2>/dev/null
		exit $rc
	) 9>"$LU_KBUILD/chroot/lock" || return
	cp "$LU_CHROOT$bdir/module/liveupdate.ko" "$src/module/"
}

# Path of liveupdate.ko built for SUITE's kernel; rebuilt only when a module
# source changed. A build with any compiler or modpost warning fails.
lu_kmodule() {
	local suite=$1 kver out stamp src log
	kver=$(lu_kver "$suite")
	out=$LU_KBUILD/module/$kver
	stamp=$(lu_module_stamp "$kver")
	if [[ -s $out/liveupdate.ko && $(cat "$out/stamp" 2>/dev/null) == "$stamp" ]]; then
		echo "$out/liveupdate.ko"
		return 0
	fi
	lu_knote "building the module for $kver"
	src=$out/src log=$out/build.log
	rm -rf "$out"
	mkdir -p "$src"
	cp -r "$LU_REPO/module" "$LU_REPO/include" "$src/"
	find "$src" \( -name '*.o' -o -name '*.ko' -o -name '*.mod' -o -name '*.mod.c' \
		-o -name '.*.cmd' -o -name modules.order -o -name Module.symvers \) -delete
	if ! lu_module_make "$suite" "$kver" "$src" "$log"; then
		tail -n 40 "$log" >&2
		lu_kdie "module build for $kver failed (log: $log)"
	fi
	if grep -qi 'warning' "$log"; then
		grep -i 'warning' "$log" >&2
		lu_kdie "module build for $kver has warnings (log: $log)"
	fi
	cp "$src/module/liveupdate.ko" "$out/"
	rm -rf "$src"
	echo "$stamp" >"$out/stamp"
	echo "$out/liveupdate.ko"
}
