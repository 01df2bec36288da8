/* import.c: the GAL import driver. Takes the records the format parsers
 * produce, decodes their certificate values, normalises addresses and
 * writes one snapshot of a source in one transaction. */
#include "import.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/sha.h>

/* What one distinct certificate value became in the store. */
typedef struct value_result {
	GArray *ids;        /* int64 certificate ids linked to the entry */
} value_result;

struct gs_gal_import {
	gs_store *s;
	char *source;
	int64_t source_id;
	gs_gal_import_opts opts;
	gs_gal_stats stats;
	GHashTable *values;      /* SHA-256 of a raw value (32 bytes) -> value_result* */
	GHashTable *only;        /* appending: the addresses a record must list, or NULL */
	int failed;
	uint64_t progress_at;
};

static void
value_result_free(gpointer p)
{
	value_result *v = p;

	g_array_free(v->ids, TRUE);
	g_free(v);
}

static guint
digest_hash(gconstpointer p)
{
	guint h;

	memcpy(&h, p, sizeof h);
	return h;
}

static gboolean
digest_equal(gconstpointer a, gconstpointer b)
{
	return memcmp(a, b, SHA256_DIGEST_LENGTH) == 0;
}

/* ---- formats ---- */

static const struct {
	const char *name;
	gs_gal_format format;
} format_names[] = {
	{ "auto", GS_GAL_AUTO }, { "json", GS_GAL_JSON }, { "csv", GS_GAL_CSV },
	{ "ldif", GS_GAL_LDIF }, { "vcard", GS_GAL_VCARD }, { "oab", GS_GAL_OAB },
	{ "sst", GS_GAL_SST }, { "p7b", GS_GAL_P7B }, { "pem", GS_GAL_PEM }, { "der", GS_GAL_DER },
};

gs_status
gs_gal_format_from_name(const char *name, gs_gal_format *format)
{
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(format_names); i++)
		if (name && !g_ascii_strcasecmp(name, format_names[i].name)) {
			*format = format_names[i].format;
			return GS_OK;
		}
	return GS_E_USAGE;
}

/* ---- the properties of Exchange's recipients ---- */

static const struct {
	const char *name;
	gs_prop prop;
} properties[] = {
	/* Get-Mailbox / Get-MailUser / Get-MailContact */
	{ "Name", GS_PROP_NAME }, { "Alias", GS_PROP_ALIAS }, { "DisplayName", GS_PROP_DISPLAY },
	{ "RecipientType", GS_PROP_KIND }, { "PrimarySmtpAddress", GS_PROP_PRIMARY },
	{ "ExternalEmailAddress", GS_PROP_EXTERNAL }, { "EmailAddresses", GS_PROP_ADDRESSES },
	{ "UserCertificate", GS_PROP_UCERT }, { "UserSMIMECertificate", GS_PROP_SMIME },
	/* the same in Active Directory's words (csvde, Get-ADUser -Properties) */
	{ "cn", GS_PROP_NAME }, { "mailNickname", GS_PROP_ALIAS }, { "mail", GS_PROP_PRIMARY },
	{ "proxyAddresses", GS_PROP_ADDRESSES },
};

gs_prop
gs_prop_lookup(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(properties); i++)
		if (strlen(properties[i].name) == len && !g_ascii_strncasecmp(properties[i].name, name, len))
			return properties[i].prop;
	return GS_PROP_NONE;
}

const char *
gs_prop_name(gs_prop prop)
{
	size_t i;

	/* the first name of each is Exchange's */
	for (i = 0; i < G_N_ELEMENTS(properties); i++)
		if (properties[i].prop == prop)
			return properties[i].name;
	return "?";
}

const char *
gs_prop_attribute(gs_prop prop)
{
	return prop == GS_PROP_SMIME ? "userSMIMECertificate" : "userCertificate";
}

static int
starts_ci(const unsigned char *p, size_t len, const char *word)
{
	size_t n = strlen(word);

	return len >= n && !g_ascii_strncasecmp((const char *) p, word, n);
}

gs_gal_format
gs_import_detect(const unsigned char *p, size_t len)
{
	const unsigned char *q = p, *end = p + len, *eol;

	if (len >= 8 && !memcmp(p, "\0\0\0\0CERT", 8))
		return GS_GAL_SST;
	if (len >= 12 && p[0] == 0x20 && !p[1] && !p[2] && !p[3])
		return GS_GAL_OAB;
	if (len >= 2 && p[0] == 0x30 && (p[1] & 0x80))
		return GS_GAL_DER; /* DER certificate or PKCS#7: the same reader */
	while (q < end && g_ascii_isspace(*q))
		q++;
	if (q < end && (*q == '[' || *q == '{'))
		return GS_GAL_JSON;
	if (starts_ci(q, (size_t) (end - q), "BEGIN:VCARD"))
		return GS_GAL_VCARD;
	if (starts_ci(q, (size_t) (end - q), "-----BEGIN"))
		return GS_GAL_PEM;
	/* LDIF: comments, a version line, then "dn:" */
	while (q < end) {
		if (starts_ci(q, (size_t) (end - q), "dn:") || starts_ci(q, (size_t) (end - q), "version:"))
			return GS_GAL_LDIF;
		/* ldapsearch writes comments, then an empty line */
		if (*q != '#' && *q != ' ' && *q != '\r' && *q != '\n')
			break;
		eol = memchr(q, '\n', (size_t) (end - q));
		if (!eol)
			break;
		q = eol + 1;
	}
	/* CSV: a header row naming the columns we know */
	{
		size_t rest = q < end ? (size_t) (end - q) : 0;
		eol = rest ? memchr(q, '\n', rest) : NULL;
		if (!eol)
			eol = q < end ? end : q;
	}
	{
		char *head = g_strndup((const char *) q, (gsize) (eol - q));
		int csv = (strchr(head, ',') || strchr(head, ';') || strchr(head, '\t')) &&
			  (strcasestr(head, "PrimarySmtpAddress") || strcasestr(head, "UserCertificate") ||
			   strcasestr(head, "UserSMIMECertificate") || strcasestr(head, "EmailAddresses") ||
			   strcasestr(head, "proxyAddresses") || strcasestr(head, "DisplayName"));
		g_free(head);
		if (csv)
			return GS_GAL_CSV;
	}
	return GS_GAL_AUTO;
}

/* ---- records ---- */

static void
record_cert_free(gpointer p)
{
	gs_record_cert *c = p;

	g_free(c->attribute);
	g_bytes_unref(c->value);
	g_free(c);
}

void
gs_record_init(gs_record *rec)
{
	memset(rec, 0, sizeof *rec);
	rec->addresses = g_ptr_array_new_with_free_func(g_free);
	rec->certs = g_ptr_array_new_with_free_func(record_cert_free);
}

void
gs_record_clear(gs_record *rec)
{
	g_free(rec->kind);
	g_free(rec->name);
	g_free(rec->alias);
	g_free(rec->display_name);
	g_free(rec->primary);
	g_free(rec->external);
	rec->kind = rec->name = rec->alias = rec->display_name = rec->primary = rec->external = NULL;
	g_ptr_array_set_size(rec->addresses, 0);
	g_ptr_array_set_size(rec->certs, 0);
	rec->where[0] = 0;
	rec->overflow = 0;
	rec->kept = 0;
	rec->bad_text = NULL;
}

void
gs_record_dispose(gs_record *rec)
{
	gs_record_clear(rec);
	g_ptr_array_unref(rec->addresses);
	g_ptr_array_unref(rec->certs);
	rec->addresses = rec->certs = NULL;
}

int
gs_record_keep(gs_record *rec, size_t n)
{
	if (rec->kept + n > GS_MAX_RECORD)
		return 0;
	rec->kept += n;
	return 1;
}

void
gs_record_set(char **field, const char *value, ssize_t len)
{
	char *v;

	g_free(*field);
	*field = NULL;
	if (!value)
		return;
	v = len < 0 ? g_strdup(value) : g_strndup(value, (gsize) len);
	g_strstrip(v);
	if (!*v || !g_utf8_validate(v, -1, NULL)) {
		g_free(v);
		return;
	}
	*field = v;
}

/* A C0 or C1 control character, or DEL: what no name or address holds,
 * and what rewrites a terminal. */
static int
has_control(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *) s; p && *p; p++)
		if (*p < 0x20 || *p == 0x7f || (*p == 0xc2 && p[1] >= 0x80 && p[1] < 0xa0))
			return 1;
	return 0;
}

void
gs_record_add_address(gs_record *rec, const char *raw, ssize_t len, int primary)
{
	char *s = len < 0 ? g_strdup(raw) : g_strndup(raw, (gsize) len), *a = g_strstrip(s);
	const char *colon = strchr(a, ':');
	int is_primary = primary;
	guint i;

	if (rec->addresses->len >= GS_MAX_RECORD_VALUES) {
		rec->overflow = 1;
		g_free(s);
		return;
	}

	if (colon && !strchr(a, '@') ? 1 : 0) {
		g_free(s);
		return;
	}
	if (colon && colon < strchr(a, '@')) {
		/* a proxy address: "SMTP:" is the primary, "smtp:" an alias;
		 * other types (X500:, SIP:, X400:, EUM:) are not mail addresses */
		size_t plen = (size_t) (colon - a);
		if (plen == 4 && !strncmp(a, "SMTP", 4))
			is_primary = 1;
		else if (!(plen == 4 && !g_ascii_strncasecmp(a, "smtp", 4)) &&
			 !(plen == 6 && !g_ascii_strncasecmp(a, "mailto", 6))) {
			g_free(s);
			return;
		}
		a = (char *) colon + 1;
	}
	{
		char *norm = gs_address_normalize(a);
		const char *at = strchr(norm, '@');

		if (has_control(norm)) {
			/* not an address: an attack on whoever reads it */
			rec->bad_text = "an address";
			g_free(norm);
			g_free(s);
			return;
		}
		/* one @, something on each side, no spaces or controls */
		if (!at || at == norm || !at[1] || strchr(at + 1, '@') || strpbrk(norm, " \t<>\"") ||
		    !g_utf8_validate(norm, -1, NULL)) {
			g_free(norm);
			g_free(s);
			return;
		}
		for (i = 0; i < rec->addresses->len; i++)
			if (!strcmp(rec->addresses->pdata[i], norm)) {
				if (is_primary && i > 0) {
					g_ptr_array_insert(rec->addresses, 0, g_ptr_array_steal_index(rec->addresses, i));
				}
				g_free(norm);
				g_free(s);
				return;
			}
		if (is_primary)
			g_ptr_array_insert(rec->addresses, 0, norm);
		else
			g_ptr_array_add(rec->addresses, norm);
	}
	g_free(s);
}

int
gs_record_add_addresses(gs_record *rec, const char *list, size_t len, const char *seps)
{
	size_t i = 0, start;

#define IS_SEP(c) (g_ascii_isspace(c) || ((c) && strchr(seps, (c))))
	while (i < len) {
		while (i < len && IS_SEP(list[i]))
			i++;
		start = i;
		while (i < len && !IS_SEP(list[i]))
			i++;
		if (i == start)
			break;
		if (rec->addresses->len >= GS_MAX_RECORD_VALUES)
			return 0;
		gs_record_add_address(rec, list + start, (ssize_t) (i - start), 0);
	}
#undef IS_SEP
	return 1;
}

void
gs_record_add_cert(gs_record *rec, const char *attribute, const void *data, size_t len)
{
	gs_record_cert *c;

	if (rec->certs->len >= GS_MAX_RECORD_VALUES) {
		rec->overflow = 1;
		return;
	}
	c = g_new0(gs_record_cert, 1);
	c->attribute = g_strdup(attribute);
	c->value = g_bytes_new(data, len);
	g_ptr_array_add(rec->certs, c);
}

int
gs_record_add_cert_b64(gs_record *rec, const char *attribute, const char *b64, size_t len)
{
	size_t n;
	guchar *der = gs_base64_decode(b64, len, 0, &n);

	if (!der)
		return 0;
	gs_record_add_cert(rec, attribute, der, n);
	g_free(der);
	return 1;
}

size_t
gs_base64_size(const char *s, size_t len, int unpadded_ok)
{
	size_t i, n = 0, pad = 0;

	for (i = 0; i < len; i++) {
		char c = s[i];

		if (g_ascii_isspace(c))
			continue;
		if (c == '=')
			pad++;
		else if (pad || !(g_ascii_isalnum(c) || c == '+' || c == '/'))
			return 0;
		else
			n++;
	}
	if (n == 0 || pad > 2 || (pad ? (n + pad) % 4 != 0 : n % 4 == 1 || (!unpadded_ok && n % 4)))
		return 0;
	return n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
}

guchar *
gs_base64_decode(const char *s, size_t len, int unpadded_ok, size_t *out_len)
{
	size_t size = gs_base64_size(s, len, unpadded_ok), n;
	guchar *out;
	gint state = 0;
	guint save = 0;

	if (size == 0)
		return NULL;
	/* GLib's decoder skips the white space; a last group without its
	 * padding is completed by a second step */
	out = g_malloc(size + 4);
	n = g_base64_decode_step(s, len, out, &state, &save);
	if (state > 0)
		n += g_base64_decode_step("==", (gsize) (4 - state), out + n, &state, &save);
	out[n] = 0;
	*out_len = n;
	return out;
}

char *
gs_excerpt(const char *s, size_t len)
{
	GString *g = g_string_new(NULL);
	size_t i;

	for (i = 0; i < len && i < 48; i++) {
		unsigned char c = (unsigned char) s[i];
		if (c >= 0x20 && c < 0x7f)
			g_string_append_c(g, (char) c);
		else
			g_string_append_printf(g, "\\x%02x", c);
	}
	if (i < len)
		g_string_append(g, "...");
	return g_string_free(g, FALSE);
}

/* What Export-Csv and a shallow ConvertTo-Json leave of a byte[]: its
 * type name ("System.Byte[]",
 * "Microsoft.Exchange.Data.MultiValuedProperty`1[System.Byte[]]").
 * Base64 has no '.', '[', ']' or '`'. */
static int
is_type_name(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] == '.' || s[i] == '[' || s[i] == ']' || s[i] == '`')
			return 1;
	return 0;
}

const char *
gs_record_add_cert_text(gs_record *rec, const char *attribute, const char *text, size_t len)
{
	if (is_type_name(text, len))
		return "certificate bytes lost by the export (use scripts/Export-GalSmime.ps1)";
	if (!gs_record_add_cert_b64(rec, attribute, text, len))
		return "not base64";
	return NULL;
}

void
gs_record_add_external(gs_record *rec, const char *address)
{
	/* "SMTP:" would make it the primary */
	if (!g_ascii_strncasecmp(address, "smtp:", 5))
		address += 5;
	gs_record_add_address(rec, address, -1, 0);
}

void
gs_record_add_held(gs_record *rec)
{
	if (rec->external)
		gs_record_add_external(rec, rec->external);
	if (rec->primary)
		gs_record_add_address(rec, rec->primary, -1, 1);
}

int
gs_record_has_content(const gs_record *rec)
{
	return rec->name || rec->alias || rec->display_name || rec->addresses->len || rec->certs->len;
}

void
gs_record_where(gs_record *rec, const gs_reader *r, unsigned long line)
{
	if (line)
		g_snprintf(rec->where, sizeof rec->where, "%s:%lu", gs_reader_name(r), line);
	else
		g_snprintf(rec->where, sizeof rec->where, "%s: byte %" G_GUINT64_FORMAT,
			   gs_reader_name(r), gs_reader_offset(r));
}

/* ---- the import ---- */

gs_status
gs_import_bad(gs_import_state *st, const char *where, char **errmsg, const char *fmt, ...)
{
	va_list ap;
	gs_status rc;

	va_start(ap, fmt);
	rc = gs_import_vbad(st, where, errmsg, fmt, ap);
	va_end(ap);
	return rc;
}

gs_status
gs_import_vbad(gs_import_state *st, const char *where, char **errmsg, const char *fmt, va_list ap)
{
	char *reason = g_strdup_vprintf(fmt, ap);

	if (st->opts.skip_bad) {
		st->stats.skipped++;
		if (st->opts.on_skip)
			st->opts.on_skip(st->opts.cb_data, where, reason);
		g_free(reason);
		return GS_OK;
	}
	gs_fail(errmsg, GS_E_MALFORMED, "%s: %s", where, reason);
	g_free(reason);
	return GS_E_MALFORMED;
}

gs_status
gs_import_check_named(const gs_reader *r, unsigned long named, unsigned long skipped, const char *why,
		      char **errmsg)
{
	if (named > 0)
		return GS_OK;
	if (skipped > 0)
		return gs_fail(errmsg, GS_E_MALFORMED, "%s: no entry could be read (%lu skipped)",
			       gs_reader_name(r), skipped);
	return gs_fail(errmsg, GS_E_MALFORMED, "%s: no directory entry in the file (%s)",
		       gs_reader_name(r), why);
}

void
gs_import_progress(gs_import_state *st, gs_reader *r)
{
	uint64_t off = gs_reader_offset(r);

	if (st->opts.progress && off - st->progress_at >= (1u << 20)) {
		st->progress_at = off;
		st->opts.progress(st->opts.cb_data, off, gs_reader_size(r), st->stats.entries);
	}
}

/* Store the certificates of one decoded value and remember them. */
static gs_status
store_value(gs_import_state *st, const unsigned char *digest, STACK_OF(X509) *certs,
	    const char *caps, value_result **out, char **errmsg)
{
	value_result *v = g_new0(value_result, 1);
	gs_status rc = GS_OK;
	int i;

	v->ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
	for (i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);
		int64_t id;
		int is_new;

		if ((rc = gs_store_put_cert(st->s, x, st->source_id, &id, &is_new, errmsg)) != GS_OK)
			break;
		if (is_new)
			st->stats.certs_new++;
		else
			st->stats.certs_known++;
		/* the user's certificates link to the entry; CAs are the chain */
		if (!gs_cert_is_ca(x)) {
			guint k;
			int dup = 0;

			/* Outlook's blob names the same certificate for signing and
			 * for key exchange: one link */
			for (k = 0; k < v->ids->len && !dup; k++)
				dup = g_array_index(v->ids, int64_t, k) == id;
			if (dup)
				continue;
			g_array_append_val(v->ids, id);
			if (caps && (rc = gs_store_put_capabilities(st->s, id, caps, errmsg)) != GS_OK)
				break;
		}
	}
	if (rc != GS_OK) {
		value_result_free(v);
		return rc;
	}
	g_hash_table_insert(st->values, g_memdup2(digest, SHA256_DIGEST_LENGTH), v);
	*out = v;
	return GS_OK;
}

/* Store a value that is one certificate, read without its key. */
static gs_status
store_lite(gs_import_state *st, const unsigned char *digest, const unsigned char *der, size_t len,
	   const gs_certlite *l, value_result **out, char **errmsg)
{
	value_result *v = g_new0(value_result, 1);
	int64_t id;
	int is_new, is_ca;
	gs_status rc;

	v->ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
	/* the value is the certificate: its digest is the certificate's */
	if ((rc = gs_store_put_cert_lite(st->s, der, len, digest, l, st->source_id, &id, &is_new,
					 &is_ca, errmsg)) != GS_OK) {
		value_result_free(v);
		return rc;
	}
	if (is_new)
		st->stats.certs_new++;
	else
		st->stats.certs_known++;
	/* a CA certificate in a person's attribute is chain, not theirs */
	if (!is_ca)
		g_array_append_val(v->ids, id);
	g_hash_table_insert(st->values, g_memdup2(digest, SHA256_DIGEST_LENGTH), v);
	*out = v;
	return GS_OK;
}

gs_status
gs_import_record(gs_import_state *st, gs_record *rec, char **errmsg)
{
	unsigned n = rec->certs->len, i, k;
	value_result **results = g_new0(value_result *, n + 1);
	STACK_OF(X509) **decoded = g_new0(STACK_OF(X509) *, n + 1);
	gs_certlite **lites = g_new0(gs_certlite *, n + 1);
	char **caps = g_new0(char *, n + 1);
	unsigned char (*digests)[SHA256_DIGEST_LENGTH] = g_malloc0((n + 1) * SHA256_DIGEST_LENGTH);
	gs_status rc = GS_OK;
	int64_t entry_id;

	if (st->failed) {
		rc = gs_fail(errmsg, GS_E_PROGRAMMER, "import already failed");
		goto out;
	}
	if (rec->overflow) {
		rc = gs_import_bad(st, rec->where, errmsg, "more than %d addresses or certificate values",
				   GS_MAX_RECORD_VALUES);
		goto out;
	}
	if (st->only) {
		/* an answer about addresses nobody asked for: not kept */
		for (i = 0; i < rec->addresses->len && !g_hash_table_contains(st->only, rec->addresses->pdata[i]); i++)
			;
		if (i == rec->addresses->len) {
			st->stats.dropped++;
			goto out;
		}
	}
	/* names and addresses reach people: a control character in one
	 * (CR, LF, ESC, BEL) is an attack on their terminal */
	if (!rec->bad_text)
		rec->bad_text = has_control(rec->name)	       ? "the name"
				: has_control(rec->alias)      ? "the alias"
				: has_control(rec->display_name) ? "the display name"
				: has_control(rec->kind)       ? "the kind"
							       : NULL;
	if (rec->bad_text) {
		rc = gs_import_bad(st, rec->where, errmsg, "a control character in %s", rec->bad_text);
		goto out;
	}
	/* first decode every value, so that a bad one skips the record whole */
	for (i = 0; i < n; i++) {
		gs_record_cert *c = rec->certs->pdata[i];
		gsize len;
		const unsigned char *p = g_bytes_get_data(c->value, &len);
		char *why = NULL;

		SHA256(p, len, digests[i]);
		if ((results[i] = g_hash_table_lookup(st->values, digests[i])))
			continue;
		/* the same value twice in one record (UserCertificate and
		 * UserSMIMECertificate set from the same bytes): decoded and
		 * stored once, linked under each attribute */
		for (k = 0; k < i; k++)
			if (!memcmp(digests[k], digests[i], SHA256_DIGEST_LENGTH))
				break;
		if (k < i)
			continue;
		/* the common case, one DER certificate, without decoding its key */
		if ((lites[i] = gs_certlite_parse(p, len)))
			continue;
		if (gs_decode_cert_value(p, len, &decoded[i], &caps[i], &why) != GS_OK) {
			rc = gs_import_bad(st, rec->where, errmsg, "%s value %u: %s", c->attribute, i + 1, why);
			g_free(why);
			ERR_clear_error();
			goto out; /* skipped (GS_OK) or failed */
		}
	}
	for (i = 0; i < n; i++) {
		if (results[i])
			continue;
		if (!lites[i] && !decoded[i]) {
			/* a repeat of an earlier value of this record */
			results[i] = g_hash_table_lookup(st->values, digests[i]);
			if (!results[i]) {
				rc = gs_fail(errmsg, GS_E_INTERNAL, "%s: a repeated value was not stored", rec->where);
				goto fail;
			}
			continue;
		}
		if (lites[i]) {
			gsize len;
			const unsigned char *p = g_bytes_get_data(((gs_record_cert *) rec->certs->pdata[i])->value, &len);
			rc = store_lite(st, digests[i], p, len, lites[i], &results[i], errmsg);
		} else {
			rc = store_value(st, digests[i], decoded[i], caps[i], &results[i], errmsg);
		}
		if (rc != GS_OK)
			goto fail;
	}
	if (rec->addresses->len == 0 && n == 0) {
		/* neither an address nor a certificate: nothing to encrypt to */
		st->stats.dropped++;
		goto out;
	}
	if (!rec->name && !rec->display_name && !rec->alias && rec->addresses->len == 0)
		goto out; /* nothing to call it by: its certificates are stored, no entry */
	if ((rc = gs_store_put_entry(st->s, st->source_id, rec->kind, rec->name, rec->alias,
				     rec->display_name, &entry_id, errmsg)) != GS_OK)
		goto fail;
	st->stats.entries++;
	for (i = 0; i < rec->addresses->len; i++) {
		if ((rc = gs_store_put_entry_address(st->s, entry_id, rec->addresses->pdata[i], i == 0,
						     errmsg)) != GS_OK)
			goto fail;
		st->stats.addresses++;
	}
	for (i = 0; i < n; i++) {
		gs_record_cert *c = rec->certs->pdata[i];
		for (k = 0; k < results[i]->ids->len; k++) {
			if ((rc = gs_store_put_entry_cert(st->s, entry_id,
							  g_array_index(results[i]->ids, int64_t, k),
							  c->attribute, errmsg)) != GS_OK)
				goto fail;
			st->stats.entry_certs++;
		}
	}
	goto out;
fail:
	st->failed = 1;
out:
	for (i = 0; i < n; i++) {
		sk_X509_pop_free(decoded[i], X509_free);
		gs_certlite_free(lites[i]);
		g_free(caps[i]);
	}
	g_free(decoded);
	g_free(lites);
	g_free(caps);
	g_free(results);
	g_free(digests);
	return rc;
}

gs_status
gs_import_bare_certs(gs_import_state *st, STACK_OF(X509) *certs, char **errmsg)
{
	int i;

	for (i = 0; i < sk_X509_num(certs); i++) {
		int64_t id;
		int is_new;
		gs_status rc = gs_store_put_cert(st->s, sk_X509_value(certs, i), st->source_id, &id,
						 &is_new, errmsg);
		if (rc != GS_OK) {
			st->failed = 1;
			return rc;
		}
		if (is_new)
			st->stats.certs_new++;
		else
			st->stats.certs_known++;
	}
	return GS_OK;
}

gs_status
gs_parse_certs(gs_import_state *st, gs_reader *r, char **errmsg)
{
	GByteArray *all = g_byte_array_new();
	STACK_OF(X509) *certs = NULL;
	unsigned char buf[65536];
	gs_status rc;
	ssize_t n;

	while ((n = gs_reader_read(r, buf, sizeof buf)) > 0) {
		if (all->len + (size_t) n > GS_MAX_RECORD) {
			g_byte_array_unref(all);
			return gs_fail(errmsg, GS_E_LIMIT, "%s: certificate file larger than %zu bytes",
				       gs_reader_name(r), GS_MAX_RECORD);
		}
		g_byte_array_append(all, buf, (guint) n);
	}
	if (n < 0) {
		g_byte_array_unref(all);
		return gs_fail(errmsg, GS_E_IO, "%s: %s", gs_reader_name(r), g_strerror(errno));
	}
	rc = gs_read_certificates(all->data, all->len, &certs, errmsg);
	g_byte_array_unref(all);
	if (rc == GS_OK) {
		rc = gs_import_bare_certs(st, certs, errmsg);
		sk_X509_pop_free(certs, X509_free);
	} else if (errmsg && *errmsg) {
		char *m = g_strdup_printf("%s: %s", gs_reader_name(r), *errmsg);
		g_free(*errmsg);
		*errmsg = m;
	}
	return rc;
}

gs_status
gs_gal_import_begin(gs_store *s, const char *source, const gs_gal_import_opts *opts,
		    gs_gal_import **out, char **errmsg)
{
	gs_gal_import *imp;
	gs_status rc;

	if (!s || !source || !*source || !out)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_gal_import_begin: bad arguments");
	*out = NULL;
	if ((rc = gs_store_begin(s, errmsg)) != GS_OK)
		return rc;
	imp = g_new0(gs_gal_import, 1);
	imp->s = s;
	imp->source = g_strdup(source);
	if (opts)
		imp->opts = *opts;
	imp->values = g_hash_table_new_full(digest_hash, digest_equal, g_free, value_result_free);
	if ((opts && opts->older_name && strcmp(opts->older_name, source) &&
	     (rc = gs_store_source_rename(s, opts->older_name, source, &imp->stats.took_over, errmsg)) !=
		     GS_OK) ||
	    (rc = gs_store_source(s, source, "gal", &imp->source_id, errmsg)) != GS_OK ||
	    (rc = gs_store_source_clear(s, imp->source_id, &imp->stats.removed, errmsg)) != GS_OK) {
		gs_gal_import_abort(imp);
		return rc;
	}
	*out = imp;
	return GS_OK;
}

gs_import_state *
gs_import_append_begin(gs_store *s, int64_t source_id, GHashTable *only)
{
	gs_gal_import *imp = g_new0(gs_gal_import, 1);

	imp->s = s;
	imp->source_id = source_id;
	imp->only = only;
	imp->opts.skip_bad = 1;
	imp->values = g_hash_table_new_full(digest_hash, digest_equal, g_free, value_result_free);
	return imp;
}

void
gs_import_append_end(gs_import_state *imp, unsigned long *entries, unsigned long *skipped)
{
	if (entries)
		*entries = imp->stats.entries;
	if (skipped)
		*skipped = imp->stats.skipped + imp->stats.dropped;
	g_hash_table_destroy(imp->values);
	g_free(imp);
}

static gs_parser_fn
parser_for(gs_gal_format f)
{
	switch (f) {
	case GS_GAL_JSON: return gs_parse_json;
	case GS_GAL_CSV: return gs_parse_csv;
	case GS_GAL_LDIF: return gs_parse_ldif;
	case GS_GAL_VCARD: return gs_parse_vcard;
	case GS_GAL_OAB: return gs_parse_oab;
	case GS_GAL_SST:
	case GS_GAL_P7B:
	case GS_GAL_PEM:
	case GS_GAL_DER: return gs_parse_certs;
	default: return NULL;
	}
}

gs_status
gs_gal_import_file(gs_gal_import *imp, int fd, const char *name, gs_gal_format format,
		   char **errmsg)
{
	int text = format != GS_GAL_OAB && format != GS_GAL_SST && format != GS_GAL_DER &&
		   format != GS_GAL_P7B;
	gs_reader *r;
	gs_parser_fn parse;
	gs_status rc;

	if (!imp || imp->failed)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "the import already failed: abort it");
	r = gs_reader_new(fd, name, text);
	if (format == GS_GAL_AUTO) {
		const unsigned char *head;
		size_t n = gs_reader_peek(r, &head);

		if (n == 0) {
			if ((rc = gs_reader_status(r, errmsg)) == GS_OK)
				rc = gs_fail(errmsg, GS_E_MALFORMED, "%s: empty file", name);
			goto out;
		}
		format = gs_import_detect(head, n);
		if (format == GS_GAL_AUTO) {
			rc = gs_fail(errmsg, GS_E_MALFORMED,
				     "%s: cannot tell the format from the content (give --format)", name);
			goto out;
		}
	}
	parse = parser_for(format);
	rc = parse(imp, r, errmsg);
	if (rc == GS_OK)
		rc = gs_reader_status(r, errmsg);
	if (rc == GS_OK && imp->opts.progress)
		imp->opts.progress(imp->opts.cb_data, gs_reader_offset(r), gs_reader_size(r),
				   imp->stats.entries);
out:
	if (rc != GS_OK)
		imp->failed = 1;
	gs_reader_free(r);
	return rc;
}

gs_status
gs_gal_import_ldap(gs_gal_import *imp, const gs_ldap_sync_opts *opts, char **errmsg)
{
	gs_status rc;

	if (!imp || imp->failed || !opts)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_gal_import_ldap: no import, or it failed");
	if ((rc = gs_sync_ldap(imp, opts, errmsg)) != GS_OK)
		imp->failed = 1;
	return rc;
}

gs_status
gs_gal_import_commit(gs_gal_import *imp, gs_gal_stats *stats, char **errmsg)
{
	gs_status rc;

	if (!imp)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "no import");
	if (imp->failed) {
		gs_gal_import_abort(imp);
		return gs_fail(errmsg, GS_E_PROGRAMMER, "the import failed: nothing was changed");
	}
	if ((rc = gs_store_gc(imp->s, errmsg)) != GS_OK) {
		gs_gal_import_abort(imp);
		return rc;
	}
	if ((rc = gs_store_commit(imp->s, errmsg)) != GS_OK) {
		imp->failed = 1;
		gs_gal_import_abort(imp);
		return rc;
	}
	if (stats)
		*stats = imp->stats;
	g_hash_table_destroy(imp->values);
	g_free(imp->source);
	g_free(imp);
	return GS_OK;
}

void
gs_gal_import_abort(gs_gal_import *imp)
{
	if (!imp)
		return;
	gs_store_rollback(imp->s);
	/* the anchor cache may have seen rows that are gone now */
	X509_STORE_free(imp->s->anchors);
	imp->s->anchors = NULL;
	g_hash_table_destroy(imp->values);
	g_free(imp->source);
	g_free(imp);
}
