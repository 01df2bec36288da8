/* test-report.c: lib/report.c: the JSON report is valid JSON whatever
 * the strings hold (checked by hand here, and by Python's json module
 * when python3 is installed). Authentication-Results: test-authres.c. */
#include "unit.h"

#include <sys/wait.h>
#include <unistd.h>

/* ---- a small strict JSON checker (RFC 8259 grammar, no extensions) ---- */

typedef struct jp {
	const char *p;
	int depth;
} jp;

static void
ws(jp *j)
{
	while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
		j->p++;
}

static gboolean value(jp *j);

static gboolean
string(jp *j)
{
	if (*j->p != '"')
		return FALSE;
	for (j->p++; *j->p != '"'; j->p++) {
		unsigned char c = (unsigned char) *j->p;

		if (c == 0 || c < 0x20)
			return FALSE; /* raw control character (or the end) inside a string */
		if (c == '\\') {
			j->p++;
			if (*j->p == 'u') {
				int i;
				for (i = 1; i <= 4; i++)
					if (!g_ascii_isxdigit(j->p[i]))
						return FALSE;
				j->p += 4;
			} else if (!*j->p || !strchr("\"\\/bfnrt", *j->p)) {
				return FALSE;
			}
		}
	}
	j->p++;
	return TRUE;
}

static gboolean
number(jp *j)
{
	const char *s = j->p;

	if (*j->p == '-')
		j->p++;
	if (!g_ascii_isdigit(*j->p))
		return FALSE;
	if (*j->p == '0' && g_ascii_isdigit(j->p[1]))
		return FALSE;
	while (g_ascii_isdigit(*j->p))
		j->p++;
	if (*j->p == '.') {
		j->p++;
		if (!g_ascii_isdigit(*j->p))
			return FALSE;
		while (g_ascii_isdigit(*j->p))
			j->p++;
	}
	if (*j->p == 'e' || *j->p == 'E') {
		j->p++;
		if (*j->p == '+' || *j->p == '-')
			j->p++;
		if (!g_ascii_isdigit(*j->p))
			return FALSE;
		while (g_ascii_isdigit(*j->p))
			j->p++;
	}
	return j->p > s;
}

static gboolean
container(jp *j, char open, char close, gboolean keyed)
{
	if (*j->p != open || ++j->depth > 64)
		return FALSE;
	j->p++;
	ws(j);
	if (*j->p == close) {
		j->p++;
		j->depth--;
		return TRUE;
	}
	for (;;) {
		ws(j);
		if (keyed) {
			if (!string(j))
				return FALSE;
			ws(j);
			if (*j->p++ != ':')
				return FALSE;
		}
		if (!value(j))
			return FALSE;
		ws(j);
		if (*j->p == ',') {
			j->p++;
			continue;
		}
		if (*j->p != close)
			return FALSE;
		j->p++;
		j->depth--;
		return TRUE;
	}
}

static gboolean
value(jp *j)
{
	ws(j);
	switch (*j->p) {
	case '{': return container(j, '{', '}', TRUE);
	case '[': return container(j, '[', ']', FALSE);
	case '"': return string(j);
	case 't': return g_str_has_prefix(j->p, "true") ? (j->p += 4, TRUE) : FALSE;
	case 'f': return g_str_has_prefix(j->p, "false") ? (j->p += 5, TRUE) : FALSE;
	case 'n': return g_str_has_prefix(j->p, "null") ? (j->p += 4, TRUE) : FALSE;
	default: return number(j);
	}
}

/* One JSON object and nothing after it. */
static gboolean
json_valid(const char *s)
{
	jp j = { s, 0 };

	ws(&j);
	if (*j.p != '{' || !value(&j))
		return FALSE;
	ws(&j);
	return *j.p == 0 && j.depth == 0;
}

static void
test_checker(void)
{
	/* the checker itself: it must refuse what a JSON parser refuses */
	g_assert_true(json_valid("{}"));
	g_assert_true(json_valid("{\"a\":[1,-2.5e3,true,false,null,\"x\\\"\\u0001\"],\"b\":{}}"));
	g_assert_false(json_valid("{"));
	g_assert_false(json_valid("{\"a\":1}}"));
	g_assert_false(json_valid("{\"a\":[1,2}"));
	g_assert_false(json_valid("{\"a\":\"x\ny\"}"));
	g_assert_false(json_valid("{\"a\":\"x\\q\"}"));
	g_assert_false(json_valid("{\"a\":\"unterminated}"));
	g_assert_false(json_valid("{\"a\":1,}"));
	g_assert_false(json_valid("{\"a\" 1}"));
}

/* ---- python3, when installed ---- */

/* Run python3 -c SCRIPT with `input` on stdin; its stdout into *out.
 * Returns the exit status, or -1 when python3 cannot be run. */
static int
python(const char *script, const char *input, char **out)
{
	char *full[] = { (char *) "python3", (char *) "-c", NULL, NULL };
	GError *err = NULL;
	GString *o = g_string_new(NULL);
	int in_fd, out_fd, status = 0;
	GPid pid;
	size_t left = strlen(input);
	const char *p = input;
	char buf[4096];
	ssize_t n;

	full[2] = (char *) script;
	if (!g_spawn_async_with_pipes(NULL, full, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
				      NULL, NULL, &pid, &in_fd, &out_fd, NULL, &err)) {
		g_test_message("cannot run python3: %s", err->message);
		g_error_free(err);
		g_string_free(o, TRUE);
		return -1;
	}
	while (left > 0 && (n = write(in_fd, p, left)) > 0) {
		p += n;
		left -= (size_t) n;
	}
	close(in_fd);
	while ((n = read(out_fd, buf, sizeof buf)) > 0)
		g_string_append_len(o, buf, n);
	close(out_fd);
	waitpid(pid, &status, 0);
	g_spawn_close_pid(pid);
	if (out)
		*out = g_string_free(o, FALSE);
	else
		g_string_free(o, TRUE);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static gboolean
need_python(void)
{
	char *p = g_find_program_in_path("python3");

	if (p) {
		g_free(p);
		return TRUE;
	}
	g_test_skip("python3 is not installed");
	return FALSE;
}

/* ---- reports made by hand ---- */

/* What a hostile certificate and message can put into a report. */
static const char nasty[] = "say \"hi\" \\ C:\\dir\\ line\nnext\ttab\r\x01\x1f\x7f end";

/* A signed report with one bad signer whose every string is hostile. */
static gs_report *
nasty_report(void)
{
	static const char *const sans[] = { "quote\"back\\slash@example.org", NULL };
	cert_spec sp = { .cn = "Quote \"Me\" \\ and\ta tab", .sans = sans };
	EVP_PKEY *k = ec_key_new();
	X509 *x = cert_make(&sp, k, NULL, NULL);
	gs_report *r = gs_report_new();
	gs_signer_data *sd = unit_signer_new(GS_SIG_BAD, GS_REASON_UNTRUSTED | GS_REASON_SIGNER_NOT_FROM, x);

	sd->detail = g_strdup(nasty);
	sd->pub.detail = sd->detail;
	unit_add_signer(r, sd, "detached");
	r->from = g_strdup("eve\"\\@example.org");
	r->cipher = g_strdup("aes-256-cbc");
	r->encrypted = 1;
	X509_free(x);
	EVP_PKEY_free(k);
	return r;
}

static void
test_json_unsigned(void)
{
	gs_report *r = gs_report_new();
	char *j = gs_report_to_json(r);

	g_assert_true(json_valid(j));
	g_assert_true(g_str_has_prefix(j, "{\"version\":1"));
	g_assert_nonnull(strstr(j, "\"signed\":false"));
	g_assert_nonnull(strstr(j, "\"status\":\"none\""));
	g_assert_nonnull(strstr(j, "\"signers\":[]"));
	g_free(j);
	gs_report_free(r);
}

static void
test_json_escapes(void)
{
	gs_report *r = nasty_report();
	char *j = gs_report_to_json(r);
	const char *p;

	if (!json_valid(j))
		g_test_fail_printf("not valid JSON: %s", j);
	for (p = j; *p; p++)
		g_assert_cmpint((unsigned char) *p, >=, 0x20);
	/* quotes, backslashes and control characters, escaped (as yajl_gen
	 * writes them: \uXXXX with upper-case digits) */
	g_assert_nonnull(strstr(j, "say \\\"hi\\\" \\\\ C:\\\\dir\\\\ line\\nnext\\ttab\\r\\u0001\\u001F"));
	g_assert_nonnull(strstr(j, "\"from\":\"eve\\\"\\\\@example.org\""));
	g_assert_nonnull(strstr(j, "quote\\\"back\\\\slash@example.org"));
	g_assert_nonnull(strstr(j, "\"status\":\"bad\""));
	g_assert_nonnull(strstr(j, "\"untrusted\""));
	g_free(j);
	gs_report_free(r);
}

static void
test_json_python_parses(void)
{
	gs_report *r, *u;
	char *j, *ju;

	if (!need_python())
		return;
	r = nasty_report();
	u = gs_report_new();
	j = gs_report_to_json(r);
	ju = gs_report_to_json(u);
	g_assert_cmpint(python("import json,sys; json.load(sys.stdin)", j, NULL), ==, 0);
	g_assert_cmpint(python("import json,sys; json.load(sys.stdin)", ju, NULL), ==, 0);
	g_free(j);
	g_free(ju);
	gs_report_free(r);
	gs_report_free(u);
}

static void
test_json_python_round_trip(void)
{
	gs_report *r;
	char *j, *out = NULL;

	if (!need_python())
		return;
	/* what Python reads back is exactly what went in */
	r = nasty_report();
	j = gs_report_to_json(r);
	g_assert_cmpint(python("import json,sys\n"
			       "d = json.load(sys.stdin.buffer)\n"
			       "s = d['signers'][0]\n"
			       "sys.stdout.buffer.write('\\0'.join([s['detail'], d['from'], s['name'],"
			       " s['emails'][0], d['cipher']]).encode())",
			       j, &out), ==, 0);
	{
		const char *parts[] = { nasty, "eve\"\\@example.org", "Quote \"Me\" \\ and\ta tab",
					"quote\"back\\slash@example.org", "aes-256-cbc" };
		const char *p = out;
		size_t i;

		for (i = 0; i < G_N_ELEMENTS(parts); i++) {
			g_assert_cmpstr(p, ==, parts[i]);
			p += strlen(p) + 1;
		}
	}
	g_free(out);
	g_free(j);
	gs_report_free(r);
}

/* A certificate whose name fields hold bytes that are not UTF-8: a
 * UTF8String CN with 0xff, a T61String O in Latin-1, an IA5String
 * address with 0xe9. */
static X509 *
cert_with_raw_bytes(EVP_PKEY *k)
{
	static const char latin1_mail[] = "caf\xe9@example.org";
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	g_assert_true(X509_NAME_add_entry_by_txt(n, "CN", V_ASN1_UTF8STRING,
						 (const unsigned char *) "bad \xff\xfe utf-8", -1, -1, 0));
	g_assert_true(X509_NAME_add_entry_by_txt(n, "O", V_ASN1_T61STRING,
						 (const unsigned char *) "Soci\xe9t\xe9", -1, -1, 0));
	g_assert_true(X509_NAME_add_entry_by_NID(n, NID_pkcs9_emailAddress, V_ASN1_IA5STRING,
						 (const unsigned char *) latin1_mail, -1, -1, 0));
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_NAME_free(n);
	ASN1_TIME_set(X509_getm_notBefore(x), UNIT_NOW - 86400);
	ASN1_TIME_set(X509_getm_notAfter(x), UNIT_NOW + 86400);
	X509_set_pubkey(x, k);
	ASN1_STRING_set(ia5, latin1_mail, -1);
	GENERAL_NAME_set0_value(g, GEN_EMAIL, ia5);
	sk_GENERAL_NAME_push(gens, g);
	X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT);
	GENERAL_NAMES_free(gens);
	g_assert_true(X509_sign(x, k, EVP_sha256()));
	return x;
}

static void
test_json_raw_certificate_bytes(void)
{
	EVP_PKEY *k = ec_key_new();
	X509 *x = cert_with_raw_bytes(k);
	gs_report *r = unit_signed_report(x, GS_SIG_BAD, GS_REASON_UNTRUSTED);
	char *j;

	j = gs_report_to_json(r);
	g_assert_true(json_valid(j));
	/* JSON is UTF-8 (RFC 8259 8.1): nothing from the certificate may break that */
	if (!g_utf8_validate(j, -1, NULL))
		g_test_fail_printf("not UTF-8: %s", j);
	if (need_python())
		g_assert_cmpint(python("import json,sys; json.load(sys.stdin.buffer)", j, NULL), ==, 0);
	g_free(j);
	gs_report_free(r);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void
test_json_signed_good(void)
{
	gs_report *r;
	X509 *x;
	char *j;

	if (!need_pki())
		return;
	x = pki_cert("alice");
	r = gs_report_new();
	unit_add_signer(r, unit_signer_new(GS_SIG_GOOD, 0, x), "opaque");
	r->from = g_strdup("alice@example.org");
	j = gs_report_to_json(r);
	g_assert_true(json_valid(j));
	g_assert_nonnull(strstr(j, "\"signed\":true"));
	g_assert_nonnull(strstr(j, "\"status\":\"good\""));
	g_assert_nonnull(strstr(j, "\"emails\":[\"alice@example.org\"]"));
	g_assert_nonnull(strstr(j, "\"not_before\":\"2025-01-01T00:00:00Z\""));
	g_assert_nonnull(strstr(j, "\"signing_time\":\"2026-06-01T00:00:00Z\""));
	g_free(j);
	gs_report_free(r);
	X509_free(x);
}

int
main(int argc, char **argv)
{
	UNIT_INIT(argc, argv);
	g_test_add_func("/report/json/checker-self-test", test_checker);
	g_test_add_func("/report/json/unsigned", test_json_unsigned);
	g_test_add_func("/report/json/escapes", test_json_escapes);
	g_test_add_func("/report/json/python-parses", test_json_python_parses);
	g_test_add_func("/report/json/python-round-trip", test_json_python_round_trip);
	g_test_add_func("/report/json/signed-good", test_json_signed_good);
	g_test_add_func("/report/json/raw-certificate-bytes", test_json_raw_certificate_bytes);
	return UNIT_RUN();
}
