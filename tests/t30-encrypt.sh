#!/bin/sh
# galsmime encrypt: EnvelopedData AES-256-CBC with RSA PKCS#1 v1.5 by
# default, AuthEnvelopedData with --cipher aes256-gcm, RSA-OAEP with
# --oaep, ECDH with a SHA-256 KDF for EC recipients; the sender is a
# recipient unless --no-self; To + Cc + Bcc + --to; no Bcc in the
# output; --sign; --cipher auto; and fail closed (exit 67, nothing written).
. "$TESTS_TOP/tests/lib.sh"

PASS="--passphrase-file $PKI/pass"

# hdr FILE NAME: the unfolded value of the first NAME field in FILE's top-level header
hdr() {
	awk -v want="$(printf '%s' "$2" | tr A-Z a-z)" '
	/^\r?$/ { exit }
	/^[ \t]/ { if (cur == want) val = val " " $0; next }
	{ i = index($0, ":"); cur = tolower(substr($0, 1, i - 1))
	  if (cur == want && !found) { val = substr($0, i + 1); found = 1 } else if (cur == want) cur = "" }
	END { gsub(/[ \t\r]+/, " ", val); sub(/^ /, "", val); sub(/ $/, "", val); print val }' "$1"
}
# the content type and smime-type of FILE's top level
ctype() { python3 -c "
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], 'rb'))
print(m.get_content_type(), m.get_param('smime-type'), m.get_filename(), m['Content-Transfer-Encoding'])" "$1"; }
# cms_print FILE: openssl's view of the CMS in an S/MIME message
cms_print() { openssl cms -cmsout -print -in "$1" 2>&1; }
# the names after "algorithm:" on the line following each line matching RE
algs_after() { awk -v re="$2" '$0 ~ re { getline; sub(/^ *algorithm: */, ""); sub(/ .*/, ""); print }' "$1"; }
# ocdecrypt USER FILE: decrypt with openssl cms as USER, plaintext on stdout
ocdecrypt() { openssl cms -decrypt -recip "$PKI/$1.crt" -inkey "$PKI/$1.key" -in "$2"; }
# can_read USER FILE: USER's key opens FILE and gives the original text
can_read() { ocdecrypt "$1" "$2" 2>/dev/null | grep -q 'this is a test message'; }
cannot_read() { ! ocdecrypt "$1" "$2" >/dev/null 2>&1; }
# the number of RecipientInfos
n_recipients() { cms_print "$1" | grep -Ec '^ *d\.(ktri|kari|kekri|pwri|ori):'; }

check "store setup: trust the root, alice's identity" store_setup
check "import the correspondents' certificates" gs cert import "$PKI/bob.crt" "$PKI/carol.crt" \
	"$PKI/dave.crt" "$PKI/erin.crt" "$PKI/frank.crt" "$PKI/grace.crt" "$PKI/mallory.crt"

msg alice@example.org bob@example.org "for bob" >bob.eml

# ---- the default: EnvelopedData, AES-256-CBC, RSA PKCS#1 v1.5 ----
check_exit 0 "encrypt exits 0" sh -c "'$GALSMIME' encrypt <bob.eml >cbc.eml"
check "application/pkcs7-mime; smime-type=enveloped-data; smime.p7m; base64" \
	test "$(ctype cbc.eml)" = "application/pkcs7-mime enveloped-data smime.p7m base64"
for h in From To Subject Date Message-ID; do
	check "header $h is kept" test "$(hdr cbc.eml $h)" = "$(hdr bob.eml $h)"
done
check "the body is no longer readable" lacks cbc.eml 'this is a test message'
cms_print cbc.eml >cbc.txt
check "the CMS is EnvelopedData" contains cbc.txt 'contentType: pkcs7-envelopedData'
check "content encryption is AES-256-CBC" \
	test "$(algs_after cbc.txt contentEncryptionAlgorithm)" = aes-256-cbc
check "every recipient uses rsaEncryption (PKCS#1 v1.5)" \
	test "$(algs_after cbc.txt keyEncryptionAlgorithm | sort -u)" = rsaEncryption
check "two recipients: bob and the sender" test "$(n_recipients cbc.eml)" = 2
check "bob decrypts it with openssl cms" can_read bob cbc.eml
check "bob decrypts it with openssl smime (the old PKCS#7 code)" \
	sh -c "openssl smime -decrypt -recip '$PKI/bob.crt' -inkey '$PKI/bob.key' -in cbc.eml | grep -q 'this is a test message'"
check "the sender alice decrypts her own copy" can_read alice cbc.eml
check "grace, not a recipient, cannot" cannot_read grace cbc.eml
ocdecrypt bob cbc.eml >cbc.plain 2>/dev/null
check "the decrypted entity is the original body part with its Content-Type" \
	python3 -c "
import email, sys
inner = email.message_from_binary_file(open('cbc.plain', 'rb'))
orig = email.message_from_binary_file(open('bob.eml', 'rb'))
ok = inner.get_content_type() == 'text/plain' and \
     inner.get_payload(decode=True).replace(b'\r\n', b'\n') == orig.get_payload(decode=True)
sys.exit(0 if ok else 1)"

# ---- --no-self ----
check_exit 0 "encrypt --no-self exits 0" sh -c "'$GALSMIME' encrypt --no-self <bob.eml >noself.eml"
check "--no-self: one recipient" test "$(n_recipients noself.eml)" = 1
check "--no-self: bob decrypts" can_read bob noself.eml
check "--no-self: alice cannot" cannot_read alice noself.eml

# ---- AES-256-GCM ----
check_exit 0 "--cipher aes256-gcm exits 0" sh -c "'$GALSMIME' encrypt --cipher aes256-gcm <bob.eml >gcm.eml"
cms_print gcm.eml >gcm.txt
check "gcm: the CMS is AuthEnvelopedData" contains gcm.txt 'contentType: id-smime-ct-authEnvelopedData'
check "gcm: content encryption is AES-256-GCM" \
	test "$(algs_after gcm.txt contentEncryptionAlgorithm)" = aes-256-gcm
check "gcm: smime-type=authEnveloped-data" python3 -c "
import email, sys
m = email.message_from_binary_file(open('gcm.eml', 'rb'))
sys.exit(0 if (m.get_param('smime-type') or '').lower() == 'authenveloped-data' else 1)"
check "gcm: bob decrypts it with openssl cms" can_read bob gcm.eml
check "gcm: alice decrypts it with openssl cms" can_read alice gcm.eml

# ---- RSA-OAEP ----
check_exit 0 "--oaep exits 0" sh -c "'$GALSMIME' encrypt --oaep <bob.eml >oaep.eml"
cms_print oaep.eml >oaep.txt
check "oaep: every recipient uses rsaesOaep" \
	test "$(algs_after oaep.txt keyEncryptionAlgorithm | sort -u)" = rsaesOaep
check "oaep: the OAEP hash is SHA-256 and MGF1 uses SHA-256, for every recipient" python3 -c "
import re, sys
t = open('oaep.txt').read()
blocks = t.split('keyEncryptionAlgorithm:')[1:]
ok = len(blocks) == 2
for b in blocks:
    b = b.split('encryptedKey:')[0]
    objs = re.findall(r'OBJECT\s*:(\S+)', b)
    ok = ok and objs == ['sha256', 'mgf1', 'sha256']
sys.exit(0 if ok else 1)"
check "oaep: bob decrypts it with openssl cms" can_read bob oaep.eml
check "oaep: alice decrypts it with openssl cms" can_read alice oaep.eml
check_exit 0 "--oaep with --cipher aes256-gcm exits 0" \
	sh -c "'$GALSMIME' encrypt --oaep --cipher aes256-gcm <bob.eml >oaep-gcm.eml"
check "oaep+gcm: bob decrypts it" can_read bob oaep-gcm.eml

# ---- EC recipient: ECDH, SHA-256 KDF ----
msg alice@example.org carol@example.org "for carol" >carol.eml
check_exit 0 "encrypt to carol (EC P-256) exits 0" sh -c "'$GALSMIME' encrypt <carol.eml >ec.eml"
cms_print ec.eml >ec.txt
check "ec: carol's RecipientInfo is KeyAgreeRecipientInfo" contains ec.txt 'd\.kari:'
check "ec: key agreement is dhSinglePass-stdDH-sha256kdf-scheme" \
	contains ec.txt 'algorithm: dhSinglePass-stdDH-sha256kdf-scheme'
check "ec: no SHA-1 KDF" lacks ec.txt 'sha1kdf'
check "ec: carol decrypts it with openssl cms" can_read carol ec.eml
check "ec: alice (RSA) decrypts her copy" can_read alice ec.eml
check_exit 0 "ec: --cipher aes256-gcm to carol exits 0" \
	sh -c "'$GALSMIME' encrypt --cipher aes256-gcm <carol.eml >ec-gcm.eml"
check "ec+gcm: carol decrypts it" can_read carol ec-gcm.eml

msg alice@example.org "bob@example.org, carol@example.org" "bob and carol" >bc.eml
check_exit 0 "--oaep to bob (RSA) and carol (EC) exits 0" sh -c "'$GALSMIME' encrypt --oaep <bc.eml >bc.out"
cms_print bc.out >bc.txt
check "--oaep with carol: OAEP for the RSA recipients, ECDH SHA-256 KDF for carol" \
	sh -c "[ \$(grep -c 'algorithm: rsaesOaep' bc.txt) = 2 ] && grep -q 'dhSinglePass-stdDH-sha256kdf-scheme' bc.txt"
check "--oaep with carol: bob decrypts" can_read bob bc.out
check "--oaep with carol: carol decrypts" can_read carol bc.out

# ---- gpgsm as the receiving peer (RSA only: see FIELD-NOTES) ----
if have gpgsm; then
	check "gpgsm set-up: bob's secret key imported" gpgsm_setup bob
	trap 'gpgconf --kill all >/dev/null 2>&1; t_finish' EXIT
	# to bob alone: gpgsm exits 2 when it also meets a RecipientInfo it has no key for
	sed '1,/^$/d' noself.eml | base64 -d >noself.der
	echo secret | gpgsm --batch --pinentry-mode loopback --passphrase-fd 0 \
		--decrypt noself.der >gpgsm.plain 2>gpgsm.err
	rc=$?
	# on failure, gpgsm's own words and those of the key import before it
	check "gpgsm decrypts what galsmime encrypts for bob" \
		sh -c "[ $rc = 0 ] || { cat gpgsm.err; echo '-- the import:'; cat '$T_DIR/gpgsm-import.log'; false; }"
	check "gpgsm's plaintext is the original body" contains gpgsm.plain 'this is a test message'
	sed '1,/^$/d' cbc.eml | base64 -d >cbc.der
	echo secret | gpgsm --batch --pinentry-mode loopback --passphrase-fd 0 \
		--decrypt cbc.der >gpgsm2.plain 2>/dev/null
	check "gpgsm also reads bob's copy of a message with two recipients" \
		contains gpgsm2.plain 'this is a test message'
else
	skip "gpgsm decrypts what galsmime encrypts for bob" "gpgsm not installed"
fi

# ---- recipients: To + Cc + Bcc + --to, and no Bcc in the output ----
cat >many.eml <<EOM
From: Alice <alice@example.org>
To: Bob <bob@example.org>
Cc: carol@example.org
Bcc: Grace <grace@example.org>
Subject: to many
Date: Sat, 28 Nov 2026 12:00:00 +0000
Message-ID: <many.t30@example.org>
MIME-Version: 1.0
Content-Type: text/plain

Hello all,
this is a test message.
EOM
check_exit 0 "To + Cc + Bcc: encrypt exits 0" sh -c "'$GALSMIME' encrypt --no-self <many.eml >many.out"
check "To + Cc + Bcc: no Bcc header in the output" lacks many.out '^[Bb][Cc][Cc]:'
check "To + Cc + Bcc: To and Cc headers stay" \
	sh -c "grep -Eq '^To: .*bob@example.org' many.out && grep -Eq '^Cc: carol@example.org' many.out"
check "To + Cc + Bcc: three recipients" test "$(n_recipients many.out)" = 3
check "To + Cc + Bcc: bob (To) decrypts" can_read bob many.out
check "To + Cc + Bcc: carol (Cc) decrypts" can_read carol many.out
check "To + Cc + Bcc: grace (Bcc) decrypts" can_read grace many.out
check "To + Cc + Bcc: alice (--no-self) cannot" cannot_read alice many.out
msg alice@example.org bob@example.org "plus --to" >plus.eml
check_exit 0 "--to adds a recipient" \
	sh -c "'$GALSMIME' encrypt --no-self --to grace@example.org <plus.eml >plus.out"
check "--to: bob and grace, two recipients" test "$(n_recipients plus.out)" = 2
check "--to: grace decrypts" can_read grace plus.out
check "--to: bob decrypts" can_read bob plus.out
check_exit 0 "--to alone, with no To header in the message" \
	sh -c "grep -v '^To:' bob.eml | '$GALSMIME' encrypt --no-self --to bob@example.org >toonly.out"
check "--to alone: bob decrypts" can_read bob toonly.out

cat >twice.eml <<EOM
From: Alice <alice@example.org>
To: bob@example.org, Alice <alice@example.org>
Cc: BOB@example.org
Subject: bob twice, alice in To
Date: Sat, 28 Nov 2026 12:00:00 +0000
Message-ID: <twice.t30@example.org>
MIME-Version: 1.0
Content-Type: text/plain

this is a test message.
EOM
check_exit 0 "bob named three ways, alice in To and as sender: encrypt exits 0" \
	sh -c "'$GALSMIME' encrypt --to 'Bob Example <bob@example.org>' <twice.eml >twice.out"
check "each person gets one RecipientInfo (bob, alice: two)" test "$(n_recipients twice.out)" = 2
check "named twice: bob decrypts" can_read bob twice.out

# ---- sign + encrypt ----
check_exit 0 "encrypt --sign exits 0" sh -c "'$GALSMIME' encrypt --sign $PASS <bob.eml >se.eml"
ocdecrypt bob se.eml >se.inner 2>/dev/null
check "sign+encrypt: inside is a multipart/signed entity" contains se.inner '^Content-Type: multipart/signed'
check "sign+encrypt: openssl smime -verify accepts the inner entity" \
	openssl smime -verify -CAfile "$PKI/root.crt" -purpose smimesign -in se.inner -out se.content
check "sign+encrypt: the signed content is the original text" contains se.content 'this is a test message'
ocdecrypt alice se.eml >se.inner-alice 2>/dev/null
check "sign+encrypt: alice's copy verifies too" \
	openssl cms -verify -CAfile "$PKI/root.crt" -in se.inner-alice -out /dev/null
check_exit 0 "sign+encrypt: galsmime verify looks inside with alice's key" \
	sh -c "'$GALSMIME' verify -q $PASS <se.eml >/dev/null"
check_exit 0 "encrypt --sign --opaque exits 0" sh -c "'$GALSMIME' encrypt --sign --opaque $PASS <bob.eml >seo.eml"
ocdecrypt bob seo.eml >seo.inner 2>/dev/null
check "sign+encrypt opaque: inside is signed-data" \
	sh -c "grep -qi 'smime-type=signed-data' seo.inner"
check "sign+encrypt opaque: openssl smime -verify accepts it" \
	openssl smime -verify -CAfile "$PKI/root.crt" -in seo.inner -out seo.content
check "sign+encrypt opaque: the signed content is the original text" \
	contains seo.content 'this is a test message'
"$GALSMIME" encrypt --sign --passphrase-file "$PKI/wrongpass" <bob.eml >sewrong.out 2>sewrong.err
rc=$?
check "sign+encrypt with a wrong passphrase: exit 77, nothing written" \
	sh -c "[ $rc = 77 ] && [ ! -s sewrong.out ]"

# ---- --cipher auto ----
check_exit 0 "--cipher auto exits 0" sh -c "'$GALSMIME' encrypt --cipher auto <bob.eml >auto.eml"
check "auto: CBC for bob, who announced no capabilities" \
	test "$(cms_print auto.eml | algs_after /dev/stdin contentEncryptionAlgorithm)" = aes-256-cbc
check "auto: EnvelopedData" sh -c "openssl cms -cmsout -print -in auto.eml | grep -q 'contentType: pkcs7-envelopedData'"
# Capabilities are recorded by imports; until then, record them the
# way the store keeps them to see auto choose GCM (skipped when the
# store's schema is not the one this knows).
db="$GALSMIME_HOME/galsmime.db"
capset() { # USER OIDS
	fp=$(openssl x509 -in "$PKI/$1.crt" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f)
	printf "INSERT OR REPLACE INTO capability(certificate, oids, seen_at)
		SELECT id, '%s', strftime('%%s','now') FROM certificate WHERE sha256 = '%s';\n" "$2" "$fp" |
		sqlite3 "$db" 2>/dev/null
}
if have sqlite3 && capset bob "2.16.840.1.101.3.4.1.46,2.16.840.1.101.3.4.1.42" &&
	[ "$(echo 'SELECT count(*) FROM capability;' | sqlite3 "$db")" = 1 ]; then
	"$GALSMIME" encrypt --cipher auto <bob.eml >auto2.eml 2>/dev/null
	check "auto: GCM when bob's recorded capabilities list AES-256-GCM" \
		test "$(cms_print auto2.eml | algs_after /dev/stdin contentEncryptionAlgorithm)" = aes-256-gcm
	check "auto: and bob decrypts it" can_read bob auto2.eml
	msg alice@example.org "bob@example.org, grace@example.org" "bob and grace" >bg.eml
	"$GALSMIME" encrypt --cipher auto <bg.eml >auto3.eml 2>/dev/null
	check "auto: CBC when one recipient (grace) announced nothing" \
		test "$(cms_print auto3.eml | algs_after /dev/stdin contentEncryptionAlgorithm)" = aes-256-cbc
	capset grace "2.16.840.1.101.3.4.1.42"
	"$GALSMIME" encrypt --cipher auto <bg.eml >auto4.eml 2>/dev/null
	check "auto: CBC when grace's capabilities lack GCM" \
		test "$(cms_print auto4.eml | algs_after /dev/stdin contentEncryptionAlgorithm)" = aes-256-cbc
else
	skip "auto: GCM when every recipient announced AES-256-GCM" \
		"cannot record capabilities in this store (sqlite3 or the capability table missing)"
fi

# ---- fail closed ----
# enc_fails DESC INPUT ARGS...: exit 67, nothing on stdout
enc_fails() {
	desc=$1 in=$2; shift 2
	"$GALSMIME" encrypt "$@" <"$in" >fail.out 2>fail.err
	rc=$?
	if [ "$rc" = 67 ] && [ ! -s fail.out ]; then
		pass "$desc"
	else
		fail "$desc" "exit $rc (wanted 67), stdout $(wc -c <fail.out) bytes, stderr: $(cat fail.err)"
	fi
}
# names WHO REASON-RE: exactly one stderr line names WHO, and gives the reason
names() {
	n=$(grep -c -- "$1" fail.err)
	[ "$n" = 1 ] && grep -- "$1" fail.err | grep -Eiq -- "$2"
}
for case in "nobody|no certificate" "dave|expired" "erin|keyEncipherment|key usage|signing-only" \
	"frank|emailProtection|e-mail" "mallory|trust anchor|untrusted"; do
	u=${case%%|*} re=${case#*|}
	msg alice@example.org "$u@example.org" "for $u" >to-$u.eml
	enc_fails "$u: exit 67 and nothing written" to-$u.eml
	check "$u: stderr names $u@example.org with the reason, on one line" names "$u@example.org" "$re"
done
# a certificate from the trusted intermediate that OpenSSL still refuses
# (an EC key with explicit curve parameters): the reason is OpenSSL's,
# not "import the CA" (which would send the user after the wrong fix)
openssl ecparam -name prime256v1 -param_enc explicit -genkey -noout -out xp.key 2>/dev/null
openssl req -new -key xp.key -subj "/O=galsmime test/CN=Xavier Example/emailAddress=xavier@example.org" \
	-out xp.csr 2>/dev/null
printf 'keyUsage=critical,digitalSignature,keyAgreement\nextendedKeyUsage=emailProtection\nsubjectAltName=email:xavier@example.org\n' >xp.ext
openssl x509 -req -in xp.csr -CA "$PKI/inter.crt" -CAkey "$PKI/inter.key" -CAcreateserial -days 3650 \
	-extfile xp.ext -out xp.crt 2>/dev/null
check "control: xavier's certificate has an explicit-parameters EC key" \
	sh -c "openssl x509 -in xp.crt -noout -text | grep -q 'Field Type: prime-field'"
gs cert import xp.crt >/dev/null
msg alice@example.org xavier@example.org "for xavier" >to-xavier.eml
enc_fails "xavier (explicit EC parameters): exit 67 and nothing written" to-xavier.eml
xavier_reason() { names xavier@example.org 'chain does not verify: .*explicit' && ! grep -q 'trust import' fail.err; }
check "xavier: the reason is OpenSSL's, not a missing trust anchor" xavier_reason
"$GALSMIME" gal explain xavier@example.org >xp.explain 2>&1
check "xavier: gal explain gives the same reason" contains xp.explain 'verdict +untrusted: its chain does not verify: .*explicit'
cat >mixed.eml <<EOM
From: Alice <alice@example.org>
To: bob@example.org, nobody@example.org, dave@example.org
Cc: erin@example.org, frank@example.org
Bcc: mallory@example.org
Subject: some good, some bad
Date: Sat, 28 Nov 2026 12:00:00 +0000
Message-ID: <mixed.t30@example.org>
MIME-Version: 1.0
Content-Type: text/plain

this is a test message.
EOM
enc_fails "five bad recipients among good ones: exit 67 and nothing written" mixed.eml
check "each bad recipient is named once with its reason" sh -c '
	names() { [ "$(grep -c -- "$1" fail.err)" = 1 ] && grep -- "$1" fail.err | grep -Eiq -- "$2"; }
	names nobody@ "no certificate" && names dave@ expired &&
	names erin@ "keyEncipherment|key usage" && names frank@ "emailProtection|e-mail" &&
	names mallory@ "trust anchor|untrusted"'
check "the good recipient bob is not named as a failure" lacks fail.err 'bob@example.org'
check "each stderr line names at most one recipient" \
	sh -c "! grep -E '@example.org.*@example.org' fail.err"
enc_fails "--to with a bad recipient fails closed too" bob.eml --to dave@example.org
check "--to: dave named" names dave@example.org expired
msg alice@example.org carol@example.org "carol and frank" >cf.eml
enc_fails "--cipher aes256-gcm fails closed the same way" cf.eml --cipher aes256-gcm --to frank@example.org
check_exit 0 "--allow-untrusted accepts mallory" \
	sh -c "'$GALSMIME' encrypt --allow-untrusted <to-mallory.eml >mal.out 2>/dev/null"
check "--allow-untrusted: mallory decrypts" can_read mallory mal.out
grep -v '^To:' bob.eml >norcpt.eml
"$GALSMIME" encrypt --no-self <norcpt.eml >norcpt.out 2>norcpt.err
rc=$?
check "no recipients at all: usage error 64, nothing written" \
	sh -c "[ $rc = 64 ] && [ ! -s norcpt.out ] && [ \$(wc -l <norcpt.err) = 1 ]"
