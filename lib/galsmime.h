/* galsmime.h: the public API of libgalsmime, the S/MIME engine.
 *
 * Contracts that hold for every function here:
 *
 *  - The library never prints, never exits, never reads configuration
 *    files or the environment. The caller passes everything in.
 *  - Functions return a gs_status (GS_OK == 0). On failure, when the
 *    caller passed a non-NULL `char **errmsg`, it receives a newly
 *    allocated one-line explanation (free with g_free); on success it is
 *    left untouched. OpenSSL's error queue is drained into that message.
 *  - Objects come in _new/_free (or _open/_close) pairs; NULL is accepted
 *    by every _free. Strings returned as `const char *` belong to the
 *    object they came from and stay valid until it is freed. Strings
 *    returned as `char *` belong to the caller (g_free).
 *  - Passing NULL where an object is required is a programmer error:
 *    the function returns GS_E_PROGRAMMER (GS_E_USAGE is for what a
 *    user asked that cannot be done: no recipients, an unknown format).
 *  - "A store failure" below means GS_E_BUSY (another process held the
 *    store's lock past the busy timeout), GS_E_IO (disk full, read-only,
 *    an I/O error), GS_E_MALFORMED (the file is not a galsmime store, or
 *    is damaged) or GS_E_INTERNAL: the store could not answer, which is
 *    never the same as an empty answer.
 *  - Callbacks: what they receive is valid during the call only;
 *    returning non-zero stops the walk, and the function then returns
 *    GS_OK.
 *
 * MIME objects are GMime's (GMimeMessage, GMimeObject): galsmime is a
 * GMime extension. Call gs_init() once, after g_mime_init().
 */
#ifndef GALSMIME_H
#define GALSMIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <gmime/gmime.h>

G_BEGIN_DECLS

#define GALSMIME_VERSION "0.1.0"

/* ------------------------------------------------------------------ */
/* Status                                                              */
/* ------------------------------------------------------------------ */

typedef enum gs_status {
	GS_OK = 0,
	GS_E_USAGE,        /* invalid argument or option combination */
	GS_E_MALFORMED,    /* the input is not what it claims to be */
	GS_E_LIMIT,        /* the input exceeds a safety limit (a kind of malformed) */
	GS_E_NO_CERT,      /* a recipient has no usable certificate */
	GS_E_NO_KEY,       /* no private key matches, or none is configured */
	GS_E_PASSPHRASE,   /* passphrase missing or wrong */
	GS_E_NOT_FOUND,    /* a lookup found nothing */
	GS_E_UNSUPPORTED,  /* algorithm or format not supported */
	GS_E_BUSY,         /* the store stayed locked past the busy timeout */
	GS_E_IO,           /* reading or writing a file or the store failed */
	GS_E_INTERNAL,     /* a bug or an out-of-memory condition */
	GS_E_UNSAFE,       /* the store is not private: another user owns it or can write it */
	GS_E_PROGRAMMER,   /* the caller broke a contract (NULL where an object is required) */
	GS_E_AGENT_LOST,   /* the key agent went away during a request: try again */
} gs_status;

/* A short constant name for a status ("malformed input", ...): a static
 * string. */
const char *gs_status_string(gs_status status);

/* A copy of `s` safe to show a person on one line: C0 and C1 controls
 * (CR, LF, ESC, BEL, CSI...), DEL, line separators, bidirectional
 * overrides and invalid UTF-8 as \xNN / \uNNNN; cut after `max` bytes
 * with "..." (0: no limit). Idempotent. NULL for NULL. */
char *gs_printable(const char *s, size_t max);

/* Overwrite `len` bytes at `p` in a way the compiler keeps (secrets:
 * passphrases, decrypted content); NULL or 0 does nothing. */
void gs_wipe(void *p, size_t len);

/* Line ends, as new arrays (g_byte_array_unref). gs_crlf_canon: every
 * LF not already after a CR gains one, RFC 8551 3.1.1's canonical form
 * that signatures cover and entities are encrypted in. gs_crlf_strip:
 * every CRLF becomes LF (a lone CR stays). `data` may be NULL when
 * `len` is 0. */
GByteArray *gs_crlf_canon(const void *data, size_t len);
GByteArray *gs_crlf_strip(const void *data, size_t len);

/* DER as a PEM block under `label` ("PKCS7", "CERTIFICATE"): base64 in
 * lines of 64 between the BEGIN and END lines. New string (g_free). */
char *gs_pem_armour(const char *label, const void *der, size_t len);

/* The SHA-256 fingerprint (lower-case hex, new string) of the
 * certificate in `data`: the first CERTIFICATE block of PEM, else one
 * DER certificate with nothing after it. GS_E_MALFORMED when there is
 * none; GS_E_PROGRAMMER for NULL arguments. */
gs_status gs_cert_fingerprint(const void *data, size_t len, char **hex, char **errmsg);

/* Libraries loaded only when a command needs them (dl.c), by the SONAME
 * the build found: libldap (LDIF), libcurl (crl update), libnotmuch
 * (notmuch harvest), libp11 (keys on PKCS#11 tokens). */
typedef enum gs_library {
	GS_LIB_LDAP = 0,
	GS_LIB_CURL,
	GS_LIB_NOTMUCH,
	GS_LIB_P11,
} gs_library;
/* One function pointer to fill: the symbol's name, and where the pointer
 * goes in the caller's table (offsetof). */
typedef struct gs_symbol {
	const char *name;
	size_t offset;
} gs_symbol;
/* The gs_symbol for function `name`, stored in field `field` of the
 * table variable `table`. */
#define GS_SYMBOL(table, field, name) { #name, offsetof(__typeof__(table), field) }
/* Load `lib` (once per process; thread-safe) and store the address of
 * each of the `n` symbols into `table`. Returns GS_OK; GS_E_UNSUPPORTED
 * (not installed, or a symbol missing: *errmsg says which); GS_E_PROGRAMMER
 * (an unknown library, no table). The library stays loaded. */
gs_status gs_library_load(gs_library lib, void *table, const gs_symbol *syms, size_t n,
			  char **errmsg);

/* Initialise the library (OpenSSL without the system's configuration
 * file). Call after g_mime_init(). Idempotent and thread-safe; it changes
 * nothing else in the process: GMime's crypto registry and the
 * process's dumpable flag are the host's to change (gs_gmime_register,
 * gs_process_harden). */
void gs_init(void);

/* ------------------------------------------------------------------ */
/* Certificates                                                        */
/* ------------------------------------------------------------------ */

/* Facts about one certificate, as the store and the reports show them.
 * Plain read-only data: every pointer belongs to the object that handed
 * the struct out. Times are UNIX seconds. */
typedef struct gs_cert_info {
	const char *sha256;       /* hex, lower case, 64 digits */
	const char *subject;      /* RFC 2253 */
	const char *issuer;       /* RFC 2253 */
	const char *serial;       /* hex, upper case */
	const char *common_name;  /* subject CN, or NULL */
	/* the certificate's own addresses, lower case: rfc822Name SANs, else
	 * subject emailAddress. A NULL-terminated list (empty, never NULL):
	 * never joined and split again, since a quoted local part may hold
	 * commas ("x,ceo@a,y"@b is one address) */
	const char *const *emails;
	const char *key_type;     /* "rsa", "ec", "dsa", "ed25519", ... */
	int key_bits;
	int64_t not_before, not_after;
	int is_ca;
	const char *key_usage;    /* comma-separated names, or NULL when the extension is absent */
	const char *ext_key_usage;/* comma-separated names/OIDs, or NULL when absent */
	int64_t issued_before;    /* listings of anchors: trusted only for certificates
				   * issued before this time (Microsoft's NotBefore); 0: no limit */
} gs_cert_info;

/* The certificate's addresses for a person: each made printable
 * (gs_printable), joined with ", "; NULL when it has none. New string. */
char *gs_cert_info_addresses(const gs_cert_info *info);

/* ------------------------------------------------------------------ */
/* The store                                                           */
/* ------------------------------------------------------------------ */

typedef struct gs_store gs_store;

enum {
	GS_STORE_READ_ONLY  = 0,
	GS_STORE_READ_WRITE = 1 << 0,
};

/* Open (creating it when missing) the store in folder `dir`. The store
 * must be private, as ssh's StrictModes wants a user's keys: the folder
 * and the database (and its -wal and -shm files) owned by the user (or
 * root), not writable by group or others, and every folder above it
 * owned by the user or root and not writable by others unless sticky
 * (/tmp); otherwise GS_E_UNSAFE, whose message says what to fix: a store
 * someone else could have written (a rogue trust anchor) or could read
 * (your keys) is never used. Opened read-write, the folder is made 0700
 * and the database file 0600 whatever the umask; a failure to do so is
 * an error. The store is an SQLite database in WAL mode with a busy
 * timeout, so concurrent readers and a writer never corrupt it; a lock
 * held longer than `busy_timeout_ms` gives GS_E_BUSY. Schema migrations
 * run on open. GS_STORE_READ_ONLY: the handle then refuses every write
 * (SQLite's query_only: a write gives GS_E_IO), whoever asks. Returns
 * GS_OK, GS_E_UNSAFE, GS_E_IO, GS_E_BUSY, GS_E_MALFORMED (not a galsmime
 * store, or a newer schema). */
gs_status gs_store_open(const char *dir, unsigned flags, int busy_timeout_ms,
			gs_store **store, char **errmsg);
/* Check again, before a handle opened earlier serves a new request (the
 * warm engine's spare worker opens its store before the request comes),
 * what gs_store_open checked: the folders' and the files' owners and
 * modes, and that the database file at the store's path is still the one
 * the handle opened (not moved or replaced since); then set the busy
 * timeout, and forget the anchors and CRLs the handle loaded when another
 * connection has written to the database since it loaded them. GS_OK, or GS_E_UNSAFE / GS_E_IO: the handle is then not to be
 * used (close it and open the store again). */
gs_status gs_store_reuse(gs_store *store, int busy_timeout_ms, char **errmsg);
/* Load now what a store's first request would load: the trust anchors,
 * whether it holds CRLs, the queries of a chain, of a recipient's lookup
 * and of one's identities compiled (the warm engine's
 * spare worker, before its request comes). gs_store_reuse drops what was
 * loaded when another process has written to the store since (SQLite's
 * data_version), so a trust anchor removed in between is not used.
 * GS_OK, or the error reading the store. */
gs_status gs_store_warm(gs_store *store, char **errmsg);
/* Close the store (NULL is fine), finalizing its statements; a
 * transaction still open is rolled back. */
void gs_store_close(gs_store *store);
/* The database file's path (owned by the store), or NULL for NULL. */
const char *gs_store_path(const gs_store *store);

/* The role a certificate import gives the certificates it brings. */
typedef enum gs_cert_role {
	GS_ROLE_CORRESPONDENT, /* someone else's certificate (cert import) */
	GS_ROLE_ANCHOR,        /* a trust anchor (trust import) */
} gs_cert_role;

typedef struct gs_import_stats {
	unsigned certs_new, certs_known, skipped;
	unsigned anchors_new;
	/* trust imports */
	unsigned anchors_known;   /* already trust anchors */
	unsigned refused;         /* certificates that cannot be anchors, each reported; of them: */
	unsigned disallowed;      /*   .sst: disallowed by Microsoft (for e-mail or for all) */
	unsigned not_for_email;   /*   .sst: trusted by Microsoft for other usages only */
	unsigned limited;         /* anchors for certificates issued before a date only (.sst) */
} gs_import_stats;

/* Import every certificate in `data` (a PEM bundle, DER, PKCS#7
 * .p7b/.p7c in DER or PEM, or a Microsoft serialized store .sst) under
 * the source name `source`, in one transaction. As correspondents'
 * certificates, or, with GS_ROLE_ANCHOR, as gs_store_import_anchors
 * without a callback. Returns GS_OK, GS_E_MALFORMED (nothing usable in
 * the data), GS_E_LIMIT (over 2 GiB), GS_E_PROGRAMMER, GS_E_BUSY, GS_E_IO. */
gs_status gs_store_import_certs(gs_store *store, const unsigned char *data, size_t len,
				const char *source, gs_cert_role role,
				gs_import_stats *stats, char **errmsg);

/* Called for each certificate a trust import refuses: its place in the
 * file (from 1), its subject (RFC 2253) and why; valid during the call. */
typedef void (*gs_refuse_cb)(void *data, unsigned index, const char *subject, const char *reason);

/* Make the certificates in `data` trust anchors: each that can work as
 * one for S/MIME, that is valid now; a CA (basicConstraints cA) whose
 * keyUsage, when present, has keyCertSign, or a self-signed certificate
 * (an anchor for itself only); whose extendedKeyUsage, when present,
 * has emailProtection or anyExtendedKeyUsage; and, from an .sst, that
 * Microsoft neither disallows (properties 104, 122) nor trusts for other
 * usages only (9, 127). Microsoft's NotBefore (126, with 127 naming
 * e-mail or absent) is kept with the anchor: chains through it are
 * trusted only for certificates issued before that date. Every other
 * certificate is refused and reported through `on_refuse` (may be
 * NULL); the others are imported in one transaction. Returns GS_OK when
 * at least one certificate is an anchor (new or already); GS_E_USAGE
 * when none can be (the message names the first refusal); as
 * gs_store_import_certs otherwise. */
gs_status gs_store_import_anchors(gs_store *store, const unsigned char *data, size_t len,
				  const char *source, gs_refuse_cb on_refuse, void *cb_data,
				  gs_import_stats *stats, char **errmsg);

/* A certificate of a listing: its facts, and the names of the sources
 * that brought it, comma-separated (NULL when no source refers to it). */
typedef int (*gs_cert_cb)(const gs_cert_info *info, const char *sources, void *data);
typedef enum gs_cert_filter {
	GS_LIST_ALL,
	GS_LIST_ANCHORS,
	GS_LIST_CORRESPONDENTS, /* certificates that are neither anchors nor CAs */
} gs_cert_filter;
/* Call `cb` for each stored certificate the filter selects, ordered by
 * subject, then notBefore; an anchor's info carries its issued_before
 * limit. A row that is not one certificate is passed over. Returns
 * GS_OK, GS_E_PROGRAMMER (no store or callback), or a store failure. */
gs_status gs_store_list_certs(gs_store *store, gs_cert_filter filter,
			      gs_cert_cb cb, void *data, char **errmsg);

/* ------------------------------------------------------------------ */
/* Revocation: CRLs kept in the store                                  */
/* ------------------------------------------------------------------ */

/* What a CRL import did. */
typedef struct gs_crl_stats {
	unsigned crls_new;       /* stored, for an issuer that had none */
	unsigned crls_replaced;  /* newer than the stored one, which it replaced */
	unsigned crls_known;     /* the same as or older than the stored one: kept the stored one */
} gs_crl_stats;

/* Import the CRLs in `data` (PEM CRLs and PKCS#7 blocks, one DER CRL, or
 * one DER PKCS#7 bundle). Each must verify with the key of a certificate
 * in the store (its issuer); one CRL is kept per issuer, the one with
 * the latest thisUpdate. `origin` (file name or URL) is recorded. All or
 * nothing, in one transaction. Returns GS_OK; GS_E_MALFORMED (no CRL in
 * the data, no certificate in the store signed it, or its issuer may not
 * sign CRLs); GS_E_UNSUPPORTED (a delta CRL);
 * GS_E_LIMIT, GS_E_BUSY, GS_E_IO, GS_E_PROGRAMMER. Chain checks (verify,
 * recipient resolution) use the stored CRLs from then on: a revoked
 * certificate is GS_REASON_REVOKED / GS_VERDICT_REVOKED, and a CRL past
 * its nextUpdate adds the warning GS_REASON_CRL_STALE. */
gs_status gs_store_import_crls(gs_store *store, const unsigned char *data, size_t len,
			       const char *origin, gs_crl_stats *stats, char **errmsg);

typedef struct gs_crl_info {
	const char *issuer;       /* RFC 2253 */
	int64_t this_update, next_update; /* next_update 0 when absent */
	const char *origin;       /* file name or URL it came from */
	int64_t fetched_at;       /* when it was last imported or fetched */
	long revoked;             /* entries */
	int stale;                /* next_update is past at the time given */
} gs_crl_info;
typedef int (*gs_crl_cb)(const gs_crl_info *info, void *data);
/* Call `cb` for each stored CRL, ordered by issuer; `now` decides
 * `stale`. Returns GS_OK, GS_E_PROGRAMMER (no store or callback), or a store
 * failure. */
gs_status gs_store_list_crls(gs_store *store, time_t now, gs_crl_cb cb, void *data,
			     char **errmsg);

/* The distinct CRL distribution point URIs (any scheme) of the trust
 * anchors and of the stored certificates whose chain reaches an anchor
 * (signatures checked; dates, purposes and revocation do not matter):
 * never a point only an untrusted certificate names. Anchors first, then
 * CA certificates: a NULL-terminated vector (g_strfreev). Points that
 * name another CRL issuer are left out. One chain check per point not
 * yet accepted (and per issuer without a path to an anchor), not per
 * certificate. Returns GS_OK (an empty vector when there is none), or a
 * store failure. */
gs_status gs_store_crl_urls(gs_store *store, char ***urls, char **errmsg);

/* Fetch an http:// or https:// URL (libcurl, loaded when first used):
 * at most `max_bytes`, within `timeout_s` seconds, at most 3 redirects,
 * to HTTP(S) only. Returns GS_OK with the body; GS_E_USAGE (another
 * scheme); GS_E_LIMIT (larger than max_bytes); GS_E_IO (the fetch failed:
 * errmsg says why, e.g. the HTTP status or the timeout); GS_E_UNSUPPORTED
 * (libcurl is not installed). */
gs_status gs_fetch(const char *url, long timeout_s, size_t max_bytes, GBytes **body,
		   char **errmsg);

/* ------------------------------------------------------------------ */
/* The Global Address List: imports of directory exports               */
/* ------------------------------------------------------------------ */

typedef enum gs_gal_format {
	GS_GAL_AUTO = 0,   /* detected from the content */
	GS_GAL_JSON,       /* Export-GalSmime.ps1 / ConvertTo-Json: an array, or JSON Lines */
	GS_GAL_CSV,        /* a header row with the same column names */
	GS_GAL_LDIF,       /* RFC 2849, as ldifde or ldapsearch export AD */
	GS_GAL_VCARD,      /* vCard 2.1 / 3.0 / 4.0 */
	GS_GAL_OAB,        /* Outlook's offline address book, udetails.oab version 4 */
	GS_GAL_SST,        /* Microsoft serialized certificate store */
	GS_GAL_P7B,        /* PKCS#7 certificate bag */
	GS_GAL_PEM,        /* PEM certificates */
	GS_GAL_DER,        /* one DER certificate */
} gs_gal_format;

/* The format named `name` ("auto", "json", "csv", "ldif", "vcard",
 * "oab", "sst", "p7b", "pem", "der"; any case) into *format. Returns
 * GS_OK, or GS_E_USAGE for an unknown name (or NULL). */
gs_status gs_gal_format_from_name(const char *name, gs_gal_format *format);

typedef struct gs_gal_stats {
	unsigned long entries;       /* directory entries stored */
	unsigned long addresses;     /* SMTP addresses stored */
	unsigned long certs_new;     /* certificates new to the store */
	unsigned long certs_known;   /* certificates the store already had */
	unsigned long entry_certs;   /* links from entries to certificates */
	unsigned long skipped;       /* records skipped (only with skip_bad) */
	unsigned long removed;       /* entries of the previous snapshot replaced */
	unsigned long dropped;       /* records with neither an address nor a certificate */
	int took_over;               /* the snapshot was the one named opts.older_name */
} gs_gal_stats;

/* Called now and then during an import: bytes read of the current file
 * (and its size, 0 when unknown), entries so far. */
typedef void (*gs_progress_cb)(void *data, uint64_t done, uint64_t total, unsigned long entries);
/* Called for every record skipped with skip_bad: where ("file:line" or
 * "file: byte N") and why. */
typedef void (*gs_skip_cb)(void *data, const char *where, const char *reason);

typedef struct gs_gal_import_opts {
	int skip_bad;                /* skip malformed records instead of aborting */
	gs_progress_cb progress;
	gs_skip_cb on_skip;
	void *cb_data;
	/* the name an older galsmime gave this snapshot (the file's base
	 * name): a GAL source of that name becomes this one when there is
	 * none by the new name yet, so that its entries are replaced, not
	 * left beside the new ones (NULL: none) */
	const char *older_name;
} gs_gal_import_opts;

typedef struct gs_gal_import gs_gal_import;

/* An import is one snapshot of `source`: begin, add files, commit. It
 * runs in one transaction: readers never see half an import, and
 * anything short of a successful commit leaves the store exactly as it
 * was. The commit replaces everything the source brought before.
 * *import is new: end it with gs_gal_import_commit or
 * gs_gal_import_abort; the store is in a write transaction until then.
 * Returns
 * GS_OK, GS_E_PROGRAMMER (no store, no source name), or a store failure
 * (GS_E_BUSY: another import holds the store). */
gs_status gs_gal_import_begin(gs_store *store, const char *source, const gs_gal_import_opts *opts,
			      gs_gal_import **import, char **errmsg);
/* Read one file from `fd` (named `name` in messages; not closed) in
 * `format` (GS_GAL_AUTO: told by the content). Input is hostile: every
 * length is checked, memory grows with the largest record, not the
 * file. A malformed record gives GS_E_MALFORMED with "name:line: reason"
 * (or "name: byte N: reason") unless skip_bad, when it is counted,
 * reported through on_skip and passed over; a file in which no entry is
 * left is malformed all the same (a snapshot must not empty its source
 * by mistake). Returns GS_OK; GS_E_MALFORMED (the file, a record, or
 * the format cannot be told); GS_E_LIMIT (a record or file over a
 * limit); GS_E_UNSUPPORTED (LDIF without libldap); GS_E_IO (reading);
 * GS_E_PROGRAMMER (the import failed before); a store failure. After a
 * failure the import can only be aborted. */
gs_status gs_gal_import_file(gs_gal_import *import, int fd, const char *name, gs_gal_format format,
			     char **errmsg);
/* How galsmime binds to an LDAP directory. */
typedef enum gs_ldap_bind {
	GS_LDAP_BIND_SIMPLE = 0,     /* bind_dn + password, or anonymous without a bind_dn */
	GS_LDAP_BIND_GSSAPI,         /* SASL GSSAPI (Kerberos): the ticket of the caller's
	                              * credential cache (KRB5CCNAME), service ldap/HOST */
} gs_ldap_bind;
/* Where and how to reach an LDAP directory (gs_gal_import_ldap, and
 * every other use of a directory: one connect-and-bind for all). */
typedef struct gs_ldap_opts {
	const char *url;             /* ldap://HOST:PORT/ or ldaps://... */
	gs_ldap_bind bind;
	const char *bind_dn;         /* simple: NULL for an anonymous bind; gssapi: must be NULL */
	const char *password;        /* simple: the password (password_len bytes; may hold no
	                              * NUL); the caller wipes it */
	size_t password_len;
	int timeout_ms;              /* connecting, binding and each operation (0: 10 s) */
	const char *ca_file;         /* TLS: trust the CAs in this PEM file (NULL: libldap's default) */
	int starttls;                /* ldap://: StartTLS before the bind, or fail */
} gs_ldap_opts;
/* Where gs_gal_import_ldap reads a directory. */
typedef struct gs_ldap_sync_opts {
	gs_ldap_opts conn;
	const char *base;            /* NULL: the server's defaultNamingContext or first namingContexts */
	const char *filter;          /* NULL: (objectClass=*) */
} gs_ldap_sync_opts;
/* Read a directory into the import, as gs_gal_import_file reads an LDIF
 * export of it: a bind (simple or GSSAPI), one subtree search of `base`
 * in pages of 500 entries (RFC 2696), each entry read as the LDIF
 * importer reads one (the same attributes, the same refusals of hostile
 * values), memory bounded by one entry (each read as it arrives).
 * libldap is loaded on first use. Returns GS_OK;
 * GS_E_USAGE (not an LDAP URL, no base to search, a bind DN with
 * GSSAPI); GS_E_PASSPHRASE (the server refused the bind DN or password,
 * or the GSSAPI bind failed: no Kerberos ticket, no service key); GS_E_IO (the server cannot be
 * reached within the timeout, TLS failed (ldaps://, StartTLS: a
 * certificate the CAs do not vouch for), or a search or page failed:
 * *errmsg says after how many entries); GS_E_MALFORMED (no entry, or
 * a hostile one without skip_bad); GS_E_UNSUPPORTED (libldap cannot be
 * loaded);
 * GS_E_PROGRAMMER (no import, no options, or the import failed before);
 * a store failure. After a failure the import can only be aborted: the
 * store keeps the previous snapshot whole. */
gs_status gs_gal_import_ldap(gs_gal_import *import, const gs_ldap_sync_opts *opts, char **errmsg);
/* Remove the certificates nothing refers to any more and commit the
 * snapshot; *stats (may be NULL) says what it did. Frees the import
 * whatever happens (a failed commit is rolled back). Returns GS_OK,
 * GS_E_PROGRAMMER (no import, or one that failed: nothing is changed), or a
 * store failure. */
gs_status gs_gal_import_commit(gs_gal_import *import, gs_gal_stats *stats, char **errmsg);
/* Roll back and free. NULL is fine. */
void gs_gal_import_abort(gs_gal_import *import);

/* A certificate linked to a directory entry. */
typedef struct gs_gal_link {
	const char *attribute;       /* where the entry holds it: userSMIMECertificate, userCertificate */
	const char *sha256;          /* its SHA-256 fingerprint, hex, lower case */
} gs_gal_link;

/* One directory entry, as listings show it. Read-only; valid during the
 * callback. */
typedef struct gs_gal_entry {
	int64_t id;
	const char *source;
	const char *kind;            /* UserMailbox, MailContact, user, contact, vcard, oab ... */
	const char *name;            /* identity name (e.g. CravateRouge_SMIME) */
	const char *alias;
	const char *display_name;
	const char *const *addresses;/* NULL-terminated, lower case, primary first */
	unsigned n_certs;            /* certificates linked to the entry */
	const gs_gal_link *links;    /* the n_certs links, by attribute, then fingerprint */
} gs_gal_entry;
typedef int (*gs_gal_entry_cb)(const gs_gal_entry *entry, void *data);

/* Entries named by `query` as gs_resolve matches them: a query holding
 * an @ by their SMTP addresses only (case-insensitive); any other by
 * their name, alias or display name (case-insensitive). Calls `cb` (may
 * be NULL) for each, in import order; *found (may be NULL) counts them.
 * Returns GS_OK (also when nothing matched), GS_E_PROGRAMMER (no store or
 * query), or a store failure. */
gs_status gs_gal_lookup(gs_store *store, const char *query, gs_gal_entry_cb cb, void *data,
			unsigned long *found, char **errmsg);
/* Call `cb` for every entry, or for those of the source named `source`
 * (NULL: all, by source name), in import order. Returns GS_OK,
 * GS_E_PROGRAMMER (no store), or a store failure. */
gs_status gs_gal_list(gs_store *store, const char *source, gs_gal_entry_cb cb, void *data,
		      char **errmsg);

/* Called by gs_gal_publish with the next piece of the LDIF (`len`
 * bytes, valid during the call): return 0 to go on, non-zero to stop
 * (the writer failed: gs_gal_publish then returns GS_OK, and the caller
 * knows why it stopped). */
typedef int (*gs_publish_write_fn)(const void *buf, size_t len, void *data);
/* Write the directory entries (all, or those of the source named
 * `source`, as gs_gal_list walks them) as LDIF (RFC 2849) that
 * OpenLDAP's slapadd and ldapadd load under the DN `base`: "version: 1",
 * then one entry each, in the order gs_gal_list gives them, through
 * `write`. Each is an inetOrgPerson with galsmime's auxiliary class
 * galsmimeRecipient (plugin/ldap/galsmime.schema): cn and sn (the name,
 * else the display name, alias or primary address), displayName,
 * mailNickname (the alias), galsmimeKind (the kind), mail (the primary
 * address), proxyAddresses ("SMTP:" the primary, "smtp:" the others),
 * userCertificate;binary and userSMIMECertificate (DER X.509, base64),
 * each certificate under the attribute the entry links it by. RDNs are
 * cn=NAME, else cn=NAME+mail=PRIMARY, else cn=NAME+uid=N for the first
 * free N (RFC 4514 escaping), so the same store gives the same DNs. Values
 * that LDIF cannot carry plainly (non-ASCII, leading space, line ends)
 * are base64. gs_gal_import of the output gives the same entries, but
 * for certificates that came in a CMS or TLV value, which go out as
 * the bare certificate (the capabilities stay behind), and a contact's
 * external address, which becomes one of its proxy addresses. *entries
 * (may be NULL) counts the entries written. libldap is loaded on first
 * use. Returns GS_OK (also when there is nothing to write, and when
 * `write` stopped it); GS_E_USAGE (`base` is not a DN); GS_E_UNSUPPORTED
 * (libldap cannot be loaded); GS_E_PROGRAMMER (no store, base or
 * writer); a store failure. */
gs_status gs_gal_publish(gs_store *store, const char *source, const char *base,
			 gs_publish_write_fn write, void *data, unsigned long *entries, char **errmsg);

typedef struct gs_gal_source_info {
	const char *name;
	const char *kind;
	int64_t imported_at;
	unsigned long entries, addresses, certificates, entries_with_certs;
} gs_gal_source_info;
typedef int (*gs_gal_source_cb)(const gs_gal_source_info *info, void *data);
/* Call `cb` for every source of certificates and entries (GAL
 * snapshots, certificate imports, "harvest", "identity"), by name, with
 * what it holds. Returns GS_OK, GS_E_PROGRAMMER (no store or callback), or a
 * store failure. */
gs_status gs_gal_sources(gs_store *store, gs_gal_source_cb cb, void *data, char **errmsg);

/* ------------------------------------------------------------------ */
/* Identities: the user's own certificate and private key              */
/* ------------------------------------------------------------------ */

/* How the library asks for a passphrase when (and only when) it needs
 * to open a private key. Write up to `size` bytes into `buf`, set *len,
 * return GS_OK; or return GS_E_PASSPHRASE when none is available. The
 * library wipes `buf` after use. */
typedef gs_status (*gs_passphrase_cb)(void *data, const char *what,
				      char *buf, size_t size, size_t *len);

/* Import a PKCS#12 file (also legacy RC2-40 / 3DES ones, and gpgsm's
 * armoured export: a PEM block labelled PKCS12, after a text header) or
 * PEM (certificate + private key, the key possibly encrypted) as an
 * identity. The passphrase opens the file; the key is stored encrypted
 * again under the same passphrase (PKCS#8, AES-256-CBC, PBKDF2-SHA256),
 * and stored unencrypted only if it came unencrypted (then
 * *stored_plain is set). The certificate chain in the file goes to the
 * certificate table. *fingerprint receives the SHA-256 of the identity's
 * certificate. Returns GS_OK, GS_E_PASSPHRASE, GS_E_MALFORMED,
 * GS_E_NO_KEY (no key, or the key does not match the certificate),
 * GS_E_BUSY, GS_E_IO. */
gs_status gs_identity_import(gs_store *store, const unsigned char *data, size_t len,
			     const char *passphrase, size_t passlen, const char *label,
			     char **fingerprint, int *stored_plain, char **errmsg);

/* Where secrets are asked for: pinentry programs (paths) and the
 * requester's terminal or display. `program` serves a terminal (tty,
 * its TERM in ttytype); `graphical` (NULL: `program`) a requester with
 * a display (X `display`, passed as --display, or `wayland_display`)
 * and no terminal. */
typedef struct gs_pinentry_where {
	const char *program, *graphical;
	const char *tty, *ttytype, *display, *wayland_display;
} gs_pinentry_where;

/* Register as an identity the certificate on a PKCS#11 token (smart
 * card, USB token, SoftHSM) named by `uri`, an RFC 7512 URI
 * ("pkcs11:token=Card;id=%01"): its path attributes token, manufacturer,
 * serial, model, slot-id, slot-description, slot-manufacturer,
 * library-manufacturer, library-description, object, id and type
 * (private, public or cert: the certificate is the one with the key's id
 * and label); its query attributes module-path (the PKCS#11 module to
 * load; else `module`; NULL: p11-kit's proxy) and pin-value. The private
 * key stays on the token: the store keeps the certificate and a URI
 * naming the token and the key (never a PIN), and signing and
 * decrypting use the key there (libp11, loaded now and only for such
 * keys). When a PIN is at hand (pin-value; else asked through pinentry
 * at `pinentry` when not NULL, a wrong one again as gs_session_set_pinentry
 * says; else from `pin_cb`, which may be NULL or answer GS_E_PASSPHRASE
 * for none), the import logs in and checks that the token holds the
 * matching private key (*key_checked, may be NULL, is then set; a
 * cancelled pinentry leaves it 0). *fingerprint (may be NULL) receives the
 * certificate's SHA-256. Returns GS_OK; GS_E_USAGE (not a pkcs11: URI,
 * an attribute unknown or given twice, a URI matching several tokens or
 * certificates: *errmsg lists them); GS_E_NO_KEY (the module cannot be
 * loaded, no token or certificate matches, no private key for it, or
 * the key does not match the certificate); GS_E_PASSPHRASE (a wrong or
 * locked PIN); GS_E_UNSUPPORTED (libp11 is not installed; pin-source
 * and module-name are not supported); GS_E_PROGRAMMER (no store or
 * URI); or a store failure. */
gs_status gs_identity_import_token(gs_store *store, const char *uri, const char *module,
				   const char *label, const gs_pinentry_where *pinentry,
				   gs_passphrase_cb pin_cb, void *pin_data, char **fingerprint,
				   int *key_checked, char **errmsg);

/* One identity of a listing: its certificate, its label (or NULL),
 * whether its key is stored encrypted, and for a key that stays on a
 * PKCS#11 token the URI naming it (else NULL; key_encrypted is then 0). */
typedef int (*gs_identity_cb)(const gs_cert_info *info, const char *label,
			      int key_encrypted, const char *token_uri, void *data);
/* Call `cb` for every identity, the newest certificate (notBefore)
 * first. Keys are not opened. Returns GS_OK, GS_E_PROGRAMMER (no store or
 * callback), or a store failure. */
gs_status gs_store_list_identities(gs_store *store, gs_identity_cb cb, void *data,
				   char **errmsg);

/* ------------------------------------------------------------------ */
/* Sessions: what one filter run works with                            */
/* ------------------------------------------------------------------ */

typedef struct gs_session gs_session;

typedef enum gs_cipher {
	GS_CIPHER_AES256_CBC = 0, /* EnvelopedData: what Outlook and Exchange read */
	GS_CIPHER_AES256_GCM,     /* AuthEnvelopedData (RFC 5083/5084) */
	GS_CIPHER_AUTO,           /* GCM when every recipient announced it, else CBC */
} gs_cipher;

/* Safety limits applied to every message the session parses. */
typedef struct gs_limits {
	size_t max_message;      /* bytes of input accepted */
	size_t max_header;       /* bytes of one header field */
	unsigned max_depth;      /* MIME nesting depth */
	unsigned max_parts;      /* MIME parts in one message */
} gs_limits;
/* Fill `limits` with the defaults every new session has: 512 MiB of
 * input, 1 MiB for a header field, 32 levels of MIME nesting, 10000
 * parts. */
void gs_limits_default(gs_limits *limits);

/* A session binds a store, the caller's passphrase source and options.
 * The store stays owned by the caller and must outlive the session.
 * Sessions are independent: every operation returns its results, none is
 * kept in the session, and two sessions on two stores may be used on two
 * threads at once. One session (and its store) is used by one thread at
 * a time. *session is new (gs_session_free). Returns GS_OK, or
 * GS_E_PROGRAMMER (no store). */
gs_status gs_session_new(gs_store *store, gs_session **session, char **errmsg);
/* Free the session (NULL is fine) and the keys it unlocked. */
void gs_session_free(gs_session *session);
/* Where the session asks for a passphrase when it must open a key
 * (none: GS_E_PASSPHRASE whenever one is needed). For a key on a PKCS#11
 * token it is asked for the token's PIN, once per login, `what` naming
 * the token; a wrong PIN is never retried by the library (the token
 * counts every try). */
void gs_session_set_passphrase_cb(gs_session *session, gs_passphrase_cb cb, void *data);
/* The PKCS#11 module (a path, copied) for token keys whose URI names
 * none (module-path); NULL: p11-kit's proxy, which loads the modules the
 * system and the user registered. */
void gs_session_set_pkcs11_module(gs_session *session, const char *module);
/* Whether a key this session opened does its private operations
 * elsewhere: on a PKCS#11 token, or in the agent. Such a key signs when
 * the signature is written, at the end of the message (gs_message_write):
 * a token pulled out or an agent gone by then fails the write after the
 * content went out, so a host that must not leave a partial message
 * collects the output first. 0 for NULL. */
int gs_session_keys_elsewhere(const gs_session *session);
/* Tell the caller when the raw input it parsed the message from has been
 * decoded and need not stay in memory (a large encrypted body, once
 * decoded). The caller may then drop it from memory if it can bring it
 * back unchanged (a file mapping); the message still refers to it. */
void gs_session_set_input_release(gs_session *session, void (*release)(void *data), void *data);
/* The GMime crypto context for S/MIME backed by `session` (which must
 * outlive it), for hosts that call GMime's own multipart/signed and
 * application/pkcs7-mime functions: sign, verify (GMime's signature
 * list), encrypt (recipients resolved with gs_resolve, or "sha256:HEX"
 * fingerprints), decrypt, import and export keys. A new reference. */
GMimeCryptoContext *gs_context_new(gs_session *session);
/* What encrypt() through such a context uses (default AES-256-CBC with
 * RSA PKCS#1 v1.5). */
void gs_context_set_cipher(GMimeCryptoContext *ctx, gs_cipher cipher, int oaep);
/* Register galsmime's context with GMime for application/pkcs7-signature,
 * application/x-pkcs7-signature, application/pkcs7-mime,
 * application/x-pkcs7-mime and application/pkcs7-keys (replacing GMime's
 * gpgsm-based one), so that GMime's lookups by protocol give contexts of
 * `session`. Process-wide, for a host that asks; NULL gives contexts that
 * fail with "no session". Call after g_mime_init(). */
void gs_gmime_register(gs_session *session);
/* Make the process not dumpable (no core file, no ptrace by processes of
 * the same user), for a command-line host that will hold private keys.
 * Process-wide: the library never does it by itself. */
void gs_process_harden(void);

/* Signature policy: MD5 signatures are never good; SHA-1 ones are not
 * good by default (GS_REASON_WEAK_DIGEST), and with `allow` good with the
 * warning GS_REASON_SHA1_ALLOWED (for old archives). */
void gs_session_set_allow_sha1(gs_session *session, int allow);
/* The time at which certificates are judged (default: now). */
void gs_session_set_time(gs_session *session, time_t when);
/* The limits messages are parsed under (copied), and the session's own
 * (owned by the session). */
void gs_session_set_limits(gs_session *session, const gs_limits *limits);
const gs_limits *gs_session_limits(const gs_session *session);

/* ------------------------------------------------------------------ */
/* Recipient resolution: the only place recipient policy lives          */
/* ------------------------------------------------------------------ */

typedef enum gs_verdict {
	GS_VERDICT_USABLE = 0,
	GS_VERDICT_EXPIRED,
	GS_VERDICT_NOT_YET_VALID,
	GS_VERDICT_NO_KEY_USAGE,     /* RSA without keyEncipherment, EC without keyAgreement */
	GS_VERDICT_NO_EMAIL_EKU,     /* EKU present without emailProtection */
	GS_VERDICT_UNTRUSTED,        /* chain does not reach a trust anchor */
	GS_VERDICT_REVOKED,
	GS_VERDICT_UNSUPPORTED_KEY,  /* key type that cannot receive mail */
	GS_VERDICT_CA,               /* a CA certificate, not an end entity */
} gs_verdict;
/* "usable", "expired", ...: a static string. */
const char *gs_verdict_string(gs_verdict verdict);

/* How a certificate is bound to the recipient it was found for. */
typedef enum gs_binding {
	GS_BIND_NONE = 0,
	GS_BIND_CERTIFICATE,  /* the certificate itself names the address
			       * (rfc822Name, else emailAddress) */
	GS_BIND_DIRECTORY,    /* it does not name the address; every directory
			       * entry listing the address offers it */
	GS_BIND_NAME,         /* the recipient was a name that named exactly
			       * one directory entry, and the entry offers it */
} gs_binding;
/* "certificate", "directory", "name" ("none"): a static string. */
const char *gs_binding_string(gs_binding binding);

/* One place a candidate certificate came from. */
typedef struct gs_cand_source {
	const char *source;       /* source name (the GAL snapshot, "harvest", ...) */
	const char *entry;        /* directory entry name, or NULL: found by its own address */
	const char *attribute;    /* userSMIMECertificate, userCertificate, certificate ... */
} gs_cand_source;

/* One candidate certificate for a recipient: each certificate once,
 * with every place it came from. */
typedef struct gs_candidate {
	gs_cert_info cert;
	const char *source;       /* the first of `sources` (the best ranked) */
	const char *entry;
	const char *attribute;
	gs_verdict verdict;
	const char *reason;       /* human explanation of the verdict */
	int address_match;        /* the certificate's own addresses include the recipient */
	gs_binding binding;       /* how it would be bound if chosen */
	size_t n_sources;
	const gs_cand_source *sources;
} gs_candidate;

typedef struct gs_resolution gs_resolution;

enum {
	GS_RESOLVE_ALLOW_UNTRUSTED = 1 << 0,
};

/* Resolve one recipient to candidate certificates with verdicts, and
 * choose one. The binding rules (SECURITY.md, galsmime(1)):
 *
 *  - A recipient that is an address ("a@b", or "Name <a@b>") matches
 *    certificates that name it themselves and directory entries by their
 *    SMTP addresses only (primary, smtp: proxies, the external address):
 *    never by name, alias or display name.
 *  - A usable certificate that names the address is preferred
 *    (GS_BIND_CERTIFICATE). Otherwise a certificate only the directory
 *    binds (GS_BIND_DIRECTORY) is chosen when every entry listing the
 *    address that offers certificates would choose that same one; when
 *    they disagree nothing is chosen and the failure names the entries.
 *  - A recipient that is not an address matches entries by name, alias or
 *    display name (any case), and only when exactly one entry matches
 *    (GS_BIND_NAME); several are a failure that lists them.
 *  - Among usable certificates bound the same way: userSMIMECertificate
 *    over userCertificate, then the newest (notBefore).
 *
 * Returns GS_OK with a resolution even when nothing is usable: check
 * gs_resolution_chosen(). *resolution is new (gs_resolution_free);
 * every string and candidate it hands out belongs to it. Returns
 * GS_E_PROGRAMMER (NULL arguments), or a store failure. */
gs_status gs_resolve(gs_session *session, const char *recipient, unsigned flags,
		     gs_resolution **resolution, char **errmsg);
/* Free a resolution (NULL is fine). */
void gs_resolution_free(gs_resolution *resolution);
/* The recipient as given. */
const char *gs_resolution_recipient(const gs_resolution *r);
/* The address the recipient was resolved as, or NULL for a name. */
const char *gs_resolution_address(const gs_resolution *r);
/* The candidates, in the order they were found; NULL past the end. */
size_t gs_resolution_count(const gs_resolution *r);
const gs_candidate *gs_resolution_candidate(const gs_resolution *r, size_t i);
/* The chosen candidate, or NULL when none is usable. */
const gs_candidate *gs_resolution_chosen(const gs_resolution *r);
/* Why nothing is usable (one line), or NULL when one is chosen. */
const char *gs_resolution_failure(const gs_resolution *r);
/* How the chosen certificate is bound to the recipient, for people, when
 * the certificate does not name the address itself (one line); NULL
 * otherwise. */
const char *gs_resolution_note(const gs_resolution *r);
/* When directory entries listing the address disagree: one line naming
 * them and what each offers; NULL otherwise. Set even when a certificate
 * naming the address was chosen over them. */
const char *gs_resolution_conflict(const gs_resolution *r);

/* ------------------------------------------------------------------ */
/* Directories asked live, with a cache in the store                   */
/* ------------------------------------------------------------------ */

/* A directory asked at encrypt time (LDAP: Active Directory's Global
 * Catalog, OpenLDAP). The host reads its configuration; the library
 * gets this. */
typedef struct gs_directory {
	const char *name;            /* what answers are cached under and messages say */
	gs_ldap_opts conn;           /* where and how to bind (its timeout_ms is not used:
				      * the session's directory timeout is) */
	const char *base;            /* NULL: the server's naming context */
	unsigned ttl_s;              /* an answer younger is used without asking (0: 86400) */
} gs_directory;
/* The directories the session asks (copied; the password is wiped when
 * the session is freed or the list replaced; n = 0 asks none), and how
 * long asking them may take for one message or command, all of them and
 * every recipient together (milliseconds; 0: 3000). Returns GS_OK, or
 * GS_E_USAGE (a directory without a name or with a URL that is not
 * ldap:// or ldaps://, two with one name). */
gs_status gs_session_set_directories(gs_session *session, const gs_directory *dirs, size_t n,
				     unsigned timeout_ms, char **errmsg);
/* For a gs_directory whose strings and password were allocated with
 * g_malloc: free them, the password wiped first, and zero it. */
void gs_directory_dispose(gs_directory *d);

/* What became of one recipient's live lookup in one directory. */
typedef enum gs_lookup_state {
	GS_LOOKUP_ASKED = 0,         /* the directory answered now; its answer is cached */
	GS_LOOKUP_CACHED,            /* not asked: its cached answer is younger than the TTL,
				      * or the store resolves the recipient without it */
	GS_LOOKUP_STALE,             /* it did not answer: its older cached answer is used */
	GS_LOOKUP_FAILED,            /* it did not answer, and nothing is cached */
} gs_lookup_state;
typedef struct gs_lookup_note {
	const char *recipient;       /* as given */
	const char *address;         /* as asked */
	const char *directory;       /* its name */
	gs_lookup_state state;
	int64_t fetched_at;          /* when the answer in the store was fetched (0: never) */
	const char *text;            /* STALE, FAILED: one line for people ("directory corp did
				      * not answer in 3 s (why); using its answer for
				      * bob@example.org cached 2 days ago"); else NULL */
} gs_lookup_note;
typedef struct gs_lookups gs_lookups;
enum {
	GS_LOOKUP_REFRESH = 1 << 0,  /* ask even when the cached answer is young */
};
/* Ask the session's directories about the recipients that are
 * addresses: those the store does not resolve now (resolved[i] 0;
 * `resolved` NULL: none), and those whose cached answer from a directory
 * is older than its TTL (every one with GS_LOOKUP_REFRESH). One
 * connection per directory, the addresses in a few searches of OR
 * filters, everything within the session's directory timeout; a
 * directory that does not answer in time leaves its cached answers as
 * they are. An answer replaces the directory's cached entries for the
 * addresses asked (also with "nothing found"); entries listing none of
 * them are left out. The entries are a source of kind "directory"
 * named "directory:NAME" and bind certificates exactly as a snapshot's
 * entries do (gs_resolve). *notes (may be NULL: not wanted) gets one
 * note per recipient and directory asked or considered
 * (gs_lookups_free). The store must be writable when anything is asked.
 * Returns GS_OK also when directories failed (the notes say so), GS_OK
 * at once with no directories, GS_E_PROGRAMMER, or a store failure. */
gs_status gs_directory_lookup(gs_session *session, const char *const *recipients,
			      const int *resolved, size_t n, unsigned flags, gs_lookups **notes,
			      char **errmsg);
size_t gs_lookups_count(const gs_lookups *l);
const gs_lookup_note *gs_lookups_get(const gs_lookups *l, size_t i);
void gs_lookups_free(gs_lookups *l);
/* The source name a directory's entries are kept under
 * ("directory:NAME"; g_free). */
char *gs_directory_source(const char *name);

/* A cached answer: when a directory was last asked about an address,
 * and how many of its entries list it (0: it found nothing). */
typedef struct gs_directory_answer {
	const char *directory;
	const char *address;
	int64_t fetched_at;
	unsigned long entries;
} gs_directory_answer;
typedef int (*gs_directory_answer_cb)(const gs_directory_answer *a, void *data);
/* Call `cb` for each cached answer about `address` (lower case), by
 * directory name. GS_OK, GS_E_PROGRAMMER, or a store failure. */
gs_status gs_directory_answers(gs_store *store, const char *address, gs_directory_answer_cb cb,
			       void *data, char **errmsg);

/* ------------------------------------------------------------------ */
/* Reports: the verdict on signatures and encryption                   */
/* ------------------------------------------------------------------ */

typedef enum gs_sig_status {
	GS_SIG_GOOD = 0,   /* valid, trusted, signer matches From */
	GS_SIG_BAD,        /* the signature or its certificate is wrong */
	GS_SIG_ERROR,      /* could not be checked (missing certificate, unsupported algorithm) */
} gs_sig_status;

/* Reasons, as bits: a signer may have several. */
enum {
	GS_REASON_DIGEST_MISMATCH  = 1 << 0,
	GS_REASON_BAD_SIGNATURE    = 1 << 1,
	GS_REASON_UNTRUSTED        = 1 << 2,
	GS_REASON_EXPIRED          = 1 << 3,
	GS_REASON_NOT_YET_VALID    = 1 << 4,
	GS_REASON_MISSING_CERT     = 1 << 5,
	GS_REASON_SIGNER_NOT_FROM  = 1 << 6,
	GS_REASON_UNSUPPORTED_ALGO = 1 << 7,
	GS_REASON_BAD_PURPOSE      = 1 << 8,
	GS_REASON_REVOKED          = 1 << 9,
	GS_REASON_MICALG_MISMATCH  = 1 << 10,
	GS_REASON_NO_SIGNERS       = 1 << 11,
	GS_REASON_CRITICAL_ATTR    = 1 << 12, /* a certificate has an unknown critical extension */
	GS_REASON_PARTIAL          = 1 << 13,
	GS_REASON_CONTENT_MISMATCH = 1 << 14,
	/* a warning, not a failure: the CRL that covers a certificate of the
	 * chain is past its nextUpdate (it was still checked against it) */
	GS_REASON_CRL_STALE        = 1 << 15,
	GS_REASON_WEAK_DIGEST      = 1 << 16, /* MD5, or SHA-1 unless allowed */
	/* the MIME structure is ambiguous: a multipart/signed without exactly
	 * two parts (RFC 1847), or a message or part with two Content-Type or
	 * Content-Transfer-Encoding fields (readers disagree on what it is) */
	GS_REASON_BAD_STRUCTURE    = 1 << 17,
	/* warnings: a SHA-1 signature accepted because the caller allowed
	 * it; a signature over encrypted content (a signing gateway's): it
	 * says who sent the message, not who wrote what is inside */
	GS_REASON_SHA1_ALLOWED     = 1 << 18,
	GS_REASON_SIGNED_CIPHERTEXT = 1 << 19,
	/* an inner layer (a signature inside encryption inside a signature,
	 * RFC 2634 triple wrapping) is not good */
	GS_REASON_INNER_LAYER      = 1 << 20,
	/* not checked: over a cost cap (SECURITY.md, "Hostile input and
	 * limits"): a SignedData with too many signers, certificates, CRLs
	 * or digest algorithms, too many signers in one message (a note
	 * names the part), a key no CA issues (an RSA exponent over 2^32 or
	 * even, a modulus over 8192 bits, an EC key without a named curve),
	 * a chain longer than 8 intermediates (the signer's detail says
	 * which) */
	GS_REASON_LIMIT            = 1 << 21,
};
/* The reasons that warn without making a signature bad. */
#define GS_REASONS_WARNINGS \
	(GS_REASON_CRL_STALE | GS_REASON_SHA1_ALLOWED | GS_REASON_SIGNED_CIPHERTEXT)
/* The words for each reason bit set in `reasons`, comma-separated;
 * returns a new string (g_free). */
char *gs_reasons_string(unsigned reasons);

typedef struct gs_signer {
	gs_sig_status status;
	unsigned reasons;
	const char *detail;        /* free text from the chain check, or NULL */
	int have_cert;             /* when 0, cert fields below are NULL/0 */
	gs_cert_info cert;
	int64_t signing_time;      /* 0 when absent */
	const char *digest;        /* "sha-256", ... */
} gs_signer;

typedef struct gs_report gs_report;

typedef enum gs_report_kind {
	GS_REPORT_NOT_SIGNED = 0,
	GS_REPORT_SIGNED,
} gs_report_kind;

/* A report (from verification, decryption, harvest) is the caller's:
 * free it (NULL is fine). Every string and struct it hands out belongs
 * to it. */
void gs_report_free(gs_report *report);
/* Was anything signed? GS_REPORT_NOT_SIGNED for an unsigned (perhaps
 * decrypted) message. */
gs_report_kind gs_report_kind_of(const gs_report *report);
/* GS_SIG_GOOD only when every signed layer has at least one signer and
 * every signer of every layer is good, and nothing about the message as a
 * whole is wrong. */
gs_sig_status gs_report_status(const gs_report *report);
/* Reasons that concern the message as a whole or one of its layers
 * (GS_REASON_NO_SIGNERS, _PARTIAL, _MICALG_MISMATCH, _CONTENT_MISMATCH,
 * _BAD_STRUCTURE, _INNER_LAYER, _SIGNED_CIPHERTEXT), warnings included. */
unsigned gs_report_reasons(const gs_report *report);
/* The signers of the outermost signature: the one the From rule applies
 * to (inner layers: gs_report_layer_signer). */
size_t gs_report_signer_count(const gs_report *report);
/* Signer i of the outermost signature, or NULL past the end. */
const gs_signer *gs_report_signer(const gs_report *report, size_t i);

/* The layers a reader sees through, outermost first: each signature and
 * each encryption that wraps the whole body (RFC 2634 triple wrapping,
 * a gateway's signature over encrypted content, opaque signed-data
 * inside enveloped-data...). */
typedef enum gs_layer_kind {
	GS_LAYER_SIGNED = 0,
	GS_LAYER_ENCRYPTED,
} gs_layer_kind;
typedef struct gs_layer {
	gs_layer_kind kind;
	const char *path;         /* the part it is, IMAP style ("1", "1.1") */
	const char *form;         /* signed: "detached" / "opaque" */
	unsigned reasons;         /* signed: what is wrong with the layer itself */
	size_t n_signers;
	const char *cipher;       /* encrypted: "aes-256-cbc", ... */
	int authenticated;        /* encrypted: AuthEnvelopedData */
} gs_layer;
/* Layer i (NULL past the end), and signer i of a signed layer (NULL
 * past the end, or for an encryption). */
size_t gs_report_layer_count(const gs_report *report);
const gs_layer *gs_report_layer(const gs_report *report, size_t i);
const gs_signer *gs_report_layer_signer(const gs_report *report, size_t layer, size_t i);
/* The From: address the signers were compared with, or NULL. */
const char *gs_report_from(const gs_report *report);
/* "detached" / "opaque" for signed reports. */
const char *gs_report_signature_form(const gs_report *report);
/* Encryption facts when the message was decrypted on the way:
 * cipher name ("aes-256-cbc", "aes-256-gcm") or NULL; authenticated
 * is 1 for AuthEnvelopedData. */
const char *gs_report_cipher(const gs_report *report);
int gs_report_encrypted(const gs_report *report);
int gs_report_authenticated(const gs_report *report);
/* Why the decrypted content cannot be taken for what its sender wrote
 * (one line), or NULL. NULL when every encryption layer is
 * AuthEnvelopedData, or when the verdict is good and each CBC
 * (enveloped-data) layer has a signature by the From address inside it:
 * anyone who captured CBC ciphertext can rewrite its blocks (the EFAIL
 * gadgets) and only such a signature would show it. Also set for an
 * attached message decrypted that way, naming its part. For a report
 * that never looked inside (gs_raw_decrypt), set for every CBC layer.
 * The string belongs to the report. */
const char *gs_report_unauthenticated(const gs_report *report);
/* Delivery mode (gs_decrypt_opts.delivery): why the message was left
 * encrypted, unchanged (as gs_report_unauthenticated), or NULL when it
 * was not. */
const char *gs_report_withheld(const gs_report *report);

/* Notes about parts of the message, in order: a signature that covers
 * only one part ("signed"), an encrypted part left encrypted because it
 * is not the whole message ("encrypted, left encrypted"), an attached
 * message decrypted ("attached message decrypted"). `path` is the part's
 * number, IMAP style ("2", "1.2"). Returns 0 past the end. */
int gs_report_part(const gs_report *report, size_t i, const char **path, const char **note);
/* Header protection (RFC 9788 and the older protected-headers drafts):
 * 1 when the signed or encrypted entity carries its own header fields.
 * The names of the outer header fields that disagree with them, or NULL
 * when none does (NULL-terminated, owned by the report). */
int gs_report_protected_headers(const gs_report *report);
const char *const *gs_report_header_mismatches(const gs_report *report);

/* The report as a versioned JSON document (galsmime verify --json,
 * whose version says its shape): {"version":1, "signed", "status", "reasons",
 * "form", "from", "encrypted", "authenticated", "cipher", "parts",
 * "protected_headers", "header_mismatches", "signers", "layers"}, one
 * line without a line end. Written with yajl_gen: always valid UTF-8
 * JSON, whatever a certificate or message holds: each byte of a string
 * that is not part of a UTF-8 character becomes U+FFFD, control
 * characters are escaped. A new string (g_free). */
char *gs_report_to_json(const gs_report *report);

/* ------------------------------------------------------------------ */
/* Authentication-Results in a message's header (authres.c)            */
/* ------------------------------------------------------------------ */

/* 1 when `authserv_id` can name this host in Authentication-Results:
 * 1 to 255 octets of printable ASCII without white space (it is written
 * as a quoted-string when it is not an RFC 2045 token). */
int gs_auth_results_id_valid(const char *authserv_id);

/* The Authentication-Results header field (RFC 8601) for `report`, with
 * the smime method of RFC 7281: "Authentication-Results: ID;
 * smime=pass|fail|permerror|none", the reasons in a comment, and the
 * first signer's body.smime-identifier (its first address, else the first
 * part of its subject), body.smime-serial and body.smime-issuer. Folded
 * at white space so that no line passes 78 columns unless one word
 * does, and no line passes 998 octets: a property value longer than 256
 * octets, not UTF-8, or holding a character that is not printable
 * (control characters, which would end the field, or format characters)
 * is left out, never cut short; values that are neither a token nor
 * local-part@domain are quoted. Lines end in "\r\n" with `crlf`, else
 * "\n", the last one too. *field is new (g_free). Returns GS_OK, or
 * GS_E_PROGRAMMER (NULL, or an authserv_id that gs_auth_results_id_valid
 * refuses). The result can go into a message as it is. */
gs_status gs_auth_results_field(const gs_report *report, const char *authserv_id, int crlf,
				char **field, char **errmsg);

/* Remove from the message raw[0..len) every header field that claims to
 * come from `authserv_id` (RFC 8601 section 5: only this host may say
 * so, so such a field in arriving mail is a forgery). These are the
 * Authentication-Results and ARC-Authentication-Results (RFC 8617, after
 * its "i=N;") fields, whatever the case of their names, whose
 * authserv-id is `authserv_id` however it is spelt: compared without
 * regard to ASCII case, as a token or a quoted-string (quoted-pairs
 * undone, white space inside the quotes aside), with or without trailing
 * dots, after comments and folding white space, followed by a version
 * or not, as an RFC 2047 encoded-word; on every line of a folded field
 * and in every copy of a repeated one. Other fields stay byte for byte,
 * other hosts' Authentication-Results included.
 *
 * `raw` is a whole message, LF or CRLF line ends, after any number of
 * mbox "From " lines (procmail hands one over). GMime's parser finds the
 * header fields (lines it cannot read as a field are kept as they are);
 * a field ends where its last folded line does. The body is not parsed.
 *
 * The result comes in two pieces: *head (new: g_byte_array_unref) takes
 * the place of raw[0..*rest), so the message without those fields is
 * *head followed by raw[*rest..len) (the empty line and the body, never
 * touched). *head holds the bytes of raw[0..*rest) in order, less the
 * removed fields; *removed (may be NULL) counts them. Returns GS_OK;
 * GS_E_MALFORMED when there is no header to read (empty input, only From
 * lines, or a first line that is not a header field: a mail reader sees
 * no header field in such a message either); GS_E_PROGRAMMER (NULL, or an
 * authserv_id that gs_auth_results_id_valid refuses). */
gs_status gs_auth_results_strip(const void *raw, size_t len, const char *authserv_id,
				GByteArray **head, size_t *rest, unsigned *removed, char **errmsg);

/* gs_auth_results_strip, with the field of gs_auth_results_field
 * inserted first among the header fields (after the From lines), its
 * line ends those of the first header line. Same pieces, same
 * statuses. */
gs_status gs_auth_results_annotate(const void *raw, size_t len, const gs_report *report,
				   const char *authserv_id, GByteArray **head, size_t *rest,
				   unsigned *removed, char **errmsg);

/* ------------------------------------------------------------------ */
/* Whole-message operations                                            */
/* ------------------------------------------------------------------ */

/* Parse a whole RFC 5322 message from `stream` under the session's
 * limits. *message is new (g_object_unref). Returns GS_OK,
 * GS_E_MALFORMED (empty input, no headers, not a message), GS_E_LIMIT,
 * GS_E_PROGRAMMER. */
gs_status gs_message_parse(gs_session *session, GMimeStream *stream,
			   GMimeMessage **message, char **errmsg);

typedef struct gs_sign_opts {
	int opaque;               /* application/pkcs7-mime signed-data instead of multipart/signed */
	const char *from;         /* the signing identity's address; NULL: the From: header */
} gs_sign_opts;

/* Sign the message body in place: its MIME part becomes multipart/signed
 * (or opaque signed-data). SHA-256, micalg "sha-256", smime.p7s, the
 * signer's chain, signingTime and modern SMIMECapabilities.
 * The signature itself is made when the message is written
 * (gs_message_write). Returns GS_OK, GS_E_NO_KEY (no identity for the
 * address), GS_E_PASSPHRASE, GS_E_MALFORMED, GS_E_PROGRAMMER, GS_E_INTERNAL,
 * or a store failure. */
gs_status gs_message_sign(gs_session *session, GMimeMessage *message,
			  const gs_sign_opts *opts, char **errmsg);

typedef struct gs_encrypt_opts {
	gs_cipher cipher;
	int oaep;                 /* RSA-OAEP with SHA-256 instead of PKCS#1 v1.5 */
	int no_self;              /* do not add the sender's own certificate */
	int sign;                 /* sign first, then encrypt the signed entity */
	int opaque_sign;          /* with sign: opaque signed-data inside */
	const char *from;         /* sender identity address; NULL: From: header */
	const char *const *extra; /* NULL-terminated extra recipients, or NULL */
	int header_recipients;    /* also encrypt to To + Cc + Bcc */
	unsigned resolve_flags;   /* GS_RESOLVE_* */
} gs_encrypt_opts;

/* What an encryption attempt made of each recipient, in order (the
 * sender's own copy last, named by the sender's address). Strings belong
 * to the gs_recipients. */
typedef struct gs_recipient_result {
	const char *recipient;    /* as given */
	const char *fingerprint;  /* SHA-256 (hex) of the certificate chosen, or NULL */
	gs_binding binding;       /* how it is bound to the recipient */
	const char *note;         /* how, when the certificate does not name the address; else NULL */
	const char *failure;      /* why there is no usable certificate, or NULL */
	const char *directory;    /* what a directory that failed to answer meant for it
				   * (gs_lookup_note's text), or NULL */
} gs_recipient_result;
typedef struct gs_recipients gs_recipients;
/* How many recipients; the result for recipient i (NULL past the end);
 * free them all (NULL is fine). */
size_t gs_recipients_count(const gs_recipients *r);
const gs_recipient_result *gs_recipients_get(const gs_recipients *r, size_t i);
void gs_recipients_free(gs_recipients *r);

/* Encrypt the message body in place to every recipient (and the sender
 * unless no_self), removing any Bcc header. Each recipient is resolved
 * with gs_resolve. Fails closed: when any recipient has no usable
 * certificate the message is untouched and GS_E_NO_CERT is returned.
 * *recipients (if non-NULL) gets what became of each recipient, on
 * success and on GS_E_NO_CERT (gs_recipients_free; NULL otherwise).
 * Also GS_E_USAGE (no recipients), GS_E_NO_KEY / GS_E_PASSPHRASE (with
 * sign), GS_E_BUSY / GS_E_IO (the store), GS_E_INTERNAL. */
gs_status gs_message_encrypt(gs_session *session, GMimeMessage *message,
			     const gs_encrypt_opts *opts, gs_recipients **recipients,
			     char **errmsg);

/* ---- Sending: what a sendmail wrapper hands on ---- */

typedef enum gs_send_encrypt {
	GS_SEND_PLAIN = 0,        /* not encrypted (signed with `sign`) */
	GS_SEND_ENCRYPT,          /* every copy encrypted, or nothing sent */
	GS_SEND_ENCRYPT_AUTO,     /* encrypted when every recipient has a certificate */
} gs_send_encrypt;

typedef struct gs_send_opts {
	int sign;
	gs_send_encrypt encrypt;
	/* with GS_SEND_ENCRYPT_AUTO: the first attempt that would go out
	 * unencrypted fails (GS_E_NO_CERT, gs_send_plan_confirm_needed) and
	 * is remembered in the store; the same message (recipients, From,
	 * Subject) sent again within 10 minutes goes, signed only: mutt's
	 * user sees why before it goes out in the clear */
	int confirm_unencrypted;
	const char *const *envelope;  /* the recipients sendmail was given (NULL-terminated), or NULL */
	int header_mode;              /* sendmail -t: the header fields name the recipients too */
	gs_encrypt_opts encrypt_opts; /* cipher, oaep, from, resolve_flags (recipients come from the copies) */
} gs_send_opts;

/* One copy to hand to sendmail. */
typedef struct gs_send_copy {
	const char *const *recipients; /* NULL-terminated, lower case */
	int bcc;                      /* a Bcc recipient's own copy */
	GBytes *data;                 /* the message as it goes (LF line ends) */
} gs_send_copy;
typedef struct gs_send_plan gs_send_plan;

/* Prepare the copies of the message read from `in` (a seekable stream:
 * it is parsed once per copy). Encrypted, the message forks as OWA forks
 * Bcc: one copy for the To and Cc recipients, then one per Bcc recipient
 * (an envelope recipient not in To or Cc), each encrypted to its
 * recipients and the sender alone, no Bcc field in any; every copy is
 * prepared before any is sent. Not encrypted (or --encrypt=auto when
 * someone has no usable certificate): one copy to every recipient, the
 * Bcc field removed unless header_mode. *plan is always set (free it);
 * on GS_E_NO_CERT its recipients say who has no certificate and why.
 * Returns GS_OK, GS_E_NO_CERT, GS_E_USAGE (no recipients),
 * GS_E_NO_KEY / GS_E_PASSPHRASE (signing), GS_E_MALFORMED, GS_E_BUSY,
 * GS_E_IO, GS_E_INTERNAL. */
gs_status gs_send_prepare(gs_session *session, GMimeStream *in, const gs_send_opts *opts,
			  gs_send_plan **plan, char **errmsg);
size_t gs_send_plan_copies(const gs_send_plan *plan);
const gs_send_copy *gs_send_plan_copy(const gs_send_plan *plan, size_t i);
/* What became of each recipient (once each), or NULL when not encrypting. */
const gs_recipients *gs_send_plan_recipients(const gs_send_plan *plan);
/* The copies are encrypted; they went unencrypted under --encrypt=auto;
 * the user must confirm sending unencrypted (see confirm_unencrypted). */
int gs_send_plan_encrypted(const gs_send_plan *plan);
int gs_send_plan_downgraded(const gs_send_plan *plan);
int gs_send_plan_confirm_needed(const gs_send_plan *plan);
void gs_send_plan_free(gs_send_plan *plan);

/* What gs_message_decrypt may write. */
typedef struct gs_decrypt_opts {
	/* Delivery (procmail's `decrypt --passthrough`): what is stored
	 * unattended must be what its sender wrote, never an oracle for
	 * whoever captured the ciphertext (EFAIL). Content under CBC
	 * encryption (enveloped-data, which protects no integrity) is
	 * written only when each such layer has, inside it, a signature by
	 * the From address and the whole verdict is good; otherwise the
	 * message is left exactly as it came and gs_report_withheld() says
	 * why. AuthEnvelopedData (AES-GCM, its tag checked) is written.
	 * Only the message's own body is decrypted: never an attached
	 * message (message/rfc822) or any other part. */
	int delivery;
} gs_decrypt_opts;

/* Decrypt the message body in place: the outer headers stay, the body
 * becomes the decrypted entity. `opts` may be NULL (interactive: CBC
 * content is written, the report says it is not authenticated, and the
 * body of an attached message is decrypted when nothing else is). When
 * that entity is signed it is verified too and *report (if non-NULL)
 * says so; otherwise the report is of kind NOT_SIGNED with the
 * encryption facts. If the message is not encrypted, returns
 * GS_E_NOT_FOUND and leaves it untouched. In delivery mode a message
 * whose content is not authenticated is decrypted and judged, then left
 * untouched: GS_OK with gs_report_withheld() set. Returns GS_E_NO_KEY
 * (no identity matches a recipient), GS_E_PASSPHRASE, GS_E_MALFORMED
 * (not CMS, or the content fails to decrypt), GS_E_UNSUPPORTED,
 * GS_E_LIMIT. *report, when set, is new
 * (gs_report_free). */
gs_status gs_message_decrypt(gs_session *session, GMimeMessage *message,
			     const gs_decrypt_opts *opts, gs_report **report, char **errmsg);

/* Verify the message's signature (multipart/signed or opaque, also
 * inside one encryption layer when a key is available). Does not
 * modify the message. Returns GS_OK with a report whenever the message
 * could be examined, whatever the verdict (*report is new:
 * gs_report_free); GS_E_MALFORMED when it cannot be parsed as S/MIME at
 * all; GS_E_PROGRAMMER; GS_E_INTERNAL; a store failure (a chain could not be
 * checked: never reported as a verdict). */
gs_status gs_message_verify(gs_session *session, GMimeMessage *message,
			    gs_report **report, char **errmsg);

/* ------------------------------------------------------------------ */
/* Harvesting: learning certificates from good signatures               */
/* ------------------------------------------------------------------ */

typedef enum gs_harvest_outcome {
	GS_HARVEST_DONE_BEFORE = 0, /* the message id was harvested already */
	GS_HARVEST_UNSIGNED,        /* nothing to learn */
	GS_HARVEST_GOOD,            /* a good signature: certificates stored */
	GS_HARVEST_BAD,             /* signed, but not good: nothing stored */
	GS_HARVEST_ENCRYPTED,       /* encrypted, and could not be opened */
} gs_harvest_outcome;

typedef struct gs_harvest_result {
	gs_harvest_outcome outcome;
	unsigned certs_new, certs_known;
	gs_report *report;          /* the verdict when signed (owned: gs_report_free), else NULL */
} gs_harvest_result;

enum {
	GS_HARVEST_FORCE = 1 << 0,  /* look again at message ids already done */
	GS_HARVEST_DECRYPT = 1 << 1,/* decrypt encrypted messages (needs the key) */
};

/* Verify the message (decrypting one layer first with
 * GS_HARVEST_DECRYPT) and, when every signature is good (trusted signer
 * who matches From), store each signer's certificate, the chain that
 * validated it (its issuers below the anchor: never other certificates
 * the message carries), and the signer's SMIMECapabilities under the
 * source "harvest", the way Outlook and Thunderbird learn certificates. `message_id` (may be NULL) is remembered so that a
 * second harvest skips the message. Bad signatures store nothing. May
 * modify the message (decryption). Returns GS_OK whatever the outcome
 * (result->report, when set, is new: gs_report_free); GS_E_PROGRAMMER; a
 * store failure; GS_E_MALFORMED for input that is not a message. */
gs_status gs_harvest(gs_session *session, GMimeMessage *message, const char *message_id,
		     unsigned flags, gs_harvest_result *result, char **errmsg);
/* Has this message id been harvested already (whatever the outcome then)?
 * *seen gets 1 or 0. Returns GS_OK, GS_E_PROGRAMMER (no store or id), or a
 * store failure. */
gs_status gs_harvest_seen(gs_store *store, const char *message_id, int *seen, char **errmsg);

/* ------------------------------------------------------------------ */
/* Raw CMS objects, for callers that do their own MIME (mutt's commands) */
/* ------------------------------------------------------------------ */

/* Sign `content` exactly as given (the caller canonicalises): a DER
 * detached SignedData, or encapsulated with !detached. `signer` is an
 * identity's SHA-256 fingerprint or address (NULL: the only identity).
 * *der is new (g_byte_array_unref). Returns as gs_message_sign. */
gs_status gs_raw_sign(gs_session *session, const char *signer, const void *content, size_t len,
		      int detached, GByteArray **der, char **errmsg);
/* Verify a SignedData (DER): detached over `content`, or encapsulated
 * when content is NULL (then *extracted, if non-NULL, gets the content:
 * new, g_byte_array_unref). Signers are not compared with any From
 * address. Returns GS_OK with a report (new: gs_report_free) whenever
 * the structure could be examined, whatever the verdict; GS_E_MALFORMED
 * (not CMS signed-data, or detached without its content); GS_E_PROGRAMMER;
 * GS_E_INTERNAL; a store failure (the chain could not be checked). */
gs_status gs_raw_verify(gs_session *session, const void *sig, size_t siglen, const void *content,
			size_t len, GByteArray **extracted, gs_report **report, char **errmsg);
/* Encrypt `content` to the given certificates (DER or PEM, one or more
 * each) and, unless no_self, to the identity `self` (fingerprint or
 * address; NULL: the only identity). CA certificates in a file are
 * skipped (a chain may come along); every other certificate must pass
 * the verdict gs_resolve gives (dates, key usage, purpose, a chain to a
 * trust anchor unless `flags` has GS_RESOLVE_ALLOW_UNTRUSTED, not
 * revoked), and each file must hold one: otherwise GS_E_NO_CERT naming
 * the certificate's addresses (printable) and why. GS_E_BUSY, GS_E_IO:
 * the store.
 * *der is new (g_byte_array_unref). Also GS_E_MALFORMED (a file holds
 * no certificate), GS_E_USAGE (no recipient at all), GS_E_NO_KEY (no
 * such identity), GS_E_UNSUPPORTED (a key that cannot receive mail),
 * GS_E_INTERNAL. */
gs_status gs_raw_encrypt(gs_session *session, const GPtrArray *cert_files_data,
			 const char *self, int no_self, unsigned flags, gs_cipher cipher, int oaep,
			 const void *content, size_t len, GByteArray **der, char **errmsg);
/* Decrypt DER (auth)enveloped-data with the identity whose certificate
 * matches a RecipientInfo, opening its key with the session's
 * passphrase callback. *plain is new (g_byte_array_unref); *report (may
 * be NULL) a new report of kind NOT_SIGNED with the cipher facts (the
 * content is not looked into). Returns GS_OK; GS_E_NO_KEY (not
 * encrypted to any identity, or the key does not open it);
 * GS_E_PASSPHRASE; GS_E_MALFORMED (not enveloped-data, or the content
 * fails to decrypt: a wrong or tampered message); GS_E_UNSUPPORTED (the
 * content cipher); GS_E_PROGRAMMER; GS_E_INTERNAL; a store failure. */
gs_status gs_raw_decrypt(gs_session *session, const void *der, size_t len, GByteArray **plain,
			 gs_report **report, char **errmsg);
/* Decrypted or signed content (LF line ends) as a MIME entity. Content
 * that does not begin with MIME headers (RFC 4134's examples; RFC 8551
 * wants an entity) becomes one part holding it byte for byte:
 * text/plain; charset=us-ascii when it is plain ASCII text, else
 * application/octet-stream in base64; *headerless is then
 * set (it must not be NULL). A new object (g_object_unref); NULL when
 * the content is empty. */
GMimeObject *gs_entity_parse(GMimeStream *content, int *headerless);

/* Every certificate in a PKCS#7 / CMS structure (DER or PEM), or only
 * the signers' certificates, as a PEM bundle (new string, g_free).
 * Returns GS_OK; GS_E_NOT_FOUND when there is none; GS_E_MALFORMED (not
 * a CMS structure); GS_E_PROGRAMMER; GS_E_INTERNAL. */
gs_status gs_raw_certs(const void *data, size_t len, int signers_only, char **pem, char **errmsg);
/* The addresses of the certificate(s) in a PEM/DER/PKCS#7 file:
 * NULL-terminated, lower case, certificate after certificate (new:
 * g_strfreev). Returns
 * GS_OK, GS_E_MALFORMED (no certificate in it), GS_E_LIMIT, GS_E_PROGRAMMER. */
gs_status gs_raw_cert_emails(const void *data, size_t len, char ***emails, char **errmsg);
/* The DER SignedData of a signed message: the signature part of a
 * multipart/signed, or an opaque signed-data body (new:
 * g_byte_array_unref). Returns GS_OK; GS_E_NOT_FOUND when the message is
 * not signed; GS_E_MALFORMED (a multipart/signed without its signature);
 * GS_E_PROGRAMMER. */
gs_status gs_message_signature(GMimeMessage *message, GByteArray **der, char **errmsg);
/* The signers' certificates of a signed message as a PEM bundle (new
 * string), for mutt's sender check, only when the From rule of
 * gs_message_verify holds exactly: the message has one From field
 * holding one mailbox (no group), spelled out in the field (no comment
 * inside it), and every signer's certificate is in the signature and
 * names that address (rfc822Name, else emailAddress; any case). mutt
 * then compares the certificate's addresses with From only as prefixes
 * (lib/mutt.c), which is why nothing less may pass. GS_E_NOT_FOUND (not
 * signed, or the rule does not hold: errmsg says why, printable),
 * GS_E_MALFORMED. */
gs_status gs_message_signer_certs(GMimeMessage *message, char **pem, char **errmsg);

/* Call `cb` with every address the store knows (directory entries and
 * certificates), lower case, each once, sorted. Returns GS_OK,
 * GS_E_PROGRAMMER (no store or callback), or a store failure. */
gs_status gs_store_addresses(gs_store *store, int (*cb)(const char *address, void *data), void *data,
			     char **errmsg);
/* The stored certificate whose SHA-256 is `sha256` (hex, any case) as
 * PEM (new string, g_free), with the OpenSSL subject and issuer name
 * hashes (`openssl x509 -hash` / `-issuer_hash`; each may be NULL).
 * Returns GS_OK; GS_E_NOT_FOUND (no such certificate); GS_E_PROGRAMMER; a
 * store failure. */
gs_status gs_store_cert_pem(gs_store *store, const char *sha256, char **pem,
			    unsigned long *subject_hash, unsigned long *issuer_hash, char **errmsg);

/* ------------------------------------------------------------------ */
/* mutt's classic S/MIME index ($smime_certificates, $smime_keys)      */
/* ------------------------------------------------------------------ */

/* mutt and neomutt read each .index line into a 1024-byte buffer and
 * take the rest of a longer one as a line of its own; they split fields
 * on blanks (lib/mutt.c says where). What galsmime writes for them: */
#define GS_MUTT_MAILBOX_MAX 254   /* RFC 5321's path limit less the brackets */
#define GS_MUTT_LABEL_MAX 64
#define GS_MUTT_LINE_MAX 512      /* half of mutt's buffer */

/* Is `address` a plain RFC 5321 mailbox mutt reads whole: a dot-atom
 * local part of at most 64 octets (no quoted string), "@", a domain of
 * letters, digits and inner hyphens (no address literal), at most
 * GS_MUTT_MAILBOX_MAX octets in all; so no white space, control
 * character or non-ASCII byte. */
int gs_mutt_mailbox_ok(const char *address);
/* `name` as one word for mutt's label field: letters and digits (any
 * script), '.', '-', '_'; anything else becomes '_'; at most
 * GS_MUTT_LABEL_MAX bytes; "-" for NULL or "". New string (g_free). */
char *gs_mutt_label(const char *name);

/* One line of an .index, valid during the callback. */
typedef struct gs_mutt_line {
	int keys;                 /* 0: $smime_certificates/.index, 1: $smime_keys/.index */
	const char *mailbox;      /* gs_mutt_mailbox_ok */
	const char *keyid;        /* the certificate file's name, "hash.N" */
	const char *label;        /* gs_mutt_label */
	char trust;               /* 't' (usable), 'e' expired, 'r' revoked, 'i' otherwise */
	const char *purpose;      /* "se", "s", "e" or "-" */
	const char *text;         /* the whole line, newline included: at most GS_MUTT_LINE_MAX */
} gs_mutt_line;
typedef struct gs_mutt_index_cbs {
	/* each certificate file, once, before the first line naming it:
	 * its name and PEM */
	int (*file)(void *data, const char *name, const char *pem);
	int (*line)(void *data, const gs_mutt_line *line);
	void *data;
} gs_mutt_index_cbs;
typedef struct gs_mutt_index_stats {
	unsigned long lines, key_lines, files;
	unsigned long left_out;      /* store addresses mutt could not read whole */
	unsigned long key_left_out;  /* the same among your identities' addresses */
} gs_mutt_index_stats;

/* mutt's .index lines from the store: every address it knows, each
 * resolved with gs_resolve; the certificate gs_resolve chooses is the
 * one 't' line of its address, the certificates it finds unusable are
 * listed as 'e', 'r' or 'i', usable ones it did not choose never. With
 * `keys`, then a line per address of each identity. An address that is
 * not gs_mutt_mailbox_ok is left out and counted. A callback returning
 * non-zero stops the walk (GS_OK: the caller knows why). Returns GS_OK,
 * GS_E_BUSY, GS_E_IO. */
gs_status gs_mutt_index(gs_session *session, int keys, const gs_mutt_index_cbs *cbs,
			gs_mutt_index_stats *stats, char **errmsg);
/* What mutt gets back from `mutt decrypt`, made of the decrypted
 * content: CRLF line ends made LF, and content that does not
 * begin with MIME headers wrapped as one part (gs_entity_parse), so
 * that mutt always reads a complete entity. *entity is new
 * (g_byte_array_unref; wipe it first if it was secret). GS_E_MALFORMED
 * when the content is empty. */
gs_status gs_mutt_entity(const void *content, size_t len, GByteArray **entity, char **errmsg);

/* A write-only stream onto a file descriptor (it takes the descriptor
 * and closes it), for a filter's stdout: small writes are gathered,
 * large ones (the bulk of a message) go to write(2) as they come; an
 * interrupted or non-blocking write is retried. Nothing is written when
 * it is released unflushed, so a message that failed half-way gets no
 * more of itself out than was already flushed. g_object_unref. */
GMimeStream *gs_output_stream_new(int fd);

/* Write the message (LF line ends) to `stream` and flush it. Signed and
 * encrypted bodies made by gs_message_sign / gs_message_encrypt are
 * produced while they are written, so this is where their signing and
 * encryption run; a message can be written once. Returns GS_OK, GS_E_IO
 * (the stream failed), or the status of the signing or encryption. */
gs_status gs_message_write(gs_session *session, GMimeMessage *message, GMimeStream *stream,
			   char **errmsg);

/* Addresses (lower-cased) of the message's To, Cc and Bcc, in order,
 * without duplicates (group members included). Returns a new
 * NULL-terminated array (g_strfreev), empty when there is none. */
char **gs_message_recipients(GMimeMessage *message);

/* ------------------------------------------------------------------ */
/* The key agent's wire protocol (agent-proto.c)                      */
/* ------------------------------------------------------------------ */

/* One message between a client and `galsmime agent`, either way. On the
 * wire: a 12-byte header, then the payload.
 *   u32 magic "GSAg" | u16 protocol version | u16 op (request) or
 *   status (response) | u32 payload length (at most GS_AGENT_MAX_PAYLOAD)
 * all big-endian; the payload is a sequence of fields
 *   u8 tag | u16 length | bytes
 * each tag at most once, each no longer than its own limit. Which fields
 * an op requires and which it allows is fixed (agent-proto.c's table):
 * anything else is refused, as are unknown ops, statuses and tags. */
#define GS_AGENT_PROTOCOL 2
#define GS_AGENT_HEADER 12
#define GS_AGENT_MAX_PAYLOAD 65536

typedef enum gs_agent_op {
	GS_AGENT_HELLO = 1,   /* -> OK; TEXT: the agent's version and pid */
	GS_AGENT_STATUS,      /* -> OK; TEXT: one line per cached key */
	GS_AGENT_FORGET,      /* [KEYID] -> OK: forget that key, or all */
	GS_AGENT_STOP,        /* -> OK, then the agent wipes its keys and exits */
	GS_AGENT_PRESET,      /* KEYID PASS, BLOB or URI CERT [MODULE] -> OK:
			       * unlock the key (log in to its token, once:
			       * PASS is the PIN), cache it */
	GS_AGENT_UNLOCK,      /* KEYID, BLOB or URI CERT [MODULE],
			       * [DESC TTYNAME TTYTYPE DISPLAY WAYLAND] -> OK
			       * when the key is cached, after asking pinentry
			       * (the passphrase, or the token's PIN: the agent
			       * then keeps the token's login) when it was not */
	GS_AGENT_RSA_SIGN,    /* KEYID PADDING DATA -> DATA: RSA private encrypt
			       * (PADDING 1: PKCS#1 v1.5 type 1 of a DigestInfo) */
	GS_AGENT_RSA_DECRYPT, /* KEYID PADDING DATA -> DATA: RSA private decrypt
			       * (PADDING 1: PKCS#1 v1.5; 3: none, for OAEP) */
	GS_AGENT_ECDSA_SIGN,  /* KEYID DATA (a digest) -> DATA: DER ECDSA-Sig-Value */
	GS_AGENT_ECDH,        /* KEYID DATA (peer point) -> DATA: the shared secret */
	GS_AGENT_OP_LAST = GS_AGENT_ECDH,
} gs_agent_op;

/* Statuses of a response. */
typedef enum gs_agent_reply {
	GS_AGENT_OK = 0,
	GS_AGENT_E_VERSION,    /* another protocol version: TEXT says which */
	GS_AGENT_E_REFUSED,    /* a malformed or unknown request */
	GS_AGENT_E_NOT_CACHED, /* the key is not (or no longer) cached: UNLOCK it */
	GS_AGENT_E_CANCELLED,  /* the user cancelled pinentry */
	GS_AGENT_E_PINENTRY,   /* no pinentry could be run (none, or no terminal) */
	GS_AGENT_E_BADPASS,    /* wrong passphrase (three times with pinentry) */
	GS_AGENT_E_FAILED,     /* the key operation failed: TEXT says why */
	GS_AGENT_E_NO_KEY,     /* the token is absent, was removed, or refused: TEXT names it */
	GS_AGENT_REPLY_LAST = GS_AGENT_E_NO_KEY,
} gs_agent_reply;

typedef enum gs_agent_tag {
	GS_AGENT_F_KEYID = 0,  /* the certificate's SHA-256, 64 lower-case hex digits */
	GS_AGENT_F_BLOB,       /* the stored key: encrypted PKCS#8 DER (<= 16 KiB) */
	GS_AGENT_F_PASS,       /* a passphrase (<= 1023 bytes) */
	GS_AGENT_F_PADDING,    /* one byte */
	GS_AGENT_F_DATA,       /* operand or result (<= 1024 bytes: RSA-8192) */
	GS_AGENT_F_DESC,       /* what pinentry shows (<= 1024 bytes) */
	GS_AGENT_F_TTYNAME,    /* the client's terminal (<= 256 bytes) */
	GS_AGENT_F_TTYTYPE,    /* its TERM (<= 64 bytes) */
	GS_AGENT_F_DISPLAY,    /* DISPLAY for a graphical pinentry (<= 256 bytes) */
	GS_AGENT_F_TEXT,       /* a message or listing (<= 32 KiB) */
	GS_AGENT_F_URI,        /* a token key's RFC 7512 URI as stored (<= 2048 bytes) */
	GS_AGENT_F_MODULE,     /* the PKCS#11 module for a URI naming none (<= 1024 bytes) */
	GS_AGENT_F_CERT,       /* the token key's certificate, DER (<= 16 KiB) */
	GS_AGENT_F_WAYLAND,    /* WAYLAND_DISPLAY for a graphical pinentry (<= 256 bytes) */
	GS_AGENT_F_COUNT
} gs_agent_tag;

/* A parsed message: fields point into the buffer parsed (valid while it
 * is); a field is present when .p is not NULL. */
typedef struct gs_agent_msg {
	unsigned version;
	unsigned code;        /* a gs_agent_op, or a gs_agent_reply */
	struct {
		const unsigned char *p;
		size_t len;
	} f[GS_AGENT_F_COUNT];
} gs_agent_msg;

/* The payload length a 12-byte header announces, after checking its
 * magic and bound: GS_OK, or GS_E_MALFORMED (no magic), GS_E_LIMIT (too
 * long). The version is not judged here: *version receives it. */
gs_status gs_agent_header(const unsigned char hdr[GS_AGENT_HEADER], unsigned *version,
			  size_t *payload_len, char **errmsg);
/* Parse one whole message (header and payload, exactly `len` bytes) into
 * *msg; `reply`: it is a response (code is a status) rather than a
 * request. Returns GS_OK; GS_E_UNSUPPORTED when the version is not
 * GS_AGENT_PROTOCOL (msg->version and msg->code are filled, nothing
 * else); GS_E_MALFORMED (bad magic, length, tag, a repeated field, an
 * unknown op or status, a required field missing or one the op does not
 * allow); GS_E_LIMIT (a field over its bound). */
gs_status gs_agent_parse(const unsigned char *buf, size_t len, int reply, gs_agent_msg *msg,
			 char **errmsg);
/* Encode *msg (its version, code and present fields) as a new byte
 * array (g_byte_array_unref; wipe it first when it holds a secret).
 * Returns GS_OK, or GS_E_LIMIT when a field or the payload is over its
 * bound. Fields are not judged against the op: the receiver does it. */
gs_status gs_agent_encode(const gs_agent_msg *msg, GByteArray **out, char **errmsg);

/* ------------------------------------------------------------------ */
/* The key agent (agent.c: the client; agent-serve.c: the agent)       */
/* ------------------------------------------------------------------ */

/* The agent holds unlocked private keys and performs only private-key
 * operations; keys never leave it. A client sends the key as stored
 * (encrypted) with UNLOCK: the agent asks pinentry for the passphrase on
 * the client's terminal, once per cache time, and from then on signs and
 * decrypts for whoever of the same user asks. For a key on a PKCS#11
 * token the client sends its URI and certificate: the agent opens the
 * token, asks its PIN the same way, and keeps the token logged in. Starting it, its socket
 * and its configuration are the caller's (galsmime agent). */

/* A connection to an agent. */
typedef struct gs_agent gs_agent;

/* Connect to the agent listening on the socket `path` and greet it.
 * *agent is new (gs_agent_close). Returns GS_OK; GS_E_NOT_FOUND (no
 * socket, or a stale one nobody listens on); GS_E_UNSUPPORTED (the agent
 * speaks another protocol version: *errmsg says which); GS_E_AGENT_LOST
 * (it closed the connection); GS_E_IO; GS_E_USAGE (path too long). */
gs_status gs_agent_connect(const char *path, gs_agent **agent, char **errmsg);
/* The same, giving up on the agent's greeting after timeout_ms (> 0): then
 * GS_E_AGENT_LOST (an agent that is stopped or hung). 0: no limit. */
gs_status gs_agent_connect_within(const char *path, int timeout_ms, gs_agent **agent, char **errmsg);
/* Close the connection (NULL is fine). Keys opened through it must be
 * freed first (their session freed). */
void gs_agent_close(gs_agent *agent);
/* 1 when a connection made earlier and kept for later is still open with
 * nothing unread on it (the agent has not closed it), else 0. */
int gs_agent_idle(gs_agent *agent);
/* Where pinentry asks when this connection needs a passphrase or a PIN:
 * w's tty, ttytype, display and wayland_display (its programs are the
 * agent's own and ignored here). Copied. */
void gs_agent_set_terminal(gs_agent *agent, const gs_pinentry_where *w);
/* GS_AGENT_HELLO, GS_AGENT_STATUS, GS_AGENT_FORGET (keyid: a certificate
 * fingerprint, or NULL for every key) or GS_AGENT_STOP. *text (may be
 * NULL) receives the agent's text (g_free) or NULL. Returns GS_OK,
 * GS_E_AGENT_LOST, GS_E_INTERNAL (refused), GS_E_PROGRAMMER (another op). */
gs_status gs_agent_command(gs_agent *agent, gs_agent_op op, const char *keyid, char **text,
			   char **errmsg);
/* Hand the agent the passphrase of the identity of `address` (a
 * fingerprint; NULL: the only identity) to open its key and cache it
 * (galsmime agent preset); for a key on a token, its PIN: the agent logs
 * in (one try) and keeps the login. Returns GS_OK; GS_E_NO_KEY (no such
 * identity; the token is absent); GS_E_USAGE (its key is not encrypted:
 * nothing to cache); GS_E_PASSPHRASE (wrong); GS_E_AGENT_LOST; a store
 * failure. */
gs_status gs_agent_preset(gs_agent *agent, gs_session *session, const char *address,
			  const char *pass, size_t passlen, char **errmsg);

/* Ask a token's PIN through pinentry at `w` (copied; NULL: through the
 * passphrase callback, the default) when the session opens a key on a
 * PKCS#11 token itself (no agent): a wrong PIN is asked again with an
 * error text, at most three times, never once the token says its next
 * wrong PIN locks it (CKF_USER_PIN_FINAL_TRY). */
void gs_session_set_pinentry(gs_session *session, const gs_pinentry_where *w);

/* How a session reaches the agent when it must open an encrypted key
 * or a key on a token (the agent then logs in and keeps the login):
 * the callback returns a connection, which stays the caller's and must
 * outlive the session, or NULL (no agent: the session unlocks the key
 * itself with its passphrase callback). Not called when no key is
 * needed. With an agent, unlocking returns GS_E_PASSPHRASE when
 * pinentry is cancelled, missing or given a wrong passphrase three
 * times (*errmsg says which), GS_E_AGENT_LOST when the agent went away. */
typedef gs_agent *(*gs_agent_cb)(void *data);
void gs_session_set_agent_cb(gs_session *session, gs_agent_cb cb, void *data);

/* The agent's settings. */
typedef struct gs_agent_opts {
	unsigned default_ttl;  /* seconds a key (or a token's login) stays cached
				* after its last use (0: 600) */
	unsigned max_ttl;      /* seconds at most after it was unlocked (0: 7200) */
	const char *pinentry;  /* the pinentry program's path (NULL: none, never asks) */
	const char *pinentry_graphical; /* for a client with a display and no
				* terminal (NULL: `pinentry` there too) */
	unsigned protocol;     /* for tests: speak this protocol version (0: GS_AGENT_PROTOCOL) */
	const char *socket_path; /* when set: stop once this path is no longer the socket
				  * listened on (removed, or another agent's) */
	void (*on_stop)(void *data); /* when set: called once when the agent stops taking
				  * clients, before it waits for those it has; the
				  * listening socket is not used after it (it may go) */
	void *on_stop_data;
} gs_agent_opts;

/* Be the agent on the listening socket `listen_fd` (bound, listening, in
 * a folder only this user can enter) until a client sends STOP: accept
 * clients of this user only (SO_PEERCRED), one thread each; keep keys in
 * OpenSSL's secure heap (locked memory; `galsmime agent status` says when
 * the memlock limit refused it), wipe each when it expires. The caller
 * makes the process undumpable first (gs_process_harden) and ignores
 * SIGPIPE. Returns GS_OK when stopped (or its socket went), GS_E_IO,
 * GS_E_PROGRAMMER. */
gs_status gs_agent_serve(int listen_fd, const gs_agent_opts *opts, char **errmsg);

/* ------------------------------------------------------------------ */
/* The warm engine (agent-warm.c)                                      */
/* ------------------------------------------------------------------ */

/* A host that forks workers from one initialised process (galsmime's
 * warm engine) may decode a store's certificates once, before forking:
 * the anchors', identities' and CAs' (anchors and identities first), at
 * most `max` in all, from the
 * store in folder `dir` (opened read-only and closed again). Every store
 * opened later in this process (and its forked children) then takes a
 * certificate whose DER is exactly one of these from this set instead of
 * decoding it again: same bytes, same certificate. Process-wide, for a
 * host that asks; call it again (it replaces the set) when the store
 * changed, and only while no other thread uses the library. Returns
 * GS_OK, or what gs_store_open returns (the set is then empty). */
gs_status gs_warm_certs_load(const char *dir, unsigned max, char **errmsg);
/* Empty the set (as it starts). */
void gs_warm_certs_clear(void);
/* In a process that holds a set (a worker forked from the host): the
 * certificates its stores decoded that were not in the set, since the
 * set was loaded (a correspondent's from the store, a signer's from a
 * message), in the order decoded: each one's DER as a GBytes, at most
 * 16, none over 16 KiB. A new reference (g_ptr_array_unref); empty when
 * none, and always in a process without a set. */
GPtrArray *gs_warm_certs_missed(void);
/* Add these `n` certificates (DER, as gs_warm_certs_missed gives them)
 * to the set, decoded here: those it holds already and any that is not
 * one certificate are passed over. At most `max` added this way stay,
 * the oldest going first; what gs_warm_certs_load loaded stays whole,
 * and loading again drops them. The set's rule holds for them: a store
 * takes one only for exactly its bytes, so what it hands out is what
 * decoding would give, whoever wrote the bytes. Same conditions as
 * gs_warm_certs_load (the host, no other thread). Returns how many were
 * added (0 with no set loaded). */
unsigned gs_warm_certs_learn(GBytes *const *der, size_t n, unsigned max);
/* Fetch the ciphers, digests and key algorithms S/MIME uses, once, so
 * that OpenSSL's method store holds them before the host forks (the
 * first fetch of each costs more than a 2 KB message's encryption).
 * Draws no random numbers. Process-wide, for a host that asks. */
void gs_warm_crypto(void);
/* In a process the host forked (before its request): have OpenSSL's
 * random generators seeded for this process now. After a fork they
 * reseed from the system on first use, which would otherwise fall in
 * the request (each process's numbers are its own either way). */
void gs_warm_random(void);

G_END_DECLS

#endif /* GALSMIME_H */
