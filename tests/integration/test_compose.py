#!/usr/bin/env python3
"""test_compose.py - static checks of docker-compose.yml (Docker cannot run here).

Checks that the compose file is valid YAML with the services kafka (apache/kafka,
KRaft single node), a topic-creating one-shot service and tocsin (built from the
repo's Dockerfile, run with a mounted config), and that every topic the tocsin
config consumes is created together with its dead-letter topic.

Usage: python3 tests/integration/test_compose.py   (needs PyYAML: python3-yaml)
Prints "compose: ok", or each problem and exits 1.
"""
import os
import sys

try:
    import yaml
except ImportError:
    print("compose: FAILED: PyYAML is missing (apt-get install python3-yaml)")
    sys.exit(1)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
problems = []


def check(cond, msg):
    if not cond:
        problems.append(msg)
    return cond


def env_of(svc):
    """Service environment as a dict, whether written as a mapping or a list."""
    env = svc.get("environment") or {}
    if isinstance(env, list):
        out = {}
        for item in env:
            k, _, v = str(item).partition("=")
            out[k] = v
        return out
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def words(value):
    """A command/entrypoint (string or list) as one string."""
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


def depends(svc, name):
    """The condition on which svc depends on name, "" if any, None if it does not."""
    dep = svc.get("depends_on") or {}
    if isinstance(dep, list):
        return "" if name in dep else None
    if name in dep:
        return (dep[name] or {}).get("condition", "")
    return None


def load_yaml(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except OSError as e:
        problems.append(f"{what}: cannot read {path}: {e.strerror}")
    except yaml.YAMLError as e:
        problems.append(f"{what}: {path} is not valid YAML: {e}")
    return None


def main():
    compose_path = os.path.join(ROOT, "docker-compose.yml")
    doc = load_yaml(compose_path, "docker-compose.yml")
    if doc is None:
        return
    if not check(isinstance(doc, dict) and isinstance(doc.get("services"), dict),
                 "docker-compose.yml: no services mapping"):
        return
    services = doc["services"]

    # --- kafka: official image, KRaft single node --------------------------------
    kafka = services.get("kafka")
    if check(isinstance(kafka, dict), "service kafka is missing"):
        image = str(kafka.get("image", ""))
        check(image.startswith("apache/kafka:"),
              f"kafka: image must be the official apache/kafka, got {image!r}")
        env = env_of(kafka)
        roles = {r.strip() for r in env.get("KAFKA_PROCESS_ROLES", "").split(",")}
        check({"broker", "controller"} <= roles,
              "kafka: KAFKA_PROCESS_ROLES must be broker,controller (KRaft single node), "
              f"got {env.get('KAFKA_PROCESS_ROLES')!r}")
        check("KAFKA_NODE_ID" in env, "kafka: KAFKA_NODE_ID is not set")
        voters = env.get("KAFKA_CONTROLLER_QUORUM_VOTERS", "")
        check(voters.startswith(env.get("KAFKA_NODE_ID", "?") + "@"),
              f"kafka: KAFKA_CONTROLLER_QUORUM_VOTERS {voters!r} must name this node")
        check("KAFKA_LISTENERS" in env and "KAFKA_ADVERTISED_LISTENERS" in env,
              "kafka: listeners and advertised listeners must be set")
        check("kafka:9092" in env.get("KAFKA_ADVERTISED_LISTENERS", ""),
              "kafka: must advertise kafka:9092 to the compose network")
        for k in ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
                  "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"):
            check(env.get(k) == "1", f"kafka: {k} must be 1 on a single broker")
        check("zookeeper" not in str(kafka).lower(), "kafka: KRaft mode uses no ZooKeeper")

    # --- the one-shot topic creator -----------------------------------------------
    init_name = None
    for name, svc in services.items():
        if isinstance(svc, dict) and "kafka-topics.sh" in words(svc.get("command")) + \
                words(svc.get("entrypoint")):
            init_name = name
    created = set()
    partitions = None
    if check(init_name is not None,
             "no service creates the topics (with /opt/kafka/bin/kafka-topics.sh)"):
        init = services[init_name]
        text = words(init.get("entrypoint")) + " " + words(init.get("command"))
        check(str(init.get("image", "")) == str((kafka or {}).get("image")),
              f"{init_name}: must use the broker's image to get kafka-topics.sh")
        check("/opt/kafka/bin/kafka-topics.sh" in text,
              f"{init_name}: must call /opt/kafka/bin/kafka-topics.sh")
        check("--create" in text and "--if-not-exists" in text,
              f"{init_name}: must create topics idempotently (--create --if-not-exists)")
        check(depends(init, "kafka") is not None, f"{init_name}: must depend on kafka")
        env = env_of(init)
        created = set(env.get("TOPICS", "").split())
        # topics named literally in the command count too
        for w in text.replace('"', " ").split():
            if w.startswith("logs."):
                created.add(w)
        partitions = env.get("PARTITIONS")
        check(partitions == "4" or "--partitions 4" in text,
              f"{init_name}: topics must have 4 partitions, got {partitions!r}")

    # --- tocsin: built from the repo, run with a mounted config ---------------------
    tocsin = services.get("tocsin")
    config_host = None
    if check(isinstance(tocsin, dict), "service tocsin is missing"):
        build = tocsin.get("build")
        if isinstance(build, str):
            build = {"context": build}
        if check(isinstance(build, dict), "tocsin: must be built (build: .)"):
            ctx = str(build.get("context", "")).rstrip("/")
            check(ctx in (".", ""), f"tocsin: build context must be the repo root, got {ctx!r}")
            dockerfile = build.get("dockerfile", "Dockerfile")
            check(dockerfile == "Dockerfile", f"tocsin: dockerfile must be Dockerfile, got "
                  f"{dockerfile!r}")
            check(os.path.isfile(os.path.join(ROOT, "Dockerfile")), "Dockerfile is missing")
        cmd = tocsin.get("command")
        cmd = cmd.split() if isinstance(cmd, str) else [str(c) for c in (cmd or [])]
        config_path = None
        if check(cmd[:1] == ["run"] and "-c" in cmd,
                 f"tocsin: command must be run -c <config>, got {cmd!r}"):
            i = cmd.index("-c")
            config_path = cmd[i + 1] if i + 1 < len(cmd) else None
        for vol in tocsin.get("volumes") or []:
            if isinstance(vol, dict):
                src, dst = vol.get("source"), vol.get("target")
            else:
                parts = str(vol).split(":")
                src, dst = parts[0], parts[1] if len(parts) > 1 else None
            if config_path and dst == config_path:
                config_host = os.path.normpath(os.path.join(ROOT, src))
        if check(config_host is not None,
                 f"tocsin: no volume mounts a config file at {config_path!r}"):
            check(os.path.isfile(config_host), f"tocsin: mounted config {config_host} is missing")
        cond = depends(tocsin, init_name) if init_name else None
        check(cond == "service_completed_successfully",
              f"tocsin: must depend on {init_name} with condition "
              f"service_completed_successfully, got {cond!r}")

    # --- every consumed topic (and its dead-letter topic) is created ----------------
    if config_host and os.path.isfile(config_host):
        cfg = load_yaml(config_host, "tocsin config") or {}
        brokers = str((cfg.get("kafka") or {}).get("brokers", ""))
        hosts = {b.strip().rsplit(":", 1)[0] for b in brokers.split(",") if b.strip()}
        check(hosts and hosts <= {"kafka", str((kafka or {}).get("hostname", "kafka"))},
              f"tocsin config: brokers {brokers!r} must be the compose service kafka")
        topics = cfg.get("topics") or []
        check(topics, "tocsin config: consumes no topics")
        for t in topics:
            name = str(t.get("name"))
            dlq = str(t.get("dead_letter") or name + ".dlq")
            check(name in created, f"topic {name} is consumed but not created by {init_name}")
            check(dlq in created, f"dead-letter topic {dlq} of {name} is not created by "
                  f"{init_name}")


if __name__ == "__main__":
    main()
    if problems:
        for p in problems:
            print(f"compose: {p}")
        print(f"compose: FAILED ({len(problems)} problem(s))")
        sys.exit(1)
    print("compose: ok")
