#!/usr/bin/env bash
# The daemon's folders are its layers, lowest first. A file may include
# headers of its own folder and of folders below it, never above: a new
# upward include fails the build. The pure layers (lib http config policy)
# also stay free of I/O libraries. docs/ARCHITECTURE.md is the map.
#
# Usage: scripts/check-layers.sh [--list]   (--list: every include between
# folders, as "from -> to", for reading the graph)
set -uo pipefail
cd "$(dirname "$0")/.."

LAYERS=(lib http config policy xdp obs io proxy control cmd)
PURE=(lib http config policy)
# I/O and kernel libraries a pure layer must not include.
IMPURE_RE='<(liburing|bpf/|xdp/|openssl/ssl|sys/epoll|linux/bpf|nghttp2/|hiredis/|ares)'

# Upward includes still to be removed, one "file -> header" a line.
ALLOWED_UP=(
)

declare -A rank
for i in "${!LAYERS[@]}"; do rank[${LAYERS[$i]}]=$i; done

bad=0 up=0
while IFS= read -r f; do
	from=${f#daemon/}; from=${from%%/*}
	[[ -n ${rank[$from]:-} ]] || { echo "$f: folder '$from' is no layer"; bad=1; continue; }
	while IFS= read -r inc; do
		to=${inc%%/*}
		[[ -n ${rank[$to]:-} ]] || continue
		[[ ${1:-} == --list && $to != "$from" ]] && echo "$from -> $to  ($f includes $inc)"
		if (( rank[$to] > rank[$from] )); then
			up=$((up + 1))
			ok=0
			for a in "${ALLOWED_UP[@]}"; do
				[[ $a == "$f -> $inc" ]] && ok=1
			done
			if (( !ok )); then
				echo "$f: includes $inc: '$to' is above '$from'"
				bad=1
			fi
		fi
	done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
	# Redis is the cluster module's alone (docs/CLUSTER.md)
	if [[ $f != daemon/control/cluster* ]] &&
	   grep -En '^#include <hiredis/' "$f" >/dev/null; then
		echo "$f: includes hiredis: only daemon/control/cluster*.c may"
		bad=1
	fi
	for p in "${PURE[@]}"; do
		[[ $from == "$p" ]] || continue
		if grep -En "^#include $IMPURE_RE" "$f" >/dev/null; then
			printf '%s: a pure layer includes an I/O library: %s\n' "$f" \
				"$(grep -En "^#include $IMPURE_RE" "$f" | head -1)"
			bad=1
		fi
	done
done < <(git ls-files 'daemon/*.c' 'daemon/*.h' 2>/dev/null || find daemon -name '*.[ch]')

# OpenSSL's TLS API stays in the TLS transport (docs/TLS.md).
while IFS= read -r f; do
	case $f in daemon/io/tls*) continue ;; esac
	if grep -En '^#include <openssl/ssl' "$f" >/dev/null; then
		echo "$f: includes <openssl/ssl.h>: only daemon/io/tls*.c may"
		bad=1
	fi
done < <(git ls-files 'daemon/*.c' 'daemon/*.h' 2>/dev/null || find daemon -name '*.[ch]')

if (( bad )); then
	echo "layers: upward or impure includes (order: ${LAYERS[*]})" >&2
	exit 1
fi
[[ ${1:-} == --list ]] || echo "layers: ok (${up} upward include(s) on the allowed list)"
