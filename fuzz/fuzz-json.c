/* fuzz-json.c: libFuzzer target for the JSON importer (lib/import/json.c).
 * Each input is imported twice: stopping at the first bad entry, and with
 * skip_bad, which takes the JSON Lines resynchronisation paths. */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_import(data, size, GS_GAL_JSON, 0);
	fuzz_import(data, size, GS_GAL_JSON, 1);
	return 0;
}
