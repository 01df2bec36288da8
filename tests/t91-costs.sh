#!/bin/sh
# Cost caps: small messages that used to cost a verifier seconds to
# minutes of CPU (a 3070-bit RSA exponent, 100 CAs with that key, 100
# signers: 62 s; also many digest algorithms, certificates, CRLs, signed
# parts or recipients, a long chain, an explicit EC curve) get a verdict with
# the reason "limit" and say which cap, or for an encrypted part exit 65
# with one line: never a crash or a hang. Each cap's edge stays good.
# Verdicts only: CPU time is measured in scripts/bench, never here.
. "$TESTS_TOP/tests/lib.sh"

P="--passphrase-file $PKI/pass"
gs trust import "$PKI/root.crt" >/dev/null
gs cert import "$PKI/inter.crt" >/dev/null
gs key import "$PKI/bob.p12" $P >/dev/null

mkdir costly
python3 "$TESTS_TOP/tests/sec/costly.py" "$PKI" costly full signers signers:8 chain exponent explicit \
	depth depth:7 digests digests:3 certs certs:60 crls crls:16 parts recipients 2>costly.err
check "the costly messages are made" sh -c "[ \$(ls costly/*.eml | wc -l) = 16 ] || { cat costly.err; exit 1; }"
check "the attack is about 280 KB" sh -c "s=\$(stat -c %s costly/full.eml); [ \$s -gt 250000 ] && [ \$s -lt 320000 ]"

# verdict NAME: verify --json into NAME.json, its exit in NAME.rc, stderr in NAME.err
verdict() {
	"$GALSMIME" verify --json <"costly/$1.eml" >"$1.json" 2>"$1.err"
	echo $? >"$1.rc"
	"$GALSMIME" verify <"costly/$1.eml" >/dev/null 2>"$1.human"
}
# json NAME EXPR: a python expression on the report `r` holds
json() {
	python3 -c "
import json, sys
r = json.load(open(sys.argv[1]))
signers = [s for l in r['layers'] for s in l.get('signers', [])]
notes = ' '.join(p['note'] for p in r['parts'])
sys.exit(0 if ($2) else 1)" "$1.json"
}

for v in full signers chain exponent explicit depth digests certs crls parts; do
	verdict $v
	check "$v: a verdict, not good (exit 1)" sh -c "[ \$(cat $v.rc) = 1 ] && [ -s $v.json ]"
done
check "the attack (100 signers, 100 CAs, a 3070-bit exponent): not checked, the note says 100 signers" \
	json full "r['status'] == 'bad' and 'limit' in r['reasons'] and '100 signers in one CMS structure (at most 8)' in notes"
check "... and a person reads why, with no 'no signers' line" sh -c \
	"grep -q 'signature not checked: 100 signers in one CMS structure' full.human && ! grep -q 'has no signers' full.human"
check "100 good signers (alice, trusted, From): not checked" \
	json signers "'limit' in r['reasons'] and '100 signers in one' in notes and signers == []"
verdict signers-8
check "8 good signers: good (the cap's edge)" json signers-8 "r['status'] == 'good' and len(signers) == 8"
check "a signer under 50 CAs whose key has a 3070-bit exponent: no chain through them" \
	json chain "signers[0]['status'] == 'bad' and 'limit' in signers[0]['reasons'] and 'issuer' in signers[0]['detail'] and 'refused' in signers[0]['detail']"
check "a signer whose key has a 3070-bit exponent: unchecked, the detail says so" \
	json exponent "signers[0]['status'] == 'error' and 'limit' in signers[0]['reasons'] and 'exponent' in signers[0]['detail']"
check "a signer with an EC key on explicit curve parameters: unchecked" \
	json explicit "signers[0]['status'] == 'error' and 'limit' in signers[0]['reasons'] and 'named curve' in signers[0]['detail']"
check "a good signature 13 intermediates below the anchor: chain too long" \
	json depth "signers[0]['status'] == 'bad' and 'limit' in signers[0]['reasons'] and 'longer than 8 intermediates' in signers[0]['detail']"
verdict depth-7
check "... 8 intermediates: good (the cap's edge)" json depth-7 "r['status'] == 'good'"
check "1001 digest algorithms over a 1 MB body: not checked" \
	json digests "'limit' in r['reasons'] and '1001 digest algorithms in one CMS structure (at most 4)' in notes"
verdict digests-3
check "... 4 digest algorithms: good" json digests-3 "r['status'] == 'good'"
check "2002 certificates in the signature: not read" \
	json certs "'limit' in r['reasons'] and '2002 certificates in one CMS structure (at most 64)' in notes"
verdict certs-60
check "... 62 certificates: good" json certs-60 "r['status'] == 'good'"
check "20 CRLs in the signature: not read" \
	json crls "'limit' in r['reasons'] and '20 CRLs in one CMS structure (at most 16)' in notes"
verdict crls-16
check "... 16 CRLs: good" json crls-16 "r['status'] == 'good'"
check "200 signed parts: 16 signers checked, then one note for the rest" \
	json parts "'limit' in r['reasons'] and 'partial' in r['reasons'] and len(signers) == 16 and notes.count('not checked') == 1"

# the procmail recipes' commands on the attack: a verdict in the header, nothing learnt
"$GALSMIME" verify --annotate --authserv-id mx.test --passthrough --quiet <costly/full.eml >ar.out 2>ar.err
rc=$?
check "verify --annotate --passthrough: smime=fail, not checked" sh -c \
	"[ $rc = 0 ] && head -1 ar.out | grep -q 'smime=fail (not checked: over a safety'"
"$GALSMIME" harvest <costly/full.eml >harvest.out 2>harvest.err
rc=$?
check "harvest: exit 0, nothing learnt" sh -c "[ $rc = 0 ] && grep -q 'nothing learnt' harvest.err"
check "... the attacker's certificates are not in the store" sh -c "! '$GALSMIME' cert list 2>/dev/null | grep -qi 'costly'"

# an encrypted part with 1100 RecipientInfos (Exchange Online allows 1000 recipients)
"$GALSMIME" decrypt $P <costly/recipients.eml >rcpt.out 2>rcpt.err
rc=$?
check "1100 recipients: exit 65, one line, nothing written" sh -c \
	"[ $rc = 65 ] && [ ! -s rcpt.out ] && [ \$(wc -l <rcpt.err) = 1 ] && grep -q '1100 recipients in one CMS structure (at most 1024)' rcpt.err"
"$GALSMIME" decrypt --passthrough $P <costly/recipients.eml >rcpt.out 2>/dev/null
check "... with --passthrough: the message as it came" cmp -s costly/recipients.eml rcpt.out

