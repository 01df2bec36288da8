#!/bin/sh
# What reaches a person's terminal is text, never a command to the
# terminal: a certificate whose common name holds CR, an erase-line and a
# concealment escape and BEL cannot make galsmime's report read "good
# signature from Chief Executive" for a bad one; GAL names and addresses
# with control characters are refused at import; listings, explain and
# every error line escape what they print.
. "$TESTS_TOP/tests/lib.sh"

store_setup
# no control byte: ESC, CR, BEL, other C0 bytes but tab and LF, DEL, and
# the C1 controls in UTF-8 (0xC2 0x80-0x9F)
clean() {
	LC_ALL=C grep -q "$(printf '[\001-\010\013-\037\177]')" "$1" && return 1
	! od -An -tx1 -v "$1" | tr -s ' \n' ' ' | grep -Eq 'c2 (8[0-9a-f]|9[0-9a-f])'
}
printf 'a\033[2Kb\n' >esc.txt
check "control: clean() refuses an ESC" not clean esc.txt
printf 'caf\303\251 \302\233 x\n' >c1.txt
check "control: clean() refuses a C1 CSI" not clean c1.txt

# ---- a certificate that writes on the terminal ----
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out evil.key 2>/dev/null
CN=$(printf 'Mallory\r\033[2K\033[8mX\007Chief Executive')
openssl req -new -x509 -key evil.key -utf8 -days 3650 -subj "/CN=$CN/emailAddress=ceo@example.org" \
	-addext "subjectAltName=email:ceo@example.org" -addext "keyUsage=digitalSignature,keyEncipherment" \
	-addext "extendedKeyUsage=emailProtection" -out evil.crt 2>/dev/null
check "control: the certificate's CN holds ESC, CR and BEL" \
	sh -c "openssl x509 -in evil.crt -noout -subject | grep -q 'Mallory.0D.1B'"
msg ceo@example.org bob@example.org "board" >plain.eml
openssl smime -sign -in plain.eml -signer evil.crt -inkey evil.key >signed.part 2>/dev/null
{ sed -n '1,/^Subject:/p' plain.eml; cat signed.part; } >evil.eml
gs verify <evil.eml >/dev/null 2>v.err; rc=$?
check "the self-signed signature is not good (exit 1)" test "$rc" = 1
check "stderr holds no control character" clean v.err
check "... and names the signer with the escapes shown" contains v.err 'Mallory\\x0d\\x1b\[2K\\x1b\[8mX\\x07Chief Executive'
check "... as BAD" contains v.err 'BAD signature from Mallory'
gs verify --json <evil.eml >v.json 2>/dev/null
check "the JSON report escapes it too" clean v.json
gs cert import evil.crt >/dev/null
gs cert list >list.out 2>&1
check "cert list escapes the subject" clean list.out
gs gal explain ceo@example.org >explain.out 2>&1
check "gal explain escapes the subject" clean explain.out

# ---- the directory ----
cat >gal.py <<'PY'
import json, sys
field, value = sys.argv[2], sys.argv[3].encode().decode('unicode_escape')
e = {'Name': 'Carol', 'Alias': 'carol', 'DisplayName': 'Carol Example', 'RecipientType': 'MailContact',
     'PrimarySmtpAddress': 'carol@example.org', 'EmailAddresses': ['SMTP:carol@example.org']}
if field == 'address':
    e['EmailAddresses'].append('smtp:' + value)
else:
    e[field] = value
json.dump([e], open(sys.argv[1], 'w'))
PY
for c in 'DisplayName|Chief Executive\r\x1b[2K' 'Name|Bell\x07' 'Alias|al\x1b[8mias' \
	'address|ceo\x1b[8m@example.org' 'DisplayName|C1 \xc2\x9b2K'; do
	field=${c%%|*} value=${c#*|}
	python3 gal.py bad.json "$field" "$value"
	gs gal import bad.json --source bad >imp.out 2>imp.err; rc=$?
	check "gal import: a control character in $field is refused (exit 65)" test "$rc" = 65
	check "... saying where and why, escaped" \
		sh -c "grep -q 'bad.json:1: a control character in' imp.err && ! LC_ALL=C grep -q \"\$(printf '\\033')\" imp.err"
	check_exit 0 "... --skip-bad skips the record" gs gal import --skip-bad bad.json --source bad
done
check "... and nothing from those records is listed" sh -c "! '$GALSMIME' gal list --source bad | grep -q ."

# ---- error lines ----
printf 'From: x\r\033[2K@example.org\nTo: bob@example.org\nSubject: s\n\nx\n' >odd.eml
gs encrypt --to "$(printf 'eve\033[8m@example.org')" <odd.eml >/dev/null 2>enc.err
check "encrypt's failure lines escape the recipient" clean enc.err
check "... and still name it" contains enc.err 'eve\\x1b\[8m@example.org'
