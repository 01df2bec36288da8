/* fuzz-oab.c: Outlook's offline address book parser (lib/import/oab.c)
 * through the import driver, on arbitrary bytes: once aborting on the
 * first bad record, once skipping bad records (the two paths differ). */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_import(data, size, GS_GAL_OAB, 0);
	fuzz_import(data, size, GS_GAL_OAB, 1);
	return 0;
}
