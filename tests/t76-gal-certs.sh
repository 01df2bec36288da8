#!/bin/sh
# galsmime gal import of bare certificate lists: Microsoft's serialized
# store (.sst), PKCS#7 bags (DER and PEM), a PEM bundle, one DER
# certificate; --format auto for each; an .sst as trust anchors; hostile
# .sst files (exit 65, the store unchanged). Then Outlook's TLV security
# blob ([MS-OXOABK] 2.2.4.36) inside OAB records: capabilities announced
# and the per-record errors of broken blobs.
. "$TESTS_TOP/tests/gal/lib.sh"

mksst() { python3 "$TESTS_TOP/tests/gal/fmt_sst.py" "$@"; }

check "store setup: trust the root, alice's identity" store_setup

# ---- the fixtures ----
check "a .sst of the directory's userCertificate values (galfix sst)" galfix sst dir.sst
check "the .sst starts with 0, CERT" test "$(head -c 8 dir.sst | od -An -tx1 | tr -d ' ')" = 0000000043455254
check "the .sst has a friendly name element (0x0B, UTF-16LE) before the first certificate" python3 -c "
import struct, sys
d = open('dir.sst', 'rb').read()
pid, enc, ln = struct.unpack_from('<III', d, 8)
sys.exit(0 if pid == 0x0B and enc == 1 and d[20:20 + ln].decode('utf-16-le') == 'Alice Example\0' else 1)"
check "a .sst with a CRL element (skipped by importers)" galfix sst crl.sst --with-crl
check "a .sst of the two CAs" mksst cas.sst "$PKI/root.crt" "$PKI/inter.crt"
openssl crl2pkcs7 -nocrl -certfile "$PKI/bob.crt" -certfile "$PKI/carol.crt" -certfile "$PKI/grace.crt" \
	-outform DER -out three.p7b
openssl crl2pkcs7 -nocrl -certfile "$PKI/bob.crt" -certfile "$PKI/carol.crt" -certfile "$PKI/grace.crt" \
	-out three-pem.p7b
cat "$PKI/bob.crt" "$PKI/carol.crt" "$PKI/grace.crt" >three.pem
openssl x509 -in "$PKI/bob.crt" -outform DER -out bob.der
check "the PKCS#7 fixtures exist" test -s three.p7b -a -s three-pem.p7b

# import FILE COUNT [FORMAT]: gal import FILE as source FILE, COUNT certificates in the source
import() {
	"$GALSMIME" gal import ${3:+--format "$3"} --source "$1" "$1" >imp.out 2>&1
	check "gal import $1${3:+ --format $3}: exit 0" test $? = 0
	n=$(sed -En "s/^$1 \\(snapshot\\): 0 entries .*certificates: ([0-9]+) new, ([0-9]+) known; 0 skipped$/\1 + \2/p" imp.out)
	check "$1: 0 entries, $2 certificates read ($n)" test "$((${n:-0}))" = "$2"
	check "$1: gal stats shows $2 certificates for the source" \
		sh -c "'$GALSMIME' gal stats | grep -Eq '^$1 +gal +0 +0 +$2 +0 '"
}
import dir.sst 9
import crl.sst 9
import three.p7b 3
import three-pem.p7b 3
import three.pem 3
import bob.der 1
# the same files named for what they are
import dir.sst 9 sst
import three.p7b 3 p7b
import three-pem.p7b 3 pem
import three.pem 3 pem
import bob.der 1 der

gs gal explain bob@example.org >explain.out 2>&1
check "bob, from the certificate lists alone, is usable" contains explain.out "^chosen: $(fp bob)$"
gs gal explain carol@example.org >explain.out 2>&1
check "carol (EC), from the PKCS#7 bag, is usable" contains explain.out "^chosen: $(fp carol)$"
msg alice@example.org bob@example.org "sst" >m.eml
check_exit 0 "encrypt to bob with his certificate from the lists" \
	sh -c "'$GALSMIME' encrypt --no-self <m.eml >bob.p7m"
check "bob decrypts it" can_read bob bob.p7m

# ---- an .sst as trust anchors ----
T2="$T_DIR/trust-sst"
check "trust import cas.sst into an empty store" sh -c "'$GALSMIME' --home '$T2' trust import cas.sst >t.out 2>&1"
check "... adds both CAs as anchors" contains t.out '^cas\.sst: 2 trust anchors added'
gs --home "$T2" trust list >t.out 2>&1
check "trust list shows the root from the .sst" contains t.out 'CN=galsmime test root CA'
check_exit 64 "trust import of the directory's .sst is refused (leaf certificates)" \
	gs --home "$T2" trust import dir.sst
check "gal import of the directory's .sst there" gs --home "$T2" gal import dir.sst
gs --home "$T2" gal explain bob@example.org >explain.out 2>&1
check "bob is usable, trusted through the .sst alone" contains explain.out "verdict +usable"
printf 'From: bob@example.org\nTo: alice@example.org\nSubject: signed\n\nhello\n' >plain.txt
openssl smime -sign -signer "$PKI/bob.crt" -inkey "$PKI/bob.key" -in plain.txt \
	-from bob@example.org -to alice@example.org -subject signed >signed.eml 2>/dev/null
check_exit 0 "a message bob signed with openssl verifies against the .sst anchors" \
	sh -c "'$GALSMIME' --home '$T2' verify <signed.eml"
check_exit 1 "... and does not in a store without them (the check can fail)" \
	sh -c "'$GALSMIME' --home '$T_DIR/empty-store' verify <signed.eml"

# ---- hostile .sst ----
check "the store is settled before the hostile imports" gs gal import dir.sst
store_state >before.txt 2>&1
# hostile KIND REASON [FORMAT]: bad.sst of KIND into the dir.sst snapshot, and as anchors
hostile() {
	galfix sst bad.sst --break "$1" || { fail "$1: make the fixture"; return; }
	"$GALSMIME" gal import ${3:+--format "$3"} --source dir.sst bad.sst >out 2>err
	check "$1: exit 65" test $? = 65
	check "$1: the error names the file and why" contains err "^galsmime gal: bad\\.sst: $2"
	check_exit 65 "$1: trust import refuses it too" gs trust import bad.sst
	store_state >after.txt 2>&1
	check "$1: the store is unchanged" cmp -s before.txt after.txt
}
hostile truncated 'serialized store: truncated element header at byte [0-9]+$'
hostile length-past 'serialized store: element at byte [0-9]+ claims [0-9]+ bytes, [0-9]+ left$'
hostile length-ffffffff 'serialized store: element at byte [0-9]+ claims 4294967295 bytes, [0-9]+ left$'
hostile zero-certs 'serialized store holds no certificate$'
hostile garbage-cert 'serialized store: bad certificate at byte [0-9]+$'
hostile no-magic 'cannot tell the format from the content'
hostile no-magic 'no certificate found' sst
: >empty.sst
"$GALSMIME" gal import --source dir.sst empty.sst >out 2>err
check "empty file: exit 65" test $? = 65
check "empty file: says so" contains err '^galsmime gal: empty\.sst: empty file$'
"$GALSMIME" gal import --format sst --source dir.sst empty.sst >out 2>err
check "empty file as sst: exit 65" test $? = 65
python3 -c "
import random, sys
r = random.Random(76)
sys.stdout.buffer.write(b'\0\0\0\0CERT' + bytes(r.getrandbits(8) for _ in range(4096)))" >garbage.sst
"$GALSMIME" gal import --source dir.sst garbage.sst >out 2>err
check "binary garbage after the magic: exit 65" test $? = 65
check "binary garbage: one reason naming a byte offset" contains err '^galsmime gal: garbage\.sst: serialized store: .* at byte [0-9]+'
head -c 3000 dir.sst >cut.sst
"$GALSMIME" gal import --source dir.sst cut.sst >out 2>err
check "a file cut inside a certificate: exit 65, claims more than is left" \
	contains err '^galsmime gal: cut\.sst: serialized store: element at byte [0-9]+ claims [0-9]+ bytes, [0-9]+ left$'
store_state >after.txt 2>&1
check "the store is still unchanged" cmp -s before.txt after.txt

# ---- Outlook's TLV blob, through OAB records ----
check "an OAB whose carol blob announces AES-256-GCM" galfix oab caps.oab --tlv-caps
check "gal import caps.oab" gs gal import caps.oab
msg alice@example.org carol@example.org "caps" >c.eml
check_exit 0 "encrypt --cipher auto to carol" sh -c "'$GALSMIME' encrypt --no-self --cipher auto <c.eml >gcm.p7m"
check "the blob's capabilities chose AuthEnvelopedData (AES-256-GCM)" \
	sh -c "openssl cms -cmsout -print -in gcm.p7m | grep -q 'contentType: id-smime-ct-authEnvelopedData'"
check "carol decrypts it" can_read carol gcm.p7m
# the store remembers capabilities per certificate, so the control gets a store of its own
T3="$T_DIR/nocaps"
check "the same OAB without capabilities, in another store" sh -c "python3 '$TESTS_TOP/tests/gal/galfix.py' '$PKI' oab nocaps.oab &&
	'$GALSMIME' --home '$T3' trust import '$PKI/root.crt' && '$GALSMIME' --home '$T3' cert import '$PKI/inter.crt' &&
	'$GALSMIME' --home '$T3' gal import nocaps.oab" 
check_exit 0 "encrypt --cipher auto to carol there" \
	sh -c "'$GALSMIME' --home '$T3' encrypt --no-self --cipher auto <c.eml >cbc.p7m"
check "without capabilities it stays EnvelopedData (the check can fail)" \
	sh -c "openssl cms -cmsout -print -in cbc.p7m | grep -q 'contentType: pkcs7-envelopedData'"

check "make the broken blobs" sh -c "python3 '$TESTS_TOP/tests/gal/galfix.py' '$PKI' oab 'tlv-%s.oab' --break all >breaks.txt"
# tlv KIND REASON: carol's record is skipped with REASON, the rest imported
tlv() {
	off=$(sed -n "s/^tlv-$1 //p" breaks.txt)
	"$GALSMIME" gal import --skip-bad --source tlv "tlv-tlv-$1.oab" >out 2>err
	check "tlv $1: --skip-bad imports the 11 others" contains out '^tlv \(snapshot\): 11 entries .* 1 skipped$'
	check "tlv $1: carol's record, $off: $2" \
		contains err "^galsmime gal: tlv-tlv-$1\\.oab: $off: userSMIMECertificate value 1: security blob$2 \\(skipped\\)$"
	check_exit 65 "tlv $1: without --skip-bad the import fails" \
		gs gal import --source tlv "tlv-tlv-$1.oab"
}
tlv short ': setting 0x0006 at byte 8 claims 2 bytes, [0-9]+ left'
tlv past ': setting 0x0003 at byte 8 claims [0-9]+ bytes, [0-9]+ left'
tlv garbage ': setting 0x0003 at byte 8 is not a certificate'
tlv header ': truncated setting header at byte [0-9]+'
tlv nocert ' holds no certificate'
