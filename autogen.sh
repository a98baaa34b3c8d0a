#!/bin/sh
# autogen.sh - generate the configure script and Makefile.in from a git checkout
set -e
cd "$(dirname "$0")"
mkdir -p build-aux m4
autoreconf --install --force
