# shellcheck shell=bash
# The one QEMU launcher of the project: vm/run (and vm/bench, vm/demo through
# it), tests/system/run and tests/qemu/run start their VMs with lu_qemu.
# Expects LU_REPO (the repository root); vm/kernels.sh for the mirror.
#
# Which QEMU: bookworm's own (7.2, installed by vm/deps.sh), except for a
# VM with several vCPUs on several host threads (multi-threaded TCG): 7.2
# now and then lets a vCPU run a jump label's int3 after another vCPU has
# finished patching it ("Oops: int3" early in a kexec'd boot; vm/README.md),
# so those VMs run bookworm-backports' QEMU (10.0), downloaded once with
# apt-get download and unpacked under build/qemu/ (nothing is installed):
#   build/qemu/deb/       the .debs (qemu-system-x86, -common, -data)
#   build/qemu/root/      dpkg -x of them; its libraries are bookworm's own
# LU_QEMU=PATH runs that binary for every VM instead.

LU_QEMU_DIR=$LU_REPO/build/qemu
LU_QEMU_PKGS=(qemu-system-x86 qemu-system-common qemu-system-data)

lu_qemu_die() { echo "qemu: $*" >&2; exit 1; }

# The backports QEMU's binary, fetched and unpacked once (a lock: VMs
# started side by side fetch it once).
lu_qemu_mt_bin() {
	local bin=$LU_QEMU_DIR/root/usr/bin/qemu-system-x86_64 f
	if [[ ! -x $bin ]]; then
		mkdir -p "$LU_QEMU_DIR"
		(
			flock 9
			[[ -x $bin ]] && exit 0
			[[ ${LU_QUIET:-0} == 1 ]] || echo "qemu: fetching bookworm-backports' QEMU into $LU_QEMU_DIR" >&2
			rm -rf "$LU_QEMU_DIR/deb" "$LU_QEMU_DIR/root.new"
			lu_kdownload bookworm-backports "$LU_QEMU_DIR/deb" "${LU_QEMU_PKGS[@]}"
			mkdir -p "$LU_QEMU_DIR/root.new"
			for f in "$LU_QEMU_DIR"/deb/*.deb; do dpkg -x "$f" "$LU_QEMU_DIR/root.new" || exit 1; done
			"$LU_QEMU_DIR/root.new/usr/bin/qemu-system-x86_64" --version >/dev/null ||
				{ echo "qemu: the backports QEMU does not run here (ldd it)" >&2; exit 1; }
			rm -rf "$LU_QEMU_DIR/root"
			mv "$LU_QEMU_DIR/root.new" "$LU_QEMU_DIR/root"
		) 9>"$LU_QEMU_DIR/.lock" || lu_qemu_die "could not fetch bookworm-backports' QEMU"
	fi
	echo "$bin"
}

# lu_qemu_cmd SMP THREAD: the QEMU command (binary and the options its
# choice needs) for SMP vCPUs with THREAD (multi|single) TCG, one word a line.
lu_qemu_cmd() {
	local smp=$1 thread=$2 bin
	if [[ -n ${LU_QEMU:-} ]]; then
		echo "$LU_QEMU"
	elif ((smp > 1)) && [[ $thread == multi ]]; then
		bin=$(lu_qemu_mt_bin) || exit 1
		# its modules, not the host QEMU's
		echo env
		echo "QEMU_MODULE_DIR=$LU_QEMU_DIR/root/usr/lib/x86_64-linux-gnu/qemu"
		echo "$bin"
		# its own firmware first; seabios' images from the host's package
		echo -L
		echo "$LU_QEMU_DIR/root/usr/share/qemu"
	else
		echo qemu-system-x86_64
	fi
}

# lu_qemu_version SMP THREAD: "10.0.2" (what lu_qemu would run).
lu_qemu_version() {
	local cmd
	mapfile -t cmd < <(lu_qemu_cmd "$1" "$2")
	[[ ${cmd[0]} != env ]] || cmd=("${cmd[@]:2}")
	"${cmd[0]}" --version | awk 'NR == 1 { print $4 }'
}

# lu_qemu TIMEOUT SMP THREAD CPU MEM QEMU-ARGS...: boots a headless q35 TCG
# VM, its serial console on stdout (stdin closed), under timeout
# --foreground (plain timeout puts QEMU in its own process group, and
# killing the job would then leave QEMU running). Returns QEMU's (or
# timeout's 124) exit status.
lu_qemu() {
	local timeout=$1 smp=$2 thread=$3 cpu=$4 mem=$5 cmd
	shift 5
	mapfile -t cmd < <(lu_qemu_cmd "$smp" "$thread")
	((${#cmd[@]})) || return 1
	timeout --foreground "$timeout" "${cmd[@]}" \
		-M q35 -accel "tcg,thread=$thread" -cpu "$cpu" -m "$mem" -smp "$smp" \
		-nographic -no-reboot -nodefaults -monitor none -serial stdio \
		"$@" </dev/null
}
