/* report.c: the human rendering of a verdict, on stderr. Under -q only
 * what is wrong is said: BAD and UNCHECKED signatures, warnings, notes
 * on parts; a good signature, the layers and the cipher are not. */
#include "cli.h"

#include <string.h>

char *
cli_time(int64_t t)
{
	GDateTime *dt;
	char *s;

	if (t == 0)
		return g_strdup("unknown");
	dt = g_date_time_new_from_unix_utc(t);
	if (!dt)
		return g_strdup("invalid");
	s = g_date_time_format(dt, "%Y-%m-%d %H:%M:%S UTC");
	g_date_time_unref(dt);
	return s;
}

/* "signed TIME", or "no signing time" when the signature carries none */
char *
cli_signed_at(int64_t t)
{
	char *s, *w;

	if (t == 0)
		return g_strdup("no signing time");
	s = cli_time(t);
	w = g_strdup_printf("signed %s", s);
	g_free(s);
	return w;
}

static char *
who(const gs_signer *s)
{
	const gs_cert_info *c = &s->cert;
	char *mail, *r;

	if (!s->have_cert)
		return g_strdup("an unknown signer (certificate not in the message or the store)");
	mail = c->emails[0] ? g_strdup(c->emails[0]) : NULL;
	if (c->common_name && mail)
		r = g_strdup_printf("%s <%s>", cli_text(c->common_name, 200), cli_text(mail, 256));
	else if (mail)
		r = g_strdup_printf("<%s>", cli_text(mail, 256));
	else
		r = g_strdup(cli_text(c->subject, 400));
	g_free(mail);
	return r;
}

/* One signer, on stderr; `which` names the layer when there are several. */
static void
print_signer(cli *c, const gs_signer *s, const char *which)
{
	char *name = who(s);

	if (s->status == GS_SIG_GOOD) {
		/* -q: a good signature is said only with its warning */
		if (!c->quiet || (s->reasons & GS_REASONS_WARNINGS))
			fprintf(stderr, "galsmime %s: %sgood signature from %s\n", c->cmd, which, name);
		if (s->reasons & GS_REASONS_WARNINGS) {
			char *w = gs_reasons_string(s->reasons & GS_REASONS_WARNINGS);
			fprintf(stderr, "galsmime %s: WARNING: %s%s\n", c->cmd, w,
				(s->reasons & GS_REASON_CRL_STALE) ? " (galsmime crl update)" : "");
			g_free(w);
		}
	} else {
		char *w = gs_reasons_string(s->reasons);
		fprintf(stderr, "galsmime %s: %s%s signature from %s: %s%s%s%s\n", c->cmd, which,
			s->status == GS_SIG_BAD ? "BAD" : "UNCHECKED", name, w, s->detail ? " (" : "",
			s->detail ? cli_text(s->detail, 400) : "", s->detail ? ")" : "");
		g_free(w);
	}
	if (s->have_cert && !c->quiet) {
		char *nb = cli_time(s->cert.not_before), *na = cli_time(s->cert.not_after);
		char *st = cli_signed_at(s->signing_time);
		fprintf(stderr, "  fingerprint (SHA-256) %s\n", s->cert.sha256);
		fprintf(stderr, "  issuer %s, serial %s\n", cli_text(s->cert.issuer, 400), s->cert.serial);
		fprintf(stderr, "  valid from %s to %s; %s with %s\n", nb, na, st,
			s->digest ? s->digest : "an unknown digest");
		g_free(nb);
		g_free(na);
		g_free(st);
	}
	g_free(name);
}

/* "signed (detached) > encrypted (aes-256-cbc) > signed (opaque)" */
static char *
layer_chain(const gs_report *r)
{
	GString *g = g_string_new(NULL);
	size_t i;

	for (i = 0; i < gs_report_layer_count(r); i++) {
		const gs_layer *l = gs_report_layer(r, i);
		g_string_append_printf(g, "%s%s (%s)", i ? " > " : "",
				       l->kind == GS_LAYER_SIGNED ? "signed" : "encrypted",
				       l->kind == GS_LAYER_SIGNED ? l->form : l->cipher ? l->cipher : "?");
	}
	return g_string_free(g, FALSE);
}

void
cli_print_report(cli *c, const gs_report *r)
{
	size_t i, k, nsigned = 0, nlayers = gs_report_layer_count(r);
	unsigned bad = gs_report_reasons(r) & ~GS_REASONS_WARNINGS;
	unsigned warn = gs_report_reasons(r) & GS_REASONS_WARNINGS & ~GS_REASON_CRL_STALE;
	const char *path, *note;
	const char *const *h = gs_report_header_mismatches(r);

	for (i = 0; i < nlayers; i++)
		nsigned += gs_report_layer(r, i)->kind == GS_LAYER_SIGNED;
	if (nlayers > 1 && !c->quiet) {
		char *chain = layer_chain(r);
		fprintf(stderr, "galsmime %s: layers: %s\n", c->cmd, chain);
		g_free(chain);
	}
	for (i = 0; i < nlayers; i++) {
		const gs_layer *l = gs_report_layer(r, i);
		if (l->kind == GS_LAYER_ENCRYPTED && !c->quiet)
			fprintf(stderr, "galsmime %s: encrypted with %s (%s)\n", c->cmd,
				l->cipher ? cli_text(l->cipher, 80) : "an unknown cipher",
				l->authenticated ? "authenticated" : "not authenticated");
	}
	for (k = 0; gs_report_part(r, k, &path, &note); k++)
		fprintf(stderr, "galsmime %s: part %s: %s\n", c->cmd, path, cli_text(note, 400));
	if (gs_report_protected_headers(r) && !c->quiet)
		fprintf(stderr, "galsmime %s: the message carries protected header fields\n", c->cmd);
	for (; h && *h; h++)
		fprintf(stderr, "galsmime %s: WARNING: the outer %s differs from the protected one\n", c->cmd, *h);
	if (gs_report_kind_of(r) != GS_REPORT_SIGNED) {
		if (!c->quiet)
			fprintf(stderr, "galsmime %s: not signed\n", c->cmd);
		return;
	}
	if (bad) {
		char *w = gs_reasons_string(bad);
		fprintf(stderr, "galsmime %s: BAD: %s\n", c->cmd, w);
		g_free(w);
	}
	if (warn) {
		char *w = gs_reasons_string(warn);
		fprintf(stderr, "galsmime %s: WARNING: %s\n", c->cmd, w);
		g_free(w);
	}
	for (i = 0; i < nlayers; i++) {
		const gs_layer *l = gs_report_layer(r, i);
		char *which;

		if (l->kind != GS_LAYER_SIGNED)
			continue;
		which = nsigned > 1 ? g_strdup_printf("signature at part %s: ", l->path) : g_strdup("");
		for (k = 0; k < l->n_signers; k++)
			print_signer(c, gs_report_layer_signer(r, i, k), which);
		if (l->n_signers == 0 && !(l->reasons & GS_REASON_LIMIT))
			fprintf(stderr, "galsmime %s: %sBAD: the signature has no signers\n", c->cmd, which);
		g_free(which);
	}
}

void
cli_print_bindings(cli *c, const gs_recipients *r)
{
	size_t i;

	for (i = 0; i < gs_recipients_count(r) && !c->quiet; i++) {
		const gs_recipient_result *x = gs_recipients_get(r, i);
		if (x->note)
			cli_error(c, "%s: %s", x->recipient, x->note);
	}
}

void
cli_print_directories(cli *c, const gs_recipients *r)
{
	size_t i;

	/* an old answer used, or none: said even under -q */
	for (i = 0; i < gs_recipients_count(r); i++) {
		const gs_recipient_result *x = gs_recipients_get(r, i);
		if (x->directory)
			cli_error(c, "%s: %s", cli_text(x->recipient, 200), x->directory);
	}
}
