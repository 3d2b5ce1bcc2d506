/* rc_cmd.h: rowcast's subcommands besides running the server (main.c dispatches). */
#ifndef RC_CMD_H
#define RC_CMD_H

/* rowcast decode [--include REGEX] [--no-checksum] FILE...: argv[0] is "decode".
 * Returns the exit status. */
int rc_cmd_decode(int argc, char **argv);

#endif
