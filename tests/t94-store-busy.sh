#!/bin/sh
# A store held by another process is a temporary failure (exit 75, one
# line, nothing on stdout), never a verdict: verify does not say "bad"
# (1), encrypt does not say "no usable certificate" (67), harvest learns
# nothing and says busy. The store is held the hard way: another SQLite
# connection in exclusive locking mode, inside an exclusive transaction
# with a write in it.
. "$TESTS_TOP/tests/lib.sh"

check "store setup: trust the root, alice's identity" store_setup
check "bob's certificate known" gs cert import "$PKI/bob.crt"
msg alice@example.org bob@example.org >to-bob.eml
gs sign --passphrase-file "$PKI/pass" <to-bob.eml >signed.eml
check "fixture: a message alice signed" test -s signed.eml
check_exit 0 "before the lock: alice's signature is good" gs verify <signed.eml
check "before the lock: encrypt to bob works" sh -c "'$GALSMIME' encrypt <to-bob.eml >/dev/null"

cat >hold.py <<'EOF'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA locking_mode=EXCLUSIVE")
db.execute("BEGIN EXCLUSIVE")
db.execute("INSERT INTO harvested(message_id, verdict, at) VALUES ('held', 'held', 0)")
open("held", "w").close()
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
EOF
python3 hold.py "$GALSMIME_HOME/galsmime.db" 25 &
holder=$!
trap 'kill $holder 2>/dev/null; t_finish' EXIT
for i in $(seq 100); do [ -f held ] && break; sleep 0.1; done
check "another process holds the store exclusively" test -f held

# each waits for the busy timeout; run side by side
gs verify <signed.eml >v.out 2>v.err & v=$!
gs encrypt <to-bob.eml >e.out 2>e.err & e=$!
gs harvest <signed.eml >h.out 2>h.err & h=$!
wait $v; vrc=$?
wait $e; erc=$?
wait $h; hrc=$?
if [ $vrc = 75 ]; then pass "verify while the store is held: exit 75, not 1"; else fail "verify while the store is held: exit 75, not 1" "exit $vrc: $(cat v.err)"; fi
check "... one line on stderr, saying busy" sh -c "one_line() { [ \$(wc -l <v.err) -eq 1 ]; }; one_line && grep -q busy v.err"
check "... nothing on stdout" test ! -s v.out
if [ $erc = 75 ]; then pass "encrypt while the store is held: exit 75, not 67"; else fail "encrypt while the store is held: exit 75, not 67" "exit $erc: $(cat e.err)"; fi
check "... saying busy, nothing on stdout" sh -c "grep -q busy e.err && test ! -s e.out"
if [ $hrc = 75 ]; then pass "harvest while the store is held: exit 75"; else fail "harvest while the store is held: exit 75" "exit $hrc: $(cat h.err)"; fi
wait $holder
check_exit 0 "after the lock: alice's signature is good again" gs verify <signed.eml
