# shellcheck shell=bash
# Shared helpers of the VM bench (sourced by vm/run and vm/demo).
# Expects LU_REPO (the repository root) to be set by the caller.

LU_BUILD=$LU_REPO/build/vm

lu_die() { echo "vm: $*" >&2; exit 1; }
lu_note() { [[ ${LU_QUIET:-0} == 1 ]] || echo "vm: $*" >&2; }

# The kernel version behind the linux-headers-cloud-amd64 metapackage, e.g.
# 6.1.0-56-cloud-amd64. Never hard-coded: it moves with Debian's updates.
lu_kver() {
	local dep
	dep=$(dpkg-query -W -f='${Depends}' linux-headers-cloud-amd64 2>/dev/null) ||
		lu_die "linux-headers-cloud-amd64 is not installed (vm/deps.sh)"
	dep=${dep%%[ ,]*}			# first dependency's name
	[[ $dep == linux-headers-*-cloud-amd64 ]] ||
		lu_die "unexpected dependency of linux-headers-cloud-amd64: $dep"
	echo "${dep#linux-headers-}"
}

# Downloads (does not install) linux-image-KVER and extracts it under
# build/vm/kernel/KVER; prints the path of its vmlinuz. Cached.
lu_fetch_kernel() {
	local kver=$1
	local dir=$LU_BUILD/kernel/$kver
	local vmlinuz=$dir/root/boot/vmlinuz-$kver
	if [[ ! -s $vmlinuz ]]; then
		lu_note "fetching linux-image-$kver"
		mkdir -p "$dir"
		rm -rf "$dir/root" "$dir"/*.deb
		# A fresh machine may have no package lists yet.
		apt-cache show "linux-image-$kver" >/dev/null 2>&1 || apt-get update -qq
		# apt prints the mirror it used: keep that out of every file.
		(cd "$dir" && apt-get download -qq -o APT::Sandbox::User=root "linux-image-$kver") >&2 ||
			lu_die "apt-get download linux-image-$kver failed"
		dpkg -x "$dir"/linux-image-"$kver"_*.deb "$dir/root"
		[[ -s $vmlinuz ]] || lu_die "no $vmlinuz in the package"
		# Only /boot is used (the guest loads no modules but ours).
		find "$dir/root" -mindepth 1 -maxdepth 1 ! -name boot -exec rm -rf {} +
		rm -f "$dir"/*.deb
	fi
	echo "$vmlinuz"
}

# Builds module/liveupdate.ko against the headers of KVER; prints its path.
# The build log goes to build/vm/module-build.log and is shown on failure.
lu_build_module() {
	local kver=$1 log=$LU_BUILD/module-build.log
	local kdir=/usr/src/linux-headers-$1
	[[ -d $kdir ]] || lu_die "no kernel headers at $kdir (vm/deps.sh)"
	mkdir -p "$LU_BUILD"
	lu_note "building module/liveupdate.ko for $kver"
	if ! make -C "$LU_REPO/module" KDIR="$kdir" >"$log" 2>&1; then
		tail -n 40 "$log" >&2
		lu_die "module build failed (full log: $log)"
	fi
	[[ -s $LU_REPO/module/liveupdate.ko ]] || lu_die "module build made no liveupdate.ko"
	echo "$LU_REPO/module/liveupdate.ko"
}
