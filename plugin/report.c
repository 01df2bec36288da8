/* report.c: the human rendering of a verdict, on stderr. */
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
	mail = c->emails && *c->emails ? g_strndup(c->emails, strcspn(c->emails, ",")) : NULL;
	if (c->common_name && mail)
		r = g_strdup_printf("%s <%s>", c->common_name, mail);
	else if (mail)
		r = g_strdup_printf("<%s>", mail);
	else
		r = g_strdup(c->subject);
	g_free(mail);
	return r;
}

void
cli_print_report(cli *c, const gs_report *r)
{
	size_t i, n = gs_report_signer_count(r);

	if (gs_report_encrypted(r))
		fprintf(stderr, "galsmime %s: encrypted with %s (%s)\n", c->cmd,
			gs_report_cipher(r) ? gs_report_cipher(r) : "an unknown cipher",
			gs_report_authenticated(r) ? "authenticated" : "not authenticated");
	{
		const char *path, *note;
		const char *const *h = gs_report_header_mismatches(r);
		size_t k;

		for (k = 0; gs_report_part(r, k, &path, &note); k++)
			fprintf(stderr, "galsmime %s: part %s: %s\n", c->cmd, path, note);
		if (gs_report_protected_headers(r) && !c->quiet)
			fprintf(stderr, "galsmime %s: the message carries protected header fields\n", c->cmd);
		for (; h && *h; h++)
			fprintf(stderr, "galsmime %s: WARNING: the outer %s differs from the protected one\n",
				c->cmd, *h);
	}
	if (gs_report_kind_of(r) != GS_REPORT_SIGNED) {
		if (!c->quiet)
			fprintf(stderr, "galsmime %s: not signed\n", c->cmd);
		return;
	}
	if (gs_report_reasons(r)) {
		char *w = gs_reasons_string(gs_report_reasons(r));
		fprintf(stderr, "galsmime %s: BAD: %s\n", c->cmd, w);
		g_free(w);
	}
	for (i = 0; i < n; i++) {
		const gs_signer *s = gs_report_signer(r, i);
		char *name = who(s);

		if (s->status == GS_SIG_GOOD) {
			fprintf(stderr, "galsmime %s: good signature from %s\n", c->cmd, name);
			if (s->reasons & GS_REASONS_WARNINGS) {
				char *w = gs_reasons_string(s->reasons & GS_REASONS_WARNINGS);
				fprintf(stderr, "galsmime %s: WARNING: %s%s\n", c->cmd, w,
					(s->reasons & GS_REASON_CRL_STALE) ? " (galsmime crl update)" : "");
				g_free(w);
			}
		} else {
			char *w = gs_reasons_string(s->reasons);
			fprintf(stderr, "galsmime %s: %s signature from %s: %s%s%s%s\n", c->cmd,
				s->status == GS_SIG_BAD ? "BAD" : "UNCHECKED", name, w,
				s->detail ? " (" : "", s->detail ? s->detail : "", s->detail ? ")" : "");
			g_free(w);
		}
		if (s->have_cert && !c->quiet) {
			char *nb = cli_time(s->cert.not_before), *na = cli_time(s->cert.not_after);
			char *st = cli_signed_at(s->signing_time);
			fprintf(stderr, "  fingerprint (SHA-256) %s\n", s->cert.sha256);
			fprintf(stderr, "  issuer %s, serial %s\n", s->cert.issuer, s->cert.serial);
			fprintf(stderr, "  valid from %s to %s; %s with %s\n", nb, na, st,
				s->digest ? s->digest : "an unknown digest");
			g_free(nb);
			g_free(na);
			g_free(st);
		}
		g_free(name);
	}
	if (n == 0)
		fprintf(stderr, "galsmime %s: BAD: the signature has no signers\n", c->cmd);
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
