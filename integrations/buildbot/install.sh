#!/usr/bin/env bash
# Installs what the Buildbot adapter needs next to Debian's buildbot 3.7: a virtualenv on the
# system python that sees Debian's buildbot (--system-site-packages) and holds a pinned temporalio.
# Usage: integrations/buildbot/install.sh [VENV_DIR]   (default: .tools/buildbot-venv)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${1:-$root/.tools/buildbot-venv}"
# Debian's buildbot is installed for the system interpreter only.
python=/usr/bin/python3
requirements="$root/integrations/buildbot/requirements.txt"

for module in buildbot buildbot_worker; do
  if ! "$python" -c "import $module" 2>/dev/null; then
    echo "install.sh: $python cannot import $module: install the Debian packages buildbot and buildbot-worker (apt-get install -y buildbot buildbot-worker)" >&2
    exit 1
  fi
done

if [[ ! -x "$venv/bin/python" ]]; then
  "$python" -m venv --system-site-packages "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
# The adapter itself, importable from master.cfg as latent_worker_buildbot (a path entry, so edits take effect at once).
site_packages="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$root/integrations/buildbot" >"$site_packages/latent_worker_buildbot.pth"
"$venv/bin/python" - <<'PY'
import importlib.metadata as metadata
import buildbot, buildbot_worker, temporalio, latent_worker_buildbot  # noqa: F401  (each must import)
print(f"buildbot {buildbot.version}, buildbot-worker {buildbot_worker.version}, temporalio {metadata.version('temporalio')}")
PY
echo "venv ready: $venv"
