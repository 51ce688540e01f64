#!/usr/bin/env bash
# Long coverage-guided runs, one target at a time, for the executions the
# fuzzing note reports (issue 15: >= 10M per target from one run):
#   tests/fuzz/run-long.sh DIR OUT RUNS SECONDS TARGET...
# DIR is make fuzz's build (DIR/fuzz/fuzz_<target>-lf, clang + libFuzzer +
# ASan/UBSan: `make fuzz FUZZ_TIME=1` or the fuzz-build target builds them).
# Each target in the order given runs until RUNS executions or SECONDS,
# under nice -n 10, from its seeds and what earlier runs kept in
# DIR/corpus/<target>/, with libFuzzer's default input length; its binary is
# copied to DIR/long/ when it starts, so a rebuild meanwhile does not touch
# it. Crashes, leaks and timeouts go to DIR/crashes/<target>-*, the log to
# DIR/logs-long/<target>.log, and one line per target is appended to OUT:
#   fuzz TARGET: N execs, C coverage, rc R, S s, crashes K
# (rc 0: the run ended at RUNS or SECONDS; K counts DIR/crashes/<target>-*).
# Meant to be left running: nohup tests/fuzz/run-long.sh ... &
set -u
dir=$1; out=$2; runs=$3; secs=$4; shift 4
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir/corpus" "$dir/crashes" "$dir/logs-long" "$dir/long"
for t in "$@"; do
    src="$dir/fuzz/fuzz_$t-lf" b="$dir/long/fuzz_$t-lf"
    if [ ! -x "$src" ]; then
        echo "fuzz $t: no $src (build it first)" >> "$out"
        continue
    fi
    cp "$src" "$b.tmp" && mv "$b.tmp" "$b"
    work="$dir/corpus/$t"; mkdir -p "$work"
    [ -d "$here/corpus/$t" ] && cp -n "$here/corpus/$t"/* "$work"/ 2>/dev/null
    log="$dir/logs-long/$t.log"
    s=$(date +%s)
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        nice -n 10 "$b" -runs="$runs" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 \
        -print_final_stats=1 -artifact_prefix="$dir/crashes/$t-" "$work" > "$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    k=$(ls "$dir/crashes" | grep -c "^$t-")
    echo "fuzz $t: ${execs:-0} execs, ${cov:-0} coverage, rc $rc, $(( $(date +%s) - s )) s, crashes $k" >> "$out"
done
