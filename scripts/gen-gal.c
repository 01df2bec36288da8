/* gen-gal: a synthetic Exchange GAL export for benchmarks.
 *
 *   gen-gal N CERTS OUTDIR
 *
 * Writes OUTDIR/gal.json (the format of scripts/Export-GalSmime.ps1: one
 * JSON array of Get-Mailbox / Get-MailContact objects, certificates as
 * base64 strings), OUTDIR/ca.pem (the issuing CA, to trust) and
 * OUTDIR/leaf.key (the private key every synthetic user shares, so that a
 * benchmark can decrypt). N entries, CERTS distinct real X.509
 * certificates issued by an EC P-256 CA: entry i holds certificate
 * i % CERTS, so entries share certificates when N > CERTS, as a mailbox
 * and its contact do. User i is user<i>@bench.example; the certificate
 * carries the address of the first entry that holds it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

static void
die(const char *what)
{
	fprintf(stderr, "gen-gal: %s\n", what);
	exit(1);
}

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if (!(ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)))
		die("extension");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
}

static X509 *
make_cert(EVP_PKEY *pub, EVP_PKEY *signer, X509 *issuer, const char *cn, const char *mail,
	  long serial, int ca)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *) "galsmime bench", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *) cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_gmtime_adj(X509_getm_notBefore(x), -86400L * 30);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 3650);
	X509_set_pubkey(x, pub);
	if (ca) {
		add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
		add_ext(x, x, NID_subject_key_identifier, "hash");
	} else {
		char san[256];

		add_ext(x, issuer, NID_basic_constraints, "CA:FALSE");
		add_ext(x, issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment");
		add_ext(x, issuer, NID_ext_key_usage, "emailProtection");
		snprintf(san, sizeof san, "email:%s", mail);
		add_ext(x, issuer, NID_subject_alt_name, san);
	}
	if (!X509_sign(x, signer, EVP_sha256()))
		die("sign");
	X509_NAME_free(n);
	return x;
}

int
main(int argc, char **argv)
{
	long n, ncerts, i;
	EVP_PKEY *ca_key, *leaf_key;
	X509 *ca;
	unsigned char **b64;
	char path[4096];
	FILE *f;

	if (argc != 4)
		die("usage: gen-gal N CERTS OUTDIR");
	n = atol(argv[1]);
	ncerts = atol(argv[2]);
	if (n <= 0 || ncerts <= 0 || ncerts > n)
		die("need 0 < CERTS <= N");
	ca_key = EVP_EC_gen("P-256");
	leaf_key = EVP_RSA_gen(2048);
	if (!ca_key || !leaf_key)
		die("keys");
	ca = make_cert(ca_key, ca_key, NULL, "galsmime bench CA", NULL, 1, 1);

	snprintf(path, sizeof path, "%s/ca.pem", argv[3]);
	if (!(f = fopen(path, "w")) || !PEM_write_X509(f, ca) || fclose(f))
		die(path);
	snprintf(path, sizeof path, "%s/leaf.key", argv[3]);
	if (!(f = fopen(path, "w")) || !PEM_write_PrivateKey(f, leaf_key, NULL, NULL, 0, NULL, NULL) ||
	    fclose(f))
		die(path);

	b64 = calloc((size_t) ncerts, sizeof *b64);
	if (!b64)
		die("out of memory");
	for (i = 0; i < ncerts; i++) {
		char cn[64], mail[64];
		unsigned char *der = NULL;
		int len;
		X509 *x;

		snprintf(cn, sizeof cn, "User %ld", i);
		snprintf(mail, sizeof mail, "user%ld@bench.example", i);
		x = make_cert(leaf_key, ca_key, ca, cn, mail, 1000 + i, 0);
		len = i2d_X509(x, &der);
		b64[i] = malloc((size_t) (len + 2) / 3 * 4 + 1);
		EVP_EncodeBlock(b64[i], der, len);
		OPENSSL_free(der);
		X509_free(x);
	}

	snprintf(path, sizeof path, "%s/gal.json", argv[3]);
	if (!(f = fopen(path, "w")))
		die(path);
	fputs("[\n", f);
	for (i = 0; i < n; i++) {
		long c = i % ncerts;
		int contact = i >= ncerts;
		char ext[96];

		/* the first CERTS entries are mailboxes; the rest are contacts
		 * pointing at a mailbox's address and holding its certificate */
		if (contact)
			snprintf(ext, sizeof ext, "\"SMTP:user%ld@bench.example\"", c);
		else
			snprintf(ext, sizeof ext, "null");
		fprintf(f, "%s  {\"Name\":\"User %ld%s\",\"Alias\":\"user%ld\",\"DisplayName\":\"User %ld%s\","
			   "\"RecipientType\":\"%s\",\"PrimarySmtpAddress\":\"user%ld@bench.example\","
			   "\"ExternalEmailAddress\":%s,"
			   "\"EmailAddresses\":[\"SMTP:user%ld@bench.example\",\"smtp:u%ld@alias.bench.example\","
			   "\"X500:/o=ExchangeLabs/ou=Exchange Administrative Group/cn=Recipients/cn=user%ld\"],"
			   "\"UserCertificate\":[\"%s\"],\"UserSMIMECertificate\":[]}",
			i ? ",\n" : "", i, contact ? " (contact)" : "", i, i, contact ? " (contact)" : "",
			contact ? "MailContact" : "UserMailbox", c, ext, c, i, i, (char *) b64[c]);
	}
	fputs("\n]\n", f);
	if (fclose(f))
		die(path);
	return 0;
}
