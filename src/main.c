/* main.c - hands argv to the command line (src/cli/commands.c has the table). */
#include "cli/opt.h"

int main(int argc, char **argv) {
    return fl_cli_main(argc, argv);
}
