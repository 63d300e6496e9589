#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 900
# The soak runner: HM_SOAK_N randomized migrations (default 1: the short
# run of the default suite), each from its own seed (HM_SOAK_SEED, default
# 3, a migration with netem, a failed metadata device re-created, a clean
# restart of the destination and a power cut of the source; then +1 per
# migration), combining
# disk sizes, chunk sizes, policies, metadata devices, workloads on the
# source and on the destination, and faults: netem, connection kills,
# failing and slow disks under either end, and restarts of either end (a
# clean re-create, or a power cut: its data and metadata devices drop every
# write from a random moment, then it is re-created) in the push phase or
# in post-copy. Each migration must complete with the destination holding the
# source's data plus its own writes. A failure names the seed that repeats
# it: make soak SEED=<seed> N=1 (the kills and fault windows are timed, so
# a repeat takes the same decisions, not the same interleaving).
. "$HM_REPO/tests/vm/lib.sh"

# ---- One migration (run in its own bash: its cleanups run at its exit) ----
soak_one() {
	local seed=$1
	RANDOM=$seed

	handed_over() {
		case "$(hm_field "$1" 2)" in
		postcopy|complete) return 0 ;;
		*) return 1 ;;
		esac
	}
	# restart src|dst clean|power: remove one end and create it again over
	# the same devices (the documented way out of a failed metadata device
	# too); "power" first makes that host fall silent: its network goes
	# down, then its disk drops every write, for 0-2 s before the removal.
	# (The network first: a dead host sends no more ACKs for writes that
	# never landed.)
	restart() {
		local end=$1 how=$2 host veth
		veth=veth-${end:0:1}
		if [ "$how" = power ]; then
			host=$(losetup -j "/tmp/hm-${end}host.img" | cut -d: -f1)
			must ip -n "$end" link set "$veth" down
			dm_swap "$end-power" "0 $(sectors "$host") flakey $host 0 0 3600 1 drop_writes"
			sleep $((RANDOM % 3))
		fi
		must dmsetup remove "hm-$end"
		if [ "$how" = power ]; then
			dm_swap "$end-power" "0 $(sectors "$host") linear $host 0"
			must ip -n "$end" link set "$veth" up
		fi
		if [ "$end" = dst ]; then
			must dmsetup create hm-dst --table "$dst_table"
			must in_dst dmsetup message hm-dst 0 listen $DST_IP:7000 hybridmig:k
		else
			must dmsetup create hm-src --table "$src_table"
			must in_src dmsetup message hm-src 0 connect $DST_IP:7000 hybridmig:k
		fi
		echo "restarted $end ($how) in phase $(hm_field "hm-$end" 2)"
	}
	# A disk for one end: with a metadata device, the data and metadata are
	# two slices of one "power" device (a power cut hits both at once).
	make_disk() {
		local end=$1 with_md=$2 host
		if [ "$with_md" = 1 ]; then
			host=$(mkloop "${end}host" $((mib + 2)))
			dm_create "$end-power" "0 $(sectors "$host") linear $host 0"
			dm_create "$end-disk" "0 $size linear /dev/mapper/$end-power 0"
			dm_create "${end}m-disk" "0 4096 linear /dev/mapper/$end-power $size"
			host=/dev/mapper/$end-power
		else
			host=$(mkloop "$end" "$mib")
			dm_create "$end-disk" "0 $size linear $host 0"
		fi
		printf -v "${end}_under" %s "$host"	# what its faults go over
	}
	# pick <var> <choice>...: one of the choices, from the seeded RANDOM
	# (not in $(...): a subshell's RANDOM would not move ours on).
	pick() {
		local var=$1
		shift
		local choices=("$@")
		printf -v "$var" %s "${choices[RANDOM % ${#choices[@]}]}"
	}
	# chance <percent>: true that often.
	chance() {
		[ $((RANDOM % 100)) -lt "$1" ]
	}

	local mib chunk policy meta workload bw
	pick mib 8 16 24
	pick chunk 8 64 128 256 2048
	pick policy hybrid hybrid precopy postcopy
	pick meta none dest both
	pick workload idle randwrite hotspot seqwrite
	pick bw 0 512 2048
	local netem=0 kills=0 dst_err=0 src_err=0 delay=0 restart_dst=- restart_src=-
	chance 30 && netem=1
	chance 40 && kills=1
	chance 30 && dst_err=1
	chance 30 && src_err=1
	chance 25 && delay=1
	# A restart: clean or a power cut, in the push phase or in post-copy.
	[ "$meta" != none ] && chance 50 && pick restart_dst clean-push clean-post power-push power-post
	[ "$meta" = both ] && chance 50 && pick restart_src clean-push clean-post power-push power-post
	local faults=$((netem + kills + dst_err + src_err + delay))
	[ "$restart_dst" = - ] || faults=$((faults + 1))
	[ "$restart_src" = - ] || faults=$((faults + 1))
	echo "soak seed $seed: ${mib} MiB, chunk $chunk, $policy, metadata $meta, $workload," \
		"bandwidth $bw; faults: netem $netem kills $kills dst_err $dst_err" \
		"src_err $src_err delay $delay restart_dst $restart_dst restart_src $restart_src"
	echo "$faults" > /tmp/soak-faults

	make_hosts
	if [ $netem = 1 ]; then
		local spec="delay 5ms 3ms loss 2% duplicate 2% reorder 20% 50%"
		must in_src tc qdisc add dev veth-s root netem $spec
		must in_dst tc qdisc add dev veth-d root netem $spec
	fi
	local size=$((mib * 2048)) am=- bm=- src_under dst_under
	[ "$meta" = both ] && am=/dev/mapper/srcm-disk
	[ "$meta" != none ] && bm=/dev/mapper/dstm-disk
	make_disk src "$([ "$am" = - ] && echo 0 || echo 1)"
	make_disk dst "$([ "$bm" = - ] && echo 0 || echo 1)"
	dd if=/dev/urandom of=/dev/mapper/src-disk bs=1M count="$mib" oflag=direct status=none
	[ $((RANDOM % 2)) = 0 ] && dd if=/dev/zero of=/dev/mapper/src-disk bs=1M count=2 seek=2 oflag=direct status=none
	local src_table="0 $size hybridmig source /dev/mapper/src-disk $am $chunk 4 policy $policy bandwidth $bw"
	local dst_table="0 $size hybridmig dest /dev/mapper/dst-disk $bm $chunk"
	dm_create hm-src "$src_table"
	dm_create hm-dst "$dst_table"
	new_key hybridmig:k > /dev/null
	must in_dst dmsetup message hm-dst 0 listen $DST_IP:7000 hybridmig:k
	must in_src dmsetup message hm-src 0 connect $DST_IP:7000 hybridmig:k
	wait_connected hm-src hm-dst 60

	if [ $kills = 1 ]; then
		(
			RANDOM=$((seed + 7919))
			while :; do
				sleep $((2 + RANDOM % 6))
				if [ $((RANDOM % 2)) = 0 ]; then
					in_src ss -K dst $DST_IP
				else
					in_dst ss -K dst $SRC_IP
				fi
			done
		) > /dev/null 2>&1 &
		at_exit "kill $!"
	fi

	# ---- Push phase: the VM runs on the source ----
	local fio_args=(--filename=/dev/mapper/hm-src --name=w --direct=1 --ioengine=libaio
		--iodepth=4 --rate=512k --runtime=$((4 + RANDOM % 6)) --time_based
		--randseed=$seed --output=/tmp/fio-src.txt)
	case $workload in
	randwrite) fio_args+=(--rw=randwrite --bssplit=4k/40:32k/30:100k/30 --blockalign=4k) ;;
	hotspot) fio_args+=(--rw=randwrite --bs=4k --random_distribution=zipf:1.4) ;;
	seqwrite) fio_args+=(--rw=write --bs=256k) ;;
	esac
	if [ "$workload" = idle ]; then
		sleep $((2 + RANDOM % 4))
	else
		fio "${fio_args[@]}" > /dev/null &
		local fio_pid=$!
	fi
	if [ $dst_err = 1 ]; then
		sleep 1
		fault_dev dst-disk "$dst_under" error
		sleep $((1 + RANDOM % 3))
		fault_dev dst-disk "$dst_under" ok
		if [ "$(hm_field hm-dst 31)" = failed ]; then
			echo "the destination's metadata failed: re-created"
			restart dst clean
		fi
	fi
	if [ $delay = 1 ]; then
		fault_dev src-disk "$src_under" delay 20
		fault_dev dst-disk "$dst_under" delay 20
		sleep 2
		fault_dev src-disk "$src_under" ok
		fault_dev dst-disk "$dst_under" ok
	fi
	if [ "$workload" != idle ]; then
		wait $fio_pid || { cat /tmp/fio-src.txt; fail "seed $seed: the source's workload failed"; }
	fi
	hm_push_line hm-src
	# Restarts in the push phase: the VM is paused (no I/O in flight).
	case $restart_dst in *-push) restart dst "${restart_dst%-push}" ;; esac
	case $restart_src in *-push) restart src "${restart_src%-push}" ;; esac

	# ---- Handover (through link faults: retried) ----
	local tries
	for tries in 1 2 3 4 5 6; do
		wait_for 60 link_is hm-src connected || fail "seed $seed: the source does not reconnect: $(hm_push_line hm-src)"
		dmsetup message hm-src 0 handover 2>/dev/null && break
		[ "$(hm_field hm-src 2)" = tracking ] || break
	done
	[ "$(hm_field hm-src 2)" != tracking ] || fail "seed $seed: no handover in $tries tries: $(hm_push_line hm-src)"
	wait_for 90 handed_over hm-dst || fail "seed $seed: destination not in post-copy: $(hm_push_line hm-dst)"
	# The source is fenced: its disk holds the final data.
	dd if=/dev/mapper/src-disk of=/tmp/expected.img bs=1M iflag=direct status=none ||
		fail "seed $seed: reading the source's disk"
	at_exit "rm -f /tmp/expected.img"
	must dmsetup message hm-src 0 set bandwidth 256

	# ---- Post-copy: the VM runs on the destination ----
	# Restarts early in post-copy, while chunks are still missing.
	sleep $((RANDOM % 3))
	case $restart_dst in *-post) restart dst "${restart_dst%-post}" ;; esac
	case $restart_src in *-post)
		restart src "${restart_src%-post}"
		dd if=/dev/zero of=/dev/mapper/hm-src bs=4k count=1 oflag=direct status=none 2>/dev/null &&
			fail "seed $seed: a restarted source accepted a write after handover"
		;;
	esac
	local off=$((RANDOM % (mib - 4)))
	fio --filename=/dev/mapper/hm-dst --name=v --rw=randwrite --bsrange=4k-96k \
		--blockalign=4k --direct=1 --offset=${off}M --size=4M --ioengine=libaio \
		--iodepth=4 --verify=crc32c --verify_fatal=1 --do_verify=1 --randseed=$seed \
		--output=/tmp/fio-dst.txt > /dev/null ||
		{ cat /tmp/fio-dst.txt; fail "seed $seed: the destination's verified workload failed"; }
	dd if=/dev/mapper/hm-dst of=/tmp/expected.img bs=1M skip="$off" seek="$off" count=4 \
		iflag=direct conv=notrunc status=none || fail "seed $seed: reading back the workload's data"
	# Made durable (a flush), so that a power cut may not take it.
	python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY); os.fsync(fd)' \
		/dev/mapper/hm-dst || fail "seed $seed: flush on the destination"
	if [ $src_err = 1 ]; then
		fault_dev src-disk "$src_under" error
		local r=$((RANDOM % mib))
		timeout 120 dd if=/dev/mapper/hm-dst of=/tmp/read.bin bs=1M skip=$r count=1 \
			iflag=direct status=none &
		local reader=$!
		sleep $((1 + RANDOM % 3))
		fault_dev src-disk "$src_under" ok
		wait $reader || fail "seed $seed: a read on the destination failed across the source's disk error"
		assert_eq "$(dd if=/tmp/expected.img bs=1M skip=$r count=1 status=none | md5sum)" \
			"$(md5sum < /tmp/read.bin)" "seed $seed: MiB $r read across the source's disk error"
	fi
	local i
	for i in 1 2 3; do
		r=$((RANDOM % mib))
		assert_eq "$(dd if=/tmp/expected.img bs=1M skip=$r count=1 status=none | md5sum)" \
			"$(timeout 120 dd if=/dev/mapper/hm-dst bs=1M skip=$r count=1 iflag=direct status=none | md5sum)" \
			"seed $seed: MiB $r read on the destination"
	done
	must dmsetup message hm-src 0 set bandwidth 0
	wait_for 240 field_is hm-dst 2 complete || fail "seed $seed: destination not complete: $(hm_push_line hm-dst)"
	wait_for 60 field_is hm-src 2 complete || fail "seed $seed: source not complete: $(hm_push_line hm-src)"
	compare_data /tmp/expected.img /dev/mapper/dst-disk "$chunk"
	no_protocol_errors
	echo "soak seed $seed: ok ($faults faults)"
}

if [ "${1-}" = --one ]; then
	soak_one "$2"
	exit 0
fi

seed0=${HM_SOAK_SEED:-3}
n=${HM_SOAK_N:-1}
faults=0
for i in $(seq 0 $((n - 1))); do
	seed=$((seed0 + i))
	t0=$SECONDS
	bash "$0" --one "$seed" || fail "migration $((i + 1)) of $n failed: repeat it with make soak SEED=$seed N=1"
	# Loop devices made in $(...) have no cleanup of their own.
	losetup -D
	rm -f /tmp/hm-*.img
	faults=$((faults + $(cat /tmp/soak-faults)))
	echo "--- migration $((i + 1)) of $n (seed $seed) took $((SECONDS - t0)) s"
done
echo "soak: $n migrations from seed $seed0, $faults faults injected, 0 mismatches"
