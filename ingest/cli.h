/* cli.h: the sluice subcommands (main.c dispatches, commands.c implements
 * everything but ingest). Each returns the process exit status. */
#ifndef SL_CLI_H
#define SL_CLI_H
enum { SL_EXIT_OK = 0, SL_EXIT_REJECTED = 1, SL_EXIT_ENV = 2 };
int sl_cmd_keygen(int argc, char **argv);
int sl_cmd_ingest(int argc, char **argv);
int sl_cmd_verify(int argc, char **argv);
int sl_cmd_export(int argc, char **argv);
int sl_cmd_cat(int argc, char **argv);
int sl_cmd_ls(int argc, char **argv);
int sl_cmd_log(int argc, char **argv);
int sl_cmd_migrate(int argc, char **argv);
/* The store at dir (store/store.h), opened read-only (no lock, no
 * repair); NULL when it cannot be, said why. */
struct sl_store;
struct sl_store *sl_cli_open_ro(const char *dir);
/* Print "sluice: msg" to stderr. */
void sl_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif
