/* fuzz_dicom.c: libFuzzer target for the DICOM format: parse, de-identify
 * and write back any bytes, served in small chunks so that element
 * boundaries fall everywhere.  Built with ASan and UBSan, it looks for
 * crashes, hangs, leaks and undefined behaviour; a rejection must say why. */
#include "codecs/format.h"
#include "deid/deid.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const struct sl_format sl_format_dicom;
static sl_key *key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[] = "/tmp/sluice-fuzz-key-XXXXXX";
	int fd = mkstemp(path);
	sl_err err = {0};
	if (fd < 0)
		abort();
	close(fd);
	unlink(path);
	if (sl_key_generate(path, &err) < 0 || sl_key_load(&key, path, &err) < 0)
		abort();
	unlink(path);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_deid_ctx ctx = {.key = key};
	sl_buf out;
	sl_err err = {0};
	sl_buf_init(&out);
	size_t chunk = size ? 1 + data[size - 1] % 64 : 1;
	int rc = sl_transform_memory(&sl_format_dicom, data, size, &ctx, NULL, chunk, &out, NULL,
				     &err);
	if (rc < 0 && !err.msg[0])
		abort(); /* every rejection says why */
	sl_buf_free(&out);
	return 0;
}
