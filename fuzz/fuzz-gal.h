/* fuzz-gal.h: what the whole-path directory targets share (fuzz-galstore:
 * a GAL export through the parser, the store and the resolver;
 * fuzz-resolve: any recipient string against a hostile directory): a
 * throw-away store trusting the fuzz PKI's root, a certificate pool, and
 * the recipient binding rules checked on every resolution.
 *
 * A broken rule aborts (a crash for libFuzzer). The rules are the ones
 * gs_resolve documents: an address never matches by name; a certificate
 * that does not name the address is chosen only when every directory
 * entry listing the address that offers certificates offers it; a name
 * that picks out several entries chooses only what each of them offers;
 * each certificate is one candidate. */
#ifndef GALSMIME_FUZZ_GAL_H
#define GALSMIME_FUZZ_GAL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include "galsmime.h"
#include "gs-private.h"
#include "fuzz-pki.h"

/* the fuzz PKI's users are valid then */
#define FG_WHEN ((time_t) 1795867200) /* 2026-11-28 12:00:00 UTC */

static gs_store *fg_store;
static gs_session *fg_session;
static char *fg_dir;

static void
fg_die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

static void
fg_glib_log(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
	(void) data;
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) {
		fprintf(stderr, "fuzz: GLib message from %s: %s\n", domain ? domain : "?", message);
		abort();
	}
}

static void
fg_cleanup(void)
{
	GDir *d;
	const char *n;

	gs_session_free(fg_session);
	gs_store_close(fg_store);
	if (fg_dir && (d = g_dir_open(fg_dir, 0, NULL))) {
		while ((n = g_dir_read_name(d))) {
			char *p = g_build_filename(fg_dir, n, NULL);
			unlink(p);
			g_free(p);
		}
		g_dir_close(d);
		rmdir(fg_dir);
	}
	g_free(fg_dir);
}

/* ---- the certificate pool: DER values as a directory carries them ---- */

enum { FG_ROOT, FG_INTER, FG_ALICE, FG_CAROL, FG_BAG, FG_NCERTS };
static GBytes *fg_values[FG_NCERTS];

static X509 *
fg_pem_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);

	BIO_free(b);
	if (!x)
		fg_die("the fuzz PKI", "a certificate does not parse");
	return x;
}

static GBytes *
fg_der(X509 *x)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	GBytes *b = g_bytes_new(der, (gsize) n);

	OPENSSL_free(der);
	return b;
}

/* A PKCS#7 certificate bag, as userSMIMECertificate may hold one. */
static GBytes *
fg_bag(X509 *a, X509 *b)
{
	PKCS7 *p7 = PKCS7_new();
	unsigned char *der = NULL;
	GBytes *out;
	int n;

	if (!p7 || !PKCS7_set_type(p7, NID_pkcs7_signed) || !PKCS7_content_new(p7, NID_pkcs7_data) ||
	    !PKCS7_add_certificate(p7, a) || !PKCS7_add_certificate(p7, b))
		fg_die("the fuzz PKI", "cannot make a certificate bag");
	n = i2d_PKCS7(p7, &der);
	out = g_bytes_new(der, (gsize) n);
	OPENSSL_free(der);
	PKCS7_free(p7);
	return out;
}

static void
fg_setup(void)
{
	gs_import_stats stats;
	char *msg = NULL;
	X509 *x[4];
	int i;

	if (fg_session)
		return;
	g_log_set_default_handler(fg_glib_log, NULL);
	g_mime_init();
	gs_init();
	fg_dir = g_build_filename(g_get_tmp_dir(), "galsmime-fuzz.XXXXXX", NULL);
	if (!g_mkdtemp(fg_dir))
		fg_die("mkdtemp", fg_dir);
	if (gs_store_open(fg_dir, GS_STORE_READ_WRITE, 1000, &fg_store, &msg) != GS_OK)
		fg_die("store setup", msg);
	atexit(fg_cleanup);
	if (gs_store_import_certs(fg_store, (const unsigned char *) fuzz_pki_root, strlen(fuzz_pki_root),
				  "setup", GS_ROLE_ANCHOR, &stats, &msg) != GS_OK)
		fg_die("store setup", msg);
	if (gs_session_new(fg_store, &fg_session, &msg) != GS_OK)
		fg_die("session", msg);
	gs_session_set_time(fg_session, FG_WHEN);
	x[0] = fg_pem_cert(fuzz_pki_root);
	x[1] = fg_pem_cert(fuzz_pki_inter);
	x[2] = fg_pem_cert(fuzz_pki_alice);
	x[3] = fg_pem_cert(fuzz_pki_carol);
	for (i = 0; i < 4; i++)
		fg_values[i] = fg_der(x[i]);
	fg_values[FG_BAG] = fg_bag(x[2], x[1]);
	for (i = 0; i < 4; i++)
		X509_free(x[i]);
}

/* ---- the rules ---- */

typedef struct fg_offer {
	const char *want;   /* the chosen certificate's SHA-256 */
	int offered;
} fg_offer;

static int
fg_offer_cb(const gs_cand_row *row, void *data)
{
	fg_offer *o = data;
	char *fp = gs_cert_sha256_hex(row->x);

	if (fp && !strcmp(fp, o->want))
		o->offered = 1;
	g_free(fp);
	return 0;
}

typedef struct fg_entries {
	const char *want;
	int checked;
	const char *broken;
} fg_entries;

/* Every entry listing the address (or named) that offers certificates
 * offers the chosen one. */
static int
fg_entry_cb(const gs_entry_row *row, void *data)
{
	fg_entries *e = data;
	fg_offer o = { e->want, 0 };
	char *msg = NULL;

	if (row->n_certs == 0)
		return 0;
	if (gs_store_entry_candidates(fg_store, row->id, fg_offer_cb, &o, &msg) != GS_OK)
		fg_die("entry candidates", msg);
	e->checked++;
	if (!o.offered)
		e->broken = "an entry that offers certificates does not offer the chosen one";
	return 0;
}

/* Text for a person: one line, no control character. */
static int
fg_printable(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char) *s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* Resolve `recipient` and check every rule. */
static void
fg_check(const char *recipient)
{
	gs_resolution *r = NULL;
	const gs_candidate *ch;
	char *msg = NULL;
	const char *addr;
	size_t i, j, n;
	gs_status st;

	st = gs_resolve(fg_session, recipient, 0, &r, &msg);
	if (st != GS_OK)
		fg_die("gs_resolve failed", msg);
	n = gs_resolution_count(r);
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (!strcmp(gs_resolution_candidate(r, i)->cert.sha256,
				    gs_resolution_candidate(r, j)->cert.sha256))
				fg_die("one certificate, two candidates", recipient);
	addr = gs_resolution_address(r);
	ch = gs_resolution_chosen(r);
	if (!ch) {
		const char *f = gs_resolution_failure(r);
		if (!f || !fg_printable(f) || !fg_printable(gs_resolution_conflict(r)))
			fg_die("no choice without a printable one-line reason", recipient);
		gs_resolution_free(r);
		return;
	}
	if (ch->verdict != GS_VERDICT_USABLE)
		fg_die("chose an unusable certificate", recipient);
	if (gs_resolution_failure(r))
		fg_die("a choice and a failure", recipient);
	if (!fg_printable(gs_resolution_note(r)) || !fg_printable(gs_resolution_conflict(r)))
		fg_die("a note or conflict a terminal could misread", recipient);
	if (addr) {
		fg_entries e = { ch->cert.sha256, 0, NULL };

		if (ch->binding == GS_BIND_NAME || ch->binding == GS_BIND_NONE)
			fg_die("an address bound by name", recipient);
		if ((ch->binding == GS_BIND_CERTIFICATE) != (ch->address_match != 0))
			fg_die("binding and address match disagree", recipient);
		if (ch->binding == GS_BIND_DIRECTORY) {
			for (i = 0; i < n; i++) {
				const gs_candidate *c = gs_resolution_candidate(r, i);
				if (c->verdict == GS_VERDICT_USABLE && c->address_match)
					fg_die("the directory's choice over a certificate naming the address",
					       recipient);
			}
			if (gs_resolution_conflict(r) || !gs_resolution_note(r))
				fg_die("a directory binding with a conflict, or without a note", recipient);
			if (gs_store_entries_by_address(fg_store, addr, fg_entry_cb, &e, &msg) != GS_OK)
				fg_die("entries by address", msg);
			if (e.broken || e.checked == 0)
				fg_die(e.broken ? e.broken : "a directory binding without an entry", recipient);
		}
	} else {
		fg_entries e = { ch->cert.sha256, 0, NULL };
		char *name = g_strstrip(g_strdup(recipient));

		if (ch->binding != GS_BIND_NAME)
			fg_die("a name bound otherwise than by name", recipient);
		if (gs_store_entries_by_name(fg_store, name, fg_entry_cb, &e, &msg) != GS_OK)
			fg_die("entries by name", msg);
		g_free(name);
		if (e.broken || e.checked == 0)
			fg_die(e.broken ? e.broken : "a name binding without an entry", recipient);
	}
	gs_resolution_free(r);
}

#endif
