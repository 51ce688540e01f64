#!/usr/bin/env bash
# Coverage-guided fuzzing of every libFuzzer target in DIR/fuzz (make fuzz):
#   tests/fuzz/run-fuzz.sh DIR SECONDS [TARGET...]
# Each target starts from its seeds (tests/fuzz/corpus/<target>/, copied into
# DIR/corpus/<target>/ so the repo's seeds stay as they are; what the
# fuzzer finds there is kept between runs) and runs SECONDS under
# ASan+UBSan. One line per target:
#   fuzz TARGET: N execs, C coverage, K crashes
# Crashes, leaks and timeouts are written to DIR/crashes/<target>-*; the exit
# status is 1 when any target found one. A crash becomes a regression seed
# by copying it into tests/fuzz/corpus/<target>/ once fixed.
set -u
dir=$1; secs=$2; shift 2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir/corpus" "$dir/crashes" "$dir/logs"
rc=0
for b in "$dir"/fuzz/fuzz_*-lf; do
    [ -x "$b" ] || continue
    t=$(basename "$b" -lf); t=${t#fuzz_}
    if [ $# -gt 0 ]; then
        want=0; for x in "$@"; do [ "$x" = "$t" ] && want=1; done
        [ $want = 1 ] || continue
    fi
    work="$dir/corpus/$t"; mkdir -p "$work"
    [ -d "$here/corpus/$t" ] && cp -n "$here/corpus/$t"/* "$work"/ 2>/dev/null
    before=$(ls "$dir/crashes" | grep -c "^$t-" || true)
    log="$dir/logs/$t.log"
    # one input at most 1 MiB (as replay_main reads), 10 s per input
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$b" -max_total_time="$secs" -max_len=1048576 -timeout=10 -rss_limit_mb=4096 \
        -print_final_stats=1 -artifact_prefix="$dir/crashes/$t-" "$work" > "$log" 2>&1
    after=$(ls "$dir/crashes" | grep -c "^$t-" || true)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    k=$((after - before))
    echo "fuzz $t: ${execs:-0} execs, ${cov:-0} coverage, $k crashes"
    if [ "$k" -gt 0 ]; then
        rc=1
        grep -m1 -E "ERROR: |runtime error|SUMMARY" "$log" | sed "s/^/  $t: /"
        ls "$dir/crashes" | grep "^$t-" | sed "s#^#  $dir/crashes/#" | tail -3
    fi
done
exit $rc
