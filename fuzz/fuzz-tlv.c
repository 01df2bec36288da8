/* fuzz-tlv.c: a userSMIMECertificate / userCertificate value as the
 * driver decodes it (lib/import/values.c): DER X.509, CMS signed-data,
 * or Outlook's tag-length-value security blob (first byte not 0x30). */
#include "fuzz.h"
#include "import/import.h"

#include <openssl/err.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	STACK_OF(X509) *certs = NULL;
	char *caps = NULL, *msg = NULL;

	if (gs_decode_cert_value(data, size, &certs, &caps, &msg) == GS_OK) {
		/* a success must hand over at least one certificate */
		if (sk_X509_num(certs) < 1)
			abort();
	} else if (certs || !msg) {
		/* a failure hands over nothing, and says why */
		abort();
	}
	sk_X509_pop_free(certs, X509_free);
	g_free(caps);
	g_free(msg);
	ERR_clear_error();
	return 0;
}
