/* fuzz-smime.h: what the S/MIME targets (fuzz-verify, fuzz-decrypt,
 * fuzz-mutt) share: one session per process on a throw-away store set up
 * as a user's would be (the test root trusted, the intermediate known,
 * and for the decrypting targets alice's and carol's identities, their
 * keys stored unencrypted), small limits so that the fuzzer explores
 * rather than allocates, and the checks every result must pass.
 *
 * The checks abort (a crash for libFuzzer) when the library breaks its
 * contracts on hostile input: a failure without a one-line message, a
 * result object handed out with a failure or missing with a success, an
 * internal error, a JSON report that does not parse, an
 * Authentication-Results value that could break out of its header, a
 * forged field that stripping leaves or a byte it changes. */
#ifndef GALSMIME_FUZZ_SMIME_H
#define GALSMIME_FUZZ_SMIME_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>
#include <yajl/yajl_tree.h>
#include "galsmime.h"
#include "gs-private.h"
#include "fuzz-pki.h"

/* the seeds' Date: the test users' certificates are valid then */
#define FZ_WHEN ((time_t) 1795867200) /* 2026-11-28 12:00:00 UTC */

static gs_store *fz_store;
static gs_session *fz_session;
static char *fz_dir;
static unsigned fz_identities;   /* in the store */

static void
fz_die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

static void
fz_glib_log(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
	(void) data;
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) {
		fprintf(stderr, "fuzz: GLib %s from %s: %s\n",
			level & G_LOG_LEVEL_WARNING ? "warning" : "critical", domain ? domain : "?", message);
		abort();
	}
}

static gs_status
fz_passphrase(void *data, const char *what, char *buf, size_t size, size_t *len)
{
	(void) data;
	(void) what;
	if (size < 6)
		return GS_E_PASSPHRASE;
	memcpy(buf, "secret", 6);
	*len = 6;
	return GS_OK;
}

static void
fz_cleanup(void)
{
	GDir *d;
	const char *n;

	gs_session_free(fz_session);
	fz_session = NULL;
	gs_store_close(fz_store);
	fz_store = NULL;
	if (fz_dir && (d = g_dir_open(fz_dir, 0, NULL))) {
		while ((n = g_dir_read_name(d))) {
			char *p = g_build_filename(fz_dir, n, NULL);
			unlink(p);
			g_free(p);
		}
		g_dir_close(d);
		rmdir(fz_dir);
	}
	g_free(fz_dir);
	fz_dir = NULL;
}

static void
fz_import(const char *pem, gs_cert_role role)
{
	gs_import_stats stats;
	char *msg = NULL;

	if (gs_store_import_certs(fz_store, (const unsigned char *) pem, strlen(pem), "fuzz-setup", role,
				  &stats, &msg) != GS_OK)
		fz_die("store setup: importing a certificate", msg);
}

static void
fz_identity(const char *pem)
{
	char *msg = NULL, *fp = NULL;
	int plain = 0;

	if (gs_identity_import(fz_store, (const unsigned char *) pem, strlen(pem), NULL, 0, NULL, &fp,
			       &plain, &msg) != GS_OK)
		fz_die("store setup: importing an identity", msg);
	g_free(fp);
}

/* A fuzz session's clock (the seeds' Date) and small limits. */
static void
fz_session_rules(gs_session *s)
{
	gs_limits lim;

	gs_session_set_time(s, FZ_WHEN);
	gs_limits_default(&lim);
	lim.max_message = (size_t) 1 << 20;
	lim.max_header = (size_t) 64 << 10;
	lim.max_depth = 16;
	lim.max_parts = 256;
	gs_session_set_limits(s, &lim);
}

/* Make the store and the session, once per process. */
static gs_session *
fz_setup(int with_identities)
{
	char *msg = NULL;

	if (fz_session)
		return fz_session;
	/* a GLib critical (a failed g_return_if_fail, an invalid cast) or
	 * warning is a bug here too, not noise on stderr: abort() so that
	 * libFuzzer saves the input (GLib's own fatal logs trap, SIGTRAP,
	 * which libFuzzer does not catch) */
	g_log_set_default_handler(fz_glib_log, NULL);
	g_mime_init();
	gs_init();
	fz_dir = g_build_filename(g_get_tmp_dir(), "galsmime-fuzz.XXXXXX", NULL);
	if (!g_mkdtemp(fz_dir))
		fz_die("mkdtemp", fz_dir);
	if (gs_store_open(fz_dir, GS_STORE_READ_WRITE, 1000, &fz_store, &msg) != GS_OK)
		fz_die("store setup", msg);
	atexit(fz_cleanup);
	fz_import(fuzz_pki_root, GS_ROLE_ANCHOR);
	fz_import(fuzz_pki_inter, GS_ROLE_CORRESPONDENT);
	if (with_identities) {
		fz_identity(fuzz_pki_alice);
		fz_identity(fuzz_pki_carol);
		fz_identities = 2;
	}
	if (gs_session_new(fz_store, &fz_session, &msg) != GS_OK)
		fz_die("session", msg);
	gs_session_set_passphrase_cb(fz_session, fz_passphrase, NULL);
	fz_session_rules(fz_session);
	return fz_session;
}

/* A status and its message obey the contract: GS_OK leaves the message
 * alone; a failure says why, in one line; hostile input is never an
 * internal error. */
static void
fz_status(const char *call, gs_status st, char **msg)
{
	if (st < GS_OK || st > GS_E_AGENT_LOST)
		fz_die(call, "status out of range");
	/* the targets call as the contracts say: a broken one is a bug */
	if (st == GS_E_PROGRAMMER)
		fz_die(call, *msg ? *msg : "GS_E_PROGRAMMER");
	if (st == GS_OK) {
		if (*msg)
			fz_die(call, "GS_OK with an error message");
		return;
	}
	if (!*msg || !**msg)
		fz_die(call, "a failure without a message");
	if (strchr(*msg, '\n') || strchr(*msg, '\r'))
		fz_die(call, "an error message of more than one line");
	if (st == GS_E_INTERNAL)
		fz_die(call, *msg);
	g_free(*msg);
	*msg = NULL;
}

/* An output is handed out exactly on success. */
static void
fz_out(const char *call, gs_status st, const void *out)
{
	if ((st == GS_OK) != (out != NULL))
		fz_die(call, st == GS_OK ? "success without a result" : "a result with a failure");
}

/* Our Authentication-Results field: lines of at most 998 octets without
 * control characters, each continuation line starting with a space, the
 * last ending the field. */
static void
fz_auth_results_field(const gs_report *r)
{
	char *f = NULL, *msg = NULL;
	const unsigned char *p, *line;
	gs_status st = gs_auth_results_field(r, "mx.example", 0, &f, &msg);

	fz_status("gs_auth_results_field", st, &msg);
	fz_out("gs_auth_results_field", st, f);
	if (!g_str_has_prefix(f, "Authentication-Results: mx.example; smime=") || !g_str_has_suffix(f, "\n"))
		fz_die("not our Authentication-Results field", f);
	for (line = p = (const unsigned char *) f; *p; p++) {
		if (*p == '\n') {
			if (p - line > 998)
				fz_die("an Authentication-Results line over 998 octets", f);
			if (p[1] && p[1] != ' ')
				fz_die("an Authentication-Results line that does not continue the field", f);
			line = p + 1;
		} else if (*p < 0x20 || *p == 0x7f) {
			fz_die("a control character in Authentication-Results", f);
		}
	}
	g_free(f);
}

/* gs_auth_results_strip and _annotate on the raw input: the header
 * either cannot be read or comes back no longer; stripping twice
 * removes nothing more; our own field is one that stripping removes,
 * and nothing else differs. */
static void
fz_auth_results(const uint8_t *data, size_t size)
{
	GByteArray *head = NULL, *again = NULL, *ann = NULL, *clean = NULL;
	size_t rest = 0, rest2 = 0;
	unsigned removed = 0, removed2 = 0;
	char *msg = NULL;
	gs_report *none = gs_report_new();
	gs_status st = gs_auth_results_strip(data, size, "mx.example", &head, &rest, &removed, &msg);

	fz_status("gs_auth_results_strip", st, &msg);
	fz_out("gs_auth_results_strip", st, head);
	if (st == GS_OK) {
		if (rest > size || head->len > rest)
			fz_die("gs_auth_results_strip: pieces longer than the input", NULL);
		g_byte_array_append(head, data + rest, (guint) (size - rest));
		st = gs_auth_results_strip(head->data, head->len, "mx.example", &again, &rest2, &removed2, &msg);
		fz_status("gs_auth_results_strip, again", st, &msg);
		/* (without the forged field, the first line may be one that
		 * is not a field: then no reader sees a header at all) */
		if (st == GS_OK && (removed2 || again->len != rest2 || (rest2 && memcmp(again->data, head->data, rest2))))
			fz_die("gs_auth_results_strip: a second pass changes the message", NULL);
		st = gs_auth_results_annotate(data, size, none, "mx.example", &ann, &rest2, &removed2, &msg);
		fz_status("gs_auth_results_annotate", st, &msg);
		if (st != GS_OK || removed2 != removed || rest2 != rest)
			fz_die("gs_auth_results_annotate: not what strip does", NULL);
		g_byte_array_append(ann, data + rest, (guint) (size - rest));
		st = gs_auth_results_strip(ann->data, ann->len, "mx.example", &clean, &rest2, &removed2, &msg);
		fz_status("gs_auth_results_strip, annotated", st, &msg);
		if (st != GS_OK || removed2 != 1 || clean->len + (ann->len - rest2) != head->len ||
		    memcmp(clean->data, head->data, clean->len) != 0)
			fz_die("gs_auth_results_strip: our own field is not the one removed", NULL);
	}
	if (head)
		g_byte_array_unref(head);
	if (again)
		g_byte_array_unref(again);
	if (ann)
		g_byte_array_unref(ann);
	if (clean)
		g_byte_array_unref(clean);
	gs_report_free(none);
}

/* The report's renderings: JSON that parses (and says version 1), an
 * Authentication-Results value without control characters, which in a
 * header field would end it (header injection through a certificate's
 * subject or the From address). */
static void
fz_report(const gs_report *r)
{
	char err[256], *json, *w;
	const char *const *mm;
	const char *path[] = { "version", NULL }, *part, *note;
	yajl_val v, ver;
	size_t i;

	json = gs_report_to_json(r);
	if (!json || !(v = yajl_tree_parse(json, err, sizeof err)))
		fz_die("the JSON report does not parse", err);
	ver = yajl_tree_get(v, path, yajl_t_number);
	if (!ver || !YAJL_IS_INTEGER(ver) || YAJL_GET_INTEGER(ver) != 1)
		fz_die("the JSON report has no version 1", json);
	yajl_tree_free(v);
	g_free(json);

	fz_auth_results_field(r);

	/* every accessor, as the commands use them */
	w = gs_reasons_string(gs_report_reasons(r));
	g_free(w);
	for (i = 0; i < gs_report_signer_count(r); i++) {
		const gs_signer *sg = gs_report_signer(r, i);
		if (!sg)
			fz_die("signer count and signers disagree", NULL);
		if (sg->have_cert && !sg->cert.sha256)
			fz_die("a signer certificate without a fingerprint", NULL);
		w = gs_reasons_string(sg->reasons);
		g_free(w);
	}
	if (gs_report_signer(r, i))
		fz_die("a signer past the count", NULL);
	if (gs_report_status(r) == GS_SIG_GOOD &&
	    (gs_report_kind_of(r) != GS_REPORT_SIGNED || gs_report_signer_count(r) == 0))
		fz_die("a good verdict without signers", NULL);
	for (i = 0; gs_report_part(r, i, &part, &note); i++)
		if (!part || !note)
			fz_die("a part note without its path or note", NULL);
	for (mm = gs_report_header_mismatches(r); mm && *mm; mm++)
		;
	(void) gs_report_from(r);
	(void) gs_report_signature_form(r);
	(void) gs_report_cipher(r);
	(void) gs_report_encrypted(r);
	(void) gs_report_authenticated(r);
	(void) gs_report_protected_headers(r);
}

/* After each input: a session lives as long as a notmuch harvest over
 * a whole mailbox, so what it keeps must not grow with the inputs. */
static void
fz_session_bounded(gs_session *s)
{
	if (s->identities->len > fz_identities)
		fz_die("the session keeps more identities than the store has", NULL);
}

/* The input as a whole message under the session's limits, or NULL. */
static GMimeMessage *
fz_parse(gs_session *s, const uint8_t *data, size_t size)
{
	GMimeMessage *m = NULL;
	GMimeStream *in;
	char *msg = NULL;
	gs_status st;

	/* the commands refuse such input before parsing it */
	if (size > gs_session_limits(s)->max_message)
		return NULL;
	in = g_mime_stream_mem_new_with_buffer((const char *) data, size);
	st = gs_message_parse(s, in, &m, &msg);
	g_object_unref(in);
	fz_status("gs_message_parse", st, &msg);
	fz_out("gs_message_parse", st, m);
	return m;
}

/* The message as the commands write it. */
static void
fz_write(GMimeMessage *m)
{
	GMimeFormatOptions *fo = g_mime_format_options_new();
	char *s;

	g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_UNIX);
	s = g_mime_object_to_string(GMIME_OBJECT(m), fo);
	g_free(s);
	g_mime_format_options_free(fo);
}

/* Verify the message and check the report. */
static void
fz_verify(gs_session *s, GMimeMessage *m)
{
	gs_report *r = NULL;
	char *msg = NULL;
	gs_status st = gs_message_verify(s, m, &r, &msg);

	fz_status("gs_message_verify", st, &msg);
	fz_out("gs_message_verify", st, r);
	if (r)
		fz_report(r);
	gs_report_free(r);
}

#endif
