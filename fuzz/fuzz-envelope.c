/* fuzz-envelope.c: a DER/BER (Auth)EnvelopedData, as the decrypt
 * commands get it, through lib/cms.c's split (OpenSSL's ASN.1 primitives
 * take the structure apart from the encryptedContent's octets; d2i reads
 * the structure alone, CMS decrypts the octets as detached content), in
 * a session whose store holds alice's and carol's identities:
 *
 *   - OpenSSL's CMS_decrypt of the whole, d2i'd whole as before the
 *     split, with alice's and then carol's key, CMS_DEBUG_DECRYPT set so
 *     that a content key that does not decrypt is an error and not a
 *     random key (the million-message countermeasure: a random key's
 *     garbage passes the padding check one time in 256, so nothing can
 *     be compared then);
 *   - where it decrypts: gs_cms_decrypt (the octets gathered into a
 *     buffer) and gs_cms_decrypt_bytes (gathered and decrypted in place
 *     over the input's own buffer) both decrypt to the same bytes, or
 *     refuse by policy or a cap (an algorithm, a limit), never as
 *     malformed, and both the same way;
 *   - always: the library's contracts (a one-line reason for every
 *     failure, a result exactly on success, never an internal error).
 *
 * Seeds: fuzz/seeds/envelope (galsmime's BER with 4 KiB chunks, CBC, GCM,
 * OAEP, ECDH; openssl's DER and a chunked BER of its own). */
#include "fuzz-smime.h"

#include <openssl/cms.h>
#include <openssl/pem.h>

static EVP_PKEY *ref_key[2];
static X509 *ref_cert[2];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *pem[2] = { fuzz_pki_alice, fuzz_pki_carol };
	int i;

	(void) argc;
	(void) argv;
	fz_setup(1);
	for (i = 0; i < 2; i++) {
		BIO *b = BIO_new_mem_buf(pem[i], -1);
		ref_cert[i] = PEM_read_bio_X509(b, NULL, NULL, NULL);
		ref_key[i] = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
		BIO_free(b);
		if (!ref_cert[i] || !ref_key[i])
			fz_die("setup", "the fuzz PKI's identities do not read");
	}
	return 0;
}

/* OpenSSL alone, on the whole: the plaintext, or NULL. */
static GByteArray *
reference(const uint8_t *data, size_t size)
{
	GByteArray *out = NULL;
	int i;

	for (i = 0; i < 2 && !out; i++) {
		const unsigned char *p = data;
		CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long) size);
		BIO *mem = BIO_new(BIO_s_mem());
		char *b;
		long n;

		/* not OpenSSL's unwrap with padding either: on a key that does
		 * not unwrap it writes past its buffer (lib/cms.c refuses it) */
		if (cms && mem && gs_cms_check_key_wrap(cms, ref_cert[i], NULL) == GS_OK &&
		    CMS_decrypt(cms, ref_key[i], ref_cert[i], NULL, mem, CMS_BINARY | CMS_DEBUG_DECRYPT)) {
			n = BIO_get_mem_data(mem, &b);
			out = g_byte_array_new();
			g_byte_array_append(out, (guint8 *) b, (guint) n);
		}
		BIO_free(mem);
		CMS_ContentInfo_free(cms);
	}
	ERR_clear_error();
	return out;
}

static int
same(const GByteArray *a, const void *b, size_t n)
{
	return a->len == n && (n == 0 || memcmp(a->data, b, n) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gs_session *s = fz_setup(1);
	gs_cms_result r1, r2;
	GByteArray *copy, *plain = NULL, *ref;
	char *m1 = NULL, *m2 = NULL, *p1;
	gs_status s1, s2;
	BIO *out;
	long n1;

	if (size == 0 || size > (1 << 20))
		return 0;
	gs_cms_result_init(&r1);
	gs_cms_result_init(&r2);
	out = BIO_new(BIO_s_mem());
	s1 = gs_cms_decrypt(s, data, size, out, &r1, &m1);
	fz_status("gs_cms_decrypt", s1, &m1);
	copy = g_byte_array_sized_new((guint) size);
	g_byte_array_append(copy, data, (guint) size);
	s2 = gs_cms_decrypt_bytes(s, copy, &plain, &r2, &m2);
	fz_status("gs_cms_decrypt_bytes", s2, &m2);
	fz_out("gs_cms_decrypt_bytes", s2, plain);
	n1 = BIO_get_mem_data(out, &p1);
	ref = reference(data, size);
	if (ref) {
		if (s1 != s2)
			fz_die("gathered and in place", "different statuses");
		if (s1 == GS_E_MALFORMED)
			fz_die("split and whole", "malformed to the split, decrypted by OpenSSL whole");
		if (s1 == GS_OK && (!same(ref, p1, (size_t) n1) || !same(plain, p1, (size_t) n1)))
			fz_die("split and whole", "different plaintexts");
		if (s1 == GS_OK && (r1.authenticated != r2.authenticated || g_strcmp0(r1.cipher, r2.cipher)))
			fz_die("gathered and in place", "different cipher facts");
	}
	if (ref)
		g_byte_array_unref(ref);
	if (plain)
		g_byte_array_unref(plain);
	BIO_free(out);
	gs_cms_result_clear(&r1);
	gs_cms_result_clear(&r2);
	ERR_clear_error();
	return 0;
}
