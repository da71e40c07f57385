/* test_deid.c: the key (generation, permission refusal, fingerprint),
 * keyed hashes (domain separation, stability) and the subject map. */
#include "unit.h"
#include "deid/deid.h"
#include <sys/stat.h>
#include <unistd.h>

static void write_file(const char *path, const char *s, mode_t mode)
{
	FILE *f = fopen(path, "w");
	REQUIRE(f);
	fputs(s, f);
	fclose(f);
	chmod(path, mode);
}

int main(void)
{
	const char *dir = unit_tmpdir("test_deid");
	char kp[4096], kp2[4096], csv[4096], bad[4096];
	snprintf(kp, sizeof kp, "%s/key", dir);
	snprintf(kp2, sizeof kp2, "%s/key2", dir);
	snprintf(csv, sizeof csv, "%s/map.csv", dir);
	snprintf(bad, sizeof bad, "%s/bad.csv", dir);
	sl_err err = {0};

	CHECK_RC(sl_key_generate(kp, &err), &err);
	struct stat st;
	REQUIRE(stat(kp, &st) == 0);
	CHECK(st.st_size == 32 && (st.st_mode & 0777) == 0600);
	CHECK(sl_key_generate(kp, &err) < 0); /* never overwrites */

	sl_key *k = NULL, *k2 = NULL;
	CHECK_RC(sl_key_load(&k, kp, &err), &err);
	REQUIRE(k);
	CHECK(strlen(sl_key_fingerprint(k)) == 32);

	chmod(kp, 0640);
	CHECK(sl_key_load(&k2, kp, &err) == -SL_E_STATE && strstr(err.msg, "chmod 600"));
	chmod(kp, 0600);
	write_file(kp2, "short", 0600);
	CHECK(sl_key_load(&k2, kp2, &err) == -SL_E_STATE && strstr(err.msg, "32 bytes"));

	/* The HMAC against an independent implementation (Python's hmac):
	 * key bytes 0..31, message "uid" 0x00 "1.2.3". */
	char kv[4096];
	snprintf(kv, sizeof kv, "%s/key-vector", dir);
	FILE *kf = fopen(kv, "w");
	REQUIRE(kf);
	for (int i = 0; i < 32; i++)
		fputc(i, kf);
	fclose(kf);
	chmod(kv, 0600);
	sl_key *kvk = NULL;
	CHECK_RC(sl_key_load(&kvk, kv, &err), &err);
	uint8_t mac[32];
	char machex[65];
	sl_key_hmac(kvk, "uid", "1.2.3", 5, mac);
	sl_hex(machex, mac, 32);
	CHECK(!strcmp(machex, "f327c820c0f135c32ff671c51d701a74ecb7080cf53c71110b4e0197cc236aaf"));
	sl_key_free(kvk);

	/* Keyed hashes: stable, domain-separated, key-dependent. */
	uint8_t a[32], b[32], c[32];
	sl_key_hmac(k, "uid", "1.2.3", 5, a);
	sl_key_hmac(k, "uid", "1.2.3", 5, b);
	CHECK(!memcmp(a, b, 32));
	sl_key_hmac(k, "path", "1.2.3", 5, c);
	CHECK(memcmp(a, c, 32));
	/* "ab"+"c" must differ from "a"+"bc": the separator does that. */
	sl_key_hmac(k, "ab", "c", 1, b);
	sl_key_hmac(k, "a", "bc", 2, c);
	CHECK(memcmp(b, c, 32));
	unlink(kp2);
	CHECK_RC(sl_key_generate(kp2, &err), &err);
	CHECK_RC(sl_key_load(&k2, kp2, &err), &err);
	sl_key_hmac(k2, "uid", "1.2.3", 5, b);
	CHECK(memcmp(a, b, 32));
	CHECK(strcmp(sl_key_fingerprint(k), sl_key_fingerprint(k2)));

	/* Subject map: header, quotes, comments; two local ids of one person
	 * give one pseudonym; unmapped ids are still pseudonymised. */
	write_file(csv, "local_id,person_id\n# comment\nPAT001,9434765919\n\"BC-77\",9434765919\n"
		   "VCF_S1 , 4010232137\r\n\n", 0600);
	sl_subject_map *m = NULL;
	CHECK_RC(sl_subject_map_load(&m, csv, &err), &err);
	REQUIRE(m);
	CHECK(sl_subject_map_size(m) == 3);
	CHECK(!strcmp(sl_subject_map_get(m, "BC-77"), "9434765919"));
	CHECK(!strcmp(sl_subject_map_get(m, "VCF_S1"), "4010232137"));
	CHECK(sl_subject_map_get(m, "nobody") == NULL);
	struct sl_deid_ctx ctx = {.key = k, .subjects = m};
	char p1[32], p2[32], p3[32], p4[32];
	sl_subject_pseudonym(&ctx, "PAT001", p1);
	sl_subject_pseudonym(&ctx, "BC-77", p2);
	sl_subject_pseudonym(&ctx, "VCF_S1", p3);
	sl_subject_pseudonym(&ctx, "unmapped", p4);
	CHECK(!strcmp(p1, p2) && strcmp(p1, p3) && strcmp(p1, p4));
	CHECK(p1[0] == 'S' && strlen(p1) == 25);
	CHECK(!strstr(p1, "9434765919"));

	/* No identifier, no subject: empty, DICOM padding, blanks and control
	 * characters all name no one, whatever the map holds. */
	const char *none[] = {"", " ", "    ", "\t \r\n", "\x01\x7f"};
	for (size_t i = 0; i < sizeof none / sizeof *none; i++) {
		char q[32] = "x";
		CHECK(!sl_subject_identified(none[i]));
		CHECK(sl_subject_pseudonym(&ctx, none[i], q) == 0 && q[0] == 0);
	}
	CHECK(sl_subject_identified(" A ") && sl_subject_identified("\xc3\xa9"));
	CHECK(sl_subject_pseudonym(&ctx, "PAT001", p4) == 1 && !strcmp(p4, p1));
	/* Stand-ins for inputs without a subject: one per unit, never a subject's. */
	char u1[32], u2[32], u3[32];
	sl_subject_unlinked(&ctx, "1.2.3", 5, u1);
	sl_subject_unlinked(&ctx, "1.2.4", 5, u2);
	sl_subject_unlinked(&ctx, "1.2.3", 5, u3);
	CHECK(u1[0] == 'N' && strlen(u1) == 25 && strcmp(u1, u2) && !strcmp(u1, u3));
	sl_subject_pseudonym(&ctx, "1.2.3", p4);
	CHECK(strcmp(p4 + 1, u1 + 1));

	write_file(bad, "A,1\nA,2\n", 0600);
	sl_subject_map *m2 = NULL;
	CHECK(sl_subject_map_load(&m2, bad, &err) == -SL_E_USAGE && strstr(err.msg, "two persons"));
	write_file(bad, "no comma here\n", 0600);
	CHECK(sl_subject_map_load(&m2, bad, &err) == -SL_E_USAGE && strstr(err.msg, "line 1"));
	/* a map cannot give the empty identifier a person (it would link every
	 * unidentified input to them) */
	write_file(bad, "local_id,person_id\nA,1\n\"  \",2\n", 0600);
	CHECK(sl_subject_map_load(&m2, bad, &err) == -SL_E_USAGE && strstr(err.msg, "line 3") &&
	      strstr(err.msg, "empty"));

	sl_subject_map_free(m);
	sl_key_free(k);
	sl_key_free(k2);
	return UNIT_DONE();
}
