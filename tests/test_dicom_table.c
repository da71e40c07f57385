/* test_dicom_table.c: the generated PS3.15 / PS3.6 tables (codecs/dicom/
 * table.c) against rows read from the standard, the repeating-group and
 * private masks, option conflicts, and a walk over every row to prove the
 * arrays are in the order the lookups rely on. */
#include "unit.h"
#include "codecs/dicom/table.h"

/* Defined in table.c but left out of table.h: only a test needs the rows
 * themselves. */
extern const struct sl_dcm_rule sl_dcm_rules[];
extern const size_t sl_dcm_rules_n;
extern const struct sl_dcm_rule sl_dcm_rule_masks[];
extern const size_t sl_dcm_rule_masks_n;
extern const struct sl_dcm_dict sl_dcm_dicts[];
extern const size_t sl_dcm_dicts_n;
extern const struct sl_dcm_dict sl_dcm_dict_masks[];
extern const size_t sl_dcm_dict_masks_n;

#define T(g, e) ((uint32_t)(g) << 16 | (uint32_t)(e))
#define OPT(o) (1u << (o))

static int popcount32(uint32_t v)
{
	int n = 0;
	for (; v; v &= v - 1)
		n++;
	return n;
}

/* Every tag matching mask row a also matches mask row b. */
static int within(uint32_t atag, uint32_t amask, uint32_t btag, uint32_t bmask)
{
	return (amask & bmask) == bmask && (atag & bmask) == btag;
}

static void walk_rules(void)
{
	/* Counts from the JSON (621 rows): a dropped row shows up here. */
	CHECK(sl_dcm_rules_n + sl_dcm_rule_masks_n == 621);
	for (size_t i = 0; i < sl_dcm_rules_n; i++) {
		const struct sl_dcm_rule *r = &sl_dcm_rules[i];
		CHECK(r->mask == 0xffffffffu);
		/* Strictly ascending: sorted, and no tag twice. */
		if (i)
			CHECK(sl_dcm_rules[i - 1].tag < r->tag);
		CHECK(sl_dcm_rule(r->tag) == r);
		CHECK(r->basic > SL_DA_NONE && r->basic <= SL_DA_XZU);
		for (int o = 0; o < SL_DO_COUNT; o++)
			CHECK(r->opt[o] <= SL_DA_U);
		CHECK(r->std_iod <= 1);
	}
	for (size_t i = 0; i < sl_dcm_rule_masks_n; i++) {
		const struct sl_dcm_rule *r = &sl_dcm_rule_masks[i];
		CHECK(r->mask != 0xffffffffu && (r->tag & r->mask) == r->tag);
		if (i)
			CHECK(popcount32(sl_dcm_rule_masks[i - 1].mask) >= popcount32(r->mask));
		/* Its own base tag finds it, unless an exact row or a narrower
		 * mask inside it claims that tag first. */
		const struct sl_dcm_rule *got = sl_dcm_rule(r->tag);
		CHECK(got == r || got->mask == 0xffffffffu ||
		      within(got->tag, got->mask, r->tag, r->mask));
	}
}

static void walk_dict(void)
{
	CHECK(sl_dcm_dicts_n + sl_dcm_dict_masks_n == 5129);
	for (size_t i = 0; i < sl_dcm_dicts_n; i++) {
		const struct sl_dcm_dict *d = &sl_dcm_dicts[i];
		CHECK(d->mask == 0xffffffffu);
		if (i)
			CHECK(sl_dcm_dicts[i - 1].tag < d->tag);
		CHECK(sl_dcm_dict(d->tag) == d);
		CHECK(d->keyword != NULL);
		CHECK(d->vr[0] == '\0' || (d->vr[0] >= 'A' && d->vr[0] <= 'Z' &&
					    d->vr[1] >= 'A' && d->vr[1] <= 'Z' && d->vr[2] == '\0'));
		CHECK(!d->multi_vr || d->vr[0]);
	}
	for (size_t i = 0; i < sl_dcm_dict_masks_n; i++) {
		const struct sl_dcm_dict *d = &sl_dcm_dict_masks[i];
		CHECK(d->mask != 0xffffffffu && (d->tag & d->mask) == d->tag);
		if (i)
			CHECK(popcount32(sl_dcm_dict_masks[i - 1].mask) >= popcount32(d->mask));
		const struct sl_dcm_dict *got = sl_dcm_dict(d->tag);
		CHECK(got == d || got->mask == 0xffffffffu ||
		      within(got->tag, got->mask, d->tag, d->mask));
		CHECK(d->keyword && d->keyword[0]);
	}
}

int main(void)
{
	const struct sl_dcm_rule *r;
	const struct sl_dcm_dict *d;

	/* Exact rows, as Table E.1-1 gives them. */
	r = sl_dcm_rule(T(0x0010, 0x0010)); /* Patient's Name */
	REQUIRE(r);
	CHECK(r->tag == T(0x0010, 0x0010) && r->basic == SL_DA_Z && r->std_iod == 1);
	CHECK(sl_dcm_action_for(T(0x0010, 0x0010), 0) == SL_DA_Z);
	/* No option touches it, so none (nor bits past the last option) can. */
	CHECK(sl_dcm_action_for(T(0x0010, 0x0010), ~0u) == SL_DA_Z);

	r = sl_dcm_rule(T(0x0008, 0x0018)); /* SOP Instance UID */
	REQUIRE(r);
	CHECK(r->basic == SL_DA_U && r->opt[SL_DO_RETAIN_UIDS] == SL_DA_K);
	CHECK(sl_dcm_action_for(T(0x0008, 0x0018), 0) == SL_DA_U);
	CHECK(sl_dcm_action_for(T(0x0008, 0x0018), OPT(SL_DO_RETAIN_UIDS)) == SL_DA_K);
	CHECK(sl_dcm_action_for(T(0x0008, 0x0018), OPT(SL_DO_CLEAN_DESCRIPTORS)) == SL_DA_U);

	CHECK(sl_dcm_action_for(T(0x0008, 0x0050), 0) == SL_DA_Z); /* Accession Number */

	r = sl_dcm_rule(T(0x0018, 0x4000)); /* Acquisition Comments */
	REQUIRE(r);
	CHECK(r->basic == SL_DA_X && r->std_iod == 0);
	CHECK(sl_dcm_action_for(T(0x0018, 0x4000), 0) == SL_DA_X);
	CHECK(sl_dcm_action_for(T(0x0018, 0x4000), OPT(SL_DO_CLEAN_DESCRIPTORS)) == SL_DA_C);

	/* Combined actions and the command / file-meta groups. */
	CHECK(sl_dcm_action_for(T(0x0008, 0x0022), 0) == SL_DA_XZ);   /* Acquisition Date */
	CHECK(sl_dcm_action_for(T(0x0008, 0x0023), 0) == SL_DA_ZD);   /* Content Date */
	CHECK(sl_dcm_action_for(T(0x0008, 0x002A), 0) == SL_DA_XZD);  /* Acquisition DateTime */
	CHECK(sl_dcm_action_for(T(0x0000, 0x1000), OPT(SL_DO_RETAIN_UIDS)) == SL_DA_K);
	CHECK(sl_dcm_action_for(T(0x0002, 0x0003), 0) == SL_DA_U);

	/* Masks.  (50xx,xxxx) curve data: any element of an even group
	 * 5000-501E. */
	r = sl_dcm_rule(T(0x5010, 0x3000));
	REQUIRE(r);
	CHECK(r->tag == T(0x5000, 0x0000) && r->mask != 0xffffffffu && r->basic == SL_DA_X);
	CHECK(sl_dcm_action_for(T(0x5010, 0x3000), 0) == SL_DA_X);
	CHECK(sl_dcm_action_for(T(0x5010, 0x3000), OPT(SL_DO_CLEAN_GRAPHICS)) == SL_DA_C);
	CHECK(sl_dcm_rule(T(0x501E, 0x0022)) == r);
	CHECK(sl_dcm_rule(T(0x5020, 0x3000)) == NULL); /* past 501E: not a curve */

	r = sl_dcm_rule(T(0x6002, 0x3000)); /* Overlay Data */
	REQUIRE(r);
	CHECK(r->tag == T(0x6000, 0x3000) && r->basic == SL_DA_X && r->std_iod == 1);
	CHECK(sl_dcm_action_for(T(0x6002, 0x3000), OPT(SL_DO_CLEAN_GRAPHICS)) == SL_DA_C);
	r = sl_dcm_rule(T(0x6000, 0x4000)); /* Overlay Comments */
	REQUIRE(r);
	CHECK(r->tag == T(0x6000, 0x4000) && r->basic == SL_DA_X);
	CHECK(sl_dcm_rule(T(0x6000, 0x3001)) == NULL);

	/* Private attributes: every odd group, including odd groups inside the
	 * repeating ranges, which PS3.5 7.6 leaves private. */
	const struct sl_dcm_rule *priv = sl_dcm_rule(T(0x0009, 0x0010));
	REQUIRE(priv);
	CHECK(priv->tag == T(0x0001, 0) && priv->mask == T(0x0001, 0) && priv->basic == SL_DA_X);
	CHECK(sl_dcm_action_for(T(0x0009, 0x1001), 0) == SL_DA_X);
	CHECK(sl_dcm_action_for(T(0x0009, 0x1001), OPT(SL_DO_RETAIN_SAFE_PRIVATE)) == SL_DA_C);
	CHECK(sl_dcm_rule(T(0x6001, 0x3000)) == priv);
	CHECK(sl_dcm_rule(T(0x5011, 0x3000)) == priv);

	/* No row: the table says nothing, the caller decides. */
	CHECK(sl_dcm_rule(T(0x0028, 0x0010)) == NULL); /* Rows */
	CHECK(sl_dcm_action_for(T(0x0028, 0x0010), 0) == SL_DA_NONE);
	CHECK(sl_dcm_action_for(T(0x0028, 0x0010), ~0u) == SL_DA_NONE);

	/* Options that disagree: the more protective wins. */
	unsigned full = OPT(SL_DO_RETAIN_LONG_FULL_DATES), modif = OPT(SL_DO_RETAIN_LONG_MODIFIED_DATES);
	CHECK(sl_dcm_action_for(T(0x0008, 0x0022), full) == SL_DA_K);
	CHECK(sl_dcm_action_for(T(0x0008, 0x0022), modif) == SL_DA_C);
	CHECK(sl_dcm_action_for(T(0x0008, 0x0022), full | modif) == SL_DA_C);
	unsigned dev = OPT(SL_DO_RETAIN_DEVICE_ID); /* (0018,1203) Calibration DateTime: Z */
	CHECK(sl_dcm_action_for(T(0x0018, 0x1203), 0) == SL_DA_Z);
	CHECK(sl_dcm_action_for(T(0x0018, 0x1203), dev | full) == SL_DA_K);
	CHECK(sl_dcm_action_for(T(0x0018, 0x1203), dev | full | modif) == SL_DA_C);
	CHECK(sl_dcm_action_for(T(0x0018, 0x1203), dev | OPT(SL_DO_CLEAN_DESCRIPTORS)) == SL_DA_K);
	/* Options that agree give that action. */
	unsigned chars = OPT(SL_DO_RETAIN_PATIENT_CHARS), desc = OPT(SL_DO_CLEAN_DESCRIPTORS);
	CHECK(sl_dcm_action_for(T(0x0010, 0x2110), chars | desc) == SL_DA_C); /* Allergies */
	CHECK(sl_dcm_action_for(T(0x0010, 0x0040), chars) == SL_DA_K);        /* Patient's Sex */

	/* Dictionary. */
	d = sl_dcm_dict(T(0x7FE0, 0x0010)); /* exact, though (7Fxx,0010) also covers it */
	REQUIRE(d);
	CHECK(!strcmp(d->vr, "OB") && d->multi_vr && !d->retired && !strcmp(d->keyword, "PixelData"));
	CHECK(d->mask == 0xffffffffu);
	d = sl_dcm_dict(T(0x0010, 0x0010));
	REQUIRE(d);
	CHECK(!strcmp(d->vr, "PN") && !d->multi_vr && !strcmp(d->keyword, "PatientName"));
	d = sl_dcm_dict(T(0x0020, 0x3101));
	REQUIRE(d);
	CHECK(d->tag == T(0x0020, 0x3100) && d->mask == 0xffffff00u && d->retired &&
	      !strcmp(d->vr, "CS") && !strcmp(d->keyword, "SourceImageIDs"));
	d = sl_dcm_dict(T(0x0028, 0x1200)); /* "US or SS or OW" */
	REQUIRE(d);
	CHECK(!strcmp(d->vr, "US") && d->multi_vr);
	d = sl_dcm_dict(T(0xFFFE, 0xE000)); /* Item: "See Note 2" */
	REQUIRE(d);
	CHECK(d->vr[0] == '\0' && !d->multi_vr && !strcmp(d->keyword, "Item"));
	d = sl_dcm_dict(T(0x0028, 0x0020)); /* retired, no VR and no keyword */
	REQUIRE(d);
	CHECK(d->vr[0] == '\0' && d->retired && d->keyword[0] == '\0');
	d = sl_dcm_dict(T(0x0002, 0x0010));
	REQUIRE(d);
	CHECK(!strcmp(d->vr, "UI") && !strcmp(d->keyword, "TransferSyntaxUID"));
	d = sl_dcm_dict(T(0x601E, 0x0010)); /* Overlay Rows, last overlay group */
	REQUIRE(d);
	CHECK(!strcmp(d->keyword, "OverlayRows") && !strcmp(d->vr, "US"));
	d = sl_dcm_dict(T(0x1000, 0x0121)); /* (1000,xxx1) */
	REQUIRE(d);
	CHECK(!strcmp(d->keyword, "RunLengthTriplet"));
	/* PS3.6 has no private rows: a private creator, and odd groups inside
	 * the repeating ranges, are unknown to it. */
	CHECK(sl_dcm_dict(T(0x0009, 0x0010)) == NULL);
	CHECK(sl_dcm_dict(T(0x6001, 0x0010)) == NULL);
	CHECK(sl_dcm_dict(T(0x7F01, 0x0010)) == NULL);
	/* Command group elements are in Table E.1-1 but not in PS3.6's
	 * dictionary (PS3.7 defines them). */
	CHECK(sl_dcm_dict(T(0x0000, 0x1000)) == NULL);

	walk_rules();
	walk_dict();
	return UNIT_DONE();
}
