#!/bin/sh
# Trust on mutt's path (issue 10): what galsmime hands mutt and neomutt
# through smime.rc may not let them do what galsmime itself refuses.
# Each rule is shown through the installed binary, then with the real
# mutt and neomutt in tmux:
#  1. sync-index writes only gs_resolve's choice, in lines mutt reads
#     whole: a GAL contact whose address is a thousand characters ending
#     in ceo@example.org once became a trusted line for the CEO;
#  2. the sender rule: mutt compares the signer's address with From only
#     as a prefix, so get-signer-cert writes the certificate only when it
#     names From exactly (lookalike is bob@example.org.evil.example);
#  3. mutt encrypt judges each certificate as galsmime encrypt does
#     (revoked, untrusted, expired, wrong purpose: exit 67, named);
#  4. certificate names on mutt's screen are escaped: a CN holding CR,
#     erase-line, concealment and BEL cannot draw a good verdict.
. "$TESTS_TOP/tests/lib.sh"
. "$TESTS_TOP/tests/mutt-tmux.sh"

gsm() { "$GALSMIME" mutt "$@" >g.out 2>g.err; rc=$?; }
# ctl FILE: FILE holds a control byte other than newline (or DEL)
ctl() { python3 -c "import sys; d = open(sys.argv[1], 'rb').read(); sys.exit(0 if any(b < 32 and b != 10 or b == 127 for b in d) else 1)" "$1"; }
ocdecrypt() { openssl cms -decrypt -recip "$PKI/$1.crt" -inkey "$PKI/$1.key" -in "$2"; }
# press_through NAME: answer mutt's "Press any key" and "no certfile"
# prompts (a failed command's stderr), keeping the first such screen in
# screen.NAME.prompt, until mutt's own status line shows
press_through() {
	n=0
	: >"screen.$1.prompt"
	while [ $n -lt 5 ] && screen "$1" | grep -Eq 'Press any key|no certfile'; do
		[ -s "screen.$1.prompt" ] || cp "screen.$1" "screen.$1.prompt"
		keys "$1" Enter
		sleep 0.5
		n=$((n + 1))
	done
	settle "$1"
	screen "$1" >/dev/null
}

check "store setup: trust the root, alice's identity" store_setup
check "trust the partner CA (pat's issuer)" gs trust import "$PKI/partner.crt"

# ==== 1. sync-index: only gs_resolve's choice, only whole lines ====
# gal OUT ENTRY...: Exchange recipients as ConvertTo-Json writes them (as t31)
gal() { python3 "$TESTS_TOP/tests/gal/exchange_json.py" "$PKI" "$@"; }
# mutt and neomutt read 1023 bytes of a line: the rest is a line of its own
LONGCEO=$(python3 -c "print('a' * 1023 + 'ceo@example.org')")
LONGBOB=$(python3 -c "print('a' * 1023 + 'bob@example.org')")
ADDR253=$(python3 -c "print('b' * 64 + '@' + ('d' * 58 + '.') * 3 + 'example.org')")
gal gal.json \
	'UserMailbox|Bob Example|bob|Bob Example|bob@example.org|||bob' \
	'UserMailbox|Chief Executive|ceo|Chief Executive|ceo@example.org|||' \
	"MailContact|Partner Pat|pat|Chief Executive|$LONGCEO|smtp:$LONGBOB,smtp:$ADDR253,smtp:x..y@example.org,smtp:z@[192.0.2.1]||pat"
check "the GAL (the CEO without a certificate, bob with his, a partner's contact with long addresses)" \
	gs gal import gal.json --source gal
# a quoted local part holding commas (the importers take none): one of our
# own keys, from the trusted intermediate
openssl req -new -newkey rsa:2048 -nodes -keyout quoted.key -subj "/CN=Quoted" -out quoted.csr 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=emailProtection\nsubjectAltName=@alt\n[alt]\nemail.1=\\"x,ceo@example.org,y\\"@evil.example\n' >quoted.ext
openssl x509 -req -in quoted.csr -CA "$PKI/inter.crt" -CAkey "$PKI/inter.key" -set_serial 8300 -days 3650 \
	-extfile quoted.ext -out quoted.crt 2>/dev/null
cat quoted.crt quoted.key >quoted.pem
check "a key of ours whose address is \"x,ceo@example.org,y\"@evil.example" \
	sh -c "gs() { '$GALSMIME' \"\$@\"; }; gs key import quoted.pem </dev/null >/dev/null &&
	       gs cert list | grep -qF '\"x,ceo@example.org,y\"@evil.example'"
check "control: galsmime itself resolves no certificate for ceo@example.org" \
	test -z "$(chosen ceo@example.org)"
check "control: and the partner's certificate for the long address (the directory binds it)" \
	test "$(chosen "$LONGCEO")" = "$(fp pat)"
gs mutt sync-index "$T_DIR/smime/certificates" --keys "$T_DIR/smime/keys" >sync.out 2>sync.err
check "sync-index exits 0" test $? = 0
IDX="$T_DIR/smime/certificates/.index"
check "sync-index: every line within 512 bytes (mutt reads 1023)" awk 'length($0) > 511 { exit 1 }' "$IDX"
check "sync-index: every line has six fields, a plain mailbox first, a one-word label" \
	awk 'NF != 6 { exit 1 } $1 !~ /^[A-Za-z0-9!#$%&'"'"'*+\/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'"'"'*+\/=?^_`{|}~-]+)*@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/ { exit 1 }
	     length($1) > 254 { exit 1 } $3 !~ /^([A-Za-z0-9._-]|[^\001-\177])+$/ { exit 1 }' "$IDX"
check "sync-index: nothing about the CEO (no line for ceo@example.org)" lacks "$IDX" 'ceo@example\.org'
k=$(awk '$1 == "bob@example.org" && $5 == "t" { print $2 }' "$IDX")
check "sync-index: bob's one line is his own certificate, trusted" \
	sh -c "[ \$(grep -c 'bob@example.org ' '$IDX') = 1 ] && [ -n '$k' ] &&
	       [ '$(fpr "$T_DIR/smime/certificates/$k" 2>/dev/null)' = '$(fp bob)' ]"
check "sync-index: a 253-octet address (within RFC 5321) is listed whole" \
	awk -v a="$ADDR253" '$1 == a && $5 == "t" { f = 1 } END { exit !f }' "$IDX"
check "sync-index: no quoted local part, no double dot, no address literal" \
	sh -c "! grep -Eq '^(\"|x\\.\\.y@|z@\\[)' '$IDX'"
check "sync-index: the summary counts what it left out (2 long, quoted, x..y, literal)" \
	grep -q '^.*/certificates: [0-9]* index lines, [0-9]* certificate files, 5 addresses left out' sync.out
check "sync-index: the keys .index lists alice, not the quoted address (nor ceo@ out of it)" \
	sh -c "awk '\$1 == \"alice@example.org\" && \$5 == \"t\" { f = 1 } END { exit !f }' '$T_DIR/smime/keys/.index' &&
	       ! grep -Eq '\"|ceo@' '$T_DIR/smime/keys/.index' &&
	       grep -q '^.*/keys: 1 key lines, 1 addresses left out' sync.out"
KEYID=$(awk '$1 == "alice@example.org" { print $2; exit }' smime/keys/.index)
write_muttrc "$KEYID"

for M in $MUTTS; do
	S=$M-oppenc-ceo
	if compose "$M" "$S" "set crypt_autosign crypt_opportunistic_encrypt" ceo@example.org 'Security: Sign \(S/MIME\)'; then
		check "$M, opportunistic, the CEO has no certificate: signed, not encrypted" \
			sh -c "sed '/^\$/q' '$CAP/1.eml' | grep -qi 'multipart/signed'"
		check "$M, opportunistic: the partner cannot read the CEO's mail" not ocdecrypt pat "$CAP/1.eml"
	fi
	stop "$S"

	S=$M-oppenc-bob
	if compose "$M" "$S" "set crypt_autosign crypt_opportunistic_encrypt" bob@example.org 'Sign, Encrypt'; then
		check "$M, opportunistic to bob: no picker offering two trusted keys" \
			sh -c "! grep -q 'S/MIME certificates matching' screen.$S"
		ocdecrypt bob "$CAP/1.eml" >opp.inner 2>/dev/null
		check "$M, opportunistic to bob: encrypted, bob reads it" grep -q 'eagle lands at noon' opp.inner
		check "$M, opportunistic to bob: the partner cannot" not ocdecrypt pat "$CAP/1.eml"
	fi
	stop "$S"
done

# ==== 2. the sender rule on mutt's path ====
# signed_mbox FILE USER FROM SUBJECT [SIGNER-CERT SIGNER-KEY]: an mbox of one
# message signed by USER's key (detached, openssl smime), From: FROM
signed_mbox() {
	crt=${5:-$PKI/$2.crt} key=${6:-$PKI/$2.key}
	{
		echo "From x@example.org Sat Nov 28 12:00:00 2026"
		echo "Date: Sat, 28 Nov 2026 12:00:00 +0000"
		echo "Message-ID: <$4.t83@example.org>"
		printf 'Content-Type: text/plain; charset=us-ascii\n\nThe eagle lands at noon.\n' |
			openssl smime -sign -md sha256 -signer "$crt" -inkey "$key" -certfile "$PKI/inter.crt" \
				-from "$3" -to alice@example.org -subject "$4"
		echo
	} >"$1"
}
signed_mbox mail/lookalike lookalike 'Bob Example <bob@example.org>' lookalike-signed
signed_mbox mail/alice alice 'Alice Example <alice@example.org>' alice-signed
# an address of 270 characters, ending in bob's: mutt reads get-cert-email's
# lines into 256 bytes, so the line's tail once read as bob@example.org
LONGSAN=$(python3 -c "print('a' * 255 + 'bob@example.org')")
openssl req -new -newkey rsa:2048 -nodes -keyout longsan.key -subj "/CN=Long Address" -out longsan.csr 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=emailProtection\nsubjectAltName=email:%s\n' \
	"$LONGSAN" >longsan.ext
openssl x509 -req -in longsan.csr -CA "$PKI/inter.crt" -CAkey "$PKI/inter.key" -set_serial 8301 -days 3650 \
	-extfile longsan.ext -out longsan.crt 2>/dev/null
signed_mbox mail/longsan x 'Bob Example <bob@example.org>' longsan-signed longsan.crt longsan.key
check "control: galsmime verify says the lookalike signature is not from bob (signer is not From)" \
	sh -c "tail -n +2 mail/lookalike | '$GALSMIME' verify -q; [ \$? = 1 ]"

for f in lookalike longsan; do
	tail -n +2 mail/$f >$f.eml
	: >$f.signer
	gsm get-signer-cert $f.eml $f.signer
	check "get-signer-cert, $f signing From bob: refused (exit 1), %c stays empty" \
		sh -c "[ $rc = 1 ] && [ ! -s $f.signer ]"
	check "get-signer-cert, $f: one line saying the certificate does not name From" \
		sh -c "one_line() { [ \$(wc -l <\$1) = 1 ]; }; one_line g.err &&
		       grep -q '^galsmime mutt get-signer-cert: the signer.s certificate does not name the From address bob@example.org' g.err"
done
check "get-signer-cert, lookalike: the line names the certificate's address" \
	sh -c "'$GALSMIME' mutt get-signer-cert lookalike.eml x.pem 2>&1 | grep -q 'it names bob@example.org.evil.example'"
tail -n +2 mail/alice >alice.eml
gsm get-signer-cert alice.eml alice.signer
check "get-signer-cert, alice signing From alice: her certificate in %c" \
	sh -c "[ $rc = 0 ] && [ '$(fpr alice.signer 2>/dev/null)' = '$(fp alice)' ]"
# the From field as mutt and GMime might read it differently
from_case() { # DESC FROM-LINE: lookalike's signature under another From field
	sed "s/^From: .*/$2/" lookalike.eml >fc.eml
	gsm get-signer-cert fc.eml fc.pem
	check "get-signer-cert refuses $1" sh -c "[ $rc = 1 ] && [ ! -s fc.pem ] && [ \$(wc -l <g.err) = 1 ]"
}
from_case "a comment inside the From address (GMime reads bob@example.org.evil.example)" \
	'From: bob@example.org (Bob) .evil.example'
from_case "a From group (mutt would compare the group's name)" \
	'From: bob@example.org: bob@example.org.evil.example;'
from_case "two From fields" 'From: bob@example.org.evil.example\nFrom: bob@example.org'
from_case "no From field" 'X-No-From: x'
sed 's/^From: .*/From: Someone <bob@example.org.evil.example>/' lookalike.eml >own.eml
gsm get-signer-cert own.eml own.pem
check "get-signer-cert: the lookalike signing From its own address is written (mutt then shows that address)" \
	sh -c "[ $rc = 0 ] && [ '$(fpr own.pem 2>/dev/null)' = '$(fp lookalike)' ]"
gsm get-cert-email longsan.crt
check "get-cert-email of the 270-character address: prints nothing mutt could split (exit 1, one line)" \
	sh -c "[ $rc = 1 ] && [ ! -s g.out ] && [ \$(wc -l <g.err) = 1 ]"
gsm get-cert-email "$PKI/lookalike.crt"
check "get-cert-email of lookalike: its address, one line" \
	sh -c "[ $rc = 0 ] && [ \"\$(cat g.out)\" = bob@example.org.evil.example ]"

for M in $MUTTS; do
	for f in lookalike longsan; do
		S=$M-$f
		if read_msg "$M" "$S" $f $f-signed no; then
			press_through "$S"
			check_screen "$M, $f signing From bob: galsmime's line says the certificate does not name From" \
				"$S.prompt" 'does not name the From address bob@example.org'
			check_screen "$M, $f: mutt: \"S/MIME certificate owner does not match sender\"" \
				"$S" 'certificate owner does not match sender'
			check "$M, $f: never \"S/MIME signature successfully verified\"" \
				sh -c "! grep -q 'successfully verified' screen.$S screen.$S.prompt"
		fi
		stop "$S"
	done
	S=$M-alice
	if read_msg "$M" "$S" alice alice-signed no; then
		check_screen "$M, alice signing From alice: \"S/MIME signature successfully verified\"" \
			"$S" 'S/MIME signature successfully verified'
		check "$M, alice: no prompt, no 'no certfile'" sh -c "! grep -Eq 'no certfile|Press any key' screen.$S"
	fi
	stop "$S"
done

# ==== 4. certificate names on mutt's screen ====
CN=$(printf '\033[2K\rGood signature from Chief Executive <ceo@example.org>\033[8m\a')
openssl req -x509 -newkey rsa:2048 -nodes -keyout evilcn.key -subj "/CN=$CN" -days 3650 \
	-addext "basicConstraints=CA:FALSE" -addext "subjectAltName=email:x@evil.example" -addext "extendedKeyUsage=emailProtection" \
	-out evilcn.crt 2>/dev/null
check "control: the self-signed certificate's CN holds ESC, CR and BEL" \
	sh -c "openssl x509 -in evilcn.crt -noout -subject -nameopt utf8,-esc_ctrl | od -c | grep -q '033'"
printf 'Content-Type: text/plain\n\nhello\n' >content.lf
sed 's/$/\r/' content.lf >content.crlf
openssl smime -sign -binary -md sha256 -signer evilcn.crt -inkey evilcn.key -in content.crlf -outform DER >evilcn.sig
gsm verify evilcn.sig content.crlf
cp g.err evilcn.verify.err
check "verify, the CN with escapes (self-signed): not good, first line FAILED" \
	sh -c "[ $rc = 1 ] && head -n 1 g.err | grep -q '^Verification FAILED'"
check "verify, the CN with escapes: no control byte on stderr" not ctl g.err
check "verify, the CN with escapes: the name is shown escaped" \
	grep -qF 'BAD signature from \x1b[2K\x0dGood signature from Chief Executive <ceo@example.org>\x1b[8m\x07' g.err
check "verify: no line begins with 'Good signature'" sh -c "! grep -q '^Good signature' g.err"
openssl smime -sign -nodetach -binary -md sha256 -signer evilcn.crt -inkey evilcn.key -in content.crlf -outform DER >evilcn.p7m
gsm verify-opaque evilcn.p7m
check "verify-opaque, the CN with escapes: not good, the name escaped" \
	sh -c "[ $rc = 1 ] && grep -qF 'BAD signature from \\x1b[2K\\x0d' g.err"
check "... no control byte on stderr" not ctl g.err
# the same CN from the trusted intermediate, without an address, signing only
openssl req -new -newkey rsa:2048 -nodes -keyout evilcn2.key -subj "/CN=$CN" -out evilcn2.csr 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=emailProtection\n' >evilcn2.ext
openssl x509 -req -in evilcn2.csr -CA "$PKI/inter.crt" -CAkey "$PKI/inter.key" -set_serial 8302 -days 3650 \
	-extfile evilcn2.ext -out evilcn2.crt 2>/dev/null
openssl smime -sign -binary -md sha256 -signer evilcn2.crt -inkey evilcn2.key -in content.crlf -outform DER >evilcn2.sig
gsm verify evilcn2.sig content.crlf
check "verify, the CN with escapes from the trusted CA: good, and escaped (no control byte)" \
	sh -c "[ $rc = 0 ] && grep -qF 'Good signature from \\x1b[2K\\x0dGood signature' g.err && ! grep -q '^Good signature from Chief' g.err" 
check "... no control byte on stderr" not ctl g.err
gsm encrypt content.lf evilcn2.crt
check "encrypt to it (signing only): exit 67, the subject named escaped, no control byte" \
	sh -c "[ $rc = 67 ] && [ ! -s g.out ] && [ \$(wc -l <g.err) = 1 ] && grep -q 'Chief Executive' g.err"
check "... no control byte on stderr" not ctl g.err
gs cert import evilcn.crt >/dev/null 2>&1
gs mutt sync-index "$T_DIR/smime/certificates" --keys "$T_DIR/smime/keys" >/dev/null 2>&1
check "sync-index: the CN with escapes became a one-word label (x@evil.example, invalid)" \
	awk '$1 == "x@evil.example" && $5 == "i" && $3 == "__2K_Good_signature_from_Chief_Executive__ceo_example.org___8m_" { f = 1 } END { exit !f }' "$IDX"
{
	echo "From x@evil.example Sat Nov 28 12:00:00 2026"
	echo "Message-ID: <evilcn.t83@example.org>"
	openssl smime -sign -md sha256 -signer evilcn.crt -inkey evilcn.key -in content.lf \
		-from 'Chief Executive <ceo@example.org>' -to alice@example.org -subject evilcn-signed
	echo
} >mail/evilcn
for M in $MUTTS; do
	S=$M-evilcn
	if read_msg "$M" "$S" evilcn evilcn-signed no; then
		press_through "$S"
		check_screen "$M, the CN with escapes: mutt shows 'could NOT be verified'" "$S" 'S/MIME signature could NOT be verified'
		check_screen "$M, the CN with escapes: the name shows escaped" "$S" 'BAD signature from \\x1b\[2K\\x0dGood signature'
		check "$M, the CN with escapes: no screen line begins with 'Good signature'" \
			sh -c "! grep -Eq '^ *Good signature' screen.$S"
	fi
	stop "$S"
done

# ==== 3. mutt encrypt judges every certificate as galsmime encrypt does ====
printf 'Content-Type: text/plain\n\nthe eagle lands at noon\n' >body.lf
gsm encrypt body.lf "$PKI/bob.crt"
check "encrypt to bob (control): exit 0, DER" sh -c "[ $rc = 0 ] && [ -s g.out ] && [ ! -s g.err ]"
for u in mallory:'trust anchor' dave:expired erin:keyEncipherment frank:emailProtection; do
	n=${u%%:*} why=${u#*:}
	gsm encrypt body.lf "$PKI/bob.crt" "$PKI/$n.crt"
	check "encrypt to bob and $n: exit 67, nothing on stdout, one line naming $n@ and '$why'" \
		sh -c "[ $rc = 67 ] && [ ! -s g.out ] && [ \$(wc -l <g.err) = 1 ] &&
		       grep -q '^galsmime mutt encrypt: $n@example.org: .*$why' g.err"
done
gsm encrypt --allow-untrusted body.lf "$PKI/mallory.crt"
check "encrypt --allow-untrusted to mallory: exit 0, mallory reads it" \
	sh -c "[ $rc = 0 ] && openssl cms -decrypt -inform DER -in g.out -recip '$PKI/mallory.crt' -inkey '$PKI/mallory.key' >/dev/null 2>&1"
gsm encrypt --allow-untrusted body.lf "$PKI/dave.crt"
check "encrypt --allow-untrusted to dave: still refused (expired), exit 67" sh -c "[ $rc = 67 ] && [ ! -s g.out ]"
gsm encrypt body.lf "$PKI/inter.crt"
check "encrypt to a file holding only a CA certificate: exit 67" sh -c "[ $rc = 67 ] && [ ! -s g.out ]"

# revoke bob, after sync-index listed him as trusted (a stale index)
cp -r "$PKI/ca-inter" ca
sed -i 's|^dir = .*|dir = ca|' ca/ca.cnf
CA="openssl ca -batch -config ca/ca.cnf -cert $PKI/inter.crt -keyfile $PKI/inter.key"
check "revoke bob: a CRL of the intermediate, imported" \
	sh -c "$CA -revoke '$PKI/bob.crt' 2>/dev/null && $CA -gencrl -crldays 30 -out bob.crl 2>/dev/null &&
	       '$GALSMIME' crl import bob.crl >/dev/null"
check "control: mutt's .index still lists bob as trusted" \
	awk '$1 == "bob@example.org" && $5 == "t" { f = 1 } END { exit !f }' "$IDX"
gsm encrypt body.lf "$PKI/bob.crt"
check "encrypt to revoked bob: exit 67, one line naming bob and 'revoked'" \
	sh -c "[ $rc = 67 ] && [ ! -s g.out ] && [ \$(wc -l <g.err) = 1 ] &&
	       grep -q '^galsmime mutt encrypt: bob@example.org: revoked' g.err"
# a hand-kept index line may trust what galsmime does not
k=$(openssl x509 -in "$PKI/mallory.crt" -noout -hash).7
cp "$PKI/mallory.crt" "$T_DIR/smime/certificates/$k"
echo "mallory@example.org $k Mallory ? t se" >>"$IDX"

# refused M NAME RECIPIENT REGEX: compose to RECIPIENT with crypt_autoencrypt;
# sending shows galsmime's line matching REGEX; nothing is sent
refused() {
	m=$1 s=$2 to=$3 re=$4
	cp read.rc compose.rc
	echo 'set crypt_autoencrypt' >>compose.rc
	rm -f "$CAP"/*
	start "$s" "$m -n -F $T_DIR/compose.rc -s refused-$s $to"
	if ! wait_for "$s" '^ *Security: .*Encrypt'; then
		fail "$m: the compose menu shows up, encrypting ($s)" "$(screen "$s")"
		return
	fi
	settle "$s"
	keys "$s" y
	if wait_for "$s" "$re"; then
		pass "$m: sending to $to: mutt shows galsmime's line /$re/"
	else
		fail "$m: sending to $to: mutt shows galsmime's line /$re/" "$(screen "$s")"
	fi
	press_through "$s"
	sleep 0.5
	check "$m: nothing sent to $to" test -z "$(ls "$CAP")"
}
for M in $MUTTS; do
	refused "$M" "$M-revoked" bob@example.org 'galsmime mutt encrypt: bob@example.org: revoked'
	stop "$M-revoked"
	refused "$M" "$M-untrusted" mallory@example.org 'galsmime mutt encrypt: mallory@example.org: its chain does not reach a trust anchor'
	stop "$M-untrusted"
done
