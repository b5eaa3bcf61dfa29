#!/bin/sh
# make bench, part mpi: `rescore` in one process beside `mpirun -np 1|2
# rescore --mpi` on copies of one database, at 1M accounts and (when the
# machine allows) 10M: wall time, each rank's peak memory, bytes between
# ranks, the largest component, and whether the 2-rank run's scores are the
# one-process run's byte for byte. Usage: bench/mpi.sh BIN WORK RESULT
#   BENCH_MPI_SIZES  worlds ("1000000 10000000")
# A 10M world runs only with the load average below 3 and 20 GB available
# (one process about 7.1 GB, two ranks about 8.1 GB together): otherwise it says so and skips it.
set -eu
bin=$1 work=$2 result=$3
sizes=${BENCH_MPI_SIZES:-1000000 10000000}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader
if ! command -v mpirun >/dev/null || "$bin" rescore --mpi --db /nonexistent 2>&1 | grep -q "no MPI"; then
  echo "bench mpi: no mpirun or a build without MPI; skipped" | tee -a "$result"
  exit 0
fi
mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
for n in $sizes; do
  load=$(cut -d' ' -f1 /proc/loadavg)
  avail=$(awk '/MemAvailable/ { print int($2 / 1048576) }' /proc/meminfo)
  if [ "$n" -ge 5000000 ] && { [ "$(awk -v l="$load" 'BEGIN { print (l < 3) }')" != 1 ] || [ "$avail" -lt 20 ]; }; then
    echo "RESULT mpi accounts=$n skipped load=$load available_gb=$avail (needs load < 3 and 20 GB)" | tee -a "$result"
    continue
  fi
  ev=$work/events-$n.jsonl truth=$work/truth-$n.csv
  [ -s "$ev" ] || "$bin" simulate --accounts "$n" --seed 11 --out "$ev" --truth "$truth" >/dev/null
  base=$work/mpi-$n.db
  rm -f "$base" "$base-wal" "$base-shm" "$base.key"
  "$bin" ingest --quiet --db "$base" "$ev" >/dev/null
  for np in 0 1 2; do
    db=$work/mpi-$n-np$np.db
    rm -f "$db" "$db-wal" "$db-shm" "$db.key"
    cp "$base" "$db" && cp "$base.key" "$db.key"
    log=$work/mpi-$n-np$np.log
    if [ "$np" = 0 ]; then
      /usr/bin/time -f "time wall=%e peak_kb=%M" "$bin" rescore --db "$db" >"$log" 2>&1
      wall=$(sed -n 's/^time wall=\([0-9.]*\).*/\1/p' "$log")
      peaks="rank0=$(mb "$(sed -n 's/.*peak_kb=\([0-9]*\).*/\1/p' "$log")")MB"
      extra=""
    else
      /usr/bin/time -f "time wall=%e" mpirun --oversubscribe -np "$np" "$bin" rescore --mpi --db "$db" >"$log" 2>&1
      wall=$(sed -n 's/^time wall=\([0-9.]*\).*/\1/p' "$log")
      peaks=$(sed -n 's/^rescore: rank \([0-9]*\) peak RSS \([0-9]*\) MB/rank\1=\2MB/p' "$log" | tr '\n' ' ')
      extra=$(sed -n 's/^rescore: [0-9]* ranks, \([0-9]*\) components, the largest \([0-9]*\) accounts and \([0-9]*\) edges, \([0-9.]*\) MB between ranks/components=\1 largest_accounts=\2 largest_edges=\3 sent_mb=\4/p' "$log")
    fi
    "$bin" scores --db "$db" | md5sum | cut -c1-12 >"$work/mpi-$n-np$np.md5"
    same=$([ "$(cat "$work/mpi-$n-np$np.md5")" = "$(cat "$work/mpi-$n-np0.md5")" ] && echo yes || echo NO)
    echo "RESULT mpi accounts=$n ranks=$np wall_s=$wall $peaks $extra scores_same_as_one_process=$same load=$load" |
      tee -a "$result"
  done
done
