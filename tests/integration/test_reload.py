#!/usr/bin/env python3
"""SIGHUP reload of `tocsin run` against a real broker: a rule added on disk
starts matching after SIGHUP; a broken config on SIGHUP changes nothing and
the running rules keep matching; SIGTERM still exits 0.

With correlation (paths.data_dir, the shipped SSH brute-force rule): three
failed logins from one address, a rule added and SIGHUP, two more failures
within the minute: the incident fires with count 5, so the correlation
state crossed the reload; the added rule matches too."""
import shutil
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
    # a broken edit of a rule in force (issue 10: it was logged, then "rules
    # swapped in" without it): the reload is refused as a whole and both
    # rules keep matching
    with open(os.path.join(tmp, "rules", "alpha.yml"), "w") as f:
        f.write(RULE.format(word="alpha", uid="a1a1a1a1-0000-4000-8000-000000000001")
                .replace("condition: sel", "condition: sel and nosuch"))
    p.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload refused: rule a1a1a1a1-0000-4000-8000-000000000001 is in force"
             in stderr_text(), "broken edit of a rule in force: reload refused, rule named")
    produce("<13>Jan  1 00:00:01 h sshd[1]: alpha three")
    wait_for(lambda: sum(d["rule_title"] == "Reload test alpha" for d in detections()) == 2,
             "the rule in force still matches after a broken edit")
    write_rule("alpha", "a1a1a1a1-0000-4000-8000-000000000001")
    # a broken config: nothing changes, the running rules keep matching
    write_config(broken=True)
    p.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload failed, nothing changed" in stderr_text(),
             "broken config on reload is reported")
    produce("<13>Jan  1 00:00:02 h sshd[1]: beta four alpha")
    wait_for(lambda: sum(d["rule_title"] == "Reload test beta" for d in detections()) == 2
             and sum(d["rule_title"] == "Reload test alpha" for d in detections()) == 3,
             "rules still match after a failed reload")
    p.send_signal(signal.SIGTERM)
    rc = p.wait(60)
    if rc != 0:
        fails.append(f"exit code {rc}")
    print(f"reload: {len(detections())} detections; " + ("ok" if not fails else f"{len(fails)} failure(s)"))
    if fails:
        print(stderr_text()[-2000:])
    sys.exit(1 if fails else 0)


def correlation_reload():
    base = os.path.join(tmp, "corr")
    rules = os.path.join(base, "rules")
    os.makedirs(rules)
    shutil.copy("etc/rules/correlation/mr_ssh_brute_force.yml", rules)
    ctopic = f"reload.corr.{RUN}"
    subprocess.run([KTOOL, "create", BOOT, ctopic, "1"], check=True)
    cfg = os.path.join(base, "tocsin.yml")
    with open(cfg, "w") as f:
        f.write(f"""kafka:
  brokers: "{BOOT}"
  group_id: g-reload-corr-{RUN}
topics:
  - name: {ctopic}
    format: rfc3164
paths:
  rules: [{rules}]
  data_dir: {base}/data
""")
    det = os.path.join(base, "det.jsonl")
    errf = os.path.join(base, "run.err")
    err = open(errf, "w")
    p = subprocess.Popen([TOCSIN, "run", "-c", cfg, "-d", det, "--stats-interval", "0"],
                         stderr=err, stdout=subprocess.DEVNULL)

    def text():
        with open(errf) as f:
            return f.read()

    def dets():
        try:
            with open(det) as f:
                return [json.loads(l) for l in f if l.strip()]
        except FileNotFoundError:
            return []

    def prod(lines):
        subprocess.run(["kcat", "-P", "-b", BOOT, "-t", ctopic], input="".join(l + "\n" for l in lines),
                       text=True, check=True)

    def fail_line(sec):
        return (f"<38>Nov 20 10:00:{sec:02d} portal-01 sshd[{1000 + sec}]: Failed password for root "
                f"from 198.51.100.7 port {40000 + sec} ssh2")

    def incidents():
        r = subprocess.run([TOCSIN, "incidents", "--db", f"{base}/data", "list", "--json"],
                           capture_output=True, text=True)
        return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]

    wait_for(lambda: "assigned" in text(), "correlation run: consumer assigned")
    prod([fail_line(0), fail_line(5), fail_line(10)])
    # processed and committed: the consumer's LMDB offset passes the three lines
    wait_for(lambda: "correlation" in text(), "correlation run started")
    time.sleep(3)
    write_rule_at(rules, "gamma", "c3c3c3c3-0000-4000-8000-000000000003")
    p.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload: rules swapped in" in text(), "correlation run: reload reported")
    wait_for(lambda: "state key(s) carried over" in text(), "correlation state carried over")
    prod([fail_line(15), fail_line(20), "<13>Nov 20 10:00:21 portal-01 cron[1]: gamma ran"])
    wait_for(lambda: any(d.get("rule_title") == "Reload test gamma" for d in dets()),
             "rule added with correlation running matches after SIGHUP")
    wait_for(lambda: any(i["count"] == 5 and "198.51.100.7" in i["group_key"] for i in incidents()),
             "the brute-force incident counts the failures from before and after the reload (5)")
    if not any(i["count"] == 5 for i in incidents()):
        print(json.dumps(incidents())[:1000])
    p.send_signal(signal.SIGTERM)
    rc = p.wait(60)
    if rc != 0:
        fails.append(f"correlation run: exit code {rc}")
    if fails:
        print(text()[-2000:])


def write_rule_at(d, word, uid):
    with open(os.path.join(d, f"{word}.yml"), "w") as f:
        f.write(RULE.format(word=word, uid=uid))


if __name__ == "__main__":
    try:
        correlation_reload()
    except Exception as e:  # report, then run the rest
        fails.append(f"correlation reload: {e}")
        print("FAIL: correlation reload:", e)
    main()
