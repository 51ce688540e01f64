#!/usr/bin/env python3
"""SIGHUP reload of `tocsin run` against a real broker: a rule added on disk
starts matching after SIGHUP; a broken config on SIGHUP changes nothing and
the running rules keep matching; SIGTERM still exits 0."""
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
RUN = f"{os.getpid()}-{int(time.time())}"
tmp = tempfile.mkdtemp(prefix="tocsin-reload-")
topic = f"reload.{RUN}"
fails = []

RULE = """title: Reload test {word}
id: {uid}
status: test
logsource:
    product: linux
detection:
    sel:
        message|contains: '{word}'
    condition: sel
level: low
"""


def write_rule(word, uid):
    with open(os.path.join(tmp, "rules", f"{word}.yml"), "w") as f:
        f.write(RULE.format(word=word, uid=uid))


def write_config(broken=False):
    with open(os.path.join(tmp, "tocsin.yml"), "w") as f:
        if broken:
            f.write("kafka: [this is: not valid\n")
            return
        f.write(f"""kafka:
  brokers: "{BOOT}"
  group_id: g-reload-{RUN}
topics:
  - name: {topic}
    format: rfc3164
paths:
  rules: [{tmp}/rules]
""")


def produce(line):
    subprocess.run(["kcat", "-P", "-b", BOOT, "-t", topic], input=line + "\n", text=True,
                   check=True)


def detections():
    try:
        with open(os.path.join(tmp, "det.jsonl")) as f:
            return [json.loads(l) for l in f if l.strip()]
    except FileNotFoundError:
        return []


def wait_for(pred, what, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.2)
    fails.append(what)
    print("FAIL: " + what, flush=True)
    return False


def stderr_text():
    with open(os.path.join(tmp, "run.err")) as f:
        return f.read()


def main():
    os.makedirs(os.path.join(tmp, "rules"))
    subprocess.run([KTOOL, "create", BOOT, topic, "1"], check=True)
    write_rule("alpha", "a1a1a1a1-0000-4000-8000-000000000001")
    write_config()
    err = open(os.path.join(tmp, "run.err"), "w")
    p = subprocess.Popen([TOCSIN, "run", "-c", os.path.join(tmp, "tocsin.yml"), "-d",
                          os.path.join(tmp, "det.jsonl"), "--stats-interval", "0"],
                         stderr=err, stdout=subprocess.DEVNULL)
    wait_for(lambda: "assigned" in stderr_text(), "consumer assigned")
    produce("<13>Jan  1 00:00:00 h sshd[1]: alpha one")
    wait_for(lambda: any(d["rule_title"] == "Reload test alpha" for d in detections()),
             "rule alpha matches before reload")
    # add a rule, SIGHUP: it matches from then on
    write_rule("beta", "b2b2b2b2-0000-4000-8000-000000000002")
    p.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload: rules swapped in" in stderr_text(), "reload reported")
    produce("<13>Jan  1 00:00:01 h sshd[1]: beta two")
    wait_for(lambda: any(d["rule_title"] == "Reload test beta" for d in detections()),
             "new rule beta matches after SIGHUP")
    # a broken config: nothing changes, the running rules keep matching
    write_config(broken=True)
    p.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload failed, nothing changed" in stderr_text(),
             "broken config on reload is reported")
    produce("<13>Jan  1 00:00:02 h sshd[1]: beta four alpha")
    wait_for(lambda: sum(d["rule_title"] == "Reload test beta" for d in detections()) == 2
             and sum(d["rule_title"] == "Reload test alpha" for d in detections()) == 2,
             "rules still match after a failed reload")
    p.send_signal(signal.SIGTERM)
    rc = p.wait(60)
    if rc != 0:
        fails.append(f"exit code {rc}")
    print(f"reload: {len(detections())} detections; " + ("ok" if not fails else f"{len(fails)} failure(s)"))
    if fails:
        print(stderr_text()[-2000:])
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
