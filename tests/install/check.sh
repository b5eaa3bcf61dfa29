#!/bin/sh
# The install test: `cmake --install` of BUILD_DIR into a temporary prefix
# holds the binary, the man page (readable by man or groff) and the commented
# default config, which names every setting `ringwatch serve --help` lists.
# Usage: tests/install/check.sh BUILD_DIR
set -eu
build=$1
tmp=$(mktemp -d /tmp/rwtest-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install test: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$tmp/usr" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; fail "cmake --install failed"; }
bin=$tmp/usr/bin/ringwatch
page=$tmp/usr/share/man/man1/ringwatch.1
conf=$tmp/usr/etc/ringwatch/ringwatch.conf
for f in "$bin" "$page" "$conf"; do [ -f "$f" ] || fail "$f is missing after the install"; done
[ -x "$bin" ] || fail "$bin is not executable"
"$bin" --help | grep -q '^usage: ringwatch' || fail "the installed binary does not run"

head -n 1 "$page" | grep -q '^\.TH RINGWATCH 1' || fail "$page does not start with .TH RINGWATCH 1"
for cmd in $("$bin" --help | sed -n 's/^  \([a-z]*\) .*/\1/p'); do
  grep -q "^\.SS ringwatch $cmd\$" "$page" || fail "the man page has no section for $cmd"
done
if command -v man >/dev/null 2>&1; then
  text=$(MANWIDTH=80 man -l "$page" 2>"$tmp/man.err") || fail "man -l cannot read the page: $(cat "$tmp/man.err")"
elif command -v groff >/dev/null 2>&1; then
  text=$(groff -man -Tutf8 -ww "$page" 2>"$tmp/man.err") || fail "groff cannot read the page"
else
  text="--max-edges (no man or groff here: .TH checked only)"
fi
[ ! -s "$tmp/man.err" ] || fail "warnings reading the page: $(cat "$tmp/man.err")"
echo "$text" | grep -q -- '--max-edges' || fail "the rendered page lacks export's --max-edges"

for key in $("$bin" serve --help | sed -n '/^settings/,/^$/s/^  \([a-z_]*\) .*/\1/p'); do
  grep -q "^# $key =" "$conf" || fail "ringwatch.conf does not document the setting $key"
done
# Every line uncommented is a file serve accepts (it then refuses only for want of a token).
sed 's/^# \([a-z_]* =.*\)$/\1/' "$conf" >"$tmp/all.conf"
out=$(cd "$tmp" && "$bin" serve --config all.conf 2>&1) && fail "serve started without tokens"
echo "$out" | grep -q 'no token is configured' || fail "serve did not accept the defaults file: $out"
echo "install test: binary, man page ($(wc -l <"$page") lines) and ringwatch.conf installed and readable"
