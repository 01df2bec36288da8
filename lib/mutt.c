/* mutt.c: what mutt's (and neomutt's) classic S/MIME support reads from
 * galsmime: the lines of its .index files, built from the store under
 * gs_resolve's rules, and the addresses it compares.
 *
 * How mutt reads an .index (mutt 2.2.12 smime.c; neomutt 20220429 and
 * 2026's ncrypt/smime.c are the same):
 *  - smime_get_candidates reads each line with fgets into a 1024-byte
 *    buffer (mutt: `char buf[LONG_STRING]`, LONG_STRING 1024, smime.c
 *    611-633; neomutt: `char buf[1024]`, smime.c 518/537, 2026: 335/355).
 *    A longer line is read as two: the second starts wherever the first
 *    1023 bytes end, and is parsed as a line of its own. So an address
 *    of a thousand characters ending in ceo@... became a line for ceo@.
 *  - smime_parse_key splits fields on space, tab or newline (not CR),
 *    collapsing runs; fewer than three fields: the line is skipped.
 *  - smime_get_key_by_addr (mutt smime.c 674-744) keeps the lines whose
 *    first field equals the recipient's mailbox (case-insensitively). In
 *    opportunistic mode (crypt_opportunistic_encrypt: crypt.c 1001
 *    crypt_get_keys(msg, .., 1) -> 963 smime_findKeys -> smime_get_key_by_addr
 *    with oppenc_mode 1) the last 't' line wins, else a 'u'/'v' one unless
 *    crypt_opportunistic_encrypt_strong_keys (smime.c 722-730); when
 *    sending, two 't' lines with different hashes open a picker (707,
 *    738: smime_select_key).
 * Hence every line written here is short (GS_MUTT_LINE_MAX), its first
 * field a plain mailbox, and only gs_resolve's choice is 't'. */
#include "gs-private.h"

#include <string.h>

/* RFC 5322 atext besides letters and digits */
static const char atext_specials[] = "!#$%&'*+-/=?^_`{|}~";

static int
is_atext(unsigned char ch)
{
	return g_ascii_isalnum(ch) || (ch && strchr(atext_specials, ch));
}

/* a dot-atom: atext runs joined by single dots */
static int
dot_atom_ok(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || p[0] == '.' || p[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (p[i] == '.' ? p[i + 1] == '.' : !is_atext((unsigned char) p[i]))
			return 0;
	return 1;
}

/* RFC 5321 Domain: sub-domains of letters, digits and inner hyphens */
static int
domain_ok(const char *p, size_t n)
{
	size_t i, label = 0;

	if (n == 0 || n > 253)
		return 0;
	for (i = 0; i <= n; i++) {
		if (i == n || p[i] == '.') {
			if (label == 0 || label > 63 || p[i - 1] == '-' || p[i - label] == '-')
				return 0;
			label = 0;
		} else if (g_ascii_isalnum(p[i]) || p[i] == '-') {
			label++;
		} else {
			return 0;
		}
	}
	return 1;
}

int
gs_mutt_mailbox_ok(const char *address)
{
	const char *at;
	size_t n;

	if (!address || (n = strlen(address)) > GS_MUTT_MAILBOX_MAX || !(at = strchr(address, '@')))
		return 0;
	/* RFC 5321 4.5.3.1.1: a local part of at most 64 octets */
	return at - address <= 64 && dot_atom_ok(address, (size_t) (at - address)) &&
	       domain_ok(at + 1, n - (size_t) (at - address) - 1);
}

char *
gs_mutt_label(const char *name)
{
	GString *g = g_string_new(NULL);
	const char *p;

	for (p = name; p && *p && g->len < GS_MUTT_LABEL_MAX;) {
		gunichar u = g_utf8_get_char_validated(p, -1);
		/* an invalid byte is (gunichar) -1 or -2: above any character */
		const char *next = u > 0x10ffff ? p + 1 : g_utf8_next_char(p);
		/* letters and digits of any script, and . - _: nothing mutt
		 * splits on, no control, format or bidirectional character */
		int keep = u < 0x80 ? g_ascii_isalnum(u) || strchr(".-_", (int) u) != NULL
				    : u <= 0x10ffff && g_unichar_isalnum(u);

		if (keep && g->len + (size_t) (next - p) <= GS_MUTT_LABEL_MAX)
			g_string_append_len(g, p, next - p);
		else
			g_string_append_c(g, '_');
		p = next;
	}
	if (g->len == 0)
		g_string_append_c(g, '-');
	return g_string_free(g, FALSE);
}

typedef struct index_run {
	gs_session *s;
	const gs_mutt_index_cbs *cb;
	gs_mutt_index_stats *stats;
	GHashTable *keyids;    /* sha256 -> keyid ("hash.N") */
	GHashTable *hashes;    /* subject hash -> next N */
	GHashTable *seen;      /* "mailbox keyid" already listed */
	gs_status st;
	char **errmsg;
	int stopped;           /* a callback asked to stop */
} index_run;

/* The certificate file of `sha256`: its name, handed to the caller once. */
static const char *
keyid_for(index_run *r, const char *sha256)
{
	const char *k = g_hash_table_lookup(r->keyids, sha256);
	unsigned long sh = 0;
	char *pem = NULL, hash[16], *keyid;
	int n;

	if (k)
		return k;
	if ((r->st = gs_store_cert_pem(r->s->store, sha256, &pem, &sh, NULL, r->errmsg)) != GS_OK)
		return NULL;
	/* mutt names certificate files as `openssl x509 -hash` does, then .N */
	g_snprintf(hash, sizeof hash, "%08lx", sh);
	n = GPOINTER_TO_INT(g_hash_table_lookup(r->hashes, hash));
	g_hash_table_insert(r->hashes, g_strdup(hash), GINT_TO_POINTER(n + 1));
	keyid = g_strdup_printf("%s.%d", hash, n);
	g_hash_table_insert(r->keyids, g_strdup(sha256), keyid);
	r->stats->files++;
	if (r->cb->file && r->cb->file(r->cb->data, keyid, pem))
		r->stopped = 1;
	g_free(pem);
	return r->stopped ? NULL : keyid;
}

static char
trust_letter(gs_verdict v)
{
	switch (v) {
	case GS_VERDICT_USABLE: return 't';
	case GS_VERDICT_EXPIRED:
	case GS_VERDICT_NOT_YET_VALID: return 'e';
	case GS_VERDICT_REVOKED: return 'r';
	default: return 'i';
	}
}

/* mutt's purpose letters: 's' signing, 'e' encryption. An absent key
 * usage extension allows both. */
static const char *
purpose(const gs_cert_info *ci)
{
	const char *ku = ci->key_usage;
	int s, e;

	if (!ku)
		return "se";
	s = strstr(ku, "digitalSignature") || strstr(ku, "nonRepudiation");
	e = strstr(ku, !g_strcmp0(ci->key_type, "ec") ? "keyAgreement" : "keyEncipherment") != NULL;
	return s && e ? "se" : s ? "s" : e ? "e" : "-";
}

/* Hand one line to the caller: `mailbox hash label issuer trust purpose`
 * (issuer "?": mutt uses it only to show the chain). */
static void
emit(index_run *r, int keys, const char *mailbox, const gs_cert_info *ci, const char *name, char trust)
{
	gs_mutt_line l = { .keys = keys, .mailbox = mailbox, .trust = trust, .purpose = purpose(ci) };
	char *label, *text, *seen;

	if (!(l.keyid = keyid_for(r, ci->sha256)))
		return;
	/* the same certificate may come from several sources: one line */
	seen = g_strdup_printf("%d %s %s", keys, mailbox, l.keyid);
	if (!g_hash_table_add(r->seen, seen))
		return;
	l.label = label = gs_mutt_label(name);
	l.text = text = g_strdup_printf("%s %s %s ? %c %s\n", mailbox, l.keyid, label, trust, l.purpose);
	/* by construction under GS_MUTT_LINE_MAX; never write a longer one */
	if (strlen(text) > GS_MUTT_LINE_MAX) {
		r->stats->left_out++;
	} else {
		if (keys)
			r->stats->key_lines++;
		else
			r->stats->lines++;
		if (r->cb->line && r->cb->line(r->cb->data, &l))
			r->stopped = 1;
	}
	g_free(label);
	g_free(text);
}

static int
on_address(const char *address, void *data)
{
	index_run *r = data;
	gs_resolution *res = NULL;
	const gs_candidate *chosen;
	size_t i;

	if (!gs_mutt_mailbox_ok(address)) {
		r->stats->left_out++;
		return 0;
	}
	if ((r->st = gs_resolve(r->s, address, 0, &res, r->errmsg)) != GS_OK)
		return 1;
	chosen = gs_resolution_chosen(res);
	for (i = 0; i < gs_resolution_count(res) && r->st == GS_OK && !r->stopped; i++) {
		const gs_candidate *k = gs_resolution_candidate(res, i);

		/* gs_resolve's choice is the one trusted line; a usable
		 * certificate it did not choose is left out (mutt would pick
		 * it), the unusable ones are listed with why (e, r, i) */
		if (k == chosen)
			emit(r, 0, address, &k->cert, k->cert.common_name, 't');
		else if (k->verdict != GS_VERDICT_USABLE)
			emit(r, 0, address, &k->cert, k->cert.common_name, trust_letter(k->verdict));
	}
	gs_resolution_free(res);
	return r->st != GS_OK || r->stopped;
}

static int
on_identity(const gs_cert_info *ci, const char *label, int encrypted, const char *token_uri,
	    void *data)
{
	index_run *r = data;
	const char *const *e;

	(void) encrypted;
	(void) token_uri;
	for (e = ci->emails; *e && r->st == GS_OK && !r->stopped; e++) {
		if (gs_mutt_mailbox_ok(*e))
			emit(r, 1, *e, ci, label && *label ? label : ci->common_name, 't');
		else
			r->stats->key_left_out++;
	}
	return r->st != GS_OK || r->stopped;
}

gs_status
gs_mutt_index(gs_session *s, int keys, const gs_mutt_index_cbs *cb, gs_mutt_index_stats *stats,
	      char **errmsg)
{
	index_run r = { .s = s, .cb = cb, .stats = stats, .errmsg = errmsg };
	gs_status st;

	if (!s || !cb || !stats)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_mutt_index: bad arguments");
	memset(stats, 0, sizeof *stats);
	r.keyids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	r.hashes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	r.seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	st = gs_store_addresses(s->store, on_address, &r, errmsg);
	if (st == GS_OK && r.st == GS_OK && !r.stopped && keys)
		st = gs_store_list_identities(s->store, on_identity, &r, errmsg);
	if (st == GS_OK)
		st = r.st;
	g_hash_table_destroy(r.keyids);
	g_hash_table_destroy(r.hashes);
	g_hash_table_destroy(r.seen);
	return st;
}

gs_status
gs_mutt_entity(const void *content, size_t len, GByteArray **entity, char **errmsg)
{
	GMimeStream *mem;
	GMimeObject *o;
	int headerless = 0;
	char *wrapped;

	if (!entity || (!content && len))
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_mutt_entity: bad arguments");
	*entity = NULL;
	/* a complete MIME entity or nothing: content without MIME headers
	 * (RFC 4134's examples) is given one, as galsmime decrypt does. The
	 * headers are looked for in the bytes as they are: binary content
	 * must keep every CR, and goes into its part (base64) untouched */
	if (!len)
		return gs_fail(errmsg, GS_E_MALFORMED, "the decrypted content is empty");
	mem = g_mime_stream_mem_new_with_buffer(content, len);
	o = gs_entity_parse(mem, &headerless);
	g_object_unref(mem);
	if (!o)
		return gs_fail(errmsg, GS_E_MALFORMED, "the decrypted content is empty");
	if (headerless) {
		/* base64 has no CR to lose; a text part's CRLFs become LF */
		wrapped = g_mime_object_to_string(o, NULL);
		*entity = gs_crlf_strip(wrapped, strlen(wrapped));
		gs_wipe(wrapped, strlen(wrapped));
		g_free(wrapped);
	} else {
		*entity = gs_crlf_strip(content, len);
	}
	g_object_unref(o);
	return GS_OK;
}
