/* fuzz-mutt.c: the inputs of `galsmime mutt` subcommands through the
 * library calls they make, in a session whose store holds alice's and
 * carol's identities (keys unencrypted). The first byte chooses (modulo
 * 8), the rest is the input:
 *
 *   0  verify SIG CONTENT: a 2-byte big-endian length, that many bytes
 *      of signature, the content after it  -> gs_raw_verify, detached
 *   1  verify-opaque SIG                    -> gs_raw_verify, encapsulated
 *   2  decrypt DER                          -> gs_raw_decrypt, then the
 *      plaintext parsed as a MIME entity, as the command checks it
 *   3  get-cert / get-cert-email / import-cert's certificate reading
 *                                           -> gs_raw_certs (all, signers),
 *      gs_raw_cert_emails; the PEM handed out must read back; the
 *      addresses get-cert-email prints are whole plain mailboxes
 *   4  pk7out / get-signer-cert MESSAGE     -> gs_message_parse,
 *      gs_message_signature, gs_raw_certs(signers),
 *      gs_message_signer_certs (each certificate it hands out names the
 *      one From address, spelled out in the From field); then
 *      gs_harvest on the message (with GS_HARVEST_DECRYPT), whose
 *      certificates are removed again so that every input meets the
 *      same store
 *   5  sign CONTENT: a byte (bit 0: alice or carol, bit 1: detached or
 *      encapsulated), the content    -> gs_raw_sign; what it signs
 *      verifies good (gs_raw_verify), over the same content
 *   6  encrypt CONTENT CERTFILE: a flags byte (bit 0: allow untrusted),
 *      a byte choosing the certificate file (alice's, carol's, the
 *      intermediate's, the root's, alice's with her chain, or a 2-byte
 *      length and that many input bytes), the content -> gs_raw_encrypt:
 *      the test users' certificates are usable, CA certificates never
 *      are; what is written to alice decrypts to the content
 *   7  sync-index on a hostile GAL: records made of the input (names and
 *      addresses of raw bytes, control characters, quotes, commas,
 *      pieces repeated past a thousand characters, certificate values
 *      from the fuzz PKI), imported as JSON, then gs_mutt_index: every
 *      line within GS_MUTT_LINE_MAX, six single-space-separated fields, a
 *      plain mailbox first, a one-word label, its certificate file named
 *      before it, 't' only for what gs_resolve chooses; the GAL is
 *      removed again
 *
 * Seeds: fuzz/seeds/mutt, made by fuzz/mkseeds. */
#include "fuzz-smime.h"
#include "fuzz-reader.h"

#include <sys/mman.h>
#include <openssl/pem.h>

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	fz_setup(1);
	return 0;
}

static void
raw_verify(gs_session *s, const uint8_t *sig, size_t siglen, const uint8_t *content, size_t len)
{
	GByteArray *inner = NULL;
	gs_report *r = NULL;
	char *msg = NULL;
	gs_status st;

	st = gs_raw_verify(s, sig, siglen, content, len, content ? NULL : &inner, &r, &msg);
	fz_status("gs_raw_verify", st, &msg);
	fz_out("gs_raw_verify", st, r);
	if (!content)
		fz_out("gs_raw_verify (content)", st, inner);
	if (r) {
		fz_report(r);
		gs_report_free(r);
	}
	if (inner)
		g_byte_array_unref(inner);
}

static void
raw_decrypt(gs_session *s, const uint8_t *der, size_t len)
{
	GByteArray *plain = NULL;
	gs_report *r = NULL;
	char *msg = NULL;
	gs_status st;

	st = gs_raw_decrypt(s, der, len, &plain, &r, &msg);
	fz_status("gs_raw_decrypt", st, &msg);
	fz_out("gs_raw_decrypt", st, plain);
	fz_out("gs_raw_decrypt (report)", st, r);
	if (r) {
		fz_report(r);
		gs_report_free(r);
	}
	if (plain) {
		/* m_decrypt: an empty plaintext is refused; anything else is
		 * a MIME entity, or given one (gs_entity_parse) */
		if (plain->len) {
			GMimeStream *mem = g_mime_stream_mem_new_with_buffer((const char *) plain->data,
									      plain->len);
			int headerless = 0;
			GMimeObject *o = gs_entity_parse(mem, &headerless);

			if (!o)
				fz_die("gs_entity_parse: no entity for content that is not empty", NULL);
			g_free(g_mime_object_to_string(o, NULL));
			g_object_unref(o);
			g_object_unref(mem);
		}
		g_byte_array_unref(plain);
	}
}

/* A mailbox mutt reads whole and compares exactly, checked here without
 * gs_mutt_mailbox_ok: at most 254 octets of printable ASCII, no blank,
 * quote or other special, one @ with something on each side, no dot at
 * either end of the local part nor two in a row. */
static int
whole_mailbox(const char *p, size_t n)
{
	const char *at = memchr(p, '@', n);
	size_t i;

	if (n == 0 || n > 254 || !at || at == p || at == p + n - 1 || memchr(at + 1, '@', p + n - at - 1))
		return 0;
	if (p[0] == '.' || at[-1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char) p[i];
		if (ch <= 0x20 || ch >= 0x7f || strchr("\"(),:;<>[\\]", ch) || (ch == '.' && i + 1 < n && p[i + 1] == '.'))
			return 0;
	}
	return 1;
}

/* The certificates handed out as PEM must read back. */
static void
pem_reads_back(const char *pem)
{
	char **emails = NULL, *msg = NULL;

	if (gs_raw_cert_emails(pem, strlen(pem), &emails, &msg) != GS_OK)
		fz_die("the PEM of gs_raw_certs does not read back", msg);
	g_strfreev(emails);
}

static void
raw_certs(const uint8_t *data, size_t len, int signers_only)
{
	char *pem = NULL, *msg = NULL;
	gs_status st = gs_raw_certs(data, len, signers_only, &pem, &msg);

	fz_status("gs_raw_certs", st, &msg);
	fz_out("gs_raw_certs", st, pem);
	if (pem) {
		pem_reads_back(pem);
		g_free(pem);
	}
}

static void
cert_emails(const uint8_t *data, size_t len)
{
	char **emails = NULL, **e, *msg = NULL;
	gs_status st = gs_raw_cert_emails(data, len, &emails, &msg);

	fz_status("gs_raw_cert_emails", st, &msg);
	fz_out("gs_raw_cert_emails", st, emails);
	/* get-cert-email prints those gs_mutt_mailbox_ok takes, a line each */
	for (e = emails; e && *e; e++)
		if (gs_mutt_mailbox_ok(*e) && !whole_mailbox(*e, strlen(*e)))
			fz_die("get-cert-email would print an address mutt does not read whole", *e);
	g_strfreev(emails);
}

/* Remove what a source brought (a good harvest, a fuzzed GAL): its
 * links and the certificates nothing else brings. */
static void
source_undo(gs_store *store, const char *name, const char *kind)
{
	char *msg = NULL;
	unsigned long removed;
	int64_t src;

	if (gs_store_begin(store, &msg) != GS_OK ||
	    gs_store_source(store, name, kind, &src, &msg) != GS_OK ||
	    gs_store_source_clear(store, src, &removed, &msg) != GS_OK ||
	    gs_store_gc(store, &msg) != GS_OK || gs_store_commit(store, &msg) != GS_OK)
		fz_die("undoing an import", msg);
}

/* get-signer-cert: every certificate it hands out names the message's
 * one From address exactly, and that address is spelled out in the one
 * From field (mutt compares the addresses with From only as prefixes). */
static void
signer_certs(GMimeMessage *m)
{
	STACK_OF(X509) *certs = NULL;
	char *pem = NULL, *msg = NULL, *from, *raw;
	gs_status st = gs_message_signer_certs(m, &pem, &msg);
	GMimeHeader *h;
	int i;

	fz_status("gs_message_signer_certs", st, &msg);
	fz_out("gs_message_signer_certs", st, pem);
	if (!pem)
		return;
	if (!(from = gs_message_from_address(m)))
		fz_die("get-signer-cert wrote a certificate for a message without one From address", NULL);
	h = g_mime_header_list_get_header(g_mime_object_get_header_list(GMIME_OBJECT(m)), "From");
	raw = g_ascii_strdown(h ? g_mime_header_get_raw_value(h) : "", -1);
	if (!strstr(raw, from))
		fz_die("get-signer-cert: the From address is not spelled out in the field", from);
	if (gs_read_certificates((const unsigned char *) pem, strlen(pem), &certs, &msg) != GS_OK)
		fz_die("the PEM of gs_message_signer_certs does not read back", msg);
	for (i = 0; i < sk_X509_num(certs); i++)
		if (!gs_cert_has_email(sk_X509_value(certs, i), from))
			fz_die("get-signer-cert wrote a certificate that does not name From", from);
	sk_X509_pop_free(certs, X509_free);
	g_free(raw);
	g_free(from);
	g_free(pem);
}

static void
message(gs_session *s, const uint8_t *data, size_t size)
{
	GMimeMessage *m = fz_parse(s, data, size);
	gs_harvest_result res;
	GByteArray *der = NULL;
	char *msg = NULL;
	gs_status st;

	if (!m)
		return;
	st = gs_message_signature(m, &der, &msg);
	fz_status("gs_message_signature", st, &msg);
	fz_out("gs_message_signature", st, der);
	if (der) {
		raw_certs(der->data, der->len, 1);
		g_byte_array_unref(der);
	}
	signer_certs(m);
	st = gs_harvest(s, m, NULL, GS_HARVEST_DECRYPT, &res, &msg);
	fz_status("gs_harvest", st, &msg);
	if (st == GS_OK) {
		if (res.report) {
			fz_report(res.report);
			gs_report_free(res.report);
		}
		if (res.outcome == GS_HARVEST_GOOD)
			source_undo(s->store, "harvest", "harvest");
	}
	g_object_unref(m);
}

/* ---- 5: sign ---- */

static void
raw_sign(gs_session *s, const uint8_t *data, size_t size)
{
	const char *signer = size && (data[0] & 1) ? "carol@example.org" : "alice@example.org";
	int detached = !(size && (data[0] & 2));
	const uint8_t *content = size ? data + 1 : data;
	size_t len = size ? size - 1 : 0;
	GByteArray *der = NULL, *inner = NULL;
	gs_report *r = NULL;
	char *msg = NULL;
	gs_status st;

	st = gs_raw_sign(s, signer, content, len, detached, &der, &msg);
	if (st != GS_OK)
		fz_die("gs_raw_sign failed for one of our identities", msg);
	st = gs_raw_verify(s, der->data, der->len, detached ? content : NULL, len, detached ? NULL : &inner,
			   &r, &msg);
	if (st != GS_OK || gs_report_status(r) != GS_SIG_GOOD || gs_report_signer_count(r) != 1)
		fz_die("what gs_raw_sign signed does not verify good", msg);
	if (!detached && (inner->len != len || (len && memcmp(inner->data, content, len))))
		fz_die("the encapsulated content is not what was signed", NULL);
	gs_report_free(r);
	g_byte_array_unref(der);
	if (inner)
		g_byte_array_unref(inner);
}

/* ---- 6: encrypt ---- */

static void
add_file(GPtrArray *files, const void *p, size_t n)
{
	GByteArray *a = g_byte_array_sized_new((guint) n);

	g_byte_array_append(a, p, (guint) n);
	g_ptr_array_add(files, a);
}

static void
raw_encrypt(gs_session *s, const uint8_t *data, size_t size)
{
	GPtrArray *files = g_ptr_array_new_with_free_func((GDestroyNotify) g_byte_array_unref);
	unsigned flags, choice;
	GByteArray *der = NULL, *plain = NULL;
	const uint8_t *content;
	size_t len, n;
	char *msg = NULL;
	gs_status st;

	if (size < 2)
		return;
	flags = data[0] & 1 ? GS_RESOLVE_ALLOW_UNTRUSTED : 0;
	choice = data[1] % 6;
	content = data + 2;
	len = size - 2;
	switch (choice) {
	case 0: add_file(files, fuzz_pki_alice, strlen(fuzz_pki_alice)); break;
	case 1: add_file(files, fuzz_pki_carol, strlen(fuzz_pki_carol)); break;
	case 2: add_file(files, fuzz_pki_inter, strlen(fuzz_pki_inter)); break;
	case 3: add_file(files, fuzz_pki_root, strlen(fuzz_pki_root)); break;
	case 4:
		add_file(files, fuzz_pki_alice, strlen(fuzz_pki_alice));
		g_byte_array_append(files->pdata[0], (const guint8 *) fuzz_pki_inter, strlen(fuzz_pki_inter));
		break;
	default:
		n = len >= 2 ? ((size_t) content[0] << 8 | content[1]) : 0;
		n = MIN(n, len >= 2 ? len - 2 : 0);
		add_file(files, content + 2, n);
		content += MIN(len, n + 2);
		len -= MIN(len, n + 2);
	}
	st = gs_raw_encrypt(s, files, NULL, 1, flags, data[0] & 2 ? GS_CIPHER_AES256_GCM : GS_CIPHER_AES256_CBC,
			    (data[0] & 4) != 0, content, len, &der, &msg);
	/* the test users are trusted and valid; a CA is never a recipient */
	if (choice != 5 && (choice == 2 || choice == 3) != (st == GS_E_NO_CERT))
		fz_die("gs_raw_encrypt judged a known certificate wrongly", msg);
	fz_status("gs_raw_encrypt", st, &msg);
	fz_out("gs_raw_encrypt", st, der);
	if (der && (choice == 0 || choice == 4)) {
		st = gs_raw_decrypt(s, der->data, der->len, &plain, NULL, &msg);
		if (st != GS_OK || plain->len != len || (len && memcmp(plain->data, content, len)))
			fz_die("what gs_raw_encrypt wrote to alice does not decrypt to the content", msg);
		g_byte_array_unref(plain);
	}
	if (der)
		g_byte_array_unref(der);
	g_ptr_array_free(files, TRUE);
}

/* ---- 7: sync-index on a hostile GAL ---- */

static const char *const pieces[] = {
	"ceo@example.org", "alice@example.org", "carol@example.org", "\"x,ceo@example.org,y\"", ",", " ",
	"\r\n", "\x1b[2K", "\x1b[8m", "\x07", "\t", "@", ".", "..", "evil.example", "(c)", "<", ">",
	"\xc3\xa9", "\xe2\x80\xae", "\\", "\"", ":", ";", "[192.0.2.1]", "-", "example.org",
};

/* A string made of pieces, raw input bytes, and runs long enough to
 * pass mutt's buffers. */
static void
hostile(GString *g, reader *r)
{
	unsigned i, k, n = 1 + next(r, 4);

	for (i = 0; i < n; i++) {
		const char *piece = pieces[next(r, G_N_ELEMENTS(pieces))];
		switch (next(r, 4)) {
		case 0:
			g_string_append(g, piece);
			break;
		case 1:
			for (k = next(r, 32); k > 0 && r->n; k--)
				g_string_append_c(g, (char) next(r, 0));
			break;
		case 2:
			for (k = 1 + next(r, 0) * 4; k > 0; k--)
				g_string_append(g, piece);
			break;
		default:
			for (k = 1 + next(r, 0) * 4; k > 0; k--)
				g_string_append_c(g, 'a');
		}
	}
}

static void
json_str(GString *out, const GString *s)
{
	gsize i;

	g_string_append_c(out, '"');
	for (i = 0; i < s->len; i++) {
		unsigned char ch = (unsigned char) s->str[i];
		if (ch == '"' || ch == '\\')
			g_string_append_printf(out, "\\%c", ch);
		else if (ch < 0x20)
			g_string_append_printf(out, "\\u%04x", ch);
		else
			g_string_append_c(out, (char) ch);
	}
	g_string_append_c(out, '"');
}

static void
hostile_field(GString *out, const char *key, reader *r, int address)
{
	GString *v = g_string_new(NULL);

	if (address && next(r, 4))
		g_string_append(v, next(r, 2) ? "SMTP:" : "smtp:");
	hostile(v, r);
	if (address && next(r, 2)) {
		g_string_append_c(v, '@');
		hostile(v, r);
	}
	if (key)
		g_string_append_printf(out, "\"%s\":", key);
	json_str(out, v);
	g_string_free(v, TRUE);
}

static void
cert_value(GString *out, reader *r)
{
	const char *const pool[] = { fuzz_pki_alice, fuzz_pki_carol, fuzz_pki_inter, fuzz_pki_root };
	const char *pem = pool[next(r, G_N_ELEMENTS(pool))];
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	unsigned char *der = NULL;
	int n = x ? i2d_X509(x, &der) : -1;
	char *b64;

	if (n <= 0)
		fz_die("the fuzz PKI", "a certificate does not parse");
	b64 = g_base64_encode(der, (gsize) n);
	g_string_append_printf(out, "\"%s\"", b64);
	g_free(b64);
	OPENSSL_free(der);
	X509_free(x);
	BIO_free(b);
}

static void
gal_record(GString *g, reader *r)
{
	static const char *const kinds[] = { "UserMailbox", "MailContact", "MailUser" };
	unsigned i, n;

	g_string_append_printf(g, "{\"RecipientType\":\"%s\",", kinds[next(r, G_N_ELEMENTS(kinds))]);
	hostile_field(g, "Name", r, 0);
	g_string_append_c(g, ',');
	hostile_field(g, "DisplayName", r, 0);
	g_string_append_c(g, ',');
	hostile_field(g, "PrimarySmtpAddress", r, 1);
	g_string_append(g, ",\"EmailAddresses\":[");
	for (i = 0, n = next(r, 4); i < n; i++) {
		if (i)
			g_string_append_c(g, ',');
		hostile_field(g, NULL, r, 1);
	}
	g_string_append(g, "],\"UserSMIMECertificate\":[");
	for (i = 0, n = next(r, 3); i < n; i++) {
		if (i)
			g_string_append_c(g, ',');
		cert_value(g, r);
	}
	g_string_append(g, "]}");
}

typedef struct idx_check {
	gs_session *s;
	GHashTable *files;     /* name -> SHA-256 of its certificate */
	GHashTable *trusted;   /* mailboxes with a 't' line */
} idx_check;

static int
idx_file(void *data, const char *name, const char *pem)
{
	idx_check *c = data;
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	size_t n = strlen(name);

	BIO_free(b);
	if (!x)
		fz_die("sync-index: a certificate file that does not read back", name);
	if (n < 10 || strspn(name, "0123456789abcdef") != 8 || name[8] != '.' ||
	    strspn(name + 9, "0123456789") != n - 9)
		fz_die("sync-index: a certificate file not named hash.N", name);
	if (!g_hash_table_insert(c->files, g_strdup(name), gs_cert_sha256_hex(x)))
		fz_die("sync-index: a certificate file named twice", name);
	X509_free(x);
	return 0;
}

/* Every line as mutt reads it: whole within its buffer, six fields. */
static int
idx_line(void *data, const gs_mutt_line *l)
{
	idx_check *c = data;
	size_t n = strlen(l->text), i;
	char **f, *line;

	if (n == 0 || n > GS_MUTT_LINE_MAX || l->text[n - 1] != '\n')
		fz_die("sync-index: a line mutt would not read whole", l->text);
	for (i = 0; i + 1 < n; i++)
		if ((unsigned char) l->text[i] < 0x20 || l->text[i] == 0x7f)
			fz_die("sync-index: a control character in a line", l->text);
	line = g_strndup(l->text, n - 1);
	f = g_strsplit(line, " ", 0);
	g_free(line);
	if (g_strv_length(f) != 6 || !*f[0] || !*f[1] || !*f[2] || !*f[3] || !*f[4] || !*f[5])
		fz_die("sync-index: not six fields separated by single spaces", l->text);
	if (!whole_mailbox(f[0], strlen(f[0])) || strcmp(f[0], l->mailbox))
		fz_die("sync-index: the first field is not a plain mailbox", l->text);
	if (!g_hash_table_contains(c->files, f[1]) || strcmp(f[1], l->keyid))
		fz_die("sync-index: a line naming a file not written before it", l->text);
	for (i = 0; f[2][i]; i++)
		if (!g_ascii_isalnum(f[2][i]) && !strchr("._-", f[2][i]) && (unsigned char) f[2][i] < 0x80)
			fz_die("sync-index: a label that is not one safe word", l->text);
	if (strcmp(f[3], "?") || strlen(f[4]) != 1 || !strchr("teri", f[4][0]) ||
	    (strcmp(f[5], "se") && strcmp(f[5], "s") && strcmp(f[5], "e") && strcmp(f[5], "-")))
		fz_die("sync-index: issuer, trust or purpose not as mutt reads them", l->text);
	if (!l->keys && f[4][0] == 't') {
		gs_resolution *res = NULL;
		char *msg = NULL;

		if (!g_hash_table_add(c->trusted, g_strdup(f[0])))
			fz_die("sync-index: two trusted lines for one mailbox", l->text);
		if (gs_resolve(c->s, f[0], 0, &res, &msg) != GS_OK)
			fz_die("gs_resolve", msg);
		if (!gs_resolution_chosen(res) ||
		    strcmp(gs_resolution_chosen(res)->cert.sha256, g_hash_table_lookup(c->files, f[1])))
			fz_die("sync-index: a trusted line for what gs_resolve does not choose", l->text);
		gs_resolution_free(res);
	}
	g_strfreev(f);
	return 0;
}

static void
sync_index(gs_session *s, const uint8_t *data, size_t size)
{
	reader r = { data, size };
	GString *g = g_string_new("[");
	gs_gal_import_opts opts = { .skip_bad = 1 };
	idx_check c = { s, g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
			g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL) };
	gs_mutt_index_cbs cbs = { idx_file, idx_line, &c };
	gs_mutt_index_stats stats;
	gs_gal_import *imp = NULL;
	gs_gal_stats gst;
	unsigned i, n = 1 + next(&r, 4);
	char *msg = NULL;
	gs_status st;
	int fd;

	for (i = 0; i < n; i++) {
		if (i)
			g_string_append_c(g, ',');
		gal_record(g, &r);
	}
	g_string_append_c(g, ']');
	if (gs_gal_import_begin(s->store, "fuzz-gal", &opts, &imp, &msg) != GS_OK)
		fz_die("import begin", msg);
	fd = memfd_create("gal", MFD_CLOEXEC);
	if (fd < 0 || write(fd, g->str, g->len) != (ssize_t) g->len)
		fz_die("memfd", NULL);
	lseek(fd, 0, SEEK_SET);
	st = gs_gal_import_file(imp, fd, "fuzz.json", GS_GAL_JSON, &msg);
	close(fd);
	if (st == GS_OK) {
		if ((st = gs_gal_import_commit(imp, &gst, &msg)) != GS_OK)
			fz_die("commit", msg);
	} else {
		fz_status("gs_gal_import_file", st, &msg);
		gs_gal_import_abort(imp);
	}
	st = gs_mutt_index(s, 1, &cbs, &stats, &msg);
	fz_status("gs_mutt_index", st, &msg);
	if (st == GS_OK && stats.lines + stats.key_lines == 0)
		fz_die("sync-index: no line, not even for our own identities", NULL);
	g_hash_table_destroy(c.files);
	g_hash_table_destroy(c.trusted);
	g_string_free(g, TRUE);
	source_undo(s->store, "fuzz-gal", "gal");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gs_session *s = fz_setup(1);
	size_t siglen;

	if (size < 1 || size - 1 > gs_session_limits(s)->max_message)
		return 0;
	switch (data[0] % 8) {
	case 0:
		if (size < 3)
			break;
		siglen = ((size_t) data[1] << 8) | data[2];
		if (siglen > size - 3)
			siglen = size - 3;
		raw_verify(s, data + 3, siglen, data + 3 + siglen, size - 3 - siglen);
		break;
	case 1:
		raw_verify(s, data + 1, size - 1, NULL, 0);
		break;
	case 2:
		raw_decrypt(s, data + 1, size - 1);
		break;
	case 3:
		raw_certs(data + 1, size - 1, 0);
		raw_certs(data + 1, size - 1, 1);
		cert_emails(data + 1, size - 1);
		break;
	case 4:
		message(s, data + 1, size - 1);
		break;
	case 5:
		raw_sign(s, data + 1, size - 1);
		break;
	case 6:
		raw_encrypt(s, data + 1, size - 1);
		break;
	case 7:
		sync_index(s, data + 1, size - 1);
		break;
	}
	fz_session_bounded(s);
	ERR_clear_error();
	return 0;
}
