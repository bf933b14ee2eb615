#!/usr/bin/env bash
# Installs the adapter package (pyproject.toml) the two ways a Buildbot master runs it, each in a
# venv of its own, with pip:
#   .tools/buildbot4-venv  Buildbot 4 and buildbot-worker 4 from the package index, and the adapter
#   .tools/buildbot-venv   Debian's buildbot 3.7 (apt: buildbot, buildbot-worker), seen through
#                          --system-site-packages, and the adapter
# Usage: integrations/buildbot/install.sh [TOOLS_DIR]   (default: .tools in this repository)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
tools="${1:-$root/.tools}"
package="$root/integrations/buildbot"
# The Buildbot 4 release the tests run against.
BUILDBOT4_VERSION=4.3.0
python=/usr/bin/python3
pip_install() { "$1/bin/python" -m pip install --quiet --disable-pip-version-check --no-cache-dir "${@:2}"; }

for module in buildbot buildbot_worker; do
  if ! "$python" -c "import $module" 2>/dev/null; then
    echo "install.sh: $python cannot import $module: install the Debian packages buildbot and buildbot-worker (apt-get install -y buildbot buildbot-worker)" >&2
    exit 1
  fi
done

# setuptools builds in the source folder: a stale build/ from an earlier version must not be packaged.
rm -rf "$package/build" "$package"/*.egg-info

debian="$tools/buildbot-venv"
[[ -x "$debian/bin/python" ]] || "$python" -m venv --system-site-packages "$debian"
# A path entry from the earlier, .pth-based install would shadow the package: drop it.
rm -f "$("$debian/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/latent_worker_buildbot.pth"
pip_install "$debian" --force-reinstall --no-deps "$package"
pip_install "$debian" "$package"

pypi="$tools/buildbot4-venv"
[[ -x "$pypi/bin/python" ]] || "$python" -m venv "$pypi"
pip_install "$pypi" "buildbot==$BUILDBOT4_VERSION" "buildbot-worker==$BUILDBOT4_VERSION" "$package"
pip_install "$pypi" --force-reinstall --no-deps "$package"

for venv in "$debian" "$pypi"; do
  "$venv/bin/python" - <<'PY'
import importlib.metadata as metadata
import buildbot, buildbot_worker, temporalio  # noqa: F401  (each must import)
from buildbot.plugins import worker
worker.TemporalOpenStackLatentWorker  # the buildbot.worker entry point
print(f"buildbot {buildbot.version}, buildbot-worker {buildbot_worker.version}, temporalio {metadata.version('temporalio')}, adapter {metadata.version('openstack-latent-worker-buildbot')}")
PY
  echo "venv ready: $venv"
done
