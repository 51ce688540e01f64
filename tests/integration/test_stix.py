#!/usr/bin/env python3
"""test_stix.py - escalation reports of real incidents validate.

Runs the pipeline (`tocsin replay --db`) over examples/ with the rule pack,
then renders every incident's report for every stage and recipient:
  - STIX 2.1 bundles parse with the OASIS `stix2` library, allow_custom=False
    (pip install stix2), and pass the rules checked here as well: ids
    `type--uuid`, RFC 3339 timestamps with milliseconds, spec_version 2.1,
    references resolve inside the bundle, the TLP marking is the predefined
    one, SCO ids are the spec's deterministic UUIDv5, the indicator has
    pattern_type sigma and carries the rule (found with --rules) and its
    author;
  - JSON reports validate against docs/report-schema.json (jsonschema);
  - the Vietnamese text has its headings with diacritics.
Exit 0 when all pass. Uses $TOCSIN (default bin/tocsin).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid

import jsonschema
import stix2

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOCSIN = os.path.join(ROOT, os.environ.get("TOCSIN", "bin/tocsin"))
ESC = os.path.join(ROOT, "etc", "escalation")
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*--[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
SCO_NS = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")
TLP = {"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": "amber",
       "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": "green",
       "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": "white",
       "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": "red"}
SCO_TYPES = {"ipv4-addr", "ipv6-addr", "artifact", "domain-name"}
VI_HEADINGS = ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "THÔNG TIN TỔ CHỨC BÁO CÁO",
               "THÔNG TIN HỆ THỐNG BỊ SỰ CỐ", "THÔNG TIN VỀ SỰ CỐ", "PHƯƠNG THỨC PHÁT HIỆN",
               "CÁC BIỆN PHÁP ĐÃ THỰC HIỆN", "ĐỀ NGHỊ HỖ TRỢ", "TÀI LIỆU, CHỨNG CỨ KÈM THEO",
               "Cấp độ hệ thống thông tin", "Thời điểm phát hiện", "Đã gửi thông báo sự cố cho",
               "ĐẠI DIỆN TỔ CHỨC BÁO CÁO"]
# The heading of an initial-stage document: the regime report's (law116-2025)
# when its conditions hold, else the plain one of the stage (issue 13).
VI_TITLES = ("SỰ CỐ AN NINH MẠNG", "BÁO CÁO BAN ĐẦU SỰ CỐ MẠNG")
EN_TITLES = ("CYBERSECURITY INCIDENT", "INITIAL REPORT OF A NETWORK INCIDENT")

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(*args):
    p = subprocess.run([TOCSIN, *args], cwd=ROOT, capture_output=True)
    if p.returncode != 0:
        raise SystemExit("tocsin %s: exit %d: %s" % (" ".join(args), p.returncode,
                                                      p.stderr.decode()))
    return p.stdout.decode("utf-8")


def walk_refs(obj, path=""):
    """Yield (path, value) of every *_ref / *_refs property."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k.endswith("_ref") and isinstance(v, str):
                yield path + k, v
            elif k.endswith("_refs") and isinstance(v, list):
                for x in v:
                    yield path + k, x
            else:
                yield from walk_refs(v, path + k + ".")
    elif isinstance(obj, list):
        for x in obj:
            yield from walk_refs(x, path)


def check_bundle(text, label):
    b = json.loads(text)
    stix2.parse(text, allow_custom=False)  # raises on any violation
    check(b["type"] == "bundle" and ID_RE.match(b["id"]), label + ": bundle id")
    ids = {o["id"] for o in b["objects"]}
    types = [o["type"] for o in b["objects"]]
    for t in ("identity", "marking-definition", "indicator", "observed-data", "sighting",
              "incident"):
        check(t in types, "%s: has %s" % (label, t))
    for o in b["objects"]:
        check(o.get("spec_version") == "2.1", "%s: %s spec_version" % (label, o["id"]))
        check(ID_RE.match(o["id"]) and o["id"].split("--")[0] == o["type"],
              "%s: id %s" % (label, o["id"]))
        for k in ("created", "modified", "valid_from", "first_seen", "last_seen",
                  "first_observed", "last_observed"):
            if k in o:
                check(TS_RE.match(o[k]), "%s: %s.%s = %s" % (label, o["id"], k, o[k]))
        for path, ref in walk_refs(o):
            check(ref in ids or ref in TLP, "%s: %s.%s -> %s unresolved" % (label, o["id"], path, ref))
        if o["type"] not in SCO_TYPES and o["type"] != "marking-definition":
            check(any(m in TLP for m in o.get("object_marking_refs", [])),
                  "%s: %s has a TLP marking" % (label, o["id"]))
        if o["type"] in ("ipv4-addr", "ipv6-addr"):
            want = uuid.uuid5(SCO_NS, json.dumps({"value": o["value"]}, separators=(",", ":")))
            check(o["id"] == "%s--%s" % (o["type"], want), "%s: deterministic SCO id %s" % (label, o["id"]))
        if o["type"] == "artifact":
            want = uuid.uuid5(SCO_NS, json.dumps({"payload_bin": o["payload_bin"]}, separators=(",", ":")))
            check(o["id"] == "artifact--%s" % want, "%s: deterministic artifact id" % label)
        if o["type"] == "marking-definition":
            check(o["id"] in TLP and o["definition"] == {"tlp": TLP[o["id"]]}, label + ": TLP definition")
    ind = next(o for o in b["objects"] if o["type"] == "indicator")
    check(ind["pattern_type"] == "sigma", label + ": pattern_type sigma")
    check("detection:" in ind["pattern"] or "correlation:" in ind["pattern"],
          label + ": the indicator carries the Sigma rule itself")
    author = next((o for o in b["objects"] if o["id"] == ind.get("created_by_ref")), None)
    check(author is not None and author["type"] == "identity", label + ": indicator author identity")
    sighting = next(o for o in b["objects"] if o["type"] == "sighting")
    check(sighting["sighting_of_ref"] == ind["id"], label + ": sighting of the indicator")
    return b


def check_form_ext(b, doc, label):
    """The national form's fields ride on the incident in a property
    extension whose definition is in the bundle; they say what the JSON
    report says."""
    inc = next(o for o in b["objects"] if o["type"] == "incident")
    exts = inc.get("extensions", {})
    defs = {o["id"]: o for o in b["objects"] if o["type"] == "extension-definition"}
    check(len(exts) == 1 and set(exts) <= set(defs), label + ": the incident's extension is defined in the bundle")
    if not exts:
        return
    eid, e = next(iter(exts.items()))
    d = defs.get(eid, {})
    check(d.get("extension_types") == ["property-extension"] and e.get("extension_type") ==
          "property-extension", label + ": a property extension")
    fr, ro, sy, ass = (e.get(k, {}) for k in ("form_report", "reporting_organisation",
                                              "affected_system", "assessment"))
    r, org, sysd, st = doc["report"], doc["reporting_organisation"], doc["affected_system"], doc["status"]
    want = [("stage", fr.get("stage"), r["stage"]), ("form", fr.get("form"), r.get("form")),
            ("voluntary", fr.get("voluntary"), r["voluntary"]),
            ("basis", fr.get("basis"), r.get("basis")),
            ("notified_to", fr.get("notified_to_vi"), r["notified_to"]["vi"]),
            ("notified", fr.get("notified"), r.get("notified")),
            ("initial_ref", fr.get("initial_ref"), r.get("initial_ref")),
            ("place", ro.get("place"), org.get("place")),
            ("security_provider", ro.get("security_provider"), org.get("security_provider")),
            ("network_provider", ro.get("network_provider"), org.get("network_provider")),
            ("confidential", ro.get("confidential"), org.get("confidential")),
            ("signer", ro.get("signer_name"), (org.get("signer") or {}).get("name")),
            ("system", sy.get("name"), sysd.get("name")),
            ("security_level", sy.get("security_level"), sysd.get("security_level")),
            ("purpose", sy.get("purpose"), sysd.get("purpose")),
            ("os", sy.get("operating_system"), sysd.get("os")),
            ("services", sy.get("services"), sysd.get("services")),
            ("security_measures", sy.get("security_measures"), sysd.get("security_measures")),
            ("serious", ass.get("serious"), doc["impact"]["serious"]),
            ("outcome", ass.get("outcome_vi"), st["outcome"]["vi"])]
    for name, got, exp in want:
        check(got == exp, "%s: STIX form field %s = %r, the JSON report says %r" % (label, name, got, exp))
    check(ro.get("place") and sy.get("operating_system") and fr.get("notified_to_vi"),
          label + ": the example organisation's optional fields are carried")


def main():
    tmp = tempfile.mkdtemp(prefix="tocsin-stix-")
    try:
        db = os.path.join(tmp, "db")
        subprocess.run([TOCSIN, "replay", "--tenant", "so-tttt-demo", "--tz", "+07:00",
                        "--rules", "etc/rules", "--db", db, "examples/auth.log",
                        "examples/firewall-5424.log", "examples/sysmon.jsonl"],
                       cwd=ROOT, check=True, capture_output=True)
        ids = [json.loads(l)["id"] for l in run("incidents", "--db", db, "list", "--json").splitlines()]
        check(len(ids) >= 1, "the replay stored incidents")
        schema = json.load(open(os.path.join(ROOT, "docs", "report-schema.json")))
        common = ["--db", db, "--assets", "etc/assets.example.yml",
                  "--org", "etc/escalation/org.example.yml", "--policy", "etc/escalation/policy.yml"]
        n = 0
        for inc in ids:
            for regime in ("law116-2025", "circular20-2017"):
                for stage in ("initial", "update", "final"):
                    for rcpt in ("managing_body", "response_unit", "national"):
                        label = "%s %s %s %s" % (inc[:8], regime, stage, rcpt)
                        args = common + [inc, "--regime", regime, "--stage", stage,
                                         "--recipient", rcpt]
                        b = check_bundle(run("report", *args, "--format", "stix", "--rules", "etc/rules"), label)
                        doc = json.loads(run("report", *args, "--format", "json"))
                        check_form_ext(b, doc, label)
                        try:
                            jsonschema.validate(doc, schema)
                        except jsonschema.ValidationError as e:
                            check(False, "%s: JSON schema: %s" % (label, e.message))
                        check(doc["detection"]["author"], label + ": the Sigma author travels")
                        check(doc["affected_system"]["name"], label + ": affected system found")
                        n += 1
            vi = run("report", *common, inc, "--format", "text", "--lang", "vi")
            for h in VI_HEADINGS:
                check(h in vi, "%s: Vietnamese heading %r" % (inc[:8], h))
            check(any(t in vi for t in VI_TITLES), inc[:8] + ": Vietnamese title")
            en = run("report", *common, inc, "--format", "text", "--lang", "en")
            check(any(t in en for t in EN_TITLES), inc[:8] + ": English title")
        print("test_stix: %d report(s) in STIX and JSON checked, stix2 %s" % (n, stix2.__version__))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("test_stix: %d failure(s)" % len(failures))
        return 1
    print("test_stix: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
