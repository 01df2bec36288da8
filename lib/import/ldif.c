/* ldif.c: RFC 2849 LDIF, as ldifde and ldapsearch export Active
 * Directory (and OpenLDAP directories).
 *
 * OpenLDAP's ldif.h does the LDIF: ldif_read_record gathers one record
 * (its lines, folded lines still folded), ldif_parse_line2 splits a
 * logical line into type and value and undoes base64. Some of its habits
 * do not suit hostile input, so what it reads goes through a filter
 * (ldif_in below) that refuses, before libldap sees them:
 *  - "include: URL" lines, which ldif_read_record follows (it opens
 *    local files); "attr:< URL" values are refused per line below;
 *  - NUL bytes, which make it misread lines (strlen on what fgets read),
 *    and carriage returns inside lines, which its CRLF squashing
 *    mistakes for line ends at its 4096-byte read boundaries;
 *  - records larger than GS_MAX_RECORD: its buffer grows without limit;
 *  - a last line without its newline (a file cut short), which it
 *    takes as whole.
 * The filter hands libldap at most one line per read, so stdio never
 * holds more than the line libldap is working on, and the filter always
 * knows which record that is. A problem ends that record (with an empty
 * line when part of the entry was handed out, else with a temporary end
 * of file), the rest of the record is dropped, and the parser reports it
 * through gs_import_bad: --skip-bad goes on with the next record. */
#include "import.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <stddef.h>
#include <lber.h>
#include <ldap.h>
#include <ldif.h>

/* libldap (and GnuTLS, SASL behind it) is loaded when an LDIF file is
 * read, not when a filter starts (dl.c). */
static struct {
	__typeof__(ldif_read_record) *read_record;
	__typeof__(ldif_parse_line2) *parse_line2;
	__typeof__(ber_memfree) *memfree;
	__typeof__(ber_memrealloc) *memrealloc;
	__typeof__(ldap_str2dn) *str2dn;
	__typeof__(ldap_dnfree) *dnfree;
} ld;

gs_status
gs_dir_entry_load(char **errmsg)
{
	static const gs_symbol syms[] = {
		GS_SYMBOL(ld, read_record, ldif_read_record), GS_SYMBOL(ld, parse_line2, ldif_parse_line2),
		GS_SYMBOL(ld, memfree, ber_memfree), GS_SYMBOL(ld, memrealloc, ber_memrealloc),
		GS_SYMBOL(ld, str2dn, ldap_str2dn), GS_SYMBOL(ld, dnfree, ldap_dnfree),
	};
	return gs_library_load(GS_LIB_LDAP, &ld, syms, G_N_ELEMENTS(syms), errmsg);
}

/* ldif_parse_line2 deletes this byte from values: libldap's
 * CONTINUED_LINE_MARKER, what ldif_getline turns "\n " into. */
#define CONTINUED '\r'

#define CHUNK 65536
/* libldap's LDIF_MAXLINE: ldif_read_record reallocs when less is left */
#define LDIF_LINE 4096

typedef struct ldif_in {
	gs_reader *r;
	char **bufp;              /* ldif_read_record's buffer and its size */
	int *buflenp;
	unsigned char *chunk;     /* raw (converted) input */
	size_t chunk_len, chunk_pos;
	GByteArray *buf;          /* the line being handed out, then a newline */
	size_t pos;
	unsigned long lineno;
	/* the paragraph (record) being handed out, as ldif_read_record sees it */
	int in_par, par_comment, par_entry;
	unsigned long par_line;   /* its first line (comments included) */
	unsigned long entry_line; /* its first line that is not a comment */
	size_t par_bytes;
	/* a problem, for the parser to report */
	char *why;
	unsigned long why_line, why_record;
	int truncated;            /* libldap got part of that record */
	int blocked;              /* hand out nothing until the parser has seen it */
	int blank_out;            /* hand out an empty line first */
	int discard;              /* drop lines up to the next empty one */
	int eof;
} ldif_in;

static void G_GNUC_PRINTF(3, 4)
in_problem(ldif_in *in, unsigned long line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	in->why = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	in->why_line = line;
	in->truncated = in->in_par && in->par_entry;
	in->why_record = in->truncated ? in->entry_line : line;
	in->blank_out = in->truncated;
	in->blocked = 1;
	in->discard = 1;
	in->in_par = 0;
	/* the offending line is never handed out */
	g_byte_array_set_size(in->buf, 0);
	in->pos = 0;
}

/* The input's next line into in->buf, without its LF (and a CR before
 * it). Returns 0 at the end of the input (or on a reader error, which
 * the parser asks the reader about). A line longer than GS_MAX_RECORD is
 * read to its end but not kept (*too_long); *no_newline says the input
 * ended inside the line. gs_reader_line would hide that, and a file cut
 * short in the middle of a line is the common truncation. */
static int
in_getline(ldif_in *in, int *too_long, int *no_newline)
{
	GByteArray *b = in->buf;

	*too_long = *no_newline = 0;
	g_byte_array_set_size(b, 0);
	for (;;) {
		const unsigned char *p, *nl;
		size_t avail, k;

		if (in->chunk_pos == in->chunk_len) {
			ssize_t n = gs_reader_read(in->r, in->chunk, CHUNK);
			if (n <= 0) {
				if (b->len == 0 && !*too_long)
					return 0;
				*no_newline = 1;
				break;
			}
			in->chunk_len = (size_t) n;
			in->chunk_pos = 0;
		}
		p = in->chunk + in->chunk_pos;
		avail = in->chunk_len - in->chunk_pos;
		nl = memchr(p, '\n', avail);
		k = nl ? (size_t) (nl - p) : avail;
		if (!*too_long && b->len + k > GS_MAX_RECORD) {
			*too_long = 1;
			g_byte_array_set_size(b, 0);
		}
		if (!*too_long)
			g_byte_array_append(b, p, (guint) k);
		in->chunk_pos += k + (nl ? 1 : 0);
		if (nl)
			break;
	}
	in->lineno++;
	if (b->len > 0 && b->data[b->len - 1] == '\r')
		g_byte_array_set_size(b, b->len - 1);
	return 1;
}

/* Take the next line, check it, make it the one handed out. Sets eof
 * at the end, or a problem. */
static void
in_next(ldif_in *in)
{
	for (;;) {
		int too_long, no_newline, first;
		const char *p;
		size_t len;

		if (!in_getline(in, &too_long, &no_newline)) {
			in->eof = 1;
			return;
		}
		p = (const char *) in->buf->data;
		len = in->buf->len;
		if (in->discard) {
			if (len == 0 && !too_long)
				in->discard = 0;
			continue;
		}
		if (len == 0 && !too_long) {
			in->in_par = 0;
		} else {
			if (!in->in_par) {
				in->in_par = 1;
				in->par_line = in->lineno;
				in->par_bytes = 0;
				in->par_comment = in->par_entry = 0;
			}
			if (too_long) {
				in_problem(in, in->lineno, "line longer than %zu bytes", (size_t) GS_MAX_RECORD);
				return;
			}
			/* the entry's first line, by ldif_read_record's rules */
			first = !in->par_entry && p[0] != '#' && !(in->par_comment && p[0] == ' ');
			in->par_bytes += len + 1;
			if (no_newline) {
				in_problem(in, in->lineno, "the file ends inside a line (truncated?)");
				return;
			}
			if (memchr(p, '\0', len)) {
				in_problem(in, in->lineno, "NUL byte in the text (not an LDIF file?)");
				return;
			}
			if (memchr(p, '\r', len)) {
				in_problem(in, in->lineno, "carriage return inside a line");
				return;
			}
			if (in->par_bytes > GS_MAX_RECORD) {
				in_problem(in, in->lineno, "record longer than %zu bytes", (size_t) GS_MAX_RECORD);
				return;
			}
			/* libldap would open what an include: line names, and
			 * skip a first line starting with a digit */
			if (len >= 8 && !g_ascii_strncasecmp(p, "include:", 8)) {
				in_problem(in, in->lineno, "include: lines are refused (galsmime never reads "
							   "files or URLs named in its input)");
				return;
			}
			if (first && g_ascii_isdigit(p[0])) {
				in_problem(in, in->lineno, "a record starts with dn:");
				return;
			}
			if (!in->par_entry && p[0] == '#')
				in->par_comment = 1;
			if (first) {
				in->par_entry = 1;
				in->entry_line = in->lineno;
			}
			/* ldif_read_record grows its buffer by about one line
			 * each time it runs short: quadratic wherever realloc
			 * copies (AddressSanitizer always does). Keep it ahead,
			 * doubling, through the pointers it reads on every line. */
			if ((size_t) *in->buflenp <= in->par_bytes + LDIF_LINE) {
				size_t want = MAX(in->par_bytes + 2 * LDIF_LINE, (size_t) *in->buflenp * 2);
				char *nb;

				want = MAX(MIN(want, (size_t) GS_MAX_RECORD + 4 * LDIF_LINE),
					   in->par_bytes + 2 * LDIF_LINE);
				if (!(nb = ld.memrealloc(*in->bufp, (ber_len_t) want))) {
					in_problem(in, in->lineno, "out of memory for a record of %zu bytes",
						   in->par_bytes);
					return;
				}
				*in->bufp = nb;
				*in->buflenp = (int) want;
			}
		}
		/* hand it out with its newline */
		g_byte_array_append(in->buf, (const guint8 *) "\n", 1);
		in->pos = 0;
		return;
	}
}

static ssize_t
in_read(void *cookie, char *out, size_t size)
{
	ldif_in *in = cookie;
	size_t n;

	if (size == 0)
		return 0;
	if (in->pos >= in->buf->len && !in->blocked && !in->eof)
		in_next(in);
	if (in->blank_out) {
		in->blank_out = 0;
		out[0] = '\n';
		return 1;
	}
	if (in->blocked || in->eof || in->pos >= in->buf->len)
		return 0;
	/* the rest of the line, never more */
	n = MIN(size, in->buf->len - in->pos);
	memcpy(out, in->buf->data + in->pos, n);
	in->pos += n;
	return (ssize_t) n;
}

/* ---- one record ---- */

struct gs_dir_entry {
	gs_import_state *st;
	gs_record *rec;
	const char *file;
	unsigned long where_line;
	GPtrArray *mail, *proxies, *targets;
	char *dn;
	int have_dn, have_cn, kind_rank;
	char *last_class;
	char *kind;               /* galsmimeKind: what gal publish wrote */
};
typedef gs_dir_entry entry;

static const char *const kinds[] = { "inetOrgPerson", "user", "contact", "group" };

static gs_status G_GNUC_PRINTF(4, 5)
bad(entry *e, unsigned long line, char **errmsg, const char *fmt, ...)
{
	char where[sizeof e->rec->where];
	va_list ap;
	char *why;
	gs_status rc;

	va_start(ap, fmt);
	why = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_snprintf(where, sizeof where, "%s:%lu", e->file, e->where_line);
	if (line && line != e->where_line)
		rc = gs_import_bad(e->st, where, errmsg, "line %lu: %s", line, why);
	else
		rc = gs_import_bad(e->st, where, errmsg, "%s", why);
	g_free(why);
	return rc;
}

/* Text values are UTF-8 without NUL bytes: a NUL would cut
 * "a@b\0.evil" short further on, and invalid UTF-8 would be dropped. */
static const char *
text_problem(const struct berval *v)
{
	if (memchr(v->bv_val, '\0', v->bv_len))
		return "NUL byte in a text value";
	if (!g_utf8_validate(v->bv_val, (gssize) v->bv_len, NULL))
		return "text value is not UTF-8";
	return NULL;
}

/* The value of the dn's first RDN ("Alice Example" in
 * "CN=Alice Example,OU=Users,DC=example,DC=org"), or NULL. */
static char *
dn_first_value(const char *dn)
{
	LDAPDN parsed = NULL;
	char *out = NULL;

	if (ld.str2dn(dn, &parsed, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || !parsed)
		return NULL;
	if (parsed[0] && parsed[0][0]) {
		LDAPAVA *ava = parsed[0][0];
		if (!(ava->la_flags & LDAP_AVA_BINARY) && ava->la_value.bv_val &&
		    !memchr(ava->la_value.bv_val, '\0', ava->la_value.bv_len) &&
		    g_utf8_validate(ava->la_value.bv_val, (gssize) ava->la_value.bv_len, NULL))
			out = g_strndup(ava->la_value.bv_val, ava->la_value.bv_len);
	}
	ld.dnfree(parsed);
	return out;
}

static int
is(const char *type, const char *name)
{
	return !g_ascii_strcasecmp(type, name);
}

/* The certificate attributes, as they are stored (any case in, options
 * such as ;binary already cut): userCertificate and userSMIMECertificate
 * (Active Directory, OpenLDAP), and msExchangeCertificate, DavMail's LDAP
 * name for what EWS calls MSExchangeCertificate: the certificates
 * Exchange publishes for the recipient (AD's userCertificate), each a DER
 * X.509 certificate or a PKCS#7 bundle, decoded as the others are. */
static const char *
cert_attribute(const char *type)
{
	static const char *const names[] = { "userCertificate", "userSMIMECertificate",
					      "msExchangeCertificate" };
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(names); i++)
		if (is(type, names[i]))
			return names[i];
	return NULL;
}

/* One attribute of an entry. Returns GS_OK, or what bad() said (which
 * is GS_OK with *dropped set when the record is skipped). */
static gs_status
attribute(entry *e, const char *type, struct berval *v, unsigned long line, int *dropped,
	  char **errmsg)
{
	gs_record *rec = e->rec;
	const char *why, *cert;
	char *x;
	size_t i;
	gs_status rc;

	if ((cert = cert_attribute(type))) {
		/* stored under these spellings: resolution ranks userSMIMECertificate first */
		if (v->bv_len > 0)
			gs_record_add_cert(rec, cert, v->bv_val, v->bv_len);
		return GS_OK;
	}
	if (!is(type, "dn") && !is(type, "changetype") && !is(type, "objectClass") && !is(type, "cn") &&
	    !is(type, "displayName") && !is(type, "mail") && !is(type, "mailNickname") &&
	    !is(type, "proxyAddresses") && !is(type, "targetAddress") && !is(type, "galsmimeKind"))
		return GS_OK; /* not ours */
	if ((why = text_problem(v))) {
		*dropped = 1;
		return bad(e, line, errmsg, "%s: %s", type, why);
	}
	if (is(type, "dn")) {
		*dropped = 1;
		return bad(e, line, errmsg, "a second dn: in one record (a missing empty line?)");
	}
	if (is(type, "changetype")) {
		if (!g_ascii_strcasecmp(v->bv_val, "add"))
			return GS_OK; /* an entry all the same */
		x = gs_excerpt(v->bv_val, v->bv_len);
		*dropped = 1;
		rc = bad(e, line, errmsg, "change record (changetype: %s), not a directory entry", x);
		g_free(x);
		return rc;
	}
	if (is(type, "objectClass")) {
		for (i = 0; i < G_N_ELEMENTS(kinds); i++)
			if (!g_ascii_strcasecmp(v->bv_val, kinds[i]) && (int) i < e->kind_rank) {
				e->kind_rank = (int) i;
				gs_record_set(&rec->kind, kinds[i], -1);
			}
		if (v->bv_len <= 64) {
			g_free(e->last_class);
			e->last_class = g_strndup(v->bv_val, v->bv_len);
		}
	} else if (is(type, "cn")) {
		if (!e->have_cn)
			gs_record_set(&rec->name, v->bv_val, (ssize_t) v->bv_len);
		e->have_cn = 1;
	} else if (is(type, "displayName")) {
		if (!rec->display_name)
			gs_record_set(&rec->display_name, v->bv_val, (ssize_t) v->bv_len);
	} else if (is(type, "mailNickname")) {
		if (!rec->alias)
			gs_record_set(&rec->alias, v->bv_val, (ssize_t) v->bv_len);
	} else if (is(type, "mail")) {
		g_ptr_array_add(e->mail, g_strndup(v->bv_val, v->bv_len));
	} else if (is(type, "proxyAddresses")) {
		g_ptr_array_add(e->proxies, g_strndup(v->bv_val, v->bv_len));
	} else if (is(type, "targetAddress")) {
		g_ptr_array_add(e->targets, g_strndup(v->bv_val, v->bv_len));
	} else if (is(type, "galsmimeKind")) {
		if (!e->kind && v->bv_len <= 64)
			e->kind = g_strndup(v->bv_val, v->bv_len);
	}
	return GS_OK;
}

static void
entry_begin(entry *e, gs_import_state *st, gs_record *rec, const char *file, unsigned long where)
{
	memset(e, 0, sizeof *e);
	gs_record_clear(rec);
	e->st = st;
	e->rec = rec;
	e->file = file;
	e->where_line = where;
	e->kind_rank = G_N_ELEMENTS(kinds);
	e->mail = g_ptr_array_new_with_free_func(g_free);
	e->proxies = g_ptr_array_new_with_free_func(g_free);
	e->targets = g_ptr_array_new_with_free_func(g_free);
}

static void
entry_dispose(entry *e)
{
	g_ptr_array_unref(e->mail);
	g_ptr_array_unref(e->proxies);
	g_ptr_array_unref(e->targets);
	g_free(e->dn);
	g_free(e->last_class);
	g_free(e->kind);
}

gs_dir_entry *
gs_dir_entry_new(gs_import_state *st, gs_record *rec, const char *file, unsigned long where)
{
	entry *e = g_new(entry, 1);

	entry_begin(e, st, rec, file, where);
	return e;
}

void
gs_dir_entry_free(gs_dir_entry *e)
{
	if (!e)
		return;
	entry_dispose(e);
	g_free(e);
}

gs_status
gs_dir_entry_dn(gs_dir_entry *e, const char *dn, size_t len, unsigned long line, int *dropped,
		char **errmsg)
{
	struct berval v = { (ber_len_t) len, (char *) dn };

	if (text_problem(&v)) {
		*dropped = 1;
		return bad(e, line, errmsg, "dn: %s", text_problem(&v));
	}
	e->have_dn = 1;
	e->dn = g_strndup(dn, len);
	return GS_OK;
}

gs_status
gs_dir_entry_attribute(gs_dir_entry *e, const char *type, const char *value, size_t len,
		       unsigned long line, int *dropped, char **errmsg)
{
	struct berval v = { (ber_len_t) len, (char *) value };

	return attribute(e, type, &v, line, dropped, errmsg);
}

gs_status
gs_dir_entry_end(gs_dir_entry *e, char **errmsg)
{
	gs_record *rec = e->rec;
	guint i;

	if (!e->have_cn && e->dn && *e->dn) {
		char *n = dn_first_value(e->dn);
		gs_status rc;

		if (!n) {
			char *x = gs_excerpt(e->dn, strlen(e->dn));
			rc = bad(e, 0, errmsg, "no cn, and the dn is not a distinguished name: %s", x);
			g_free(x);
			return rc;
		}
		gs_record_set(&rec->name, n, -1);
		g_free(n);
	}
	/* the kind gal publish kept beside inetOrgPerson */
	if (e->kind)
		gs_record_set(&rec->kind, e->kind, -1);
	if (!rec->kind && e->last_class)
		gs_record_set(&rec->kind, e->last_class, -1);
	/* Exchange's primary is the "SMTP:" proxy address; mail mirrors it,
	 * and is the primary where there are no proxy addresses; a
	 * contact's targetAddress (its external address) comes before its
	 * "smtp:" aliases. The driver puts an "SMTP:" address first
	 * whenever it comes, so the order in goes: mail, targets, proxies. */
	for (i = 0; i < e->mail->len; i++)
		gs_record_add_address(rec, e->mail->pdata[i], -1, i == 0);
	for (i = 0; i < e->targets->len; i++)
		gs_record_add_external(rec, e->targets->pdata[i]);
	for (i = 0; i < e->proxies->len; i++)
		gs_record_add_address(rec, e->proxies->pdata[i], -1, 0);
	/* containers, groups without mail...: nobody to encrypt to */
	if (rec->addresses->len == 0 && rec->certs->len == 0)
		return GS_OK;
	return gs_import_record(e->st, rec, errmsg);
}

/* Parse the record libldap gathered in buf (its first line is the
 * paragraph's first line, in->par_line) and hand it to the driver.
 * *version_ok says a version: line may still come (first record). */
static gs_status
record(gs_import_state *st, ldif_in *in, char *buf, gs_record *rec, int *version_ok,
       int *entries, char **errmsg)
{
	entry e;
	unsigned long ln = in->par_line;
	char *p = buf;
	gs_status rc = GS_OK;
	int dropped = 0, lines = 0, trailer = 0;

	entry_begin(&e, st, rec, gs_reader_name(in->r), in->entry_line);

	while (*p && rc == GS_OK && !dropped) {
		char *line = p, *colon, *semi, *s, *d, *name;
		unsigned long line_no = ln;
		struct berval type, value;
		int freeval = 0;

		/* one logical line: continuation lines folded in as ldif_getline
		 * does (newline and space become markers ldif_parse_line2
		 * deletes from values), physical lines counted for messages */
		for (;;) {
			char *nl = strchr(p, '\n');
			if (!nl) {
				p += strlen(p);
				break;
			}
			ln++;
			if (nl[1] == ' ') {
				nl[0] = nl[1] = CONTINUED;
				p = nl + 2;
				continue;
			}
			*nl = '\0';
			p = nl + 1;
			break;
		}
		if (*line == '#')
			continue; /* a comment */
		colon = strchr(line, ':');
		if (!colon) {
			char *x = gs_excerpt(line, strlen(line));
			dropped = 1;
			rc = bad(&e, line_no, errmsg, "not an attribute line (no ':'): %s", x);
			g_free(x);
			break;
		}
		/* ldif_parse_line2 would fetch it (file: URLs read local files) */
		if (colon[1] == '<') {
			char *x = gs_excerpt(line, (size_t) (colon - line));
			dropped = 1;
			rc = bad(&e, line_no, errmsg, "%s:< names a file or URL: refused (galsmime never reads "
						      "files or URLs named in its input)", g_strstrip(x));
			g_free(x);
			break;
		}
		/* libldap's base64 decoder stops at the first '=' and takes '='
		 * for data at the start of a group: check the value whole
		 * first (the markers of folded lines are white space) */
		if ((colon[1] == ':' && !gs_base64_size(colon + 2, strlen(colon + 2), 0)) ||
		    ld.parse_line2(line, &type, &value, &freeval) != 0) {
			char *x = gs_excerpt(line, (size_t) (colon - line));
			dropped = 1;
			rc = bad(&e, line_no, errmsg, "%s: bad base64 value", g_strstrip(x));
			g_free(x);
			break;
		}
		if (freeval) { /* a fetched URL: cannot happen, refused above */
			ld.memfree(value.bv_val);
			dropped = 1;
			rc = bad(&e, line_no, errmsg, "URL value refused");
			break;
		}
		/* a type folded across lines keeps the markers: delete them */
		for (s = d = type.bv_val; *s; s++)
			if (*s != CONTINUED)
				*d++ = *s;
		*d = '\0';
		name = type.bv_val;
		/* attribute options: userCertificate;binary */
		if ((semi = strchr(name, ';')))
			*semi = '\0';

		if (lines++ == 0) {
			/* a record starts with dn:, the first one maybe with version: */
			if (*version_ok && is(name, "version")) {
				if (value.bv_len != 1 || value.bv_val[0] != '1') {
					char *x = gs_excerpt(value.bv_val, value.bv_len);
					dropped = 1;
					rc = bad(&e, line_no, errmsg, "unsupported LDIF version %s", x);
					g_free(x);
				}
				lines = 0;
				*version_ok = 0;
				continue;
			}
			/* ldapsearch's search references and its closing
			 * "search: N / result: N text" are no entries; a result
			 * other than 0 says the export stopped short */
			if (is(name, "ref") || is(name, "search")) {
				trailer = 1;
				continue;
			}
			if (!is(name, "dn")) {
				char *x = gs_excerpt(name, strlen(name));
				dropped = 1;
				rc = bad(&e, line_no, errmsg, "a record starts with dn:, not %s:", x);
				g_free(x);
				break;
			}
			e.where_line = line_no;
			gs_record_where(rec, in->r, line_no);
			rc = gs_dir_entry_dn(&e, value.bv_val, value.bv_len, line_no, &dropped, errmsg);
			if (dropped)
				break;
			continue;
		}
		if (trailer) {
			if (is(name, "result") && (value.bv_len == 0 || value.bv_val[0] != '0' ||
						   (value.bv_len > 1 && value.bv_val[1] != ' '))) {
				char *x = gs_excerpt(value.bv_val, value.bv_len);
				dropped = 1;
				rc = bad(&e, line_no, errmsg, "the search ended with result %s: the export is "
							      "incomplete", x);
				g_free(x);
			}
			continue;
		}
		rc = attribute(&e, name, &value, line_no, &dropped, errmsg);
	}
	*version_ok = 0;
	if (rc != GS_OK || dropped) {
		if (dropped)
			(*entries)++; /* seen, and skipped */
		goto out;
	}
	if (!e.have_dn)
		goto out; /* only a version: line */
	(*entries)++;
	rc = gs_dir_entry_end(&e, errmsg);
out:
	entry_dispose(&e);
	return rc;
}

gs_status
gs_parse_ldif(gs_import_state *st, gs_reader *r, char **errmsg)
{
	cookie_io_functions_t io = { in_read, NULL, NULL, NULL };
	ldif_in in = { 0 };
	LDIFFP lfp = { 0 };
	gs_record rec;
	char *buf = NULL;
	int buflen = 0, version_ok = 1, entries = 0;
	unsigned long lno = 0;
	gs_status rc = GS_OK;

	{
		char *why = NULL;
		if (gs_dir_entry_load(&why) != GS_OK) {
			gs_status st = gs_fail(errmsg, GS_E_UNSUPPORTED, "%s: LDIF needs libldap: %s",
					       gs_reader_name(r), why);
			g_free(why);
			return st;
		}
	}
	in.r = r;
	in.bufp = &buf;
	in.buflenp = &buflen;
	in.chunk = g_malloc(CHUNK);
	in.buf = g_byte_array_new();
	/* our own stream, not gs_reader_file(): libldap reads through the filter */
	lfp.fp = fopencookie(&in, "r", io);
	if (!lfp.fp) {
		g_free(in.chunk);
		g_byte_array_unref(in.buf);
		return gs_fail(errmsg, GS_E_INTERNAL, "%s: %s", gs_reader_name(r), g_strerror(errno));
	}
	gs_record_init(&rec);
	for (;;) {
		int got = ld.read_record(&lfp, &lno, &buf, &buflen);

		if (gs_reader_error(r))
			break; /* the driver says what went wrong */
		if (in.why) {
			char where[sizeof rec.where];

			g_snprintf(where, sizeof where, "%s:%lu", gs_reader_name(r), in.why_record);
			if (in.why_line != in.why_record)
				rc = gs_import_bad(st, where, errmsg, "line %lu: %s", in.why_line, in.why);
			else
				rc = gs_import_bad(st, where, errmsg, "%s", in.why);
			g_free(in.why);
			in.why = NULL;
			if (rc != GS_OK)
				break;
			entries++;
			version_ok = 0;
			/* what libldap got of that record is dropped; go on */
			in.blocked = 0;
			clearerr(lfp.fp);
			continue;
		}
		if (got < 0) {
			rc = gs_fail(errmsg, GS_E_INTERNAL, "%s: the LDIF reader failed", gs_reader_name(r));
			break;
		}
		if (got == 0)
			break;
		if ((rc = record(st, &in, buf, &rec, &version_ok, &entries, errmsg)) != GS_OK)
			break;
		gs_import_progress(st, r);
	}
	if (rc == GS_OK && !gs_reader_error(r) && entries == 0)
		rc = gs_fail(errmsg, GS_E_MALFORMED, "%s: no LDIF entry in the file", gs_reader_name(r));
	fclose(lfp.fp);
	ld.memfree(buf);
	g_free(in.why);
	g_free(in.chunk);
	g_byte_array_unref(in.buf);
	gs_record_dispose(&rec);
	return rc;
}
