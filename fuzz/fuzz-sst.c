/* fuzz-sst.c: certificate lists through gal import: the serialized store
 * (.sst) first of all, and whatever else gs_read_certificates() takes
 * when the magic is not there (PEM, DER, PKCS#7). */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_import(data, size, GS_GAL_SST, 0);
	return 0;
}
