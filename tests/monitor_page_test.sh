#!/bin/sh
# The live page of `shoal master --http`, loaded in a real browser (headless Chromium) on a
# running cluster: two workers up, one never started. The page must have read /status and
# show every worker, in its state. With SHOAL_SCREENSHOT=FILE.png it also takes a screenshot
# (docs/monitor.png is one). Skips (77) where no headless Chromium is installed; scripts/test
# installs chromium-headless-shell.
#   monitor_page_test.sh SHOAL_BINARY SOURCE_DIR
set -eu
shoal="$1"
src="$2"
browser=""
for b in chromium-headless-shell chromium; do
  if command -v "$b" > /dev/null 2>&1; then browser="$b"; break; fi
done
if [ -z "$browser" ]; then
  echo "skipped: no headless Chromium (apt-get install chromium-headless-shell)"
  exit 77
fi
dir="$(mktemp -d)"
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2> /dev/null || true; done
  wait 2> /dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

# "listening on HOST:PORT" (a worker, stdout) or "... on http://HOST:PORT/" (stderr), within 30 s.
address_in() {
  for _ in $(seq 300); do
    a="$(sed -n "s|.*$2 \(http://\)\{0,1\}\([0-9.]*:[0-9]*\).*|\2|p" "$1" | head -n 1)"
    if [ -n "$a" ]; then echo "$a"; return 0; fi
    sleep 0.1
  done
  echo "no address in $1:" >&2
  cat "$1" >&2
  return 1
}

for i in 1 2; do
  "$shoal" worker --model "$src/models/resnet8-slim-s$i.shoal" --listen 127.0.0.1:0 > "$dir/w$i.out" 2> "$dir/w$i.err" &
  pids="$pids $!"
done
w1="$(address_in "$dir/w1.out" "listening on")"
w2="$(address_in "$dir/w2.out" "listening on")"
# Port 9 (discard): nothing listens there, so the third worker stays "waiting".
"$shoal" master --workers "$w1,$w2,127.0.0.1:9" --deadline 20 --rate 200 --limit 3000 \
  --accuracy-images 200 --http 127.0.0.1:0 > "$dir/master.out" 2> "$dir/master.err" &
pids="$pids $!"
http="$(address_in "$dir/master.err" "health and metrics on")"
# Until the master has calibrated and inputs flow (the page's history needs a few polls).
for _ in $(seq 100); do
  grep -q "adaensemble" "$dir/master.err" 2> /dev/null && break
  sleep 0.1
done

dom="$(timeout 60 "$browser" --headless --no-sandbox --disable-gpu --virtual-time-budget=4000 --dump-dom "http://$http/" 2> /dev/null)"
if [ -n "${SHOAL_SCREENSHOT:-}" ]; then
  timeout 60 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,560 \
    --virtual-time-budget=6000 --screenshot="$SHOAL_SCREENSHOT" "http://$http/" > /dev/null 2>&1
fi
fail=0
expect() {
  if printf '%s' "$dom" | grep -q "$1"; then echo "ok: $2"; else echo "FAILED: $2 (no $1 in the page)"; fail=1; fi
}
expect 'data-loaded="yes"' "the page read /status"
expect "data-worker=\"$w1\" data-state=\"up\"" "worker $w1 is up"
expect "data-worker=\"$w2\" data-state=\"up\"" "worker $w2 is up"
expect 'data-worker="127.0.0.1:9" data-state="waiting"' "the worker never started is waiting"
expect '<rect' "the latency histogram is drawn"
expect 'adaensemble' "the policy's row is there"
if [ "$fail" != 0 ]; then
  echo "--- the master said:"; cat "$dir/master.err"
  echo "--- the page:"; printf '%s\n' "$dom" | head -c 4000
fi
exit "$fail"
