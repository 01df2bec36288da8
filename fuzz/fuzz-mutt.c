/* fuzz-mutt.c: the inputs of `galsmime mutt` subcommands through the
 * library calls they make, in a session whose store holds alice's and
 * carol's identities (keys unencrypted). The first byte chooses (modulo
 * 5), the rest is the input:
 *
 *   0  verify SIG CONTENT: a 2-byte big-endian length, that many bytes
 *      of signature, the content after it  -> gs_raw_verify, detached
 *   1  verify-opaque SIG                    -> gs_raw_verify, encapsulated
 *   2  decrypt DER                          -> gs_raw_decrypt, then the
 *      plaintext parsed as a MIME entity, as the command checks it
 *   3  get-cert / get-cert-email / import-cert's certificate reading
 *                                           -> gs_raw_certs (all, signers),
 *      gs_raw_cert_emails; the PEM handed out must read back
 *   4  pk7out / get-signer-cert MESSAGE     -> gs_message_parse,
 *      gs_message_signature, gs_raw_certs(signers); then gs_harvest on
 *      the message (with GS_HARVEST_DECRYPT), whose certificates are
 *      removed again so that every input meets the same store
 *
 * Seeds: fuzz/seeds/mutt, made by fuzz/mkseeds. */
#include "fuzz-smime.h"

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
	for (e = emails; e && *e; e++)
		if (strchr(*e, '\n'))
			fz_die("gs_raw_cert_emails", "an address with a newline (one per line on stdout)");
	g_strfreev(emails);
}

/* Remove what a good harvest stored: the links of the source "harvest"
 * and the certificates nothing else brings. */
static void
harvest_undo(gs_store *store)
{
	char *msg = NULL;
	unsigned long removed;
	int64_t src;

	if (gs_store_begin(store, &msg) != GS_OK ||
	    gs_store_source(store, "harvest", "harvest", &src, &msg) != GS_OK ||
	    gs_store_source_clear(store, src, &removed, &msg) != GS_OK ||
	    gs_store_gc(store, &msg) != GS_OK || gs_store_commit(store, &msg) != GS_OK)
		fz_die("undoing a harvest", msg);
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
	st = gs_harvest(s, m, NULL, GS_HARVEST_DECRYPT, &res, &msg);
	fz_status("gs_harvest", st, &msg);
	if (st == GS_OK) {
		if (res.report) {
			fz_report(res.report);
			gs_report_free(res.report);
		}
		if (res.outcome == GS_HARVEST_GOOD)
			harvest_undo(s->store);
	}
	g_object_unref(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gs_session *s = fz_setup(1);
	size_t siglen;

	if (size < 1 || size - 1 > gs_session_limits(s)->max_message)
		return 0;
	switch (data[0] % 5) {
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
	}
	fz_session_bounded(s);
	ERR_clear_error();
	return 0;
}
