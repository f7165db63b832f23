#!/usr/bin/env bash
# Check that the build tools are present and new enough; say what to install.
set -uo pipefail
fail=0
need() { # need CMD PACKAGE
	if ! command -v "$1" >/dev/null 2>&1; then
		echo "configure: '$1' not found: apt-get install $2" >&2
		fail=1
	fi
}
need clang clang
need bpftool bpftool
need pkg-config pkg-config
need llvm-strip llvm
need xxd xxd

if command -v clang >/dev/null; then
	v=$(clang -dumpversion | cut -d. -f1)
	if ((v < 11)); then
		echo "configure: clang $v is too old for BPF (need >= 11)" >&2
		fail=1
	fi
fi
if command -v bpftool >/dev/null && ! bpftool gen help 2>&1 | grep -q skeleton; then
	echo "configure: bpftool lacks 'gen skeleton': apt-get install bpftool" >&2
	fail=1
fi
for p in "libbpf libbpf-dev" "libxdp libxdp-dev" "liburing liburing-dev" \
	 "yaml-0.1 libyaml-dev" "openssl libssl-dev" "hiredis libhiredis-dev" "cmocka libcmocka-dev"; do
	set -- $p
	if ! pkg-config --exists "$1"; then
		echo "configure: pkg-config cannot find $1: apt-get install $2" >&2
		fail=1
	fi
done
if ! pkg-config --atleast-version=2.3 liburing 2>/dev/null; then
	echo "configure: liburing >= 2.3 needed (multishot recv, buffer rings)" >&2
	fail=1
fi
exit $fail
