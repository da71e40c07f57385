/* fuzz_slide.c: libFuzzer target for the slide format: libtiff over our input,
 * the page plan, JPEG header surgery, decoding and building levels, the TIFF
 * writer; and an input that starts '[' (a key file) is also given to the
 * walker's multi-file path as a VMS index and as a MIRAX Slidedat.ini
 * (codecs/slide/multi.c, ingest/bundle.c).  Built with ASan and UBSan, it
 * looks for crashes, hangs, leaks and undefined behaviour; a rejection must
 * say why. */
#include "ingest/discover.h"
#include "codecs/format.h"
#include "deid/deid.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern const struct sl_format sl_format_slide;
static sl_key *key;
static char dir[] = "/tmp/sluice-fuzz-bundle-XXXXXX";

static void put(const char *name, const uint8_t *data, size_t size)
{
	char p[128];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *f = fopen(p, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
}

/* The walker's question to the format, on the key file as both indexes;
 * the files they may name (one data file) are there. */
static void bundle(const uint8_t *data, size_t size)
{
	struct sl_claims claims = {0};
	char p[128];
	put("s.vms", data, size);
	put("s/Slidedat.ini", data, size);
	const char *idx[] = {"s.vms", "s.mrxs"};
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, idx[i]);
		struct sl_task *t = sl_bundle_task(p, 1, 0, &claims);
		if (t && t->reject && !t->reject[0])
			abort(); /* every rejection says why */
		sl_task_free(t);
	}
	sl_claims_free(&claims);
}

static void cleanup(void)
{
	const char *files[] = {"s.vms", "s.mrxs", "s/Slidedat.ini", "s/Index.dat", "s/Data0000.dat",
			       "a.jpg", "s"};
	char p[128];
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, files[i]);
		remove(p);
	}
	rmdir(dir);
}

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
	char p[128];
	if (!mkdtemp(dir))
		abort();
	snprintf(p, sizeof p, "%s/s", dir);
	if (mkdir(p, 0700) < 0)
		abort();
	put("s.mrxs", (const uint8_t *)"", 0);
	put("s/Index.dat", (const uint8_t *)"01.02", 5);
	put("s/Data0000.dat", (const uint8_t *)"01.02", 5);
	put("a.jpg", (const uint8_t *)"\xff\xd8", 2);
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size && data[0] == '[')
		bundle(data, size);
	struct sl_deid_ctx ctx = {.key = key};
	sl_buf out;
	sl_err err = {0};
	sl_buf_init(&out);
	size_t chunk = 0; /* the format reads by offset (sl_input_pread) */
	int rc = sl_transform_memory(&sl_format_slide, data, size, &ctx, NULL, chunk, &out, NULL,
				     &err);
	if (rc < 0 && !err.msg[0])
		abort(); /* every rejection says why */
	sl_buf_free(&out);
	return 0;
}
