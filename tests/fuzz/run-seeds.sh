#!/usr/bin/env bash
# Replay each fuzz target's seed corpus (tests/fuzz/corpus/<target>/).
set -eu
bindir=$1; here=$(dirname "$0"); rc=0
for b in "$bindir"/fuzz_*-replay; do
    [ -e "$b" ] || continue
    t=$(basename "$b" -replay)
    dir="$here/corpus/${t#fuzz_}"
    [ -d "$dir" ] || { echo "fuzz $t: no seed corpus at $dir"; rc=1; continue; }
    out=$("$b" "$dir"/*) || { echo "fuzz $t: FAILED"; rc=1; continue; }
    echo "fuzz $t: $out replayed"
done
exit $rc
