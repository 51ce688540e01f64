#!/usr/bin/env bash
# Install the Debian packages Tocsin needs to build and test, when missing.
# Says what it does; needs root (or sudo) only when something is missing.
set -euo pipefail
PKGS=(gcc make pkg-config librdkafka-dev libjansson-dev libmaxminddb-dev liblmdb-dev
      lmdb-utils check libsubunit-dev libyaml-dev libpcre2-dev zlib1g-dev libcurl4-openssl-dev libssl-dev openssl
      libmicrohttpd-dev wrk
      # `make fuzz`: clang with libFuzzer and the sanitizers' runtimes
      clang libclang-rt-14-dev
      python3 python3-yaml python3-pip kcat default-jre-headless maven
      # the web console's browser test (tests/integration/test_console.py):
      # Debian's headless Chromium and its WebDriver, a monospace font with
      # every Vietnamese letter for the screenshots
      chromium chromium-driver fonts-noto-mono
      # the forwarders' shared libraries (rsyslog; syslog-ng), see ensure_forwarders
      bsdutils librdkafka1 libestr0 libfastjson4 liblognorm5 libivykis0 libnet1 libpcre3 libwrap0)
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
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

# The real forwarders of tests/integration/test_forwarders.py: rsyslog with
# omkafka and syslog-ng with its Kafka destination (Debian 12: rsyslog +
# rsyslog-kafka 8.2302, syslog-ng-core + syslog-ng-mod-rdkafka 3.38). The two
# packages conflict, and installing either would make it the system's syslog
# daemon (its postinst starts the service): both are unpacked instead
# (apt-get download + dpkg -x) into $TOCSIN_CACHE/forwarders/root and the
# test runs them from there as its own instances (-M / --module-path). Their
# shared libraries are ordinary packages (PKGS above). A package that cannot
# be had is reported here and makes that test fail, loudly, naming it; the
# build, the demo and the other tests do not need it.
FWD_DEBS=(rsyslog rsyslog-kafka syslog-ng-core syslog-ng-mod-rdkafka)
ensure_forwarders() {
    local cache=${TOCSIN_CACHE:-$HOME/.cache/tocsin}/forwarders
    local root=$cache/root
    if [ -x "$root/usr/sbin/rsyslogd" ] && [ -x "$root/usr/sbin/syslog-ng" ] &&
       [ -f "$root/usr/lib/x86_64-linux-gnu/rsyslog/omkafka.so" ] &&
       ls "$root"/usr/lib/syslog-ng/*/libkafka.so >/dev/null 2>&1; then
        return 0
    fi
    echo "deps: unpacking the test forwarders (${FWD_DEBS[*]}) into $root"
    local dl
    dl=$(mktemp -d /tmp/tocsin-debs.XXXXXX)
    chmod 0777 "$dl" # apt-get download drops root to _apt
    if ! (cd "$dl" && apt-get download -q "${FWD_DEBS[@]}" >/dev/null 2>&1); then
        $SUDO apt-get update -qq
        (cd "$dl" && apt-get download -q "${FWD_DEBS[@]}" >/dev/null) || {
            rm -rf "$dl"
            echo "deps: WARNING: apt-get download ${FWD_DEBS[*]} failed:" \
                 "tests/integration/test_forwarders.py will fail" >&2
            return 0; }
    fi
    rm -rf "$root.new" && mkdir -p "$root.new"
    for d in "$dl"/*.deb; do dpkg -x "$d" "$root.new"; done
    (cd "$dl" && ls *.deb) >"$root.new/DEBS"
    rm -rf "$dl" "$root" && mv "$root.new" "$root"
    echo "deps: forwarders: $(tr '\n' ' ' <"$root/DEBS")"
}

if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all Debian packages present"
else
    echo "deps: installing missing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
    echo "deps: done"
fi
ensure_forwarders
"$here/ensure-pytools.sh"
