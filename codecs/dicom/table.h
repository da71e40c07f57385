/*
 * table.h: PS3.15 Table E.1-1 and the PS3.6 data dictionary, generated into
 * table.c by gen_table.py from the standard's JSON (2024b).  Tags are
 * (group << 16 | element).
 */
#ifndef SL_DCM_TABLE_H
#define SL_DCM_TABLE_H

#include <stdint.h>

enum sl_dcm_action {
	SL_DA_NONE = 0, /* no row, or the option does not change the action */
	SL_DA_D, SL_DA_Z, SL_DA_X, SL_DA_K, SL_DA_C, SL_DA_U,
	SL_DA_ZD, SL_DA_XZ, SL_DA_XD, SL_DA_XZD, SL_DA_XZU,
};

/* Table E.1-1's option columns, in this order. */
enum sl_dcm_option {
	SL_DO_RETAIN_SAFE_PRIVATE,       /* rtnSafePrivOpt */
	SL_DO_RETAIN_UIDS,               /* rtnUIDsOpt */
	SL_DO_RETAIN_DEVICE_ID,          /* rtnDevIdOpt */
	SL_DO_RETAIN_INSTITUTION_ID,     /* rtnInstIdOpt */
	SL_DO_RETAIN_PATIENT_CHARS,      /* rtnPatCharsOpt */
	SL_DO_RETAIN_LONG_FULL_DATES,    /* rtnLongFullDatesOpt */
	SL_DO_RETAIN_LONG_MODIFIED_DATES,/* rtnLongModifDatesOpt */
	SL_DO_CLEAN_DESCRIPTORS,         /* cleanDescOpt */
	SL_DO_CLEAN_STRUCTURED_CONTENT,  /* cleanStructContOpt */
	SL_DO_CLEAN_GRAPHICS,            /* cleanGraphOpt */
	SL_DO_COUNT
};

struct sl_dcm_rule {
	uint32_t tag, mask;       /* matches when (t & mask) == tag; mask is
				     ~0 for one tag.  50xx/60xx cover only the
				     even groups 5000-501E / 6000-601E (PS3.5
				     7.6); the private row covers every odd
				     group */
	uint8_t basic;            /* enum sl_dcm_action */
	uint8_t opt[SL_DO_COUNT]; /* SL_DA_NONE where the option changes nothing */
	uint8_t std_iod;          /* used in standard composite IODs */
};

struct sl_dcm_dict {
	uint32_t tag, mask;
	char vr[3];               /* first VR when the dictionary allows several
				     ("OB or OW" -> "OB", "US or SS" -> "US");
				     "" where it gives none (items and
				     delimiters, three retired rows) */
	uint8_t multi_vr;         /* the dictionary allows several VRs */
	uint8_t retired;
	const char *keyword;      /* "" for the few retired rows without one */
};

/* The row for a tag (exact rows before masked ones), or NULL. */
const struct sl_dcm_rule *sl_dcm_rule(uint32_t tag);
/* The dictionary entry for a tag (exact before masked), or NULL.  PS3.6 has
 * no private entries and no command group (0000,xxxx), and an odd group never
 * matches a repeating-group entry. */
const struct sl_dcm_dict *sl_dcm_dict(uint32_t tag);
/* The action for a tag under a set of options (bit i = enum sl_dcm_option i):
 * the basic action, or the option's action where a selected option changes
 * it; where selected options disagree the more protective wins (X, then Z,
 * D, C, U, K).  SL_DA_NONE when the table has no row. */
enum sl_dcm_action sl_dcm_action_for(uint32_t tag, unsigned options);

#endif
