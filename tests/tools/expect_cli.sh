#!/bin/sh
# Runs one command and checks how it ended, for the CLI's CTest cases.
#
#   expect_cli.sh EXIT_CODE REGEX COMMAND [ARG...]
#
# Passes when COMMAND exits with EXIT_CODE and its stdout and stderr
# together match the extended regular expression REGEX. When EXIT_CODE is
# not 0, stderr must also be non-empty and every line of it must start with
# "tessera: error: ", as the CLI promises.
set -u
expected_rc=$1
regex=$2
shift 2
command_line="$*"

out=$(mktemp) && err=$(mktemp) || exit 1
trap 'rm -f "$out" "$err"' EXIT

"$@" >"$out" 2>"$err"
rc=$?

fail() {
  echo "FAIL: $*"
  echo "command: $command_line"
  echo "--- stdout ---"; cat "$out"
  echo "--- stderr ---"; cat "$err"
  exit 1
}

[ "$rc" -eq "$expected_rc" ] || fail "exit code $rc, expected $expected_rc"
cat "$out" "$err" | grep -Eq -- "$regex" || fail "output does not match /$regex/"
if [ "$expected_rc" -ne 0 ]; then
  [ -s "$err" ] || fail "no error message on stderr"
  if grep -vq '^tessera: error: ' "$err"; then
    fail "a stderr line does not start with 'tessera: error: '"
  fi
fi
echo "ok: exit $rc, output matches /$regex/"
