#!/usr/bin/env bash
# Install what the browser tests need: Debian's Chromium and its driver, and axe-core from npm
# into a git-ignored folder. Safe to run again; nothing is downloaded outside the package managers.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-driver fonts-dejavu-core >/dev/null
fi
if [ ! -f .cache/npm/node_modules/axe-core/axe.min.js ]; then
  command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq npm >/dev/null; }
  npm install --silent --no-audit --no-fund --prefix .cache/npm axe-core@4
fi
echo "browser tests ready: $(chromium --version 2>/dev/null | head -1); axe-core $(node -p "require('./.cache/npm/node_modules/axe-core/package.json').version" 2>/dev/null || echo '?')"
