# shellcheck shell=bash
# The fleet test's image (tests/fleet/run), made from the bookworm system
# image of tests/system/image.sh and cached next to it. Sourced after
# tests/system/image.sh (LU_SYS_SUITE=bookworm).
#
#   build/system/fleet-TAG/      a copy (reflink where the file system has it)
#                                of root-TAG/, the project's packages already
#                                installed there by apt, and then with apt
#                                inside it: openssh-server, python3 and
#                                python3-apt (what Ansible needs on a host),
#                                and bookworm-backports' kernel (6.12) with
#                                its headers, the upgrade a bookworm user
#                                makes: DKMS builds the module for it and the
#                                initramfs tool packs it, as for any kernel a
#                                host installs. The hosts boot the suite's own
#                                6.1 (OLD); the role live-updates them into the
#                                newest installed kernel (NEW, the 6.12).
#                                (bookworm's own previous point release,
#                                6.1.0-50, would be the other choice: the
#                                module does not build for it, see
#                                docs/fleet.md.)
#                                systemd-networkd (DHCP on QEMU's user network)
#                                and ssh enabled; root's authorized key is not
#                                in the image: lu-fleet-key.service writes the
#                                run's own from the command line (lu.fleet.key=).
#   build/system/fleet-disk-TAG.raw   it as ext4; every VM boots it with
#                                snapshot=on (its writes go to a temporary
#                                overlay of its own: the file never changes).
#   build/system/fleet-boot-TAG/ its kernels and initramfs images.
# Remade when root-TAG/ is remade (its key) or tests/fleet/image.sh changes.

FLEET_ROOT=$SYS_DIR/fleet-$SYS_TAG
FLEET_DISK=$SYS_DIR/fleet-disk-$SYS_TAG.raw
FLEET_BOOT=$SYS_DIR/fleet-boot-$SYS_TAG
FLEET_KEY_FILE=$SYS_DIR/fleet-$SYS_TAG.key
FLEET_PKGS="openssh-server python3 python3-apt"

fleet_key() {
	echo "$(cat "$SYS_KEY_FILE" "$SYS_FILES_KEY_FILE" | sha256sum | cut -c1-16)" \
		"$(sha256sum <"$LU_REPO/tests/fleet/image.sh" | cut -c1-16)"
}

fleet_image() {
	local lock rc
	exec {lock}>"$SYS_DIR/.lock-fleet-$SYS_TAG"
	flock "$lock"
	fleet_image_locked
	rc=$?
	exec {lock}>&-
	return $rc
}

fleet_image_locked() {
	local key log=$SYS_DIR/fleet-$SYS_TAG.log kver k
	key=$(fleet_key)
	if [[ -s $FLEET_DISK && -d $FLEET_BOOT && -f $FLEET_KEY_FILE && $(cat "$FLEET_KEY_FILE") == "$key" ]]; then
		sys_note "fleet image up to date ($FLEET_DISK)"
		return 0
	fi
	rm -f "$FLEET_KEY_FILE"
	sys_note "making the fleet image $FLEET_ROOT (apt inside a copy of $SYS_ROOT; log: $log)"
	sys_unmount "$FLEET_ROOT"
	rm -rf "$FLEET_ROOT"
	cp -a --reflink=auto "$SYS_ROOT" "$FLEET_ROOT"
	: >"$log"
	sys_chroot "$FLEET_ROOT" apt-get update -q >>"$log" 2>&1 || sys_die "apt-get update failed (log: $log)"
	sys_note "installing $FLEET_PKGS, and $SYS_SUITE-backports' kernel with its headers (DKMS builds the module for it)"
	# shellcheck disable=SC2086
	sys_chroot "$FLEET_ROOT" apt-get install -y -q --no-install-recommends $FLEET_PKGS >>"$log" 2>&1 &&
		sys_chroot "$FLEET_ROOT" apt-get install -y -q --no-install-recommends -t "$SYS_SUITE-backports" \
			linux-image-cloud-amd64 linux-headers-cloud-amd64 >>"$log" 2>&1 ||
		{ tail -n 30 "$log" >&2; sys_die "apt-get install failed (log: $log)"; }
	# what the kernel packages' hooks must have done for every kernel
	for k in "$FLEET_ROOT"/boot/vmlinuz-*; do
		kver=${k##*/vmlinuz-}
		compgen -G "$FLEET_ROOT/lib/modules/$kver/updates/dkms/liveupdate.ko*" >/dev/null ||
			sys_die "DKMS did not build the module for $kver (log: $log)"
		sys_chroot "$FLEET_ROOT" sh -c "lsinitramfs /boot/initrd.img-$kver | grep -q 'liveupdate\.ko'" ||
			sys_die "the initramfs of $kver lacks the module (log: $log)"
	done
	[[ $(ls "$FLEET_ROOT"/boot/vmlinuz-* | wc -l) == 2 ]] || sys_die "not two kernels in $FLEET_ROOT/boot"
	# the network of QEMU's -netdev user: DHCP on the virtio NIC
	printf '[Match]\nName=en*\n\n[Network]\nDHCP=ipv4\n' \
		>"$FLEET_ROOT/etc/systemd/network/20-lu-fleet.network"
	install -d "$FLEET_ROOT/usr/local/lib/lu-fleet"
	install -m 755 "$LU_REPO/tests/fleet/guest/lu-fleet-key" "$FLEET_ROOT/usr/local/lib/lu-fleet/"
	install -m 644 "$LU_REPO/tests/fleet/guest/lu-fleet-key.service" "$FLEET_ROOT/etc/systemd/system/"
	sys_chroot "$FLEET_ROOT" systemctl enable systemd-networkd.service ssh.service lu-fleet-key.service \
		>>"$log" 2>&1 || sys_die "systemctl enable failed (log: $log)"
	rm -rf "$FLEET_ROOT"/var/cache/apt/archives/*.deb "$FLEET_ROOT"/var/lib/apt/lists/*
	echo lu-fleet >"$FLEET_ROOT/etc/hostname"
	rm -rf "$FLEET_BOOT"
	mkdir -p "$FLEET_BOOT"
	for k in "$FLEET_ROOT"/boot/vmlinuz-*; do
		k=${k##*/vmlinuz-}
		cp "$FLEET_ROOT/boot/vmlinuz-$k" "$FLEET_ROOT/boot/initrd.img-$k" "$FLEET_BOOT/"
	done
	sys_note "making $FLEET_DISK (mkfs.ext4 -d)"
	rm -f "$FLEET_DISK"
	mkfs.ext4 -q -F -L lu-fleet -d "$FLEET_ROOT" "$FLEET_DISK" 6G >>"$log" 2>&1 ||
		sys_die "mkfs.ext4 failed (log: $log)"
	echo "$key" >"$FLEET_KEY_FILE"
}
