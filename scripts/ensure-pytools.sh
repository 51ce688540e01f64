#!/usr/bin/env bash
# Python packages the tests use (test tooling only): stix2 and jsonschema to
# validate the STIX 2.1 bundles and JSON reports, prometheus_client to parse
# /metrics as Prometheus would, selenium to drive Debian's headless Chromium
# through chromium-driver in tests/integration/test_console.py (the browser
# and the driver come from apt: scripts/ensure-deps.sh; Selenium is never
# let to download one). Installed with pip when missing; says what it does.
set -euo pipefail
if python3 -c 'import stix2, jsonschema, prometheus_client, selenium' 2>/dev/null; then
    exit 0
fi
echo "deps: installing Python test tools with pip: stix2 jsonschema prometheus_client selenium"
if ! python3 -m pip --version >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-pip >/dev/null
fi
python3 -m pip install --quiet stix2 jsonschema prometheus_client selenium 2>/dev/null ||
    python3 -m pip install --quiet --break-system-packages stix2 jsonschema prometheus_client selenium
