#!/bin/sh
# A store is used only when it is private, as ssh's StrictModes wants a
# user's keys: a folder or database someone else owns or can write is
# refused (exit 77) with what to fix, before anything is read from it or
# written into it. The attack: a 0777 folder with a world-writable
# database that another user planted with a rogue trust anchor.
. "$TESTS_TOP/tests/lib.sh"

# the attacker's store: the evil root trusted, so mallory's mail is "good"
A="$T_DIR/planted"
gs --home "$A" trust import "$PKI/evil.crt" >/dev/null
msg mallory@example.org bob@example.org "rogue" >rogue-plain.eml
openssl smime -sign -in rogue-plain.eml -signer "$PKI/mallory.crt" -inkey "$PKI/mallory.key" \
	-certfile "$PKI/mallory-chain.pem" >rogue.part 2>/dev/null
{ sed -n '1,/^Subject:/p' rogue-plain.eml; cat rogue.part; } >rogue.eml
check "control: in a private store trusting the evil root, mallory's mail is good" \
	gs --home "$A" verify -q <rogue.eml
chmod 0777 "$A"
chmod 0666 "$A/galsmime.db"
gs --home "$A" verify <rogue.eml >v.out 2>v.err; rc=$?
check "a world-writable store folder is refused: exit 77, not a good signature" test "$rc" = 77
check "... saying what to fix" contains v.err "store folder is writable by others \\(mode 0777\\).*chmod go-w"
check "... in one line" one_line v.err
check "... and writing nothing" test ! -s v.out
check_exit 77 "key import into it is refused (the key would be readable by anyone)" \
	gs --home "$A" key import "$PKI/alice.p12" --passphrase-file "$PKI/pass"
check "... and nothing was written" test -z "$(sqlite3 "$A/galsmime.db" 'SELECT id FROM identity')"
chmod 0700 "$A"
check_exit 77 "the folder fixed, a world-writable database is refused" gs --home "$A" verify -q <rogue.eml
check "... naming it" sh -c "'$GALSMIME' --home '$A' trust list 2>&1 | grep -q 'galsmime.db: the database file is writable by others'"
chmod 0620 "$A/galsmime.db"
check_exit 77 "a group-writable database is refused" gs --home "$A" trust list
chmod 0644 "$A/galsmime.db"
check "a database others can read (not write) is made private and used" gs --home "$A" trust list
check "... now 0600" test "$(stat -c %a "$A/galsmime.db")" = 600

# the -wal file SQLite would replay
B="$T_DIR/wal"
gs --home "$B" trust import "$PKI/root.crt" >/dev/null
: >"$B/galsmime.db-wal"
chmod 0666 "$B/galsmime.db-wal"
check_exit 77 "a world-writable -wal file is refused" gs --home "$B" trust list
rm -f "$B/galsmime.db-wal"

# a symbolic link where the database should be
C="$T_DIR/link"
mkdir -m 700 "$C"
ln -s "$A/galsmime.db" "$C/galsmime.db"
check_exit 77 "a database that is a symbolic link is refused" gs --home "$C" trust list

# a folder above the store that others can write (not sticky)
mkdir -m 0777 "$T_DIR/shared"
chmod 0777 "$T_DIR/shared"
check_exit 77 "a store under a folder others can write is refused" gs --home "$T_DIR/shared/store" trust list
check "... naming that folder" sh -c "'$GALSMIME' --home '$T_DIR/shared/store' trust list 2>&1 | grep -q 'shared: the folder above the store is writable by others'"
chmod 1777 "$T_DIR/shared"
check "under a sticky folder (as /tmp) it is used" gs --home "$T_DIR/shared/store" trust list

# a folder readable by others is made private on the first write
mkdir -m 0755 "$T_DIR/loose"
check "a store folder others can read is used" gs --home "$T_DIR/loose" trust import "$PKI/root.crt"
check "... and made 0700" test "$(stat -c %a "$T_DIR/loose")" = 700

# a store another user owns (needs root to make one)
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	D="$T_DIR/theirs"
	gs --home "$D" trust import "$PKI/evil.crt" >/dev/null
	chown -R nobody "$D"
	gs --home "$D" verify <rogue.eml >/dev/null 2>o.err; rc=$?
	check "a store folder another user owns is refused (exit 77)" test "$rc" = 77
	check "... saying whose it is" contains o.err 'belongs to another user'
	chown -R root "$D"
	chown nobody "$D/galsmime.db"
	check_exit 77 "a database another user owns is refused" gs --home "$D" verify -q <rogue.eml
else
	skip "stores another user owns" "making one needs root"
fi
