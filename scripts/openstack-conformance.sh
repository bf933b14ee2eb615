#!/usr/bin/env bash
# Runs the conformance tier (test/conformance) against a real OpenStack Zed on 127.0.0.1:
# brings the cloud up with ../shared/tools/openstack-up.sh when it does not answer yet (and says
# how long that took), raises the demo project's compute quota, runs the tier with
# CONFORMANCE_TARGET=openstack, and leaves the cloud running unless --stop is given.
#
# Usage: bash scripts/openstack-conformance.sh [--stop] [--force-up] [-- vitest args...]
#   --stop      stop the cloud afterwards (../shared/tools/openstack-down.sh), pass or fail
#   --force-up  run openstack-up.sh even when the cloud already answers (it is idempotent)
# Needs root (openstack-up.sh installs Debian packages and starts daemons) and npm dependencies.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# In CI the repository is cloned next to a read-only copy of shared/.
tools=$repo/../shared/tools
stop=false
force_up=false
while (($# > 0)); do
  case $1 in
    --stop) stop=true ;;
    --force-up) force_up=true ;;
    --) shift; break ;;
    *) echo "unknown option: $1 (see the header of $0)" >&2; exit 2 ;;
  esac
  shift
done

[[ -f $tools/openstack-up.sh ]] || { echo "missing $tools/openstack-up.sh: shared/ must sit next to the repository" >&2; exit 2; }

export OS_AUTH_URL=http://127.0.0.1:5000/v3 OS_IDENTITY_API_VERSION=3 OS_REGION_NAME=RegionOne
export OS_USERNAME=admin OS_PASSWORD=admin OS_PROJECT_NAME=admin OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default

# Every probe is bounded: a half-started cloud must not hang the run.
answers() {
  curl -fsS -m 5 -o /dev/null http://127.0.0.1:8774/ &&
    curl -fsS -m 5 -o /dev/null -H 'content-type: application/json' \
      -d '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"demo","domain":{"name":"Default"},"password":"demo"}}},"scope":{"project":{"name":"demo","domain":{"name":"Default"}}}}}' \
      "$OS_AUTH_URL/auth/tokens"
}

if [[ $stop == true ]]; then
  trap 'echo "::: stopping the cloud"; bash "$tools/openstack-down.sh" || true' EXIT
fi

if [[ $force_up == false ]] && command -v curl >/dev/null && answers 2>/dev/null; then
  echo "::: the cloud already answers on 127.0.0.1: not bringing it up"
else
  echo "::: bringing the cloud up with $tools/openstack-up.sh"
  up_start=$(date +%s)
  bash "$tools/openstack-up.sh"
  echo "::: cloud bring-up took $(($(date +%s) - up_start)) s"
fi

# The default quota (10 instances, 20 cores) is too small for bursts; raising it is idempotent.
echo "::: raising the demo project's compute quota"
timeout 120 openstack quota set --instances 1000 --cores 2000 --ram 2048000 demo

cd "$repo"
echo "::: conformance tier against the real cloud"
tier_start=$(date +%s)
status=0
CONFORMANCE_TARGET=openstack npx vitest run --config vitest.conformance.config.ts "$@" || status=$?
echo "::: conformance tier took $(($(date +%s) - tier_start)) s"
exit "$status"
