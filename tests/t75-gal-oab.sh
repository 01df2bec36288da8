#!/bin/sh
# galsmime gal import of Outlook's offline address book (udetails.oab,
# version 4 full details, decompressed): the test directory round trip to
# encryption checked with openssl cms; PtypString8, stdin, snapshots;
# hostile files (exit 65 naming the byte, the store unchanged, --skip-bad
# for what can be skipped); Outlook's TLV blob edge cases; memory on a
# 100 MB file.
. "$TESTS_TOP/tests/gal/lib.sh"

# lookup QUERY: gal lookup's entry lines with '|' for tabs, into lookup.out
lookup() { gs gal lookup "$1" 2>&1 | tr '\t' '|' >lookup.out; }

check "store setup: trust the root, alice's identity" store_setup
check "make the OAB fixture from the test PKI" galfix oab gal.oab
check "the fixture starts with an OAB v4 header (ulVersion 0x20)" \
	test "$(od -An -tx4 -N4 gal.oab | tr -d ' ')" = 00000020

# ---- round trip ----
check_exit 0 "gal import gal.oab, format detected" sh -c "'$GALSMIME' gal import --source gal.oab gal.oab >imp.out 2>&1"
check "12 entries, 13 addresses, nothing skipped" \
	contains imp.out '^gal\.oab \(snapshot\): 12 entries \(0 replaced\), 13 addresses, 12 certificate links;.* 0 skipped$'
lookup alice
check "the store holds alice: oab-user, account as name and alias, both SMTP addresses, the primary first" \
	test "$(entries gal.oab | grep '^alice|')" = \
	"alice|oab-user|alice|Alice Example|alice@example.org alice.example@example.org|userCertificate=$(fp16 alice) userSMIMECertificate=$(fp16 alice)"
check "lookup alice: display name, account as name and alias, oab-user, primary first, SIP/X500 dropped" \
	contains lookup.out '^Alice Example\|alice\|alice\|oab-user\|alice@example\.org,alice\.example@example\.org\|2 certificates\|\[gal\.oab\]$'
check "lookup alice: encrypts to alice's certificate" contains lookup.out "^encrypts to $(fp alice) "
lookup bob
check "lookup bob (a MailUser: DT_REMOTE_MAILUSER) is oab-contact with one certificate" \
	contains lookup.out '^Bob Example\|bob\|bob\|oab-contact\|bob@example\.org\|1 certificate\|'
lookup 'Grace Example (S/MIME)'
check "lookup by display name finds the _SMIME contact" \
	contains lookup.out '^Grace Example \(S/MIME\)\|Grace_SMIME\|Grace_SMIME\|oab-contact\|grace@example\.org\|1 certificate'
lookup grace@example.org
check "lookup grace@example.org finds both contacts" test "$(grep -c '|grace@example.org|' lookup.out)" = 2
check "... and encrypts to grace's certificate" contains lookup.out "^encrypts to $(fp grace) "
lookup nora
check "nora (no certificate) is an entry with 0 certificates" \
	contains lookup.out '^Nora NoCert\|nora\|nora\|oab-user\|nora@example\.org\|0 certificates'

gs gal explain alice@example.org >explain.out 2>&1
check "explain alice: the chosen one comes from userSMIMECertificate (CMS signed-data)" \
	sh -c "grep -A5 '^\* $(fp alice)' explain.out | grep -q 'attribute userSMIMECertificate'"
gs gal explain carol@example.org >explain.out 2>&1
check "explain carol: her EC certificate from the TLV blob is usable" \
	sh -c "grep -A5 '^\* $(fp carol)' explain.out | grep -q 'entry carol, attribute userSMIMECertificate'"
gs gal explain henry@example.org >explain.out 2>&1
check "explain henry: chosen is henry.crt (userSMIMECertificate), not the newer henry2" \
	contains explain.out "^chosen: $(fp henry)$"
check "explain henry: henry2 is a candidate from userCertificate" \
	sh -c "grep -A5 '^  $(fp henry2)' explain.out | grep -q 'attribute userCertificate'"
gs gal explain ivan@example.org >explain.out 2>&1
check "explain ivan: the directory vouches for a certificate with another address" \
	contains explain.out 'not the recipient.s address: only the directory binds it'
check_exit 1 "explain dave exits 1" gs gal explain dave@example.org
gs gal explain dave@example.org >explain.out 2>&1
check "dave: expired" contains explain.out '^cannot encrypt to dave@example\.org: .*expired'
gs gal explain erin@example.org >explain.out 2>&1
check "erin: signing only" contains explain.out '^cannot encrypt to erin@example\.org: .*without keyEncipherment'
gs gal explain frank@example.org >explain.out 2>&1
check "frank: no emailProtection" contains explain.out '^cannot encrypt to frank@example\.org: .*without emailProtection'
gs gal explain mallory@example.org >explain.out 2>&1
check "mallory: untrusted" contains explain.out '^cannot encrypt to mallory@example\.org: .*does not reach a trust anchor'

enc_directory oab
check "henry2 cannot decrypt it" cannot_read henry2 henry.p7m
check "carol cannot decrypt bob's" cannot_read carol bob.p7m
check_exit 67 "encrypt to nora (no certificate) exits 67" \
	sh -c "'$GALSMIME' encrypt --no-self --to nora@example.org <m.eml >nora.p7m 2>nora.err"
check "... naming her" contains nora.err 'nora@example\.org'
check "... and writing nothing" test ! -s nora.p7m

# ---- variants ----
check "PtypString8 (0x001E) variant" galfix oab ansi.oab --ansi
check "the variant really uses 0x3001001E" python3 -c "
import sys; sys.exit(0 if bytes.fromhex('1e000130') in open('ansi.oab','rb').read() else 1)"
gs gal import --source ansi.oab ansi.oab >imp.out 2>&1
check "PtypString8: 12 entries" contains imp.out '^ansi\.oab \(snapshot\): 12 entries'
lookup 'Grace Example (S/MIME)'
check "PtypString8: lookup by display name" contains lookup.out '^Grace Example \(S/MIME\)\|Grace_SMIME\|.*\[ansi\.oab\]$'
gs gal import --format oab --source piped - <gal.oab >imp.out 2>&1
check "stdin with --format oab" contains imp.out '^piped \(snapshot\): 12 entries'
galfix oab small.oab --only alice,bob
gs gal import --source gal.oab small.oab >imp.out 2>&1
check "re-import of a source replaces its snapshot" contains imp.out '^gal\.oab \(snapshot\): 2 entries \(12 replaced\)'
gs gal list --source gal.oab >list.out 2>&1
check "... the snapshot holds just the new entries" test "$(wc -l <list.out)" = 2
gs gal import --source gal.oab gal.oab >/dev/null 2>&1
galfix oab noaddr.oab --only nora,bob --no-address nora
gs gal import --source noaddr.oab noaddr.oab >imp.out 2>&1
check "a record with neither an address nor a certificate is left out, and counted" \
	contains imp.out '^noaddr\.oab \(snapshot\): 1 entries .*; 1 record with neither an address nor a certificate left out$'
check "... nora is not in the snapshot" sh -c "! '$GALSMIME' gal list --source noaddr.oab | grep -q nora"

# ---- hostile files ----
check "the store is settled before the hostile imports" gs gal import --source gal.oab gal.oab
store_state >before.txt 2>&1
# every hostile kind at once (one run of galfix): bad-KIND.oab, and "KIND byte N" lines
check "make the hostile files" sh -c "python3 '$TESTS_TOP/tests/gal/galfix.py' '$PKI' oab 'bad-%s.oab' --break all >breaks.txt"
# hostile KIND REASON [FORMAT]: import bad-KIND.oab into the gal.oab snapshot
hostile() {
	off=$(sed -n "s/^$1 //p" breaks.txt)
	"$GALSMIME" gal import --format "${3:-oab}" --source gal.oab "bad-$1.oab" >out 2>err
	rc=$?
	check "$1: exit 65" test "$rc" = 65
	check "$1: the error names the file, $off, and why" contains err "^galsmime gal: bad-$1\\.oab: $off: $2"
	store_state >after.txt 2>&1
	check "$1: the store is unchanged" cmp -s before.txt after.txt
}
hostile header 'truncated file: the OAB header needs 12 bytes, 7 there'
hostile version 'version 0x00000007 is not an OAB version 4'
hostile meta-cbsize 'the metadata record: size 4294967295 is over the limit'
hostile catts "object records' property table claims 2147483648 properties"
hostile cbsize0 'object record 2 of 12: size 0 is too small'
hostile cbsize3 'object record 2 of 12: size 3 is too small'
hostile cbsize-past 'truncated file: object record 2 of 12 claims [0-9]+ bytes, [0-9]+ left'
hostile cbsize-ffffffff 'object record 2 of 12: size 4294967295 is over the limit'
hostile cbsize-big 'truncated file: object record 2 of 12 claims 50331648 bytes'
hostile presence 'object record 2 of 12: property 0x39000003: integer at byte [0-9]+ past the end of the record'
hostile int85 'object record 2 of 12: property 0x0FFE0003: bad integer encoding 0x85'
hostile binlen 'object record 2 of 12: property 0x8C6A1102 value 1: binary value at byte [0-9]+ claims [0-9]+ bytes, past the end'
hostile binlen-huge 'object record 2 of 12: property 0x8C6A1102 value 1: binary value at byte [0-9]+ claims 4294967295 bytes'
hostile mvcount 'object record 2 of 12: property 0x800F101F: count 2147483648 at byte [0-9]+ runs past the end of the record'
hostile nonul 'object record 2 of 12: property 0x3001001F: string at byte [0-9]+ has no NUL before the end of the record'
hostile many-addresses 'object record 2 of 12: property 0x800F101F value 1024: more than 1024 addresses'
hostile many-certs 'object record 2 of 12: property 0x8C6A1102 value 1025: more than 1024 certificate values'
hostile unknown-type 'object record 2 of 12: property 0x8CF00040 has type 0x0040'
hostile totrecs-more 'truncated file: the header announces 13 object records, the file ends after 12'
hostile totrecs-less 'data after the 11 object records the header announces'
# Outlook's TLV blob in PidTagUserX509Certificate, decoded by the driver
hostile tlv-short 'userSMIMECertificate value 1: security blob: setting 0x0006 at byte 8 claims 2 bytes'
hostile tlv-past 'userSMIMECertificate value 1: security blob: setting 0x0003 at byte 8 claims [0-9]+ bytes, [0-9]+ left'
hostile tlv-garbage 'userSMIMECertificate value 1: security blob: setting 0x0003 at byte 8 is not a certificate'
hostile int85 'object record 2 of 12: property 0x0FFE0003: bad integer encoding 0x85' auto

: >empty.oab
"$GALSMIME" gal import --source gal.oab empty.oab >out 2>err
check "empty file: exit 65" test $? = 65
check "empty file: says so" contains err '^galsmime gal: empty\.oab: empty file$'
"$GALSMIME" gal import --format oab --source gal.oab empty.oab >out 2>err
check "empty file as oab: the header is missing" contains err '^galsmime gal: empty\.oab: byte 0: truncated file: the OAB header needs 12 bytes, 0 there$'
python3 -c "
import random, struct, sys
r = random.Random(75)
sys.stdout.buffer.write(struct.pack('<III', 0x20, 1, 5) + bytes(r.getrandbits(8) for _ in range(8192)))" >garbage.oab
"$GALSMIME" gal import --source gal.oab garbage.oab >out 2>err
check "binary garbage after a good header: exit 65" test $? = 65
check "binary garbage: a one-line reason with a byte offset" contains err '^galsmime gal: garbage\.oab: byte [0-9]+: '
head -c 10000 gal.oab >cut.oab
"$GALSMIME" gal import --source gal.oab cut.oab >out 2>err
check "a file cut in the middle of a record: truncated" contains err '^galsmime gal: cut\.oab: byte [0-9]+: truncated file: '
store_state >after.txt 2>&1
check "the store is still unchanged" cmp -s before.txt after.txt

# from a pipe the size is unknown: the forged size must still not be believed
cat bad-cbsize-big.oab | /usr/bin/time -f %M -o rss.out "$GALSMIME" gal import --format oab --source gal.oab - >out 2>err
check "pipe, record claiming 48 MiB: truncated, naming what is there" \
	contains err '^galsmime gal: stdin: byte [0-9]+: truncated file: object record 2 of 12 claims 50331648 bytes, [0-9]+ there$'
if [ "${SANITIZE:-}" = 1 ]; then
	skip "... without allocating for the claim" "AddressSanitizer's shadow memory and quarantine"
else
	check "... without allocating for the claim (peak RSS $(tail -1 rss.out) KB < 40000)" test "$(tail -1 rss.out)" -lt 40000
fi

# --skip-bad: what is inside a record skips that record; a broken frame cannot be skipped
# skip_bad KIND WHO: --skip-bad skips WHO's record and imports the rest
skip_bad() {
	off=$(sed -n "s/^$1 //p" breaks.txt)
	"$GALSMIME" gal import --skip-bad --source gal.oab "bad-$1.oab" >out 2>err
	check "--skip-bad $1: exit 0" test $? = 0
	check "--skip-bad $1: 11 entries, 1 skipped" contains out '^gal\.oab \(snapshot\): 11 entries .* 1 skipped$'
	check "--skip-bad $1: says where and why" contains err "^galsmime gal: bad-$1\\.oab: $off: .* \\(skipped\\)$"
	lookup "$2@example.org"
	check "--skip-bad $1: $2 is gone from the snapshot" lacks lookup.out "\\|$2\\|.*\\[gal\\.oab\\]$"
	check "--skip-bad $1: ... and still in another source (the test sees entries)" \
		contains lookup.out "\\|$2\\|"
	lookup alice
	check "--skip-bad $1: alice is there" contains lookup.out '^Alice Example\|alice\|'
}
skip_bad int85 bob
skip_bad mvcount bob
skip_bad nonul bob
skip_bad presence bob
skip_bad unknown-type bob
skip_bad tlv-garbage carol
skip_bad tlv-past carol
gs gal import --source gal.oab gal.oab >/dev/null 2>&1
store_state >before.txt 2>&1
check_exit 65 "--skip-bad does not skip a record whose size runs past the end" \
	gs gal import --skip-bad --source gal.oab bad-cbsize-past.oab
check_exit 65 "--skip-bad does not skip a record whose size is 0 (no next record to find)" \
	gs gal import --skip-bad --source gal.oab bad-cbsize0.oab
check_exit 65 "--skip-bad does not accept a file with records missing" \
	gs gal import --skip-bad --source gal.oab bad-totrecs-more.oab
# a snapshot replaces the source: a file with no entry must not empty it
galfix oab none.oab --only nobody
"$GALSMIME" gal import --source gal.oab none.oab >out 2>err
check "an OAB with no object record: exit 65" test $? = 65
check "... saying there is no entry" contains err '^galsmime gal: none\.oab: no directory entry in the file \(0 object records\)$'
galfix oab onebad.oab --only bob --break int85 >/dev/null
"$GALSMIME" gal import --skip-bad --source gal.oab onebad.oab >out 2>err
check "--skip-bad with every record bad: exit 65" test $? = 65
check "... saying why and that nothing could be read" \
	sh -c "grep -q 'onebad.oab: byte [0-9]*: object record 1 of 1: .*(skipped)' err &&
	       grep -q '^galsmime gal: onebad.oab: no entry could be read (1 skipped)$' err"
store_state >after.txt 2>&1
check "... and the store is unchanged" cmp -s before.txt after.txt

# ---- memory: 50000 records, about 100 MB ----
if [ "${SANITIZE:-}" = 1 ]; then
	skip "bounded memory" "AddressSanitizer's shadow memory and quarantine"
else
	check "make a 50000-record OAB" galfix oab big.oab --count 50000
	size=$(stat -c %s big.oab)
	check "it is over 50 MB ($size bytes)" test "$size" -gt 50000000
	/usr/bin/time -f %M -o rss.out "$GALSMIME" gal import big.oab >imp.out 2>&1
	check "big file: 50000 entries" contains imp.out "^$PWD/big\\.oab: 50000 entries"
	check "big file: peak RSS $(tail -1 rss.out) KB stays under 60 MB" test "$(tail -1 rss.out)" -lt 60000
	cat big.oab | /usr/bin/time -f %M -o rss.out "$GALSMIME" gal import --format oab --source bigpipe - >imp.out 2>&1
	check "big file from a pipe: 50000 entries" contains imp.out '^bigpipe \(snapshot\): 50000 entries'
	check "big file from a pipe: peak RSS $(tail -1 rss.out) KB stays under 60 MB" test "$(tail -1 rss.out)" -lt 60000
	gs gal explain bob.49993@example.org >explain.out 2>&1
	check "a copy deep in the big file resolves to bob's certificate" contains explain.out "^chosen: $(fp bob)$"
	rm -f big.oab
fi
