#!/bin/sh
# Named parameters come first (`--shout` when true), then positional ones in order.
shout=false
if [ "$1" = "--shout" ]; then
    shout=true
    shift
fi
message="$2, $1!"
if [ "$shout" = true ]; then
    printf '%s\n' "$message" | tr '[:lower:]' '[:upper:]'
else
    printf '%s\n' "$message"
fi
