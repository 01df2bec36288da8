#!/bin/sh
# scripts/Export-GalSmime.ps1, the administrator's side. No PowerShell
# runs here, so: the script parses with tree-sitter's PowerShell grammar
# (tests/ps, installed by scripts/install-deps), and tests/gal/export-
# shape.json, the exact shape it writes (one ConvertTo-Json -Compress
# object a line between "[" and "]", the properties in its [ordered]
# order, certificates as base64, EmailAddresses as the ProxyAddress
# strings, RecipientType by name), imports as it should.
#
# export-shape.json was made once with the openssl command line (a CA
# "Contoso Issuing CA", export-shape-ca.crt, and two users) and Python's
# json.dumps(separators=(',', ':')) in the script's layout.
. "$TESTS_TOP/tests/lib.sh"

top=$TESTS_TOP
PS1=$top/scripts/Export-GalSmime.ps1
FIX=$top/tests/gal/export-shape.json

# ---- the script parses ----
if have node && [ -d "$top/tests/ps/node_modules/web-tree-sitter" ]; then
	parse() { node "$top/tests/ps/parse.mjs" "$top/tests/ps/node_modules/tree-sitter-powershell/tree-sitter-powershell.wasm" "$1"; }
	parse "$PS1" >parse.out 2>&1; rc=$?
	check "Export-GalSmime.ps1 parses as PowerShell, without an error node (exit $rc)" test "$rc" = 0
	check "... the whole script (its functions and the try block)" \
		sh -c "grep -q '^program ' parse.out && [ \$(grep -c '^function ' '$PS1') -ge 5 ]"
	# the parser can fail: a copy with a brace missing does
	sed '0,/^function Get-Prop/{s/^function Get-Prop(\$Object, \[string\] \$Name) {/function Get-Prop($Object, [string] $Name/}' \
		"$PS1" >broken.ps1
	parse broken.ps1 >broken.out 2>&1; rc=$?
	check "control: a copy with one brace missing does not parse (exit $rc)" test "$rc" != 0
else
	fail "Export-GalSmime.ps1 parses as PowerShell" "node or tests/ps/node_modules missing: run scripts/install-deps"
fi

# ---- the shape it writes ----
keys_script=$(sed -n '/\[ordered\] @{/,/^    }/p' "$PS1" | sed -n 's/^ *\([A-Za-z]*\) *= .*/\1/p' | tr '\n' ' ')
keys_fixture=$(sed -n 2p "$FIX" | python3 -c 'import json,sys; print(" ".join(json.loads(sys.stdin.read().rstrip(",\n")).keys()))')
check "the fixture's properties are the script's, in its order" test "$keys_script" = "$keys_fixture "
check "the fixture is laid out as the script writes it: [, one object a line, ]" \
	sh -c "[ \"\$(sed -n 1p '$FIX')\" = '[' ] && [ \"\$(tail -1 '$FIX')\" = ']' ] &&
	       [ \$(grep -c '^{.*}' '$FIX') = \$((\$(wc -l <'$FIX') - 2)) ]"
gs trust import "$top/tests/gal/export-shape-ca.crt" >/dev/null
gs gal import "$FIX" --source contoso >imp.out 2>&1; rc=$?
check "gal import reads it (exit $rc)" test "$rc" = 0
check "... 4 entries, 5 addresses, nothing skipped" contains imp.out '^contoso \(snapshot\): 4 entries .*, 5 addresses, .* 0 skipped$'
check "a proxy address resolves to its mailbox's certificate" \
	sh -c "'$GALSMIME' gal explain adele.vance@contoso.example | grep -q '^chosen: '"
check "the mailbox with the same certificate in both attributes: one candidate" \
	test "$(gs gal explain meganb@contoso.example | grep -c '^[* ] [0-9a-f]\{64\}$')" = 1
check "the X500 and SIP proxies are not addresses" sh -c "! '$GALSMIME' gal list --source contoso | grep -qi 'x500\\|sip:'"
gs gal explain sales@contoso.example >sales.out 2>&1
check "the distribution list: lists have no certificate" contains sales.out 'a distribution list in the GAL as .Sales. \[contoso\]: lists have no certificate; encrypt to its members'
