#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 120
# Packaging: make install / uninstall into a DESTDIR (module, tool, man
# page, udev rule, libvirt hook, DKMS sources); the module make install
# installed is loaded and used with the installed tool; the udev rule
# (through udevadm test) hides a destination before completion and the
# -real device of an adopted volume, not a source or a destination cut
# over to linear; the man page renders without warnings. (ctl-dkms builds the module with
# dkms itself, which takes minutes under TCG.)
. "$HM_REPO/tests/vm/lib.sh"

k=$HM_KVER
inst=/tmp/hm-inst

note "make install"
must make -s -C "$HM_REPO" install DESTDIR=$inst KVER="$k" > /tmp/hm-make.out
for f in lib/modules/$k/updates/dm-hybridmig.ko usr/local/sbin/hybridmigctl \
	 usr/local/share/man/man8/hybridmigctl.8 usr/lib/udev/rules.d/12-hybridmig.rules \
	 etc/libvirt/hooks/qemu.d/hybridmig usr/local/share/doc/hybridmig/libvirt-vm.conf.example; do
	[ -f "$inst/$f" ] || fail "not installed: $f"
done
[ -x $inst/etc/libvirt/hooks/qemu.d/hybridmig ] || fail "the hook is not executable"
grep -q 'IMPORT{program}="/usr/local/sbin/hybridmigctl udev $attr{dm/name}"' \
	$inst/usr/lib/udev/rules.d/12-hybridmig.rules || fail "udev rule: tool path"
grep -q '^ctl=${HYBRIDMIGCTL:-/usr/local/sbin/hybridmigctl}$' \
	$inst/etc/libvirt/hooks/qemu.d/hybridmig || fail "hook: tool path"
bash -n $inst/etc/libvirt/hooks/qemu.d/hybridmig || fail "hook: syntax"
warn=$(groff -man -Tutf8 -ww -z $inst/usr/local/share/man/man8/hybridmigctl.8 2>&1)
[ -z "$warn" ] || fail "man page warnings: $warn"
ctl=$inst/usr/local/sbin/hybridmigctl

must make -s -C "$HM_REPO" install-dkms DESTDIR=$inst > /dev/null
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$HM_REPO/dkms.conf")
for f in dkms.conf Kbuild dm-hybridmig-target.c hybridmig-proto.h; do
	[ -f $inst/usr/src/hybridmig-$ver/$f ] || fail "install-dkms: no $f"
done

note "load the installed module and use it"
at_exit "rmmod dm_hybridmig; insmod $HM_KO"
data=$(mkloop data 8)
for m in $inst/lib/modules/$k/updates/dm-hybridmig.ko; do
	must rmmod dm_hybridmig
	must insmod $m
	dmsetup targets | grep -q "^hybridmig *v$ver$" || fail "$m: target not v$ver: $(dmsetup targets)"
	must "$ctl" create dest d "$data" --size 4M > /dev/null
	assert_eq "HYBRIDMIG_ROLE=dest HYBRIDMIG_PHASE=waiting HYBRIDMIG_LINK=none" \
		"$("$ctl" udev d | tr '\n' ' ' | sed 's/ $//')" "udev helper"
	assert_eq "" "$("$ctl" udev nosuch)" "udev helper for another device"
	must dmsetup remove d
done

note "the udev rule (udevadm test, the rule in a private /etc/udev/rules.d)"
mkdir -p /tmp/hm-rules
sed "s|@SBINDIR@|$(dirname "$ctl")|" "$HM_REPO/packaging/udev/12-hybridmig.rules.in" > /tmp/hm-rules/12-hybridmig.rules
# udev_props <dm name>: the properties a change event of the device gets
# (its first: no flags kept in the udev database from an earlier test,
# which the dm rules would import for an event not sent by libdevmapper).
udev_props() {
	local major minor
	major=$(dmsetup info -c --noheadings -o major "$1" | tr -d ' ')
	minor=$(dmsetup info -c --noheadings -o minor "$1" | tr -d ' ')
	rm -f "/run/udev/data/b$major:$minor"
	unshare -m bash -c "mount --bind /tmp/hm-rules /etc/udev/rules.d &&
		udevadm test --action=change /sys/block/dm-$minor" > /tmp/hm-udev.out 2>&1
	grep -E '^[A-Z_]+=' /tmp/hm-udev.out
}
must "$ctl" create dest d "$data" --size 4M > /dev/null
dm_create lin "0 2048 linear $data 0"
must "$ctl" adopt lin > /dev/null
for dev in d lin-real; do
	p=$(udev_props $dev)
	for v in DM_UDEV_DISABLE_DISK_RULES_FLAG=1 DM_UDEV_DISABLE_OTHER_RULES_FLAG=1 SYSTEMD_READY=0; do
		echo "$p" | grep -qx "$v" || fail "$dev: no $v from the udev rule: $p"
	done
	grep -q "builtin command 'blkid'" /tmp/hm-udev.out && fail "$dev: blkid ran"
done
udev_props d | grep -qx HYBRIDMIG_PHASE=waiting || fail "udev: no phase of d"
# The source (the VM's disk) is left alone, as is a destination cut over.
udev_props lin | grep -q DM_UDEV_DISABLE_OTHER_RULES_FLAG=1 && fail "udev: the adopted source was hidden"
must dmsetup reload d --table "0 8192 linear $data 0"
must dmsetup resume d
udev_props d | grep -q DM_UDEV_DISABLE_OTHER_RULES_FLAG=1 &&
	fail "udev: a destination cut over to linear is still hidden"
must "$ctl" detach lin > /dev/null
must dmsetup remove d

note "make uninstall"
must make -s -C "$HM_REPO" uninstall DESTDIR=$inst > /dev/null
left=$(find $inst -type f)
[ -z "$left" ] || fail "left after uninstall: $left"
