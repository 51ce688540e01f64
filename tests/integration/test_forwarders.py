#!/usr/bin/env python3
"""Real forwarders into Tocsin (issue 10, items 1 and 2).

Seen in the field: rsyslog re-framing RFC 3164 as RFC 5424 keeps the space
before MSG (" Failed password ..."): the sshd decoder did not match, 0
detections on 70 failures; RFC 5424 in, traditional template out writes the
tag without a colon ("sshd[1234] Failed ..."): program was null; syslog-ng's
$(format-json ...) (MESSAGE, PROGRAM, PID, HOST, ISODATE ...) matched no
profile and took ingest time.

Replay part (files, no forwarder needed): the same SSH brute force (8
failures from one address within 40 s) in every shape the forwarders ship
(docs/forwarders.md) gives exactly the incidents of the clean RFC 5424 input
with `tocsin replay --rules etc/rules --db DIR`: same ids, counts, first and
last seen.

Run part: rsyslog 8.2302 (imtcp -> omkafka) and syslog-ng 3.38 (network() ->
kafka-c()) as our own instances (own config, pid file and work dir, ports on
127.0.0.1; never the system service), unpacked by scripts/ensure-deps.sh into
$TOCSIN_CACHE/forwarders/root. `logger` sends real sshd lines to each over
TCP, as RFC 3164 and as RFC 5424. Each forwarder writes them to one topic per
template: its default, the one docs/forwarders.md recommends, the shapes of
the field findings, and the raw received line (the clean input). One
`tocsin run` consumes every topic, each bound to its own tenant; the test
checks each event (program sshd, src_ip, event time within the send window)
and that each topic's incidents are those of the raw line's topic (count,
first and last seen; to the second where a template drops sub-seconds).
The replay part's shapes go through the same run, one topic each, and must
give the clean input's incident (count, first and last seen). A topic whose
messages carry a `tenant` header checks the header path that forwarders with
header support use. Fails, loudly, when a forwarder is
missing."""
import datetime as dt
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BOOT = os.environ.get("TOCSIN_KAFKA_BOOTSTRAP")
TOCSIN = os.environ.get("TOCSIN", "bin/tocsin")
KTOOL = os.environ.get("KTOOL", "build/tools/ktool")
CACHE = os.environ.get("TOCSIN_CACHE", os.path.expanduser("~/.cache/tocsin"))
ROOT = os.environ.get("TOCSIN_FORWARDERS", os.path.join(CACHE, "forwarders", "root"))
RUN = f"{os.getpid()}-{int(time.time())}"
tmp = tempfile.mkdtemp(prefix="tocsin-fwd-")
fails = []
procs = []
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
RULE = "017dd23e-17b7-46ec-9279-c2482fa92e1f"  # SSH brute force, etc/rules/correlation


def check(cond, msg):
    if not cond:
        fails.append(msg)
        print("FAIL: " + msg, flush=True)
    return cond


# ------------------------------------------------------------ the shapes

def iso(t, z="Z", frac=False):
    s = t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{t.microsecond:06d}" if frac else "")
    return s + z


def bsd(t):
    return f"{t.strftime('%b')} {t.day:2d} {t.strftime('%H:%M:%S')}"


def msg(ip, k):
    return f"Failed password for root from {ip} port {40000 + k} ssh2"


HOST = "portal-01"
# shape name -> line(t, pid, text); every one says: portal-01 sshd[pid] text at t
SHAPES = {
    "clean-rfc5424": lambda t, p, m: f"<38>1 {iso(t)} {HOST} sshd {p} - - {m}",
    "rsyslog-rfc5424-leading-space":
        lambda t, p, m: f"<38>1 {iso(t, '+00:00')} {HOST} sshd {p} - -  {m}",
    "rsyslog-traditional-no-colon": lambda t, p, m: f"{bsd(t)} {HOST} sshd[{p}] {m}",
    "rsyslog-default-fileformat":
        lambda t, p, m: f"{iso(t, '+00:00', True)} {HOST} sshd[{p}] {m}",
    "rsyslog-jsonmesg": lambda t, p, m: json.dumps({
        "msg": " " + m, "rawmsg": f"<38>{bsd(t)} {HOST} sshd[{p}]: {m}",
        "timereported": iso(t, "+00:00"), "hostname": HOST, "syslogtag": f"sshd[{p}]:",
        "inputname": "imtcp", "fromhost": "127.0.0.1", "fromhost-ip": "127.0.0.1",
        "pri": "38", "syslogfacility": "4", "syslogseverity": "6",
        "timegenerated": iso(t + dt.timedelta(seconds=2), "+00:00", True),
        "programname": "sshd", "protocol-version": "0", "structured-data": "-",
        "app-name": "sshd", "procid": str(p), "msgid": "-", "uuid": None, "$!": None}),
    "syslog-ng-default": lambda t, p, m: f"{iso(t, '+00:00')} {HOST} sshd[{p}]: {m}",
    "syslog-ng-json-selected-macros": lambda t, p, m: json.dumps({
        "TAGS": ".source.s_net", "SOURCEIP": "127.0.0.1", "SOURCE": "s_net",
        "PROGRAM": "sshd", "PRIORITY": "info", "PID": str(p), "MESSAGE": m,
        "LEGACY_MSGHDR": f"sshd[{p}]: ", "HOST_FROM": "127.0.0.1", "HOST": HOST,
        "FACILITY": "auth", "DATE": bsd(t)}),
    "syslog-ng-json-upper-isodate": lambda t, p, m: json.dumps({
        "ISODATE": iso(t, "+00:00"), "HOST": HOST, "PROGRAM": "sshd", "PID": str(p),
        "MESSAGE": m, "FACILITY": "auth", "PRIORITY": "info"}),
    "fluent-bit-syslog": lambda t, p, m: json.dumps({
        "@timestamp": t.timestamp(), "pri": "38", "host": HOST, "ident": "sshd",
        "pid": str(p), "message": m}),
    "nxlog-syslog-json": lambda t, p, m: json.dumps({
        "EventReceivedTime": iso(t + dt.timedelta(seconds=1)), "SourceModuleName": "in",
        "SourceModuleType": "im_tcp", "SyslogFacilityValue": 4, "SyslogFacility": "AUTH",
        "SyslogSeverityValue": 6, "SyslogSeverity": "INFO", "SeverityValue": 2,
        "Severity": "INFO", "Hostname": HOST, "EventTime": iso(t), "SourceName": "sshd",
        "ProcessID": p, "Message": m}),
}


def attack(shape):
    """8 failures from 203.0.113.50, 5 s apart, 10 minutes ago, and two lines
    that are no failure."""
    f = SHAPES[shape]
    start = NOW - dt.timedelta(minutes=10)
    out = [f(start + dt.timedelta(seconds=5 * k), 1000 + k, msg("203.0.113.50", k))
           for k in range(8)]
    out.insert(3, f(start + dt.timedelta(seconds=12), 999,
                    "Accepted publickey for alice from 198.51.100.7 port 5000 ssh2"))
    out.append(f(start + dt.timedelta(seconds=41), 998, "Connection closed by 198.51.100.7 "
                                                        "port 5000"))
    return out


def incidents(db, tenant=None):
    out = subprocess.run([TOCSIN, "incidents", "--db", db, "list", "--json"],
                         capture_output=True, text=True, check=True).stdout
    rows = [json.loads(x) for x in out.splitlines() if x.strip()]
    return [r for r in rows if tenant is None or r["tenant"] == tenant]


def key(i, second=False):
    cut = (lambda s: s[:19]) if second else (lambda s: s)
    return (i["rule_id"], i["group_key"], i["count"], cut(i["first_seen"]),
            cut(i["last_seen"]))


def replay_shapes():
    ref = None
    for shape in SHAPES:
        f = os.path.join(tmp, f"{shape}.log")
        with open(f, "w") as fh:
            fh.write("\n".join(attack(shape)) + "\n")
        db = os.path.join(tmp, f"replay-{shape}")
        ev = os.path.join(tmp, f"replay-{shape}.jsonl")
        r = subprocess.run([TOCSIN, "replay", "--rules", "etc/rules", "--db", db, "-o", ev, f],
                           capture_output=True, text=True)
        if not check(r.returncode == 0, f"replay {shape}: exit {r.returncode} {r.stderr[-300:]}"):
            continue
        got = sorted((i["id"],) + key(i) for i in incidents(db))
        with open(ev) as fh:
            evs = [json.loads(x) for x in fh if x.strip()]
        bad = [e for e in evs if e.get("program") != "sshd" or e.get("host") != HOST
               or e.get("@time_source") != "event"]
        check(not bad, f"replay {shape}: events not parsed as sshd from {HOST} at event "
                       f"time: {bad[:1]}")
        if ref is None:
            ref = got
            check(len(ref) == 1 and ref[0][3] == 8 and ref[0][2] == "src_ip=203.0.113.50",
                  f"clean replay: expected one incident of 8 failures, got {ref}")
            continue
        check(got == ref, f"replay {shape}: incidents {got} != clean input's {ref}")
    print(f"forwarders: replay: {len(SHAPES)} shapes of one brute force, "
          f"{'the same incident' if not fails else 'DIFFERENT incidents'}", flush=True)


# ------------------------------------------------------ real forwarders

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, p, name, log):
    end = time.time() + 15
    while time.time() < end:
        if p.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    check(False, f"{name} is not listening on 127.0.0.1:{port}: {open(log).read()[-800:]}")
    return False


def start(name, cmd, env, d):
    log = os.path.join(d, f"{name}.log")
    with open(log, "w") as out:
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=d)
    procs.append(p)
    return p, log


def stop_all():
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


def version(cmd, env):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return (r.stdout + r.stderr).splitlines()[0].strip() if (r.stdout + r.stderr) else "?"


def locate():
    rs = os.path.join(ROOT, "usr/sbin/rsyslogd")
    ng = os.path.join(ROOT, "usr/sbin/syslog-ng")
    rs_mods = glob.glob(os.path.join(ROOT, "usr/lib/*/rsyslog/omkafka.so"))
    ng_mods = glob.glob(os.path.join(ROOT, "usr/lib/syslog-ng/3*/libkafka.so"))
    missing = [x for x, ok in ((rs, os.access(rs, os.X_OK)), (ng, os.access(ng, os.X_OK)),
                               ("omkafka.so", rs_mods), ("syslog-ng libkafka.so", ng_mods))
               if not ok]
    if missing:
        print(f"FAIL: forwarders missing under {ROOT}: {', '.join(missing)}; "
              "scripts/ensure-deps.sh unpacks rsyslog, rsyslog-kafka, syslog-ng-core and "
              "syslog-ng-mod-rdkafka there (see its output for why it could not)", flush=True)
        sys.exit(1)
    return rs, os.path.dirname(rs_mods[0]), ng, os.path.dirname(ng_mods[0])


def topic(fw, label):
    return f"fwd.{RUN}.{fw}.{label}"


# label -> (rsyslog template, lossless time)
RS_TOPICS = {
    "raw": ("tocsin_raw", True),                          # the line as received
    "default": (None, True),                              # omkafka default: RSYSLOG_FileFormat
    "recommended": ("RSYSLOG_SyslogProtocol23Format", True),  # docs/forwarders.md
    "traditional": ("RSYSLOG_TraditionalFileFormat", False),
    "jsonmesg": ("tocsin_jsonmesg", True),
}
# label -> (syslog-ng message() template, extra options, lossless time)
NG_JSON_REC = "$(format-json --scope selected_macros --scope nv_pairs --key ISODATE)"
NG_TOPICS = {
    "raw": ("$RAWMSG", "", True),
    "default": (None, "", False),                         # "$ISODATE $HOST $MSGHDR$MSG"
    "recommended": (NG_JSON_REC, 'key("$HOST") frac-digits(6) '
                    'config("compression.codec" => "lz4")', True),  # docs/forwarders.md
    "json-selected-macros": ("$(format-json --scope selected_macros --scope nv_pairs)", "",
                             False),
    "json-upper": ("$(format-json ISODATE=$ISODATE HOST=$HOST PROGRAM=$PROGRAM PID=$PID "
                   "MESSAGE=$MESSAGE FACILITY=$FACILITY PRIORITY=$PRIORITY)", "", False),
}


def rsyslog_conf(d, port):
    acts = []
    for label, (tpl, _) in RS_TOPICS.items():
        t = f' template="{tpl}"' if tpl else ""
        # docs/forwarders.md, "rsyslog": as recommended there
        extra = ('\n    dynaKey="on" key="tocsin_key" partitions.auto="on"'
                 '\n    confParam=["compression.codec=lz4"]'
                 '\n    queue.type="LinkedList" queue.filename="tocsin-kafka"'
                 ' queue.saveOnShutdown="on" action.resumeRetryCount="-1"'
                 if label == "recommended" else "")
        acts.append(f'  action(type="omkafka" broker=["{BOOT}"] topic="{topic("rs", label)}"'
                    f'{t}{extra})')
    return f"""global(workDirectory="{d}" net.enableDNS="off")
module(load="imtcp")
module(load="omkafka")
template(name="tocsin_raw" type="string" string="%rawmsg%")
template(name="tocsin_jsonmesg" type="list") {{ property(name="jsonmesg") }}
template(name="tocsin_key" type="string" string="%hostname%")
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="to_kafka")
ruleset(name="to_kafka") {{
""" + "\n".join(acts) + "\n}\n"


def syslog_ng_conf(p3164, p5424):
    dests, names = [], []
    for i, (label, (tpl, extra, _)) in enumerate(NG_TOPICS.items()):
        m = ' message("{}")'.format(tpl.replace('"', '\\"')) if tpl else ""
        dests.append(f'destination d{i} {{ kafka-c(bootstrap-servers("{BOOT}") '
                     f'topic("{topic("ng", label)}"){m} {extra}); }};')
        names.append(f"destination(d{i});")
    return f"""@version: 3.38
options {{ keep-hostname(yes); use-dns(no); dns-cache(no); stats-freq(0); }};
source s_bsd {{ network(ip("127.0.0.1") port({p3164}) transport("tcp")
                        flags(store-raw-message)); }};
source s_ietf {{ network(ip("127.0.0.1") port({p5424}) transport("tcp")
                         flags(syslog-protocol, store-raw-message)); }};
""" + "\n".join(dests) + f"""
log {{ source(s_bsd); source(s_ietf); {' '.join(names)} }};
"""


def logger(port, rfc, ip, k):
    subprocess.run(["logger", "--tcp", "-n", "127.0.0.1", "-P", str(port), f"--{rfc}",
                    "-p", "auth.info", "-t", "sshd", f"--id={2000 + k}", msg(ip, k)],
                   check=True, env=dict(os.environ, TZ="UTC"))


def send(ports, ip3164, ip5424):
    """6 failures as RFC 3164 and 6 as RFC 5424; the time window they were sent in."""
    t0 = time.time()
    for k in range(6):
        logger(ports[0], "rfc3164", ip3164, k)
        logger(ports[1], "rfc5424", ip5424, k)
        time.sleep(0.05)
    return t0, time.time()


def counts(t):
    r = subprocess.run(["kcat", "-C", "-b", BOOT, "-t", t, "-e", "-q", "-f", "%o\n"],
                       capture_output=True, text=True)
    return len(r.stdout.split())


def wait_counts(topics, n, what):
    end = time.time() + 30
    left = list(topics)
    while left and time.time() < end:
        left = [t for t in left if counts(t) < n]
        if left:
            time.sleep(0.3)
    check(not left, f"{what}: fewer than {n} messages in {left}")


def ev_time(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def run_forwarders():
    rs, rs_mods, ng, ng_mods = locate()
    d = os.path.join(tmp, "fwd")
    os.makedirs(d)
    base = dict(os.environ, TZ="UTC")
    ng_env = dict(base, LD_LIBRARY_PATH=os.path.join(ROOT, "usr/lib/syslog-ng"))
    rs_ver = version([rs, "-v"], base)
    ng_ver = version([ng, "--version"], ng_env)
    debs = os.path.join(ROOT, "DEBS")
    debs = " ".join(open(debs).read().split()) if os.path.exists(debs) else "?"
    print(f"forwarders: {' '.join(rs_ver.split(' compiled')[0].split())} (omkafka), {ng_ver} "
          f"(kafka-c), from {debs}, unpacked in {ROOT}", flush=True)
    for fw, topics in (("rs", RS_TOPICS), ("ng", NG_TOPICS)):
        for label in list(topics) + (["header"] if fw == "rs" else []):
            subprocess.run([KTOOL, "create", BOOT, topic(fw, label), "1"], check=True)

    # rsyslog: one imtcp port takes RFC 3164 and RFC 5424
    rs_port = free_port()
    rs_dir = os.path.join(d, "rsyslog")
    os.makedirs(rs_dir)
    conf = os.path.join(rs_dir, "rsyslog.conf")
    with open(conf, "w") as f:
        f.write(rsyslog_conf(rs_dir, rs_port))
    r = subprocess.run([rs, "-N1", "-f", conf, "-M", rs_mods], capture_output=True, text=True,
                       env=base)
    check(r.returncode == 0, f"rsyslogd -N1: {r.stdout[-400:]} {r.stderr[-400:]}")
    p_rs, log_rs = start("rsyslogd", [rs, "-n", "-f", conf, "-i",
                                      os.path.join(rs_dir, "rsyslogd.pid"), "-M", rs_mods],
                         base, rs_dir)
    # syslog-ng: network() needs flags(syslog-protocol) for RFC 5424: two ports
    ng_ports = (free_port(), free_port())
    ng_dir = os.path.join(d, "syslog-ng")
    os.makedirs(ng_dir)
    conf = os.path.join(ng_dir, "syslog-ng.conf")
    with open(conf, "w") as f:
        f.write(syslog_ng_conf(*ng_ports))
    ng_cmd = [ng, "-F", "-f", conf, "--module-path", ng_mods, "--no-caps",
              "--pidfile", os.path.join(ng_dir, "syslog-ng.pid"),
              "--persist-file", os.path.join(ng_dir, "syslog-ng.persist"),
              "--control", os.path.join(ng_dir, "syslog-ng.ctl")]
    r = subprocess.run(ng_cmd + ["--syntax-only"], capture_output=True, text=True, env=ng_env)
    check(r.returncode == 0, f"syslog-ng --syntax-only: {r.stdout[-400:]} {r.stderr[-400:]}")
    p_ng, log_ng = start("syslog-ng", ng_cmd, ng_env, ng_dir)
    if not (wait_listening(rs_port, p_rs, "rsyslogd", log_rs) and
            wait_listening(ng_ports[0], p_ng, "syslog-ng", log_ng) and
            wait_listening(ng_ports[1], p_ng, "syslog-ng", log_ng)):
        return
    ips = {"rs": ("203.0.113.61", "203.0.113.62"), "ng": ("203.0.113.71", "203.0.113.72")}
    windows = {"rs": send((rs_port, rs_port), *ips["rs"]),
               "ng": send(ng_ports, *ips["ng"])}
    all_topics = {(fw, label): topic(fw, label)
                  for fw, ts in (("rs", RS_TOPICS), ("ng", NG_TOPICS)) for label in ts}
    wait_counts(all_topics.values(), 12, "forwarders to Kafka")
    stop_all()  # the forwarders' work is done: flushed on SIGTERM
    check(p_rs.returncode == 0, f"rsyslogd exit {p_rs.returncode}: {open(log_rs).read()[-600:]}")
    check(p_ng.returncode == 0, f"syslog-ng exit {p_ng.returncode}: {open(log_ng).read()[-600:]}")

    # The tenant header: the raw lines again, with a header naming another
    # tenant that the topic allows (rsyslog >= 8.2405 kafkaHeader, Beats'
    # headers do this); the topic is bound to tenant t-bound.
    raw = subprocess.run(["kcat", "-C", "-b", BOOT, "-t", all_topics[("rs", "raw")], "-e",
                          "-q", "-f", "%s\n"], capture_output=True, text=True).stdout
    hdr_topic = topic("rs", "header")
    subprocess.run(["kcat", "-P", "-b", BOOT, "-t", hdr_topic, "-p", "0", "-H",
                    "tenant=agency-hdr"], input=raw, text=True, check=True)

    # The replay part's shapes through Kafka as well: one topic each.
    shape_topics = {}
    for shape in SHAPES:
        t = topic("shape", shape)
        subprocess.run([KTOOL, "create", BOOT, t, "1"], check=True)
        subprocess.run(["kcat", "-P", "-b", BOOT, "-t", t, "-p", "0"],
                       input="\n".join(attack(shape)) + "\n", text=True, check=True)
        shape_topics[shape] = t

    # One tocsin run over every topic, each bound to its own tenant.
    rd = os.path.join(tmp, "run")
    os.makedirs(rd)
    group = f"g-fwd-{RUN}"
    cfg = os.path.join(rd, "tocsin.yml")
    lines = [f'kafka:\n  brokers: "{BOOT}"\n  group_id: {group}\ntopics:']
    for (fw, label), t in all_topics.items():
        lines.append(f"  - name: {t}\n    format: auto\n    tenant: {fw}-{label}")
    lines.append(f"  - name: {hdr_topic}\n    tenant: t-bound\n    tenants: [agency-hdr]")
    for shape, t in shape_topics.items():
        lines.append(f"  - name: {t}\n    tenant: shape-{shape}")
    lines.append(f"paths:\n  rules: [etc/rules]\n  data_dir: {rd}/db\n")
    with open(cfg, "w") as f:
        f.write("\n".join(lines))
    evf, errf = os.path.join(rd, "events.jsonl"), os.path.join(rd, "run.err")
    with open(errf, "w") as err:
        p = subprocess.Popen([TOCSIN, "run", "-c", cfg, "-o", evf, "--stats-interval", "0"],
                             stderr=err, stdout=subprocess.DEVNULL)
        procs.append(p)
        want = {t: counts(t) for t in
                list(all_topics.values()) + [hdr_topic] + list(shape_topics.values())}
        end = time.time() + 60
        while time.time() < end and want:
            for t in list(want):
                out = subprocess.run([KTOOL, "committed", BOOT, group, t, "1"],
                                     capture_output=True, text=True).stdout.split()
                if out[-1:] == [str(want[t])]:
                    del want[t]
            time.sleep(0.3)
        check(not want, f"run: not everything consumed: {sorted(want)}")
        p.send_signal(signal.SIGTERM)
        check(p.wait(60) == 0, f"run: exit code {p.returncode}: {open(errf).read()[-500:]}")
    with open(evf) as f:
        evs = [json.loads(x) for x in f if x.strip()]
    db = os.path.join(rd, "db")

    for (fw, label), t in all_topics.items():
        mine = [e for e in evs if e.get("source", {}).get("topic") == t]
        check(len(mine) == 12, f"{t}: {len(mine)} events, want 12")
        t0, t1 = windows[fw]
        for e in mine:
            ok = (e.get("program") == "sshd" and e.get("src_ip") in ips[fw] and
                  e.get("outcome") == "failure" and e.get("@time_source") == "event" and
                  t0 - 1.0 <= ev_time(e["@timestamp"]) <= t1 + 1.0 and
                  str(e.get("message", "")).startswith("Failed password") and
                  e.get("logsource") == {"product": "linux", "service": "sshd"})
            if not check(ok, f"{fw} {label}: event not parsed as it should: "
                             f"{json.dumps(e)[:600]}"):
                break
    for fw, ts in (("rs", RS_TOPICS), ("ng", NG_TOPICS)):
        ref = sorted(key(i) for i in incidents(db, f"{fw}-raw"))
        check(len(ref) == 2 and all(r[0] == RULE and r[2] == 6 for r in ref) and
              sorted(r[1] for r in ref) == sorted(f"src_ip={ip}" for ip in ips[fw]),
              f"{fw} raw (clean input): want two brute forces of 6, got {ref}")
        for label, spec in ts.items():
            if label == "raw":
                continue
            lossless = spec[-1]
            got = sorted(key(i, not lossless) for i in incidents(db, f"{fw}-{label}"))
            want_k = sorted(key(i, not lossless) for i in incidents(db, f"{fw}-raw"))
            check(got == want_k, f"{fw} {label}: incidents {got} != the raw lines' {want_k}")
    clean = sorted(key(i) for i in incidents(db, "shape-clean-rfc5424"))
    check(len(clean) == 1 and clean[0][2] == 8,
          f"run, clean shape: expected one incident of 8 failures, got {clean}")
    for shape in SHAPES:
        got = sorted(key(i) for i in incidents(db, f"shape-{shape}"))
        check(got == clean, f"run, shape {shape}: incidents {got} != the clean input's {clean}")
    hdr = sorted(key(i) for i in incidents(db, "agency-hdr"))
    check(hdr == sorted(key(i) for i in incidents(db, "rs-raw")) and
          not incidents(db, "t-bound"),
          f"tenant header: incidents {hdr} under agency-hdr, "
          f"{len(incidents(db, 't-bound'))} under the topic's tenant")
    print(f"forwarders: run: rsyslog {len(RS_TOPICS)} templates, syslog-ng {len(NG_TOPICS)} "
          f"templates, {len(SHAPES)} shapes from files, {len(evs)} events", flush=True)


def main():
    t = time.time()
    try:
        replay_shapes()
        if not BOOT:
            check(False, "no broker (TOCSIN_KAFKA_BOOTSTRAP): the forwarder part cannot run")
        else:
            run_forwarders()
    finally:
        stop_all()
    if fails:
        print(f"forwarders: {len(fails)} failure(s) in {time.time() - t:.0f} s; "
              f"configs, logs and events kept in {tmp}", flush=True)
        sys.exit(1)
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"forwarders: ok in {time.time() - t:.0f} s", flush=True)


if __name__ == "__main__":
    main()
