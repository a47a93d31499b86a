#!/usr/bin/env bash
# `make demo`: an embedded MedGov (SQLite, a filesystem message broker, no Redis or PostgreSQL needed)
# with three simulated model servers, a real Celery worker (with beat) and the web app on 127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBUG=1 MEDGOV_DEMO=1 MEDGOV_HTTPS=0
export MEDGOV_VAR_DIR="${MEDGOV_VAR_DIR:-$PWD/var/demo}"
unset DATABASE_URL REDIS_URL CELERY_BROKER_URL CELERY_RESULT_BACKEND
PY=.venv/bin/python
LOGS="$MEDGOV_VAR_DIR/logs"
mkdir -p "$LOGS"
PORT="${MEDGOV_DEMO_PORT:-8000}"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

echo "demo: migrating the embedded database in $MEDGOV_VAR_DIR"
$PY manage.py migrate --noinput -v 0

declare -A SIM_PORTS=([hospital-qwen]=8101 [vendor-chat]=8102 [judge]=8103)
endpoint_args=()
for name in hospital-qwen vendor-chat judge; do
  port=${SIM_PORTS[$name]}
  if port_open "$port"; then
    echo "demo: port $port is busy; stop what listens there first" >&2
    exit 1
  fi
  latency=0.05
  [ "$name" = vendor-chat ] && latency=0.12
  $PY manage.py simulate_llm --port "$port" --latency "$latency" --jitter \
    --profile "scripts/demo_profiles/$name.json" >"$LOGS/simulator-$name.log" 2>&1 &
  pids+=($!)
  endpoint_args+=(--endpoint "$name=http://127.0.0.1:$port/v1")
done
for port in "${SIM_PORTS[@]}"; do
  for _ in $(seq 1 100); do port_open "$port" && break; sleep 0.1; done
done

echo "demo: seeding the demo hospital (the first time, real audits run against the simulators)"
$PY manage.py seed_demo "${endpoint_args[@]}"

$PY -m celery -A config worker --pool threads --concurrency 4 --beat \
  --schedule "$MEDGOV_VAR_DIR/celerybeat-schedule" --loglevel INFO >"$LOGS/worker.log" 2>&1 &
pids+=($!)

echo
echo "  MedGov demo: http://127.0.0.1:$PORT/"
echo "  Sign in as compliance, zhang.wei, li.na (requesters), wang.fang, chen.jie (auditors),"
echo "  zhao.min (IRB chair), sun.li (secretary), zhou.qiang, wu.hua, xu.lan (lay member)."
echo "  Password for every demo account: medgov-demo-2026. Django admin: root. Logs: $LOGS"
echo "  Stop with Ctrl-C."
echo
$PY manage.py runserver "127.0.0.1:$PORT" --noreload
