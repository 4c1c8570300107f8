#!/bin/sh
# An example sensor in POSIX sh that speaks Nerve's sensor protocol directly (see
# sensors/PROTOCOL.md in the Nerve sources): newline-delimited JSON, host -> sensor on stdin,
# sensor -> host on stdout, stderr is the sensor's log.
#
# It answers the host's `hello` with `ready` (promising no heartbeats, so the host only watches
# for the process exiting), then dispatches
#   {"type":"dispatch","trigger":"examples.heartbeat","payload":{"seq":N,"host":"..."}}
# every N seconds, and exits 0 when the host sends `shutdown` or closes stdin. N is
# $NERVE_HEARTBEAT_INTERVAL when set, else `heartbeat_interval` of the pack config (sent in
# `hello`), else 10.
#
# POSIX `read` has no timeout, so the dispatches come from a background loop while the
# foreground reads stdin; on shutdown/EOF the foreground stops the background loop.

PROTOCOL=1
TRIGGER=examples.heartbeat

# The host name goes into JSON: keep only characters that need no escaping.
host=$(uname -n 2>/dev/null | tr -cd 'A-Za-z0-9._-')
[ -n "$host" ] || host=unknown

# The handshake: the first line is always `hello`.
if ! IFS= read -r hello; then
    exit 0 # stdin closed before hello: nothing to do
fi
case $hello in
    *'"type":"hello"'* | *'"type": "hello"'*) ;;
    *)
        printf '{"type":"error","message":"expected a hello message first"}\n'
        exit 1 ;;
esac
case $hello in
    *'"protocol":1,'* | *'"protocol":1}'* | *'"protocol": 1,'* | *'"protocol": 1}'*) ;;
    *)
        version=$(printf '%s\n' "$hello" | sed -n 's/.*"protocol": *\([0-9][0-9]*\).*/\1/p')
        printf '{"type":"error","message":"protocol version mismatch: host speaks %s, this shell sensor speaks %s"}\n' \
            "${version:-unknown}" "$PROTOCOL"
        exit 2 ;;
esac

# No JSON parser in sh: pick the number out of `"heartbeat_interval":N` in the pack config.
configured=$(printf '%s\n' "$hello" | sed -n 's/.*"heartbeat_interval": *\([0-9][0-9.]*\).*/\1/p')
interval=${NERVE_HEARTBEAT_INTERVAL:-${configured:-10}}
case $interval in
    '' | *[!0-9.]* | *.*.* | . | 0 | 0.0 | 0.00 )
        echo "heartbeat_sensor: bad heartbeat interval '$interval', using 10" >&2
        interval=10 ;;
esac

printf '{"type":"ready","protocol":%s}\n' "$PROTOCOL"
echo "heartbeat_sensor: ready, one heartbeat every $interval s" >&2

# The ticker: one dispatch per interval. `sleep` runs in the background with its output away
# from the protocol pipe, so that stopping the ticker (TERM) is immediate and leaves no process
# holding stdout open.
(
    # $! is the running `sleep` (the trap may run before an assignment of $! would).
    trap 'if [ -n "$!" ]; then kill "$!" 2>/dev/null; fi; exit 0' TERM
    seq=0
    while :; do
        sleep "$interval" >/dev/null 2>&1 </dev/null &
        wait "$!"
        seq=$((seq + 1))
        printf '{"type":"dispatch","trigger":"%s","payload":{"seq":%d,"host":"%s"}}\n' \
            "$TRIGGER" "$seq" "$host" || exit 0
    done
) &
ticker=$!
# Stopped by a signal (the host's last resort after `shutdown`): stop the ticker too.
trap 'kill "$ticker" 2>/dev/null; exit 0' TERM INT HUP

# The foreground: wait for `shutdown` or the end of stdin; other messages (add_trigger, ...)
# are ignored, this sensor has no parameterised triggers. Nerve's host writes compact JSON
# with "type" as the first key, so the start of the line tells the message type (matching
# anywhere in the line could match a trigger parameter).
while IFS= read -r line || [ -n "$line" ]; do
    case $line in
        '{"type":"shutdown"'* | '{"type": "shutdown"'*) break ;;
    esac
    line=
done

kill "$ticker" 2>/dev/null
wait "$ticker" 2>/dev/null
echo "heartbeat_sensor: stopped" >&2
exit 0
