/* test_dicom.c: the DICOM format run in memory: the output does not depend
 * on where chunk boundaries fall; every truncation and corruption of a file
 * is rejected with a reason, never a crash; encodings of one data set give
 * one output; UIDs, dates and the subject follow the key.  DCMTK checks the
 * outputs element by element in tests/cli_dicom.sh. */
#include "unit.h"
#include "codecs/dicom/dicom_impl.h"
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

extern const struct sl_format sl_format_dicom;

static void el(sl_buf *b, const struct dcm_enc *e, uint32_t tag, const char *vr, const char *v,
	       size_t n)
{
	dcm_put_header(b, e, tag, vr, (uint32_t)n);
	sl_buf_add(b, v, n);
}
#define EL(b, e, tag, vr, s) el(b, e, tag, vr, s, sizeof s - 1)

/* A small CT data set with canaries, nested sequences of both kinds. */
static void dataset(sl_buf *b, const struct dcm_enc *e)
{
	EL(b, e, DCM_TAG(0x0008, 0x0016), "UI", "1.2.840.10008.5.1.4.1.1.2\0");
	EL(b, e, DCM_TAG(0x0008, 0x0018), "UI", "1.2.3.4.5.6.7.8.9\0");
	EL(b, e, DCM_TAG(0x0008, 0x0020), "DA", "20200102");
	EL(b, e, DCM_TAG(0x0008, 0x0060), "CS", "CT");
	EL(b, e, DCM_TAG(0x0008, 0x0080), "LO", "CANARY HOSP ");
	/* (0008,1115) undefined length, one undefined item holding a defined SQ */
	dcm_put_header(b, e, DCM_TAG(0x0008, 0x1115), "SQ", DCM_UNDEF);
	dcm_put_header(b, e, DCM_ITEM, NULL, DCM_UNDEF);
	sl_buf inner;
	sl_buf_init(&inner);
	sl_buf item;
	sl_buf_init(&item);
	EL(&item, e, DCM_TAG(0x0008, 0x0090), "PN", "CANARY^DOC");
	EL(&item, e, DCM_TAG(0x0008, 0x1155), "UI", "1.2.3.4.5.6.7.8.9\0");
	dcm_put_header(&inner, e, DCM_ITEM, NULL, (uint32_t)item.len);
	sl_buf_add(&inner, item.data, item.len);
	dcm_put_header(b, e, DCM_TAG(0x0008, 0x1140), "SQ", (uint32_t)inner.len);
	sl_buf_add(b, inner.data, inner.len);
	sl_buf_free(&inner);
	sl_buf_free(&item);
	EL(b, e, DCM_TAG(0x0008, 0x1155), "UI", "1.2.3.4.5.6.7.8.10");
	dcm_put_header(b, e, DCM_ITEM_END, NULL, 0);
	dcm_put_header(b, e, DCM_SEQ_END, NULL, 0);
	EL(b, e, DCM_TAG(0x0009, 0x0010), "LO", "CANARY CREATOR");
	EL(b, e, DCM_TAG(0x0009, 0x1001), "LO", "CANARY PRIV ");
	EL(b, e, DCM_TAG(0x0010, 0x0010), "PN", "CANARY^PAT");
	EL(b, e, DCM_TAG(0x0010, 0x0020), "LO", "PID-CANARY");
	EL(b, e, DCM_TAG(0x0010, 0x0030), "DA", "19710203");
	EL(b, e, DCM_TAG(0x0020, 0x000D), "UI", "1.2.3.4.5.6.7.8.11");
	EL(b, e, DCM_TAG(0x0028, 0x0010), "US", "\x02\x00");
	static uint8_t px[DCM_BULK + 8];
	for (size_t i = 0; i < sizeof px; i++)
		px[i] = (uint8_t)(i * 7);
	el(b, e, DCM_PIXEL_DATA, "OW", (const char *)px, sizeof px);
}

static void part10(sl_buf *b, const char *ts, const struct dcm_enc *e)
{
	static const uint8_t zero[128];
	struct dcm_enc le = {1, 0};
	sl_buf_add(b, zero, 128);
	sl_buf_add(b, "DICM", 4);
	EL(b, &le, DCM_TAG(0x0002, 0x0002), "UI", "1.2.840.10008.5.1.4.1.1.2\0");
	el(b, &le, DCM_TAG(0x0002, 0x0010), "UI", ts, strlen(ts) + (strlen(ts) & 1));
	if (e)
		dataset(b, e);
}

static int run(const sl_buf *in, size_t chunk, const struct sl_deid_ctx *ctx, const void *conf,
	       sl_buf *out, sl_err *err)
{
	sl_buf_reset(out);
	return sl_transform_memory(&sl_format_dicom, in->data, in->len, ctx, conf, chunk, out,
				   NULL, err);
}

static int contains(const sl_buf *b, const char *s)
{
	return memmem(b->data, b->len, s, strlen(s)) != NULL;
}

int main(void)
{
	const char *dir = unit_tmpdir("test_dicom");
	char kp[4200];
	snprintf(kp, sizeof kp, "%s/key", dir);
	sl_err err = {0};
	sl_key *key = NULL;
	REQUIRE(sl_key_generate(kp, &err) == 0 && sl_key_load(&key, kp, &err) == 0);
	struct sl_deid_ctx ctx = {.key = key};

	struct dcm_enc le = {1, 0}, il = {0, 0}, be = {1, 1};
	sl_buf f, out, ref;
	sl_buf_init(&f);
	sl_buf_init(&out);
	sl_buf_init(&ref);
	part10(&f, "1.2.840.10008.1.2.1", &le);
	CHECK_RC(run(&f, 0, &ctx, NULL, &ref, &err), &err);
	CHECK(!contains(&ref, "CANARY") && !contains(&ref, "19710203") &&
	      !contains(&ref, "1.2.3.4.5.6.7.8"));
	CHECK(contains(&ref, "1.2.840.10008.5.1.4.1.1.2"));

	/* chunk boundaries anywhere: the same bytes */
	static const size_t chunks[] = {1, 2, 3, 7, 131, 4096, 65537};
	for (size_t i = 0; i < sizeof chunks / sizeof *chunks; i++) {
		CHECK_RC(run(&f, chunks[i], &ctx, NULL, &out, &err), &err);
		CHECK(out.len == ref.len && !memcmp(out.data, ref.data, ref.len));
	}

	/* one referenced UID, one mapping: (0008,0018) and the nested (0008,1155) */
	sl_buf m;
	sl_buf_init(&m);
	dcm_map_uid(&ctx, "1.2.3.4.5.6.7.8.9", 17, &m);
	CHECK(!strncmp(m.data, "2.25.", 5));
	size_t hits = 0;
	for (const char *p = ref.data; (p = memmem(p, ref.data + ref.len - p, m.data, m.len)); p++)
		hits++;
	CHECK(hits == 3); /* file meta, SOP Instance UID, the nested reference */
	if (hits != 3)
		fprintf(stderr, "mapped %s found %zu times\n", m.data, hits);
	sl_buf wk;
	sl_buf_init(&wk);
	dcm_map_uid(&ctx, "1.2.840.10008.1.2", 17, &wk);
	CHECK(!strcmp(wk.data, "1.2.840.10008.1.2"));
	sl_buf_free(&wk);

	/* the same data set in another encoding: same identifiers, same pixels */
	sl_buf g;
	sl_buf_init(&g);
	part10(&g, "1.2.840.10008.1.2", &il);
	CHECK_RC(run(&g, 5, &ctx, NULL, &out, &err), &err);
	CHECK(!contains(&out, "CANARY") && contains(&out, m.data));
	sl_buf_reset(&g);
	part10(&g, "1.2.840.10008.1.2.2", &be);
	CHECK_RC(run(&g, 0, &ctx, NULL, &out, &err), &err);
	CHECK(!contains(&out, "CANARY") && !contains(&out, "19710203"));

	/* deflated: inflates to the explicit little endian output, byte for byte */
	sl_buf ds, z;
	sl_buf_init(&ds);
	sl_buf_init(&z);
	dataset(&ds, &le);
	uLongf zl = compressBound(ds.len);
	uint8_t *zb = malloc(zl);
	z_stream zs = {0};
	REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
	zs.next_in = (uint8_t *)ds.data, zs.avail_in = (uInt)ds.len;
	zs.next_out = zb, zs.avail_out = (uInt)zl;
	REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
	sl_buf_reset(&g);
	part10(&g, "1.2.840.10008.1.2.1.99", NULL);
	sl_buf_add(&g, zb, zs.total_out);
	deflateEnd(&zs);
	free(zb);
	CHECK_RC(run(&g, 3, &ctx, NULL, &out, &err), &err);
	CHECK(out.len == ref.len && !memcmp(out.data, ref.data, ref.len));

	/* every truncation: rejected with a reason, never a crash */
	int bad = 0, total = 0;
	for (size_t n = 140; n < f.len; n += (n < 600 ? 1 : 997)) {
		sl_buf t;
		sl_buf_init(&t);
		sl_buf_add(&t, f.data, n);
		err.msg[0] = 0;
		int rc = run(&t, 64, &ctx, NULL, &out, &err);
		/* a cut between two elements before the image attributes
		 * leaves a shorter valid data set */
		bad += rc < 0 && err.msg[0];
		CHECK(rc < 0 || !contains(&out, "CANARY"));
		total++;
		sl_buf_free(&t);
	}
	CHECK(bad > total * 9 / 10);

	/* every single byte corrupted in the header: no crash, and whatever is
	 * accepted still carries no canary */
	for (size_t i = 132; i < 600; i++) {
		for (int v = 0; v < 3; v++) {
			sl_buf t;
			sl_buf_init(&t);
			sl_buf_add(&t, f.data, f.len);
			t.data[i] = (char)(v == 0 ? 0xFF : v == 1 ? 0x00 : t.data[i] ^ 0x20);
			if (run(&t, 0, &ctx, NULL, &out, &err) == 0)
				CHECK(!contains(&out, "CANARY^PAT") && !contains(&out, "PID-CANARY"));
			sl_buf_free(&t);
		}
	}

	/* retain-long-modified-dates: dates move, by one offset per subject */
	void *conf = NULL;
	CHECK_RC(sl_format_dicom.configure(&conf, "dicom-options", "retain-long-modified-dates",
					   26, &err), &err);
	CHECK_RC(run(&f, 0, &ctx, conf, &out, &err), &err);
	CHECK(!contains(&out, "20200102") && !contains(&out, "19710203"));
	CHECK(strstr(sl_format_dicom.policy(conf), "retain-long-modified-dates"));
	CHECK(sl_format_dicom.configure(&conf, "dicom-options", "retain-everything", 17, &err) < 0 &&
	      strstr(err.msg, "retain-everything"));
	sl_format_dicom.release(conf);

	/* not DICOM at all */
	sl_buf_reset(&g);
	sl_buf_puts(&g, "hello, this is not a medical image at all, not even close");
	CHECK(run(&g, 0, &ctx, NULL, &out, &err) < 0);
	CHECK(sl_format_dicom.sniff((const uint8_t *)f.data, f.len, f.len) == 100);
	CHECK(sl_format_dicom.sniff((const uint8_t *)g.data, g.len, g.len) == 0);

	sl_buf_free(&f);
	sl_buf_free(&g);
	sl_buf_free(&out);
	sl_buf_free(&ref);
	sl_buf_free(&m);
	sl_buf_free(&ds);
	sl_buf_free(&z);
	sl_key_free(key);
	unlink(kp);
	rmdir(dir);
	return UNIT_DONE();
}
