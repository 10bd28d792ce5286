#!/usr/bin/env bash
# Renders a run report in headless Chromium, saves a screenshot, and fails if the page logged
# any console error. Usage: scripts/report-screenshot.sh out/runs/<run_id>/report.html [report.png]
# Needs Chromium (Debian: apt-get install chromium). SCREENSHOT_HEIGHT (pixels, default 2600) sets
# how much of the page is captured; the width is 1200.
set -euo pipefail
report=$(realpath "$1")
out=${2:-report.png}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  echo "report-screenshot: no Chromium found (apt-get install chromium)" >&2
  exit 2
fi
profile=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$profile" "$log"' EXIT
# A page with an error in it logs "Uncaught ..." or console.error as CONSOLE lines on stderr.
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --enable-logging=stderr --v=0 --log-level=0 \
  --window-size=1200,"${SCREENSHOT_HEIGHT:-2600}" --hide-scrollbars --screenshot="$out" "file://$report" 2>"$log" >/dev/null || true
if [ ! -s "$out" ]; then
  echo "report-screenshot: Chromium wrote no screenshot; its log:" >&2
  cat "$log" >&2
  exit 1
fi
# The report has no scripts, so any console message at all is a fault.
if grep -qE 'CONSOLE|Uncaught' "$log"; then
  echo "report-screenshot: the page logged console errors:" >&2
  grep -E 'CONSOLE|Uncaught' "$log" >&2
  exit 1
fi
echo "report-screenshot: wrote $out (no console errors)"
