#!/usr/bin/env bash
# bench/scale.sh BOOTSTRAP: the distributed mode's figures (docs/scale.md).
#  1. the re-key hop's cost per event: the same sshd stream (KEYS lines, one
#     failed login per source address, all within 30 s: every line is a
#     detection and opens live correlation state) through `tocsin run` in
#     the single-process mode and with correlate.distributed (one node),
#     CPU seconds (user + sys of the whole process) per event, max RSS;
#  2. takeover: a fresh node (empty data directory) joins the group after
#     the first stopped, gets every partition and restores the state from
#     the changelog: seconds from the log lines, keys, max RSS.
# Figures on a shared machine: CPU seconds, not wall time, for (1).
# KEYS: BENCH_SCALE_KEYS (default 1000000).
set -euo pipefail
cd "$(dirname "$0")/.."
boot=$1
N=${BENCH_SCALE_KEYS:-1000000}
tmp=$(mktemp -d /tmp/tocsin-bench-scale.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
python3 - "$boot" "$N" "$tmp" <<'PY'
import os, re, signal, subprocess, sys, time
boot, n, tmp = sys.argv[1], int(sys.argv[2]), sys.argv[3]
KTOOL, TOCSIN = "build/tools/ktool", "bin/tocsin"
tag = f"{os.getpid()}-{int(time.time())}"
topic = f"bench-scale.{tag}"
PARTS = 6
subprocess.run([KTOOL, "create", boot, topic, str(PARTS)], check=True, capture_output=True)
per = [[] for _ in range(PARTS)]
for i in range(n):
    t = i * 30 // n
    ip = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" if i < 1 << 24 else f"11.0.0.{i & 255}"
    h = i % 60
    per[h % PARTS].append(f"<38>Nov 20 10:00:{t:02d} host-{h:02d} sshd[{1000 + i % 9000}]: "
                          f"Failed password for root from {ip} port {1024 + i % 60000} ssh2")
for p, lines in enumerate(per):
    subprocess.run(["kcat", "-P", "-b", boot, "-t", topic, "-p", str(p)],
                   input="\n".join(lines) + "\n", text=True, check=True)
ends = [len(l) for l in per]
del per


def config(name, group, dist, node=None):
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    extra = f"correlate:\n  distributed: true\n  partitions: {PARTS}\n  node: {node}\n" if dist else ""
    with open(os.path.join(d, "tocsin.yml"), "w") as f:
        f.write(f'kafka:\n  brokers: "{boot}"\n  group_id: {group}\n  workers: 1\n'
                f'  properties:\n    session.timeout.ms: 6000\n    heartbeat.interval.ms: 1000\n'
                f'topics:\n  - name: {topic}\n    format: rfc3164\n'
                f'paths:\n  rules: [etc/rules]\n  data_dir: {d}/db\n{extra}')
    return d


def committed(group, t, parts):
    out = subprocess.run([KTOOL, "committed", boot, group, t, str(parts)],
                         capture_output=True, text=True, check=True).stdout
    return {int(p): int(o) for p, o in (l.split() for l in out.strip().splitlines())}


def internal_ends(t):
    out = subprocess.run(["kcat", "-C", "-b", boot, "-t", t, "-o", "beginning", "-e", "-q",
                          "-X", "isolation.level=read_committed", "-f", "%p %o\n"],
                         capture_output=True, text=True, timeout=1200).stdout
    e = {}
    for row in out.split("\n"):
        if row:
            p, o = map(int, row.split())
            e[p] = max(e.get(p, 0), o + 1)
    return e


def run(d, until, timeout=3600):
    """tocsin run under /usr/bin/time -v until until(log) is true; SIGTERM;
    (cpu seconds, max RSS MiB, log text)."""
    err = os.path.join(d, "run.err")
    p = subprocess.Popen(["/usr/bin/time", "-v", TOCSIN, "run", "-c", os.path.join(d, "tocsin.yml"),
                          "-d", "/dev/null", "--stats-interval", "0"],
                         stderr=open(err, "w"), stdout=subprocess.DEVNULL)
    end = time.time() + timeout
    while time.time() < end and p.poll() is None:
        if until(open(err).read()):
            break
        time.sleep(0.5)
    # the child of time: SIGTERM it (time reports when it exits)
    kids = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True).stdout.split()
    for k in kids:
        os.kill(int(k), signal.SIGTERM)
    p.wait(300)
    log = open(err).read()
    u = float(re.search(r"User time \(seconds\): ([\d.]+)", log).group(1))
    s = float(re.search(r"System time \(seconds\): ([\d.]+)", log).group(1))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", log).group(1)) / 1024
    return u + s, rss, log


def input_done(group):
    return lambda log: all(committed(group, topic, PARTS).get(p, -1) >= ends[p]
                           for p in range(PARTS))


load = open("/proc/loadavg").read().split()[:3]
g1 = f"bench-single-{tag}"
cpu1, rss1, _ = run(config("single", g1, False), input_done(g1))
g2 = f"bench-dist-{tag}"
itopic = f"{g2}.correlate"
state = {"ends": None}


def dist_done(log):
    if not input_done(g2)(log):
        return False
    if state["ends"] is None:
        state["ends"] = internal_ends(itopic)
    c = committed(f"{g2}.correlate", itopic, PARTS)
    return all(c.get(p, -1) >= o for p, o in state["ends"].items())


cpu2, rss2, log2 = run(config("dist-a", g2, True, "bench-a"), dist_done)
m = re.search(r"state changelog records (\d+)", log2)
clrec = int(m.group(1)) if m else -1
nrec = sum(state["ends"].values()) if state["ends"] else -1
print(f"re-key hop: {n} sshd lines (one failure per address, all detections): single-process "
      f"{cpu1:.1f} CPU s ({cpu1 / n * 1e6:.1f} us/event, max RSS {rss1:.0f} MiB); distributed, "
      f"one node {cpu2:.1f} CPU s ({cpu2 / n * 1e6:.1f} us/event, max RSS {rss2:.0f} MiB): the "
      f"hop costs {(cpu2 - cpu1) / n * 1e6:.1f} us of CPU per event ({nrec} re-keyed records, "
      f"{clrec} changelog records; load average {' '.join(load)} on {os.cpu_count()} cores)",
      flush=True)


RESTORE = (r"(\d+) restored from \S+ \((\d+) record\(s\), ([\d.]+) s\); (\d+) "
           r"key\(s\) imported \(([\d.]+) s\)")


def all_restored(log):
    return sum(int(m.group(1)) for m in re.finditer(RESTORE, log)) >= PARTS


# the first node's static membership ends with its session (6 s): then
# every partition is the fresh node's
cpu3, rss3, log3 = run(config("dist-b", g2, True, "bench-b"), all_restored, timeout=1800)
tot_rec = tot_s = tot_keys = tot_imp = 0
nparts = 0
for m in re.finditer(RESTORE, log3):
    nparts += int(m.group(1))
    tot_rec += int(m.group(2))
    tot_s += float(m.group(3))
    tot_keys += int(m.group(4))
    tot_imp += float(m.group(5))
print(f"takeover: a fresh node restores {nparts} partition(s) from the changelog: {tot_rec} "
      f"records in {tot_s:.1f} s (LMDB rebuilt), {tot_keys} live keys into the engine in "
      f"{tot_imp:.1f} s: {tot_s + tot_imp:.1f} s in all, max RSS {rss3:.0f} MiB, "
      f"{cpu3:.1f} CPU s (busy machine, load {' '.join(load)})", flush=True)
PY
