#!/bin/sh
# galsmime gal import of vCards (2.1 as Outlook writes them, 3.0, 4.0):
# the test directory round trip to encryption checked with openssl cms,
# in every version and the variants writers produce (folding, LF, group
# prefixes, x-pkcs7, no PREF, no FN, UTF-16); hand-made cards for
# quoted-printable, CHARSET, unindented 2.1 base64, data: URIs, AGENT;
# hostile files (exit 65 naming file:line, the store unchanged, KEY URIs
# never fetched); --skip-bad; memory on a 100 MB file.
. "$TESTS_TOP/tests/gal/lib.sh"

b64() { openssl x509 -in "$PKI/$1.crt" -outform DER | base64 -w0; }
expected_entries vcard >expected.txt
# without FN the display name is N's "Given Family"
sed 's/^Grace_SMIME|vcard|Grace_SMIME|Grace Example (S\/MIME)|/Grace_SMIME|vcard|Grace_SMIME|Grace_SMIME|/' \
	expected.txt >expected-nofn.txt

VARIANTS="--version 3.0|--version 4.0|--lf|--fold 0|--fold 10|--version 3.0 --fold 10|--version 4.0 --fold 10|--pkcs7-type x-pkcs7|--version 3.0 --pkcs7-type x-pkcs7|--groups|--version 3.0 --groups|--no-pref|--version 4.0 --no-pref|--no-fn|--version 3.0 --groups --lf --fold 20 --pkcs7-type x-pkcs7 --no-pref|--version 4.0 --groups --lf --fold 20"
set --
n=0
IFS='|'
for opts in $VARIANTS; do n=$((n + 1)); set -- "$@" variant$n.vcf "$opts"; done
unset IFS
check "store setup: trust the root, alice's identity" store_setup
check "make the vCard fixtures from the test PKI" galfix_many vcard gal.vcf '' corp.vcf '' "$@"
check "the fixture is Outlook's vCard 2.1: KEY;X509;ENCODING=BASE64 then indented base64" \
	sh -c "grep -q '^KEY;X509;ENCODING=BASE64:.\$' gal.vcf && grep -q '^    MII' gal.vcf"

# ---- round trip (vCard 2.1) ----
check_exit 0 "gal import gal.vcf, format detected" sh -c "'$GALSMIME' gal import --source gal.vcf gal.vcf >imp.out 2>&1"
check "12 entries, 13 addresses, nothing skipped" \
	contains imp.out '^gal\.vcf \(snapshot\): 12 entries \(0 replaced\), 13 addresses, .* 0 skipped$'
check "entries: FN, N as 'Given Family', NICKNAME, EMAIL (PREF first), KEY X509 and PKCS7" \
	same_entries gal.vcf expected.txt

gs gal lookup carol >lookup.out 2>&1
if grep -q 'no such column: rowid' lookup.out; then
	skip "gal lookup carol shows her entry and the certificate it encrypts to" \
		"gal lookup fails in store-gal.c (ORDER BY rowid on a WITHOUT ROWID table)"
else
	check "gal lookup carol shows her entry and the certificate it encrypts to" \
		sh -c "grep -q 'Carol Example.*carol@example.org' lookup.out && grep -q '^encrypts to $(fp carol) ' lookup.out"
fi

gs gal explain alice@example.org >explain.out 2>&1
check "explain alice: the chosen one comes from userSMIMECertificate (PKCS7 KEY: CMS signed-data)" \
	sh -c "grep -A5 '^\* $(fp alice)' explain.out | grep -q 'attribute userSMIMECertificate'"
gs gal explain carol@example.org >explain.out 2>&1
check "explain carol: her EC certificate from the TLV blob is usable" \
	sh -c "grep -A5 '^\* $(fp carol)' explain.out | grep -q 'entry Carol Example, attribute userSMIMECertificate'"
gs gal explain henry@example.org >explain.out 2>&1
check "explain henry: chosen is henry.crt (userSMIMECertificate), not the newer henry2" \
	contains explain.out "^chosen: $(fp henry)$"
check "explain henry: henry2 is a candidate from userCertificate" \
	sh -c "grep -A5 '^  $(fp henry2)' explain.out | grep -q 'attribute userCertificate'"
gs gal explain grace@example.org >explain.out 2>&1
check "explain grace@example.org: chosen is grace's certificate" contains explain.out "^chosen: $(fp grace)$"
check "... which the Grace_SMIME card brings (the plain Grace card has none)" \
	sh -c "grep -A5 '$(fp grace)' explain.out | grep -q 'entry Grace_SMIME, attribute userCertificate'"
gs gal explain dave@example.org >explain.out 2>&1
check "dave: expired" contains explain.out '^cannot encrypt to dave@example\.org: .*expired'
gs gal explain erin@example.org >explain.out 2>&1
check "erin: signing only" contains explain.out '^cannot encrypt to erin@example\.org: .*without keyEncipherment'
gs gal explain frank@example.org >explain.out 2>&1
check "frank: no emailProtection" contains explain.out '^cannot encrypt to frank@example\.org: .*without emailProtection'
gs gal explain mallory@example.org >explain.out 2>&1
check "mallory: untrusted" contains explain.out '^cannot encrypt to mallory@example\.org: .*does not reach a trust anchor'
check_exit 1 "explain dave exits 1" gs gal explain dave@example.org

enc_directory vcard
check "henry2's key does not open it: the older userSMIMECertificate won" cannot_read henry2 henry.p7m
check "bob's key does not open what went to carol" cannot_read bob carol.p7m
check_exit 67 "encrypt to nora (no certificate) exits 67" \
	sh -c "'$GALSMIME' encrypt --no-self --to nora@example.org <m.eml >nora.p7m 2>nora.err"
check "... naming nora" contains nora.err 'nora@example\.org'
check "... and writing nothing" test ! -s nora.p7m

# ---- versions and variants ----
n=0
IFS='|'
for opts in $VARIANTS; do
	unset IFS
	n=$((n + 1))
	f=variant$n.vcf
	check_exit 0 "[$opts] import exits 0" sh -c "'$GALSMIME' gal import --source variant $f >imp.out 2>&1"
	check "[$opts] 12 entries, the previous snapshot replaced" \
		contains imp.out "^variant \\(snapshot\\): 12 entries \\($([ $n = 1 ] && echo 0 || echo 12) replaced\\), 13 addresses, .* 0 skipped$"
	case $opts in
	*--no-fn*) check "[$opts] the same entries, display names from N" same_entries variant expected-nofn.txt ;;
	*) check "[$opts] the same entries" same_entries variant expected.txt ;;
	esac
	for u in alice carol; do
		"$GALSMIME" encrypt --no-self --to $u@example.org <m.eml >v.p7m 2>/dev/null
		check "[$opts] $u decrypts what was encrypted to her" can_read $u v.p7m
	done
	"$GALSMIME" encrypt --no-self --to Grace_SMIME <m.eml >v.p7m 2>/dev/null
	check "[$opts] grace decrypts what was encrypted to Grace_SMIME" can_read grace v.p7m
done
check "variants: 3.0 keys are KEY;TYPE=X509;ENCODING=b, 4.0 keys data: URIs, groups item1." sh -c "
	grep -q '^KEY;TYPE=X509;ENCODING=b:MII' variant1.vcf && grep -q '^KEY:data:application/pkcs7-mime;base64,MII' variant2.vcf &&
	grep -q '^item1\.EMAIL;' variant11.vcf && grep -q '^KEY;x-pkcs7;ENCODING=BASE64:' variant8.vcf"

python3 -c "
import sys
sys.stdout.buffer.write(b'\xff\xfe' + open(sys.argv[1], 'rb').read().decode().encode('utf-16-le'))" variant1.vcf >utf16.vcf
check_exit 0 "a vCard file in UTF-16LE with a byte order mark" \
	sh -c "'$GALSMIME' gal import --source utf16 utf16.vcf >imp.out 2>&1"
check "... gives the same entries" same_entries utf16 expected.txt

# hand-made cards: what the writers above do not write
bob64=$(b64 bob)
carol64=$(b64 carol)
grace_pct=$(openssl x509 -in "$PKI/grace.crt" -outform DER | python3 -c "import sys; print(''.join('%%%02X' % b for b in sys.stdin.buffer.read()))")
{
	printf 'BEGIN:VCARD\r\nVERSION:2.1\r\n'
	printf 'N;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:M=FCller;J=FCrgen\r\n'
	printf 'FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:J=C3=BCrgen M=C3=BCller (Op=\r\nerations)\r\n'
	printf 'NOTE;ENCODING=QUOTED-PRINTABLE:first line=0D=0A=\r\nEMAIL:not-an-email-this-is-the-note@example.org=0D=0A=\r\nend\r\n'
	printf 'EMAIL;INTERNET:juergen@example.org\r\n'
	printf 'AGENT:\r\nBEGIN:VCARD\r\nVERSION:2.1\r\nFN:The Agent\r\nEMAIL;INTERNET:agent@example.org\r\nEND:VCARD\r\n'
	printf 'KEY;X509;ENCODING=BASE64:\r\n'
	echo "$bob64" | fold -w 64 | sed 's/$/\r/'
	printf '\r\nEND:VCARD\r\n'
	printf 'begin:vcard\nversion:3.0\nfn:Doe\\, Jane\nn:Doe\\;X;Jane;;;\nnickname:jd,janie\n'
	printf 'item1.email;type=internet:second@example.org\nitem2.EMAIL;TYPE=INTERNET;TYPE=pref:Jane@Example.ORG\n'
	printf 'KEY;TYPE=X509:%s\n' "$carol64"
	printf 'KEY;TYPE=PGP;ENCODING=b:bm90IGEgcGdwIGtleQ==\nEND:VCARD\n'
	printf 'BEGIN:VCARD\nVERSION:4.0\nFN:Pct \n\tEncoded\nEMAIL;PREF=2:two@example.org\nEMAIL;PREF=1:one@example.org\n'
	printf 'KEY:data:application/pkix-cert,%s\n' "$grace_pct"
	printf 'KEY;MEDIATYPE=application/pkix-cert:https://keys.example.org/pct.cer\n'
	printf 'KEY:file:///etc/passwd\nKEY;ENCODING=b:bm90IERFUg==\nEND:VCARD\n'
	printf 'BEGIN:VCARD\nVERSION:3.0\nFN;CHARSET=Windows-1252:Caf\351 \200\nEMAIL;PREF=4294967297:big@example.org\n'
	printf 'EMAIL:small@example.org\nKEY;ENCODING=b:%s\nEND:VCARD\n' "$bob64"
} >hand.vcf
check_exit 0 "hand-made cards import" sh -c "'$GALSMIME' gal import --source hand.vcf hand.vcf >imp.out 2>&1"
cat >hand.expected <<EOF
|vcard|Jürgen Müller|Jürgen Müller (Operations)|juergen@example.org|userCertificate=$(fp16 bob)
jd|vcard|Jane Doe;X|Doe, Jane|jane@example.org second@example.org|userCertificate=$(fp16 carol)
|vcard||Pct Encoded|one@example.org two@example.org|userCertificate=$(fp16 grace)
|vcard||Café €|big@example.org small@example.org|userCertificate=$(fp16 bob)
EOF
check "... QP with CHARSET and soft breaks, escapes, groups, tab folding, PREF order (PREF=2^32+1 still a PREF), AGENT skipped, Windows-1252" \
	same_entries hand.vcf hand.expected
gs gal explain juergen@example.org >explain.out 2>&1
check "... 2.1 base64 without indentation gives bob's certificate" contains explain.out "$(fp bob)"
gs gal explain jane@example.org >explain.out 2>&1
check "... KEY;TYPE=X509 without ENCODING gives carol's" contains explain.out "$(fp carol)"
gs gal explain one@example.org >explain.out 2>&1
check "... a %-encoded data: URI gives grace's" contains explain.out "$(fp grace)"
check "... a PKCS7-less PGP key, https: and file: URIs and a non-DER untyped key are ignored" \
	test "$(grep -c '^  *from ' explain.out)" = 1
gs gal explain small@example.org >explain.out 2>&1
check "... an untyped DER key is a certificate (bob's)" contains explain.out "$(fp bob)"

# ---- hostile files ----
gs gal import --source corp corp.vcf >/dev/null 2>&1
store_state >before.txt 2>&1
# begin_of FILE NAME: the line of BEGIN:VCARD of the card with FN:NAME
begin_of() { awk -v fn="FN:$2" '/^BEGIN:VCARD/ { b = NR } index($0, fn) == 1 { print b; exit }' "$1"; }
bob=$(begin_of corp.vcf 'Bob Example')
carol=$(begin_of corp.vcf 'Carol Example')
last=$(begin_of corp.vcf 'Nora NoCert')

edit corp.vcf cut.vcf "s = s[:s.rindex('NICKNAME:nora')]"
bad "file cut inside the last card" cut.vcf "cut\\.vcf:$last: no END:VCARD: the file ends inside the card \\(truncated\\?\\)"
edit corp.vcf cut2.vcf "s = s[:s.index('    ', s.index('KEY;X509', s.index('FN:Bob'))) + 50]"
bad "file cut inside a KEY" cut2.vcf "cut2\\.vcf:$bob: no END:VCARD: the file ends inside the card \\(truncated\\?\\)"
edit corp.vcf b64.vcf "
i = s.index('    MII', s.index('FN:Bob')) + 20
s = s[:i] + '!' + s[i + 1:]"
bad "bad base64 in a KEY" b64.vcf "b64\\.vcf:$bob: line [0-9]+: KEY: bad base64"
tlv=$(python3 -c "import base64, struct; print(base64.b64encode(struct.pack('<HHI', 1, 8, 1) + struct.pack('<HH', 3, 0x1000) + b'0' * 12).decode())")
der=$(python3 -c "import base64; print(base64.b64encode(bytes([0x30, 0x84, 0x80, 0, 0, 0]) + b'x' * 16).decode())")
edit corp.vcf tlv.vcf "s = s.replace('NICKNAME:carol\r\n', 'NICKNAME:carol\r\nKEY;PKCS7;ENCODING=BASE64:$tlv\r\n', 1)"
bad "a TLV blob whose length runs past the value" tlv.vcf "tlv\\.vcf:$carol: userSMIMECertificate value 1: "
edit corp.vcf der.vcf "s = s.replace('NICKNAME:bob\r\n', 'NICKNAME:bob\r\nKEY;X509;ENCODING=BASE64:$der\r\n', 1)"
bad "a DER certificate claiming 2^31 bytes" der.vcf "der\\.vcf:$bob: userCertificate value 1: "
: >empty.vcf
bad "an empty file" empty.vcf "empty\\.vcf: empty file"
bad "an empty file, --format vcard" empty.vcf "empty\\.vcf: no vCard in the file" --format vcard
python3 -c "import random, sys; r = random.Random(7); sys.stdout.buffer.write(bytes(r.randrange(256) for _ in range(4096)))" >garbage.vcf
bad "binary garbage, format detection" garbage.vcf "garbage\\.vcf: "
bad "binary garbage, --format vcard" garbage.vcf "garbage\\.vcf:[0-9]+: not a vCard \\(BEGIN:VCARD expected\\)" --format vcard
edit corp.vcf junk.vcf "s = s.replace('BEGIN:VCARD', 'oops\r\nBEGIN:VCARD', 2).replace('oops\r\n', '', 1)"
bad "text between cards" junk.vcf "junk\\.vcf:$bob: not a vCard \\(BEGIN:VCARD expected\\): oops"
edit corp.vcf charset.vcf "s = s.replace('FN:Bob Example', 'FN;CHARSET=X-NOPE:Bob Example', 1)"
bad "an unknown CHARSET" charset.vcf "charset\\.vcf:$bob: line [0-9]+: unknown character set CHARSET=X-NOPE"
edit corp.vcf charset2.vcf "s = s.replace('FN:Bob Example', 'FN;CHARSET=../../etc/x:Bob Example', 1)"
bad "a CHARSET that is no name" charset2.vcf "charset2\\.vcf:$bob: line [0-9]+: CHARSET=\\.\\./\\.\\./etc/x: not a character set name"
edit corp.vcf ascii.vcf "s = s.encode().replace(b'FN:Bob Example', b'FN;CHARSET=US-ASCII:Bob \xe9', 1)"
bad "text not valid in its CHARSET" ascii.vcf "ascii\\.vcf:$bob: line [0-9]+: text not valid in its CHARSET=US-ASCII"
edit corp.vcf latin.vcf "s = s.encode().replace(b'FN:Bob Example', b'FN:Bob \xe9', 1)"
bad "text that is not UTF-8, no CHARSET" latin.vcf "latin\\.vcf:$bob: line [0-9]+: FN: text is not UTF-8"
edit corp.vcf nul.vcf "s = s.replace('FN:Bob Example', 'FN:Bob\0Example', 1)"
bad "a NUL byte" nul.vcf "nul\\.vcf:$bob: line [0-9]+: NUL byte in the text"
edit corp.vcf nulqp.vcf "s = s.replace('EMAIL;PREF;INTERNET:bob@example.org', 'EMAIL;ENCODING=QUOTED-PRINTABLE:bob@example.org=00.evil.example', 1)"
bad "=00 in a quoted-printable EMAIL (would cut the address short)" nulqp.vcf \
	"nulqp\\.vcf:$bob: line [0-9]+: EMAIL: NUL byte in a text value"
edit corp.vcf noend.vcf "s = s.replace('END:VCARD\r\nBEGIN:VCARD\r\nVERSION:2.1\r\nN:Example;Carol', 'BEGIN:VCARD\r\nVERSION:2.1\r\nN:Example;Carol', 1)"
bad "a card without END:VCARD before the next" noend.vcf "noend\\.vcf:$bob: line [0-9]+: BEGIN:VCARD before the card's END:VCARD"
edit corp.vcf nocolon.vcf "s = s.replace('NICKNAME:bob', 'NICKNAME bob', 1)"
bad "a property without ':'" nocolon.vcf "nocolon\\.vcf:$bob: line [0-9]+: not a property \\(no ':'\\): NICKNAME bob"
edit corp.vcf cont.vcf "s = s.replace('BEGIN:VCARD\r\nVERSION:2.1\r\nN:Example;Bob', 'BEGIN:VCARD\r\n dangling\r\nVERSION:2.1\r\nN:Example;Bob', 1)"
bad "a continuation line with nothing before it" cont.vcf "cont\\.vcf:$bob: line [0-9]+: a continuation line with nothing to continue"
edit corp.vcf data.vcf "s = s.replace('NICKNAME:bob', 'NICKNAME:bob\r\nKEY:data:application/pkix-cert;base64', 1)"
bad "a data: URI without ','" data.vcf "data\\.vcf:$bob: line [0-9]+: KEY: data: URI without ','"
edit corp.vcf pct.vcf "s = s.replace('NICKNAME:bob', 'NICKNAME:bob\r\nKEY:data:application/pkix-cert,%30%8', 1)"
bad "a bad %-escape in a data: URI" pct.vcf "pct\\.vcf:$bob: line [0-9]+: KEY: bad %-escape in a data: URI"
edit corp.vcf agent.vcf "s = s.replace('NICKNAME:bob', 'NICKNAME:bob' + '\r\nAGENT:\r\nBEGIN:VCARD' * 6 + '\r\nEND:VCARD' * 6, 1)"
bad "AGENT vCards nested 6 deep" agent.vcf "agent\\.vcf:$bob: line [0-9]+: vCards nested deeper than 4"
python3 -c "
import sys
o = sys.stdout
o.write('BEGIN:VCARD\nVERSION:3.0\nFN:Big\nEMAIL:big@example.org\nNOTE:x\n')
line = ' ' + 'x' * 1023 + '\n'
for i in range(65 * 1024):
    o.write(line)
o.write('END:VCARD\n')" >bigcard.vcf
bad "a card longer than 64 MB" bigcard.vcf "bigcard\\.vcf:1: line [0-9]+: card longer than 67108864 bytes"
python3 -c "
import sys
o = sys.stdout
o.write('BEGIN:VCARD\nVERSION:3.0\nFN:Big\nNOTE:')
o.write('x' * (65 << 20))
o.write('\nEND:VCARD\n')" >bigline.vcf
bad "a line longer than 64 MB" bigline.vcf "bigline\\.vcf:1: line 4: line longer than 67108864 bytes"
rm -f bigcard.vcf bigline.vcf

# ---- --skip-bad: skip, count, say why, import the rest ----
edit corp.vcf skip.vcf "
i = s.index('    MII', s.index('FN:Bob')) + 20
s = s[:i] + '!' + s[i + 1:]
s = s.replace('FN:Carol Example', 'FN;CHARSET=X-NOPE:Carol Example', 1)
s = s.replace('END:VCARD\r\nBEGIN:VCARD\r\nVERSION:2.1\r\nN:Example;Frank', 'BEGIN:VCARD\r\nVERSION:2.1\r\nN:Example;Frank', 1)
s = s.replace('BEGIN:VCARD\r\nVERSION:2.1\r\nN:Example;Henry', 'some junk\r\nmore junk\r\nBEGIN:VCARD\r\nVERSION:2.1\r\nN:Example;Henry', 1)"
check_exit 0 "--skip-bad: the import goes on" \
	sh -c "'$GALSMIME' gal import --source corp --skip-bad skip.vcf >skip.out 2>skip.err"
check "--skip-bad: 9 entries imported, 4 skipped" \
	contains skip.out '^corp \(snapshot\): 9 entries \(12 replaced\), .* 4 skipped$'
check "--skip-bad: each one said where and why" sh -c "
	grep -q '^galsmime gal: skip.vcf:$bob: line [0-9]*: KEY: bad base64 (skipped)$' skip.err &&
	grep -q '^galsmime gal: skip.vcf:$carol: line [0-9]*: unknown character set CHARSET=X-NOPE (skipped)$' skip.err &&
	grep -q 'BEGIN:VCARD before the card.s END:VCARD (skipped)$' skip.err &&
	grep -q 'not a vCard (BEGIN:VCARD expected): some junk (skipped)$' skip.err &&
	test \$(wc -l <skip.err) = 4"
check "--skip-bad: the others are in (Frank after Erin's unended card too), the bad ones are not" \
	same_entries corp "$(without expected.txt bob carol erin)"
"$GALSMIME" encrypt --no-self --to henry@example.org <m.eml >skip.p7m 2>/dev/null
check "--skip-bad: henry, after the junk, still resolves and decrypts" can_read henry skip.p7m

# ---- memory: grows with the largest card, not the file ----
if [ "${SANITIZE:-}" = 1 ]; then
	skip "bounded memory" "AddressSanitizer's shadow memory and quarantine"
elif [ ! -x /usr/bin/time ]; then
	skip "bounded memory" "no /usr/bin/time"
else
	galfix_many vcard big.vcf '--repeat 3600'
	size=$(stat -c %s big.vcf)
	check "the big file is about 100 MB" test "$size" -gt 95000000
	start=$(date +%s)
	/usr/bin/time -f '%M' -o rss.out "$GALSMIME" gal import --source big big.vcf >big.out 2>&1
	end=$(date +%s)
	check "the big file imports: 43200 entries" contains big.out '^big \(snapshot\): 43200 entries'
	rss=$(tail -1 rss.out)
	check "peak RSS ${rss} KB stays under 60 MB for a $((size / 1000000)) MB file" test "$rss" -lt 61440
	# about 5 s here; the bound only catches something quadratic
	check "in reasonable time ($((end - start)) s)" test $((end - start)) -lt 60
	rm -f big.vcf
fi
