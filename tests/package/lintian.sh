# shellcheck shell=bash
# How lintian's output is judged, shared by tests/package/lintian (the host's
# build) and tests/package/autopkgtest (each suite's build, that suite's
# lintian). Every error or warning fails; an info, pedantic or experimental
# tag fails unless "TAG DETAIL" matches a glob in LINTIAN_ALLOWED, each with
# its reason (docs/package.md, "Lintian"). lintian must exit 0: a lintian
# that failed to run (exit 2, 127) printed no tag, and that is no pass.

LINTIAN_ALLOWED=(
	# the broker needs systemd (socket activation, sd_notify, the fd store);
	# bookworm's lintian only
	'package-supports-alternative-init-but-no-init.d-script *'
	# machine code gcc 14+ emitted in liveupdatectl, not text (strings -a
	# shows it among other opcodes); lintian 2.122+ only
	'spelling-error-in-binary wtH *'
)

# lintian_judge LOG RC: prints "ok: WHAT" or "not ok: WHY" (one line, after
# "# " lines with the tags that fail); returns 0 when it passed.
lintian_judge() {
	local log=$1 rc=$2 bad kept kind pkg tag rest g ok
	bad=$(grep -E '^[EWIPX]: ' "$log" | while read -r kind pkg tag rest; do
		ok=0
		if [[ $kind != [EW]: ]]; then
			for g in "${LINTIAN_ALLOWED[@]}"; do
				# shellcheck disable=SC2053
				[[ "$tag $rest " == $g ]] && ok=1
			done
		fi
		((ok)) || echo "$kind $pkg $tag $rest"
	done)
	kept=$(grep -E '^[IPX]: ' "$log" | awk '{print $3}' | sort -u | tr '\n' ' ')
	kept=${kept% }
	if [[ -z $bad && $rc != 0 ]]; then
		sed 's/^/# /' <(tail -n 5 "$log")
		echo "not ok: lintian exited $rc"
		return 1
	elif [[ -z $bad ]]; then
		echo "ok: no error or warning; justified: ${kept:-none}"
	else
		sed 's/^/# /' <<<"$bad"
		echo "not ok: $(wc -l <<<"$bad") tag(s) not allowed"
		return 1
	fi
}
