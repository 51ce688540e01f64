#!/usr/bin/env bash
# API latency and throughput over a store of 1M incidents (make bench):
# `tocsin serve` on 127.0.0.1, wrk with one client (p50/p99 of a filtered
# page of 100) and with 50 concurrent clients (requests/s).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}/tools
command -v wrk >/dev/null || { echo "api bench: wrk missing (apt-get install wrk)"; exit 0; }
tmp=$(mktemp -d /tmp/tocsin-api-bench.XXXXXX)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
$B/api_fill "$tmp/db" 1000000
tok=bench-token-$$
h=$(printf %s "$tok" | sha256sum | cut -d' ' -f1)
printf 'tokens:\n  - {name: bench, sha256: %s, role: viewer, tenants: ["*"]}\n' "$h" > "$tmp/tokens.yml"
chmod 600 "$tmp/tokens.yml"  # serve refuses a world-readable tokens file
bin/tocsin serve --db "$tmp/db" --listen 127.0.0.1:0 --tokens "$tmp/tokens.yml" --rate 0 \
    --no-reports > "$tmp/serve.out" 2> "$tmp/serve.err" &
pid=$!
for _ in $(seq 100); do grep -q listening "$tmp/serve.out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$tmp/serve.out" | head -1)
q="$url/api/v1/incidents?tenant=agency-a&severity=high&limit=100"
curl -sf -H "Authorization: Bearer $tok" "$q" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d["incidents"]) == 100, len(d["incidents"])'
for c in 1 50; do
    t=2; [ $c -lt 2 ] && t=1
    wrk -t$t -c$c -d8s --latency -H "Authorization: Bearer $tok" "$q" > "$tmp/wrk.$c"
    p50=$(awk '/^ +50%/{print $2}' "$tmp/wrk.$c"); p99=$(awk '/^ +99%/{print $2}' "$tmp/wrk.$c")
    rps=$(awk '/^Requests\/sec/{print $2}' "$tmp/wrk.$c")
    rss=$(ps -o rss= -p $pid)
    echo "api: GET a filtered page of 100 (tenant + severity) over 1,000,000 incidents, $c client(s): $rps requests/s, p50 $p50, p99 $p99 (serve RSS $((rss / 1024)) MiB)"
done
