#!/usr/bin/env bash
# scripts/fetch-corpora.sh [DIR] - fetch the pinned public sample corpora the
# tests read (README, "Test corpora") into DIR (default tests/corpora/,
# gitignored), where the tests find them when TOCSIN_CORPORA is unset and no
# ../shared sits beside the checkout:
#   DIR/sigma/       SigmaHQ/sigma at SIGMA_COMMIT (rules/, licences)
#   DIR/sigma-spec/  SigmaHQ/sigma-specification at SPEC_TAG
#   DIR/events/loghub/  logpai/loghub at LOGHUB_COMMIT, the five *_2k.log
#                    samples as JSON lines (scripts/loghub-jsonl.py)
# The other event samples (SigmaHQ regression data, EVTX-ATTACK-SAMPLES,
# OTRF) are converted from binary EVTX and zip files and are not fetched: the
# tests that need them stay skipped, each saying so in one line.
# Needs git, curl and python3 and a network that reaches github.com; without
# one it stops with a message and exit 1, leaving DIR as it was.
set -euo pipefail
cd "$(dirname "$0")/.."
SIGMA_COMMIT=8eaafff1f2845a696050e05e72ba1140ee190698
SPEC_TAG=v2.1.0
LOGHUB_COMMIT=dd61d0952749ee7963bde24220d1be5ede023033
dest=${1:-tests/corpora}

die() { echo "fetch-corpora: $*" >&2; exit 1; }
for t in git curl python3; do command -v "$t" >/dev/null || die "needs $t"; done
if ! timeout 20 git ls-remote https://github.com/SigmaHQ/sigma HEAD >/dev/null 2>&1; then
    die "cannot reach https://github.com (no network here?): nothing fetched. Copy the corpora
from a machine that has them (a directory with sigma/, sigma-spec/ and events/) and set
TOCSIN_CORPORA=DIR, or run this script where github.com is reachable. Tests that need a
corpus are skipped meanwhile, each with one line (make unit lists them)."
fi

mkdir -p "$dest"
tmp=$(mktemp -d "$dest/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "fetch-corpora: SigmaHQ/sigma@$SIGMA_COMMIT"
git -C "$tmp" init -q sigma
git -C "$tmp/sigma" fetch -q --depth 1 https://github.com/SigmaHQ/sigma "$SIGMA_COMMIT"
git -C "$tmp/sigma" checkout -q FETCH_HEAD -- rules LICENSE README.md 2>/dev/null ||
    git -C "$tmp/sigma" checkout -q FETCH_HEAD -- rules
rm -rf "$tmp/sigma/.git"

echo "fetch-corpora: SigmaHQ/sigma-specification@$SPEC_TAG"
git -C "$tmp" clone -q --depth 1 --branch "$SPEC_TAG" \
    https://github.com/SigmaHQ/sigma-specification sigma-spec
rm -rf "$tmp/sigma-spec/.git"

echo "fetch-corpora: logpai/loghub@$LOGHUB_COMMIT (5 samples of 2000 lines)"
mkdir -p "$tmp/events/loghub"
for n in Linux OpenSSH Mac Thunderbird Apache; do
    curl -fsSL --retry 2 -o "$tmp/$n.log" \
        "https://raw.githubusercontent.com/logpai/loghub/$LOGHUB_COMMIT/$n/${n}_2k.log"
    python3 scripts/loghub-jsonl.py "$n" < "$tmp/$n.log" > "$tmp/events/loghub/${n}_2k.jsonl"
    rm -f "$tmp/$n.log"
done
cat > "$tmp/events/README.md" <<R
loghub samples from logpai/loghub@$LOGHUB_COMMIT ({Linux,OpenSSH,Mac,Thunderbird,Apache}/*_2k.log),
as JSON lines by scripts/loghub-jsonl.py. loghub is "freely available for research or academic
work"; any use must cite https://github.com/logpai/loghub and: Jieming Zhu, Shilin He, Pinjia He,
Jinyang Liu, Michael R. Lyu. Loghub: A Large Collection of System Log Datasets for AI-driven Log
Analytics. ISSRE 2023.
R

for d in sigma sigma-spec events; do
    rm -rf "${dest:?}/$d"
    mv "$tmp/$d" "$dest/$d"
done
echo "fetch-corpora: done: $dest/{sigma,sigma-spec,events}"
