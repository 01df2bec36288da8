#!/bin/sh
# make demo's script, the README's first command, runs the mission end to
# end (an Exchange GAL export resolving a partner by address, an expired
# recipient refused and explained, sign + encrypt, decrypt + verify) and
# exits 0 only when every step did what it shows.
. "$TESTS_TOP/tests/lib.sh"

"$TESTS_TOP/scripts/demo" "$GALSMIME" >demo.out 2>&1; rc=$?
check "scripts/demo exits 0" test "$rc" = 0
check "... it says every step did what it shows" contains demo.out '^demo: every step did what it shows$'
check "... the .sst gave three anchors" contains demo.out 'issuing.sst: 3 trust anchors added'
check "... the GAL export imported" contains demo.out 'gal.json: 6 entries'
check "... the partner resolved through the Partner_SMIME twin" \
	contains demo.out '^Pat \(Partner Ltd, S/MIME\).*1 certificate'
check "... the expired recipient was refused (67) and explained" \
	sh -c "grep -q '^exit status 67' demo.out && grep -q '^cannot encrypt to dave@example.org: .*expired' demo.out"
check "... Bob's verify said smime=pass" contains demo.out '^Authentication-Results: .*smime=pass body.smime-identifier=alice@example.org'
# the demo checks itself: break the binary's answer and it must fail
printf '#!/bin/sh\nif [ "$3" = encrypt ] || [ "$3" = verify ]; then exec "%s" "$@" --no-such-option; fi\nexec "%s" "$@"\n' \
	"$GALSMIME" "$GALSMIME" >broken-galsmime
chmod +x broken-galsmime
"$TESTS_TOP/scripts/demo" "$T_DIR/broken-galsmime" >broken.out 2>&1; rc=$?
check "a galsmime whose encrypt fails makes the demo fail (exit $rc)" test "$rc" != 0
check "... saying which step" contains broken.out '^demo: FAILED: '
