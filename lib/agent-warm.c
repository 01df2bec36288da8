/* agent-warm.c: certificates decoded once, before a warm engine forks
 * its workers (galsmime.h, "The warm engine").
 *
 * OpenSSL 3.0 decodes a certificate's public key through its decoder
 * machinery on every d2i_X509: about 2.4 M instructions each, and a 2 KB
 * sign or verify decodes three or four (the identity, the chain, the
 * anchors). The engine loads its store's anchors, identities' and CAs'
 * certificates here; a worker forked afterwards finds them in
 * gs_store_decode_cert by their exact DER, so the result is the one
 * decoding would give. Filled only by gs_warm_certs_load, which the host
 * calls while no other thread uses the library (the engine, between
 * requests); read-only otherwise, so lookups from threads are safe. */
#include "gs-private.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

static GHashTable *warm; /* GBytes DER -> X509 */
/* the keys of `warm` that gs_warm_certs_learn added, oldest first */
static GQueue *learned;
/* since the set was loaded: the DER of the certificates that stores
 * decoded and did not find in it (gs_warm_certs_missed), so many at most,
 * each at most so large */
static GPtrArray *missed;
#define MISSED_MAX 16
#define MISSED_MAX_BYTES (16 * 1024)

/* the certificates every sign, decrypt and verify needs: the anchors,
 * the identities' and the CAs' (not the correspondents': a GAL holds
 * 100,000, and decoding them all would make the first request after a
 * store change wait seconds) */
static const char sql[] =
	"SELECT der FROM certificate WHERE is_ca = 1 OR id IN (SELECT certificate FROM anchor) "
	"OR id IN (SELECT certificate FROM identity) "
	"ORDER BY (id IN (SELECT certificate FROM anchor)) + (id IN (SELECT certificate FROM identity)) DESC, "
	"id LIMIT ?1";

/* What each worker would compute again for certificate `x`: its
 * extensions' cache, and for an RSA key the Montgomery form of its
 * modulus, which OpenSSL keeps with the key after its first public-key
 * operation (a chain's signature checks, a content key wrapped for a
 * recipient: a twentieth of a warm 2 KB encrypt). The operation here
 * recovers nothing from nothing: an all-zero input, no padding. */
static void
warm_one(X509 *x)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	EVP_PKEY_CTX *ctx;
	int size;

	X509_check_purpose(x, -1, 0);
	if (!pk || !EVP_PKEY_is_a(pk, "RSA") || (size = EVP_PKEY_get_size(pk)) <= 0 || size > 2048)
		return;
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL))) {
		unsigned char *in = g_malloc0((gsize) size), *out = g_malloc((gsize) size);
		size_t outlen = (size_t) size;

		if (EVP_PKEY_verify_recover_init(ctx) > 0 && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) > 0 &&
		    EVP_PKEY_verify_recover(ctx, out, &outlen, in, (size_t) size) <= 0) {
			/* nothing kept: the workers compute it as before */
		}
		g_free(in);
		g_free(out);
		EVP_PKEY_CTX_free(ctx);
	}
	ERR_clear_error();
}

gs_status
gs_warm_certs_load(const char *dir, unsigned max, char **errmsg)
{
	GHashTable *t;
	gs_store *s = NULL;
	sqlite3_stmt *stmt;
	gs_status st;
	int rc;

	if (!dir)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_warm_certs_load: no store");
	gs_warm_certs_clear();
	if ((st = gs_store_open(dir, GS_STORE_READ_ONLY, 1000, &s, errmsg)) != GS_OK)
		return st;
	if (!(stmt = gs_store_prepare(s, sql, errmsg, &st))) {
		gs_store_close(s);
		return st;
	}
	t = g_hash_table_new_full(g_bytes_hash, g_bytes_equal, (GDestroyNotify) g_bytes_unref,
				  (GDestroyNotify) X509_free);
	sqlite3_bind_int64(stmt, 1, max);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const void *der = sqlite3_column_blob(stmt, 0);
		int len = sqlite3_column_bytes(stmt, 0);
		X509 *x = der && len > 0 ? gs_cert_from_der(der, (size_t) len) : NULL;

		if (!x)
			continue;
		/* the extensions' cache, computed now rather than in each worker */
		warm_one(x);
		g_hash_table_replace(t, g_bytes_new(der, (gsize) len), x);
	}
	st = rc == SQLITE_DONE ? GS_OK : gs_store_fail(s, rc, errmsg, "reading the certificates");
	sqlite3_finalize(stmt);
	gs_store_close(s);
	ERR_clear_error();
	if (st != GS_OK) {
		g_hash_table_destroy(t);
		return st;
	}
	warm = t;
	return GS_OK;
}

void
gs_warm_certs_clear(void)
{
	if (learned)
		g_queue_free_full(learned, (GDestroyNotify) g_bytes_unref);
	learned = NULL;
	if (missed)
		g_ptr_array_unref(missed);
	missed = NULL;
	if (warm)
		g_hash_table_destroy(warm);
	warm = NULL;
}

void
gs_warm_cert_missed(const void *der, int len)
{
	if (!warm || !der || len <= 0 || len > MISSED_MAX_BYTES)
		return;
	if (!missed)
		missed = g_ptr_array_new_with_free_func((GDestroyNotify) g_bytes_unref);
	if (missed->len < MISSED_MAX)
		g_ptr_array_add(missed, g_bytes_new(der, (gsize) len));
}

GPtrArray *
gs_warm_certs_missed(void)
{
	return missed ? g_ptr_array_ref(missed) : g_ptr_array_new_with_free_func((GDestroyNotify) g_bytes_unref);
}

unsigned
gs_warm_certs_learn(GBytes *const *der, size_t n, unsigned max)
{
	unsigned added = 0;
	size_t i;

	if (!warm || !der || !max)
		return 0;
	if (!learned)
		learned = g_queue_new();
	for (i = 0; i < n; i++) {
		gsize len = 0;
		const void *p = der[i] ? g_bytes_get_data(der[i], &len) : NULL;
		X509 *x;

		/* one the set holds already, or not one certificate */
		if (!p || !len || len > MISSED_MAX_BYTES || g_hash_table_contains(warm, der[i]) ||
		    !(x = gs_cert_from_der(p, len)))
			continue;
		warm_one(x);
		while (g_queue_get_length(learned) >= max) {
			GBytes *oldest = g_queue_pop_head(learned);

			g_hash_table_remove(warm, oldest);
			g_bytes_unref(oldest);
		}
		/* one copy of the bytes: the table's key, the queue's reference */
		g_queue_push_tail(learned, g_bytes_ref(der[i]));
		g_hash_table_insert(warm, g_bytes_ref(der[i]), x);
		added++;
	}
	ERR_clear_error();
	return added;
}

X509 *
gs_warm_cert(const void *der, int len)
{
	GBytes *key;
	X509 *x;

	if (!warm || !der || len <= 0)
		return NULL;
	key = g_bytes_new_static(der, (gsize) len);
	x = g_hash_table_lookup(warm, key);
	g_bytes_unref(key);
	return x && X509_up_ref(x) ? x : NULL;
}

void
gs_warm_crypto(void)
{
	static const char *const ciphers[] = { "AES-256-CBC", "AES-192-CBC", "AES-128-CBC", "AES-256-GCM",
					       "AES-128-GCM", "DES-EDE3-CBC", "id-aes256-wrap", "id-aes128-wrap" };
	static const char *const digests[] = { "SHA256", "SHA384", "SHA512", "SHA1" };
	static const char *const keys[] = { "RSA", "EC" };
	size_t i;

	/* each fetch fills the default library context's method store, which
	 * later fetches (and forked children) find; nothing random is drawn */
	for (i = 0; i < G_N_ELEMENTS(ciphers); i++)
		EVP_CIPHER_free(EVP_CIPHER_fetch(NULL, ciphers[i], NULL));
	for (i = 0; i < G_N_ELEMENTS(digests); i++)
		EVP_MD_free(EVP_MD_fetch(NULL, digests[i], NULL));
	for (i = 0; i < G_N_ELEMENTS(keys); i++) {
		EVP_KEYMGMT_free(EVP_KEYMGMT_fetch(NULL, keys[i], NULL));
		EVP_SIGNATURE_free(EVP_SIGNATURE_fetch(NULL, keys[i] == keys[1] ? "ECDSA" : "RSA", NULL));
	}
	EVP_ASYM_CIPHER_free(EVP_ASYM_CIPHER_fetch(NULL, "RSA", NULL));
	EVP_KEYEXCH_free(EVP_KEYEXCH_fetch(NULL, "ECDH", NULL));
	EVP_KDF_free(EVP_KDF_fetch(NULL, "X963KDF", NULL));
	ERR_clear_error();
}

void
gs_warm_random(void)
{
	unsigned char b[1];

	/* the public and the private generator (keys, content keys) */
	if (RAND_bytes(b, 1) != 1 || RAND_priv_bytes(b, 1) != 1)
		ERR_clear_error();
	OPENSSL_cleanse(b, sizeof b);
}
