#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 900
# suite: extra
# DKMS: the sources "make install-dkms" installs are built and installed by
# dkms itself for the running kernel (with its trees under /tmp, as the
# guest's root is read-only, and without depmod), and the module it
# installed loads and works with the tool. Extra: the build takes some
# four minutes under TCG.
. "$HM_REPO/tests/vm/lib.sh"

k=$HM_KVER
inst=/tmp/hm-inst
command -v dkms > /dev/null || skip "dkms is not installed (make deps)"
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$HM_REPO/dkms.conf")
must make -s -C "$HM_REPO" install-dkms DESTDIR=$inst > /dev/null
mkdir -p /tmp/hm-dkms/tree /tmp/hm-dkms/inst/$k
t0=$SECONDS
# dkms keeps its signing key in /var/lib/dkms: give it a writable one.
unshare -m bash -c "mount -t tmpfs dkms /var/lib/dkms &&
	dkms install -m hybridmig -v $ver -k $k --no-depmod \
		--sourcetree $inst/usr/src --dkmstree /tmp/hm-dkms/tree \
		--installtree /tmp/hm-dkms/inst" > /tmp/hm-dkms.log 2>&1 ||
	{ tail -n 30 /tmp/hm-dkms.log; fail "dkms install"; }
echo "dkms built and installed the module in $((SECONDS - t0)) s"
ko=$(ls /tmp/hm-dkms/inst/$k/updates/dkms/dm-hybridmig.ko* 2>/dev/null | head -n1)
[ -n "$ko" ] || { cat /tmp/hm-dkms.log; fail "dkms installed no module"; }
echo "installed: $ko"

at_exit "rmmod dm_hybridmig; insmod $HM_KO"
data=$(mkloop data 8)
must rmmod dm_hybridmig
must insmod "$ko"
dmsetup targets | grep -q "^hybridmig *v$ver$" || fail "target not v$ver: $(dmsetup targets)"
must "$HM_CTL" create source s "$data" > /dev/null
must "$HM_CTL" status s > /dev/null
must dmsetup remove s
