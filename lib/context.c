/* context.c: the GMimeCryptoContext subclass backed by OpenSSL CMS, for
 * hosts that use GMime's own multipart/signed and application/pkcs7-mime
 * functions (galsmime's message layer streams instead: stream.c,
 * message.c). GObject boilerplate, the vtable, and the translation
 * between GMime streams and OpenSSL BIOs; the work itself is in cms.c.
 * Each context holds its session; GMime's registry (gs_gmime_register)
 * gives contexts of the session the host registered. */
#include "gs-private.h"

#include <string.h>

G_DEFINE_QUARK(galsmime-error-quark, gs_error)

typedef struct _GsContext {
	GMimeCryptoContext parent;
	gs_session *session;     /* not owned: it outlives the context */
	gs_cipher cipher;        /* what encrypt() uses */
	int oaep;
} GsContext;

typedef struct _GsContextClass {
	GMimeCryptoContextClass parent_class;
} GsContextClass;

GType gs_context_get_type(void);
G_DEFINE_TYPE(GsContext, gs_context, GMIME_TYPE_CRYPTO_CONTEXT)

static void
set_error(GError **err, gs_status st, char *msg)
{
	g_set_error_literal(err, GS_ERROR, (int) st, msg ? msg : gs_status_string(st));
	g_free(msg);
}

static gs_session *
session_of(GMimeCryptoContext *ctx, GError **err)
{
	gs_session *s = ((GsContext *) ctx)->session;

	if (!s)
		set_error(err, GS_E_PROGRAMMER, g_strdup("galsmime: the crypto context has no session"));
	return s;
}

static GMimeDigestAlgo
ctx_digest_id(GMimeCryptoContext *ctx, const char *name)
{
	(void) ctx;
	if (!name)
		return GMIME_DIGEST_ALGO_DEFAULT;
	if (!g_ascii_strcasecmp(name, "sha-256") || !g_ascii_strcasecmp(name, "sha256"))
		return GMIME_DIGEST_ALGO_SHA256;
	if (!g_ascii_strcasecmp(name, "sha-384") || !g_ascii_strcasecmp(name, "sha384"))
		return GMIME_DIGEST_ALGO_SHA384;
	if (!g_ascii_strcasecmp(name, "sha-512") || !g_ascii_strcasecmp(name, "sha512"))
		return GMIME_DIGEST_ALGO_SHA512;
	if (!g_ascii_strcasecmp(name, "sha-224") || !g_ascii_strcasecmp(name, "sha224"))
		return GMIME_DIGEST_ALGO_SHA224;
	if (!g_ascii_strcasecmp(name, "sha-1") || !g_ascii_strcasecmp(name, "sha1"))
		return GMIME_DIGEST_ALGO_SHA1;
	if (!g_ascii_strcasecmp(name, "md5"))
		return GMIME_DIGEST_ALGO_MD5;
	return GMIME_DIGEST_ALGO_DEFAULT;
}

static const char *
ctx_digest_name(GMimeCryptoContext *ctx, GMimeDigestAlgo digest)
{
	(void) ctx;
	switch (digest) {
	case GMIME_DIGEST_ALGO_SHA1: return "sha-1";
	case GMIME_DIGEST_ALGO_SHA224: return "sha-224";
	case GMIME_DIGEST_ALGO_SHA384: return "sha-384";
	case GMIME_DIGEST_ALGO_SHA512: return "sha-512";
	case GMIME_DIGEST_ALGO_MD5: return "md5";
	default: return "sha-256";
	}
}

static const char *
ctx_sig_protocol(GMimeCryptoContext *ctx)
{
	(void) ctx;
	return "application/pkcs7-signature";
}

static const char *
ctx_enc_protocol(GMimeCryptoContext *ctx)
{
	(void) ctx;
	return "application/pkcs7-mime";
}

static const char *
ctx_key_protocol(GMimeCryptoContext *ctx)
{
	(void) ctx;
	return "application/pkcs7-keys";
}

static int
ctx_sign(GMimeCryptoContext *ctx, gboolean detach, const char *userid, GMimeStream *istream,
	 GMimeStream *ostream, GError **err)
{
	gs_session *s = session_of(ctx, err);
	gs_identity *id = NULL;
	char *msg = NULL;
	BIO *in, *out;
	gs_status st;

	(void) ctx;
	if (!s)
		return -1;
	if ((st = gs_identity_for_address(s, userid, &id, &msg)) != GS_OK) {
		set_error(err, st, msg);
		return -1;
	}
	g_ptr_array_add(s->identities, id);
	if ((st = gs_identity_unlock(s, id, &msg)) != GS_OK) {
		set_error(err, st, msg);
		return -1;
	}
	in = gs_bio_new_stream(istream);
	out = gs_bio_new_stream(ostream);
	st = gs_cms_sign(s, id, in, out, detach, &msg);
	BIO_free(in);
	BIO_free(out);
	if (st != GS_OK) {
		set_error(err, st, msg);
		return -1;
	}
	return GMIME_DIGEST_ALGO_SHA256;
}

static GMimeSignatureList *
signature_list(const gs_cms_result *res)
{
	GMimeSignatureList *list = g_mime_signature_list_new();
	guint i;

	for (i = 0; i < res->signers->len; i++) {
		gs_signer_data *sd = res->signers->pdata[i];
		GMimeSignature *sig = g_mime_signature_new();
		GMimeCertificate *c = g_mime_signature_get_certificate(sig);
		GMimeSignatureStatus status = 0;
		unsigned r = sd->pub.reasons;

		if (sd->pub.status == GS_SIG_GOOD)
			status = GMIME_SIGNATURE_STATUS_VALID | GMIME_SIGNATURE_STATUS_GREEN;
		else
			status = GMIME_SIGNATURE_STATUS_RED;
		if (r & GS_REASON_EXPIRED)
			status |= GMIME_SIGNATURE_STATUS_KEY_EXPIRED;
		if (r & GS_REASON_REVOKED)
			status |= GMIME_SIGNATURE_STATUS_KEY_REVOKED;
		if (r & GS_REASON_MISSING_CERT)
			status |= GMIME_SIGNATURE_STATUS_KEY_MISSING;
		if (r & (GS_REASON_UNTRUSTED | GS_REASON_BAD_PURPOSE))
			status |= GMIME_SIGNATURE_STATUS_BAD_POLICY;
		if (r & GS_REASON_UNSUPPORTED_ALGO)
			status |= GMIME_SIGNATURE_STATUS_SYS_ERROR;
		g_mime_signature_set_status(sig, status);
		g_mime_signature_set_created(sig, (time_t) sd->pub.signing_time);
		if (sd->pub.have_cert) {
			const gs_cert_info *ci = &sd->pub.cert;
			g_mime_certificate_set_fingerprint(c, ci->sha256);
			g_mime_certificate_set_issuer_serial(c, ci->serial);
			g_mime_certificate_set_issuer_name(c, ci->issuer);
			g_mime_certificate_set_name(c, ci->common_name ? ci->common_name : ci->subject);
			g_mime_certificate_set_user_id(c, ci->subject);
			if (sd->emails && sd->emails[0])
				g_mime_certificate_set_email(c, sd->emails[0]);
			g_mime_certificate_set_created(c, (time_t) ci->not_before);
			g_mime_certificate_set_expires(c, (time_t) ci->not_after);
			g_mime_certificate_set_trust(c, (r & GS_REASON_UNTRUSTED) ? GMIME_TRUST_NEVER
										  : GMIME_TRUST_FULL);
			g_mime_certificate_set_digest_algo(c, ctx_digest_id(NULL, sd->pub.digest));
			g_mime_certificate_set_pubkey_algo(c, !g_strcmp0(ci->key_type, "rsa")
								     ? GMIME_PUBKEY_ALGO_RSA
								     : !g_strcmp0(ci->key_type, "ec")
									       ? GMIME_PUBKEY_ALGO_ECDSA
									       : GMIME_PUBKEY_ALGO_DEFAULT);
		}
		g_mime_signature_list_add(list, sig);
		g_object_unref(sig);
	}
	return list;
}

static GMimeSignatureList *
ctx_verify(GMimeCryptoContext *ctx, GMimeVerifyFlags flags, GMimeStream *istream,
	   GMimeStream *sigstream, GMimeStream *ostream, GError **err)
{
	gs_session *s = session_of(ctx, err);
	GMimeSignatureList *list;
	gs_cms_result res;
	GByteArray *sig;
	BIO *content = NULL, *out = NULL;
	char *msg = NULL;
	gs_status st;
	int too_big;

	(void) ctx;
	(void) flags;
	if (!s)
		return NULL;
	sig = gs_stream_slurp(sigstream ? sigstream : istream, s->limits.max_message, &too_big);
	if (too_big) {
		g_byte_array_unref(sig);
		set_error(err, GS_E_LIMIT, g_strdup("signature larger than the message limit"));
		return NULL;
	}
	if (sigstream)
		content = gs_bio_new_stream(istream);
	if (ostream)
		out = gs_bio_new_stream(ostream);
	gs_cms_result_init(&res);
	st = gs_cms_verify(s, sig->data, sig->len, content, out, &res, &msg);
	if (out)
		BIO_flush(out);
	BIO_free(content);
	BIO_free(out);
	g_byte_array_unref(sig);
	if (st != GS_OK) {
		gs_cms_result_clear(&res);
		set_error(err, st, msg);
		return NULL;
	}
	list = signature_list(&res);
	gs_cms_result_clear(&res);
	return list;
}

/* Recipients arrive as strings: a fingerprint ("sha256:HEX" or 64 hex
 * digits) names a stored certificate; anything else was resolved
 * (gs_resolve_many: `res`, and `dir`, what a directory that did not
 * answer meant for it), or is resolved here (`res` NULL). GS_OK with *x NULL and *why when there is no
 * usable certificate; another status when the store could not be read. */
static gs_status
recipient_cert(gs_session *s, const char *r, const gs_resolution *res, const char *dir, X509 **x,
	       char **why)
{
	const char *hex = g_str_has_prefix(r, "sha256:") ? r + 7 : r;
	gs_status st;

	*x = NULL;
	if (strlen(hex) == 64 && strspn(hex, "0123456789abcdefABCDEF") == 64) {
		if ((st = gs_store_cert_by_sha256(s->store, hex, x, why)) == GS_OK && !*x)
			*why = g_strdup("no stored certificate has that fingerprint");
		return st;
	}
	if (!res) {
		gs_resolution *own = NULL;

		if ((st = gs_resolve(s, r, 0, &own, why)) != GS_OK)
			return st;
		st = recipient_cert(s, r, own, NULL, x, why);
		gs_resolution_free(own);
		return st;
	}
	*x = gs_resolution_chosen_cert(res);
	if (*x)
		X509_up_ref(*x);
	else if (dir)
		*why = g_strdup_printf("%s (%s)", gs_resolution_failure(res), dir);
	else
		*why = g_strdup(gs_resolution_failure(res));
	return GS_OK;
}

static void
free_resolved(gs_resolution **res, char **dir, guint n)
{
	guint i;

	for (i = 0; i < n; i++) {
		gs_resolution_free(res[i]);
		g_free(dir[i]);
	}
	g_free(res);
	g_free(dir);
}

static int
ctx_encrypt(GMimeCryptoContext *ctx, gboolean sign, const char *userid, GMimeEncryptFlags flags,
	    GPtrArray *recipients, GMimeStream *istream, GMimeStream *ostream, GError **err)
{
	gs_session *s = session_of(ctx, err);
	STACK_OF(X509) *certs;
	gs_resolution **res;
	GString *bad = NULL;
	char **dir;
	guint n;
	char *msg = NULL;
	BIO *in, *out;
	gs_status st;
	guint i;

	(void) ctx;
	(void) userid;
	(void) flags;
	if (!s)
		return -1;
	if (sign) {
		set_error(err, GS_E_UNSUPPORTED,
			  g_strdup("sign while encrypting is done as two steps: sign, then encrypt"));
		return -1;
	}
	n = recipients ? recipients->len : 0;
	res = g_new0(gs_resolution *, n + 1);
	dir = g_new0(char *, n + 1);
	/* every name at once: the directories are asked once, within one deadline */
	if ((st = gs_resolve_many(s, n ? (const char *const *) recipients->pdata : NULL, n, 0, res, dir,
				  &msg)) != GS_OK) {
		g_free(res);
		g_free(dir);
		set_error(err, st, msg);
		return -1;
	}
	certs = sk_X509_new_null();
	for (i = 0; i < n; i++) {
		char *why = NULL;
		X509 *x = NULL;

		if ((st = recipient_cert(s, recipients->pdata[i], res[i], dir[i], &x, &why)) != GS_OK) {
			sk_X509_pop_free(certs, X509_free);
			if (bad)
				g_string_free(bad, TRUE);
			free_resolved(res, dir, n);
			set_error(err, st, why);
			return -1;
		}
		if (x) {
			sk_X509_push(certs, x);
		} else {
			if (!bad)
				bad = g_string_new(NULL);
			g_string_append_printf(bad, "%s%s: %s", bad->len ? "; " : "",
					       (char *) recipients->pdata[i], why ? why : "no certificate");
		}
		g_free(why);
	}
	free_resolved(res, dir, n);
	if (bad) {
		sk_X509_pop_free(certs, X509_free);
		set_error(err, GS_E_NO_CERT, g_string_free(bad, FALSE));
		return -1;
	}
	in = gs_bio_new_stream(istream);
	out = gs_bio_new_stream(ostream);
	st = gs_cms_encrypt(s, certs, ((GsContext *) ctx)->cipher, ((GsContext *) ctx)->oaep, in, out, &msg);
	BIO_free(in);
	BIO_free(out);
	sk_X509_pop_free(certs, X509_free);
	if (st != GS_OK) {
		set_error(err, st, msg);
		return -1;
	}
	return 0;
}

static GMimeDecryptResult *
ctx_decrypt(GMimeCryptoContext *ctx, GMimeDecryptFlags flags, const char *session_key,
	    GMimeStream *istream, GMimeStream *ostream, GError **err)
{
	gs_session *s = session_of(ctx, err);
	GMimeDecryptResult *res;
	gs_cms_result cr;
	GByteArray *der;
	char *msg = NULL;
	BIO *out;
	gs_status st;
	int too_big;

	(void) ctx;
	(void) flags;
	if (!s)
		return NULL;
	if (session_key) {
		set_error(err, GS_E_UNSUPPORTED, g_strdup("session keys are not supported for S/MIME"));
		return NULL;
	}
	der = gs_stream_slurp(istream, s->limits.max_message, &too_big);
	if (too_big) {
		g_byte_array_unref(der);
		set_error(err, GS_E_LIMIT, g_strdup("encrypted part larger than the message limit"));
		return NULL;
	}
	out = gs_bio_new_stream(ostream);
	gs_cms_result_init(&cr);
	st = gs_cms_decrypt(s, der->data, der->len, out, &cr, &msg);
	BIO_flush(out);
	BIO_free(out);
	g_byte_array_unref(der);
	if (st != GS_OK) {
		gs_cms_result_clear(&cr);
		set_error(err, st, msg);
		return NULL;
	}
	res = g_mime_decrypt_result_new();
	if (cr.cipher && strstr(cr.cipher, "aes-256"))
		g_mime_decrypt_result_set_cipher(res, GMIME_CIPHER_ALGO_AES256);
	else if (cr.cipher && strstr(cr.cipher, "aes-128"))
		g_mime_decrypt_result_set_cipher(res, GMIME_CIPHER_ALGO_AES);
	gs_cms_result_clear(&cr);
	return res;
}

static int
ctx_import_keys(GMimeCryptoContext *ctx, GMimeStream *istream, GError **err)
{
	gs_session *s = session_of(ctx, err);
	gs_import_stats stats;
	GByteArray *data;
	char *msg = NULL;
	gs_status st;
	int too_big;

	(void) ctx;
	if (!s)
		return -1;
	data = gs_stream_slurp(istream, s->limits.max_message, &too_big);
	st = too_big ? GS_E_LIMIT
		     : gs_store_import_certs(s->store, data->data, data->len, "pkcs7-keys",
					     GS_ROLE_CORRESPONDENT, &stats, &msg);
	g_byte_array_unref(data);
	if (st != GS_OK) {
		set_error(err, st, msg);
		return -1;
	}
	return (int) (stats.certs_new + stats.certs_known);
}

static int
ctx_export_keys(GMimeCryptoContext *ctx, const char *keys[], GMimeStream *ostream, GError **err)
{
	gs_session *s = session_of(ctx, err);
	int i, n = 0;

	(void) ctx;
	if (!s)
		return -1;
	for (i = 0; keys && keys[i]; i++) {
		char *why = NULL;
		X509 *x = NULL;
		unsigned char *der;
		int len;
		gs_status st = recipient_cert(s, keys[i], NULL, NULL, &x, &why);

		if (st != GS_OK) {
			set_error(err, st, why);
			return -1;
		}
		g_free(why);
		if (!x)
			continue;
		if ((der = gs_cert_to_der(x, &len))) {
			g_mime_stream_write(ostream, (const char *) der, (size_t) len);
			OPENSSL_free(der);
			n++;
		}
		X509_free(x);
	}
	if (n == 0) {
		set_error(err, GS_E_NOT_FOUND, g_strdup("no certificate found for the keys asked"));
		return -1;
	}
	return 0;
}

static void
gs_context_class_init(GsContextClass *klass)
{
	GMimeCryptoContextClass *c = GMIME_CRYPTO_CONTEXT_CLASS(klass);

	c->digest_id = ctx_digest_id;
	c->digest_name = ctx_digest_name;
	c->get_signature_protocol = ctx_sig_protocol;
	c->get_encryption_protocol = ctx_enc_protocol;
	c->get_key_exchange_protocol = ctx_key_protocol;
	c->sign = ctx_sign;
	c->verify = ctx_verify;
	c->encrypt = ctx_encrypt;
	c->decrypt = ctx_decrypt;
	c->import_keys = ctx_import_keys;
	c->export_keys = ctx_export_keys;
}

static void
gs_context_init(GsContext *self)
{
	(void) self;
}

GMimeCryptoContext *
gs_context_new(gs_session *session)
{
	GsContext *c = g_object_new(gs_context_get_type(), NULL);

	c->session = session;
	c->cipher = GS_CIPHER_AES256_CBC;
	return GMIME_CRYPTO_CONTEXT(c);
}

void
gs_context_set_cipher(GMimeCryptoContext *ctx, gs_cipher cipher, int oaep)
{
	GsContext *c = (GsContext *) ctx;

	if (!G_TYPE_CHECK_INSTANCE_TYPE(ctx, gs_context_get_type()))
		return;
	c->cipher = cipher == GS_CIPHER_AES256_GCM ? GS_CIPHER_AES256_GCM : GS_CIPHER_AES256_CBC;
	c->oaep = oaep != 0;
}

/* ---- GMime's registry: the host's explicit choice ---- */

static gs_session *registered;
static GMutex registered_lock;

static GMimeCryptoContext *
registered_context(void)
{
	gs_session *s;

	g_mutex_lock(&registered_lock);
	s = registered;
	g_mutex_unlock(&registered_lock);
	return gs_context_new(s);
}

void
gs_gmime_register(gs_session *session)
{
	static const char *const protocols[] = {
		"application/pkcs7-signature", "application/x-pkcs7-signature", "application/pkcs7-mime",
		"application/x-pkcs7-mime", "application/pkcs7-keys",
	};
	size_t i;

	g_mutex_lock(&registered_lock);
	registered = session;
	g_mutex_unlock(&registered_lock);
	for (i = 0; i < G_N_ELEMENTS(protocols); i++)
		g_mime_crypto_context_register(protocols[i], registered_context);
}
