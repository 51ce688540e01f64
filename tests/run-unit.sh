#!/usr/bin/env bash
# Run every unit-test binary given, print each suite's Check summary and a
# total. Exit non-zero when any suite fails.
set -u
total_ok=0; total_fail=0; failed_suites=(); skipped=()
for t in "$@"; do
    name=$(basename "$t")
    out=$("$t" 2>&1); rc=$?
    summary=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks: ' | tail -n 1)
    printf '%-28s %s\n' "$name" "${summary:-no summary (exit $rc)}"
    # tests that need a corpus and found none say so in one line (check_util.h)
    while IFS= read -r l; do [ -n "$l" ] && skipped+=("$name: $l"); done \
        < <(printf '%s\n' "$out" | grep -E '^[a-z0-9_]+: skipped: needs ' | sort -u)
    checks=$(printf '%s' "$summary" | sed -n 's/.*Checks: \([0-9]*\).*/\1/p')
    fails=$(printf '%s' "$summary" | sed -n 's/.*Failures: \([0-9]*\), Errors: \([0-9]*\).*/\1 \2/p')
    f=0; e=0; [ -n "$fails" ] && read -r f e <<<"$fails"
    total_ok=$((total_ok + ${checks:-0} - f - e)); total_fail=$((total_fail + f + e))
    if [ $rc -ne 0 ]; then
        failed_suites+=("$name")
        [ $((f + e)) -eq 0 ] && total_fail=$((total_fail + 1))
        printf '%s\n' "$out" | grep -vE '^(Running suite|[0-9]+%: Checks)' | head -n 40
    fi
done
if [ ${#skipped[@]} -gt 0 ]; then
    printf 'skipped for want of the corpora (passed without running):\n'
    printf '  %s\n' "${skipped[@]}"
fi
echo "unit tests: $((total_ok + total_fail)) checks, $total_ok passed, $total_fail failed" \
     "(${#skipped[@]} skipped for want of the corpora)"
[ ${#failed_suites[@]} -eq 0 ] || { echo "failed suites: ${failed_suites[*]}"; exit 1; }
