#!/bin/sh
# Recipient binding: which certificate a recipient's mail goes to can
# never be moved by a directory entry an outsider controls. Each attack
# is a GAL export as Exchange PowerShell writes it (ConvertTo-Json of
# Get-Mailbox / Get-MailContact), holding a partner's certificate from a
# CA the user trusts; each must either stay with the right certificate or
# fail closed (exit 67, nothing written, the entries named).
. "$TESTS_TOP/tests/lib.sh"

store_setup
gs trust import "$PKI/partner.crt" >/dev/null
bare_msg >bare.eml

# gal OUT ENTRY...: a JSON array of Exchange recipients (tests/gal/exchange_json.py)
gal() { python3 "$TESTS_TOP/tests/gal/exchange_json.py" "$PKI" "$@"; }
BOB='UserMailbox|Bob Example|bob|Bob Example|bob@example.org|smtp:robert@example.org|bob|'

# ---- 1. a contact whose display name is bob's address ----
gal display.json "$BOB" \
	'MailContact|Partner Pat|pat|bob@example.org|pat@partner.example|||pat'
check "import of the display-name trap" gs gal import display.json --source gal
check_exit 0 "encrypt to bob@example.org exits 0" \
	sh -c "'$GALSMIME' encrypt --no-self --to bob@example.org <bare.eml >display.p7m 2>display.err"
check "... bob reads it" opens bob display.p7m
check "... the partner cannot" not opens pat display.p7m
check "... and stderr has no binding note (bob's certificate names him)" test ! -s display.err
check "explain bob@example.org chooses bob's certificate" test "$(chosen bob@example.org)" = "$(fp bob)"
check "explain lists only bob's certificate (a display name never matches an address)" \
	test "$(gs gal explain bob@example.org | grep -c '^[* ] [0-9a-f]\{64\}$')" = 1
gs gal lookup bob@example.org >lookup.out
check "gal lookup bob@example.org lists only bob's entry" \
	test "$(grep -c '	\[gal\]$' lookup.out)" = 1
check "gal lookup 'bob@example.org' as a name is no longer a display-name match" \
	sh -c "! grep -q 'Partner Pat' lookup.out"

# ---- 2. a contact that lists bob's proxy address, with a newer certificate ----
gal proxy.json "$BOB" \
	'MailContact|Robert Partner|robert.p|Robert (partner)|pat@partner.example|smtp:robert@example.org||pat'
gs gal import proxy.json --source gal >/dev/null
check_exit 67 "encrypt to robert@example.org (claimed by bob and by a contact) fails closed" \
	sh -c "'$GALSMIME' encrypt --no-self --to robert@example.org <bare.eml >proxy.p7m 2>proxy.err"
check "... nothing written" test ! -s proxy.p7m
check "... stderr names both entries" \
	sh -c "grep -q \"'Bob Example' \\[gal\\]\" proxy.err && grep -q \"'Robert Partner' \\[gal\\]\" proxy.err"
check "... and says they disagree" contains proxy.err 'robert@example.org: the directory entries listing robert@example.org disagree'
gs gal explain robert@example.org >proxy.explain 2>&1; rc=$?
check "gal explain robert@example.org exits 1 and shows the conflict" \
	sh -c "[ $rc = 1 ] && grep -q '^conflict: the directory entries listing robert@example.org disagree' proxy.explain"
check "bob@example.org still goes to bob" test "$(chosen bob@example.org)" = "$(fp bob)"
check "the contact's own address still resolves to pat" test "$(chosen pat@partner.example)" = "$(fp pat)"

# mutt's index, made from the same rules, never lists pat for robert@
mkdir -p mutt
gs mutt sync-index mutt/certs >/dev/null 2>&1
check "sync-index lists bob for bob@example.org as trusted" \
	sh -c "grep -q '^bob@example.org [0-9a-f.]* .* t ' mutt/certs/.index"
check "sync-index lists no trusted certificate for robert@example.org" \
	sh -c "! grep -q '^robert@example.org .* t ' mutt/certs/.index"

# ---- 3. an alias or a name without a domain ----
gal alias.json "$BOB" \
	'MailContact|bob|bob2|Bobby (partner)|pat@partner.example|||pat'
gs gal import alias.json --source gal >/dev/null
check_exit 67 "encrypt --to bob (bob's alias, the contact's name) fails closed" \
	sh -c "'$GALSMIME' encrypt --no-self --to bob <bare.eml >alias.p7m 2>alias.err"
check "... listing both entries" contains alias.err "2 directory entries are named 'bob': 'Bob Example' \\[gal\\], 'bob' \\[gal\\]"
check "... nothing written" test ! -s alias.p7m
check_exit 0 "encrypt --to 'Bob Example' (one entry) works" \
	sh -c "'$GALSMIME' encrypt --no-self --to 'Bob Example' <bare.eml >name.p7m 2>name.err"
check "... bob reads it" opens bob name.p7m
check "... stderr says it was bound by name" contains name.err "bound by name: 'Bob Example' \\[gal\\] is the only directory entry named 'Bob Example'"
check_exit 0 "encrypt --to 'Bob <bob@example.org>' works as the address" \
	sh -c "'$GALSMIME' encrypt --no-self --to 'Bob <bob@example.org>' <bare.eml >named.p7m"
check "... bob reads it" opens bob named.p7m

# the same directory imported twice agrees with itself
gs gal import alias.json --source gal-copy >/dev/null
check "a name in two snapshots of one directory (agreeing) still resolves" \
	test "$(chosen 'Bob Example')" = "$(fp bob)"

# ---- 4. the real owner's certificate is unusable, an outsider's is not ----
gal expired.json 'UserMailbox|Dave Example|dave|Dave Example|dave@example.org||dave|' \
	'MailContact|Dave Partner|davep|Dave (partner)|pat@partner.example|smtp:dave@example.org||pat'
gs gal import expired.json --source gal >/dev/null
check_exit 67 "dave's certificate expired, a contact claims his address: fails closed" \
	sh -c "'$GALSMIME' encrypt --no-self --to dave@example.org <bare.eml >dave.p7m 2>dave.err"
check "... naming dave's entry as offering no usable certificate" \
	contains dave.err "'Dave Example' \\[gal\\] offers no usable certificate"
check "... nothing written" test ! -s dave.p7m

# ---- 5. the seed's twins, and a certificate only the directory binds ----
gal twins.json 'MailContact|Ivan|ivan|Ivan Example|ivan@example.org|||' \
	'MailContact|Ivan_SMIME|Ivan_SMIME|Ivan Example (S/MIME)|ivan@example.org||ivan|' \
	'MailContact|Partner|Partner|Partner|pat@partner.example|||' \
	'MailContact|Partner_SMIME|Partner_SMIME|Partner (S/MIME)|pat@partner.example|||pat'
gs gal import twins.json --source gal >/dev/null
check_exit 0 "the partner's twin: encrypt to pat@partner.example works" \
	sh -c "'$GALSMIME' encrypt --no-self --to pat@partner.example <bare.eml >pat.p7m 2>pat.err"
check "... the partner reads it" opens pat pat.p7m
check_exit 0 "ivan's twin (his certificate names another address) works" \
	sh -c "'$GALSMIME' encrypt --no-self --to ivan@example.org <bare.eml >ivan.p7m 2>ivan.err"
check "... ivan reads it" opens ivan ivan.p7m
check "... stderr says how it was bound" \
	contains ivan.err "ivan@example.org: bound by the directory: 'Ivan_SMIME' lists ivan@example.org and offers it; the certificate itself names ivan.private@example.net"
gal twins2.json 'MailContact|Ivan_SMIME|Ivan_SMIME|Ivan Example (S/MIME)|ivan@example.org||ivan|' \
	'MailContact|Ivan_Other|Ivan_Other|Ivan (other)|ivan@example.org||grace|'
gs gal import twins2.json --source gal >/dev/null
check_exit 67 "two entries offering different certificates that do not name the address: fail closed" \
	sh -c "'$GALSMIME' encrypt --no-self --to ivan@example.org <bare.eml >ivan2.p7m 2>ivan2.err"
check "... naming both" sh -c "grep -q \"'Ivan_SMIME' \\[gal\\] offers\" ivan2.err && grep -q \"'Ivan_Other' \\[gal\\] offers\" ivan2.err"

# ---- 6. the same certificate in both attributes (a plain, valid export) ----
cat >same.py <<'EOF'
import base64, json, subprocess, sys
pki, out, shape = sys.argv[1:]
c = base64.b64encode(subprocess.run(['openssl', 'x509', '-in', pki + '/grace.crt', '-outform', 'DER'],
    check=True, capture_output=True).stdout).decode()
v = [c] if shape == 'array' else c
json.dump([{'Name': 'Grace Example', 'Alias': 'grace', 'DisplayName': 'Grace Example',
            'RecipientType': 'UserMailbox', 'PrimarySmtpAddress': 'grace@example.org',
            'EmailAddresses': ['SMTP:grace@example.org'],
            'UserCertificate': v, 'UserSMIMECertificate': v}], open(out, 'w'))
EOF
for shape in array scalar; do
	python3 same.py "$PKI" same-$shape.json $shape
	check_exit 0 "the same certificate in UserCertificate and UserSMIMECertificate ($shape) imports" \
		gs gal import same-$shape.json --source same
	gs gal explain grace@example.org >same.explain 2>&1
	check "... one candidate, with both attributes as its sources ($shape)" \
		sh -c "[ \"\$(grep -c '^[* ] [0-9a-f]\\{64\\}\$' same.explain)\" = 1 ] &&
		       grep -q 'entry Grace Example, attribute userSMIMECertificate' same.explain &&
		       grep -q 'entry Grace Example, attribute userCertificate' same.explain"
done
