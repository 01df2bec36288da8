/* report.c: the verdict on a message's signatures and encryption, and
 * its JSON rendering (Authentication-Results: authres.c). */
#include "gs-private.h"

#include <string.h>
#include <yajl/yajl_gen.h>

static const char *const reason_words[] = {
	"digest mismatch",             /* GS_REASON_DIGEST_MISMATCH */
	"bad signature",               /* GS_REASON_BAD_SIGNATURE */
	"untrusted chain",             /* GS_REASON_UNTRUSTED */
	"certificate expired",         /* GS_REASON_EXPIRED */
	"certificate not yet valid",   /* GS_REASON_NOT_YET_VALID */
	"missing signer certificate",  /* GS_REASON_MISSING_CERT */
	"signer is not the From address", /* GS_REASON_SIGNER_NOT_FROM */
	"unsupported algorithm",       /* GS_REASON_UNSUPPORTED_ALGO */
	"certificate not for e-mail signing", /* GS_REASON_BAD_PURPOSE */
	"certificate revoked",         /* GS_REASON_REVOKED */
	"digest differs from micalg",  /* GS_REASON_MICALG_MISMATCH */
	"no signers",                  /* GS_REASON_NO_SIGNERS */
	"unknown critical extension",  /* GS_REASON_CRITICAL_ATTR */
	"signature covers only part of the message", /* GS_REASON_PARTIAL */
	"signed content differs from the displayed content", /* GS_REASON_CONTENT_MISMATCH */
	"revocation list out of date", /* GS_REASON_CRL_STALE */
	"weak digest (MD5, or SHA-1 without --allow-sha1)", /* GS_REASON_WEAK_DIGEST */
	"ambiguous MIME structure",    /* GS_REASON_BAD_STRUCTURE */
	"SHA-1 digest, allowed by --allow-sha1", /* GS_REASON_SHA1_ALLOWED */
	"the signature covers encrypted content: it says who sent it, not who wrote what is inside",
				       /* GS_REASON_SIGNED_CIPHERTEXT */
	"an inner signature is not good", /* GS_REASON_INNER_LAYER */
	"not checked: over a safety limit", /* GS_REASON_LIMIT */
};

static void
layer_free(gs_layer_data *l)
{
	g_free(l->path);
	g_free(l->cipher);
	if (l->signers)
		g_ptr_array_free(l->signers, TRUE);
	g_free(l);
}

static const char *const reason_keys[] = {
	"digest-mismatch", "bad-signature", "untrusted", "expired", "not-yet-valid",
	"missing-certificate", "signer-not-from", "unsupported-algorithm", "bad-purpose",
	"revoked", "micalg-mismatch", "no-signers", "critical-extension", "partial",
	"content-mismatch", "crl-stale", "weak-digest", "bad-structure", "sha1-allowed",
	"signed-ciphertext", "inner-layer", "limit",
};

G_STATIC_ASSERT(G_N_ELEMENTS(reason_words) == G_N_ELEMENTS(reason_keys));

char *
gs_reasons_string(unsigned reasons)
{
	GString *g = g_string_new(NULL);
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(reason_words); i++)
		if (reasons & (1u << i))
			g_string_append_printf(g, "%s%s", g->len ? ", " : "", reason_words[i]);
	return g_string_free(g, FALSE);
}

gs_report *
gs_report_new(void)
{
	gs_report *r = g_new0(gs_report, 1);

	r->layers = g_ptr_array_new_with_free_func((GDestroyNotify) layer_free);
	r->parts = g_ptr_array_new_with_free_func(g_free);
	r->mismatches = g_ptr_array_new_with_free_func(g_free);
	return r;
}

void
gs_report_note(gs_report *r, const char *path, const char *note)
{
	g_ptr_array_add(r->parts, g_strdup(path));
	g_ptr_array_add(r->parts, g_strdup(note));
}

void
gs_report_mismatch(gs_report *r, const char *header)
{
	guint i;

	if (r->mismatches->len)
		g_ptr_array_remove_index(r->mismatches, r->mismatches->len - 1); /* the NULL */
	for (i = 0; i < r->mismatches->len; i++)
		if (!g_ascii_strcasecmp(r->mismatches->pdata[i], header))
			break;
	if (i == r->mismatches->len)
		g_ptr_array_add(r->mismatches, g_strdup(header));
	g_ptr_array_add(r->mismatches, NULL);
}

int
gs_report_part(const gs_report *r, size_t i, const char **path, const char **note)
{
	if (2 * i + 1 >= r->parts->len)
		return 0;
	*path = r->parts->pdata[2 * i];
	*note = r->parts->pdata[2 * i + 1];
	return 1;
}

int
gs_report_protected_headers(const gs_report *r)
{
	return r->protected_headers;
}

const char *const *
gs_report_header_mismatches(const gs_report *r)
{
	return r->mismatches->len ? (const char *const *) r->mismatches->pdata : NULL;
}

void
gs_report_free(gs_report *r)
{
	if (!r)
		return;
	g_ptr_array_free(r->layers, TRUE);
	g_ptr_array_free(r->parts, TRUE);
	g_ptr_array_free(r->mismatches, TRUE);
	g_free(r->from);
	g_free(r->cipher);
	g_free(r->unauthenticated);
	g_free(r);
}

/* The reasons a layer earned as a whole apply to each of its signers. */
#define LAYER_REASONS \
	(GS_REASON_MICALG_MISMATCH | GS_REASON_CONTENT_MISMATCH | GS_REASON_PARTIAL | \
	 GS_REASON_BAD_STRUCTURE | GS_REASON_SIGNED_CIPHERTEXT)

gs_layer_data *
gs_report_add_signed(gs_report *r, const char *path, const char *form, gs_cms_result *res,
		     unsigned reasons, const char *from, int from_rule)
{
	gs_layer_data *l = g_new0(gs_layer_data, 1);
	guint i;

	l->pub.kind = GS_LAYER_SIGNED;
	l->path = g_strdup(path);
	l->pub.path = l->path;
	l->pub.form = form;
	if (res->no_signers)
		reasons |= GS_REASON_NO_SIGNERS;
	if (res->content_mismatch)
		reasons |= GS_REASON_CONTENT_MISMATCH;
	l->pub.reasons = reasons;
	/* the signers move into the layer */
	l->signers = res->signers;
	res->signers = g_ptr_array_new_with_free_func((GDestroyNotify) gs_signer_data_free);
	l->pub.n_signers = l->signers->len;
	for (i = 0; i < l->signers->len; i++) {
		gs_signer_data *sd = l->signers->pdata[i];
		int match = 0;
		char **e;

		for (e = sd->emails; from && e && *e && !match; e++)
			match = !g_ascii_strcasecmp(*e, from);
		/* no From, or several, matches nobody */
		if (from_rule && sd->pub.have_cert && !match) {
			sd->pub.reasons |= GS_REASON_SIGNER_NOT_FROM;
			if (sd->pub.status == GS_SIG_GOOD)
				sd->pub.status = GS_SIG_BAD;
		}
		if (reasons & LAYER_REASONS) {
			sd->pub.reasons |= reasons & LAYER_REASONS;
			if ((reasons & LAYER_REASONS & ~GS_REASONS_WARNINGS) && sd->pub.status == GS_SIG_GOOD)
				sd->pub.status = GS_SIG_BAD;
		}
	}
	r->kind = GS_REPORT_SIGNED;
	r->reasons |= reasons;
	if (!r->outer) {
		r->outer = l;
		r->form = form;
		g_free(r->from);
		r->from = g_strdup(from);
	}
	g_ptr_array_add(r->layers, l);
	return l;
}

void
gs_report_add_encrypted(gs_report *r, const char *path, const char *cipher, int authenticated)
{
	gs_layer_data *l = g_new0(gs_layer_data, 1);

	l->pub.kind = GS_LAYER_ENCRYPTED;
	l->path = g_strdup(path);
	l->pub.path = l->path;
	l->cipher = g_strdup(cipher);
	l->pub.cipher = l->cipher;
	l->pub.authenticated = authenticated;
	g_ptr_array_add(r->layers, l);
	/* the report's encryption facts are the outermost encryption's */
	if (!r->encrypted) {
		r->encrypted = 1;
		r->authenticated = authenticated;
		r->cipher = g_strdup(cipher);
	}
}

static gs_sig_status
layer_status(const gs_layer_data *l)
{
	gs_sig_status worst = GS_SIG_GOOD;
	guint i;

	if (l->signers->len == 0 || (l->pub.reasons & ~GS_REASONS_WARNINGS))
		return GS_SIG_BAD;
	for (i = 0; i < l->signers->len; i++) {
		gs_signer_data *sd = l->signers->pdata[i];
		if (sd->pub.status == GS_SIG_BAD)
			return GS_SIG_BAD;
		if (sd->pub.status == GS_SIG_ERROR)
			worst = GS_SIG_ERROR;
	}
	return worst;
}

/* Does every signer of a signed layer name the From address? */
static int
layer_by_from(const gs_report *r, const gs_layer_data *l)
{
	guint i;

	if (!r->from || l->signers->len == 0)
		return 0;
	for (i = 0; i < l->signers->len; i++) {
		const gs_signer_data *sd = l->signers->pdata[i];
		char **e;
		int match = 0;

		for (e = sd->emails; e && *e && !match; e++)
			match = !g_ascii_strcasecmp(*e, r->from);
		if (!match)
			return 0;
	}
	return 1;
}

#define CBC_UNAUTHENTICATED "CBC encryption (enveloped-data) is not authenticated"

/* CBC lets anyone who captured the ciphertext rewrite it block by block
 * (EFAIL): only a good signature by the sender inside each such layer
 * shows that the content is what they wrote. */
static const char *
unauthenticated(const gs_report *r)
{
	guint i, j;

	for (i = 0; i < r->layers->len; i++) {
		const gs_layer_data *l = r->layers->pdata[i], *inside = NULL;

		if (l->pub.kind != GS_LAYER_ENCRYPTED || l->pub.authenticated)
			continue;
		for (j = i + 1; j < r->layers->len && !inside; j++)
			if (((gs_layer_data *) r->layers->pdata[j])->pub.kind == GS_LAYER_SIGNED)
				inside = r->layers->pdata[j];
		if (!inside)
			return CBC_UNAUTHENTICATED ", and nothing inside it is signed";
		if (!layer_by_from(r, inside))
			return CBC_UNAUTHENTICATED ", and the signature inside it is not by the From address";
		if (layer_status(inside) != GS_SIG_GOOD)
			return CBC_UNAUTHENTICATED ", and the signature inside it is not good";
		if (gs_report_status(r) != GS_SIG_GOOD)
			return CBC_UNAUTHENTICATED ", and the message's signatures are not all good";
	}
	return NULL;
}

void
gs_report_finish(gs_report *r)
{
	const char *why;
	guint i;

	for (i = 0; i < r->layers->len; i++) {
		gs_layer_data *l = r->layers->pdata[i];
		if (l != r->outer && l->pub.kind == GS_LAYER_SIGNED && layer_status(l) != GS_SIG_GOOD)
			r->reasons |= GS_REASON_INNER_LAYER;
	}
	r->finished = 1;
	if (!r->unauthenticated && (why = unauthenticated(r)))
		r->unauthenticated = g_strdup(why);
}

void
gs_report_unauthenticated_part(gs_report *r, const char *path, const char *why)
{
	if (!r->unauthenticated)
		r->unauthenticated = g_strdup_printf("the attached message at part %s: %s", path, why);
}

const char *
gs_report_unauthenticated(const gs_report *r)
{
	if (r->finished)
		return r->unauthenticated;
	/* nothing inside was looked at (gs_raw_decrypt) */
	return r->encrypted && !r->authenticated
		       ? CBC_UNAUTHENTICATED ": only a good signature by the sender inside it shows "
					     "that the content is theirs"
		       : NULL;
}

const char *
gs_report_withheld(const gs_report *r)
{
	return r->withheld ? r->unauthenticated : NULL;
}

gs_report_kind
gs_report_kind_of(const gs_report *r)
{
	return r->kind;
}

gs_sig_status
gs_report_status(const gs_report *r)
{
	gs_sig_status worst = GS_SIG_GOOD;
	guint i;

	if (r->kind != GS_REPORT_SIGNED || !r->outer || (r->reasons & ~GS_REASONS_WARNINGS))
		return GS_SIG_BAD;
	for (i = 0; i < r->layers->len; i++) {
		gs_layer_data *l = r->layers->pdata[i];
		gs_sig_status st;

		if (l->pub.kind != GS_LAYER_SIGNED)
			continue;
		if ((st = layer_status(l)) == GS_SIG_BAD)
			return GS_SIG_BAD;
		if (st == GS_SIG_ERROR)
			worst = GS_SIG_ERROR;
	}
	return worst;
}

unsigned
gs_report_reasons(const gs_report *r)
{
	return r->reasons;
}

size_t
gs_report_signer_count(const gs_report *r)
{
	return r->outer ? r->outer->signers->len : 0;
}

const gs_signer *
gs_report_signer(const gs_report *r, size_t i)
{
	return r->outer && i < r->outer->signers->len
		       ? &((gs_signer_data *) r->outer->signers->pdata[i])->pub : NULL;
}

size_t
gs_report_layer_count(const gs_report *r)
{
	return r->layers->len;
}

const gs_layer *
gs_report_layer(const gs_report *r, size_t i)
{
	return i < r->layers->len ? &((gs_layer_data *) r->layers->pdata[i])->pub : NULL;
}

const gs_signer *
gs_report_layer_signer(const gs_report *r, size_t layer, size_t i)
{
	gs_layer_data *l = layer < r->layers->len ? r->layers->pdata[layer] : NULL;

	return l && l->signers && i < l->signers->len ? &((gs_signer_data *) l->signers->pdata[i])->pub
						      : NULL;
}

const char *
gs_report_from(const gs_report *r)
{
	return r->from;
}

const char *
gs_report_signature_form(const gs_report *r)
{
	return r->form;
}

const char *
gs_report_cipher(const gs_report *r)
{
	return r->cipher;
}

int
gs_report_encrypted(const gs_report *r)
{
	return r->encrypted;
}

int
gs_report_authenticated(const gs_report *r)
{
	return r->authenticated;
}

/* ---- JSON ---- */

/* A string, or null. yajl_gen refuses bytes that are not UTF-8 (and
 * would leave an unfinished document): each such byte becomes U+FFFD,
 * so that the report says what it can of a certificate's broken names
 * and stays valid JSON whatever they hold. */
static void
json_str(yajl_gen g, const char *s)
{
	char *valid;

	if (!s) {
		yajl_gen_null(g);
		return;
	}
	valid = g_utf8_validate(s, -1, NULL) ? NULL : g_utf8_make_valid(s, -1);
	if (valid)
		s = valid;
	yajl_gen_string(g, (const unsigned char *) s, strlen(s));
	g_free(valid);
}

static void
json_key(yajl_gen g, const char *key)
{
	yajl_gen_string(g, (const unsigned char *) key, strlen(key));
}

/* A member whose value is a string (or null). */
static void
json_field(yajl_gen g, const char *key, const char *value)
{
	json_key(g, key);
	json_str(g, value);
}

static void
json_time(yajl_gen g, int64_t t)
{
	GDateTime *dt = t ? g_date_time_new_from_unix_utc(t) : NULL;
	char *s = dt ? g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ") : NULL;

	json_str(g, s);
	g_free(s);
	if (dt)
		g_date_time_unref(dt);
}

static void
json_reasons(yajl_gen g, unsigned reasons)
{
	size_t i;

	yajl_gen_array_open(g);
	for (i = 0; i < G_N_ELEMENTS(reason_keys); i++)
		if (reasons & (1u << i))
			json_str(g, reason_keys[i]);
	yajl_gen_array_close(g);
}

static const char *
status_word(gs_sig_status st)
{
	return st == GS_SIG_GOOD ? "good" : st == GS_SIG_BAD ? "bad" : "error";
}

static void
json_signers(yajl_gen g, const GPtrArray *signers)
{
	const char *const *e;
	guint i;

	yajl_gen_array_open(g);
	for (i = 0; signers && i < signers->len; i++) {
		const gs_signer *sg = &((gs_signer_data *) signers->pdata[i])->pub;
		const gs_cert_info *c = &sg->cert;

		yajl_gen_map_open(g);
		json_field(g, "status", status_word(sg->status));
		json_key(g, "reasons");
		json_reasons(g, sg->reasons);
		json_field(g, "detail", sg->detail);
		json_field(g, "digest", sg->digest);
		json_key(g, "signing_time");
		json_time(g, sg->signing_time);
		if (sg->have_cert) {
			json_field(g, "subject", c->subject);
			json_field(g, "name", c->common_name);
			json_key(g, "emails");
			yajl_gen_array_open(g);
			for (e = c->emails; e && *e; e++)
				json_str(g, *e);
			yajl_gen_array_close(g);
			json_field(g, "fingerprint_sha256", c->sha256);
			json_field(g, "issuer", c->issuer);
			json_field(g, "serial", c->serial);
			json_key(g, "not_before");
			json_time(g, c->not_before);
			json_key(g, "not_after");
			json_time(g, c->not_after);
		}
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
}

char *
gs_report_to_json(const gs_report *r)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	size_t len;
	char *out;
	guint i;

	yajl_gen_config(g, yajl_gen_validate_utf8, 1);
	yajl_gen_map_open(g);
	json_key(g, "version");
	yajl_gen_integer(g, 1);
	json_key(g, "signed");
	yajl_gen_bool(g, r->kind == GS_REPORT_SIGNED);
	json_field(g, "status", r->kind == GS_REPORT_SIGNED ? status_word(gs_report_status(r)) : "none");
	json_key(g, "reasons");
	json_reasons(g, r->reasons);
	json_field(g, "form", r->form);
	json_field(g, "from", r->from);
	json_key(g, "encrypted");
	yajl_gen_bool(g, r->encrypted);
	json_key(g, "authenticated");
	yajl_gen_bool(g, r->authenticated);
	json_field(g, "cipher", r->cipher);
	json_key(g, "parts");
	yajl_gen_array_open(g);
	for (i = 0; 2 * i + 1 < r->parts->len; i++) {
		yajl_gen_map_open(g);
		json_field(g, "part", r->parts->pdata[2 * i]);
		json_field(g, "note", r->parts->pdata[2 * i + 1]);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	json_key(g, "protected_headers");
	yajl_gen_bool(g, r->protected_headers);
	json_key(g, "header_mismatches");
	yajl_gen_array_open(g);
	for (i = 0; i < r->mismatches->len && r->mismatches->pdata[i]; i++)
		json_str(g, r->mismatches->pdata[i]);
	yajl_gen_array_close(g);
	json_key(g, "signers");
	json_signers(g, r->outer ? r->outer->signers : NULL);
	json_key(g, "layers");
	yajl_gen_array_open(g);
	for (i = 0; i < r->layers->len; i++) {
		const gs_layer_data *l = r->layers->pdata[i];

		yajl_gen_map_open(g);
		json_field(g, "kind", l->pub.kind == GS_LAYER_SIGNED ? "signed" : "encrypted");
		json_field(g, "part", l->path);
		if (l->pub.kind == GS_LAYER_SIGNED) {
			json_field(g, "form", l->pub.form);
			json_field(g, "status", status_word(layer_status(l)));
			json_key(g, "reasons");
			json_reasons(g, l->pub.reasons);
			json_key(g, "signers");
			json_signers(g, l->signers);
		} else {
			json_field(g, "cipher", l->cipher);
			json_key(g, "authenticated");
			yajl_gen_bool(g, l->pub.authenticated);
		}
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	yajl_gen_get_buf(g, &buf, &len);
	out = g_strndup((const char *) buf, len);
	yajl_gen_free(g);
	return out;
}
