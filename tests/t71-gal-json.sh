#!/bin/sh
# gal import of JSON: what scripts/Export-GalSmime.ps1 and ConvertTo-Json
# write (an array, -Compress or indented as PowerShell 7 and 5.1 do), a
# single object, JSON Lines; certificates as base64 or as arrays of byte
# integers; the entries land as exported and resolve (userSMIMECertificate
# first) and openssl decrypts what galsmime encrypts to them; hostile input
# gives 65, a line naming file:line and why, and leaves the store as it
# was; --skip-bad skips, counts and says why; memory stays bounded.
. "$TESTS_TOP/tests/gal/lib.sh"

# the "from" line of the candidate explain chooses
chosen_from() { gs gal explain "$1" 2>/dev/null | awk '/^\* /{c=1} c && /from /{print; exit}'; }
bare_msg >bare.eml

expected_entries exchange >expected.txt

# every small fixture in one run (galfix.py signs and converts with openssl)
galfix json gal.json --then var-lines.json --lines --then var-pretty.json --pretty \
	--then var-pretty5.json --pretty5 --then var-bytes.json --bytes \
	--then var-pretty5-bytes-wrap.json --pretty5 --bytes --wrap \
	--then var-lines-bytes-crlf.json --lines --bytes --crlf \
	--then var-pretty-crlf-bom.json --pretty --crlf --bom --then var-utf16-pretty5.json --utf16 --pretty5 \
	--then var-top-value-pretty5.json --top-value --pretty5 --then var-top-value.json --top-value \
	--then var-odata.json --odata \
	--then one.json --single bob --then pretty.json --pretty --then bad.json --pretty --badb64 carol \
	--then lost.json --lost bob --then lines.jsonl --lines --then lostone.json --single bob --lost bob

# ---- the round trip ----
check "store setup: trust the root, alice's identity" store_setup
gs gal import gal.json --source gal >imp.out 2>&1
check "import of the export script's JSON: 12 entries, nothing skipped" \
	contains imp.out '^gal \(snapshot\): 12 entries .* 0 skipped$'
check "the store holds every entry as exported" same_entries gal expected.txt

for c in "bob@example.org bob" "alice@example.org alice" "carol@example.org carol" \
	"grace@example.org grace" "Grace_SMIME grace" "bob bob" "alice.example@example.org alice" \
	"henry@example.org henry"; do
	set -- $c
	check "explain $1 chooses $2's certificate" test "$(chosen "$1")" = "$(fp "$2")"
done
check "explain 'Grace Example (S/MIME)' (a DisplayName) chooses grace's certificate" \
	test "$(chosen 'Grace Example (S/MIME)')" = "$(fp grace)"
check "explain 'Bob Example' (a Name) chooses bob's certificate" test "$(chosen 'Bob Example')" = "$(fp bob)"
gs gal explain bob@example.org >explain.out 2>&1
check "bob's is in his entry's userCertificate" contains explain.out 'from +source gal, entry Bob Example, attribute userCertificate$'
for u in alice carol henry; do
	check "$u's comes from userSMIMECertificate" \
		sh -c "'$GALSMIME' gal explain $u@example.org | awk '/^\* /{c=1} c && /from /{print; exit}' | grep -q 'entry .*attribute userSMIMECertificate'"
done
check "Grace_SMIME's comes from the Grace_SMIME entry" \
	sh -c "'$GALSMIME' gal explain Grace_SMIME | awk '/^\* /{c=1} c && /from /{print; exit}' | grep -q 'entry Grace_SMIME, attribute userCertificate'"
check "henry's chosen certificate is not henry2's (newer, but in userCertificate)" \
	test "$(chosen henry@example.org)" != "$(fp henry2)"
for c in "dave@example.org expired" "erin@example.org keyEncipherment" \
	"frank@example.org emailProtection" "mallory@example.org trust anchor" \
	"nora@example.org in the GAL as .Nora NoCert. \[gal\], with no certificate"; do
	q=${c%% *} why=${c#* }
	gs gal explain "$q" >explain.out 2>&1; rc=$?
	check "explain $q: exit 1, cannot encrypt: $why" \
		sh -c "[ $rc = 1 ] && grep -q '^cannot encrypt to $q: .*$why' explain.out"
done

for c in "bob@example.org bob" "alice@example.org alice" "carol@example.org carol" \
	"grace@example.org grace" "Grace_SMIME grace" "bob bob" "henry@example.org henry"; do
	set -- $c
	gs encrypt --no-self --to "$1" <bare.eml >enc.eml 2>enc.err
	check "encrypt --to $1: openssl decrypts it with $2's key" opens "$2" enc.eml
done
gs encrypt --no-self --to "Grace Example (S/MIME)" <bare.eml >enc.eml 2>enc.err
check "encrypt --to 'Grace Example (S/MIME)': grace decrypts it" opens grace enc.eml
gs encrypt --no-self --to "Bob Example" <bare.eml >enc.eml 2>enc.err
check "encrypt --to 'Bob Example': bob decrypts it" opens bob enc.eml
gs encrypt --no-self --to henry@example.org <bare.eml >enc.eml 2>enc.err
check "henry2's key does not open what went to henry" sh -c "! openssl cms -decrypt -recip '$PKI/henry2.crt' -inkey '$PKI/henry2.key' -in enc.eml >/dev/null 2>&1"
gs encrypt --to nora@example.org <bare.eml >enc.eml 2>enc.err; rc=$?
check "encrypt to nora (no certificate): exit 67, nora named, nothing written" \
	sh -c "[ $rc = 67 ] && grep -q 'nora@example.org' enc.err && [ ! -s enc.eml ]"
gs encrypt --to dave@example.org <bare.eml >enc.eml 2>enc.err; rc=$?
check "encrypt to dave (expired): exit 67" sh -c "[ $rc = 67 ] && grep -q 'dave@example.org.*expired' enc.err"

# gal lookup: the entries and the choice
gs gal lookup grace@example.org >lookup.out 2>&1
check "lookup grace@example.org: the plain Grace entry, without a certificate" \
	contains lookup.out '^Grace Example	Grace Example	grace	MailContact	grace@example.org	0 certificates	\[gal\]$'
check "lookup grace@example.org: the Grace_SMIME entry, with one" \
	contains lookup.out '^Grace Example \(S/MIME\)	Grace_SMIME	Grace_SMIME	MailContact	grace@example.org	1 certificate	\[gal\]$'
check "lookup grace@example.org encrypts to grace's certificate" \
	contains lookup.out "^encrypts to $(fp grace) "
gs gal lookup --json Grace_SMIME >lookup.json 2>&1
check "lookup --json Grace_SMIME: its entry and the chosen certificate" python3 -c "
import json, sys
d = json.load(open('lookup.json'))
e = d['entries']
ok = len(e) == 1 and e[0]['display_name'] == 'Grace Example (S/MIME)' and e[0]['certificates'] == 1 \
     and e[0]['addresses'] == ['grace@example.org'] and d['chosen']['fingerprint_sha256'] == sys.argv[1]
sys.exit(0 if ok else 1)" "$(fp grace)"
gs gal lookup alice.example@example.org >lookup.out 2>&1
check "lookup by alice's alias address: her entry, primary address first" \
	contains lookup.out '^Alice Example	Alice Example	alice	UserMailbox	alice@example.org,alice.example@example.org	2 certificates	\[gal\]$'

# ---- the variants ----
for v in lines pretty pretty5 bytes pretty5-bytes-wrap lines-bytes-crlf pretty-crlf-bom utf16-pretty5 \
	top-value-pretty5 top-value odata; do
	gs gal import var-$v.json --source gal >imp.out 2>&1
	check "variant $v: imported, detected as JSON" contains imp.out '12 entries \(12 replaced\).* 0 skipped'
	check "variant $v: the same entries" same_entries gal expected.txt
done
check "--format json given" gs gal import var-bytes.json --format json --source gal
check "--format json: the same entries" same_entries gal expected.txt
gs gal import one.json --source one >imp.out 2>&1
check "a single object: one entry" contains imp.out '^one \(snapshot\): 1 entries'
grep '^bob|' expected.txt >expected-one.txt
check "a single object: bob as exported" same_entries one expected-one.txt

# ---- a snapshot is its --source name, else the file's full path ----
mkdir t1 t2
cp gal.json t1/gal.json
cp one.json t2/gal.json
gs gal import t1/gal.json >t1.out 2>&1
gs gal import t2/gal.json >t2.out 2>&1
check "t1/gal.json: a snapshot named by its full path" contains t1.out "^$PWD/t1/gal\.json: 12 entries \(0 replaced\)"
check "t2/gal.json beside it replaces nothing of t1's" contains t2.out "^$PWD/t2/gal\.json: 1 entries \(0 replaced\)"
check "both snapshots are there, by full path" \
	sh -c "'$GALSMIME' gal stats | grep -q '^$PWD/t1/gal.json  *gal  *12 ' && '$GALSMIME' gal stats | grep -q '^$PWD/t2/gal.json  *gal  *1 '"
(cd t1 && "$GALSMIME" gal import ./gal.json >../t1b.out 2>&1)
check "the same file again (another spelling of its path) replaces its own snapshot" \
	contains t1b.out "^$PWD/t1/gal\.json: 12 entries \(12 replaced\)"

# a store from before full paths named the snapshot by the base name: the
# file's next import takes that snapshot over instead of leaving its
# entries (and certificates an admin may have withdrawn) beside the new
mkdir t3
cp one.json t3/legacy.json
gs gal import --source legacy.json gal.json >/dev/null 2>&1
gs gal import t3/legacy.json >t3.out 2>&1
check "an older galsmime's snapshot 'legacy.json' is replaced by t3/legacy.json's import" \
	sh -c "grep -q '^$PWD/t3/legacy\.json: 1 entries (12 replaced)' t3.out && grep -q \"replaces the one an older galsmime named 'legacy.json'\" t3.out"
check "... and is gone from gal stats" sh -c "! '$GALSMIME' gal stats | grep -q '^legacy.json '"

# ---- records with neither an address nor a certificate: counted ----
cat >sparse.json <<'EOF'
[{"Name":"nothing","RecipientTypeDetails":"UserMailbox"},
 {"DisplayName":"Has Mail","PrimarySmtpAddress":"has.mail@example.org"},
 {"Alias":"alsonothing"}]
EOF
gs gal import sparse.json --source sparse >sparse.out 2>&1
check "2 records without an address or a certificate are said to be left out" \
	contains sparse.out '^sparse \(snapshot\): 1 entries .*; 2 records with neither an address nor a certificate left out$'
check "... and are not in the store" sh -c "[ \$('$GALSMIME' gal list --source sparse | wc -l) = 1 ]"
python3 - <<'EOF'
import json
# ExternalEmailAddress as the object ConvertTo-Json makes of a ProxyAddress,
# properties in other cases and order, unknown properties nested deep
e = {'externalemailaddress': {'ProxyAddressString': 'SMTP:zed@example.net', 'Prefix': {'x': [[{}]]}},
     'RECIPIENTTYPE': 5, 'other': {'a': [1, {'b': [None, True, 1.5, {'c': 'd'}]}]},
     'NAME': 'Zed', 'alias': 'zed', 'emailaddresses': 'SMTP:zed@example.net smtp:z@example.net'}
open('zed.json', 'w').write(json.dumps(e))
EOF
gs gal import zed.json --source zed >imp.out 2>&1
echo "zed|5|Zed||zed@example.net z@example.net|" >expected-zed.txt
check "property names in any case, an address object, enums as numbers, unknown nesting skipped" \
	same_entries zed expected-zed.txt

# ---- hostile input: 65, one line naming the place and why, the store unchanged ----
gs gal import gal.json --source gal >/dev/null 2>&1
store_state >before.txt 2>&1
head -c 12345 pretty.json >trunc.json
hostile "truncated: the last line, premature EOF" trunc.json \
	"^galsmime gal: trunc\.json:$(wc -l <trunc.json | awk '{print $1 + 1}')( \(byte 12345\))?: invalid JSON: .*premature EOF"
hostile "truncated, --skip-bad: an array cannot be resumed, still 65" trunc.json "trunc\.json:[0-9]+( \(byte 12345\))?: invalid JSON" --skip-bad
line=$(grep -n '"Alias": "carol"' bad.json | cut -d: -f1)
hostile "bad base64: the line of carol's opening brace" bad.json \
	"^galsmime gal: bad\.json:$((line - 2)): UserSMIMECertificate value 1: not base64$"
# one line (-Compress): the place is also given as the brace's byte offset
off=$(python3 -c "print(open('lost.json').read().index('{\"Name\":\"Bob Example\"'))")
hostile "\"System.Byte[]\": the certificate bytes were lost by the export" lost.json \
	"^galsmime gal: lost\.json:1 \(byte $off\): "'UserCertificate value 1: certificate bytes lost by the export \(use scripts/Export-GalSmime\.ps1\)$'
: >empty.json
hostile "an empty file" empty.json "^galsmime gal: empty\.json: empty file"
hostile "an empty file, --format json" empty.json "^galsmime gal: empty\.json: no JSON value" --format json
printf ' \n\n  \n' >blank.json
hostile "only blanks, --format json" blank.json "^galsmime gal: blank\.json: no JSON value" --format json
python3 -c "
import random
random.seed(71)
open('garbage.bin', 'wb').write(bytes([0x8f]) + bytes(random.randrange(256) for _ in range(4096)))"
hostile "binary garbage, --format json" garbage.bin "^galsmime gal: garbage\.bin:1: invalid JSON" --format json
hostile "binary garbage, auto: not a format" garbage.bin "^galsmime gal: garbage\.bin: cannot tell the format"
printf '[{"Name":"x","UserCertificate":[[48,130,2147483648,1]]}]' >count.json
hostile "a byte of 2^31" count.json "^galsmime gal: count\.json:1: UserCertificate value 1: a byte value out of 0\.\.255$"
printf '[{"Name":"x","UserCertificate":[[48,130],"M@IB"]}]' >mixed.json
hostile "a certificate value that is neither" mixed.json "^galsmime gal: mixed\.json:1: UserCertificate value 2: not base64"
printf '[{"Name":"x","UserSMIMECertificate":[true]}]' >type.json
hostile "a certificate value of the wrong type" type.json "^galsmime gal: type\.json:1: UserSMIMECertificate value 1: expected base64 text or an array of bytes, found a boolean$"
printf '[{"Name":["x"]}]' >name.json
hostile "a Name that is not a string" name.json "^galsmime gal: name\.json:1: Name: expected a string, found an array$"
python3 -c "
import sys
open('huge-value.json', 'w').write('[\n{\"Name\":\"x\",\"UserCertificate\":[\"' + 'A' * (17 << 20) + '\"]}]')"
hostile "a 17 MiB value" huge-value.json "^galsmime gal: huge-value\.json:2: UserCertificate value 1: value larger than 16 MiB$"
python3 -c "open('deep.json', 'w').write('[{\"Name\":\"x\",\"Other\":' + '[' * 100 + ']' * 100 + '}]')"
hostile "nesting 100 deep" deep.json "^galsmime gal: deep\.json:1: JSON nested deeper than 64 levels$"
python3 -c "open('number.json', 'w').write('[{\"Name\":\"x\",\"Other\":' + '1' * 5000 + '}]')"
hostile "a 5000-digit number: its 1025th digit's place" number.json "^galsmime gal: number\.json:1 \(byte 1045\): a number or word longer than 1024"
printf '[{"Name":"x"},\n42]' >scalar.json
hostile "a number where an entry should be" scalar.json "^galsmime gal: scalar\.json:2: expected an object \(a directory entry\), found a number$"
printf '[{"Name":"Jos\351"}]' >latin1.json
hostile "Latin-1, not UTF-8" latin1.json "^galsmime gal: latin1\.json:1: invalid JSON: .*UTF8.*is the file UTF-8"
python3 -c "
import json
open('addresses.json', 'w').write(json.dumps([{'Name': 'x', 'EmailAddresses': ['smtp:a%d@example.org' % i for i in range(1025)]}]))
open('values.json', 'w').write(json.dumps([{'Name': 'x', 'UserCertificate': ['MAMCAQA='] * 1025}]))"
hostile "1025 addresses in one entry" addresses.json "^galsmime gal: addresses\.json:1: more than 1024 addresses$"
hostile "1025 certificate values in one entry" values.json "^galsmime gal: values\.json:1: more than 1024 certificate values$"
printf '[]\n' >none.json
hostile "an empty array: no entry, the source is not emptied" none.json "^galsmime gal: none\.json: no directory entry in the file"
printf '{"version":"1.0","dependencies":{"yajl":"2"},"scripts":{"test":"make check"}}' >package.json
hostile "some other JSON: no entry, the source is not emptied" package.json "^galsmime gal: package\.json: no directory entry in the file"
printf '[{"Name":"x"}] garbage' >trailing.json
hostile "garbage after the array" trailing.json "^galsmime gal: trailing\.json:1: invalid JSON"

# ---- --skip-bad ----
# line 4 (dave) cut inside a string; line 8 (henry) cut between two members
python3 - <<'EOF'
lines = open('lines.jsonl').read().split('\n')
lines[3] = lines[3][:300]
lines[7] = lines[7][:lines[7].index('"DisplayName"')]
open('cut.jsonl', 'w').write('\n'.join(lines))
EOF
hostile "JSON Lines, a line cut short: its line" cut.jsonl "^galsmime gal: cut\.jsonl:4: invalid JSON: lexical error: invalid character inside string"
gs gal import cut.jsonl --source gal --skip-bad >out.txt 2>err.txt; rc=$?
check "JSON Lines, --skip-bad: exit 0, 10 entries, 2 skipped" \
	sh -c "[ $rc = 0 ] && grep -q '^gal (snapshot): 10 entries .* 2 skipped$' out.txt"
check "--skip-bad says why, for the line cut inside a string" \
	contains err.txt '^galsmime gal: cut\.jsonl:4: invalid JSON: lexical error: invalid character inside string\. \(in the entry at cut\.jsonl:4\) \(skipped\)$'
check "--skip-bad says why, for the line cut between members (seen at the next brace)" \
	contains err.txt '^galsmime gal: cut\.jsonl:9: invalid JSON: parse error: .* \(in the entry at cut\.jsonl:8\) \(skipped\)$'
check "--skip-bad: every other entry is there, ivan's after the cut line too" same_entries gal "$(without expected.txt dave henry)"
gs gal import gal.json --source gal >/dev/null 2>&1

gs gal import lost.json --source gal --skip-bad >out.txt 2>err.txt; rc=$?
check "--skip-bad over \"System.Byte[]\": exit 0, 11 entries, 1 skipped" \
	sh -c "[ $rc = 0 ] && grep -q '11 entries .* 1 skipped$' out.txt"
check "--skip-bad says which entry and why" \
	contains err.txt "^galsmime gal: lost\.json:1 \(byte $off\): "'UserCertificate value 1: certificate bytes lost by the export \(use scripts/Export-GalSmime\.ps1\) \(skipped\)$'
check "--skip-bad: all but bob" same_entries gal "$(without expected.txt bob)"
gs gal import bad.json --source gal --skip-bad >out.txt 2>err.txt
check "--skip-bad over bad base64: 11 entries, 1 skipped" contains out.txt '11 entries .* 1 skipped$'
check "--skip-bad: all but carol" same_entries gal "$(without expected.txt carol)"
printf '[{"Name":"x","PrimarySmtpAddress":"x@example.org"},1,[2],"s",{"Name":"y","UserCertificate":"@@"}]' >mixed-top.json
gs gal import mixed-top.json --source mixed --skip-bad >out.txt 2>err.txt
check "--skip-bad over things that are not entries: 1 entry, 4 skipped" contains out.txt '1 entries .* 4 skipped$'
check "--skip-bad names each" test "$(grep -c '(skipped)$' err.txt)" = 4
gs gal import gal.json --source gal >/dev/null 2>&1
store_state >before.txt 2>&1
hostile "--skip-bad when no entry is left: 65" lostone.json "^galsmime gal: lostone\.json:1: .*lost by the export" --skip-bad
check "... and it says nothing could be read" contains err.txt "lostone\.json: no entry could be read \(1 skipped\)"

# ---- bounded memory: a 50 MB export, peak RSS well below it ----
if [ "${SANITIZE:-}" = 1 ]; then
	skip "bounded memory" "AddressSanitizer's shadow memory and quarantine"
elif [ -x /usr/bin/time ]; then
	galfix json big.json --repeat 1800
	size=$(stat -c %s big.json)
	/usr/bin/time -f %M -o rss.txt "$GALSMIME" gal import big.json --source big >big.out 2>&1
	rss=$(tail -1 rss.txt)
	check "big export ($((size >> 20)) MB): 21600 entries" contains big.out '^big \(snapshot\): 21600 entries'
	check "peak RSS ${rss} KB is under half the file's size" test "$((rss * 1024))" -lt "$((size / 2))"
	check "big export: a late copy of henry resolves to henry's certificate" \
		test "$(chosen henry.1799@example.org)" = "$(fp henry)"
	rm -f big.json big.jsonl
else
	skip "bounded memory" "no /usr/bin/time"
fi
