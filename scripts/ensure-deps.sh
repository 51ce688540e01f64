#!/usr/bin/env bash
# Install the Debian packages Tocsin needs to build and test, when missing.
# Says what it does; needs root (or sudo) only when something is missing.
set -euo pipefail
PKGS=(gcc make pkg-config librdkafka-dev libjansson-dev libmaxminddb-dev liblmdb-dev
      lmdb-utils check libsubunit-dev libyaml-dev libpcre2-dev zlib1g-dev libcurl4-openssl-dev libssl-dev openssl
      libmicrohttpd-dev
      python3 python3-yaml python3-pip kcat default-jre-headless maven)
missing=()
for p in "${PKGS[@]}"; do
    # java and mvn may come from elsewhere (e.g. a Temurin JDK): accept those
    case "$p" in
        default-jre-headless) command -v java >/dev/null 2>&1 && continue ;;
        maven) command -v mvn >/dev/null 2>&1 && continue ;;
    esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
here=$(dirname "$0")
if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all Debian packages present"
    "$here/ensure-pytools.sh"
    exit 0
fi
echo "deps: installing missing Debian packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "deps: done"
"$here/ensure-pytools.sh"
