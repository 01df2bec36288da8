/* publish.c: the store's directory entries as LDIF that OpenLDAP loads
 * (slapadd, ldapadd), so that one admin's GAL export serves a whole
 * organisation from its own directory server.
 *
 * libldap writes the LDIF (ldif_put_wrap: base64 for whatever RFC 2849
 * does not allow as a plain value, folding) and the RDNs (ldap_rdn2str:
 * RFC 4514 escaping); it is loaded through dl.c like the LDIF importer's.
 * The entries are inetOrgPerson (what address books search) with
 * galsmime's auxiliary class (plugin/ldap/galsmime.schema) for the
 * attributes Exchange adds. */
#include "gs-private.h"

#include <string.h>
#include <lber.h>
#include <ldap.h>
#include <ldif.h>

static struct {
	__typeof__(ldif_put_wrap) *put_wrap;
	__typeof__(ldap_rdn2str) *rdn2str;
	__typeof__(ldap_str2dn) *str2dn;
	__typeof__(ldap_dn2str) *dn2str;
	__typeof__(ldap_dnfree) *dnfree;
	__typeof__(ldap_memfree) *memfree;
	__typeof__(ber_memfree) *ber_free;
} ld;

static gs_status
load_ldap(char **errmsg)
{
	static const gs_symbol syms[] = {
		GS_SYMBOL(ld, put_wrap, ldif_put_wrap), GS_SYMBOL(ld, rdn2str, ldap_rdn2str),
		GS_SYMBOL(ld, str2dn, ldap_str2dn), GS_SYMBOL(ld, dn2str, ldap_dn2str),
		GS_SYMBOL(ld, dnfree, ldap_dnfree), GS_SYMBOL(ld, memfree, ldap_memfree),
		GS_SYMBOL(ld, ber_free, ber_memfree),
	};
	return gs_library_load(GS_LIB_LDAP, &ld, syms, G_N_ELEMENTS(syms), errmsg);
}

typedef struct publish {
	gs_store *store;
	const char *base;             /* normalised */
	gs_publish_write_fn write;
	void *data;
	GHashTable *rdns;             /* casefolded RDNs written so far */
	GString *out;                 /* the entry being written */
	unsigned long entries;
	gs_status st;                 /* a failure inside the walk */
	char *why;
	int stopped;                  /* the writer said stop */
} publish;

/* One "type: value" line (or "type:: base64"), folded at 76 columns as
 * ldapsearch folds. */
static int
put(publish *p, int how, const char *type, const void *value, size_t len)
{
	char *line = ld.put_wrap(how, type, value, (ber_len_t) len, 76);

	if (!line)
		return -1;
	g_string_append(p->out, line);
	ld.ber_free(line);
	return 0;
}

static int
put_text(publish *p, const char *type, const char *value)
{
	return value && *value ? put(p, LDIF_PUT_VALUE, type, value, strlen(value)) : 0;
}

/* The RDN: attribute=value pairs, escaped by libldap. */
static char *
make_rdn(const char *const *types, const char *const *values, size_t n)
{
	LDAPAVA avas[3], *rdn[4];
	char *s = NULL, *out;
	size_t i;

	for (i = 0; i < n; i++) {
		avas[i].la_attr.bv_val = (char *) types[i];
		avas[i].la_attr.bv_len = strlen(types[i]);
		avas[i].la_value.bv_val = (char *) values[i];
		avas[i].la_value.bv_len = strlen(values[i]);
		avas[i].la_flags = LDAP_AVA_STRING;
		avas[i].la_private = NULL;
		rdn[i] = &avas[i];
	}
	rdn[n] = NULL;
	if (ld.rdn2str(rdn, &s, LDAP_DN_FORMAT_LDAPV3 | LDAP_DN_PRETTY) != LDAP_SUCCESS || !s)
		return NULL;
	out = g_strdup(s);
	ld.memfree(s);
	return out;
}

/* An RDN no entry written before has: cn=NAME, else cn=NAME+mail=PRIMARY,
 * else cn=NAME+uid=N (N counting up): the same store gives the same
 * names, publish after publish. Sets *uid when the last one is used. */
static char *
unique_rdn(publish *p, const char *cn, const char *primary, unsigned long *uid)
{
	const char *types[] = { "cn", "mail" }, *values[] = { cn, primary };
	unsigned long n;
	char *rdn, *key;

	*uid = 0;
	for (n = 0;; n++) {
		char num[24];

		if (n == 0) {
			rdn = make_rdn(types, values, 1);
		} else if (n == 1) {
			if (!primary)
				continue;
			rdn = make_rdn(types, values, 2);
		} else {
			g_snprintf(num, sizeof num, "%lu", n);
			types[1] = "uid";
			values[1] = num;
			rdn = make_rdn(types, values, 2);
		}
		if (!rdn)
			return NULL;
		key = g_utf8_casefold(rdn, -1);
		if (!g_hash_table_contains(p->rdns, key)) {
			g_hash_table_add(p->rdns, key);
			if (n > 1)
				*uid = n;
			return rdn;
		}
		g_free(key);
		g_free(rdn);
	}
}

static int
put_cert(publish *p, const gs_gal_link *l)
{
	/* userCertificate's syntax (RFC 4523) wants ;binary transfer;
	 * userSMIMECertificate's (Binary, RFC 2798) is refused with it by
	 * OpenLDAP */
	const char *type = !strcmp(l->attribute, "userSMIMECertificate") ? "userSMIMECertificate"
									  : "userCertificate;binary";
	unsigned char *der = NULL;
	X509 *x = NULL;
	int len, rc;

	if ((p->st = gs_store_cert_by_sha256(p->store, l->sha256, &x, &p->why)) != GS_OK)
		return -1;
	if (!x)
		return 0; /* gone since the listing began: nothing to say */
	len = i2d_X509(x, &der);
	X509_free(x);
	if (len <= 0) {
		p->st = gs_fail_ssl(&p->why, GS_E_INTERNAL, "certificate %s", l->sha256);
		return -1;
	}
	rc = put(p, LDIF_PUT_BINARY, type, der, (size_t) len);
	OPENSSL_free(der);
	return rc;
}

static int
publish_entry(const gs_gal_entry *e, void *data)
{
	publish *p = data;
	const char *primary = e->addresses[0] && *e->addresses[0] ? e->addresses[0] : NULL;
	const char *cn = e->name && *e->name		   ? e->name
			 : e->display_name && *e->display_name ? e->display_name
			 : e->alias && *e->alias		   ? e->alias
							   : primary;
	char fallback[32], *rdn, *dn;
	const char *const *a;
	unsigned long uid;
	unsigned i;
	int rc = 0;

	if (!cn) {
		g_snprintf(fallback, sizeof fallback, "entry %" G_GINT64_FORMAT, e->id);
		cn = fallback;
	}
	if (!(rdn = unique_rdn(p, cn, primary, &uid))) {
		p->st = gs_fail(&p->why, GS_E_INTERNAL, "gal publish: no RDN for entry %" G_GINT64_FORMAT,
				e->id);
		return 1;
	}
	dn = g_strconcat(rdn, ",", p->base, NULL);
	g_free(rdn);
	g_string_truncate(p->out, 0);
	rc |= put(p, LDIF_PUT_VALUE, "dn", dn, strlen(dn));
	g_free(dn);
	rc |= put_text(p, "objectClass", "top");
	rc |= put_text(p, "objectClass", "person");
	rc |= put_text(p, "objectClass", "organizationalPerson");
	rc |= put_text(p, "objectClass", "inetOrgPerson");
	rc |= put_text(p, "objectClass", "galsmimeRecipient");
	/* the first cn is the entry's name when galsmime reads it back */
	rc |= put_text(p, "cn", cn);
	rc |= put_text(p, "sn", cn);
	if (uid) {
		char num[24];
		g_snprintf(num, sizeof num, "%lu", uid);
		rc |= put_text(p, "uid", num);
	}
	rc |= put_text(p, "displayName", e->display_name);
	rc |= put_text(p, "mailNickname", e->alias);
	rc |= put_text(p, "galsmimeKind", e->kind);
	if (primary)
		rc |= put_text(p, "mail", primary);
	for (a = e->addresses; *a && **a && rc == 0; a++) {
		char *proxy = g_strconcat(a == e->addresses ? "SMTP:" : "smtp:", *a, NULL);
		rc |= put_text(p, "proxyAddresses", proxy);
		g_free(proxy);
	}
	for (i = 0; i < e->n_certs && rc == 0; i++)
		rc |= put_cert(p, &e->links[i]);
	if (rc) {
		if (p->st == GS_OK)
			p->st = gs_fail(&p->why, GS_E_INTERNAL, "gal publish: libldap could not write entry "
							      "%" G_GINT64_FORMAT, e->id);
		return 1;
	}
	g_string_append_c(p->out, '\n');
	if (p->write(p->out->str, p->out->len, p->data)) {
		p->stopped = 1;
		return 1;
	}
	p->entries++;
	return 0;
}

gs_status
gs_gal_publish(gs_store *store, const char *source, const char *base, gs_publish_write_fn write,
	       void *data, unsigned long *entries, char **errmsg)
{
	static const char head[] = "version: 1\n\n";
	publish p = { 0 };
	LDAPDN parsed = NULL;
	char *norm = NULL, *why = NULL;
	gs_status st;

	if (!store || !base || !write)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_gal_publish: bad arguments");
	if (entries)
		*entries = 0;
	if ((st = load_ldap(&why)) != GS_OK) {
		st = gs_fail(errmsg, st, "LDIF needs libldap: %s", why);
		g_free(why);
		return st;
	}
	if (!*base || ld.str2dn(base, &parsed, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || !parsed ||
	    ld.dn2str(parsed, &norm, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || !norm) {
		char *x = gs_printable(base, 200);
		if (parsed)
			ld.dnfree(parsed);
		st = gs_fail(errmsg, GS_E_USAGE, "'%s' is not a distinguished name", x);
		g_free(x);
		return st;
	}
	ld.dnfree(parsed);
	p.store = store;
	p.base = norm;
	p.write = write;
	p.data = data;
	p.rdns = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	p.out = g_string_new(NULL);
	if (write(head, sizeof head - 1, data))
		p.stopped = 1;
	else
		st = gs_gal_list(store, source, publish_entry, &p, errmsg);
	if (st == GS_OK && p.st != GS_OK) {
		st = p.st;
		if (errmsg)
			*errmsg = p.why;
		else
			g_free(p.why);
		p.why = NULL;
	}
	g_free(p.why);
	if (entries)
		*entries = p.entries;
	g_hash_table_unref(p.rdns);
	g_string_free(p.out, TRUE);
	ld.memfree(norm);
	return st;
}
