#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Runs inside the test VM: the kernel's tcrypt speed tests for the frame
# protections hybridmig could use (hmac(sha256), gcm(aes),
# rfc7539esp(chacha20,poly1305)), and the drivers /proc/crypto lists.
# Host side: tests/vm/boot <kver> <outdir> /bin/bash bench/crypto-speed.sh <outdir-in-guest>
# (the outdir is /tmp/results in the guest). Results: tcrypt.txt, crypto.txt.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
out=${1:-/tmp/results}
sec=${HM_TCRYPT_SEC:-1}
modprobe sha256_ssse3
modprobe aesni_intel
modprobe ghash_clmulni_intel
modprobe chacha_x86_64
modprobe poly1305_x86_64
grep -w -E 'aes|pclmulqdq|avx|avx2|avx512f|vaes|vpclmulqdq|ssse3' -o /proc/cpuinfo | sort -u | tr '\n' ' ' > "$out/cpuflags.txt"
dmesg -C
modprobe tcrypt mode=300 alg='hmac(sha256)' klen=32 sec="$sec" 2>/dev/null
modprobe tcrypt mode=211 sec="$sec" 2>/dev/null
modprobe tcrypt mode=213 sec="$sec" 2>/dev/null
dmesg > "$out/tcrypt.txt"
cat /proc/crypto > "$out/crypto.txt"
