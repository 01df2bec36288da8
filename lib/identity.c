/* identity.c: the user's own certificates and private keys: reading
 * PKCS#12 and PEM, storing the key encrypted, unlocking it with the
 * caller's passphrase, wiping it. */
#include "gs-private.h"

#include <limits.h>
#include <string.h>
#include <sys/prctl.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/err.h>

/* PBKDF2-HMAC-SHA256 iterations for the stored key. Every run that signs
 * or decrypts pays them once (1.4 ms here at 2048; 7 ms at 10000, which
 * alone would break the 2 KB sign+encrypt target): 2048 is OpenSSL's
 * default for PKCS#12 and PKCS#8, what the user's .p12 and mutt's key
 * files use. What protects a stolen store is the passphrase. */
#define KEY_ITER 2048
#define PASS_MAX 1024

void
gs_process_harden(void)
{
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

void
gs_identity_free(gs_identity *id)
{
	if (!id)
		return;
	X509_free(id->cert);
	/* a token key refers to its module: freed before it */
	EVP_PKEY_free(id->key);
	gs_token_free(id->token);
	g_free(id->label);
	g_free(id->token_uri);
	gs_secret_free(id->blob, id->blob_len);
	g_free(id);
}

/* Legacy PKCS#12 files (RC2-40, 3DES) need the legacy provider. It is
 * loaded only when such a file is met, for that one parse, and unloaded
 * right after: nothing else runs with legacy algorithms available, and
 * no provider reference outlives the call. By then the default provider
 * is active (the first attempt fetched with it), so loading and
 * unloading it here only counts references. */
static int
parse_p12(PKCS12 *p12, const char *pass, EVP_PKEY **key, X509 **cert, STACK_OF(X509) **ca)
{
	OSSL_PROVIDER *def, *legacy;
	int ok;

	if (PKCS12_parse(p12, pass, key, cert, ca))
		return 1;
	ERR_clear_error();
	def = OSSL_PROVIDER_load(NULL, "default");
	legacy = OSSL_PROVIDER_load(NULL, "legacy");
	ok = PKCS12_parse(p12, pass, key, cert, ca);
	if (legacy)
		OSSL_PROVIDER_unload(legacy);
	if (def)
		OSSL_PROVIDER_unload(def);
	return ok;
}

typedef struct {
	const char *pass;
	size_t len;
	int asked;
} pem_pass;

static int
pem_pass_cb(char *buf, int size, int rwflag, void *u)
{
	pem_pass *p = u;

	(void) rwflag;
	p->asked = 1;
	if (!p->pass || (size_t) size < p->len)
		return -1;
	memcpy(buf, p->pass, p->len);
	return (int) p->len;
}

static gs_status
read_pem_identity(const unsigned char *data, size_t len, const char *pass, size_t passlen,
		  EVP_PKEY **key, X509 **cert, STACK_OF(X509) **others, int *encrypted,
		  char **errmsg)
{
	BIO *b = BIO_new_mem_buf(data, (int) len);
	STACK_OF(X509) *all = sk_X509_new_null();
	pem_pass pp = { pass, passlen, 0 };
	X509 *x;
	int i;

	*key = NULL;
	*cert = NULL;
	*others = NULL;
	*encrypted = g_strstr_len((const char *) data, len, "ENCRYPTED") != NULL;
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
		sk_X509_push(all, x);
	ERR_clear_error();
	BIO_free(b);
	b = BIO_new_mem_buf(data, (int) len);
	*key = PEM_read_bio_PrivateKey(b, NULL, pem_pass_cb, &pp);
	BIO_free(b);
	if (!*key) {
		sk_X509_pop_free(all, X509_free);
		if (*encrypted)
			return gs_fail_ssl(errmsg, GS_E_PASSPHRASE,
					   pass ? "wrong passphrase for the private key"
						: "the private key is encrypted: give its passphrase");
		return gs_fail_ssl(errmsg, GS_E_NO_KEY, "no private key in the PEM file");
	}
	for (i = 0; i < sk_X509_num(all); i++) {
		X509 *c = sk_X509_value(all, i);
		if (!*cert && X509_check_private_key(c, *key)) {
			*cert = c;
			(void) sk_X509_delete(all, i);
			break;
		}
	}
	ERR_clear_error();
	if (!*cert) {
		sk_X509_pop_free(all, X509_free);
		EVP_PKEY_free(*key);
		*key = NULL;
		return gs_fail(errmsg, GS_E_NO_KEY, "no certificate in the file matches the private key");
	}
	*others = all;
	return GS_OK;
}

static unsigned char *
encrypt_key(EVP_PKEY *key, const char *pass, size_t passlen, int *len)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
	X509_SIG *sig = NULL;
	unsigned char *der = NULL;

	*len = 0;
	if (!p8)
		return NULL;
	if (pass)
		sig = PKCS8_encrypt(-1, EVP_aes_256_cbc(), pass, (int) passlen, NULL, 0, KEY_ITER, p8);
	if (pass && sig)
		*len = i2d_X509_SIG(sig, &der);
	else if (!pass)
		*len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
	X509_SIG_free(sig);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return *len > 0 ? der : NULL;
}

/* gpgsm's `--export-secret-key-p12 --armor`: a PKCS#12 in a PEM block
 * labelled PKCS12, after lines about the key ("Issuer ...:"). */
static void
armoured_p12(const char *label, const unsigned char *der, long len, void *user)
{
	GByteArray **out = user;

	if (!*out && !strcmp(label, "PKCS12") && len > 0) {
		*out = g_byte_array_sized_new((guint) len);
		g_byte_array_append(*out, der, (guint) len);
	}
}

static const char sql_identity[] =
	"INSERT INTO identity(certificate, label, key_blob, encrypted, added_at, token_uri)"
	" VALUES (?1,?2,?3,?4,?5,?6)"
	" ON CONFLICT(certificate) DO UPDATE SET label = coalesce(?2, label), key_blob = ?3,"
	" encrypted = ?4, token_uri = ?6";

gs_status
gs_identity_store(gs_store *s, X509 *cert, STACK_OF(X509) *chain, const char *label,
		  const unsigned char *blob, int bloblen, int encrypted, const char *token_uri,
		  char **errmsg)
{
	int64_t src, cert_id, other_id;
	gs_status st;
	int i, is_new;

	if ((st = gs_store_begin(s, errmsg)) != GS_OK)
		return st;
	if ((st = gs_store_source(s, "identity", "identity", &src, errmsg)) != GS_OK ||
	    (st = gs_store_put_cert(s, cert, src, &cert_id, &is_new, errmsg)) != GS_OK)
		goto fail;
	for (i = 0; chain && i < sk_X509_num(chain); i++)
		if ((st = gs_store_put_cert(s, sk_X509_value(chain, i), src, &other_id, &is_new,
					    errmsg)) != GS_OK)
			goto fail;
	st = gs_store_exec(s, sql_identity, "store: identity", errmsg, GS_INT(cert_id), GS_TEXT(label),
			   blob ? GS_BLOB(blob, bloblen) : GS_TEXT(NULL), GS_INT(encrypted),
			   GS_INT(time(NULL)), GS_TEXT(token_uri));
	if (st != GS_OK)
		goto fail;
	return gs_store_commit(s, errmsg);
fail:
	gs_store_rollback(s);
	return st;
}

gs_status
gs_identity_import(gs_store *s, const unsigned char *data, size_t len,
		   const char *passphrase, size_t passlen, const char *label,
		   char **fingerprint, int *stored_plain, char **errmsg)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *ca = NULL;
	unsigned char *blob = NULL;
	const unsigned char *p = data;
	PKCS12 *p12 = NULL;
	char *pass = NULL;
	int encrypted = 0, bloblen = 0;
	gs_status st;

	if (!s || !data)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_identity_import: bad arguments");
	/* BIO_new_mem_buf takes an int, and a negative one means strlen() */
	if (len == 0 || len > INT_MAX)
		return gs_fail(errmsg, GS_E_MALFORMED, "empty or oversized key file");
	if (passphrase)
		pass = g_strndup(passphrase, passlen);

	p12 = d2i_PKCS12(NULL, &p, (long) len);
	if (!p12 && g_strstr_len((const char *) data, (gssize) MIN(len, (size_t) 1 << 20), "-----BEGIN PKCS12-----")) {
		GByteArray *der = NULL;

		ERR_clear_error();
		gs_pem_each(data, len, armoured_p12, &der);
		if (der) {
			p = der->data;
			p12 = d2i_PKCS12(NULL, &p, (long) der->len);
			g_byte_array_unref(der);
		}
	}
	if (p12) {
		/* a PKCS#12 with an empty password is an unencrypted key */
		if (PKCS12_verify_mac(p12, NULL, 0) || PKCS12_verify_mac(p12, "", 0)) {
			encrypted = 0;
			if (!parse_p12(p12, "", &key, &cert, &ca) && !parse_p12(p12, NULL, &key, &cert, &ca)) {
				st = gs_fail_ssl(errmsg, GS_E_MALFORMED, "cannot read the PKCS#12 file");
				goto out;
			}
		} else {
			encrypted = 1;
			if (!pass) {
				st = gs_fail(errmsg, GS_E_PASSPHRASE,
					     "the PKCS#12 file is encrypted: give its passphrase");
				goto out;
			}
			if (!PKCS12_verify_mac(p12, pass, (int) passlen)) {
				st = gs_fail(errmsg, GS_E_PASSPHRASE, "wrong passphrase for the PKCS#12 file");
				ERR_clear_error();
				goto out;
			}
			if (!parse_p12(p12, pass, &key, &cert, &ca)) {
				st = gs_fail_ssl(errmsg, GS_E_MALFORMED, "cannot read the PKCS#12 file");
				goto out;
			}
		}
		if (!key || !cert) {
			st = gs_fail(errmsg, GS_E_NO_KEY, "the PKCS#12 file holds no key and certificate pair");
			goto out;
		}
	} else {
		ERR_clear_error();
		if (!g_strstr_len((const char *) data, len, "-----BEGIN ")) {
			st = gs_fail(errmsg, GS_E_MALFORMED, "not a PKCS#12 or PEM key file");
			goto out;
		}
		st = read_pem_identity(data, len, pass, passlen, &key, &cert, &ca, &encrypted, errmsg);
		if (st != GS_OK)
			goto out;
	}
	if (!X509_check_private_key(cert, key)) {
		st = gs_fail(errmsg, GS_E_NO_KEY, "the private key does not match the certificate");
		goto out;
	}
	if (encrypted && (!pass || passlen == 0))
		encrypted = 0;
	blob = encrypt_key(key, encrypted ? pass : NULL, encrypted ? passlen : 0, &bloblen);
	if (!blob) {
		st = gs_fail_ssl(errmsg, GS_E_INTERNAL, "cannot encode the private key");
		goto out;
	}

	if ((st = gs_identity_store(s, cert, ca, label, blob, bloblen, encrypted, NULL, errmsg)) != GS_OK)
		goto out;
	if (fingerprint)
		*fingerprint = gs_cert_sha256_hex(cert);
	if (stored_plain)
		*stored_plain = !encrypted;
out:
	if (blob) {
		OPENSSL_cleanse(blob, bloblen);
		OPENSSL_free(blob);
	}
	if (pass)
		gs_secret_free(pass, passlen);
	EVP_PKEY_free(key);
	X509_free(cert);
	sk_X509_pop_free(ca, X509_free);
	PKCS12_free(p12);
	return st;
}

static gs_identity *
row_identity(gs_store *s, sqlite3_stmt *stmt)
{
	gs_identity *id = g_new0(gs_identity, 1);
	const void *blob = sqlite3_column_blob(stmt, 3);

	id->id = sqlite3_column_int64(stmt, 0);
	id->cert = gs_store_decode_cert(s, sqlite3_column_blob(stmt, 1), sqlite3_column_bytes(stmt, 1));
	id->label = g_strdup((const char *) sqlite3_column_text(stmt, 2));
	id->blob_len = sqlite3_column_bytes(stmt, 3);
	id->blob = g_memdup2(blob, id->blob_len);
	id->encrypted = sqlite3_column_int(stmt, 4);
	id->token_uri = g_strdup((const char *) sqlite3_column_text(stmt, 5));
	if (!id->cert) {
		gs_identity_free(id);
		return NULL;
	}
	return id;
}

#define IDENTITY_SELECT \
	"SELECT i.id, c.der, i.label, i.key_blob, i.encrypted, i.token_uri FROM identity i" \
	" JOIN certificate c ON c.id = i.certificate"

/* The identities of `sql` (IDENTITY_SELECT ..., with `sha256` bound to
 * its parameter when not NULL) whose certificate carries `address` (all
 * when NULL), added to `ids`. The statement is the store's cached one
 * (compiled once per handle: gs_store_warm). */
static gs_status
query_identities(gs_store *s, const char *sql, const char *sha256, const char *address,
		 GPtrArray *ids, char **errmsg)
{
	sqlite3_stmt *stmt;
	gs_status st;
	int rc;

	if (!(stmt = gs_store_stmt(s, sql, errmsg, &st)))
		return st;
	if (sha256)
		sqlite3_bind_text(stmt, 1, sha256, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		gs_identity *id = row_identity(s, stmt);
		if (!id)
			continue;
		if (address && !gs_cert_has_email(id->cert, address))
			gs_identity_free(id);
		else
			g_ptr_array_add(ids, id);
	}
	st = gs_store_walked(s, rc, "store: identities", errmsg);
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return st;
}

gs_status
gs_identity_find(gs_store *s, const char *address, GPtrArray **ids, char **errmsg)
{
	*ids = g_ptr_array_new_with_free_func((GDestroyNotify) gs_identity_free);
	return query_identities(s, IDENTITY_SELECT " ORDER BY c.not_before DESC", NULL, address, *ids,
				errmsg);
}

gs_status
gs_identity_by_fingerprint(gs_store *s, const char *sha256, gs_identity **out, char **errmsg)
{
	GPtrArray *ids = g_ptr_array_new_with_free_func((GDestroyNotify) gs_identity_free);
	gs_status st = query_identities(s, IDENTITY_SELECT " WHERE c.sha256 = lower(?)", sha256, NULL,
					ids, errmsg);

	*out = st == GS_OK && ids->len ? g_ptr_array_steal_index(ids, 0) : NULL;
	g_ptr_array_free(ids, TRUE);
	if (st == GS_OK && !*out)
		st = gs_fail(errmsg, GS_E_NO_KEY, "no identity with fingerprint %s", sha256);
	return st;
}

char *
gs_identity_describe(const gs_identity *id)
{
	gs_certdata cd;
	char *addrs, *what;

	gs_certdata_fill(&cd, id->cert);
	addrs = gs_cert_info_addresses(&cd.info);
	what = g_strdup_printf("%s (%s)", cd.info.common_name ? cd.info.common_name : cd.info.subject,
			       addrs ? addrs : "no address");
	g_free(addrs);
	gs_certdata_clear(&cd);
	return what;
}

gs_status
gs_identity_unlock(gs_session *session, gs_identity *id, char **errmsg)
{
	const unsigned char *p = id->blob;
	char *buf = NULL;
	size_t plen = 0;
	gs_status st = GS_OK;

	if (id->key)
		return GS_OK;
	if (id->token_uri)
		return gs_token_unlock(session, id, errmsg);
	if (!id->encrypted) {
		PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long) id->blob_len);
		if (p8)
			id->key = EVP_PKCS82PKEY(p8);
		PKCS8_PRIV_KEY_INFO_free(p8);
	} else {
		X509_SIG *sig = d2i_X509_SIG(NULL, &p, (long) id->blob_len);
		PKCS8_PRIV_KEY_INFO *p8 = NULL;
		char *what;

		if (!sig)
			return gs_fail_ssl(errmsg, GS_E_INTERNAL, "stored key is damaged");
		if (!session->pass_cb && !session->agent_cb) {
			X509_SIG_free(sig);
			return gs_fail(errmsg, GS_E_PASSPHRASE,
				       "the private key is encrypted and no passphrase was given");
		}
		what = gs_identity_describe(id);
		/* with an agent, the key is opened there and stays there */
		{
			gs_agent *agent = session->agent_cb ? session->agent_cb(session->agent_data) : NULL;
			if (agent) {
				char *desc = g_strdup_printf("galsmime needs the passphrase of your S/MIME key "
							     "for %s", what);
				X509_SIG_free(sig);
				st = gs_agent_open_key(agent, id->cert, id->blob, id->blob_len, desc, &id->key,
						       errmsg);
				g_free(desc);
				g_free(what);
				if (st != GS_OK)
					return st;
				id->in_agent = 1;
				goto opened;
			}
		}
		buf = g_malloc0(PASS_MAX);
		st = session->pass_cb ? session->pass_cb(session->pass_data, what, buf, PASS_MAX, &plen)
				      : GS_E_PASSPHRASE;
		g_free(what);
		if (st == GS_OK) {
			p8 = PKCS8_decrypt(sig, buf, (int) plen);
			if (!p8)
				st = gs_fail(errmsg, GS_E_PASSPHRASE, "wrong passphrase for the private key");
		} else {
			st = gs_fail(errmsg, GS_E_PASSPHRASE,
				     "the private key is encrypted and no passphrase was given");
		}
		if (p8)
			id->key = EVP_PKCS82PKEY(p8);
		PKCS8_PRIV_KEY_INFO_free(p8);
		X509_SIG_free(sig);
		gs_secret_free(buf, PASS_MAX);
		ERR_clear_error();
		if (st != GS_OK)
			return st;
	}
opened:
	/* the stored form is no longer needed once the key is open */
	gs_secret_free(id->blob, id->blob_len);
	id->blob = NULL;
	id->blob_len = 0;
	if (!id->key)
		return gs_fail_ssl(errmsg, GS_E_INTERNAL, "stored key is damaged");
	return GS_OK;
}

gs_status
gs_identity_for_address(gs_session *session, const char *address, gs_identity **out,
			char **errmsg)
{
	GPtrArray *ids = NULL;
	gs_status st;

	*out = NULL;
	/* a fingerprint selects one identity directly */
	if (address && strlen(address) == 64 && strspn(address, "0123456789abcdefABCDEF") == 64)
		return gs_identity_by_fingerprint(session->store, address, out, errmsg);
	if ((st = gs_identity_find(session->store, address, &ids, errmsg)) != GS_OK)
		goto out;
	if (ids->len == 0) {
		GPtrArray *all = NULL;

		if (!address) {
			st = gs_fail(errmsg, GS_E_NO_KEY, "no identity in the store (galsmime key import FILE)");
			goto out;
		}
		st = gs_identity_find(session->store, NULL, &all, NULL);
		if (st == GS_OK && all->len == 0)
			st = gs_fail(errmsg, GS_E_NO_KEY, "no identity in the store (galsmime key import FILE)");
		else
			st = gs_fail(errmsg, GS_E_NO_KEY, "no identity for %s (see galsmime key list)", address);
		if (all)
			g_ptr_array_free(all, TRUE);
		goto out;
	}
	if (!address && ids->len > 1) {
		st = gs_fail(errmsg, GS_E_NO_KEY, "%u identities in the store: say which with --from",
			     ids->len);
		goto out;
	}
	/* prefer the newest identity that is valid now */
	{
		guint i, pick = 0;
		time_t now = gs_session_now(session);

		for (i = 0; i < ids->len; i++) {
			gs_identity *c = ids->pdata[i];
			if (X509_cmp_time(X509_get0_notAfter(c->cert), &now) > 0 &&
			    X509_cmp_time(X509_get0_notBefore(c->cert), &now) < 0) {
				pick = i;
				break;
			}
		}
		*out = g_ptr_array_steal_index(ids, pick);
	}
out:
	if (ids)
		g_ptr_array_free(ids, TRUE);
	return st;
}

gs_status
gs_session_signing_identity(gs_session *session, const char *address, gs_identity **out,
			    char **errmsg)
{
	gs_identity *id = NULL;
	gs_status st;
	guint i;

	*out = NULL;
	if ((st = gs_identity_for_address(session, address, &id, errmsg)) != GS_OK)
		return st;
	/* one copy of each key per session, unlocked once, however many
	 * messages it signs (as decryption keeps them, cms.c) */
	for (i = 0; i < session->identities->len; i++) {
		gs_identity *kept = session->identities->pdata[i];
		if (!X509_cmp(kept->cert, id->cert)) {
			gs_identity_free(id);
			id = kept;
			break;
		}
	}
	if (i == session->identities->len)
		g_ptr_array_add(session->identities, id);
	if ((st = gs_identity_unlock(session, id, errmsg)) != GS_OK)
		return st;
	*out = id;
	return GS_OK;
}

gs_status
gs_store_list_identities(gs_store *s, gs_identity_cb cb, void *data, char **errmsg)
{
	GPtrArray *ids = NULL;
	gs_status st;
	guint i;

	if (!s || !cb)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_store_list_identities: bad arguments");
	if ((st = gs_identity_find(s, NULL, &ids, errmsg)) == GS_OK) {
		for (i = 0; i < ids->len; i++) {
			gs_identity *id = ids->pdata[i];
			gs_certdata cd;
			int stop;

			gs_certdata_fill(&cd, id->cert);
			stop = cb(&cd.info, id->label, id->encrypted, id->token_uri, data);
			gs_certdata_clear(&cd);
			if (stop)
				break;
		}
	}
	if (ids)
		g_ptr_array_free(ids, TRUE);
	return st;
}
