/* fuzz-ldif.c: libFuzzer target for the LDIF importer (lib/import/ldif.c):
 * libldap's record reader behind galsmime's filter. Each input is
 * imported twice: stopping at the first bad record, and with skip_bad,
 * which takes the filter's resynchronisation paths. */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_import(data, size, GS_GAL_LDIF, 0);
	fuzz_import(data, size, GS_GAL_LDIF, 1);
	return 0;
}
