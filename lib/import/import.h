/* import.h: what the GAL importers share.
 *
 * Every foreign format is read by one parser (one file each) that turns
 * bytes into records of one common shape (gs_record) and hands each to
 * gs_import_record(). The driver (import.c) decodes certificate values,
 * normalises addresses, and writes the store inside the import's
 * transaction. Parsers stream: they hold one record at a time, so memory
 * grows with the largest record, not with the file.
 *
 * Input is hostile. Parsers check every length and count against what is
 * left, never allocate from a count before the bytes are there, and
 * report problems with gs_import_bad().
 */
#ifndef GS_IMPORT_H
#define GS_IMPORT_H

#include "../gs-private.h"

#include <stdarg.h>
#include <lber.h>
#include <ldap.h>

/* ---- the reader: buffered, BOM-aware input ---- */

typedef struct gs_reader gs_reader;

/* Largest single record (line, JSON object, OAB record...) accepted. */
#define GS_MAX_RECORD ((size_t) 64 << 20)
/* Most addresses, and most certificate values, one record may carry:
 * beyond, the record is malformed (a person has a handful of each). */
#define GS_MAX_RECORD_VALUES 1024

/* Wrap `fd`. With `text`, a UTF-8 BOM is skipped and UTF-16 (LE or BE,
 * with a BOM, as ldifde -u writes) is converted to UTF-8 on the fly. */
gs_reader *gs_reader_new(int fd, const char *name, int text);
void gs_reader_free(gs_reader *r);
const char *gs_reader_name(const gs_reader *r);
/* Read up to n bytes; returns bytes read, 0 at end, -1 on error (errno). */
ssize_t gs_reader_read(gs_reader *r, void *buf, size_t n);
/* The next line without its LF or CRLF, valid until the next call;
 * NULL at end. *len gets its length. Lines longer than GS_MAX_RECORD give
 * NULL with *too_long set. */
const char *gs_reader_line(gs_reader *r, size_t *len, int *too_long);
/* The current line number (1 = first line), for messages. */
unsigned long gs_reader_lineno(const gs_reader *r);
/* Bytes consumed so far (of the raw input) and the input's size (0 when
 * not a regular file). */
uint64_t gs_reader_offset(const gs_reader *r);
uint64_t gs_reader_size(const gs_reader *r);
/* Look at the first bytes without consuming them (at most 4096). */
size_t gs_reader_peek(gs_reader *r, const unsigned char **p);
/* A stdio FILE reading the (converted) input, for parsers built on
 * libraries that want one (LDIF). Valid until gs_reader_free. */
FILE *gs_reader_file(gs_reader *r);
/* Did reading fail (I/O error, bad UTF-16)? The errno, or 0. */
int gs_reader_error(const gs_reader *r);
/* The same as a status: GS_OK, GS_E_MALFORMED ("NAME: invalid UTF-16
 * text"), GS_E_IO ("NAME: " and the system's reason). */
gs_status gs_reader_status(const gs_reader *r, char **errmsg);

/* ---- records ---- */

typedef struct gs_record_cert {
	char *attribute;           /* userCertificate, userSMIMECertificate, vcard, oab ... */
	GBytes *value;             /* raw value: DER X.509, CMS SignedData, or Outlook's TLV blob */
} gs_record_cert;

typedef struct gs_record {
	char *kind;                /* RecipientType / objectClass / "vcard" ... */
	char *name;
	char *alias;
	char *display_name;
	GPtrArray *addresses;      /* char*: normalised SMTP addresses, primary first */
	GPtrArray *certs;          /* gs_record_cert* */
	char where[128];           /* "file:line" or "file: byte N", for messages */
	int overflow;              /* more than GS_MAX_RECORD_VALUES were added */
	size_t kept;               /* bytes held for it (gs_record_keep) */
	/* PrimarySmtpAddress and ExternalEmailAddress, held until the record
	 * is complete (gs_record_add_held) so that the primary comes first
	 * whatever the order of the properties */
	char *primary, *external;
	const char *bad_text;      /* what held a control character ("an address"), or NULL */
} gs_record;

void gs_record_init(gs_record *rec);
void gs_record_clear(gs_record *rec);     /* frees contents, ready for reuse */
void gs_record_set(char **field, const char *value, ssize_t len);
/* Free what the record holds; it cannot be used again. */
void gs_record_dispose(gs_record *rec);
/* Count `n` more bytes held for the record: 0 when that makes it larger
 * than GS_MAX_RECORD (the caller reports it), else 1. */
int gs_record_keep(gs_record *rec, size_t n);
/* Add an address as directories spell it: "SMTP:a@b" (primary),
 * "smtp:a@b", "a@b", "mailto:a@b"; other proxy types (X500:, SIP:, X400:,
 * EUM: ...) are ignored. `primary` forces it first. */
void gs_record_add_address(gs_record *rec, const char *raw, ssize_t len, int primary);
/* Add each address of a list: the words between white space and the
 * bytes of `seps`. Returns 0, having added what it could, when the
 * record holds GS_MAX_RECORD_VALUES addresses (the caller reports it),
 * else 1. */
int gs_record_add_addresses(gs_record *rec, const char *list, size_t len, const char *seps);
void gs_record_add_cert(gs_record *rec, const char *attribute, const void *data, size_t len);
/* Same, with base64 text (gs_base64_decode, padding required). Returns 0
 * when it is not base64. */
int gs_record_add_cert_b64(gs_record *rec, const char *attribute, const char *b64, size_t len);
/* Same, from the text of a certificate property (CSV cell, JSON string):
 * base64, as gs_record_add_cert_b64. Returns NULL when added, else why
 * not: "not base64", or that the export lost the bytes (it wrote the
 * type name, "System.Byte[]", as Export-Csv and a shallow
 * ConvertTo-Json do). */
const char *gs_record_add_cert_text(gs_record *rec, const char *attribute, const char *text,
				    size_t len);
/* Add an external address (a contact's ExternalEmailAddress, AD's
 * targetAddress): one of the entry's addresses whatever its "SMTP:"
 * prefix says, never its primary. */
void gs_record_add_external(gs_record *rec, const char *address);
/* The record is complete: its held external address (as
 * gs_record_add_external) and primary address (first) join its
 * addresses. */
void gs_record_add_held(gs_record *rec);
/* Does the record name anything: a name, alias, display name, address
 * or certificate? */
int gs_record_has_content(const gs_record *rec);
/* Set rec->where. */
void gs_record_where(gs_record *rec, const gs_reader *r, unsigned long line);

/* ---- the properties of Exchange's recipients (CSV columns, JSON members) ---- */

typedef enum gs_prop {
	GS_PROP_NONE = 0,
	GS_PROP_NAME,              /* Name, cn */
	GS_PROP_ALIAS,             /* Alias, mailNickname */
	GS_PROP_DISPLAY,           /* DisplayName */
	GS_PROP_KIND,              /* RecipientType */
	GS_PROP_PRIMARY,           /* PrimarySmtpAddress, mail */
	GS_PROP_EXTERNAL,          /* ExternalEmailAddress */
	GS_PROP_ADDRESSES,         /* EmailAddresses, proxyAddresses */
	GS_PROP_UCERT,             /* UserCertificate */
	GS_PROP_SMIME,             /* UserSMIMECertificate */
} gs_prop;
/* The property a column or member name means (any case): Get-Mailbox,
 * Get-MailUser and Get-MailContact's names, and Active Directory's
 * (csvde, Get-ADUser); GS_PROP_NONE for a name galsmime does not read. */
gs_prop gs_prop_lookup(const char *name, size_t len);
/* What messages call it: its Exchange name ("UserSMIMECertificate"). */
const char *gs_prop_name(gs_prop prop);
/* The attribute a certificate property's values are stored under
 * ("userCertificate", "userSMIMECertificate"). */
const char *gs_prop_attribute(gs_prop prop);

/* ---- text values, for every parser ---- */

/* Base64 as directories and vCards write it: letters, digits, '+' and
 * '/'; white space (space, tab, CR, LF, FF, VT) anywhere is ignored; '='
 * pads the end only, at most twice. The characters and the padding come
 * in groups of four; with `unpadded_ok`, a last group of two or three
 * characters may also stand without its padding (vCard writers leave it
 * out). gs_base64_size returns how many bytes the text decodes to, or 0
 * when it is not base64 or holds nothing; gs_base64_decode returns them
 * (a new buffer of *len bytes, followed by a NUL byte it does not
 * count; g_free), or NULL where gs_base64_size says 0. */
size_t gs_base64_size(const char *s, size_t len, int unpadded_ok);
guchar *gs_base64_decode(const char *s, size_t len, int unpadded_ok, size_t *out_len);

/* The start of hostile text for a one-line message: its first 48 bytes,
 * each byte outside printable ASCII as \xNN, then "..." when there was
 * more. A new string (g_free). */
char *gs_excerpt(const char *s, size_t len);

/* ---- the import, as the parsers see it ---- */

/* The end of a file of entries: a snapshot replaces its source, so a
 * file in which no entry names anything (gs_record_has_content), every
 * one skipped or none there, must not empty it. GS_OK, or
 * GS_E_MALFORMED: "NAME: no entry could be read (N skipped)" when
 * entries were skipped, else "NAME: no directory entry in the file
 * (WHY)". */
gs_status gs_import_check_named(const gs_reader *r, unsigned long named, unsigned long skipped,
				const char *why, char **errmsg);

typedef struct gs_gal_import gs_import_state;

/* Hand one complete record to the driver. Returns GS_OK to go on, or a
 * failure status (with *errmsg set) to stop the parser. */
gs_status gs_import_record(gs_import_state *st, gs_record *rec, char **errmsg);
/* A record (or value) is malformed at `where`. With skip_bad it is
 * counted and reported, and GS_OK says "skip it and go on"; otherwise
 * GS_E_MALFORMED with "where: reason". */
gs_status gs_import_bad(gs_import_state *st, const char *where, char **errmsg, const char *fmt, ...)
	G_GNUC_PRINTF(4, 5);
gs_status gs_import_vbad(gs_import_state *st, const char *where, char **errmsg, const char *fmt,
			 va_list ap) G_GNUC_PRINTF(4, 0);
/* Certificates without an entry (bare certificate lists). */
gs_status gs_import_bare_certs(gs_import_state *st, STACK_OF(X509) *certs, char **errmsg);
/* Report progress (cheap; call per record). */
void gs_import_progress(gs_import_state *st, gs_reader *r);

/* ---- the parsers: one per format ---- */

typedef gs_status (*gs_parser_fn)(gs_import_state *st, gs_reader *r, char **errmsg);

gs_status gs_parse_json(gs_import_state *st, gs_reader *r, char **errmsg);
gs_status gs_parse_csv(gs_import_state *st, gs_reader *r, char **errmsg);
gs_status gs_parse_ldif(gs_import_state *st, gs_reader *r, char **errmsg);
gs_status gs_parse_vcard(gs_import_state *st, gs_reader *r, char **errmsg);
gs_status gs_parse_oab(gs_import_state *st, gs_reader *r, char **errmsg);
/* PEM, DER, PKCS#7, .sst: bare certificate lists (certfile.c) */
gs_status gs_parse_certs(gs_import_state *st, gs_reader *r, char **errmsg);

/* ---- one directory entry, as LDIF (ldif.c) and LDAP (ldap.c) give it ---- */

/* What galsmime reads of an entry: mail, proxyAddresses, targetAddress,
 * displayName, cn (else the dn's first value), mailNickname,
 * objectClass, galsmimeKind, userCertificate, userSMIMECertificate,
 * msExchangeCertificate (DavMail's gateway);
 * text values must be UTF-8 without NUL bytes. new (clears `rec`;
 * `file` and `where`, a line or entry number, name it in messages),
 * the dn, each attribute value (type without its options:
 * "userCertificate", not ";binary"), end (hands the record to the
 * driver, or leaves out an entry with neither an address nor a
 * certificate), free. dn and attribute return GS_OK, or what
 * gs_import_bad says (GS_OK with *dropped set: skip the entry). */
typedef struct gs_dir_entry gs_dir_entry;
/* Load libldap for them (once): GS_OK or GS_E_UNSUPPORTED. */
gs_status gs_dir_entry_load(char **errmsg);
gs_dir_entry *gs_dir_entry_new(gs_import_state *st, gs_record *rec, const char *file,
			       unsigned long where);
gs_status gs_dir_entry_dn(gs_dir_entry *e, const char *dn, size_t len, unsigned long line,
			  int *dropped, char **errmsg);
gs_status gs_dir_entry_attribute(gs_dir_entry *e, const char *type, const char *value, size_t len,
				 unsigned long line, int *dropped, char **errmsg);
gs_status gs_dir_entry_end(gs_dir_entry *e, char **errmsg);
void gs_dir_entry_free(gs_dir_entry *e);

/* ---- a connection to an LDAP directory (ldap.c) ---- */

/* libldap's functions, loaded with dlopen (dl.c) by gs_ldap_open; use
 * them only on a connection it opened. */
typedef struct gs_ldap_api {
	__typeof__(ldap_initialize) *initialize;
	__typeof__(ldap_set_option) *set_option;
	__typeof__(ldap_get_option) *get_option;
	__typeof__(ldap_start_tls_s) *start_tls;
	__typeof__(ldap_sasl_bind_s) *bind;
	__typeof__(ldap_sasl_interactive_bind_s) *sasl_bind;
	__typeof__(ldap_unbind_ext_s) *unbind;
	__typeof__(ldap_search_ext_s) *search;
	__typeof__(ldap_search_ext) *search_async;
	__typeof__(ldap_result) *result;
	__typeof__(ldap_create_page_control) *page_control;
	__typeof__(ldap_parse_pageresponse_control) *parse_page;
	__typeof__(ldap_control_find) *control_find;
	__typeof__(ldap_controls_free) *controls_free;
	__typeof__(ldap_control_free) *control_free;
	__typeof__(ldap_parse_result) *parse_result;
	__typeof__(ldap_first_entry) *first_entry;
	__typeof__(ldap_next_entry) *next_entry;
	__typeof__(ldap_get_dn) *get_dn;
	__typeof__(ldap_first_attribute) *first_attribute;
	__typeof__(ldap_next_attribute) *next_attribute;
	__typeof__(ldap_get_values_len) *get_values;
	__typeof__(ldap_value_free_len) *values_free;
	__typeof__(ldap_memfree) *memfree;
	__typeof__(ldap_msgfree) *msgfree;
	__typeof__(ldap_err2string) *err2string;
	__typeof__(ber_free) *ber_free;
	__typeof__(ber_memfree) *ber_memfree;
} gs_ldap_api;
extern gs_ldap_api gs_ld;

/* Connect to o->url and bind as o says: the URL checked (ldap:// or
 * ldaps:// only), LDAPv3, no referrals followed, o->timeout_ms for the
 * connection and each operation, TLS with o->ca_file when given
 * (certificates demanded), StartTLS when asked, then a simple bind
 * (anonymous without a bind DN) or SASL GSSAPI with the caller's
 * Kerberos ticket (the host name of the URL as it is: no reverse DNS).
 * Loads libldap first. *out gets the bound connection (gs_ldap_close).
 * Returns GS_OK; GS_E_UNSUPPORTED (libldap cannot be loaded); GS_E_USAGE
 * (not an ldap:// or ldaps:// URL, a bind DN with GSSAPI); GS_E_PASSPHRASE
 * (wrong bind DN or password; GSSAPI failed: no ticket, no service
 * principal); GS_E_IO (the server cannot be reached within the timeout,
 * TLS failed). *errmsg names the URL (printable) and what failed. */
gs_status gs_ldap_open(const gs_ldap_opts *o, LDAP **out, char **errmsg);
/* Unbind and free. NULL is fine. */
void gs_ldap_close(LDAP *l);
/* A failed LDAP operation `what` (libldap's error `err`) as a status:
 * GS_E_PASSPHRASE for refused credentials, else GS_E_IO; *errmsg
 * "URL: WHAT: libldap's reason[: the server's message]". */
gs_status gs_ldap_fail(LDAP *l, char **errmsg, int err, const char *url, const char *what);

/* gs_gal_import_ldap's work (ldap.c). */
gs_status gs_sync_ldap(gs_import_state *st, const gs_ldap_sync_opts *opts, char **errmsg);

/* ---- live lookups (ldap.c, for directory.c) ---- */

/* A directory's answer about a few addresses, held until it is read. */
typedef struct gs_ldap_answer gs_ldap_answer;
/* Ask the directory `conn` names (gs_ldap_open; its timeout_ms is not
 * used) for the entries under `base` (NULL: the server's naming
 * context) whose mail or smtp: proxy address is one of `addresses`
 * (lower case): one connection, OR filters of 50 addresses, every wait
 * ending by `deadline` (g_get_monotonic_time() microseconds). No store
 * is touched. GS_OK with *answer (gs_ldap_answer_free); GS_E_IO
 * (unreachable, timed out, the search failed), GS_E_PASSPHRASE (refused
 * bind), GS_E_LIMIT (more than 20 entries for one address), GS_E_USAGE
 * (bad URL, no base), GS_E_UNSUPPORTED (no libldap). */
gs_status gs_ldap_ask(const gs_ldap_opts *conn, const char *base, const char *const *addresses, size_t n,
		      gint64 deadline, gs_ldap_answer **answer, char **errmsg);
/* Read the answer's entries into an import, as gal sync reads entries. */
gs_status gs_ldap_answer_read(gs_ldap_answer *a, gs_import_state *st, char **errmsg);
void gs_ldap_answer_free(gs_ldap_answer *a);

/* An import into the source `source_id` inside the caller's
 * transaction that replaces nothing: each record is added (after the
 * caller removed what it replaces). With `only` (a set of lower-case
 * addresses, not copied), a record listing none of them is left out.
 * Malformed records are skipped. end frees it; *entries (may be NULL)
 * gets how many entries it added, *skipped how many it left out. */
gs_import_state *gs_import_append_begin(gs_store *s, int64_t source_id, GHashTable *only);
void gs_import_append_end(gs_import_state *st, unsigned long *entries, unsigned long *skipped);

/* Guess the format from the first bytes. */
gs_gal_format gs_import_detect(const unsigned char *head, size_t len);

/* ---- certificate values (values.c) ---- */

/* Decode a userSMIMECertificate / userCertificate value: DER X.509, DER
 * CMS SignedData (certificates + SMIMECapabilities), or Outlook's
 * tag-length-value blob ([MS-OXOABK] 2.2.4.36). *certs gets every
 * certificate; *caps (may be NULL) the comma-separated capability OIDs
 * announced, or NULL. Returns GS_E_MALFORMED with a reason when the
 * value is none of these. */
gs_status gs_decode_cert_value(const unsigned char *p, size_t len, STACK_OF(X509) **certs,
			       char **caps, char **errmsg);
/* Parse Outlook's TLV security blob: certificates it carries (tag 0x0003
 * PR_CERT_KEYEX_CERTIFICATE / 0x0008 PR_CERT_SIGN_CERTIFICATE ...) and
 * the capabilities (tag 0x0002 PR_CERT_ASYMETRIC_CAPABILITIES). */
gs_status gs_decode_tlv_blob(const unsigned char *p, size_t len, STACK_OF(X509) **certs,
			     char **caps, char **errmsg);

#endif
