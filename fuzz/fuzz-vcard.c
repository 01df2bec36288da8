/* fuzz-vcard.c: libFuzzer target for the vCard importer
 * (lib/import/vcard.c). Each input is imported twice: stopping at the
 * first bad card, and with skip_bad, which reads bad cards to their
 * END:VCARD and goes on. */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_import(data, size, GS_GAL_VCARD, 0);
	fuzz_import(data, size, GS_GAL_VCARD, 1);
	return 0;
}
