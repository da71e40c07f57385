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
/* Print "sluice: msg" to stderr. */
void sl_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif
