/* gs-private.h: what the modules of libgalsmime share and nobody else sees.
 *
 * Ownership inside the library follows the public rule: _new/_free pairs,
 * OpenSSL objects freed with their own _free, GObjects unreffed. A struct
 * holding `gs_cert_info` owns its strings through a gs_certdata.
 */
#ifndef GS_PRIVATE_H
#define GS_PRIVATE_H

#include "galsmime.h"

#include <openssl/cms.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <sys/types.h>

/* ---- errors (util.c) ---- */

/* Set *errmsg (when non-NULL) to the formatted message and return st. */
gs_status gs_fail(char **errmsg, gs_status st, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
/* Same, with OpenSSL's error queue appended (": reason; reason") and
 * drained. */
gs_status gs_fail_ssl(char **errmsg, gs_status st, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
/* Drain OpenSSL's error queue into a new string, or NULL when empty. */
char *gs_ssl_errors(void);
/* Hex of a byte string (lower case). */
char *gs_hex(const unsigned char *p, size_t n);
/* Call `cb` with the label ("CERTIFICATE", "X509 CRL", ...) and decoded
 * bytes of each PEM block in `data`, in order; returns how many. */
typedef void (*gs_pem_cb)(const char *label, const unsigned char *der, long len, void *user);
int gs_pem_each(const unsigned char *data, size_t len, gs_pem_cb cb, void *user);
/* Wipe and free a g_malloc'ed secret. */
void gs_secret_free(void *p, size_t n);
/* gs_crlf_strip in place: each CR before a LF goes; returns the new
 * length. */
size_t gs_crlf_strip_inplace(void *data, size_t len);
/* Lower-case ASCII copy of an address, trimmed. */
char *gs_address_normalize(const char *addr);

/* ---- certificate facts (cert.c) ---- */

typedef struct gs_certdata {
	gs_cert_info info;       /* pointers into the owned strings below */
	char *strings[10];
	char **emails;           /* info.emails */
} gs_certdata;

/* What the facts are computed from: an X509, or a certificate read
 * without its key (cert-lite.c). Pointers are borrowed. */
typedef struct gs_cert_view {
	const X509_NAME *subject, *issuer;
	const ASN1_INTEGER *serial;
	const ASN1_TIME *not_before, *not_after;
	const STACK_OF(X509_EXTENSION) *extensions;
	const char *key_type;
	int key_bits;
	const unsigned char *der;      /* when known: the SHA-256 comes from it */
	size_t der_len;
	const unsigned char *sha256;   /* when already computed: SHA-256 of der */
} gs_cert_view;
void gs_cert_view_of(X509 *x, gs_cert_view *v);
/* Fill `cd` from `x` (or from a view). Never fails on odd certificates:
 * missing values stay NULL. */
void gs_certdata_fill(gs_certdata *cd, X509 *x);
void gs_certdata_fill_view(gs_certdata *cd, const gs_cert_view *v);
/* The addresses of a view (as gs_cert_emails). */
char **gs_view_emails(const gs_cert_view *v);
/* Is the view a CA certificate (basicConstraints cA)? */
int gs_view_is_ca(const gs_cert_view *v);
/* A certificate read without decoding its public key (cert-lite.c):
 * about ten times cheaper than d2i_X509 with OpenSSL 3.0, for imports.
 * NULL unless `der` is exactly one certificate. */
typedef struct gs_certlite gs_certlite;
gs_certlite *gs_certlite_parse(const unsigned char *der, size_t len);
void gs_certlite_view(const gs_certlite *l, gs_cert_view *v);
void gs_certlite_free(gs_certlite *l);
void gs_certdata_clear(gs_certdata *cd);
/* A name in RFC 2253 form (new string). */
char *gs_name_string(const X509_NAME *name);
/* An ASN1_TIME as Unix time; 0 when absent or unreadable. */
int64_t gs_asn1_time_unix(const ASN1_TIME *t);
/* SHA-256 of the DER certificate, hex. */
char *gs_cert_sha256_hex(X509 *x);
/* The certificate's own addresses (rfc822Name SANs, else subject
 * emailAddress), lower-cased. NULL-terminated; g_strfreev. */
char **gs_cert_emails(X509 *x);
int gs_cert_has_email(X509 *x, const char *address);
/* ---- cost caps: what no sane signer or CA produces (SECURITY.md) ---- */
#define GS_MAX_RSA_BITS 8192      /* RSA modulus; the exponent: odd, 3 ... 2^32 */
#define GS_MAX_DSA_BITS 3072
#define GS_MAX_CHAIN_DEPTH 8      /* intermediates between a certificate and its anchor */
#define GS_MAX_SIGNERS 8          /* SignerInfos in one SignedData */
#define GS_MAX_DIGEST_ALGS 4      /* its digestAlgorithms: OpenSSL hashes the content once per entry */
#define GS_MAX_CMS_CERTS 64       /* certificates one CMS object carries */
#define GS_MAX_CMS_CRLS 16        /* CRLs one CMS object carries (decoded, never used) */
#define GS_MAX_RECIPIENTS 1024    /* RecipientInfos of one (Auth)EnvelopedData */
#define GS_MAX_SIGNER_CHECKS 16   /* signers checked in one message, all layers and parts */
/* Why a public key is refused before any signature is checked with it
 * (a static string), or NULL: an RSA modulus over GS_MAX_RSA_BITS, an
 * exponent that is even, below 3 or over 2^32 (one check with a
 * 3070-bit exponent costs as much as a private-key operation), DSA over
 * GS_MAX_DSA_BITS, an EC key on explicit curve parameters. */
const char *gs_key_refused(EVP_PKEY *pk);

/* Verdict of x as an encryption recipient at `now` (no chain check). */
gs_verdict gs_cert_recipient_verdict(X509 *x, time_t now, const char **reason);
/* Is x a CA certificate (basicConstraints cA, as OpenSSL checks it)? */
int gs_cert_is_ca(X509 *x);
/* The certificate that is exactly `der` (nothing after it), or NULL. */
X509 *gs_cert_from_der(const unsigned char *der, size_t len);
/* x's DER encoding (OPENSSL_free), its length in *len; NULL when it
 * cannot be encoded. */
unsigned char *gs_cert_to_der(X509 *x, int *len);

/* Check `leaf`'s chain against the store's anchors with `purpose`
 * (X509_PURPOSE_SMIME_SIGN, or 0 for none) at `when`, pulling issuers
 * from `untrusted` and from the store, and checking every certificate
 * of the chain against the store's CRLs when it holds any. An anchor
 * may be an intermediate CA (the chain ends there). On GS_OK *reasons
 * gets the GS_REASON_* bits of every problem found (0: trusted and
 * valid; only GS_REASONS_WARNINGS bits: trusted and valid, with a
 * warning) and *first_err (may be NULL) the first failure's
 * X509_V_ERR_* code (else the first warning's). A store that cannot be
 * read is a status, never a verdict: GS_E_BUSY, GS_E_IO, GS_E_MALFORMED,
 * GS_E_INTERNAL (then *reasons is GS_REASON_UNTRUSTED, so that nobody
 * who ignores the status trusts the chain). */
gs_status gs_chain_check(gs_store *store, X509 *leaf, STACK_OF(X509) *untrusted, int purpose,
			 time_t when, unsigned *reasons, int *first_err, char **errmsg);
/* The first_err of a chain through an anchor limited to certificates
 * issued before a date, when one of them was issued later. */
#define GS_X509_ERR_ANCHOR_LIMIT X509_V_ERR_APPLICATION_VERIFICATION
/* ... of a chain whose next issuer has a key gs_key_refused refuses
 * (GS_REASON_LIMIT); such certificates never take part in a chain. */
#define GS_X509_ERR_KEY_REFUSED (-1000)
/* What a first_err means, in words (static string). */
const char *gs_chain_error_string(int err);
/* The same check; when it finds no problem (warnings aside) *chain gets
 * the chain OpenSSL validated, leaf first and the anchor last (new
 * references: sk_X509_pop_free), else NULL. */
gs_status gs_chain_verified(gs_store *store, X509 *leaf, STACK_OF(X509) *untrusted, int purpose,
			    time_t when, STACK_OF(X509) **chain, char **errmsg);
/* Does `leaf` chain to an anchor through the store's certificates, its
 * signatures checked, whatever the dates, purposes and CRLs? *first_err
 * (may be NULL) as gs_chain_check's. */
gs_status gs_chain_reaches_anchor(gs_store *store, X509 *leaf, int *reaches, int *first_err,
				  char **errmsg);
/* The issuers of `leaf` found in the store, nearest first, without
 * judging trust (a new stack, possibly empty). */
gs_status gs_cert_issuers(gs_store *store, X509 *leaf, STACK_OF(X509) **issuers, char **errmsg);

/* ---- the store (store.c) ---- */

/* OpenSSL's hash of a name, as the store's subject_hash / issuer_hash;
 * -1 when it cannot be computed. */
int64_t gs_name_hash(const X509_NAME *name);

/* The warm set's certificate of exactly this DER (a new reference: the
 * caller must not modify it), or NULL (agent-warm.c). */
X509 *gs_warm_cert(const void *der, int len);
/* A certificate a store decoded (it decodes) that the warm set, loaded,
 * did not hold: noted for gs_warm_certs_missed. */
void gs_warm_cert_missed(const void *der, int len);

/* cms.c: a CMS object from its encoding (d2i, NULL when it is not one),
 * and a SignedData with its certificates decoded one by one, through
 * `store`'s cache (gs_store_decode_cert) when given, else from the warm
 * set where it has them: the same object as gs_cms_read gives (the same
 * certificates in the same order, the same signers and content;
 * fuzz-signed compares them), in less time. */
CMS_ContentInfo *gs_cms_read(const unsigned char *der, size_t len);
CMS_ContentInfo *gs_cms_read_signed(gs_store *store, const unsigned char *der, size_t len);

struct gs_store {
	sqlite3 *db;
	char *dir;
	char *path;
	unsigned flags;
	X509_STORE *anchors;     /* loaded lazily */
	GPtrArray *anchor_limits;/* with it: the anchors that have an issued_before limit */
	GHashTable *stmts;       /* cached statements, by SQL text pointer */
	GHashTable *decoded;     /* certificates decoded (rows, messages): GBytes DER -> X509 */
	size_t decoded_bytes;    /* the DER bytes it holds */
	GHashTable *crls;        /* CRLs decoded, by issuer hash: STACK_OF(X509_CRL) */
	int has_crls;            /* -1 unknown, else whether the store holds any */
	dev_t dev;               /* the database file opened (gs_store_reuse) */
	ino_t ino;
	int64_t data_version;    /* PRAGMA data_version when the caches were last known good */
};

/* Map an SQLite result code to a status with a message ("WHAT: why"):
 * GS_E_BUSY (locked), GS_E_IO (disk full, read-only, I/O, permissions),
 * GS_E_MALFORMED (not a database, corrupt), else GS_E_INTERNAL. */
gs_status gs_store_fail(gs_store *s, int rc, char **errmsg, const char *what);
/* A write transaction (BEGIN IMMEDIATE: it waits for the lock, up to the
 * busy timeout); its commit (rolled back when the commit fails); its
 * rollback (a no-op outside a transaction). */
gs_status gs_store_begin(gs_store *s, char **errmsg);
gs_status gs_store_commit(gs_store *s, char **errmsg);
void gs_store_rollback(gs_store *s);
/* A statement of its own (sqlite3_finalize it), for a walk whose
 * callback may use the store again; NULL with *st set on failure. */
sqlite3_stmt *gs_store_prepare(gs_store *s, const char *sql, char **errmsg, gs_status *st);
/* A cached statement for a static SQL string (keyed by its address),
 * reset and with bindings cleared. Do not finalize it; reset it after
 * use; never use the same one in two nested loops. NULL with *st set
 * on failure. */
sqlite3_stmt *gs_store_stmt(gs_store *s, const char *sql, char **errmsg, gs_status *st);
/* An argument of a statement, bound by reference (SQLITE_STATIC): it
 * must stay valid until the statement is reset. */
typedef struct gs_sql_arg {
	char type;               /* 'i' integer, 't' text (NULL: SQL NULL), 'b' blob */
	int64_t i;
	const void *p;
	int len;
} gs_sql_arg;
#define GS_INT(v) ((gs_sql_arg) { 'i', (int64_t) (v), NULL, 0 })
#define GS_TEXT(v) ((gs_sql_arg) { 't', 0, (v), -1 })
#define GS_BLOB(v, n) ((gs_sql_arg) { 'b', 0, (v), (int) (n) })
/* Run the cached statement for `sql` (gs_store_stmt) once with the
 * arguments bound in order, for a statement that changes the store
 * (INSERT, UPDATE, DELETE), and reset it. GS_OK, or the store's failure
 * (gs_store_fail with `what`); sqlite3_changes() and
 * sqlite3_last_insert_rowid() tell what it did. gs_store_exec takes the
 * arguments as a list: gs_store_exec(s, sql, "store: entry", errmsg,
 * GS_INT(id), GS_TEXT(name)). */
gs_status gs_store_exec_v(gs_store *s, const char *sql, const gs_sql_arg *args, size_t n,
			  const char *what, char **errmsg);
#define gs_store_exec(s, sql, what, errmsg, ...) \
	gs_store_exec_v((s), (sql), (const gs_sql_arg[]) { __VA_ARGS__ }, \
			sizeof((const gs_sql_arg[]) { __VA_ARGS__ }) / sizeof(gs_sql_arg), (what), (errmsg))
/* The same for a query: *found (may be NULL) says whether it gave a
 * row, and *value is then its first column as an integer (else 0). */
gs_status gs_store_int64_v(gs_store *s, const char *sql, const gs_sql_arg *args, size_t n,
			   int64_t *value, int *found, const char *what, char **errmsg);
#define gs_store_int64(s, sql, value, found, what, errmsg, ...) \
	gs_store_int64_v((s), (sql), (const gs_sql_arg[]) { __VA_ARGS__ }, \
			 sizeof((const gs_sql_arg[]) { __VA_ARGS__ }) / sizeof(gs_sql_arg), (value), (found), \
			 (what), (errmsg))
/* How a walk through a statement's rows ended: `rc` is the last
 * sqlite3_step() result (SQLITE_ROW when the walk stopped early). GS_OK,
 * or the store's failure. */
gs_status gs_store_walked(gs_store *s, int rc, const char *what, char **errmsg);

/* Insert x (if absent) with its addresses and link it to `source_id`.
 * *id receives its row id; *is_new whether it was added. */
gs_status gs_store_put_cert(gs_store *s, X509 *x, int64_t source_id,
			    int64_t *id, int *is_new, char **errmsg);
/* The certificate of a row's DER (or a message's), decoded once per
 * store handle while the cache has room (1024 certificates, 4 MiB of
 * DER) and shared: a new reference, or NULL when the bytes are not one
 * certificate. Never modify it. */
X509 *gs_store_decode_cert(gs_store *s, const void *der, int len);
/* The id of the certificate with this SHA-256 (hex), or 0. */
gs_status gs_store_cert_id(gs_store *s, const char *sha256, int64_t *id, char **errmsg);
gs_status gs_store_link_cert_source(gs_store *s, int64_t cert_id, int64_t source_id,
				    char **errmsg);
/* The same for a certificate read without its key (imports); `sha256`,
 * when not NULL, is the SHA-256 of `der` the caller already has. */
gs_status gs_store_put_cert_lite(gs_store *s, const unsigned char *der, size_t len,
				 const unsigned char *sha256, const gs_certlite *l, int64_t source_id,
				 int64_t *id, int *is_new, int *is_ca, char **errmsg);
/* Find or create the source row named `name` of `kind`. */
gs_status gs_store_source(gs_store *s, const char *name, const char *kind,
			  int64_t *id, char **errmsg);
/* Make a certificate an anchor; `issued_before` (0: none) limits it to
 * certificates issued (notBefore) before that time, and narrows the
 * limit of an existing anchor, never widens it. */
gs_status gs_store_add_anchor(gs_store *s, int64_t cert_id, int64_t issued_before, int *is_new,
			      char **errmsg);
/* Drop the handle's anchors so that the next check reads them again. */
void gs_store_forget_anchors(gs_store *s);
/* Record the SMIMECapabilities (comma-separated OIDs) announced for a certificate. */
gs_status gs_store_put_capabilities(gs_store *s, int64_t cert_id, const char *oids,
				    char **errmsg);
/* The capabilities recorded for the certificate with this SHA-256
 * (*oids NULL when none, else g_free). */
gs_status gs_store_get_capabilities(gs_store *s, const char *sha256, char **oids, char **errmsg);

/* Certificate lookups. Each returns GS_OK with its answer (a new stack,
 * possibly empty; a new reference, or NULL when nothing matches), or the
 * store's failure (GS_E_BUSY, GS_E_IO, GS_E_MALFORMED, GS_E_INTERNAL):
 * "none" and "could not look" are never the same answer. */
gs_status gs_store_certs_by_subject(gs_store *s, const X509_NAME *name, STACK_OF(X509) **certs,
				    char **errmsg);
gs_status gs_store_cert_by_issuer_serial(gs_store *s, const X509_NAME *issuer,
					 const ASN1_INTEGER *serial, X509 **found, char **errmsg);
gs_status gs_store_cert_by_ski(gs_store *s, const ASN1_OCTET_STRING *ski, X509 **found,
			       char **errmsg);
gs_status gs_store_cert_by_sha256(gs_store *s, const char *sha256hex, X509 **found, char **errmsg);
/* The anchors as an X509_STORE (owned by the store, built once). */
gs_status gs_store_anchor_store(gs_store *s, X509_STORE **anchors, char **errmsg);
/* The issued_before limit of an anchor of that X509_STORE, or 0. */
int64_t gs_store_anchor_limit(gs_store *s, X509 *anchor);

/* ---- CRLs in the store (crl.c) ---- */

/* Does the store hold any CRL? (cached per handle until an import) */
gs_status gs_store_has_crls(gs_store *s, int *has, char **errmsg);
/* The stored CRLs issued by `issuer` (a new stack of new references;
 * empty when none), decoded once per handle. */
gs_status gs_store_crls_for(gs_store *s, const X509_NAME *issuer, STACK_OF(X509_CRL) **crls,
			    char **errmsg);

/* ---- the directory part of the store (store-gal.c) ---- */

/* What the store says about a recipient: one certificate and where it
 * came from. entry_id 0 (entry, kind NULL): the certificate names the
 * address itself; `sources` then lists every source that brought it,
 * comma-separated. Valid during the callback. */
typedef struct gs_cand_row {
	X509 *x;
	const char *sources;
	int64_t entry_id;
	const char *entry;        /* the entry's name, else display name, else alias */
	const char *kind;
	const char *attribute;    /* userSMIMECertificate, userCertificate, certificate */
} gs_cand_row;
typedef int (*gs_cand_row_cb)(const gs_cand_row *row, void *data);
/* The certificates that name `address` (lower case) themselves, then
 * those of every directory entry listing it among its SMTP addresses.
 * Never by name, alias or display name. */
gs_status gs_store_address_candidates(gs_store *s, const char *address, gs_cand_row_cb cb,
				      void *data, char **errmsg);
/* The certificates of one directory entry. */
gs_status gs_store_entry_candidates(gs_store *s, int64_t entry, gs_cand_row_cb cb, void *data,
				    char **errmsg);
/* A directory entry, as the resolver names it. */
typedef struct gs_entry_row {
	int64_t id;
	const char *source, *label, *kind;
	const char *primary;      /* its primary SMTP address, or NULL */
	unsigned n_certs;
} gs_entry_row;
typedef int (*gs_entry_row_cb)(const gs_entry_row *row, void *data);
/* The entries listing `address` (lower case) among their SMTP addresses. */
gs_status gs_store_entries_by_address(gs_store *s, const char *address, gs_entry_row_cb cb,
				      void *data, char **errmsg);
/* The entries whose name, alias or display name is `name` (any case). */
gs_status gs_store_entries_by_name(gs_store *s, const char *name, gs_entry_row_cb cb, void *data,
				   char **errmsg);
/* Remove what a source brought: its entries and its certificate links. */
gs_status gs_store_source_clear(gs_store *s, int64_t source_id, unsigned long *removed,
				char **errmsg);
/* Rename the GAL source `old` to `name` when there is no source `name`
 * yet (a snapshot an older galsmime named by the file's base name);
 * *renamed says whether it was. */
gs_status gs_store_source_rename(gs_store *s, const char *old, const char *name, int *renamed,
				 char **errmsg);
/* A directory's answer about `address` replaces what it said before:
 * its source's entries listing the address go, and the links to the
 * certificates no entry of the source offers any more (directory.c). */
gs_status gs_store_dir_forget(gs_store *s, int64_t source_id, const char *address, char **errmsg);
/* Record that `directory` answered about `address` at `at`, counting
 * the entries of its source that list the address now. */
gs_status gs_store_dir_answer_put(gs_store *s, const char *directory, const char *address, int64_t at,
				  char **errmsg);
/* Delete certificates nothing refers to any more. */
gs_status gs_store_gc(gs_store *s, char **errmsg);
/* Add a directory entry to a source (*id: its row id), an SMTP address
 * to an entry (once; `primary` marks the primary), a certificate to an
 * entry under an attribute (once per attribute). */
gs_status gs_store_put_entry(gs_store *s, int64_t source_id, const char *kind, const char *name,
			     const char *alias, const char *display, int64_t *id, char **errmsg);
gs_status gs_store_put_entry_address(gs_store *s, int64_t entry, const char *address, int primary,
				     char **errmsg);
gs_status gs_store_put_entry_cert(gs_store *s, int64_t entry, int64_t cert, const char *attribute,
				  char **errmsg);

/* ---- identities (identity.c) ---- */

typedef struct gs_token gs_token;

typedef struct gs_identity {
	int64_t id;
	X509 *cert;
	EVP_PKEY *key;           /* NULL until unlocked */
	char *label;
	unsigned char *blob;     /* the stored key (encrypted PKCS#8 DER or plain) */
	size_t blob_len;
	int encrypted;
	char *token_uri;         /* a key on a PKCS#11 token: its URI (then no blob) */
	gs_token *token;         /* the token's module and login, once unlocked */
	int in_agent;            /* the key was opened in the agent, which signs and decrypts */
} gs_identity;

/* Free an identity (its stored key blob wiped, a token key released
 * before its module); NULL is fine. */
void gs_identity_free(gs_identity *id);
/* "CN (addresses)": how prompts name the identity. New string. */
char *gs_identity_describe(const gs_identity *id);
/* Write an identity row for `cert` (with the certificates of `chain`,
 * may be NULL) in one transaction: a key blob, or a token URI (exactly
 * one of them). */
gs_status gs_identity_store(gs_store *s, X509 *cert, STACK_OF(X509) *chain, const char *label,
			    const unsigned char *blob, int bloblen, int encrypted,
			    const char *token_uri, char **errmsg);

/* ---- pinentry (pinentry.c) ---- */

/* A pinentry program running for one question (asked again as needed). */
typedef struct gs_pinentry gs_pinentry;
#define GS_PINENTRY_MAX 1024   /* a secret is shorter than this */
#define GS_PINENTRY_TRIES 3    /* a wrong passphrase or PIN is asked for again, up to this */
typedef enum gs_pinentry_result {
	GS_PINENTRY_OK,
	GS_PINENTRY_CANCELLED,     /* the user said no */
	GS_PINENTRY_FAILED,        /* it could not run or ask, or went away */
} gs_pinentry_result;
/* Start the pinentry for `w` (its terminal if it has one, else its
 * graphical program on its display, with --display), showing `desc`
 * and `prompt`. *p is new (gs_pinentry_close). Returns GS_OK;
 * GS_E_PASSPHRASE (no program, no terminal nor display, it would not
 * start or use the terminal: *errmsg says which); GS_E_IO. Forks: the
 * child runs only async-signal-safe calls. */
gs_status gs_pinentry_open(const gs_pinentry_where *w, const char *desc, const char *prompt,
			   gs_pinentry **p, char **errmsg);
/* Ask once (with `error` shown, when not NULL). On GS_PINENTRY_OK,
 * *secret (NUL-ended, *len bytes) is in OpenSSL's secure heap:
 * OPENSSL_secure_clear_free(*secret, GS_PINENTRY_MAX). Otherwise *errmsg
 * (may be NULL) says why. */
gs_pinentry_result gs_pinentry_get(gs_pinentry *p, const char *error, char **secret, size_t *len,
				   char **errmsg);
/* Say BYE, wait for it, wipe; NULL is fine. */
void gs_pinentry_close(gs_pinentry *p);

/* ---- keys on PKCS#11 tokens (pkcs11.c) ---- */

/* Open the key of an identity with a token URI: load the module, find
 * the token, log in with a PIN from the session's callback, and set
 * id->key and id->token. Statuses as gs_identity_unlock's. */
gs_status gs_token_unlock(gs_session *s, gs_identity *id, char **errmsg);
/* Log out and unload (the key must be freed first); NULL is fine. */
void gs_token_free(gs_token *t);
/* For a failed private-key operation with id's key: a status and message
 * that say the token is gone when it is (else `st` and `what` with
 * OpenSSL's errors). */
gs_status gs_token_op_failed(const gs_identity *id, gs_status st, const char *what, char **errmsg);
/* The same for a failed operation with a key on t (the agent's). */
gs_status gs_token_failed(gs_token *t, gs_status st, const char *what, char **errmsg);
/* The token a key URI names, opened (its module: the URI's module-path,
 * else `module`, else p11-kit's proxy), not logged in. Statuses as
 * gs_token_unlock's. */
gs_status gs_token_open(const char *uri, const char *module, gs_token **t, char **errmsg);
/* Is t the token (and module) the key URI names? */
int gs_token_serves(gs_token *t, const char *uri, const char *module);
/* "token 'LABEL'", as messages name it (valid while t is). */
const char *gs_token_name(const gs_token *t);
/* What pinentry shows when asking the PIN of `token` (a name as above)
 * for the key of `whose` (may be NULL). New string. */
char *gs_token_pin_desc(const char *token, const char *whose);
/* Log in to t (when it needs a login and is not logged in) with PINs
 * asked through pinentry at `w`, showing `desc`: a wrong PIN is asked
 * again with an error text (saying when the token reports few tries
 * left), at most three times, and not again once the token says the
 * next wrong PIN locks it. *how: how pinentry ended (GS_PINENTRY_OK
 * when it gave PINs). Returns GS_OK; GS_E_PASSPHRASE (cancelled, no
 * pinentry, wrong PINs, a locked PIN: *errmsg says which); GS_E_NO_KEY
 * (the token went). */
gs_status gs_token_login_pinentry(gs_token *t, const gs_pinentry_where *w, const char *desc,
				  gs_pinentry_result *how, char **errmsg);
/* Log in to t with `pin` (NUL-ended), once. GS_OK (also when no login
 * is needed); GS_E_PASSPHRASE (wrong, or locked); GS_E_NO_KEY. */
gs_status gs_token_login_pin(gs_token *t, const char *pin, char **errmsg);
/* The private key on t (logged in) that the key URI names, checked
 * against `cert`. *key is new (EVP_PKEY_free before gs_token_free). */
gs_status gs_token_find_key(gs_token *t, const char *uri, X509 *cert, EVP_PKEY **key, char **errmsg);

/* Identities whose certificate carries `address` (all when NULL). */
gs_status gs_identity_find(gs_store *s, const char *address, GPtrArray **ids, char **errmsg);
/* The identity whose certificate has this SHA-256 fingerprint. */
gs_status gs_identity_by_fingerprint(gs_store *s, const char *sha256, gs_identity **id,
				     char **errmsg);
/* The identity for signing as `address` (as gs_identity_for_address),
 * kept by the session (the copy it holds already, if any) and unlocked.
 * *id belongs to the session. */
gs_status gs_session_signing_identity(gs_session *session, const char *address, gs_identity **id,
				      char **errmsg);
/* Decrypt the identity's key with the session's passphrase callback. */
gs_status gs_identity_unlock(gs_session *session, gs_identity *id, char **errmsg);
/* The identity for signing as `address` (NULL: the only identity). */
gs_status gs_identity_for_address(gs_session *session, const char *address,
				  gs_identity **id, char **errmsg);

/* ---- sessions (session.c) ---- */

struct gs_session {
	gs_store *store;
	gs_passphrase_cb pass_cb;
	void *pass_data;
	time_t when;             /* 0: now */
	gs_limits limits;
	int allow_sha1;              /* SHA-1 signatures may be good (with a warning) */
	GPtrArray *identities;       /* unlocked identities kept for the run */
	char *p11_module;            /* PKCS#11 module for token URIs naming none */
	GPtrArray *pin_refused;      /* tokens (label, serial) that refused a PIN: never asked again */
	gs_pinentry_where *pinentry; /* token PINs through pinentry, when set (strings owned) */
	gs_agent_cb agent_cb;        /* where encrypted keys are opened, when set */
	void *agent_data;
	void (*input_release)(void *data);
	void *input_release_data;
	GArray *directories;         /* gs_directory, strings owned (directory.c) */
	unsigned dir_timeout_ms;     /* for all lookups of the session together */
	gint64 dir_spent_us;         /* spent on them so far */
};

/* Free the session's directories, wiping their passwords (directory.c). */
void gs_directories_clear(gs_session *s);

time_t gs_session_now(const gs_session *s);

/* ---- the key agent (agent.c) ---- */

/* One message on a socket: send (the encoded copy wiped), receive (*buf
 * new, the fields of *m point into it; wipe with gs_agent_wipe).
 * GS_E_AGENT_LOST when the peer closed or failed; the parser's statuses. */
gs_status gs_agent_send(int fd, const gs_agent_msg *m, char **errmsg);
gs_status gs_agent_recv(int fd, int reply, GByteArray **buf, gs_agent_msg *m, char **errmsg);
void gs_agent_wipe(GByteArray *buf);
/* Ask the agent to unlock `blob` (the stored encrypted key of `cert`,
 * pinentry showing `desc`) and make *key: cert's public key whose
 * private operations the agent performs. */
gs_status gs_agent_open_key(gs_agent *a, X509 *cert, const unsigned char *blob, size_t blob_len,
			    const char *desc, EVP_PKEY **key, char **errmsg);
/* The same for a key on a PKCS#11 token (`uri` as stored; `module` for
 * a URI naming none): the agent opens the token and logs in, asking the
 * PIN through pinentry (`whose` names the key in its text), and keeps
 * the login for its cache times. */
gs_status gs_agent_open_token_key(gs_agent *a, X509 *cert, const char *uri, const char *module,
				  const char *whose, EVP_PKEY **key, char **errmsg);
/* Why the last private operation of an agent key failed (its status and
 * message), or GS_OK: not an agent key, or no failure. */
gs_status gs_agent_key_failure(EVP_PKEY *key, char **errmsg);

/* ---- CMS work (cms.c) ---- */

/* A signer's verification result with owned strings. */
typedef struct gs_signer_data {
	gs_signer pub;
	gs_certdata cd;
	char *detail;
	char *digest;
	char **emails;           /* the signer certificate's addresses */
} gs_signer_data;
void gs_signer_data_free(gs_signer_data *sd);

/* What one CMS operation found, returned to its caller (never kept in
 * the session). Verification fills signers and the flags; decryption the
 * cipher facts. */
typedef struct gs_cms_result {
	GPtrArray *signers;      /* of gs_signer_data*, owned */
	int no_signers;          /* the SignedData has no SignerInfo */
	int content_mismatch;    /* detached content differs from the encapsulated copy */
	char *cipher;            /* "aes-256-cbc", ... */
	int authenticated;       /* AuthEnvelopedData */
} gs_cms_result;
void gs_cms_result_init(gs_cms_result *res);
void gs_cms_result_clear(gs_cms_result *res);

/* Streaming CMS. Each object takes content through its sink BIO and is
 * finished (or freed) once; nothing holds the content whole.
 *
 * A signer: detached (out NULL: the DER signature comes from finish), or
 * encapsulated, BER streamed to `out` as the content comes. */
typedef struct gs_cms_signer gs_cms_signer;
gs_status gs_cms_signer_new(gs_session *s, gs_identity *id, BIO *out, gs_cms_signer **sg,
			    char **errmsg);
BIO *gs_cms_signer_sink(gs_cms_signer *sg);
/* Sign (and free). *der gets the detached signature (NULL otherwise). */
gs_status gs_cms_signer_finish(gs_cms_signer *sg, GByteArray **der, char **errmsg);
void gs_cms_signer_free(gs_cms_signer *sg);
/* A verifier: with `push`, the detached content is written by the caller
 * into the sink; otherwise `content` (or the embedded content when NULL)
 * is read at once, and copied to `out` when non-NULL. finish judges
 * every signer (signature, digest policy, chain; not the From rule) into
 * *res (initialised by the caller) and frees the verifier. */
typedef struct gs_cms_verifier gs_cms_verifier;
gs_status gs_cms_verifier_new(gs_session *s, const unsigned char *sig, size_t siglen, BIO *content,
			      int push, BIO *out, gs_cms_verifier **v, char **errmsg);
BIO *gs_cms_verifier_sink(gs_cms_verifier *v);
gs_status gs_cms_verifier_finish(gs_cms_verifier *v, gs_cms_result *res, char **errmsg);
void gs_cms_verifier_free(gs_cms_verifier *v);
/* An encryptor: BER enveloped-data (or AuthEnvelopedData) streamed to
 * `out` as the plaintext comes through the sink. */
typedef struct gs_cms_encryptor gs_cms_encryptor;
gs_status gs_cms_encryptor_new(gs_session *s, STACK_OF(X509) *recips, gs_cipher cipher, int oaep,
			       BIO *out, gs_cms_encryptor **e, char **errmsg);
BIO *gs_cms_encryptor_sink(gs_cms_encryptor *e);
gs_status gs_cms_encryptor_finish(gs_cms_encryptor *e, char **errmsg);
void gs_cms_encryptor_free(gs_cms_encryptor *e);

/* Sign the bytes read from `in`: a detached DER signature, or
 * encapsulated BER, written to `out`. */
gs_status gs_cms_sign(gs_session *s, gs_identity *id, BIO *in, BIO *out, int detached,
		      char **errmsg);
/* Verify a SignedData. `sig`: the DER/BER; `content`: the detached
 * content, or NULL for encapsulated content, then written to `out` when
 * non-NULL. The signers go to *res (addresses not yet compared with
 * From). Returns GS_OK when the structure could be examined. */
gs_status gs_cms_verify(gs_session *s, const unsigned char *sig, size_t siglen,
			BIO *content, BIO *out, gs_cms_result *res, char **errmsg);
/* Encrypt `in` to the certificates `recips`. */
gs_status gs_cms_encrypt(gs_session *s, STACK_OF(X509) *recips, gs_cipher cipher, int oaep,
			 BIO *in, BIO *out, char **errmsg);
/* Decrypt with the identity matching a RecipientInfo; the cipher facts
 * go to *res. */
gs_status gs_cms_decrypt(gs_session *s, const unsigned char *der, size_t len, BIO *out,
			 gs_cms_result *res, char **errmsg);
/* The same in place: takes `der` (freed, wiped, on failure); on GS_OK
 * *plain is that same array, now holding the plaintext (CRLF as it
 * was): a 35 MB message is never held twice. */
gs_status gs_cms_decrypt_bytes(gs_session *s, GByteArray *der, GByteArray **plain, gs_cms_result *res,
			       char **errmsg);
/* GS_OK unless a key-agreement (ECDH) RecipientInfo for `cert` names a
 * key wrap other than AES key wrap (RFC 3394): GS_E_UNSUPPORTED, saying
 * which. Checked before OpenSSL unwraps (see decrypt_cms). */
gs_status gs_cms_check_key_wrap(CMS_ContentInfo *cms, X509 *cert, char **errmsg);
/* Does `der` hold (auth)enveloped-data or signed-data? NID or NID_undef. */
int gs_cms_content_type(const unsigned char *der, size_t len);
/* The SMIMECapabilities a signer announced, as comma-separated OIDs, or
 * NULL (import/values.c). */
char *gs_signer_caps(CMS_SignerInfo *si);
/* SMIMECapabilities OID for AES-256-GCM. */
#define GS_OID_AES256_GCM "2.16.840.1.101.3.4.1.46"


/* ---- reports (report.c) ---- */
/* One layer of a report: a signature (its signers) or an encryption. */
typedef struct gs_layer_data {
	gs_layer pub;
	char *path;
	char *cipher;
	GPtrArray *signers;      /* of gs_signer_data*; NULL for encryption */
} gs_layer_data;

struct gs_report {
	gs_report_kind kind;
	GPtrArray *layers;       /* of gs_layer_data*, outermost first */
	gs_layer_data *outer;    /* the outermost signed layer (the From rule's), or NULL */
	char *from;
	const char *form;        /* the outermost signature's */
	char *cipher;            /* the outermost encryption's */
	int encrypted;
	int authenticated;
	unsigned reasons;        /* message-level and layer GS_REASON_* bits */
	GPtrArray *parts;        /* of char* pairs: path, note */
	int protected_headers;
	GPtrArray *mismatches;   /* of char*, NULL-terminated when non-empty */
	int finished;            /* gs_report_finish ran: the layers inside were looked at */
	char *unauthenticated;   /* gs_report_unauthenticated, once finished */
	int withheld;            /* delivery: the message was left encrypted */
};
void gs_report_note(gs_report *r, const char *path, const char *note);
void gs_report_mismatch(gs_report *r, const char *header);
gs_report *gs_report_new(void);
/* Add a signed layer at `path` ("detached" / "opaque" form): the signers
 * of *res move into it (res stays valid, empty). `reasons` are what is
 * wrong with the layer itself; they apply to each signer. With
 * from_rule, each signer's certificate must name `from` (the one From
 * address; NULL when there is none or several, which matches nobody). */
gs_layer_data *gs_report_add_signed(gs_report *r, const char *path, const char *form,
				    gs_cms_result *res, unsigned reasons, const char *from,
				    int from_rule);
void gs_report_add_encrypted(gs_report *r, const char *path, const char *cipher, int authenticated);
/* After the last layer: mark a bad inner layer (GS_REASON_INNER_LAYER)
 * and judge whether the content is authenticated. Idempotent. */
void gs_report_finish(gs_report *r);
/* An attached message decrypted without authentication (its own
 * report's gs_report_unauthenticated), at `path`: before finishing. */
void gs_report_unauthenticated_part(gs_report *r, const char *path, const char *why);

/* ---- certificate containers (import/certfile.c) ---- */
/* Every certificate in a PEM bundle, DER certificate, PKCS#7 (DER or
 * PEM) or .sst. Returns GS_E_MALFORMED when none is found. */
gs_status gs_read_certificates(const unsigned char *data, size_t len,
			       STACK_OF(X509) **certs, char **errmsg);
/* Parse a Microsoft serialized certificate store (.sst). */
gs_status gs_read_sst(const unsigned char *data, size_t len, STACK_OF(X509) **certs,
		      char **errmsg);
/* Microsoft's trust properties of one certificate in an .sst (see
 * certfile.c for what each means). */
enum {
	GS_SST_EKU = 1 << 0,            /* 9: the usages it is trusted for */
	GS_SST_DISALLOWED = 1 << 1,     /* 104: disallowed since a date */
	GS_SST_DISALLOWED_EKU = 1 << 2, /* 122: the usages disallowed */
	GS_SST_NOT_BEFORE = 1 << 3,     /* 126: certificates issued from a date on are not trusted */
	GS_SST_NOT_BEFORE_EKU = 1 << 4, /* 127: the usages 126 limits */
};
typedef struct gs_sst_trust {
	unsigned present;          /* GS_SST_* properties present */
	unsigned email;            /* GS_SST_* usage lists naming emailProtection or anyExtendedKeyUsage */
	int64_t disallowed_since;  /* 104, Unix time; -1 when unreadable */
	int64_t not_before;        /* 126, Unix time; -1 when unreadable */
} gs_sst_trust;
/* The same, with each certificate's properties: *trust (when non-NULL)
 * gets a GArray of gs_sst_trust parallel to *certs (g_array_unref). */
gs_status gs_read_sst_trust(const unsigned char *data, size_t len, STACK_OF(X509) **certs,
			    GArray **trust, char **errmsg);



/* ---- streaming parts (stream.c) ---- */
/* A GMimeStream writing into `bio` (not owned). */
GMimeStream *gs_sink_stream_new(BIO *bio);
/* Write `entity` with CRLF line ends (the canonical form) into `bio`. */
gs_status gs_write_entity_crlf(GMimeObject *entity, BIO *bio, char **errmsg);
/* g_mime_object_write_to_stream, byte for byte, with the content of parts
 * whose encoding does not change (the bulk of a message) copied from the
 * memory it was parsed from with memchr, instead of through GMime's
 * newline filter. -1 when a write failed (errno), else the bytes written. */
ssize_t gs_entity_write(GMimeObject *entity, GMimeFormatOptions *options, GMimeStream *out);
/* A stream that writes the base64 of what is written to it into `out`
 * (which it references), as GMime's base64 encoder and newline filters
 * do for a part with the options' newline format: 76 columns, each line
 * ended, the last one at flush (which flushes `out` too). */
GMimeStream *gs_base64_stream_new(GMimeStream *out, GMimeFormatOptions *options);
/* A multipart/signed of `entity` (prepared for signing: non-base64
 * leaves become quoted-printable), signed by `id` (unlocked, kept by the
 * session) when written. */
gs_status gs_stream_multipart_signed(gs_session *s, gs_identity *id, GMimeObject *entity,
				     GMimeObject **mps, char **errmsg);
/* application/pkcs7-mime whose body is `entity` encrypted to `recips`
 * (taken) when written. */
GMimeObject *gs_stream_enveloped(gs_session *s, STACK_OF(X509) *recips, gs_cipher cipher, int oaep,
				 GMimeObject *entity);
/* After writing `root` (a message or entity built of the parts above)
 * failed: the first error a streaming part met, as a status with its
 * message; GS_OK when no part failed (then the stream did). */
gs_status gs_stream_error(GMimeObject *root, char **errmsg);
/* application/pkcs7-mime signed-data of `entity`, signed when written. */
GMimeObject *gs_stream_signed_data(gs_session *s, gs_identity *id, GMimeObject *entity);

/* ---- base64 in (base64.c) ---- */
/* GMime's base64 decoder (g_mime_encoding_base64_decode_step), the same
 * bytes for any input however it is cut, faster on well-formed lines.
 * A step writes at most len / 4 * 3 + 3 bytes to out and returns how
 * many; after the first '=' nothing more is decoded. */
typedef struct {
	int n;            /* sextets held; -1 after the end ('=') */
	unsigned saved;
} gs_base64;
void gs_base64_init(gs_base64 *b);
size_t gs_base64_decode_step(gs_base64 *b, const unsigned char *in, size_t len, unsigned char *out);
/* `len` characters that are all the alphabet, whole quartets and no
 * '=', decoded into `out` (len / 4 * 3 bytes): its new end, or NULL
 * (out's bytes then undefined) for anything else. For tests. */
unsigned char *gs_base64_decode_whole(const unsigned char *in, size_t len, unsigned char *out);

/* ---- BIO over GMimeStream, and reading streams (bio.c) ---- */
/* A BIO reading from / writing to `stream` (which it references). */
BIO *gs_bio_new_stream(GMimeStream *stream);
/* The error (errno) of the first failed write or flush of a stream BIO
 * in the chain from `b` down, or 0: why OpenSSL could not write. */
int gs_bio_stream_errno(BIO *b);
/* The bytes a stream is a window on when it is one on memory: a mapped
 * file or a memory stream, or a slice of either, as GMime's parser hands
 * out the parts of its input. NULL for any other stream. */
const unsigned char *gs_stream_memory(GMimeStream *stream, size_t *len);
/* A hint that the n bytes at p are one large buffer about to be written
 * through (a decoded body of megabytes): its pages are made in one call,
 * not one fault per 4 KiB. Nothing else changes. */
void gs_memory_large(void *p, size_t n);
/* A hint that the n bytes at p (a mapped file, most often) are about to
 * be read through: their pages are mapped in one call, not one fault per
 * 64 KiB. Nothing else changes. */
void gs_memory_will_read(const void *p, size_t n);
/* Read a stream to its end, up to `limit` bytes (*too_big set beyond). */
GByteArray *gs_stream_slurp(GMimeStream *stream, size_t limit, int *too_big);
/* The GError domain the crypto context (context.c) reports in; the codes
 * are gs_status values. */
GQuark gs_error_quark(void);
#define GS_ERROR (gs_error_quark())
/* ---- what became of each recipient (message.c) ---- */
gs_recipients *gs_recipients_new(void);
/* Add one (the strings are copied). */
void gs_recipients_add(gs_recipients *r, const char *recipient, const char *fingerprint,
		       gs_binding binding, const char *note, const char *failure,
		       const char *directory);

/* ---- message.c ---- */
/* The one From mailbox of `m`, lower-cased, as the From rule compares
 * it; NULL when there is none or several. New string. */
char *gs_message_from_address(GMimeMessage *m);
/* GMime's parse of a message read from memory (a mapped file or a
 * GMimeStreamMem, from its current position) whose top entity is one
 * leaf part, with GMime's parser given only the first `prefix` bytes:
 * the header block must end there, and the leaf's content is then the
 * rest of the stream, as GMime would have found it (a leaf at the top
 * has no boundary to end at; GMime's scan of it line by line was a
 * fifth of a 25 MB decrypt). NULL for anything else (a multipart, a message/rfc822,
 * a header block longer than `prefix`, another kind of stream): the
 * caller parses the whole. gs_message_parse uses it for large input;
 * fuzz-leaf compares it with the whole parse. */
GMimeMessage *gs_message_parse_leaf(GMimeStream *stream, gint64 prefix);
/* GMime's parse of a large message whose big leaves are inside a
 * multipart, with most of those leaves' lines taken out first: runs of
 * whole lines of at least `min` bytes in stretches that hold no '-' (so
 * no boundary), each between two lines of the stretch that stay (a
 * non-blank anchor before, a tail after). The leaf whose content holds
 * an anchor and its tail then gets the lines back, as the same slice of
 * `stream` GMime's parse of the whole gives it; every other leaf's
 * content becomes its slice of `stream` too. The stream is left where
 * the whole parse leaves it. NULL when there is nothing to take out, or
 * when a run is not inside exactly one leaf's content (a preamble, an
 * epilogue, a header block): the caller parses the whole. Needs a memory
 * or mapped stream. test-parse and fuzz-cut compare it with the whole
 * parse. */
GMimeMessage *gs_message_parse_cut(GMimeStream *stream, size_t min);
/* The same for an entity, as g_mime_parser_construct_part reads one
 * (what gs_entity_parse gives a decrypted or opaque-signed content). */
GMimeObject *gs_entity_parse_cut(GMimeStream *stream, size_t min);
/* ---- resolve.c ---- */
/* The one verdict on a certificate as an encryption recipient, for every
 * door (gs_resolve, mutt's encrypt): dates, key usage, purpose, then the
 * chain to an anchor and revocation. *reason is static or *buf (set to a
 * new string, or NULL). A store that cannot be read is a status. */
gs_status gs_judge_recipient(gs_session *s, X509 *x, unsigned flags, gs_verdict *verdict,
			     const char **reason, char **buf, char **errmsg);
/* The address a recipient string names: the one inside "Name <addr>",
 * or the trimmed, lower-cased string itself when it holds an @; NULL
 * for a name. */
char *gs_recipient_address(const char *recipient);
/* Resolve each of `n` recipients (gs_resolve) into res[i], after asking
 * the session's directories (gs_directory_lookup) about those the store
 * does not resolve or whose cached answers are older than the TTL; a
 * recipient a directory answered about is resolved again. dir[i] gets
 * what a directory that did not answer means for recipient i (the
 * notes' text, "; "-joined; g_free), or NULL. On failure (a store
 * failure) every res[i] and dir[i] is NULL. */
gs_status gs_resolve_many(gs_session *s, const char *const *recipients, size_t n, unsigned flags,
			  gs_resolution **res, char **dir, char **errmsg);
/* The chosen certificate (owned by the resolution), or NULL. */
X509 *gs_resolution_chosen_cert(const gs_resolution *r);
#endif /* GS_PRIVATE_H */
