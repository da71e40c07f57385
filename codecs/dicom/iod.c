/* iod.c: what PS3.3 says about the attributes whose profile action is a
 * choice (Z/D, X/Z, X/D, X/Z/D: "X unless Z or D is required to maintain IOD
 * conformance").  The choice needs the attribute's type in the file's IOD;
 * the standard's JSON we generate the table from has no module tables, so
 * the types of these few attributes are written here by hand, per family of
 * IOD, from PS3.3 (2024b).  An attribute or family not listed gets the
 * conservative choice (deid.c): the strictest type the action allows, so
 * the output never loses conformance, and a dummy never carries anything
 * from the input. */
#include "dicom_impl.h"
#include <string.h>

#define SOP "1.2.840.10008.5.1.4.1.1."

/* Images whose IODs use the Multi-frame Functional Groups and Enhanced
 * General Equipment modules (Content Date/Time, Device Serial Number: 1). */
static const char *const enhanced[] = {
	SOP "2.1", SOP "2.2", SOP "4.1", SOP "4.2", SOP "4.3", SOP "4.4", SOP "6.2",
	SOP "12.1.1", SOP "12.2.1", SOP "13.1.1", SOP "13.1.2", SOP "13.1.3",
	SOP "13.1.4", SOP "13.1.5", SOP "14.1", SOP "14.2", SOP "30", SOP "66.4",
	SOP "77.1.6", SOP "128.1", SOP "130",
};

/* Classic single-frame (or simple multi-frame) images: General Series,
 * General Equipment, General Image. */
static const char *const classic[] = {
	SOP "1", SOP "1.1", SOP "1.1.1", SOP "1.2", SOP "1.2.1", SOP "1.3", SOP "1.3.1",
	SOP "2", SOP "3.1", SOP "4", SOP "6.1", SOP "7", SOP "7.1", SOP "7.2", SOP "7.3",
	SOP "7.4", SOP "12.1", SOP "12.2", SOP "20", SOP "128",
};

static int listed(const char *cls, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(cls, list[i]))
			return 1;
	return 0;
}

enum dcm_family dcm_family_of(const char *cls)
{
	if (!strncmp(cls, SOP "88.", sizeof SOP + 2))
		return DCM_SR; /* SR Document General, Key Object Document */
	if (listed(cls, enhanced, sizeof enhanced / sizeof *enhanced))
		return DCM_ENHANCED;
	if (listed(cls, classic, sizeof classic / sizeof *classic))
		return DCM_IMAGE;
	return DCM_OTHER;
}

/* Type 1, 2 or 3 in each family (0: not known here).  3 also stands for
 * "not part of the IOD at all": then the attribute is removed. */
static const struct {
	uint32_t tag;
	uint8_t image, enhanced, sr;
} types[] = {
	{DCM_TAG(0x0008, 0x0012), 3, 3, 3}, /* Instance Creation Date: SOP Common */
	{DCM_TAG(0x0008, 0x0013), 3, 3, 3}, /* Instance Creation Time */
	{DCM_TAG(0x0008, 0x0021), 3, 0, 3}, /* Series Date: General/SR Document Series */
	{DCM_TAG(0x0008, 0x0022), 3, 3, 3}, /* Acquisition Date: General Image */
	{DCM_TAG(0x0008, 0x0023), 2, 1, 1}, /* Content Date: 2C General Image; 1 in
					       Multi-frame Functional Groups and
					       SR Document General */
	{DCM_TAG(0x0008, 0x002A), 3, 1, 3}, /* Acquisition DateTime: 1C in the
					       enhanced image modules */
	{DCM_TAG(0x0008, 0x0031), 3, 0, 3}, /* Series Time */
	{DCM_TAG(0x0008, 0x0032), 3, 3, 3}, /* Acquisition Time */
	{DCM_TAG(0x0008, 0x0033), 2, 1, 1}, /* Content Time */
	{DCM_TAG(0x0008, 0x0080), 3, 3, 3}, /* Institution Name: General Equipment */
	{DCM_TAG(0x0008, 0x0082), 3, 3, 3}, /* Institution Code Sequence */
	{DCM_TAG(0x0008, 0x1010), 3, 3, 3}, /* Station Name */
	{DCM_TAG(0x0008, 0x1070), 3, 3, 3}, /* Operators' Name: General Series */
	{DCM_TAG(0x0008, 0x1072), 3, 3, 3}, /* Operator Identification Sequence */
	{DCM_TAG(0x0008, 0x1110), 3, 3, 3}, /* Referenced Study Sequence: General Study */
	{DCM_TAG(0x0008, 0x1111), 3, 3, 2}, /* Referenced Performed Procedure Step
					       Sequence: 2 in SR Document Series
					       and Key Object Document Series */
	{DCM_TAG(0x0010, 0x2203), 2, 2, 2}, /* Patient's Sex Neutered: 2C */
	{DCM_TAG(0x0018, 0x0010), 2, 2, 2}, /* Contrast/Bolus Agent: Contrast/Bolus */
	{DCM_TAG(0x0018, 0x1000), 3, 1, 0}, /* Device Serial Number: 1 in Enhanced
					       General Equipment (also the dose
					       SRs': unknown for SR) */
	{DCM_TAG(0x0018, 0x1030), 3, 0, 3}, /* Protocol Name: General Series */
	{DCM_TAG(0x0018, 0x1400), 3, 3, 3}, /* Acquisition Device Processing Description */
	{DCM_TAG(0x0018, 0x700A), 3, 0, 3}, /* Detector ID: DX Detector */
	{DCM_TAG(0x0018, 0x700C), 3, 0, 3}, /* Date of Last Detector Calibration */
	{DCM_TAG(0x0018, 0x700E), 3, 0, 3}, /* Time of Last Detector Calibration */
	{DCM_TAG(0x0040, 0x0555), 3, 2, 0}, /* Acquisition Context Sequence */
	{DCM_TAG(0x0070, 0x0084), 2, 2, 2}, /* Content Creator's Name: Content
					       Identification macro */
};

int dcm_iod_type(uint32_t tag, enum dcm_family fam)
{
	for (size_t i = 0; i < sizeof types / sizeof *types; i++)
		if (types[i].tag == tag)
			return fam == DCM_IMAGE ? types[i].image : fam == DCM_ENHANCED
			       ? types[i].enhanced : fam == DCM_SR ? types[i].sr : 0;
	return 0;
}
