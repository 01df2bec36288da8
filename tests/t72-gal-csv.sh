#!/bin/sh
# gal import of CSV: a header row with the property names (any case, any
# order, unknown columns ignored), ',' ';' or tab, quoted fields holding
# separators, quotes and line breaks, LF or CRLF, Export-Csv's #TYPE line,
# UTF-8 with or without a BOM and UTF-16; multi-valued cells joined with
# ';', certificates in base64. The entries land as exported, resolve, and
# openssl decrypts what galsmime encrypts to them; hostile input gives 65,
# a line naming file:line and why, and leaves the store as it was;
# --skip-bad skips, counts and says why; memory stays bounded.
. "$TESTS_TOP/tests/gal/lib.sh"

bare_msg >bare.eml
# row_line FILE ALIAS: the line where ALIAS's row starts (python's csv reader)
row_line() {
	python3 - "$1" "$2" <<'EOF'
import csv, sys
with open(sys.argv[1], newline='') as f:
    r = csv.reader(f)
    start = 1
    header = None
    for row in r:
        if header is None:
            header = [h.lower() for h in row]
        elif row[header.index('alias')] == sys.argv[2]:
            print(start)
        start = r.line_num + 1
EOF
}

expected_entries exchange >expected.txt

# every small fixture in one run
galfix csv gal.csv --then var-semicolon.csv --sep ';' --then var-tab.csv --sep tab \
	--then var-quoteall-typeinfo.csv --quote-all --typeinfo \
	--then var-shuffle-wrap-crlf.csv --shuffle --wrap 64 --crlf --then var-bom-crlf.csv --bom --crlf \
	--then var-utf16-semicolon.csv --utf16 --sep ';' --quote-all \
	--then quoted.csv --quote-all --then bad.csv --badb64 carol --wrap 76 --crlf \
	--then lost.csv --lost bob

# ---- the round trip ----
check "store setup: trust the root, alice's identity" store_setup
gs gal import gal.csv --source gal >imp.out 2>&1
check "import of a CSV export: 12 entries, nothing skipped" \
	contains imp.out '^gal \(snapshot\): 12 entries .* 0 skipped$'
check "the store holds every entry as exported" same_entries gal expected.txt
for c in "bob@example.org bob" "alice@example.org alice" "carol@example.org carol" \
	"grace@example.org grace" "Grace_SMIME grace" "bob bob" "Bob Example bob" \
	"henry@example.org henry"; do
	q=${c% *} u=${c##* }
	check "explain $q chooses $u's certificate" test "$(chosen "$q")" = "$(fp "$u")"
done
check "explain 'Grace Example (S/MIME)' (a DisplayName) chooses grace's" \
	test "$(chosen 'Grace Example (S/MIME)')" = "$(fp grace)"
for u in alice carol henry; do
	check "$u's comes from userSMIMECertificate" \
		sh -c "'$GALSMIME' gal explain $u@example.org | awk '/^\* /{c=1} c && /from /{print; exit}' | grep -q 'entry .*attribute userSMIMECertificate'"
done
for c in "dave@example.org expired" "erin@example.org keyEncipherment" \
	"frank@example.org emailProtection" "mallory@example.org trust anchor" \
	"nora@example.org in the GAL as .Nora NoCert. \[gal\], with no certificate"; do
	q=${c%% *} why=${c#* }
	gs gal explain "$q" >explain.out 2>&1; rc=$?
	check "explain $q: exit 1, cannot encrypt: $why" \
		sh -c "[ $rc = 1 ] && grep -q '^cannot encrypt to $q: .*$why' explain.out"
done
for c in "bob@example.org bob" "alice@example.org alice" "carol@example.org carol" \
	"grace@example.org grace" "Grace_SMIME grace" "Grace Example (S/MIME) grace" "bob bob" \
	"Bob Example bob" "henry@example.org henry"; do
	q=${c% *} u=${c##* }
	gs encrypt --no-self --to "$q" <bare.eml >enc.eml 2>enc.err
	check "encrypt --to '$q': openssl decrypts it with $u's key" opens "$u" enc.eml
done
gs encrypt --no-self --to henry@example.org <bare.eml >enc.eml 2>enc.err
check "henry2's key does not open what went to henry" \
	sh -c "! openssl cms -decrypt -recip '$PKI/henry2.crt' -inkey '$PKI/henry2.key' -in enc.eml >/dev/null 2>&1"
gs encrypt --to nora@example.org <bare.eml >enc.eml 2>enc.err; rc=$?
check "encrypt to nora (no certificate): exit 67, nora named, nothing written" \
	sh -c "[ $rc = 67 ] && grep -q 'nora@example.org' enc.err && [ ! -s enc.eml ]"

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
for v in semicolon tab quoteall-typeinfo bom-crlf utf16-semicolon; do
	gs gal import var-$v.csv --source gal >imp.out 2>&1
	check "variant $v: imported, detected as CSV" contains imp.out '12 entries \(12 replaced\).* 0 skipped'
	check "variant $v: the same entries" same_entries gal expected.txt
done
# lower-case column names are not detected (gs_import_detect matches the
# case): name the format
gs gal import var-shuffle-wrap-crlf.csv --format csv --source gal >imp.out 2>&1
check "columns in another order and case, unknown columns, line breaks in cells: imported" \
	contains imp.out '12 entries \(12 replaced\).* 0 skipped'
check "... the same entries" same_entries gal expected.txt
printf 'mail,cn,mailNickname,proxyAddresses,Other\nzed@example.net,Zed,zed,"SMTP:zed@example.net;smtp:z@example.net; X400:c=US",x\n' >ad.csv
gs gal import ad.csv --format csv --source ad >imp.out 2>&1
echo "zed||Zed||zed@example.net z@example.net|" >expected-ad.txt
check "Active Directory's column names (mail, cn, mailNickname, proxyAddresses)" same_entries ad expected-ad.txt

# ---- hostile input: 65, one line naming the place and why, the store unchanged ----
# (a header of only Name and Alias is not detected as CSV: --format csv)
gs gal import gal.csv --source gal >/dev/null 2>&1
store_state >before.txt 2>&1
head -c 9000 quoted.csv >trunc.csv
hostile "truncated inside a quoted field" trunc.csv \
	"^galsmime gal: trunc\.csv:$(wc -l <trunc.csv | awk '{print $1 + 1}'): the file ends inside a quoted field"
head -n 12 gal.csv >cut.csv
sed -n 13p gal.csv | cut -d, -f1-3 >>cut.csv
hostile "truncated between fields: the row's line, its field count" cut.csv \
	'^galsmime gal: cut\.csv:13: 3 fields where the header row has 9$'
hostile "bad base64 in a row with line breaks: the line where the row starts" bad.csv \
	"^galsmime gal: bad\.csv:$(row_line bad.csv carol): UserSMIMECertificate value 1: not base64$"
hostile "\"System.Byte[]\": the certificate bytes were lost by the export" lost.csv \
	'^galsmime gal: lost\.csv:3: UserCertificate value 1: certificate bytes lost by the export \(use scripts/Export-GalSmime\.ps1\)$'
: >empty.csv
hostile "an empty file" empty.csv "^galsmime gal: empty\.csv: empty file"
hostile "an empty file, --format csv" empty.csv "^galsmime gal: empty\.csv: no header row" --format csv
python3 -c "
import random
random.seed(72)
open('garbage.bin', 'wb').write(bytes([0x8f]) + bytes(random.randrange(256) for _ in range(4096)))"
hostile "binary garbage, --format csv" garbage.bin "^galsmime gal: garbage\.bin:[0-9]+: " --format csv
printf 'Name,Alias\nx,y"z\n' >quote.csv
hostile "a quote inside an unquoted field" quote.csv '^galsmime gal: quote\.csv:2: malformed CSV: a quote inside an unquoted field' --format csv
hostile "... also with --skip-bad (nothing tells where the next row starts)" quote.csv '^galsmime gal: quote\.csv:2: malformed CSV' --skip-bad --format csv
printf 'Name,Alias\n"x" y,z\n' >after.csv
hostile "text after a closing quote" after.csv '^galsmime gal: after\.csv:2: malformed CSV' --format csv
python3 -c "open('huge-field.csv', 'w').write('Name,UserCertificate\nx,\"\n' + 'A' * (17 << 20) + '\"\n')"
hostile "a 17 MiB field" huge-field.csv '^galsmime gal: huge-field\.csv:3: a field larger than 16 MiB$'
python3 -c "open('wide.csv', 'w').write('Name' + ',x' * 5000 + '\n')"
hostile "a header row of 5001 columns" wide.csv '^galsmime gal: wide\.csv:1: a header row of more than 4096 columns$' --format csv
printf 'Foo,Bar\n1,2\n' >noheader.csv
hostile "a header naming no column galsmime reads" noheader.csv '^galsmime gal: noheader\.csv:1: the header row names none of the columns' --format csv
python3 -c "
open('addresses.csv', 'w').write('Name,EmailAddresses\nx,' + ';'.join('smtp:a%d@example.org' % i for i in range(1025)) + '\n')
open('values.csv', 'w').write('Name,UserCertificate\nx,' + ';'.join(['MAMCAQA='] * 1025) + '\n')"
hostile "1025 addresses in one row" addresses.csv '^galsmime gal: addresses\.csv:2: more than 1024 addresses$' --format csv
hostile "1025 certificate values in one row" values.csv '^galsmime gal: values\.csv:2: more than 1024 certificate values$'
head -n 1 gal.csv >header.csv
hostile "a header and no row: the source is not emptied" header.csv "^galsmime gal: header\.csv: no directory entry in the file"
printf 'Name,Alias\nJos\351,j\n' >latin1.csv
hostile "Latin-1, not UTF-8" latin1.csv '^galsmime gal: latin1\.csv:2: Name: not UTF-8 text' --format csv
printf 'Name,UserCertificate\nx,"MAMCAQA=;@@@@"\n' >second.csv
hostile "a bad second value in a cell" second.csv '^galsmime gal: second\.csv:2: UserCertificate value 2: not base64$'

# ---- --skip-bad ----
gs gal import lost.csv --source gal --skip-bad >out.txt 2>err.txt; rc=$?
check "--skip-bad over \"System.Byte[]\": exit 0, 11 entries, 1 skipped" \
	sh -c "[ $rc = 0 ] && grep -q '11 entries .* 1 skipped$' out.txt"
check "--skip-bad says which row and why" \
	contains err.txt '^galsmime gal: lost\.csv:3: UserCertificate value 1: certificate bytes lost by the export \(use scripts/Export-GalSmime\.ps1\) \(skipped\)$'
check "--skip-bad: all but bob" same_entries gal "$(without expected.txt bob)"
gs gal import bad.csv --source gal --skip-bad >out.txt 2>err.txt
check "--skip-bad over bad base64: 11 entries, 1 skipped" contains out.txt '11 entries .* 1 skipped$'
check "--skip-bad: all but carol" same_entries gal "$(without expected.txt carol)"
{ head -n 4 gal.csv; sed -n 5p gal.csv | cut -d, -f1-4; sed -n '6,$p' gal.csv; } >short.csv
gs gal import short.csv --source gal --skip-bad >out.txt 2>err.txt
check "--skip-bad over a short row: 11 entries, 1 skipped" contains out.txt '11 entries .* 1 skipped$'
check "--skip-bad names the short row" contains err.txt '^galsmime gal: short\.csv:5: 4 fields where the header row has 9 \(skipped\)$'
check "--skip-bad: all but dave" same_entries gal "$(without expected.txt dave)"
gs gal import gal.csv --source gal >/dev/null 2>&1
store_state >before.txt 2>&1
{ head -n 1 lost.csv; sed -n 3p lost.csv; } >lostone.csv
hostile "--skip-bad when no row is left: 65" lostone.csv '^galsmime gal: lostone\.csv:2: .*lost by the export' --skip-bad
check "... and it says nothing could be read" contains err.txt "lostone\.csv: no entry could be read \(1 skipped\)"

# ---- bounded memory: a 50 MB export, peak RSS well below it ----
if [ "${SANITIZE:-}" = 1 ]; then
	skip "bounded memory" "AddressSanitizer's shadow memory and quarantine"
elif [ -x /usr/bin/time ]; then
	galfix csv big.csv --repeat 1900
	size=$(stat -c %s big.csv)
	/usr/bin/time -f %M -o rss.txt "$GALSMIME" gal import big.csv --source big >big.out 2>&1
	rss=$(tail -1 rss.txt)
	check "big export ($((size >> 20)) MB): 22800 entries" contains big.out '^big \(snapshot\): 22800 entries'
	check "peak RSS ${rss} KB is under half the file's size" test "$((rss * 1024))" -lt "$((size / 2))"
	check "big export: a late copy of carol resolves to carol's certificate" \
		test "$(chosen carol.1899@example.org)" = "$(fp carol)"
	rm -f big.csv
else
	skip "bounded memory" "no /usr/bin/time"
fi
