#!/bin/sh
# galsmime gal import of LDIF (RFC 2849) as ldifde and ldapsearch export
# Active Directory: the test directory round trip to encryption checked
# with openssl cms, in every variant the exporters write (CRLF, UTF-16
# with a BOM, folding, ;binary, comments, version:, base64 text, names
# from the dn); hostile files (exit 65 naming file:line, the store
# unchanged; include: and attr:< URLs refused, never read); --skip-bad;
# memory on a 100 MB file.
. "$TESTS_TOP/tests/gal/lib.sh"

expected_entries ad >expected.txt

check "store setup: trust the root, alice's identity" store_setup
VARIANTS="--crlf|--utf16|--utf16 --crlf|--fold 0|--fold 12|--binary-option|--comments|--version|--b64-text|--no-cn|--crlf --utf16 --fold 30 --binary-option --comments --version --b64-text --no-cn"
set --
n=0
IFS='|'
for opts in $VARIANTS; do n=$((n + 1)); set -- "$@" variant$n.ldif "$opts"; done
unset IFS
check "make the LDIF fixtures from the test PKI" \
	galfix_many ldif gal.ldif '' corp.ldif '' u.ldif --utf16 comments.ldif --comments "$@"
check "the fixture is LDIF with base64 certificates" contains gal.ldif '^userSMIMECertificate:: MII'

# ---- round trip ----
check_exit 0 "gal import gal.ldif, format detected" sh -c "'$GALSMIME' gal import --source gal.ldif gal.ldif >imp.out 2>&1"
check "12 entries, 13 addresses, nothing skipped" \
	contains imp.out '^gal\.ldif \(snapshot\): 12 entries \(0 replaced\), 13 addresses, .* 0 skipped$'
check "entries: kind from objectClass, cn, mailNickname, displayName, mail + proxyAddresses (SIP/X500 dropped), both attributes" \
	same_entries gal.ldif expected.txt

gs gal lookup carol >lookup.out 2>&1
if grep -q 'no such column: rowid' lookup.out; then
	skip "gal lookup carol shows her entry and the certificate it encrypts to" \
		"gal lookup fails in store-gal.c (ORDER BY rowid on a WITHOUT ROWID table)"
else
	check "gal lookup carol shows her entry and the certificate it encrypts to" \
		sh -c "grep -q 'Carol Example.*carol@example.org' lookup.out && grep -q '^encrypts to $(fp carol) ' lookup.out"
fi

gs gal explain alice@example.org >explain.out 2>&1
check "explain alice: the chosen one comes from userSMIMECertificate (CMS signed-data)" \
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
check "... which the Grace_SMIME contact brings (the plain Grace contact has none)" \
	sh -c "grep -A5 '$(fp grace)' explain.out | grep -q 'entry Grace_SMIME, attribute userCertificate'"
gs gal explain ivan@example.org >explain.out 2>&1
check "explain ivan: the directory vouches for a certificate with another address" \
	contains explain.out 'not the recipient.s address: only the directory binds it'
gs gal explain dave@example.org >explain.out 2>&1
check "dave: expired" contains explain.out '^cannot encrypt to dave@example\.org: .*expired'
gs gal explain erin@example.org >explain.out 2>&1
check "erin: signing only" contains explain.out '^cannot encrypt to erin@example\.org: .*without keyEncipherment'
gs gal explain frank@example.org >explain.out 2>&1
check "frank: no emailProtection" contains explain.out '^cannot encrypt to frank@example\.org: .*without emailProtection'
gs gal explain mallory@example.org >explain.out 2>&1
check "mallory: untrusted" contains explain.out '^cannot encrypt to mallory@example\.org: .*does not reach a trust anchor'
check_exit 1 "explain dave exits 1" gs gal explain dave@example.org

enc_directory ldif
check "henry2's key does not open it: the older userSMIMECertificate won" cannot_read henry2 henry.p7m
check "bob's key does not open what went to carol" cannot_read bob carol.p7m
check_exit 67 "encrypt to nora (no certificate) exits 67" \
	sh -c "'$GALSMIME' encrypt --no-self --to nora@example.org <m.eml >nora.p7m 2>nora.err"
check "... naming nora" contains nora.err 'nora@example\.org'
check "... and writing nothing" test ! -s nora.p7m

# ---- what ldifde and ldapsearch write ----
check "--utf16 writes UTF-16LE with a byte order mark (what the variant tests rely on)" \
	test "$(od -An -tx1 -N4 u.ldif | tr -d ' ')" = fffe6400
n=0
IFS='|'
for opts in $VARIANTS; do
	unset IFS
	n=$((n + 1))
	f=variant$n.ldif
	fmt=
	case $opts in *--comments*) fmt="--format ldif";; esac # see the detection test below
	# shellcheck disable=SC2086
	check_exit 0 "[$opts] import exits 0" sh -c "'$GALSMIME' gal import --source variant $fmt $f >imp.out 2>&1"
	check "[$opts] 12 entries, the previous snapshot replaced" \
		contains imp.out "^variant \\(snapshot\\): 12 entries \\($([ $n = 1 ] && echo 0 || echo 12) replaced\\), 13 addresses, .* 0 skipped$"
	check "[$opts] the same entries" same_entries variant expected.txt
	for u in alice carol; do
		"$GALSMIME" encrypt --no-self --to $u@example.org <m.eml >v.p7m 2>/dev/null
		check "[$opts] $u decrypts what was encrypted to her" can_read $u v.p7m
	done
	"$GALSMIME" encrypt --no-self --to Grace_SMIME <m.eml >v.p7m 2>/dev/null
	check "[$opts] grace decrypts what was encrypted to Grace_SMIME" can_read grace v.p7m
done

# ldapsearch's header comments are followed by an empty line; format
# detection should look past it
gs gal import --source detect comments.ldif >detect.out 2>&1
if grep -q 'cannot tell the format' detect.out; then
	skip "ldapsearch output (header comments, an empty line) is detected as LDIF" \
		"gs_import_detect stops at the empty line (fix proposed in lib/import/import.c)"
else
	check "ldapsearch output (header comments, an empty line) is detected as LDIF" \
		contains detect.out '^detect \(snapshot\): 12 entries'
fi

# ldapsearch's search references and the result trailer are not entries
{
	cat gal.ldif
	printf '# search reference\nref: ldap://DomainDnsZones.example.org/DC=DomainDnsZones,DC=example,DC=org\n\n'
	printf '# search result\nsearch: 2\nresult: 0 Success\n\n# numResponses: 14\n# numEntries: 12\n'
} >trailer.ldif
check_exit 0 "search references and 'result: 0 Success' are accepted" \
	sh -c "'$GALSMIME' gal import --source trailer trailer.ldif >imp.out 2>&1"
check "... and are no entries" same_entries trailer expected.txt

# changetype: add is an entry; an entry without mail or certificate (an
# OU, a group) is nobody to encrypt to
cat >misc.ldif <<'EOF'
version: 1

dn: OU=Users,DC=example,DC=org
objectClass: top
objectClass: organizationalUnit
ou: Users

dn: cn=Zed Added,OU=Users,DC=example,DC=org
changetype: add
objectClass: inetOrgPerson
objectClass: person
objectClass: user
displayName:: WsOpZCBBZGTDqWQ=
mail: ZED@Example.ORG

dn: CN=Quinn\, Escaped+UID=q1,OU=Users,DC=example,DC=org
objectClass: contact
targetAddress: SMTP:quinn@example.net
proxyAddresses: smtp:quinn.alias@example.org
EOF
# attribute names and options in any case
printf 'USERSMIMECERTIFICATE;Binary:: %s\n' "$(openssl x509 -in "$PKI/bob.crt" -outform DER | base64 -w0)" >>misc.ldif
check_exit 0 "version:, an OU, changetype: add, escaped dn, targetAddress" \
	sh -c "'$GALSMIME' gal import --source misc.ldif misc.ldif >imp.out 2>&1"
cat >misc.expected <<EOF
|inetOrgPerson|Zed Added|Zéd Addéd|zed@example.org|
|contact|Quinn, Escaped||quinn@example.net quinn.alias@example.org|userSMIMECertificate=$(fp16 bob)
EOF
check "... inetOrgPerson wins, the name from the dn, UTF-8 from base64, addresses lower-cased, USERSMIMECERTIFICATE;Binary" \
	same_entries misc.ldif misc.expected

# ---- hostile files ----
gs gal import --source corp corp.ldif >/dev/null 2>&1
store_state >before.txt 2>&1
# line_of FILE PATTERN: the number of the first line matching
line_of() { grep -n -m1 -- "$2" "$1" | cut -d: -f1; }

bob=$(line_of corp.ldif '^dn: CN=Bob')
edit corp.ldif cut.ldif "s = s[:s.index('userCertificate:: ', s.index('CN=Bob')) + 40]"
bad "file cut inside a line" cut.ldif "cut\\.ldif:$bob: line [0-9]+: the file ends inside a line \\(truncated\\?\\)"
edit corp.ldif cut2.ldif "
i = s.index('userCertificate:: ', s.index('CN=Bob'))
s = s[:s.index('\n', i) + 1]"
bad "file cut after the first line of a folded value" cut2.ldif \
	"cut2\\.ldif:$bob: line [0-9]+: userCertificate: bad base64 value"
edit corp.ldif cut3.ldif "
i = s.index('userCertificate:: ', s.index('CN=Bob'))
for k in range(3):
    i = s.index('\n', i) + 1
s = s[:i]"
bad "a certificate cut short at a line end (DER past the end)" cut3.ldif \
	"cut3\\.ldif:$bob: userCertificate value 1: "
edit corp.ldif b64.ldif "
i = s.index('userCertificate:: ', s.index('CN=Bob')) + 30
s = s[:i] + '!' + s[i + 1:]"
bad "bad base64" b64.ldif "b64\\.ldif:$bob: line [0-9]+: userCertificate: bad base64 value"
edit corp.ldif b64b.ldif "
i = s.index('userCertificate:: ', s.index('CN=Bob')) + 18
s = s[:i] + '=' + s[i + 1:]"
bad "base64 with '=' inside (libldap would decode garbage)" b64b.ldif \
	"b64b\\.ldif:$bob: line [0-9]+: userCertificate: bad base64 value"
# TLV: a setting claiming more bytes than the value has; DER: a length of 2^31
tlv=$(python3 -c "import base64, struct; print(base64.b64encode(struct.pack('<HHI', 1, 8, 1) + struct.pack('<HH', 3, 0x1000) + b'0' * 12).decode())")
der=$(python3 -c "import base64; print(base64.b64encode(bytes([0x30, 0x84, 0x80, 0, 0, 0]) + b'x' * 16).decode())")
carol=$(line_of corp.ldif '^dn: CN=Carol')
edit corp.ldif tlv.ldif "
i = s.index('userSMIMECertificate:: ', s.index('CN=Carol'))
j = s.index('\n', i)
while s[j + 1] == ' ':
    j = s.index('\n', j + 1)
s = s[:i] + 'userSMIMECertificate:: $tlv' + s[j:]"
bad "a TLV blob whose length runs past the value" tlv.ldif "tlv\\.ldif:$carol: userSMIMECertificate value 1: "
edit corp.ldif der.ldif "s = s.replace('dn: CN=Bob', 'dn: CN=Bob', 1).replace('mailNickname: bob\n', 'mailNickname: bob\nuserCertificate:: $der\n', 1)"
bad "a DER certificate claiming 2^31 bytes" der.ldif "der\\.ldif:$bob: userCertificate value 1: "
: >empty.ldif
bad "an empty file" empty.ldif "empty\\.ldif: empty file"
bad "an empty file, --format ldif" empty.ldif "empty\\.ldif: no LDIF entry in the file" --format ldif
printf '# only comments\n#\n\n' >comments-only.ldif
bad "only comments" comments-only.ldif "comments-only\\.ldif: no LDIF entry in the file" --format ldif
python3 -c "import random, sys; r = random.Random(7); sys.stdout.buffer.write(bytes(r.randrange(256) for _ in range(4096)))" >garbage.ldif
bad "binary garbage, format detection" garbage.ldif "garbage\\.ldif: "
bad "binary garbage, --format ldif" garbage.ldif "garbage\\.ldif:[0-9]+: " --format ldif
printf '\377\376d\000n\000:\000 \000x\000\n\000m' >bad16.ldif
bad "UTF-16 with an odd byte at the end" bad16.ldif "bad16\\.ldif: invalid UTF-16 text" --format ldif

echo 'GALSMIME-SECRET@example.org' >secret.txt
secret="file://$T_DIR/secret.txt"
edit corp.ldif url.ldif "s = s.replace('displayName: Bob Example\n', 'displayName:< $secret\n', 1)"
bad "displayName:< file:// URL" url.ldif "url\\.ldif:$bob: line [0-9]+: displayName:< names a file or URL: refused"
edit corp.ldif passwd.ldif "s = s.replace('mailNickname: bob\n', 'jpegPhoto:< file:///etc/passwd\n', 1)"
bad "jpegPhoto:< file:///etc/passwd" passwd.ldif "passwd\\.ldif:$bob: line [0-9]+: jpegPhoto:< names a file or URL: refused"
check "... and nothing of /etc/passwd shows" lacks bad.err 'root:'
printf 'dn: CN=Secret,DC=example,DC=org\nmail: secret@example.org\nuserCertificate:: %s\n\n' \
	"$(openssl x509 -in "$PKI/bob.crt" -outform DER | base64 -w0)" >include-me.ldif
{ printf 'include: file://%s/include-me.ldif\n\n' "$T_DIR"; cat corp.ldif; } >include.ldif
bad "include: file://" include.ldif "include\\.ldif:1: include: lines are refused" --format ldif
edit corp.ldif nul.ldif "s = s.replace('displayName: Bob Example', 'displayName: Bob\0Example', 1)"
bad "a NUL byte" nul.ldif "nul\\.ldif:$bob: line [0-9]+: NUL byte in the text"
edit corp.ldif nul64.ldif "s = s.replace('mail: bob@example.org', 'mail:: ' + base64.b64encode(b'bob@example.org\0.evil.example').decode(), 1)"
bad "mail:: with a NUL byte inside (would cut the address short)" nul64.ldif \
	"nul64\\.ldif:$bob: line [0-9]+: mail: NUL byte in a text value"
edit corp.ldif cr.ldif "s = s.replace('displayName: Bob Example', 'displayName: Bob\rExample', 1)"
bad "a carriage return inside a line" cr.ldif "cr\\.ldif:$bob: line [0-9]+: carriage return inside a line"
edit corp.ldif modify.ldif "s = s.replace('dn: CN=Bob Example,OU=Users,DC=example,DC=org\n', 'dn: CN=Bob Example,OU=Users,DC=example,DC=org\nchangetype: modify\nreplace: mail\nmail: evil@example.org\n-\n', 1)"
bad "a change record (changetype: modify)" modify.ldif \
	"modify\\.ldif:$bob: line [0-9]+: change record \\(changetype: modify\\), not a directory entry"
edit corp.ldif twodn.ldif "s = s.replace('\n\ndn: CN=Carol', '\ndn: CN=Carol', 1)"
bad "two entries without the empty line between" twodn.ldif \
	"twodn\\.ldif:$bob: line $((carol - 1)): a second dn: in one record"
edit corp.ldif nodn.ldif "s = s.replace('dn: CN=Bob Example,OU=Users,DC=example,DC=org\n', '', 1)"
bad "a record without dn:" nodn.ldif "nodn\\.ldif:$bob: a record starts with dn:, not objectClass:"
edit corp.ldif nocolon.ldif "s = s.replace('mailNickname: bob\n', 'mailNickname bob\n', 1)"
bad "a line without ':'" nocolon.ldif "nocolon\\.ldif:$bob: line [0-9]+: not an attribute line"
edit corp.ldif version.ldif "s = 'version: 2\n\n' + s"
bad "version: 2" version.ldif "version\\.ldif:1: unsupported LDIF version 2"
{ cat corp.ldif; printf '# search result\nsearch: 2\nresult: 4 Size limit exceeded\n\n'; } >sizelimit.ldif
bad "ldapsearch's 'result: 4 Size limit exceeded' (an incomplete export)" sizelimit.ldif \
	"sizelimit\\.ldif:[0-9]+: line [0-9]+: the search ended with result 4 Size limit exceeded"
python3 -c "
import sys
o = sys.stdout
o.write('dn: CN=Big,DC=example,DC=org\nmail: big@example.org\ndescription: x\n')
line = ' ' + 'x' * 1023 + '\n'
for i in range(65 * 1024):
    o.write(line)
o.write('\n')" >bigrecord.ldif
bad "a record longer than 64 MB" bigrecord.ldif "bigrecord\\.ldif:1: line [0-9]+: record longer than 67108864 bytes"
python3 -c "
import sys
o = sys.stdout
o.write('dn: CN=Big,DC=example,DC=org\nmail: big@example.org\ndescription: ')
o.write('x' * (65 << 20))
o.write('\n\n')" >bigline.ldif
bad "a line longer than 64 MB" bigline.ldif "bigline\\.ldif:1: line 3: line longer than 67108864 bytes"
rm -f bigrecord.ldif bigline.ldif

# ---- --skip-bad: skip, count, say why, import the rest ----
edit corp.ldif skip.ldif "
i = s.index('userCertificate:: ', s.index('CN=Bob')) + 30
s = s[:i] + '!' + s[i + 1:]
s = s.replace('displayName: Carol Example\n', 'displayName:< $secret\n', 1)
s = s.replace('displayName: Dave Example', 'displayName: Dave\0Example', 1)
s = s.replace('dn: CN=Erin Example,OU=Users,DC=example,DC=org\n', 'dn: CN=Erin Example,OU=Users,DC=example,DC=org\nchangetype: delete\n', 1)
s = s.replace('\n\ndn: CN=Bob', '\n\ninclude: file://$T_DIR/include-me.ldif\n\ndn: CN=Bob', 1)"
check_exit 0 "--skip-bad: the import goes on" \
	sh -c "'$GALSMIME' gal import --source corp --skip-bad skip.ldif >skip.out 2>skip.err"
check "--skip-bad: 8 entries imported, 5 records skipped" \
	contains skip.out '^corp \(snapshot\): 8 entries \(12 replaced\), .* 5 skipped$'
check "--skip-bad: each one said where and why" sh -c "
	grep -q '^galsmime gal: skip.ldif:$bob: include: lines are refused.*(skipped)$' skip.err &&
	grep -q 'userCertificate: bad base64 value (skipped)$' skip.err &&
	grep -q 'displayName:< names a file or URL: refused.*(skipped)$' skip.err &&
	grep -q 'NUL byte in the text.*(skipped)$' skip.err &&
	grep -q 'change record (changetype: delete), not a directory entry (skipped)$' skip.err &&
	test \$(wc -l <skip.err) = 5"
check "--skip-bad: the others are in, the bad ones are not" \
	same_entries corp "$(without expected.txt bob carol dave erin)"
store_state >skip.state 2>&1
check "--skip-bad: nothing of the included file or the URL got in" \
	not grep -qi -e secret -e 'GALSMIME-SECRET' skip.state
"$GALSMIME" encrypt --no-self --to alice@example.org <m.eml >skip.p7m 2>/dev/null
check "--skip-bad: alice still resolves and decrypts" can_read alice skip.p7m

# ---- memory: grows with the largest record, not the file ----
if [ "${SANITIZE:-}" = 1 ]; then
	skip "bounded memory" "AddressSanitizer's shadow memory and quarantine"
elif [ ! -x /usr/bin/time ]; then
	skip "bounded memory" "no /usr/bin/time"
else
	galfix ldif big.ldif --repeat 3400
	size=$(stat -c %s big.ldif)
	check "the big file is about 100 MB" test "$size" -gt 95000000
	start=$(date +%s)
	/usr/bin/time -f '%M' -o rss.out "$GALSMIME" gal import --source big big.ldif >big.out 2>&1
	end=$(date +%s)
	check "the big file imports: 40800 entries" contains big.out '^big \(snapshot\): 40800 entries'
	rss=$(tail -1 rss.out)
	check "peak RSS ${rss} KB stays under 60 MB for a $((size / 1000000)) MB file" test "$rss" -lt 61440
	# about 5 s here; the bound only catches something quadratic
	check "in reasonable time ($((end - start)) s)" test $((end - start)) -lt 60
	rm -f big.ldif
fi
