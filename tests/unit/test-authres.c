/* test-authres.c: lib/authres.c: every spelling of our authserv-id is
 * removed from the header and nothing else is touched; our own field is
 * valid RFC 8601, folded, bounded and free of control characters
 * whatever the certificate holds. */
#include "unit.h"

#define ID "mx.test"

/* The message after gs_auth_results_strip (or _annotate with `r`), as one
 * string; *removed gets the count. Fails the test on an error. */
static char *
rewritten(const char *msg, size_t len, const gs_report *r, const char *id, unsigned *removed)
{
	GByteArray *head = NULL;
	size_t rest = 0;
	char *errmsg = NULL, *out;
	gs_status st = r ? gs_auth_results_annotate(msg, len, r, id, &head, &rest, removed, &errmsg)
			 : gs_auth_results_strip(msg, len, id, &head, &rest, removed, &errmsg);

	if (st != GS_OK)
		g_error("%s: %s", gs_status_string(st), errmsg);
	g_assert_cmpuint(rest, <=, len);
	out = g_malloc(head->len + (len - rest) + 1);
	if (head->len) /* (an empty GByteArray has no data) */
		memcpy(out, head->data, head->len);
	memcpy(out + head->len, msg + rest, len - rest);
	out[head->len + (len - rest)] = 0;
	g_byte_array_unref(head);
	return out;
}

static char *
stripped(const char *msg, unsigned *removed)
{
	return rewritten(msg, strlen(msg), NULL, ID, removed);
}

static const char top[] = "From: alice <alice@example.org>\nTo: bob@example.org\n";
static const char bottom[] = "Subject: hi\nMIME-Version: 1.0\n\nbody\nAuthentication-Results: mx.test; smime=pass\n";

/* `field` (one header field, with its line end) between `top` and
 * `bottom`: removed, and only it, when `ours`; else every byte stays. */
static void
assert_strip(const char *field, int ours)
{
	char *msg = g_strconcat(top, field, bottom, NULL), *want = g_strconcat(top, ours ? "" : field, bottom, NULL);
	unsigned removed = 99;
	char *got = stripped(msg, &removed);

	if (strcmp(got, want) != 0 || removed != (ours ? 1u : 0u))
		g_test_fail_printf("%s (%u removed): %s", ours ? "not removed" : "touched", removed, field);
	g_free(got);
	g_free(want);
	g_free(msg);
}

static void
test_strip_spellings(void)
{
	static const char *const ours[] = {
		"Authentication-Results: mx.test; smime=pass\n",
		"Authentication-Results: MX.TEST; smime=pass\n",
		"Authentication-Results: Mx.Test; smime=pass\n",
		"Authentication-Results: \"mx.test\"; smime=pass\n",
		"Authentication-Results: \"mx\\.test\"; smime=pass\n",
		"Authentication-Results: \"\\m\\x\\.\\t\\e\\s\\t\"; smime=pass\n",
		"Authentication-Results: \" mx.test \"; smime=pass\n",
		"Authentication-Results: mx.test.; smime=pass\n",
		"Authentication-Results: MX.test..; smime=pass\n",
		"Authentication-Results: \"mx.test.\"; smime=pass\n",
		"Authentication-Results: (a comment) mx.test; smime=pass\n",
		"Authentication-Results: (nested (comment) \\) here) mx.test; smime=pass\n",
		"Authentication-Results:mx.test;smime=pass\n",
		"Authentication-Results: \t mx.test; smime=pass\n",
		"Authentication-Results:\n mx.test; smime=pass\n",
		"Authentication-Results: (folded\n\tcomment)\n \"mx.test\"\n ; smime=pass\n",
		"Authentication-Results: mx.test 1; smime=pass\n",
		"Authentication-Results: mx.test 1 (version one); smime=pass\n",
		"Authentication-Results: mx.test(comment); smime=pass\n",
		"Authentication-Results: mx.test; none\n",
		"Authentication-Results: =?us-ascii?q?mx.test?=; smime=pass\n",
		"Authentication-Results: mx.test;\n smime=pass\n body.smime-identifier=ceo@example.org\n\tbody.smime-serial=01\n",
		"AUTHENTICATION-RESULTS: mx.test; smime=pass\n",
		"authentication-results: mx.test; smime=pass\n",
		"Authentication-Results : mx.test; smime=pass\n",
		"Authentication-Results: mx.test; smime=pass\r\n",
		"ARC-Authentication-Results: i=1; mx.test; smime=pass\n",
		"ARC-Authentication-Results: i=1 (x;y\\)); mx.test; smime=pass\n",
		"arc-authentication-results: i = 2 (hop) ; \"MX.TEST.\"; smime=pass\n",
		"ARC-Authentication-Results: I=1;\n mx.test; smime=pass\n",
		"ARC-Authentication-Results: mx.test; smime=pass\n",
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(ours); i++)
		assert_strip(ours[i], 1);
}

static void
test_strip_keeps_others(void)
{
	static const char *const theirs[] = {
		"Authentication-Results: other.example; smime=pass\n",
		"Authentication-Results: mx.test.example; smime=pass\n",
		"Authentication-Results: sub.mx.test; smime=pass\n",
		"Authentication-Results: mx.testing; smime=pass\n",
		"Authentication-Results: (mx.test) other.example; smime=pass\n",
		"Authentication-Results: \"other mx.test\"; smime=pass\n",
		"Authentication-Results: other.example; smime=pass\n (mx.test; smime=pass)\n",
		"Authentication-Results:   other.example  ;  spf=pass   \n",
		"ARC-Authentication-Results: i=1; other.example; smime=pass\n",
		"ARC-Authentication-Results: i=1; other.example; mx.test=pass\n",
		"ARC-Authentication-Results: i=1 (;mx.test;); other.example; smime=pass\n",
		"X-Authentication-Results: mx.test; smime=pass\n",
		"Authentication-Results-Original: mx.test; smime=pass\n",
		"Comments: Authentication-Results: mx.test; smime=pass\n",
		"X-Note: folded\n Authentication-Results: mx.test; smime=pass\n",
		"Authentication-Results: ; smime=pass\n",
		"Authentication-Results:\n",
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(theirs); i++)
		assert_strip(theirs[i], 0);
}

static void
test_strip_every_copy(void)
{
	const char *msg = "From alice@example.org Sat Nov 28 12:00:00 2026\n"
			  "Authentication-Results: mx.test; smime=pass\n"
			  "Received: from x by y; Sat, 28 Nov 2026 12:00:00 +0000\n"
			  "Authentication-Results: other.example; dkim=pass\n"
			  "aUTHENTICATION-rESULTS: \"MX.TEST\"; smime=pass\n"
			  "X-Bad line without a colon\n"
			  "Authentication-Results: mx.test.;\n\tsmime=pass\n"
			  "From: alice <alice@example.org>\n"
			  "Authentication-Results: mx.test; smime=pass\n"
			  "\n"
			  "Authentication-Results: mx.test; smime=pass\n";
	const char *want = "From alice@example.org Sat Nov 28 12:00:00 2026\n"
			   "Received: from x by y; Sat, 28 Nov 2026 12:00:00 +0000\n"
			   "Authentication-Results: other.example; dkim=pass\n"
			   "X-Bad line without a colon\n"
			   "From: alice <alice@example.org>\n"
			   "\n"
			   "Authentication-Results: mx.test; smime=pass\n";
	unsigned removed = 0;
	char *got = stripped(msg, &removed);

	g_assert_cmpstr(got, ==, want);
	g_assert_cmpuint(removed, ==, 4);
	g_free(got);
}

static void
test_strip_crlf_and_odd_bytes(void)
{
	/* a NUL and 8-bit bytes in fields around ours: kept exactly */
	static const char msg[] = "From: a@example.org\r\nX-Odd: a\0b\xff\r\n"
				  "Authentication-Results: mx.test\0; smime=pass\r\n"
				  "Subject: \xe9t\xe9\r\n\r\nbody\r\n";
	static const char want[] = "From: a@example.org\r\nX-Odd: a\0b\xff\r\n"
				   "Subject: \xe9t\xe9\r\n\r\nbody\r\n";
	unsigned removed = 0;
	char *got = rewritten(msg, sizeof msg - 1, NULL, ID, &removed);

	g_assert_cmpuint(removed, ==, 1);
	g_assert_cmpmem(got, sizeof want - 1, want, sizeof want - 1);
	g_free(got);
}

static void
test_strip_nothing_to_do(void)
{
	static const char *const msgs[] = {
		"From: a@example.org\n\nbody\n",
		"From: a@example.org\nSubject: no body and no empty line",
		"\nAuthentication-Results: mx.test; smime=pass\n",
		"From a@example.org Sat Nov 28 12:00:00 2026\n\nbody\n",
		"From : a@example.org\nSubject: a From field with a blank before its colon\n\n",
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(msgs); i++) {
		unsigned removed = 99;
		char *got = stripped(msgs[i], &removed);

		g_assert_cmpstr(got, ==, msgs[i]);
		g_assert_cmpuint(removed, ==, 0);
		g_free(got);
	}
}

static void
test_strip_no_header(void)
{
	static const char *const msgs[] = {
		"",
		"From a@example.org Sat Nov 28 12:00:00 2026\n",
		"not a header line\nAuthentication-Results: mx.test; smime=pass\n\n",
		" folded first\nAuthentication-Results: mx.test; smime=pass\n\n",
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(msgs); i++) {
		GByteArray *head = NULL;
		size_t rest = 0;
		char *msg = NULL;

		g_assert_cmpint(gs_auth_results_strip(msgs[i], strlen(msgs[i]), ID, &head, &rest, NULL, &msg), ==,
				GS_E_MALFORMED);
		g_assert_null(head);
		g_assert_nonnull(msg);
		g_free(msg);
	}
}

static void
test_id_valid(void)
{
	char *msg = NULL, *big = g_strnfill(256, 'a');
	GByteArray *head = NULL;
	size_t rest;

	g_assert_true(gs_auth_results_id_valid("mx.test"));
	g_assert_true(gs_auth_results_id_valid("mx@test"));
	g_assert_false(gs_auth_results_id_valid(NULL));
	g_assert_false(gs_auth_results_id_valid(""));
	g_assert_false(gs_auth_results_id_valid("mx test"));
	g_assert_false(gs_auth_results_id_valid("mx.test\n"));
	g_assert_false(gs_auth_results_id_valid("h\xc3\xa9te"));
	g_assert_false(gs_auth_results_id_valid(big));
	big[255] = 0;
	g_assert_true(gs_auth_results_id_valid(big));
	g_assert_cmpint(gs_auth_results_strip("A: b\n\n", 6, "bad id", &head, &rest, NULL, &msg), ==, GS_E_PROGRAMMER);
	g_assert_nonnull(msg);
	g_assert_null(head);
	g_free(msg);
	g_free(big);
}

/* Random headers made of our fields in random spellings and other
 * fields: the result is exactly the other fields, in order. */
static void
test_strip_random_headers(void)
{
	static const char *const ours[] = {
		"Authentication-Results: %s; smime=pass\n", "AUTHENTICATION-RESULTS:%s;\n smime=fail\n",
		"ARC-Authentication-Results: i=3; %s; smime=pass\n", "Authentication-Results: (x)\n\t%s 1; none\n",
	};
	static const char *const ids[] = { "mx.test", "MX.Test.", "\"mx\\.test\"", "\"Mx.Test.\"" };
	static const char *const theirs[] = {
		"Authentication-Results: other.example; smime=pass\n", "Received: by mx.test;\n Sat, 28 Nov 2026\n",
		"Subject: Authentication-Results: mx.test\n", "X-Junk line\n", "To: b@example.org\n",
	};
	GRand *rnd = g_rand_new_with_seed(8601);
	int round;

	for (round = 0; round < 500; round++) {
		GString *msg = g_string_new("From: a@example.org\n"), *want = g_string_new(msg->str);
		int i, n = g_rand_int_range(rnd, 0, 12);
		unsigned expect = 0, removed = 0;
		char *got;

		for (i = 0; i < n; i++) {
			if (g_rand_boolean(rnd)) {
				const char *f = ours[g_rand_int_range(rnd, 0, G_N_ELEMENTS(ours))];
				const char *id = ids[g_rand_int_range(rnd, 0, G_N_ELEMENTS(ids))];
				g_string_append_printf(msg, f, id);
				expect++;
			} else {
				const char *f = theirs[g_rand_int_range(rnd, 0, G_N_ELEMENTS(theirs))];
				g_string_append(msg, f);
				g_string_append(want, f);
			}
		}
		g_string_append(msg, "\nAuthentication-Results: mx.test; smime=pass\n");
		g_string_append(want, "\nAuthentication-Results: mx.test; smime=pass\n");
		got = stripped(msg->str, &removed);
		g_assert_cmpstr(got, ==, want->str);
		g_assert_cmpuint(removed, ==, expect);
		g_free(got);
		g_string_free(msg, TRUE);
		g_string_free(want, TRUE);
	}
	g_rand_free(rnd);
}

/* ---- our field ---- */

/* A strict reading of our field (RFC 8601 2.2 with RFC 5322's folding):
 * the name, the authserv-id, ";", smime=RESULT, an optional comment,
 * then body.PROPERTY=VALUE propspecs. Lines within 78 columns (or one
 * word), never over 998 octets, no control characters, continuation
 * lines start with a space, the field ends with its line end. */
static char *unfolded(const char *field);

#define RE_VALUE "([!#$%&'*+.0-9A-Z^_`a-z{|}~-]+(@[0-9A-Za-z.-]+)?|\"([^\"\\\\]|\\\\.)*\")"
#define RE_PROPSPEC "^body\\.smime-(identifier|serial|issuer|part)=" RE_VALUE "$"

static void
assert_field_valid(const char *field, const char *eol)
{
	size_t el = strlen(eol);
	const char *line, *p, *c;
	char *flat, *one, **words, **w;

	g_assert_true(g_str_has_prefix(field, "Authentication-Results: "));
	g_assert_true(g_str_has_suffix(field, eol));
	for (line = field; *line; line = p + el) {
		p = strstr(line, eol);
		g_assert_nonnull(p);
		g_assert_cmpuint((size_t) (p - line), <=, 998);
		if (line != field)
			g_assert_cmpint(*line, ==, ' ');
		for (c = line; c < p; c++)
			if ((unsigned char) *c < 0x20 || *c == 0x7f)
				g_test_fail_printf("a control character in: %s", field);
		if (p - line > 78) { /* only a word that cannot be folded */
			one = g_strndup(line + 1, (gsize) (p - line - 1));
			if (line == field || !g_regex_match_simple(RE_PROPSPEC, one, 0, 0))
				g_test_fail_printf("a line over 78 columns: %s", one);
			g_free(one);
		}
	}
	/* unfolded: the line breaks go, the spaces stay */
	flat = unfolded(field);
	g_assert_null(strstr(flat, "  "));
	words = g_strsplit(flat + strlen("Authentication-Results: "), " ", -1);
	w = words;
	g_assert_true(g_regex_match_simple("^([!#$%&'*+.0-9A-Z^_`a-z{|}~-]+|\"([^\"\\\\]|\\\\.)*\");$", *w, 0, 0));
	w++;
	g_assert_true(g_regex_match_simple("^smime=(pass|fail|permerror|none)$", *w, 0, 0));
	w++;
	if (*w && **w == '(') {
		for (; *w && !g_str_has_suffix(*w, ")"); w++)
			g_assert_null(strpbrk(*w + 1, "()\\"));
		g_assert_nonnull(*w);
		w++;
	}
	for (; *w; w++) {
		/* a quoted value may hold spaces: glue it back */
		GString *pv = g_string_new(*w);

		while (g_regex_match_simple("^[^\"]*=\"([^\"\\\\]|\\\\.)*$", pv->str, 0, 0) && w[1])
			g_string_append_printf(pv, " %s", *++w);
		if (!g_regex_match_simple(RE_PROPSPEC, pv->str, 0, 0))
			g_test_fail_printf("not a propspec: %s", pv->str);
		g_string_free(pv, TRUE);
	}
	g_strfreev(words);
	g_free(flat);
}

/* The field unfolded (RFC 5322 2.2.3: the line breaks go). */
static char *
unfolded(const char *field)
{
	GRegex *br = g_regex_new("\r?\n", 0, 0, NULL);
	char *flat = g_regex_replace_literal(br, field, -1, 0, "", 0, NULL);

	g_regex_unref(br);
	return flat;
}

static char *
field_of(const gs_report *r, const char *id, int crlf)
{
	char *f = NULL, *msg = NULL;

	if (gs_auth_results_field(r, id, crlf, &f, &msg) != GS_OK)
		g_error("gs_auth_results_field: %s", msg);
	return f;
}

static void
test_field_unsigned(void)
{
	gs_report *r = gs_report_new();
	char *f = field_of(r, ID, 0), *fc = field_of(r, ID, 1), *msg = NULL, *q = field_of(r, "mx@test", 0);

	g_assert_cmpstr(f, ==, "Authentication-Results: mx.test; smime=none\n");
	g_assert_cmpstr(fc, ==, "Authentication-Results: mx.test; smime=none\r\n");
	g_assert_cmpstr(q, ==, "Authentication-Results: \"mx@test\"; smime=none\n");
	assert_field_valid(f, "\n");
	assert_field_valid(fc, "\r\n");
	g_assert_cmpint(gs_auth_results_field(r, "two words", 0, &f, &msg), ==, GS_E_PROGRAMMER);
	g_assert_nonnull(msg);
	g_free(msg);
	g_free(f);
	g_free(fc);
	g_free(q);
	gs_report_free(r);
}

static void
test_field_signed(void)
{
	gs_report *r;
	X509 *x;
	char *f, *flat;

	if (!need_pki())
		return;
	x = pki_cert("alice");
	r = unit_signed_report(x, GS_SIG_GOOD, 0);
	f = field_of(r, ID, 0);
	flat = unfolded(f);
	g_test_message("%s", f);
	assert_field_valid(f, "\n");
	g_assert_true(g_str_has_prefix(flat, "Authentication-Results: mx.test; smime=pass body.smime-identifier=alice@example.org"
					      " body.smime-serial=1000"
					      " body.smime-issuer=\"O=galsmime test,CN=galsmime test intermediate CA\""));
	g_assert_true(g_str_has_prefix(f, "Authentication-Results: mx.test; smime=pass\n body.smime-identifier="));
	g_free(flat);
	g_free(f);
	gs_report_free(r);
	X509_free(x);
}

/* Every reason at once: the comment folds, the lines stay short. */
static void
test_field_folds(void)
{
	gs_report *r;
	X509 *x;
	char *f;

	if (!need_pki())
		return;
	x = pki_cert("alice");
	r = unit_signed_report(x, GS_SIG_BAD, 0xffff);
	f = field_of(r, ID, 1);
	assert_field_valid(f, "\r\n");
	g_assert_true(g_str_has_prefix(f, "Authentication-Results: mx.test; smime=fail (digest mismatch,"));
	g_assert_nonnull(strstr(f, "\r\n "));
	g_free(f);
	gs_report_free(r);
	X509_free(x);
}

/* A self-signed certificate whose CN is `cn` as it is (a UTF8String of
 * any length: cert_make's names go through OpenSSL's length limits). */
static X509 *
cert_with_cn(const char *cn, EVP_PKEY *k)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	g_assert_true(X509_NAME_add_entry_by_txt(n, "CN", V_ASN1_UTF8STRING, (const unsigned char *) cn, -1, -1, 0));
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_NAME_free(n);
	ASN1_TIME_set(X509_getm_notBefore(x), UNIT_NOW - 86400);
	ASN1_TIME_set(X509_getm_notAfter(x), UNIT_NOW + 86400);
	X509_set_pubkey(x, k);
	g_assert_true(X509_sign(x, k, EVP_sha256()));
	return x;
}

/* Certificates made to break the header: a 3000-character CN and no
 * address (the identifier would be the CN, the issuer is the same name),
 * line breaks, quotes, a right-to-left override, bytes that are not
 * UTF-8. */
static void
test_field_hostile_certificates(void)
{
	static const char *const sans[] = { "quote\"back\\slash@example.org", NULL };
	static const char *const cns[] = {
		"line\r\nX-Injected: yes", "right\xe2\x80\xaeto left", "Soci\xc3\xa9t\xc3\xa9 G\xc3\xa9n\xc3\xa9rale",
		"bad \xff\xfe utf-8",
	};
	const cert_spec specs[] = {
		{ .cn = "x", .subject_email = "eve\r\nX-Injected: yes@example.org" },
		{ .cn = "Quote \"Me\" \\ and\ta tab", .sans = sans },
		{ .cn = "x", .raw_san = "ceo@exa\x01mple.org", .raw_san_len = 16 },
		{ .cn = "x", .raw_san = "caf\xe9@example.org", .raw_san_len = 16 },
	};
	char *long_cn = g_strnfill(3000, 'A');
	size_t i;

	for (i = 0; i < 1 + G_N_ELEMENTS(cns) + G_N_ELEMENTS(specs); i++) {
		EVP_PKEY *k = ec_key_new();
		X509 *x = i == 0 ? cert_with_cn(long_cn, k)
			: i <= G_N_ELEMENTS(cns) ? cert_with_cn(cns[i - 1], k)
			: cert_make(&specs[i - 1 - G_N_ELEMENTS(cns)], k, NULL, NULL);
		gs_report *r = unit_signed_report(x, GS_SIG_BAD, GS_REASON_UNTRUSTED);
		char *f = field_of(r, ID, 0);

		g_test_message("%s", f);
		assert_field_valid(f, "\n");
		g_assert_cmpuint(strlen(f), <, 1000);
		g_assert_null(strstr(f, "\nX-Injected"));
		g_assert_null(strstr(f, "\xe2\x80\xae"));
		g_assert_null(strstr(f, "\xff"));
		g_assert_null(strstr(f, "exa\x01"));
		g_assert_null(strstr(f, "caf"));
		g_free(f);
		gs_report_free(r);
		X509_free(x);
		EVP_PKEY_free(k);
	}
	g_free(long_cn);
}

/* What is left out and what stays, exactly. */
static void
test_field_values(void)
{
	static const char *const sans[] = { "quote\"back\\slash@example.org", NULL };
	const cert_spec quoted = { .cn = "x", .sans = sans };
	char *long_cn = g_strnfill(3000, 'A');
	EVP_PKEY *k = ec_key_new();
	X509 *xl = cert_with_cn(long_cn, k), *xu = cert_with_cn("Soci\xc3\xa9t\xc3\xa9 G\xc3\xa9n\xc3\xa9rale", k);
	X509 *xq = cert_make(&quoted, k, NULL, NULL);
	gs_report *rl = unit_signed_report(xl, GS_SIG_BAD, 0), *ru = unit_signed_report(xu, GS_SIG_BAD, 0);
	gs_report *rq = unit_signed_report(xq, GS_SIG_BAD, 0);
	char *fl = field_of(rl, ID, 0), *fu = field_of(ru, ID, 0), *fq = field_of(rq, ID, 0), *flat;

	/* neither the 3000-character CN nor the issuer (the same name): left
	 * out whole, the serial stays */
	g_assert_cmpstr(fl, ==, "Authentication-Results: mx.test; smime=fail body.smime-serial=07\n");
	/* UTF-8 that is printable stays, quoted */
	flat = unfolded(fu);
	g_assert_nonnull(strstr(flat, " body.smime-identifier=\"CN=Soci\xc3\xa9t\xc3\xa9 G\xc3\xa9n\xc3\xa9rale\""));
	g_free(flat);
	/* quotes and backslashes are quoted-pairs */
	flat = unfolded(fq);
	g_assert_nonnull(strstr(flat, " body.smime-identifier=\"quote\\\"back\\\\slash@example.org\""));
	g_free(flat);
	g_free(fl);
	g_free(fu);
	g_free(fq);
	gs_report_free(rl);
	gs_report_free(ru);
	gs_report_free(rq);
	X509_free(xl);
	X509_free(xu);
	X509_free(xq);
	EVP_PKEY_free(k);
	g_free(long_cn);
}

/* annotate = strip + our field first (after the From line), with the
 * message's line ends; our own field is one that strip removes. */
static void
test_annotate(void)
{
	static const char msg[] = "From alice@example.org Sat Nov 28 12:00:00 2026\n"
				  "Authentication-Results: \"MX.TEST.\"; smime=pass\n"
				  "From: a@example.org\n\nbody\n";
	static const char crlf[] = "From alice@example.org Sat Nov 28 12:00:00 2026\n"
				   "From: a@example.org\r\nAuthentication-Results: mx.test; smime=pass\r\n\r\nbody\r\n";
	gs_report *r = gs_report_new();
	unsigned removed = 0;
	char *got = rewritten(msg, sizeof msg - 1, r, ID, &removed), *again;

	g_assert_cmpstr(got, ==, "From alice@example.org Sat Nov 28 12:00:00 2026\n"
				 "Authentication-Results: mx.test; smime=none\n"
				 "From: a@example.org\n\nbody\n");
	g_assert_cmpuint(removed, ==, 1);
	again = rewritten(got, strlen(got), r, ID, &removed);
	g_assert_cmpstr(again, ==, got);
	g_assert_cmpuint(removed, ==, 1);
	g_free(again);
	g_free(got);
	got = rewritten(crlf, sizeof crlf - 1, r, ID, &removed);
	g_assert_cmpstr(got, ==, "From alice@example.org Sat Nov 28 12:00:00 2026\n"
				 "Authentication-Results: mx.test; smime=none\r\nFrom: a@example.org\r\n\r\nbody\r\n");
	g_free(got);
	gs_report_free(r);
}

int
main(int argc, char **argv)
{
	UNIT_INIT(argc, argv);
	g_test_add_func("/authres/strip/spellings", test_strip_spellings);
	g_test_add_func("/authres/strip/keeps-others", test_strip_keeps_others);
	g_test_add_func("/authres/strip/every-copy", test_strip_every_copy);
	g_test_add_func("/authres/strip/crlf-and-odd-bytes", test_strip_crlf_and_odd_bytes);
	g_test_add_func("/authres/strip/nothing-to-do", test_strip_nothing_to_do);
	g_test_add_func("/authres/strip/no-header", test_strip_no_header);
	g_test_add_func("/authres/strip/random-headers", test_strip_random_headers);
	g_test_add_func("/authres/id-valid", test_id_valid);
	g_test_add_func("/authres/field/unsigned", test_field_unsigned);
	g_test_add_func("/authres/field/signed", test_field_signed);
	g_test_add_func("/authres/field/folds", test_field_folds);
	g_test_add_func("/authres/field/hostile-certificates", test_field_hostile_certificates);
	g_test_add_func("/authres/field/values", test_field_values);
	g_test_add_func("/authres/annotate", test_annotate);
	return UNIT_RUN();
}
