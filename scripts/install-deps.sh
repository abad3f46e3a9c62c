#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks run against (Orthanc, dcmtk, Redis, …), only if something is missing.
# Idempotent; works as root with no stdin (CI). Prints one line saying what it did; exits non-zero with the reason on failure.
set -euo pipefail

export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
export DEBIAN_FRONTEND=noninteractive

# "package|what must exist" — a command name, or an absolute path to a file.
requirements=(
  "orthanc|Orthanc"
  "orthanc-dicomweb|/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
  "dcmtk|echoscu" "dcmtk|storescu" "dcmtk|findscu" "dcmtk|getscu" "dcmtk|movescu"
  "dcmtk|storescp" "dcmtk|dump2dcm" "dcmtk|dcmodify" "dcmtk|dcmdump"
  "redis-server|redis-server"
  "oathtool|oathtool"
  "stunnel4|stunnel"
  "nginx-light|nginx"
  "wrk|wrk"
  "chromium|chromium"
  "openssl|openssl"
  "curl|curl"
  "python3|python3"
  "prometheus|prometheus" "prometheus|promtool"
  "rsyslog|rsyslogd"
  "rsyslog-gnutls|/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so"
  "libxml2-utils|xmllint"
  "slapd|/usr/sbin/slapd" "slapd|/usr/sbin/slapadd"
  "ldap-utils|ldapsearch"
)

present() {
  case "$1" in
    /*) [ -e "$1" ] ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

missing_packages=()
missing_things=()
for req in "${requirements[@]}"; do
  pkg="${req%%|*}"
  thing="${req#*|}"
  if ! present "$thing"; then
    missing_things+=("$thing")
    case " ${missing_packages[*]-} " in
      *" $pkg "*) ;;
      *) missing_packages+=("$pkg") ;;
    esac
  fi
done

if [ "${#missing_packages[@]}" -eq 0 ]; then
  echo "install-deps: all test dependencies present (orthanc, orthanc-dicomweb, dcmtk, redis-server, oathtool, stunnel4, nginx, wrk, chromium, openssl, curl, python3, prometheus, promtool, rsyslog, rsyslog-gnutls, xmllint, slapd, ldap-utils); nothing installed"
  exit 0
fi

fail() {
  echo "install-deps: FAILED: $*" >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "missing ${missing_things[*]} and apt-get is not available; install Debian packages: ${missing_packages[*]}"

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    fail "missing ${missing_things[*]}; run as root (or with passwordless sudo): apt-get install ${missing_packages[*]}"
  fi
fi

log="$(mktemp "${TMPDIR:-/tmp}/install-deps.XXXXXX.log")"

# Packages such as nginx and redis-server start a system service from their postinst; the tests
# start their own instances on free ports, so keep those from starting (policy-rc.d exit 101 =
# "action forbidden"), unless the machine already has a policy of its own.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null && "${sudo[@]}" chmod 755 "$policy" && own_policy=1
fi
cleanup() {
  if [ "$own_policy" -eq 1 ]; then "${sudo[@]}" rm -f "$policy"; fi
}
trap cleanup EXIT

# slapd's postinst asks for a domain and an admin password: with DEBIAN_FRONTEND=noninteractive debconf takes
# its defaults (a placeholder domain); the tests never use that system instance, they generate their own config.
apt_opts=(-y -q --no-install-recommends -o Dpkg::Use-Pty=0 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
if ! "${sudo[@]}" apt-get update -q </dev/null >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  fail "apt-get update failed (full log: $log)"
fi
if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install "${apt_opts[@]}" "${missing_packages[@]}" </dev/null >>"$log" 2>&1; then
  tail -n 30 "$log" >&2
  fail "apt-get install ${missing_packages[*]} failed (full log: $log)"
fi

still_missing=()
for req in "${requirements[@]}"; do
  thing="${req#*|}"
  present "$thing" || still_missing+=("$thing")
done
[ "${#still_missing[@]}" -eq 0 ] || fail "installed ${missing_packages[*]} but still missing: ${still_missing[*]} (log: $log)"

rm -f "$log"
echo "install-deps: installed ${missing_packages[*]} (was missing: ${missing_things[*]})"
