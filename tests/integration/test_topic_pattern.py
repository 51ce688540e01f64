#!/usr/bin/env python3
"""Topics given as a pattern (issue 10, item 6), against a real broker: a
topic that exists at start and one created while `tocsin run` runs are both
consumed (the second within the metadata refresh interval, set to 2 s here),
with offsets committed under the concrete topic names; a dead-letter topic
that the pattern also matches is never consumed."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

BOOT = os.environ["TOCSIN_KAFKA_BOOTSTRAP"]
TOCSIN = os.environ.get("TOCSIN", "bin/tocsin")
KTOOL = os.environ.get("KTOOL", "build/tools/ktool")
RUN = f"{os.getpid()}{int(time.time())}"
tmp = tempfile.mkdtemp(prefix="tocsin-pattern-")
fails = []

RULE = """title: Pattern test
id: d4d4d4d4-0000-4000-8000-000000000004
status: test
logsource:
    product: linux
detection:
    sel:
        message|contains: 'patternword'
    condition: sel
level: low
"""


def check(cond, msg):
    if not cond:
        fails.append(msg)
        print("FAIL: " + msg, flush=True)


def wait_for(pred, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.2)
    return False


def produce(topic, line):
    subprocess.run(["kcat", "-P", "-b", BOOT, "-t", topic], input=line + "\n", text=True,
                   check=True)


def detections():
    try:
        with open(os.path.join(tmp, "det.jsonl")) as f:
            return [json.loads(l) for l in f if l.strip()]
    except FileNotFoundError:
        return []


def topics_seen():
    return sorted(d["source"]["topic"] for d in detections())


def main():
    os.makedirs(os.path.join(tmp, "rules"))
    with open(os.path.join(tmp, "rules", "p.yml"), "w") as f:
        f.write(RULE)
    a, b, dlq = f"pat.{RUN}.a", f"pat.{RUN}.b", f"pat.{RUN}.a.dlq"
    subprocess.run([KTOOL, "create", BOOT, a, "1"], check=True)
    subprocess.run([KTOOL, "create", BOOT, dlq, "1"], check=True)
    produce(dlq, "<13>Jan  1 00:00:00 h sshd[1]: patternword in a dead letter")
    cfg = os.path.join(tmp, "tocsin.yml")
    with open(cfg, "w") as f:
        f.write(f"""kafka:
  brokers: "{BOOT}"
  group_id: g-pattern-{RUN}
  properties:
    topic.metadata.refresh.interval.ms: 2000
topics:
  - name: "^pat\\\\.{RUN}\\\\..*"
    format: rfc3164
paths:
  rules: [{tmp}/rules]
""")
    err = open(os.path.join(tmp, "run.err"), "w")
    p = subprocess.Popen([TOCSIN, "run", "-c", cfg, "-d", os.path.join(tmp, "det.jsonl"),
                          "--stats-interval", "0"], stderr=err, stdout=subprocess.DEVNULL)
    produce(a, "<13>Jan  1 00:00:01 h sshd[1]: patternword one")
    check(wait_for(lambda: topics_seen() == [a], 40), f"existing topic not consumed: {topics_seen()}")
    subprocess.run([KTOOL, "create", BOOT, b, "1"], check=True)
    produce(b, "<13>Jan  1 00:00:02 h sshd[1]: patternword two")
    t0 = time.time()
    check(wait_for(lambda: topics_seen() == [a, b], 40),
          f"topic created after start-up not consumed: {topics_seen()}")
    took = time.time() - t0
    time.sleep(3)
    check(topics_seen() == [a, b], f"a dead-letter topic was consumed: {topics_seen()}")
    p.send_signal(signal.SIGTERM)
    rc = p.wait(60)
    err.close()
    check(rc == 0, f"exit {rc}")
    for t in (a, b):
        out = subprocess.run([KTOOL, "committed", BOOT, f"g-pattern-{RUN}", t, "1"],
                             capture_output=True, text=True, check=True).stdout.split()
        check(out[-1:] == ["1"], f"offset of {t} not committed: {out}")
    log = open(os.path.join(tmp, "run.err")).read()
    check("is a dead-letter topic: not consumed" in log, "no warning for the matched DLQ topic")
    print(f"topic-pattern: existing and new topic consumed (new one after {took:.1f} s), "
          f"DLQ topic left alone" if not fails else log[-1500:], flush=True)
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
