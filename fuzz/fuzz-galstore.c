/* fuzz-galstore.c: the whole path a directory export takes: the JSON
 * importer, the store (one committed snapshot, replaced by the next
 * input), then the resolver on every address and name the records use.
 * A parser fuzzed alone never reached the store step that crashed on a
 * plain export (the same certificate in UserCertificate and
 * UserSMIMECertificate); here every record is made of a small vocabulary
 * of names and addresses and of certificate values drawn from a pool
 * (the same certificate again and again, in both attributes, in a PKCS#7
 * bag with its chain, CA certificates, cut-off values), so that records
 * share and repeat values and claim each other's addresses.
 *
 * Input bytes, read as they come (missing bytes read as 0): the number
 * of records, then for each: kind, name, alias, display name, primary
 * address, up to 3 more addresses with their proxy prefixes, up to 4
 * certificate values (pool item, attribute, shape); then skip_bad and
 * the document's shape (an array, or it wrapped in {"value": ...}). Checks: no crash, no
 * sanitizer report, a committed import or a one-line error, and
 * fuzz-gal.h's binding rules on every resolution. */
#include "fuzz-gal.h"
#include "fuzz-reader.h"

#include <sys/mman.h>

static const char *const vocab[] = {
	"alice@example.org", "Alice@Example.org", "bob@example.org", "carol@example.org",
	"robert@example.org", "pat@partner.example", "bob@example.org.evil.example",
	"Alice Example", "alice", "bob", "Bob Example", "Partner", "Partner_SMIME", "",
};
static const char *const prefixes[] = { "SMTP:", "smtp:", "", "X500:", "mailto:", "SIP:" };
static const char *const kinds[] = { "UserMailbox", "MailContact", "MailUser", "MailUniversalDistributionGroup" };

static void
json_str(GString *g, const char *s)
{
	g_string_append_c(g, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			g_string_append_c(g, '\\');
		g_string_append_c(g, *s);
	}
	g_string_append_c(g, '"');
}

/* One certificate value: a pool item whole, cut short, or a few bytes. */
static void
value(GString *g, reader *r)
{
	unsigned item = next(r, FG_NCERTS), shape = next(r, 8);
	gsize len;
	const guint8 *p = g_bytes_get_data(fg_values[item], &len);
	char *b64;

	if (shape == 7)
		len = len / 2; /* cut off: a bad value */
	b64 = g_base64_encode(p, len);
	json_str(g, b64);
	g_free(b64);
}

static void
record(GString *g, reader *r)
{
	unsigned i, naddr, nval;
	int first_u = 1, first_s = 1;
	GString *ucert = g_string_new("["), *scert = g_string_new("[");

	g_string_append(g, "{\"RecipientType\":");
	json_str(g, kinds[next(r, G_N_ELEMENTS(kinds))]);
	g_string_append(g, ",\"Name\":");
	json_str(g, vocab[next(r, G_N_ELEMENTS(vocab))]);
	g_string_append(g, ",\"Alias\":");
	json_str(g, vocab[next(r, G_N_ELEMENTS(vocab))]);
	g_string_append(g, ",\"DisplayName\":");
	json_str(g, vocab[next(r, G_N_ELEMENTS(vocab))]);
	g_string_append(g, ",\"PrimarySmtpAddress\":");
	json_str(g, vocab[next(r, 7)]);
	g_string_append(g, ",\"EmailAddresses\":[");
	naddr = next(r, 4);
	for (i = 0; i < naddr; i++) {
		char *a = g_strconcat(prefixes[next(r, G_N_ELEMENTS(prefixes))], vocab[next(r, 7)], NULL);
		if (i)
			g_string_append_c(g, ',');
		json_str(g, a);
		g_free(a);
	}
	g_string_append_c(g, ']');
	nval = next(r, 5);
	for (i = 0; i < nval; i++) {
		/* the same value may go to both attributes: the crash */
		unsigned where = next(r, 3);
		reader again = *r;

		if (where != 1) {
			if (!first_u)
				g_string_append_c(ucert, ',');
			value(ucert, r);
			first_u = 0;
		}
		if (where != 0) {
			if (!first_s)
				g_string_append_c(scert, ',');
			value(scert, where == 2 ? &again : r);
			first_s = 0;
		}
		if (where == 2)
			*r = again;
	}
	g_string_append(ucert, "]");
	g_string_append(scert, "]");
	g_string_append_printf(g, ",\"UserCertificate\":%s,\"UserSMIMECertificate\":%s}", ucert->str,
			       scert->str);
	g_string_free(ucert, TRUE);
	g_string_free(scert, TRUE);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	reader r = { data, size };
	GString *g = g_string_new("[");
	gs_gal_import_opts opts = { 0 };
	gs_gal_import *imp = NULL;
	gs_gal_stats stats;
	unsigned i, n;
	char *msg = NULL;
	gs_status st;
	int fd;

	fg_setup();
	n = 1 + next(&r, 6);
	for (i = 0; i < n; i++) {
		if (i)
			g_string_append_c(g, ',');
		record(g, &r);
	}
	g_string_append_c(g, ']');
	opts.skip_bad = next(&r, 2);
	/* the array as it is, or wrapped as PowerShell 5.1 / the admin API do */
	switch (next(&r, 3)) {
	case 1:
		g_string_prepend(g, "{\"value\":");
		g_string_append_printf(g, ",\"Count\":%u}", n);
		break;
	case 2:
		g_string_prepend(g, "{\"@odata.context\":\"x\",\"value\":");
		g_string_append(g, ",\"@odata.nextLink\":null}");
		break;
	}
	if (gs_gal_import_begin(fg_store, "fuzz", &opts, &imp, &msg) != GS_OK)
		fg_die("import begin", msg);
	fd = memfd_create("gal", MFD_CLOEXEC);
	if (fd < 0 || write(fd, g->str, g->len) != (ssize_t) g->len)
		fg_die("memfd", NULL);
	lseek(fd, 0, SEEK_SET);
	st = gs_gal_import_file(imp, fd, "fuzz.json", GS_GAL_JSON, &msg);
	close(fd);
	if (st == GS_OK) {
		if ((st = gs_gal_import_commit(imp, &stats, &msg)) != GS_OK)
			fg_die("commit", msg);
	} else {
		if (st == GS_E_INTERNAL || !msg || strchr(msg, '\n'))
			fg_die("an import failure without a one-line reason", msg);
		gs_gal_import_abort(imp);
	}
	g_free(msg);
	g_string_free(g, TRUE);
	/* whatever the directory now says, every query obeys the rules */
	for (i = 0; i < G_N_ELEMENTS(vocab); i++)
		fg_check(vocab[i]);
	return 0;
}
