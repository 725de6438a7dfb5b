# shellcheck shell=bash
# Shared helpers of the VM bench (sourced by vm/run, vm/demo and vm/bench).
# Expects LU_REPO (the repository root) to be set by the caller. Kernels and
# the module built for each: vm/kernels.sh.

LU_BUILD=$LU_REPO/build/vm

lu_die() { echo "vm: $*" >&2; exit 1; }
lu_note() { [[ ${LU_QUIET:-0} == 1 ]] || echo "vm: $*" >&2; }

# shellcheck source=vm/kernels.sh
. "$LU_REPO/vm/kernels.sh"
# shellcheck source=vm/qemu.sh
. "$LU_REPO/vm/qemu.sh"

# "6.1,trixie,7.2" -> one suite name per line; dies on an unknown kernel.
lu_kernel_list() {
	local k list
	IFS=, read -r -a list <<<"$1"
	((${#list[@]})) || lu_die "--kernel wants a list such as 6.1,6.12,7.2"
	for k in "${list[@]}"; do lu_ksuite "$k" || exit 1; done
}
