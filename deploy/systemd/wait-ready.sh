#!/bin/sh
# wait-ready.sh READY_FILE [SECONDS]
#
# ExecStartPost helper of the trading-*.service units. A py_rt process writes
# run/<service>.ready once it accepts work (market data: feed subscribed; execution engine:
# reconciled with the broker). Waiting for that file here makes `After=` mean "after the
# previous service is ready", the same start order `pyrt up` keeps.
#
#   - ready file appears          -> exit 0 (the unit is "active")
#   - the main process exits      -> exit 1 (the start fails; Restart=on-failure applies)
#   - SECONDS pass without it     -> exit 0 with a warning: the service keeps retrying its
#                                    connections by itself, so it is left running rather
#                                    than killed (a broker outage at boot must not leave
#                                    the unit failed).
# systemd passes the main pid in $MAINPID.
set -u
ready=${1:?usage: wait-ready.sh READY_FILE [SECONDS]}
limit=${2:-60}
pid=${MAINPID:-}
waited=0
while [ ! -e "$ready" ]; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
        echo "wait-ready: process $pid exited before writing $ready" >&2
        exit 1
    fi
    if [ "$waited" -ge "$((limit * 5))" ]; then
        echo "wait-ready: WARNING $ready not written after ${limit}s; leaving the service running (it retries by itself)" >&2
        exit 0
    fi
    sleep 0.2
    waited=$((waited + 1))
done
echo "wait-ready: ready ($ready)"
