#!/bin/bash
# Installs the Debian (bookworm) packages the VM bench needs. Idempotent:
# does nothing when everything is installed. Source it (then call lu_deps)
# or run it directly. Needs root only when something is missing.

LU_DEPS_PKGS=(
	qemu-system-x86		# the VM (TCG: no KVM needed)
	kexec-tools		# /sbin/kexec, copied into the guest
	busybox-static		# the guest's whole userland
	cpio			# packing the initramfs
	xz-utils binutils	# extra guest modules (--kmods): unpacked, their depends= read
	gcc make libc6-dev	# the module and the static demo program
	libjson-c-dev libsystemd-dev # the CLI and the broker in tests/bin (shared, as packaged)
	linux-headers-cloud-amd64 # the kernel the guest boots; module builds against it
)

lu_deps_missing() {
	local p
	for p in "${LU_DEPS_PKGS[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -qx 'install ok installed' || echo "$p"
	done
}

lu_deps() {
	local missing
	mapfile -t missing < <(lu_deps_missing)
	((${#missing[@]})) || return 0
	if [[ $EUID -ne 0 ]]; then
		echo "vm/deps.sh: missing packages (run as root to install): ${missing[*]}" >&2
		return 1
	fi
	echo "vm/deps.sh: installing: ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	# Without this, installing kexec-tools makes the HOST's own reboot a kexec.
	echo 'kexec-tools kexec-tools/load_kexec boolean false' | debconf-set-selections
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	set -euo pipefail
	lu_deps
fi
