# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# Host-side helpers of the benchmark runners (bench/run, bench/run-push,
# bench/run-migrate): pick the kernel, prepare a private VM directory, boot
# one qemu TCG guest running one guest script, and cope with the known
# emulation problems (bench/README.md). Sourced, not run. The caller sets
# me (its name, for messages), repo, icount (empty: the host's clock) and
# vm_timeout, and may set kver.

# The same discovery as tests/run: a kernel with both headers and an image.
bench_installed_kernels() {
	local k
	for k in /lib/modules/*/build; do
		k=${k#/lib/modules/}
		k=${k%/build}
		[ -e "/boot/vmlinuz-$k" ] && echo "$k"
	done
}

# bench_kernel: kver defaults to the 6.12 kernel if installed, else the newest.
bench_kernel() {
	if [ -z "$kver" ]; then
		kver=$(bench_installed_kernels | grep -E '^6\.12[.-]' | sort -V | tail -n1)
		[ -n "$kver" ] || kver=$(bench_installed_kernels | sort -V | tail -n1)
		[ -n "$kver" ] || { echo "$me: no kernel with both an image and headers installed; run make deps" >&2; exit 1; }
	fi
	[ -e "/boot/vmlinuz-$kver" ] || { echo "$me: no /boot/vmlinuz-$kver" >&2; exit 1; }
	out=$repo/build/bench
	mkdir -p "$out"
}

# bench_prepare <ko> <guest script> [guest args...]: a private directory for
# the VM ($work; the results share $vm), the module copied into it (the tree
# is shared: a concurrent rebuild or make clean must neither change the module
# under test nor delete the results), the initramfs, and the job that runs
# "<guest script> <kver> /tmp/results [guest args...] --ko <the copy>".
bench_prepare() {
	local ko=$1 script=$2
	shift 2
	[ -f "$ko" ] || { echo "$me: no module at $ko (make module KVER=$kver)" >&2; exit 1; }
	work=$(mktemp -d "${TMPDIR:-/tmp}/hm-bench.XXXXXX") || exit 1
	trap 'rm -rf "$work"' EXIT
	vm=$work/results
	mkdir -p "$vm"
	chmod 777 "$vm"
	cp "$ko" "$vm/dm-hybridmig.ko" || exit 1
	initrd=$work/initramfs.cpio.gz
	"$repo/tests/vm/mkinitramfs.sh" "$kver" "$initrd" || { echo "$me: initramfs build failed" >&2; exit 1; }
	{
		printf '#!/bin/bash\nexec /bin/bash %q %q /tmp/results' "$script" "$kver"
		printf ' %q' "$@" --ko /tmp/results/dm-hybridmig.ko
		echo
	} > "$vm/job.sh"
	# What was measured: the module as loaded and the tree it came from.
	module_md5=$(md5sum < "$vm/dm-hybridmig.ko" | cut -d' ' -f1)
	source=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)
	load_before=$(cut -d' ' -f1-3 /proc/loadavg)
	# Under -icount, Debian's 6.1 kernel hangs bringing up its second CPU
	# ("x86: Booting SMP configuration:"); 6.12 boots. A guest that has not
	# started the job after $boot_timeout s is booted again with one vCPU,
	# and the kernel is remembered (in $smp1_mark) so that later runs start so.
	boot_timeout=${HM_BENCH_BOOT_TIMEOUT:-180}
	smp1_mark=$out/icount-smp1-$kver
	smp=2
	fallback=
	if [ -n "$icount" ] && [ -e "$smp1_mark" ]; then
		smp=1
		fallback="-smp 1: this kernel did not boot with -smp 2 under -icount (remembered in build/bench/$(basename "$smp1_mark"); delete it to try again)"
	fi
}

# bench_boot <result file>: one guest run; its console in $vm/console.log,
# the host's load in $vm/host-load.txt. Returns qemu's exit status.
bench_boot() {
	local vm_pid others rc t0=$SECONDS
	boot_hung=0
	rm -f "$vm/console.log" "$vm/$1" "$vm/FAILED"
	timeout "$vm_timeout" qemu-system-x86_64 -accel tcg -machine q35 -cpu max \
		-smp "$smp" -m "${HM_BENCH_MEM:-3072}" -nographic -no-reboot -nodefaults -serial stdio \
		-kernel "/boot/vmlinuz-$kver" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 quiet loglevel=4 rdinit=/init hm.repo=$repo" \
		-virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$vm,mount_tag=results,security_model=none,multidevs=remap" \
		-device virtio-rng-pci ${icount:+-icount "$icount"} \
		> "$vm/console.log" 2>&1 < /dev/null &
	vm_pid=$!
	# With the host's clock (--realtime) the guest's speed is the host's:
	# every 5 s, note the load average and how many other qemu processes
	# (other VMs) share the machine.
	while kill -0 "$vm_pid" 2>/dev/null; do
		others=$(pgrep -c -x qemu-system-x86)
		echo "$(cut -d' ' -f1 /proc/loadavg) $((others > 0 ? others - 1 : 0)) $SECONDS" \
			>> "$vm/host-load.txt"
		if [ -n "$icount" ] && [ "$boot_hung" = 0 ] &&
		   [ $((SECONDS - t0)) -gt "$boot_timeout" ] &&
		   ! grep -q 'init: starting job' "$vm/console.log"; then
			echo "$me: the guest did not boot within ${boot_timeout}s" >&2
			boot_hung=1
			kill "$vm_pid" 2>/dev/null
		fi
		for _ in 1 2 3 4 5; do
			kill -0 "$vm_pid" 2>/dev/null || break
			sleep 1
		done
	done
	wait "$vm_pid"
	rc=$?
	[ "$rc" -eq 124 ] && echo "$me: the VM timed out after ${vm_timeout}s" >&2
	return "$rc"
}

bench_guest_crashed() {
	grep -qE 'Kernel panic|BUG:|Oops|double fault' "$vm/console.log"
}

# bench_run_vm <result file> <logs dir>: boot the guest, again with -smp 1
# if it hung in SMP bringup under -icount, and once more if it crashed
# without results: TCG sometimes breaks a guest in ways that have nothing to
# do with the module (under -icount, corrupt EFLAGS; with the host's clock,
# an int3 oops while the kernel patches its own text during boot). Then the
# VM directory is copied to <logs dir>. Sets rc (qemu's last exit status),
# retried, t_boot, t_vm, load_after. Returns 1 (after saying why) if the
# guest left no <result file>.
bench_run_vm() {
	local result=$1 logs=$2
	t_boot=$(date +%s.%N)
	retried=0
	bench_boot "$result"
	rc=$?
	if [ -n "$icount" ] && [ "$boot_hung" = 1 ]; then
		echo "$me: booting again with -smp 1 (a known -icount hang of SMP bringup, see bench/README.md)" >&2
		mv "$vm/console.log" "$work/console-hung.log"
		smp=1
		fallback="-smp 1: the guest did not boot with -smp 2 under -icount"
		echo "$(date -u +%FT%TZ) $icount: no boot with -smp 2" > "$smp1_mark"
		bench_boot "$result"
		rc=$?
	fi
	if [ ! -s "$vm/$result" ] && bench_guest_crashed; then
		echo "$me: the guest crashed (see ${logs#"$repo"/}/console-crashed.log); trying once more" >&2
		grep -E -m3 'Kernel panic|BUG:|Oops|double fault|EFLAGS|RIP:' "$vm/console.log" | sed 's/^/    /' >&2
		mv "$vm/console.log" "$work/console-crashed.log"
		retried=1
		bench_boot "$result"
		rc=$?
	fi
	t_vm=$(date +%s.%N)
	load_after=$(cut -d' ' -f1-3 /proc/loadavg)
	rm -rf "$logs"
	cp -r "$vm" "$logs"
	rm -f "$logs/dm-hybridmig.ko"
	[ -f "$work/console-crashed.log" ] && cp "$work/console-crashed.log" "$logs/"
	[ -f "$work/console-hung.log" ] && cp "$work/console-hung.log" "$logs/"
	if bench_guest_crashed; then
		echo "$me: the guest kernel crashed:" >&2
		grep -E -A20 'Kernel panic|BUG:|Oops|double fault' "$vm/console.log" | head -n 40 >&2
	fi
	if [ ! -s "$vm/$result" ]; then
		echo "$me: the guest produced no results (VM exit $rc)" >&2
		[ -f "$vm/FAILED" ] && echo "reason: $(cat "$vm/FAILED")" >&2
		echo "---- tail of ${logs#"$repo"/}/console.log" >&2
		tail -n 30 "$vm/console.log" >&2
		return 1
	fi
}

secs() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'
}

# bench_host_args: the host-side facts every report takes (see *.py finish).
bench_host_args() {
	host_args=(--host-cpus "$(nproc)" --load-before "$load_before" --load-after "$load_after"
		--qemu "$(qemu-system-x86_64 --version | head -n1)"
		--module-md5 "$module_md5" --source "$source" --wall "$(secs "$start" "$(date +%s.%N)")"
		--host-samples "$vm/host-load.txt" --icount "${icount:-off}" --retried "$retried"
		--fallback "$fallback")
}
