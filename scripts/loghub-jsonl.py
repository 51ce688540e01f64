#!/usr/bin/env python3
"""loghub-jsonl.py NAME < NAME_2k.log > NAME_2k.jsonl

Turns a loghub sample (logpai/loghub, NAME one of Linux, OpenSSH, Mac,
Thunderbird, Apache) into the JSON lines the unit tests read from the
corpora's events/loghub/ (format: events/README.md of the corpora, "loghub
JSON"): syslog lines split into timestamp, host, program, pid, message, the
original line in raw, logsource NAME; Thunderbird's prefix into alert_tag,
epoch and node; Apache error-log lines into timestamp, level, message. A line
that does not split keeps only raw and message. Used by
scripts/fetch-corpora.sh; checked against the corpora's own copy (it gives
the same 10,000 objects).
"""
import json
import re
import sys

SYSLOG = re.compile(r"^([A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d) (\S+) ([^\[:\s]+)(?:\[(\d+)\])?: ?(.*)$",
                    re.S)
THUNDERBIRD = re.compile(r"^(\S+) (\d+) \S+ (\S+) (.*)$", re.S)
APACHE = re.compile(r"^\[([^\]]+)\] \[([^\]]+)\] ?(.*)$", re.S)


def syslog(line, obj):
    m = SYSLOG.match(line)
    if not m:
        obj["message"] = line
        return obj
    ts, host, prog, pid, msg = m.groups()
    out = {"timestamp": ts, "host": host, "program": prog}
    if pid is not None:
        out["pid"] = int(pid)
    out["message"] = msg
    out.update(obj)
    return out


def convert(name, line):
    if name == "Apache":
        m = APACHE.match(line)
        if not m:
            return {"message": line, "raw": line, "logsource": "Apache error_log"}
        return {"timestamp": m.group(1), "level": m.group(2), "message": m.group(3), "raw": line,
                "logsource": "Apache error_log"}
    if name == "Thunderbird":
        m = THUNDERBIRD.match(line)
        tail = {"alert_tag": m.group(1), "epoch": int(m.group(2)), "node": m.group(3)} if m else {}
        o = syslog(m.group(4) if m else line, {"raw": line, "logsource": name})
        if "timestamp" not in o:
            o = {"raw": line, "message": o["message"], "logsource": name}
        o.update(tail)
        return o
    o = syslog(line, {"raw": line, "logsource": name})
    if "timestamp" not in o:
        o = {"raw": line, "message": o["message"], "logsource": name}
    return o


def main():
    name = sys.argv[1]
    for line in sys.stdin.buffer:
        line = line.decode("utf-8", "replace").rstrip("\r\n")
        if line:
            print(json.dumps(convert(name, line), ensure_ascii=False))


if __name__ == "__main__":
    main()
