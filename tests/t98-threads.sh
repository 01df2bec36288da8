#!/bin/sh
# The library is re-entrant: two sessions on two threads give each its
# own results (tests/unit/test-threads.c), also under ThreadSanitizer:
# `make tsan` builds the library and that test with -fsanitize=thread.
. "$TESTS_TOP/tests/lib.sh"

t0=$(date +%s)
if make -C "$TESTS_TOP" --no-print-directory -j2 tsan >tsan-build.out 2>&1; then
	pass "make tsan ($(( $(date +%s) - t0 ))s)"
else
	fail "make tsan" "$(tail -30 tsan-build.out)"
	exit 0
fi
# GLib's slice allocator synchronises in ways ThreadSanitizer cannot see
# (GLib is not instrumented): plain malloc instead
GALSMIME_TEST_PKI=$PKI G_SLICE=always-malloc TSAN_OPTIONS="halt_on_error=1 exitcode=66" \
	"$TESTS_TOP/build-tsan/test-threads" --tap >tsan.out 2>&1
rc=$?
check "two sessions on two threads under ThreadSanitizer: exit 0" test "$rc" = 0
check "... the test ran (not skipped)" contains tsan.out '^ok 1 /threads/two-sessions$'
check "... and ThreadSanitizer reported nothing" lacks tsan.out 'ThreadSanitizer'
