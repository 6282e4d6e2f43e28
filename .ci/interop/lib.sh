# shellcheck shell=bash
# Shared helpers for the shell interop checks (sourced, not run).
#
# Every check prints exactly one line that starts with `PASS ` or `FAIL `;
# .ci/run counts those lines, so nothing else a script prints may start with
# them. A check is a shell function run in the CURRENT shell (so it can set
# variables later checks use, e.g. a digest) with its output captured to a
# log that is shown only when it fails: a green run stays short, a red one
# shows exactly which command broke and what it said.

CHECK_PREFIX=${CHECK_PREFIX:-interop}
CHECKS_FAILED=0
CHECKS_PASSED=0

# interop_args NAME "$@": the scripts' one argument is the registry's HOST:PORT;
# sets HOST and the prefix of every PASS/FAIL line.
interop_args() {
    local name=$1
    shift
    if [ $# -ne 1 ]; then
        echo "usage: $name.sh HOST:PORT" >&2
        exit 2
    fi
    HOST=$1
    CHECK_PREFIX="$name@$HOST"
}

# check "what is being shown" function [args...]
check() {
    local title=$1
    shift
    local log
    log=$(mktemp)
    if "$@" >"$log" 2>&1; then
        echo "PASS ${CHECK_PREFIX}: ${title}"
        CHECKS_PASSED=$((CHECKS_PASSED + 1))
        rm -f "$log"
        return 0
    fi
    echo "FAIL ${CHECK_PREFIX}: ${title}"
    # The last lines hold the failing command and its error; more is noise.
    tail -n 25 "$log" | sed 's/^/    | /'
    CHECKS_FAILED=$((CHECKS_FAILED + 1))
    rm -f "$log"
    return 1
}

# skip "what" "why": for checks whose prerequisite failed. Not counted as a
# failure (the prerequisite already was), but visible so a gap is never silent.
skip() {
    echo "SKIP ${CHECK_PREFIX}: $1 ($2)"
}

# run cmd...: echo the command into the check's log, then run it. The echo is
# what makes a failure readable without re-running anything; it goes to stderr
# so that `run cmd >file` captures only the command's own output.
run() {
    echo "+ $*" >&2
    "$@"
}

# expect_eq actual expected "what": fail with both values shown.
expect_eq() {
    if [ "$1" != "$2" ]; then
        echo "mismatch in $3:"
        echo "  got:      $1"
        echo "  expected: $2"
        return 1
    fi
    echo "ok: $3 = $1"
}

# sha256 of a file, as an OCI digest string.
digest_of() {
    echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"
}

# finish: one summary line for humans, exit status for .ci/run.
finish() {
    echo "${CHECK_PREFIX}: ${CHECKS_PASSED} checks passed, ${CHECKS_FAILED} failed"
    [ "$CHECKS_FAILED" -eq 0 ]
}
