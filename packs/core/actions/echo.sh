#!/bin/sh
# core.echo: print the first argument verbatim, followed by a newline.
printf '%s\n' "$1"
