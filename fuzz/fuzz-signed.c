/* fuzz-signed.c: gs_cms_read_signed (lib/cms.c), which decodes a
 * SignedData with its certificates cut out of the encoding and adds them
 * back one by one (taken from the warm set where it has them), against
 * gs_cms_read, OpenSSL's d2i of the whole. Both fail, or both give the
 * same object: the same certificates in the same order, the same
 * detached flag, and the same re-encoding (signers, digests, content).
 * The warm set is fz_setup's store (the test root and intermediate),
 * and so is the store whose cache decodes, one input in two.
 * Seeds: fuzz/seeds/signed, made by fuzz/mkseeds-signed. */
#include "fuzz-smime.h"

static unsigned char *
encoded(CMS_ContentInfo *cms, int *len)
{
	unsigned char *out = NULL;

	*len = i2d_CMS_ContentInfo(cms, &out);
	return out;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	fz_setup(0);
	if (gs_warm_certs_load(fz_dir, 100, NULL) != GS_OK)
		fz_die("warm set", "cannot load");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* through the store's cache for inputs of odd length, else the warm set */
	CMS_ContentInfo *a = gs_cms_read(data, size),
			*b = gs_cms_read_signed((size & 1) ? fz_store : NULL, data, size);

	if (!a != !b)
		abort();
	if (a) {
		STACK_OF(X509) *ca = CMS_get1_certs(a), *cb = CMS_get1_certs(b);
		unsigned char *ea, *eb;
		int la, lb, i;

		if (sk_X509_num(ca) != sk_X509_num(cb) || CMS_is_detached(a) != CMS_is_detached(b) ||
		    OBJ_cmp(CMS_get0_type(a), CMS_get0_type(b)))
			abort();
		for (i = 0; i < sk_X509_num(ca); i++)
			if (X509_cmp(sk_X509_value(ca, i), sk_X509_value(cb, i)))
				abort();
		ea = encoded(a, &la);
		eb = encoded(b, &lb);
		if (la != lb || (la > 0 && memcmp(ea, eb, (size_t) la)))
			abort();
		OPENSSL_free(ea);
		OPENSSL_free(eb);
		sk_X509_pop_free(ca, X509_free);
		sk_X509_pop_free(cb, X509_free);
	}
	CMS_ContentInfo_free(a);
	CMS_ContentInfo_free(b);
	ERR_clear_error();
	return 0;
}
