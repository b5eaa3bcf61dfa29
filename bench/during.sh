#!/bin/sh
# Signups during a rescoring: ringwatch serve on a copy of DB takes signups
# from wrk (bench/load/signup.lua, 4 connections, DURING_SECONDS, default
# 24) while POST /v1/rescore runs, posted 4 s in; beside the same signups
# with no rescoring (the peer, in the same run). Once with rescore_threads
# = 1 and once with 0 (one per processor). Server and wrk share the
# machine's cores, as a small deployment's would. Loopback only; the server
# is stopped when the script ends.
# Usage: bench/during.sh BIN DB WORK RESULT
set -eu
bin=$1 db=$2 work=$3 result=$4
secs=${DURING_SECONDS:-24}
port=${DURING_PORT:-18990}
dir=$work/during
mkdir -p "$dir"
srv=
trap '[ -n "$srv" ] && kill "$srv" 2>/dev/null; true' EXIT INT TERM
sig=during-signup-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
adm=during-admin-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
ts0=$(($(sqlite3 "$db" 'SELECT coalesce(max(ts), 0) FROM events') + 3600))

# one NAME THREADS RESCORE: a server on a fresh copy, wrk, maybe the job;
# prints "NAME req/s p50 p90 p99 max job-seconds" (ms; job - when none).
one() {
  name=$1 threads=$2 rescore=$3
  rm -f "$dir/d.db" "$dir/d.db-wal" "$dir/d.db-shm" "$dir/d.db.lock" "$dir/d.db.runlock"
  cp "$db" "$dir/d.db"
  cp "$db.key" "$dir/d.db.key"
  cat >"$dir/c.conf" <<EOF
listen = 127.0.0.1:$port
db = $dir/d.db
key_file = $dir/d.db.key
token_signup = $sig
token_admin = $adm
rescore_threads = $threads
EOF
  chmod 600 "$dir/c.conf"
  "$bin" serve --config "$dir/c.conf" >"$dir/serve-$name.log" 2>&1 &
  srv=$!
  i=0
  until curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -lt 600 ] || { echo "bench/during.sh: the server did not come up" >&2; exit 1; }
    sleep 0.2
  done
  sync
  BENCH_TOKEN=$sig BENCH_TS0=$ts0 BENCH_TAG=$name wrk -t1 -c4 -d"${secs}s" --latency \
    -s "$(dirname "$0")/load/signup.lua" "http://127.0.0.1:$port" >"$dir/wrk-$name.txt" 2>&1 &
  wk=$!
  if [ "$rescore" = 1 ]; then
    sleep 4
    curl -fsS -X POST -H "Authorization: Bearer $adm" "http://127.0.0.1:$port/v1/rescore" >/dev/null
  fi
  wait $wk
  kill "$srv"
  wait "$srv" 2>/dev/null || true
  srv=
  job=$(sed -n 's/.*rescore: job [0-9]* done in \([0-9.]*\) s.*/\1/p' "$dir/serve-$name.log" | tail -n 1)
  # wrk's --latency percentiles in ms
  ms() { awk -v k="$1" '$1 == k { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
         printf "%.2f", u == "us" ? v / 1000 : u == "s" ? v * 1000 : v }' "$dir/wrk-$name.txt"; }
  max=$(awk '$1 == "Latency" { v = $4; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
        printf "%.1f", u == "us" ? v / 1000 : u == "s" ? v * 1000 : v; exit }' "$dir/wrk-$name.txt")
  rps=$(awk '/^Requests\/sec/ { printf "%.0f", $2 }' "$dir/wrk-$name.txt")
  errs=$(awk '/Non-2xx|Socket errors/ { n++ } END { print n + 0 }' "$dir/wrk-$name.txt")
  echo "$name $rps $(ms 50%) $(ms 90%) $(ms 99%) $max ${job:--} $errs"
}

echo "== during: signups on 4 connections for $secs s, a rescoring posted 4 s in ($(basename "$db"))"
{
  one none 0 0
  one threads-1 1 1
  one threads-0 0 1
} >"$dir/rows.txt"
{
  echo "RESULT signups during a rescoring ($(sqlite3 "$db" 'SELECT count(*) FROM accounts') accounts; wrk -c4 -d${secs}s,"
  echo "  the rescoring posted 4 s in; server and wrk on the same cores); ratios against no rescoring, same run"
  awk 'NR == 1 { r0 = $2; p0 = $5 }
       { printf "  %-10s %8s signups/s (%.2f)  p50 %s ms  p90 %s ms  p99 %s ms (%.1fx)  max %s ms  job %s s  error lines %s\n",
         $1, $2, $2 / r0, $3, $4, $5, $5 / p0, $6, $7, $8 }' "$dir/rows.txt"
} | tee -a "$result"
