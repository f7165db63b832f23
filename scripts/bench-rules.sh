#!/bin/bash
# make bench-rules: large allow/deny lists (bench/rulesbench.c says what is
# measured). Not part of `make test`. Needs root (BPF). Runs for a few
# minutes at 10^6 entries; run it on a quiet machine (see uptime): the
# syncs and the per-packet costs move with other load.
# RULES_SIZES=1,1000 for a quick run; RULES_PREALLOC=1 preallocates the host
# hashes (what xdp.list_prealloc does).
set -euo pipefail
BUILD=${BUILD:-build}
OUT=$BUILD/bench/rules-results.json
mkdir -p "$BUILD/bench"
[ "$(id -u)" = 0 ] || { echo "bench-rules: needs root (BPF)" >&2; exit 1; }
echo "bench-rules: load average now: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$BUILD/bench/rulesbench" --sizes "${RULES_SIZES:-1,1000,100000,1000000}" \
	--repeat "${RULES_REPEAT:-1000000}" --rounds "${RULES_ROUNDS:-5}" \
	${RULES_PREALLOC:+--prealloc} > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print("host hashes preallocated" if d.get("prealloc") else
      "host hashes not preallocated")
print(f"{'fam':>3} {'list':5} {'entries':>8} {'load ms':>8} {'fill s':>7} "
      f"{'same s':>7} {'resync s':>8} {'(cpu s)':>7} {'gap':>4} "
      f"{'memlock KB':>10} {'hit ns':>14} {'miss ns':>14}")
for r in d["results"]:
    print(f"{r['family']:>3} {r['list']:5} {r['entries']:>8} "
          f"{r['load_ms']:8.1f} {r['fill_s']:7.3f} {r['same_s']:7.3f} "
          f"{r['resync_s']:8.3f} {r['resync_cpu_s']:7.3f} "
          f"{r['gap_runs']:>4} {r['memlock_bytes'] / 1e3:10.0f} "
          f"{r['hit_ns']:6.1f} ({r['hit_ns_min']:.0f}-{r['hit_ns_max']:.0f})"
          f" {r['miss_ns']:6.1f} ({r['miss_ns_min']:.0f}-"
          f"{r['miss_ns_max']:.0f})")
print(f"results: {sys.argv[1]}")
PY
