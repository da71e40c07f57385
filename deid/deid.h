/*
 * deid.h: the secret key and what is derived from it (keyed hashes,
 * pseudonyms, the key fingerprint), and the subject map that links a local
 * identifier (a DICOM Patient ID, a slide barcode, a VCF sample) to a person.
 *
 * Every keyed value is HMAC-SHA256(key, domain || 0x00 || value), so two
 * uses of the same value in different roles never collide and batches and
 * machines agree without sharing a table.
 */
#ifndef SL_DEID_H
#define SL_DEID_H

#include <stdint.h>
#include <stddef.h>
#include "../common/sl_common.h"

#define SL_KEY_LEN 32

typedef struct sl_key sl_key;
typedef struct sl_subject_map sl_subject_map;

/* Write a new random key to path (created 0600, never overwritten). */
int sl_key_generate(const char *path, sl_err *err);
/* Load a key; refused if group or world can read it, or if it is not 32 bytes. */
int sl_key_load(sl_key **out, const char *path, sl_err *err);
void sl_key_free(sl_key *k);
/* Hex fingerprint (not the key): safe to record in provenance. */
const char *sl_key_fingerprint(const sl_key *k);
void sl_key_hmac(const sl_key *k, const char *domain, const void *value, size_t n,
		 uint8_t out[32]);

/* CSV "local_id,person_id" per line; a first line naming the columns is
 * allowed; blank lines and lines starting with '#' are skipped. */
int sl_subject_map_load(sl_subject_map **out, const char *path, sl_err *err);
void sl_subject_map_free(sl_subject_map *m);
size_t sl_subject_map_size(const sl_subject_map *m);
/* Hex SHA-256 of the map's normalised content, for provenance. */
const char *sl_subject_map_digest(const sl_subject_map *m);
/* The person a local identifier belongs to, or NULL. */
const char *sl_subject_map_get(const sl_subject_map *m, const char *local_id);

/* What every format's transform receives. */
struct sl_deid_ctx {
	const sl_key *key;
	const sl_subject_map *subjects; /* may be NULL */
};

/* Whether a local identifier names anyone: it holds a byte that is neither
 * a space nor a control character.  An empty Patient ID, a DICOM value of
 * padding alone (PS3.5 6.2: leading and trailing spaces are insignificant),
 * an absent barcode or an empty SM: no.  Such an input belongs to no
 * subject: giving every one of them the pseudonym of "" would join people
 * who have nothing in common. */
int sl_subject_identified(const char *local_id);

/* The pseudonymous subject for a local identifier: mapped through the subject
 * map when it has the identifier, then keyed.  Returns 1 with "S" + 24 hex
 * digits in out; 0 with out empty when the identifier names no one
 * (sl_subject_identified): then the input has no subject. */
int sl_subject_pseudonym(const struct sl_deid_ctx *ctx, const char *local_id, char out[32]);

/* What a format writes where its output must hold a subject pseudonym (a
 * DICOM Patient ID) for an input that has no subject: "N" + 24 hex digits
 * keyed from unit, something the input says belongs to it and to no other
 * person (a DICOM study's UID), in its own domain.  Never equal to a subject
 * pseudonym, never shared by inputs of two units. */
void sl_subject_unlinked(const struct sl_deid_ctx *ctx, const void *unit, size_t n,
			 char out[32]);

#endif
