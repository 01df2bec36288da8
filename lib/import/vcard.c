/* vcard.c: vCard 2.1, 3.0 (RFC 2425/2426) and 4.0 (RFC 6350), as
 * Outlook, Thunderbird, Apple Contacts and Google export contacts.
 *
 * Streamed line by line (gs_reader_line). A card is held as its
 * properties are read: one logical line (the physical line and its
 * continuations) at a time, and what the card says so far. Continuations
 * come in three kinds: RFC 6350 folding (a line starting with a space or
 * a tab continues the previous one, minus that character), vCard 2.1
 * quoted-printable soft line breaks (a value line ending in '='), and
 * vCard 2.1 base64 blocks (indented or not, ended by an empty line: a
 * line without ':' after a base64 property belongs to it).
 *
 * A problem in a card (bad base64, a character set nobody knows, a NUL
 * byte, a card too long) is noted and the card read to its END:VCARD,
 * then reported through gs_import_bad: with --skip-bad the next card
 * goes in. Nothing is ever fetched: KEY values naming a URI other than
 * data: are ignored. */
#include "import.h"

#include <stdarg.h>
#include <string.h>

/* 2.1's AGENT can hold a whole vCard: how deep we follow (to skip it) */
#define MAX_NESTING 4

typedef struct email {
	char *address;
	unsigned rank;    /* 1 = most preferred; NO_PREF when none said */
} email;
#define NO_PREF 1000u

typedef struct vcard {
	gs_import_state *st;
	gs_reader *r;
	gs_record rec;
	unsigned long cards;      /* BEGIN:VCARD seen */
	int junk;                 /* inside text that is no vCard (reported once) */
	/* the card being read */
	int in_card;
	unsigned long begin_line;
	unsigned nested;          /* AGENT vCards inside it, skipped */
	size_t bytes;
	int overflow;             /* longer than GS_MAX_RECORD: ignore the rest */
	char *bad;                /* the first problem found in it */
	GString *prop;            /* the logical line being gathered */
	unsigned long prop_line;  /* its first line, 0 when none */
	int prop_qp, prop_b64;
	/* what the card says */
	char *fn, *n_name, *nickname;
	GArray *emails;           /* of email */
} vcard;

/* ---- small helpers ---- */

/* Is the line `word` (case aside, trailing blanks aside)? */
static int
line_is(const char *line, size_t len, const char *word)
{
	size_t n = strlen(word);

	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	return len == n && !g_ascii_strncasecmp(line, word, n);
}

static int
blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return 0;
	return 1;
}

/* ---- properties ---- */

enum { KEY_NONE, KEY_X509, KEY_PKCS7, KEY_OTHER };

typedef struct prop {
	const char *name;         /* without its group */
	size_t nlen;
	const char *value;
	size_t vlen;
	int qp, b64;
	char *charset;
	unsigned rank;
	int key_type;
} prop;

static int
key_type_of(const char *s, size_t len)
{
	char *t = g_ascii_strdown(s, (gssize) len);
	int k = KEY_NONE;

	if (strstr(t, "pkcs7"))
		k = KEY_PKCS7;
	else if (strstr(t, "x509") || strstr(t, "pkix-cert") || strstr(t, "x-x509"))
		k = KEY_X509;
	else if (strstr(t, "pgp") || strstr(t, "gpg"))
		k = KEY_OTHER;
	g_free(t);
	return k;
}

/* A parameter: NAME=VALUE[,VALUE] or 2.1's bare VALUE */
static void
param(prop *p, const char *s, size_t len)
{
	const char *eq = memchr(s, '=', len), *v, *end = s + len;
	size_t nlen;

	if (!eq) {
		/* 2.1: "EMAIL;PREF;INTERNET", "KEY;X509;BASE64" */
		if ((len == 6 && !g_ascii_strncasecmp(s, "BASE64", 6)) || (len == 1 && (*s == 'b' || *s == 'B')))
			p->b64 = 1;
		else if (len == 16 && !g_ascii_strncasecmp(s, "QUOTED-PRINTABLE", 16))
			p->qp = 1;
		else if (len == 4 && !g_ascii_strncasecmp(s, "PREF", 4))
			p->rank = MIN(p->rank, 1u);
		else if (key_type_of(s, len) != KEY_NONE && p->key_type == KEY_NONE)
			p->key_type = key_type_of(s, len);
		return;
	}
	nlen = (size_t) (eq - s);
	/* each comma-separated value, quotes dropped */
	for (v = eq + 1; v <= end; ) {
		const char *comma = v, *a = v, *b;
		int q = 0;

		while (comma < end && (q || *comma != ',')) {
			if (*comma == '"')
				q = !q;
			comma++;
		}
		b = comma;
		if (b > a && *a == '"')
			a++;
		if (b > a && b[-1] == '"')
			b--;
		if (nlen == 8 && !g_ascii_strncasecmp(s, "ENCODING", 8)) {
			if ((b - a == 1 && (*a == 'b' || *a == 'B')) || (b - a == 6 && !g_ascii_strncasecmp(a, "BASE64", 6)))
				p->b64 = 1;
			else if (b - a == 16 && !g_ascii_strncasecmp(a, "QUOTED-PRINTABLE", 16))
				p->qp = 1;
		} else if (nlen == 7 && !g_ascii_strncasecmp(s, "CHARSET", 7)) {
			g_free(p->charset);
			p->charset = g_strndup(a, (gsize) (b - a));
		} else if (nlen == 4 && !g_ascii_strncasecmp(s, "TYPE", 4)) {
			if (b - a == 4 && !g_ascii_strncasecmp(a, "pref", 4))
				p->rank = MIN(p->rank, 1u);
			else if (key_type_of(a, (size_t) (b - a)) != KEY_NONE && p->key_type == KEY_NONE)
				p->key_type = key_type_of(a, (size_t) (b - a));
		} else if (nlen == 9 && !g_ascii_strncasecmp(s, "MEDIATYPE", 9)) {
			if (p->key_type == KEY_NONE)
				p->key_type = key_type_of(a, (size_t) (b - a));
		} else if (nlen == 4 && !g_ascii_strncasecmp(s, "PREF", 4)) {
			/* 4.0: PREF=1 (most preferred) to 100; anything else counts as 100 */
			unsigned n = 0;
			const char *d;
			for (d = a; d < b && g_ascii_isdigit(*d) && n <= 100; d++)
				n = n * 10 + (unsigned) (*d - '0');
			p->rank = MIN(p->rank, (d == b && n >= 1 && n <= 100) ? n : 100u);
		}
		v = comma + 1;
	}
}

/* Split "group.NAME;P=V;P2="x:y":value". Returns 0 when there is no ':'
 * outside quotes. */
static int
split(const char *line, size_t len, prop *p)
{
	size_t i = 0, start;

	memset(p, 0, sizeof *p);
	p->rank = NO_PREF;
	while (i < len && line[i] != ';' && line[i] != ':')
		i++;
	if (i == len)
		return 0;
	p->name = line;
	p->nlen = i;
	if (memchr(line, '.', i)) {
		/* "item1.EMAIL": the group does not matter */
		const char *last = line + i;
		while (last > line && last[-1] != '.')
			last--;
		p->nlen = i - (size_t) (last - line);
		p->name = last;
	}
	while (line[i] == ';') {
		int quoted = 0;

		start = ++i;
		while (i < len && (quoted || (line[i] != ';' && line[i] != ':'))) {
			if (line[i] == '"')
				quoted = !quoted;
			i++;
		}
		if (i == len) {
			g_free(p->charset);
			p->charset = NULL;
			return 0;
		}
		param(p, line + start, i - start);
	}
	p->value = line + i + 1;
	p->vlen = len - i - 1;
	return 1;
}

static int
named(const prop *p, const char *name)
{
	return p->nlen == strlen(name) && !g_ascii_strncasecmp(p->name, name, p->nlen);
}

static void G_GNUC_PRINTF(3, 4)
card_bad(vcard *v, unsigned long line, const char *fmt, ...)
{
	va_list ap;
	char *why;

	if (v->bad)
		return; /* the first problem says it */
	va_start(ap, fmt);
	why = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (line && line != v->begin_line)
		v->bad = g_strdup_printf("line %lu: %s", line, why);
	else
		v->bad = g_strdup(why);
	g_free(why);
}

/* The character set names iconv is asked about: letters, digits, - _ . : */
static int
charset_name_ok(const char *s)
{
	size_t n = 0;

	for (; *s; s++, n++)
		if (!g_ascii_isalnum(*s) && *s != '-' && *s != '_' && *s != '.' && *s != ':')
			return 0;
	return n > 0 && n <= 40;
}

/* A text value as UTF-8: quoted-printable or base64 undone, converted
 * from CHARSET. NULL with the card marked bad when it cannot be. */
static char *
text(vcard *v, const prop *p, unsigned long line)
{
	char *raw, *out;
	size_t len;

	if (p->b64) {
		raw = (char *) gs_base64_decode(p->value, p->vlen, 1, &len);
		if (!raw) {
			card_bad(v, line, "%.*s: bad base64", (int) MIN(p->nlen, 32), p->name);
			return NULL;
		}
	} else if (p->qp) {
		/* GMime's decoder, as for a quoted-printable MIME part: =XX
		 * escapes undone, a '=' at the end a soft break, a '=' and
		 * what follows kept when that is not two hex digits (dropped
		 * when the value ends first) */
		int state = 0;
		guint32 save = 0;

		raw = g_malloc(p->vlen + 1);
		len = g_mime_encoding_quoted_decode_step((const unsigned char *) p->value, p->vlen,
							 (unsigned char *) raw, &state, &save);
		raw[len] = '\0';
	} else {
		raw = g_strndup(p->value, p->vlen);
		len = p->vlen;
	}
	if (p->charset && g_ascii_strcasecmp(p->charset, "UTF-8") && g_ascii_strcasecmp(p->charset, "UTF8")) {
		gsize written = 0;
		GIConv cd;

		if (!charset_name_ok(p->charset)) {
			char *x = gs_excerpt(p->charset, strlen(p->charset));
			card_bad(v, line, "CHARSET=%s: not a character set name", x);
			g_free(x);
			g_free(raw);
			return NULL;
		}
		if ((cd = g_iconv_open("UTF-8", p->charset)) == (GIConv) -1) {
			card_bad(v, line, "unknown character set CHARSET=%s", p->charset);
			g_free(raw);
			return NULL;
		}
		out = g_convert_with_iconv(raw, (gssize) len, cd, NULL, &written, NULL);
		g_iconv_close(cd);
		g_free(raw);
		if (!out) {
			card_bad(v, line, "text not valid in its CHARSET=%s", p->charset);
			return NULL;
		}
		raw = out;
		len = written;
	}
	if (memchr(raw, '\0', len)) {
		/* "a@b\0.evil" would be cut short further on */
		card_bad(v, line, "%.*s: NUL byte in a text value", (int) MIN(p->nlen, 32), p->name);
		g_free(raw);
		return NULL;
	}
	if (!g_utf8_validate(raw, (gssize) len, NULL)) {
		card_bad(v, line, "%.*s: text is not UTF-8 (and no CHARSET says what it is)",
			 (int) MIN(p->nlen, 32), p->name);
		g_free(raw);
		return NULL;
	}
	return raw;
}

/* Component idx of a structured text value (';' or ',' separated),
 * backslash escapes undone. */
static char *
component(const char *s, char sep, unsigned idx)
{
	GString *g = g_string_new(NULL);
	unsigned k = 0;

	for (; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			if (k == idx)
				g_string_append_c(g, (*s == 'n' || *s == 'N') ? ' ' : *s);
			continue;
		}
		if (sep && *s == sep) {
			if (k++ == idx)
				break;
			continue;
		}
		if (k == idx)
			g_string_append_c(g, *s);
	}
	g_strstrip(g->str);
	return g_string_free(g, FALSE);
}

static void
key(vcard *v, const prop *p, unsigned long line)
{
	int type = p->key_type;
	guchar *der = NULL;
	size_t len = 0;

	if (p->vlen >= 5 && !g_ascii_strncasecmp(p->value, "data:", 5)) {
		/* 4.0: data:application/pkix-cert;base64,MII... */
		const char *h = p->value + 5, *end = p->value + p->vlen;
		const char *comma = memchr(h, ',', (size_t) (end - h)), *semi;
		int b64;

		if (!comma) {
			card_bad(v, line, "KEY: data: URI without ','");
			return;
		}
		semi = memchr(h, ';', (size_t) (comma - h));
		if (semi || comma > h) {
			int t = key_type_of(h, (size_t) ((semi ? semi : comma) - h));
			if (t != KEY_NONE)
				type = t;
		}
		b64 = comma - h >= 7 && !g_ascii_strncasecmp(comma - 7, ";base64", 7);
		if (b64) {
			der = gs_base64_decode(comma + 1, (size_t) (end - comma - 1), 1, &len);
		} else {
			/* %XX escapes; NUL bytes are data here, and an empty
			 * value is no error (nothing to add) */
			GBytes *b = g_uri_unescape_bytes(comma + 1, end - comma - 1, NULL, NULL);

			if (b) {
				len = g_bytes_get_size(b);
				der = g_malloc(len + 1);
				if (len)
					memcpy(der, g_bytes_get_data(b, NULL), len);
				g_bytes_unref(b);
			}
		}
		if (!der) {
			card_bad(v, line, "KEY: bad %s in a data: URI", b64 ? "base64" : "%-escape");
			return;
		}
	} else if (p->b64) {
		der = gs_base64_decode(p->value, p->vlen, 1, &len);
		if (!der) {
			card_bad(v, line, "KEY: bad base64");
			return;
		}
	} else {
		/* a URI (http:, ldap:, cid:, file: ...): never fetched */
		size_t i = 0;
		while (i < p->vlen && (g_ascii_isalnum(p->value[i]) || p->value[i] == '+' ||
				       p->value[i] == '-' || p->value[i] == '.'))
			i++;
		if (i > 0 && i < p->vlen && p->value[i] == ':' && g_ascii_isalpha(p->value[0]))
			return;
		if (type != KEY_X509 && type != KEY_PKCS7)
			return; /* text we do not know */
		/* some writers leave ENCODING out */
		der = gs_base64_decode(p->value, p->vlen, 1, &len);
		if (!der) {
			card_bad(v, line, "KEY: bad base64");
			return;
		}
	}
	if (type == KEY_NONE && len > 0 && der[0] == 0x30)
		type = KEY_X509; /* untyped, but DER: a certificate or CMS */
	if (len > 0 && (type == KEY_X509 || type == KEY_PKCS7))
		gs_record_add_cert(&v->rec, type == KEY_PKCS7 ? "userSMIMECertificate" : "userCertificate",
				   der, len);
	g_free(der);
}

/* One logical line of a card. */
static void
property(vcard *v, const char *line, size_t len, unsigned long ln)
{
	prop p;
	char *t, *c;

	if (v->bad)
		return; /* the card is skipped anyway */
	if (!split(line, len, &p)) {
		char *x = gs_excerpt(line, len);
		card_bad(v, ln, "not a property (no ':'): %s", x);
		g_free(x);
		return;
	}
	if (named(&p, "FN")) {
		if (!v->fn && (t = text(v, &p, ln))) {
			v->fn = component(t, 0, 0);
			g_free(t);
		}
	} else if (named(&p, "N")) {
		if (!v->n_name && (t = text(v, &p, ln))) {
			/* Family;Given;Additional;Prefixes;Suffixes -> "Given Family" */
			char *family = component(t, ';', 0), *given = component(t, ';', 1);
			v->n_name = g_strdup_printf("%s%s%s", given, *given && *family ? " " : "", family);
			g_free(family);
			g_free(given);
			g_free(t);
		}
	} else if (named(&p, "NICKNAME")) {
		if (!v->nickname && (t = text(v, &p, ln))) {
			v->nickname = component(t, ',', 0);
			g_free(t);
		}
	} else if (named(&p, "EMAIL")) {
		if ((t = text(v, &p, ln))) {
			email e;
			c = component(t, 0, 0);
			g_free(t);
			e.address = c;
			e.rank = p.rank;
			g_array_append_val(v->emails, e);
		}
	} else if (named(&p, "KEY")) {
		key(v, &p, ln);
	}
	g_free(p.charset);
}

/* ---- cards ---- */

static void
card_reset(vcard *v)
{
	guint i;

	for (i = 0; i < v->emails->len; i++)
		g_free(g_array_index(v->emails, email, i).address);
	g_array_set_size(v->emails, 0);
	g_free(v->fn);
	g_free(v->n_name);
	g_free(v->nickname);
	g_free(v->bad);
	v->fn = v->n_name = v->nickname = v->bad = NULL;
	g_string_truncate(v->prop, 0);
	v->prop_line = 0;
	v->prop_qp = v->prop_b64 = 0;
	v->nested = 0;
	v->bytes = 0;
	v->overflow = 0;
	gs_record_clear(&v->rec);
}

static void
card_begin(vcard *v, unsigned long ln)
{
	card_reset(v);
	v->in_card = 1;
	v->junk = 0;
	v->begin_line = ln;
	v->cards++;
	gs_record_where(&v->rec, v->r, ln);
}

static void
flush(vcard *v)
{
	if (v->prop_line)
		property(v, v->prop->str, v->prop->len, v->prop_line);
	g_string_truncate(v->prop, 0);
	v->prop_line = 0;
	v->prop_qp = v->prop_b64 = 0;
}

static gs_status
card_end(vcard *v, char **errmsg)
{
	gs_record *rec = &v->rec;
	gs_status rc;
	guint i, best = 0;

	v->in_card = 0;
	if (v->bad) {
		rc = gs_import_bad(v->st, rec->where, errmsg, "%s", v->bad);
		card_reset(v);
		return rc;
	}
	gs_record_set(&rec->kind, "vcard", -1);
	gs_record_set(&rec->name, v->n_name, -1);
	gs_record_set(&rec->display_name, v->fn ? v->fn : v->n_name, -1);
	gs_record_set(&rec->alias, v->nickname, -1);
	/* the primary: the most preferred, else the first */
	for (i = 1; i < v->emails->len; i++)
		if (g_array_index(v->emails, email, i).rank < g_array_index(v->emails, email, best).rank)
			best = i;
	if (v->emails->len)
		gs_record_add_address(rec, g_array_index(v->emails, email, best).address, -1, 1);
	for (i = 0; i < v->emails->len; i++)
		if (i != best)
			gs_record_add_address(rec, g_array_index(v->emails, email, i).address, -1, 0);
	rc = gs_import_record(v->st, rec, errmsg);
	card_reset(v);
	gs_import_progress(v->st, v->r);
	return rc;
}

/* Does the name part (before ':') of a line say QUOTED-PRINTABLE, or
 * base64? Only to know how its value continues. */
static void
prop_encoding(vcard *v, const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	char *head;

	if (!colon)
		return;
	head = g_ascii_strup(line, colon - line);
	v->prop_qp = strstr(head, "QUOTED-PRINTABLE") != NULL;
	v->prop_b64 = strstr(head, "BASE64") != NULL || strstr(head, "ENCODING=B;") != NULL ||
		      g_str_has_suffix(head, "ENCODING=B");
	g_free(head);
}

/* Is the pending property an AGENT with its vCard to follow (2.1)? */
static int
prop_is_agent(vcard *v)
{
	prop p;
	int yes;

	if (!v->prop_line || !split(v->prop->str, v->prop->len, &p))
		return 0;
	yes = named(&p, "AGENT") && blank(p.value, p.vlen);
	g_free(p.charset);
	return yes;
}

static gs_status
card_line(vcard *v, const char *line, size_t len, unsigned long ln, char **errmsg)
{
	gs_status rc;

	v->bytes += len + 1;
	if (v->nested) {
		if (line_is(line, len, "BEGIN:VCARD") && ++v->nested > MAX_NESTING) {
			card_bad(v, ln, "vCards nested deeper than %d", MAX_NESTING);
			v->overflow = 1;
			v->nested = 0;
		} else if (line_is(line, len, "END:VCARD")) {
			v->nested--;
		}
		return GS_OK;
	}
	if (line_is(line, len, "END:VCARD")) {
		flush(v);
		return card_end(v, errmsg);
	}
	if (line_is(line, len, "BEGIN:VCARD")) {
		if (!v->overflow && prop_is_agent(v)) {
			g_string_truncate(v->prop, 0);
			v->prop_line = 0;
			v->nested = 1;
			return GS_OK;
		}
		/* the card before never ended: report it, start anew */
		flush(v);
		card_bad(v, ln, "BEGIN:VCARD before the card's END:VCARD");
		if ((rc = card_end(v, errmsg)) != GS_OK)
			return rc;
		card_begin(v, ln);
		return GS_OK;
	}
	if (v->overflow)
		return GS_OK;
	if (v->bytes > GS_MAX_RECORD) {
		card_bad(v, ln, "card longer than %zu bytes", (size_t) GS_MAX_RECORD);
		v->overflow = 1;
		g_string_truncate(v->prop, 0);
		v->prop_line = 0;
		return GS_OK;
	}
	if (memchr(line, '\0', len)) {
		card_bad(v, ln, "NUL byte in the text");
		return GS_OK;
	}
	/* 2.1 quoted-printable soft line break: the next line goes on as is */
	if (v->prop_line && v->prop_qp && v->prop->len > 0 && v->prop->str[v->prop->len - 1] == '=') {
		g_string_truncate(v->prop, v->prop->len - 1);
		g_string_append_len(v->prop, line, (gssize) len);
		return GS_OK;
	}
	/* folding */
	if (len > 0 && (line[0] == ' ' || line[0] == '\t')) {
		if (v->prop_line)
			g_string_append_len(v->prop, line + 1, (gssize) (len - 1));
		else if (!blank(line, len))
			card_bad(v, ln, "a continuation line with nothing to continue");
		return GS_OK;
	}
	/* an empty line ends a 2.1 base64 block; elsewhere it means nothing */
	if (len == 0) {
		flush(v);
		return GS_OK;
	}
	/* 2.1 base64 block lines that are not indented */
	if (v->prop_line && v->prop_b64 && !memchr(line, ':', len)) {
		g_string_append_len(v->prop, line, (gssize) len);
		return GS_OK;
	}
	flush(v);
	g_string_append_len(v->prop, line, (gssize) len);
	v->prop_line = ln;
	prop_encoding(v, line, len);
	return GS_OK;
}

/* Text outside the cards: reported once for the whole run of it. */
static gs_status
junk(vcard *v, unsigned long ln, const char *line, size_t len, char **errmsg)
{
	char where[sizeof v->rec.where];
	char *x;
	gs_status rc;

	v->junk = 1;
	g_snprintf(where, sizeof where, "%s:%lu", gs_reader_name(v->r), ln);
	if (!line)
		return gs_import_bad(v->st, where, errmsg, "line longer than %zu bytes outside a vCard",
				     (size_t) GS_MAX_RECORD);
	x = gs_excerpt(line, len);
	rc = gs_import_bad(v->st, where, errmsg, "not a vCard (BEGIN:VCARD expected): %s", x);
	g_free(x);
	return rc;
}

gs_status
gs_parse_vcard(gs_import_state *st, gs_reader *r, char **errmsg)
{
	vcard v = { 0 };
	gs_status rc = GS_OK;

	v.st = st;
	v.r = r;
	v.prop = g_string_new(NULL);
	v.emails = g_array_new(FALSE, FALSE, sizeof(email));
	gs_record_init(&v.rec);
	for (;;) {
		size_t len;
		int too_long;
		const char *line = gs_reader_line(r, &len, &too_long);
		unsigned long ln = gs_reader_lineno(r);

		if (!line && !too_long)
			break;
		if (too_long) {
			/* the reader goes on with the rest of that line, which
			 * the card (or the junk) it is in swallows */
			ln++;
			if (v.in_card) {
				card_bad(&v, ln, "line longer than %zu bytes", (size_t) GS_MAX_RECORD);
				v.overflow = 1;
				g_string_truncate(v.prop, 0);
				v.prop_line = 0;
				continue;
			}
			if (!v.junk && (rc = junk(&v, ln, NULL, 0, errmsg)) != GS_OK)
				break;
			continue;
		}
		if (v.in_card) {
			if ((rc = card_line(&v, line, len, ln, errmsg)) != GS_OK)
				break;
			continue;
		}
		if (blank(line, len))
			continue;
		if (line_is(line, len, "BEGIN:VCARD")) {
			card_begin(&v, ln);
			continue;
		}
		if (!v.junk && (rc = junk(&v, ln, line, len, errmsg)) != GS_OK)
			break;
	}
	if (rc == GS_OK && v.in_card && !gs_reader_error(r)) {
		card_bad(&v, 0, "no END:VCARD: the file ends inside the card (truncated?)");
		flush(&v);
		rc = card_end(&v, errmsg);
	}
	if (rc == GS_OK && !gs_reader_error(r) && v.cards == 0)
		rc = gs_fail(errmsg, GS_E_MALFORMED, "%s: no vCard in the file", gs_reader_name(r));
	card_reset(&v);
	g_string_free(v.prop, TRUE);
	g_array_free(v.emails, TRUE);
	gs_record_dispose(&v.rec);
	return rc;
}
